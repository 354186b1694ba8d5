/* Model statistics: parameters per dtype, MACs per layer, op histogram (rules in the header). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model_stats.h"

#define MAX_DEPTH 64

static int64_t tensor_bytes(const kp_tensor *t) {
    if (t->dtype != KP_STRING) return (int64_t)t->nbytes;
    int64_t b = 0;
    for (int64_t i = 0; t->strings && i < t->numel; i++) b += (int64_t)t->strings[i].len;
    return b;
}

static void add_tensor(kp_model_stats *s, const kp_tensor *t, int64_t bytes, int64_t numel,
                       int depth) {
    kp_dtype d = kp_dtype_valid((int)t->dtype) ? t->dtype : KP_UNDEFINED;
    s->by_dtype[d].params += numel;
    s->by_dtype[d].bytes += bytes;
    s->by_dtype[d].tensors++;
    s->params += numel;
    s->param_bytes += bytes;
    s->const_tensors++;
    if (depth > 0) s->in_subgraphs += numel;
}

static int add_op(kp_model_stats *s, const kp_node *n) {
    char key[256];
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx"))
        snprintf(key, sizeof key, "%s:%s", n->domain, n->op_type);
    else
        snprintf(key, sizeof key, "%s", n->op_type);
    for (size_t i = 0; i < s->n_ops; i++)
        if (!strcmp(s->ops[i].op, key)) {
            s->ops[i].count++;
            return 0;
        }
    kp_op_stats *no = realloc(s->ops, (s->n_ops + 1) * sizeof *no);
    if (!no) return KP_ENOMEM;
    s->ops = no;
    size_t len = strlen(key) + 1;
    if (!(no[s->n_ops].op = malloc(len))) return KP_ENOMEM;
    memcpy(no[s->n_ops].op, key, len);
    no[s->n_ops++].count = 1;
    return 0;
}

static int walk(kp_model_stats *s, kp_graph *g, int depth, kp_error *err) {
    if (depth > MAX_DEPTH) return kp_error_set(err, KP_ERANGE, "subgraphs nested too deep");
    kp_const_ref *refs;
    size_t n;
    int rc = kp_graph_consts(g, 0, &refs, &n, err);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++)
        add_tensor(s, refs[i].tensor, tensor_bytes(refs[i].tensor), refs[i].tensor->numel, depth);
    free(refs);
    for (size_t i = 0; i < g->n_sparse_inits; i++) {
        const kp_sparse_tensor *sp = g->sparse_inits[i];
        if (!sp->values) continue;
        int64_t b = tensor_bytes(sp->values) + (sp->indices ? tensor_bytes(sp->indices) : 0);
        add_tensor(s, sp->values, b, sp->values->numel, depth);
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        kp_node *nd = g->nodes[i];
        s->nodes++;
        if (add_op(s, nd)) return kp_error_set(err, KP_ENOMEM, "out of memory counting ops");
        for (size_t a = 0; a < nd->n_attrs; a++) {
            kp_attr *at = &nd->attrs[a];
            if (at->g && (rc = walk(s, at->g, depth + 1, err))) return rc;
            for (size_t k = 0; at->graphs && k < at->n; k++)
                if (at->graphs[k] && (rc = walk(s, at->graphs[k], depth + 1, err))) return rc;
        }
    }
    return 0;
}

/* ---- MACs ----------------------------------------------------------------------------- */

static const kp_type *vtype(kp_graph *g, const kp_node *n, size_t i, int out) {
    const char *name =
        out ? (i < n->n_outputs ? n->outputs[i] : NULL) : (i < n->n_inputs ? n->inputs[i] : NULL);
    if (!name || !name[0]) return NULL;
    const kp_type *t = kp_graph_value_type(g, name);
    if (!t || t->kind != KP_TYPE_TENSOR || t->rank < 0 || (t->rank > 0 && !t->dims)) return NULL;
    return t;
}

