/* Vectorizable float32 math for hot kernels (Sigmoid, Softmax). Branch-free, so compilers turn
 * loops over these into SIMD code; accuracy is within a few ulp of libm over the float range.
 * Inputs are clamped to [-87, 88] before exponentiation: exp() of anything below returns
 * ~1.6e-38 instead of a denormal or 0, above returns ~1.7e38 instead of inf, which is harmless
 * for the uses here (probabilities) and keeps the bit tricks free of overflow. */
#ifndef KP_OPS_FASTMATH_H
#define KP_OPS_FASTMATH_H

#include <stdint.h>
#include <string.h>

static inline float kp_fast_expf(float x) {
    /* written as (c > x ? c : x) so compilers map them to SIMD max/min without fast-math;
     * NaN fails both tests and passes through */
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* n = round(x / ln2) via the 1.5 * 2^23 trick: no float-to-int conversion */
    const float magic = 12582912.0f;
    float t = x * 1.44269504088896341f + magic;
    float n = t - magic;
    uint32_t tb;
    memcpy(&tb, &t, 4);
    /* r = x - n ln2 in two parts (Cody-Waite) */
    float r = x - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    /* e^r on |r| <= ln2/2: degree-6 Taylor, error < 2e-7 relative */
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* 2^n from n's integer bits (tb - bits(magic) = n) */
    uint32_t eb = (tb - 0x4b400000u + 127u) << 23;
    float scale;
    memcpy(&scale, &eb, 4);
    return p * scale;
}

#endif
