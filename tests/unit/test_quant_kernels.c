/* Quantization kernels against the ONNX definitions: rounding half to even, saturation,
 * per-axis scales, DynamicQuantizeLinear's spec example, and the integer kernels
 * (QLinearConv, MatMulInteger, ConvInteger, the fused QConv and MaxPool8) bit-exact against
 * plain loops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ophelp.h"

#include "core/calib_stats.h"
#include "core/ops/int8_gemm.h"
#include "core/ops/int8_ops.h"

static uint32_t rng = 99;
static int rnd(int lo, int hi) {
    rng = rng * 1103515245u + 12345u;
    return lo + (int)((rng >> 8) % (uint32_t)(hi - lo + 1));
}

static void quantize_rounding(void **state) {
    (void)state;
    kp_error e;
    kp_tensor *x = tt(KP_FLOAT, 1, D(7), V(-1.5, -0.5, 0.5, 1.5, 2.5, 300, -300));
    kp_tensor *s = tt(KP_FLOAT, 0, NULL, V(1));
    kp_tensor *z = tt(KP_UINT8, 0, NULL, V(128));
    const kp_tensor *in[3] = {x, s, z};
    kp_tensor *out[1] = {0};
    kp_node *n = mknode("QuantizeLinear", 3, in, 1);
    assert_int_equal(run(n, 13, 3, in, 1, out, &e), 0);
    assert_true(close_to(out[0], 1, D(7), V(126, 128, 128, 130, 130, 255, 0)));
    assert_int_equal(out[0]->dtype, KP_UINT8);
    free_all(1, out);
    kp_tensor *s2 = tt(KP_FLOAT, 0, NULL, V(0.5));
    kp_tensor *z2 = tt(KP_INT8, 0, NULL, V(0));
    kp_tensor *x2 = tt(KP_FLOAT, 1, D(4), V(0.25, 0.75, -64, 64));
    const kp_tensor *in2[3] = {x2, s2, z2};
    assert_int_equal(run(n, 13, 3, in2, 1, out, &e), 0);
    assert_true(close_to(out[0], 1, D(4), V(0, 2, -128, 127)));
    free_all(1, out);
    kp_node_free(n);
    kp_tensor *all[] = {x, s, z, s2, z2, x2};
    free_all(6, all);
}

static void dequantize_per_axis(void **state) {
    (void)state;
    kp_error e;
    kp_tensor *x = tt(KP_INT8, 2, D(2, 3), V(-128, 0, 127, 5, -5, 1));
    kp_tensor *s = tt(KP_FLOAT, 1, D(2), V(0.5, 2));
    kp_tensor *z = tt(KP_INT8, 1, D(2), V(1, -1));
    const kp_tensor *in[3] = {x, s, z};
    kp_tensor *out[1] = {0};
    kp_node *n = mknode("DequantizeLinear", 3, in, 1);
    assert_int_equal(kp_node_set_attr_int(n, "axis", 0), 0);
    assert_int_equal(run(n, 13, 3, in, 1, out, &e), 0);
    assert_true(close_to(out[0], 2, D(2, 3), V(-64.5, -0.5, 63, 12, -8, 4)));
    free_all(1, out);
    /* a scale that does not fit the axis is an error, not a crash */
    kp_tensor *bad = tt(KP_FLOAT, 1, D(3), V(1, 1, 1));
    const kp_tensor *in2[2] = {x, bad};
    assert_int_equal(run(n, 13, 2, in2, 1, out, &e), KP_EFORMAT);
    kp_node_free(n);
    kp_tensor *all[] = {x, s, z, bad};
    free_all(4, all);
}

static void dynamic_quantize_spec_example(void **state) {
    (void)state;
    kp_error e;
    kp_tensor *x = tt(KP_FLOAT, 1, D(6), V(0, 2, -3, -2.5, 1.34, 0.5));
    const kp_tensor *in[1] = {x};
    kp_tensor *out[3] = {0};
    kp_node *n = mknode("DynamicQuantizeLinear", 1, in, 3);
    assert_int_equal(run(n, 11, 1, in, 3, out, &e), 0);
    assert_true(close_to(out[0], 1, D(6), V(153, 255, 0, 26, 221, 179)));
    assert_true(fabs(((float *)out[1]->data)[0] - 0.0196078438) < 1e-8);
    assert_int_equal(((uint8_t *)out[2]->data)[0], 153);
    free_all(3, out);
    kp_node_free(n);
    kp_tensor_free(x);
}

