/* Channel-vectorised direct 3x3 convolution (core/ops/conv3x3_oc.h) against a naive reference
 * over random shapes: planes from 1x1 to 31x30 (odd widths, widths over the 12-pixel register
 * tile), input and output channel counts that are not multiples of 16 (1 to 70), with and
 * without bias, ReLU and the fused 2x2 max pool. Scratch and output are filled with NaN first:
 * the kernel must write every output and ignore stale scratch. Skipped without AVX-512F (the
 * executor then uses the other Conv paths, tested by test_conv_fusion under KOMPRESS_ISA=c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ophelp.h"

#include "core/ops/conv3x3_oc.h"

/* Reference: conv (double sums), bias, ReLU, then the optional 2x2 stride-2 max pool. */
static void ref(const float *x, int64_t c, int64_t h, int64_t w, const float *wt, int64_t m,
                const float *bias, int relu, int pool, float *y) {
    float *full = rnd_floats(m * h * w, 1);
    ref_conv3x3(x, c, h, w, wt, m, bias, relu, full);
    if (!pool) {
        memcpy(y, full, (size_t)(m * h * w) * sizeof *y);
    } else {
        int64_t oh = h / 2, ow = w / 2;
        for (int64_t o = 0; o < m; o++)
            for (int64_t p = 0; p < oh; p++)
                for (int64_t q = 0; q < ow; q++) {
                    const float *f = full + (o * h + 2 * p) * w + 2 * q;
                    float v = fmaxf(fmaxf(f[0], f[1]), fmaxf(f[w], f[w + 1]));
                    y[(o * oh + p) * ow + q] = v;
                }
    }
    free(full);
}

static void check_one(int64_t c, int64_t h, int64_t w, int64_t m, int with_bias, int relu,
                      int pool) {
    int64_t ny = pool ? m * (h / 2) * (w / 2) : m * h * w;
    float *x = rnd_floats(c * h * w, 0), *wt = rnd_floats(m * c * 9, 0), *bias = rnd_floats(m, 0);
    float *y = rnd_floats(ny, 1), *want = rnd_floats(ny, 0);
    int64_t np = kp_c3oc_packed_floats(m, c), ns = kp_c3oc_scratch_floats(c, m, h, w);
    assert_true(np >= m * c * 9 && ns > 0);
    float *pk = rnd_floats(np, 1), *sc = rnd_floats(ns, 1);
    kp_c3oc_pack(wt, m, c, pk);
    kp_c3oc_run(x, c, h, w, pk, m, with_bias ? bias : NULL, relu, pool, y, sc);
    ref(x, c, h, w, wt, m, with_bias ? bias : NULL, relu, pool, want);
    for (int64_t i = 0; i < ny; i++) {
        if (!(fabsf(y[i] - want[i]) <= 1e-4f * (1.0f + fabsf(want[i])))) {
            print_error(
                "c=%lld h=%lld w=%lld m=%lld bias=%d relu=%d pool=%d: y[%lld]=%g, want %g\n",
                (long long)c, (long long)h, (long long)w, (long long)m, with_bias, relu, pool,
                (long long)i, (double)y[i], (double)want[i]);
            fail();
        }
        if (relu) assert_true(y[i] >= 0);
    }
    free(x);
    free(wt);
    free(bias);
    free(y);
    free(want);
    free(pk);
    free(sc);
}

static void demo_shapes(void **state) {
    (void)state;
    if (!kp_c3oc_available()) skip();
    check_one(32, 14, 14, 64, 1, 1, 1); /* the demo CNN's layers */
    check_one(64, 7, 7, 64, 1, 1, 0);
    check_one(64, 7, 7, 64, 1, 1, 1);
    check_one(1, 28, 28, 32, 1, 1, 1);
}

static void random_shapes(void **state) {
    (void)state;
    if (!kp_c3oc_available()) skip();
    for (int it = 0; it < 60; it++) {
        int64_t c = 1 + rnd_u32() % 40, m = 1 + rnd_u32() % 70;
        int64_t h = 1 + rnd_u32() % 31, w = 1 + rnd_u32() % 30;
        if (it % 5 == 0) c = 16 * (1 + rnd_u32() % 4) + (int64_t)(rnd_u32() % 3); /* near 16k */
        check_one(c, h, w, m, (int)(rnd_u32() % 2), (int)(rnd_u32() % 2), (int)(rnd_u32() % 2));
    }
}

static void pack_layout(void **state) {
    (void)state;
    /* Block b, input channel ci, tap t, lane l holds w[16b + l][ci][t]; lanes past M are 0. */
    int64_t m = 19, c = 3;
    float *wt = rnd_floats(m * c * 9, 0), *pk = rnd_floats(kp_c3oc_packed_floats(m, c), 1);
    assert_int_equal(kp_c3oc_packed_floats(m, c), 2 * c * 9 * 16);
    kp_c3oc_pack(wt, m, c, pk);
    for (int64_t b = 0; b < 2; b++)
        for (int64_t ci = 0; ci < c; ci++)
            for (int t = 0; t < 9; t++)
                for (int l = 0; l < 16; l++) {
                    int64_t o = 16 * b + l;
                    float v = pk[((b * c + ci) * 9 + t) * 16 + l];
                    if (o < m)
                        assert_true(v == wt[(o * c + ci) * 9 + t]);
                    else
                        assert_true(v == 0.0f);
                }
    free(wt);
    free(pk);
}

int main(void) {
    rnd_seed(4242);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pack_layout),
        cmocka_unit_test(demo_shapes),
        cmocka_unit_test(random_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
