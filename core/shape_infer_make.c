/* Shape rules for ops that make or size tensors (Shape, Size, Constant, ConstantOfShape,
 * Expand, Tile, Pad, Resize/Upsample, Range, NonZero, OneHot, EyeLike, Random*), value
 * propagation through Identity and integer arithmetic, and control flow (If, Loop). */
#include <math.h>
#include <string.h>

#include "core/shape_infer_priv.h"

#define IN(i)  (&c->in[i])
#define HAS(i) ((i) < c->n_in && c->n->inputs[i][0])

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* ---- Shape, Size, Constant, ConstantOfShape, Expand, Tile ------------------------------ */

int si_rule_shape(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    const si_shape *x = IN(0);
    si_shape *o = &c->out[0];
    o->elem = KP_INT64;
    o->rank = 1;
    o->d[0] = (si_dim){-1, NULL};
    if (x->rank < 0) return 0;
    int64_t s = kp_node_attr_int(c->n, "start", 0), e = kp_node_attr_int(c->n, "end", x->rank);
    if (s < 0) s += x->rank;
    if (e < 0) e += x->rank;
    s = clamp64(s, 0, x->rank);
    e = clamp64(e, 0, x->rank);
    int n = e > s ? (int)(e - s) : 0;
    o->d[0] = (si_dim){n, NULL};
    si_val *v = si_new_val(c);
    if (!v) return 0;
    v->rank = 1;
    for (int i = 0; i < n; i++) v->e[v->n++] = si_vel_of_dim(x->d[s + i]);
    c->out_val[0] = v;
    return 0;
}

int si_rule_size(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    si_shape *o = &c->out[0];
    o->elem = KP_INT64;
    o->rank = 0;
    int64_t p = IN(0)->rank >= 0 ? si_prod(IN(0), 0, IN(0)->rank) : -1;
    if (p < 0) return 0;
    si_val *v = si_new_val(c);
    if (!v) return 0;
    v->rank = 0;
    v->n = 1;
    v->e[0] = (si_vel){p, NULL, 1};
    c->out_val[0] = v;
    return 0;
}

int si_rule_constant(si_ctx *c) {
    if (!c->n_out || !c->n->outputs[0][0]) return 0;
    const kp_tensor *t = kp_graph_find_const(c->g, c->n->outputs[0]);
    if (!t) return si_fail(c, "the Constant has no readable value");
    si_shape *o = &c->out[0];
    o->elem = t->dtype;
    o->rank = t->rank;
    for (int i = 0; i < t->rank; i++) o->d[i] = (si_dim){t->dims[i], NULL};
    return 0; /* consumers see its value as a constant input */
}

/* Dims from a shape-valued input (entries known, symbolic or unknown). */
static int dims_from_val(si_ctx *c, size_t i, si_shape *o) {
    const si_val *v = c->val[i];
    if (v) {
        if (v->rank != 1 || v->n > KP_MAX_RANK) return si_fail(c, "shape input must be 1-D");
        o->rank = v->n;
        for (int k = 0; k < v->n; k++) {
            if (v->e[k].known && v->e[k].v < 0) return si_fail(c, "shape entry %d is negative", k);
            o->d[k] = si_dim_of_vel(v->e[k]);
        }
        return 0;
    }
    const si_shape *s = IN(i);
    if (s->rank == 1 && s->d[0].v >= 0 && s->d[0].v <= KP_MAX_RANK) {
        o->rank = (int)s->d[0].v;
        for (int k = 0; k < o->rank; k++) o->d[k] = (si_dim){-1, NULL};
    }
    return 0;
}

int si_rule_constant_of_shape(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    si_shape *o = &c->out[0];
    const kp_attr *a = kp_node_attr(c->n, "value");
    o->elem = a && a->t ? a->t->dtype : KP_FLOAT;
    return dims_from_val(c, 0, o);
}

int si_rule_expand(si_ctx *c) {
    if (!c->n_out || c->n_in < 2) return 0;
    si_shape s;
    si_unknown(&s);
    int rc = dims_from_val(c, 1, &s);
    if (rc) return rc;
    si_shape *o = &c->out[0];
    const si_shape *x = IN(0);
    o->elem = x->elem;
    if (s.rank < 0 || x->rank < 0) return 0;
    if (si_broadcast(x, &s, o, NULL)) return si_fail_shapes(c, "cannot expand", x, &s);
    o->elem = x->elem;
    int r = o->rank;
    for (int i = 0; i < r; i++) {
        int is = i - (r - s.rank), ix = i - (r - x->rank);
        if (is < 0 || s.d[is].v >= 0 || s.d[is].sym) continue;
        /* unknown target entry: it may be 1 (keep the input dim) or the input dim itself */
        si_dim xd = ix >= 0 ? x->d[ix] : (si_dim){1, NULL};
        o->d[i] = xd.v > 1 ? xd : (si_dim){-1, NULL};
    }
    return 0;
}

