/* Strong references to the engine modules that have landed, so the linker pulls them out of
 * libkompress.a even though tui/eng.h declares their functions weak. Add a module here when
 * its .c file is on main. This file must not include tui/eng.h. */
#include "core/dataset.h"
#include "core/exec.h"
#include "core/graph.h"
#include "core/metrics.h"
#include "core/job.h"
#include "core/onnx_io.h"
#include "core/planner.h"
#include "core/pass.h"
#include "core/project.h"
#include "core/report.h"
#include "core/target.h"
#include "core/tensor.h"

#include <stddef.h>

/* Referenced from kp_app_main so the table is not dropped. */
const void *const kp_eng_link[] = {
    (const void *)kp_params_parse,
    (const void *)kp_onnx_load,
    (const void *)kp_model_free,
    (const void *)kp_model_opset,
    (const void *)kp_dtype_name,
    (const void *)kp_dtype_size,
    (const void *)kp_exec_missing_ops,
    (const void *)kp_strv_free,
    (const void *)kp_project_load,
    (const void *)kp_targets_load,
    (const void *)kp_target_estimate_model,
    (const void *)kp_dataset_open,
    NULL,
};
