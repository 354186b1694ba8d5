/* Shape and dtype inference driver: walks graphs in node order (subgraphs first for If/Loop/
 * Scan), feeds each node's input types, constant values and small integer values to the op's
 * rule (shape_infer_ops*.c), and merges results into value_info. The per-op rules live in the
 * rule files; this file holds the bookkeeping and the shared helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/shape_infer.h"
#include "core/shape_infer_priv.h"

#define MAX_DEPTH 64

typedef struct slot {
    const kp_graph *g;
    char *name; /* owned */
    si_shape shape;
    int has_shape;
    si_val *val; /* owned by the run's pool */
} slot;

typedef struct si_run {
    int64_t opset;
    kp_error *err;
    /* interned symbol names */
    char **syms;
    size_t n_syms, cap_syms;
    /* values and shapes computed so far, keyed by (graph, name) */
    slot *slots;
    size_t n_slots, cap_slots; /* cap is a power of two (open addressing) */
    /* every si_val made during the run */
    si_val **vals;
    size_t n_vals, cap_vals;
    const volatile int *cancel; /* optional: checked every few thousand nodes */
} si_run;

/* ---- helpers shared with the rules ---------------------------------------------------- */

const char *si_intern(si_run *r, const char *s) {
    if (!s || !*s) return NULL;
    for (size_t i = 0; i < r->n_syms; i++)
        if (!strcmp(r->syms[i], s)) return r->syms[i];
    if (r->n_syms == r->cap_syms) {
        size_t cap = r->cap_syms ? r->cap_syms * 2 : 16;
        char **ns = realloc(r->syms, cap * sizeof *ns);
        if (!ns) return NULL;
        r->syms = ns;
        r->cap_syms = cap;
    }
    size_t len = strlen(s) + 1;
    char *d = malloc(len);
    if (!d) return NULL;
    memcpy(d, s, len);
    r->syms[r->n_syms++] = d;
    return d;
}

si_val *si_new_val(si_ctx *c) {
    si_run *r = c->run;
    if (r->n_vals == r->cap_vals) {
        size_t cap = r->cap_vals ? r->cap_vals * 2 : 64;
        si_val **nv = realloc(r->vals, cap * sizeof *nv);
        if (!nv) return NULL;
        r->vals = nv;
        r->cap_vals = cap;
    }
    si_val *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    r->vals[r->n_vals++] = v;
    return v;
}

int si_fail(si_ctx *c, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const kp_node *n = c->n;
    return kp_error_set(c->err, KP_EFORMAT, "node %s (%s): %s",
                        n->name && n->name[0] ? n->name : (n->n_outputs ? n->outputs[0] : "?"),
                        n->op_type, msg);
}

void si_unknown(si_shape *s) {
    memset(s, 0, sizeof *s);
    s->elem = KP_UNDEFINED;
    s->rank = -1;
    for (int i = 0; i < KP_MAX_RANK; i++) s->d[i].v = -1;
}

int si_dim_known(si_dim d) {
    return d.v >= 0;
}

int si_dim_merge(si_dim a, si_dim b, si_dim *out) {
    if (a.v >= 0 && b.v >= 0) {
        *out = a;
        return a.v == b.v ? 0 : -1;
    }
    if (a.v >= 0) {
        *out = a;
    } else if (b.v >= 0) {
        *out = b;
    } else {
        *out = a.sym ? a : b;
    }
    return 0;
}

int si_broadcast(const si_shape *a, const si_shape *b, si_shape *out, int *bad_axis) {
    kp_dtype elem = out->elem;
    si_unknown(out);
    out->elem = elem;
    if (a->rank < 0 || b->rank < 0) return 0;
    int r = a->rank > b->rank ? a->rank : b->rank;
    out->rank = r;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        si_dim da = ia >= 0 ? a->d[ia] : (si_dim){1, NULL};
        si_dim db = ib >= 0 ? b->d[ib] : (si_dim){1, NULL};
        si_dim o = {-1, NULL};
        if (da.v == 1)
            o = db;
        else if (db.v == 1)
            o = da;
        else if (da.v >= 0 && db.v >= 0) {
            if (da.v != db.v) {
                if (bad_axis) *bad_axis = i;
                return -1;
            }
            o = da;
        } else if (da.v >= 0)
            o = da; /* the unknown one must be 1 or equal */
        else if (db.v >= 0)
            o = db;
        else if (da.sym && da.sym == db.sym)
            o = da;
        out->d[i] = o;
    }
    return 0;
}

