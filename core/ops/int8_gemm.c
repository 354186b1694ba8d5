/* int8 GEMM: packing, row preparation, zero-point correction and the SIMD micro-kernels.
 * Every path produces the raw sums sum_k a'[m,k] * b'[k,n] (a' unsigned, b' signed) exactly
 * in int32; corrections are shared, so all paths agree bit for bit. */
#include "core/ops/int8_gemm.h"

#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>
#define KP_X86 1
#endif

static void *aligned64(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64)) return NULL;
    return p;
}

static int32_t zp_at(const void *z, size_t n, int is_signed, int64_t i) {
    if (!z || !n) return 0;
    size_t k = n == 1 ? 0 : (size_t)i;
    return is_signed ? ((const int8_t *)z)[k] : ((const uint8_t *)z)[k];
}

void kp_i8_packed_free(kp_i8_packed *p) {
    if (!p) return;
    free(p->data);
    free(p->col_sum);
    free(p->zb);
    memset(p, 0, sizeof *p);
}

int kp_i8_pack(const void *B, int b_signed, int trans_b, int64_t K, int64_t N, int64_t ldb,
               const void *zb, size_t n_zb, kp_i8_packed *out, kp_error *err) {
    memset(out, 0, sizeof *out);
    if (K <= 0 || N <= 0 || K > (1 << 26) || N > (1 << 26))
        return kp_error_set(err, KP_ERANGE, "int8 gemm: bad size K=%lld N=%lld", (long long)K,
                            (long long)N);
    if (n_zb > 1 && (int64_t)n_zb != N)
        return kp_error_set(err, KP_EINVAL, "int8 gemm: %zu weight zero points for %lld columns",
                            n_zb, (long long)N);
    out->K = K;
    out->N = N;
    out->kq = (K + 3) / 4;
    out->panels = (N + 15) / 16;
    size_t bytes = (size_t)out->panels * (size_t)out->kq * 64;
    out->data = aligned64(bytes);
    out->col_sum = calloc((size_t)N, sizeof *out->col_sum);
    out->zb = calloc((size_t)N, sizeof *out->zb);
    if (!out->data || !out->col_sum || !out->zb) {
        kp_i8_packed_free(out);
        return kp_error_set(err, KP_ENOMEM, "int8 gemm: out of memory packing %lldx%lld weights",
                            (long long)K, (long long)N);
    }
    memset(out->data, 0, bytes);
    int small = 1;
    for (int64_t n = 0; n < N; n++) {
        int64_t p = n / 16, j = n % 16;
        int32_t sum = 0;
        for (int64_t k = 0; k < K; k++) {
            int64_t idx = trans_b ? n * ldb + k : k * ldb + n;
            int v = b_signed ? ((const int8_t *)B)[idx] : (int)((const uint8_t *)B)[idx] - 128;
            if (v < -64 || v > 63) small = 0;
            out->data[((size_t)p * (size_t)out->kq + (size_t)(k / 4)) * 64 + (size_t)j * 4 +
                      (size_t)(k % 4)] = (int8_t)v;
            sum += v;
        }
        out->col_sum[n] = sum;
        out->zb[n] = zp_at(zb, n_zb, b_signed, n) - (b_signed ? 0 : 128);
        if (out->zb[n]) out->any_zb = 1;
    }
    out->small = small;
    return 0;
}

void kp_i8_rows_free(kp_i8_rows *r) {
    if (!r) return;
    free(r->data);
    free(r->row_sum);
    free(r->za);
    memset(r, 0, sizeof *r);
}

int kp_i8_rows_reserve(kp_i8_rows *r, int64_t M, int64_t K, uint8_t **data, kp_error *err) {
    if (M < 0 || K <= 0 || K > (1 << 26) || M > ((int64_t)1 << 40) / (K + 4))
        return kp_error_set(err, KP_ERANGE, "int8 gemm: bad size M=%lld K=%lld", (long long)M,
                            (long long)K);
    int64_t kq = (K + 3) / 4;
    size_t need = (size_t)M * (size_t)kq * 4;
    if (need > r->cap || !r->data) {
        free(r->data);
        r->data = aligned64(need);
        r->cap = r->data ? need : 0;
    }
    if ((size_t)M > r->cap_m || !r->row_sum) {
        free(r->row_sum);
        free(r->za);
        r->row_sum = malloc(((size_t)M + 1) * sizeof *r->row_sum);
        r->za = malloc(((size_t)M + 1) * sizeof *r->za);
        r->cap_m = (r->row_sum && r->za) ? (size_t)M : 0;
    }
    if (!r->data || !r->row_sum || !r->za)
        return kp_error_set(err, KP_ENOMEM, "int8 gemm: out of memory for %lld rows", (long long)M);
    r->M = M;
    r->kq = kq;
    *data = r->data;
    return 0;
}

void kp_i8_rows_finish(kp_i8_rows *r, int64_t K, int a_signed, const void *za, size_t n_za) {
    int64_t kq = r->kq;
    for (int64_t m = 0; m < r->M; m++) {
        uint8_t *row = r->data + (size_t)m * (size_t)kq * 4;
        int32_t sum = 0;
        if (a_signed)
            for (int64_t k = 0; k < K; k++) row[k] ^= 0x80;
        if (!r->no_row_sum)
            for (int64_t k = 0; k < K; k++) sum += row[k];
        memset(row + K, 0, (size_t)(kq * 4 - K));
        r->row_sum[m] = sum;
        r->za[m] = zp_at(za, n_za, a_signed, m) + (a_signed ? 128 : 0);
    }
}

