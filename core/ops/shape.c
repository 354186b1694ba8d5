/* Shape and layout kernels: Reshape (allowzero), Flatten, Squeeze/Unsqueeze (axes attribute
 * before 13, input from 13), Shape (start/end), Size, Concat, Split (split attribute before 13,
 * input from 13, num_outputs from 18), Transpose, Expand, Tile, Slice (attributes before 10,
 * inputs from 10), Pad (attributes before 11, inputs from 11, axes from 18; constant, reflect,
 * edge and wrap modes), DepthToSpace (DCR/CRD), SpaceToDepth, Identity. Data moves as raw
 * elements, so every fixed-size dtype works. */
#include "core/ops/vectorize.h"

#include <stdlib.h>
#include <string.h>

#include "core/ops/args.h"
#include "core/ops/broadcast.h"
#include "core/ops/elem.h"
#include "core/ops/ops.h"

#define OUT_OR_FAIL(o, ...)                                                                        \
    kp_tensor *o = kp_op_output(__VA_ARGS__);                                                      \
    if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM

static int need_input_s(kp_op_ctx *ctx, const kp_tensor **x, int allow_strings) {
    *x = kp_op_input(ctx, 0);
    if (!*x) return kp_op_fail(ctx, KP_EINVAL, "input is missing");
    if (!kp_dtype_size((*x)->dtype) && !allow_strings)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "dtype %s is not supported",
                          kp_dtype_name((*x)->dtype));
    return 0;
}

static int need_input(kp_op_ctx *ctx, const kp_tensor **x) {
    return need_input_s(ctx, x, 0);
}

/* Output 0 = x's data with a new shape. */
static int reshaped(kp_op_ctx *ctx, const kp_tensor *x, int rank, const int64_t *dims) {
    OUT_OR_FAIL(o, ctx, 0, x->dtype, rank, dims);
    if (o->numel != x->numel)
        return kp_op_fail(ctx, KP_EINVAL, "cannot reshape %lld elements into %lld",
                          (long long)x->numel, (long long)o->numel);
    return kp_args_copy(ctx, o, x);
}

static int run_identity(kp_op_ctx *ctx) {
    const kp_tensor *x;
    int rc = need_input_s(ctx, &x, 1);
    return rc ? rc : reshaped(ctx, x, x->rank, x->dims);
}

static int run_reshape(kp_op_ctx *ctx) {
    const kp_tensor *x;
    int rc = need_input_s(ctx, &x, 1);
    if (rc) return rc;
    int64_t shape[KP_MAX_RANK];
    size_t n;
    if (ctx->opset < 5) {
        const int64_t *a;
        n = kp_node_attr_ints(ctx->node, "shape", &a);
        if (n > KP_MAX_RANK) return kp_op_fail(ctx, KP_ERANGE, "shape has %zu dims", n);
        if (n) memcpy(shape, a, n * sizeof *a);
    } else if ((rc = kp_args_ints(ctx, kp_op_input(ctx, 1), "shape", shape, KP_MAX_RANK, &n)))
        return rc;
    int allowzero = (int)kp_node_attr_int(ctx->node, "allowzero", 0);
    int infer = -1;
    int64_t known = 1;
    for (size_t i = 0; i < n; i++) {
        if (shape[i] == 0 && !allowzero) {
            if ((int)i >= x->rank)
                return kp_op_fail(ctx, KP_EINVAL, "shape[%zu] = 0 copies a dim the input lacks", i);
            shape[i] = x->dims[i];
        }
        if (shape[i] == -1) {
            if (infer >= 0) return kp_op_fail(ctx, KP_EINVAL, "shape has more than one -1");
            infer = (int)i;
            continue;
        }
        if (shape[i] < 0)
            return kp_op_fail(ctx, KP_EINVAL, "shape[%zu] = %lld is invalid", i,
                              (long long)shape[i]);
        if (__builtin_mul_overflow(known, shape[i], &known) || known > KP_MAX_NUMEL)
            return kp_op_fail(ctx, KP_ERANGE, "shape has too many elements");
    }
    if (infer >= 0) {
        if (known == 0 || x->numel % known)
            return kp_op_fail(ctx, KP_EINVAL, "cannot infer the -1 dim: %lld elements into %lld",
                              (long long)x->numel, (long long)known);
        shape[infer] = x->numel / known;
    }
    return reshaped(ctx, x, (int)n, shape);
}

static int run_flatten(kp_op_ctx *ctx) {
    const kp_tensor *x;
    int rc = need_input_s(ctx, &x, 1);
    if (rc) return rc;
    int64_t axis = kp_node_attr_int(ctx->node, "axis", 1);
    if (axis < -(int64_t)x->rank || axis > x->rank)
        return kp_op_fail(ctx, KP_EINVAL, "axis %lld is out of range for rank %d", (long long)axis,
                          x->rank);
    if (axis < 0) axis += x->rank;
    int64_t d[2] = {1, 1};
    for (int i = 0; i < x->rank; i++) d[i >= axis] *= x->dims[i];
    return reshaped(ctx, x, 2, d);
}

