/* Depthwise 3x3 convolution of one plane (see dw3x3.h). */
#include "core/ops/dw3x3.h"

#include "core/cpu.h"

int kp_dw3x3_available(void) {
#if defined(__x86_64__) || defined(__i386__)
    return kp_cpu()->avx512f;
#else
    return 0;
#endif
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define DW_ATTR __attribute__((target("avx512f")))

/* The three taps of one input row for 16 outputs: columns ox, ox + 1, ox + 2 (stride 1) or
 * 2 ox, 2 ox + 1, 2 ox + 2 (stride 2, de-interleaved from three loads). */
DW_ATTR static inline __attribute__((always_inline)) __m512
row3(const float *r, int stride, __m512 w0, __m512 w1, __m512 w2, __m512 acc) {
    if (stride == 1) {
        acc = _mm512_fmadd_ps(w0, _mm512_loadu_ps(r), acc);
        acc = _mm512_fmadd_ps(w1, _mm512_loadu_ps(r + 1), acc);
        return _mm512_fmadd_ps(w2, _mm512_loadu_ps(r + 2), acc);
    }
    const __m512i even =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd =
        _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    __m512 v0 = _mm512_loadu_ps(r), v1 = _mm512_loadu_ps(r + 16), v2 = _mm512_loadu_ps(r + 32);
    __m512 s0 = _mm512_castsi512_ps(
        _mm512_alignr_epi32(_mm512_castps_si512(v1), _mm512_castps_si512(v0), 2));
    __m512 s1 = _mm512_castsi512_ps(
        _mm512_alignr_epi32(_mm512_castps_si512(v2), _mm512_castps_si512(v1), 2));
    acc = _mm512_fmadd_ps(w0, _mm512_permutex2var_ps(v0, even, v1), acc);
    acc = _mm512_fmadd_ps(w1, _mm512_permutex2var_ps(v0, odd, v1), acc);
    return _mm512_fmadd_ps(w2, _mm512_permutex2var_ps(s0, even, s1), acc);
}

DW_ATTR static inline __attribute__((always_inline)) void
plane(const float *pad, int64_t wp, const float *w, float bias, const int stride, int clamp,
      float lo, float hi, float *y, int64_t oh, int64_t ow) {
    __m512 wv[9];
    for (int t = 0; t < 9; t++) wv[t] = _mm512_set1_ps(w[t]);
    __m512 vb = _mm512_set1_ps(bias), vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    for (int64_t oy = 0; oy < oh; oy++) {
        const float *r0 = pad + oy * stride * wp, *r1 = r0 + wp, *r2 = r1 + wp;
        for (int64_t ox = 0; ox < ow; ox += 16) {
            int64_t left = ow - ox, c = ox * stride;
            __mmask16 m = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
            __m512 acc = row3(r0 + c, stride, wv[0], wv[1], wv[2], vb);
            acc = row3(r1 + c, stride, wv[3], wv[4], wv[5], acc);
            acc = row3(r2 + c, stride, wv[6], wv[7], wv[8], acc);
            if (clamp) acc = _mm512_min_ps(_mm512_max_ps(acc, vlo), vhi);
            _mm512_mask_storeu_ps(y + oy * ow + ox, m, acc);
        }
    }
}

DW_ATTR static void plane_s1(const float *pad, int64_t wp, const float *w, float bias, int clamp,
                             float lo, float hi, float *y, int64_t oh, int64_t ow) {
    plane(pad, wp, w, bias, 1, clamp, lo, hi, y, oh, ow);
}
DW_ATTR static void plane_s2(const float *pad, int64_t wp, const float *w, float bias, int clamp,
                             float lo, float hi, float *y, int64_t oh, int64_t ow) {
    plane(pad, wp, w, bias, 2, clamp, lo, hi, y, oh, ow);
}
#endif

void kp_dw3x3_plane(const float *pad, int64_t wp, const float *w, float bias, int stride, int clamp,
                    float lo, float hi, float *y, int64_t oh, int64_t ow) {
#if defined(__x86_64__) || defined(__i386__)
    if (stride == 1)
        plane_s1(pad, wp, w, bias, clamp, lo, hi, y, oh, ow);
    else
        plane_s2(pad, wp, w, bias, clamp, lo, hi, y, oh, ow);
#else
    (void)pad, (void)wp, (void)w, (void)bias, (void)stride, (void)clamp, (void)lo, (void)hi;
    (void)y, (void)oh, (void)ow;
#endif
}
