/* The planner. Strategy, in order of the person's goals:
 *   - a lossless clean-up ("fold") always comes first when it changes anything;
 *   - accuracy first: nothing lossy unless its estimated drop is negligible (< 0.05 points);
 *   - size first: int8 (calibrated when there is data) on targets with int8, then weight
 *     sharing, then pruning when the model still does not fit the target's storage or RAM;
 *   - latency first: float16 on targets whose fp16 rate beats fp32, int8 where the target's
 *     int8 rate beats fp32 by 1.5x, else structured channel pruning with reconstruction.
 * With data, every candidate pipeline is measured whole and backed off where it breaks the
 * budget (planner_backoff.c, planner_trial.c); the prediction for the chosen plan is its
 * measured trial. Without data each pass's own estimate is used and steps are switched off,
 * most accuracy-costly first, until the predicted drop fits. Estimates are corrected by what
 * earlier runs of this project measured (per pass id). Passes are matched by id; core still
 * never links a concrete pass. */
#include "core/planner.h"

#include "core/planner_priv.h"

#include "core/measure.h"
#include "core/verify.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/onnx_io.h"

typedef kp_pt_alt alt;

#define MAX_ALTS  8
#define MAX_STEPS KP_PT_MAX_STEPS

static int target_int8_fast(const kp_target *t) {
    return (t->precisions & KP_PREC_INT8) && t->int8_gops >= 1.5 * t->fp32_gflops;
}

static int target_fp16_fast(const kp_target *t) {
    return (t->precisions & KP_PREC_FP16) && t->fp16_gflops >= 1.2 * t->fp32_gflops;
}

static int has_goal(const kp_project *p, kp_goal g) {
    return p->goals[0] == g || p->goals[1] == g;
}

#define FOLD                                                                                       \
    { "fold", "", "lossless clean-up" }
#define QSTATIC                                                                                    \
    { "quant-static", "method=percentile", "int8 weights and activations" }
#define QDYN                                                                                       \
    { "quant-dynamic", "", "int8 weights" }
#define PCHAN                                                                                      \
    { "prune-channels", "ratio=0.25", "a quarter fewer channels, less work" }
#define LOWRANK                                                                                    \
    { "low-rank", "", "thin layers from truncated SVD" }
#define PRUNE                                                                                      \
    { "prune", "sparsity=0.5", "half the weights are zero, stored sparse" }
#define PRUNE80                                                                                    \
    { "prune", "sparsity=0.8", "4 in 5 weights are zero, stored sparse" }
#define CLUSTER16                                                                                  \
    { "cluster", "k=16", "16 shared values per layer" }
#define CLUST256                                                                                   \
    { "cluster", "k=256", "256 shared values per layer" }
#define RECON                                                                                      \
    { "reconstruct", "", "refit layers to the original outputs" }
#define FP16                                                                                       \
    { "fp16", "", "float16 weights and compute" }

