/* Shape rules for ops that move, cut or join tensors: Reshape, Transpose, Concat, Split,
 * Squeeze, Unsqueeze, Slice, Gather. Small integer values are propagated through them so that
 * exported "Shape -> Gather -> Concat -> Reshape" chains resolve, symbolic dims included. */
#include <string.h>

#include "core/shape_infer_priv.h"

#define IN(i)  (&c->in[i])
#define HAS(i) ((i) < c->n_in && c->n->inputs[i][0])

si_dim si_dim_of_vel(si_vel e) {
    if (e.known) return (si_dim){e.v >= 0 ? e.v : -1, NULL};
    return (si_dim){-1, e.sym};
}

si_vel si_vel_of_dim(si_dim d) {
    si_vel e = {0, NULL, 0};
    if (d.v >= 0) {
        e.v = d.v;
        e.known = 1;
    } else {
        e.sym = d.sym;
    }
    return e;
}

/* ---- Reshape -------------------------------------------------------------------------- */

/* Resolves the -1 entry (index neg) of o from x's dims, cancelling equal symbolic dims. */
static void resolve_minus_one(const si_shape *x, si_shape *o, int neg) {
    int used[KP_MAX_RANK] = {0};
    int64_t num = 1, den = 1;
    for (int i = 0; i < o->rank; i++) {
        if (i == neg) continue;
        si_dim d = o->d[i];
        if (d.v > 0) {
            if (si_mul(den, d.v, &den)) return;
            continue;
        }
        if (d.v == 0 || !d.sym) return;
        int found = 0;
        for (int k = 0; k < x->rank && !found; k++)
            if (!used[k] && x->d[k].v < 0 && x->d[k].sym == d.sym) used[k] = found = 1;
        if (!found) return;
    }
    for (int k = 0; k < x->rank; k++) {
        if (used[k]) continue;
        if (x->d[k].v < 0) return;
        if (x->d[k].v && num > INT64_MAX / x->d[k].v) return;
        num *= x->d[k].v;
    }
    if (num % den == 0) o->d[neg] = (si_dim){num / den, NULL};
}

int si_rule_reshape(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    const si_shape *x = IN(0);
    si_shape *o = &c->out[0];
    o->elem = x->elem;
    const si_val *sv = c->n_in > 1 ? c->val[1] : NULL;
    si_val attr_shape;
    if (c->opset < 5) {
        const int64_t *v;
        size_t k = kp_node_attr_ints(c->n, "shape", &v);
        if (!kp_node_attr(c->n, "shape") || k > SI_MAX_VAL) return 0;
        attr_shape.rank = 1;
        attr_shape.n = (int)k;
        for (size_t i = 0; i < k; i++) attr_shape.e[i] = (si_vel){v[i], NULL, 1};
        sv = &attr_shape;
    }
    if (!sv) {
        const si_shape *s = c->n_in > 1 ? IN(1) : NULL;
        if (s && s->rank == 1 && s->d[0].v >= 0 && s->d[0].v <= KP_MAX_RANK) {
            o->rank = (int)s->d[0].v;
            for (int i = 0; i < o->rank; i++) o->d[i] = (si_dim){-1, NULL};
        }
        return 0;
    }
    if (sv->rank != 1) return si_fail(c, "the shape input must be 1-D");
    if (sv->n > KP_MAX_RANK) return si_fail(c, "target rank %d exceeds %d", sv->n, KP_MAX_RANK);
    int allowzero = kp_node_attr_int(c->n, "allowzero", 0) != 0, neg = -1;
    o->rank = sv->n;
    for (int i = 0; i < sv->n; i++) {
        si_vel e = sv->e[i];
        o->d[i] = si_dim_of_vel(e);
        if (!e.known) continue;
        if (e.v == 0 && !allowzero) {
            if (x->rank >= 0 && i >= x->rank)
                return si_fail(c, "shape entry %d is 0 (copy) but the input has rank %d", i,
                               x->rank);
            o->d[i] = x->rank >= 0 ? x->d[i] : (si_dim){-1, NULL};
        } else if (e.v == -1) {
            if (neg >= 0) return si_fail(c, "shape has more than one -1");
            neg = i;
        } else if (e.v < -1) {
            return si_fail(c, "shape entry %d is %lld", i, (long long)e.v);
        }
    }
    if (x->rank < 0) return 0;
    int64_t total = si_prod(x, 0, x->rank);
    if (neg >= 0) {
        int64_t rest = 1;
        int all = 1;
        for (int i = 0; i < o->rank; i++)
            if (i != neg) {
                if (o->d[i].v < 0)
                    all = 0;
                else if (si_mul(rest, o->d[i].v, &rest))
                    return si_fail(c, "the requested shape overflows");
            }
        if (total >= 0 && all && (rest == 0 ? total != 0 : total % rest != 0))
            return si_fail(c, "cannot reshape %lld elements: not a multiple of %lld",
                           (long long)total, (long long)rest);
        resolve_minus_one(x, o, neg);
    } else {
        int64_t b = 1;
        for (int i = 0; i < o->rank && b >= 0; i++) {
            if (o->d[i].v < 0)
                b = -1;
            else if (si_mul(b, o->d[i].v, &b))
                return si_fail(c, "the requested shape overflows");
        }
        if (total >= 0 && b >= 0 && total != b)
            return si_fail(c, "cannot reshape %lld elements into %lld", (long long)total,
                           (long long)b);
    }
    if (c->val[0] && o->rank == 1 && o->d[0].v == c->val[0]->n) c->out_val[0] = (si_val *)c->val[0];
    return 0;
}

