/* int8 GEMM with exact int32 accumulation, the engine of every quantized kernel.
 *
 * C[m,n] = sum_k (A[m,k] - za[m]) * (B[k,n] - zb[n])        (int32, wraps like ONNX's int32)
 *
 * A (activations) is uint8 or int8, B (weights, packed once) is int8 or uint8. Internally A is
 * made unsigned (+128) and B signed (-128) with zero points moved the same way, so every path
 * computes the same raw u8*s8 sums and then the same zero-point corrections: results are
 * bit-identical across paths. Paths, chosen at run time from kp_cpu(): AVX-512 VNNI
 * (vpdpbusd), AVX-VNNI, AVX2 (vpmaddubsw, used only when every packed weight is in [-64, 63]
 * so the int16 pair sums cannot saturate; otherwise the portable path), portable C. */
#ifndef KP_INT8_GEMM_H
#define KP_INT8_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* B packed in panels of 16 columns and quads of k: byte (p, q, j, t) = B[4q+t, 16p+j] - shift.
 * Padding is zero. Owned by whoever called kp_i8_pack (free with kp_i8_packed_free). */
typedef struct kp_i8_packed {
    int64_t K, N;
    int64_t kq;       /* ceil(K/4) */
    int64_t panels;   /* ceil(N/16) */
    int8_t *data;     /* panels * kq * 64 bytes, 64-byte aligned */
    int32_t *col_sum; /* N entries: sum over k of the signed packed value */
    int32_t *zb;      /* N entries: zero point of B after the shift to signed */
    int small;        /* every packed value in [-64, 63] */
    int any_zb;       /* some zero point (after the shift) is not 0: row sums needed */
} kp_i8_packed;

/* Packs B (K x N, row stride ldb elements; or transposed when trans_b: B[k,n] at n*ldb + k).
 * b_signed: 1 for int8, 0 for uint8. zb: NULL (0), one value (n_zb == 1) or N values. */
int kp_i8_pack(const void *B, int b_signed, int trans_b, int64_t K, int64_t N, int64_t ldb,
               const void *zb, size_t n_zb, kp_i8_packed *out, kp_error *err);
void kp_i8_packed_free(kp_i8_packed *p);

/* Activation rows prepared for the kernel: unsigned, K padded to 4*kq with zeros. */
typedef struct kp_i8_rows {
    int64_t M, kq;
    uint8_t *data; /* M * 4*kq bytes */
    int32_t *row_sum;
    int32_t *za; /* M entries after the shift to unsigned */
    size_t cap;  /* bytes allocated in data (reused across calls) */
    size_t cap_m;
    int no_row_sum; /* set by callers whose weights have zero points 0: sums are skipped */
} kp_i8_rows;

/* Prepares M rows of K values of A (row stride lda elements), a_signed: 1 for int8. za: NULL,
 * one value or M values (per-row). Reuses the buffers in r. */
int kp_i8_rows_prepare(kp_i8_rows *r, const void *A, int a_signed, int64_t M, int64_t K,
                       int64_t lda, const void *za, size_t n_za, kp_error *err);
void kp_i8_rows_free(kp_i8_rows *r);
/* Two-step preparation for producers that write rows directly (im2col): reserve M rows of K
 * bytes (row stride 4*kq, returned in *data), write them as raw int8/uint8 bytes, then finish
 * (flips signed bytes, zeroes the padding, computes row sums). */
int kp_i8_rows_reserve(kp_i8_rows *r, int64_t M, int64_t K, uint8_t **data, kp_error *err);
void kp_i8_rows_finish(kp_i8_rows *r, int64_t K, int a_signed, const void *za, size_t n_za);

/* C (M x N int32, row stride ldc) = corrected product. Path from kp_cpu() unless force_path is
 * one of "c", "avx2", "avx-vnni", "avx512-vnni" (tests; an unavailable path falls back to c).
 * kq of rows and packed must match. */
void kp_i8_gemm(const kp_i8_rows *a, const kp_i8_packed *b, int32_t *C, int64_t ldc,
                const char *force_path);

/* Direct-convolution GEMM: row m of A is S segments of L bytes (L a multiple of 4, S * L ==
 * 4 * b->kq), segment s at rows[m] + s * seg_stride, bytes already unsigned (int8 inputs
 * flipped by the caller) and za their zero point after that shift. Needs weights without zero
 * points and the AVX-512 VNNI path: returns 1 when it computed C (same values as kp_i8_gemm on
 * the same rows), 0 when the caller must use im2col + kp_i8_gemm instead. */
int kp_i8_gemm_segments(const uint8_t *const *rows, int64_t M, int64_t S, int64_t L,
                        int64_t seg_stride, int32_t za, const kp_i8_packed *b, int32_t *C,
                        int64_t ldc);

/* Requantizes n accumulators: out[j] = saturate(rne((acc[j] + bias[j]) * mult[j]) + zp) into
 * uint8 (is_u8) or int8, with [lo, hi] the clamp; bias may be NULL. mult and bias are indexed
 * by j (per output channel). Vectorized where the CPU allows; identical results either way. */
void kp_i8_requant_row(const int32_t *acc, const int32_t *bias, const float *mult, int64_t n,
                       int32_t zp, int32_t lo, int32_t hi, int is_u8, void *out);

/* kp_i8_requant_row over M rows: row i of acc at acc + i * lda, its n bytes written at
 * out + i * ldo (the same per-column bias and mult for every row). */
void kp_i8_requant_rows(const int32_t *acc, int64_t M, int64_t n, int64_t lda, const int32_t *bias,
                        const float *mult, int32_t zp, int32_t lo, int32_t hi, int is_u8,
                        uint8_t *out, int64_t ldo);

/* dst[c * rows + r] = src[r * cols + c]: a byte matrix transpose (16x16 SSE2 blocks). */
void kp_u8_transpose(const uint8_t *src, int64_t rows, int64_t cols, uint8_t *dst);

/* The path kp_i8_gemm would take for b ("avx512-vnni", ..., "c"). */
const char *kp_i8_gemm_path(const kp_i8_packed *b);

/* Plain reference: the definition above, computed directly (tests). */
void kp_i8_gemm_ref(const void *A, int a_signed, const void *B, int b_signed, int64_t M, int64_t K,
                    int64_t N, const void *za, size_t n_za, const void *zb, size_t n_zb,
                    int32_t *C);

/* Round half to even without a libm call: adding 1.5 * 2^23 leaves no fraction bits, so the
 * FPU's default rounding (to nearest, ties to even) does the work. Exact for |v| < 2^22;
 * larger floats are integers already. */
static inline float kp_rne(float v) {
    if (!(v > -4194304.f && v < 4194304.f)) return v;
    return (v + 12582912.f) - 12582912.f;
}

/* Requantization shared by QLinear kernels: y = saturate(round_half_even(acc * mult) + zp),
 * computed in float as ONNX Runtime does. */
static inline int32_t kp_i8_requant(int32_t acc, float mult, int32_t zp, int32_t lo, int32_t hi) {
    float v = kp_rne((float)acc * mult) + (float)zp;
    if (v < (float)lo) v = (float)lo;
    if (v > (float)hi) v = (float)hi;
    return (int32_t)v;
}

#endif
