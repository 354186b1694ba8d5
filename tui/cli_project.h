/* Helpers shared by the project commands (new, plan, run, report). */
#ifndef KP_CLI_PROJECT_H
#define KP_CLI_PROJECT_H

#include "core/graph.h"
#include "core/planner.h"
#include "core/project.h"
#include "core/target.h"

/* PROJECT is a folder (or its project.json), or a name in the default workspace. */
int kp_cli_open_project(const char *arg, kp_project **out, kp_error *err);

/* Everything the planner needs for project p: the model (shapes inferred), target, and when
 * the project has data the calibration subset the run will use (calib: passes fit on it) and
 * up to trial_samples other samples the planner measures its trials on (trial; the run keeps
 * them out of its holdout). Free with kp_cli_ctx_free. */
typedef struct kp_cli_ctx {
    kp_model *model;
    kp_target *targets;
    size_t n_targets;
    const kp_target *target;
    struct kp_dataset *ds;
    kp_calib *calib;
    kp_calib *trial; /* NULL when there is no data or trial_samples was 0 */
} kp_cli_ctx;
int kp_cli_ctx_open(const kp_project *p, size_t trial_samples, kp_cli_ctx *c, kp_error *err);
void kp_cli_ctx_free(kp_cli_ctx *c);

/* Proposes a plan for p and stores it in p (replacing the old one), not saved. */
int kp_cli_propose(kp_project *p, const kp_cli_ctx *c, kp_plan *plan, kp_error *err);
void kp_cli_print_plan(const kp_project *p, const kp_plan *plan);
/* The Pareto set of what the planner tried (and the chosen one), as a table. */
void kp_cli_print_tried(const kp_plan_info *pi);

#endif
