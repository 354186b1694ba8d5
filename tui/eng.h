/* The app's view of the engine. Engine modules land during development; the app must build
 * and run without the ones that are not there yet and say so in the app. Functions of modules
 * that may be missing are declared weak here (their address is NULL when the module is not
 * linked), and kp_eng_missing() names the file that is missing.
 * When a module lands, tui/eng_link.c references it strongly so the linker pulls it from
 * libkompress.a (weak references alone do not extract archive members). */
#ifndef KP_ENG_H
#define KP_ENG_H

/* core/target.h has a comment opener inside a comment (a targets glob); until its owner changes it,
 * do not let -Wcomment turn that into a build error here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcomment"
#include "core/exec.h"
#include "core/graph.h"
#include "core/job.h"
#include "core/onnx_io.h"
#include "core/pass.h"
#include "core/planner.h"
#include "core/project.h"
#include "core/target.h"
#include "core/tensor.h"
#include "passes/registry.h"
#pragma GCC diagnostic pop

#pragma weak kp_project_default_workspace
#pragma weak kp_project_create
#pragma weak kp_project_load
#pragma weak kp_project_save
#pragma weak kp_project_free
#pragma weak kp_project_path
#pragma weak kp_project_list
#pragma weak kp_project_delete
#pragma weak kp_goal_name
#pragma weak kp_targets_load
#pragma weak kp_target_find
#pragma weak kp_target_class_name
#pragma weak kp_target_estimate_model
#pragma weak kp_onnx_load
#pragma weak kp_model_free
#pragma weak kp_model_opset
#pragma weak kp_dtype_name
#pragma weak kp_dtype_size
#pragma weak kp_exec_missing_ops
#pragma weak kp_strv_free
#pragma weak kp_planner_propose
#pragma weak kp_planner_estimate
#pragma weak kp_plan_free
#pragma weak kp_job_start
#pragma weak kp_job_poll
#pragma weak kp_job_cancel
#pragma weak kp_job_wait
#pragma weak kp_job_record
#pragma weak kp_job_free

typedef enum kp_module {
    KP_MOD_PROJECT = 0,
    KP_MOD_TARGET,
    KP_MOD_ESTIMATE,
    KP_MOD_ONNX,
    KP_MOD_GRAPH,
    KP_MOD_EXEC,
    KP_MOD_PLANNER,
    KP_MOD_JOB,
    KP_MOD_COUNT
} kp_module;

/* NULL when the module is linked, else a sentence naming what is missing, for the screen. */
const char *kp_eng_missing(kp_module m);

#endif
