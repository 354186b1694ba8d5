/* The planner. Strategy, in order of the person's goals:
 *   - a lossless clean-up ("fold") always comes first when it changes anything;
 *   - accuracy first: nothing lossy unless its estimated drop is negligible (< 0.05 points);
 *   - size first: int8 (calibrated when there is data) on targets with int8, then weight
 *     sharing, then pruning when the model still does not fit the target's storage or RAM;
 *   - latency first: float16 on targets whose fp16 rate beats fp32, int8 where the target's
 *     int8 rate beats fp32 by 1.5x, else structured channel pruning with reconstruction.
 * Each candidate is asked for its own estimate (pass->estimate, which may measure on the
 * calibration subset); candidates that do not apply are left out with the reason. Estimates are
 * corrected by what earlier runs of this project measured (per pass id and target class).
 * Steps are then dropped, most accuracy-costly first, until the predicted drop fits the budget.
 * Passes are matched by id; core still never links a concrete pass. */
#include "core/planner.h"

#include "core/measure.h"
#include "core/verify.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/onnx_io.h"

typedef struct cand {
    const char *id;
    const char *params;
    const char *why; /* reason prefix */
} cand;

static int target_int8_fast(const kp_target *t) {
    return (t->precisions & KP_PREC_INT8) && t->int8_gops >= 1.5 * t->fp32_gflops;
}

static int target_fp16_fast(const kp_target *t) {
    return (t->precisions & KP_PREC_FP16) && t->fp16_gflops >= 1.2 * t->fp32_gflops;
}

static int has_goal(const kp_project *p, kp_goal g) {
    return p->goals[0] == g || p->goals[1] == g;
}

static size_t candidates(const kp_project *p, const kp_target *t, int have_data, cand *c) {
    size_t n = 0;
    kp_goal g0 = p->goals[0] ? p->goals[0] : KP_GOAL_SIZE;
    c[n++] = (cand){"fold", "", "lossless clean-up"};
    int tight = t->cls == KP_TARGET_MCU;
    if (g0 == KP_GOAL_ACCURACY) {
        if (has_goal(p, KP_GOAL_SIZE)) c[n++] = (cand){"cluster", "k=256", "256 shared values"};
        return n;
    }
    if (g0 == KP_GOAL_SIZE) {
        if ((t->precisions & KP_PREC_INT8) && have_data)
            c[n++] = (cand){"quant-static", "method=percentile", "int8 weights and activations"};
        else if (t->precisions & KP_PREC_INT8)
            c[n++] = (cand){"quant-dynamic", "", "int8 weights"};
        else if (t->precisions & KP_PREC_FP16)
            c[n++] = (cand){"fp16", "", "float16 weights"};
        if (tight || !(t->precisions & KP_PREC_INT8)) {
            c[n++] = (cand){"prune", "sparsity=0.5", "half the weights are zero"};
            c[n++] = (cand){"cluster", "k=16", "16 shared values per layer"};
            if (have_data) c[n++] = (cand){"reconstruct", "", "refit layers to the original"};
        }
        return n;
    }
    /* latency first */
    if (target_fp16_fast(t) && (t->cls == KP_TARGET_GPU || !target_int8_fast(t)))
        c[n++] = (cand){"fp16", "", "float16 runs faster here"};
    else if (target_int8_fast(t) && have_data)
        c[n++] = (cand){"quant-static", "", "int8 runs faster here"};
    else {
        c[n++] = (cand){"prune-channels", "ratio=0.25", "fewer channels, less work"};
        if (have_data) c[n++] = (cand){"reconstruct", "", "refit layers to the original"};
    }
    if (has_goal(p, KP_GOAL_SIZE) && t->cls != KP_TARGET_GPU && !target_int8_fast(t))
        c[n++] = (cand){"cluster", "k=256", "256 shared values per layer"};
    return n;
}

/* Correction factors learned from earlier runs: measured/predicted for size and latency
 * ratios, and measured-predicted for the accuracy drop, averaged over runs with this pass. */
typedef struct corr {
    double size, lat, drop;
    int n;
} corr;

