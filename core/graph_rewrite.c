/* Rewrites over names and order: rename, replace uses, unique names, topological order, dead
 * code removal and structural validation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "core/graph_util.h"

#define MAX_DEPTH 64

static const char *node_label(const kp_node *n) {
    return n->name && n->name[0] ? n->name : (n->n_outputs ? n->outputs[0] : n->op_type);
}

static int is_in(const kp_value_info *v, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (v[i].name && !strcmp(v[i].name, name)) return 1;
    return 0;
}

static int is_sparse_init(const kp_graph *g, const char *name) {
    for (size_t i = 0; i < g->n_sparse_inits; i++) {
        const kp_tensor *v = g->sparse_inits[i]->values;
        if (v && v->name && !strcmp(v->name, name)) return 1;
    }
    return 0;
}

/* 1 if g itself defines name (input, initializer, sparse initializer, node output). */
static int defines(kp_graph *g, const char *name) {
    return is_in(g->inputs, g->n_inputs, name) || kp_graph_init(g, name) ||
           kp_graph_producer(g, name, NULL) || is_sparse_init(g, name);
}

/* 1 if name is defined by some graph enclosing g (not g itself). */
static int outer_defines(kp_graph *g, const char *name) {
    for (kp_graph *s = g->parent; s; s = s->parent)
        if (defines(s, name)) return 1;
    return 0;
}

static int set_str(char **slot, const char *to) {
    char *d = kp_strdup(to);
    if (!d) return KP_ENOMEM;
    free(*slot);
    *slot = d;
    return 0;
}

/* ---- rename / replace uses ------------------------------------------------------------ */

static int rename_in(kp_graph *g, const char *from, const char *to, int uses_only, int vi,
                     int depth);

/* Subgraphs of g's nodes that do not define `from` themselves see g's value. */
static int rename_subgraphs(kp_graph *g, const char *from, const char *to, int vi, int depth) {
    for (size_t i = 0; i < g->n_nodes; i++) {
        kp_node *n = g->nodes[i];
        for (size_t a = 0; a < n->n_attrs; a++) {
            kp_attr *at = &n->attrs[a];
            int rc = 0;
            if (at->g && !defines(at->g, from)) rc = rename_in(at->g, from, to, 1, vi, depth + 1);
            for (size_t k = 0; !rc && at->graphs && k < at->n; k++)
                if (at->graphs[k] && !defines(at->graphs[k], from))
                    rc = rename_in(at->graphs[k], from, to, 1, vi, depth + 1);
            if (rc) return rc;
        }
    }
    return 0;
}

/* uses_only: rename node inputs and graph outputs; otherwise also producers, graph inputs and
 * initializers. vi: rename value_info entries too (a renamed value keeps its type). */
static int rename_in(kp_graph *g, const char *from, const char *to, int uses_only, int vi,
                     int depth) {
    if (depth > MAX_DEPTH) return KP_ERANGE;
    int rc = 0;
    for (size_t i = 0; !rc && i < g->n_nodes; i++) {
        kp_node *n = g->nodes[i];
        for (size_t k = 0; !rc && k < n->n_inputs; k++)
            if (!strcmp(n->inputs[k], from)) rc = set_str(&n->inputs[k], to);
        for (size_t k = 0; !rc && !uses_only && k < n->n_outputs; k++)
            if (!strcmp(n->outputs[k], from)) rc = set_str(&n->outputs[k], to);
    }
    for (size_t i = 0; !rc && i < g->n_outputs; i++)
        if (g->outputs[i].name && !strcmp(g->outputs[i].name, from))
            rc = set_str(&g->outputs[i].name, to);
    for (size_t i = 0; !rc && !uses_only && i < g->n_inputs; i++)
        if (g->inputs[i].name && !strcmp(g->inputs[i].name, from))
            rc = set_str(&g->inputs[i].name, to);
    for (size_t i = 0; !rc && !uses_only && i < g->n_inits; i++)
        if (g->inits[i]->name && !strcmp(g->inits[i]->name, from))
            rc = kp_tensor_set_name(g->inits[i], to);
    for (size_t i = 0; !rc && !uses_only && i < g->n_sparse_inits; i++) {
        kp_tensor *v = g->sparse_inits[i]->values;
        if (v && v->name && !strcmp(v->name, from)) rc = kp_tensor_set_name(v, to);
    }
    for (size_t i = 0; !rc && vi && i < g->n_value_info; i++)
        if (g->value_info[i].name && !strcmp(g->value_info[i].name, from))
            rc = set_str(&g->value_info[i].name, to);
    if (!rc) rc = rename_subgraphs(g, from, to, vi, depth);
    kp_graph_touch(g);
    return rc;
}

int kp_graph_rename_value(kp_graph *g, const char *from, const char *to) {
    if (!g || !from || !to || !*from || !*to) return KP_EINVAL;
    if (!strcmp(from, to)) return 0;
    return rename_in(g, from, to, 0, 1, 0);
}