static int run_squeeze(kp_op_ctx *ctx) {
    const kp_tensor *x;
    int rc = need_input_s(ctx, &x, 1);
    if (rc) return rc;
    int axes[KP_MAX_RANK], n, present;
    if ((rc = kp_args_axes(ctx, 1, 13, x->rank, axes, &n, &present))) return rc;
    int drop[KP_MAX_RANK] = {0};
    for (int i = 0; i < n; i++) {
        if (x->dims[axes[i]] != 1)
            return kp_op_fail(ctx, KP_EINVAL, "cannot squeeze axis %d of size %lld", axes[i],
                              (long long)x->dims[axes[i]]);
        drop[axes[i]] = 1;
    }
    int64_t d[KP_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++)
        if (!(n ? drop[i] : x->dims[i] == 1)) d[r++] = x->dims[i];
    return reshaped(ctx, x, r, d);
}

static int run_unsqueeze(kp_op_ctx *ctx) {
    const kp_tensor *x;
    int rc = need_input_s(ctx, &x, 1);
    if (rc) return rc;
    int64_t raw[KP_MAX_RANK];
    size_t n = 0;
    if (ctx->opset >= 13) {
        if ((rc = kp_args_ints(ctx, kp_op_input(ctx, 1), "axes", raw, KP_MAX_RANK, &n))) return rc;
    } else {
        const int64_t *a;
        n = kp_node_attr_ints(ctx->node, "axes", &a);
        if (n > KP_MAX_RANK) return kp_op_fail(ctx, KP_ERANGE, "too many axes (%zu)", n);
        if (n) memcpy(raw, a, n * sizeof *a);
    }
    int orank = x->rank + (int)n;
    if (orank > KP_MAX_RANK)
        return kp_op_fail(ctx, KP_ERANGE, "output rank %d is over %d", orank, KP_MAX_RANK);
    int ins[KP_MAX_RANK] = {0};
    for (size_t i = 0; i < n; i++) {
        int ax;
        if ((rc = kp_args_axis(ctx, raw[i], orank, &ax))) return rc;
        if (ins[ax]) return kp_op_fail(ctx, KP_EINVAL, "axis %d is listed twice", ax);
        ins[ax] = 1;
    }
    int64_t d[KP_MAX_RANK];
    for (int i = 0, j = 0; i < orank; i++) d[i] = ins[i] ? 1 : x->dims[j++];
    return reshaped(ctx, x, orank, d);
}

static int run_shape(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x) return kp_op_fail(ctx, KP_EINVAL, "input is missing");
    int64_t r = x->rank, s = kp_node_attr_int(ctx->node, "start", 0),
            e = kp_node_attr_int(ctx->node, "end", r);
    if (s < 0) s += r;
    if (e < 0) e += r;
    s = s < 0 ? 0 : s > r ? r : s;
    e = e < 0 ? 0 : e > r ? r : e;
    int64_t len = e > s ? e - s : 0;
    OUT_OR_FAIL(o, ctx, 0, KP_INT64, 1, &len);
    for (int64_t i = 0; i < len; i++) ((int64_t *)o->data)[i] = x->dims[s + i];
    return 0;
}

static int run_size(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x) return kp_op_fail(ctx, KP_EINVAL, "input is missing");
    OUT_OR_FAIL(o, ctx, 0, KP_INT64, 0, NULL);
    *(int64_t *)o->data = x->numel;
    return 0;
}

static int run_concat(kp_op_ctx *ctx) {
    if (ctx->n_in == 0) return kp_op_fail(ctx, KP_EINVAL, "needs at least one input");
    const kp_tensor *f;
    int rc = need_input(ctx, &f);
    if (rc) return rc;
    if (!kp_node_attr(ctx->node, "axis") && ctx->opset >= 4)
        return kp_op_fail(ctx, KP_EINVAL, "attribute 'axis' is required");
    int axis;
    if ((rc = kp_args_axis(ctx, kp_node_attr_int(ctx->node, "axis", 1), f->rank, &axis))) return rc;
    int64_t d[KP_MAX_RANK];
    memcpy(d, f->dims, sizeof d);
    d[axis] = 0;
    for (size_t k = 0; k < ctx->n_in; k++) {
        const kp_tensor *t = kp_op_input(ctx, k);
        if (!t) return kp_op_fail(ctx, KP_EINVAL, "input %zu is missing", k);
        if (t->dtype != f->dtype || t->rank != f->rank)
            return kp_op_fail(ctx, KP_EINVAL,
                              "input %zu (%s, rank %d) does not match input 0 "
                              "(%s, rank %d)",
                              k, kp_dtype_name(t->dtype), t->rank, kp_dtype_name(f->dtype),
                              f->rank);
        for (int i = 0; i < f->rank; i++)
            if (i != axis && t->dims[i] != f->dims[i])
                return kp_op_fail(ctx, KP_EINVAL, "input %zu dim %d is %lld, input 0 has %lld", k,
                                  i, (long long)t->dims[i], (long long)f->dims[i]);
        d[axis] += t->dims[axis];
    }
    OUT_OR_FAIL(o, ctx, 0, f->dtype, f->rank, d);
    if (o->numel == 0) return 0;
    size_t es = kp_dtype_size(f->dtype);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++) outer *= d[i];
    for (int i = axis + 1; i < f->rank; i++) inner *= d[i];
    uint8_t *dst = o->data;
    for (int64_t p = 0; p < outer; p++)
        for (size_t k = 0; k < ctx->n_in; k++) {
            const kp_tensor *t = ctx->in[k];
            size_t blk = (size_t)(t->dims[axis] * inner) * es;
            if (blk) memcpy(dst, (const uint8_t *)t->data + (size_t)p * blk, blk);
            dst += blk;
        }
    return 0;
}