/* ---- Transpose, Concat, Split --------------------------------------------------------- */

int si_rule_transpose(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    const si_shape *x = IN(0);
    si_shape *o = &c->out[0];
    o->elem = x->elem;
    if (x->rank < 0) return 0;
    const int64_t *perm;
    size_t np = kp_node_attr_ints(c->n, "perm", &perm);
    if (np && np != (size_t)x->rank)
        return si_fail(c, "perm has %zu entries for rank %d", np, x->rank);
    int seen[KP_MAX_RANK] = {0};
    o->rank = x->rank;
    for (int i = 0; i < x->rank; i++) {
        int64_t p = np ? perm[i] : x->rank - 1 - i;
        if (p < 0 || p >= x->rank || seen[p]) return si_fail(c, "perm is not a permutation");
        seen[p] = 1;
        o->d[i] = x->d[p];
    }
    return 0;
}

int si_rule_concat(si_ctx *c) {
    if (!c->n_out) return 0;
    si_shape *o = &c->out[0];
    int rank = -1;
    for (size_t i = 0; i < c->n_in; i++) {
        if (!HAS(i)) continue;
        if (o->elem == KP_UNDEFINED) o->elem = IN(i)->elem;
        if (IN(i)->rank < 0) continue;
        if (rank >= 0 && IN(i)->rank != rank)
            return si_fail_shapes(c, "inputs have different ranks", IN(0), IN(i));
        rank = IN(i)->rank;
    }
    if (rank < 0) return 0;
    if (rank == 0) return si_fail(c, "cannot concatenate scalars");
    int ax = si_axis(kp_node_attr_int(c->n, "axis", 0), rank);
    if (ax < 0) return si_fail(c, "axis out of range for rank %d", rank);
    int all_known = 1, first = 1;
    int64_t sum = 0;
    o->rank = rank;
    for (size_t i = 0; i < c->n_in; i++) {
        if (!HAS(i)) continue;
        const si_shape *s = IN(i);
        if (s->rank < 0) {
            all_known = 0;
            continue;
        }
        for (int k = 0; k < rank; k++) {
            if (k == ax) continue;
            if (first)
                o->d[k] = s->d[k];
            else if (si_dim_merge(o->d[k], s->d[k], &o->d[k]))
                return si_fail_shapes(c, "inputs differ outside the concat axis", IN(0), s);
        }
        first = 0;
        if (s->d[ax].v < 0)
            all_known = 0;
        else if (si_add(sum, s->d[ax].v, &sum))
            return si_fail(c, "the concatenated size overflows");
    }
    o->d[ax] = (si_dim){all_known ? sum : -1, NULL};
    if (rank != 1) return 0;
    int total = 0;
    for (size_t i = 0; i < c->n_in; i++) {
        if (!HAS(i) || !c->val[i]) return 0;
        total += c->val[i]->n;
        if (total > SI_MAX_VAL) return 0;
    }
    si_val *v = si_new_val(c);
    if (!v) return 0;
    v->rank = 1;
    for (size_t i = 0; i < c->n_in; i++)
        for (int k = 0; k < c->val[i]->n; k++) v->e[v->n++] = c->val[i]->e[k];
    c->out_val[0] = v;
    return 0;
}