static size_t alternatives(const kp_project *p, const kp_target *t, int have_data, alt *a) {
    size_t n = 0;
    kp_goal g0 = p->goals[0] ? p->goals[0] : KP_GOAL_SIZE;
    int int8 = (t->precisions & KP_PREC_INT8) != 0;
    if (g0 == KP_GOAL_ACCURACY) {
        a[n++] = (alt){"lossless only", 1, {FOLD}};
        if (has_goal(p, KP_GOAL_SIZE))
            a[n++] = (alt){"lossless + 256 shared values", 2, {FOLD, CLUST256}};
        return n;
    }
    if (g0 == KP_GOAL_SIZE) {
        if (int8 && have_data) {
            a[n++] = (alt){"int8", 2, {FOLD, QSTATIC}};
            a[n++] = (alt){"fewer channels + int8", 3, {FOLD, PCHAN, QSTATIC}};
        } else if (int8) {
            a[n++] = (alt){"int8 weights", 2, {FOLD, QDYN}};
        }
        if ((t->precisions & KP_PREC_FP16) && !int8) a[n++] = (alt){"float16", 2, {FOLD, FP16}};
        a[n++] = (alt){"low rank + sharing", 4, {FOLD, LOWRANK, CLUSTER16, RECON}};
        a[n++] = (alt){"pruning + sharing", 4, {FOLD, PRUNE, CLUSTER16, RECON}};
        a[n++] = (alt){"deep pruning + sharing", 5, {FOLD, PRUNE80, RECON, CLUSTER16, RECON}};
        a[n++] = (alt){"lossless only", 1, {FOLD}}; /* what stays when nothing else fits */
        return n;
    }
    /* latency first; the lossless clean-up alone is the baseline the others must beat */
    a[n++] = (alt){"lossless only", 1, {FOLD}};
    if (target_fp16_fast(t) && (t->cls == KP_TARGET_GPU || !target_int8_fast(t)))
        a[n++] = (alt){"float16", 2, {FOLD, FP16}};
    /* GPUs: float16 is what their runtimes run fast without per-model int8 engine builds. */
    if (target_int8_fast(t) && have_data && t->cls != KP_TARGET_GPU) {
        a[n++] = (alt){"int8", 2, {FOLD, QSTATIC}};
        a[n++] = (alt){"fewer channels + int8", 3, {FOLD, PCHAN, QSTATIC}};
    }
    a[n++] = (alt){"fewer channels", 3, {FOLD, PCHAN, RECON}};
    a[n++] = (alt){"low rank", 2, {FOLD, LOWRANK}};
    if (has_goal(p, KP_GOAL_SIZE) && !target_int8_fast(t))
        a[n++] = (alt){"fewer channels + sharing", 4, {FOLD, PCHAN, CLUST256, RECON}};
    return n;
}

/* Correction factors learned from earlier runs: measured/predicted for size and latency
 * ratios, and measured-predicted for the accuracy drop, averaged over runs with this pass. The
 * prediction compared is the raw one (any correction it already carried is taken out), so
 * repeated runs do not compound corrections. */