int kp_i8_rows_prepare(kp_i8_rows *r, const void *A, int a_signed, int64_t M, int64_t K,
                       int64_t lda, const void *za, size_t n_za, kp_error *err) {
    if (n_za > 1 && (int64_t)n_za != M)
        return kp_error_set(err, KP_EINVAL, "int8 gemm: %zu input zero points for %lld rows", n_za,
                            (long long)M);
    uint8_t *dst;
    int rc = kp_i8_rows_reserve(r, M, K, &dst, err);
    if (rc) return rc;
    for (int64_t m = 0; m < M; m++)
        memcpy(dst + (size_t)m * (size_t)r->kq * 4, (const uint8_t *)A + (size_t)m * (size_t)lda,
               (size_t)K);
    kp_i8_rows_finish(r, K, a_signed, za, n_za);
    return 0;
}

/* ---- raw micro-kernels: rows [m0, m0+mr) x one or two panels -> raw[mr][32] -------------- */

static void raw_c(const uint8_t *a, int64_t lda, int mr, const int8_t *b, int64_t kq, int np,
                  int32_t raw[4][32]) {
    for (int r = 0; r < mr; r++)
        for (int pp = 0; pp < np; pp++) {
            int32_t acc[16] = {0};
            const int8_t *bp = b + (size_t)pp * (size_t)kq * 64;
            const uint8_t *ar = a + (size_t)r * (size_t)lda;
            for (int64_t q = 0; q < kq; q++)
                for (int j = 0; j < 16; j++)
                    for (int t = 0; t < 4; t++)
                        acc[j] += (int32_t)ar[q * 4 + t] * (int32_t)bp[q * 64 + j * 4 + t];
            memcpy(&raw[r][pp * 16], acc, sizeof acc);
        }
}

