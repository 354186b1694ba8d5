/* float32 GEMM with B packed once (AVX-512F): y[M][N] = a[M][K] x B + bias, ReLU optional, for
 * Gemm nodes with constant weights (the executor packs B at plan time, as ONNX Runtime does;
 * OpenBLAS would re-pack B on every call, which at batch 64 costs as much as the arithmetic).
 * Layout: blocks of 16 columns, [block][k][16], zero past N. The kernel holds up to 12 rows x
 * 32 columns in registers, broadcasting a[r][k] against two column vectors per k. */
#ifndef KP_OPS_GEMM_PACKED_H
#define KP_OPS_GEMM_PACKED_H

#include <stdint.h>

/* 1 when this CPU runs the kernel (AVX-512F allowed by kp_cpu()). */
int kp_gemmp_available(void);
/* Floats of packed B for K x N. */
int64_t kp_gemmp_packed_floats(int64_t k, int64_t n);
/* B is K x N (trans_b == 0: b[k * N + n]) or N x K (trans_b != 0: b[n * K + k]); packed holds
 * kp_gemmp_packed_floats(k, n) floats (caller-owned). */
void kp_gemmp_pack(const float *b, int64_t k, int64_t n, int trans_b, float *packed);
/* y[M][N] (row stride N) = a[M][K] (row stride K) x B + bias[N] (NULL: none), then max(., 0)
 * when relu. Only when kp_gemmp_available(). Borrowed pointers; y must not overlap a. */
void kp_gemmp_run(const float *a, int64_t m, int64_t k, const float *packed, int64_t n,
                  const float *bias, int relu, float *y);

/* y[M][N] (row stride ldy) = a[M][K] (row stride lda) x b[K][N] (row stride ldb, not packed:
 * for B that changes every call, such as Conv's im2col matrix or a 1x1 Conv's input), plus
 * row_bias[M] (NULL: none), then max(., 0) when relu. The same kernel as kp_gemmp_run, loading
 * B's rows in place. Only when kp_gemmp_available(). */
void kp_gemm_nn_run(const float *a, int64_t lda, int64_t m, int64_t k, const float *b, int64_t ldb,
                    int64_t n, const float *row_bias, int relu, float *y, int64_t ldy);

#endif