int si_rule_tile(si_ctx *c) {
    if (!c->n_out || c->n_in < 2) return 0;
    const si_shape *x = IN(0);
    si_shape *o = &c->out[0];
    *o = *x;
    if (x->rank < 0) return 0;
    int64_t rep[KP_MAX_RANK];
    int n;
    if (si_ints(c, 1, rep, KP_MAX_RANK, &n)) {
        for (int i = 0; i < x->rank; i++) o->d[i] = (si_dim){-1, NULL};
        return 0;
    }
    if (n != x->rank) return si_fail(c, "repeats has %d entries for rank %d", n, x->rank);
    for (int i = 0; i < n; i++) {
        if (rep[i] < 0) return si_fail(c, "repeat %lld is negative", (long long)rep[i]);
        if (x->d[i].v >= 0) {
            o->d[i] = (si_dim){0, NULL};
            if (si_mul(x->d[i].v, rep[i], &o->d[i].v)) return si_fail(c, "tiled size overflows");
        } else if (rep[i] != 1)
            o->d[i] = (si_dim){-1, NULL};
    }
    return 0;
}

/* ---- Pad, Resize ---------------------------------------------------------------------- */

int si_rule_pad(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    const si_shape *x = IN(0);
    si_shape *o = &c->out[0];
    *o = *x;
    if (x->rank < 0) return 0;
    int64_t pads[2 * KP_MAX_RANK], axes[KP_MAX_RANK];
    int np = 0, na = 0;
    if (c->opset < 11) {
        const int64_t *v;
        size_t k = kp_node_attr_ints(c->n, c->opset < 2 ? "paddings" : "pads", &v);
        if (k > 2 * KP_MAX_RANK) return si_fail(c, "pads has %zu values", k);
        if (k) memcpy(pads, v, k * sizeof *pads);
        np = (int)k;
    } else if (si_ints(c, 1, pads, 2 * KP_MAX_RANK, &np) ||
               (HAS(3) && si_ints(c, 3, axes, KP_MAX_RANK, &na))) {
        for (int i = 0; i < x->rank; i++) o->d[i] = (si_dim){-1, NULL};
        return 0;
    }
    if (!na) {
        na = x->rank;
        for (int i = 0; i < na; i++) axes[i] = i;
    }
    if (np != 2 * na) return si_fail(c, "pads has %d values for %d axes", np, na);
    for (int i = 0; i < na; i++) {
        int a = si_axis(axes[i], x->rank);
        if (a < 0) return si_fail(c, "axis %lld out of range", (long long)axes[i]);
        if (x->d[a].v < 0) {
            if (pads[i] || pads[na + i]) o->d[a] = (si_dim){-1, NULL};
            continue;
        }
        int64_t d;
        if (si_add(x->d[a].v, pads[i], &d) || si_add(d, pads[na + i], &d))
            return si_fail(c, "padded size of axis %d overflows", a);
        if (d < 0) return si_fail(c, "padding makes axis %d negative", a);
        o->d[a].v = d;
    }
    return 0;
}

int si_rule_resize(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    const si_shape *x = IN(0);
    si_shape *o = &c->out[0];
    *o = *x;
    if (x->rank < 0) return 0;
    int upsample = !strcmp(c->n->op_type, "Upsample");
    size_t scales_in = c->opset < 11 ? 1 : 2, sizes_in = 3;
    double sc[KP_MAX_RANK];
    int64_t sz[KP_MAX_RANK], axes[KP_MAX_RANK];
    int nsc = 0, nsz = 0, na = 0, have_sizes = 0, have_scales = 0;
    const int64_t *av;
    size_t nax = upsample ? 0 : kp_node_attr_ints(c->n, "axes", &av);
    if (nax > KP_MAX_RANK) return si_fail(c, "too many axes");
    for (size_t i = 0; i < nax; i++) axes[i] = av[i];
    na = (int)nax;
    if (!upsample && c->opset >= 11 && HAS(sizes_in))
        have_sizes = !si_ints(c, sizes_in, sz, KP_MAX_RANK, &nsz) && nsz > 0;
    if (!have_sizes) {
        if (upsample && c->opset < 9) {
            const float *f;
            size_t nf = kp_node_attr_floats(c->n, "scales", &f);
            if (nf > KP_MAX_RANK) return si_fail(c, "too many scales");
            for (size_t i = 0; i < nf; i++) sc[i] = f[i];
            nsc = (int)nf;
            have_scales = nsc > 0;
        } else if (HAS(scales_in)) {
            have_scales = !si_floats(c, scales_in, sc, KP_MAX_RANK, &nsc) && nsc > 0;
        }
    }
    if (!have_sizes && !have_scales) {
        for (int i = 0; i < x->rank; i++) o->d[i] = (si_dim){-1, NULL};
        return 0;
    }
    int n = have_sizes ? nsz : nsc;
    if (!na) {
        if (n != x->rank)
            return si_fail(c, "%s has %d values for rank %d", have_sizes ? "sizes" : "scales", n,
                           x->rank);
        na = n;
        for (int i = 0; i < na; i++) axes[i] = i;
    }
    if (na != n) return si_fail(c, "%d axes but %d sizes or scales", na, n);
    for (int i = 0; i < n; i++) {
        int a = si_axis(axes[i], x->rank);
        if (a < 0) return si_fail(c, "axis %lld out of range", (long long)axes[i]);
        if (have_sizes) {
            if (sz[i] < 0) return si_fail(c, "size %lld is negative", (long long)sz[i]);
            o->d[a] = (si_dim){sz[i], NULL};
        } else if (!(sc[i] >= 0) || sc[i] > 1e9) {
            return si_fail(c, "scale %g is not a usable factor", sc[i]);
        } else if (x->d[a].v >= 0) {
            double v = floor((double)x->d[a].v * sc[i]);
            if (!(v < 9.2e18)) return si_fail(c, "resized axis %d is too large", a);
            o->d[a] = (si_dim){(int64_t)v, NULL};
        } else if (sc[i] != 1.0) {
            o->d[a] = (si_dim){-1, NULL};
        }
    }
    return 0;
}

