/* fp16: float16 weights and compute, float32 at the model's inputs and outputs (Cast nodes at
 * the edges), for GPU and edge-GPU targets. ONNX Runtime 1.30's CPU provider also runs the
 * converted ops (checked with tests/bench/ort_run.js); our executor emulates fp16 exactly
 * enough for checking: fp16 storage of every value, fp32 arithmetic (core/exec_qdq.c).
 * Converts the whole top-level graph or nothing: ops outside the list below make the pass fail
 * with their names, so a model is never left half-converted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/quant_util.h"
#include "passes/wstore.h"

static const kp_param_def params[] = {
    {"keep_io_float", KP_PARAM_BOOL, "true", 0, 0, NULL,
     "inputs and outputs stay float32 (Cast at the edges); false = the model's I/O is float16"},
};

static const char *const ok_ops[] = {
    "Add",
    "AveragePool",
    "BatchNormalization",
    "Clip",
    "Concat",
    "Conv",
    "Div",
    "Dropout",
    "Flatten",
    "Gemm",
    "GlobalAveragePool",
    "GlobalMaxPool",
    "Identity",
    "LeakyRelu",
    "MatMul",
    "MaxPool",
    "Mul",
    "Relu",
    "Reshape",
    "Sigmoid",
    "Softmax",
    "Squeeze",
    "Sub",
    "Tanh",
    "Transpose",
    "Unsqueeze",
};

static int allowed(const kp_node *n) {
    if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx")) return 0;
    for (size_t i = 0; i < sizeof ok_ops / sizeof *ok_ops; i++)
        if (!strcmp(n->op_type, ok_ops[i])) return 1;
    return 0;
}

static kp_tensor *to_half(const kp_tensor *t, kp_error *err) {
    kp_tensor *h = kp_tensor_new(KP_FLOAT16, t->rank, t->dims, err);
    if (!h) return NULL;
    if (kp_tensor_set_name(h, t->name)) {
        kp_tensor_free(h);
        kp_error_set(err, KP_ENOMEM, "out of memory");
        return NULL;
    }
    const float *f = t->data;
    for (int64_t i = 0; i < t->numel; i++) ((uint16_t *)h->data)[i] = kp_f32_to_f16(f[i]);
    return h;
}

static int is_init_input(const kp_graph *g, const char *name) {
    for (size_t i = 0; i < g->n_inits; i++)
        if (!strcmp(g->inits[i]->name, name)) return 1;
    return 0;
}

static int add_cast(kp_graph *g, const char *in, const char *out, int to, kp_error *err) {
    kp_node *c = kp_q_node("Cast", NULL, 1, &in, out);
    if (!c || kp_node_set_attr_int(c, "to", to) || kp_graph_add_node(g, c)) {
        kp_node_free(c);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    return 0;
}

static int apply(kp_model *m, const kp_params *p, const kp_pass_ctx *ctx, kp_error *err) {
    /* weights stored compactly by prune/cluster (passes/wstore.h) become plain float first */
    int drc = kp_wstore_decode_model(m, NULL, err);
    if (drc < 0) return drc;
    kp_graph *g = m->graph;
    char bad[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        if (allowed(g->nodes[i]) || strstr(bad, g->nodes[i]->op_type)) continue;
        int w =
            snprintf(bad + used, sizeof bad - used, "%s%s", used ? ", " : "", g->nodes[i]->op_type);
        if (w > 0 && (size_t)w < sizeof bad - used) used += (size_t)w;
    }
    if (used)
        return kp_error_set(err, KP_EUNSUPPORTED,
                            "fp16 converts whole graphs of common CNN/MLP ops; these ops are not "
                            "covered: %s (the model is left in float32)",
                            bad);
    /* every float32 constant, wherever it lives */
    kp_const_ref *refs = NULL;
    size_t n = 0;
    int rc = kp_graph_consts(g, 1, &refs, &n, err);
    if (rc) return rc;
    size_t converted = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!refs[i].tensor || refs[i].tensor->dtype != KP_FLOAT) continue;
        kp_tensor *h = to_half(refs[i].tensor, err);
        rc = h ? kp_graph_replace_const(refs[i].graph, h, err) : KP_ENOMEM;
        converted++;
    }
    free(refs);
    if (rc) return rc;
    int keep = kp_params_bool(p, "keep_io_float");
    /* inputs: Cast to float16 right after them */
    for (size_t i = 0; i < g->n_inputs && !rc; i++) {
        kp_value_info *vi = &g->inputs[i];
        if (is_init_input(g, vi->name) || vi->type.kind != KP_TYPE_TENSOR) continue;
        if (vi->type.elem != KP_FLOAT) continue;
        if (!keep) {
            vi->type.elem = KP_FLOAT16;
            continue;
        }
        char base[300];
        snprintf(base, sizeof base, "%s_fp16", vi->name);
        char *h = kp_graph_unique_name(g, base);
        if (!h || kp_graph_replace_uses(g, vi->name, h))
            rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        if (!rc) rc = add_cast(g, vi->name, h, KP_FLOAT16, err);
        free(h);
    }
    /* outputs: producers write float16, a Cast gives the float32 output */
    for (size_t i = 0; i < g->n_outputs && !rc; i++) {
        kp_value_info *vo = &g->outputs[i];
        if (vo->type.kind != KP_TYPE_TENSOR || vo->type.elem != KP_FLOAT) continue;
        if (!keep) {
            vo->type.elem = KP_FLOAT16;
            continue;
        }
        char *o = strdup(vo->name), base[300];
        snprintf(base, sizeof base, "%s_fp16", vo->name);
        char *h = o ? kp_graph_unique_name(g, base) : NULL;
        if (!o || !h) rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        for (size_t k = 0; !rc && k < g->n_nodes; k++)
            for (size_t j = 0; j < g->nodes[k]->n_outputs; j++)
                if (!strcmp(g->nodes[k]->outputs[j], o) && kp_node_set_output(g->nodes[k], j, h))
                    rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        for (size_t k = 0; !rc && k < g->n_nodes; k++)
            for (size_t j = 0; j < g->nodes[k]->n_inputs; j++)
                if (!strcmp(g->nodes[k]->inputs[j], o) && kp_node_set_input(g->nodes[k], j, h))
                    rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        if (!rc) rc = add_cast(g, h, o, KP_FLOAT, err);
        free(o);
        free(h);
    }
    /* intermediate value types */
    for (size_t i = 0; i < g->n_value_info; i++)
        if (g->value_info[i].type.kind == KP_TYPE_TENSOR && g->value_info[i].type.elem == KP_FLOAT)
            g->value_info[i].type.elem = KP_FLOAT16;
    kp_graph_touch(g);
    if (!rc) rc = kp_graph_toposort(g, err);
    if (!rc && ctx && ctx->note) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "fp16: %zu constants stored as float16, %zu ops computing in fp16", converted,
                 g->n_nodes);
        ctx->note(ctx->user, msg);
    }
    return rc;
}

