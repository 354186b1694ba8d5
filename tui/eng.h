/* The engine headers the app's screens use, in one place. The app calls the engine directly:
 * a missing engine module is a link error. */
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

#endif
