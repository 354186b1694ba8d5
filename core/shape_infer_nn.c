/* Shape rules for elementwise, convolution, pooling, matrix, normalization, reduction and
 * recurrent ops. Each rule fills c->out from c->in (unknown stays unknown) and fails only on
 * models that contradict themselves. */
#include <stdio.h>
#include <string.h>

#include "core/shape_infer_priv.h"

#define IN(i)  (&c->in[i])
#define HAS(i) ((i) < c->n_in && c->n->inputs[i][0])

static char *shape_text(const si_shape *s, char *buf, size_t cap) {
    if (s->rank < 0) {
        snprintf(buf, cap, "?");
        return buf;
    }
    size_t used = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < s->rank && used < cap; i++) {
        if (s->d[i].v >= 0)
            used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? "," : "",
                                     (long long)s->d[i].v);
        else
            used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? "," : "",
                                     s->d[i].sym ? s->d[i].sym : "?");
    }
    if (used < cap) snprintf(buf + used, cap - used, "]");
    return buf;
}

int si_fail_shapes(si_ctx *c, const char *what, const si_shape *a, const si_shape *b) {
    char x[160], y[160];
    return si_fail(c, "%s: %s and %s", what, shape_text(a, x, sizeof x),
                   shape_text(b, y, sizeof y));
}

/* ---- elementwise ---------------------------------------------------------------------- */

int si_rule_same(si_ctx *c) {
    if (c->n_out && c->n_in) c->out[0] = *IN(0);
    return 0;
}

int si_rule_bool_same(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    c->out[0] = *IN(0);
    c->out[0].elem = KP_BOOL;
    return 0;
}

/* Broadcast of every present input; elem of input `from` (or `force` when set). */
static int bcast_all(si_ctx *c, size_t from, kp_dtype force) {
    if (!c->n_out) return 0;
    si_shape acc;
    int first = 1;
    for (size_t i = 0; i < c->n_in; i++) {
        if (!HAS(i)) continue;
        if (first) {
            acc = *IN(i);
            first = 0;
            continue;
        }
        si_shape o;
        o.elem = acc.elem;
        int bad;
        if (si_broadcast(&acc, IN(i), &o, &bad))
            return si_fail_shapes(c, "cannot broadcast shapes", &acc, IN(i));
        acc = o;
    }
    if (first) return 0;
    acc.elem = force ? force : (from < c->n_in ? IN(from)->elem : KP_UNDEFINED);
    c->out[0] = acc;
    return 0;
}

int si_rule_bcast(si_ctx *c) {
    return bcast_all(c, 0, KP_UNDEFINED);
}
int si_rule_compare(si_ctx *c) {
    return bcast_all(c, 0, KP_BOOL);
}

int si_rule_where(si_ctx *c) {
    return bcast_all(c, 1, KP_UNDEFINED);
}

int si_rule_cast(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    c->out[0] = *IN(0);
    int64_t to = kp_node_attr_int(c->n, "to", 0);
    c->out[0].elem = kp_dtype_valid((int)to) ? (kp_dtype)to : KP_UNDEFINED;
    if (c->val[0] && c->out_val) c->out_val[0] = (si_val *)c->val[0];
    return 0;
}

int si_rule_castlike(si_ctx *c) {
    if (!c->n_out || c->n_in < 2) return 0;
    c->out[0] = *IN(0);
    c->out[0].elem = IN(1)->elem;
    return 0;
}

int si_rule_dropout(si_ctx *c) {
    if (!c->n_in) return 0;
    if (c->n_out > 0) c->out[0] = *IN(0);
    if (c->n_out > 1) {
        c->out[1] = *IN(0);
        c->out[1].elem = KP_BOOL;
    }
    return 0;
}

int si_rule_batchnorm(si_ctx *c) {
    if (!c->n_in) return 0;
    if (c->n_out > 0) c->out[0] = *IN(0);
    for (size_t k = 1; k < c->n_out && k < 5; k++)
        if (HAS(k + 2)) c->out[k] = *IN(k + 2); /* running/saved mean and var: like mean */
    return 0;
}

