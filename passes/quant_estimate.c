/* Estimate of the int8 passes (quant-dynamic, quant-static, mixed-precision): file size from the
 * float weights that become int8, latency from a per-layer cost model of the layers the pass
 * changes, at batch 1:
 *
 *   layer time = max(MACs / MAC rate, bytes moved / bandwidth) + dispatch
 *
 * before: every layer in fp32 (4-byte weights and activations). After: the quantized layers
 * (Gemm/MatMul with constant weights, and Conv when the pass takes it) run their MACs at the
 * int8 rate and read 1-byte weights; with static quantization activations between int8-capable
 * layers are 1 byte, plus a QuantizeLinear / DequantizeLinear at the graph's edges and around
 * layers that stay float; with dynamic quantization every quantized layer still takes and gives
 * floats and pays a DynamicQuantizeLinear on its input (a range pass and a quantizing pass over
 * the floats, one byte written per element, one more dispatch). Layers the pass leaves alone cost
 * the same before and after, so a model whose MACs sit in float-kept layers gains little.
 *
 * Machine figures: a target profile's sustained fp32 and int8 rates (all cores) and memory
 * bandwidth; for this machine, one core (the executor's default) at the detected clock and
 * vector width, the int8/fp32 ratio of the int8 path in use, and cache bandwidth (one vector
 * load per cycle) while the weights fit in the caches, else the memory bandwidth. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cpu.h"
#include "core/model_stats.h"
#include "core/shape_infer.h"
#include "passes/quant_util.h"
/* core/target.h has a comment-start sequence inside its header comment (-Wcomment). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcomment"
#include "core/target.h"
#include "core/target_builtin.h"
#pragma GCC diagnostic pop

typedef struct machine {
    double mac_s;    /* fp32 multiply-adds per second */
    double speed;    /* int8 over fp32 MAC throughput */
    double bw;       /* bytes per second */
    double dispatch; /* seconds per layer */
    int has_int8;
    char where[96];
} machine;

/* float bytes of constant weights feeding Conv/Gemm/MatMul, and of every constant */
static void weight_bytes(kp_graph *g, int with_conv, double *qbytes, double *all) {
    kp_const_ref *refs = NULL;
    size_t n = 0;
    if (kp_graph_consts(g, 1, &refs, &n, NULL)) return;
    for (size_t i = 0; i < n; i++) {
        kp_tensor *t = refs[i].tensor;
        if (!t) continue;
        *all += (double)t->nbytes;
        if (t->dtype != KP_FLOAT || t->rank < 2) continue;
        kp_node *users[4];
        size_t nu = kp_graph_consumers(refs[i].graph, refs[i].name, users, 4);
        int q = 0;
        for (size_t k = 0; k < nu && k < 4; k++)
            if (kp_node_is(users[k], "Gemm") || kp_node_is(users[k], "MatMul") ||
                (with_conv && kp_node_is(users[k], "Conv")))
                q = 1;
        if (q) *qbytes += (double)t->nbytes;
    }
    free(refs);
}

static void machine_of(const kp_pass_ctx *ctx, double weights, machine *mc) {
    memset(mc, 0, sizeof *mc);
    const kp_target *t = ctx ? ctx->target : NULL;
    if (t) {
        snprintf(mc->where, sizeof mc->where, "%s", t->name);
        mc->has_int8 = (t->precisions & KP_PREC_INT8) && t->int8_gops > 0;
        mc->mac_s = (t->fp32_gflops > 0 ? t->fp32_gflops : 1) * 1e9 / 2;
        mc->speed = t->fp32_gflops > 0 ? t->int8_gops / t->fp32_gflops : 2;
        if (t->u8s8_saturates) mc->speed *= 0.8;
        mc->bw = (t->mem_bw_gbs > 0 ? t->mem_bw_gbs : 10) * 1e9;
        mc->dispatch = kp_target_dispatch_s(t->cls);
        return;
    }
    const char *path = kp_cpu_int8_path();
    snprintf(mc->where, sizeof mc->where, "this CPU (%s)", path);
    mc->has_int8 = 1;
    mc->speed = !strcmp(path, "avx512-vnni") ? 3.0
                : !strcmp(path, "avx-vnni")  ? 2.5
                : !strcmp(path, "avx2")      ? 1.6
                                             : 0.5;
    kp_target h;
    kp_error e = {0};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (kp_target_detect_host(&h, &e) || h.fp32_gflops <= 0) h.fp32_gflops = 32, h.mem_bw_gbs = 10;
    double flops = h.fp32_gflops * 1e9 / (double)(cores > 0 ? cores : 1); /* one core */
    mc->mac_s = flops / 2;
    /* streaming from L2/L3 a core sustains about half a vector per cycle: as many bytes per
     * second as multiply-adds (AVX-512: 32 bytes and 32 MACs per cycle) */
    long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE), l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    double cache = (double)(l2 > 0 ? l2 : 0) + (double)(l3 > 0 ? l3 : 0);
    if (cache <= 0) cache = 4.0 * 1024 * 1024;
    mc->bw = weights <= cache ? mc->mac_s : h.mem_bw_gbs * 1e9;
    mc->dispatch = kp_target_dispatch_s(KP_TARGET_CPU);
}

