/* Asking the planner runs on a worker thread, so the screen keeps redrawing and taking keys:
 * the planner may measure per-layer sensitivity on calibration data, which takes seconds.
 * The thread works on its own copies (the project reloaded from its saved project.json, a clone
 * of the model, a copy of the target, its own data set), so the UI may keep changing things;
 * the result is adopted when the UI polls it. kp_plan_task_cancel (the Plan screen's c / Esc,
 * and quitting) raises a flag the planner checks between trials and inside them; a cancelled
 * plan is dropped (nothing is saved: the planner never writes the project). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dataset.h"
#include "tui/ui.h"

static struct {
    pthread_t th;
    int started;         /* a thread exists and has not been joined */
    atomic_int finished; /* set by the worker at the end */
    volatile int cancel; /* raised by kp_plan_task_cancel */
    kp_project *proj;
    kp_model *model;
    kp_target target;
    kp_plan plan;
    kp_error err;
    int rc;
    char calib_note[256];
} T;

static void *worker(void *arg) {
    (void)arg;
    kp_dataset *ds = NULL;
    kp_calib *calib = NULL, *trial = NULL;
    if (T.proj->data.path && T.proj->data.path[0]) {
        /* The samples `kompress plan` uses (core/dataset_holdout.c): passes fit on the
         * calibration subset the run uses, pipelines are measured on trial samples beyond it
         * that the runs never score. */
        kp_error e = {0};
        if (T.cancel || kp_dataset_open_project(T.proj, 64, &ds, &e) ||
            kp_dataset_bind(ds, T.model, &e) || kp_dataset_project_calib(ds, T.proj, &calib, &e) ||
            kp_dataset_project_trial(ds, T.proj, KP_PLANNER_TRIAL_SAMPLES, &trial, &e)) {
            snprintf(T.calib_note, sizeof T.calib_note,
                     "estimates only: the test data cannot be used (%s)",
                     e.msg[0] ? e.msg : "cancelled");
            kp_dataset_calib_free(trial);
            kp_dataset_calib_free(calib);
            calib = trial = NULL;
        }
    } else {
        snprintf(T.calib_note, sizeof T.calib_note, "no test data: estimates are not measured");
    }
    size_t np;
    const kp_pass *const *passes = kp_passes(&np);
    kp_planner_opts po = {.cancel = &T.cancel};
    T.rc = kp_planner_propose_split_opts(T.proj, T.model, &T.target, passes, np, calib, trial, &po,
                                         &T.plan, &T.err);
    if (T.cancel && !T.rc) { /* cancelled after its last check: the answer is not wanted */
        kp_plan_free(&T.plan);
        T.rc = kp_error_set(&T.err, KP_ECANCELLED, "plan cancelled");
    }
    kp_dataset_calib_free(trial);
    kp_dataset_calib_free(calib);
    kp_dataset_free(ds);
    atomic_store(&T.finished, 1);
    return NULL;
}

static void release(void) {
    if (T.started) pthread_join(T.th, NULL);
    T.started = 0;
    if (T.proj) kp_project_free(T.proj);
    if (T.model) kp_model_free(T.model);
    T.proj = NULL;
    T.model = NULL;
}

int kp_plan_task_running(void) {
    return T.started && !atomic_load(&T.finished);
}

int kp_plan_task_start(kp_app *a, char *msg, size_t len) {
    if (T.started) {
        snprintf(msg, len, "the planner is already working");
        return -1;
    }
    const kp_target *t = kp_app_target(a);
    if (!a->proj || !a->model || !t) {
        snprintf(msg, len, "the planner needs a project, a model and a target");
        return -1;
    }
    memset(&T.err, 0, sizeof T.err);
    memset(&T.plan, 0, sizeof T.plan);
    T.calib_note[0] = 0;
    T.cancel = 0;
    T.target = *t;
    if (kp_project_load(a->proj->dir, &T.proj, &T.err) ||
        !(T.model = kp_model_clone(a->model, &T.err))) {
        snprintf(msg, len, "%s", T.err.msg);
        release();
        return -1;
    }
    atomic_store(&T.finished, 0);
    if (pthread_create(&T.th, NULL, worker, NULL)) {
        snprintf(msg, len, "cannot start a thread for the planner");
        release();
        return -1;
    }
    T.started = 1;
    return 0;
}

int kp_plan_task_poll(kp_plan *out, char *msg, size_t len) {
    if (!T.started) return 0;
    if (!atomic_load(&T.finished)) return 0;
    release();
    if (T.rc == KP_ECANCELLED || (T.rc && T.cancel)) {
        snprintf(msg, len, "plan cancelled");
        return -2;
    }
    if (T.rc) {
        snprintf(msg, len, "%s", T.err.msg[0] ? T.err.msg : "the planner failed");
        return -1;
    }
    *out = T.plan;
    snprintf(msg, len, "%s", T.calib_note);
    return 1;
}

void kp_plan_task_cancel(void) {
    if (T.started) T.cancel = 1;
}

void kp_plan_task_end(void) {
    if (!T.started) return;
    T.cancel = 1;
    release();             /* the planner stops at its next check */
    kp_plan_free(&T.plan); /* an answer nobody polled: steps and info (note, tried list) */
}
