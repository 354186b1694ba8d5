/* NN kernels (Conv, ConvTranspose, Gemm, MatMul, pools, norms) against naive references on
 * pseudo-random data, through kp_op_call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/graph.h"
#include "core/ops/ops.h"

static uint32_t rng = 12345;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static kp_tensor *rand_t(int rank, const int64_t *dims) {
    kp_tensor *t = kp_tensor_new(KP_FLOAT, rank, dims, NULL);
    assert_non_null(t);
    for (int64_t i = 0; i < t->numel; i++) ((float *)t->data)[i] = frand();
    return t;
}

static kp_node *mk(const char *op, size_t n_in, size_t n_out) {
    const char *in[6] = {"a", "b", "c", "d", "e", "f"}, *out[3] = {"y", "z", "w"};
    kp_node *n = kp_node_new(op, "n", n_in, in, n_out, out);
    assert_non_null(n);
    return n;
}

static void assert_close(const float *a, const float *b, int64_t n, double tol) {
    for (int64_t i = 0; i < n; i++)
        if (fabs((double)a[i] - (double)b[i]) > tol * (1 + fabs((double)b[i])))
            fail_msg("element %lld: got %g, want %g", (long long)i, (double)a[i], (double)b[i]);
}

/* Naive 2-D convolution. */
static void conv_ref(const kp_tensor *x, const kp_tensor *w, const float *b, int64_t group,
                     const int64_t *st, const int64_t *pd, const int64_t *dl, float *y, int64_t oh,
                     int64_t ow) {
    int64_t n = x->dims[0], c = x->dims[1], h = x->dims[2], wd = x->dims[3];
    int64_t m = w->dims[0], cg = w->dims[1], kh = w->dims[2], kw = w->dims[3], mg = m / group;
    const float *xd = x->data, *wdat = w->data;
    for (int64_t i = 0; i < n; i++)
        for (int64_t o = 0; o < m; o++)
            for (int64_t p = 0; p < oh; p++)
                for (int64_t q = 0; q < ow; q++) {
                    double acc = b ? b[o] : 0;
                    int64_t g = o / mg;
                    for (int64_t cc = 0; cc < cg; cc++)
                        for (int64_t a = 0; a < kh; a++)
                            for (int64_t e = 0; e < kw; e++) {
                                int64_t yy = p * st[0] - pd[0] + a * dl[0];
                                int64_t xx = q * st[1] - pd[1] + e * dl[1];
                                if (yy < 0 || yy >= h || xx < 0 || xx >= wd) continue;
                                acc += xd[((i * c + g * cg + cc) * h + yy) * wd + xx] *
                                       wdat[((o * cg + cc) * kh + a) * kw + e];
                            }
                    y[((i * m + o) * oh + p) * ow + q] = (float)acc;
                }
    (void)c;
}

static void check_conv(int64_t n, int64_t c, int64_t h, int64_t wdt, int64_t m, int64_t k,
                       int64_t group, int64_t stride, int64_t pad, int64_t dil, int bias) {
    int64_t xd[4] = {n, c, h, wdt}, wd[4] = {m, c / group, k, k}, bd[1] = {m};
    kp_tensor *x = rand_t(4, xd), *w = rand_t(4, wd), *b = bias ? rand_t(1, bd) : NULL;
    kp_node *nd = mk("Conv", 3, 1);
    int64_t st[2] = {stride, stride}, pd[4] = {pad, pad, pad, pad}, dl[2] = {dil, dil};
    kp_node_set_attr_ints(nd, "strides", 2, st);
    kp_node_set_attr_ints(nd, "pads", 4, pd);
    kp_node_set_attr_ints(nd, "dilations", 2, dl);
    kp_node_set_attr_int(nd, "group", group);
    const kp_tensor *in[3] = {x, w, b};
    kp_tensor *out[1];
    kp_error err = {0};
    assert_int_equal(kp_op_call(nd, 13, 3, in, 1, out, &err), 0);
    int64_t ek = (k - 1) * dil + 1;
    int64_t oh = (h + 2 * pad - ek) / stride + 1, ow = (wdt + 2 * pad - ek) / stride + 1;
    assert_int_equal(out[0]->dims[2], oh);
    assert_int_equal(out[0]->dims[3], ow);
    float *ref = malloc((size_t)out[0]->numel * sizeof *ref);
    conv_ref(x, w, b ? b->data : NULL, group, st, pd, dl, ref, oh, ow);
    assert_close(out[0]->data, ref, out[0]->numel, 1e-4);
    free(ref);
    kp_tensor_free(out[0]);
    kp_tensor_free(x);
    kp_tensor_free(w);
    kp_tensor_free(b);
    kp_node_free(nd);
}

