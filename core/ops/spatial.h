/* Window geometry shared by Conv, ConvTranspose and the pools: kernel shape, strides,
 * dilations, pads (explicit or auto_pad) and output size per spatial dim. */
#ifndef KP_OPS_SPATIAL_H
#define KP_OPS_SPATIAL_H

#include <stdint.h>

#include "core/ops/ops.h"

#define KP_SPATIAL_MAX (KP_MAX_RANK - 2)

typedef struct kp_spatial {
    int nd; /* spatial dims */
    int64_t in[KP_SPATIAL_MAX], out[KP_SPATIAL_MAX], k[KP_SPATIAL_MAX];
    int64_t stride[KP_SPATIAL_MAX], dil[KP_SPATIAL_MAX];
    int64_t pad_b[KP_SPATIAL_MAX], pad_e[KP_SPATIAL_MAX];
    int64_t in_size, out_size, k_size; /* products over spatial dims */
} kp_spatial;

/* Reads strides, dilations, pads and auto_pad from the node for input x (N, C, spatial...) and
 * the kernel's spatial shape kshape (nd = x->rank - 2 entries). ceil_mode: pools' rounding.
 * Fails with a message naming the bad attribute. */
int kp_spatial_init(kp_op_ctx *ctx, const kp_tensor *x, const int64_t *kshape, int ceil_mode,
                    kp_spatial *s);

/* Kernel shape from the "kernel_shape" attribute (pools: required). */
int kp_spatial_kernel_attr(kp_op_ctx *ctx, int nd, int64_t *kshape);

#endif
