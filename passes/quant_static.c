/* quant-static: int8 in QDQ format with ranges calibrated on data.
 *
 * Every activation read by a quantized op (Conv, Gemm, MatMul with constant weights; Add;
 * MaxPool/AveragePool/GlobalAveragePool; Concat; Flatten) gets QuantizeLinear ->
 * DequantizeLinear after its producer; weights are int8 per output channel behind a
 * DequantizeLinear (axis), biases int32 with scale x_scale * w_scale. ONNX Runtime fuses these
 * patterns into its int8 kernels, and so does our executor (core/exec_qdq.c), so values stay
 * int8 between layers. A Relu right after Conv/Gemm is dropped when its output's zero point is
 * 0 (uint8): quantizing clamps at 0 exactly as the Relu did.
 *
 * Calibration streams over ctx->calib through core/collect.h in bounded memory: sweep 1 keeps
 * running min/max per tensor, sweep 2 (percentile, entropy) fills fixed-size histograms. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/calib_stats.h"
#include "core/collect.h"
#include "passes/quant_util.h"
#include "passes/wstore.h"

static const kp_param_def params[] = {
    {"bits", KP_PARAM_INT, "8", 2, 8, NULL,
     "weight bits (levels 2^(bits-1)-1 each side; stored as int8)"},
    {"method", KP_PARAM_ENUM, "minmax", 0, 0, "minmax|percentile|entropy|mse",
     "how each activation's range is chosen from the calibration data (mse: least expected "
     "squared quantization error over its histogram)"},
    {"percentile", KP_PARAM_FLOAT, "99.999", 90, 100, NULL,
     "percentile method: kept share of values"},
    {"per_channel", KP_PARAM_BOOL, "true", 0, 0, NULL, "one weight scale per output channel"},
    {"activations", KP_PARAM_ENUM, "asymmetric", 0, 0, "asymmetric|symmetric",
     "uint8 with a zero point, or int8 centred on 0"},
    {"reduce_range", KP_PARAM_ENUM, "auto", 0, 0, "auto|on|off",
     "7-bit weights (auto: when the target's u8*s8 dot products saturate: x86 without VNNI)"},
    {"batches", KP_PARAM_INT, "0", 0, 1000000, NULL, "calibration batches to use (0 = all)"},
    {"bins", KP_PARAM_INT, "2048", 128, 65536, NULL, "histogram bins (percentile, entropy)"},
    {"short_names", KP_PARAM_BOOL, "true", 0, 0, NULL,
     "rename internal values and weights to short names (a smaller file)"},
    {"exclude", KP_PARAM_STRING, "", 0, 0, NULL, "layers (node or output names) kept in float"},
};

enum { K_NONE = 0, K_COMPUTE, K_DATA };

typedef struct act {
    char *name;
    kp_calib_stats *st;
    float scale;
    int32_t zp;
    char *dq;    /* name of the dequantized value */
    char *sname; /* name of its scale initializer (borrowed from the graph's tensor) */
    char *zname; /* name of its zero point initializer (borrowed likewise) */
} act;

typedef struct sq {
    const kp_params *p;
    const kp_pass_ctx *ctx;
    kp_graph *g;
    int *kind; /* per node */
    act *acts;
    size_t n_acts;
    int sym, reduce, per_channel;
    int sweep;
    size_t batches_total;
} sq;

static void note(const sq *s, const char *msg) {
    if (s->ctx && s->ctx->note) s->ctx->note(s->ctx->user, msg);
}

static int is_float_value(kp_graph *g, const char *name) {
    const kp_type *t = kp_graph_value_type(g, name);
    return !t || t->kind != KP_TYPE_TENSOR || t->elem == KP_FLOAT || t->elem == KP_UNDEFINED;
}

