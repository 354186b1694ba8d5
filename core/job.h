/* Jobs: run a project's plan on a worker thread. The UI polls events (never blocks); cancel is
 * honoured between and inside passes, after which project.json and every file are exactly as
 * before the run. Intermediate models are cached by (input hash, pass, params), so a changed
 * plan re-runs only from the first changed step. */
#ifndef KP_JOB_H
#define KP_JOB_H

#include <stddef.h>

#include "core/pass.h"
#include "core/project.h"

typedef enum kp_event_kind {
    KP_EV_STAGE = 0,  /* text: "loading model", "measuring baseline", ... */
    KP_EV_STEP_START, /* step index, text = pass id */
    KP_EV_PROGRESS,   /* step, fraction 0..1 within the step */
    KP_EV_METRICS,    /* step (-1 = baseline), metrics measured after it */
    KP_EV_LOG,        /* text: a note from a pass or the engine */
    KP_EV_STEP_DONE,  /* step; status 0 or error in text */
    KP_EV_DONE,       /* whole job finished; text = output model path */
    KP_EV_FAILED,     /* text = error message */
    KP_EV_CANCELLED,  /* text = what was kept */
    KP_EV_COUNT
} kp_event_kind;

typedef struct kp_event {
    kp_event_kind kind;
    int step;
    double fraction;
    double elapsed_s;
    kp_metrics_row metrics;
    char text[512];
} kp_event;

typedef struct kp_job kp_job;

/* Starts running p's enabled plan steps (p is copied; the caller keeps ownership). passes is
 * the registry (borrowed, must outlive the job). */
int kp_job_start(const kp_project *p, const kp_pass *const *passes, size_t n_passes, kp_job **out,
                 kp_error *err);
/* Non-blocking: 1 and fills *ev when an event is pending, 0 when none. */
int kp_job_poll(kp_job *j, kp_event *ev);
void kp_job_cancel(kp_job *j);
/* Blocks until the worker ends; returns its status (0, KP_ECANCELLED or an error). */
int kp_job_wait(kp_job *j, kp_error *err);
/* The finished run record (borrowed; valid until kp_job_free), NULL before the end. */
const kp_run_record *kp_job_record(const kp_job *j);
void kp_job_free(kp_job *j); /* cancels and waits if still running */

#endif
