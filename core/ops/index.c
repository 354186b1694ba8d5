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

/* ---- GatherND -------------------------------------------------------------------------- */

static int run_gather_nd(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0), *ind = kp_op_input(ctx, 1);
    int rc = check_indices(ctx, x, ind);
    if (rc) return rc;
    if (ind->dtype != KP_INT64) return kp_op_fail(ctx, KP_EINVAL, "indices must be int64");
    int64_t b = kp_node_attr_int(ctx->node, "batch_dims", 0);
    if (ind->rank < 1 || b < 0 || b >= ind->rank || b >= x->rank)
        return kp_op_fail(ctx, KP_EINVAL, "batch_dims %lld is invalid for ranks %d and %d",
                          (long long)b, x->rank, ind->rank);
    int64_t k = ind->dims[ind->rank - 1];
    if (k < 1 || k > x->rank - b)
        return kp_op_fail(ctx, KP_EINVAL, "index tuples of length %lld for data rank %d",
                          (long long)k, x->rank);
    for (int i = 0; i < b; i++)
        if (ind->dims[i] != x->dims[i])
            return kp_op_fail(ctx, KP_EINVAL, "batch dim %d differs: %lld vs %lld", i,
                              (long long)ind->dims[i], (long long)x->dims[i]);
    int64_t od[KP_MAX_RANK];
    int orank = 0;
    for (int i = 0; i < ind->rank - 1; i++) od[orank++] = ind->dims[i];
    for (int i = (int)(b + k); i < x->rank; i++) {
        if (orank >= KP_MAX_RANK) return kp_op_fail(ctx, KP_ERANGE, "output rank too large");
        od[orank++] = x->dims[i];
    }
    OUT_OR_FAIL(o, ctx, 0, x->dtype, orank, od);
    if (x->dtype == KP_STRING) return kp_op_fail(ctx, KP_EUNSUPPORTED, "string data");
    int64_t st[KP_MAX_RANK];
    kp_args_strides(x->rank, x->dims, st);
    int64_t batches = 1, per_batch = 1, slice = 1;
    for (int i = 0; i < b; i++) batches *= x->dims[i];
    for (int i = (int)b; i < ind->rank - 1; i++) per_batch *= ind->dims[i];
    for (int i = (int)(b + k); i < x->rank; i++) slice *= x->dims[i];
    size_t es = kp_dtype_size(x->dtype);
    const int64_t *iv = ind->data;
    uint8_t *dst = o->data;
    int64_t batch_stride = b ? st[b - 1] : 0;
    for (int64_t bi = 0; bi < batches; bi++)
        for (int64_t t = 0; t < per_batch; t++) {
            const int64_t *tuple = iv + (bi * per_batch + t) * k;
            int64_t off = bi * batch_stride;
            for (int64_t j = 0; j < k; j++) {
                int64_t dim = x->dims[b + j], v = tuple[j];
                if (v < -dim || v >= dim)
                    return kp_op_fail(ctx, KP_EINVAL, "index %lld is out of range for %lld",
                                      (long long)v, (long long)dim);
                off += (v < 0 ? v + dim : v) * st[b + j];
            }
            if (slice) {
                memcpy(dst, (const uint8_t *)x->data + off * (int64_t)es, (size_t)slice * es);
                dst += slice * (int64_t)es;
            }
        }
    return 0;
}

/* ---- Scatter --------------------------------------------------------------------------- */

typedef enum sred { S_NONE, S_ADD, S_MUL, S_MAX, S_MIN } sred;

static int parse_reduction(kp_op_ctx *ctx, sred *r) {
    const char *s = kp_node_attr_string(ctx->node, "reduction", "none");
    if (!strcmp(s, "none"))
        *r = S_NONE;
    else if (!strcmp(s, "add"))
        *r = S_ADD;
    else if (!strcmp(s, "mul"))
        *r = S_MUL;
    else if (!strcmp(s, "max"))
        *r = S_MAX;
    else if (!strcmp(s, "min"))
        *r = S_MIN;
    else
        return kp_op_fail(ctx, KP_EINVAL, "unknown reduction \"%s\"", s);
    return 0;
}

