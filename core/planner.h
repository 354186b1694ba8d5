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
} kp_plan;

/* Proposes a plan for p (model loaded by the caller as m). calib may be NULL (then no
 * measured sensitivity; estimates say so through lower confidence). */
int kp_planner_propose(const kp_project *p, const kp_model *m, const kp_target *t,
                       const kp_pass *const *passes, size_t n_passes, const kp_calib *calib,
                       kp_plan *out, kp_error *err);
/* Re-estimates totals after the user toggled steps or edited parameters (fast, no running). */
int kp_planner_estimate(const kp_project *p, const kp_model *m, const kp_target *t,
                        const kp_pass *const *passes, size_t n_passes, kp_plan *plan,
                        kp_error *err);
void kp_plan_free(kp_plan *plan);

#endif
