/* Numpy-style broadcasting for kernels with up to KP_BCAST_MAX operands.
 * kp_bcast_plan() coalesces the output shape into as few dims as possible so the innermost run
 * is long; every operand's innermost stride is then 0 (broadcast) or 1 (contiguous), which lets
 * kernels use tight loops for same-shape, scalar and channel-broadcast operands. */
#ifndef KP_OPS_BROADCAST_H
#define KP_OPS_BROADCAST_H

#include <stddef.h>
#include <stdint.h>

#include "core/tensor.h"

#define KP_BCAST_MAX 4

typedef struct kp_bcast {
    int rank; /* coalesced rank, >= 1 */
    int64_t dims[KP_MAX_RANK];
    size_t n; /* operands */
    int64_t strides[KP_BCAST_MAX][KP_MAX_RANK];
    int64_t numel; /* output elements */
    int64_t inner; /* dims[rank-1] */
    int64_t rows;  /* numel / inner (0 when numel is 0) */
} kp_bcast;

/* Broadcast shape of n operands (ranks/dims arrays). KP_EINVAL with a message naming the
 * clashing dims when they do not broadcast. */
int kp_bcast_shape(size_t n, const int *ranks, const int64_t *const *dims, int *rank,
                   int64_t *out_dims, kp_error *err);
/* Same for tensors. */
int kp_bcast_shape_t(size_t n, const kp_tensor *const *t, int *rank, int64_t *out_dims,
                     kp_error *err);
/* Plans iteration of an output of shape (rank, dims) reading n <= KP_BCAST_MAX operands whose
 * shapes broadcast to it (checked by the caller with kp_bcast_shape). */
void kp_bcast_plan(kp_bcast *b, size_t n, const int *ranks, const int64_t *const *dims, int rank,
                   const int64_t *out_dims);
void kp_bcast_plan_t(kp_bcast *b, size_t n, const kp_tensor *const *t, int rank,
                     const int64_t *out_dims);

/* Copies src into dst (dst's shape is src's broadcast to it; same dtype, fixed-size elements),
 * repeating broadcast dims. */
void kp_bcast_copy(kp_tensor *dst, const kp_tensor *src);

/* Row iteration: start with idx[] and off[] zeroed; after each row of b->inner elements call
 * kp_bcast_next to advance every operand's element offset. */
static inline void kp_bcast_next(const kp_bcast *b, int64_t *idx, int64_t *off) {
    for (int d = b->rank - 2; d >= 0; d--) {
        for (size_t k = 0; k < b->n; k++) off[k] += b->strides[k][d];
        if (++idx[d] < b->dims[d]) return;
        for (size_t k = 0; k < b->n; k++) off[k] -= b->strides[k][d] * b->dims[d];
        idx[d] = 0;
    }
}

#endif