static void conv_paths(void **state) {
    (void)state;
    check_conv(2, 3, 7, 6, 4, 3, 1, 1, 1, 1, 1);       /* im2col */
    check_conv(1, 4, 5, 5, 6, 1, 1, 1, 0, 1, 1);       /* 1x1 direct sgemm */
    check_conv(2, 4, 9, 8, 4, 3, 4, 2, 1, 1, 1);       /* depthwise, strided */
    check_conv(1, 4, 8, 8, 6, 3, 2, 1, 2, 2, 0);       /* grouped, dilated, no bias */
    check_conv(1, 2, 6, 7, 3, 2, 1, 3, 0, 1, 1);       /* stride 3, no pad */
    check_conv(3, 2, 9, 9, 4, 3, 1, 1, 1, 1, 1);       /* several images per GEMM */
    check_conv(1, 1, 1400, 1400, 2, 3, 1, 1, 1, 1, 1); /* col over 64 MiB: tiled */
    check_conv(2, 3, 7, 6, 3, 3, 3, 1, 2, 2, 1);       /* depthwise, dilated, stride 1 */
    check_conv(1, 5, 6, 9, 5, 5, 5, 3, 2, 1, 0);       /* depthwise 5x5, stride 3 */
    check_conv(2, 4, 9, 13, 4, 3, 4, 1, 1, 1, 1);      /* depthwise 3x3 stride 1: 3-tap rows */
    check_conv(1, 4, 9, 13, 4, 3, 4, 2, 1, 1, 1);      /* depthwise 3x3 stride 2 */
    check_conv(4, 4, 5, 5, 6, 1, 1, 1, 0, 1, 1);       /* 1x1, several images per GEMM */
    check_conv(1, 2, 40, 40, 3, 3, 1, 1, 1, 1, 1);     /* blocks of output rows, stride 1 */
    check_conv(2, 2, 80, 70, 3, 3, 1, 2, 1, 1, 0);     /* blocks of output rows, stride 2 */
}

static void conv_errors(void **state) {
    (void)state;
    int64_t xd[4] = {1, 3, 5, 5}, wd[4] = {2, 2, 3, 3};
    kp_tensor *x = rand_t(4, xd), *w = rand_t(4, wd);
    kp_node *nd = mk("Conv", 2, 1);
    const kp_tensor *in[2] = {x, w};
    kp_tensor *out[1];
    kp_error err = {0};
    assert_int_equal(kp_op_call(nd, 13, 2, in, 1, out, &err), KP_EINVAL);
    assert_non_null(strstr(err.msg, "Conv 'n'"));
    kp_node_free(nd);
    kp_tensor_free(x);
    kp_tensor_free(w);
}

static void gemm_naive(void **state) {
    (void)state;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 4; tb++) {
            int64_t m = tb >= 2 ? 1 : 5, k = 7, n = 3; /* m = 1: the matrix-vector path */
            int64_t ad[2] = {ta ? k : m, ta ? m : k}, bd[2] = {tb & 1 ? n : k, tb & 1 ? k : n};
            int64_t cd[1] = {n};
            kp_tensor *a = rand_t(2, ad), *b = rand_t(2, bd), *c = rand_t(1, cd);
            kp_node *nd = mk("Gemm", 3, 1);
            kp_node_set_attr_int(nd, "transA", ta);
            kp_node_set_attr_int(nd, "transB", tb & 1);
            kp_node_set_attr_float(nd, "alpha", 0.5f);
            kp_node_set_attr_float(nd, "beta", 2.0f);
            const kp_tensor *in[3] = {a, b, c};
            kp_tensor *out[1];
            kp_error err = {0};
            assert_int_equal(kp_op_call(nd, 13, 3, in, 1, out, &err), 0);
            float ref[15];
            const float *A = a->data, *B = b->data, *C = c->data;
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++) {
                    double s = 0;
                    for (int64_t p = 0; p < k; p++)
                        s += A[ta ? p * m + i : i * k + p] * B[tb & 1 ? j * k + p : p * n + j];
                    ref[i * n + j] = (float)(0.5 * s + 2.0 * C[j]);
                }
            assert_close(out[0]->data, ref, m * n, 1e-5);
            kp_tensor_free(out[0]);
            kp_tensor_free(a);
            kp_tensor_free(b);
            kp_tensor_free(c);
            kp_node_free(nd);
        }
}