static int run_split(kp_op_ctx *ctx) {
    const kp_tensor *x;
    int rc = need_input(ctx, &x);
    if (rc) return rc;
    int axis;
    if ((rc = kp_args_axis(ctx, kp_node_attr_int(ctx->node, "axis", 0), x->rank, &axis))) return rc;
    size_t n = ctx->n_out;
    if (n == 0) return kp_op_fail(ctx, KP_EINVAL, "has no outputs");
    int64_t *sz = calloc(n, sizeof *sz);
    if (!sz) return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
    int64_t dim = x->dims[axis];
    size_t got = 0;
    const kp_tensor *st = ctx->opset >= 13 ? kp_op_input(ctx, 1) : NULL;
    const int64_t *a = NULL;
    size_t na = ctx->opset < 13 ? kp_node_attr_ints(ctx->node, "split", &a) : 0;
    if (st) {
        rc = kp_args_ints(ctx, st, "split", sz, n, &got);
        if (!rc && got != n)
            rc = kp_op_fail(ctx, KP_EINVAL, "split lists %zu sizes for %zu outputs", got, n);
    } else if (na) {
        if (na != n)
            rc = kp_op_fail(ctx, KP_EINVAL, "split lists %zu sizes for %zu outputs", na, n);
        else
            memcpy(sz, a, n * sizeof *sz);
    } else if (kp_node_attr(ctx->node, "num_outputs")) {
        int64_t no = kp_node_attr_int(ctx->node, "num_outputs", 0);
        if (no != (int64_t)n)
            rc = kp_op_fail(ctx, KP_EINVAL, "num_outputs is %lld but the node has %zu outputs",
                            (long long)no, n);
        int64_t chunk = (dim + (int64_t)n - 1) / (int64_t)n;
        for (size_t i = 0; i < n && !rc; i++) {
            int64_t left = dim - chunk * (int64_t)i;
            sz[i] = left < 0 ? 0 : left < chunk ? left : chunk;
        }
    } else {
        if (dim % (int64_t)n)
            rc = kp_op_fail(ctx, KP_EINVAL, "dim %lld does not split into %zu equal parts",
                            (long long)dim, n);
        for (size_t i = 0; i < n; i++) sz[i] = dim / (int64_t)n;
    }
    int64_t total = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (sz[i] < 0) rc = kp_op_fail(ctx, KP_EINVAL, "split size %lld", (long long)sz[i]);
        if (!rc && sz[i] > dim)
            rc = kp_op_fail(ctx, KP_EINVAL, "split size %lld exceeds the axis (%lld)",
                            (long long)sz[i], (long long)dim);
        if (!rc) total += sz[i];
    }
    if (!rc && total != dim)
        rc = kp_op_fail(ctx, KP_EINVAL, "split sizes add up to %lld, the axis has %lld",
                        (long long)total, (long long)dim);
    size_t es = kp_dtype_size(x->dtype);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++) outer *= x->dims[i];
    for (int i = axis + 1; i < x->rank; i++) inner *= x->dims[i];
    int64_t start = 0;
    for (size_t k = 0; k < n && !rc; k++) {
        int64_t d[KP_MAX_RANK];
        memcpy(d, x->dims, sizeof d);
        d[axis] = sz[k];
        kp_tensor *o = kp_op_output(ctx, k, x->dtype, x->rank, d);
        if (!o) {
            rc = ctx->err->code ? ctx->err->code : KP_ENOMEM;
            break;
        }
        size_t blk = (size_t)(sz[k] * inner) * es, row = (size_t)(dim * inner) * es;
        for (int64_t p = 0; p < outer && blk; p++)
            memcpy((uint8_t *)o->data + (size_t)p * blk,
                   (const uint8_t *)x->data + (size_t)p * row + (size_t)(start * inner) * es, blk);
        start += sz[k];
    }
    free(sz);
    return rc;
}

/* Gathers x into o where output element (i_0..i_r-1) reads input offset
 * base + sum(i_d * src_stride[d]) (element units). Rows of the last dim are inner loops. */
static void strided_copy(uint8_t *o, const uint8_t *x, size_t es, int rank, const int64_t *od,
                         const int64_t *src_stride, int64_t base) {
    int64_t numel = 1;
    for (int d = 0; d < rank; d++) numel *= od[d];
    if (numel == 0) return;
    if (rank == 0) {
        memcpy(o, x + base * (int64_t)es, es);
        return;
    }
    int64_t inner = od[rank - 1], s = src_stride[rank - 1], rows = numel / inner;
    int64_t idx[KP_MAX_RANK] = {0}, off = base;
    for (int64_t r = 0; r < rows; r++) {
        if (s == 1)
            memcpy(o, x + off * (int64_t)es, (size_t)inner * es);
        else if (es == 4)
            for (int64_t i = 0; i < inner; i++) memcpy(o + i * 4, x + (off + i * s) * 4, 4);
        else
            for (int64_t i = 0; i < inner; i++)
                memcpy(o + i * (int64_t)es, x + (off + i * s) * (int64_t)es, es);
        o += inner * (int64_t)es;
        for (int d = rank - 2; d >= 0; d--) {
            off += src_stride[d];
            if (++idx[d] < od[d]) break;
            off -= src_stride[d] * od[d];
            idx[d] = 0;
        }
    }
}