#ifdef KP_X86
static inline int32_t load4(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The 4 x 2 block of 512-bit accumulators: four rows against two 16-column panels. The
 * helpers are always inlined into their callers, so the accumulators stay in registers. */
typedef struct acc4x2 {
    __m512i c00, c01, c10, c11, c20, c21, c30, c31;
} acc4x2;

__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline acc4x2
acc4x2_zero(void) {
    __m512i z = _mm512_setzero_si512();
    return (acc4x2){z, z, z, z, z, z, z, z};
}

/* c += rows a0..a3 times panels b0, b1 over quads [0, n). */
__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline void
dot4x2(acc4x2 *c, const uint8_t *a0, const uint8_t *a1, const uint8_t *a2, const uint8_t *a3,
       const int8_t *b0, const int8_t *b1, int64_t n) {
    for (int64_t q = 0; q < n; q++) {
        __m512i v0 = _mm512_load_si512((const void *)(b0 + q * 64));
        __m512i v1 = _mm512_load_si512((const void *)(b1 + q * 64));
        __m512i x = _mm512_set1_epi32(load4(a0 + 4 * q));
        c->c00 = _mm512_dpbusd_epi32(c->c00, x, v0);
        c->c01 = _mm512_dpbusd_epi32(c->c01, x, v1);
        x = _mm512_set1_epi32(load4(a1 + 4 * q));
        c->c10 = _mm512_dpbusd_epi32(c->c10, x, v0);
        c->c11 = _mm512_dpbusd_epi32(c->c11, x, v1);
        x = _mm512_set1_epi32(load4(a2 + 4 * q));
        c->c20 = _mm512_dpbusd_epi32(c->c20, x, v0);
        c->c21 = _mm512_dpbusd_epi32(c->c21, x, v1);
        x = _mm512_set1_epi32(load4(a3 + 4 * q));
        c->c30 = _mm512_dpbusd_epi32(c->c30, x, v0);
        c->c31 = _mm512_dpbusd_epi32(c->c31, x, v1);
    }
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void
raw_512(const uint8_t *a, int64_t lda, int mr, const int8_t *b, int64_t kq, int np,
        int32_t raw[4][32]) {
    const int8_t *b1 = b + (size_t)kq * 64;
    if (mr == 4 && np == 2) {
        acc4x2 c = acc4x2_zero();
        dot4x2(&c, a, a + lda, a + 2 * lda, a + 3 * lda, b, b1, kq);
        _mm512_storeu_si512((void *)&raw[0][0], c.c00);
        _mm512_storeu_si512((void *)&raw[0][16], c.c01);
        _mm512_storeu_si512((void *)&raw[1][0], c.c10);
        _mm512_storeu_si512((void *)&raw[1][16], c.c11);
        _mm512_storeu_si512((void *)&raw[2][0], c.c20);
        _mm512_storeu_si512((void *)&raw[2][16], c.c21);
        _mm512_storeu_si512((void *)&raw[3][0], c.c30);
        _mm512_storeu_si512((void *)&raw[3][16], c.c31);
        return;
    }
    for (int r = 0; r < mr; r++) {
        const uint8_t *ar = a + (size_t)r * (size_t)lda;
        __m512i c0 = _mm512_setzero_si512(), c1 = c0;
        for (int64_t q = 0; q < kq; q++) {
            __m512i x = _mm512_set1_epi32(load4(ar + 4 * q));
            c0 = _mm512_dpbusd_epi32(c0, x, _mm512_load_si512((const void *)(b + q * 64)));
            if (np > 1)
                c1 = _mm512_dpbusd_epi32(c1, x, _mm512_load_si512((const void *)(b1 + q * 64)));
        }
        _mm512_storeu_si512((void *)&raw[r][0], c0);
        _mm512_storeu_si512((void *)&raw[r][16], c1);
    }
}

/* 256-bit paths: a panel's 64 bytes are two ymm halves (columns 0-7 and 8-15). */
#define KP_RAW256(NAME, TARGET, DOT)                                                               \
    __attribute__((target(TARGET))) static void NAME(const uint8_t *a, int64_t lda, int mr,        \
                                                     const int8_t *b, int64_t kq, int np,          \
                                                     int32_t raw[4][32]) {                         \
        for (int r = 0; r < mr; r++) {                                                             \
            const uint8_t *ar = a + (size_t)r * (size_t)lda;                                       \
            for (int pp = 0; pp < np; pp++) {                                                      \
                const int8_t *bp = b + (size_t)pp * (size_t)kq * 64;                               \
                __m256i c0 = _mm256_setzero_si256(), c1 = c0;                                      \
                for (int64_t q = 0; q < kq; q++) {                                                 \
                    __m256i x = _mm256_set1_epi32(load4(ar + 4 * q));                              \
                    __m256i v0 = _mm256_load_si256((const __m256i *)(bp + q * 64));                \
                    __m256i v1 = _mm256_load_si256((const __m256i *)(bp + q * 64 + 32));           \
                    c0 = DOT(c0, x, v0);                                                           \
                    c1 = DOT(c1, x, v1);                                                           \
                }                                                                                  \
                _mm256_storeu_si256((__m256i *)&raw[r][pp * 16], c0);                              \
                _mm256_storeu_si256((__m256i *)&raw[r][pp * 16 + 8], c1);                          \
            }                                                                                      \
        }                                                                                          \
    }

/* vpmaddubsw + vpmaddwd: exact only when |b| <= 64 (checked at pack time: ->small). */
#define KP_DOT_AVX2(c, x, v)                                                                       \
    _mm256_add_epi32(c, _mm256_madd_epi16(_mm256_maddubs_epi16(x, v), ones))
__attribute__((target("avx2"))) static void raw_avx2(const uint8_t *a, int64_t lda, int mr,
                                                     const int8_t *b, int64_t kq, int np,
                                                     int32_t raw[4][32]) {
    const __m256i ones = _mm256_set1_epi16(1);
    for (int r = 0; r < mr; r++) {
        const uint8_t *ar = a + (size_t)r * (size_t)lda;
        for (int pp = 0; pp < np; pp++) {
            const int8_t *bp = b + (size_t)pp * (size_t)kq * 64;
            __m256i c0 = _mm256_setzero_si256(), c1 = c0;
            for (int64_t q = 0; q < kq; q++) {
                __m256i x = _mm256_set1_epi32(load4(ar + 4 * q));
                __m256i v0 = _mm256_load_si256((const __m256i *)(bp + q * 64));
                __m256i v1 = _mm256_load_si256((const __m256i *)(bp + q * 64 + 32));
                c0 = KP_DOT_AVX2(c0, x, v0);
                c1 = KP_DOT_AVX2(c1, x, v1);
            }
            _mm256_storeu_si256((__m256i *)&raw[r][pp * 16], c0);
            _mm256_storeu_si256((__m256i *)&raw[r][pp * 16 + 8], c1);
        }
    }
}

/* AVX-512 VNNI GEMM for weights without zero points, corrections applied in registers and
 * written straight to C (masked stores at the right edge): C = raw - za[m] * colsum[n].
 * Accumulators are named variables so they stay in registers. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static inline void
store_corr(int32_t *c, __mmask16 mk, __m512i acc, int32_t za, __m512i cs) {
    _mm512_mask_storeu_epi32(c, mk,
                             _mm512_sub_epi32(acc, _mm512_mullo_epi32(_mm512_set1_epi32(za), cs)));
}

static __mmask16 mask_of(int64_t n) {
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* Four rows ar[0..3] against one or two 16-column panels (np). A row is S segments of 4*l4
 * bytes at stride ss: the windows of a direct convolution (no im2col), or one segment of kq
 * quads for contiguous rows. za: each row's zero point. Inlined into the two callers below, so
 * each gets the loop specialised (one segment, per-row zero points / one zero point). */
__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline void
tile512_4(const uint8_t *const *ar, int64_t S, int64_t l4, int64_t ss, const int32_t *za,
          const int8_t *b, int64_t kq, int np, const int32_t *cs, int64_t ncols, int32_t *C,
          int64_t ldc) {
    acc4x2 c = acc4x2_zero();
    const int8_t *b1 = b + (size_t)kq * 64;
    for (int64_t sg = 0; sg < S; sg++) {
        const uint8_t *a0 = ar[0] + sg * ss, *a1 = ar[1] + sg * ss, *a2 = ar[2] + sg * ss,
                      *a3 = ar[3] + sg * ss;
        const int8_t *bq = b + sg * l4 * 64;
        if (np > 1) {
            dot4x2(&c, a0, a1, a2, a3, bq, b1 + sg * l4 * 64, l4);
            continue;
        }
        for (int64_t q = 0; q < l4; q++) {
            __m512i v0 = _mm512_load_si512((const void *)(bq + q * 64));
            c.c00 = _mm512_dpbusd_epi32(c.c00, _mm512_set1_epi32(load4(a0 + 4 * q)), v0);
            c.c10 = _mm512_dpbusd_epi32(c.c10, _mm512_set1_epi32(load4(a1 + 4 * q)), v0);
            c.c20 = _mm512_dpbusd_epi32(c.c20, _mm512_set1_epi32(load4(a2 + 4 * q)), v0);
            c.c30 = _mm512_dpbusd_epi32(c.c30, _mm512_set1_epi32(load4(a3 + 4 * q)), v0);
        }
    }
    __mmask16 m0 = mask_of(ncols), m1 = mask_of(ncols - 16);
    __m512i s0 = _mm512_maskz_loadu_epi32(m0, cs);
    store_corr(C, m0, c.c00, za[0], s0);
    store_corr(C + ldc, m0, c.c10, za[1], s0);
    store_corr(C + 2 * ldc, m0, c.c20, za[2], s0);
    store_corr(C + 3 * ldc, m0, c.c30, za[3], s0);
    if (np > 1) {
        __m512i s1 = _mm512_maskz_loadu_epi32(m1, cs + 16);
        store_corr(C + 16, m1, c.c01, za[0], s1);
        store_corr(C + ldc + 16, m1, c.c11, za[1], s1);
        store_corr(C + 2 * ldc + 16, m1, c.c21, za[2], s1);
        store_corr(C + 3 * ldc + 16, m1, c.c31, za[3], s1);
    }
}

/* Contiguous rows a, a + lda, ...: one segment of kq quads. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void
rows512_4(const uint8_t *a, int64_t lda, const int32_t *za, const int8_t *b, int64_t kq, int np,
          const int32_t *cs, int64_t ncols, int32_t *C, int64_t ldc) {
    const uint8_t *ar[4] = {a, a + lda, a + 2 * lda, a + 3 * lda};
    tile512_4(ar, 1, kq, 0, za, b, kq, np, cs, ncols, C, ldc);
}

/* Direct-convolution windows: S segments each, one zero point for all rows. */
__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void
seg512_4(const uint8_t *const *ar, int64_t S, int64_t l4, int64_t ss, int32_t za, const int8_t *b,
         int64_t kq, int np, const int32_t *cs, int64_t ncols, int32_t *C, int64_t ldc) {
    const int32_t z4[4] = {za, za, za, za};
    tile512_4(ar, S, l4, ss, z4, b, kq, np, cs, ncols, C, ldc);
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void
tile512_1(const uint8_t *a, int64_t lda, const int32_t *za, const int8_t *b, int64_t kq, int np,
          const int32_t *cs, int64_t ncols, int32_t *C, int64_t ldc) {
    (void)lda;
    (void)ldc;
    /* one row (matrix-vector): even and odd quads in separate accumulators, so four
     * independent dot-product chains hide the instruction latency; int32 sums wrap alike */
    __m512i c0 = _mm512_setzero_si512(), c1 = c0, e0 = c0, e1 = c0;
    const int8_t *b1 = b + (size_t)kq * 64;
    int64_t q = 0;
    for (; q + 2 <= kq; q += 2) {
        __m512i x = _mm512_set1_epi32(load4(a + 4 * q)),
                y = _mm512_set1_epi32(load4(a + 4 * q + 4));
        c0 = _mm512_dpbusd_epi32(c0, x, _mm512_load_si512((const void *)(b + q * 64)));
        e0 = _mm512_dpbusd_epi32(e0, y, _mm512_load_si512((const void *)(b + q * 64 + 64)));
        if (np > 1) {
            c1 = _mm512_dpbusd_epi32(c1, x, _mm512_load_si512((const void *)(b1 + q * 64)));
            e1 = _mm512_dpbusd_epi32(e1, y, _mm512_load_si512((const void *)(b1 + q * 64 + 64)));
        }
    }
    for (; q < kq; q++) {
        __m512i x = _mm512_set1_epi32(load4(a + 4 * q));
        c0 = _mm512_dpbusd_epi32(c0, x, _mm512_load_si512((const void *)(b + q * 64)));
        if (np > 1) c1 = _mm512_dpbusd_epi32(c1, x, _mm512_load_si512((const void *)(b1 + q * 64)));
    }
    c0 = _mm512_add_epi32(c0, e0);
    c1 = _mm512_add_epi32(c1, e1);
    __mmask16 m0 = mask_of(ncols), m1 = mask_of(ncols - 16);
    store_corr(C, m0, c0, za[0], _mm512_maskz_loadu_epi32(m0, cs));
    if (np > 1) store_corr(C + 16, m1, c1, za[0], _mm512_maskz_loadu_epi32(m1, cs + 16));
}

static void gemm512_direct(const kp_i8_rows *a, const kp_i8_packed *b, int32_t *C, int64_t ldc) {
    int64_t M = a->M, N = b->N, kq = b->kq, lda = kq * 4;
    for (int64_t m0 = 0; m0 < M;) {
        int mr = M - m0 >= 4 ? 4 : 1;
        const uint8_t *ap = a->data + (size_t)m0 * (size_t)lda;
        for (int64_t p = 0; p < b->panels; p += 2) {
            int np = b->panels - p >= 2 ? 2 : 1;
            int64_t n0 = p * 16, nn = N - n0 < 16 * np ? N - n0 : 16 * np;
            const int8_t *bp = b->data + (size_t)p * (size_t)kq * 64;
            int32_t *cp = C + (size_t)m0 * (size_t)ldc + n0;
            if (mr == 4)
                rows512_4(ap, lda, a->za + m0, bp, kq, np, b->col_sum + n0, nn, cp, ldc);
            else
                tile512_1(ap, lda, a->za + m0, bp, kq, np, b->col_sum + n0, nn, cp, ldc);
        }
        m0 += mr;
    }
}

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void
seg512_1(const uint8_t *a, int64_t S, int64_t l4, int64_t ss, int32_t za, const int8_t *b,
         int64_t kq, int np, const int32_t *cs, int64_t ncols, int32_t *C) {
    __m512i c0 = _mm512_setzero_si512(), c1 = c0;
    const int8_t *b1 = b + (size_t)kq * 64;
    for (int64_t sg = 0; sg < S; sg++)
        for (int64_t q = 0; q < l4; q++) {
            __m512i x = _mm512_set1_epi32(load4(a + sg * ss + 4 * q));
            int64_t k = sg * l4 + q;
            c0 = _mm512_dpbusd_epi32(c0, x, _mm512_load_si512((const void *)(b + k * 64)));
            if (np > 1)
                c1 = _mm512_dpbusd_epi32(c1, x, _mm512_load_si512((const void *)(b1 + k * 64)));
        }
    __mmask16 m0 = mask_of(ncols), m1 = mask_of(ncols - 16);
    store_corr(C, m0, c0, za, _mm512_maskz_loadu_epi32(m0, cs));
    if (np > 1) store_corr(C + 16, m1, c1, za, _mm512_maskz_loadu_epi32(m1, cs + 16));
}

#define KP_DOT_VNNI(c, x, v) _mm256_dpbusd_avx_epi32(c, x, v)
KP_RAW256(raw_avxvnni, "avx2,avxvnni", KP_DOT_VNNI)
#endif

typedef void (*raw_fn)(const uint8_t *, int64_t, int, const int8_t *, int64_t, int, int32_t[4][32]);

static raw_fn pick(const kp_i8_packed *b, const char *force, const char **name) {
    const kp_cpu_features *f = kp_cpu();
    const char *want = force ? force : NULL;
#ifdef KP_X86
    int has512 = f->avx512f && f->avx512bw && f->avx512vnni;
    int hasvnni = f->avx2 && f->avxvnni;
    if ((!want && has512) || (want && !strcmp(want, "avx512-vnni") && has512)) {
        *name = "avx512-vnni";
        return raw_512;
    }
    if ((!want && hasvnni) || (want && !strcmp(want, "avx-vnni") && hasvnni)) {
        *name = "avx-vnni";
        return raw_avxvnni;
    }
    if (f->avx2 && b->small && (!want || !strcmp(want, "avx2"))) {
        *name = "avx2";
        return raw_avx2;
    }
#else
    (void)f;
    (void)want;
    (void)b;
#endif
    *name = "c";
    return raw_c;
}

const char *kp_i8_gemm_path(const kp_i8_packed *b) {
    const char *name;
    pick(b, NULL, &name);
    return name;
}

#ifdef KP_X86
/* ---- AMX (Sapphire Rapids and later): TDPBUSD on 16-row tiles --------------------------------
 * Same raw u8*s8 sums as every other path (exact int32, wrapping), so results are identical. The
 * packed B panels are already in the tile layout (a row = one k-quad of 16 columns). */
static pthread_once_t amx_once = PTHREAD_ONCE_INIT;
static int amx_usable;

static void amx_init(void) {
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    if (!((d >> 24) & 1) || !((d >> 25) & 1)) return; /* AMX-TILE, AMX-INT8 */
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if (((lo >> 17) & 3) != 3) return; /* XTILECFG and XTILEDATA state enabled by the OS */
    /* Linux hands out tile state only on request (ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) */
    amx_usable = syscall(SYS_arch_prctl, 0x1023, 18) == 0;
}

/* AMX only when the int8 path is VNNI-512 (so KOMPRESS_ISA caps apply) and the OS allows it;
 * KOMPRESS_NO_AMX=1 turns it off (benchmarks of the VNNI path). */
static int amx_on(void) {
    if (strcmp(kp_cpu_int8_path(), "avx512-vnni")) return 0;
    pthread_once(&amx_once, amx_init);
    const char *off = getenv("KOMPRESS_NO_AMX");
    return amx_usable && !(off && *off && strcmp(off, "0"));
}

typedef struct amx_cfg {
    uint8_t palette, start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_cfg;

/* tmm0-3: C of up to 4 panels; tmm4/5: A chunk of 64 bytes / of the remainder; tmm6/7: B. */
__attribute__((target("amx-tile,amx-int8"))) static void amx_config(int mr, int rem) {
    amx_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 4; t++) cfg.rows[t] = (uint8_t)mr, cfg.colsb[t] = 64;
    cfg.rows[4] = (uint8_t)mr, cfg.colsb[4] = 64;
    cfg.rows[5] = (uint8_t)mr, cfg.colsb[5] = (uint16_t)(rem ? rem : 64);
    cfg.rows[6] = 16, cfg.colsb[6] = 64;
    cfg.rows[7] = (uint8_t)(rem ? rem / 4 : 16), cfg.colsb[7] = 64;
    /* the compiler does not see ldtilecfg read cfg: keep the stores */
    __asm__ volatile("" : : "r"(&cfg) : "memory");
    _tile_loadconfig(&cfg);
}

#define KP_AMX_PANEL(t)                                                                            \
    do {                                                                                           \
        if (np > t) {                                                                              \
            if (full) {                                                                            \
                _tile_loadd(6, bq + (size_t)(t)*kq * 64, 64);                                      \
                _tile_dpbusd(t, 4, 6);                                                             \
            } else {                                                                               \
                _tile_loadd(7, bq + (size_t)(t)*kq * 64, 64);                                      \
                _tile_dpbusd(t, 5, 7);                                                             \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* One group of mr <= 16 rows at a uniform stride rs, panels p0 .. p0+np-1 (np <= 4). corr: per
 * column -za*colsum for those panels (64 entries); out: mr x 64 int32, row stride 64. */
__attribute__((target("amx-tile,amx-int8"))) static void
amx_group(const uint8_t *a0, int64_t rs, int64_t S, int64_t L, int64_t ss, const int8_t *bp,
          int64_t kq, int np, const int32_t *corr, int32_t *out) {
    if (np > 0) _tile_loadd(0, corr, 0); /* stride 0: every row starts at -za*colsum */
    if (np > 1) _tile_loadd(1, corr + 16, 0);
    if (np > 2) _tile_loadd(2, corr + 32, 0);
    if (np > 3) _tile_loadd(3, corr + 48, 0);
    for (int64_t sg = 0; sg < S; sg++)
        for (int64_t off = 0; off < L; off += 64) {
            int full = L - off >= 64;
            const uint8_t *ap = a0 + sg * ss + off;
            if (full)
                _tile_loadd(4, ap, rs);
            else
                _tile_loadd(5, ap, rs);
            const int8_t *bq = bp + (size_t)((sg * L + off) / 4) * 64;
            KP_AMX_PANEL(0);
            KP_AMX_PANEL(1);
            KP_AMX_PANEL(2);
            KP_AMX_PANEL(3);
        }
    if (np > 0) _tile_stored(0, out, 256);
    if (np > 1) _tile_stored(1, out + 16, 256);
    if (np > 2) _tile_stored(2, out + 32, 256);
    if (np > 3) _tile_stored(3, out + 48, 256);
}

__attribute__((target("amx-tile,amx-int8"))) static void amx_release(void) {
    _tile_release();
}

/* The segment GEMM on AMX: rows grouped in runs of up to 16 at one stride. */
static int gemm_amx(const uint8_t *const *rows, int64_t M, int64_t S, int64_t L, int64_t ss,
                    int32_t za, const kp_i8_packed *b, int32_t *C, int64_t ldc) {
    int64_t N = b->N, kq = b->kq;
    int32_t corr[64], out[16 * 64];
    int cfg_mr = -1, rem = (int)(L % 64);
    for (int64_t m0 = 0; m0 < M;) {
        int mr = 1;
        int64_t rs = M - m0 > 1 ? rows[m0 + 1] - rows[m0] : 64;
        while (m0 + mr < M && mr < 16 && rows[m0 + mr] - rows[m0 + mr - 1] == rs) mr++;
        if (mr == 1) rs = 64;
        if (rs <= 0 || rs > 65535) return 0; /* tile strides are positive here */
        if (mr != cfg_mr) {
            amx_config(mr, rem);
            cfg_mr = mr;
        }
        for (int64_t p = 0; p < b->panels; p += 4) {
            int np = b->panels - p >= 4 ? 4 : (int)(b->panels - p);
            int64_t n0 = p * 16, nn = N - n0 < 16 * np ? N - n0 : 16 * np;
            for (int64_t j = 0; j < 16 * np; j++)
                corr[j] = j < nn ? (int32_t)(0u - (uint32_t)za * (uint32_t)b->col_sum[n0 + j]) : 0;
            amx_group(rows[m0], rs, S, L, ss, b->data + (size_t)p * (size_t)kq * 64, kq, np, corr,
                      out);
            for (int r = 0; r < mr; r++)
                memcpy(C + (size_t)(m0 + r) * (size_t)ldc + n0, out + r * 64,
                       (size_t)nn * sizeof(int32_t));
        }
        m0 += mr;
    }
    amx_release();
    return 1;
}
#endif

int kp_i8_gemm_segments(const uint8_t *const *rows, int64_t M, int64_t S, int64_t L,
                        int64_t seg_stride, int32_t za, const kp_i8_packed *b, int32_t *C,
                        int64_t ldc) {
    if (L <= 0 || L % 4 || S <= 0 || S * L != b->kq * 4 || b->any_zb) return 0;
#ifdef KP_X86
    const char *name;
    if (pick(b, NULL, &name) != raw_512) return 0;
    /* AMX pays off once a row chunk holds enough k (tiny first-layer rows stay on VNNI) */
    if (L >= 32 && M >= 8 && amx_on() && gemm_amx(rows, M, S, L, seg_stride, za, b, C, ldc))
        return 1;
    int64_t l4 = L / 4, N = b->N;
    for (int64_t m0 = 0; m0 < M;) {
        int mr = M - m0 >= 4 ? 4 : 1;
        for (int64_t p = 0; p < b->panels; p += 2) {
            int np = b->panels - p >= 2 ? 2 : 1;
            int64_t n0 = p * 16, nn = N - n0 < 16 * np ? N - n0 : 16 * np;
            const int8_t *bp = b->data + (size_t)p * (size_t)b->kq * 64;
            int32_t *cp = C + (size_t)m0 * (size_t)ldc + n0;
            if (mr == 4)
                seg512_4(rows + m0, S, l4, seg_stride, za, bp, b->kq, np, b->col_sum + n0, nn, cp,
                         ldc);
            else
                seg512_1(rows[m0], S, l4, seg_stride, za, bp, b->kq, np, b->col_sum + n0, nn, cp);
        }
        m0 += mr;
    }
    return 1;
#else
    (void)rows, (void)M, (void)seg_stride, (void)za, (void)C, (void)ldc;
    return 0;
#endif
}

void kp_i8_gemm(const kp_i8_rows *a, const kp_i8_packed *b, int32_t *C, int64_t ldc,
                const char *force_path) {
    const char *name;
    raw_fn fn = pick(b, force_path, &name);
#ifdef KP_X86
    if (fn == raw_512 && !b->any_zb) {
        /* AMX on contiguous rows: one zero point for all of them (the usual per-tensor case) */
        int64_t M = a->M, lda = b->kq * 4;
        int same_za = M >= 8 && lda >= 32 && !force_path;
        for (int64_t m = 1; same_za && m < M; m++) same_za = a->za[m] == a->za[0];
        const uint8_t **rows = same_za && amx_on() ? malloc((size_t)M * sizeof *rows) : NULL;
        if (rows) {
            for (int64_t m = 0; m < M; m++) rows[m] = a->data + (size_t)m * (size_t)lda;
            int done = gemm_amx(rows, M, 1, lda, 0, a->za[0], b, C, ldc);
            free((void *)rows);
            if (done) return;
        }
        gemm512_direct(a, b, C, ldc);
        return;
    }
#endif
    int64_t M = a->M, N = b->N, kq = b->kq, lda = kq * 4;
    int32_t K = (int32_t)b->K;
    int32_t raw[4][32];
    for (int64_t m0 = 0; m0 < M; m0 += 4) {
        int mr = (int)(M - m0 < 4 ? M - m0 : 4);
        const uint8_t *ap = a->data + (size_t)m0 * (size_t)lda;
        for (int64_t p = 0; p < b->panels; p += 2) {
            int np = b->panels - p >= 2 ? 2 : 1;
            fn(ap, lda, mr, b->data + (size_t)p * (size_t)kq * 64, kq, np, raw);
            int64_t n0 = p * 16, nn = N - n0 < 16 * np ? N - n0 : 16 * np;
            if (!b->any_zb) { /* symmetric weights: c = raw - za * colsum */
                for (int r = 0; r < mr; r++) {
                    int32_t za = a->za[m0 + r];
                    int32_t *c = C + (size_t)(m0 + r) * (size_t)ldc + n0;
                    const int32_t *cs = b->col_sum + n0, *rw = raw[r];
                    for (int64_t j = 0; j < nn; j++)
                        c[j] = (int32_t)((uint32_t)rw[j] - (uint32_t)za * (uint32_t)cs[j]);
                }
                continue;
            }
            for (int r = 0; r < mr; r++) {
                int64_t m = m0 + r;
                uint32_t za = (uint32_t)a->za[m], rs = (uint32_t)a->row_sum[m];
                int32_t *c = C + (size_t)m * (size_t)ldc + n0;
                for (int64_t j = 0; j < nn; j++) {
                    uint32_t zb = (uint32_t)b->zb[n0 + j];
                    uint32_t v = (uint32_t)raw[r][j] - zb * rs - za * (uint32_t)b->col_sum[n0 + j] +
                                 (uint32_t)K * za * zb;
                    c[j] = (int32_t)v;
                }
            }
        }
    }
}

#ifdef KP_X86
__attribute__((target("avx512f,avx512bw"))) static void
requant_512(const int32_t *acc, const int32_t *bias, const float *mult, int64_t n, int32_t zp,
            int32_t lo, int32_t hi, int is_u8, void *out) {
    const __m512 vzp = _mm512_set1_ps((float)zp), vlo = _mm512_set1_ps((float)lo),
                 vhi = _mm512_set1_ps((float)hi);
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512i a = _mm512_loadu_si512((const void *)(acc + j));
        if (bias) a = _mm512_add_epi32(a, _mm512_loadu_si512((const void *)(bias + j)));
        __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(a), _mm512_loadu_ps(mult + j));
        v = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        v = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(v, vzp), vlo), vhi);
        __m512i q = _mm512_cvtps_epi32(v);
        __m128i b = is_u8 ? _mm512_cvtusepi32_epi8(q) : _mm512_cvtsepi32_epi8(q);
        _mm_storeu_si128((__m128i *)((uint8_t *)out + j), b);
    }
    for (; j < n; j++) {
        int32_t v = kp_i8_requant(acc[j] + (bias ? bias[j] : 0), mult[j], zp, lo, hi);
        ((uint8_t *)out)[j] = (uint8_t)v;
    }
}
#endif

void kp_i8_requant_row(const int32_t *acc, const int32_t *bias, const float *mult, int64_t n,
                       int32_t zp, int32_t lo, int32_t hi, int is_u8, void *out) {
#ifdef KP_X86
    const kp_cpu_features *f = kp_cpu();
    if (f->avx512f && f->avx512bw) {
        requant_512(acc, bias, mult, n, zp, lo, hi, is_u8, out);
        return;
    }
#endif
    for (int64_t j = 0; j < n; j++) {
        int32_t v = kp_i8_requant(acc[j] + (bias ? bias[j] : 0), mult[j], zp, lo, hi);
        ((uint8_t *)out)[j] = (uint8_t)v;
    }
}

void kp_i8_requant_rows(const int32_t *acc, int64_t M, int64_t n, int64_t lda, const int32_t *bias,
                        const float *mult, int32_t zp, int32_t lo, int32_t hi, int is_u8,
                        uint8_t *out, int64_t ldo) {
#ifdef KP_X86
    const kp_cpu_features *f = kp_cpu();
    if (f->avx512f && f->avx512bw) {
        for (int64_t i = 0; i < M; i++)
            requant_512(acc + i * lda, bias, mult, n, zp, lo, hi, is_u8, out + i * ldo);
        return;
    }
#endif
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < n; j++) {
            int32_t v = kp_i8_requant(acc[i * lda + j] + (bias ? bias[j] : 0), mult[j], zp, lo, hi);
            out[i * ldo + j] = (uint8_t)v;
        }
}

#ifdef KP_X86
/* 16 rows of 16 bytes (stride ss) -> 16 columns (stride ds). */
static void t16(const uint8_t *s, int64_t ss, uint8_t *d, int64_t ds) {
    __m128i r[16], t[16];
    for (int i = 0; i < 16; i++) r[i] = _mm_loadu_si128((const __m128i *)(s + i * ss));
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm_unpacklo_epi8(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm_unpackhi_epi8(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 2; j++) {
            r[4 * i + j] = _mm_unpacklo_epi16(t[4 * i + j], t[4 * i + j + 2]);
            r[4 * i + j + 2] = _mm_unpackhi_epi16(t[4 * i + j], t[4 * i + j + 2]);
        }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            t[8 * i + j] = _mm_unpacklo_epi32(r[8 * i + j], r[8 * i + j + 4]);
            t[8 * i + j + 4] = _mm_unpackhi_epi32(r[8 * i + j], r[8 * i + j + 4]);
        }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm_unpacklo_epi64(t[j], t[j + 8]);
        r[j + 8] = _mm_unpackhi_epi64(t[j], t[j + 8]);
    }
    /* r[k] now holds column c(k): undo the interleaving order of the unpack stages */
    static const int order[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
    for (int k = 0; k < 16; k++) _mm_storeu_si128((__m128i *)(d + order[k] * ds), r[k]);
}
#endif

void kp_u8_transpose(const uint8_t *src, int64_t rows, int64_t cols, uint8_t *dst) {
    int64_t r0 = 0;
#ifdef KP_X86
    for (; r0 + 16 <= rows; r0 += 16) {
        int64_t c0 = 0;
        for (; c0 + 16 <= cols; c0 += 16)
            t16(src + r0 * cols + c0, cols, dst + c0 * rows + r0, rows);
        for (int64_t c = c0; c < cols; c++)
            for (int64_t r = r0; r < r0 + 16; r++) dst[c * rows + r] = src[r * cols + c];
    }
#endif
    for (int64_t c = 0; c < cols; c++)
        for (int64_t r = r0; r < rows; r++) dst[c * rows + r] = src[r * cols + c];
}

void kp_i8_gemm_ref(const void *A, int a_signed, const void *B, int b_signed, int64_t M, int64_t K,
                    int64_t N, const void *za, size_t n_za, const void *zb, size_t n_zb,
                    int32_t *C) {
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            int64_t acc = 0;
            int32_t zam = zp_at(za, n_za, a_signed, m), zbn = zp_at(zb, n_zb, b_signed, n);
            for (int64_t k = 0; k < K; k++) {
                int32_t x =
                    a_signed ? ((const int8_t *)A)[m * K + k] : ((const uint8_t *)A)[m * K + k];
                int32_t y =
                    b_signed ? ((const int8_t *)B)[k * N + n] : ((const uint8_t *)B)[k * N + n];
                acc += (int64_t)(x - zam) * (y - zbn);
            }
            C[m * N + n] = (int32_t)acc;
        }
}
