/* Depthwise 3x3 plane kernel (core/ops/dw3x3.h) against a naive reference: strides 1 and 2,
 * output widths from 1 to 40 (masked tails, more than one vector per row), padded rows wider
 * than needed, no clamp, ReLU and ReLU6-style clamps. Skipped without AVX-512F (Conv then uses
 * the portable depthwise loop, run under KOMPRESS_ISA=c by tests/e2e/conv_portable.sh through
 * test_conv_fusion's depthwise case). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <cmocka.h>

#include "core/ops/dw3x3.h"

static uint32_t rng = 31337;
static uint32_t next(void) {
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}
static float frand(void) {
    return (float)(next() & 0xffff) / 32768.0f - 1.0f;
}

static void check(int64_t oh, int64_t ow, int stride, int64_t extra, int clamp, float lo,
                  float hi) {
    int64_t wp = (ow - 1) * stride + 3 + extra, hp = (oh - 1) * stride + 3;
    float *pad = malloc((size_t)(hp * wp + KP_DW3X3_SLACK) * sizeof *pad);
    float *y = malloc((size_t)(oh * ow + 1) * sizeof *y), w[9], bias = frand();
    assert_true(pad && y);
    for (int64_t i = 0; i < hp * wp + KP_DW3X3_SLACK; i++) pad[i] = frand();
    for (int t = 0; t < 9; t++) w[t] = frand();
    y[oh * ow] = 12345.0f; /* must stay: the kernel writes only oh x ow */
    kp_dw3x3_plane(pad, wp, w, bias, stride, clamp, lo, hi, y, oh, ow);
    for (int64_t oy = 0; oy < oh; oy++)
        for (int64_t ox = 0; ox < ow; ox++) {
            double acc = bias;
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++)
                    acc += (double)w[a * 3 + b] * pad[(oy * stride + a) * wp + ox * stride + b];
            if (clamp) acc = acc < lo ? lo : acc > hi ? hi : acc;
            float got = y[oy * ow + ox];
            if (!(fabs(got - acc) <= 1e-5 * (1 + fabs(acc))))
                fail_msg("%lldx%lld stride %d: y[%lld][%lld] = %g, want %g", (long long)oh,
                         (long long)ow, stride, (long long)oy, (long long)ox, (double)got, acc);
        }
    assert_true(y[oh * ow] == 12345.0f);
    free(pad);
    free(y);
}

static void random_planes(void **state) {
    (void)state;
    if (!kp_dw3x3_available()) skip();
    for (int it = 0; it < 80; it++) {
        int stride = 1 + (int)(next() % 2), clamp = (int)(next() % 3);
        check(1 + next() % 20, 1 + next() % 40, stride, next() % 3, clamp != 0,
              clamp == 2 ? -0.25f : 0.0f, clamp == 2 ? 0.5f : INFINITY);
    }
    check(56, 56, 1, 0, 1, 0.0f, 6.0f); /* MobileNetV2 shapes */
    check(28, 28, 2, 1, 1, 0.0f, 6.0f);
    check(4, 4, 1, 0, 0, 0.0f, 0.0f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_planes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
