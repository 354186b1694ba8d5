/* The int8 passes' latency estimate is a per-layer cost model of what each pass changes: on the
 * demo CNN quant-dynamic (only the two Gemms, 1% of the MACs) predicts almost no speed-up,
 * conv=convinteger more and quant-static most; run-time activation quantization makes dynamic
 * slower than static over the same layers; a target without int8 compute gets none; the
 * estimate infers shapes on a copy and leaves the model as it was. The target roofline runs a
 * QDQ model as a runtime does (Quantize/DequantizeLinear folded into the int8 layer, 1-byte
 * weights read). Targets are built-in profiles (fixed numbers), so the checks do not depend on
 * this machine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ophelp.h"

#include "core/measure.h"
#include "core/onnx_io.h"
#include "core/pass.h"
#include "passes/registry.h"
/* core/target.h has a comment-start sequence inside its header comment (-Wcomment). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcomment"
#include "core/target.h"
#pragma GCC diagnostic pop

#define CNN "examples/fashion-mnist/cnn.onnx"
#define MLP "examples/fashion-mnist/mlp.onnx"

static kp_target *targets;
static size_t n_targets;

static const kp_target *target(const char *id) {
    const kp_target *t = kp_target_find(targets, n_targets, id);
    assert_non_null(t);
    return t;
}

/* Estimate of pass[:params] on the model at path for target id (NULL = this machine). */
static kp_estimate est(const char *path, const char *pass, const char *params, const char *id) {
    kp_model *m = NULL;
    kp_error e = {0};
    if (kp_onnx_load(path, NULL, &m, &e)) fail_msg("%s", e.msg);
    size_t n;
    const kp_pass *const *all = kp_passes(&n);
    const kp_pass *p = kp_pass_find(all, n, pass);
    assert_non_null(p);
    kp_params pp;
    assert_int_equal(kp_params_parse(p, params, &pp, &e), 0);
    kp_pass_ctx ctx = {0};
    ctx.target = id ? target(id) : NULL;
    size_t vi = m->graph->n_value_info;
    kp_estimate out;
    assert_int_equal(p->estimate(m, &pp, &ctx, &out, &e), 0);
    assert_int_equal(m->graph->n_value_info, vi); /* shapes were inferred on a copy */
    kp_params_free(&pp);
    kp_model_free(m);
    return out;
}

static void cnn_dynamic_gains_little(void **state) {
    (void)state;
    const char *ids[] = {"laptop-avx2", "server-vnni", "rpi4", NULL};
    for (int i = 0; i < 4; i++) {
        kp_estimate keep = est(CNN, "quant-dynamic", "", ids[i]);
        kp_estimate conv = est(CNN, "quant-dynamic", "conv=convinteger", ids[i]);
        kp_estimate st = est(CNN, "quant-static", "", ids[i]);
        assert_true(keep.applicable && conv.applicable && st.applicable);
        /* the Gemms hold 1% of the MACs: at most a few percent faster */
        if (!(keep.latency_ratio > 0.9 && keep.latency_ratio < 1.05))
            fail_msg("%s: conv=keep ratio %.3f", ids[i] ? ids[i] : "host", keep.latency_ratio);
        assert_non_null(strstr(keep.reason, "1% of the MACs"));
        /* int8 convolutions: faster; static (no run-time quantization, int8 activations) more */
        assert_true(conv.latency_ratio < keep.latency_ratio);
        assert_true(st.latency_ratio < conv.latency_ratio);
        assert_non_null(strstr(st.reason, "100% of the MACs"));
    }
}

static void dynamic_pays_activation_quantization(void **state) {
    (void)state;
    /* same three int8 Gemms either way: the dynamic one quantizes its inputs at run time and
     * keeps float activations, so it cannot be faster than static */
    const char *ids[] = {"laptop-avx2", "rpi5", "stm32h7", NULL};
    for (int i = 0; i < 4; i++) {
        kp_estimate d = est(MLP, "quant-dynamic", "", ids[i]);
        kp_estimate s = est(MLP, "quant-static", "", ids[i]);
        assert_true(d.latency_ratio > s.latency_ratio);
        assert_true(d.latency_ratio < 1.0); /* the weights, 3/4 of the bytes moved, shrink 4x */
        assert_non_null(strstr(d.reason, "run-time activation quantization"));
    }
}

static void no_int8_no_speedup(void **state) {
    (void)state;
    kp_estimate e = est(MLP, "quant-static", "", "jetson-nano");
    assert_true(e.latency_ratio == 1.0);
    assert_non_null(strstr(e.reason, "no int8 compute"));
    assert_true(e.size_ratio < 0.3);
}

static void add_init(kp_graph *g, const char *name, kp_dtype dt, int rank, const int64_t *dims,
                     double v) {
    kp_tensor *t = tt(dt, rank, dims, NULL);
    for (int64_t i = 0; i < t->numel; i++) kp_elem_setd(t->data, dt, i, v);
    assert_int_equal(kp_tensor_set_name(t, name), 0);
    assert_int_equal(kp_graph_add_init(g, t), 0);
}

