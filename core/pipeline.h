/* The compression pipeline: passes applied in order, each on a copy of the model before it,
 * checked numerically against that model (core/verify.h), measured (core/measure.h), with
 * progress and cancel. Shared by `kompress compress` (tui/cmd_compress.c) and the job runner
 * (core/job.c); it never prints. A failed or discarded step leaves the model as it was and the
 * pipeline goes on with the next step; cancel stops it and keeps what was done. */
#ifndef KP_PIPELINE_H
#define KP_PIPELINE_H

#include <stddef.h>

#include "core/measure.h"
#include "core/pass.h"
#include "core/project.h"
#include "core/verify.h"

typedef struct kp_pipeline_step {
    const kp_pass *pass;     /* borrowed */
    const kp_params *params; /* borrowed, already validated (kp_params_parse) */
} kp_pipeline_step;

typedef enum kp_step_status {
    KP_STEP_PENDING = 0, /* not reached (a step before it was cancelled, or an error ended it) */
    KP_STEP_OK,          /* applied, verified and kept */
    KP_STEP_CACHED,      /* taken from the caller's cache (not re-applied nor re-verified) */
    KP_STEP_FAILED,      /* apply, validation, op support or verification failed: not kept */
    KP_STEP_DISCARDED,   /* a lossless pass changed outputs beyond lossless_tol: not kept */
    KP_STEP_CANCELLED,   /* cancel arrived during this step: not kept, the pipeline stopped */
    KP_STEP_STATUS_COUNT
} kp_step_status;

/* "ok", "cached", "failed", "discarded", "cancelled", "pending". */
const char *kp_step_status_name(kp_step_status s);

typedef struct kp_step_result {
    kp_step_status status;
    int code;         /* the error code when FAILED/CANCELLED, else 0 */
    char error[1024]; /* the pass's or check's message when FAILED; empty otherwise */
    int verified;     /* verify holds the check against the model before the step */
    kp_verify verify;
    int measured;           /* metrics were measured on the kept model (OK/CACHED) */
    kp_metrics_row metrics; /* after this step; for a step not kept: the model before it */
} kp_step_result;

typedef struct kp_pipeline_opts {
    const kp_calib *calib;       /* given to passes (ctx.calib); NULL = no data */
    const kp_calib *verify_data; /* each step is checked on it; NULL = seeded random inputs */
    kp_verify_opts verify;       /* batches, seed, threads of the check (cancel is set here) */
    /* Measures each kept model when non-NULL (cancel is set here). When measure->evalset is
     * verify_data and verify.max_batches is 0, a step's top-1 is taken from its check instead
     * of scoring the same samples twice. */
    const kp_measure_opts *measure;
    /* The original's metrics (the caller measures it, e.g. with kp_measure_model): the row of
     * steps not kept before any step was. NULL = zeros with top1 -1. */
    const kp_metrics_row *before;
    const struct kp_target *target; /* ctx.target */
    uint64_t seed;
    int threads;
    double acc_budget;          /* ctx.acc_budget, points */
    double lossless_tol;        /* largest max relative change of a lossless pass; 0 = 1e-4 */
    const volatile int *cancel; /* optional */

    void *user;
    void (*step_start)(void *user, size_t step, const kp_pass *pass);
    void (*progress)(void *user, size_t step, double fraction, const char *what);
    void (*note)(void *user, size_t step, const char *msg);
    /* Optional cache: get returns an owned model for step (the result of all steps up to and
     * including it) or NULL; put is offered each model a step produced and kept. */
    kp_model *(*cache_get)(void *user, size_t step);
    void (*cache_put)(void *user, size_t step, const kp_model *m);
    /* After each step that did not end the pipeline (ok, cached, failed, discarded); m is the model
     * after it (borrowed: the kept result, or the model before it when the step was not kept).
     * Returning nonzero stops the pipeline with that status (fill err). */
    int (*step_done)(void *user, size_t step, const kp_model *m, const kp_step_result *r,
                     kp_error *err);
} kp_pipeline_opts;

typedef struct kp_pipeline_out {
    kp_step_result *steps; /* n_steps entries (owned) */
    size_t n_steps;
    kp_model *model; /* the last kept model (owned; a copy of the original when none was kept) */
} kp_pipeline_out;

/* Runs steps on a copy of orig (borrowed; it is ctx.original of every pass). Returns 0 when
 * every step was reached (some may have failed or been discarded: see out->steps),
 * KP_ECANCELLED when cancel stopped it, or an error (measuring failed, out of memory, a
 * step_done hook said so). out is filled in every case, including errors, and must be freed
 * with kp_pipeline_out_free. */
int kp_pipeline_run(const kp_model *orig, const kp_pipeline_step *steps, size_t n_steps,
                    const kp_pipeline_opts *opts, kp_pipeline_out *out, kp_error *err);
void kp_pipeline_out_free(kp_pipeline_out *out);

#endif