int si_rule_split(si_ctx *c) {
    if (!c->n_in || !c->n_out) return 0;
    const si_shape *x = IN(0);
    for (size_t k = 0; k < c->n_out; k++) c->out[k].elem = x->elem;
    if (x->rank < 0) return 0;
    int ax = si_axis(kp_node_attr_int(c->n, "axis", 0), x->rank);
    if (ax < 0) return si_fail(c, "axis out of range for rank %d", x->rank);
    int64_t sizes[SI_MAX_VAL];
    int ns = 0, have = 0;
    if (c->opset < 13) {
        const int64_t *v;
        size_t k = kp_node_attr_ints(c->n, "split", &v);
        if (k > SI_MAX_VAL) return 0;
        for (size_t i = 0; i < k; i++) sizes[i] = v[i];
        ns = (int)k;
        have = k > 0;
    } else if (HAS(1)) {
        if (si_ints(c, 1, sizes, SI_MAX_VAL, &ns)) ns = -1;
        have = 1;
    }
    int64_t d = x->d[ax].v;
    for (size_t k = 0; k < c->n_out; k++) {
        c->out[k] = *x;
        c->out[k].d[ax] = (si_dim){-1, NULL};
    }
    if (have && ns < 0) return 0;
    if (have) {
        if ((size_t)ns != c->n_out)
            return si_fail(c, "split has %d sizes for %zu outputs", ns, c->n_out);
        int64_t sum = 0;
        for (int i = 0; i < ns; i++) {
            if (sizes[i] < 0) return si_fail(c, "split size %lld is negative", (long long)sizes[i]);
            if (si_add(sum, sizes[i], &sum)) return si_fail(c, "split sizes overflow");
            c->out[i].d[ax] = (si_dim){sizes[i], NULL};
        }
        if (d >= 0 && sum != d)
            return si_fail(c, "split sizes add up to %lld but the axis has %lld", (long long)sum,
                           (long long)d);
        return 0;
    }
    if (d < 0) return 0;
    int64_t n = (int64_t)c->n_out;
    if (kp_node_attr_int(c->n, "num_outputs", 0) > 0) {
        int64_t each = d / n + (d % n != 0);
        for (int64_t i = 0; i < n; i++) {
            int64_t sz = i < n - 1 ? each : d - each * (n - 1);
            c->out[i].d[ax] = (si_dim){sz >= 0 ? sz : 0, NULL};
        }
        return 0;
    }
    if (d % n)
        return si_fail(c, "axis of %lld cannot be split into %lld equal parts", (long long)d,
                       (long long)n);
    for (int64_t i = 0; i < n; i++) c->out[i].d[ax] = (si_dim){d / n, NULL};
    return 0;
}

/* ---- Squeeze, Unsqueeze --------------------------------------------------------------- */

/* Axes from the attribute (opset < 13) or input 1; -1 when unknown, *given = 0 when absent. */
static int axes13(si_ctx *c, int64_t *axes, int *n, int *given) {
    *n = 0;
    *given = 0;
    if (c->opset < 13) {
        const int64_t *v;
        size_t k = kp_node_attr_ints(c->n, "axes", &v);
        if (!kp_node_attr(c->n, "axes")) return 0;
        if (k > KP_MAX_RANK) return -1;
        for (size_t i = 0; i < k; i++) axes[i] = v[i];
        *n = (int)k;
        *given = 1;
        return 0;
    }
    if (!HAS(1)) return 0;
    *given = 1;
    return si_ints(c, 1, axes, KP_MAX_RANK, n);
}

int si_rule_squeeze(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    const si_shape *x = IN(0);
    si_shape *o = &c->out[0];
    o->elem = x->elem;
    int64_t axes[KP_MAX_RANK];
    int na, given;
    if (axes13(c, axes, &na, &given) || x->rank < 0) return 0;
    int drop[KP_MAX_RANK] = {0};
    if (given && na) {
        for (int i = 0; i < na; i++) {
            int a = si_axis(axes[i], x->rank);
            if (a < 0)
                return si_fail(c, "axis %lld out of range for rank %d", (long long)axes[i],
                               x->rank);
            if (x->d[a].v >= 0 && x->d[a].v != 1)
                return si_fail(c, "cannot squeeze axis %d of size %lld", a, (long long)x->d[a].v);
            drop[a] = 1;
        }
    } else {
        for (int i = 0; i < x->rank; i++) {
            if (x->d[i].v < 0) return 0; /* might be 1: rank unknown */
            drop[i] = x->d[i].v == 1;
        }
    }
    int r = 0;
    for (int i = 0; i < x->rank; i++)
        if (!drop[i]) o->d[r++] = x->d[i];
    o->rank = r;
    if (c->val[0] && r == 0 && c->val[0]->n == 1) {
        si_val *v = si_new_val(c);
        if (v) {
            *v = *c->val[0];
            v->rank = 0;
            c->out_val[0] = v;
        }
    }
    return 0;
}

