/* Private helpers shared by the quantized kernels (quant.c, int8_matmul.c, int8_conv.c). */
#ifndef KP_INT8_OPS_H
#define KP_INT8_OPS_H

#include "core/ops/int8_gemm.h"
#include "core/ops/ops.h"

/* Packed int8 weights for a kernel. A node has n packings (Conv: one per group), made by
 * pack(user) from the bytes key[0, bytes) then key2[0, bytes2) (the weights as stored, then
 * their zero points), which come from the node's inputs flagged in `inputs` (bit i = input i);
 * tag is whatever else the packing depends on (Conv: the padded kernel width).
 * Inside an executor, when those inputs are plan constants (kp_op_ctx.const_in), a packing is
 * made on the plan's first run and kept in the node's kp_op_state: later runs take it with no
 * check at all. Otherwise (kp_op_call, weights computed at run time) a process-wide cache keyed
 * by (node, idx, tag) is revalidated against the key bytes on every call, so a changed or reused
 * buffer is never served stale. The pointer stays valid until the node's next call (cache) or
 * the end of the plan (state). */
typedef int (*kp_i8_pack_fn)(void *user, kp_i8_packed *out, kp_error *err);
typedef struct kp_i8_want {
    uint32_t inputs;
    size_t idx, n;
    int64_t tag;
    const void *key;
    size_t bytes;
    const void *key2;
    size_t bytes2;
    kp_i8_pack_fn pack;
    void *user;
} kp_i8_want;
const kp_i8_packed *kp_i8_weights(kp_op_ctx *ctx, const kp_i8_want *w);

/* Zero point / scale readers: element i of a scalar-or-vector tensor (NULL tensor = 0 / 1). */
int32_t kp_q_zp(const kp_tensor *t, int64_t i);
float kp_q_scale(const kp_tensor *t, int64_t i);
int kp_q_is_8bit(kp_dtype t);

/* DynamicQuantizeLinear of n floats: range including 0, scale = range / 255, zero point
 * rounded half to even, y = saturate(rne(x / scale) + zp), NaN -> 0. SIMD where the CPU has
 * it (same bytes); portable = 1 forces the plain C loop (tests). */
void kp_q_dynamic_u8(const float *x, int64_t n, uint8_t *y, float *scale, uint8_t *zp,
                     int portable);

int kp_op_MatMulInteger(kp_op_ctx *ctx);
int kp_op_QLinearMatMul(kp_op_ctx *ctx);
int kp_op_ConvInteger(kp_op_ctx *ctx);
int kp_op_QLinearConv(kp_op_ctx *ctx);
/* Executor-internal fused ops (domain "ai.kompress", made by core/exec_qdq.c only). */
int kp_op_KQConv(kp_op_ctx *ctx);
int kp_op_KQGemm(kp_op_ctx *ctx);
int kp_op_KMaxPool8(kp_op_ctx *ctx);
int kp_op_KQAdd(kp_op_ctx *ctx);
int kp_op_KQConcat(kp_op_ctx *ctx);
int kp_op_KDynQMatMul(kp_op_ctx *ctx);
int kp_op_KDynQConv(kp_op_ctx *ctx);

#endif