/* QLinearConv (and the fused QConv with relu) vs a direct loop. */
static void qlinear_conv_exact(void **state) {
    (void)state;
    kp_error e;
    const int64_t N = 2, C = 4, H = 7, W = 6, CO = 6, G = 2, K = 3;
    kp_tensor *x = tt(KP_UINT8, 4, D(N, C, H, W), NULL);
    kp_tensor *w = tt(KP_INT8, 4, D(CO, C / G, K, K), NULL);
    kp_tensor *b = tt(KP_INT32, 1, D(CO), NULL);
    for (int64_t i = 0; i < x->numel; i++) ((uint8_t *)x->data)[i] = (uint8_t)rnd(0, 255);
    for (int64_t i = 0; i < w->numel; i++) ((int8_t *)w->data)[i] = (int8_t)rnd(-127, 127);
    for (int64_t i = 0; i < CO; i++) ((int32_t *)b->data)[i] = rnd(-5000, 5000);
    kp_tensor *sx = tt(KP_FLOAT, 0, NULL, V(0.02)), *zx = tt(KP_UINT8, 0, NULL, V(100));
    kp_tensor *sw = tt(KP_FLOAT, 1, D(CO), V(0.01, 0.02, 0.005, 0.03, 0.015, 0.001));
    kp_tensor *zw = tt(KP_INT8, 1, D(CO), V(0, 0, 0, 0, 0, 0));
    kp_tensor *sy = tt(KP_FLOAT, 0, NULL, V(0.05)), *zy = tt(KP_UINT8, 0, NULL, V(120));
    const kp_tensor *in[9] = {x, sx, zx, w, sw, zw, sy, zy, b};
    kp_tensor *out[1] = {0};
    for (int fused = 0; fused < 2; fused++) {
        kp_node *n = mknode(fused ? "QConv" : "QLinearConv", 9, in, 1);
        if (fused) {
            free(n->domain);
            n->domain = strdup("ai.kompress");
            kp_node_set_attr_int(n, "relu", 1);
        }
        kp_node_set_attr_ints(n, "pads", 4, D(1, 1, 1, 1));
        kp_node_set_attr_ints(n, "strides", 2, D(2, 1));
        kp_node_set_attr_int(n, "group", G);
        assert_int_equal(run(n, 13, 9, in, 1, out, &e), 0);
        int64_t OH = (H + 2 - K) / 2 + 1, OW = W;
        assert_int_equal(out[0]->dims[2], OH);
        assert_int_equal(out[0]->dims[3], OW);
        for (int64_t nn = 0; nn < N; nn++)
            for (int64_t co = 0; co < CO; co++)
                for (int64_t oy = 0; oy < OH; oy++)
                    for (int64_t ox = 0; ox < OW; ox++) {
                        int64_t acc = 0, g = co / (CO / G);
                        for (int64_t c = 0; c < C / G; c++)
                            for (int64_t ky = 0; ky < K; ky++)
                                for (int64_t kx = 0; kx < K; kx++) {
                                    int64_t iy = oy * 2 - 1 + ky, ix = ox - 1 + kx;
                                    int xv = 100; /* padding holds the zero point */
                                    if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                                        xv =
                                            ((uint8_t *)x
                                                 ->data)[((nn * C + g * (C / G) + c) * H + iy) * W +
                                                         ix];
                                    int wv =
                                        ((int8_t *)w->data)[((co * (C / G) + c) * K + ky) * K + kx];
                                    acc += (int64_t)(xv - 100) * wv;
                                }
                        acc += ((int32_t *)b->data)[co];
                        float mult = 0.02f * (float)((float *)sw->data)[co] / 0.05f;
                        float v = kp_rne((float)acc * mult) + 120.f;
                        float lo = fused ? 120.f : 0.f;
                        v = v < lo ? lo : v > 255.f ? 255.f : v;
                        uint8_t got =
                            ((uint8_t *)out[0]->data)[((nn * CO + co) * OH + oy) * OW + ox];
                        if (got != (uint8_t)v)
                            fail_msg("fused %d n%lld co%lld y%lld x%lld: %d want %d", fused,
                                     (long long)nn, (long long)co, (long long)oy, (long long)ox,
                                     got, (int)v);
                    }
        free_all(1, out);
        kp_node_free(n);
    }
    kp_tensor *all[] = {x, w, b, sx, zx, sw, zw, sy, zy};
    free_all(9, all);
}

static void matmul_integer_exact(void **state) {
    (void)state;
    kp_error e;
    const int64_t B = 3, M = 5, K = 37, N = 19;
    kp_tensor *a = tt(KP_INT8, 3, D(B, M, K), NULL), *bm = tt(KP_UINT8, 2, D(K, N), NULL);
    kp_tensor *za = tt(KP_INT8, 0, NULL, V(-3)), *zb = tt(KP_UINT8, 1, D(N), NULL);
    for (int64_t i = 0; i < a->numel; i++) ((int8_t *)a->data)[i] = (int8_t)rnd(-128, 127);
    for (int64_t i = 0; i < bm->numel; i++) ((uint8_t *)bm->data)[i] = (uint8_t)rnd(0, 255);
    for (int64_t i = 0; i < N; i++) ((uint8_t *)zb->data)[i] = (uint8_t)rnd(0, 255);
    const kp_tensor *in[4] = {a, bm, za, zb};
    kp_tensor *out[1] = {0};
    kp_node *n = mknode("MatMulInteger", 4, in, 1);
    for (int round = 0; round < 2; round++) { /* second run goes through the weight cache */
        assert_int_equal(run(n, 13, 4, in, 1, out, &e), 0);
        for (int64_t bb = 0; bb < B; bb++)
            for (int64_t m = 0; m < M; m++)
                for (int64_t j = 0; j < N; j++) {
                    int64_t acc = 0;
                    for (int64_t k = 0; k < K; k++)
                        acc += (int64_t)(((int8_t *)a->data)[(bb * M + m) * K + k] + 3) *
                               (((uint8_t *)bm->data)[k * N + j] - ((uint8_t *)zb->data)[j]);
                    assert_int_equal(((int32_t *)out[0]->data)[(bb * M + m) * N + j], acc);
                }
        free_all(1, out);
        ((uint8_t *)bm->data)[7] ^= 0x5a; /* a changed weight must not be served stale */
    }
    kp_node_free(n);
    kp_tensor *all[] = {a, bm, za, zb};
    free_all(4, all);
}

static void requant_row_matches_scalar(void **state) {
    (void)state;
    int32_t acc[45], bias[45];
    float mult[45];
    uint8_t got[45];
    for (int i = 0; i < 45; i++) {
        acc[i] = rnd(-200000, 200000);
        bias[i] = rnd(-1000, 1000);
        mult[i] = (float)rnd(1, 1000) * 1e-5f;
    }
    acc[3] = 50; /* 50 * 0.01 = 0.5: a tie */
    mult[3] = 0.01f;
    for (int u8 = 0; u8 < 2; u8++) {
        int32_t lo = u8 ? 0 : -128, hi = u8 ? 255 : 127, zp = u8 ? 17 : -5;
        kp_i8_requant_row(acc, bias, mult, 45, zp, lo, hi, u8, got);
        for (int i = 0; i < 45; i++) {
            int32_t want = kp_i8_requant(acc[i] + bias[i], mult[i], zp, lo, hi);
            assert_int_equal(u8 ? (int32_t)got[i] : (int32_t)(int8_t)got[i], want);
        }
    }
}

