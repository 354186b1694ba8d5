/* The executor. A run plan (`xgraph`) is built once per graph: value names map to slots, nodes
 * are put in topological order, each slot's last reader is found so its buffer goes back to the
 * pool right after it. Subgraphs (If/Loop bodies) get their own plan, built on first use, whose
 * free names resolve to the enclosing plan's slots at run time. */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/exec_internal.h"
#include "core/exec_const.h"
#include "core/exec_qdq.h"
#include "core/ops/conv3x3_oc.h"
#include "core/ops/gemm_packed.h"

enum { SLOT_ACT = 0, SLOT_CONST, SLOT_INPUT, SLOT_OUTER };

typedef struct xgraph xgraph;

typedef struct slot {
    const char *name; /* borrowed from the graph */
    int kind;
    int producer;         /* position in run order, -1 if none */
    int last_use;         /* run position of the last reader; INT_MAX: keep to the end */
    kp_tensor t;          /* SLOT_ACT: the value's tensor; data from the pool */
    size_t cap;           /* pool block capacity behind t.data */
    kp_tensor *heap;      /* SLOT_ACT string tensors (not pooled) */
    const kp_tensor *cur; /* current value; NULL when not live */
    kp_tensor *owned;     /* SLOT_CONST made by running a Constant node at build time */
    xgraph *outer_g;      /* SLOT_OUTER: where the value lives */
    int outer_slot;
} slot;

typedef struct xnode {
    const kp_node *node;
    const kp_op_def *def;
    int64_t opset;
    size_t gidx; /* position in the graph's node array */
    size_t n_in, n_out;
    int *in, *out; /* slot index, -1 for omitted */
    size_t n_release;
    int *release;
    /* Fusion (see fuse_nodes): replacement inputs owned here, a fused activation, and nodes
     * folded into another one (not run). */
    kp_tensor *ovr[3];
    int act;
    float act_a, act_b;
    int dead;
    unsigned flags; /* KP_OPF_* */
    int pool;       /* a 2x2 stride-2 MaxPool folded into this Conv (kp_op_ctx.fused_pool) */
    float *prep;    /* owned: Conv weights packed for core/ops/conv3x3_oc.h, or NULL */
    size_t prep_bytes;
    kp_op_state state; /* the kernel's own, freed with the plan (kp_op_ctx.state) */
    uint32_t const_in; /* kp_op_ctx.const_in */
} xnode;

typedef struct subplan {
    const kp_graph *g;
    xgraph *x;
} subplan;

struct xgraph {
    kp_exec *root;
    xgraph *parent;
    const kp_graph *g;
    kp_smap names;
    slot *slots;
    size_t n_slots, cap_slots;
    xnode *nodes;
    size_t n_nodes;
    int *inputs; /* user-fed input slots, graph order */
    size_t n_inputs;
    size_t *input_vi; /* index into g->inputs */
    int *outputs;
    size_t n_outputs;
    subplan *subs;
    size_t n_subs;
    kp_arena arena;
    size_t max_in, max_out;
    const kp_tensor **in_buf;
    kp_tensor **out_buf;
    kp_tensor *tmp_out; /* outputs the node does not name */
    size_t *tmp_cap;
    kp_tensor **tmp_heap;
    int running;
};

struct kp_exec {
    const kp_model *m;
    kp_model *fused; /* QDQ-fused copy of the caller's model that m points to (exec_qdq.h) */
    kp_exec_opts opts;
    kp_pool pool;
    xgraph *top;
    double *seconds;
    int has_run;
};

typedef struct run_ctx {
    xgraph *x;
    xnode *xn;
} run_ctx;

static int64_t opset_of(const kp_exec *e, const kp_node *n) {
    int64_t v = kp_model_opset(e->m, n->domain ? n->domain : "");
    if (!v && (!n->domain || !n->domain[0] || !strcmp(n->domain, "ai.onnx"))) v = 21;
    return v;
}

/* ---- building a plan ----------------------------------------------------------------------- */

static void xgraph_free(xgraph *x);

static int add_slot(xgraph *x, const char *name, int kind, kp_error *err) {
    if (x->n_slots == x->cap_slots) {
        size_t nc = x->cap_slots ? x->cap_slots * 2 : 64;
        slot *ns = realloc(x->slots, nc * sizeof *ns);
        if (!ns) return kp_error_set(err, KP_ENOMEM, "out of memory planning the graph");
        x->slots = ns;
        x->cap_slots = nc;
    }
    slot *s = &x->slots[x->n_slots];
    memset(s, 0, sizeof *s);
    s->name = name;
    s->kind = kind;
    s->producer = -1;
    s->last_use = -1;
    s->outer_slot = -1;
    if (kp_smap_put(&x->names, name, (int)x->n_slots) < 0)
        return kp_error_set(err, KP_ENOMEM, "out of memory planning the graph");
    return (int)x->n_slots++;
}

/* Finds name in x, or creates an outer-scope slot if an enclosing plan defines it. */
static int lookup_slot(xgraph *x, const char *name, kp_error *err) {
    int s = kp_smap_get(&x->names, name);
    if (s >= 0) return s;
    for (xgraph *p = x->parent; p; p = p->parent) {
        int ps = kp_smap_get(&p->names, name);
        if (ps < 0) continue;
        int r = add_slot(x, name, SLOT_OUTER, err);
        if (r < 0) return r;
        x->slots[r].outer_g = p;
        x->slots[r].outer_slot = ps;
        return r;
    }
    return kp_error_set(err, KP_EFORMAT, "value '%s' is read but nothing defines it", name);
}

static int node_order(xgraph *x, size_t **order_out, kp_error *err);

static int build_constant(xgraph *x, const kp_node *n, kp_error *err) {
    kp_tensor *out[1] = {NULL};
    if (n->n_outputs < 1 || !n->outputs[0][0])
        return kp_error_set(err, KP_EFORMAT, "Constant node '%s' has no output",
                            n->name ? n->name : "");
    int rc = kp_op_call(n, opset_of(x->root, n), 0, NULL, 1, out, err);
    if (rc < 0) return rc;
    if (!out[0]) return kp_error_set(err, KP_EFORMAT, "Constant node produced no value");
    int s = add_slot(x, n->outputs[0], SLOT_CONST, err);
    if (s < 0) {
        kp_tensor_free(out[0]);
        return s;
    }
    x->slots[s].owned = out[0];
    x->slots[s].cur = out[0];
    return 0;
}

static int is_constant_node(const kp_node *n) {
    return kp_node_is(n, "Constant") && n->n_inputs == 0;
}

/* ---- fusion -------------------------------------------------------------------------------- */

static const kp_tensor *const_f32(const xgraph *x, int s, int rank_min, int64_t numel) {
    if (s < 0 || x->slots[s].kind != SLOT_CONST) return NULL;
    const kp_tensor *t = x->slots[s].cur;
    if (!t || t->dtype != KP_FLOAT || t->rank < rank_min) return NULL;
    if (numel >= 0 && (t->numel != numel || t->rank > 1)) return NULL;
    return t;
}

