/* float32 GEMM with B packed once (see gemm_packed.h). */
#include "core/ops/gemm_packed.h"

#include <string.h>

#include "core/cpu.h"

#define GP_VL   16 /* columns per vector */
#define GP_RMAX 12 /* rows per register tile (x 2 column vectors: 24 accumulators) */

static int64_t blocks_of(int64_t n) {
    return (n + GP_VL - 1) / GP_VL;
}

int kp_gemmp_available(void) {
#if defined(__x86_64__) || defined(__i386__)
    return kp_cpu()->avx512f;
#else
    return 0;
#endif
}

int64_t kp_gemmp_packed_floats(int64_t k, int64_t n) {
    return blocks_of(n) * k * GP_VL;
}

void kp_gemmp_pack(const float *b, int64_t k, int64_t n, int trans_b, float *packed) {
    int64_t nb = blocks_of(n);
    memset(packed, 0, (size_t)(nb * k * GP_VL) * sizeof *packed);
    for (int64_t j = 0; j < n; j++) {
        float *pj = packed + (j / GP_VL) * k * GP_VL + j % GP_VL;
        for (int64_t p = 0; p < k; p++) pj[p * GP_VL] = trans_b ? b[j * k + p] : b[p * n + j];
    }
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define GP_ATTR __attribute__((target("avx512f")))

/* r_n rows x nb blocks of 16 columns; ma/mb: lanes of each block inside N. B's block b, row p
 * is at wa + b * bstep + p * bk (packed: bstep = K * 16, bk = 16; row-major: bstep = 16,
 * bk = ldb). Bias per column (bcol, N entries) or per row (brow, one per row of a), or none. */
GP_ATTR static inline __attribute__((always_inline)) void
tile(const float *a, int64_t lda, int64_t k, const float *wa, int64_t bstep, int64_t bk,
     const float *bcol, const float *brow, int relu, float *y, int64_t ldy, __mmask16 ma,
     __mmask16 mb, const int r_n, const int nb) {
    __m512 acc[GP_RMAX][2];
    const float *wb = wa + bstep;
    __m512 b0 = bcol ? _mm512_maskz_loadu_ps(ma, bcol) : _mm512_setzero_ps();
    __m512 b1 = nb > 1 && bcol ? _mm512_maskz_loadu_ps(mb, bcol + GP_VL) : _mm512_setzero_ps();
#pragma GCC unroll 12
    for (int r = 0; r < r_n; r++) {
        if (brow) b0 = b1 = _mm512_set1_ps(brow[r]);
        acc[r][0] = b0;
        if (nb > 1) acc[r][1] = b1;
    }
    for (int64_t p = 0; p < k; p++) {
        __m512 v0 = _mm512_maskz_loadu_ps(ma, wa + p * bk);
        __m512 v1 = nb > 1 ? _mm512_maskz_loadu_ps(mb, wb + p * bk) : v0;
#pragma GCC unroll 12
        for (int r = 0; r < r_n; r++) {
            __m512 xv = _mm512_set1_ps(a[r * lda + p]);
            acc[r][0] = _mm512_fmadd_ps(v0, xv, acc[r][0]);
            if (nb > 1) acc[r][1] = _mm512_fmadd_ps(v1, xv, acc[r][1]);
        }
    }
    __m512 z = _mm512_setzero_ps();
#pragma GCC unroll 12
    for (int r = 0; r < r_n; r++) {
        _mm512_mask_storeu_ps(y + r * ldy, ma, relu ? _mm512_max_ps(acc[r][0], z) : acc[r][0]);
        if (nb > 1)
            _mm512_mask_storeu_ps(y + r * ldy + GP_VL, mb,
                                  relu ? _mm512_max_ps(acc[r][1], z) : acc[r][1]);
    }
}

#define GP_CASE(R)                                                                                 \
    case R:                                                                                        \
        if (nb == 2)                                                                               \
            tile(a, lda, k, wa, bstep, bk, bcol, brow, relu, y, ldy, ma, mb, R, 2);                \
        else                                                                                       \
            tile(a, lda, k, wa, bstep, bk, bcol, brow, relu, y, ldy, ma, mb, R, 1);                \
        break;

GP_ATTR static void tile_any(const float *a, int64_t lda, int64_t k, const float *wa, int64_t bstep,
                             int64_t bk, const float *bcol, const float *brow, int relu, float *y,
                             int64_t ldy, __mmask16 ma, __mmask16 mb, int r_n, int nb) {
    switch (r_n) {
        GP_CASE(1)
        GP_CASE(2)
        GP_CASE(3)
        GP_CASE(4)
        GP_CASE(5)
        GP_CASE(6)
        GP_CASE(7)
        GP_CASE(8)
        GP_CASE(9)
        GP_CASE(10)
        GP_CASE(11)
        GP_CASE(12)
    default: break;
    }
}

static __mmask16 lanes(int64_t left) {
    return left >= GP_VL ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
}
#endif

/* Both entry points: column blocks of 32 outer, row runs of up to GP_RMAX inner. */
static void gemm_any(const float *a, int64_t lda, int64_t m, int64_t k, const float *b, int packed,
                     int64_t ldb, int64_t n, const float *bcol, const float *brow, int relu,
                     float *y, int64_t ldy) {
#if defined(__x86_64__) || defined(__i386__)
    int64_t nbk = blocks_of(n);
    int64_t runs = (m + GP_RMAX - 1) / GP_RMAX, rlen = runs ? (m + runs - 1) / runs : 1;
    int64_t bstep = packed ? k * GP_VL : GP_VL, bk = packed ? GP_VL : ldb;
    for (int64_t jb = 0; jb < nbk; jb += 2) {
        int nb = nbk - jb >= 2 ? 2 : 1;
        int64_t j0 = jb * GP_VL;
        const float *wa = b + jb * bstep;
        __mmask16 ma = lanes(n - j0), mb = nb > 1 ? lanes(n - j0 - GP_VL) : 0;
        const float *bj = bcol ? bcol + j0 : NULL;
        for (int64_t r0 = 0; r0 < m; r0 += rlen) {
            int rn = (int)(m - r0 < rlen ? m - r0 : rlen);
            tile_any(a + r0 * lda, lda, k, wa, bstep, bk, bj, brow ? brow + r0 : NULL, relu,
                     y + r0 * ldy + j0, ldy, ma, mb, rn, nb);
        }
    }
#else
    (void)a, (void)lda, (void)m, (void)k, (void)b, (void)packed, (void)ldb, (void)n, (void)bcol;
    (void)brow, (void)relu, (void)y, (void)ldy;
#endif
}

void kp_gemmp_run(const float *a, int64_t m, int64_t k, const float *packed, int64_t n,
                  const float *bias, int relu, float *y) {
    gemm_any(a, k, m, k, packed, 1, 0, n, bias, NULL, relu, y, n);
}

void kp_gemm_nn_run(const float *a, int64_t lda, int64_t m, int64_t k, const float *b, int64_t ldb,
                    int64_t n, const float *row_bias, int relu, float *y, int64_t ldy) {
    gemm_any(a, lda, m, k, b, 0, ldb, n, NULL, row_bias, relu, y, ldy);
}
