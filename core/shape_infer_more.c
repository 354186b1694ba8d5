/* Shape rules for less common ops: Einsum, Det, RoiAlign, NonMaxSuppression, GridSample,
 * MaxUnpool, the NLL / softmax cross-entropy losses, and Scan. */
#include <string.h>

#include "core/shape_infer_priv.h"

#define IN(i)  (&c->in[i])
#define HAS(i) ((i) < c->n_in && c->n->inputs[i][0])

/* ---- Einsum --------------------------------------------------------------------------- */

/* One term of an equation: letters in order, ellipsis position (-1 if none). */
typedef struct term {
    char l[KP_MAX_RANK * 2];
    int n, ell;
} term;

static int parse_term(const char *s, const char *e, term *t) {
    t->n = 0;
    t->ell = -1;
    while (s < e) {
        if (*s == ' ') {
            s++;
        } else if (*s == '.') {
            if (e - s < 3 || s[1] != '.' || s[2] != '.' || t->ell >= 0) return -1;
            t->ell = t->n;
            s += 3;
        } else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) {
            if (t->n >= (int)sizeof t->l) return -1;
            t->l[t->n++] = *s++;
        } else {
            return -1;
        }
    }
    return 0;
}

int si_rule_einsum(si_ctx *c) {
    if (!c->n_out) return 0;
    si_shape *o = &c->out[0];
    o->elem = c->n_in ? IN(0)->elem : KP_UNDEFINED;
    const char *eq = kp_node_attr_string(c->n, "equation", NULL);
    if (!eq) return si_fail(c, "equation is missing");
    const char *arrow = strstr(eq, "->"), *end = arrow ? arrow : eq + strlen(eq);
    si_dim letter[128];
    int seen[128] = {0}, count[128] = {0};
    for (int i = 0; i < 128; i++) letter[i] = (si_dim){-1, NULL};
    si_shape ell;
    si_unknown(&ell);
    int ell_set = 0, any_ell = 0;
    const char *s = eq;
    for (size_t k = 0; k < c->n_in; k++) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *te = comma ? comma : end;
        term t;
        if (parse_term(s, te, &t)) return si_fail(c, "cannot parse equation '%s'", eq);
        const si_shape *x = IN(k);
        if (x->rank >= 0) {
            int ne = x->rank - t.n;
            if (ne < 0 || (t.ell < 0 && ne))
                return si_fail(c, "term %zu does not fit rank %d", k, x->rank);
            for (int i = 0; i < t.n; i++) {
                int pos = t.ell >= 0 && i >= t.ell ? i + ne : i;
                unsigned char ch = (unsigned char)t.l[i];
                si_dim d = x->d[pos];
                if (seen[ch] && d.v != 1 && letter[ch].v != 1 &&
                    si_dim_merge(letter[ch], d, &letter[ch]))
                    return si_fail(c, "letter %c has two sizes", ch);
                if (!seen[ch] || letter[ch].v == 1) letter[ch] = d;
                seen[ch] = 1;
            }
            if (t.ell >= 0) {
                si_shape part;
                part.elem = x->elem;
                part.rank = ne;
                for (int i = 0; i < ne; i++) part.d[i] = x->d[t.ell + i];
                if (!ell_set) {
                    ell = part;
                    ell_set = 1;
                } else {
                    si_shape b;
                    b.elem = x->elem;
                    if (si_broadcast(&ell, &part, &b, NULL))
                        return si_fail(c, "ellipsis dims do not broadcast");
                    ell = b;
                }
            }
        } else {
            for (int i = 0; i < t.n; i++) seen[(unsigned char)t.l[i]] = 1;
            if (t.ell >= 0) ell_set = -1; /* unknown */
        }
        for (int i = 0; i < t.n; i++) count[(unsigned char)t.l[i]]++;
        any_ell |= t.ell >= 0;
        if (!comma) {
            if (k + 1 != c->n_in) return si_fail(c, "equation has fewer terms than inputs");
            break;
        }
        s = comma + 1;
    }
    term out;
    if (arrow) {
        if (parse_term(arrow + 2, arrow + strlen(arrow), &out))
            return si_fail(c, "cannot parse equation '%s'", eq);
    } else { /* implicit: ellipsis, then letters used once, alphabetically */
        out.n = 0;
        out.ell = any_ell ? 0 : -1;
        for (int ch = 'A'; ch <= 'z'; ch++)
            if (count[ch] == 1 && out.n < (int)sizeof out.l) out.l[out.n++] = (char)ch;
    }
    if (out.ell >= 0 && ell_set < 0) return 0;
    int ne = out.ell >= 0 && ell_set ? ell.rank : 0;
    if (out.n + ne > KP_MAX_RANK) return 0;
    o->rank = out.n + ne;
    for (int i = 0, k = 0; i < out.n; i++) {
        if (i == out.ell)
            for (int j = 0; j < ne; j++) o->d[k++] = ell.d[j];
        unsigned char ch = (unsigned char)out.l[i];
        if (!seen[ch]) return si_fail(c, "output letter %c is not in any input", ch);
        o->d[k++] = letter[ch];
    }
    if (out.ell == out.n)
        for (int j = 0; j < ne; j++) o->d[out.n + j] = ell.d[j];
    return 0;
}