static corr learn(const kp_project *p, const char *pass_id) {
    corr c = {1, 1, 0, 0};
    double ls = 0, ll = 0, dd = 0;
    for (size_t r = 0; r < p->n_runs; r++) {
        const kp_run_record *rr = &p->runs[r];
        if (rr->status || !rr->step_after) continue;
        const kp_metrics_row *prev = &rr->before;
        for (size_t k = 0; k < rr->n_steps; k++) {
            const kp_metrics_row *m = &rr->step_after[k];
            const kp_estimate *e = &rr->steps[k].est;
            if (!strcmp(rr->steps[k].pass_id, pass_id) && e->size_ratio > 0 &&
                prev->file_bytes > 0 && m->file_bytes > 0 && e->latency_ratio > 0 &&
                prev->host_latency_ms > 0 && m->host_latency_ms > 0) {
                ls += log((m->file_bytes / prev->file_bytes) / e->size_ratio);
                ll += log((m->host_latency_ms / prev->host_latency_ms) / e->latency_ratio);
                if (m->top1 >= 0 && prev->top1 >= 0) dd += (prev->top1 - m->top1) - e->acc_drop;
                c.n++;
            }
            prev = m;
        }
    }
    if (c.n) {
        c.size = exp(ls / c.n);
        c.lat = exp(ll / c.n);
        c.drop = dd / c.n;
    }
    return c;
}

static void combine(kp_plan *plan) {
    kp_estimate *t = &plan->total;
    memset(t, 0, sizeof *t);
    t->size_ratio = t->latency_ratio = 1;
    t->applicable = 1;
    double conf = 1;
    for (size_t i = 0; i < plan->n; i++) {
        if (!plan->steps[i].enabled) continue;
        const kp_estimate *e = &plan->steps[i].est;
        t->size_ratio *= e->size_ratio > 0 ? e->size_ratio : 1;
        t->latency_ratio *= e->latency_ratio > 0 ? e->latency_ratio : 1;
        t->acc_drop += e->acc_drop;
        if (e->confidence < conf) conf = e->confidence;
    }
    t->confidence = conf;
    snprintf(t->reason, sizeof t->reason, "%.2fx smaller, %.2fx the latency, -%.2f points",
             t->size_ratio > 0 ? 1 / t->size_ratio : 0, t->latency_ratio, t->acc_drop);
}

/* Trials only for models that apply and run in seconds. */
static int kp_planner_trial_ok(const kp_model *m) {
    size_t bytes = 0;
    for (size_t i = 0; i < m->graph->n_inits; i++) bytes += m->graph->inits[i]->nbytes;
    return bytes < (64u << 20);
}

static int estimate_step(const kp_project *p, const kp_model *m, const kp_target *t,
                         const kp_pass *pass, kp_plan_step *s, const kp_calib *calib,
                         int *corrected, kp_error *err) {
    kp_params params;
    int rc = kp_params_parse(pass, s->params ? s->params : "", &params, err);
    if (rc) return rc;
    kp_pass_ctx ctx = {0};
    ctx.calib = calib;
    ctx.reference = m;
    ctx.original = m;
    ctx.target = t;
    ctx.seed = p->seed;
    ctx.threads = 1;
    ctx.acc_budget = p->max_drop;
    char why[256];
    snprintf(why, sizeof why, "%s", s->est.reason);
    memset(&s->est, 0, sizeof s->est);
    rc = pass->estimate ? pass->estimate(m, &params, &ctx, &s->est, err)
                        : kp_error_set(err, KP_EUNSUPPORTED, "%s has no estimate", pass->id);
    kp_params_free(&params);
    if (rc) return rc;
    corr c = learn(p, pass->id);
    if (c.n) {
        s->est.size_ratio *= c.size;
        s->est.latency_ratio *= c.lat;
        s->est.acc_drop += c.drop;
        if (s->est.acc_drop < 0) s->est.acc_drop = 0;
        (*corrected)++;
    }
    if (why[0]) {
        char r[256];
        snprintf(r, sizeof r, "%.100s: %.150s", why, s->est.reason);
        snprintf(s->est.reason, sizeof s->est.reason, "%s", r);
    }
    return 0;
}

