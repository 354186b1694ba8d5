/* Unique (opset 11): unique elements (no axis: flattened) or unique slices along `axis`,
 * sorted ascending (lexicographic for slices) or in order of first occurrence; outputs Y,
 * indices (first occurrence), inverse_indices and counts, all int64 but Y. */
#include <stdlib.h>
#include <string.h>

#include "core/ops/args.h"
#include "core/ops/elem.h"
#include "core/ops/extra.h"

typedef struct items {
    const kp_tensor *x;
    int64_t outer, n, inner; /* x viewed as [outer, n, inner]; item = [:, i, :] */
} items;

static int cmp_items(const items *it, int64_t a, int64_t b) {
    for (int64_t p = 0; p < it->outer; p++)
        for (int64_t q = 0; q < it->inner; q++) {
            double va = kp_elem_getd(it->x->data, it->x->dtype, (p * it->n + a) * it->inner + q);
            double vb = kp_elem_getd(it->x->data, it->x->dtype, (p * it->n + b) * it->inner + q);
            if (va != vb) return va < vb ? -1 : 1;
        }
    return 0;
}

/* Stable merge sort of idx[0..n) by item value (ties keep index order). */
static void sort_items(const items *it, int64_t *idx, int64_t *tmp, int64_t n) {
    if (n < 2) return;
    int64_t h = n / 2;
    sort_items(it, idx, tmp, h);
    sort_items(it, idx + h, tmp, n - h);
    int64_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = cmp_items(it, idx[j], idx[i]) < 0 ? idx[j++] : idx[i++];
    while (i < h) tmp[k++] = idx[i++];
    while (j < n) tmp[k++] = idx[j++];
    memcpy(idx, tmp, (size_t)n * sizeof *idx);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int kp_op_unique(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x) return kp_op_fail(ctx, KP_EINVAL, "input is missing");
    kp_elem_kind kind = kp_elem_kind_of(x->dtype);
    if (kind == KP_EK_NONE || kind == KP_EK_BOOL)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "dtype %s", kp_dtype_name(x->dtype));
    int sorted = (int)kp_node_attr_int(ctx->node, "sorted", 1), has_axis = 0, axis = 0, rc;
    items it = {x, 1, x->numel, 1};
    if (kp_node_attr(ctx->node, "axis")) {
        has_axis = 1;
        if ((rc = kp_args_axis(ctx, kp_node_attr_int(ctx->node, "axis", 0), x->rank, &axis)))
            return rc;
        it.n = x->dims[axis];
        for (int d = 0; d < axis; d++) it.outer *= x->dims[d];
        for (int d = axis + 1; d < x->rank; d++) it.inner *= x->dims[d];
    }
    int64_t n = it.n;
    int64_t *idx = malloc((size_t)(n ? n : 1) * 4 * sizeof *idx);
    if (!idx) return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
    int64_t *tmp = idx + n, *first = idx + 2 * n, *inv = idx + 3 * n;
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    sort_items(&it, idx, tmp, n);
    /* groups of equal items: first[g] = lowest index (stable sort puts it first) */
    int64_t ng = 0;
    for (int64_t k = 0; k < n; k++) {
        if (k == 0 || cmp_items(&it, idx[k - 1], idx[k]) != 0) first[ng++] = idx[k];
        inv[idx[k]] = ng - 1;
    }
    /* order of output groups: sorted = value order (as is); else by first occurrence */
    int64_t *order = tmp; /* order[g] = first index of the g-th output group */
    for (int64_t g = 0; g < ng; g++) order[g] = first[g];
    if (!sorted) qsort(order, (size_t)ng, sizeof *order, cmp_i64);
    /* remap: output position of each sorted group, via inverse of first-index */
    int64_t *pos = malloc((size_t)(n ? n : 1) * sizeof *pos); /* pos[first index] = out g */
    if (!pos) {
        free(idx);
        return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
    }
    for (int64_t g = 0; g < ng; g++) pos[order[g]] = g;
    int64_t od[KP_MAX_RANK];
    int orank = has_axis ? x->rank : 1;
    if (has_axis) {
        memcpy(od, x->dims, sizeof od);
        od[axis] = ng;
    } else
        od[0] = ng;
    kp_tensor *y = kp_op_output(ctx, 0, x->dtype, orank, od);
    kp_tensor *oi = y && ctx->n_out > 1 ? kp_op_output(ctx, 1, KP_INT64, 1, &ng) : NULL;
    kp_tensor *ov = oi && ctx->n_out > 2 ? kp_op_output(ctx, 2, KP_INT64, 1, &n) : NULL;
    kp_tensor *oc = ov && ctx->n_out > 3 ? kp_op_output(ctx, 3, KP_INT64, 1, &ng) : NULL;
    if (!y || (ctx->n_out > 1 && !oi) || (ctx->n_out > 2 && !ov) || (ctx->n_out > 3 && !oc)) {
        free(idx), free(pos);
        return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    }
    size_t es = kp_dtype_size(x->dtype), blk = (size_t)it.inner * es;
    for (int64_t g = 0; g < ng && blk; g++)
        for (int64_t p = 0; p < it.outer; p++)
            memcpy((uint8_t *)y->data + (size_t)(p * ng + g) * blk,
                   (const uint8_t *)x->data + (size_t)(p * n + order[g]) * blk, blk);
    if (oi)
        for (int64_t g = 0; g < ng; g++) ((int64_t *)oi->data)[g] = order[g];
    if (ov)
        for (int64_t i = 0; i < n; i++) ((int64_t *)ov->data)[i] = pos[first[inv[i]]];
    if (oc) {
        int64_t *c = oc->data;
        for (int64_t g = 0; g < ng; g++) c[g] = 0;
        for (int64_t i = 0; i < n; i++) c[pos[first[inv[i]]]]++;
    }
    free(idx);
    free(pos);
    return 0;
}