/* A layer the pass makes int8: Gemm/MatMul (and Conv when with_conv) with constant float
 * weights in input 1. */
static int quantized(kp_graph *g, const kp_node *n, int with_conv) {
    if (!kp_node_is(n, "Gemm") && !kp_node_is(n, "MatMul") && !(with_conv && kp_node_is(n, "Conv")))
        return 0;
    const char *w = kp_node_input(n, 1);
    const kp_tensor *t = w ? kp_graph_find_const(g, w) : NULL;
    return t && t->dtype == KP_FLOAT;
}

/* Ops that run on int8 data in a static int8 graph (ONNX Runtime's QDQ fusions, our
 * executor's int8 kernels): no Quantize/Dequantize around them. */
static int int8_capable(const kp_node *n) {
    static const char *const ops[] = {"MaxPool",  "Relu",      "Clip",    "Flatten",
                                      "Reshape",  "Transpose", "Squeeze", "Unsqueeze",
                                      "Identity", "Concat",    "Add",     "BatchNormalization"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (kp_node_is(n, ops[i])) return 1;
    return 0;
}

typedef struct cost {
    double before, after;    /* seconds */
    double q_macs, all_macs; /* MACs in quantized layers, in all */
    double dq;               /* seconds of run-time activation quantization */
    size_t n_q;
} cost;

static double layer_s(const machine *mc, double macs, double rate, double bytes) {
    double c = macs / rate, m = bytes / mc->bw;
    return (c > m ? c : m) + mc->dispatch;
}

static void model_cost(kp_graph *g, const machine *mc, int with_conv, int is_static, cost *c) {
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < g->n_nodes; i++) {
        const kp_node *n = g->nodes[i];
        int64_t mm = kp_node_macs(g, n, NULL);
        double macs = mm > 0 ? (double)mm : 0, wb = 0, wq = 0, act_in = 0, act_out = 0;
        for (size_t k = 0; k < n->n_inputs; k++) {
            const char *in = n->inputs[k];
            const kp_tensor *t = in[0] ? kp_graph_find_const(g, in) : NULL;
            if (t) {
                wb += (double)t->nbytes;
                if (k == 1) wq = (double)t->nbytes;
            } else {
                act_in += kp_target_value_elems(g, in);
            }
        }
        for (size_t k = 0; k < n->n_outputs; k++)
            act_out += kp_target_value_elems(g, n->outputs[k]);
        /* a layer without known shapes still streams its weights */
        if (mm < 0 && wq > 0) macs = wq / 4;
        double before = layer_s(mc, macs, mc->mac_s, wb + 4 * (act_in + act_out)), after = before;
        c->all_macs += macs;
        if (quantized(g, n, with_conv)) {
            c->n_q++;
            c->q_macs += macs;
            double wbytes = wb - wq + wq / 4;
            if (is_static) {
                after = layer_s(mc, macs, mc->mac_s * mc->speed, wbytes + act_in + act_out);
            } else {
                after = layer_s(mc, macs, mc->mac_s * mc->speed, wbytes + act_in + 4 * act_out);
                /* DynamicQuantizeLinear: range pass + quantizing pass over the floats */
                double dq = layer_s(mc, 0, 1, 9 * act_in);
                after += dq;
                c->dq += dq;
            }
        } else if (is_static && int8_capable(n)) {
            after = layer_s(mc, macs, mc->mac_s, wb + act_in + act_out);
        } else if (is_static) {
            /* stays float between a DequantizeLinear and a QuantizeLinear */
            after = before + layer_s(mc, 0, 1, 5 * act_in) + layer_s(mc, 0, 1, 5 * act_out);
        }
        c->before += before;
        c->after += after;
    }
    if (!is_static) return;
    for (size_t k = 0; k < g->n_inputs; k++) /* QuantizeLinear of each graph input */
        if (!kp_graph_find_const(g, g->inputs[k].name))
            c->after += layer_s(mc, 0, 1, 5 * kp_target_value_elems(g, g->inputs[k].name));
    for (size_t k = 0; k < g->n_outputs; k++) /* DequantizeLinear of each output */
        c->after += layer_s(mc, 0, 1, 5 * kp_target_value_elems(g, g->outputs[k].name));
}