/* Copy for permutations that move the input's contiguous dim away from the output's last dim:
 * dims[p] has input stride 1 and the output's last dim a large input stride, so the (p, last)
 * plane is copied in TILE x TILE blocks to keep both reads and writes in cache. */
#define TILE 32
static void tiled_transpose(uint8_t *o, const uint8_t *x, size_t es, int rank, const int64_t *od,
                            const int64_t *ss) {
    int p = -1;
    for (int d = 0; d < rank - 1; d++)
        if (ss[d] == 1) p = d;
    if (p < 0) { /* no contiguous input dim (cannot happen for a permutation) */
        strided_copy(o, x, es, rank, od, ss, 0);
        return;
    }
    int64_t ost[KP_MAX_RANK], idx[KP_MAX_RANK] = {0};
    kp_args_strides(rank, od, ost);
    int64_t P = od[p], L = od[rank - 1], sL = ss[rank - 1], oP = ost[p];
    int64_t outer = 1;
    for (int d = 0; d < rank - 1; d++)
        if (d != p) outer *= od[d];
    for (int64_t q = 0; q < outer; q++) {
        int64_t bi = 0, bo = 0;
        for (int d = 0; d < rank - 1; d++)
            if (d != p) {
                bi += idx[d] * ss[d];
                bo += idx[d] * ost[d];
            }
        for (int64_t i0 = 0; i0 < P; i0 += TILE)
            for (int64_t j0 = 0; j0 < L; j0 += TILE) {
                int64_t ie = i0 + TILE < P ? i0 + TILE : P, je = j0 + TILE < L ? j0 + TILE : L;
                if (es == 4) {
                    const uint32_t *xi = (const uint32_t *)(const void *)x + bi;
                    uint32_t *oo = (uint32_t *)(void *)o + bo;
                    for (int64_t i = i0; i < ie; i++)
                        for (int64_t j = j0; j < je; j++) oo[i * oP + j] = xi[i + j * sL];
                } else {
                    for (int64_t i = i0; i < ie; i++)
                        for (int64_t j = j0; j < je; j++)
                            memcpy(o + (size_t)(bo + i * oP + j) * es,
                                   x + (size_t)(bi + i + j * sL) * es, es);
                }
            }
        for (int d = rank - 2; d >= 0; d--) {
            if (d == p) continue;
            if (++idx[d] < od[d]) break;
            idx[d] = 0;
        }
    }
}

static int run_transpose(kp_op_ctx *ctx) {
    const kp_tensor *x;
    int rc = need_input(ctx, &x);
    if (rc) return rc;
    const int64_t *p;
    size_t n = kp_node_attr_ints(ctx->node, "perm", &p);
    int perm[KP_MAX_RANK];
    if (n == 0)
        for (int i = 0; i < x->rank; i++) perm[i] = x->rank - 1 - i;
    else {
        if (n != (size_t)x->rank)
            return kp_op_fail(ctx, KP_EINVAL, "perm has %zu entries for rank %d", n, x->rank);
        unsigned seen = 0;
        for (size_t i = 0; i < n; i++) {
            int ax;
            if ((rc = kp_args_axis(ctx, p[i], x->rank, &ax))) return rc;
            if (seen & (1u << ax)) return kp_op_fail(ctx, KP_EINVAL, "perm repeats axis %d", ax);
            seen |= 1u << ax;
            perm[i] = ax;
        }
    }
    int64_t st[KP_MAX_RANK], od[KP_MAX_RANK], ss[KP_MAX_RANK];
    kp_args_strides(x->rank, x->dims, st);
    for (int i = 0; i < x->rank; i++) {
        od[i] = x->dims[perm[i]];
        ss[i] = st[perm[i]];
    }
    OUT_OR_FAIL(o, ctx, 0, x->dtype, x->rank, od);
    /* drop size-1 dims (their stride is irrelevant) and merge output dims that stay
     * contiguous in the input, then pick the copy strategy */
    int64_t cd[KP_MAX_RANK], cs[KP_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (od[i] == 1) continue;
        if (r > 0 && cs[r - 1] == ss[i] * od[i]) {
            cd[r - 1] *= od[i];
            cs[r - 1] = ss[i];
            continue;
        }
        cd[r] = od[i];
        cs[r] = ss[i];
        r++;
    }
    size_t es = kp_dtype_size(x->dtype);
    if (o->numel == 0) return 0;
    if (r <= 1 || cs[r - 1] == 1)
        strided_copy(o->data, x->data, es, r, cd, cs, 0);
    else
        tiled_transpose(o->data, x->data, es, r, cd, cs);
    return 0;
}

static int run_expand(kp_op_ctx *ctx) {
    const kp_tensor *x;
    int rc = need_input(ctx, &x);
    if (rc) return rc;
    int64_t shape[KP_MAX_RANK], d[KP_MAX_RANK];
    size_t n;
    if ((rc = kp_args_ints(ctx, kp_op_input(ctx, 1), "shape", shape, KP_MAX_RANK, &n))) return rc;
    int ranks[2] = {x->rank, (int)n}, r;
    const int64_t *ds[2] = {x->dims, shape};
    if ((rc = kp_bcast_shape(2, ranks, ds, &r, d, ctx->err)))
        return kp_op_fail(ctx, rc, "%s", ctx->err->msg);
    OUT_OR_FAIL(o, ctx, 0, x->dtype, r, d);
    kp_bcast_copy(o, x);
    return 0;
}

