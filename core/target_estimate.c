/* Roofline estimate of a model on a target, at batch 1.
 * Per top-level layer: time = max(2*MACs / throughput at the layer's precision,
 * bytes moved / memory bandwidth) + a fixed per-layer dispatch cost of the target class.
 * Precision of a layer: int8 for QLinear and *Integer ops and for float ops fed by
 * DequantizeLinear (QDQ form); fp16 when its first input is float16; fp32 otherwise. A precision
 * the target lacks runs at its fp32 rate (what a runtime falls back to). On targets with int8
 * compute, QDQ form counts as a runtime runs it: activation Quantize/DequantizeLinear between
 * int8 layers are folded into them (no time of their own), and int8 layers move their stored
 * 1-byte values; elsewhere Q/DQ are layers of their own on float data. Relu/Clip/LeakyRelu
 * right after a Conv/Gemm/MatMul run inside it (no launch), as every runtime does.
 * RAM: peak of live activations over the node order (liveness, batch 1), plus the weights for
 * targets that execute from RAM (MCUs read weights from flash in place).
 * Flash/storage: bytes of constant tensors plus 2% for the graph itself. */
#include <stdlib.h>
#include <string.h>

#include "core/model_stats.h"
#include "core/target.h"

double kp_target_dispatch_s(kp_target_class c) {
    switch (c) {
    case KP_TARGET_GPU: return 5e-6; /* kernel launch */
    case KP_TARGET_EDGE: return 3e-6;
    case KP_TARGET_MCU: return 2e-6; /* layer loop of a microcontroller runtime */
    default: return 0.5e-6;
    }
}

double kp_target_value_elems(kp_graph *g, const char *name) {
    if (!name || !*name) return 0;
    const kp_tensor *c = kp_graph_find_const(g, name);
    if (c) return (double)c->numel;
    const kp_type *t = kp_graph_value_type(g, name);
    if (!t || t->kind != KP_TYPE_TENSOR || t->rank < 0) return 0;
    double n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->dims[i].value > 0 ? (double)t->dims[i].value : 1;
    return n;
}

/* Bytes of a value at batch 1 (symbolic dims count as 1); 0 when unknown. */
static double value_bytes(kp_graph *g, const char *name) {
    const kp_tensor *c = name && *name ? kp_graph_find_const(g, name) : NULL;
    if (c) return (double)c->nbytes;
    const kp_type *t = name && *name ? kp_graph_value_type(g, name) : NULL;
    size_t es = t && t->kind == KP_TYPE_TENSOR ? kp_dtype_size(t->elem) : 0;
    return kp_target_value_elems(g, name) * (double)(es ? es : 1);
}

/* Element size of a value (constant or typed), 0 when unknown. */
static size_t elem_size(kp_graph *g, const char *name) {
    const kp_tensor *c = kp_graph_find_const(g, name);
    if (c) return kp_dtype_size(c->dtype);
    const kp_type *t = kp_graph_value_type(g, name);
    return t && t->kind == KP_TYPE_TENSOR ? kp_dtype_size(t->elem) : 0;
}

/* QDQ form as a runtime runs it: a DequantizeLinear's output is read in its stored type (the
 * consumer is an int8 kernel), and a value that only QuantizeLinear reads is written in the
 * quantized type. Bytes of input `name` / output `name` of a layer. */
static double in_bytes(kp_graph *g, const char *name) {
    double b = value_bytes(g, name);
    kp_node *p = name && *name ? kp_graph_producer(g, name, NULL) : NULL;
    if (!p || !kp_node_is(p, "DequantizeLinear") || !p->n_inputs) return b;
    size_t es = elem_size(g, p->inputs[0]), fs = elem_size(g, name);
    return es && fs ? b * (double)es / (double)fs : b;
}

static double out_bytes(kp_graph *g, const char *name) {
    double b = value_bytes(g, name);
    kp_node *users[8];
    size_t nu = name && *name ? kp_graph_consumers(g, name, users, 8) : 0;
    if (!nu || nu > 8 || kp_graph_is_output(g, name)) return b;
    for (size_t k = 0; k < nu; k++)
        if (!kp_node_is(users[k], "QuantizeLinear") || users[k]->n_outputs < 1) return b;
    size_t es = elem_size(g, users[0]->outputs[0]), fs = elem_size(g, name);
    return es && fs ? b * (double)es / (double)fs : b;
}

