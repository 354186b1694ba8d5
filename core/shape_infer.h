/* Shape and dtype inference for the op set the executor supports. Fills value_info of every
 * intermediate value it can derive; symbolic dims propagate by name ("batch"). Values of ops it
 * does not know keep their declared value_info. Never fails on unknown ops. */
#ifndef KP_SHAPE_INFER_H
#define KP_SHAPE_INFER_H

#include <stddef.h>

#include "core/graph.h"

/* Infers for the whole model (subgraphs included). Returns 0, or KP_EFORMAT when the model is
 * inconsistent (e.g. Add of 3 and 4 wide dims), naming the node. */
int kp_infer_shapes(kp_model *m, kp_error *err);
/* The same, stopping with KP_ECANCELLED once *cancel is non-zero (checked every thousand
 * nodes; cancel may be NULL). The value_info inferred so far stays (it is only a cache). */
int kp_infer_shapes_cancel(kp_model *m, const volatile int *cancel, kp_error *err);

/* Names of the ops with a shape rule, in strictly ascending order: i-th name or NULL past the
 * end (for tests and `kompress info`). */
const char *kp_infer_op_name(size_t i);

#endif