int kp_graph_replace_uses(kp_graph *g, const char *from, const char *to) {
    if (!g || !from || !to || !*from) return KP_EINVAL;
    if (!strcmp(from, to)) return 0;
    return rename_in(g, from, to, 1, 0, 0);
}

/* ---- unique names --------------------------------------------------------------------- */

/* Linear scan of every name in g and below: used when the index is stale, so that naming
 * many new values between edits does not rebuild the index each time. */
static int name_used_scan(const kp_graph *g, const char *name, int depth) {
    if (depth > MAX_DEPTH) return 1;
    if (is_in(g->inputs, g->n_inputs, name) || is_in(g->outputs, g->n_outputs, name) ||
        is_in(g->value_info, g->n_value_info, name) || is_sparse_init(g, name))
        return 1;
    for (size_t i = 0; i < g->n_inits; i++)
        if (g->inits[i]->name && !strcmp(g->inits[i]->name, name)) return 1;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const kp_node *n = g->nodes[i];
        if (n->name && !strcmp(n->name, name)) return 1;
        for (size_t k = 0; k < n->n_inputs; k++)
            if (!strcmp(n->inputs[k], name)) return 1;
        for (size_t k = 0; k < n->n_outputs; k++)
            if (!strcmp(n->outputs[k], name)) return 1;
        for (size_t a = 0; a < n->n_attrs; a++) {
            const kp_attr *at = &n->attrs[a];
            if (at->g && name_used_scan(at->g, name, depth + 1)) return 1;
            for (size_t k = 0; at->graphs && k < at->n; k++)
                if (at->graphs[k] && name_used_scan(at->graphs[k], name, depth + 1)) return 1;
        }
    }
    return 0;
}

static int name_used(kp_graph *g, const char *name, int depth) {
    if (depth > MAX_DEPTH) return 1;
    if (!kp_graph_index_current(g)) return name_used_scan(g, name, depth);
    if (kp_graph_index_knows(g, name)) return 1;
    kp_graph *const *subs;
    size_t n = kp_graph_index_subgraphs(g, &subs);
    for (size_t i = 0; i < n; i++)
        if (name_used(subs[i], name, depth + 1)) return 1;
    return 0;
}

char *kp_graph_unique_name(kp_graph *g, const char *base) {
    if (!g || !base) return NULL;
    kp_graph *top = g;
    while (top->parent) top = top->parent; /* a name fresh in the whole model is fresh here */
    if (!*base) base = "v";
    size_t len = strlen(base) + 24;
    char *buf = malloc(len);
    if (!buf) return NULL;
    snprintf(buf, len, "%s", base);
    if (!name_used(top, buf, 0)) return buf;
    /* Callers name many values from one base in a row: resume after the last suffix given. */
    uint64_t k = top->uniq_base && !strcmp(top->uniq_base, base) ? top->uniq_next : 1;
    for (uint64_t tries = 0;; tries++, k++) {
        if (tries > 100000000ull) { /* cannot happen with a finite graph */
            free(buf);
            return NULL;
        }
        snprintf(buf, len, "%s_%llu", base, (unsigned long long)k);
        if (!name_used(top, buf, 0)) break;
    }
    if (!top->uniq_base || strcmp(top->uniq_base, base)) {
        char *b = kp_strdup(base);
        if (b) {
            free(top->uniq_base);
            top->uniq_base = b;
        }
    }
    if (top->uniq_base && !strcmp(top->uniq_base, base)) top->uniq_next = k + 1;
    return buf;
}

/* ---- topological order ---------------------------------------------------------------- */

/* Positions of the nodes of g in an order where producers come first; ties keep the original
 * order. On failure fills err naming a node on a cycle or with a dangling input. */