/* ---- small ones ----------------------------------------------------------------------- */

int si_rule_det(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    const si_shape *x = IN(0);
    si_shape *o = &c->out[0];
    o->elem = x->elem;
    if (x->rank < 0) return 0;
    if (x->rank < 2) return si_fail(c, "input must have rank 2 or more");
    *o = *x;
    o->rank -= 2;
    return 0;
}

int si_rule_roialign(si_ctx *c) {
    if (!c->n_out || c->n_in < 2) return 0;
    const si_shape *x = IN(0), *r = IN(1);
    si_shape *o = &c->out[0];
    o->elem = x->elem;
    o->rank = 4;
    o->d[0] = r->rank == 2 ? r->d[0] : (si_dim){-1, NULL};
    o->d[1] = x->rank == 4 ? x->d[1] : (si_dim){-1, NULL};
    o->d[2] = (si_dim){kp_node_attr_int(c->n, "output_height", 1), NULL};
    o->d[3] = (si_dim){kp_node_attr_int(c->n, "output_width", 1), NULL};
    return 0;
}

int si_rule_nms(si_ctx *c) {
    if (!c->n_out) return 0;
    si_shape *o = &c->out[0];
    o->elem = KP_INT64;
    o->rank = 2;
    o->d[0] = (si_dim){-1, NULL};
    o->d[1] = (si_dim){3, NULL};
    return 0;
}

int si_rule_gridsample(si_ctx *c) {
    if (!c->n_out || c->n_in < 2) return 0;
    const si_shape *x = IN(0), *g = IN(1);
    si_shape *o = &c->out[0];
    o->elem = x->elem;
    if (x->rank < 0 || g->rank < 0) return 0;
    if (g->rank != x->rank) return si_fail_shapes(c, "input and grid ranks differ", x, g);
    o->rank = x->rank;
    si_dim n;
    if (si_dim_merge(x->d[0], g->d[0], &n)) return si_fail_shapes(c, "batch sizes differ", x, g);
    o->d[0] = n;
    o->d[1] = x->d[1];
    for (int i = 2; i < x->rank; i++) o->d[i] = g->d[i - 1];
    return 0;
}

int si_rule_maxunpool(si_ctx *c) {
    if (!c->n_out || !c->n_in) return 0;
    const si_shape *x = IN(0);
    si_shape *o = &c->out[0];
    o->elem = x->elem;
    if (HAS(2)) {
        const si_val *v = c->val[2];
        if (!v || v->rank != 1 || v->n > KP_MAX_RANK) return 0;
        o->rank = v->n;
        for (int i = 0; i < v->n; i++) o->d[i] = si_dim_of_vel(v->e[i]);
        return 0;
    }
    if (x->rank < 3) return 0;
    int nsp = x->rank - 2;
    const int64_t *ks, *st, *pads;
    size_t nk = kp_node_attr_ints(c->n, "kernel_shape", &ks);
    size_t ns = kp_node_attr_ints(c->n, "strides", &st);
    size_t np = kp_node_attr_ints(c->n, "pads", &pads);
    if (nk != (size_t)nsp) return si_fail(c, "kernel_shape has %zu values", nk);
    *o = *x;
    for (int i = 0; i < nsp; i++) {
        si_dim in = x->d[2 + i];
        if (in.v < 0) {
            o->d[2 + i] = (si_dim){-1, NULL};
            continue;
        }
        int64_t s = (size_t)i < ns ? st[i] : 1, p = 0, v;
        if ((np == (size_t)(2 * nsp) && si_add(pads[i], pads[nsp + i], &p)) ||
            si_mul(in.v - 1, s, &v) || si_add(v, ks[i], &v) || si_add(v, -p, &v))
            return si_fail(c, "output size overflows");
        if (v < 0) return si_fail(c, "output size is negative");
        o->d[2 + i].v = v;
    }
    return 0;
}

/* NegativeLogLikelihoodLoss (input, target) and SoftmaxCrossEntropyLoss (scores, labels). */
int si_rule_loss(si_ctx *c) {
    if (!c->n_out || c->n_in < 2) return 0;
    const si_shape *x = IN(0), *t = IN(1);
    const char *red = kp_node_attr_string(c->n, "reduction", "mean");
    si_shape *o = &c->out[0];
    o->elem = x->elem;
    if (strcmp(red, "none")) {
        o->rank = 0;
    } else {
        *o = *t;
        o->elem = x->elem;
    }
    if (c->n_out > 1) c->out[1] = *x; /* log_prob */
    return 0;
}