/* Dim i of t; a batch dim that is not known counts as 1. -1 when unknown. */
static int64_t dimv(const kp_type *t, int i, int batch, int *batch1) {
    if (!t || i < 0 || i >= t->rank) return -1;
    if (t->dims[i].value >= 0) return t->dims[i].value;
    if (batch) {
        *batch1 = 1;
        return 1;
    }
    return -1;
}

/* Product with overflow and unknown checks; -1 on either. */
static int64_t mul(int64_t a, int64_t b) {
    int64_t r;
    if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &r)) return -1;
    return r;
}

static int64_t conv_macs(kp_graph *g, const kp_node *n, size_t wi, int transposed, int *b1) {
    const kp_type *x = vtype(g, n, 0, 0), *w = vtype(g, n, wi, 0), *y = vtype(g, n, 0, 1);
    if (!x || !w || !y || x->rank < 3 || w->rank != x->rank || y->rank != x->rank) return -1;
    int64_t m = dimv(x, 0, 1, b1);
    if (!transposed) {
        m = mul(m, dimv(w, 0, 0, b1)); /* Cout */
        for (int i = 2; i < y->rank; i++) m = mul(m, dimv(y, i, 0, b1));
    } else {
        m = mul(m, dimv(x, 1, 0, b1)); /* Cin */
        for (int i = 2; i < x->rank; i++) m = mul(m, dimv(x, i, 0, b1));
    }
    m = mul(m, dimv(w, 1, 0, b1)); /* Cin/group, or Cout/group for ConvTranspose */
    for (int i = 2; i < w->rank; i++) m = mul(m, dimv(w, i, 0, b1));
    return m;
}

static int64_t gemm_macs(kp_graph *g, const kp_node *n, int *b1) {
    const kp_type *a = vtype(g, n, 0, 0), *b = vtype(g, n, 1, 0);
    if (!a || !b || a->rank != 2 || b->rank != 2) return -1;
    int ta = kp_node_attr_int(n, "transA", 0) != 0, tb = kp_node_attr_int(n, "transB", 0) != 0;
    int64_t m = dimv(a, ta ? 1 : 0, !ta, b1), k = dimv(a, ta ? 0 : 1, 0, b1);
    int64_t nn = dimv(b, tb ? 0 : 1, 0, b1);
    return mul(mul(m, nn), k);
}

static int64_t matmul_macs(kp_graph *g, const kp_node *n, size_t bi, int *b1) {
    const kp_type *a = vtype(g, n, 0, 0), *b = vtype(g, n, bi, 0), *y = vtype(g, n, 0, 1);
    if (!a || !b || !y || a->rank < 1 || b->rank < 1) return -1;
    int64_t k = dimv(a, a->rank - 1, 0, b1);
    int64_t m = a->rank >= 2 ? dimv(a, a->rank - 2, a->rank == 2, b1) : 1;
    int64_t nn = b->rank >= 2 ? dimv(b, b->rank - 1, 0, b1) : 1;
    int tail = (a->rank >= 2) + (b->rank >= 2);
    int64_t batch = 1;
    for (int i = 0; i < y->rank - tail; i++) batch = mul(batch, dimv(y, i, i == 0, b1));
    return mul(mul(mul(batch, m), nn), k);
}

/* RNN, GRU, LSTM: every step multiplies the input by W and the state by R. */
static int64_t rnn_macs(kp_graph *g, const kp_node *n, int *b1) {
    const kp_type *x = vtype(g, n, 0, 0), *w = vtype(g, n, 1, 0), *r = vtype(g, n, 2, 0);
    if (!x || !w || !r || x->rank != 3 || w->rank != 3 || r->rank != 3) return -1;
    int layout = kp_node_attr_int(n, "layout", 0) != 0;
    int64_t steps = mul(dimv(x, layout ? 1 : 0, 0, b1), dimv(x, layout ? 0 : 1, 1, b1));
    int64_t wn = mul(mul(dimv(w, 0, 0, b1), dimv(w, 1, 0, b1)), dimv(w, 2, 0, b1));
    int64_t rn = mul(mul(dimv(r, 0, 0, b1), dimv(r, 1, 0, b1)), dimv(r, 2, 0, b1));
    if (wn < 0 || rn < 0) return -1;
    return mul(steps, wn + rn);
}

