/* Load-time constant evaluation for the executor, as ONNX Runtime does at session creation:
 * top-level nodes whose inputs are all constants (initializers, Constant nodes, or results of
 * nodes evaluated before them) run once when the executor is made, and their results become
 * initializers of a private copy. Compressed weight encodings (sparse values scattered into a
 * dense tensor, codebook lookups) so cost nothing per inference. Random ops, nodes with
 * subgraphs and nodes producing graph outputs are left to run. */
#ifndef KP_EXEC_CONST_H
#define KP_EXEC_CONST_H

#include "core/graph.h"

/* *out = owned copy of m with constant nodes evaluated, or NULL when there is nothing to
 * evaluate (then run m itself). A node whose kernel fails is left in place: the run reports it. */
int kp_exec_const_fold(const kp_model *m, kp_model **out, kp_error *err);

#endif