static int is_op(const xnode *xn, const char *op) {
    return !xn->dead && kp_node_is(xn->node, op);
}

/* Conv followed by an inference BatchNormalization with constant parameters: scales W and
 * shifts B into owned replacement inputs; the Conv then writes the BN's output. */
static int fold_bn(xgraph *x, xnode *cv, xnode *bn, kp_error *err) {
    const kp_tensor *w = const_f32(x, cv->in[1], 3, -1);
    if (!w || !w->dims[0] || bn->n_in < 5 || bn->out[0] < 0) return 0;
    int64_t m = w->dims[0], per = w->numel / m;
    const kp_tensor *b = cv->n_in > 2 && cv->in[2] >= 0 ? const_f32(x, cv->in[2], 1, m) : NULL;
    if (cv->n_in > 2 && cv->in[2] >= 0 && !b) return 0;
    const kp_tensor *p[4];
    for (int i = 0; i < 4; i++)
        if (!(p[i] = const_f32(x, bn->in[1 + i], 1, m))) return 0;
    if (bn->opset >= 14
            ? kp_node_attr_int(bn->node, "training_mode", 0) != 0
            : (bn->n_out > 1 && (bn->out[1] >= 0 || (bn->n_out > 2 && bn->out[2] >= 0))))
        return 0;
    if (bn->opset < 9 && kp_node_attr_int(bn->node, "spatial", 1) == 0) return 0;
    for (size_t o = 1; o < bn->n_out; o++)
        if (bn->out[o] >= 0) return 0;
    double eps = kp_node_attr_float(bn->node, "epsilon", 1e-5f);
    kp_tensor *nw = kp_tensor_clone(w, err), *nb = kp_tensor_new(KP_FLOAT, 1, &m, err);
    if (!nw || !nb) {
        kp_tensor_free(nw);
        kp_tensor_free(nb);
        return kp_error_set(err, KP_ENOMEM, "out of memory folding BatchNormalization");
    }
    const float *sc = p[0]->data, *bi = p[1]->data, *mu = p[2]->data, *va = p[3]->data;
    for (int64_t c = 0; c < m; c++) {
        double k = sc[c] / sqrt((double)va[c] + eps);
        float *wc = (float *)nw->data + c * per;
        for (int64_t j = 0; j < per; j++) wc[j] = (float)(wc[j] * k);
        double b0 = b ? ((const float *)b->data)[c] : 0;
        ((float *)nb->data)[c] = (float)((b0 - mu[c]) * k + bi[c]);
    }
    if (cv->n_in < 3) {
        int *ni = realloc(cv->in, 3 * sizeof *ni);
        if (!ni) {
            kp_tensor_free(nw);
            kp_tensor_free(nb);
            return kp_error_set(err, KP_ENOMEM, "out of memory folding BatchNormalization");
        }
        cv->in = ni;
        for (size_t i = cv->n_in; i < 3; i++) cv->in[i] = -1;
        cv->n_in = 3;
        if (x->max_in < 3) x->max_in = 3;
    }
    kp_tensor_free(cv->ovr[1]);
    kp_tensor_free(cv->ovr[2]);
    cv->ovr[1] = nw;
    cv->ovr[2] = nb;
    cv->in[1] = -1;
    cv->in[2] = -1;
    cv->out[0] = bn->out[0];
    bn->dead = 1;
    return 1;
}

/* A scalar float from a constant input, for Clip's min/max. */
static int const_scalar(const xgraph *x, const xnode *xn, size_t i, float *v) {
    if (i >= xn->n_in || xn->in[i] < 0) return 1; /* omitted: keep default */
    const kp_tensor *t = const_f32(x, xn->in[i], 0, -1);
    if (!t || t->numel != 1) return 0;
    *v = ((const float *)t->data)[0];
    return 1;
}

/* Conv/Gemm followed by Relu, LeakyRelu or Clip: the producer applies it. */
static int fuse_act(xgraph *x, xnode *pr, xnode *ac) {
    if (ac->n_in < 1 || ac->out[0] < 0 || ac->in[0] != pr->out[0]) return 0;
    int act;
    float a = 0, b = 0;
    if (kp_node_is(ac->node, "Relu")) {
        act = KP_ACT_RELU;
    } else if (kp_node_is(ac->node, "LeakyRelu")) {
        act = KP_ACT_LEAKY;
        a = kp_node_attr_float(ac->node, "alpha", 0.01f);
    } else if (kp_node_is(ac->node, "Clip")) {
        act = KP_ACT_CLIP;
        a = -INFINITY;
        b = INFINITY;
        if (ac->opset < 11) {
            a = kp_node_attr_float(ac->node, "min", -INFINITY);
            b = kp_node_attr_float(ac->node, "max", INFINITY);
        } else if (!const_scalar(x, ac, 1, &a) || !const_scalar(x, ac, 2, &b)) {
            return 0;
        }
    } else {
        return 0;
    }
    pr->act = act;
    pr->act_a = a;
    pr->act_b = b;
    pr->out[0] = ac->out[0];
    ac->dead = 1;
    return 1;
}

/* An int list attribute equal to v[0..n) (absent counts as dflt for every entry). */
static int ints_are(const kp_node *nd, const char *name, int n, const int64_t *v, int64_t dflt) {
    const kp_attr *a = kp_node_attr(nd, name);
    for (int i = 0; i < n; i++) {
        int64_t got = !a ? dflt : a->type == KP_ATTR_INTS && (int)a->n == n ? a->ints[i] : -1;
        if (got != v[i]) return 0;
    }
    return 1;
}

/* A 2-D Conv whose output only a MaxPool 2x2 stride 2 (floor mode, no padding, no Indices)
 * reads: the Conv pools its own output while it is in cache (kp_op_ctx.fused_pool). */
static int fuse_pool(xnode *cv, xnode *mp) {
    static const int64_t two[2] = {2, 2}, one[2] = {1, 1}, zero[4] = {0, 0, 0, 0};
    const kp_node *nd = mp->node;
    if (mp->n_in < 1 || mp->out[0] < 0 || mp->in[0] != cv->out[0]) return 0;
    if (mp->n_out > 1 && mp->out[1] >= 0) return 0;
    if (strcmp(kp_node_attr_string(nd, "auto_pad", "NOTSET"), "NOTSET")) return 0;
    if (!ints_are(nd, "kernel_shape", 2, two, -1) || !ints_are(nd, "strides", 2, two, 1) ||
        !ints_are(nd, "pads", 4, zero, 0) || !ints_are(nd, "dilations", 2, one, 1) ||
        kp_node_attr_int(nd, "ceil_mode", 0) != 0)
        return 0;
    cv->pool = 1;
    cv->out[0] = mp->out[0];
    mp->dead = 1;
    return 1;
}

/* Folds BatchNormalization into the Conv before it and activations into Conv/Gemm, when the
 * intermediate value has no other reader (nor is a graph output or read by a subgraph). Folded
 * nodes are not run; their time shows under the node they were folded into. */