static void maxpool8_exact(void **state) {
    (void)state;
    kp_error e;
    kp_tensor *x = tt(KP_UINT8, 4, D(2, 3, 9, 40), NULL); /* 20 outputs wide: SIMD + tail */
    for (int64_t i = 0; i < x->numel; i++) ((uint8_t *)x->data)[i] = (uint8_t)rnd(0, 255);
    const kp_tensor *in[1] = {x};
    kp_tensor *out[1] = {0};
    for (int variant = 0; variant < 2; variant++) {
        kp_node *n = mknode("MaxPool8", 1, in, 1);
        free(n->domain);
        n->domain = strdup("ai.kompress");
        int64_t k = variant ? 3 : 2, s = 2, p = variant ? 1 : 0;
        kp_node_set_attr_ints(n, "kernel_shape", 2, D(k, k));
        kp_node_set_attr_ints(n, "strides", 2, D(s, s));
        kp_node_set_attr_ints(n, "pads", 4, D(p, p, p, p));
        assert_int_equal(run(n, 13, 1, in, 1, out, &e), 0);
        int64_t OH = (9 + 2 * p - k) / s + 1, OW = (40 + 2 * p - k) / s + 1;
        assert_int_equal(out[0]->dims[2], OH);
        for (int64_t nc = 0; nc < 6; nc++)
            for (int64_t oy = 0; oy < OH; oy++)
                for (int64_t ox = 0; ox < OW; ox++) {
                    int best = -1;
                    for (int64_t ky = 0; ky < k; ky++)
                        for (int64_t kx = 0; kx < k; kx++) {
                            int64_t iy = oy * s - p + ky, ix = ox * s - p + kx;
                            if (iy < 0 || iy >= 9 || ix < 0 || ix >= 40) continue;
                            int v = ((uint8_t *)x->data)[(nc * 9 + iy) * 40 + ix];
                            if (v > best) best = v;
                        }
                    assert_int_equal(((uint8_t *)out[0]->data)[(nc * OH + oy) * OW + ox], best);
                }
        free_all(1, out);
        kp_node_free(n);
    }
    kp_tensor_free(x);
}

/* QConv on the direct, im2col-free path of AVX-512 VNNI hosts (kernel rows read in place,
 * padded to whole quads with zero taps) vs plain loops: padding, stride, dilation, 20 output
 * channels (a partial panel), a pixel count not a multiple of 4, uint8 and int8 inputs. */
static void qconv_direct_exact(void **state) {
    (void)state;
    kp_error e;
    for (int v = 0; v < 7; v++) {
        /* v = 2, 3: rows of 3 bytes (one or three channels), padded to a quad by a zero tap;
         * v = 4..6: kernel rows of 72, 64 and 32 bytes (the AMX path where the CPU has it:
         * a 64-byte chunk plus a remainder, whole chunks only, a remainder only) */
        static const int64_t cs[7] = {8, 8, 1, 3, 24, 32, 16}, kws[7] = {2, 2, 3, 3, 3, 2, 2};
        int sgn = v & 1;
        const int64_t N = 2, C = cs[v], H = 9, W = 11, CO = v == 5 ? 70 : 20, KH = 3, KW = kws[v];
        kp_dtype xt = sgn ? KP_INT8 : KP_UINT8;
        kp_tensor *x = tt(xt, 4, D(N, C, H, W), NULL);
        kp_tensor *w = tt(KP_INT8, 4, D(CO, C, KH, KW), NULL);
        kp_tensor *b = tt(KP_INT32, 1, D(CO), NULL);
        kp_tensor *sw = tt(KP_FLOAT, 1, D(CO), NULL);
        for (int64_t i = 0; i < x->numel; i++) ((uint8_t *)x->data)[i] = (uint8_t)rnd(0, 255);
        for (int64_t i = 0; i < w->numel; i++) ((int8_t *)w->data)[i] = (int8_t)rnd(-127, 127);
        for (int64_t i = 0; i < CO; i++) {
            ((int32_t *)b->data)[i] = rnd(-3000, 3000);
            ((float *)sw->data)[i] = (float)rnd(1, 100) * 1e-3f;
        }
        int zxv = sgn ? -9 : 77;
        kp_tensor *sx = tt(KP_FLOAT, 0, NULL, V(0.02)), *zx = tt(xt, 0, NULL, V(zxv));
        kp_tensor *sy = tt(KP_FLOAT, 0, NULL, V(0.5)), *zy = tt(xt, 0, NULL, V(sgn ? 1 : 128));
        const kp_tensor *in[9] = {x, sx, zx, w, sw, NULL, sy, zy, b};
        kp_tensor *out[1] = {0};
        kp_node *n = mknode("QConv", 9, in, 1);
        free(n->domain);
        n->domain = strdup("ai.kompress");
        kp_node_set_attr_ints(n, "pads", 4, D(1, 2, 0, 1));
        kp_node_set_attr_ints(n, "strides", 2, D(2, 1));
        kp_node_set_attr_ints(n, "dilations", 2, D(2, 1));
        assert_int_equal(run(n, 13, 9, in, 1, out, &e), 0);
        int64_t OH = (H + 1 - (2 * (KH - 1) + 1)) / 2 + 1, OW = (W + 3 - KW) / 1 + 1;
        assert_int_equal(out[0]->dims[2], OH);
        assert_int_equal(out[0]->dims[3], OW);
        for (int64_t nn = 0; nn < N; nn++)
            for (int64_t co = 0; co < CO; co++)
                for (int64_t oy = 0; oy < OH; oy++)
                    for (int64_t ox = 0; ox < OW; ox++) {
                        int64_t acc = 0;
                        for (int64_t c = 0; c < C; c++)
                            for (int64_t ky = 0; ky < KH; ky++)
                                for (int64_t kx = 0; kx < KW; kx++) {
                                    int64_t iy = oy * 2 - 1 + 2 * ky, ix = ox - 2 + kx;
                                    int xv = zxv;
                                    if (iy >= 0 && iy < H && ix >= 0 && ix < W) {
                                        uint8_t raw =
                                            ((uint8_t *)x->data)[((nn * C + c) * H + iy) * W + ix];
                                        xv = sgn ? (int)(int8_t)raw : (int)raw;
                                    }
                                    int wv =
                                        ((int8_t *)w->data)[((co * C + c) * KH + ky) * KW + kx];
                                    acc += (int64_t)(xv - zxv) * wv;
                                }
                        acc += ((int32_t *)b->data)[co];
                        float mult = 0.02f * ((float *)sw->data)[co] / 0.5f;
                        int32_t want = kp_i8_requant((int32_t)acc, mult, sgn ? 1 : 128,
                                                     sgn ? -128 : 0, sgn ? 127 : 255);
                        uint8_t raw =
                            ((uint8_t *)out[0]->data)[((nn * CO + co) * OH + oy) * OW + ox];
                        int got = sgn ? (int)(int8_t)raw : (int)raw;
                        if (got != want)
                            fail_msg("v %d n%lld co%lld y%lld x%lld: %d want %d", v, (long long)nn,
                                     (long long)co, (long long)oy, (long long)ox, got, want);
                    }
        free_all(1, out);
        kp_node_free(n);
        kp_tensor *all[] = {x, w, b, sx, zx, sw, sy, zy};
        free_all(8, all);
    }
}