/* o[di] = reduce(o[di], u[ui]) */
static void scatter_one(sred r, kp_tensor *o, int64_t di, const kp_tensor *u, int64_t ui) {
    size_t es = kp_dtype_size(o->dtype);
    if (r == S_NONE) {
        memcpy((uint8_t *)o->data + di * (int64_t)es, (const uint8_t *)u->data + ui * (int64_t)es,
               es);
        return;
    }
    if (kp_elem_kind_of(o->dtype) == KP_EK_FLOAT) {
        double a = kp_elem_getd(o->data, o->dtype, di), b = kp_elem_getd(u->data, u->dtype, ui);
        double v = r == S_ADD   ? a + b
                   : r == S_MUL ? a * b
                   : r == S_MAX ? (a > b ? a : b)
                                : (a < b ? a : b);
        kp_elem_setd(o->data, o->dtype, di, v);
    } else {
        int64_t a = kp_elem_geti(o->data, o->dtype, di), b = kp_elem_geti(u->data, u->dtype, ui);
        int64_t v = r == S_ADD   ? (int64_t)((uint64_t)a + (uint64_t)b)
                    : r == S_MUL ? (int64_t)((uint64_t)a * (uint64_t)b)
                    : r == S_MAX ? (a > b ? a : b)
                                 : (a < b ? a : b);
        kp_elem_seti(o->data, o->dtype, di, v);
    }
}

static int scatter_common(kp_op_ctx *ctx, const kp_tensor **x, const kp_tensor **ind,
                          const kp_tensor **u, sred *r, kp_tensor **o) {
    *x = kp_op_input(ctx, 0);
    *ind = kp_op_input(ctx, 1);
    *u = kp_op_input(ctx, 2);
    int rc = check_indices(ctx, *x, *ind);
    if (rc) return rc;
    if (!*u || (*u)->dtype != (*x)->dtype)
        return kp_op_fail(ctx, KP_EINVAL, "updates must be given with the data's dtype");
    if ((*x)->dtype == KP_STRING) return kp_op_fail(ctx, KP_EUNSUPPORTED, "string data");
    if ((rc = parse_reduction(ctx, r))) return rc;
    if (*r != S_NONE && kp_elem_kind_of((*x)->dtype) == KP_EK_NONE)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "reduction on %s", kp_dtype_name((*x)->dtype));
    *o = kp_op_output(ctx, 0, (*x)->dtype, (*x)->rank, (*x)->dims);
    if (!*o) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    return kp_args_copy(ctx, *o, *x);
}

static int run_scatter_elements(kp_op_ctx *ctx) {
    const kp_tensor *x, *ind, *u;
    kp_tensor *o;
    sred r;
    int rc = scatter_common(ctx, &x, &ind, &u, &r, &o);
    if (rc) return rc;
    if (ind->rank != x->rank || u->rank != ind->rank || x->rank == 0)
        return kp_op_fail(ctx, KP_EINVAL, "data, indices and updates need the same rank");
    for (int d = 0; d < ind->rank; d++)
        if (u->dims[d] != ind->dims[d])
            return kp_op_fail(ctx, KP_EINVAL, "updates and indices shapes differ");
    int axis;
    if ((rc = kp_args_axis(ctx, kp_node_attr_int(ctx->node, "axis", 0), x->rank, &axis))) return rc;
    for (int d = 0; d < x->rank; d++)
        if (d != axis && ind->dims[d] > x->dims[d])
            return kp_op_fail(ctx, KP_EINVAL, "indices dim %d exceeds the data's", d);
    int64_t st[KP_MAX_RANK], idx[KP_MAX_RANK] = {0};
    kp_args_strides(x->rank, x->dims, st);
    for (int64_t k = 0; k < ind->numel; k++) {
        int64_t j, off = 0;
        if ((rc = index_at(ctx, ind, k, x->dims[axis], &j))) return rc;
        for (int d = 0; d < x->rank; d++) off += (d == axis ? j : idx[d]) * st[d];
        scatter_one(r, o, off, u, k);
        for (int d = x->rank - 1; d >= 0; d--) {
            if (++idx[d] < ind->dims[d]) break;
            idx[d] = 0;
        }
    }
    return 0;
}

