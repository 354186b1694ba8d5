/* prune-channels: structured pruning. For each Conv (group 1) or Gemm, removes the `ratio` of
 * its output channels with the smallest filter norm (L1 or L2, scaled by the following
 * BatchNorm's gain when there is one) and rewires everything that reads those channels:
 * channel-wise ops pass through (Relu, pools, Clip, ...), BatchNormalization parameters are
 * sliced, depthwise Convs lose the same channels (group shrinks), the next Conv loses input
 * channels, and a Gemm after Flatten loses the matching input features. A layer whose
 * channels reach anything else (a graph output, Add, Concat, Reshape, a shared weight) is left
 * unchanged with a note naming the blocker, so the output model is always consistent. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/shape_infer.h"
#include "passes/common.h"
#include "passes/wstore.h"

enum { E_BN, E_CONV_IN, E_GEMM_IN, E_DEPTHWISE };

typedef struct pc_edit {
    kp_node *n;
    int kind;
    int64_t hw;         /* E_GEMM_IN: input features per channel */
    int64_t off, total; /* the pruned channels sit at [off, off + C) of `total` (Concat) */
} pc_edit;

#define MAX_EDITS 64

typedef struct pc_plan {
    pc_edit e[MAX_EDITS];
    size_t n;
    char why[200];
} pc_plan;

