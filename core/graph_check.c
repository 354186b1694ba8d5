/* Dead code removal and structural validation. */
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "core/graph_util.h"

#define MAX_DEPTH 64

static const char *label(const kp_node *n) {
    return n->name && n->name[0] ? n->name : (n->n_outputs ? n->outputs[0] : n->op_type);
}

static int in_vi(const kp_value_info *v, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (v[i].name && !strcmp(v[i].name, name)) return 1;
    return 0;
}

/* ---- dead code ------------------------------------------------------------------------ */

/* Marks node at pos live and queues it. */
static void mark(size_t pos, unsigned char *live, size_t *queue, size_t *qn) {
    if (live[pos]) return;
    live[pos] = 1;
    queue[(*qn)++] = pos;
}

static size_t remove_dead(kp_graph *g, int depth) {
    if (depth > MAX_DEPTH) return 0;
    size_t removed = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        kp_node *n = g->nodes[i];
        for (size_t a = 0; a < n->n_attrs; a++) {
            kp_attr *at = &n->attrs[a];
            if (at->g) removed += remove_dead(at->g, depth + 1);
            for (size_t k = 0; at->graphs && k < at->n; k++)
                if (at->graphs[k]) removed += remove_dead(at->graphs[k], depth + 1);
        }
    }
    size_t n = g->n_nodes;
    unsigned char *live = calloc(n ? n : 1, 1);
    size_t *queue = malloc((n ? n : 1) * sizeof *queue);
    if (!live || !queue || kp_graph_index(g, NULL)) goto done; /* no memory: remove nothing */
    size_t qn = 0, pos;
    for (size_t i = 0; i < g->n_outputs; i++)
        if (g->outputs[i].name && kp_graph_producer(g, g->outputs[i].name, &pos))
            mark(pos, live, queue, &qn);
    while (qn) {
        kp_node *nd = g->nodes[queue[--qn]];
        for (size_t k = 0; k < nd->n_inputs; k++)
            if (nd->inputs[k][0] && kp_graph_producer(g, nd->inputs[k], &pos))
                mark(pos, live, queue, &qn);
        char **reads = NULL;
        size_t nr = 0;
        if (kp_node_outer_reads(nd, &reads, &nr, NULL)) {
            /* cannot tell what the subgraphs read: keep everything */
            memset(live, 1, n);
            qn = 0;
        }
        for (size_t k = 0; k < nr; k++) {
            if (kp_graph_producer(g, reads[k], &pos)) mark(pos, live, queue, &qn);
            free(reads[k]);
        }
        free(reads);
    }
    for (size_t i = n; i-- > 0;)
        if (!live[i]) {
            kp_graph_remove_node(g, i);
            removed++;
        }
    /* Initializers nobody reads (graph inputs with defaults are interface: kept). Decided in
     * one pass over a valid index, then the arrays are compacted. */
    if (kp_graph_index(g, NULL)) goto done;
    size_t w = 0, n_before = g->n_inits;
    for (size_t i = 0; i < g->n_inits; i++) {
        const char *nm = g->inits[i]->name;
        if (nm && !kp_graph_consumers(g, nm, NULL, 0) && !kp_graph_is_output(g, nm) &&
            !in_vi(g->inputs, g->n_inputs, nm))
            kp_tensor_free(g->inits[i]);
        else
            g->inits[w++] = g->inits[i];
    }
    g->n_inits = w;
    removed += n_before - w;
    w = 0;
    n_before = g->n_sparse_inits;
    for (size_t i = 0; i < g->n_sparse_inits; i++) {
        kp_tensor *v = g->sparse_inits[i]->values;
        const char *nm = v ? v->name : NULL;
        if (nm && !kp_graph_consumers(g, nm, NULL, 0) && !kp_graph_is_output(g, nm) &&
            !in_vi(g->inputs, g->n_inputs, nm))
            kp_sparse_tensor_free(g->sparse_inits[i]);
        else
            g->sparse_inits[w++] = g->sparse_inits[i];
    }
    g->n_sparse_inits = w;
    removed += n_before - w;
    kp_graph_touch(g);
    /* value_info of values that no longer exist here */
    w = 0;
    for (size_t i = 0; i < g->n_value_info; i++) {
        const char *nm = g->value_info[i].name;
        int keep = nm && (kp_graph_producer(g, nm, NULL) || kp_graph_init(g, nm) ||
                          kp_graph_consumers(g, nm, NULL, 0) || kp_graph_is_output(g, nm) ||
                          in_vi(g->inputs, g->n_inputs, nm));
        if (keep)
            g->value_info[w++] = g->value_info[i];
        else
            kp_value_info_clear(&g->value_info[i]);
    }
    g->n_value_info = w;
done:
    free(live);
    free(queue);
    return removed;
}

size_t kp_graph_remove_dead(kp_graph *g) {
    return g ? remove_dead(g, 0) : 0;
}