static int run_scatter_nd(kp_op_ctx *ctx) {
    const kp_tensor *x, *ind, *u;
    kp_tensor *o;
    sred r;
    int rc = scatter_common(ctx, &x, &ind, &u, &r, &o);
    if (rc) return rc;
    if (ind->dtype != KP_INT64 || ind->rank < 1)
        return kp_op_fail(ctx, KP_EINVAL, "indices must be int64 with rank >= 1");
    int64_t k = ind->dims[ind->rank - 1];
    if (k < 1 || k > x->rank)
        return kp_op_fail(ctx, KP_EINVAL, "index tuples of length %lld for data rank %d",
                          (long long)k, x->rank);
    int64_t n = ind->numel / k, slice = 1;
    for (int i = (int)k; i < x->rank; i++) slice *= x->dims[i];
    if (u->numel != n * slice)
        return kp_op_fail(ctx, KP_EINVAL, "updates hold %lld values, expected %lld",
                          (long long)u->numel, (long long)(n * slice));
    int64_t st[KP_MAX_RANK];
    kp_args_strides(x->rank, x->dims, st);
    const int64_t *iv = ind->data;
    for (int64_t t = 0; t < n; t++) {
        int64_t off = 0;
        for (int64_t j = 0; j < k; j++) {
            int64_t dim = x->dims[j], v = iv[t * k + j];
            if (v < -dim || v >= dim)
                return kp_op_fail(ctx, KP_EINVAL, "index %lld is out of range for %lld",
                                  (long long)v, (long long)dim);
            off += (v < 0 ? v + dim : v) * st[j];
        }
        for (int64_t q = 0; q < slice; q++) scatter_one(r, o, off + q, u, t * slice + q);
    }
    return 0;
}

/* ---- Compress, NonZero, OneHot --------------------------------------------------------- */

static int run_compress(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0), *c = kp_op_input(ctx, 1);
    if (!x || !c || c->dtype != KP_BOOL || c->rank != 1)
        return kp_op_fail(ctx, KP_EINVAL, "needs input and a 1-D bool condition");
    size_t es = kp_dtype_size(x->dtype);
    if (!es) return kp_op_fail(ctx, KP_EUNSUPPORTED, "dtype %s", kp_dtype_name(x->dtype));
    const uint8_t *cv = c->data;
    int has_axis = kp_node_attr(ctx->node, "axis") != NULL, axis = 0, rc;
    int64_t outer = 1, a = x->numel, inner = 1;
    if (has_axis) {
        if ((rc = kp_args_axis(ctx, kp_node_attr_int(ctx->node, "axis", 0), x->rank, &axis)))
            return rc;
        outer = 1;
        for (int i = 0; i < axis; i++) outer *= x->dims[i];
        a = x->dims[axis];
        for (int i = axis + 1; i < x->rank; i++) inner *= x->dims[i];
    }
    if (c->numel > a)
        return kp_op_fail(ctx, KP_EINVAL, "condition has %lld entries for an axis of %lld",
                          (long long)c->numel, (long long)a);
    int64_t kept = 0;
    for (int64_t i = 0; i < c->numel; i++) kept += cv[i] != 0;
    int64_t od[KP_MAX_RANK];
    int orank = has_axis ? x->rank : 1;
    if (has_axis) {
        memcpy(od, x->dims, sizeof od);
        od[axis] = kept;
    } else
        od[0] = kept;
    OUT_OR_FAIL(o, ctx, 0, x->dtype, orank, od);
    if (o->numel == 0) return 0;
    uint8_t *dst = o->data;
    size_t blk = (size_t)inner * es;
    for (int64_t p = 0; p < outer; p++)
        for (int64_t i = 0; i < c->numel; i++)
            if (cv[i]) {
                memcpy(dst, (const uint8_t *)x->data + (size_t)(p * a + i) * blk, blk);
                dst += blk;
            }
    return 0;
}