static int fuse_nodes(xgraph *x, kp_error *err) {
    int *readers = calloc(x->n_slots + 1, sizeof *readers);
    int *reader = calloc(x->n_slots + 1, sizeof *reader);
    kp_smap fn = {0};
    int rc = 0;
    if (!readers || !reader) {
        rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < x->n_nodes; k++) {
        const xnode *xn = &x->nodes[k];
        for (size_t i = 0; i < xn->n_in; i++)
            if (xn->in[i] >= 0) {
                readers[xn->in[i]]++;
                reader[xn->in[i]] = (int)k;
            }
        for (size_t a = 0; a < xn->node->n_attrs; a++) {
            const kp_attr *at = &xn->node->attrs[a];
            kp_smap_clear(&fn);
            if (at->type == KP_ATTR_GRAPH && at->g && kp_graph_free_names(at->g, &fn) < 0) goto oom;
            for (size_t j = 0; at->type == KP_ATTR_GRAPHS && j < at->n; j++)
                if (kp_graph_free_names(at->graphs[j], &fn) < 0) goto oom;
            for (size_t j = 0; j < fn.cap; j++) {
                int s = fn.keys[j] ? kp_smap_get(&x->names, fn.keys[j]) : -1;
                if (s >= 0) readers[s] += 2;
            }
        }
    }
    for (size_t i = 0; i < x->g->n_outputs; i++) {
        int s = x->g->outputs[i].name ? kp_smap_get(&x->names, x->g->outputs[i].name) : -1;
        if (s >= 0) readers[s] += 2;
    }
    for (size_t k = 0; k < x->n_nodes; k++) {
        xnode *xn = &x->nodes[k];
        int conv = is_op(xn, "Conv"), gemm = is_op(xn, "Gemm");
        if ((!conv && !gemm) || xn->n_out != 1 || xn->out[0] < 0) continue;
        int s = xn->out[0];
        if (conv && readers[s] == 1 && is_op(&x->nodes[reader[s]], "BatchNormalization") &&
            x->nodes[reader[s]].in[0] == s) {
            rc = fold_bn(x, xn, &x->nodes[reader[s]], err);
            if (rc < 0) goto out;
            s = xn->out[0];
        }
        if (readers[s] == 1 && !x->nodes[reader[s]].dead && fuse_act(x, xn, &x->nodes[reader[s]]))
            s = xn->out[0];
        if (conv && readers[s] == 1 && is_op(&x->nodes[reader[s]], "MaxPool") &&
            (xn->act == KP_ACT_NONE || xn->act == KP_ACT_RELU))
            fuse_pool(xn, &x->nodes[reader[s]]);
    }
    /* Gemm with a constant B: pack it once for core/ops/gemm_packed.h (after the transposition
     * above, which the flag records). */
    for (size_t k = 0; k < x->n_nodes && kp_gemmp_available(); k++) {
        xnode *xn = &x->nodes[k];
        if (!is_op(xn, "Gemm") || xn->n_in < 2) continue;
        const kp_tensor *b = xn->ovr[1] ? xn->ovr[1] : const_f32(x, xn->in[1], 2, -1);
        if (!b || b->dtype != KP_FLOAT || b->rank != 2 || !b->numel) continue;
        int tb = kp_node_attr_int(xn->node, "transB", 0) != 0;
        if (xn->flags & KP_OPF_B_PRETRANSPOSED) tb = !tb;
        int64_t kk = tb ? b->dims[1] : b->dims[0], nn = tb ? b->dims[0] : b->dims[1];
        int64_t nf = kp_gemmp_packed_floats(kk, nn);
        if (nf <= 0 || (uint64_t)nf > ((uint64_t)64 << 20) / sizeof(float)) continue;
        xn->prep = malloc((size_t)nf * sizeof(float));
        if (!xn->prep) goto oom;
        kp_gemmp_pack(b->data, kk, nn, tb, xn->prep);
        xn->prep_bytes = (size_t)nf * sizeof(float);
    }
    /* 3x3 Conv with constant weights: pack them once for the channel-vectorised kernel. */
    for (size_t k = 0; k < x->n_nodes && kp_c3oc_available(); k++) {
        xnode *xn = &x->nodes[k];
        if (!is_op(xn, "Conv") || xn->n_in < 2) continue;
        const kp_tensor *w = xn->ovr[1] ? xn->ovr[1] : const_f32(x, xn->in[1], 4, -1);
        if (!w || w->dtype != KP_FLOAT || w->rank != 4 || w->dims[2] != 3 || w->dims[3] != 3 ||
            !w->numel || kp_node_attr_int(xn->node, "group", 1) != 1)
            continue;
        int64_t nf = kp_c3oc_packed_floats(w->dims[0], w->dims[1]);
        if (nf <= 0 || (uint64_t)nf > ((uint64_t)64 << 20) / sizeof(float)) continue;
        xn->prep = malloc((size_t)nf * sizeof(float));
        if (!xn->prep) goto oom;
        kp_c3oc_pack(w->data, w->dims[0], w->dims[1], xn->prep);
        xn->prep_bytes = (size_t)nf * sizeof(float);
    }
    /* Gemm with a constant transposed B: OpenBLAS runs NoTrans B faster, so transpose once
     * here (up to 64 MiB of weights; the copy is owned by the plan). */
    for (size_t k = 0; k < x->n_nodes; k++) {
        xnode *xn = &x->nodes[k];
        if (!is_op(xn, "Gemm") || xn->n_in < 2 || xn->ovr[1] ||
            !kp_node_attr_int(xn->node, "transB", 0))
            continue;
        const kp_tensor *b = const_f32(x, xn->in[1], 2, -1);
        if (!b || b->rank != 2 || b->nbytes > ((size_t)64 << 20)) continue;
        int64_t d[2] = {b->dims[1], b->dims[0]};
        kp_tensor *t = kp_tensor_new(KP_FLOAT, 2, d, err);
        if (!t) {
            rc = err->code ? err->code : KP_ENOMEM;
            goto out;
        }
        const float *src = b->data;
        float *dst = t->data;
        for (int64_t i = 0; i < d[1]; i++)
            for (int64_t j = 0; j < d[0]; j++) dst[j * d[1] + i] = src[i * d[0] + j];
        xn->ovr[1] = t;
        xn->in[1] = -1;
        xn->flags |= KP_OPF_B_PRETRANSPOSED;
    }
    /* Drop folded nodes. */
    size_t w = 0;
    for (size_t k = 0; k < x->n_nodes; k++) {
        if (x->nodes[k].dead) {
            free(x->nodes[k].in);
            free(x->nodes[k].out);
            continue;
        }
        x->nodes[w++] = x->nodes[k];
    }
    x->n_nodes = w;
    rc = 0;
    goto out;
oom:
    rc = kp_error_set(err, KP_ENOMEM, "out of memory");
out:
    kp_smap_clear(&fn);
    free(readers);
    free(reader);
    return rc;
}

