/* Direct 3x3 convolution kernel (core/ops/conv3x3.h) against a naive reference, for every SIMD
 * path this CPU supports, over random shapes: odd widths and heights, 1x1 to 28x31 planes,
 * channel counts that are not multiples of the vector width or of the 4-channel block, with and
 * without bias and ReLU. Scratch buffers are filled with NaN first: their contents must not
 * matter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/cpu.h"
#include "core/ops/conv3x3.h"

static uint32_t rng = 777;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static float *rand_buf(int64_t n) {
    float *p = malloc((size_t)(n ? n : 1) * sizeof *p);
    assert_non_null(p);
    for (int64_t i = 0; i < n; i++) p[i] = frand();
    return p;
}

static void conv_ref(const float *x, int64_t c, int64_t h, int64_t w, const float *wt, int64_t m,
                     const float *bias, int relu, float *y) {
    for (int64_t o = 0; o < m; o++)
        for (int64_t p = 0; p < h; p++)
            for (int64_t q = 0; q < w; q++) {
                double acc = bias ? bias[o] : 0;
                for (int64_t ci = 0; ci < c; ci++)
                    for (int64_t a = 0; a < 3; a++)
                        for (int64_t b = 0; b < 3; b++) {
                            int64_t yy = p - 1 + a, xx = q - 1 + b;
                            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                            acc += (double)x[(ci * h + yy) * w + xx] *
                                   wt[((o * c + ci) * 3 + a) * 3 + b];
                        }
                if (relu && acc < 0) acc = 0;
                y[(o * h + p) * w + q] = (float)acc;
            }
}

static void check_one(int isa, int64_t c, int64_t h, int64_t w, int64_t m, int with_bias,
                      int relu) {
    float *x = rand_buf(c * h * w), *wt = rand_buf(m * c * 9), *bias = rand_buf(m);
    float *y = malloc((size_t)(m * h * w) * sizeof *y),
          *ref = malloc((size_t)(m * h * w) * sizeof *ref);
    int64_t np = kp_conv3x3_pad_floats(c, h, w), no = kp_conv3x3_out_floats(m, h, w);
    float *pad = malloc((size_t)np * sizeof *pad), *out = malloc((size_t)no * sizeof *out);
    assert_true(y && ref && pad && out);
    for (int64_t i = 0; i < np; i++) pad[i] = NAN;
    for (int64_t i = 0; i < no; i++) out[i] = NAN;
    for (int64_t i = 0; i < m * h * w; i++) y[i] = NAN;
    kp_conv3x3_run(isa, x, c, h, w, wt, m, with_bias ? bias : NULL, relu, 0, y, pad, out);
    conv_ref(x, c, h, w, wt, m, with_bias ? bias : NULL, relu, ref);
    for (int64_t i = 0; i < m * h * w; i++)
        if (!(fabs((double)y[i] - ref[i]) <=
              1e-5 * (1 + sqrt((double)c * 9) + fabs((double)ref[i]))))
            fail_msg(
                "isa %d c=%lld h=%lld w=%lld m=%lld bias=%d relu=%d: element %lld got %g want %g",
                isa, (long long)c, (long long)h, (long long)w, (long long)m, with_bias, relu,
                (long long)i, (double)y[i], (double)ref[i]);
    free(x);
    free(wt);
    free(bias);
    free(y);
    free(ref);
    free(pad);
    free(out);
}

static void run_isa(int isa) {
    static const int64_t hw[][2] = {{1, 1},  {2, 3},  {5, 7},  {7, 7},  {14, 14}, {28, 28},
                                    {3, 17}, {9, 31}, {13, 1}, {1, 40}, {6, 15}};
    static const int64_t cm[][2] = {{1, 32}, {3, 5}, {17, 1}, {32, 64}, {5, 33}, {8, 4}, {2, 7}};
    for (size_t i = 0; i < sizeof hw / sizeof hw[0]; i++)
        for (size_t j = 0; j < sizeof cm / sizeof cm[0]; j++)
            check_one(isa, cm[j][0], hw[i][0], hw[i][1], cm[j][1], (int)((i + j) % 2),
                      (int)((i + j) / 2 % 2));
    /* Random shapes. */
    for (int t = 0; t < 40; t++) {
        rng = rng * 1664525u + 1013904223u;
        int64_t c = 1 + (rng >> 8) % 20, m = 1 + (rng >> 13) % 19, h = 1 + (rng >> 18) % 17;
        int64_t w = 1 + (rng >> 23) % 33;
        check_one(isa, c, h, w, m, t % 2, t / 2 % 2);
    }
}

static void test_avx512(void **state) {
    (void)state;
    if (!kp_cpu()->avx512f) skip();
    run_isa(KP_C3_AVX512);
}

static void test_avx2(void **state) {
    (void)state;
    if (!kp_cpu()->avx2 || !kp_cpu()->fma) skip();
    run_isa(KP_C3_AVX2);
}

static void test_selected(void **state) {
    (void)state;
    int isa = kp_conv3x3_isa();
    if (isa == KP_C3_AVX512) assert_true(kp_cpu()->avx512f);
    if (isa == KP_C3_NONE) skip();
    check_one(isa, 32, 14, 14, 64, 1, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_avx512),
        cmocka_unit_test(test_avx2),
        cmocka_unit_test(test_selected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
