/* quant-dynamic: int8 weights (per output channel), activations quantized at run time, in the
 * operator pattern ONNX Runtime's CPU provider runs:
 *   Gemm/MatMul: DynamicQuantizeLinear -> MatMulInteger(u8 x s8) -> Cast -> Mul(x_s * w_s) [-> Add]
 *   Conv:        DynamicQuantizeLinear -> ConvInteger(u8 x s8) -> Cast -> Mul [-> Add]
 * Checked in ONNX Runtime 1.30 (tests/bench/ort_run.js on hand-made models): its CPU
 * ConvInteger runs int8 and uint8 weights but refuses per-channel zero points
 * ("IsScalarOr1Element"), so Conv weights are symmetric int8 with one scalar zero point 0 and
 * the per-channel scales are applied after the integer convolution. That ConvInteger runs 4-5x
 * SLOWER than the fp32 Conv in ONNX Runtime 1.30's CPU provider (tests/bench/RESULTS.md), and
 * PyTorch's quantize_dynamic leaves Conv in float too, so conv=keep (Conv stays float, one note
 * per run says why) is the default; conv=convinteger writes ConvInteger anyway (our executor
 * fuses it into ai.kompress:DynQConv). Weights are found wherever they live, including If/Loop
 * bodies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/quant_util.h"
#include "passes/wstore.h"

static const kp_param_def params[] = {
    {"bits", KP_PARAM_INT, "8", 2, 8, NULL,
     "weight bits (levels 2^(bits-1)-1 each side; stored as int8)"},
    {"per_channel", KP_PARAM_BOOL, "true", 0, 0, NULL, "one scale per output channel"},
    {"reduce_range", KP_PARAM_ENUM, "auto", 0, 0, "auto|on|off",
     "7-bit weights (auto: when the target's u8*s8 dot products saturate: x86 without VNNI)"},
    {"conv", KP_PARAM_ENUM, "keep", 0, 0, "keep|convinteger",
     "keep: Conv stays float (ONNX Runtime runs ConvInteger slower than float Conv; "
     "quant-static quantizes convolutions); convinteger: int8 Conv weights as ConvInteger"},
    {"exclude", KP_PARAM_STRING, "", 0, 0, NULL, "layers (node or output names) kept in float"},
};

typedef struct dq_state {
    const kp_params *p;
    const kp_pass_ctx *ctx;
    int reduce;
    size_t n_done, n_skipped;
    size_t n_conv_kept; /* Conv layers left float by conv=keep */
    /* activations already quantized in the current graph: x -> (xq, xs, xz) */
    size_t n_cache;
    char *cache[64][4];
} dq_state;

static void note(const dq_state *s, const char *fmt, const char *a, const char *b) {
    if (!s->ctx || !s->ctx->note) return;
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a, b);
    s->ctx->note(s->ctx->user, msg);
}

static void cache_clear(dq_state *s) {
    for (size_t i = 0; i < s->n_cache; i++)
        for (int k = 0; k < 4; k++) free(s->cache[i][k]);
    s->n_cache = 0;
}