static int passthrough(const kp_node *n) {
    static const char *const ops[] = {
        "Relu",          "LeakyRelu", "Sigmoid",     "Tanh",
        "Clip",          "MaxPool",   "AveragePool", "GlobalAveragePool",
        "GlobalMaxPool", "Dropout",   "Identity",    "HardSwish",
        "HardSigmoid",   "Elu",       "Selu",        "Softplus",
        "Relu6",         "PRelu",     "LpPool"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (kp_node_is(n, ops[i])) return !kp_node_is(n, "PRelu");
    return 0;
}

static int plan_add(pc_plan *pl, kp_node *n, int kind, int64_t hw, int64_t off, int64_t total) {
    for (size_t i = 0; i < pl->n; i++)
        if (pl->e[i].n == n) {
            snprintf(pl->why, sizeof pl->why, "%s '%s' reads its channels twice", n->op_type,
                     kp_node_label(n));
            return 0;
        }
    if (pl->n == MAX_EDITS) {
        snprintf(pl->why, sizeof pl->why, "too many readers");
        return 0;
    }
    pl->e[pl->n++] = (pc_edit){n, kind, hw, off, total};
    return 1;
}

/* Channels (dim 1) of value v from its declared or inferred type; -1 if unknown. */
static int64_t channels_of(kp_graph *g, const char *v) {
    const kp_type *t = kp_graph_value_type(g, v);
    if (!t || t->kind != KP_TYPE_TENSOR || t->rank < 2) return -1;
    return t->dims[1].value;
}

static int only_input0(const kp_node *c, const char *v) {
    for (size_t i = 1; i < c->n_inputs; i++)
        if (!strcmp(c->inputs[i], v)) return 0;
    return c->n_inputs > 0 && !strcmp(c->inputs[0], v);
}

static int weight_private(kp_graph *g, const kp_node *n) {
    const char *w = kp_node_input(n, 1);
    return w && kp_pass_const_input(g, n, 1) && kp_value_n_uses(g, w) == 1;
}

/* C: channels of the tensor v; the pruned layer's channels are [off, off + Cp) of them. */
static int walk(kp_graph *g, const char *v, int flat, int64_t C, int64_t off, pc_plan *pl,
                int depth) {
    if (depth > 32) return snprintf(pl->why, sizeof pl->why, "path too long"), 0;
    if (kp_graph_is_output(g, v))
        return snprintf(pl->why, sizeof pl->why, "its channels reach a graph output"), 0;
    kp_node *cons[16];
    size_t nc = kp_graph_consumers(g, v, cons, 16);
    if (nc > 16) return snprintf(pl->why, sizeof pl->why, "too many readers"), 0;
    if (nc == 0) return snprintf(pl->why, sizeof pl->why, "its output is unused"), 0;
    for (size_t i = 0; i < nc; i++) {
        kp_node *c = cons[i];
        if (!kp_node_is(c, "Concat") && !only_input0(c, v)) {
            snprintf(pl->why, sizeof pl->why, "%s '%s' reads it as a parameter or subgraph value",
                     c->op_type, kp_node_label(c));
            return 0;
        }
        for (size_t o = 1; o < c->n_outputs; o++)
            if (c->outputs[o][0] && kp_value_n_uses(g, c->outputs[o]) &&
                !kp_node_is(c, "BatchNormalization")) {
                snprintf(pl->why, sizeof pl->why, "%s '%s' has a second output in use", c->op_type,
                         kp_node_label(c));
                return 0;
            }
        if (passthrough(c)) {
            if (!walk(g, c->outputs[0], flat, C, off, pl, depth + 1)) return 0;
        } else if (kp_node_is(c, "BatchNormalization") && !flat) {
            for (size_t k = 1; k < 5; k++) {
                kp_tensor *t = kp_pass_const_input(g, c, k);
                if (!t || t->numel != C)
                    return snprintf(pl->why, sizeof pl->why,
                                    "BatchNorm '%s' parameters are "
                                    "not constant",
                                    kp_node_label(c)),
                           0;
            }
            if (!plan_add(pl, c, E_BN, 0, off, C)) return 0;
            if (!walk(g, c->outputs[0], flat, C, off, pl, depth + 1)) return 0;
        } else if (kp_node_is(c, "Conv") && !flat) {
            kp_tensor *w = kp_pass_const_input(g, c, 1);
            int64_t grp = kp_node_attr_int(c, "group", 1);
            if (!w || !weight_private(g, c))
                return snprintf(pl->why, sizeof pl->why,
                                "Conv '%s' weight is not a private "
                                "constant",
                                kp_node_label(c)),
                       0;
            if (grp == 1 && w->dims[1] == C) {
                if (!plan_add(pl, c, E_CONV_IN, 0, off, C)) return 0;
            } else if (grp == C && w->dims[1] == 1 && w->dims[0] == C) {
                if (!plan_add(pl, c, E_DEPTHWISE, 0, off, C)) return 0;
                if (!walk(g, c->outputs[0], flat, C, off, pl, depth + 1)) return 0;
            } else {
                return snprintf(pl->why, sizeof pl->why, "Conv '%s' is grouped (group %lld)",
                                kp_node_label(c), (long long)grp),
                       0;
            }
        } else if (kp_node_is(c, "Flatten") && !flat) {
            if (kp_node_attr_int(c, "axis", 1) != 1)
                return snprintf(pl->why, sizeof pl->why, "Flatten '%s' axis is not 1",
                                kp_node_label(c)),
                       0;
            if (!walk(g, c->outputs[0], 1, C, off, pl, depth + 1)) return 0;
        } else if (kp_node_is(c, "Gemm")) {
            kp_tensor *w = kp_pass_const_input(g, c, 1);
            if (!w || !weight_private(g, c) || kp_node_attr_int(c, "transA", 0))
                return snprintf(pl->why, sizeof pl->why,
                                "Gemm '%s' weight is not a private "
                                "constant",
                                kp_node_label(c)),
                       0;
            int64_t K = kp_node_attr_int(c, "transB", 0) ? w->dims[1] : w->dims[0];
            if (K % C)
                return snprintf(pl->why, sizeof pl->why,
                                "Gemm '%s' width %lld is not a "
                                "multiple of %lld channels",
                                kp_node_label(c), (long long)K, (long long)C),
                       0;
            if (!plan_add(pl, c, E_GEMM_IN, K / C, off, C)) return 0;
        } else if (kp_node_is(c, "Concat") && !flat) {
            int64_t ax = kp_node_attr_int(c, "axis", 1), before = 0, total = 0;
            const kp_type *ot = kp_graph_value_type(g, c->outputs[0]);
            int rank = ot && ot->kind == KP_TYPE_TENSOR ? ot->rank : -1;
            if (ax != 1 && !(rank > 0 && ax == 1 - rank))
                return snprintf(pl->why, sizeof pl->why, "Concat '%s' is not along channels",
                                kp_node_label(c)),
                       0;
            int seen = 0;
            for (size_t k = 0; k < c->n_inputs; k++) {
                int64_t ch = channels_of(g, c->inputs[k]);
                if (ch < 0)
                    return snprintf(pl->why, sizeof pl->why, "Concat '%s' input channels unknown",
                                    kp_node_label(c)),
                           0;
                if (!strcmp(c->inputs[k], v)) {
                    if (seen++ || ch != C)
                        return snprintf(pl->why, sizeof pl->why, "Concat '%s' layout unclear",
                                        kp_node_label(c)),
                               0;
                    off += before;
                }
                if (!seen) before += ch;
                total += ch;
            }
            if (!walk(g, c->outputs[0], flat, total, off, pl, depth + 1)) return 0;
        } else {
            snprintf(pl->why, sizeof pl->why, "%s '%s' reads its channels", c->op_type,
                     kp_node_label(c));
            return 0;
        }
    }
    return 1;
}

/* Slices dim `axis` of t (row-major) in blocks of `blk` consecutive indices per channel,
 * keeping channels with keep[c]. Returns owned tensor. */
static kp_tensor *slice_dim(const kp_tensor *t, int axis, const int *keep, int64_t C, int64_t blk,
                            kp_error *err) {
    int64_t dims[KP_MAX_RANK];
    memcpy(dims, t->dims, sizeof dims);
    int64_t kept = 0;
    for (int64_t c = 0; c < C; c++) kept += keep[c] != 0;
    dims[axis] = kept * blk;
    kp_tensor *o = kp_tensor_new(t->dtype, t->rank, dims, err);
    if (!o) return NULL;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= t->dims[d];
    for (int d = axis + 1; d < t->rank; d++) inner *= t->dims[d];
    const float *S = t->data;
    float *D = o->data;
    int64_t j = 0;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t c = 0; c < C; c++) {
            if (!keep[c]) continue;
            memcpy(D + j, S + (a * t->dims[axis] + c * blk) * inner,
                   (size_t)(blk * inner) * sizeof(float));
            j += blk * inner;
        }
    return o;
}

