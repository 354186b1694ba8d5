#include "core/exec_const.h"

#include <stdlib.h>
#include <string.h>

#include "core/ops/ops.h"

/* Total bytes of evaluated constants we accept in one model (larger results stay lazy). */
#define MAX_CONST_BYTES ((size_t)2 << 30)

static int nondeterministic(const kp_node *n) {
    static const char *const ops[] = {"RandomNormal",      "RandomUniform", "RandomNormalLike",
                                      "RandomUniformLike", "Multinomial",   "Bernoulli"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (kp_node_is(n, ops[i])) return 1;
    return 0;
}

static int foldable(kp_graph *g, const kp_node *n) {
    if (!n->n_inputs || !n->n_outputs || nondeterministic(n) || kp_node_is(n, "Constant")) return 0;
    /* weight DequantizeLinear stays: the int8 fusion (exec_qdq.c) runs after this and turns
     * DQ(w) -> Conv/Gemm/MatMul into int8 kernels; folding DQ would make those layers float */
    if (kp_node_is(n, "DequantizeLinear")) return 0;
    for (size_t a = 0; a < n->n_attrs; a++)
        if (n->attrs[a].type == KP_ATTR_GRAPH || n->attrs[a].type == KP_ATTR_GRAPHS) return 0;
    if (!kp_ops_find(n->domain, n->op_type)) return 0;
    int any = 0;
    for (size_t k = 0; k < n->n_inputs; k++) {
        const char *v = kp_node_input(n, k);
        if (!v) continue;
        if (!kp_graph_find_const(g, v)) return 0;
        any = 1;
    }
    for (size_t o = 0; o < n->n_outputs; o++)
        if (!n->outputs[o][0] || kp_graph_is_output(g, n->outputs[o])) return 0;
    return any;
}

int kp_exec_const_fold(const kp_model *m, kp_model **out, kp_error *err) {
    *out = NULL;
    kp_graph *g0 = m->graph;
    int rc = kp_graph_index(g0, err);
    if (rc) return rc;
    size_t first = g0->n_nodes;
    for (size_t i = 0; i < g0->n_nodes && first == g0->n_nodes; i++)
        if (foldable(g0, g0->nodes[i])) first = i;
    if (first == g0->n_nodes) return 0;
    kp_model *c = kp_model_clone(m, err);
    if (!c) return err && err->code ? err->code : KP_ENOMEM;
    kp_graph *g = c->graph;
    size_t total = 0, folded = 0;
    for (size_t i = 0; i < g->n_nodes;) {
        kp_node *n = g->nodes[i];
        if (!foldable(g, n)) {
            i++;
            continue;
        }
        const kp_tensor *in[64];
        kp_tensor *res[16] = {0};
        if (n->n_inputs > 64 || n->n_outputs > 16) {
            i++;
            continue;
        }
        for (size_t k = 0; k < n->n_inputs; k++) {
            const char *v = kp_node_input(n, k);
            in[k] = v ? kp_graph_find_const(g, v) : NULL;
        }
        kp_error e2 = {0};
        int64_t opset = kp_model_opset(c, n->domain ? n->domain : "");
        if (kp_op_call(n, opset, n->n_inputs, in, n->n_outputs, res, &e2) < 0) {
            i++; /* left to run (and to report its error then) */
            continue;
        }
        size_t bytes = 0;
        for (size_t o = 0; o < n->n_outputs; o++) bytes += res[o] ? res[o]->nbytes : 0;
        int ok = total + bytes <= MAX_CONST_BYTES;
        for (size_t o = 0; ok && o < n->n_outputs; o++)
            if (!res[o] || kp_tensor_set_name(res[o], n->outputs[o])) ok = 0;
        if (!ok) {
            for (size_t o = 0; o < n->n_outputs; o++) kp_tensor_free(res[o]);
            i++;
            continue;
        }
        size_t nout = n->n_outputs;
        kp_graph_remove_node(g, i); /* res names are copies: n may go */
        for (size_t o = 0; o < nout; o++) {
            if (kp_graph_add_init(g, res[o])) {
                for (size_t q = o; q < nout; q++) kp_tensor_free(res[q]);
                kp_model_free(c);
                return kp_error_set(err, KP_ENOMEM, "out of memory");
            }
        }
        total += bytes;
        folded++;
        kp_graph_touch(g);
    }
    if (!folded) {
        kp_model_free(c);
        return 0;
    }
    *out = c;
    return 0;
}