/* Compress: the kept count along axis is the number of true conditions when those are known. */
int si_rule_compress(si_ctx *c) {
    if (!c->n_out || c->n_in < 2) return 0;
    const si_shape *x = IN(0);
    si_shape *o = &c->out[0];
    o->elem = x->elem;
    int64_t kept = -1;
    const kp_tensor *cond = c->cval[1];
    if (cond && cond->rank == 1) {
        kept = 0;
        for (int64_t i = 0; i < cond->numel; i++) kept += kp_tensor_get(cond, i) != 0;
    }
    const kp_attr *ax = kp_node_attr(c->n, "axis");
    if (!ax) {
        o->rank = 1;
        o->d[0] = (si_dim){kept, NULL};
        return 0;
    }
    if (x->rank < 0) return 0;
    int a = si_axis(ax->i, x->rank);
    if (a < 0) return si_fail(c, "axis out of range for rank %d", x->rank);
    *o = *x;
    o->d[a] = (si_dim){kept, NULL};
    return 0;
}

/* HannWindow, HammingWindow, BlackmanWindow: 1-D of the given size. */
int si_rule_window(si_ctx *c) {
    if (!c->n_out) return 0;
    si_shape *o = &c->out[0];
    int64_t dt = kp_node_attr_int(c->n, "output_datatype", KP_FLOAT);
    o->elem = kp_dtype_valid((int)dt) ? (kp_dtype)dt : KP_UNDEFINED;
    o->rank = 1;
    int64_t n[1];
    int k;
    o->d[0] = (si_dim){!si_ints(c, 0, n, 1, &k) && k == 1 && n[0] >= 0 ? n[0] : -1, NULL};
    return 0;
}

/* ---- Scan ----------------------------------------------------------------------------- */

int si_rule_scan(si_ctx *c) {
    const kp_attr *b = kp_node_attr(c->n, "body");
    if (!b || !b->g) return si_fail(c, "Scan needs a body");
    kp_graph *g = b->g;
    int64_t m = kp_node_attr_int(c->n, "num_scan_inputs", -1);
    size_t first = c->opset < 9 ? 1 : 0; /* opset 8 has sequence_lens first */
    if (m < 0 || (size_t)m + first > c->n_in) return si_fail(c, "num_scan_inputs is wrong");
    size_t nstate = c->n_in - first - (size_t)m;
    if (g->n_outputs != c->n_out || c->n_out < nstate)
        return si_fail(c, "the body has %zu outputs for %zu node outputs", g->n_outputs, c->n_out);
    /* sequence length from the first scan input along its scan axis */
    si_dim seq = {-1, NULL};
    if (m > 0) {
        const si_shape *x = IN(first + nstate);
        const int64_t *ax;
        size_t na = kp_node_attr_ints(c->n, "scan_input_axes", &ax);
        int batch = c->opset < 9;
        if (x->rank >= 0) {
            int a = si_axis(na ? ax[0] : 0, x->rank - batch);
            if (a >= 0) seq = x->d[a + batch];
        }
    }
    const int64_t *oax;
    size_t noax = kp_node_attr_ints(c->n, "scan_output_axes", &oax);
    int v8 = c->opset < 9;
    si_dim batch = {-1, NULL}; /* opset 8: every value has a leading batch axis */
    if (v8)
        for (size_t i = first; i < c->n_in && batch.v < 0 && !batch.sym; i++)
            if (IN(i)->rank > 0) batch = IN(i)->d[0];
    for (size_t i = 0; i < c->n_out; i++) {
        si_shape s;
        si_from_type(c->run, kp_graph_value_type(g, g->outputs[i].name), &s);
        int add = (i >= nstate) + v8;
        if (s.rank < 0 || s.rank + add > KP_MAX_RANK) {
            s.rank = -1;
            c->out[i] = s;
            continue;
        }
        if (i >= nstate) {
            size_t k = i - nstate;
            int a = v8 ? 0 : si_axis(k < noax ? oax[k] : 0, s.rank + 1);
            if (a < 0) return si_fail(c, "scan_output_axes out of range");
            memmove(&s.d[a + 1], &s.d[a], (size_t)(s.rank - a) * sizeof s.d[0]);
            s.d[a] = seq;
            s.rank++;
        }
        if (v8) {
            memmove(&s.d[1], &s.d[0], (size_t)s.rank * sizeof s.d[0]);
            s.d[0] = batch;
            s.rank++;
        }
        c->out[i] = s;
    }
    return 0;
}