/* ---- validation ----------------------------------------------------------------------- */

static int outer_defines(kp_graph *g, const char *name) {
    for (kp_graph *s = g->parent; s; s = s->parent) {
        if (in_vi(s->inputs, s->n_inputs, name) || kp_graph_init(s, name) ||
            kp_graph_producer(s, name, NULL))
            return 1;
        for (size_t i = 0; i < s->n_sparse_inits; i++) {
            const kp_tensor *v = s->sparse_inits[i]->values;
            if (v && v->name && !strcmp(v->name, name)) return 1;
        }
    }
    return 0;
}

static int validate(kp_graph *g, int depth, kp_error *err) {
    if (depth > MAX_DEPTH)
        return kp_error_set(err, KP_ERANGE, "subgraphs are nested more than %d deep", MAX_DEPTH);
    int rc = kp_graph_index(g, err);
    if (rc) return rc;
    for (size_t i = 0; i < g->n_nodes; i++) {
        kp_node *n = g->nodes[i];
        if (!n->op_type || !n->op_type[0])
            return kp_error_set(err, KP_EFORMAT, "node %zu (%s) has no op_type", i,
                                n->name ? n->name : "unnamed");
        for (size_t k = 0; k < n->n_outputs; k++) {
            const char *v = n->outputs[k];
            if (!v[0]) continue;
            size_t pos;
            kp_node *p = kp_graph_producer(g, v, &pos);
            if (p != n) {
                return kp_error_set(err, KP_EFORMAT,
                                    "value %s is produced twice: by node %s (%s) and by node "
                                    "%s (%s)",
                                    v, label(p), p->op_type, label(n), n->op_type);
            }
            for (size_t j = 0; j < k; j++)
                if (!strcmp(n->outputs[j], v))
                    return kp_error_set(err, KP_EFORMAT, "node %s (%s) lists output %s twice",
                                        label(n), n->op_type, v);
            if (kp_graph_init(g, v) || in_vi(g->inputs, g->n_inputs, v))
                return kp_error_set(err, KP_EFORMAT,
                                    "node %s (%s) writes %s, which is already a graph input or "
                                    "initializer",
                                    label(n), n->op_type, v);
        }
    }
    for (size_t i = 0; i < g->n_inits; i++) {
        const char *nm = g->inits[i]->name;
        if (!nm || !nm[0]) return kp_error_set(err, KP_EFORMAT, "initializer %zu has no name", i);
        if (kp_graph_init(g, nm) != g->inits[i])
            return kp_error_set(err, KP_EFORMAT, "initializer %s is defined twice", nm);
    }
    for (size_t i = 0; i < g->n_outputs; i++) {
        const char *nm = g->outputs[i].name;
        if (!nm || !nm[0]) return kp_error_set(err, KP_EFORMAT, "graph output %zu has no name", i);
        if (!kp_graph_producer(g, nm, NULL) && !kp_graph_init(g, nm) &&
            !in_vi(g->inputs, g->n_inputs, nm) && !outer_defines(g, nm))
            return kp_error_set(err, KP_EFORMAT,
                                "graph output %s is not produced by any node, input or "
                                "initializer",
                                nm);
    }
    /* dangling inputs and cycles: a dry-run of the topological sort on a copy of the order */
    kp_node **saved = NULL;
    if (g->n_nodes) {
        saved = malloc(g->n_nodes * sizeof *saved);
        if (!saved) return kp_error_set(err, KP_ENOMEM, "out of memory validating");
        memcpy(saved, g->nodes, g->n_nodes * sizeof *saved);
    }
    rc = kp_graph_toposort(g, err);
    if (saved) {
        if (memcmp(saved, g->nodes, g->n_nodes * sizeof *saved)) {
            memcpy(g->nodes, saved, g->n_nodes * sizeof *saved); /* validate does not reorder */
            kp_graph_touch(g);
        }
        free(saved);
    }
    if (rc) return rc;
    for (size_t i = 0; i < g->n_nodes; i++) {
        kp_node *n = g->nodes[i];
        for (size_t a = 0; a < n->n_attrs; a++) {
            kp_attr *at = &n->attrs[a];
            if (at->g && (rc = validate(at->g, depth + 1, err)))
                return kp_error_wrap(err, "in subgraph %s of node %s (%s): ", at->name, label(n),
                                     n->op_type);
            for (size_t k = 0; at->graphs && k < at->n; k++)
                if (at->graphs[k] && (rc = validate(at->graphs[k], depth + 1, err)))
                    return kp_error_wrap(err, "in subgraph %s[%zu] of node %s (%s): ", at->name, k,
                                         label(n), n->op_type);
        }
    }
    return 0;
}

int kp_graph_validate(kp_graph *g, kp_error *err) {
    if (!g) return kp_error_set(err, KP_EINVAL, "no graph");
    return validate(g, 0, err);
}
