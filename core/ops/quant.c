/* quant kernels. */
#include "core/ops/ops.h"

const kp_op_def kp_ops_quant[] = {
    {0},
};