int si_rule_layernorm(si_ctx *c) {
    if (!c->n_in) return 0;
    if (c->n_out > 0) c->out[0] = *IN(0);
    const si_shape *x = IN(0);
    for (size_t k = 1; k < c->n_out && k < 3; k++) {
        si_unknown(&c->out[k]);
        c->out[k].elem = (kp_dtype)kp_node_attr_int(c->n, "stash_type", KP_FLOAT);
        if (x->rank < 0) continue;
        int ax = si_axis(kp_node_attr_int(c->n, "axis", -1), x->rank);
        if (ax < 0) return si_fail(c, "axis out of range for rank %d", x->rank);
        c->out[k] = *x;
        c->out[k].elem = (kp_dtype)kp_node_attr_int(c->n, "stash_type", KP_FLOAT);
        for (int i = ax; i < x->rank; i++) c->out[k].d[i] = (si_dim){1, NULL};
    }
    return 0;
}

/* ---- quantization --------------------------------------------------------------------- */

int si_rule_quantize(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    c->out[0] = *IN(0);
    int64_t od = kp_node_attr_int(c->n, "output_dtype", 0);
    if (od && kp_dtype_valid((int)od))
        c->out[0].elem = (kp_dtype)od;
    else if (HAS(2))
        c->out[0].elem = IN(2)->elem;
    else
        c->out[0].elem = KP_UINT8;
    return 0;
}

int si_rule_dequantize(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    c->out[0] = *IN(0);
    kp_dtype e = c->opset >= 19 && HAS(1) ? IN(1)->elem : KP_FLOAT;
    c->out[0].elem = e != KP_UNDEFINED ? e : KP_FLOAT;
    return 0;
}

int si_rule_dyn_quantize(si_ctx *c) {
    if (!c->n_in) return 0;
    if (c->n_out > 0) {
        c->out[0] = *IN(0);
        c->out[0].elem = KP_UINT8;
    }
    for (size_t k = 1; k < c->n_out && k < 3; k++) {
        si_unknown(&c->out[k]);
        c->out[k].rank = 0;
        c->out[k].elem = k == 1 ? KP_FLOAT : KP_UINT8;
    }
    return 0;
}

/* ---- convolution and pooling ---------------------------------------------------------- */

static int64_t attr_at(const kp_node *n, const char *name, int i, int64_t dflt) {
    const int64_t *v;
    size_t k = kp_node_attr_ints(n, name, &v);
    return (size_t)i < k ? v[i] : dflt;
}

/* a >= 0, b > 0 */
static int64_t div_floor(int64_t a, int64_t b) {
    return a / b;
}
static int64_t div_ceil(int64_t a, int64_t b) {
    return a / b + (a % b != 0);
}

/* Spatial output sizes of x (N, C, spatial...) for a sliding window of `kernel`. */
static int window_out(si_ctx *c, const si_shape *x, const int64_t *kernel, int transposed,
                      int ceil_mode, si_shape *out) {
    int nsp = x->rank - 2;
    const char *ap = kp_node_attr_string(c->n, "auto_pad", "NOTSET");
    const int64_t *pads;
    size_t npads = kp_node_attr_ints(c->n, "pads", &pads);
    if (npads && npads != (size_t)(2 * nsp))
        return si_fail(c, "pads has %zu values, expected %d", npads, 2 * nsp);
    for (int i = 0; i < nsp; i++) {
        si_dim in = x->d[2 + i];
        int64_t k = kernel[i];
        int64_t s = attr_at(c->n, "strides", i, 1), dil = attr_at(c->n, "dilations", i, 1);
        if (s <= 0 || dil <= 0) return si_fail(c, "strides and dilations must be positive");
        out->d[2 + i] = (si_dim){-1, NULL};
        if (in.v < 0) continue;
        if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            int64_t o;
            if (transposed ? si_mul(in.v, s, &o) : (o = div_ceil(in.v, s), 0))
                return si_fail(c, "output size of spatial axis %d overflows", i);
            out->d[2 + i].v = o;
            continue;
        }
        if (k < 0) continue;
        int64_t ek, pb = 0, pe = 0, o, padded, t;
        if (k < 1 || si_mul(k - 1, dil, &ek) || si_add(ek, 1, &ek))
            return si_fail(c, "kernel %lld with dilation %lld on spatial axis %d is unusable",
                           (long long)k, (long long)dil, i);
        if (strcmp(ap, "VALID")) {
            pb = npads ? pads[i] : 0;
            pe = npads ? pads[nsp + i] : 0;
        }
        if (si_add(in.v, pb, &padded) || si_add(padded, pe, &padded))
            return si_fail(c, "padded size of spatial axis %d overflows", i);
        if (transposed) {
            int64_t op = attr_at(c->n, "output_padding", i, 0);
            if (si_mul(s, in.v - 1, &o) || si_add(o, op, &o) || si_add(o, ek, &o) ||
                si_add(o, -pb, &o) || si_add(o, -pe, &o))
                return si_fail(c, "output size of spatial axis %d overflows", i);
            if (o < 0) return si_fail(c, "output size of spatial axis %d would be negative", i);
            out->d[2 + i].v = o;
            continue;
        }
        int64_t span = padded - ek;
        if (span < 0)
            return si_fail(c,
                           "kernel %lld (dilated) is larger than the padded input %lld on "
                           "spatial axis %d",
                           (long long)ek, (long long)padded, i);
        o = (ceil_mode ? div_ceil(span, s) : div_floor(span, s)) + 1;
        /* ceil_mode: a last window that would start inside the end padding is dropped */
        if (ceil_mode && !si_mul(o - 1, s, &t) && !si_add(in.v, pb, &padded) && t >= padded) o--;
        out->d[2 + i].v = o;
    }
    return 0;
}