static int run_tile(kp_op_ctx *ctx) {
    const kp_tensor *x;
    int rc = need_input(ctx, &x);
    if (rc) return rc;
    int64_t rep[KP_MAX_RANK], d[KP_MAX_RANK];
    size_t n;
    if ((rc = kp_args_ints(ctx, kp_op_input(ctx, 1), "repeats", rep, KP_MAX_RANK, &n))) return rc;
    if (n != (size_t)x->rank)
        return kp_op_fail(ctx, KP_EINVAL, "repeats has %zu entries for rank %d", n, x->rank);
    for (int i = 0; i < x->rank; i++) {
        if (rep[i] < 0) return kp_op_fail(ctx, KP_EINVAL, "repeats[%d] is negative", i);
        if (__builtin_mul_overflow(x->dims[i], rep[i], &d[i]) || d[i] > KP_MAX_NUMEL)
            return kp_op_fail(ctx, KP_ERANGE, "repeats[%d] makes the output too large", i);
    }
    OUT_OR_FAIL(o, ctx, 0, x->dtype, x->rank, d);
    if (o->numel == 0) return 0;
    size_t es = kp_dtype_size(x->dtype);
    int64_t st[KP_MAX_RANK], idx[KP_MAX_RANK] = {0};
    kp_args_strides(x->rank, x->dims, st);
    int r = x->rank;
    int64_t inner = r ? d[r - 1] : 1, rows = o->numel / inner, xin = r ? x->dims[r - 1] : 1;
    uint8_t *dst = o->data;
    for (int64_t row = 0; row < rows; row++) {
        int64_t off = 0;
        for (int k = 0; k < r - 1; k++) off += (idx[k] % x->dims[k]) * st[k];
        for (int64_t j = 0; j < inner; j += xin)
            memcpy(dst + j * (int64_t)es, (const uint8_t *)x->data + off * (int64_t)es,
                   (size_t)xin * es);
        dst += inner * (int64_t)es;
        for (int k = r - 2; k >= 0; k--) {
            if (++idx[k] < d[k]) break;
            idx[k] = 0;
        }
    }
    return 0;
}

static int run_slice(kp_op_ctx *ctx) {
    const kp_tensor *x;
    int rc = need_input(ctx, &x);
    if (rc) return rc;
    int r = x->rank;
    int64_t starts[KP_MAX_RANK], ends[KP_MAX_RANK], axes[KP_MAX_RANK], steps[KP_MAX_RANK];
    size_t ns, ne, na, nst;
    if (ctx->opset < 10) {
        const int64_t *a;
        ns = kp_node_attr_ints(ctx->node, "starts", &a);
        if (ns > KP_MAX_RANK) return kp_op_fail(ctx, KP_ERANGE, "too many starts");
        if (ns) memcpy(starts, a, ns * sizeof *a);
        ne = kp_node_attr_ints(ctx->node, "ends", &a);
        if (ne > KP_MAX_RANK) return kp_op_fail(ctx, KP_ERANGE, "too many ends");
        if (ne) memcpy(ends, a, ne * sizeof *a);
        na = kp_node_attr_ints(ctx->node, "axes", &a);
        if (na > KP_MAX_RANK) return kp_op_fail(ctx, KP_ERANGE, "too many axes");
        if (na) memcpy(axes, a, na * sizeof *a);
        nst = 0;
    } else {
        if ((rc = kp_args_ints(ctx, kp_op_input(ctx, 1), "starts", starts, KP_MAX_RANK, &ns)) ||
            (rc = kp_args_ints(ctx, kp_op_input(ctx, 2), "ends", ends, KP_MAX_RANK, &ne)))
            return rc;
        na = nst = 0;
        if (kp_op_input(ctx, 3) &&
            (rc = kp_args_ints(ctx, kp_op_input(ctx, 3), "axes", axes, KP_MAX_RANK, &na)))
            return rc;
        if (kp_op_input(ctx, 4) &&
            (rc = kp_args_ints(ctx, kp_op_input(ctx, 4), "steps", steps, KP_MAX_RANK, &nst)))
            return rc;
    }
    if (ne != ns) return kp_op_fail(ctx, KP_EINVAL, "%zu starts but %zu ends", ns, ne);
    if (!na) {
        if (ns > (size_t)r) return kp_op_fail(ctx, KP_EINVAL, "%zu starts for rank %d", ns, r);
        for (size_t i = 0; i < ns; i++) axes[i] = (int64_t)i;
        na = ns;
    }
    if (na != ns) return kp_op_fail(ctx, KP_EINVAL, "%zu axes for %zu starts", na, ns);
    if (!nst) {
        for (size_t i = 0; i < ns; i++) steps[i] = 1;
        nst = ns;
    }
    if (nst != ns) return kp_op_fail(ctx, KP_EINVAL, "%zu steps for %zu starts", nst, ns);
    int64_t first[KP_MAX_RANK], step[KP_MAX_RANK], od[KP_MAX_RANK];
    for (int i = 0; i < r; i++) {
        first[i] = 0;
        step[i] = 1;
        od[i] = x->dims[i];
    }
    unsigned seen = 0;
    for (size_t i = 0; i < ns; i++) {
        int ax;
        if ((rc = kp_args_axis(ctx, axes[i], r, &ax))) return rc;
        if (seen & (1u << ax)) return kp_op_fail(ctx, KP_EINVAL, "axis %d is listed twice", ax);
        seen |= 1u << ax;
        int64_t dim = x->dims[ax], s = starts[i], e = ends[i], k = steps[i];
        if (k == 0) return kp_op_fail(ctx, KP_EINVAL, "step for axis %d is 0", ax);
        if (k == INT64_MIN) k = -INT64_MAX; /* same result, and -k stays representable */
        if (s < 0) s = s < -dim ? 0 - (k < 0) : s + dim;
        if (e < 0) e = e < -dim ? -1 : e + dim;
        int64_t cnt;
        if (k > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
            cnt = e > s ? (e - s - 1) / k + 1 : 0;
        } else {
            s = s < 0 ? -1 : s > dim - 1 ? dim - 1 : s;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            cnt = s > e ? (s - e - 1) / (-k) + 1 : 0;
        }
        first[ax] = s;
        step[ax] = k;
        od[ax] = cnt;
    }
    OUT_OR_FAIL(o, ctx, 0, x->dtype, r, od);
    if (o->numel == 0) return 0;
    int64_t st[KP_MAX_RANK], ss[KP_MAX_RANK], base = 0;
    kp_args_strides(r, x->dims, st);
    for (int i = 0; i < r; i++) {
        base += first[i] * st[i];
        ss[i] = step[i] * st[i];
    }
    strided_copy(o->data, x->data, kp_dtype_size(x->dtype), r, od, ss, base);
    return 0;
}