/* 1 when some layer's MACs need shapes the graph does not carry yet. */
static int shapes_missing(kp_graph *g) {
    for (size_t i = 0; i < g->n_nodes; i++)
        if (kp_node_macs(g, g->nodes[i], NULL) < 0) return 1;
    return 0;
}

int kp_q_estimate_int8(const kp_model *m, const kp_pass_ctx *ctx, int with_conv, int is_static,
                       kp_estimate *out, kp_error *err) {
    memset(out, 0, sizeof *out);
    double qb = 0, all = 0;
    weight_bytes(m->graph, with_conv, &qb, &all);
    if (qb <= 0 && !with_conv) {
        double cb = 0, call = 0;
        weight_bytes(m->graph, 1, &cb, &call);
        if (cb > 0) {
            snprintf(out->reason, sizeof out->reason,
                     "changes nothing by default: the only weights are Conv kernels, kept in "
                     "float (ONNX Runtime runs ConvInteger slower than float Conv); use "
                     "quant-static, or conv=convinteger for int8 conv weights anyway");
            out->size_ratio = out->latency_ratio = 1;
            return 0;
        }
    }
    if (qb <= 0) {
        snprintf(out->reason, sizeof out->reason,
                 "no Conv/Gemm/MatMul with constant float weights: nothing to quantize");
        out->size_ratio = out->latency_ratio = 1;
        return 0;
    }
    out->applicable = 1;
    out->size_ratio = all > 0 ? (all - 0.75 * qb) / all : 1;
    out->acc_drop = is_static ? 0.3 : 0.2;
    out->confidence = 0.5;
    machine mc;
    machine_of(ctx, all, &mc);
    if (!mc.has_int8) {
        out->latency_ratio = 1.0;
        snprintf(out->reason, sizeof out->reason,
                 "%s has no int8 compute: smaller file (%.0f%%), no speed-up", mc.where,
                 100 * out->size_ratio);
        return 0;
    }
    /* Layer sizes need shapes: infer them on a copy when the model does not carry them. */
    kp_model *copy = NULL;
    kp_graph *g = m->graph;
    if (shapes_missing(g)) {
        kp_error e2 = {0};
        copy = kp_model_clone(m, &e2);
        if (copy && !kp_infer_shapes(copy, &e2)) g = copy->graph;
    }
    cost c;
    model_cost(g, &mc, with_conv, is_static, &c);
    kp_model_free(copy);
    out->latency_ratio = c.before > 0 ? c.after / c.before : 1;
    double share = c.all_macs > 0 ? 100 * c.q_macs / c.all_macs : 0;
    if (out->latency_ratio >= 1.0)
        snprintf(out->reason, sizeof out->reason,
                 "int8 will not beat fp32 on %s (%zu int8 layers, %.0f%% of the MACs%s): only "
                 "the file shrinks (~%.0f%%)",
                 mc.where, c.n_q, share, is_static ? "" : ", activations quantized at run time",
                 100 * out->size_ratio);
    else
        snprintf(out->reason, sizeof out->reason,
                 "int8 weights: file ~%.0f%% of now; ~%.2fx faster on %s (%zu int8 layers, %.0f%% "
                 "of the MACs%s)",
                 100 * out->size_ratio, 1 / out->latency_ratio, mc.where, c.n_q, share,
                 is_static || c.before <= 0 ? "" : ", run-time activation quantization included");
    (void)err;
    return 0;
}
