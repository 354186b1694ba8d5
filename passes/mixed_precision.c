/* mixed-precision: int8 where it is cheap in accuracy, float32 where it is not.
 *
 * Measures each layer's sensitivity on the calibration data: the top-1 drop (with labels; else
 * the share of samples whose top-1 changes) when only that layer is int8 (quant-static with
 * every other layer excluded). Then quantizes every layer and, while the measured drop breaks
 * the budget, returns the most sensitive remaining layer to float32. Every figure is measured,
 * none guessed; the notes list each layer's sensitivity and the final choice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/verify.h"
#include "passes/quant_util.h"
#include "passes/wstore.h"

extern const kp_pass kp_pass_quant_static;

static const kp_param_def params[] = {
    {"max_drop", KP_PARAM_FLOAT, "0", 0, 100, NULL,
     "top-1 drop budget in points on the calibration data (0 = the run's accuracy budget)"},
    {"method", KP_PARAM_ENUM, "minmax", 0, 0, "minmax|percentile|entropy",
     "calibration method for the int8 layers"},
    {"batches", KP_PARAM_INT, "0", 0, 1000000, NULL, "calibration batches to use (0 = all)"},
};

typedef struct layer {
    char *name;
    double drop; /* points */
    int keep;    /* stays float32 */
} layer;

typedef struct mp {
    const kp_params *p;
    const kp_pass_ctx *ctx;
    const kp_model *base; /* BatchNorm-folded float model */
    layer *l;
    size_t n;
} mp;

/* exclude list of every layer with keep (or every layer but `only` when only >= 0). */
static char *exclude_list(const mp *s, long only) {
    size_t cap = 1;
    for (size_t i = 0; i < s->n; i++) cap += strlen(s->l[i].name) + 1;
    char *t = malloc(cap);
    if (!t) return NULL;
    t[0] = 0;
    for (size_t i = 0; i < s->n; i++) {
        int ex = only >= 0 ? (long)i != only : s->l[i].keep;
        if (!ex) continue;
        if (*t) strcat(t, ",");
        strcat(t, s->l[i].name);
    }
    return t;
}