/* Which inputs of xn are the same tensor on every run of the plan (kp_op_ctx.const_in). */
static uint32_t const_inputs(const xgraph *x, const xnode *xn) {
    uint32_t m = 0;
    for (size_t i = 0; i < xn->n_in && i < 32; i++) {
        int c = i < 3 && xn->ovr[i];
        if (!c && xn->in[i] >= 0) {
            const slot *s = &x->slots[xn->in[i]];
            while (s->kind == SLOT_OUTER) s = &s->outer_g->slots[s->outer_slot];
            c = s->kind == SLOT_CONST;
        }
        if (c) m |= 1u << i;
    }
    return m;
}

/* KP_ECANCELLED at every 4096th node (not the first: a small graph is always planned) once the
 * cancel flag is raised (planning a graph of hundreds of thousands of nodes takes seconds
 * under sanitizers), else 0. */
static int build_cancelled(const kp_exec *root, size_t k, kp_error *err) {
    if (!k || (k & 4095) || !root->opts.cancel || !*root->opts.cancel) return 0;
    return kp_error_set(err, KP_ECANCELLED, "cancelled");
}

static int xgraph_build(kp_exec *root, xgraph *parent, const kp_graph *g, xgraph **out,
                        kp_error *err) {
    xgraph *x = calloc(1, sizeof *x);
    size_t *order = NULL;
    kp_smap free_names = {0};
    int rc = 0;
    if (!x) return kp_error_set(err, KP_ENOMEM, "out of memory planning the graph");
    x->root = root;
    x->parent = parent;
    x->g = g;
    /* Constants first: initializers, then Constant nodes; inputs shadowed by an initializer
     * (IR < 4 style defaults) are constants, not user inputs. */
    for (size_t i = 0; i < g->n_inits; i++) {
        const kp_tensor *t = g->inits[i];
        if (!t->name || !t->name[0]) continue;
        if ((rc = add_slot(x, t->name, SLOT_CONST, err)) < 0) goto fail;
        x->slots[rc].cur = t;
    }
    for (size_t i = 0; i < g->n_sparse_inits; i++) {
        rc = kp_error_set(err, KP_EUNSUPPORTED,
                          "sparse initializers are not supported by the executor ('%s')",
                          g->sparse_inits[i]->values && g->sparse_inits[i]->values->name
                              ? g->sparse_inits[i]->values->name
                              : "?");
        goto fail;
    }
    x->inputs = malloc((g->n_inputs + 1) * sizeof *x->inputs);
    x->input_vi = malloc((g->n_inputs + 1) * sizeof *x->input_vi);
    if (!x->inputs || !x->input_vi) goto oom;
    for (size_t i = 0; i < g->n_inputs; i++) {
        const char *nm = g->inputs[i].name;
        if (!nm || !nm[0]) {
            rc = kp_error_set(err, KP_EFORMAT, "graph input %zu has no name", i);
            goto fail;
        }
        int s = kp_smap_get(&x->names, nm);
        if (s >= 0 && x->slots[s].kind == SLOT_CONST) continue;
        if (s >= 0) {
            rc = kp_error_set(err, KP_EFORMAT, "graph input '%s' is listed twice", nm);
            goto fail;
        }
        if ((rc = add_slot(x, nm, SLOT_INPUT, err)) < 0) goto fail;
        x->input_vi[x->n_inputs] = i;
        x->inputs[x->n_inputs++] = rc;
    }
    for (size_t k = 0; k < g->n_nodes; k++)
        if (is_constant_node(g->nodes[k]) && (rc = build_constant(x, g->nodes[k], err)) < 0)
            goto fail;
    /* Node outputs. */
    for (size_t k = 0; k < g->n_nodes; k++) {
        const kp_node *n = g->nodes[k];
        if ((rc = build_cancelled(root, k, err)) < 0) goto fail;
        if (is_constant_node(n)) continue;
        for (size_t o = 0; o < n->n_outputs; o++) {
            const char *nm = n->outputs[o];
            if (!nm[0]) continue;
            if (kp_smap_get(&x->names, nm) >= 0) {
                rc = kp_error_set(err, KP_EFORMAT, "value '%s' is defined twice (node %s '%s')", nm,
                                  n->op_type, n->name ? n->name : "");
                goto fail;
            }
            if ((rc = add_slot(x, nm, SLOT_ACT, err)) < 0) goto fail;
        }
    }
    /* Nodes with their input/output slots. */
    size_t n_run = 0;
    for (size_t k = 0; k < g->n_nodes; k++) n_run += !is_constant_node(g->nodes[k]);
    x->nodes = calloc(n_run + 1, sizeof *x->nodes);
    if (!x->nodes) goto oom;
    for (size_t k = 0; k < g->n_nodes; k++) {
        const kp_node *n = g->nodes[k];
        if ((rc = build_cancelled(root, k, err)) < 0) goto fail;
        if (is_constant_node(n)) continue;
        xnode *xn = &x->nodes[x->n_nodes++];
        xn->node = n;
        xn->gidx = k;
        xn->def = kp_ops_find(n->domain, n->op_type);
        xn->opset = opset_of(root, n);
        if (!xn->def) {
            rc = kp_error_set(err, KP_EUNSUPPORTED, "no kernel for op %s (node '%s')", n->op_type,
                              n->name ? n->name : "");
            goto fail;
        }
        xn->n_in = n->n_inputs;
        xn->n_out = n->n_outputs;
        xn->in = malloc((xn->n_in + 1) * sizeof *xn->in);
        xn->out = malloc((xn->n_out + 1) * sizeof *xn->out);
        if (!xn->in || !xn->out) goto oom;
        for (size_t i = 0; i < xn->n_in; i++) {
            xn->in[i] = -1;
            if (!n->inputs[i][0]) continue;
            if ((rc = lookup_slot(x, n->inputs[i], err)) < 0) {
                kp_error_wrap(err, "node %s '%s': ", n->op_type, n->name ? n->name : "");
                goto fail;
            }
            xn->in[i] = rc;
        }
        for (size_t o = 0; o < xn->n_out; o++) {
            xn->out[o] = n->outputs[o][0] ? kp_smap_get(&x->names, n->outputs[o]) : -1;
            if (xn->out[o] >= 0) x->slots[xn->out[o]].producer = (int)(xn - x->nodes);
        }
        if (xn->n_in > x->max_in) x->max_in = xn->n_in;
        if (xn->n_out > x->max_out) x->max_out = xn->n_out;
    }
    if (!root->opts.keep_values && (rc = fuse_nodes(x, err)) < 0) goto fail;
    /* Run order, then liveness in run-order positions. */
    if ((rc = node_order(x, &order, err)) < 0) goto fail;
    {
        xnode *sorted = malloc((x->n_nodes + 1) * sizeof *sorted);
        if (!sorted) goto oom;
        for (size_t i = 0; i < x->n_nodes; i++) sorted[i] = x->nodes[order[i]];
        free(x->nodes);
        x->nodes = sorted;
    }
    for (size_t i = 0; i < x->n_slots; i++) x->slots[i].producer = -1;
    for (size_t p = 0; p < x->n_nodes; p++) {
        xnode *xn = &x->nodes[p];
        for (size_t o = 0; o < xn->n_out; o++)
            if (xn->out[o] >= 0) x->slots[xn->out[o]].producer = (int)p;
        for (size_t i = 0; i < xn->n_in; i++)
            if (xn->in[i] >= 0 && x->slots[xn->in[i]].last_use < (int)p)
                x->slots[xn->in[i]].last_use = (int)p;
        /* Values that subgraphs of this node read from our scope stay alive through it. */
        for (size_t a = 0; a < xn->node->n_attrs; a++) {
            const kp_attr *at = &xn->node->attrs[a];
            if (at->type != KP_ATTR_GRAPH && at->type != KP_ATTR_GRAPHS) continue;
            kp_smap_clear(&free_names);
            if (at->type == KP_ATTR_GRAPH && at->g) rc = kp_graph_free_names(at->g, &free_names);
            for (size_t j = 0; at->type == KP_ATTR_GRAPHS && j < at->n && !rc; j++)
                rc = kp_graph_free_names(at->graphs[j], &free_names);
            if (rc < 0) goto oom;
            for (size_t j = 0; j < free_names.cap; j++) {
                if (!free_names.keys[j]) continue;
                int s = kp_smap_get(&x->names, free_names.keys[j]);
                if (s < 0) {
                    int found = 0;
                    for (xgraph *q = x->parent; q && !found; q = q->parent)
                        found = kp_smap_get(&q->names, free_names.keys[j]) >= 0;
                    if (!found) {
                        rc = kp_error_set(err, KP_EFORMAT,
                                          "node %s '%s': its subgraph reads '%s' which nothing "
                                          "defines",
                                          xn->node->op_type, xn->node->name ? xn->node->name : "",
                                          free_names.keys[j]);
                        goto fail;
                    }
                    continue;
                }
                if (x->slots[s].last_use < (int)p) x->slots[s].last_use = (int)p;
            }
        }
    }
    x->outputs = malloc((g->n_outputs + 1) * sizeof *x->outputs);
    if (!x->outputs) goto oom;
    for (size_t i = 0; i < g->n_outputs; i++) {
        const char *nm = g->outputs[i].name;
        if (!nm || !nm[0]) {
            rc = kp_error_set(err, KP_EFORMAT, "graph output %zu has no name", i);
            goto fail;
        }
        if ((rc = lookup_slot(x, nm, err)) < 0) {
            kp_error_wrap(err, "graph output: ");
            goto fail;
        }
        x->outputs[x->n_outputs++] = rc;
        x->slots[rc].last_use = INT_MAX;
    }
    /* Release lists: activations after their last reader (or right after their producer when
     * nobody reads them); inputs only for the live-bytes count. */
    {
        size_t *cnt = calloc(x->n_nodes + 1, sizeof *cnt);
        if (!cnt) goto oom;
        for (size_t i = 0; i < x->n_slots; i++) {
            slot *s = &x->slots[i];
            if (s->kind != SLOT_ACT && s->kind != SLOT_INPUT) continue;
            if (s->last_use == INT_MAX) continue;
            int at = s->last_use >= 0 ? s->last_use : s->producer;
            if (at < 0) continue;
            if (s->producer > at) at = s->producer;
            s->last_use = at;
            cnt[at]++;
        }
        for (size_t p = 0; p < x->n_nodes; p++) {
            x->nodes[p].release = malloc((cnt[p] + 1) * sizeof(int));
            if (!x->nodes[p].release) {
                free(cnt);
                goto oom;
            }
        }
        free(cnt);
        for (size_t i = 0; i < x->n_slots; i++) {
            slot *s = &x->slots[i];
            if ((s->kind != SLOT_ACT && s->kind != SLOT_INPUT) || s->last_use == INT_MAX ||
                s->last_use < 0)
                continue;
            xnode *xn = &x->nodes[s->last_use];
            xn->release[xn->n_release++] = (int)i;
        }
    }
    for (size_t p = 0; p < x->n_nodes; p++) x->nodes[p].const_in = const_inputs(x, &x->nodes[p]);
    x->in_buf = calloc(x->max_in + 1, sizeof *x->in_buf);
    x->out_buf = calloc(x->max_out + 1, sizeof *x->out_buf);
    x->tmp_out = calloc(x->max_out + 1, sizeof *x->tmp_out);
    x->tmp_cap = calloc(x->max_out + 1, sizeof *x->tmp_cap);
    x->tmp_heap = calloc(x->max_out + 1, sizeof *x->tmp_heap);
    if (!x->in_buf || !x->out_buf || !x->tmp_out || !x->tmp_cap || !x->tmp_heap) goto oom;
    free(order);
    kp_smap_clear(&free_names);
    *out = x;
    return 0;
oom:
    rc = kp_error_set(err, KP_ENOMEM, "out of memory planning the graph");
fail:
    free(order);
    kp_smap_clear(&free_names);
    xgraph_free(x);
    return rc;
}