static int estimate(const kp_model *m, const kp_params *p, const kp_pass_ctx *ctx, kp_estimate *out,
                    kp_error *err) {
    (void)p;
    (void)err;
    memset(out, 0, sizeof *out);
    out->size_ratio = 0.5;
    out->acc_drop = 0.05;
    out->confidence = 0.5;
    out->applicable = 1;
    for (size_t i = 0; i < m->graph->n_nodes; i++)
        if (!allowed(m->graph->nodes[i])) {
            out->applicable = 0;
            out->size_ratio = out->latency_ratio = 1;
            snprintf(out->reason, sizeof out->reason, "op %s is not covered by fp16",
                     m->graph->nodes[i]->op_type);
            return 0;
        }
    const struct kp_target *t = ctx ? ctx->target : NULL;
    out->latency_ratio = 1.0;
    if (t && kp_q_target_fp16_speedup(t) > 0)
        out->latency_ratio = 1.0 / kp_q_target_fp16_speedup(t);
    snprintf(out->reason, sizeof out->reason,
             out->latency_ratio < 1 ? "float16 halves the file; the target computes fp16 faster"
                                    : "float16 halves the file; no fp16 speed-up on this target "
                                      "(x86 CPUs compute it in fp32)");
    return 0;
}

const kp_pass kp_pass_fp16 = {
    "fp16",
    "Float16",
    "float16 weights and compute, float32 at the model's inputs and outputs (GPU, edge GPU)",
    0,
    0,
    sizeof params / sizeof *params,
    params,
    estimate,
    apply,
};