/* Conv-like: x = input xi, w = input wi. Output elem `elem` (UNDEFINED = x's). */
static int conv_like(si_ctx *c, size_t xi, size_t wi, kp_dtype elem, int transposed) {
    if (!c->n_out || c->n_in <= xi) return 0;
    const si_shape *x = IN(xi);
    const si_shape *w = c->n_in > wi ? IN(wi) : NULL;
    si_shape *o = &c->out[0];
    o->elem = elem ? elem : x->elem;
    if (x->rank < 0) return 0;
    if (x->rank < 3) return si_fail(c, "input has rank %d, expected at least 3", x->rank);
    if (w && w->rank >= 0 && w->rank != x->rank)
        return si_fail_shapes(c, "input and weight ranks differ", x, w);
    int nsp = x->rank - 2;
    int64_t group = kp_node_attr_int(c->n, "group", 1);
    if (group <= 0) return si_fail(c, "group must be positive");
    int64_t kernel[KP_MAX_RANK];
    const int64_t *ks;
    size_t nks = kp_node_attr_ints(c->n, "kernel_shape", &ks);
    if (nks && nks != (size_t)nsp)
        return si_fail(c, "kernel_shape has %zu values for %d spatial axes", nks, nsp);
    for (int i = 0; i < nsp; i++)
        kernel[i] = nks ? ks[i] : (w && w->rank >= 0 ? w->d[2 + i].v : -1);
    o->rank = x->rank;
    o->d[0] = x->d[0];
    o->d[1] = (si_dim){-1, NULL};
    if (w && w->rank >= 0) {
        if (!transposed) {
            o->d[1] = w->d[0];
            if (x->d[1].v >= 0 && w->d[1].v >= 0 && x->d[1].v != w->d[1].v * group)
                return si_fail(c,
                               "input has %lld channels but the weight expects %lld x group %lld",
                               (long long)x->d[1].v, (long long)w->d[1].v, (long long)group);
        } else if (w->d[1].v >= 0) {
            o->d[1].v = w->d[1].v * group;
        }
    }
    int rc = window_out(c, x, kernel, transposed, 0, o);
    if (rc) return rc;
    if (transposed) {
        const int64_t *os;
        size_t nos = kp_node_attr_ints(c->n, "output_shape", &os);
        if (nos == (size_t)nsp || nos == (size_t)nsp + 2)
            for (int i = 0; i < nsp; i++) o->d[2 + i].v = os[nos - (size_t)nsp + (size_t)i];
    }
    return 0;
}

int si_rule_conv(si_ctx *c) {
    return conv_like(c, 0, 1, KP_UNDEFINED, 0);
}
int si_rule_conv_transpose(si_ctx *c) {
    return conv_like(c, 0, 1, KP_UNDEFINED, 1);
}
int si_rule_conv_integer(si_ctx *c) {
    return conv_like(c, 0, 1, KP_INT32, 0);
}