/* DynamicQuantizeLinear's SIMD path gives the portable loop's bytes, scale and zero point:
 * random values, exact ties (k + 0.5 steps), NaN, lengths around the vector width. */
static void dynamic_quantize_simd_matches_c(void **state) {
    (void)state;
    float x[1037];
    uint8_t y0[1037], y1[1037];
    for (int i = 0; i < 1037; i++) x[i] = (float)rnd(-100000, 300000) * 1e-4f;
    float mn = 0, mx = 0;
    for (int i = 0; i < 1037; i++) mn = x[i] < mn ? x[i] : mn, mx = x[i] > mx ? x[i] : mx;
    float scale = (mx - mn) / 255.f;
    for (int i = 0; i < 40; i++) x[7 * i + 3] = ((float)rnd(0, 200) + 0.5f) * scale; /* ties */
    x[500] = NAN;
    int64_t lens[] = {1037, 16, 15, 33, 1};
    for (size_t l = 0; l < sizeof lens / sizeof *lens; l++) {
        float s0, s1;
        uint8_t z0, z1;
        kp_q_dynamic_u8(x, lens[l], y0, &s0, &z0, 1);
        kp_q_dynamic_u8(x, lens[l], y1, &s1, &z1, 0);
        assert_true(s0 == s1);
        assert_int_equal(z0, z1);
        assert_memory_equal(y0, y1, (size_t)lens[l]);
    }
    float s0;
    uint8_t z0;
    kp_q_dynamic_u8(x, 1037, y0, &s0, &z0, 1);
    assert_int_equal(y0[500], 0);  /* NaN */
    for (int i = 0; i < 1037; i++) /* the definition, spot-checked */
        if (i != 500)
            assert_int_equal(y0[i], (int)fminf(255.f, fmaxf(0.f, kp_rne(x[i] / s0) + (float)z0)));
}

/* QuantizeLinear per tensor on more than a vector's worth (the SIMD path where the CPU has it)
 * against the definition: ties, saturation both ways, NaN -> 0, uint8 and int8. */
static void quantize_linear_long(void **state) {
    (void)state;
    kp_error e;
    kp_tensor *x = tt(KP_FLOAT, 1, D(1037), NULL);
    float *xf = x->data;
    for (int i = 0; i < 1037; i++) xf[i] = (float)rnd(-400000, 400000) * 1e-3f;
    for (int i = 0; i < 50; i++) xf[11 * i + 2] = ((float)rnd(-300, 300) + 0.5f) * 0.25f; /* ties */
    xf[7] = NAN;
    xf[8] = 1e30f;
    xf[9] = -1e30f;
    for (int s8 = 0; s8 < 2; s8++) {
        kp_tensor *sc = tt(KP_FLOAT, 0, NULL, V(0.25));
        kp_tensor *z = tt(s8 ? KP_INT8 : KP_UINT8, 0, NULL, V(s8 ? -3 : 120));
        const kp_tensor *in[3] = {x, sc, z};
        kp_tensor *out[1] = {0};
        kp_node *n = mknode("QuantizeLinear", 3, in, 1);
        assert_int_equal(run(n, 13, 3, in, 1, out, &e), 0);
        for (int i = 0; i < 1037; i++) {
            float v = kp_rne(xf[i] / 0.25f) + (s8 ? -3.f : 120.f);
            float lo = s8 ? -128.f : 0.f, hi = s8 ? 127.f : 255.f;
            int want = isnan(v) ? 0 : (int)(v < lo ? lo : v > hi ? hi : v);
            int got = s8 ? ((int8_t *)out[0]->data)[i] : ((uint8_t *)out[0]->data)[i];
            if (got != want)
                fail_msg("s8 %d i %d x %g: %d want %d", s8, i, (double)xf[i], got, want);
        }
        free_all(1, out);
        kp_node_free(n);
        kp_tensor *all[] = {sc, z};
        free_all(2, all);
    }
    kp_tensor_free(x);
}

/* ai.kompress:QAdd equals DequantizeLinear x2 -> Add [-> Relu] -> QuantizeLinear run op by op:
 * uint8 + int8 into uint8 or int8, channel broadcast, with and without relu. */
