/* Einsum kernel, registered in misc.c's table (kept in its own file for size). */
#ifndef KP_OPS_EINSUM_H
#define KP_OPS_EINSUM_H

#include "core/ops/ops.h"

int kp_op_einsum(kp_op_ctx *ctx);

#endif