/* K_COMPUTE when n is a Conv/Gemm/MatMul whose weights we can quantize. */
static int compute_ok(sq *s, kp_node *n, char *why, size_t cap) {
    int gemm = kp_node_is(n, "Gemm"), conv = kp_node_is(n, "Conv");
    const char *wn = kp_node_input(n, 1), *bn = (gemm || conv) ? kp_node_input(n, 2) : NULL;
    kp_tensor *w = wn ? kp_graph_find_const(s->g, wn) : NULL;
    if (!kp_node_input(n, 0) || !w || w->dtype != KP_FLOAT) {
        snprintf(why, cap, "weight is not a constant float32 tensor");
        return 0;
    }
    if (conv ? (w->rank != 3 && w->rank != 4) : w->rank != 2) {
        snprintf(why, cap, "unsupported weight rank %d", w->rank);
        return 0;
    }
    if (gemm && (kp_node_attr_int(n, "transA", 0) || kp_node_attr_float(n, "alpha", 1.f) != 1.f ||
                 kp_node_attr_float(n, "beta", 1.f) != 1.f)) {
        snprintf(why, cap, "Gemm with transA or alpha/beta != 1");
        return 0;
    }
    if (bn) {
        kp_tensor *b = kp_graph_find_const(s->g, bn);
        int64_t C =
            conv ? w->dims[0] : (kp_node_attr_int(n, "transB", 0) ? w->dims[0] : w->dims[1]);
        if (!b || b->dtype != KP_FLOAT || b->numel != C) {
            snprintf(why, cap, "bias is not a constant float vector of %lld", (long long)C);
            return 0;
        }
    }
    return 1;
}

static act *find_act(sq *s, const char *name) {
    for (size_t i = 0; i < s->n_acts; i++)
        if (!strcmp(s->acts[i].name, name)) return &s->acts[i];
    return NULL;
}