kp_pt_corr kp_pt_learn(const kp_project *p, const char *pass_id) {
    kp_pt_corr c = {1, 1, 0, 0};
    double ls = 0, ll = 0, dd = 0;
    int nd = 0;
    for (size_t r = 0; r < p->n_runs; r++) {
        const kp_run_record *rr = &p->runs[r];
        if (rr->status || !rr->step_after) continue;
        const kp_metrics_row *prev = &rr->before;
        /* The accuracy part is learned only from a run whose whole-plan miss is larger than
         * sampling noise explains (2 standard errors of trial and holdout together); a smaller
         * miss teaches "no correction". Size and latency are measured, not sampled. */
        int acc_sig = 1;
        const kp_plan_info *pi = &rr->predicted;
        if (pi->total.size_ratio > 0 && pi->acc_se > 0 && pi->trial_samples > 0 &&
            rr->eval_samples > 0 && rr->before.top1 >= 0 && rr->after.top1 >= 0) {
            double se_h = pi->acc_se * sqrt((double)pi->trial_samples / (double)rr->eval_samples);
            double miss = (rr->before.top1 - rr->after.top1) - pi->total.acc_drop;
            acc_sig = fabs(miss) > 2 * sqrt(pi->acc_se * pi->acc_se + se_h * se_h);
        }
        for (size_t k = 0; k < rr->n_steps; k++) {
            const kp_metrics_row *m = &rr->step_after[k];
            const kp_plan_step *st = &rr->steps[k];
            const kp_estimate *e = &st->est;
            double cs = st->corrected && st->corr_size > 0 ? st->corr_size : 1;
            double cl = st->corrected && st->corr_lat > 0 ? st->corr_lat : 1;
            double cd = st->corrected ? st->corr_drop : 0;
            if (!strcmp(st->pass_id, pass_id) && e->size_ratio > 0 && prev->file_bytes > 0 &&
                m->file_bytes > 0 && e->latency_ratio > 0 && prev->host_latency_ms > 0 &&
                m->host_latency_ms > 0) {
                ls += log((m->file_bytes / prev->file_bytes) / (e->size_ratio / cs));
                ll += log((m->host_latency_ms / prev->host_latency_ms) / (e->latency_ratio / cl));
                if (m->top1 >= 0 && prev->top1 >= 0) {
                    if (acc_sig) dd += (prev->top1 - m->top1) - (e->acc_drop - cd);
                    nd++;
                }
                c.n++;
            }
            prev = m;
        }
    }
    if (c.n) {
        c.size = exp(ls / c.n);
        c.lat = exp(ll / c.n);
        c.drop = nd ? dd / nd : 0;
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
    snprintf(t->reason, sizeof t->reason, "%.2fx smaller, %.2fx the latency, %+.2f points of top-1",
             t->size_ratio > 0 ? 1 / t->size_ratio : 0, t->latency_ratio, -t->acc_drop);
}

/* Trials only for models that apply and run in seconds. */
static int kp_planner_trial_ok(const kp_model *m) {
    size_t bytes = 0;
    for (size_t i = 0; i < m->graph->n_inits; i++) bytes += m->graph->inits[i]->nbytes;
    return bytes < (64u << 20);
}

int kp_pt_pass_estimate(const kp_project *p, const kp_model *m, const kp_target *t,
                        const kp_pass *pass, const char *params_text, const kp_calib *calib,
                        const volatile int *cancel, kp_estimate *est, kp_error *err) {
    kp_params params;
    int rc = kp_params_parse(pass, params_text ? params_text : "", &params, err);
    if (rc) return rc;
    kp_pass_ctx ctx = {0};
    ctx.calib = calib;
    ctx.reference = m;
    ctx.original = m;
    ctx.target = t;
    ctx.seed = p->seed;
    ctx.threads = 1;
    ctx.acc_budget = p->max_drop;
    ctx.cancel = cancel;
    memset(est, 0, sizeof *est);
    rc = pass->estimate ? pass->estimate(m, &params, &ctx, est, err)
                        : kp_error_set(err, KP_EUNSUPPORTED, "%s has no estimate", pass->id);
    kp_params_free(&params);
    return rc;
}

/* The pass's estimate for step s, corrected from history (no trial). */
static int estimate_step(const kp_project *p, const kp_model *m, const kp_target *t,
                         const kp_pass *pass, kp_plan_step *s, const kp_calib *calib,
                         const volatile int *cancel, int *corrected, kp_error *err) {
    char why[256];
    snprintf(why, sizeof why, "%s", s->est.reason);
    int rc = kp_pt_pass_estimate(p, m, t, pass, s->params, calib, cancel, &s->est, err);
    if (rc) return rc;
    kp_pt_corr c = kp_pt_learn(p, pass->id);
    s->corrected = 0;
    s->corr_size = s->corr_lat = 1;
    s->corr_drop = 0;
    if (c.n) {
        s->est.size_ratio *= c.size;
        s->est.latency_ratio *= c.lat;
        s->est.acc_drop += c.drop;
        s->corrected = 1;
        s->corr_size = c.size;
        s->corr_lat = c.lat;
        s->corr_drop = c.drop;
        (*corrected)++;
    }
    if (why[0]) {
        char r[256];
        snprintf(r, sizeof r, "%.100s: %.150s", why, s->est.reason);
        snprintf(s->est.reason, sizeof s->est.reason, "%s", r);
    }
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
        int rc = estimate_step(p, m, t, pass, s, NULL, NULL, &corrected, err);
        if (rc) return rc;
    }
    combine(plan);
    kp_plan_info_clear(&plan->info);
    plan->info.total = plan->total;
    plan->info.meets = plan->total.acc_drop <= p->max_drop + 1e-9;
    return 0;
}

void kp_plan_free(kp_plan *plan) {
    if (!plan) return;
    for (size_t i = 0; i < plan->n; i++) {
        free(plan->steps[i].pass_id);
        free(plan->steps[i].params);
    }
    free(plan->steps);
    kp_plan_info_clear(&plan->info);
    memset(plan, 0, sizeof *plan);
}

