/* Depthwise 3x3 convolution of one plane, read in place (see dw3x3.h). */
#include "core/ops/dw3x3.h"

#include <stdint.h>

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

/* Lanes i of a 16-float load at column off that fall inside [0, iw). */
static __mmask16 inside(int64_t off, int64_t iw) {
    int64_t lo = off < 0 ? -off : 0, hi = iw - off < 16 ? iw - off : 16;
    if (hi <= lo) return 0;
    uint32_t m = (hi >= 16 ? 0xffffu : (1u << hi) - 1u) & ~((1u << lo) - 1u);
    return (__mmask16)m;
}

/* Loads 16 floats at row + off, lanes outside mk as 0; the address is formed as an integer so
 * that a load starting before the row (its first lanes masked) is never C pointer arithmetic
 * out of the array. Masked-off lanes are not read. */
DW_ATTR static inline __attribute__((always_inline)) __m512 ld(const float *row, int64_t off,
                                                               __mmask16 mk) {
    return _mm512_maskz_loadu_ps(mk, (const void *)((uintptr_t)row + (uintptr_t)(off * 4)));
}

/* One input row's three taps for 16 outputs starting at input column off (= ox0 * stride -
 * pad_l): stride 1 reads columns off + b, stride 2 de-interleaves three loads. */
DW_ATTR static inline __attribute__((always_inline)) __m512 row3(const float *r, int64_t off,
                                                                 const int stride,
                                                                 const __mmask16 *mk, __m512 w0,
                                                                 __m512 w1, __m512 w2, __m512 acc) {
    if (stride == 1) {
        acc = _mm512_fmadd_ps(w0, ld(r, off, mk[0]), acc);
        acc = _mm512_fmadd_ps(w1, ld(r, off + 1, mk[1]), acc);
        return _mm512_fmadd_ps(w2, ld(r, off + 2, mk[2]), acc);
    }
    const __m512i even =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd =
        _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    __m512 v0 = ld(r, off, mk[0]), v1 = ld(r, off + 16, mk[1]), v2 = ld(r, off + 32, mk[2]);
    __m512 s0 = _mm512_castsi512_ps(
        _mm512_alignr_epi32(_mm512_castps_si512(v1), _mm512_castps_si512(v0), 2));
    __m512 s1 = _mm512_castsi512_ps(
        _mm512_alignr_epi32(_mm512_castps_si512(v2), _mm512_castps_si512(v1), 2));
    acc = _mm512_fmadd_ps(w0, _mm512_permutex2var_ps(v0, even, v1), acc);
    acc = _mm512_fmadd_ps(w1, _mm512_permutex2var_ps(v0, odd, v1), acc);
    return _mm512_fmadd_ps(w2, _mm512_permutex2var_ps(s0, even, s1), acc);
}

DW_ATTR static inline __attribute__((always_inline)) void
plane(const float *x, int64_t ih, int64_t iw, const float *w, float bias, const int stride,
      int64_t pad_t, int64_t pad_l, int clamp, float lo, float hi, float *y, int64_t oh,
      int64_t ow) {
    __m512 wv[9];
    for (int t = 0; t < 9; t++) wv[t] = _mm512_set1_ps(w[t]);
    __m512 vb = _mm512_set1_ps(bias), vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    for (int64_t ox0 = 0; ox0 < ow; ox0 += 16) {
        int64_t left = ow - ox0, off = ox0 * stride - pad_l;
        __mmask16 ms = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u), mk[3];
        for (int b = 0; b < 3; b++) mk[b] = inside(off + (stride == 1 ? b : 16 * b), iw);
        for (int64_t oy = 0; oy < oh; oy++) {
            int64_t iy = oy * stride - pad_t;
            __m512 acc = vb;
            if (iy >= 0 && iy < ih)
                acc = row3(x + iy * iw, off, stride, mk, wv[0], wv[1], wv[2], acc);
            if (iy + 1 >= 0 && iy + 1 < ih)
                acc = row3(x + (iy + 1) * iw, off, stride, mk, wv[3], wv[4], wv[5], acc);
            if (iy + 2 >= 0 && iy + 2 < ih)
                acc = row3(x + (iy + 2) * iw, off, stride, mk, wv[6], wv[7], wv[8], acc);
            if (clamp) acc = _mm512_min_ps(_mm512_max_ps(acc, vlo), vhi);
            _mm512_mask_storeu_ps(y + oy * ow + ox0, ms, acc);
        }
    }
}

DW_ATTR static void plane_s1(const float *x, int64_t ih, int64_t iw, const float *w, float bias,
                             int64_t pad_t, int64_t pad_l, int clamp, float lo, float hi, float *y,
                             int64_t oh, int64_t ow) {
    plane(x, ih, iw, w, bias, 1, pad_t, pad_l, clamp, lo, hi, y, oh, ow);
}
DW_ATTR static void plane_s2(const float *x, int64_t ih, int64_t iw, const float *w, float bias,
                             int64_t pad_t, int64_t pad_l, int clamp, float lo, float hi, float *y,
                             int64_t oh, int64_t ow) {
    plane(x, ih, iw, w, bias, 2, pad_t, pad_l, clamp, lo, hi, y, oh, ow);
}
#endif

void kp_dw3x3_plane(const float *x, int64_t ih, int64_t iw, const float *w, float bias, int stride,
                    int64_t pad_t, int64_t pad_l, int clamp, float lo, float hi, float *y,
                    int64_t oh, int64_t ow) {
#if defined(__x86_64__) || defined(__i386__)
    if (stride == 1)
        plane_s1(x, ih, iw, w, bias, pad_t, pad_l, clamp, lo, hi, y, oh, ow);
    else
        plane_s2(x, ih, iw, w, bias, pad_t, pad_l, clamp, lo, hi, y, oh, ow);
#else
    (void)x, (void)ih, (void)iw, (void)w, (void)bias, (void)stride, (void)pad_t, (void)pad_l;
    (void)clamp, (void)lo, (void)hi, (void)y, (void)oh, (void)ow;
#endif
}