/* ---- Range, NonZero, Identity, arithmetic, OneHot, EyeLike, Random --------------------- */

int si_rule_range(si_ctx *c) {
    if (!c->n_out || c->n_in < 3) return 0;
    si_shape *o = &c->out[0];
    o->elem = IN(0)->elem;
    o->rank = 1;
    o->d[0] = (si_dim){-1, NULL};
    double s, l, d;
    int n1, n2, n3;
    if (si_floats(c, 0, &s, 1, &n1) || si_floats(c, 1, &l, 1, &n2) || si_floats(c, 2, &d, 1, &n3) ||
        n1 != 1 || n2 != 1 || n3 != 1)
        return 0;
    if (d == 0) return si_fail(c, "delta is 0");
    double len = ceil((l - s) / d);
    if (!(len <= (double)KP_MAX_NUMEL)) return si_fail(c, "the range is too long");
    o->d[0].v = len > 0 ? (int64_t)len : 0;
    return 0;
}

int si_rule_nonzero(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    si_shape *o = &c->out[0];
    o->elem = KP_INT64;
    o->rank = 2;
    o->d[0] = (si_dim){IN(0)->rank >= 0 ? IN(0)->rank : -1, NULL};
    o->d[1] = (si_dim){-1, NULL};
    return 0;
}

int si_rule_identity(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    c->out[0] = *IN(0);
    c->out_val[0] = (si_val *)c->val[0];
    return 0;
}

/* Add/Sub/Mul/Div: broadcast rule plus value propagation for small integer tensors. */
int si_rule_arith(si_ctx *c) {
    int rc = si_rule_bcast(c);
    if (rc || c->n_in != 2 || !c->n_out || !c->val[0] || !c->val[1]) return rc;
    const si_val *a = c->val[0], *b = c->val[1];
    if (a->n != b->n && a->n != 1 && b->n != 1) return 0;
    int n = a->n > b->n ? a->n : b->n;
    si_val *v = si_new_val(c);
    if (!v) return 0;
    v->rank = a->rank > b->rank ? a->rank : b->rank;
    v->n = n;
    const char *op = c->n->op_type;
    int add = !strcmp(op, "Add"), sub = !strcmp(op, "Sub"), mul = !strcmp(op, "Mul");
    int dv = !strcmp(op, "Div");
    for (int i = 0; i < n; i++) {
        si_vel x = a->e[a->n == 1 ? 0 : i], y = b->e[b->n == 1 ? 0 : i], r = {0, NULL, 0};
        if (x.known && y.known) {
            r.known = 1;
            if (add)
                r.known = !__builtin_add_overflow(x.v, y.v, &r.v);
            else if (sub)
                r.known = !__builtin_sub_overflow(x.v, y.v, &r.v);
            else if (mul)
                r.known = !__builtin_mul_overflow(x.v, y.v, &r.v);
            else if (dv && y.v && !(x.v == INT64_MIN && y.v == -1))
                r.v = x.v / y.v;
            else
                r.known = 0;
        } else if (!x.known && y.known &&
                   (((add || sub) && y.v == 0) || ((mul || dv) && y.v == 1))) {
            r = x;
        }
        v->e[i] = r;
    }
    c->out_val[0] = v;
    return 0;
}