static void matmul_broadcast(void **state) {
    (void)state;
    /* A [2,1,3,4] x B [3,4,5] -> [2,3,3,5] */
    int64_t ad[4] = {2, 1, 3, 4}, bd[3] = {3, 4, 5};
    kp_tensor *a = rand_t(4, ad), *b = rand_t(3, bd);
    kp_node *nd = mk("MatMul", 2, 1);
    const kp_tensor *in[2] = {a, b};
    kp_tensor *out[1];
    kp_error err = {0};
    assert_int_equal(kp_op_call(nd, 13, 2, in, 1, out, &err), 0);
    assert_int_equal(out[0]->rank, 4);
    assert_int_equal(out[0]->dims[1], 3);
    const float *A = a->data, *B = b->data, *Y = out[0]->data;
    for (int64_t i = 0; i < 2; i++)
        for (int64_t j = 0; j < 3; j++)
            for (int64_t r = 0; r < 3; r++)
                for (int64_t c = 0; c < 5; c++) {
                    double s = 0;
                    for (int64_t p = 0; p < 4; p++)
                        s += A[(i * 3 + r) * 4 + p] * B[(j * 4 + p) * 5 + c];
                    assert_true(fabs(Y[((i * 3 + j) * 3 + r) * 5 + c] - s) < 1e-5);
                }
    kp_tensor_free(out[0]);
    /* 1-D x 2-D: [4] x [4,5] -> [5] */
    int64_t vd[1] = {4}, md[2] = {4, 5};
    kp_tensor *v = rand_t(1, vd), *mm = rand_t(2, md);
    const kp_tensor *in2[2] = {v, mm};
    assert_int_equal(kp_op_call(nd, 13, 2, in2, 1, out, &err), 0);
    assert_int_equal(out[0]->rank, 1);
    assert_int_equal(out[0]->dims[0], 5);
    kp_tensor_free(out[0]);
    /* Mismatched inner dims fail with a message. */
    const kp_tensor *in3[2] = {mm, mm};
    assert_int_equal(kp_op_call(nd, 13, 2, in3, 1, out, &err), KP_EINVAL);
    kp_tensor_free(v);
    kp_tensor_free(mm);
    kp_tensor_free(a);
    kp_tensor_free(b);
    kp_node_free(nd);
}

static void pools(void **state) {
    (void)state;
    int64_t xd[4] = {1, 1, 4, 4};
    kp_tensor *x = kp_tensor_new(KP_FLOAT, 4, xd, NULL);
    for (int i = 0; i < 16; i++) ((float *)x->data)[i] = (float)i;
    int64_t k[2] = {2, 2}, s[2] = {2, 2};
    kp_node *mp = mk("MaxPool", 1, 2);
    kp_node_set_attr_ints(mp, "kernel_shape", 2, k);
    kp_node_set_attr_ints(mp, "strides", 2, s);
    const kp_tensor *in[1] = {x};
    kp_tensor *out[2];
    kp_error err = {0};
    assert_int_equal(kp_op_call(mp, 12, 1, in, 2, out, &err), 0);
    const float want[4] = {5, 7, 13, 15};
    assert_close(out[0]->data, want, 4, 0);
    assert_int_equal(((int64_t *)out[1]->data)[3], 15);
    kp_tensor_free(out[0]);
    kp_tensor_free(out[1]);
    kp_node *ap = mk("AveragePool", 1, 1);
    int64_t pads[4] = {1, 1, 1, 1}, k3[2] = {3, 3};
    kp_node_set_attr_ints(ap, "kernel_shape", 2, k3);
    kp_node_set_attr_ints(ap, "pads", 4, pads);
    assert_int_equal(kp_op_call(ap, 12, 1, in, 1, out, &err), 0);
    /* Corner: mean of 0,1,4,5 (pads excluded). */
    assert_true(fabs(((float *)out[0]->data)[0] - 2.5f) < 1e-6);
    kp_tensor_free(out[0]);
    kp_node_set_attr_int(ap, "count_include_pad", 1);
    assert_int_equal(kp_op_call(ap, 12, 1, in, 1, out, &err), 0);
    assert_true(fabs(((float *)out[0]->data)[0] - 10.0f / 9.0f) < 1e-6);
    kp_tensor_free(out[0]);
    kp_node *gp = mk("GlobalAveragePool", 1, 1);
    assert_int_equal(kp_op_call(gp, 12, 1, in, 1, out, &err), 0);
    assert_true(fabs(((float *)out[0]->data)[0] - 7.5f) < 1e-6);
    kp_tensor_free(out[0]);
    kp_node_free(mp);
    kp_node_free(ap);
    kp_node_free(gp);
    kp_tensor_free(x);
}

