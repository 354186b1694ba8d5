/* The executor: runs a model's top-level graph on this CPU.
 * Buffers are reused by liveness (a value's buffer returns to the pool after its last reader),
 * peak live activation bytes are tracked, every node is timed, a cancel flag is checked
 * between nodes. fp32 math goes through OpenBLAS with its thread count set explicitly. */
#ifndef KP_EXEC_H
#define KP_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/graph.h"

typedef struct kp_exec kp_exec;

typedef struct kp_exec_opts {
    int threads; /* 0 or 1 = single thread (the default for measurements) */
    /* optional; non-zero stops the run with KP_ECANCELLED, and kp_exec_new while it plans
     * a graph of more than 4096 nodes */
    const volatile int *cancel;
    int keep_values; /* keep every intermediate value (for calibration/debug) */
} kp_exec_opts;

/* Prepares m for running (borrows m: it must outlive the executor and not change). Fails with
 * KP_EUNSUPPORTED listing every op that has no kernel. opts may be NULL. */
int kp_exec_new(const kp_model *m, const kp_exec_opts *opts, kp_exec **out, kp_error *err);
void kp_exec_free(kp_exec *e);

/* Runs one inference. inputs: one per non-initializer graph input, in graph order (borrowed).
 * outputs: array of kp_exec_n_outputs() slots filled with owned tensors. */
int kp_exec_run(kp_exec *e, const kp_tensor *const *inputs, kp_tensor **outputs, kp_error *err);

size_t kp_exec_n_inputs(const kp_exec *e); /* graph inputs that are not initializers */
size_t kp_exec_n_outputs(const kp_exec *e);
const kp_value_info *kp_exec_input(const kp_exec *e, size_t i);  /* borrowed */
const kp_value_info *kp_exec_output(const kp_exec *e, size_t i); /* borrowed */

/* After a run: peak bytes of live activations (excluding weights; graph inputs included), and
 * per-node seconds of the last run (n = number of top-level nodes of the graph the executor
 * runs, in graph order).
 * Unless keep_values is set, kp_exec_new prepares the graph for speed without changing results
 * beyond float rounding: BatchNormalization after a Conv is folded into its weights, Relu /
 * LeakyRelu / Clip after a Conv or Gemm run inside it, constant transposed Gemm weights are
 * transposed once (and QDQ int8 patterns are fused, see core/exec_qdq.h, in which case the
 * graph run is a fused copy with its own node list). Folded nodes report 0 seconds; their time
 * is counted on the node they were folded into. */
size_t kp_exec_peak_bytes(const kp_exec *e);
const double *kp_exec_node_seconds(const kp_exec *e, size_t *n);
/* The model the executor runs, whose nodes kp_exec_node_seconds indexes: the caller's, or its
 * copy with constants evaluated and int8 patterns fused. Borrowed until kp_exec_free. */
const kp_model *kp_exec_model(const kp_exec *e);
/* With keep_values: the value named `name` from the last run, borrowed until the next run or
 * kp_exec_free (a graph input's value is the caller's tensor); NULL if none. */
const kp_tensor *kp_exec_value(const kp_exec *e, const char *name);

/* Ops of m (subgraphs included) that have no kernel: returns owned array of owned strings
 * ("domain:Op" for non-default domains). *n = 0 means everything is supported. */
int kp_exec_missing_ops(const kp_model *m, char ***ops, size_t *n, kp_error *err);
void kp_strv_free(char **v, size_t n);

#endif