static void qadd_matches_unfused(void **state) {
    (void)state;
    kp_error e;
    kp_tensor *a = tt(KP_UINT8, 4, D(2, 3, 5, 7), NULL), *b = tt(KP_INT8, 4, D(1, 3, 1, 7), NULL);
    for (int64_t i = 0; i < a->numel; i++) ((uint8_t *)a->data)[i] = (uint8_t)rnd(0, 255);
    for (int64_t i = 0; i < b->numel; i++) ((int8_t *)b->data)[i] = (int8_t)rnd(-128, 127);
    kp_tensor *sa = tt(KP_FLOAT, 0, NULL, V(0.037)), *za = tt(KP_UINT8, 0, NULL, V(90));
    kp_tensor *sb = tt(KP_FLOAT, 0, NULL, V(0.051)), *zb = tt(KP_INT8, 0, NULL, V(-4));
    for (int v = 0; v < 4; v++) {
        int relu = v & 1, s8 = v >> 1;
        kp_tensor *sy = tt(KP_FLOAT, 0, NULL, V(0.045));
        kp_tensor *zy = tt(s8 ? KP_INT8 : KP_UINT8, 0, NULL, V(s8 ? 5 : 60));
        const kp_tensor *in[8] = {a, sa, za, b, sb, zb, sy, zy};
        kp_tensor *got[1] = {0}, *fa[1] = {0}, *fb[1] = {0}, *sum[1] = {0}, *r[1] = {0},
                  *want[1] = {0};
        kp_node *n = mknode("QAdd", 8, in, 1);
        free(n->domain);
        n->domain = strdup("ai.kompress");
        kp_node_set_attr_int(n, "relu", relu);
        assert_int_equal(run(n, 13, 8, in, 1, got, &e), 0);
        const kp_tensor *i1[3] = {a, sa, za}, *i2[3] = {b, sb, zb};
        kp_node *dq = mknode("DequantizeLinear", 3, i1, 1), *add, *rl, *q;
        assert_int_equal(run(dq, 13, 3, i1, 1, fa, &e), 0);
        assert_int_equal(run(dq, 13, 3, i2, 1, fb, &e), 0);
        const kp_tensor *i3[2] = {fa[0], fb[0]};
        add = mknode("Add", 2, i3, 1);
        assert_int_equal(run(add, 13, 2, i3, 1, sum, &e), 0);
        const kp_tensor *i4[1] = {sum[0]};
        rl = mknode("Relu", 1, i4, 1);
        assert_int_equal(run(rl, 13, 1, i4, 1, r, &e), 0);
        const kp_tensor *i5[3] = {relu ? r[0] : sum[0], sy, zy};
        q = mknode("QuantizeLinear", 3, i5, 1);
        assert_int_equal(run(q, 13, 3, i5, 1, want, &e), 0);
        assert_int_equal(got[0]->dtype, want[0]->dtype);
        assert_int_equal(got[0]->numel, want[0]->numel);
        assert_memory_equal(got[0]->data, want[0]->data, (size_t)want[0]->numel);
        kp_tensor *all[] = {got[0], fa[0], fb[0], sum[0], r[0], want[0], sy, zy};
        free_all(8, all);
        kp_node *nodes[] = {n, dq, add, rl, q};
        for (int k = 0; k < 5; k++) kp_node_free(nodes[k]);
    }
    kp_tensor *all[] = {a, b, sa, za, sb, zb};
    free_all(6, all);
}

/* ai.kompress:QConcat equals DequantizeLinear per input -> Concat -> QuantizeLinear: inputs in
 * the output's parameters (copied), in others, int8 among uint8; axis 1 and -1. */
static void qconcat_matches_unfused(void **state) {
    (void)state;
    kp_error e;
    kp_tensor *x[3] = {tt(KP_UINT8, 3, D(2, 3, 4), NULL), tt(KP_UINT8, 3, D(2, 3, 4), NULL),
                       tt(KP_INT8, 3, D(2, 3, 4), NULL)};
    for (int t = 0; t < 3; t++)
        for (int64_t i = 0; i < x[t]->numel; i++) ((uint8_t *)x[t]->data)[i] = (uint8_t)rnd(0, 255);
    kp_tensor *sc[3] = {tt(KP_FLOAT, 0, NULL, V(0.05)), tt(KP_FLOAT, 0, NULL, V(0.02)),
                        tt(KP_FLOAT, 0, NULL, V(0.07))};
    kp_tensor *zp[3] = {tt(KP_UINT8, 0, NULL, V(100)), tt(KP_UINT8, 0, NULL, V(3)),
                        tt(KP_INT8, 0, NULL, V(-9))};
    kp_tensor *sy = sc[0], *zy = zp[0]; /* input 0 is already in the output's parameters */
    for (int ax = 0; ax < 2; ax++) {
        const kp_tensor *in[11] = {sy, zy};
        for (int t = 0; t < 3; t++)
            in[2 + 3 * t] = x[t], in[3 + 3 * t] = sc[t], in[4 + 3 * t] = zp[t];
        kp_tensor *got[1] = {0}, *f[3] = {0}, *cat[1] = {0}, *want[1] = {0};
        kp_node *n = mknode("QConcat", 11, in, 1);
        free(n->domain);
        n->domain = strdup("ai.kompress");
        kp_node_set_attr_int(n, "axis", ax ? -1 : 1);
        assert_int_equal(run(n, 13, 11, in, 1, got, &e), 0);
        kp_node *dq = NULL;
        for (int t = 0; t < 3; t++) {
            const kp_tensor *i1[3] = {x[t], sc[t], zp[t]};
            if (!dq) dq = mknode("DequantizeLinear", 3, i1, 1);
            kp_tensor *o[1] = {0};
            assert_int_equal(run(dq, 13, 3, i1, 1, o, &e), 0);
            f[t] = o[0];
        }
        const kp_tensor *i2[3] = {f[0], f[1], f[2]};
        kp_node *c = mknode("Concat", 3, i2, 1);
        kp_node_set_attr_int(c, "axis", ax ? -1 : 1);
        assert_int_equal(run(c, 13, 3, i2, 1, cat, &e), 0);
        const kp_tensor *i3[3] = {cat[0], sy, zy};
        kp_node *q = mknode("QuantizeLinear", 3, i3, 1);
        assert_int_equal(run(q, 13, 3, i3, 1, want, &e), 0);
        assert_int_equal(got[0]->numel, want[0]->numel);
        for (int d = 0; d < 3; d++) assert_int_equal(got[0]->dims[d], want[0]->dims[d]);
        assert_memory_equal(got[0]->data, want[0]->data, (size_t)want[0]->numel);
        kp_tensor *all[] = {got[0], f[0], f[1], f[2], cat[0], want[0]};
        free_all(6, all);
        kp_node_free(n);
        kp_node_free(dq);
        kp_node_free(c);
        kp_node_free(q);
    }
    for (int t = 0; t < 3; t++) {
        kp_tensor *all[] = {x[t], sc[t], zp[t]};
        free_all(3, all);
    }
}

