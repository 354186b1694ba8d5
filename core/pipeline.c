#include "core/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/exec.h"

static const char *const STATUS_NAMES[] = {
    [KP_STEP_PENDING] = "pending",     [KP_STEP_OK] = "ok",
    [KP_STEP_CACHED] = "cached",       [KP_STEP_FAILED] = "failed",
    [KP_STEP_DISCARDED] = "discarded", [KP_STEP_CANCELLED] = "cancelled",
};
_Static_assert(sizeof STATUS_NAMES / sizeof *STATUS_NAMES == KP_STEP_STATUS_COUNT,
               "a name for every step status");

const char *kp_step_status_name(kp_step_status s) {
    return (unsigned)s < KP_STEP_STATUS_COUNT ? STATUS_NAMES[s] : "?";
}

/* What a pass's ctx.user points at: the pipeline's callbacks and the step they speak for. */
typedef struct step_user {
    const kp_pipeline_opts *o;
    size_t step;
} step_user;

static void fwd_progress(void *user, double f, const char *what) {
    step_user *u = user;
    if (u->o->progress) u->o->progress(u->o->user, u->step, f, what);
}

static void fwd_note(void *user, const char *msg) {
    step_user *u = user;
    if (u->o->note) u->o->note(u->o->user, u->step, msg);
}

static int cancelled(const kp_pipeline_opts *o) {
    return o->cancel && *o->cancel;
}

/* Applies step s to a copy of cur and checks it; returns the owned result, or NULL with r's
 * status, code and error filled. */
static kp_model *apply_checked(const kp_model *orig, const kp_model *cur, const kp_pipeline_step *s,
                               size_t i, const kp_pipeline_opts *o, kp_step_result *r) {
    kp_error pe = {0};
    step_user u = {o, i};
    kp_pass_ctx ctx = {0};
    ctx.calib = o->calib;
    ctx.reference = cur;
    ctx.original = orig; /* reconstruct fits layers to the user's model */
    ctx.target = o->target;
    ctx.cancel = o->cancel;
    ctx.seed = o->seed;
    ctx.threads = o->threads;
    ctx.acc_budget = o->acc_budget;
    ctx.user = &u;
    ctx.progress = fwd_progress;
    ctx.note = fwd_note;
    kp_model *next = kp_model_clone(cur, &pe);
    int rc = next ? s->pass->apply(next, s->params, &ctx, &pe) : pe.code;
    if (!rc) rc = kp_graph_validate(next->graph, &pe);
    if (!rc) {
        char **miss = NULL;
        size_t nm = 0;
        rc = kp_exec_missing_ops(next, &miss, &nm, &pe);
        if (!rc && nm)
            rc = kp_error_set(&pe, KP_EUNSUPPORTED, "the result uses ops our engine lacks: %s%s",
                              miss[0], nm > 1 ? ", ..." : "");
        kp_strv_free(miss, nm);
    }
    if (!rc) {
        kp_verify_opts vo = o->verify;
        vo.cancel = o->cancel;
        rc = kp_verify_models(cur, next, o->verify_data, &vo, &r->verify, &pe);
        r->verified = rc == 0;
    }
    double tol = o->lossless_tol > 0 ? o->lossless_tol : 1e-4;
    if (!rc && s->pass->lossless && r->verify.max_rel > tol) {
        kp_model_free(next);
        r->status = KP_STEP_DISCARDED;
        snprintf(r->error, sizeof r->error,
                 "lossless pass %s changed the outputs (max relative error %.3g > %.3g)",
                 s->pass->id, r->verify.max_rel, tol);
        return NULL;
    }
    if (rc) {
        kp_model_free(next);
        if (!pe.msg[0]) snprintf(pe.msg, sizeof pe.msg, "%s", kp_strerror(rc));
        r->code = rc;
        r->status = (rc == KP_ECANCELLED || cancelled(o)) ? KP_STEP_CANCELLED : KP_STEP_FAILED;
        snprintf(r->error, sizeof r->error, "%s", pe.msg);
        return NULL;
    }
    return next;
}

/* Measures a kept model into r->metrics. */
static int measure(const kp_model *m, const kp_pipeline_opts *o, kp_step_result *r, kp_error *err) {
    kp_measure_opts mo = *o->measure;
    mo.cancel = o->cancel;
    /* The check already scored every sample of the evaluation set: do not run it again. */
    int from_check =
        r->verified && mo.evalset && mo.evalset == o->verify_data && o->verify.max_batches == 0;
    if (from_check) mo.evalset = NULL;
    int rc = kp_measure_model(m, &mo, &r->metrics, err);
    if (!rc && from_check && r->verify.has_labels) r->metrics.top1 = r->verify.acc_cand;
    if (!rc) r->measured = 1;
    return rc;
}

int kp_pipeline_run(const kp_model *orig, const kp_pipeline_step *steps, size_t n_steps,
                    const kp_pipeline_opts *o, kp_pipeline_out *out, kp_error *err) {
    memset(out, 0, sizeof *out);
    out->steps = calloc(n_steps ? n_steps : 1, sizeof *out->steps);
    if (!out->steps) return kp_error_set(err, KP_ENOMEM, "out of memory");
    out->n_steps = n_steps;
    if (!(out->model = kp_model_clone(orig, err))) return err->code ? err->code : KP_ENOMEM;
    kp_metrics_row prev = {0};
    prev.top1 = -1;
    if (o->before) prev = *o->before;
    int rc = 0;
    for (size_t i = 0; i < n_steps && !rc; i++) {
        kp_step_result *r = &out->steps[i];
        r->metrics = prev;
        if (cancelled(o)) {
            rc = kp_error_set(err, KP_ECANCELLED, "cancelled");
            break;
        }
        if (o->step_start) o->step_start(o->user, i, steps[i].pass);
        kp_model *next = o->cache_get ? o->cache_get(o->user, i) : NULL;
        if (next) {
            r->status = KP_STEP_CACHED;
        } else if ((next = apply_checked(orig, out->model, &steps[i], i, o, r))) {
            r->status = KP_STEP_OK;
            if (o->cache_put) o->cache_put(o->user, i, next);
        }
        if (next && o->measure) {
            if (o->progress) o->progress(o->user, i, 0.95, "measuring");
            if ((rc = measure(next, o, r, err))) {
                r->metrics = prev;
                kp_model_free(next);
                next = NULL;
                r->code = rc;
                r->status = rc == KP_ECANCELLED ? KP_STEP_CANCELLED : KP_STEP_FAILED;
                snprintf(r->error, sizeof r->error, "measuring: %.1000s", err->msg);
            }
        }
        if (next) {
            kp_model_free(out->model);
            out->model = next;
            prev = r->metrics;
        }
        if (r->status == KP_STEP_CANCELLED && !rc)
            rc = kp_error_set(err, KP_ECANCELLED, "cancelled");
        if (!rc && o->step_done) rc = o->step_done(o->user, i, out->model, r, err);
    }
    return rc;
}

void kp_pipeline_out_free(kp_pipeline_out *out) {
    if (!out) return;
    free(out->steps);
    kp_model_free(out->model);
    memset(out, 0, sizeof *out);
}