/* 2x2 stride-2 MaxPool without indices (the vectorized path) against a naive loop, over odd
 * and even sizes, rows shorter and longer than one vector. */
static void maxpool_2x2_fast(void **state) {
    (void)state;
    static const int64_t hw[][2] = {{2, 2},  {4, 6},  {7, 7},  {14, 14}, {28, 28},
                                    {5, 33}, {3, 64}, {9, 71}, {2, 31},  {6, 3}};
    int64_t k[2] = {2, 2}, s[2] = {2, 2};
    kp_node *mp = mk("MaxPool", 1, 1);
    kp_node_set_attr_ints(mp, "kernel_shape", 2, k);
    kp_node_set_attr_ints(mp, "strides", 2, s);
    for (size_t t = 0; t < sizeof hw / sizeof hw[0]; t++) {
        int64_t xd[4] = {2, 3, hw[t][0], hw[t][1]}, oh = hw[t][0] / 2, ow = hw[t][1] / 2;
        kp_tensor *x = rand_t(4, xd);
        const kp_tensor *in[1] = {x};
        kp_tensor *out[1];
        kp_error err = {0};
        if (kp_op_call(mp, 12, 1, in, 1, out, &err) != 0) fail_msg("MaxPool: %s", err.msg);
        assert_int_equal(out[0]->numel, 6 * oh * ow);
        const float *X = x->data, *Y = out[0]->data;
        for (int64_t p = 0; p < 6; p++)
            for (int64_t i = 0; i < oh; i++)
                for (int64_t j = 0; j < ow; j++) {
                    const float *r = X + (p * hw[t][0] + 2 * i) * hw[t][1] + 2 * j;
                    float m = r[0];
                    if (r[1] > m) m = r[1];
                    if (r[hw[t][1]] > m) m = r[hw[t][1]];
                    if (r[hw[t][1] + 1] > m) m = r[hw[t][1] + 1];
                    if (Y[(p * oh + i) * ow + j] != m)
                        fail_msg("%lldx%lld plane %lld (%lld,%lld): got %g want %g",
                                 (long long)hw[t][0], (long long)hw[t][1], (long long)p,
                                 (long long)i, (long long)j, (double)Y[(p * oh + i) * ow + j],
                                 (double)m);
                }
        kp_tensor_free(out[0]);
        kp_tensor_free(x);
    }
    kp_node_free(mp);
}