static int want_act(sq *s, const char *name, kp_error *err) {
    if (!name || find_act(s, name) || kp_graph_find_const(s->g, name)) return 0;
    if (!is_float_value(s->g, name)) return 0;
    act *v = realloc(s->acts, (s->n_acts + 1) * sizeof *v);
    if (!v) return kp_error_set(err, KP_ENOMEM, "out of memory");
    s->acts = v;
    memset(&v[s->n_acts], 0, sizeof *v);
    v[s->n_acts].name = strdup(name);
    v[s->n_acts].st = kp_calib_stats_new((int)kp_params_int(s->p, "bins"));
    if (!v[s->n_acts].name || !v[s->n_acts].st) {
        free(v[s->n_acts].name);
        kp_calib_stats_free(v[s->n_acts].st);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    s->n_acts++;
    return 0;
}

static int plan(sq *s, kp_error *err) {
    kp_graph *g = s->g;
    s->kind = calloc(g->n_nodes + 1, sizeof *s->kind);
    if (!s->kind) return kp_error_set(err, KP_ENOMEM, "out of memory");
    const char *excl = kp_params_str(s->p, "exclude");
    char why[200], msg[512];
    for (size_t i = 0; i < g->n_nodes; i++) {
        kp_node *n = g->nodes[i];
        if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx")) continue;
        int compute = kp_node_is(n, "Conv") || kp_node_is(n, "Gemm") || kp_node_is(n, "MatMul");
        int data = kp_node_is(n, "MaxPool") || kp_node_is(n, "AveragePool") ||
                   kp_node_is(n, "GlobalAveragePool") || kp_node_is(n, "Add") ||
                   kp_node_is(n, "Concat") || kp_node_is(n, "Flatten");
        if (!compute && !data) continue;
        if (kp_q_in_list(excl, n)) {
            snprintf(msg, sizeof msg, "%s: kept in float (excluded)", kp_q_layer_name(n));
            note(s, msg);
            continue;
        }
        if (kp_node_is(n, "MaxPool") && n->n_outputs > 1 && n->outputs[1][0]) continue;
        if (compute) {
            if (!compute_ok(s, n, why, sizeof why)) {
                snprintf(msg, sizeof msg, "%s: kept in float (%s)", kp_q_layer_name(n), why);
                note(s, msg);
                continue;
            }
            s->kind[i] = K_COMPUTE;
            int rc = want_act(s, kp_node_input(n, 0), err);
            if (rc) return rc;
            continue;
        }
        /* data movement / Add: every non-constant input; Add only between activations */
        if (kp_node_is(n, "Add")) {
            const char *a = kp_node_input(n, 0), *b = kp_node_input(n, 1);
            if (!a || !b || kp_graph_find_const(g, a) || kp_graph_find_const(g, b)) continue;
        }
        s->kind[i] = K_DATA;
        size_t lim = kp_node_is(n, "Concat") ? n->n_inputs : 1;
        if (kp_node_is(n, "Add")) lim = 2;
        for (size_t k = 0; k < lim; k++) {
            int rc = want_act(s, kp_node_input(n, k), err);
            if (rc) return rc;
        }
    }
    if (!s->n_acts)
        return kp_error_set(err, KP_EUNSUPPORTED, "quant-static found nothing to quantize");
    return 0;
}

static int on_batch(void *user, size_t batch, const kp_tensor *const *values, kp_error *err) {
    sq *s = user;
    if (s->ctx->cancel && *s->ctx->cancel) return kp_error_set(err, KP_ECANCELLED, "cancelled");
    for (size_t i = 0; i < s->n_acts; i++) {
        const kp_tensor *t = values[i];
        if (!t || t->dtype != KP_FLOAT) continue;
        if (s->sweep == 0)
            kp_calib_stats_add_minmax(s->acts[i].st, t->data, t->numel);
        else
            kp_calib_stats_add_hist(s->acts[i].st, t->data, t->numel);
    }
    if (s->ctx->progress && s->batches_total) {
        double f = ((double)s->sweep + (double)(batch + 1) / (double)s->batches_total) /
                   (strcmp(kp_params_str(s->p, "method"), "minmax") ? 2.0 : 1.0);
        s->ctx->progress(s->ctx->user, f, "calibrating activation ranges");
    }
    return 0;
}

static int calibrate(sq *s, const kp_model *m, kp_error *err) {
    const char **names = malloc(s->n_acts * sizeof *names);
    if (!names) return kp_error_set(err, KP_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->n_acts; i++) names[i] = s->acts[i].name;
    size_t maxb = (size_t)kp_params_int(s->p, "batches");
    s->batches_total = s->ctx->calib->n_batches;
    if (maxb && maxb < s->batches_total) s->batches_total = maxb;
    kp_calib_method method;
    kp_calib_method_parse(kp_params_str(s->p, "method"), &method);
    int rc = 0;
    for (s->sweep = 0; s->sweep < (method == KP_CALIB_MINMAX ? 1 : 2) && !rc; s->sweep++)
        rc = kp_collect_values(m, s->ctx->calib, maxb, names, s->n_acts, on_batch, s, err);
    free(names);
    if (rc) return rc;
    int levels = s->sym ? 254 : 255;
    for (size_t i = 0; i < s->n_acts; i++) {
        act *a = &s->acts[i];
        if (!a->st->count)
            return kp_error_set(err, KP_EFORMAT, "calibration never produced a float value for %s",
                                a->name);
        float lo, hi;
        kp_calib_stats_range(a->st, method, kp_params_float(s->p, "percentile"), levels, &lo, &hi);
        if (s->sym) {
            float amax = fmaxf(fabsf(lo), fabsf(hi));
            a->scale = amax > 0 ? amax / 127.f : 1.f;
            a->zp = 0;
        } else {
            a->scale = hi > lo ? (hi - lo) / 255.f : 1.f;
            float z = nearbyintf(-lo / a->scale);
            a->zp = (int32_t)(z < 0 ? 0 : z > 255 ? 255 : z);
        }
    }
    /* MaxPool and Flatten only move values: their outputs keep their input's scale and zero
     * point (max commutes with the quantizer), so int8 stays int8 through them whatever range
     * method chose the input's (the nodes are in topological order, so chains follow) */
    for (size_t i = 0; i < s->g->n_nodes; i++) {
        kp_node *n = s->g->nodes[i];
        if (!(kp_node_is(n, "MaxPool") || kp_node_is(n, "Flatten")) || !n->n_outputs) continue;
        act *in = kp_node_input(n, 0) ? find_act(s, kp_node_input(n, 0)) : NULL;
        act *out = find_act(s, n->outputs[0]);
        if (in && out) out->scale = in->scale, out->zp = in->zp;
    }
    return 0;
}

/* Adds inits and a node; names built from base. */
static const char *add_init(sq *s, const char *base, const char *suffix, kp_tensor *t,
                            kp_error *err) {
    char b[300];
    snprintf(b, sizeof b, "%s%s", base, suffix);
    return kp_q_add_init(s->g, b, t, err);
}

static int add_node(sq *s, const char *op, size_t n_in, const char *const *in, const char *out,
                    int64_t axis, kp_error *err) {
    kp_node *n = kp_q_node(op, NULL, n_in, in, out);
    if (!n || (axis >= 0 && kp_node_set_attr_int(n, "axis", axis)) || kp_graph_add_node(s->g, n)) {
        kp_node_free(n);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    return 0;
}

static int qdq_act(sq *s, act *a, kp_error *err) {
    kp_dtype zt = s->sym ? KP_INT8 : KP_UINT8;
    /* short names, and one initializer per distinct scale / zero point (MaxPool and Flatten
     * outputs share their input's; most zero points after Relu are 0): every byte counts in a
     * file that is mostly int8 weights */
    const char *sn = NULL, *zn = NULL;
    for (act *o = s->acts; o < a; o++) {
        if (!sn && o->sname && o->scale == a->scale) sn = o->sname;
        if (!zn && o->zname && o->zp == a->zp) zn = o->zname;
    }
    if (!sn) sn = add_init(s, "s", "", kp_q_scalar_f(a->scale), err);
    if (sn && !zn) zn = add_init(s, "z", "", kp_q_scalar_zp(zt, a->zp), err);
    if (!sn || !zn) return KP_ENOMEM;
    a->sname = (char *)sn;
    a->zname = (char *)zn;
    char *qn = kp_graph_unique_name(s->g, "q");
    a->dq = qn ? kp_graph_unique_name(s->g, "d") : NULL;
    int rc = (!qn || !a->dq) ? kp_error_set(err, KP_ENOMEM, "out of memory") : 0;
    if (!rc) {
        const char *in[3] = {a->name, sn, zn};
        rc = add_node(s, "QuantizeLinear", 3, in, qn, -1, err);
    }
    if (!rc) {
        const char *in[3] = {qn, sn, zn};
        rc = add_node(s, "DequantizeLinear", 3, in, a->dq, -1, err);
    }
    free(qn);
    return rc;
}

static int quant_weights(sq *s, kp_node *n, kp_error *err) {
    int conv = kp_node_is(n, "Conv"), gemm = kp_node_is(n, "Gemm");
    const char *wn = kp_node_input(n, 1), *bn = kp_node_input(n, 2);
    if (!gemm && !conv) bn = NULL;
    kp_tensor *w = kp_graph_find_const(s->g, wn);
    int axis = conv ? 0 : (gemm && kp_node_attr_int(n, "transB", 0)) ? 0 : 1;
    kp_tensor *q, *sc, *zp;
    int rc = kp_qw_quantize_bits(w, axis, s->per_channel, (int)kp_params_int(s->p, "bits"),
                                 s->reduce, 0, 0, &q, &sc, &zp, err);
    if (rc) return rc;
    int64_t C = w->dims[axis];
    act *x = find_act(s, kp_node_input(n, 0));
    /* bias as int32 with scale x_scale * w_scale[c] */
    kp_tensor *bq = NULL, *bs = NULL;
    if (bn) {
        kp_tensor *b = kp_graph_find_const(s->g, bn);
        int64_t nb = C;
        bq = kp_tensor_new(KP_INT32, 1, &nb, err);
        float *bsv = malloc((size_t)C * sizeof *bsv);
        if (bq && bsv) {
            for (int64_t c = 0; c < C; c++) {
                float ws = s->per_channel ? ((float *)sc->data)[c] : *(float *)sc->data;
                bsv[c] = x->scale * ws;
                double v = nearbyint(((const float *)b->data)[c] / (double)bsv[c]);
                if (v > 2147483647.0) v = 2147483647.0;
                if (v < -2147483648.0) v = -2147483648.0;
                ((int32_t *)bq->data)[c] = (int32_t)v;
            }
            bs = kp_q_vec_f(bsv, C);
        }
        free(bsv);
        if (!bq || !bs) {
            kp_tensor_free(q), kp_tensor_free(sc), kp_tensor_free(zp);
            kp_tensor_free(bq), kp_tensor_free(bs);
            return kp_error_set(err, KP_ENOMEM, "out of memory");
        }
    }
    /* symmetric weights, yet the zero point (all 0) is written out: ONNX Runtime's CPU provider
     * only fuses DQ -> Gemm/MatMul -> Q into its int8 QGemm when the weight's DequantizeLinear
     * has an explicit zero point; without it, it dequantizes the weights and runs a float Gemm
     * (slower than the fp32 model). C bytes per layer; Conv fuses without it. */
    int shrt = kp_params_bool(s->p, "short_names");
    const char *qn = add_init(s, shrt ? "w" : wn, shrt ? "" : "_q", q, err);
    const char *sn = qn ? add_init(s, "ws", "", sc, err) : NULL;
    const char *zn = NULL;
    if (conv)
        kp_tensor_free(zp), zp = NULL; /* QLinearConv fuses without it: bytes saved */
    else if (sn)
        zn = add_init(s, "wz", "", zp, err);
    if (!qn || !sn || (!conv && !zn)) {
        if (!qn) kp_tensor_free(sc);
        if (!sn) kp_tensor_free(zp);
        kp_tensor_free(bq), kp_tensor_free(bs);
        return KP_ENOMEM;
    }
    char *wdq = kp_graph_unique_name(s->g, "wd");
    if (!wdq) return kp_error_set(err, KP_ENOMEM, "out of memory");
    const char *in[3] = {qn, sn, zn};
    rc = add_node(s, "DequantizeLinear", zn ? 3 : 2, in, wdq, s->per_channel ? axis : -1, err);
    if (!rc && kp_node_set_input(n, 1, wdq)) rc = kp_error_set(err, KP_ENOMEM, "out of memory");
    free(wdq);
    kp_tensor_free(bs); /* the bias scale is x_scale * w_scale, computed in the graph */
    if (rc || !bn) {
        kp_tensor_free(bq);
        return rc;
    }
    const char *bqn = add_init(s, shrt ? "b" : bn, shrt ? "" : "_q", bq, err);
    if (!bqn) return KP_ENOMEM;
    char *bsn = kp_graph_unique_name(s->g, "bs"), *bdq = kp_graph_unique_name(s->g, "bd");
    if (!bsn || !bdq) {
        free(bsn);
        free(bdq);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    const char *min[2] = {x->sname, sn};
    rc = add_node(s, "Mul", 2, min, bsn, -1, err);
    const char *bin[2] = {bqn, bsn};
    if (!rc) rc = add_node(s, "DequantizeLinear", 2, bin, bdq, 0, err);
    free(bsn);
    if (!rc && kp_node_set_input(n, 2, bdq)) rc = kp_error_set(err, KP_ENOMEM, "out of memory");
    free(bdq);
    return rc;
}

/* Drops Relu after a quantized Conv/Gemm when its output is quantized with zero point 0. */
static int fuse_relus(sq *s, size_t *fused) {
    kp_graph *g = s->g;
    for (size_t i = 0; i < g->n_nodes; i++) {
        kp_node *r = g->nodes[i];
        if (!kp_node_is(r, "Relu") || r->n_outputs != 1) continue;
        act *a = find_act(s, r->outputs[0]);
        if (!a || a->zp != 0 || s->sym) continue;
        size_t pp;
        kp_node *p = kp_graph_producer(g, r->inputs[0], &pp);
        if (!p || p->n_outputs != 1 || kp_graph_is_output(g, p->outputs[0])) continue;
        if (kp_graph_consumers(g, p->outputs[0], NULL, 0) != 1) continue;
        if (!(kp_node_is(p, "Conv") || kp_node_is(p, "Gemm") || kp_node_is(p, "MatMul"))) continue;
        if (kp_graph_is_output(g, r->outputs[0])) continue;
        /* every reader of the Relu output must be the quantizer */
        kp_node *users[4];
        size_t nu = kp_graph_consumers(g, r->outputs[0], users, 4);
        if (nu != 1 || !kp_node_is(users[0], "QuantizeLinear")) continue;
        if (kp_node_set_output(p, 0, r->outputs[0])) return KP_ENOMEM;
        kp_graph_remove_node(g, i);
        i--;
        (*fused)++;
    }
    return 0;
}

static int rewrite(sq *s, kp_error *err) {
    kp_graph *g = s->g;
    size_t n0 = g->n_nodes;
    /* consumers to rewire, captured before new nodes are added */
    for (size_t k = 0; k < s->n_acts; k++) {
        int rc = qdq_act(s, &s->acts[k], err);
        if (rc) return rc;
    }
    for (size_t i = 0; i < n0; i++) {
        if (s->kind[i] != K_COMPUTE) continue;
        int rc = quant_weights(s, g->nodes[i], err);
        if (rc) return rc;
    }
    for (size_t i = 0; i < n0; i++) {
        if (!s->kind[i]) continue;
        kp_node *n = g->nodes[i];
        size_t lim = s->kind[i] == K_COMPUTE ? 1 : n->n_inputs;
        for (size_t j = 0; j < lim; j++) {
            const char *in = kp_node_input(n, j);
            act *a = in ? find_act(s, in) : NULL;
            if (a && kp_node_set_input(n, j, a->dq))
                return kp_error_set(err, KP_ENOMEM, "out of memory");
        }
    }
    size_t fused = 0;
    if (fuse_relus(s, &fused)) return kp_error_set(err, KP_ENOMEM, "out of memory");
    kp_graph_touch(g);
    int rc = kp_graph_toposort(g, err);
    if (rc) return rc;
    kp_graph_remove_dead(g);
    if (kp_params_bool(s->p, "short_names"))
        for (size_t i = 0; i < g->n_nodes; i++)
            for (size_t k = 0; k < g->nodes[i]->n_outputs; k++) {
                const char *o = g->nodes[i]->outputs[k];
                if (strlen(o) <= 4 || kp_graph_is_output(g, o)) continue;
                char *nn = kp_graph_unique_name(g, "v");
                char *old = strdup(o);
                int bad = !nn || !old || kp_graph_rename_value(g, old, nn);
                free(nn);
                free(old);
                if (bad) return kp_error_set(err, KP_ENOMEM, "out of memory renaming values");
            }
    size_t layers = 0;
    for (size_t i = 0; i < n0; i++) layers += s->kind[i] == K_COMPUTE;
    char msg[300];
    snprintf(msg, sizeof msg,
             "quant-static: %zu layers int8, %zu activations calibrated (%s, %s%s), %zu Relu "
             "folded into quantization",
             layers, s->n_acts, kp_params_str(s->p, "method"), s->sym ? "int8 symmetric" : "uint8",
             s->reduce ? ", 7-bit weights" : "", fused);
    note(s, msg);
    return 0;
}

static int apply(kp_model *m, const kp_params *p, const kp_pass_ctx *ctx, kp_error *err) {
    if (!ctx || !ctx->calib)
        return kp_error_set(err, KP_EINVAL,
                            "quant-static needs calibration data (give --data; --calib N picks "
                            "how many samples)");
    int per_channel = kp_params_bool(p, "per_channel");
    int64_t opset = kp_model_opset(m, "");
    if (opset < 10 || (per_channel && opset < 13))
        return kp_error_set(err, KP_EUNSUPPORTED,
                            "quant-static needs ONNX opset >= 13 for per-channel weights (>= 10 "
                            "with per_channel=false); the model imports opset %lld",
                            (long long)opset);
    /* weights stored compactly by prune/cluster (passes/wstore.h) become plain again */
    int rc = kp_wstore_decode_model(m, NULL, err);
    if (rc >= 0) rc = kp_q_fold_bn(m->graph, err);
    if (rc < 0) return rc;
    sq s = {0};
    s.p = p;
    s.ctx = ctx;
    s.g = m->graph;
    s.sym = !strcmp(kp_params_str(p, "activations"), "symmetric");
    s.reduce = kp_q_reduce_range(kp_params_str(p, "reduce_range"), ctx);
    s.per_channel = per_channel;
    rc = plan(&s, err);
    if (!rc) rc = calibrate(&s, m, err);
    if (!rc) rc = rewrite(&s, err);
    /* If/Loop bodies: calibration covers the top-level graph only, so layers inside bodies get
     * int8 weights with activations quantized at run time (the dynamic pattern) */
    size_t in_bodies = 0;
    if (!rc) rc = kp_q_dynamic_bodies(m->graph, p, ctx, s.reduce, &in_bodies, err);
    if (!rc && in_bodies) {
        char msg[300];
        snprintf(msg, sizeof msg,
                 "quant-static: %zu layers inside If/Loop bodies got int8 weights with "
                 "activations quantized at run time (DynamicQuantizeLinear); activations inside "
                 "bodies are not calibrated",
                 in_bodies);
        note(&s, msg);
    }
    for (size_t i = 0; i < s.n_acts; i++) {
        free(s.acts[i].name);
        free(s.acts[i].dq);
        kp_calib_stats_free(s.acts[i].st);
    }
    free(s.acts);
    free(s.kind);
    return rc;
}

static int estimate(const kp_model *m, const kp_params *p, const kp_pass_ctx *ctx, kp_estimate *out,
                    kp_error *err) {
    (void)p;
    return kp_q_estimate_int8(m, ctx, 1, 1, out, err);
}

const kp_pass kp_pass_quant_static = {
    "quant-static",
    "Static int8 quantization (calibrated)",
    "int8 weights and activations in QDQ format, activation ranges calibrated on the data",
    0,
    1,
    sizeof params / sizeof *params,
    params,
    estimate,
    apply,
};