/* Trial: applies the step to a copy of the model as it stands after the previous steps and
 * measures what the estimate would only guess: exact file size, latency (measured on this
 * machine for the host target, roofline ratio for others) and top-1 on the calibration
 * subset. Replaces the estimate's numbers, keeps its reason. On success *cur becomes the
 * result (the caller owns it). */
static int trial_step(const kp_project *p, kp_model **cur, const kp_target *t, const kp_pass *pass,
                      kp_plan_step *s, const kp_calib *calib, kp_error *err) {
    kp_params params;
    int rc = kp_params_parse(pass, s->params ? s->params : "", &params, err);
    if (rc) return rc;
    kp_model *next = kp_model_clone(*cur, err);
    if (!next) {
        kp_params_free(&params);
        return err->code;
    }
    kp_pass_ctx ctx = {0};
    ctx.calib = calib;
    ctx.reference = *cur;
    ctx.original = *cur;
    ctx.target = t;
    ctx.seed = p->seed;
    ctx.threads = 1;
    ctx.acc_budget = p->max_drop;
    rc = pass->apply(next, &params, &ctx, err);
    kp_params_free(&params);
    kp_verify v = {0};
    kp_verify_opts vo = {0};
    vo.seed = p->seed;
    if (!rc) rc = kp_verify_models(*cur, next, calib, &vo, &v, err);
    uint8_t *b0 = NULL, *b1 = NULL;
    size_t l0 = 0, l1 = 0;
    if (!rc) rc = kp_onnx_save_buffer(*cur, &b0, &l0, err);
    if (!rc) rc = kp_onnx_save_buffer(next, &b1, &l1, err);
    free(b0);
    free(b1);
    double r_lat = 1;
    if (!rc && !strcmp(t->id, "host")) {
        double t0 = 0, t1 = 0;
        rc = kp_verify_latency(*cur, 1, 30, 1, &t0, err);
        if (!rc) rc = kp_verify_latency(next, 1, 30, 1, &t1, err);
        if (!rc && t0 > 0) r_lat = t1 / t0;
    } else if (!rc) {
        kp_target_estimate e0, e1;
        rc = kp_measure_roofline(*cur, t, &e0, err);
        if (!rc) rc = kp_measure_roofline(next, t, &e1, err);
        if (!rc && e0.latency_s > 0) r_lat = e1.latency_s / e0.latency_s;
    }
    if (rc) {
        kp_model_free(next);
        return rc;
    }
    s->est.size_ratio = l0 ? (double)l1 / (double)l0 : 1;
    s->est.latency_ratio = r_lat;
    s->est.acc_drop = v.has_labels ? v.acc_ref - v.acc_cand : 100.0 * (1 - v.agree);
    if (s->est.acc_drop < 0) s->est.acc_drop = 0;
    s->est.confidence = 0.9;
    s->est.applicable = 1;
    corr c = learn(p, pass->id); /* what trials missed before (e.g. subset vs full test set) */
    if (c.n) {
        s->est.size_ratio *= c.size;
        s->est.latency_ratio *= c.lat;
        s->est.acc_drop += c.drop;
        if (s->est.acc_drop < 0) s->est.acc_drop = 0;
    }
    char r[256];
    snprintf(r, sizeof r, "%.180s (tried on %zu samples)", s->est.reason, v.n_samples);
    snprintf(s->est.reason, sizeof s->est.reason, "%s", r);
    kp_model_free(*cur);
    *cur = next;
    return 0;
}

int kp_planner_estimate(const kp_project *p, const kp_model *m, const kp_target *t,
                        const kp_pass *const *passes, size_t n_passes, kp_plan *plan,
                        kp_error *err) {
    int corrected = 0;
    for (size_t i = 0; i < plan->n; i++) {
        kp_plan_step *s = &plan->steps[i];
        const kp_pass *pass = kp_pass_find(passes, n_passes, s->pass_id);
        if (!pass) return kp_error_set(err, KP_ENOTFOUND, "no pass named \"%s\"", s->pass_id);
        s->est.reason[0] = 0;
        int rc = estimate_step(p, m, t, pass, s, NULL, &corrected, err);
        if (rc) return rc;
    }
    combine(plan);
    return 0;
}