static int run_nonzero(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x || kp_elem_kind_of(x->dtype) == KP_EK_NONE)
        return kp_op_fail(ctx, KP_EINVAL, "needs one numeric or bool input");
    int64_t nnz = 0;
    for (int64_t i = 0; i < x->numel; i++) nnz += kp_elem_getd(x->data, x->dtype, i) != 0;
    int64_t od[2] = {x->rank, nnz};
    OUT_OR_FAIL(o, ctx, 0, KP_INT64, 2, od);
    int64_t *out = o->data, j = 0;
    for (int64_t i = 0; i < x->numel; i++) {
        if (kp_elem_getd(x->data, x->dtype, i) == 0) continue;
        int64_t rem = i;
        for (int d = x->rank - 1; d >= 0; d--) {
            out[d * nnz + j] = rem % x->dims[d];
            rem /= x->dims[d];
        }
        j++;
    }
    return 0;
}

static int run_onehot(kp_op_ctx *ctx) {
    const kp_tensor *ind = kp_op_input(ctx, 0), *dep = kp_op_input(ctx, 1),
                    *val = kp_op_input(ctx, 2);
    if (!ind || !dep || !val) return kp_op_fail(ctx, KP_EINVAL, "needs indices, depth, values");
    if (kp_elem_kind_of(ind->dtype) == KP_EK_NONE || val->numel != 2 || !kp_dtype_size(val->dtype))
        return kp_op_fail(ctx, KP_EINVAL, "indices must be numeric and values hold 2 entries");
    double dd;
    int rc = kp_args_scalar_d(ctx, dep, "depth", &dd);
    if (rc) return rc;
    if (!(dd >= 1) || dd > (double)KP_MAX_NUMEL)
        return kp_op_fail(ctx, KP_EINVAL, "depth %g is invalid", dd);
    int64_t depth = (int64_t)dd;
    int orank = ind->rank + 1, axis;
    if (orank > KP_MAX_RANK) return kp_op_fail(ctx, KP_ERANGE, "output rank too large");
    if ((rc = kp_args_axis(ctx, kp_node_attr_int(ctx->node, "axis", -1), orank, &axis))) return rc;
    int64_t od[KP_MAX_RANK];
    for (int i = 0, j = 0; i < orank; i++) od[i] = i == axis ? depth : ind->dims[j++];
    OUT_OR_FAIL(o, ctx, 0, val->dtype, orank, od);
    size_t es = kp_dtype_size(val->dtype);
    const uint8_t *off = val->data, *on = off + es;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++) outer *= od[i];
    for (int i = axis + 1; i < orank; i++) inner *= od[i];
    uint8_t *dst = o->data;
    for (int64_t i = 0; i < o->numel; i++) memcpy(dst + i * (int64_t)es, off, es);
    for (int64_t p = 0; p < outer; p++)
        for (int64_t q = 0; q < inner; q++) {
            double dv = kp_elem_getd(ind->data, ind->dtype, p * inner + q);
            if (!(dv > -(double)depth - 1 && dv < (double)depth)) continue; /* NaN too */
            int64_t v = (int64_t)dv;
            if (v < 0) v += depth;
            if (v < 0 || v >= depth) continue;
            memcpy(dst + ((p * depth + v) * inner + q) * (int64_t)es, on, es);
        }
    return 0;
}

const kp_op_def kp_ops_index[] = {
    {"", "Compress", run_compress},
    {"", "Gather", run_gather},
    {"", "GatherElements", run_gather_elements},
    {"", "GatherND", run_gather_nd},
    {"", "NonZero", run_nonzero},
    {"", "OneHot", run_onehot},
    {"", "Scatter", run_scatter_elements},
    {"", "ScatterElements", run_scatter_elements},
    {"", "ScatterND", run_scatter_nd},
    {"", "TopK", run_topk},
    {0},
};