/* Quantizes a copy of base with the exclusions and measures its drop in points. */
static int trial(const mp *s, const char *exclude, double *drop, kp_model **keep_model,
                 kp_error *err) {
    kp_model *c = kp_model_clone(s->base, err);
    if (!c) return err->code ? err->code : KP_ENOMEM;
    char *text = malloc(strlen(exclude) + 128);
    if (!text) {
        kp_model_free(c);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    snprintf(text, strlen(exclude) + 128, "method=%s,batches=%lld,exclude=%s",
             kp_params_str(s->p, "method"), (long long)kp_params_int(s->p, "batches"), exclude);
    kp_params qp;
    int rc = kp_params_parse(&kp_pass_quant_static, text, &qp, err);
    free(text);
    if (rc) {
        kp_model_free(c);
        return rc;
    }
    kp_pass_ctx inner = *s->ctx;
    inner.note = NULL;
    inner.progress = NULL;
    rc = kp_pass_quant_static.apply(c, &qp, &inner, err);
    kp_params_free(&qp);
    kp_verify v;
    kp_verify_opts vo = {(size_t)kp_params_int(s->p, "batches"), s->ctx->seed, 0, s->ctx->cancel,
                         s->ctx->threads};
    if (!rc) rc = kp_verify_models(s->base, c, s->ctx->calib, &vo, &v, err);
    if (!rc) *drop = v.has_labels ? v.acc_ref - v.acc_cand : 100.0 * (1.0 - v.agree);
    if (!rc && keep_model)
        *keep_model = c;
    else
        kp_model_free(c);
    return rc;
}

static void note(const mp *s, const char *msg) {
    if (s->ctx->note) s->ctx->note(s->ctx->user, msg);
}

static int apply(kp_model *m, const kp_params *p, const kp_pass_ctx *ctx, kp_error *err) {
    if (!ctx || !ctx->calib)
        return kp_error_set(err, KP_EINVAL,
                            "mixed-precision measures each layer on data: give --data (or "
                            "--project)");
    double budget = kp_params_float(p, "max_drop");
    if (budget <= 0) budget = ctx->acc_budget > 0 ? ctx->acc_budget : 1.0;
    mp s = {p, ctx, NULL, NULL, 0};
    kp_model *base = kp_model_clone(m, err);
    if (!base) return err->code ? err->code : KP_ENOMEM;
    int rc = kp_wstore_decode_model(base, NULL, err); /* prune/cluster storage made plain */
    if (rc >= 0) rc = kp_q_fold_bn(base->graph, err);
    if (rc < 0) {
        kp_model_free(base);
        return rc;
    }
    rc = 0;
    s.base = base;
    kp_graph *g = base->graph;
    s.l = calloc(g->n_nodes + 1, sizeof *s.l);
    if (!s.l) rc = kp_error_set(err, KP_ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < g->n_nodes; i++) {
        kp_node *n = g->nodes[i];
        if (!(kp_node_is(n, "Conv") || kp_node_is(n, "Gemm") || kp_node_is(n, "MatMul"))) continue;
        const char *w = kp_node_input(n, 1);
        if (!w || !kp_graph_find_const(g, w)) continue;
        const char *name = kp_q_layer_name(n);
        if (strchr(name, ',') || strchr(name, '=')) continue; /* cannot be named in a list */
        s.l[s.n].name = strdup(name);
        if (!s.l[s.n].name) rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        s.n++;
    }
    if (!rc && !s.n)
        rc = kp_error_set(err, KP_EUNSUPPORTED, "no Conv/Gemm/MatMul with constant weights");
    char msg[512];
    /* sensitivity of each layer alone */
    for (size_t i = 0; !rc && i < s.n; i++) {
        char *ex = exclude_list(&s, (long)i);
        if (!ex) {
            rc = kp_error_set(err, KP_ENOMEM, "out of memory");
            break;
        }
        rc = trial(&s, ex, &s.l[i].drop, NULL, err);
        free(ex);
        if (ctx->progress)
            ctx->progress(ctx->user, (double)(i + 1) / (double)(s.n + 2), s.l[i].name);
        if (!rc) {
            snprintf(msg, sizeof msg, "%s alone in int8: %+.2f points", s.l[i].name, -s.l[i].drop);
            note(&s, msg);
        }
    }
    /* everything int8, then back off the most sensitive until the budget holds */
    kp_model *best = NULL;
    double drop = 0;
    size_t kept = 0;
    while (!rc) {
        char *ex = exclude_list(&s, -1);
        if (!ex) {
            rc = kp_error_set(err, KP_ENOMEM, "out of memory");
            break;
        }
        kp_model *cand = NULL;
        rc = kept < s.n ? trial(&s, ex, &drop, &cand, err) : 0;
        free(ex);
        if (rc) break;
        if (kept == s.n) { /* nothing left in int8 */
            rc = kp_error_set(err, KP_ERANGE,
                              "no int8 layer fits the %.2f-point budget: even the least "
                              "sensitive layer alone costs more; the model is left in float",
                              budget);
            break;
        }
        if (drop <= budget) {
            best = cand;
            break;
        }
        kp_model_free(cand);
        size_t worst = s.n;
        for (size_t i = 0; i < s.n; i++)
            if (!s.l[i].keep && (worst == s.n || s.l[i].drop > s.l[worst].drop)) worst = i;
        s.l[worst].keep = 1;
        kept++;
        snprintf(msg, sizeof msg, "all int8 cost %.2f points > budget %.2f: %s back to float32",
                 drop, budget, s.l[worst].name);
        note(&s, msg);
    }
    if (!rc && best) {
        /* the measured model replaces m's contents (m keeps its address) */
        kp_model tmp = *m;
        *m = *best;
        *best = tmp;
        kp_model_free(best);
        snprintf(msg, sizeof msg,
                 "mixed-precision: %zu of %zu layers int8, %zu float32; measured drop %.2f "
                 "points (budget %.2f) on the calibration data",
                 s.n - kept, s.n, kept, drop, budget);
        note(&s, msg);
    }
    for (size_t i = 0; i < s.n; i++) free(s.l[i].name);
    free(s.l);
    kp_model_free(base);
    return rc;
}

static int estimate(const kp_model *m, const kp_params *p, const kp_pass_ctx *ctx, kp_estimate *out,
                    kp_error *err) {
    (void)p;
    int rc = kp_q_estimate_int8(m, ctx, 1, 1, out, err);
    out->acc_drop *= 0.5; /* the budget is enforced by measurement */
    out->confidence = 0.3;
    return rc;
}

const kp_pass kp_pass_mixed_precision = {
    "mixed-precision",
    "Mixed precision (measured per layer)",
    "int8 per layer where measured sensitivity allows, float32 for the most sensitive layers "
    "until the accuracy budget holds",
    0,
    1,
    sizeof params / sizeof *params,
    params,
    estimate,
    apply,
};