void kp_plan_free(kp_plan *plan) {
    if (!plan) return;
    for (size_t i = 0; i < plan->n; i++) {
        free(plan->steps[i].pass_id);
        free(plan->steps[i].params);
    }
    free(plan->steps);
    memset(plan, 0, sizeof *plan);
}

int kp_planner_propose(const kp_project *p, const kp_model *m, const kp_target *t,
                       const kp_pass *const *passes, size_t n_passes, const kp_calib *calib,
                       kp_plan *out, kp_error *err) {
    memset(out, 0, sizeof *out);
    cand c[16];
    size_t nc = candidates(p, t, calib != NULL, c);
    out->steps = calloc(nc, sizeof *out->steps);
    if (!out->steps) return kp_error_set(err, KP_ENOMEM, "out of memory");
    int corrected = 0, rc = 0, tried = 0;
    char skipped[256] = "";
    /* Trials on a running copy when there is data and the model is small enough to apply
     * passes in seconds; otherwise the passes' own estimates. */
    kp_model *cur = NULL;
    if (calib && calib->n_samples > 0 && kp_planner_trial_ok(m)) cur = kp_model_clone(m, NULL);
    for (size_t i = 0; i < nc; i++) {
        const kp_pass *pass = kp_pass_find(passes, n_passes, c[i].id);
        if (!pass) continue; /* not registered in this build */
        if (pass->needs_data && !calib) continue;
        kp_plan_step *s = &out->steps[out->n];
        s->pass_id = strdup(pass->id);
        s->params = strdup(c[i].params);
        s->enabled = 1;
        snprintf(s->est.reason, sizeof s->est.reason, "%s", c[i].why);
        if (!s->pass_id || !s->params) {
            rc = kp_error_set(err, KP_ENOMEM, "out of memory");
            break;
        }
        out->n++;
        kp_error pe = {0};
        int erc = estimate_step(p, m, t, pass, s, calib, &corrected, &pe);
        if (!erc && s->est.applicable && cur) {
            kp_error te = {0};
            if (trial_step(p, &cur, t, pass, s, calib, &te) == 0)
                tried++;
            else if (te.code == KP_ECANCELLED)
                erc = te.code;
        }
        if (erc || !s->est.applicable) {
            /* Kept in the list, switched off, so the person sees why. */
            s->enabled = 0;
            if (pe.msg[0]) snprintf(s->est.reason, sizeof s->est.reason, "%.250s", pe.msg);
            if (strlen(skipped) + strlen(pass->id) + 3 < sizeof skipped) {
                strcat(skipped, skipped[0] ? ", " : "");
                strcat(skipped, pass->id);
            }
        }
    }
    kp_model_free(cur);
    if (rc) {
        kp_plan_free(out);
        return rc;
    }
    /* Back off the most accuracy-costly steps until the predicted drop fits the budget. */
    for (;;) {
        combine(out);
        if (out->total.acc_drop <= p->max_drop) break;
        size_t worst = out->n;
        for (size_t i = 0; i < out->n; i++)
            if (out->steps[i].enabled && out->steps[i].est.acc_drop > 0 &&
                (worst == out->n || out->steps[i].est.acc_drop > out->steps[worst].est.acc_drop))
                worst = i;
        if (worst == out->n) break;
        out->steps[worst].enabled = 0;
        char r[256];
        snprintf(r, sizeof r, "off: predicted -%.2f points breaks the %.2f budget; %.180s",
                 out->steps[worst].est.acc_drop, p->max_drop, out->steps[worst].est.reason);
        snprintf(out->steps[worst].est.reason, sizeof out->steps[worst].est.reason, "%s", r);
    }
    int n_hist = 0;
    for (size_t r = 0; r < p->n_runs; r++) n_hist += p->runs[r].status == 0;
    snprintf(out->note, sizeof out->note, "%s%s%s%s%s",
             tried ? "each step tried on the calibration subset; " : "",
             corrected ? "estimates corrected from earlier runs of this project" : "",
             corrected ? ""
                       : (n_hist ? "no earlier run used these passes"
                                 : "first plan: "
                                   "estimates only"),
             skipped[0] ? "; not applicable here: " : "", skipped);
    return 0;
}