int si_rule_unsqueeze(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    const si_shape *x = IN(0);
    si_shape *o = &c->out[0];
    o->elem = x->elem;
    int64_t axes[KP_MAX_RANK];
    int na, given;
    if (axes13(c, axes, &na, &given) || x->rank < 0) return 0;
    if (!given) return si_fail(c, "axes are missing");
    int r = x->rank + na;
    if (r > KP_MAX_RANK) return si_fail(c, "output rank %d exceeds %d", r, KP_MAX_RANK);
    int ins[KP_MAX_RANK] = {0};
    for (int i = 0; i < na; i++) {
        int a = si_axis(axes[i], r);
        if (a < 0) return si_fail(c, "axis %lld out of range for rank %d", (long long)axes[i], r);
        if (ins[a]) return si_fail(c, "axis %d given twice", a);
        ins[a] = 1;
    }
    o->rank = r;
    for (int i = 0, k = 0; i < r; i++) o->d[i] = ins[i] ? (si_dim){1, NULL} : x->d[k++];
    if (c->val[0] && c->val[0]->rank == 0 && r == 1) {
        si_val *v = si_new_val(c);
        if (v) {
            *v = *c->val[0];
            v->rank = 1;
            c->out_val[0] = v;
        }
    }
    return 0;
}

/* ---- Slice ---------------------------------------------------------------------------- */

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* Length of [start:end:step] over dim with ONNX clamping; *first = first index taken. */
static int64_t slice_len(int64_t dim, int64_t start, int64_t end, int64_t step, int64_t *first) {
    *first = 0;
    if (dim == 0) return 0;
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    if (step > 0) {
        start = clamp64(start, 0, dim);
        end = clamp64(end, 0, dim);
        *first = start;
        return end > start ? (end - start - 1) / step + 1 : 0;
    }
    start = clamp64(start, 0, dim - 1);
    end = clamp64(end, -1, dim - 1);
    *first = start;
    if (step == INT64_MIN) return start > end;
    return start > end ? (start - end - 1) / (-step) + 1 : 0;
}

int si_rule_slice(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    const si_shape *x = IN(0);
    si_shape *o = &c->out[0];
    o->elem = x->elem;
    if (x->rank < 0) return 0;
    int64_t st[KP_MAX_RANK], en[KP_MAX_RANK], ax[KP_MAX_RANK], sp[KP_MAX_RANK];
    int ns = 0, ne = 0, na = 0, nsp = 0, known = 1;
    if (c->opset < 10) {
        const int64_t *v;
        size_t k1 = kp_node_attr_ints(c->n, "starts", &v);
        if (k1 > KP_MAX_RANK) return 0;
        if (k1) memcpy(st, v, k1 * sizeof *st);
        size_t k2 = kp_node_attr_ints(c->n, "ends", &v);
        if (k2 > KP_MAX_RANK) return 0;
        if (k2) memcpy(en, v, k2 * sizeof *en);
        size_t k3 = kp_node_attr_ints(c->n, "axes", &v);
        if (k3 > KP_MAX_RANK) return 0;
        if (k3) memcpy(ax, v, k3 * sizeof *ax);
        ns = (int)k1;
        ne = (int)k2;
        na = (int)k3;
    } else {
        if (si_ints(c, 1, st, KP_MAX_RANK, &ns) || si_ints(c, 2, en, KP_MAX_RANK, &ne)) known = 0;
        if (HAS(3) && si_ints(c, 3, ax, KP_MAX_RANK, &na)) known = 0;
        if (HAS(4) && si_ints(c, 4, sp, KP_MAX_RANK, &nsp)) known = 0;
    }
    *o = *x;
    if (!known) {
        for (int i = 0; i < x->rank; i++) o->d[i] = (si_dim){-1, NULL};
        return 0;
    }
    if (ns != ne) return si_fail(c, "starts and ends differ in length");
    if (!na) {
        na = ns;
        for (int i = 0; i < na; i++) ax[i] = i;
    }
    if (na != ns || (nsp && nsp != ns))
        return si_fail(c, "starts, ends, axes and steps differ in length");
    int seen[KP_MAX_RANK] = {0};
    int64_t first0 = 0, len0 = -1, step0 = 1;
    for (int i = 0; i < na; i++) {
        int a = si_axis(ax[i], x->rank);
        if (a < 0)
            return si_fail(c, "axis %lld out of range for rank %d", (long long)ax[i], x->rank);
        if (seen[a]) return si_fail(c, "axis %d given twice", a);
        seen[a] = 1;
        int64_t step = nsp ? sp[i] : 1;
        if (!step) return si_fail(c, "step is 0");
        int64_t d = x->d[a].v;
        if (d < 0) {
            o->d[a] = (si_dim){-1, NULL};
            continue;
        }
        int64_t first;
        o->d[a] = (si_dim){slice_len(d, st[i], en[i], step, &first), NULL};
        if (a == 0) {
            first0 = first;
            len0 = o->d[a].v;
            step0 = step;
        }
    }
    const si_val *xv = c->val[0];
    if (!xv || xv->rank != 1 || x->rank != 1 || (seen[0] && len0 < 0)) return 0;
    si_val *v = si_new_val(c);
    if (!v) return 0;
    v->rank = 1;
    if (!seen[0]) {
        *v = *xv;
    } else {
        for (int64_t k = 0; k < len0; k++) {
            int64_t idx = first0 + k * step0;
            if (idx < 0 || idx >= xv->n) return 0;
            v->e[v->n++] = xv->e[idx];
        }
    }
    c->out_val[0] = v;
    return 0;
}

