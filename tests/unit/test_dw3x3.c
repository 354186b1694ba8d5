/* Depthwise 3x3 plane kernel (core/ops/dw3x3.h) against a naive reference: strides 1 and 2,
 * pads 0 to 2 at either end, widths from 1 to 40 (masked tails, more than one vector per row),
 * no clamp, ReLU and ReLU6-style clamps. Skipped without AVX-512F (Conv then uses
 * the portable depthwise loop, run under KOMPRESS_ISA=c by tests/e2e/conv_portable.sh through
 * test_conv_fusion's depthwise case). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <cmocka.h>

#include "ophelp.h"

#include "core/ops/dw3x3.h"

/* ih x iw plane, the output size any (taps past the plane count 0, as with end padding). */
static void check(int64_t ih, int64_t iw, int stride, int64_t pt, int64_t pl, int64_t oh,
                  int64_t ow, int clamp, float lo, float hi) {
    float *x = malloc((size_t)(ih * iw) * sizeof *x);
    float *y = malloc((size_t)(oh * ow + 1) * sizeof *y), w[9], bias = rnd_f();
    assert_true(x && y);
    for (int64_t i = 0; i < ih * iw; i++) x[i] = rnd_f();
    for (int t = 0; t < 9; t++) w[t] = rnd_f();
    y[oh * ow] = 12345.0f; /* must stay: the kernel writes only oh x ow */
    kp_dw3x3_plane(x, ih, iw, w, bias, stride, pt, pl, clamp, lo, hi, y, oh, ow);
    for (int64_t oy = 0; oy < oh; oy++)
        for (int64_t ox = 0; ox < ow; ox++) {
            double acc = bias;
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++) {
                    int64_t iy = oy * stride - pt + a, ix = ox * stride - pl + b;
                    if (iy >= 0 && iy < ih && ix >= 0 && ix < iw)
                        acc += (double)w[a * 3 + b] * x[iy * iw + ix];
                }
            if (clamp) acc = acc < lo ? lo : acc > hi ? hi : acc;
            float got = y[oy * ow + ox];
            if (!(fabs(got - acc) <= 1e-5 * (1 + fabs(acc))))
                fail_msg("%lldx%lld stride %d pads %lld,%lld: y[%lld][%lld] = %g, want %g",
                         (long long)ih, (long long)iw, stride, (long long)pt, (long long)pl,
                         (long long)oy, (long long)ox, (double)got, acc);
        }
    assert_true(y[oh * ow] == 12345.0f);
    free(x);
    free(y);
}

/* Output size of a 3x3 window with pads pt (begin) and pe (end). */
static int64_t out_of(int64_t in, int stride, int64_t pt, int64_t pe) {
    int64_t o = (in + pt + pe - 3) / stride + 1;
    return o > 0 ? o : 0;
}

static void random_planes(void **state) {
    (void)state;
    if (!kp_dw3x3_available()) skip();
    for (int it = 0; it < 120; it++) {
        int stride = 1 + (int)(rnd_u32() % 2), clamp = (int)(rnd_u32() % 3);
        int64_t ih = 1 + rnd_u32() % 20, iw = 1 + rnd_u32() % 40, pt = rnd_u32() % 3,
                pl = rnd_u32() % 3;
        int64_t oh = out_of(ih, stride, pt, rnd_u32() % 3),
                ow = out_of(iw, stride, pl, rnd_u32() % 3);
        if (!oh || !ow) continue;
        check(ih, iw, stride, pt, pl, oh, ow, clamp != 0, clamp == 2 ? -0.25f : 0.0f,
              clamp == 2 ? 0.5f : INFINITY);
    }
    check(56, 56, 1, 1, 1, 56, 56, 1, 0.0f, 6.0f); /* MobileNetV2 shapes */
    check(56, 56, 2, 1, 1, 28, 28, 1, 0.0f, 6.0f);
    check(7, 7, 2, 1, 1, 4, 4, 1, 0.0f, 6.0f);
    check(4, 4, 1, 1, 1, 4, 4, 0, 0.0f, 0.0f);
    check(40, 37, 2, 0, 0, 19, 18, 0, 0.0f, 0.0f);
}

int main(void) {
    rnd_seed(31337);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_planes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
