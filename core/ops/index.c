/* Indexing kernels: Gather, GatherElements (negative indices allowed, every index checked)
 * and TopK (k as attribute before opset 10, as input from 10; largest/sorted from 11; ties
 * resolved to the lower index). */
#include <stdlib.h>
#include <string.h>

#include "core/ops/args.h"
#include "core/ops/elem.h"
#include "core/ops/ops.h"

#define OUT_OR_FAIL(o, ...)                                                                        \
    kp_tensor *o = kp_op_output(__VA_ARGS__);                                                      \
    if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM

static int index_at(kp_op_ctx *ctx, const kp_tensor *ind, int64_t i, int64_t dim, int64_t *out) {
    int64_t v =
        ind->dtype == KP_INT64 ? ((const int64_t *)ind->data)[i] : ((const int32_t *)ind->data)[i];
    if (v < -dim || v >= dim)
        return kp_op_fail(ctx, KP_EINVAL, "index %lld is out of range for a dim of %lld",
                          (long long)v, (long long)dim);
    *out = v < 0 ? v + dim : v;
    return 0;
}

static int check_indices(kp_op_ctx *ctx, const kp_tensor *x, const kp_tensor *ind) {
    if (!x || !ind) return kp_op_fail(ctx, KP_EINVAL, "needs data and indices");
    if (ind->dtype != KP_INT32 && ind->dtype != KP_INT64)
        return kp_op_fail(ctx, KP_EINVAL, "indices must be int32 or int64, not %s",
                          kp_dtype_name(ind->dtype));
    if (!kp_dtype_size(x->dtype))
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "dtype %s", kp_dtype_name(x->dtype));
    return 0;
}

static int run_gather(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0), *ind = kp_op_input(ctx, 1);
    int rc = check_indices(ctx, x, ind);
    if (rc) return rc;
    if (x->rank == 0) return kp_op_fail(ctx, KP_EINVAL, "data must have rank >= 1");
    int axis;
    if ((rc = kp_args_axis(ctx, kp_node_attr_int(ctx->node, "axis", 0), x->rank, &axis))) return rc;
    int orank = x->rank - 1 + ind->rank;
    if (orank > KP_MAX_RANK)
        return kp_op_fail(ctx, KP_ERANGE, "output rank %d is over %d", orank, KP_MAX_RANK);
    int64_t od[KP_MAX_RANK];
    int r = 0;
    for (int i = 0; i < axis; i++) od[r++] = x->dims[i];
    for (int i = 0; i < ind->rank; i++) od[r++] = ind->dims[i];
    for (int i = axis + 1; i < x->rank; i++) od[r++] = x->dims[i];
    OUT_OR_FAIL(o, ctx, 0, x->dtype, orank, od);
    int64_t outer = 1, inner = 1, dim = x->dims[axis];
    for (int i = 0; i < axis; i++) outer *= x->dims[i];
    for (int i = axis + 1; i < x->rank; i++) inner *= x->dims[i];
    size_t es = kp_dtype_size(x->dtype), blk = (size_t)inner * es;
    uint8_t *dst = o->data;
    const uint8_t *src = x->data;
    for (int64_t k = 0; k < ind->numel; k++) { /* validate once, up front */
        int64_t j;
        if ((rc = index_at(ctx, ind, k, dim, &j))) return rc;
    }
    if (o->numel == 0) return 0;
    for (int64_t p = 0; p < outer; p++)
        for (int64_t k = 0; k < ind->numel; k++) {
            int64_t j;
            index_at(ctx, ind, k, dim, &j);
            if (x->dtype == KP_STRING) {
                kp_bytes *d = &o->strings[(p * ind->numel + k) * inner];
                const kp_bytes *s = &x->strings[(p * dim + j) * inner];
                for (int64_t q = 0; q < inner; q++) {
                    d[q].data = malloc(s[q].len ? s[q].len : 1);
                    if (!d[q].data) return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
                    if (s[q].len) memcpy(d[q].data, s[q].data, s[q].len);
                    d[q].len = s[q].len;
                }
                continue;
            }
            memcpy(dst, src + (size_t)(p * dim + j) * blk, blk);
            dst += blk;
        }
    return 0;
}

