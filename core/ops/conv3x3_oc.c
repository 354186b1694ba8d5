/* Direct 3x3 convolution vectorised over output channels (see conv3x3_oc.h).
 * Scratch of one image: the input in zero-bordered planes of (H + 2) x (W + 2) (stride ps), the
 * bias zero-filled to whole 16-channel blocks, and the result pixel-major T[H * W][S] with
 * S = 16 * blocks, which the output pass transposes (and pools) into y. */
#include "core/ops/conv3x3_oc.h"

#include <string.h>

#include "core/cpu.h"

#define OC_VL 16 /* channels per vector */
#ifndef OC_RMAX
#define OC_RMAX 12 /* pixels per register tile (14 x 2 blocks spills registers) */
#endif
#define OC_TAPF (9 * OC_VL) /* floats of one input channel's packed weights in one block */

static int64_t blocks_of(int64_t m) {
    return (m + OC_VL - 1) / OC_VL;
}
static int64_t ps_of(int64_t h, int64_t w) {
    return ((h + 2) * (w + 2) + OC_VL - 1) / OC_VL * OC_VL;
}

int kp_c3oc_available(void) {
#if defined(__x86_64__) || defined(__i386__)
    return kp_cpu()->avx512f;
#else
    return 0;
#endif
}

int64_t kp_c3oc_packed_floats(int64_t m, int64_t c) {
    return blocks_of(m) * c * OC_TAPF;
}

void kp_c3oc_pack(const float *w, int64_t m, int64_t c, float *packed) {
    int64_t nb = blocks_of(m);
    memset(packed, 0, (size_t)(nb * c * OC_TAPF) * sizeof *packed);
    for (int64_t o = 0; o < m; o++) {
        float *pb = packed + (o / OC_VL) * c * OC_TAPF + o % OC_VL;
        for (int64_t ci = 0; ci < c; ci++)
            for (int t = 0; t < 9; t++) pb[ci * OC_TAPF + t * OC_VL] = w[(o * c + ci) * 9 + t];
    }
}