/* ai.kompress:DynQMatMul equals DynamicQuantizeLinear -> MatMulInteger -> Cast ->
 * Mul(., Mul(scale, w_scale)) -> Add(bias) run op by op; per-channel and per-tensor scales,
 * with and without bias, a 3-D input. */
static void dynq_matmul_matches_unfused(void **state) {
    (void)state;
    kp_error e;
    const int64_t B = 2, M = 5, K = 70, N = 19;
    kp_tensor *x = tt(KP_FLOAT, 3, D(B, M, K), NULL), *w = tt(KP_INT8, 2, D(K, N), NULL);
    kp_tensor *wsv = tt(KP_FLOAT, 1, D(N), NULL), *wss = tt(KP_FLOAT, 0, NULL, V(0.013));
    kp_tensor *bias = tt(KP_FLOAT, 1, D(N), NULL), *wz = tt(KP_INT8, 1, D(N), NULL);
    for (int64_t i = 0; i < x->numel; i++) ((float *)x->data)[i] = (float)rnd(-3000, 5000) * 1e-3f;
    for (int64_t i = 0; i < w->numel; i++) ((int8_t *)w->data)[i] = (int8_t)rnd(-127, 127);
    for (int64_t i = 0; i < N; i++) {
        ((float *)wsv->data)[i] = (float)rnd(1, 100) * 1e-3f;
        ((float *)bias->data)[i] = (float)rnd(-1000, 1000) * 1e-3f;
        ((int8_t *)wz->data)[i] = 0;
    }
    for (int v = 0; v < 2; v++) {
        const kp_tensor *ws = v ? wss : wsv, *bv = v ? NULL : bias;
        const kp_tensor *in[5] = {x, w, wz, ws, bv};
        kp_tensor *got[1] = {0};
        kp_node *n = mknode("DynQMatMul", 5, in, 1);
        free(n->domain);
        n->domain = strdup("ai.kompress");
        assert_int_equal(run(n, 13, 5, in, 1, got, &e), 0);
        const kp_tensor *i1[1] = {x};
        kp_tensor *dq[3] = {0}, *acc[1] = {0}, *f[1] = {0}, *sc[1] = {0}, *t[1] = {0}, *y[1] = {0};
        kp_node *n1 = mknode("DynamicQuantizeLinear", 1, i1, 3);
        assert_int_equal(run(n1, 13, 1, i1, 3, dq, &e), 0);
        const kp_tensor *i2[4] = {dq[0], w, dq[2], wz};
        kp_node *n2 = mknode("MatMulInteger", 4, i2, 1);
        assert_int_equal(run(n2, 13, 4, i2, 1, acc, &e), 0);
        const kp_tensor *i3[1] = {acc[0]};
        kp_node *n3 = mknode("Cast", 1, i3, 1);
        kp_node_set_attr_int(n3, "to", KP_FLOAT);
        assert_int_equal(run(n3, 13, 1, i3, 1, f, &e), 0);
        const kp_tensor *i4[2] = {dq[1], ws};
        kp_node *n4 = mknode("Mul", 2, i4, 1);
        assert_int_equal(run(n4, 13, 2, i4, 1, sc, &e), 0);
        const kp_tensor *i5[2] = {f[0], sc[0]};
        assert_int_equal(run(n4, 13, 2, i5, 1, t, &e), 0);
        kp_node *n6 = NULL;
        if (bv) {
            const kp_tensor *i6[2] = {t[0], bv};
            n6 = mknode("Add", 2, i6, 1);
            assert_int_equal(run(n6, 13, 2, i6, 1, y, &e), 0);
        }
        const kp_tensor *want = bv ? y[0] : t[0];
        assert_int_equal(got[0]->rank, 3);
        assert_int_equal(got[0]->dims[2], N);
        assert_memory_equal(got[0]->data, want->data, (size_t)want->numel * sizeof(float));
        kp_tensor *all[] = {got[0], dq[0], dq[1], dq[2], acc[0], f[0], sc[0], t[0], y[0]};
        free_all(9, all);
        kp_node *nodes[] = {n, n1, n2, n3, n4, n6};
        for (int k = 0; k < 6; k++) kp_node_free(nodes[k]);
    }
    kp_tensor *all[] = {x, w, wsv, wss, bias, wz};
    free_all(6, all);
}

/* ai.kompress:DynQConv equals DynamicQuantizeLinear -> ConvInteger -> Cast ->
 * Mul(., Mul(scale, w_scale)) -> Add(bias) run op by op (scales and bias along channels). */