typedef enum padmode { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP } padmode;

/* Source index for output index i along a dim of size n with `before` padding; -1 = constant. */
static int64_t pad_src(padmode m, int64_t i, int64_t before, int64_t n) {
    int64_t j = i - before;
    if (j >= 0 && j < n) return j;
    switch (m) {
    case PAD_EDGE: return j < 0 ? 0 : n - 1;
    case PAD_WRAP: return ((j % n) + n) % n;
    case PAD_REFLECT: {
        if (n == 1) return 0;
        int64_t p = 2 * (n - 1);
        j = ((j % p) + p) % p;
        return j >= n ? p - j : j;
    }
    default: return -1;
    }
}

static int run_pad(kp_op_ctx *ctx) {
    const kp_tensor *x;
    int rc = need_input(ctx, &x);
    if (rc) return rc;
    int r = x->rank;
    const char *ms = kp_node_attr_string(ctx->node, "mode", "constant");
    padmode mode;
    if (!strcmp(ms, "constant"))
        mode = PAD_CONSTANT;
    else if (!strcmp(ms, "reflect"))
        mode = PAD_REFLECT;
    else if (!strcmp(ms, "edge"))
        mode = PAD_EDGE;
    else if (!strcmp(ms, "wrap"))
        mode = PAD_WRAP;
    else
        return kp_op_fail(ctx, KP_EINVAL, "unknown mode \"%s\"", ms);
    int64_t raw[2 * KP_MAX_RANK], pads[2 * KP_MAX_RANK] = {0};
    size_t np;
    double cval = 0;
    int axes[KP_MAX_RANK], na = r;
    for (int i = 0; i < r; i++) axes[i] = i;
    if (ctx->opset < 11) {
        const int64_t *a;
        np = kp_node_attr_ints(ctx->node, ctx->opset < 2 ? "paddings" : "pads", &a);
        if (np > 2 * KP_MAX_RANK) return kp_op_fail(ctx, KP_ERANGE, "too many pads");
        if (np) memcpy(raw, a, np * sizeof *a);
        cval = kp_node_attr_float(ctx->node, "value", 0.0f);
    } else {
        if ((rc = kp_args_ints(ctx, kp_op_input(ctx, 1), "pads", raw, 2 * KP_MAX_RANK, &np)))
            return rc;
        const kp_tensor *cv = kp_op_input(ctx, 2);
        if (cv && cv->numel > 0 && (rc = kp_args_scalar_d(ctx, cv, "constant_value", &cval)))
            return rc;
        int present;
        if (ctx->opset >= 18 && kp_op_input(ctx, 3)) {
            if ((rc = kp_args_axes(ctx, 3, 18, r, axes, &na, &present))) return rc;
        }
    }
    if (np != 2 * (size_t)na)
        return kp_op_fail(ctx, KP_EINVAL, "pads has %zu entries, expected %d", np, 2 * na);
    for (int i = 0; i < na; i++) {
        pads[axes[i]] = raw[i];
        pads[r + axes[i]] = raw[na + i];
    }
    int64_t od[KP_MAX_RANK];
    for (int i = 0; i < r; i++) {
        if (pads[i] < -KP_MAX_NUMEL || pads[i] > KP_MAX_NUMEL || pads[r + i] < -KP_MAX_NUMEL ||
            pads[r + i] > KP_MAX_NUMEL)
            return kp_op_fail(ctx, KP_ERANGE, "pads for dim %d are out of range", i);
        od[i] = x->dims[i] + pads[i] + pads[r + i];
        if (od[i] < 0) return kp_op_fail(ctx, KP_EINVAL, "pads make dim %d negative", i);
        if (mode != PAD_CONSTANT && x->dims[i] == 0 && od[i] > 0)
            return kp_op_fail(ctx, KP_EINVAL, "cannot %s-pad an empty dim", ms);
    }
    OUT_OR_FAIL(o, ctx, 0, x->dtype, r, od);
    if (o->numel == 0) return 0;
    size_t es = kp_dtype_size(x->dtype);
    uint8_t cbytes[16] = {0};
    kp_elem_kind k = kp_elem_kind_of(x->dtype);
    if (k != KP_EK_NONE)
        kp_elem_setd(cbytes, x->dtype, 0, cval);
    else if (cval != 0)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "constant padding of %s", kp_dtype_name(x->dtype));
    if (r == 0) return kp_args_copy(ctx, o, x);
    int64_t st[KP_MAX_RANK], idx[KP_MAX_RANK] = {0};
    kp_args_strides(r, x->dims, st);
    int64_t inner = od[r - 1], rows = o->numel / inner, xin = x->dims[r - 1], before = pads[r - 1];
    uint8_t *dst = o->data;
    const uint8_t *src = x->data;
    for (int64_t row = 0; row < rows; row++) {
        int64_t off = 0;
        int outside = 0;
        for (int d = 0; d < r - 1 && !outside; d++) {
            int64_t j = pad_src(mode, idx[d], pads[d], x->dims[d]);
            if (j < 0)
                outside = 1;
            else
                off += j * st[d];
        }
        /* the interior of the row [lo, hi) maps to consecutive source elements: one memcpy;
         * only the padded edges go element by element */
        int64_t lo = before < 0 ? 0 : before, hi = before + xin < inner ? before + xin : inner;
        if (outside || hi < lo) lo = hi = 0;
        for (int64_t i = 0; i < lo; i++) {
            int64_t j = pad_src(mode, i, before, xin);
            memcpy(dst + i * (int64_t)es, j < 0 ? cbytes : src + (off + j) * (int64_t)es, es);
        }
        if (hi > lo)
            memcpy(dst + lo * (int64_t)es, src + (off + lo - before) * (int64_t)es,
                   (size_t)(hi - lo) * es);
        for (int64_t i = hi > lo ? hi : 0; i < inner; i++) {
            int64_t j = outside ? -1 : pad_src(mode, i, before, xin);
            memcpy(dst + i * (int64_t)es, j < 0 ? cbytes : src + (off + j) * (int64_t)es, es);
        }
        dst += inner * (int64_t)es;
        for (int d = r - 2; d >= 0; d--) {
            if (++idx[d] < od[d]) break;
            idx[d] = 0;
        }
    }
    return 0;
}

