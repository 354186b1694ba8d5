/* QDQ fusion for the executor: rewrites a copy of a quantized model so int8 patterns run as
 * int8 arithmetic instead of dequantize -> fp32 -> quantize:
 *   DQ(x), DQ(w) [, DQ(b)] -> Conv|Gemm|MatMul [-> Relu] [-> Q]  =>  ai.kompress:QConv|QGemm
 *   DQ(x) -> MaxPool -> Q (same scale and zero point)            =>  ai.kompress:MaxPool8
 *   DQ(x) -> Flatten -> Q (same scale and zero point)            =>  Flatten on the int8 tensor
 * The fused ops read the quantized tensors directly; every value keeps its name except the
 * dequantized ones that disappear. Only the top-level graph is rewritten. */
#ifndef KP_EXEC_QDQ_H
#define KP_EXEC_QDQ_H

#include "core/graph.h"

/* *out = owned fused copy of m, or NULL when m has nothing to fuse (then run m itself).
 * Returns 0, or a negative error (no memory); patterns it cannot prove equivalent are left
 * alone, never approximated. */
int kp_exec_qdq_fuse(const kp_model *m, kp_model **out, kp_error *err);

#endif