static void dynq_conv_matches_unfused(void **state) {
    (void)state;
    kp_error e;
    kp_tensor *x = tt(KP_FLOAT, 4, D(2, 8, 7, 6), NULL), *w = tt(KP_INT8, 4, D(5, 8, 3, 3), NULL);
    kp_tensor *ws = tt(KP_FLOAT, 3, D(5, 1, 1), V(0.01, 0.02, 0.003, 0.04, 0.005));
    kp_tensor *bias = tt(KP_FLOAT, 3, D(5, 1, 1), V(0.5, -0.25, 1.5, 0, -2));
    kp_tensor *wz = tt(KP_INT8, 0, NULL, V(0));
    for (int64_t i = 0; i < x->numel; i++) ((float *)x->data)[i] = (float)rnd(-3000, 5000) * 1e-3f;
    for (int64_t i = 0; i < w->numel; i++) ((int8_t *)w->data)[i] = (int8_t)rnd(-127, 127);
    const kp_tensor *in[5] = {x, w, wz, ws, bias};
    kp_tensor *got[1] = {0}, *dq[3] = {0}, *acc[1] = {0}, *f[1] = {0}, *sc[1] = {0}, *t[1] = {0},
              *y[1] = {0};
    kp_node *n = mknode("DynQConv", 5, in, 1);
    free(n->domain);
    n->domain = strdup("ai.kompress");
    kp_node_set_attr_ints(n, "pads", 4, D(1, 1, 1, 1));
    assert_int_equal(run(n, 13, 5, in, 1, got, &e), 0);
    const kp_tensor *i1[1] = {x};
    kp_node *n1 = mknode("DynamicQuantizeLinear", 1, i1, 3);
    assert_int_equal(run(n1, 13, 1, i1, 3, dq, &e), 0);
    const kp_tensor *i2[4] = {dq[0], w, dq[2], wz};
    kp_node *n2 = mknode("ConvInteger", 4, i2, 1);
    kp_node_set_attr_ints(n2, "pads", 4, D(1, 1, 1, 1));
    assert_int_equal(run(n2, 13, 4, i2, 1, acc, &e), 0);
    const kp_tensor *i3[1] = {acc[0]};
    kp_node *n3 = mknode("Cast", 1, i3, 1);
    kp_node_set_attr_int(n3, "to", KP_FLOAT);
    assert_int_equal(run(n3, 13, 1, i3, 1, f, &e), 0);
    const kp_tensor *i4[2] = {dq[1], ws};
    kp_node *n4 = mknode("Mul", 2, i4, 1);
    assert_int_equal(run(n4, 13, 2, i4, 1, sc, &e), 0);
    const kp_tensor *i5[2] = {f[0], sc[0]};
    assert_int_equal(run(n4, 13, 2, i5, 1, t, &e), 0);
    const kp_tensor *i6[2] = {t[0], bias};
    kp_node *n6 = mknode("Add", 2, i6, 1);
    assert_int_equal(run(n6, 13, 2, i6, 1, y, &e), 0);
    assert_int_equal(got[0]->numel, y[0]->numel);
    assert_memory_equal(got[0]->data, y[0]->data, (size_t)y[0]->numel * sizeof(float));
    kp_tensor *all[] = {got[0], dq[0], dq[1], dq[2], acc[0], f[0], sc[0],
                        t[0],   y[0],  x,     w,     ws,     bias, wz};
    free_all(14, all);
    kp_node *nodes[] = {n, n1, n2, n3, n4, n6};
    for (int k = 0; k < 6; k++) kp_node_free(nodes[k]);
}

/* method=mse: uniform data keeps (about) its whole range, lone far outliers are clipped,
 * symmetric ranges stay symmetric and signed asymmetric ones keep both ends. */
static void mse_range_choices(void **state) {
    (void)state;
    enum { NB = 2048 };
    static double h[NB];
    double lo, hi;
    for (int i = 0; i < NB; i++) h[i] = 100;
    kp_calib_mse_range(h, NB, 0.0, 1.0 / NB, 255, 0, &lo, &hi);
    assert_true(lo == 0 && hi > 0.99 && hi <= 1.0);
    /* [0, 100]: 2e7 values in [0, 1) and a single one at 100. Noise N h^2 / (12 * 255^2)
     * against clipping (100 - h)^2 balance at h = 100 * 780300 / (N + 780300) = 3.76 */
    for (int i = 0; i < NB; i++) h[i] = i < NB / 100 ? 1e6 : 0;
    h[NB - 1] = 1;
    kp_calib_mse_range(h, NB, 0.0, 100.0 / NB, 255, 0, &lo, &hi);
    assert_true(lo == 0 && hi > 3.3 && hi < 4.2);
    /* the same with real mass at 100: clipping it would cost more than coarser steps */
    h[NB - 1] = 1e5;
    kp_calib_mse_range(h, NB, 0.0, 100.0 / NB, 255, 0, &lo, &hi);
    assert_true(hi > 99.0);
    /* symmetric (even level count) over [-1, 1] */
    for (int i = 0; i < NB; i++) h[i] = 10;
    kp_calib_mse_range(h, NB, -1.0, 2.0 / NB, 254, 1, &lo, &hi);
    assert_true(hi > 0.98 && lo == -hi);
    /* asymmetric signed over [-0.5, 2] */
    kp_calib_mse_range(h, NB, -0.5, 2.5 / NB, 255, 0, &lo, &hi);
    assert_true(lo < -0.48 && lo >= -0.5 && hi > 1.98 && hi <= 2.0);
    /* empty histogram: the full range back */
    for (int i = 0; i < NB; i++) h[i] = 0;
    kp_calib_mse_range(h, NB, -1.0, 3.0 / NB, 255, 0, &lo, &hi);
    assert_true(lo == -1.0 && hi == 2.0);
}

/* [N, C, H, W] bytes -> [N, H, W, C] */
static kp_tensor *to_nhwc(const kp_tensor *x) {
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    kp_tensor *y = tt(x->dtype, 4, D(N, H, W, C), NULL);
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t i = 0; i < H * W; i++)
                ((uint8_t *)y->data)[(n * H * W + i) * C + c] =
                    ((const uint8_t *)x->data)[(n * C + c) * H * W + i];
    return y;
}

