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

#include "ophelp.h"

#include "core/cpu.h"
#include "core/ops/conv3x3.h"

static void check_one(int isa, int64_t c, int64_t h, int64_t w, int64_t m, int with_bias,
                      int relu) {
    float *x = rnd_floats(c * h * w, 0), *wt = rnd_floats(m * c * 9, 0), *bias = rnd_floats(m, 0);
    float *y = rnd_floats(m * h * w, 1), *ref = rnd_floats(m * h * w, 1);
    float *pad = rnd_floats(kp_conv3x3_pad_floats(c, h, w), 1);
    float *out = rnd_floats(kp_conv3x3_out_floats(m, h, w), 1);
    kp_conv3x3_run(isa, x, c, h, w, wt, m, with_bias ? bias : NULL, relu, 0, y, pad, out);
    ref_conv3x3(x, c, h, w, wt, m, with_bias ? bias : NULL, relu, ref);
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
        uint32_t r = rnd_u32();
        int64_t c = 1 + r % 20, m = 1 + (r >> 5) % 19, h = 1 + (r >> 10) % 17;
        int64_t w = 1 + (r >> 15) % 33;
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
    rnd_seed(777);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_avx512),
        cmocka_unit_test(test_avx2),
        cmocka_unit_test(test_selected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