/* DepthToSpace / SpaceToDepth on NCHW. */
static int depth_space(kp_op_ctx *ctx, int to_space) {
    const kp_tensor *x;
    int rc = need_input(ctx, &x);
    if (rc) return rc;
    if (x->rank != 4) return kp_op_fail(ctx, KP_EINVAL, "input must be 4-D, has rank %d", x->rank);
    int64_t b = kp_node_attr_int(ctx->node, "blocksize", 0);
    if (b <= 0 || b > 4096)
        return kp_op_fail(ctx, KP_EINVAL, "blocksize %lld is out of range", (long long)b);
    const char *mode = kp_node_attr_string(ctx->node, "mode", "DCR");
    int crd = to_space && !strcmp(mode, "CRD");
    if (to_space && !crd && strcmp(mode, "DCR"))
        return kp_op_fail(ctx, KP_EINVAL, "unknown mode \"%s\"", mode);
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t od[4];
    if (to_space) {
        if (C % (b * b))
            return kp_op_fail(ctx, KP_EINVAL, "channels %lld not divisible by blocksize^2",
                              (long long)C);
        od[0] = N, od[1] = C / (b * b), od[2] = H * b, od[3] = W * b;
    } else {
        if (H % b || W % b)
            return kp_op_fail(ctx, KP_EINVAL, "spatial dims %lldx%lld not divisible by %lld",
                              (long long)H, (long long)W, (long long)b);
        od[0] = N, od[1] = C * b * b, od[2] = H / b, od[3] = W / b;
    }
    OUT_OR_FAIL(o, ctx, 0, x->dtype, 4, od);
    size_t es = kp_dtype_size(x->dtype);
    /* Walk the "space" tensor (small C, big HW) and map to the "depth" tensor. */
    int64_t sC = to_space ? od[1] : C, sH = to_space ? od[2] : H, sW = to_space ? od[3] : W;
    int64_t dC = sC * b * b, dH = sH / b, dW = sW / b;
    uint8_t *so = to_space ? o->data : NULL;
    const uint8_t *si = to_space ? NULL : x->data;
    uint8_t *dout = to_space ? NULL : o->data;
    const uint8_t *din = to_space ? x->data : NULL;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < sC; c++)
            for (int64_t h = 0; h < sH; h++)
                for (int64_t w = 0; w < sW; w++) {
                    int64_t i = h % b, j = w % b;
                    int64_t dc = crd ? c * b * b + i * b + j : (i * b + j) * sC + c;
                    int64_t so_off = ((n * sC + c) * sH + h) * sW + w;
                    int64_t d_off = ((n * dC + dc) * dH + h / b) * dW + w / b;
                    if (to_space)
                        memcpy(so + so_off * (int64_t)es, din + d_off * (int64_t)es, es);
                    else
                        memcpy(dout + d_off * (int64_t)es, si + so_off * (int64_t)es, es);
                }
    return 0;
}

static int run_d2s(kp_op_ctx *ctx) {
    return depth_space(ctx, 1);
}
static int run_s2d(kp_op_ctx *ctx) {
    return depth_space(ctx, 0);
}