/* Topological order of x->nodes (indices). Keeps the graph's order when it is already valid. */
static int node_order(xgraph *x, size_t **order_out, kp_error *err) {
    size_t n = x->n_nodes;
    size_t *order = malloc((n + 1) * sizeof *order);
    size_t *indeg = calloc(n + 1, sizeof *indeg);
    size_t *cstart = calloc(x->n_slots + 2, sizeof *cstart);
    size_t *cons = NULL;
    int rc = 0;
    if (!order || !indeg || !cstart) goto oom;
    for (size_t i = 0; i < x->n_slots; i++) x->slots[i].producer = -1;
    for (size_t k = 0; k < n; k++)
        for (size_t o = 0; o < x->nodes[k].n_out; o++)
            if (x->nodes[k].out[o] >= 0) x->slots[x->nodes[k].out[o]].producer = (int)k;
    int sorted = 1;
    for (size_t k = 0; k < n && sorted; k++)
        for (size_t i = 0; i < x->nodes[k].n_in; i++) {
            int s = x->nodes[k].in[i];
            if (s >= 0 && x->slots[s].producer >= (int)k) sorted = 0;
        }
    if (sorted) {
        for (size_t k = 0; k < n; k++) order[k] = k;
        goto done;
    }
    /* Kahn's algorithm over producer -> consumer edges. */
    size_t n_edges = 0;
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < x->nodes[k].n_in; i++) {
            int s = x->nodes[k].in[i];
            if (s >= 0 && x->slots[s].producer >= 0) {
                cstart[s + 1]++;
                indeg[k]++;
                n_edges++;
            }
        }
    for (size_t s = 0; s < x->n_slots; s++) cstart[s + 1] += cstart[s];
    cons = malloc((n_edges + 1) * sizeof *cons);
    size_t *fill = calloc(x->n_slots + 1, sizeof *fill);
    if (!cons || !fill) {
        free(fill);
        goto oom;
    }
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < x->nodes[k].n_in; i++) {
            int s = x->nodes[k].in[i];
            if (s >= 0 && x->slots[s].producer >= 0) cons[cstart[s] + fill[s]++] = k;
        }
    free(fill);
    size_t head = 0, tail = 0;
    for (size_t k = 0; k < n; k++)
        if (!indeg[k]) order[tail++] = k;
    while (head < tail) {
        xnode *xn = &x->nodes[order[head++]];
        for (size_t o = 0; o < xn->n_out; o++) {
            int s = xn->out[o];
            if (s < 0) continue;
            for (size_t c = cstart[s]; c < cstart[s + 1]; c++)
                if (--indeg[cons[c]] == 0) order[tail++] = cons[c];
        }
    }
    if (tail < n) {
        for (size_t k = 0; k < n; k++)
            if (indeg[k]) {
                rc = kp_error_set(err, KP_EFORMAT, "the graph has a cycle through node %s '%s'",
                                  x->nodes[k].node->op_type,
                                  x->nodes[k].node->name ? x->nodes[k].node->name : "");
                break;
            }
        goto out;
    }