int si_rule_onehot(si_ctx *c) {
    if (!c->n_out || c->n_in < 3) return 0;
    const si_shape *ix = IN(0);
    si_shape *o = &c->out[0];
    o->elem = IN(2)->elem;
    if (ix->rank < 0 || ix->rank + 1 > KP_MAX_RANK) return 0;
    int r = ix->rank + 1;
    int ax = si_axis(kp_node_attr_int(c->n, "axis", -1), r);
    if (ax < 0) return si_fail(c, "axis out of range for rank %d", r);
    double depth;
    int n;
    int64_t dv = !si_floats(c, 1, &depth, 1, &n) && n == 1 && depth >= 0 && depth < 9.2e18
                     ? (int64_t)depth
                     : -1;
    o->rank = r;
    for (int i = 0, k = 0; i < r; i++) o->d[i] = i == ax ? (si_dim){dv, NULL} : ix->d[k++];
    return 0;
}

int si_rule_eyelike(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    c->out[0] = *IN(0);
    int64_t dt = kp_node_attr_int(c->n, "dtype", 0);
    if (dt && kp_dtype_valid((int)dt)) c->out[0].elem = (kp_dtype)dt;
    return 0;
}

int si_rule_random(si_ctx *c) {
    if (!c->n_out) return 0;
    si_shape *o = &c->out[0];
    int like = c->n_in > 0;
    if (like) *o = *IN(0);
    int64_t dt = kp_node_attr_int(c->n, "dtype", like ? 0 : KP_FLOAT);
    if (dt && kp_dtype_valid((int)dt)) o->elem = (kp_dtype)dt;
    if (like) return 0;
    const int64_t *s;
    size_t n = kp_node_attr_ints(c->n, "shape", &s);
    if (n > KP_MAX_RANK) return 0;
    o->rank = (int)n;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0) return si_fail(c, "shape entry %zu is negative", i);
        o->d[i] = (si_dim){s[i], NULL};
    }
    return 0;
}

int si_rule_seq_length(si_ctx *c) {
    if (!c->n_out) return 0;
    c->out[0].elem = KP_INT64;
    c->out[0].rank = 0;
    return 0;
}

/* ---- control flow --------------------------------------------------------------------- */

/* Keeps what two possible types of one value agree on. */
static void agree(si_shape *o, const si_shape *b) {
    if (o->elem != b->elem) o->elem = o->elem ? o->elem : b->elem;
    if (o->rank != b->rank) {
        o->rank = -1;
        return;
    }
    for (int i = 0; i < o->rank; i++) {
        si_dim x = o->d[i], y = b->d[i];
        if (x.v >= 0 && x.v == y.v) continue;
        if (x.v < 0 && y.v < 0 && x.sym && x.sym == y.sym) continue;
        o->d[i] = (si_dim){-1, NULL};
    }
}

int si_rule_if(si_ctx *c) {
    const kp_attr *t = kp_node_attr(c->n, "then_branch"), *e = kp_node_attr(c->n, "else_branch");
    if (!t || !t->g || !e || !e->g) return si_fail(c, "If needs then_branch and else_branch");
    if (t->g->n_outputs != c->n_out || e->g->n_outputs != c->n_out)
        return si_fail(c, "the branches have %zu and %zu outputs, the node %zu", t->g->n_outputs,
                       e->g->n_outputs, c->n_out);
    for (size_t i = 0; i < c->n_out; i++) {
        si_shape a, b;
        si_from_type(c->run, kp_graph_value_type(t->g, t->g->outputs[i].name), &a);
        si_from_type(c->run, kp_graph_value_type(e->g, e->g->outputs[i].name), &b);
        agree(&a, &b);
        c->out[i] = a;
    }
    return 0;
}

int si_rule_loop(si_ctx *c) {
    const kp_attr *b = kp_node_attr(c->n, "body");
    if (!b || !b->g) return si_fail(c, "Loop needs a body");
    kp_graph *g = b->g;
    if (c->n_in < 2) return si_fail(c, "Loop needs at least 2 inputs");
    size_t carried = c->n_in - 2;
    if (g->n_outputs != 1 + c->n_out || c->n_out < carried)
        return si_fail(c, "the body has %zu outputs for %zu loop-carried values", g->n_outputs,
                       carried);
    for (size_t i = 0; i < c->n_out; i++) {
        si_shape s;
        si_from_type(c->run, kp_graph_value_type(g, g->outputs[1 + i].name), &s);
        if (i >= carried) { /* scan outputs gain a leading iteration axis */
            if (s.rank >= 0 && s.rank < KP_MAX_RANK) {
                memmove(&s.d[1], &s.d[0], (size_t)s.rank * sizeof s.d[0]);
                s.d[0] = (si_dim){-1, NULL};
                s.rank++;
            } else {
                s.rank = -1;
            }
        } else if (HAS(2 + i)) {
            agree(&s, IN(2 + i));
        }
        c->out[i] = s;
    }
    return 0;
}
