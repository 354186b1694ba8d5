/* Planner internals shared by planner.c (candidates, back-off, choice) and planner_trial.c
 * (measuring a whole candidate pipeline on data, re-running only from the first changed step). */
#ifndef KP_PLANNER_PRIV_H
#define KP_PLANNER_PRIV_H

#include <stddef.h>

#include "core/planner.h"

#define KP_PT_MAX_STEPS 6
/* A pipeline keeps the accuracy budget when its measured drop plus this many standard errors
 * does. */
#define KP_PT_SE_MARGIN 1.0

/* A candidate pipeline: passes with parameters, each on or off. */
typedef struct kp_pt_cfg {
    size_t n;
    const kp_pass *pass[KP_PT_MAX_STEPS];
    char params[KP_PT_MAX_STEPS][160];
    int on[KP_PT_MAX_STEPS];
} kp_pt_cfg;

/* What one step did, measured on the pipeline as it stood (cumulative). */
typedef struct kp_pt_step {
    int ran;         /* 1 when the step was on and applied */
    int failed;      /* 1 when it was on but the pass refused or failed (msg says why) */
    char msg[256];   /* the error of a failed step */
    double bytes;    /* file bytes after the step */
    double lat;      /* latency after it: host seconds measured, or roofline seconds */
    double cum_drop; /* top-1 points lost against the original on the measuring set */
    double agree;    /* top-1 agreement with the original, 0..1 */
    kp_model *after; /* owned: the model after this step (NULL when it did not run) */
} kp_pt_step;

/* The measured state of the last pipeline tried; kept to re-run only from a changed step. */
typedef struct kp_pt_run {
    kp_pt_cfg cfg;
    size_t n_valid; /* steps [0, n_valid) of st[] belong to cfg */
    kp_pt_step st[KP_PT_MAX_STEPS];
} kp_pt_run;

/* Everything fixed while planning one project. */
typedef struct kp_pt_env {
    const kp_project *p;
    const kp_model *orig;
    const kp_target *t;
    const kp_calib *fit;         /* passes fit on this (the run's calibration subset) */
    const kp_calib *measure;     /* accuracy is measured on this (disjoint from fit) */
    int host;                    /* latency measured here rather than roofline */
    double base_bytes, base_lat; /* of the original */
    double base_target_ms;       /* original latency on the target, ms (for budgets) */
    size_t n_measure;            /* samples in measure */
    int has_labels;
    const volatile int *cancel; /* optional: KP_ECANCELLED once non-zero */
} kp_pt_env;

/* KP_ECANCELLED with a message when env's cancel flag is raised, else 0. */
int kp_pt_cancelled(const kp_pt_env *env, kp_error *err);

/* Measures the original (size, latency) into env. */
int kp_pt_env_init(kp_pt_env *env, kp_error *err);
/* Measures cfg, re-using run's steps before the first one whose pass, params or on-state
 * differ. Steps that fail are switched off in cfg (run->st[i].failed says why) and the rest
 * goes on. KP_ECANCELLED and out-of-memory end it; other step errors do not. */
int kp_pt_measure(const kp_pt_env *env, kp_pt_run *run, kp_pt_cfg *cfg, kp_error *err);
/* The last step that ran (index), or -1 when none did. */
int kp_pt_last(const kp_pt_run *run);
/* ± standard error (points) of a top-1 drop measured paired on n samples where a share
 * (1 - agree) of the answers changed: sqrt((q - d^2) / n) with q = 1 - agree, d = drop / 100. */
double kp_pt_drop_se(double drop, double agree, size_t n);
/* Re-measures latency of the original and m interleaved (several rounds; median ratio). */
int kp_pt_latency_ratio(const kp_pt_env *env, const kp_model *m, double *ratio, kp_error *err);
void kp_pt_run_clear(kp_pt_run *run);

/* Candidate pipelines (planner.c builds them; the back-off in planner_backoff.c tries them). */
typedef struct kp_pt_cand {
    const char *id;
    const char *params;
    const char *why; /* reason prefix */
} kp_pt_cand;

typedef struct kp_pt_alt {
    const char *name;
    size_t n;
    kp_pt_cand c[KP_PT_MAX_STEPS];
} kp_pt_alt;

/* Correction learned from earlier runs of the project for one pass: measured/predicted size
 * and latency factors, and measured-predicted drop, averaged over n steps. */
typedef struct kp_pt_corr {
    double size, lat, drop;
    int n;
} kp_pt_corr;
kp_pt_corr kp_pt_learn(const kp_project *p, const char *pass_id);

/* The pass's own estimate for params on m (calib may be NULL); no correction applied. cancel
 * (may be NULL) is handed to the pass. */
int kp_pt_pass_estimate(const kp_project *p, const kp_model *m, const kp_target *t,
                        const kp_pass *pass, const char *params, const kp_calib *calib,
                        const volatile int *cancel, kp_estimate *est, kp_error *err);

/* Predicted effect of a whole measured pipeline, corrected by history. */
typedef struct kp_pt_tot {
    double size, lat, drop, se; /* ratios to the original; drop and its ± in points */
    double bytes, target_ms, ram_bytes;
    int fits_ram, meets;
    double excess;  /* how far past the worst-broken budget, relative (0 when met) */
    char miss[200]; /* what is missed and by how much, "" when met */
} kp_pt_tot;

/* Plans one alternative with trials and back-off into out (steps, total, note) and appends
 * every pipeline measured to tried; *final_idx = the index in tried of out's pipeline, *excess
 * how far it misses the worst-broken budget (relative, 0 when met). */
int kp_pt_plan_alt(const kp_pt_env *env, const kp_pass *const *passes, size_t n_passes,
                   const kp_pt_alt *al, double deadline, kp_plan *out, kp_plan_info *tried,
                   size_t *final_idx, double *excess, int *corrected, kp_error *err);
double kp_pt_now(void); /* monotonic seconds */

#endif