done:
    *order_out = order;
    order = NULL;
    goto out;
oom:
    rc = kp_error_set(err, KP_ENOMEM, "out of memory ordering the graph");
out:
    free(order);
    free(indeg);
    free(cstart);
    free(cons);
    return rc;
}

static void release_slot(xgraph *x, slot *s) {
    kp_pool *pool = &x->root->pool;
    if (s->kind == SLOT_INPUT) {
        /* The caller's tensor may be gone already (keep_values): use the recorded size. */
        if (s->cur) pool->live -= s->cap;
        s->cur = NULL;
        s->cap = 0;
        return;
    }
    if (s->kind != SLOT_ACT || !s->cur) return;
    pool->live -= s->cur->nbytes;
    if (s->heap) {
        kp_tensor_free(s->heap);
        s->heap = NULL;
    } else {
        kp_pool_put(pool, s->t.data, s->cap);
    }
    s->t.data = NULL;
    s->cap = 0;
    s->cur = NULL;
}

static void release_all(xgraph *x) {
    for (size_t i = 0; i < x->n_slots; i++) release_slot(x, &x->slots[i]);
}

static void xgraph_free(xgraph *x) {
    if (!x) return;
    release_all(x);
    for (size_t i = 0; i < x->n_subs; i++) xgraph_free(x->subs[i].x);
    free(x->subs);
    for (size_t i = 0; i < x->n_slots; i++) kp_tensor_free(x->slots[i].owned);
    for (size_t i = 0; i < x->n_nodes; i++) {
        for (int k = 0; k < 3; k++) kp_tensor_free(x->nodes[i].ovr[k]);
        free(x->nodes[i].prep);
        if (x->nodes[i].state.free) x->nodes[i].state.free(x->nodes[i].state.data);
        free(x->nodes[i].in);
        free(x->nodes[i].out);
        free(x->nodes[i].release);
    }
    free(x->nodes);
    free(x->slots);
    free(x->inputs);
    free(x->input_vi);
    free(x->outputs);
    kp_smap_clear(&x->names);
    kp_arena_clear(&x->arena);
    free(x->in_buf);
    free(x->out_buf);
    free(x->tmp_out);
    free(x->tmp_cap);
    free(x->tmp_heap);
    free(x);
}

/* ---- running ------------------------------------------------------------------------------- */

static kp_tensor *exec_alloc(kp_op_ctx *ctx, size_t i, kp_dtype dt, int rank, const int64_t *dims) {
    run_ctx *rcx = ctx->priv;
    xgraph *x = rcx->x;
    int si = rcx->xn->out[i];
    slot *s = si >= 0 ? &x->slots[si] : NULL;
    kp_tensor *t = s ? &s->t : &x->tmp_out[i];
    size_t *cap = s ? &s->cap : &x->tmp_cap[i];
    int64_t numel;
    if (kp_shape_numel(rank, dims, &numel, ctx->err) < 0) return NULL;
    if (dt == KP_STRING) {
        kp_tensor *h = kp_tensor_new(dt, rank, dims, ctx->err);
        if (!h) return NULL;
        if (s) {
            s->heap = h;
            s->cur = h;
        } else {
            x->tmp_heap[i] = h;
        }
        return h;
    }
    int ok = 1;
    size_t nb = kp_dtype_bytes(dt, numel, &ok);
    if (!ok) {
        kp_op_fail(ctx, KP_ERANGE, "output %zu is too large", i);
        return NULL;
    }
    memset(t, 0, sizeof *t);
    t->dtype = dt;
    t->rank = rank;
    for (int d = 0; d < rank; d++) t->dims[d] = dims[d];
    t->numel = numel;
    t->nbytes = nb;
    t->borrowed = 1;
    if (nb) {
        t->data = kp_pool_get(&x->root->pool, nb, cap);
        if (!t->data) {
            kp_op_fail(ctx, KP_ENOMEM, "out of memory for output %zu (%zu bytes)", i, nb);
            return NULL;
        }
    } else {
        *cap = 0;
    }
    kp_pool *pool = &x->root->pool;
    pool->live += nb;
    if (pool->live > pool->peak) pool->peak = pool->live;
    if (s) s->cur = t;
    return t;
}

static void *exec_scratch(kp_op_ctx *ctx, size_t bytes) {
    run_ctx *rcx = ctx->priv;
    void *p = kp_arena_get(&rcx->x->arena, bytes);
    if (!p) kp_op_fail(ctx, KP_ENOMEM, "out of memory for %zu bytes of scratch", bytes);
    return p;
}

static int run_plan(xgraph *x, const kp_tensor *const *in, kp_tensor **out, int top, kp_error *err);