static int replace_input(kp_graph *g, kp_node *n, size_t i, int axis, const int *keep, int64_t C,
                         int64_t blk, kp_error *err) {
    kp_tensor *t = kp_pass_const_input(g, n, i);
    if (!t) return 0;
    kp_tensor *o = slice_dim(t, axis, keep, C, blk, err);
    if (!o) return err->code ? err->code : KP_ENOMEM;
    char base[256];
    snprintf(base, sizeof base, "%s_pc", kp_node_input(n, i));
    return kp_pass_set_input_const(g, n, i, o, base, err);
}

typedef struct pc_opts {
    kp_model *m;
    double ratio;
    int l2;
    const char *only;
    int64_t min_keep;
    const kp_pass_ctx *ctx;
    size_t n_done;
    int64_t removed;
} pc_opts;

static int prune_layer(kp_graph *g, kp_node *p, pc_opts *o, kp_error *err) {
    kp_tensor *w = kp_pass_const_input(g, p, 1);
    int is_conv = kp_node_is(p, "Conv");
    int tb = is_conv ? 1 : (int)kp_node_attr_int(p, "transB", 0);
    if (!w || !weight_private(g, p)) return 0;
    if (is_conv && kp_node_attr_int(p, "group", 1) != 1) return 0;
    if (!is_conv && (w->rank != 2 || kp_node_attr_int(p, "transA", 0))) return 0;
    int64_t C = tb ? w->dims[0] : w->dims[1];
    int64_t per = w->numel / C;
    int64_t nrm = (int64_t)floor(o->ratio * (double)C);
    if (C - nrm < o->min_keep) nrm = C - o->min_keep;
    if (nrm <= 0) return 0;
    kp_tensor *b = kp_pass_const_input(g, p, 2);
    if (kp_node_input(p, 2) && (!b || (b->numel != C && b->numel != 1))) {
        kp_pass_notef(o->ctx, "prune-channels: %s unchanged (bias is not a [C] constant)",
                      kp_node_label(p));
        return 0;
    }
    pc_plan pl = {.n = 0};
    if (!walk(g, p->outputs[0], 0, C, 0, &pl, 0)) {
        kp_pass_notef(o->ctx, "prune-channels: %s unchanged: %s", kp_node_label(p), pl.why);
        return 0;
    }
    /* importance */
    double *score = calloc((size_t)C, sizeof *score);
    int *keep = malloc((size_t)C * sizeof *keep);
    int64_t *ord = malloc((size_t)C * sizeof *ord);
    if (!score || !keep || !ord) {
        free(score);
        free(keep);
        free(ord);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    const float *W = w->data;
    for (int64_t i = 0; i < w->numel; i++) {
        int64_t c = tb ? i / per : i % C;
        score[c] += o->l2 ? (double)W[i] * W[i] : fabs(W[i]);
    }
    for (size_t e = 0; e < pl.n; e++) {
        if (pl.e[e].kind != E_BN) continue;
        const float *sc = kp_pass_const_input(g, pl.e[e].n, 1)->data;
        const float *var = kp_pass_const_input(g, pl.e[e].n, 4)->data;
        double eps = kp_node_attr_float(pl.e[e].n, "epsilon", 1e-5f);
        int64_t f = pl.e[e].off; /* BatchNorm after a Concat: our channels start at f */
        for (int64_t c = 0; c < C; c++)
            score[c] *=
                fabs(sc[f + c]) / sqrt((double)var[f + c] + eps) * (o->l2 ? fabs(sc[f + c]) : 1);
        break;
    }
    for (int64_t c = 0; c < C; c++) ord[c] = c, keep[c] = 1;
    for (int64_t i = 1; i < C; i++) /* insertion sort by score: C is small */
        for (int64_t j = i; j > 0 && score[ord[j]] < score[ord[j - 1]]; j--) {
            int64_t t = ord[j];
            ord[j] = ord[j - 1];
            ord[j - 1] = t;
        }
    for (int64_t i = 0; i < nrm; i++) keep[ord[i]] = 0;
    /* Record which original channels survive, for reconstruct. */
    size_t nold = 0;
    int64_t *old = kp_pass_chmap_get(o->m, p->outputs[0], &nold);
    int64_t j = 0;
    for (int64_t c = 0; c < C; c++)
        if (keep[c]) ord[j++] = (old && nold == (size_t)C) ? old[c] : c;
    free(old);
    int mrc = kp_pass_chmap_set(o->m, p->outputs[0], ord, (size_t)j);
    for (size_t e = 0; !mrc && e < pl.n; e++)
        if (pl.e[e].kind == E_DEPTHWISE && pl.e[e].total == C)
            mrc = kp_pass_chmap_set(o->m, pl.e[e].n->outputs[0], ord, (size_t)j);
    if (mrc) {
        free(score);
        free(keep);
        free(ord);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    int rc = replace_input(g, p, 1, tb ? 0 : 1, keep, C, 1, err);
    if (!rc && b && b->numel == C) rc = replace_input(g, p, 2, 0, keep, C, 1, err);
    for (size_t e = 0; !rc && e < pl.n; e++) {
        kp_node *n = pl.e[e].n;
        int64_t T = pl.e[e].total, f = pl.e[e].off;
        int *kf = malloc((size_t)T * sizeof *kf); /* keep mask over all T channels here */
        if (!kf) {
            rc = KP_ENOMEM;
            break;
        }
        for (int64_t t = 0; t < T; t++) kf[t] = (t >= f && t < f + C) ? keep[t - f] : 1;
        switch (pl.e[e].kind) {
        case E_BN:
            for (size_t k = 1; !rc && k < 5; k++) rc = replace_input(g, n, k, 0, kf, T, 1, err);
            break;
        case E_CONV_IN: rc = replace_input(g, n, 1, 1, kf, T, 1, err); break;
        case E_DEPTHWISE:
            rc = replace_input(g, n, 1, 0, kf, T, 1, err);
            if (!rc && kp_pass_const_input(g, n, 2)) rc = replace_input(g, n, 2, 0, kf, T, 1, err);
            if (!rc) rc = kp_node_set_attr_int(n, "group", T - nrm);
            break;
        case E_GEMM_IN: {
            int ntb = (int)kp_node_attr_int(n, "transB", 0);
            rc = replace_input(g, n, 1, ntb ? 1 : 0, kf, T, pl.e[e].hw, err);
            break;
        }
        }
        free(kf);
    }
    free(score);
    free(keep);
    free(ord);
    if (rc) return err->msg[0] ? rc : kp_error_set(err, rc, "out of memory");
    kp_pass_notef(o->ctx, "prune-channels: %s %lld -> %lld channels (%zu readers rewired)",
                  kp_node_label(p), (long long)C, (long long)(C - nrm), pl.n);
    o->n_done++;
    o->removed += nrm;
    return 0;
}

static int pc_graph(kp_graph *g, void *user, kp_error *err) {
    pc_opts *o = user;
    size_t before = o->n_done;
    for (size_t i = 0; i < g->n_nodes; i++) {
        kp_node *p = g->nodes[i];
        if (!kp_node_is(p, "Conv") && !kp_node_is(p, "Gemm")) continue;
        kp_wlayer l = {g, p, kp_node_input(p, 1), NULL, KP_LAYER_CONV};
        if (!l.wname || !kp_pass_layer_selected(o->only, &l)) continue;
        int rc = kp_pass_check_cancel(o->ctx, err);
        if (!rc) rc = prune_layer(g, p, o, err);
        if (rc) return rc;
    }
    if (o->n_done != before) {
        /* Channel counts changed: drop stale intermediate shapes (value_info is optional). */
        for (size_t i = 0; i < g->n_value_info; i++) kp_value_info_clear(&g->value_info[i]);
        g->n_value_info = 0;
        kp_graph_touch(g);
    }
    return 0;
}

static int pc_apply(kp_model *m, const kp_params *p, const kp_pass_ctx *ctx, kp_error *err) {
    pc_opts o = {.m = m,
                 .ratio = kp_params_float(p, "ratio"),
                 .l2 = !strcmp(kp_params_str(p, "criterion"), "l2"),
                 .only = kp_params_str(p, "layers"),
                 .min_keep = kp_params_int(p, "min_keep"),
                 .ctx = ctx};
    int rc = kp_wstore_decode_model(m, NULL, err);
    kp_error e2;
    kp_error_clear(&e2);
    if (!rc && kp_infer_shapes(m, &e2)) /* Concat needs its inputs' channel counts */
        kp_pass_notef(ctx, "prune-channels: shape inference stopped (%s)", e2.msg);
    if (!rc) rc = kp_pass_each_graph(m->graph, pc_graph, &o, err);
    if (rc) return rc;
    kp_graph_remove_dead(m->graph);
    if (!o.n_done)
        kp_pass_notef(ctx, "prune-channels: no layer could be pruned (see notes above)");
    else
        kp_pass_notef(ctx, "prune-channels: %zu layers pruned, %lld channels removed", o.n_done,
                      (long long)o.removed);
    return kp_wstore_encode_model(m, 0, NULL, err);
}

static int pc_estimate(const kp_model *m, const kp_params *p, const kp_pass_ctx *ctx,
                       kp_estimate *out, kp_error *err) {
    (void)ctx;
    (void)err;
    double r = kp_params_float(p, "ratio");
    size_t n = 0;
    for (size_t i = 0; i < m->graph->n_nodes; i++)
        n += kp_node_is(m->graph->nodes[i], "Conv") || kp_node_is(m->graph->nodes[i], "Gemm");
    memset(out, 0, sizeof *out);
    /* Removing a fraction r of the channels of consecutive layers scales both sides. */
    out->size_ratio = (1 - r) * (1 - r) * 0.7 + (1 - r) * 0.3;
    out->latency_ratio = out->size_ratio;
    out->acc_drop = r * r * 10;
    out->confidence = 0.2;
    out->applicable = n > 1 && r > 0;
    snprintf(out->reason, sizeof out->reason,
             "removing %.0f%% of the channels of %zu layers shrinks both work and weights", 100 * r,
             n);
    return 0;
}

static const kp_param_def pc_params[] = {
    {"ratio", KP_PARAM_FLOAT, "0.5", 0, 0.95, NULL,
     "fraction of output channels removed per layer"},
    {"criterion", KP_PARAM_ENUM, "l1", 0, 0, "l1|l2",
     "filter norm ranking the channels (times the BatchNorm gain)"},
    {"layers", KP_PARAM_STRING, "", 0, 0, NULL,
     "comma-separated node or weight names (empty: all)"},
    {"min_keep", KP_PARAM_INT, "4", 1, 1e9, NULL, "never keep fewer channels than this"},
};

const kp_pass kp_pass_prune_channels = {
    .id = "prune-channels",
    .title = "Channel pruning (structured)",
    .summary = "Removes whole output channels of Conv/Gemm and rewires their readers",
    .lossless = 0,
    .needs_data = 0,
    .n_params = sizeof pc_params / sizeof *pc_params,
    .params = pc_params,
    .estimate = pc_estimate,
    .apply = pc_apply,
};
