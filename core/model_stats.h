/* Model statistics shared by `kompress info`, the TUI model screen and the planner: parameter
 * counts and bytes per dtype (initializers, sparse initializers, Constant nodes, and all of
 * these inside If/Loop/Scan bodies), multiply-accumulate counts per layer, op histogram.
 *
 * MAC rules (one multiply-add = 1 MAC; other ops count 0):
 *   Conv, ConvInteger, QLinearConv:  N * Cout * prod(out spatial) * (Cin / group) * prod(kernel)
 *   ConvTranspose:                   N * Cin * prod(in spatial) * (Cout / group) * prod(kernel)
 *   Gemm:                            M * N * K
 *   MatMul, MatMulInteger, QLinearMatMul: prod(output batch dims) * M * N * K
 *   LSTM, GRU, RNN:                  seq * batch * (elements of W + elements of R)
 * Shapes come from value_info (run kp_infer_shapes first). A symbolic or unknown batch dim
 * (N of Conv, the leading dim of Gemm/MatMul inputs, the batch of RNNs) counts as 1; a layer with
 * any other unknown dim gets no MACs and makes the total incomplete. Only the top-level graph's
 * layers are counted (subgraph bodies run a data-dependent number of times). */
#ifndef KP_MODEL_STATS_H
#define KP_MODEL_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "core/graph.h"

typedef struct kp_dtype_stats {
    int64_t params;  /* elements */
    int64_t bytes;   /* bytes of data (sparse: values + indices) */
    int64_t tensors; /* number of constant tensors */
} kp_dtype_stats;

typedef struct kp_layer_stats {
    const char *name;    /* node name, or its first output when unnamed; borrowed from m */
    const char *op_type; /* borrowed */
    int64_t macs;
    int64_t params; /* elements of constant inputs (weights, bias) */
} kp_layer_stats;

typedef struct kp_op_stats {
    char *op; /* "Conv" or "domain:Op"; owned */
    int64_t count;
} kp_op_stats;

typedef struct kp_model_stats {
    int64_t params, param_bytes, const_tensors;
    int64_t in_subgraphs; /* of params: elements inside subgraphs */
    kp_dtype_stats by_dtype[KP_DTYPE_COUNT];
    int64_t macs;
    int macs_complete;      /* 0 when some layer's MACs could not be computed */
    int macs_assume_batch1; /* 1 when a symbolic batch dim was taken as 1 */
    size_t n_layers;        /* layers with MACs > 0, largest first */
    kp_layer_stats *layers;
    size_t n_ops; /* distinct ops, most frequent first (ties by name) */
    kp_op_stats *ops;
    int64_t nodes; /* all nodes, subgraphs included */
} kp_model_stats;

/* Computes statistics for m (borrows m; the result's names borrow from m, so free the stats
 * before the model). Returns owned *out. */
int kp_model_stats_compute(const kp_model *m, kp_model_stats **out, kp_error *err);
void kp_model_stats_free(kp_model_stats *s);

/* MACs of node n in graph g by the rules above; -1 when shapes are not known well enough.
 * *batch1 is set to 1 when a symbolic batch dim was taken as 1. */
int64_t kp_node_macs(kp_graph *g, const kp_node *n, int *batch1);

#endif