int si_rule_qlinear_conv(si_ctx *c) {
    kp_dtype e = HAS(7) && IN(7)->elem ? IN(7)->elem : KP_UINT8;
    return conv_like(c, 0, 3, e, 0);
}

int si_rule_pool(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    const si_shape *x = IN(0);
    si_shape *o = &c->out[0];
    o->elem = x->elem;
    if (x->rank < 0) return 0;
    if (x->rank < 3) return si_fail(c, "input has rank %d, expected at least 3", x->rank);
    int nsp = x->rank - 2;
    const int64_t *ks;
    size_t nks = kp_node_attr_ints(c->n, "kernel_shape", &ks);
    if (nks != (size_t)nsp)
        return si_fail(c, "kernel_shape has %zu values for %d spatial axes", nks, nsp);
    o->rank = x->rank;
    o->d[0] = x->d[0];
    o->d[1] = x->d[1];
    int rc = window_out(c, x, ks, 0, (int)kp_node_attr_int(c->n, "ceil_mode", 0), o);
    if (rc) return rc;
    if (c->n_out > 1) { /* MaxPool indices */
        c->out[1] = *o;
        c->out[1].elem = KP_INT64;
    }
    return 0;
}

int si_rule_global_pool(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    const si_shape *x = IN(0);
    c->out[0] = *x;
    if (x->rank < 0) return 0;
    if (x->rank < 2) return si_fail(c, "input has rank %d, expected at least 2", x->rank);
    for (int i = 2; i < x->rank; i++) c->out[0].d[i] = (si_dim){1, NULL};
    return 0;
}

/* ---- matrix products ------------------------------------------------------------------ */

static int matmul_like(si_ctx *c, size_t ai, size_t bi, kp_dtype elem) {
    if (!c->n_out || c->n_in <= bi) return 0;
    const si_shape *a = IN(ai), *b = IN(bi);
    si_shape *o = &c->out[0];
    o->elem = elem ? elem : a->elem;
    if (a->rank < 0 || b->rank < 0) return 0;
    if (a->rank == 0 || b->rank == 0) return si_fail(c, "MatMul operands cannot be scalars");
    si_shape A = *a, B = *b;
    int a1 = a->rank == 1, b1 = b->rank == 1;
    if (a1) {
        A.rank = 2;
        A.d[1] = a->d[0];
        A.d[0] = (si_dim){1, NULL};
    }
    if (b1) {
        B.rank = 2;
        B.d[0] = b->d[0];
        B.d[1] = (si_dim){1, NULL};
    }
    si_dim k;
    if (si_dim_merge(A.d[A.rank - 1], B.d[B.rank - 2], &k))
        return si_fail_shapes(c, "inner dimensions do not match", a, b);
    si_shape ba = A, bb = B, batch;
    ba.rank -= 2;
    bb.rank -= 2;
    batch.elem = o->elem;
    if (si_broadcast(&ba, &bb, &batch, NULL))
        return si_fail_shapes(c, "batch dimensions cannot broadcast", a, b);
    int r = batch.rank;
    if (!a1) batch.d[r++] = A.d[A.rank - 2];
    if (!b1) batch.d[r++] = B.d[B.rank - 1];
    if (r > KP_MAX_RANK) return 0;
    batch.rank = r;
    *o = batch;
    return 0;
}

int si_rule_matmul(si_ctx *c) {
    return matmul_like(c, 0, 1, KP_UNDEFINED);
}
int si_rule_matmul_integer(si_ctx *c) {
    return matmul_like(c, 0, 1, KP_INT32);
}

int si_rule_qlinear_matmul(si_ctx *c) {
    kp_dtype e = HAS(7) && IN(7)->elem ? IN(7)->elem : KP_UINT8;
    return matmul_like(c, 0, 3, e);
}

