/* Argument helpers shared by kernels: integer lists from attributes or inputs, axis
 * normalization, row-major strides. All fail through kp_op_fail() (message names the node). */
#ifndef KP_OPS_ARGS_H
#define KP_OPS_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "core/ops/ops.h"

/* Reads a scalar or 1-D int32/int64 tensor `t` (input called `what`) into out[cap]; *n gets
 * the count. KP_EINVAL if t has another dtype or more than cap entries. */
int kp_args_ints(kp_op_ctx *ctx, const kp_tensor *t, const char *what, int64_t *out, size_t cap,
                 size_t *n);
/* A single-element tensor (any numeric dtype) as int64 / double. */
int kp_args_scalar_i(kp_op_ctx *ctx, const kp_tensor *t, const char *what, int64_t *out);
int kp_args_scalar_d(kp_op_ctx *ctx, const kp_tensor *t, const char *what, double *out);
/* Normalizes axis into [0, rank) (negative counts from the end); KP_EINVAL when out of range. */
int kp_args_axis(kp_op_ctx *ctx, int64_t axis, int rank, int *out);
/* Axes list: from input `in_idx` when opset >= `input_opset`, else from attribute "axes".
 * Normalized, checked for duplicates; *present = 0 when no axes were given at all. */
int kp_args_axes(kp_op_ctx *ctx, size_t in_idx, int64_t input_opset, int rank, int *axes, int *n,
                 int *present);
/* Row-major element strides of dims. */
void kp_args_strides(int rank, const int64_t *dims, int64_t *strides);
/* Copies src's elements into dst (same dtype and count; strings deep-copied). */
int kp_args_copy(kp_op_ctx *ctx, kp_tensor *dst, const kp_tensor *src);

#endif