/* Trilu: keeps the upper (j - i >= k) or lower (j - i <= k) triangle of the last two dims. */
static int run_trilu(kp_op_ctx *ctx) {
    const kp_tensor *x;
    int rc = need_input(ctx, &x);
    if (rc) return rc;
    if (x->rank < 2) return kp_op_fail(ctx, KP_EINVAL, "input must have rank >= 2");
    int64_t k = 0;
    if (kp_op_input(ctx, 1) && (rc = kp_args_scalar_i(ctx, kp_op_input(ctx, 1), "k", &k)))
        return rc;
    int upper = (int)kp_node_attr_int(ctx->node, "upper", 1);
    OUT_OR_FAIL(o, ctx, 0, x->dtype, x->rank, x->dims);
    if ((rc = kp_args_copy(ctx, o, x))) return rc;
    int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
    int64_t mats = (rows && cols) ? x->numel / (rows * cols) : 0;
    size_t es = kp_dtype_size(x->dtype);
    uint8_t *p = o->data;
    for (int64_t m = 0; m < mats; m++)
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++) {
                int keep = upper ? j - i >= k : j - i <= k;
                if (!keep) memset(p + ((m * rows + i) * cols + j) * (int64_t)es, 0, es);
            }
    return 0;
}

static int run_eyelike(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x || x->rank != 2) return kp_op_fail(ctx, KP_EINVAL, "input must be 2-D");
    kp_dtype dt = (kp_dtype)kp_node_attr_int(ctx->node, "dtype", x->dtype);
    if (!kp_dtype_valid((int)dt) || kp_elem_kind_of(dt) == KP_EK_NONE)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "dtype %d", (int)dt);
    int64_t k = kp_node_attr_int(ctx->node, "k", 0);
    OUT_OR_FAIL(o, ctx, 0, dt, 2, x->dims);
    if (o->nbytes) memset(o->data, 0, o->nbytes);
    for (int64_t i = 0; i < x->dims[0]; i++) {
        int64_t j = i + k;
        if (j >= 0 && j < x->dims[1]) kp_elem_seti(o->data, dt, i * x->dims[1] + j, 1);
    }
    return 0;
}

static int run_reverse_sequence(kp_op_ctx *ctx) {
    const kp_tensor *x, *lens = kp_op_input(ctx, 1);
    int rc = need_input(ctx, &x);
    if (rc) return rc;
    int64_t ba = kp_node_attr_int(ctx->node, "batch_axis", 1),
            ta = kp_node_attr_int(ctx->node, "time_axis", 0);
    if (x->rank < 2 || !((ba == 0 && ta == 1) || (ba == 1 && ta == 0)))
        return kp_op_fail(ctx, KP_EINVAL, "needs rank >= 2 and batch/time axes 0 and 1");
    int64_t batch = x->dims[ba], time = x->dims[ta];
    int64_t lv[4096];
    size_t nl;
    if (batch > 4096)
        return kp_op_fail(ctx, KP_ERANGE, "batch of %lld is too large", (long long)batch);
    if ((rc = kp_args_ints(ctx, lens, "sequence_lens", lv, (size_t)batch, &nl))) return rc;
    if ((int64_t)nl != batch)
        return kp_op_fail(ctx, KP_EINVAL, "sequence_lens has %zu entries for a batch of %lld", nl,
                          (long long)batch);
    OUT_OR_FAIL(o, ctx, 0, x->dtype, x->rank, x->dims);
    if ((rc = kp_args_copy(ctx, o, x))) return rc;
    int64_t inner = 1;
    for (int i = 2; i < x->rank; i++) inner *= x->dims[i];
    if (o->numel == 0) return 0;
    size_t es = kp_dtype_size(x->dtype), blk = (size_t)inner * es;
    for (int64_t b = 0; b < batch; b++) {
        if (lv[b] < 0 || lv[b] > time)
            return kp_op_fail(ctx, KP_EINVAL, "sequence length %lld out of range",
                              (long long)lv[b]);
        for (int64_t t = 0; t < lv[b]; t++) {
            int64_t src = ta == 0 ? (t * batch + b) : (b * time + t);
            int64_t dt = lv[b] - 1 - t;
            int64_t dst = ta == 0 ? (dt * batch + b) : (b * time + dt);
            memcpy((uint8_t *)o->data + (size_t)dst * blk,
                   (const uint8_t *)x->data + (size_t)src * blk, blk);
        }
    }
    return 0;
}

const kp_op_def kp_ops_shape[] = {
    {"", "Concat", run_concat},
    {"", "DepthToSpace", run_d2s},
    {"", "Expand", run_expand},
    {"", "EyeLike", run_eyelike},
    {"", "Flatten", run_flatten},
    {"", "Identity", run_identity},
    {"", "Pad", run_pad},
    {"", "Reshape", run_reshape},
    {"", "ReverseSequence", run_reverse_sequence},
    {"", "Shape", run_shape},
    {"", "Size", run_size},
    {"", "Slice", run_slice},
    {"", "SpaceToDepth", run_s2d},
    {"", "Split", run_split},
    {"", "Squeeze", run_squeeze},
    {"", "Tile", run_tile},
    {"", "Transpose", run_transpose},
    {"", "Trilu", run_trilu},
    {"", "Unsqueeze", run_unsqueeze},
    {0},
};
