/* Compact storage of pruned and clustered float weights as small ONNX subgraphs that ONNX
 * Runtime (and our executor) run, so the saved file really shrinks:
 *   clustered   W = Gather(codebook[k], Cast<int32>(idx uint8[shape]))
 *   sparse      W = Reshape(ScatterElements(ConstantOfShape([numel], 0),
 *                                           CumSum(Cast<int64>(delta uint8[m])), values[m]),
 *                           shape)
 *   sparse + clustered: values = Gather(codebook[k], Cast<int32>(vidx uint8[m]))
 * delta holds the gap to the previous kept position (1..255; gaps above 255 get explicit zero
 * fillers). The encoder picks, per initializer, the smallest of dense and these forms, counting
 * node overhead, and keeps dense unless a form saves bytes. Nodes are named "kpw_<weight>_*".
 * The decoder recognises these patterns and turns them back into dense initializers, so every
 * lossy pass works on plain weights: decode at the start, encode at the end. */
#ifndef KP_PASSES_WSTORE_H
#define KP_PASSES_WSTORE_H

#include <stddef.h>

#include "core/graph.h"

typedef struct kp_wstore_stats {
    size_t n_dense, n_cluster, n_sparse, n_sparse_cluster;
    size_t bytes_before, bytes_after; /* weight payload bytes, encoded tensors only */
} kp_wstore_stats;

/* Replaces every encoded weight in m (all graphs) with a dense initializer of the same name.
 * *n_decoded (may be NULL) receives how many were decoded. Malformed patterns are left alone. */
int kp_wstore_decode_model(kp_model *m, size_t *n_decoded, kp_error *err);

/* Encodes every float initializer of at least min_numel elements in every graph of m in its
 * smallest form. Forms needing opset 11 (sparse) are skipped on older models. */
int kp_wstore_encode_model(kp_model *m, size_t min_numel, kp_wstore_stats *stats, kp_error *err);

#endif