int64_t kp_node_macs(kp_graph *g, const kp_node *n, int *batch1) {
    int dummy = 0;
    if (!batch1) batch1 = &dummy;
    if (!g || !n || (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx"))) return 0;
    int b1 = 0;
    int64_t m = 0;
    if (kp_node_is(n, "Conv") || kp_node_is(n, "ConvInteger"))
        m = conv_macs(g, n, 1, 0, &b1);
    else if (kp_node_is(n, "QLinearConv"))
        m = conv_macs(g, n, 3, 0, &b1);
    else if (kp_node_is(n, "ConvTranspose"))
        m = conv_macs(g, n, 1, 1, &b1);
    else if (kp_node_is(n, "Gemm"))
        m = gemm_macs(g, n, &b1);
    else if (kp_node_is(n, "MatMul") || kp_node_is(n, "MatMulInteger"))
        m = matmul_macs(g, n, 1, &b1);
    else if (kp_node_is(n, "QLinearMatMul"))
        m = matmul_macs(g, n, 3, &b1);
    else if (kp_node_is(n, "LSTM") || kp_node_is(n, "GRU") || kp_node_is(n, "RNN"))
        m = rnn_macs(g, n, &b1);
    if (m >= 0 && b1) *batch1 = 1;
    return m;
}

static int64_t const_params(kp_graph *g, const kp_node *n) {
    int64_t p = 0;
    for (size_t i = 0; i < n->n_inputs; i++) {
        const kp_tensor *t = n->inputs[i][0] ? kp_graph_find_const(g, n->inputs[i]) : NULL;
        if (t) p += t->numel;
    }
    return p;
}

static int cmp_layer(const void *a, const void *b) {
    const kp_layer_stats *x = a, *y = b;
    return x->macs < y->macs ? 1 : x->macs > y->macs ? -1 : 0;
}

static int cmp_op(const void *a, const void *b) {
    const kp_op_stats *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return strcmp(x->op, y->op);
}

int kp_model_stats_compute(const kp_model *m, kp_model_stats **out, kp_error *err) {
    *out = NULL;
    if (!m || !m->graph) return kp_error_set(err, KP_EINVAL, "no model");
    kp_model_stats *s = calloc(1, sizeof *s);
    if (!s) return kp_error_set(err, KP_ENOMEM, "out of memory");
    /* The graph is only read; lookups fill its private index cache. */
    kp_graph *g = (kp_graph *)m->graph;
    int rc = walk(s, g, 0, err);
    if (rc) goto fail;
    s->macs_complete = 1;
    if (g->n_nodes && !(s->layers = calloc(g->n_nodes, sizeof *s->layers))) goto nomem;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const kp_node *n = g->nodes[i];
        int64_t mm = kp_node_macs(g, n, &s->macs_assume_batch1);
        if (mm < 0) {
            s->macs_complete = 0;
            continue;
        }
        if (!mm) continue;
        s->macs = s->macs > INT64_MAX - mm ? INT64_MAX : s->macs + mm;
        kp_layer_stats *l = &s->layers[s->n_layers++];
        l->name = n->name && n->name[0] ? n->name : (n->n_outputs ? n->outputs[0] : n->op_type);
        l->op_type = n->op_type;
        l->macs = mm;
        l->params = const_params(g, n);
    }
    if (s->n_layers) qsort(s->layers, s->n_layers, sizeof *s->layers, cmp_layer);
    if (s->n_ops) qsort(s->ops, s->n_ops, sizeof *s->ops, cmp_op);
    *out = s;
    return 0;
nomem:
    rc = kp_error_set(err, KP_ENOMEM, "out of memory computing model statistics");
fail:
    kp_model_stats_free(s);
    return rc;
}

void kp_model_stats_free(kp_model_stats *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n_ops; i++) free(s->ops[i].op);
    free(s->ops);
    free(s->layers);
    free(s);
}