static int exec_subgraph(kp_op_ctx *ctx, const kp_graph *g, size_t n_in, const kp_tensor *const *in,
                         size_t n_out, kp_tensor **out) {
    run_ctx *rcx = ctx->priv;
    xgraph *x = rcx->x, *sub = NULL;
    for (size_t i = 0; i < x->n_subs; i++)
        if (x->subs[i].g == g) sub = x->subs[i].x;
    if (!sub) {
        int rc = xgraph_build(x->root, x, g, &sub, ctx->err);
        if (rc < 0) return rc;
        subplan *ns = realloc(x->subs, (x->n_subs + 1) * sizeof *ns);
        if (!ns) {
            xgraph_free(sub);
            return kp_op_fail(ctx, KP_ENOMEM, "out of memory planning a subgraph");
        }
        x->subs = ns;
        x->subs[x->n_subs].g = g;
        x->subs[x->n_subs].x = sub;
        x->n_subs++;
    }
    if (sub->running) return kp_op_fail(ctx, KP_EUNSUPPORTED, "recursive subgraph");
    if (n_in != sub->n_inputs)
        return kp_op_fail(ctx, KP_EFORMAT, "subgraph takes %zu inputs, given %zu", sub->n_inputs,
                          n_in);
    if (n_out != sub->n_outputs)
        return kp_op_fail(ctx, KP_EFORMAT, "subgraph has %zu outputs, %zu expected", sub->n_outputs,
                          n_out);
    return run_plan(sub, in, out, 0, ctx->err);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int take_output(xgraph *x, int si, size_t oi, kp_tensor **outs, kp_error *err) {
    slot *s = &x->slots[si];
    kp_tensor *r = NULL;
    int keep = x->root->opts.keep_values && !x->parent;
    if (!s->cur)
        return kp_error_set(err, KP_EFORMAT, "graph output '%s' was not computed", s->name);
    for (size_t j = 0; j < oi; j++)
        if (x->outputs[j] == si) {
            r = kp_tensor_clone(outs[j], err);
            goto named;
        }
    if (s->kind == SLOT_ACT && !s->heap && !keep && s->cap <= 2 * s->t.nbytes + 4096) {
        r = malloc(sizeof *r);
        if (!r) return kp_error_set(err, KP_ENOMEM, "out of memory");
        *r = s->t;
        r->borrowed = 0;
        r->name = NULL;
        r->doc_string = NULL;
        x->root->pool.live -= s->t.nbytes;
        s->t.data = NULL;
        s->cap = 0;
        s->cur = NULL;
    } else {
        r = kp_tensor_clone(s->cur, err);
    }
named:
    if (!r) return err && err->code ? err->code : KP_ENOMEM;
    free(r->name);
    r->name = NULL;
    if (kp_tensor_set_name(r, s->name) < 0) {
        kp_tensor_free(r);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    outs[oi] = r;
    return 0;
}

static int run_plan(xgraph *x, const kp_tensor *const *in, kp_tensor **out, int top,
                    kp_error *err) {
    kp_exec *e = x->root;
    int rc = 0;
    x->running = 1;
    release_all(x);
    for (size_t i = 0; i < x->n_outputs; i++) out[i] = NULL;
    for (size_t i = 0; i < x->n_slots; i++) {
        slot *s = &x->slots[i];
        if (s->kind == SLOT_OUTER) s->cur = s->outer_g->slots[s->outer_slot].cur;
    }
    for (size_t i = 0; i < x->n_inputs; i++) {
        slot *s = &x->slots[x->inputs[i]];
        s->cur = in[i];
        s->cap = in[i]->nbytes; /* for SLOT_INPUT: bytes counted as live */
        e->pool.live += in[i]->nbytes;
    }
    if (e->pool.live > e->pool.peak) e->pool.peak = e->pool.live;
    run_ctx rcx = {x, NULL};
    for (size_t p = 0; p < x->n_nodes; p++) {
        xnode *xn = &x->nodes[p];
        if (e->opts.cancel && *e->opts.cancel) {
            rc = kp_error_set(err, KP_ECANCELLED, "cancelled");
            goto fail;
        }
        for (size_t i = 0; i < xn->n_in; i++) {
            x->in_buf[i] = i < 3 ? xn->ovr[i] : NULL;
            if (xn->in[i] < 0) continue;
            slot *s = &x->slots[xn->in[i]];
            if (s->kind == SLOT_OUTER) s->cur = s->outer_g->slots[s->outer_slot].cur;
            if (!s->cur) {
                rc = kp_error_set(err, KP_EFORMAT, "node %s '%s': input '%s' has no value",
                                  xn->node->op_type, xn->node->name ? xn->node->name : "", s->name);
                goto fail;
            }
            x->in_buf[i] = s->cur;
        }
        for (size_t o = 0; o < xn->n_out; o++) {
            x->out_buf[o] = NULL;
            x->tmp_out[o].data = NULL;
            x->tmp_heap[o] = NULL;
        }
        rcx.xn = xn;
        kp_op_ctx ctx = {.node = xn->node,
                         .opset = xn->opset,
                         .n_in = xn->n_in,
                         .in = x->in_buf,
                         .n_out = xn->n_out,
                         .out = x->out_buf,
                         .err = err,
                         .threads = e->opts.threads > 1 ? e->opts.threads : 1,
                         .priv = &rcx,
                         .alloc = exec_alloc,
                         .run_subgraph = exec_subgraph,
                         .scratch = exec_scratch,
                         .fused_act = xn->act,
                         .act_alpha = xn->act_a,
                         .act_beta = xn->act_b,
                         .flags = xn->flags,
                         .fused_pool = xn->pool,
                         .prep = xn->prep,
                         .prep_bytes = xn->prep_bytes,
                         .state = &xn->state,
                         .const_in = xn->const_in};
        double t0 = top ? now_s() : 0;
        rc = xn->def->run(&ctx);
        if (top) e->seconds[xn->gidx] = now_s() - t0;
        kp_arena_reset(&x->arena);
        /* Outputs nobody names go straight back. */
        for (size_t o = 0; o < xn->n_out; o++) {
            if (xn->out[o] >= 0) continue;
            kp_tensor_free(x->tmp_heap[o]);
            x->tmp_heap[o] = NULL;
            if (x->tmp_out[o].data) {
                e->pool.live -= x->tmp_out[o].nbytes;
                kp_pool_put(&e->pool, x->tmp_out[o].data, x->tmp_cap[o]);
            }
            x->tmp_out[o].data = NULL;
        }
        if (rc < 0) {
            if (err && !err->msg[0]) kp_op_fail(&ctx, rc, "failed (%s)", kp_strerror(rc));
            goto fail;
        }
        for (size_t o = 0; o < xn->n_out; o++)
            if (xn->out[o] >= 0 && !x->slots[xn->out[o]].cur) {
                rc = kp_op_fail(&ctx, KP_EUNSUPPORTED, "did not produce output %zu ('%s')", o,
                                x->slots[xn->out[o]].name);
                goto fail;
            }
        if (!(top && e->opts.keep_values))
            for (size_t r = 0; r < xn->n_release; r++) release_slot(x, &x->slots[xn->release[r]]);
    }
    for (size_t i = 0; i < x->n_outputs; i++)
        if ((rc = take_output(x, x->outputs[i], i, out, err)) < 0) goto fail;
    if (!(top && e->opts.keep_values)) release_all(x);
    x->running = 0;
    return 0;
fail:
    for (size_t i = 0; i < x->n_outputs; i++) {
        kp_tensor_free(out[i]);
        out[i] = NULL;
    }
    release_all(x);
    x->running = 0;
    return rc;
}

/* ---- public API ---------------------------------------------------------------------------- */

int kp_exec_new(const kp_model *m, const kp_exec_opts *opts, kp_exec **out, kp_error *err) {
    *out = NULL;
    if (!m || !m->graph) return kp_error_set(err, KP_EINVAL, "no model to run");
    char **missing = NULL;
    size_t n_missing = 0;
    int rc = kp_exec_missing_ops(m, &missing, &n_missing, err);
    if (rc < 0) return rc;
    if (n_missing) {
        char buf[700] = "";
        size_t len = 0;
        for (size_t i = 0; i < n_missing && len + 2 < sizeof buf; i++)
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s", i ? ", " : "", missing[i]);
        kp_strv_free(missing, n_missing);
        return kp_error_set(err, KP_EUNSUPPORTED, "the model uses ops without a kernel: %s", buf);
    }
    /* int8 patterns run as int8 kernels on a fused copy (not when every value is wanted) */
    kp_model *fused = NULL, *consts = NULL;
    if (!(opts && opts->keep_values)) {
        /* constant subgraphs (compressed weight encodings) evaluated once, here */
        if ((rc = kp_exec_const_fold(m, &consts, err)) < 0) return rc;
        if (consts) m = consts;
        if ((rc = kp_exec_qdq_fuse(m, &fused, err)) < 0) {
            kp_model_free(consts);
            return rc;
        }
        if (fused)
            kp_model_free(consts);
        else
            fused = consts;
    }
    if (fused) m = fused;
    kp_exec *e = calloc(1, sizeof *e);
    if (!e) {
        kp_model_free(fused);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    e->m = m;
    e->fused = fused;
    if (opts) e->opts = *opts;
    e->seconds = calloc(m->graph->n_nodes + 1, sizeof *e->seconds);
    if (!e->seconds) {
        free(e);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    rc = xgraph_build(e, NULL, m->graph, &e->top, err);
    if (rc < 0) {
        kp_exec_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

void kp_exec_free(kp_exec *e) {
    if (!e) return;
    xgraph_free(e->top);
    kp_pool_clear(&e->pool);
    free(e->pool.free);
    free(e->seconds);
    kp_model_free(e->fused);
    free(e);
}

static int check_input(const kp_value_info *vi, const kp_tensor *t, kp_error *err) {
    char want[256], got[256];
    if (!t) return kp_error_set(err, KP_EINVAL, "input '%s' is missing", vi->name);
    kp_shape_str(t->rank, t->dims, got, sizeof got);
    if (vi->type.kind != KP_TYPE_TENSOR) return 0;
    if (vi->type.elem != KP_UNDEFINED && vi->type.elem != t->dtype)
        return kp_error_set(err, KP_EINVAL, "input '%s' must be %s, got %s", vi->name,
                            kp_dtype_name(vi->type.elem), kp_dtype_name(t->dtype));
    if (vi->type.rank < 0) return 0;
    size_t len = 0;
    want[0] = 0;
    for (int d = 0; d < vi->type.rank && len + 24 < sizeof want; d++) {
        const kp_dim *dm = &vi->type.dims[d];
        if (dm->value >= 0)
            len += (size_t)snprintf(want + len, sizeof want - len, "%s%lld", d ? "x" : "",
                                    (long long)dm->value);
        else
            len += (size_t)snprintf(want + len, sizeof want - len, "%s%s", d ? "x" : "",
                                    dm->param && strlen(dm->param) < 16 ? dm->param : "?");
    }
    if (!vi->type.rank) snprintf(want, sizeof want, "scalar");
    if (vi->type.rank != t->rank)
        return kp_error_set(err, KP_EINVAL, "input '%s' must have rank %d (%s), got %s", vi->name,
                            vi->type.rank, want, got);
    for (int d = 0; d < t->rank; d++)
        if (vi->type.dims[d].value >= 0 && vi->type.dims[d].value != t->dims[d])
            return kp_error_set(err, KP_EINVAL,
                                "input '%s' must be shaped %s, got %s (dimension %d differs)",
                                vi->name, want, got, d);
    return 0;
}

int kp_exec_run(kp_exec *e, const kp_tensor *const *inputs, kp_tensor **outputs, kp_error *err) {
    xgraph *x = e->top;
    kp_error_clear(err);
    for (size_t i = 0; i < x->n_inputs; i++) {
        int rc = check_input(&e->m->graph->inputs[x->input_vi[i]], inputs ? inputs[i] : NULL, err);
        if (rc < 0) return rc;
    }
    openblas_set_num_threads(e->opts.threads > 1 ? e->opts.threads : 1);
    for (size_t i = 0; i < e->m->graph->n_nodes; i++) e->seconds[i] = 0;
    release_all(x); /* values kept from the last run (keep_values) */
    e->pool.peak = e->pool.live = 0;
    int rc = run_plan(x, inputs, outputs, 1, err);
    e->has_run = 1;
    return rc;
}

size_t kp_exec_n_inputs(const kp_exec *e) {
    return e->top->n_inputs;
}
size_t kp_exec_n_outputs(const kp_exec *e) {
    return e->top->n_outputs;
}

const kp_value_info *kp_exec_input(const kp_exec *e, size_t i) {
    return i < e->top->n_inputs ? &e->m->graph->inputs[e->top->input_vi[i]] : NULL;
}

const kp_value_info *kp_exec_output(const kp_exec *e, size_t i) {
    return i < e->top->n_outputs ? &e->m->graph->outputs[i] : NULL;
}

size_t kp_exec_peak_bytes(const kp_exec *e) {
    return e->pool.peak;
}

const double *kp_exec_node_seconds(const kp_exec *e, size_t *n) {
    *n = e->m->graph->n_nodes;
    return e->seconds;
}

const kp_model *kp_exec_model(const kp_exec *e) {
    return e->m;
}

const kp_tensor *kp_exec_value(const kp_exec *e, const char *name) {
    int s = kp_smap_get(&e->top->names, name);
    return s >= 0 ? e->top->slots[s].cur : NULL;
}

/* ---- missing ops --------------------------------------------------------------------------- */

typedef struct strset {
    char **v;
    size_t n, cap;
} strset;

static int strset_add(strset *s, const char *dom, const char *op) {
    int custom = dom && dom[0] && strcmp(dom, "ai.onnx");
    size_t len = strlen(op) + (custom ? strlen(dom) + 1 : 0) + 1;
    char *str = malloc(len);
    if (!str) return KP_ENOMEM;
    if (custom)
        snprintf(str, len, "%s:%s", dom, op);
    else
        snprintf(str, len, "%s", op);
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i], str)) {
            free(str);
            return 0;
        }
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 8;
        char **nv = realloc(s->v, nc * sizeof *nv);
        if (!nv) {
            free(str);
            return KP_ENOMEM;
        }
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n++] = str;
    return 0;
}

static int collect_missing(const kp_graph *g, strset *s) {
    for (size_t k = 0; k < g->n_nodes; k++) {
        const kp_node *n = g->nodes[k];
        int rc = 0;
        if (!kp_ops_find(n->domain, n->op_type)) rc = strset_add(s, n->domain, n->op_type);
        for (size_t a = 0; a < n->n_attrs && !rc; a++) {
            const kp_attr *at = &n->attrs[a];
            if (at->type == KP_ATTR_GRAPH && at->g) rc = collect_missing(at->g, s);
            for (size_t j = 0; at->type == KP_ATTR_GRAPHS && j < at->n && !rc; j++)
                if (at->graphs[j]) rc = collect_missing(at->graphs[j], s);
        }
        if (rc < 0) return rc;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int kp_exec_missing_ops(const kp_model *m, char ***ops, size_t *n, kp_error *err) {
    strset s = {0};
    *ops = NULL;
    *n = 0;
    if (!m || !m->graph) return 0;
    if (collect_missing(m->graph, &s) < 0) {
        kp_strv_free(s.v, s.n);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    if (s.n) qsort(s.v, s.n, sizeof *s.v, cmp_str);
    *ops = s.v;
    *n = s.n;
    return 0;
}

void kp_strv_free(char **v, size_t n) {
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}