/* Names of (xq, xs, xz) for x, inserting DynamicQuantizeLinear before position *pos. */
static int dynq(kp_graph *g, dq_state *s, const char *x, size_t *pos, const char **out,
                kp_error *err) {
    for (size_t i = 0; i < s->n_cache; i++)
        if (!strcmp(s->cache[i][0], x)) {
            for (int k = 0; k < 3; k++) out[k] = s->cache[i][k + 1];
            return 0;
        }
    if (s->n_cache == 64) cache_clear(s);
    char base[300];
    char *names[3];
    const char *suf[3] = {"_q", "_s", "_z"};
    for (int k = 0; k < 3; k++) {
        snprintf(base, sizeof base, "%s%s", x, suf[k]);
        names[k] = kp_graph_unique_name(g, base);
    }
    const char *ins[1] = {x};
    const char *outs[3] = {names[0], names[1], names[2]};
    kp_node *n = kp_node_new("DynamicQuantizeLinear", NULL, 1, ins, 3, outs);
    if (!n || !names[0] || !names[1] || !names[2] || kp_graph_insert_node(g, *pos, n)) {
        kp_node_free(n);
        for (int k = 0; k < 3; k++) free(names[k]);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    (*pos)++;
    s->cache[s->n_cache][0] = strdup(x);
    for (int k = 0; k < 3; k++) s->cache[s->n_cache][k + 1] = names[k];
    s->n_cache++;
    for (int k = 0; k < 3; k++) out[k] = names[k];
    return 0;
}

/* Appends `n` at *pos (takes it). */
static int put(kp_graph *g, size_t *pos, kp_node *n, kp_error *err) {
    if (!n || kp_graph_insert_node(g, *pos, n)) {
        kp_node_free(n);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    (*pos)++;
    return 0;
}

static char *fresh(kp_graph *g, const char *y, const char *suffix) {
    char base[300];
    snprintf(base, sizeof base, "%s%s", y, suffix);
    return kp_graph_unique_name(g, base);
}

/* acc (int32) -> y = float(acc) * (xs * ws) [+ bias]; emitted at *pos. */
static int dequant_tail(kp_graph *g, size_t *pos, const char *acc, const char *xs, const char *ws,
                        const char *bias, const char *y, kp_error *err) {
    char *accf = fresh(g, y, "_f"), *sc = fresh(g, y, "_sc");
    char *t = bias ? fresh(g, y, "_nb") : NULL;
    int rc = (!accf || !sc || (bias && !t)) ? kp_error_set(err, KP_ENOMEM, "out of memory") : 0;
    if (!rc) {
        const char *in[1] = {acc};
        kp_node *c = kp_q_node("Cast", NULL, 1, in, accf);
        if (c && kp_node_set_attr_int(c, "to", KP_FLOAT)) {
            kp_node_free(c);
            c = NULL;
        }
        rc = put(g, pos, c, err);
    }
    if (!rc) {
        const char *in[2] = {xs, ws};
        rc = put(g, pos, kp_q_node("Mul", NULL, 2, in, sc), err);
    }
    if (!rc) {
        const char *in[2] = {accf, sc};
        rc = put(g, pos, kp_q_node("Mul", NULL, 2, in, bias ? t : y), err);
    }
    if (!rc && bias) {
        const char *in[2] = {t, bias};
        rc = put(g, pos, kp_q_node("Add", NULL, 2, in, y), err);
    }
    free(accf);
    free(sc);
    free(t);
    return rc;
}

/* Gemm (transA=0, alpha=beta=1) or MatMul with a constant 2-D float weight. 1 = rewritten,
 * 0 = left alone (noted), <0 = error. */
static int rewrite_matmul(kp_graph *g, size_t *pos, dq_state *s, kp_error *err) {
    kp_node *n = g->nodes[*pos];
    int gemm = kp_node_is(n, "Gemm");
    const char *x = kp_node_input(n, 0), *wn = kp_node_input(n, 1);
    const char *bn = gemm ? kp_node_input(n, 2) : NULL;
    const char *lname = kp_q_layer_name(n);
    if (!x || !wn || n->n_outputs < 1) return 0;
    kp_tensor *w = kp_graph_find_const(g, wn);
    if (!w || w->dtype != KP_FLOAT || w->rank != 2) {
        note(s, "%s: left in float (weight %s is not a constant 2-D float32 tensor)", lname, wn);
        return 0;
    }
    int transB = gemm ? (int)kp_node_attr_int(n, "transB", 0) : 0;
    if (gemm && (kp_node_attr_int(n, "transA", 0) || kp_node_attr_float(n, "alpha", 1.f) != 1.f ||
                 (bn && kp_node_attr_float(n, "beta", 1.f) != 1.f))) {
        note(s, "%s: left in float (%s)", lname, "Gemm with transA or alpha/beta != 1");
        return 0;
    }
    int64_t N = transB ? w->dims[0] : w->dims[1];
    kp_tensor *b = bn ? kp_graph_find_const(g, bn) : NULL;
    if (bn && (!b || b->dtype != KP_FLOAT || b->numel != N)) {
        note(s, "%s: left in float (bias %s is not a constant float vector)", lname, bn);
        return 0;
    }
    kp_tensor *q, *sc, *zp;
    int rc = kp_qw_quantize_bits(w, transB ? 0 : 1, kp_params_bool(s->p, "per_channel"),
                                 (int)kp_params_int(s->p, "bits"), s->reduce, 0, transB, &q, &sc,
                                 &zp, err);
    if (rc) return rc;
    kp_tensor_free(zp); /* symmetric int8: zero point 0, input omitted */
    char base[300];
    snprintf(base, sizeof base, "%s_q", wn);
    const char *qn = kp_q_add_init(g, base, q, err);
    snprintf(base, sizeof base, "%s_s", wn);
    const char *sn = qn ? kp_q_add_init(g, base, sc, err) : NULL;
    if (!qn || !sn) {
        if (!qn) kp_tensor_free(sc);
        return KP_ENOMEM;
    }
    char *y = strdup(n->outputs[0]);
    char *acc = fresh(g, y, "_i32");
    char *xcopy = strdup(x);
    char *bcopy = bn ? strdup(bn) : NULL;
    if (!y || !acc || !xcopy || (bn && !bcopy)) rc = kp_error_set(err, KP_ENOMEM, "out of memory");
    size_t at = *pos;
    kp_graph_remove_node(g, at); /* n is gone; copies above keep the names */
    const char *xq[3];
    if (!rc) rc = dynq(g, s, xcopy, &at, xq, err);
    if (!rc) {
        const char *in[3] = {xq[0], qn, xq[2]};
        rc = put(g, &at, kp_q_node("MatMulInteger", NULL, 3, in, acc), err);
    }
    if (!rc) rc = dequant_tail(g, &at, acc, xq[1], sn, bcopy, y, err);
    free(y);
    free(acc);
    free(xcopy);
    free(bcopy);
    *pos = at;
    return rc ? rc : 1;
}

static int rewrite_conv(kp_graph *g, size_t *pos, dq_state *s, kp_error *err) {
    kp_node *n = g->nodes[*pos];
    const char *x = kp_node_input(n, 0), *wn = kp_node_input(n, 1), *bn = kp_node_input(n, 2);
    const char *lname = kp_q_layer_name(n);
    if (!x || !wn || n->n_outputs < 1) return 0;
    kp_tensor *w = kp_graph_find_const(g, wn);
    if (!w || w->dtype != KP_FLOAT || (w->rank != 3 && w->rank != 4)) {
        note(s, "%s: left in float (weight %s is not a constant 1-D/2-D conv kernel)", lname, wn);
        return 0;
    }
    int64_t C = w->dims[0];
    kp_tensor *b = bn ? kp_graph_find_const(g, bn) : NULL;
    if (bn && (!b || b->dtype != KP_FLOAT || b->numel != C)) {
        note(s, "%s: left in float (bias %s is not a constant float vector)", lname, bn);
        return 0;
    }
    int per_channel = kp_params_bool(s->p, "per_channel");
    kp_tensor *q, *sc, *zp;
    int rc = kp_qw_quantize_bits(w, 0, per_channel, (int)kp_params_int(s->p, "bits"), s->reduce, 0,
                                 0, &q, &sc, &zp, err);
    if (rc) return rc;
    kp_tensor_free(zp); /* ORT's ConvInteger takes only a scalar zero point */
    zp = kp_q_scalar_zp(KP_INT8, 0);
    /* scales and bias broadcast along the channel axis: [C,1,1] (or [C,1]) */
    if (per_channel) {
        sc->rank = w->rank - 1;
        for (int d = 1; d < sc->rank; d++) sc->dims[d] = 1;
    }
    kp_tensor *bias = NULL;
    if (b) {
        bias = kp_tensor_clone(b, err);
        if (bias) {
            bias->rank = w->rank - 1;
            bias->dims[0] = C;
            for (int d = 1; d < bias->rank; d++) bias->dims[d] = 1;
        }
    }
    char base[300];
    snprintf(base, sizeof base, "%s_q", wn);
    const char *qn = kp_q_add_init(g, base, q, err);
    snprintf(base, sizeof base, "%s_s", wn);
    const char *sn = qn ? kp_q_add_init(g, base, sc, err) : NULL;
    snprintf(base, sizeof base, "%s_z", wn);
    const char *zn = sn ? kp_q_add_init(g, base, zp, err) : NULL;
    snprintf(base, sizeof base, "%s_c", bn ? bn : wn);
    const char *bnn = (zn && b) ? kp_q_add_init(g, base, bias, err) : NULL;
    if (!qn || !sn || !zn || (b && !bnn)) return KP_ENOMEM; /* add_init freed what it was given */
    char *y = strdup(n->outputs[0]), *acc = fresh(g, n->outputs[0], "_i32"), *xc = strdup(x);
    kp_node *ci = kp_node_new("ConvInteger", NULL, 0, NULL, 1, (const char *const *)&acc);
    if (!ci || !y || !acc || !xc || kp_q_copy_conv_attrs(ci, n))
        rc = kp_error_set(err, KP_ENOMEM, "out of memory");
    size_t at = *pos;
    kp_graph_remove_node(g, at);
    const char *xq[3];
    if (!rc) rc = dynq(g, s, xc, &at, xq, err);
    if (!rc) {
        if (kp_node_set_input(ci, 0, xq[0]) || kp_node_set_input(ci, 1, qn) ||
            kp_node_set_input(ci, 2, xq[2]) || kp_node_set_input(ci, 3, zn))
            rc = kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    if (!rc) {
        rc = put(g, &at, ci, err);
        ci = NULL;
    }
    if (!rc) rc = dequant_tail(g, &at, acc, xq[1], sn, bnn, y, err);
    kp_node_free(ci);
    free(y);
    free(acc);
    free(xc);
    *pos = at;
    return rc ? rc : 1;
}

static int rewrite_graph(kp_graph *g, dq_state *s, kp_error *err);

static int recurse(kp_node *n, dq_state *s, kp_error *err) {
    for (size_t a = 0; a < n->n_attrs; a++) {
        kp_attr *at = &n->attrs[a];
        int rc = 0;
        if (at->type == KP_ATTR_GRAPH && at->g) rc = rewrite_graph(at->g, s, err);
        if (at->type == KP_ATTR_GRAPHS)
            for (size_t k = 0; k < at->n && !rc; k++) rc = rewrite_graph(at->graphs[k], s, err);
        if (rc) return rc;
    }
    return 0;
}

static int rewrite_graph(kp_graph *g, dq_state *s, kp_error *err) {
    dq_state inner = *s;
    inner.n_cache = 0; /* quantized activations are per graph */
    int rc = 0;
    for (size_t i = 0; i < g->n_nodes && !rc;) {
        if (s->ctx && s->ctx->cancel && *s->ctx->cancel) {
            rc = kp_error_set(err, KP_ECANCELLED, "cancelled");
            break;
        }
        kp_node *n = g->nodes[i];
        if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx")) {
            rc = recurse(n, &inner, err);
            i++;
            continue;
        }
        int is_mm = kp_node_is(n, "Gemm") || kp_node_is(n, "MatMul");
        int is_conv = kp_node_is(n, "Conv");
        if ((is_mm || is_conv) && kp_q_in_list(kp_params_str(s->p, "exclude"), n)) {
            note(&inner, "%s: kept in float (excluded%s)", kp_q_layer_name(n), "");
            i++;
            continue;
        }
        int r = 0;
        if (is_mm)
            r = rewrite_matmul(g, &i, &inner, err);
        else if (is_conv && !strcmp(kp_params_str(s->p, "conv"), "convinteger"))
            r = rewrite_conv(g, &i, &inner, err);
        else {
            if (is_conv) inner.n_conv_kept++;
            rc = recurse(n, &inner, err);
        }
        if (r < 0) rc = r;
        if (r == 1) inner.n_done++;
        if (r == 0) i++;
    }
    s->n_done = inner.n_done;
    s->n_conv_kept = inner.n_conv_kept;
    cache_clear(&inner);
    return rc;
}

extern const kp_pass kp_pass_quant_dynamic;

int kp_q_dynamic_bodies(kp_graph *g, const kp_params *sp, const kp_pass_ctx *ctx, int reduce,
                        size_t *n_done, kp_error *err) {
    *n_done = 0;
    kp_params dp;
    int rc = kp_params_defaults(&kp_pass_quant_dynamic, &dp, err);
    if (rc) return rc;
    char bits[16];
    snprintf(bits, sizeof bits, "%lld", (long long)kp_params_int(sp, "bits"));
    rc = kp_params_set(&dp, "bits", bits, err);
    if (!rc)
        rc = kp_params_set(&dp, "per_channel", kp_params_bool(sp, "per_channel") ? "true" : "false",
                           err);
    if (!rc) rc = kp_params_set(&dp, "exclude", kp_params_str(sp, "exclude"), err);
    /* quant-static's uncalibrated bodies keep their int8 convolutions as before */
    if (!rc) rc = kp_params_set(&dp, "conv", "convinteger", err);
    dq_state s = {0};
    s.p = &dp;
    s.ctx = ctx;
    s.reduce = reduce;
    for (size_t i = 0; i < g->n_nodes && !rc; i++) rc = recurse(g->nodes[i], &s, err);
    *n_done = s.n_done;
    kp_params_free(&dp);
    return rc;
}

static int apply(kp_model *m, const kp_params *p, const kp_pass_ctx *ctx, kp_error *err) {
    if (kp_model_opset(m, "") < 11)
        return kp_error_set(err, KP_EUNSUPPORTED,
                            "quant-dynamic needs ONNX opset >= 11 (DynamicQuantizeLinear); the "
                            "model imports opset %lld",
                            (long long)kp_model_opset(m, ""));
    /* weights stored compactly by prune/cluster (passes/wstore.h) become plain again */
    int rc = kp_wstore_decode_model(m, NULL, err);
    if (rc >= 0) rc = kp_q_fold_bn(m->graph, err);
    if (rc < 0) return rc;
    dq_state s = {0};
    s.p = p;
    s.ctx = ctx;
    s.reduce = kp_q_reduce_range(kp_params_str(p, "reduce_range"), ctx);
    rc = rewrite_graph(m->graph, &s, err);
    if (rc) return rc;
    if (!s.n_done && s.n_conv_kept)
        return kp_error_set(err, KP_EUNSUPPORTED,
                            "quant-dynamic changes nothing here: the model's only weights are in "
                            "%zu Conv layer(s), which it keeps in float by default (ONNX Runtime "
                            "runs ConvInteger slower than float Conv); use quant-static for "
                            "convolutions, or quant-dynamic:conv=convinteger for int8 conv "
                            "weights anyway",
                            s.n_conv_kept);
    if (!s.n_done)
        return kp_error_set(err, KP_EUNSUPPORTED,
                            "quant-dynamic found no Gemm or MatMul (or Conv, with "
                            "conv=convinteger) with constant float weights to quantize");
    kp_graph_remove_dead(m->graph);
    rc = kp_graph_toposort(m->graph, err);
    if (rc) return rc;
    if (ctx && ctx->note && s.n_conv_kept) {
        char msg[320];
        snprintf(msg, sizeof msg,
                 "%zu Conv kept in float: ONNX Runtime runs ConvInteger slower than float Conv; "
                 "use quant-static for convolutions, or conv=convinteger for int8 conv weights "
                 "anyway",
                 s.n_conv_kept);
        ctx->note(ctx->user, msg);
    }
    if (ctx && ctx->note) {
        char msg[200];
        snprintf(msg, sizeof msg, "quant-dynamic: %zu layers in int8%s", s.n_done,
                 s.reduce ? " (7-bit weights: reduce_range)" : "");
        ctx->note(ctx->user, msg);
    }
    return 0;
}

static int estimate(const kp_model *m, const kp_params *p, const kp_pass_ctx *ctx, kp_estimate *out,
                    kp_error *err) {
    return kp_q_estimate_int8(m, ctx, !strcmp(kp_params_str(p, "conv"), "convinteger"), 0, out,
                              err);
}

const kp_pass kp_pass_quant_dynamic = {
    "quant-dynamic",
    "Dynamic int8 quantization",
    "int8 Gemm/MatMul weights, activations quantized at run time (no "
    "calibration data); Conv stays float unless conv=convinteger",
    0,
    0,
    sizeof params / sizeof *params,
    params,
    estimate,
    apply,
};