int si_rule_gemm(si_ctx *c) {
    if (!c->n_out || c->n_in < 2) return 0;
    const si_shape *a = IN(0), *b = IN(1);
    si_shape *o = &c->out[0];
    o->elem = a->elem;
    if (a->rank < 0 || b->rank < 0) return 0;
    if (a->rank != 2 || b->rank != 2) return si_fail_shapes(c, "Gemm needs 2-D inputs", a, b);
    int ta = kp_node_attr_int(c->n, "transA", 0) != 0,
        tb = kp_node_attr_int(c->n, "transB", 0) != 0;
    si_dim m = a->d[ta ? 1 : 0], ka = a->d[ta ? 0 : 1];
    si_dim kb = b->d[tb ? 1 : 0], n = b->d[tb ? 0 : 1], k;
    if (si_dim_merge(ka, kb, &k)) return si_fail_shapes(c, "inner dimensions do not match", a, b);
    o->rank = 2;
    o->d[0] = m;
    o->d[1] = n;
    if (HAS(2)) {
        si_shape t;
        t.elem = o->elem;
        if (si_broadcast(o, IN(2), &t, NULL) || t.rank != 2)
            return si_fail_shapes(c, "C does not broadcast to the output", o, IN(2));
    }
    return 0;
}

/* ---- reshaping-free nn ops ------------------------------------------------------------ */

int si_rule_flatten(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    const si_shape *x = IN(0);
    si_shape *o = &c->out[0];
    o->elem = x->elem;
    if (x->rank < 0) return 0;
    int64_t ax = kp_node_attr_int(c->n, "axis", 1);
    if (ax < 0) ax += x->rank;
    if (ax < 0 || ax > x->rank) return si_fail(c, "axis out of range for rank %d", x->rank);
    o->rank = 2;
    int64_t p0 = si_prod(x, 0, (int)ax), p1 = si_prod(x, (int)ax, x->rank);
    o->d[0] = (si_dim){p0, NULL};
    o->d[1] = (si_dim){p1, NULL};
    if (ax == 1 && p0 < 0) o->d[0] = x->d[0];
    if (ax == x->rank - 1 && p1 < 0) o->d[1] = x->d[x->rank - 1];
    return 0;
}

int si_rule_depth_to_space(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    const si_shape *x = IN(0);
    si_shape *o = &c->out[0];
    *o = *x;
    if (x->rank < 0) return 0;
    if (x->rank != 4) return si_fail(c, "input must be 4-D");
    int64_t b = kp_node_attr_int(c->n, "blocksize", 0);
    if (b <= 0) return si_fail(c, "blocksize must be positive");
    int d2s = !strcmp(c->n->op_type, "DepthToSpace");
    si_dim *ch = &o->d[1];
    int64_t bb;
    if (si_mul(b, b, &bb)) return si_fail(c, "blocksize %lld is too large", (long long)b);
    if (ch->v >= 0) {
        if (d2s && ch->v % bb) return si_fail(c, "channels not divisible by blocksize^2");
        if (d2s)
            ch->v /= bb;
        else if (si_mul(ch->v, bb, &ch->v))
            return si_fail(c, "channel count overflows");
    }
    for (int i = 2; i < 4; i++)
        if (o->d[i].v >= 0) {
            if (!d2s && o->d[i].v % b) return si_fail(c, "spatial size not divisible by blocksize");
            if (!d2s)
                o->d[i].v /= b;
            else if (si_mul(o->d[i].v, b, &o->d[i].v))
                return si_fail(c, "spatial size overflows");
        } else {
            o->d[i].sym = NULL;
        }
    if (ch->v < 0) ch->sym = NULL;
    return 0;
}

/* ---- reductions ----------------------------------------------------------------------- */

/* Axes from the attribute (opset < since) or input 1 (opset >= since). *given = 0 when none;
 * returns -1 when axes come from a tensor whose value is unknown. */
static int get_axes(si_ctx *c, int64_t since, size_t input, int64_t *axes, int *n, int *given) {
    *n = 0;
    *given = 0;
    if (c->opset < since) {
        const int64_t *v;
        size_t k = kp_node_attr_ints(c->n, "axes", &v);
        if (!kp_node_attr(c->n, "axes")) return 0;
        if (k > KP_MAX_RANK) return -1;
        for (size_t i = 0; i < k; i++) axes[i] = v[i];
        *n = (int)k;
        *given = 1;
        return 0;
    }
    if (!HAS(input)) return 0;
    *given = 1;
    return si_ints(c, input, axes, KP_MAX_RANK, n);
}

