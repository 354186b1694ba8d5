/* Which engine modules are linked into this build (see tui/eng.h). */
#include "tui/eng.h"

#include <stddef.h>

const char *kp_eng_missing(kp_module m) {
    switch (m) {
    case KP_MOD_PROJECT:
        if (kp_project_load && kp_project_save && kp_project_list && kp_project_create &&
            kp_project_delete && kp_project_free && kp_project_default_workspace && kp_goal_name)
            return NULL;
        return "Projects are not in this build yet (core/project.c is missing).";
    case KP_MOD_TARGET:
        if (kp_targets_load && kp_target_class_name) return NULL;
        return "Target profiles are not in this build yet (core/target.c is missing).";
    case KP_MOD_ESTIMATE:
        if (kp_target_estimate_model) return NULL;
        return "Target estimates are not in this build yet (core/target_estimate.c is missing).";
    case KP_MOD_ONNX:
        if (kp_onnx_load) return NULL;
        return "Loading ONNX models is not in this build yet (core/onnx_io.c is missing).";
    case KP_MOD_GRAPH:
        if (kp_model_free && kp_model_opset && kp_dtype_name && kp_dtype_size) return NULL;
        return "The model IR is not in this build yet (core/graph.c, core/tensor.c missing).";
    case KP_MOD_EXEC:
        if (kp_exec_missing_ops && kp_strv_free) return NULL;
        return "The executor is not in this build yet (core/exec.c is missing).";
    case KP_MOD_PLANNER:
        if (kp_planner_propose && kp_planner_estimate && kp_plan_free) return NULL;
        return "The planner is not in this build yet (core/planner.c is missing).";
    case KP_MOD_JOB:
        if (kp_job_start && kp_job_poll && kp_job_cancel && kp_job_free && kp_job_record)
            return NULL;
        return "Running plans is not in this build yet (core/job.c is missing).";
    default: return "unknown engine module";
    }
}
