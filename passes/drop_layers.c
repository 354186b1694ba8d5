/* drop-layers: removes whole layers whose removal costs the least accuracy, measured on the
 * calibration data (never guessed). Candidates, in the top-level graph:
 *   - residual blocks: Add(x, f(x)) where f is a chain of single-reader nodes starting from x;
 *     dropping the block makes the Add's output x;
 *   - shape-preserving layers: a Conv/Gemm/MatMul plus the channel-wise nodes right after it
 *     (BatchNorm, Relu, ...) whose output has the same shape as its input on real data; dropping
 *     it makes the chain's output its input.
 * Each candidate is tried alone and scored by top-1 on the calibration labels (or agreement
 * with the original's top-1 when there are no labels); the cheapest are dropped greedily, one
 * at a time and re-measured, while the total drop stays within max_drop points. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/exec.h"
#include "passes/common.h"
#include "passes/wstore.h"

typedef struct cand {
    char *from, *to; /* uses of `from` become `to` */
    char label[160];
    double score;
    int residual; /* removes a whole block (and its Add): preferred on ties */
} cand;

static int chainable(const kp_node *n) {
    static const char *const ops[] = {"BatchNormalization",
                                      "Relu",
                                      "LeakyRelu",
                                      "Sigmoid",
                                      "Tanh",
                                      "Clip",
                                      "Dropout",
                                      "Identity",
                                      "HardSwish",
                                      "Elu",
                                      "Selu",
                                      "Softplus",
                                      "HardSigmoid",
                                      "Gelu",
                                      "PRelu",
                                      "Mul"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (kp_node_is(n, ops[i])) return 1;
    return 0;
}

static kp_node *only_reader(kp_graph *g, const char *v) {
    kp_node *c = NULL;
    if (kp_graph_is_output(g, v) || kp_graph_consumers(g, v, &c, 1) != 1) return NULL;
    return c;
}

static int same_shape(const kp_tensor *a, const kp_tensor *b) {
    if (!a || !b || a->rank != b->rank || a->dtype != b->dtype) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

/* Runs m on the first batch with keep_values; returns the executor (caller frees). */
static int probe(const kp_model *m, const kp_calib *calib, kp_exec **out, kp_error *err) {
    kp_exec_opts o = {.threads = 1, .keep_values = 1};
    kp_exec *e = NULL;
    int rc = kp_exec_new(m, &o, &e, err);
    if (rc) return rc;
    const kp_tensor *const *in;
    const int64_t *lab;
    size_t bs;
    size_t no = kp_exec_n_outputs(e);
    kp_tensor **outs = calloc(no ? no : 1, sizeof *outs);
    if (!outs) rc = kp_error_set(err, KP_ENOMEM, "out of memory");
    if (!rc) rc = calib->get((kp_calib *)calib, 0, &in, &lab, &bs, err);
    if (!rc) rc = kp_exec_run(e, in, outs, err);
    for (size_t i = 0; outs && i < no; i++) kp_tensor_free(outs[i]);
    free(outs);
    if (rc) {
        kp_exec_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

static int add_cand(cand **v, size_t *n, const char *from, const char *to, const char *label) {
    cand *nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv) return KP_ENOMEM;
    *v = nv;
    cand *c = &nv[*n];
    memset(c, 0, sizeof *c);
    c->from = strdup(from);
    c->to = strdup(to);
    snprintf(c->label, sizeof c->label, "%s", label);
    if (!c->from || !c->to) {
        free(c->from);
        free(c->to);
        return KP_ENOMEM;
    }
    (*n)++;
    return 0;
}

static int find_candidates(kp_graph *g, kp_exec *e, cand **v, size_t *n) {
    for (size_t i = 0; i < g->n_nodes; i++) {
        kp_node *s = g->nodes[i];
        int rc = 0;
        if (kp_node_is(s, "Conv") || kp_node_is(s, "Gemm") || kp_node_is(s, "MatMul")) {
            const char *x = kp_node_input(s, 0);
            if (!x || !s->n_outputs) continue;
            const char *end = s->outputs[0], *best = NULL;
            kp_node *c;
            int steps = 0;
            while (1) {
                if (same_shape(kp_exec_value(e, x), kp_exec_value(e, end))) best = end;
                c = only_reader(g, end);
                if (!c || !chainable(c) || steps++ > 8 || strcmp(kp_node_input(c, 0), end)) break;
                end = c->outputs[0];
            }
            if (best && !kp_graph_is_output(g, best)) {
                char label[160];
                snprintf(label, sizeof label, "layer %s", kp_node_label(s));
                rc = add_cand(v, n, best, x, label);
            }
        } else if (kp_node_is(s, "Add") && s->n_inputs == 2 && s->n_outputs == 1) {
            /* residual: one input's producer chain reaches the other input */
            for (int side = 0; side < 2 && !rc; side++) {
                const char *skip = kp_node_input(s, (size_t)side);
                const char *r = kp_node_input(s, (size_t)(1 - side));
                if (!skip || !r) continue;
                int found = 0;
                const char *cur = r;
                for (int k = 0; k < 16 && !found; k++) {
                    size_t pos;
                    kp_node *p = kp_graph_producer(g, cur, &pos);
                    if (!p || !p->n_inputs || !kp_node_input(p, 0)) break;
                    if (!strcmp(kp_node_input(p, 0), skip)) found = 1;
                    cur = kp_node_input(p, 0);
                }
                if (found && same_shape(kp_exec_value(e, skip), kp_exec_value(e, s->outputs[0])) &&
                    !kp_graph_is_output(g, s->outputs[0])) {
                    char label[160];
                    snprintf(label, sizeof label, "residual block ending at %s", kp_node_label(s));
                    rc = add_cand(v, n, s->outputs[0], skip, label);
                    if (!rc) (*v)[*n - 1].residual = 1;
                    break;
                }
            }
        }
        if (rc) return rc;
    }
    return 0;
}

/* top-1 (%) on the calibration batches: labels when given, else agreement with ref_top. */
static int score(const kp_model *m, const kp_calib *calib, size_t nb, const int64_t *ref_top,
                 int64_t *top_out, size_t cap, double *acc, kp_error *err) {
    kp_exec *e = NULL;
    int rc = kp_exec_new(m, NULL, &e, err);
    if (rc) return rc;
    int64_t ok = 0, tot = 0;
    for (size_t b = 0; b < nb && !rc; b++) {
        const kp_tensor *const *in;
        const int64_t *lab;
        size_t bs;
        kp_tensor *out[1] = {NULL};
        if (kp_exec_n_outputs(e) != 1) {
            rc = kp_error_set(err, KP_EUNSUPPORTED, "drop-layers needs a single-output model");
            break;
        }
        rc = calib->get((kp_calib *)calib, b, &in, &lab, &bs, err);
        if (!rc) rc = kp_exec_run(e, in, out, err);
        if (rc) break;
        int64_t k = bs ? out[0]->numel / (int64_t)bs : 0;
        const float *o = out[0]->data;
        for (size_t i = 0; i < bs && k > 0 && out[0]->dtype == KP_FLOAT && (size_t)tot < cap;
             i++, tot++) {
            int64_t best = 0;
            for (int64_t j = 1; j < k; j++)
                if (o[i * k + j] > o[i * k + best]) best = j;
            if (top_out) top_out[tot] = best;
            int64_t want = lab ? lab[i] : (ref_top ? ref_top[tot] : best);
            ok += best == want;
        }
        kp_tensor_free(out[0]);
    }
    kp_exec_free(e);
    *acc = tot ? 100.0 * (double)ok / (double)tot : 0;
    return rc;
}

static int apply_cand(kp_model *m, const cand *c) {
    int rc = kp_graph_replace_uses(m->graph, c->from, c->to);
    if (!rc) kp_graph_remove_dead(m->graph);
    return rc;
}

static int dl_apply(kp_model *m, const kp_params *p, const kp_pass_ctx *ctx, kp_error *err) {
    if (!ctx || !ctx->calib || !ctx->calib->n_batches)
        return kp_error_set(err, KP_EINVAL,
                            "drop-layers measures accuracy: give calibration data (--data)");
    int64_t want = kp_params_int(p, "count");
    double max_drop = kp_params_float(p, "max_drop");
    size_t nb = (size_t)kp_params_int(p, "batches");
    if (nb > ctx->calib->n_batches) nb = ctx->calib->n_batches;
    int rc = kp_wstore_decode_model(m, NULL, err);
    kp_exec *e = NULL;
    cand *cv = NULL;
    size_t nc = 0;
    size_t cap = ctx->calib->n_samples ? ctx->calib->n_samples : nb * 4096;
    int64_t *ref_top = calloc(cap + 1, sizeof *ref_top);
    if (!ref_top) return kp_error_set(err, KP_ENOMEM, "out of memory");
    double base = 0;
    if (!rc) rc = score(m, ctx->calib, nb, NULL, ref_top, cap, &base, err);
    if (!rc) rc = probe(m, ctx->calib, &e, err);
    if (!rc) rc = find_candidates(m->graph, e, &cv, &nc);
    kp_exec_free(e);
    if (rc) goto done;
    if (!nc) {
        kp_pass_notef(ctx, "drop-layers: no residual block or shape-preserving layer found");
        goto done;
    }
    double cur = base;
    int64_t dropped = 0;
    int *used = calloc(nc, sizeof *used);
    if (!used) {
        rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        goto done;
    }
    while (dropped < want) {
        int best = -1;
        for (size_t i = 0; i < nc; i++) {
            if (used[i]) continue;
            rc = kp_pass_check_cancel(ctx, err);
            if (rc) break;
            kp_model *t = kp_model_clone(m, err);
            if (!t) {
                rc = err->code ? err->code : KP_ENOMEM;
                break;
            }
            kp_error e2;
            kp_error_clear(&e2);
            double a = -1;
            if (!apply_cand(t, &cv[i]) && !kp_graph_validate(t->graph, &e2) &&
                !score(t, ctx->calib, nb, ref_top, NULL, cap, &a, &e2))
                cv[i].score = a;
            else
                cv[i].score = -1, used[i] = 1;
            kp_model_free(t);
            kp_pass_notef(ctx, "drop-layers: without %s: top-1 %.2f%% (now %.2f%%)", cv[i].label,
                          cv[i].score, cur);
            if (!used[i] && (best < 0 || cv[i].score > cv[best].score ||
                             (cv[i].score == cv[best].score && cv[i].residual)))
                best = (int)i;
        }
        if (rc || best < 0) break;
        if (base - cv[best].score > max_drop) {
            kp_pass_notef(ctx,
                          "drop-layers: stopping: dropping %s would cost %.2f points (max_drop "
                          "%.2f)",
                          cv[best].label, base - cv[best].score, max_drop);
            break;
        }
        rc = apply_cand(m, &cv[best]);
        if (rc) break;
        used[best] = 1;
        cur = cv[best].score;
        dropped++;
        kp_pass_notef(ctx, "drop-layers: dropped %s (top-1 %.2f%% -> %.2f%% on calibration data)",
                      cv[best].label, base, cur);
        /* Candidates whose values were removed with this one are no longer possible. */
        size_t ppos;
        for (size_t i = 0; i < nc; i++)
            if (!used[i] && (!kp_graph_producer(m->graph, cv[i].from, &ppos) &&
                             !kp_graph_is_output(m->graph, cv[i].from)))
                used[i] = 1;
    }
    free(used);
    if (!rc && !dropped) kp_pass_notef(ctx, "drop-layers: nothing dropped");
    if (!rc) rc = kp_graph_toposort(m->graph, err);
done:
    for (size_t i = 0; i < nc; i++) {
        free(cv[i].from);
        free(cv[i].to);
    }
    free(cv);
    free(ref_top);
    if (rc) return rc;
    return kp_wstore_encode_model(m, 0, NULL, err);
}

static int dl_estimate(const kp_model *m, const kp_params *p, const kp_pass_ctx *ctx,
                       kp_estimate *out, kp_error *err) {
    (void)err;
    size_t n = 0;
    for (size_t i = 0; i < m->graph->n_nodes; i++)
        n += kp_node_is(m->graph->nodes[i], "Conv") || kp_node_is(m->graph->nodes[i], "Gemm");
    int64_t k = kp_params_int(p, "count");
    memset(out, 0, sizeof *out);
    double f = n ? (double)k / (double)n : 0;
    if (f > 1) f = 1;
    out->size_ratio = 1 - 0.5 * f;
    out->latency_ratio = 1 - 0.8 * f;
    out->acc_drop = kp_params_float(p, "max_drop") / 2;
    out->confidence = 0.1;
    out->applicable = ctx && ctx->calib && n > 2;
    snprintf(out->reason, sizeof out->reason,
             "up to %lld of %zu layers may go where the measured loss is smallest", (long long)k,
             n);
    return 0;
}

static const kp_param_def dl_params[] = {
    {"count", KP_PARAM_INT, "1", 1, 1000, NULL, "most layers or blocks to drop"},
    {"max_drop", KP_PARAM_FLOAT, "1.0", 0, 100, NULL,
     "stop before the calibration top-1 falls more than this many points"},
    {"batches", KP_PARAM_INT, "16", 1, 10000, NULL, "calibration batches used to score"},
};

const kp_pass kp_pass_drop_layers = {
    .id = "drop-layers",
    .title = "Drop layers (measured)",
    .summary = "Removes residual blocks or shape-preserving layers that cost the least accuracy",
    .lossless = 0,
    .needs_data = 1,
    .n_params = sizeof dl_params / sizeof *dl_params,
    .params = dl_params,
    .estimate = dl_estimate,
    .apply = dl_apply,
};
