/* Loss kernels (NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss), registered in reduce.c's
 * table; in their own file for size. */
#ifndef KP_OPS_LOSS_H
#define KP_OPS_LOSS_H

#include "core/ops/ops.h"

int kp_op_nll_loss(kp_op_ctx *ctx);
int kp_op_sce_loss(kp_op_ctx *ctx);

#endif
