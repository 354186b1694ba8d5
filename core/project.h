/* Projects: a folder holding project.json (schema below) and its outputs (runs/<n>/...).
 * Saves are atomic (temp + fsync + rename). A damaged or newer-schema file is an error and is
 * never overwritten. The user's model and data files are never modified. */
#ifndef KP_PROJECT_H
#define KP_PROJECT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/pass.h"

#define KP_PROJECT_SCHEMA 1

typedef enum kp_goal {
    KP_GOAL_NONE = 0,
    KP_GOAL_LATENCY = 1,
    KP_GOAL_SIZE = 2,
    KP_GOAL_ACCURACY = 3,
    KP_GOAL_COUNT
} kp_goal;

const char *kp_goal_name(kp_goal g); /* "latency", "size", "accuracy" */
kp_goal kp_goal_from_name(const char *s);

typedef struct kp_data_spec {
    char *path;   /* data file or folder (absolute, or relative to the project folder) */
    char *labels; /* labels file, or NULL */
    char *format; /* "idx", "npy", "npz", "csv", "onnx-pb", or NULL = detect */
    double scale; /* multiply raw values (e.g. 1/255) */
    size_t n_mean, n_std;
    double mean[8], std[8]; /* per channel */
    char layout[8];         /* "nchw" | "nhwc" */
    int64_t calib_samples;  /* calibration subset size */
    int64_t eval_limit;     /* 0 = all */
} kp_data_spec;

typedef struct kp_plan_step {
    char *pass_id;
    char *params; /* "k=v,..." validated against the pass's table */
    int enabled;
    kp_estimate est; /* planner's estimate for this step */
    /* Correction learned from earlier runs that est already includes (size and latency
     * factors, points added to the drop); 1, 1, 0 when none. */
    int corrected;
    double corr_size, corr_lat, corr_drop;
} kp_plan_step;

typedef struct kp_metrics_row {
    double file_bytes, gzip_bytes;
    double host_latency_ms;   /* measured here, batch 1, median */
    double target_latency_ms; /* estimated on the target */
    double top1;              /* percent, -1 if unknown */
    double ram_bytes, flash_bytes, energy_mj;
    int fits_ram, fits_flash;
} kp_metrics_row;

/* One pipeline the planner measured (a candidate or one of its back-offs). */
typedef struct kp_tried {
    char *name;           /* owned, e.g. "fold + prune(sparsity=0.6) + reconstruct" */
    double size_ratio;    /* predicted file size / original */
    double latency_ratio; /* predicted latency on the target / original */
    double acc_drop;      /* predicted top-1 drop, points (negative = gain) */
    double acc_se;        /* ± standard error of acc_drop, points (0 = unknown) */
    int meets;            /* within every budget */
    int pareto;           /* no other tried pipeline is at least as good on size, latency and
                           * accuracy and better on one */
    int chosen;
} kp_tried;

/* What the planner predicted for the whole enabled plan, and what it tried on the way. */
typedef struct kp_plan_info {
    kp_estimate total;     /* measured trial of exactly the enabled plan (corrected by history)
                            * when the planner had data; else combined step estimates */
    double acc_se;         /* ± standard error of total.acc_drop, points (0 = unknown) */
    int64_t trial_samples; /* samples the trials measured on (kept out of the runs' holdout) */
    int meets;             /* the plan meets every budget */
    char *note;            /* owned: the choice, and by how much the budget is missed if so */
    size_t n_tried;
    kp_tried *tried; /* owned */
} kp_plan_info;

/* Deep copy (dst is overwritten, not freed) and free (the struct itself is not freed). */
int kp_plan_info_copy(kp_plan_info *dst, const kp_plan_info *src);
void kp_plan_info_clear(kp_plan_info *pi);
/* The plan's steps changed after the planner chose them: its prediction and tried list no
 * longer describe the plan, so they go; the samples its trials measured on stay out of the
 * runs' holdout (the plan was chosen on them). */
void kp_plan_info_outdate(kp_plan_info *pi);

typedef struct kp_run_record {
    char *id;      /* "run-003" */
    char *started; /* ISO-8601 UTC */
    int status;    /* 0 ok, KP_ECANCELLED, other negative = failed */
    size_t n_steps;
    kp_plan_step *steps;        /* as run, with predictions */
    kp_metrics_row *step_after; /* measured after each step (n_steps) */
    kp_metrics_row before, after;
    char *output_model, *report; /* paths relative to the project folder */
    uint64_t seed;
    char *calib_hash, *tool_version, *hw_fingerprint;
    kp_plan_info predicted; /* the planner's prediction for the plan as run (copied) */
    size_t eval_samples;    /* samples accuracy was measured on (the holdout) */
    char *holdout_hash;     /* which ones: kp_holdout_info.hash in hex (NULL in older files) */
} kp_run_record;

typedef struct kp_project {
    char *dir; /* project folder (absolute) */
    char *name;
    char *model; /* absolute, or relative to dir */
    kp_data_spec data;
    char *target_id;
    kp_goal goals[2];                            /* in priority order; KP_GOAL_NONE when unused */
    double max_drop;                             /* points of top-1, default 1.0 */
    double size_budget_bytes, latency_budget_ms; /* 0 = none */
    size_t n_plan;
    kp_plan_step *plan;
    size_t n_runs;
    kp_run_record *runs;
    uint64_t seed;
    kp_plan_info plan_info; /* the planner's prediction for the current plan */
} kp_project;

/* Default workspace: $XDG_DATA_HOME/kompress/projects (or ~/.local/share/...). Returns owned. */
char *kp_project_default_workspace(void);
/* Creates dir/<name>/project.json (fails with KP_EEXIST if present). Returns owned project. */
int kp_project_create(const char *workspace, const char *name, kp_project **out, kp_error *err);
int kp_project_load(const char *dir, kp_project **out, kp_error *err);
int kp_project_save(const kp_project *p, kp_error *err); /* atomic */
void kp_project_free(kp_project *p);
/* Path of a project-relative file, returns owned absolute path. */
char *kp_project_path(const kp_project *p, const char *rel);
/* Names of project folders in workspace (owned array of owned strings). */
int kp_project_list(const char *workspace, char ***names, size_t *n, kp_error *err);
int kp_project_delete(const char *workspace, const char *name, kp_error *err);

#endif
