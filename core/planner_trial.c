/* Planner trials: a whole candidate pipeline applied to copies of the model, each step fitted on
 * the run's calibration subset and measured cumulatively against the original on disjoint
 * samples: exact file size, latency (measured here for the host target, roofline elsewhere),
 * top-1 drop and agreement. When only some steps change (a back-off), the steps before the
 * first change are re-used. */
#include "core/planner_priv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/measure.h"
#include "core/onnx_io.h"
#include "core/verify.h"

static int model_bytes(const kp_model *m, double *bytes, kp_error *err) {
    uint8_t *b = NULL;
    size_t l = 0;
    int rc = kp_onnx_save_buffer(m, &b, &l, err);
    free(b);
    if (!rc) *bytes = (double)l;
    return rc;
}

/* Host: median seconds at batch 1 (more runs when sub-millisecond); else roofline seconds. */
static int model_latency(const kp_pt_env *env, const kp_model *m, double *lat, kp_error *err) {
    if (env->host) {
        return kp_verify_latency_host(m, 30, 1, lat, err);
    }
    kp_target_estimate e;
    int rc = kp_measure_roofline(m, env->t, &e, err);
    if (!rc) *lat = e.latency_s;
    return rc;
}

int kp_pt_cancelled(const kp_pt_env *env, kp_error *err) {
    return env->cancel && *env->cancel ? kp_error_set(err, KP_ECANCELLED, "plan cancelled") : 0;
}

int kp_pt_env_init(kp_pt_env *env, kp_error *err) {
    env->host = !strcmp(env->t->id, "host");
    env->n_measure = env->measure ? env->measure->n_samples : 0;
    int rc = kp_pt_cancelled(env, err);
    if (!rc) rc = model_bytes(env->orig, &env->base_bytes, err);
    if (!rc) rc = model_latency(env, env->orig, &env->base_lat, err);
    if (rc) return rc;
    if (env->host) {
        env->base_target_ms = env->base_lat * 1e3;
    } else {
        kp_target_estimate e;
        rc = kp_measure_roofline(env->orig, env->t, &e, err);
        if (!rc) env->base_target_ms = e.latency_s * 1e3;
    }
    return rc;
}

double kp_pt_drop_se(double drop, double agree, size_t n) {
    if (!n || agree < 0) return 0;
    double q = 1 - agree, d = drop / 100;
    double v = q - d * d;
    return v > 0 ? 100 * sqrt(v / (double)n) : 0;
}

int kp_pt_last(const kp_pt_run *run) {
    for (size_t i = run->n_valid; i-- > 0;)
        if (run->st[i].ran) return (int)i;
    return -1;
}

static void step_clear(kp_pt_step *s) {
    kp_model_free(s->after);
    memset(s, 0, sizeof *s);
}

void kp_pt_run_clear(kp_pt_run *run) {
    for (size_t i = 0; i < KP_PT_MAX_STEPS; i++) step_clear(&run->st[i]);
    memset(run, 0, sizeof *run);
}

static int same_step(const kp_pt_cfg *a, const kp_pt_cfg *b, size_t i) {
    return a->pass[i] == b->pass[i] && a->on[i] == b->on[i] && !strcmp(a->params[i], b->params[i]);
}

/* Applies step i of cfg to prev and measures the result into s. */
static int run_step(const kp_pt_env *env, const kp_pt_cfg *cfg, size_t i, const kp_model *prev,
                    kp_pt_step *s, kp_error *err) {
    const kp_pass *pass = cfg->pass[i];
    kp_params params;
    int rc = kp_params_parse(pass, cfg->params[i], &params, err);
    if (rc) return rc;
    kp_model *next = kp_model_clone(prev, err);
    if (!next) {
        kp_params_free(&params);
        return err->code ? err->code : KP_ENOMEM;
    }
    kp_pass_ctx ctx = {0};
    ctx.calib = env->fit;
    ctx.reference = prev;
    ctx.original = env->orig; /* reconstruct fits to the model before the whole pipeline */
    ctx.target = env->t;
    ctx.seed = env->p->seed;
    ctx.threads = 1;
    ctx.acc_budget = env->p->max_drop;
    ctx.cancel = env->cancel;
    rc = pass->apply(next, &params, &ctx, err);
    kp_params_free(&params);
    if (!rc) rc = kp_pt_cancelled(env, err);
    if (!rc) rc = kp_graph_validate(next->graph, err);
    kp_verify v = {0};
    kp_verify_opts vo = {0};
    vo.seed = env->p->seed;
    vo.cancel = env->cancel;
    if (!rc) rc = kp_verify_models(env->orig, next, env->measure, &vo, &v, err);
    if (!rc) rc = kp_pt_cancelled(env, err);
    if (!rc) rc = model_bytes(next, &s->bytes, err);
    if (!rc) rc = model_latency(env, next, &s->lat, err);
    if (rc) {
        kp_model_free(next);
        return rc;
    }
    s->agree = v.agree >= 0 ? v.agree : 1;
    s->cum_drop = v.has_labels ? v.acc_ref - v.acc_cand : 100.0 * (1 - s->agree);
    s->after = next;
    s->ran = 1;
    return 0;
}

int kp_pt_measure(const kp_pt_env *env, kp_pt_run *run, kp_pt_cfg *cfg, kp_error *err) {
    size_t k = 0;
    while (k < run->n_valid && k < cfg->n && same_step(&run->cfg, cfg, k)) k++;
    for (size_t i = k; i < KP_PT_MAX_STEPS; i++) step_clear(&run->st[i]);
    run->cfg = *cfg;
    run->n_valid = k;
    for (size_t i = k; i < cfg->n; i++) {
        kp_pt_step *s = &run->st[i];
        int last = kp_pt_last(run);
        const kp_model *prev = last >= 0 ? run->st[last].after : env->orig;
        int rc = kp_pt_cancelled(env, err);
        if (rc) return rc;
        if (cfg->on[i]) {
            kp_error se = {0};
            rc = run_step(env, cfg, i, prev, s, &se);
            /* a pass may report a cancel in its own words: the flag decides */
            if (rc && env->cancel && *env->cancel) return kp_pt_cancelled(env, err);
            if (rc == KP_ECANCELLED || rc == KP_ENOMEM) {
                *err = se;
                return rc;
            }
            if (rc) { /* switched off, with the reason; the pipeline goes on without it */
                step_clear(s);
                s->failed = 1;
                snprintf(s->msg, sizeof s->msg, "%.250s", se.msg);
                cfg->on[i] = run->cfg.on[i] = 0;
            }
        }
        run->n_valid = i + 1;
    }
    return 0;
}

int kp_pt_latency_ratio(const kp_pt_env *env, const kp_model *m, double *ratio, kp_error *err) {
    if (!env->host) {
        double l = 0;
        int rc = model_latency(env, m, &l, err);
        if (!rc) *ratio = env->base_lat > 0 ? l / env->base_lat : 1;
        return rc;
    }
    double r[5];
    int n = 0;
    for (int round = 0; round < 5; round++) {
        double a = 0, b = 0;
        int rc = kp_pt_cancelled(env, err);
        if (!rc) rc = model_latency(env, env->orig, &a, err);
        if (!rc) rc = model_latency(env, m, &b, err);
        if (rc) return rc;
        if (a > 0) r[n++] = b / a;
    }
    for (int i = 1; i < n; i++) /* insertion sort, n <= 5 */
        for (int j = i; j > 0 && r[j] < r[j - 1]; j--) {
            double t = r[j];
            r[j] = r[j - 1];
            r[j - 1] = t;
        }
    *ratio = n ? r[n / 2] : 1;
    return 0;
}