static void assert_same_nhwc(const kp_tensor *nchw, const kp_tensor *nhwc) {
    int64_t C = nchw->dims[1], H = nchw->dims[2], W = nchw->dims[3];
    assert_int_equal(nhwc->rank, 4);
    assert_int_equal(nhwc->dims[1], H);
    assert_int_equal(nhwc->dims[2], W);
    assert_int_equal(nhwc->dims[3], C);
    kp_tensor *t = to_nhwc(nchw);
    assert_memory_equal(t->data, nhwc->data, (size_t)t->numel);
    kp_tensor_free(t);
}

/* The channels-last variants (attributes the executor's fusion sets between int8 kernels)
 * give the same bytes as the NCHW kernels, transposed: QConv with groups, padding and stride,
 * int8 and uint8 activations; MaxPool8 signed and unsigned with padding. */
static void channels_last_exact(void **state) {
    (void)state;
    kp_error e;
    for (int sgn = 0; sgn < 2; sgn++) {
        const int64_t N = 2, C = 6, H = 9, W = 7, CO = 8, G = sgn ? 2 : 1;
        kp_dtype xt = sgn ? KP_INT8 : KP_UINT8;
        kp_tensor *x = tt(xt, 4, D(N, C, H, W), NULL);
        kp_tensor *w = tt(KP_INT8, 4, D(CO, C / G, 3, 3), NULL);
        kp_tensor *b = tt(KP_INT32, 1, D(CO), NULL);
        for (int64_t i = 0; i < x->numel; i++) ((uint8_t *)x->data)[i] = (uint8_t)rnd(0, 255);
        for (int64_t i = 0; i < w->numel; i++) ((int8_t *)w->data)[i] = (int8_t)rnd(-127, 127);
        for (int64_t i = 0; i < CO; i++) ((int32_t *)b->data)[i] = rnd(-3000, 3000);
        kp_tensor *sx = tt(KP_FLOAT, 0, NULL, V(0.02)), *zx = tt(xt, 0, NULL, V(sgn ? -7 : 90));
        kp_tensor *sw = tt(KP_FLOAT, 1, D(CO), V(0.01, 0.02, 0.005, 0.03, 0.015, 0.001, 0.2, 0.04));
        kp_tensor *sy = tt(KP_FLOAT, 0, NULL, V(0.3)), *zy = tt(xt, 0, NULL, V(sgn ? 3 : 110));
        kp_tensor *xl = to_nhwc(x);
        kp_tensor *ref[1] = {0}, *got[1] = {0}, *pref[1] = {0}, *pgot[1] = {0};
        const kp_tensor *in[9] = {x, sx, zx, w, sw, NULL, sy, zy, b};
        kp_node *n = mknode("QConv", 9, in, 1);
        free(n->domain);
        n->domain = strdup("ai.kompress");
        kp_node_set_attr_int(n, "relu", sgn);
        kp_node_set_attr_ints(n, "pads", 4, D(1, 1, 1, 0));
        kp_node_set_attr_ints(n, "strides", 2, D(1, 2));
        kp_node_set_attr_int(n, "group", G);
        assert_int_equal(run(n, 13, 9, in, 1, ref, &e), 0);
        kp_node_set_attr_int(n, "nhwc_in", 1);
        kp_node_set_attr_int(n, "nhwc_out", 1);
        in[0] = xl;
        assert_int_equal(run(n, 13, 9, in, 1, got, &e), 0);
        assert_same_nhwc(ref[0], got[0]);
        /* pool the conv output both ways: 3x3 stride 2 with padding, then 2x2 stride 2 */
        for (int v = 0; v < 2; v++) {
            const kp_tensor *pin[1] = {ref[0]};
            kp_node *p = mknode("MaxPool8", 1, pin, 1);
            free(p->domain);
            p->domain = strdup("ai.kompress");
            kp_node_set_attr_ints(p, "kernel_shape", 2, v ? D(2, 2) : D(3, 3));
            kp_node_set_attr_ints(p, "strides", 2, D(2, 2));
            kp_node_set_attr_ints(p, "pads", 4, v ? D(0, 0, 0, 0) : D(1, 1, 1, 1));
            assert_int_equal(run(p, 13, 1, pin, 1, pref, &e), 0);
            kp_node_set_attr_int(p, "nhwc", 1);
            pin[0] = got[0];
            assert_int_equal(run(p, 13, 1, pin, 1, pgot, &e), 0);
            assert_same_nhwc(pref[0], pgot[0]);
            free_all(1, pref);
            free_all(1, pgot);
            kp_node_free(p);
        }
        free_all(1, ref);
        free_all(1, got);
        kp_node_free(n);
        kp_tensor *all[] = {x, w, b, sx, zx, sw, sy, zy, xl};
        free_all(9, all);
    }
}

/* ophelp.h helper this file does not need */
static void unused_helpers(void) {
    kp_tensor_free(tramp(1, D(1), 1, 0));
}

int main(void) {
    (void)unused_helpers;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quantize_rounding),
        cmocka_unit_test(dequantize_per_axis),
        cmocka_unit_test(dynamic_quantize_spec_example),
        cmocka_unit_test(qlinear_conv_exact),
        cmocka_unit_test(matmul_integer_exact),
        cmocka_unit_test(requant_row_matches_scalar),
        cmocka_unit_test(maxpool8_exact),
        cmocka_unit_test(channels_last_exact),
        cmocka_unit_test(qconv_direct_exact),
        cmocka_unit_test(dynamic_quantize_simd_matches_c),
        cmocka_unit_test(mse_range_choices),
        cmocka_unit_test(quantize_linear_long),
        cmocka_unit_test(qadd_matches_unfused),
        cmocka_unit_test(qconcat_matches_unfused),
        cmocka_unit_test(dynq_matmul_matches_unfused),
        cmocka_unit_test(dynq_conv_matches_unfused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