int si_rule_reduce(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    const si_shape *x = IN(0);
    si_shape *o = &c->out[0];
    o->elem = x->elem;
    const char *op = c->n->op_type;
    int arg = !strcmp(op, "ArgMax") || !strcmp(op, "ArgMin");
    if (arg) o->elem = KP_INT64;
    int keep = kp_node_attr_int(c->n, "keepdims", 1) != 0;
    if (x->rank < 0) return 0;
    int64_t axes[KP_MAX_RANK];
    int na = 0, given = 0, since = !strcmp(op, "ReduceSum") ? 13 : 18;
    if (arg) {
        axes[0] = kp_node_attr_int(c->n, "axis", 0);
        na = given = 1;
    } else if (get_axes(c, since, 1, axes, &na, &given)) {
        if (keep) { /* axes unknown: rank kept, sizes unknown */
            o->rank = x->rank;
            for (int i = 0; i < x->rank; i++) o->d[i] = (si_dim){-1, NULL};
        }
        return 0;
    }
    int mark[KP_MAX_RANK] = {0};
    if (na == 0) {
        if (c->opset >= since && kp_node_attr_int(c->n, "noop_with_empty_axes", 0)) {
            *o = *x;
            return 0;
        }
        for (int i = 0; i < x->rank; i++) mark[i] = 1;
    }
    for (int i = 0; i < na; i++) {
        int a = si_axis(axes[i], x->rank);
        if (a < 0)
            return si_fail(c, "axis %lld out of range for rank %d", (long long)axes[i], x->rank);
        mark[a] = 1;
    }
    int r = 0;
    for (int i = 0; i < x->rank; i++) {
        if (!mark[i])
            o->d[r++] = x->d[i];
        else if (keep)
            o->d[r++] = (si_dim){1, NULL};
    }
    o->rank = r;
    return 0;
}

/* ---- recurrent ------------------------------------------------------------------------ */

int si_rule_rnn(si_ctx *c) {
    if (!c->n_in) return 0;
    const si_shape *x = IN(0);
    int64_t hidden = kp_node_attr_int(c->n, "hidden_size", -1);
    const char *dir = kp_node_attr_string(c->n, "direction", "forward");
    int64_t nd = !strcmp(dir, "bidirectional") ? 2 : 1;
    int layout = (int)kp_node_attr_int(c->n, "layout", 0);
    si_dim seq = {-1, NULL}, batch = {-1, NULL};
    if (x->rank == 3) {
        seq = x->d[layout ? 1 : 0];
        batch = x->d[layout ? 0 : 1];
    }
    si_dim h = {hidden > 0 ? hidden : -1, NULL}, d = {nd, NULL};
    for (size_t k = 0; k < c->n_out && k < 3; k++) {
        si_shape *o = &c->out[k];
        o->elem = x->elem;
        if (k == 0) {
            o->rank = 4;
            if (!layout) {
                o->d[0] = seq;
                o->d[1] = d;
                o->d[2] = batch;
            } else {
                o->d[0] = batch;
                o->d[1] = seq;
                o->d[2] = d;
            }
            o->d[3] = h;
        } else {
            o->rank = 3;
            o->d[0] = layout ? batch : d;
            o->d[1] = layout ? d : batch;
            o->d[2] = h;
        }
    }
    return 0;
}

int si_rule_topk(si_ctx *c) {
    if (!c->n_in) return 0;
    const si_shape *x = IN(0);
    si_shape o = *x;
    if (x->rank >= 0) {
        int ax = si_axis(kp_node_attr_int(c->n, "axis", -1), x->rank);
        if (ax < 0) return si_fail(c, "axis out of range for rank %d", x->rank);
        int64_t k[1];
        int n = 0;
        if (c->opset < 10) {
            k[0] = kp_node_attr_int(c->n, "k", -1);
            n = 1;
        } else if (si_ints(c, 1, k, 1, &n)) {
            n = 0;
        }
        o.d[ax] = (si_dim){n == 1 && k[0] >= 0 ? k[0] : -1, NULL};
    }
    if (c->n_out > 0) c->out[0] = o;
    if (c->n_out > 1) {
        c->out[1] = o;
        c->out[1].elem = KP_INT64;
    }
    return 0;
}