static int is_int8_op(const kp_node *n) {
    static const char *const ops[] = {"QLinearConv",   "QLinearMatMul", "ConvInteger",
                                      "MatMulInteger", "QLinearAdd",    "QLinearMul"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (!strcmp(n->op_type, ops[i])) return 1;
    return 0;
}

typedef enum { PREC_FP32, PREC_FP16, PREC_INT8 } prec;

static prec layer_precision(kp_graph *g, const kp_node *n) {
    if (is_int8_op(n)) return PREC_INT8;
    const char *in0 = kp_node_input(n, 0);
    if (!in0) return PREC_FP32;
    kp_node *p = kp_graph_producer(g, in0, NULL);
    if (p && kp_node_is(p, "DequantizeLinear")) return PREC_INT8;
    const kp_type *t = kp_graph_value_type(g, in0);
    if (t && t->kind == KP_TYPE_TENSOR && t->elem == KP_FLOAT16) return PREC_FP16;
    return PREC_FP32;
}

/* A QuantizeLinear / DequantizeLinear of activations that a runtime folds into the int8 layers
 * next to it (ONNX Runtime's QDQ fusion, our executor): a DequantizeLinear whose output only
 * layers read, a QuantizeLinear of a value an int8-precision layer computed. The ones at the
 * graph's float edges remain. */
static int folded_qdq(kp_graph *g, const kp_node *n) {
    if (!n->n_inputs || !n->n_outputs) return 0;
    if (kp_node_is(n, "DequantizeLinear")) {
        kp_node *users[1];
        return !kp_graph_is_output(g, n->outputs[0]) &&
               kp_graph_consumers(g, n->outputs[0], users, 1) > 0;
    }
    if (!kp_node_is(n, "QuantizeLinear")) return 0;
    kp_node *p = kp_graph_producer(g, n->inputs[0], NULL);
    return p && layer_precision(g, p) == PREC_INT8;
}

/* An activation a runtime fuses into the layer before it (every runtime does for Conv/Gemm +
 * Relu, ours included): the layer's only reader, so no launch and no trip through memory. */
static int fused_activation(kp_graph *g, const kp_node *n) {
    static const char *const acts[] = {"Relu", "Clip", "LeakyRelu"};
    int act = 0;
    for (size_t i = 0; i < sizeof acts / sizeof *acts; i++) act |= kp_node_is(n, acts[i]);
    if (!act || !n->n_inputs) return 0;
    kp_node *p = kp_graph_producer(g, n->inputs[0], NULL);
    kp_node *users[2];
    if (!p || kp_graph_is_output(g, n->inputs[0]) ||
        kp_graph_consumers(g, n->inputs[0], users, 2) != 1)
        return 0;
    return kp_node_is(p, "Conv") || kp_node_is(p, "Gemm") || kp_node_is(p, "MatMul") ||
           is_int8_op(p);
}

static int has_int8(const kp_target *t) {
    return (t->precisions & KP_PREC_INT8) && t->int8_gops > 0;
}

static double throughput(const kp_target *t, prec p) {
    double fp32 = t->fp32_gflops * 1e9;
    if (p == PREC_INT8 && has_int8(t)) return t->int8_gops * 1e9;
    if (p == PREC_FP16 && (t->precisions & KP_PREC_FP16) && t->fp16_gflops > 0)
        return t->fp16_gflops * 1e9;
    return fp32;
}

int kp_target_estimate_model(const kp_target *t, const kp_model *m, double host_factor,
                             kp_target_estimate *out, kp_error *err) {
    memset(out, 0, sizeof *out);
    if (!t || !m || !m->graph) return kp_error_set(err, KP_EINVAL, "no target or model");
    if (t->fp32_gflops <= 0 || t->mem_bw_gbs <= 0)
        return kp_error_set(err, KP_EINVAL, "target %s has no compute or bandwidth figures", t->id);
    kp_graph *g = m->graph;
    int rc = kp_graph_index(g, err);
    if (rc) return rc;
    kp_model_stats *st = NULL;
    if ((rc = kp_model_stats_compute(m, &st, err))) return rc;

    /* Liveness of activations over the node order: a value dies after its last reader. */
    size_t nn = g->n_nodes;
    double *born = calloc(nn + 1, sizeof *born), *freed = calloc(nn + 1, sizeof *freed);
    if (!born || !freed) {
        free(born);
        free(freed);
        kp_model_stats_free(st);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    /* Nodes computed from weights alone (DequantizeLinear of int8 weights, codebook lookups,
     * Casts of float16 weights) decode stored weights: a deployment runtime reads the stored
     * form inside the consuming kernel, so their outputs count as weights, not as live
     * activations. */
    unsigned char *wdec = calloc(nn + 1, 1);
    if (!wdec) {
        free(born);
        free(freed);
        kp_model_stats_free(st);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < nn; i++) {
        const kp_node *n = g->nodes[i];
        int only = n->n_inputs > 0;
        for (size_t k = 0; k < n->n_inputs && only; k++) {
            const char *in = n->inputs[k];
            if (!in[0] || kp_graph_init(g, in)) continue;
            size_t pos = 0;
            only = kp_graph_producer(g, in, &pos) && pos < i && wdec[pos];
        }
        wdec[i] = (unsigned char)only;
    }
    double lat = 0, bw = t->mem_bw_gbs * 1e9;
    /* Q/DQ fold into int8 layers, and data moves in its stored 1-byte form, only where the
     * target computes in int8; elsewhere a runtime dequantizes and runs float. */
    int i8 = has_int8(t);
    for (size_t i = 0; i < nn; i++) {
        const kp_node *n = g->nodes[i];
        if (wdec[i]) continue;
        int b1 = 0;
        int64_t macs = kp_node_macs(g, n, &b1);
        double bytes = 0;
        int folded = (i8 && folded_qdq(g, n)) || fused_activation(g, n);
        for (size_t k = 0; k < n->n_inputs; k++)
            bytes += i8 ? in_bytes(g, n->inputs[k]) : value_bytes(g, n->inputs[k]);
        for (size_t k = 0; k < n->n_outputs; k++) {
            double ob = value_bytes(g, n->outputs[k]);
            if (n->outputs[k][0] && kp_target_value_elems(g, n->outputs[k]) <= 0)
                out->unknown_values++;
            bytes += i8 ? out_bytes(g, n->outputs[k]) : ob;
            if (!n->outputs[k][0] || kp_graph_is_output(g, n->outputs[k])) {
                born[i] += ob; /* graph outputs live to the end */
                continue;
            }
            size_t last = i;
            for (size_t j = i + 1; j < nn; j++)
                for (size_t q = 0; q < g->nodes[j]->n_inputs; q++)
                    if (!strcmp(g->nodes[j]->inputs[q], n->outputs[k])) last = j;
            born[i] += ob;
            freed[last + 1 <= nn ? last + 1 : nn] += ob;
        }
        double compute = macs > 0 ? 2.0 * (double)macs / throughput(t, layer_precision(g, n)) : 0;
        double memory = bytes / bw;
        if (!folded) lat += (compute > memory ? compute : memory) + kp_target_dispatch_s(t->cls);
    }
    double live = 0, peak = 0;
    for (size_t k = 0; k < g->n_inputs; k++)
        if (!kp_graph_init(g, g->inputs[k].name)) live += value_bytes(g, g->inputs[k].name);
    peak = live;
    for (size_t i = 0; i < nn; i++) {
        live += born[i] - freed[i];
        if (live > peak) peak = live;
    }
    free(born);
    free(freed);
    free(wdec);
    double weights = (double)st->param_bytes;
    kp_model_stats_free(st);

    out->host_calibration = 1;
    if (!strcmp(t->id, "host") && host_factor > 0) {
        out->host_calibration = host_factor;
        lat *= host_factor;
    }
    out->latency_s = lat;
    out->energy_j = lat * t->power_w;
    out->flash_bytes = (uint64_t)(weights * 1.02);
    out->ram_bytes = (uint64_t)(peak + (t->cls == KP_TARGET_MCU ? 0 : weights));
    out->fits_ram = !t->ram_bytes || out->ram_bytes <= t->ram_bytes;
    out->fits_flash = !t->storage_bytes || out->flash_bytes <= t->storage_bytes;
    return 0;
}
