/* Deterministic 1-D k-means for weight sharing (used by cluster and reconstruct). */
#ifndef KP_PASSES_CLUSTER_KMEANS_H
#define KP_PASSES_CLUSTER_KMEANS_H

#include <stdint.h>

#include "core/error.h"

/* Replaces each of the n values of w by the nearest of k centroids found by Lloyd's algorithm
 * on the sorted values (init: evenly spaced between min and max, or at quantiles when
 * `quantile`). With keep_zero, exact zeros stay zero and are not clustered. codebook (may be
 * NULL) receives the k centroids in ascending order; *sse (may be NULL) the squared error. */
int kp_kmeans_1d(float *w, int64_t n, int k, int quantile, int keep_zero, float *codebook,
                 double *sse, kp_error *err);

#endif