int kp_plan_adopt(kp_project *p, const kp_plan *plan, kp_error *err) {
    kp_plan_info info;
    kp_plan_step *steps = calloc(plan->n ? plan->n : 1, sizeof *steps);
    int rc = steps ? kp_plan_info_copy(&info, &plan->info) : KP_ENOMEM;
    for (size_t i = 0; !rc && i < plan->n; i++) {
        steps[i] = plan->steps[i];
        steps[i].pass_id = plan->steps[i].pass_id ? strdup(plan->steps[i].pass_id) : NULL;
        steps[i].params = strdup(plan->steps[i].params ? plan->steps[i].params : "");
        if ((plan->steps[i].pass_id && !steps[i].pass_id) || !steps[i].params) rc = KP_ENOMEM;
    }
    if (rc) {
        for (size_t i = 0; steps && i < plan->n; i++) free(steps[i].pass_id), free(steps[i].params);
        free(steps);
        if (steps) kp_plan_info_clear(&info);
        return kp_error_set(err, KP_ENOMEM, "out of memory adopting the plan");
    }
    for (size_t i = 0; i < p->n_plan; i++) free(p->plan[i].pass_id), free(p->plan[i].params);
    free(p->plan);
    p->plan = steps;
    p->n_plan = plan->n;
    kp_plan_info_clear(&p->plan_info);
    p->plan_info = info;
    return 0;
}

/* Without trials: the passes' own estimates, then the most accuracy-costly steps switched off
 * until the predicted drop fits the budget. */
static int plan_alt_estimated(const kp_project *p, const kp_model *m, const kp_target *t,
                              const kp_pass *const *passes, size_t n_passes, const kp_calib *calib,
                              const alt *al, const volatile int *cancel, kp_plan *out,
                              int *corrected, kp_error *err) {
    memset(out, 0, sizeof *out);
    out->steps = calloc(MAX_STEPS, sizeof *out->steps);
    if (!out->steps) return kp_error_set(err, KP_ENOMEM, "out of memory");
    for (size_t i = 0; i < al->n; i++) {
        const kp_pass *pass = kp_pass_find(passes, n_passes, al->c[i].id);
        if (!pass) continue; /* not registered in this build */
        if (pass->needs_data && !calib) continue;
        kp_plan_step *s = &out->steps[out->n];
        s->pass_id = strdup(pass->id);
        s->params = strdup(al->c[i].params);
        s->enabled = 1;
        snprintf(s->est.reason, sizeof s->est.reason, "%s", al->c[i].why);
        if (!s->pass_id || !s->params) return kp_error_set(err, KP_ENOMEM, "out of memory");
        out->n++;
        kp_error pe = {0};
        int erc = estimate_step(p, m, t, pass, s, calib, cancel, corrected, &pe);
        if (cancel && *cancel) return kp_error_set(err, KP_ECANCELLED, "plan cancelled");
        if (erc == KP_ENOMEM) return kp_error_set(err, KP_ENOMEM, "out of memory");
        if (erc || !s->est.applicable) {
            s->enabled = 0; /* kept in the list, switched off, so the person sees why */
            if (pe.msg[0]) snprintf(s->est.reason, sizeof s->est.reason, "%.250s", pe.msg);
        }
    }
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
    int lossy_before = 0;
    for (size_t i = 0; i < out->n; i++) {
        kp_plan_step *s = &out->steps[i];
        const kp_pass *pass = kp_pass_find(passes, n_passes, s->pass_id);
        if (s->enabled && !strcmp(s->pass_id, "reconstruct") && !lossy_before) {
            s->enabled = 0;
            snprintf(s->est.reason, sizeof s->est.reason, "off: no lossy step before it to refit");
        } else if (s->enabled && pass && !pass->lossless) {
            lossy_before = 1;
        }
    }
    combine(out);
    out->info.total = out->total;
    out->info.meets = out->total.acc_drop <= p->max_drop + 1e-9;
    return 0;
}

/* "fold + quant-static" from the enabled steps. */
static void plan_name(const kp_plan *pl, char *buf, size_t cap) {
    buf[0] = 0;
    for (size_t i = 0; i < pl->n; i++)
        if (pl->steps[i].enabled && strlen(buf) + strlen(pl->steps[i].pass_id) + 4 < cap) {
            if (buf[0]) strcat(buf, " + ");
            strcat(buf, pl->steps[i].pass_id);
        }
    if (!buf[0]) snprintf(buf, cap, "nothing");
}

