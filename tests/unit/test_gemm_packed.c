/* GEMM with B packed once (core/ops/gemm_packed.h) against a naive reference over random
 * shapes (rows 1..40 around the 12-row tile, columns not multiples of 16, K from 1), B in both
 * layouts, with and without bias and ReLU; the same kernel with B read in place (strided
 * operands, bias per row, as Conv's im2col path uses it); and Gemm nodes through the executor,
 * which packs constant B at plan time: packed runs must match unpacked ones (keep_values disables
 * the preparation) for every C form and attribute the kernel takes or leaves to OpenBLAS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ophelp.h"

#include "core/exec.h"
#include "core/graph.h"
#include "core/ops/gemm_packed.h"

/* Where the kernel's y differs from the reference by more than 1e-4 (relative), as a message. */
static void compare(const char *what, int64_t m, int64_t k, int64_t n, const float *y, int64_t ldy,
                    const double *want) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float got = y[i * ldy + j];
            double acc = want[i * n + j];
            if (!(fabs(got - acc) <= 1e-4 * (1 + fabs(acc))))
                fail_msg("%s m=%lld k=%lld n=%lld: y[%lld][%lld] = %g, want %g", what, (long long)m,
                         (long long)k, (long long)n, (long long)i, (long long)j, (double)got, acc);
        }
}

static void check_kernel(int64_t m, int64_t k, int64_t n, int tb, int with_bias, int relu) {
    float *a = rnd_floats(m * k, 0), *b = rnd_floats(k * n, 0), *bias = rnd_floats(n, 0);
    float *y = rnd_floats(m * n, 1), *pk = rnd_floats(kp_gemmp_packed_floats(k, n), 1);
    double *want = malloc((size_t)(m * n + 1) * sizeof *want);
    assert_non_null(want);
    kp_gemmp_pack(b, k, n, tb, pk);
    kp_gemmp_run(a, m, k, pk, n, with_bias ? bias : NULL, relu, y);
    ref_gemm(a, k, b, tb ? k : n, tb, m, k, n, with_bias ? bias : NULL, 0, relu, want);
    compare(tb ? "tb" : "nn", m, k, n, y, n, want);
    free(want);
    free(a);
    free(b);
    free(bias);
    free(y);
    free(pk);
}

static void kernel_random(void **state) {
    (void)state;
    if (!kp_gemmp_available()) skip();
    check_kernel(64, 784, 256, 1, 1, 1); /* the demo MLP's first layer */
    check_kernel(64, 128, 10, 1, 1, 0);
    for (int it = 0; it < 60; it++)
        check_kernel(1 + rnd_u32() % 40, 1 + rnd_u32() % 70, 1 + rnd_u32() % 70,
                     (int)(rnd_u32() % 2), (int)(rnd_u32() % 2), (int)(rnd_u32() % 2));
}

/* kp_gemm_nn_run: B read in place with its own row stride, strided A and y, bias per row. */
static void check_nn(int64_t m, int64_t k, int64_t n, int with_bias, int relu) {
    int64_t lda = k + 3, ldb = n + 5, ldy = n + 2;
    float *a = rnd_floats(m * lda, 0), *b = rnd_floats(k * ldb, 0), *bias = rnd_floats(m, 0);
    float *y = rnd_floats(m * ldy, 1);
    double *want = malloc((size_t)(m * n + 1) * sizeof *want);
    assert_non_null(want);
    kp_gemm_nn_run(a, lda, m, k, b, ldb, n, with_bias ? bias : NULL, relu, y, ldy);
    ref_gemm(a, lda, b, ldb, 0, m, k, n, with_bias ? bias : NULL, 1, relu, want);
    compare("strided", m, k, n, y, ldy, want);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = n; j < ldy; j++) assert_true(isnan(y[i * ldy + j])); /* untouched */
    free(want);
    free(a);
    free(b);
    free(bias);
    free(y);
}

static void nn_random(void **state) {
    (void)state;
    if (!kp_gemmp_available()) skip();
    check_nn(64, 288, 196, 1, 1); /* a 3x3 Conv over 14x14 through im2col */
    for (int it = 0; it < 60; it++)
        check_nn(1 + rnd_u32() % 40, 1 + rnd_u32() % 70, 1 + rnd_u32() % 70, (int)(rnd_u32() % 2),
                 (int)(rnd_u32() % 2));
}

static void pack_layout(void **state) {
    (void)state;
    int64_t k = 3, n = 21;
    float *b = rnd_floats(k * n, 0), *pk = rnd_floats(kp_gemmp_packed_floats(k, n), 1);
    assert_int_equal(kp_gemmp_packed_floats(k, n), 2 * k * 16);
    kp_gemmp_pack(b, k, n, 0, pk);
    for (int64_t blk = 0; blk < 2; blk++)
        for (int64_t p = 0; p < k; p++)
            for (int64_t l = 0; l < 16; l++) {
                int64_t j = blk * 16 + l;
                float v = pk[(blk * k + p) * 16 + l];
                assert_true(j < n ? v == b[p * n + j] : v == 0.0f);
            }
    free(b);
    free(pk);
}