static int topo_order(kp_graph *g, size_t *order, kp_error *err) {
    size_t n = g->n_nodes;
    if (kp_graph_index(g, err)) return err ? err->code : KP_ENOMEM;
    size_t *indeg = calloc(n ? n : 1, sizeof *indeg);
    size_t *heap = malloc((n ? n : 1) * sizeof *heap);
    int rc = 0;
    if (!indeg || !heap) {
        rc = kp_error_set(err, KP_ENOMEM, "out of memory ordering nodes");
        goto done;
    }
    /* Every input must be defined somewhere: in g, or in an enclosing graph. */
    for (size_t i = 0; i < n && !rc; i++) {
        kp_node *nd = g->nodes[i];
        for (size_t k = 0; k < nd->n_inputs; k++) {
            const char *v = nd->inputs[k];
            if (!v[0]) continue;
            if (kp_graph_producer(g, v, NULL)) continue;
            if (kp_graph_init(g, v) || is_in(g->inputs, g->n_inputs, v) || is_sparse_init(g, v) ||
                outer_defines(g, v))
                continue;
            rc = kp_error_set(err, KP_EFORMAT,
                              "node %s (%s) reads %s, which no node, input or initializer "
                              "defines",
                              node_label(nd), nd->op_type, v);
        }
        char **reads = NULL;
        size_t nr = 0;
        if (!rc && kp_node_outer_reads(nd, &reads, &nr, err)) rc = err ? err->code : KP_ENOMEM;
        for (size_t k = 0; !rc && k < nr; k++) {
            const char *v = reads[k];
            if (kp_graph_producer(g, v, NULL) || kp_graph_init(g, v) ||
                is_in(g->inputs, g->n_inputs, v) || is_sparse_init(g, v) || outer_defines(g, v))
                continue;
            rc = kp_error_set(err, KP_EFORMAT,
                              "a subgraph of node %s (%s) reads %s, which nothing defines",
                              node_label(nd), nd->op_type, v);
        }
        for (size_t k = 0; reads && k < nr; k++) free(reads[k]);
        free(reads);
    }
    if (rc) goto done;
    /* One edge per (value produced in g, consumer of it); emitting the producer removes the
     * same edges, so a node on a cycle never reaches in-degree 0. */
    for (size_t p = 0; p < n; p++) {
        kp_node *nd = g->nodes[p];
        for (size_t k = 0; k < nd->n_outputs; k++) {
            const char *v = nd->outputs[k];
            size_t pp;
            if (!v[0] || kp_graph_producer(g, v, &pp) != nd || pp != p) continue;
            const size_t *cons;
            size_t nc = kp_graph_consumer_pos(g, v, &cons);
            for (size_t c = 0; c < nc; c++) indeg[cons[c]]++;
        }
    }
    /* min-heap of ready positions */
    size_t hn = 0, out = 0;
#define HPUSH(x)                                                                                   \
    do {                                                                                           \
        size_t j_ = hn++;                                                                          \
        heap[j_] = (x);                                                                            \
        while (j_ && heap[(j_ - 1) / 2] > heap[j_]) {                                              \
            size_t t_ = heap[j_];                                                                  \
            heap[j_] = heap[(j_ - 1) / 2];                                                         \
            heap[(j_ - 1) / 2] = t_;                                                               \
            j_ = (j_ - 1) / 2;                                                                     \
        }                                                                                          \
    } while (0)
    for (size_t i = 0; i < n; i++)
        if (!indeg[i]) HPUSH(i);
    while (hn) {
        size_t top = heap[0];
        heap[0] = heap[--hn];
        for (size_t j = 0;;) {
            size_t l = 2 * j + 1, r = l + 1, m = j;
            if (l < hn && heap[l] < heap[m]) m = l;
            if (r < hn && heap[r] < heap[m]) m = r;
            if (m == j) break;
            size_t t = heap[j];
            heap[j] = heap[m];
            heap[m] = t;
            j = m;
        }
        order[out++] = top;
        kp_node *nd = g->nodes[top];
        for (size_t k = 0; k < nd->n_outputs; k++) {
            const char *v = nd->outputs[k];
            size_t pp;
            if (!v[0] || kp_graph_producer(g, v, &pp) != nd || pp != top) continue;
            const size_t *cons;
            size_t nc = kp_graph_consumer_pos(g, v, &cons);
            for (size_t c = 0; c < nc; c++)
                if (--indeg[cons[c]] == 0) HPUSH(cons[c]);
        }
    }
#undef HPUSH
    if (out < n) {
        for (size_t i = 0; i < n; i++)
            if (indeg[i]) {
                kp_node *nd = g->nodes[i];
                rc = kp_error_set(err, KP_EFORMAT,
                                  "the graph has a cycle through node %s (%s): it depends on "
                                  "its own output",
                                  node_label(nd), nd->op_type);
                break;
            }
    }
done:
    free(indeg);
    free(heap);
    return rc;
}

int kp_graph_toposort(kp_graph *g, kp_error *err) {
    if (!g) return kp_error_set(err, KP_EINVAL, "no graph");
    if (!g->n_nodes) return 0;
    size_t *order = malloc(g->n_nodes * sizeof *order);
    kp_node **nodes = malloc(g->n_nodes * sizeof *nodes);
    int rc = 0;
    if (!order || !nodes)
        rc = kp_error_set(err, KP_ENOMEM, "out of memory ordering nodes");
    else
        rc = topo_order(g, order, err);
    if (!rc) {
        int changed = 0;
        for (size_t i = 0; i < g->n_nodes; i++) {
            nodes[i] = g->nodes[order[i]];
            changed |= order[i] != i;
        }
        if (changed) {
            memcpy(g->nodes, nodes, g->n_nodes * sizeof *nodes);
            kp_graph_touch(g);
        }
    }
    free(order);
    free(nodes);
    return rc;
}