static double goal_value(kp_goal g, const kp_estimate *e) {
    switch (g) {
    case KP_GOAL_LATENCY: return e->latency_ratio;
    case KP_GOAL_ACCURACY: return e->acc_drop;
    default: return e->size_ratio;
    }
}

/* 1 when a is better than b: meeting every budget first (when neither does, the one that
 * misses by less), then the first goal (2% counts as a tie), then the second goal, then the
 * accuracy cost. */
static int better(const kp_project *p, const kp_plan *a, const kp_plan *b, double ex_a,
                  double ex_b) {
    int ia = a->info.meets, ib = b->info.meets;
    if (ia != ib) return ia;
    if (!ia) { /* the accuracy budget first, then whichever misses the rest by less */
        int aa = a->total.acc_drop + KP_PT_SE_MARGIN * a->info.acc_se <= p->max_drop + 1e-9;
        int ab = b->total.acc_drop + KP_PT_SE_MARGIN * b->info.acc_se <= p->max_drop + 1e-9;
        if (aa != ab) return aa;
        /* Missing a budget the person set: whichever misses by less. Missing only the
         * target's RAM or flash (no plan fits): the goals decide, and the note says by how
         * much it does not fit. */
        if ((p->size_budget_bytes > 0 || p->latency_budget_ms > 0) && fabs(ex_a - ex_b) > 1e-9)
            return ex_a < ex_b;
    }
    kp_goal g0 = p->goals[0] ? p->goals[0] : KP_GOAL_SIZE;
    double va = goal_value(g0, &a->total), vb = goal_value(g0, &b->total);
    double tie = g0 == KP_GOAL_ACCURACY ? 0.05 : 0.02 * vb;
    if (va < vb - tie) return 1;
    if (va > vb + tie) return 0;
    /* A tie on the first goal: the second goal decides, else the smaller accuracy cost (a
     * couple of percent of latency is not worth risking the budget for). */
    if (p->goals[1]) return goal_value(p->goals[1], &a->total) < goal_value(p->goals[1], &b->total);
    if (fabs(a->total.acc_drop - b->total.acc_drop) > 0.05)
        return a->total.acc_drop < b->total.acc_drop;
    return va < vb;
}

/* Marks the tried pipelines no other one dominates on size, latency and accuracy. */
static void mark_pareto(kp_plan_info *info) {
    for (size_t i = 0; i < info->n_tried; i++) {
        kp_tried *a = &info->tried[i];
        a->pareto = 1;
        for (size_t j = 0; j < info->n_tried && a->pareto; j++) {
            const kp_tried *b = &info->tried[j];
            if (j == i) continue;
            int le = b->size_ratio <= a->size_ratio && b->latency_ratio <= a->latency_ratio &&
                     b->acc_drop <= a->acc_drop;
            int lt = b->size_ratio < a->size_ratio || b->latency_ratio < a->latency_ratio ||
                     b->acc_drop < a->acc_drop;
            if (le && (lt || j < i)) a->pareto = 0; /* equal twins: the first one stays */
        }
    }
}

int kp_planner_propose_split(const kp_project *p, const kp_model *m, const kp_target *t,
                             const kp_pass *const *passes, size_t n_passes, const kp_calib *fit,
                             const kp_calib *measure, kp_plan *out, kp_error *err) {
    return kp_planner_propose_split_opts(p, m, t, passes, n_passes, fit, measure, NULL, out, err);
}

