/* Numpy-style broadcasting (see broadcast.h). */
#include "core/ops/broadcast.h"

#include <string.h>

int kp_bcast_shape(size_t n, const int *ranks, const int64_t *const *dims, int *rank,
                   int64_t *out_dims, kp_error *err) {
    int r = 0;
    for (size_t k = 0; k < n; k++) {
        if (ranks[k] < 0 || ranks[k] > KP_MAX_RANK)
            return kp_error_set(err, KP_EINVAL, "operand %zu has rank %d", k, ranks[k]);
        if (ranks[k] > r) r = ranks[k];
    }
    for (int d = 0; d < r; d++) {
        int64_t v = 1;
        for (size_t k = 0; k < n; k++) {
            int kd = d - (r - ranks[k]);
            if (kd < 0) continue;
            int64_t x = dims[k][kd];
            if (x == 1) continue;
            if (v == 1)
                v = x;
            else if (x != v) {
                char a[128], b[128];
                return kp_error_set(
                    err, KP_EINVAL, "shapes do not broadcast: %s and %s (dim %d: %lld vs %lld)",
                    kp_shape_str(ranks[0], dims[0], a, sizeof a),
                    kp_shape_str(ranks[k], dims[k], b, sizeof b), d, (long long)v, (long long)x);
            }
        }
        out_dims[d] = v;
    }
    *rank = r;
    return 0;
}

int kp_bcast_shape_t(size_t n, const kp_tensor *const *t, int *rank, int64_t *out_dims,
                     kp_error *err) {
    int ranks[KP_BCAST_MAX];
    const int64_t *dims[KP_BCAST_MAX];
    if (n > KP_BCAST_MAX) return kp_error_set(err, KP_EINVAL, "too many operands (%zu)", n);
    for (size_t k = 0; k < n; k++) {
        ranks[k] = t[k]->rank;
        dims[k] = t[k]->dims;
    }
    return kp_bcast_shape(n, ranks, dims, rank, out_dims, err);
}

void kp_bcast_plan(kp_bcast *b, size_t n, const int *ranks, const int64_t *const *dims, int rank,
                   const int64_t *out_dims) {
    int64_t st[KP_BCAST_MAX][KP_MAX_RANK];
    memset(b, 0, sizeof *b);
    b->n = n;
    b->numel = 1;
    for (int d = 0; d < rank; d++) b->numel *= out_dims[d];
    for (size_t k = 0; k < n; k++) {
        int64_t s = 1;
        for (int d = rank - 1; d >= 0; d--) {
            int kd = d - (rank - ranks[k]);
            int64_t x = kd >= 0 ? dims[k][kd] : 1;
            st[k][d] = (x == 1 && out_dims[d] != 1) ? 0 : s;
            s *= x;
        }
    }
    /* Coalesce: drop size-1 dims, merge d into the previous kept dim when every operand's
     * strides are contiguous across the pair. */
    int r = 0;
    for (int d = 0; d < rank; d++) {
        if (out_dims[d] == 1) continue;
        if (r > 0) {
            int ok = 1;
            for (size_t k = 0; k < n && ok; k++)
                ok = b->strides[k][r - 1] == st[k][d] * out_dims[d];
            if (ok) {
                b->dims[r - 1] *= out_dims[d];
                for (size_t k = 0; k < n; k++) b->strides[k][r - 1] = st[k][d];
                continue;
            }
        }
        b->dims[r] = out_dims[d];
        for (size_t k = 0; k < n; k++) b->strides[k][r] = st[k][d];
        r++;
    }
    if (r == 0) {
        b->dims[0] = 1;
        for (size_t k = 0; k < n; k++) b->strides[k][0] = 1;
        r = 1;
    }
    b->rank = r;
    b->inner = b->dims[r - 1];
    b->rows = b->inner ? b->numel / b->inner : 0;
}

void kp_bcast_plan_t(kp_bcast *b, size_t n, const kp_tensor *const *t, int rank,
                     const int64_t *out_dims) {
    int ranks[KP_BCAST_MAX];
    const int64_t *dims[KP_BCAST_MAX];
    for (size_t k = 0; k < n && k < KP_BCAST_MAX; k++) {
        ranks[k] = t[k]->rank;
        dims[k] = t[k]->dims;
    }
    kp_bcast_plan(b, n, ranks, dims, rank, out_dims);
}

void kp_bcast_copy(kp_tensor *dst, const kp_tensor *src) {
    kp_bcast bc;
    kp_bcast_plan_t(&bc, 1, &src, dst->rank, dst->dims);
    size_t es = kp_dtype_size(src->dtype);
    if (bc.numel == 0 || es == 0) return;
    int64_t idx[KP_MAX_RANK] = {0}, off[KP_BCAST_MAX] = {0};
    int64_t n = bc.inner, s = bc.strides[0][bc.rank - 1];
    uint8_t *o = dst->data;
    const uint8_t *in = src->data;
    for (int64_t r = 0; r < bc.rows; r++) {
        const uint8_t *row = in + (size_t)off[0] * es;
        if (s == 1)
            memcpy(o, row, (size_t)n * es);
        else if (es == 4) {
            uint32_t v;
            memcpy(&v, row, 4);
            for (int64_t i = 0; i < n; i++) memcpy(o + i * 4, &v, 4);
        } else
            for (int64_t i = 0; i < n; i++) memcpy(o + (size_t)i * es, row, es);
        o += (size_t)n * es;
        kp_bcast_next(&bc, idx, off);
    }
}