static void add_node(kp_graph *g, const char *op, size_t n_in, const char *const *in,
                     const char *out) {
    const char *o[1] = {out};
    assert_int_equal(kp_graph_add_node(g, kp_node_new(op, out, n_in, in, 1, o)), 0);
}

/* x[1,512] -> MatMul(w[512,512]) -> y, in float or in QDQ form (int8 weights). */
static kp_model *matmul_model(int qdq) {
    kp_model *m = kp_model_new();
    kp_graph *g = m->graph;
    set_io(g, KP_FLOAT, 2, D(1, 512), 2, D(1, 512));
    add_init(g, "s", KP_FLOAT, 0, NULL, 0.05);
    add_init(g, "z", KP_INT8, 0, NULL, 0);
    if (!qdq) {
        add_init(g, "w", KP_FLOAT, 2, D(512, 512), 0.01);
        add_node(g, "MatMul", 2, (const char *[]){"x", "w"}, "y");
        return m;
    }
    add_init(g, "wq", KP_INT8, 2, D(512, 512), 3);
    add_node(g, "QuantizeLinear", 3, (const char *[]){"x", "s", "z"}, "xq");
    add_node(g, "DequantizeLinear", 3, (const char *[]){"xq", "s", "z"}, "xd");
    add_node(g, "DequantizeLinear", 3, (const char *[]){"wq", "s", "z"}, "w");
    add_node(g, "MatMul", 2, (const char *[]){"xd", "w"}, "mm");
    add_node(g, "QuantizeLinear", 3, (const char *[]){"mm", "s", "z"}, "yq");
    add_node(g, "DequantizeLinear", 3, (const char *[]){"yq", "s", "z"}, "y");
    return m;
}

static void roofline_runs_qdq_as_int8(void **state) {
    (void)state;
    kp_model *f = matmul_model(0), *q = matmul_model(1);
    kp_error e = {0};
    const char *ids[] = {"rpi4", "laptop-avx2", "server-vnni"}; /* memory-bound there */
    for (int i = 0; i < 3; i++) {
        kp_target_estimate ef, eq;
        if (kp_measure_roofline(f, target(ids[i]), &ef, &e) ||
            kp_measure_roofline(q, target(ids[i]), &eq, &e))
            fail_msg("%s", e.msg);
        /* a 1 MB weight streamed as 256 KB of int8, plus two small edge (de)quantizations */
        if (!(eq.latency_s < 0.5 * ef.latency_s))
            fail_msg("%s: QDQ %.3g s, float %.3g s", ids[i], eq.latency_s, ef.latency_s);
    }
    kp_model_free(f);
    kp_model_free(q);
}

/* A target without int8 compute (Jetson Nano) dequantizes and runs float: the QDQ form is never
 * faster there (the roofline used to fold the Q/DQ and read 1-byte data on every target, so
 * the demo CNN's QDQ file looked 1.4x faster on a Jetson Nano). */
static void roofline_without_int8_runs_qdq_in_float(void **state) {
    (void)state;
    kp_model *f = matmul_model(0), *q = matmul_model(1);
    kp_error e = {0};
    kp_target_estimate ef, eq;
    if (kp_measure_roofline(f, target("jetson-nano"), &ef, &e) ||
        kp_measure_roofline(q, target("jetson-nano"), &eq, &e))
        fail_msg("%s", e.msg);
    if (!(eq.latency_s >= ef.latency_s))
        fail_msg("QDQ %.3g s, float %.3g s", eq.latency_s, ef.latency_s);
    kp_model_free(f);
    kp_model_free(q);
}

/* Relu after a MatMul is fused by every runtime: no launch of its own. */
static void roofline_fuses_relu_into_its_layer(void **state) {
    (void)state;
    kp_model *a = matmul_model(0), *b = kp_model_new();
    kp_graph *g = b->graph;
    kp_error e = {0};
    set_io(g, KP_FLOAT, 2, D(1, 512), 2, D(1, 512));
    add_init(g, "w", KP_FLOAT, 2, D(512, 512), 0.01);
    add_node(g, "MatMul", 2, (const char *[]){"x", "w"}, "mm");
    add_node(g, "Relu", 1, (const char *[]){"mm"}, "y");
    kp_target_estimate ea, eb;
    if (kp_measure_roofline(a, target("rtx3060"), &ea, &e) ||
        kp_measure_roofline(b, target("rtx3060"), &eb, &e))
        fail_msg("%s", e.msg);
    if (!(eb.latency_s <= ea.latency_s * 1.001))
        fail_msg("with Relu %.3g s, without %.3g s", eb.latency_s, ea.latency_s);
    kp_model_free(a);
    kp_model_free(b);
}

static int setup(void **state) {
    (void)state;
    kp_error e = {0};
    return kp_targets_load("/nonexistent-kompress-targets", &targets, &n_targets, &e);
}

static int teardown(void **state) {
    (void)state;
    free(targets);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cnn_dynamic_gains_little),
        cmocka_unit_test(dynamic_pays_activation_quantization),
        cmocka_unit_test(no_int8_no_speedup),
        cmocka_unit_test(roofline_runs_qdq_as_int8),
        cmocka_unit_test(roofline_without_int8_runs_qdq_in_float),
        cmocka_unit_test(roofline_fuses_relu_into_its_layer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