int si_ints(si_ctx *c, size_t i, int64_t *out, int cap, int *n) {
    if (i >= c->n_in || !c->val[i]) return -1;
    const si_val *v = c->val[i];
    if (v->n > cap) return -1;
    for (int k = 0; k < v->n; k++) {
        if (!v->e[k].known) return -1;
        out[k] = v->e[k].v;
    }
    *n = v->n;
    return 0;
}

int si_floats(si_ctx *c, size_t i, double *out, int cap, int *n) {
    if (i >= c->n_in || !c->cval[i]) return -1;
    const kp_tensor *t = c->cval[i];
    if (t->numel > cap || t->dtype == KP_STRING) return -1;
    for (int64_t k = 0; k < t->numel; k++) out[k] = kp_tensor_get(t, k);
    *n = (int)t->numel;
    return 0;
}

int si_axis(int64_t axis, int rank) {
    if (axis < -rank || axis >= rank) return -1;
    return (int)(axis < 0 ? axis + rank : axis);
}

int64_t si_prod(const si_shape *s, int from, int to) {
    int64_t p = 1;
    for (int i = from; i < to; i++) {
        if (s->d[i].v < 0) return -1;
        if (s->d[i].v && p > INT64_MAX / s->d[i].v) return -1;
        p *= s->d[i].v;
    }
    return p;
}

/* ---- the (graph, name) map ------------------------------------------------------------ */