/* ---- through the executor ---------------------------------------------------------------- */

static void add_init(kp_graph *g, const char *name, int rank, const int64_t *dims) {
    kp_tensor *t = kp_tensor_new(KP_FLOAT, rank, dims, NULL);
    assert_non_null(t);
    for (int64_t i = 0; i < t->numel; i++) ((float *)t->data)[i] = rnd_f();
    assert_int_equal(kp_tensor_set_name(t, name), 0);
    assert_int_equal(kp_graph_add_init(g, t), 0);
}

/* x[M,K] -> Gemm(B const, C const of c_rank dims) -> [Relu] -> y */
static void check_exec(int64_t m, int64_t k, int64_t n, int tb, int c_form, float alpha, float beta,
                       int relu) {
    kp_model *md = kp_model_new();
    kp_graph *g = md->graph;
    int64_t xd[2] = {m, k}, yd[2] = {m, n};
    set_io(g, KP_FLOAT, 2, xd, 2, yd);
    int64_t bd[2] = {tb ? n : k, tb ? k : n};
    add_init(g, "b", 2, bd);
    int64_t c1[1] = {n}, c2[2] = {1, n}, cm[2] = {m, n};
    if (c_form == 1) add_init(g, "c", 1, c1);
    if (c_form == 2) add_init(g, "c", 2, c2);
    if (c_form == 3) add_init(g, "c", 2, cm);
    const char *in[3] = {"x", "b", "c"}, *out[1] = {relu ? "g" : "y"};
    kp_node *gm = kp_node_new("Gemm", "gemm", c_form ? 3 : 2, in, 1, out);
    kp_node_set_attr_int(gm, "transB", tb);
    if (alpha != 1.0f) kp_node_set_attr_float(gm, "alpha", alpha);
    if (beta != 1.0f) kp_node_set_attr_float(gm, "beta", beta);
    assert_int_equal(kp_graph_add_node(g, gm), 0);
    if (relu) {
        const char *ri[1] = {"g"}, *ro[1] = {"y"};
        assert_int_equal(kp_graph_add_node(g, kp_node_new("Relu", "relu", 1, ri, 1, ro)), 0);
    }
    kp_tensor *x = kp_tensor_new(KP_FLOAT, 2, xd, NULL);
    for (int64_t i = 0; i < x->numel; i++) ((float *)x->data)[i] = rnd_f();
    const kp_tensor *ins[1] = {x};
    kp_tensor *y1 = NULL, *y2 = NULL, *y3 = NULL;
    kp_error err = {0};
    kp_exec *fast = NULL, *plain = NULL, *multi = NULL;
    kp_exec_opts keep = {.keep_values = 1}, two = {.threads = 2}; /* 2: OpenBLAS, prepared B */
    assert_int_equal(kp_exec_new(md, NULL, &fast, &err), 0);
    assert_int_equal(kp_exec_new(md, &keep, &plain, &err), 0);
    assert_int_equal(kp_exec_new(md, &two, &multi, &err), 0);
    if (kp_exec_run(fast, ins, &y1, &err)) fail_msg("%s", err.msg);
    if (kp_exec_run(plain, ins, &y2, &err)) fail_msg("%s", err.msg);
    if (kp_exec_run(multi, ins, &y3, &err)) fail_msg("%s", err.msg);
    for (int64_t i = 0; i < y1->numel; i++) {
        float a = ((float *)y1->data)[i], b = ((float *)y2->data)[i], c = ((float *)y3->data)[i];
        if (!(fabsf(a - b) <= 1e-5f * (1 + fabsf(b))) || !(fabsf(c - b) <= 1e-5f * (1 + fabsf(b))))
            fail_msg("m=%lld k=%lld n=%lld tb=%d c=%d: y[%lld] = %g packed, %g plain, %g with 2 "
                     "threads",
                     (long long)m, (long long)k, (long long)n, tb, c_form, (long long)i, (double)a,
                     (double)b, (double)c);
    }
    kp_tensor_free(y1);
    kp_tensor_free(y2);
    kp_tensor_free(y3);
    kp_exec_free(multi);
    kp_tensor_free(x);
    kp_exec_free(fast);
    kp_exec_free(plain);
    kp_model_free(md);
}

static void exec_forms(void **state) {
    (void)state;
    for (int tb = 0; tb < 2; tb++)
        for (int c_form = 0; c_form < 4; c_form++) {
            check_exec(13, 37, 21, tb, c_form, 1.0f, 1.0f, 1);
            check_exec(5, 16, 33, tb, c_form, 1.0f, 1.0f, 0);
            check_exec(1, 20, 17, tb, c_form, 1.0f, 1.0f, 1); /* one row: sgemv */
        }
    check_exec(9, 12, 18, 1, 1, 0.5f, 1.0f, 1); /* alpha: OpenBLAS */
    check_exec(9, 12, 18, 1, 1, 1.0f, 2.0f, 0); /* beta: OpenBLAS */
}

int main(void) {
    rnd_seed(2024);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pack_layout),
        cmocka_unit_test(kernel_random),
        cmocka_unit_test(nn_random),
        cmocka_unit_test(exec_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