/* ---- Gather --------------------------------------------------------------------------- */

int si_rule_gather(si_ctx *c) {
    if (!c->n_out || c->n_in < 2) return 0;
    const si_shape *x = IN(0), *ix = IN(1);
    si_shape *o = &c->out[0];
    o->elem = x->elem;
    if (x->rank < 0 || ix->rank < 0) return 0;
    if (x->rank == 0) return si_fail(c, "cannot gather from a scalar");
    int ax = si_axis(kp_node_attr_int(c->n, "axis", 0), x->rank);
    if (ax < 0) return si_fail(c, "axis out of range for rank %d", x->rank);
    int r = x->rank - 1 + ix->rank;
    if (r > KP_MAX_RANK) return 0;
    o->rank = r;
    int k = 0;
    for (int i = 0; i < ax; i++) o->d[k++] = x->d[i];
    for (int i = 0; i < ix->rank; i++) o->d[k++] = ix->d[i];
    for (int i = ax + 1; i < x->rank; i++) o->d[k++] = x->d[i];
    const si_val *xv = c->val[0], *iv = c->val[1];
    if (!xv || !iv || xv->rank != 1 || ax != 0) return 0;
    si_val *v = si_new_val(c);
    if (!v) return 0;
    v->rank = iv->rank;
    for (int i = 0; i < iv->n; i++) {
        if (!iv->e[i].known) return 0;
        int64_t idx = iv->e[i].v < 0 ? iv->e[i].v + xv->n : iv->e[i].v;
        if (idx < 0 || idx >= xv->n)
            return si_fail(c, "index %lld out of range for %d entries", (long long)iv->e[i].v,
                           xv->n);
        v->e[v->n++] = xv->e[idx];
    }
    c->out_val[0] = v;
    return 0;
}

int si_rule_gather_elements(si_ctx *c) {
    if (!c->n_out || c->n_in < 2) return 0;
    c->out[0] = *IN(1);
    c->out[0].elem = IN(0)->elem;
    return 0;
}

int si_rule_gather_nd(si_ctx *c) {
    if (!c->n_out || c->n_in < 2) return 0;
    const si_shape *x = IN(0), *ix = IN(1);
    si_shape *o = &c->out[0];
    o->elem = x->elem;
    if (x->rank < 0 || ix->rank < 1 || ix->d[ix->rank - 1].v < 0) return 0;
    int64_t b = kp_node_attr_int(c->n, "batch_dims", 0), last = ix->d[ix->rank - 1].v;
    if (b < 0 || b + last > x->rank)
        return si_fail(c, "indices address more axes than the data has");
    int r = ix->rank - 1 + x->rank - (int)(b + last);
    if (r > KP_MAX_RANK) return 0;
    o->rank = r;
    int k = 0;
    for (int i = 0; i < ix->rank - 1; i++) o->d[k++] = ix->d[i];
    for (int i = (int)(b + last); i < x->rank; i++) o->d[k++] = x->d[i];
    return 0;
}