static uint64_t slot_hash(const kp_graph *g, const char *s) {
    uint64_t h = 1469598103934665603ull ^ (uint64_t)(uintptr_t)g;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static slot *slot_find(si_run *r, const kp_graph *g, const char *name) {
    if (!r->cap_slots) return NULL;
    size_t mask = r->cap_slots - 1;
    for (size_t j = slot_hash(g, name) & mask; r->slots[j].name; j = (j + 1) & mask)
        if (r->slots[j].g == g && !strcmp(r->slots[j].name, name)) return &r->slots[j];
    return NULL;
}

static slot *slot_get(si_run *r, const kp_graph *g, const char *name) {
    slot *s = slot_find(r, g, name);
    if (s) return s;
    if ((r->n_slots + 1) * 2 > r->cap_slots) {
        size_t cap = r->cap_slots ? r->cap_slots * 2 : 256;
        slot *ns = calloc(cap, sizeof *ns);
        if (!ns) return NULL;
        for (size_t i = 0; i < r->cap_slots; i++)
            if (r->slots[i].name) {
                size_t j = slot_hash(r->slots[i].g, r->slots[i].name) & (cap - 1);
                while (ns[j].name) j = (j + 1) & (cap - 1);
                ns[j] = r->slots[i];
            }
        free(r->slots);
        r->slots = ns;
        r->cap_slots = cap;
    }
    size_t mask = r->cap_slots - 1, j = slot_hash(g, name) & mask;
    while (r->slots[j].name) j = (j + 1) & mask;
    size_t len = strlen(name) + 1;
    char *d = malloc(len);
    if (!d) return NULL;
    memcpy(d, name, len);
    s = &r->slots[j];
    memset(s, 0, sizeof *s);
    s->g = g;
    s->name = d;
    r->n_slots++;
    return s;
}

static void run_free(si_run *r) {
    for (size_t i = 0; i < r->n_syms; i++) free(r->syms[i]);
    free(r->syms);
    for (size_t i = 0; i < r->cap_slots; i++) free(r->slots[i].name);
    free(r->slots);
    for (size_t i = 0; i < r->n_vals; i++) free(r->vals[i]);
    free(r->vals);
}

/* ---- conversions ---------------------------------------------------------------------- */

void si_from_type(si_run *r, const kp_type *t, si_shape *s) {
    si_unknown(s);
    if (!t || t->kind != KP_TYPE_TENSOR) return;
    s->elem = kp_dtype_valid((int)t->elem) ? t->elem : KP_UNDEFINED;
    if (t->rank < 0 || t->rank > KP_MAX_RANK || (t->rank > 0 && !t->dims)) return;
    s->rank = t->rank;
    for (int i = 0; i < t->rank; i++) {
        s->d[i].v = t->dims[i].value >= 0 ? t->dims[i].value : -1;
        s->d[i].sym = s->d[i].v < 0 ? si_intern(r, t->dims[i].param) : NULL;
    }
}

/* Merges inferred s over declared t into out (a fresh kp_type). Returns 1 if out differs from
 * t, 0 if nothing new, negative on no memory. */
static int merged_type(const si_shape *s, const kp_type *t, kp_type *out) {
    memset(out, 0, sizeof *out);
    out->rank = -1;
    int have_t = t && t->kind == KP_TYPE_TENSOR;
    kp_dtype elem = s->elem != KP_UNDEFINED ? s->elem : (have_t ? t->elem : KP_UNDEFINED);
    int rank = s->rank >= 0 ? s->rank : (have_t ? t->rank : -1);
    if (rank > KP_MAX_RANK) rank = -1;
    if (kp_type_set_tensor(out, elem, rank, NULL)) return KP_ENOMEM;
    int same_rank = have_t && t->rank == rank && (rank <= 0 || t->dims);
    for (int i = 0; i < rank; i++) {
        kp_dim *o = &out->dims[i];
        const kp_dim *td = same_rank ? &t->dims[i] : NULL;
        if (s->rank >= 0 && s->d[i].v >= 0) {
            o->value = s->d[i].v;
        } else if (td && (td->value >= 0 || td->param)) {
            o->value = td->value >= 0 ? td->value : -1;
            if (td->param && !(o->param = strdup(td->param))) return KP_ENOMEM;
        } else if (s->rank >= 0 && s->d[i].sym) {
            if (!(o->param = strdup(s->d[i].sym))) return KP_ENOMEM;
        }
        if (td && td->denotation && !(o->denotation = strdup(td->denotation))) return KP_ENOMEM;
    }
    if (have_t && t->denotation && !(out->denotation = strdup(t->denotation))) return KP_ENOMEM;
    if (!have_t) return elem != KP_UNDEFINED || rank >= 0;
    if (t->elem != out->elem || t->rank != out->rank) return 1;
    for (int i = 0; i < rank; i++) {
        const kp_dim *a = &t->dims[i], *b = &out->dims[i];
        if (a->value != b->value || !a->param != !b->param ||
            (a->param && strcmp(a->param, b->param)))
            return 1;
    }
    return 0;
}

/* Small integer value of a constant tensor, or NULL. */
static si_val *val_of_const(si_ctx *c, const kp_tensor *t) {
    if (!t || t->rank > 1 || t->numel > SI_MAX_VAL) return NULL;
    switch (t->dtype) {
    case KP_INT64:
    case KP_INT32:
    case KP_INT16:
    case KP_INT8:
    case KP_UINT8:
    case KP_UINT16:
    case KP_UINT32:
    case KP_BOOL: break;
    default: return NULL;
    }
    if (t->numel && !t->data) return NULL;
    si_val *v = si_new_val(c);
    if (!v) return NULL;
    v->rank = t->rank;
    v->n = (int)t->numel;
    for (int i = 0; i < v->n; i++) {
        v->e[i].known = 1;
        v->e[i].v =
            t->dtype == KP_INT64 ? ((const int64_t *)t->data)[i] : (int64_t)kp_tensor_get(t, i);
    }
    return v;
}

/* Shape and value of `name` as seen from g (g first, then enclosing graphs). */
static void lookup(si_run *r, kp_graph *g, const char *name, si_shape *s, const si_val **val) {
    si_unknown(s);
    *val = NULL;
    for (kp_graph *p = g; p; p = p->parent) {
        slot *sl = slot_find(r, p, name);
        if (sl) {
            if (sl->has_shape) *s = sl->shape;
            *val = sl->val;
            if (sl->has_shape) return;
            break;
        }
    }
    si_from_type(r, kp_graph_value_type(g, name), s);
}

/* ---- graphs and nodes ----------------------------------------------------------------- */

static int infer_graph(si_run *r, kp_graph *g, int depth);

static int infer_subgraphs(si_run *r, kp_node *n, int depth) {
    for (size_t a = 0; a < n->n_attrs; a++) {
        kp_attr *at = &n->attrs[a];
        int rc = 0;
        if (at->g) rc = infer_graph(r, at->g, depth + 1);
        for (size_t k = 0; !rc && at->graphs && k < at->n; k++)
            if (at->graphs[k]) rc = infer_graph(r, at->graphs[k], depth + 1);
        if (rc) return rc;
    }
    return 0;
}

/* A Loop body gets the types of its inputs from the Loop when it does not declare them:
 * (iteration int64 scalar, condition bool scalar, loop-carried values...). */
static int seed_loop_body(si_run *r, kp_graph *g, kp_node *n) {
    const kp_attr *a = kp_node_attr(n, "body");
    if (!a || !a->g) return 0;
    kp_graph *b = a->g;
    for (size_t i = 0; i < b->n_inputs; i++) {
        kp_value_info *vi = &b->inputs[i];
        if (vi->type.kind == KP_TYPE_TENSOR && vi->type.elem != KP_UNDEFINED) continue;
        si_shape s;
        si_unknown(&s);
        if (i == 0) {
            s.elem = KP_INT64;
            s.rank = 0;
        } else if (i == 1) {
            s.elem = KP_BOOL;
            s.rank = 0;
        } else if (i < n->n_inputs && n->inputs[i][0]) {
            const si_val *v;
            lookup(r, g, n->inputs[i], &s, &v);
        }
        kp_type t;
        int rc = merged_type(&s, &vi->type, &t);
        if (rc < 0) return rc;
        if (rc > 0) {
            kp_type_clear(&vi->type);
            vi->type = t;
        } else {
            kp_type_clear(&t);
        }
    }
    return 0;
}

/* Sets a body input's type from s when the body does not declare one. */
static int seed_input(kp_value_info *vi, const si_shape *s) {
    if (vi->type.kind == KP_TYPE_TENSOR && vi->type.elem != KP_UNDEFINED && vi->type.rank >= 0)
        return 0;
    kp_type t;
    int rc = merged_type(s, &vi->type, &t);
    if (rc < 0) return rc;
    if (rc > 0) {
        kp_type_clear(&vi->type);
        vi->type = t;
    } else {
        kp_type_clear(&t);
    }
    return 0;
}

/* A Scan body (opset 9+) sees the states as they are and one slice of each scan input. */
static int seed_scan_body(si_run *r, kp_graph *g, kp_node *n) {
    const kp_attr *a = kp_node_attr(n, "body");
    int64_t m = kp_node_attr_int(n, "num_scan_inputs", -1);
    if (!a || !a->g || r->opset < 9 || m < 0 || (size_t)m > n->n_inputs) return 0;
    kp_graph *b = a->g;
    size_t nstate = n->n_inputs - (size_t)m;
    const int64_t *ax;
    size_t na = kp_node_attr_ints(n, "scan_input_axes", &ax);
    for (size_t i = 0; i < b->n_inputs && i < n->n_inputs; i++) {
        if (!n->inputs[i][0]) continue;
        si_shape s;
        const si_val *v;
        lookup(r, g, n->inputs[i], &s, &v);
        if (i >= nstate && s.rank > 0) {
            size_t k = i - nstate;
            int64_t axis = k < na ? ax[k] : 0;
            if (axis < 0) axis += s.rank;
            if (axis < 0 || axis >= s.rank) continue;
            memmove(&s.d[axis], &s.d[axis + 1], (size_t)(s.rank - axis - 1) * sizeof s.d[0]);
            s.rank--;
        } else if (i >= nstate) {
            s.rank = -1;
        }
        int rc = seed_input(&b->inputs[i], &s);
        if (rc) return rc;
    }
    return 0;
}

static int infer_node(si_run *r, kp_graph *g, kp_node *n, int depth) {
    int rc = 0;
    if (kp_node_is(n, "Loop") && (rc = seed_loop_body(r, g, n))) return rc;
    if (kp_node_is(n, "Scan") && (rc = seed_scan_body(r, g, n))) return rc;
    if ((rc = infer_subgraphs(r, n, depth))) return rc;
    si_rule rule = NULL;
    if (!n->domain || !n->domain[0] || !strcmp(n->domain, "ai.onnx"))
        rule = si_find_rule(n->op_type);
    if (!rule) return 0; /* unknown op: declared value_info stays as it is */
    size_t ni = n->n_inputs, no = n->n_outputs;
    si_shape *in = calloc(ni ? ni : 1, sizeof *in);
    const kp_tensor **cval = calloc(ni ? ni : 1, sizeof *cval);
    const si_val **val = calloc(ni ? ni : 1, sizeof *val);
    si_shape *out = calloc(no ? no : 1, sizeof *out);
    si_val **out_val = calloc(no ? no : 1, sizeof *out_val);
    if (!in || !cval || !val || !out || !out_val) {
        rc = kp_error_set(r->err, KP_ENOMEM, "out of memory inferring shapes");
        goto done;
    }
    si_ctx c = {r, g, n, r->opset, ni, in, cval, val, no, out, out_val, r->err};
    for (size_t i = 0; i < ni; i++) {
        si_unknown(&in[i]);
        if (!n->inputs[i][0]) continue;
        lookup(r, g, n->inputs[i], &in[i], &val[i]);
        cval[i] = kp_graph_find_const(g, n->inputs[i]);
        if (!val[i] && cval[i]) val[i] = val_of_const(&c, cval[i]);
    }
    for (size_t i = 0; i < no; i++) si_unknown(&out[i]);
    if ((rc = rule(&c))) goto done;
    for (size_t i = 0; i < no; i++) {
        const char *name = n->outputs[i];
        if (!name[0]) continue;
        kp_type t;
        int ch = merged_type(&out[i], kp_graph_value_type(g, name), &t);
        if (ch < 0 || (ch > 0 && kp_graph_set_value_type(g, name, &t))) {
            kp_type_clear(&t);
            rc = kp_error_set(r->err, KP_ENOMEM, "out of memory inferring shapes");
            goto done;
        }
        slot *sl = slot_get(r, g, name);
        if (!sl) {
            kp_type_clear(&t);
            rc = kp_error_set(r->err, KP_ENOMEM, "out of memory inferring shapes");
            goto done;
        }
        si_from_type(r, &t, &sl->shape);
        sl->has_shape = 1;
        sl->val = out_val[i];
        kp_type_clear(&t);
    }
done:
    free(in);
    free(cval);
    free(val);
    free(out);
    free(out_val);
    return rc;
}

static int infer_graph(si_run *r, kp_graph *g, int depth) {
    if (depth > MAX_DEPTH)
        return kp_error_set(r->err, KP_ERANGE, "subgraphs are nested more than %d deep", MAX_DEPTH);
    for (size_t i = 0; i < g->n_nodes; i++) {
        if (!(i & 1023) && r->cancel && *r->cancel)
            return kp_error_set(r->err, KP_ECANCELLED, "shape inference was cancelled");
        int rc = infer_node(r, g, g->nodes[i], depth);
        if (rc) return rc;
    }
    return 0;
}

int kp_infer_shapes(kp_model *m, kp_error *err) {
    return kp_infer_shapes_cancel(m, NULL, err);
}

int kp_infer_shapes_cancel(kp_model *m, const volatile int *cancel, kp_error *err) {
    if (!m || !m->graph) return kp_error_set(err, KP_EINVAL, "no model");
    si_run r = {0};
    r.cancel = cancel;
    r.opset = kp_model_opset(m, "");
    if (r.opset <= 0) r.opset = 1;
    r.err = err;
    int rc = infer_graph(&r, m->graph, 0);
    run_free(&r);
    return rc;
}