/* LpPool and GlobalLpPool (no cases in ONNX's test data) against direct sums. */
static void lp_pools(void **state) {
    (void)state;
    int64_t xd[4] = {1, 2, 5, 4};
    kp_tensor *x = rand_t(4, xd);
    const float *X = x->data;
    kp_node *lp = mk("LpPool", 1, 1);
    int64_t k[2] = {3, 2}, st[2] = {2, 2}, pads[4] = {1, 0, 1, 0};
    kp_node_set_attr_ints(lp, "kernel_shape", 2, k);
    kp_node_set_attr_ints(lp, "strides", 2, st);
    kp_node_set_attr_ints(lp, "pads", 4, pads);
    kp_node_set_attr_int(lp, "p", 3);
    const kp_tensor *in[1] = {x};
    kp_tensor *out[1];
    kp_error err = {0};
    assert_int_equal(kp_op_call(lp, 18, 1, in, 1, out, &err), 0);
    /* out: (5 + 2 - 3) / 2 + 1 = 3 rows, (4 - 2) / 2 + 1 = 2 cols */
    assert_int_equal(out[0]->dims[2], 3);
    assert_int_equal(out[0]->dims[3], 2);
    for (int c = 0; c < 2; c++)
        for (int oy = 0; oy < 3; oy++)
            for (int ox = 0; ox < 2; ox++) {
                double acc = 0;
                for (int a = 0; a < 3; a++)
                    for (int b = 0; b < 2; b++) {
                        int yy = oy * 2 - 1 + a, xx = ox * 2 + b;
                        if (yy < 0 || yy >= 5) continue;
                        acc += pow(fabs(X[(c * 5 + yy) * 4 + xx]), 3);
                    }
                double got = ((float *)out[0]->data)[(c * 3 + oy) * 2 + ox];
                assert_true(fabs(got - pow(acc, 1.0 / 3)) < 1e-5);
            }
    kp_tensor_free(out[0]);
    kp_node *glp = mk("GlobalLpPool", 1, 1);
    assert_int_equal(kp_op_call(glp, 18, 1, in, 1, out, &err), 0);
    for (int c = 0; c < 2; c++) {
        double acc = 0;
        for (int i = 0; i < 20; i++) acc += X[c * 20 + i] * X[c * 20 + i];
        assert_true(fabs(((float *)out[0]->data)[c] - sqrt(acc)) < 1e-5);
    }
    kp_tensor_free(out[0]);
    kp_node_free(lp);
    kp_node_free(glp);
    kp_tensor_free(x);
}

static void batchnorm_layernorm(void **state) {
    (void)state;
    int64_t xd[4] = {2, 3, 2, 2}, cd[1] = {3};
    kp_tensor *x = rand_t(4, xd), *sc = rand_t(1, cd), *b = rand_t(1, cd), *mu = rand_t(1, cd);
    kp_tensor *var = rand_t(1, cd);
    for (int i = 0; i < 3; i++) ((float *)var->data)[i] = 0.5f + (float)i;
    kp_node *bn = mk("BatchNormalization", 5, 1);
    const kp_tensor *in[5] = {x, sc, b, mu, var};
    kp_tensor *out[1];
    kp_error err = {0};
    assert_int_equal(kp_op_call(bn, 15, 5, in, 1, out, &err), 0);
    const float *X = x->data, *S = sc->data, *B = b->data, *M = mu->data, *V = var->data;
    for (int64_t i = 0; i < x->numel; i++) {
        int64_t c = (i / 4) % 3;
        double want = (X[i] - M[c]) / sqrt(V[c] + 1e-5) * S[c] + B[c];
        assert_true(fabs(((float *)out[0]->data)[i] - want) < 1e-5);
    }
    kp_tensor_free(out[0]);
    /* LayerNormalization over the last axis: each row has mean 0, variance ~1 before scale. */
    int64_t ld[2] = {3, 8}, sd[1] = {8};
    kp_tensor *lx = rand_t(2, ld), *ls = kp_tensor_new(KP_FLOAT, 1, sd, NULL);
    for (int i = 0; i < 8; i++) ((float *)ls->data)[i] = 1.0f;
    kp_node *ln = mk("LayerNormalization", 2, 1);
    const kp_tensor *lin[2] = {lx, ls};
    assert_int_equal(kp_op_call(ln, 17, 2, lin, 1, out, &err), 0);
    for (int r = 0; r < 3; r++) {
        double s = 0, s2 = 0;
        for (int j = 0; j < 8; j++) s += ((float *)out[0]->data)[r * 8 + j];
        for (int j = 0; j < 8; j++) s2 += pow(((float *)out[0]->data)[r * 8 + j], 2);
        assert_true(fabs(s) < 1e-4);
        assert_true(fabs(s2 / 8 - 1) < 1e-2);
    }
    kp_tensor_free(out[0]);
    kp_node_free(bn);
    kp_node_free(ln);
    kp_tensor_free(lx);
    kp_tensor_free(ls);
    kp_tensor_free(x);
    kp_tensor_free(sc);
    kp_tensor_free(b);
    kp_tensor_free(mu);
    kp_tensor_free(var);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv_paths), cmocka_unit_test(conv_errors),
        cmocka_unit_test(gemm_naive), cmocka_unit_test(matmul_broadcast),
        cmocka_unit_test(pools),      cmocka_unit_test(maxpool_2x2_fast),
        cmocka_unit_test(lp_pools),   cmocka_unit_test(batchnorm_layernorm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