static int run_gather_elements(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0), *ind = kp_op_input(ctx, 1);
    int rc = check_indices(ctx, x, ind);
    if (rc) return rc;
    if (x->dtype == KP_STRING) return kp_op_fail(ctx, KP_EUNSUPPORTED, "string data");
    if (ind->rank != x->rank || x->rank == 0)
        return kp_op_fail(ctx, KP_EINVAL, "indices rank %d must equal data rank %d (>= 1)",
                          ind->rank, x->rank);
    int axis;
    if ((rc = kp_args_axis(ctx, kp_node_attr_int(ctx->node, "axis", 0), x->rank, &axis))) return rc;
    for (int i = 0; i < x->rank; i++)
        if (i != axis && ind->dims[i] > x->dims[i])
            return kp_op_fail(ctx, KP_EINVAL, "indices dim %d (%lld) exceeds data dim (%lld)", i,
                              (long long)ind->dims[i], (long long)x->dims[i]);
    OUT_OR_FAIL(o, ctx, 0, x->dtype, ind->rank, ind->dims);
    if (o->numel == 0) return 0;
    int64_t st[KP_MAX_RANK], idx[KP_MAX_RANK] = {0};
    kp_args_strides(x->rank, x->dims, st);
    size_t es = kp_dtype_size(x->dtype);
    uint8_t *dst = o->data;
    const uint8_t *src = x->data;
    for (int64_t k = 0; k < ind->numel; k++) {
        int64_t j, off = 0;
        if ((rc = index_at(ctx, ind, k, x->dims[axis], &j))) return rc;
        for (int d = 0; d < x->rank; d++) off += (d == axis ? j : idx[d]) * st[d];
        memcpy(dst + (size_t)k * es, src + (size_t)off * es, es);
        for (int d = x->rank - 1; d >= 0; d--) {
            if (++idx[d] < ind->dims[d]) break;
            idx[d] = 0;
        }
    }
    return 0;
}

/* ---- TopK ------------------------------------------------------------------------------ */

typedef struct kv {
    double v;
    int64_t i;
} kv;

static int cmp_largest(const void *a, const void *b) {
    const kv *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

static int cmp_smallest(const void *a, const void *b) {
    const kv *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

static int cmp_index(const void *a, const void *b) {
    const kv *x = a, *y = b;
    return (x->i > y->i) - (x->i < y->i);
}

static int run_topk(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x) return kp_op_fail(ctx, KP_EINVAL, "input is missing");
    kp_elem_kind kind = kp_elem_kind_of(x->dtype);
    if (kind == KP_EK_NONE || kind == KP_EK_BOOL)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "dtype %s", kp_dtype_name(x->dtype));
    if (x->rank == 0) return kp_op_fail(ctx, KP_EINVAL, "input must have rank >= 1");
    int axis, rc;
    if ((rc = kp_args_axis(ctx, kp_node_attr_int(ctx->node, "axis", -1), x->rank, &axis)))
        return rc;
    int64_t k;
    if (ctx->opset < 10)
        k = kp_node_attr_int(ctx->node, "k", -1);
    else {
        size_t n;
        if ((rc = kp_args_ints(ctx, kp_op_input(ctx, 1), "K", &k, 1, &n))) return rc;
        if (n != 1) return kp_op_fail(ctx, KP_EINVAL, "K must hold one value");
    }
    int64_t a = x->dims[axis];
    if (k < 0 || k > a)
        return kp_op_fail(ctx, KP_EINVAL, "k = %lld is out of range for an axis of %lld",
                          (long long)k, (long long)a);
    int largest = (int)kp_node_attr_int(ctx->node, "largest", 1);
    int sorted = (int)kp_node_attr_int(ctx->node, "sorted", 1);
    int64_t od[KP_MAX_RANK];
    memcpy(od, x->dims, sizeof od);
    od[axis] = k;
    OUT_OR_FAIL(ov, ctx, 0, x->dtype, x->rank, od);
    kp_tensor *oi = kp_op_output(ctx, 1, KP_INT64, x->rank, od);
    if (!oi) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    if (ov->numel == 0) return 0;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++) outer *= x->dims[i];
    for (int i = axis + 1; i < x->rank; i++) inner *= x->dims[i];
    kv *buf = malloc((size_t)a * sizeof *buf);
    if (!buf) return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
    for (int64_t p = 0; p < outer; p++)
        for (int64_t q = 0; q < inner; q++) {
            int64_t base = p * a * inner + q, obase = p * k * inner + q;
            for (int64_t i = 0; i < a; i++) {
                buf[i].v = kp_elem_getd(x->data, x->dtype, base + i * inner);
                buf[i].i = i;
            }
            qsort(buf, (size_t)a, sizeof *buf, largest ? cmp_largest : cmp_smallest);
            if (!sorted) qsort(buf, (size_t)k, sizeof *buf, cmp_index);
            for (int64_t i = 0; i < k; i++) {
                int64_t src = base + buf[i].i * inner, dst = obase + i * inner;
                size_t es = kp_dtype_size(x->dtype);
                memcpy((uint8_t *)ov->data + dst * (int64_t)es,
                       (const uint8_t *)x->data + src * (int64_t)es, es);
                ((int64_t *)oi->data)[dst] = buf[i].i;
            }
        }
    free(buf);
    return 0;
}

const kp_op_def kp_ops_index[] = {
    {"", "Gather", run_gather},
    {"", "GatherElements", run_gather_elements},
    {"", "TopK", run_topk},
    {0},
};
