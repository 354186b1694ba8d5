/* The planner: from model statistics, target, goals and budgets it proposes an ordered list of
 * plan steps with estimates and one-line reasons; measured per-layer sensitivity on a
 * calibration subset refines the estimates; run history corrects them (and says so). */
#ifndef KP_PLANNER_H
#define KP_PLANNER_H

#include <stddef.h>

#include "core/graph.h"
#include "core/pass.h"
#include "core/project.h"
#include "core/target.h"

typedef struct kp_plan {
    size_t n;
    kp_plan_step *steps; /* owned */
    kp_estimate total;   /* combined estimate of the enabled steps */
    char note[512];      /* e.g. "estimates corrected from 3 earlier runs (size x0.97)" */
    kp_plan_info info;   /* owned: whole-plan prediction (with its ± standard error), every
                          * pipeline tried (Pareto set marked), whether the budgets are met */
} kp_plan;

/* Samples the planner measures trials on by default, for `kompress plan` and the Plan screen
 * alike (disjoint from the calibration subset the passes fit on, and kept out of the runs'
 * holdout; core/dataset_holdout.c). */
#define KP_PLANNER_TRIAL_SAMPLES 2048

/* Proposes a plan for p (model loaded by the caller as m), with trials that fit on `fit` (the
 * run's calibration subset: the same one the run will use) and measure accuracy on `measure`
 * (disjoint samples the run will not score; see kp_dataset_calib_minus_new). Each candidate
 * pipeline is measured whole; when it breaks the accuracy budget the planner weakens its most
 * sensitive step (sparsity, rank, k), re-measures the whole pipeline, and drops a step only when it
 * cannot be weakened further. out->info records every pipeline tried and the prediction of the
 * chosen one, which is the measured trial of exactly that plan (plus corrections learned from
 * earlier runs). measure NULL: no trials (the passes' own estimates; fit NULL too: no measured
 * sensitivity). */
int kp_planner_propose_split(const kp_project *p, const kp_model *m, const kp_target *t,
                             const kp_pass *const *passes, size_t n_passes, const kp_calib *fit,
                             const kp_calib *measure, kp_plan *out, kp_error *err);
/* Options of the _opts entries below (zeroed = the defaults of the entries above). */
typedef struct kp_planner_opts {
    /* Optional: once non-zero the planner stops with KP_ECANCELLED and *out is left empty. It
     * is checked between candidate pipelines, between a trial's steps, and inside the passes,
     * the accuracy check and the latency rounds of a trial. The planner never saves anything,
     * so a cancelled plan leaves the project as it was. */
    const volatile int *cancel;
} kp_planner_opts;
/* kp_planner_propose_split with options (opts may be NULL). */
int kp_planner_propose_split_opts(const kp_project *p, const kp_model *m, const kp_target *t,
                                  const kp_pass *const *passes, size_t n_passes,
                                  const kp_calib *fit, const kp_calib *measure,
                                  const kp_planner_opts *opts, kp_plan *out, kp_error *err);
/* Re-estimates totals after the user toggled steps or edited parameters (fast, no running). */
int kp_planner_estimate(const kp_project *p, const kp_model *m, const kp_target *t,
                        const kp_pass *const *passes, size_t n_passes, kp_plan *plan,
                        kp_error *err);
void kp_plan_free(kp_plan *plan);
/* Makes plan the project's plan: a copy of its steps, and what the planner measured
 * (plan->info: prediction, trial samples, pipelines tried). p is unchanged on failure. */
int kp_plan_adopt(kp_project *p, const kp_plan *plan, kp_error *err);

#endif