int64_t kp_c3oc_scratch_floats(int64_t c, int64_t m, int64_t h, int64_t w) {
    int64_t s = blocks_of(m) * OC_VL;
    return c * ps_of(h, w) + s + h * w * s;
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define OC_ATTR __attribute__((target("avx512f")))

/* R pixels of one output row x NB (1, 2 or 4) consecutive blocks of 16 channels. in: the padded
 * input at the top-left of the first pixel's window; wa: the first block's packed weights (the
 * next blocks follow at c * OC_TAPF); bv: their bias; t: T at the first pixel and the first
 * block's channel. */
OC_ATTR static inline __attribute__((always_inline)) void
tile(const float *in, int64_t ps, int64_t w2, int64_t c, const float *wa, const float *bv, int relu,
     float *t, int64_t s, const int r_n, const int nb) {
    __m512 acc[4][OC_RMAX], bb[4];
    const int64_t wstep = c * OC_TAPF;
#pragma GCC unroll 4
    for (int b = 0; b < nb; b++) bb[b] = _mm512_loadu_ps(bv + b * OC_VL);
#pragma GCC unroll 12
    for (int r = 0; r < r_n; r++)
#pragma GCC unroll 4
        for (int b = 0; b < nb; b++) acc[b][r] = bb[b];
    for (int64_t ci = 0; ci < c; ci++) {
        const float *p = in + ci * ps, *w0 = wa + ci * OC_TAPF;
#pragma GCC unroll 9
        for (int k = 0; k < 9; k++) {
            const float *pk = p + (k / 3) * w2 + k % 3;
            __m512 v[4];
#pragma GCC unroll 4
            for (int b = 0; b < nb; b++) v[b] = _mm512_loadu_ps(w0 + b * wstep + k * OC_VL);
#pragma GCC unroll 12
            for (int r = 0; r < r_n; r++) {
                __m512 xv = _mm512_set1_ps(pk[r]);
#pragma GCC unroll 4
                for (int b = 0; b < nb; b++) acc[b][r] = _mm512_fmadd_ps(v[b], xv, acc[b][r]);
            }
        }
    }
    __m512 z = _mm512_setzero_ps();
#pragma GCC unroll 12
    for (int r = 0; r < r_n; r++)
#pragma GCC unroll 4
        for (int b = 0; b < nb; b++)
            _mm512_storeu_ps(t + r * s + b * OC_VL, relu ? _mm512_max_ps(acc[b][r], z) : acc[b][r]);
}

/* 4 blocks only for runs of up to 6 pixels (4 x 6 accumulators), as in kp_c3oc_run. */
#define OC_CASE(R)                                                                                 \
    case R:                                                                                        \
        if (R <= 6 && nb == 4)                                                                     \
            tile(in, ps, w2, c, wa, bv, relu, t, s, R <= 6 ? R : 1, 4);                            \
        else if (nb >= 2)                                                                          \
            tile(in, ps, w2, c, wa, bv, relu, t, s, R, 2);                                         \
        else                                                                                       \
            tile(in, ps, w2, c, wa, bv, relu, t, s, R, 1);                                         \
        break;

OC_ATTR static void tile_any(const float *in, int64_t ps, int64_t w2, int64_t c, const float *wa,
                             const float *bv, int relu, float *t, int64_t s, int r_n, int nb) {
    switch (r_n) {
        OC_CASE(1)
        OC_CASE(2)
        OC_CASE(3)
        OC_CASE(4)
        OC_CASE(5)
        OC_CASE(6)
        OC_CASE(7)
        OC_CASE(8)
        OC_CASE(9)
        OC_CASE(10)
        OC_CASE(11)
        OC_CASE(12)
    default: break;
    }
}

/* T[q][s] for q < hp * wp: 2x2 maxima of T's rows (in place: row q is written after rows >= q
 * were read). */
OC_ATTR static void pool_rows(float *t, int64_t s, int64_t w, int64_t hp, int64_t wp) {
    for (int64_t py = 0; py < hp; py++)
        for (int64_t px = 0; px < wp; px++) {
            const float *a = t + ((2 * py) * w + 2 * px) * s, *b = a + w * s;
            float *d = t + (py * wp + px) * s;
            for (int64_t j = 0; j < s; j += OC_VL) {
                __m512 m0 = _mm512_max_ps(_mm512_loadu_ps(a + j), _mm512_loadu_ps(a + s + j));
                __m512 m1 = _mm512_max_ps(_mm512_loadu_ps(b + j), _mm512_loadu_ps(b + s + j));
                _mm512_storeu_ps(d + j, _mm512_max_ps(m0, m1));
            }
        }
}
#endif

/* y[o][q] = T[q][o] for o < m, q < np. */
static void transpose_out(const float *t, int64_t s, int64_t np, int64_t m, float *y) {
    for (int64_t q0 = 0; q0 < np; q0 += 16) {
        int64_t qn = np - q0 < 16 ? np - q0 : 16;
        for (int64_t o = 0; o < m; o++) {
            float *d = y + o * np + q0;
            const float *src = t + q0 * s + o;
            for (int64_t q = 0; q < qn; q++) d[q] = src[q * s];
        }
    }
}

void kp_c3oc_run(const float *x, int64_t c, int64_t h, int64_t w, const float *packed, int64_t m,
                 const float *bias, int relu, int pool, float *y, float *scratch) {
#if defined(__x86_64__) || defined(__i386__)
    int64_t nbk = blocks_of(m), s = nbk * OC_VL, w2 = w + 2, ps = ps_of(h, w);
    float *pad = scratch, *bv = pad + c * ps, *t = bv + s;
    memset(pad, 0, (size_t)(c * ps) * sizeof *pad);
    for (int64_t ci = 0; ci < c; ci++)
        for (int64_t r = 0; r < h; r++)
            memcpy(pad + ci * ps + (r + 1) * w2 + 1, x + (ci * h + r) * w, (size_t)w * sizeof *x);
    memset(bv, 0, (size_t)s * sizeof *bv);
    if (bias) memcpy(bv, bias, (size_t)m * sizeof *bv);
    /* Row split into near-equal runs of at most OC_RMAX pixels. */
    int64_t runs = (w + OC_RMAX - 1) / OC_RMAX, rlen = (w + runs - 1) / runs;
    for (int64_t ob = 0; ob < nbk;) {
        /* Narrow planes (runs of up to 6 pixels) take 4 blocks at a time: more sums per load. */
        int nb = rlen <= 6 && nbk - ob >= 4 ? 4 : nbk - ob >= 2 ? 2 : 1;
        const float *wa = packed + ob * c * OC_TAPF;
        for (int64_t yy = 0; yy < h; yy++)
            for (int64_t x0 = 0; x0 < w; x0 += rlen) {
                int rn = (int)(w - x0 < rlen ? w - x0 : rlen);
                tile_any(pad + yy * w2 + x0, ps, w2, c, wa, bv + ob * OC_VL, relu,
                         t + (yy * w + x0) * s + ob * OC_VL, s, rn, nb);
            }
        ob += nb;
    }
    if (pool) {
        pool_rows(t, s, w, h / 2, w / 2);
        transpose_out(t, s, (h / 2) * (w / 2), m, y);
    } else {
        transpose_out(t, s, h * w, m, y);
    }
#else
    (void)x, (void)c, (void)h, (void)w, (void)packed, (void)m, (void)bias, (void)relu, (void)pool;
    (void)y, (void)scratch;
#endif
}