int kp_planner_propose_split_opts(const kp_project *p, const kp_model *m, const kp_target *t,
                                  const kp_pass *const *passes, size_t n_passes,
                                  const kp_calib *fit, const kp_calib *measure,
                                  const kp_planner_opts *opts, kp_plan *out, kp_error *err) {
    memset(out, 0, sizeof *out);
    const volatile int *cancel = opts ? opts->cancel : NULL;
    alt alts[MAX_ALTS];
    size_t na = alternatives(p, t, fit != NULL, alts);
    /* Trials when there is data to measure on and the model applies passes in seconds;
     * otherwise the passes' own estimates. */
    int trials = fit && measure && measure->n_samples > 0 && kp_planner_trial_ok(m);
    kp_pt_env env = {0};
    env.p = p;
    env.orig = m;
    env.t = t;
    env.fit = fit;
    env.measure = measure;
    env.cancel = cancel;
    int rc = trials ? kp_pt_env_init(&env, err) : kp_pt_cancelled(&env, err);
    if (rc) return rc;
    kp_plan_info tried = {0};
    int corrected = 0;
    double best_ex = 0, t0 = kp_pt_now();
    size_t chosen = (size_t)-1;
    char summary[240] = "";
    for (size_t i = 0; i < na && !rc; i++) {
        kp_plan cand_plan;
        memset(&cand_plan, 0, sizeof cand_plan);
        size_t idx = 0;
        double ex = 0;
        if ((rc = kp_pt_cancelled(&env, err))) break;
        /* Time budget: about a minute per candidate, four minutes in all. */
        double deadline = kp_pt_now() + 60;
        if (deadline > t0 + 240) deadline = t0 + 240;
        rc = trials ? kp_pt_plan_alt(&env, passes, n_passes, &alts[i], deadline, &cand_plan, &tried,
                                     &idx, &ex, &corrected, err)
                    : plan_alt_estimated(p, m, t, passes, n_passes, fit, &alts[i], cancel,
                                         &cand_plan, &corrected, err);
        if (rc) {
            kp_plan_free(&cand_plan);
            break;
        }
        char part[160], name[120];
        kp_goal g0 = p->goals[0] ? p->goals[0] : KP_GOAL_SIZE;
        plan_name(&cand_plan, name, sizeof name);
        snprintf(part, sizeof part, "%s %.3g%s", name, goal_value(g0, &cand_plan.total),
                 g0 == KP_GOAL_ACCURACY ? "pt" : "x");
        /* whole entries only, each once (two strategies may end on the same pipeline) */
        if (!strstr(summary, part)) {
            if (strlen(summary) + strlen(part) + 8 < sizeof summary) {
                if (summary[0]) strcat(summary, ", ");
                strcat(summary, part);
            } else if (!strstr(summary, ", ...")) {
                strcat(summary, ", ...");
            }
        }
        if (i == 0 || better(p, &cand_plan, out, ex, best_ex)) {
            kp_plan_free(out);
            *out = cand_plan;
            best_ex = ex;
            chosen = trials ? idx : (size_t)-1;
        } else {
            kp_plan_free(&cand_plan);
        }
    }
    if (rc) {
        kp_plan_info_clear(&tried);
        kp_plan_free(out);
        return rc;
    }
    /* The chosen plan's info keeps its prediction; the tried list covers every candidate. */
    char *miss = out->info.note;
    out->info.note = NULL;
    out->info.n_tried = tried.n_tried;
    out->info.tried = tried.tried;
    if (chosen < tried.n_tried) out->info.tried[chosen].chosen = 1;
    mark_pareto(&out->info);
    int n_hist = 0;
    for (size_t r = 0; r < p->n_runs; r++) n_hist += p->runs[r].status == 0;
    char cname[120];
    plan_name(out, cname, sizeof cname);
    char how[64];
    if (trials)
        snprintf(how, sizeof how, "tried on %zu samples (%zu pipelines measured)", env.n_measure,
                 tried.n_tried);
    else
        snprintf(how, sizeof how, "estimated");
    snprintf(out->note, sizeof out->note, "chose \"%s\" of %zu pipelines %s (%s); %s", cname, na,
             how, summary,
             corrected ? "estimates corrected from earlier runs of this project"
             : n_hist  ? "no earlier run used these passes"
                       : "first plan: no run history yet");
    if (!out->info.meets) {
        char sh[512];
        snprintf(sh, sizeof sh, "no plan meets every budget; the closest is kept: %.400s",
                 miss ? miss : "the accuracy budget is missed");
        free(miss);
        miss = strdup(sh);
        if (!miss) {
            kp_plan_free(out);
            return kp_error_set(err, KP_ENOMEM, "out of memory");
        }
    } else {
        free(miss);
        miss = strdup(out->note);
    }
    out->info.note = miss;
    return 0;
}
