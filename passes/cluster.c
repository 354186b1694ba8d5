/* cluster: weight sharing. Each selected layer's weights are replaced by the nearest of k
 * shared values found by 1-D k-means (deterministic: linear or quantile initialisation, Lloyd
 * iterations on the sorted weights). Exact zeros (from pruning) stay zero and are not counted
 * in k. Saved as uint8 indices + codebook (passes/wstore.h): Gather on the codebook, which
 * ONNX Runtime folds at load, so the file shrinks about 4x (more when also pruned). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/cluster_kmeans.h"
#include "passes/common.h"
#include "passes/wstore.h"

static int cluster_apply(kp_model *m, const kp_params *p, const kp_pass_ctx *ctx, kp_error *err) {
    int k = (int)kp_params_int(p, "k");
    int quantile = !strcmp(kp_params_str(p, "init"), "quantile");
    const char *only = kp_params_str(p, "layers");
    int64_t min_size = kp_params_int(p, "min_size");
    int rc = kp_wstore_decode_model(m, NULL, err);
    if (rc) return rc;
    kp_wlayer *L = NULL;
    size_t nl = 0;
    rc = kp_pass_collect_layers(m, 1, &L, &nl, err);
    if (rc) return rc;
    size_t done_n = 0;
    for (size_t l = 0; l < nl; l++) {
        if (!kp_pass_layer_selected(only, &L[l])) continue;
        if (L[l].w->numel < min_size) {
            kp_pass_notef(ctx, "cluster: %s left as is (%lld weights < min_size)",
                          kp_node_label(L[l].node), (long long)L[l].w->numel);
            continue;
        }
        rc = kp_pass_check_cancel(ctx, err);
        if (rc) break;
        kp_tensor *nw = kp_tensor_clone(L[l].w, err);
        if (!nw) {
            rc = err->code ? err->code : KP_ENOMEM;
            break;
        }
        int has_zero = 0;
        for (int64_t i = 0; i < nw->numel && !has_zero; i++) has_zero = ((float *)nw->data)[i] == 0;
        /* With pruning zeros, zero is one of the k shared values: k-1 free centroids keep the
         * sparse+codebook form at k codes (4-bit codes for k = 16). */
        int kk = has_zero ? k - 1 : k;
        double sse = 0;
        rc = kp_kmeans_1d(nw->data, nw->numel, kk, quantile, 1, NULL, &sse, err);
        if (rc) {
            kp_tensor_free(nw);
            break;
        }
        kp_pass_notef(ctx, "cluster: %s %d values (rms change %.3g)", kp_node_label(L[l].node), kk,
                      sqrt(sse / (double)nw->numel));
        rc = kp_graph_replace_const(L[l].g, nw, err);
        if (rc) break;
        done_n++;
        kp_pass_progress(ctx, (double)(l + 1) / (double)nl, "clustering");
    }
    free(L);
    if (rc) return rc;
    if (!done_n)
        return kp_error_set(err, KP_EINVAL,
                            "cluster: no layer selected (layers='%s', min_size=%lld)", only,
                            (long long)min_size);
    kp_wstore_stats st = {0};
    rc = kp_wstore_encode_model(m, 0, &st, err);
    if (rc) return rc;
    kp_pass_notef(ctx, "cluster: %zu layers clustered; %zu stored as codebook, %zu sparse+codebook",
                  done_n, st.n_cluster, st.n_sparse_cluster);
    return 0;
}

static int cluster_estimate(const kp_model *m, const kp_params *p, const kp_pass_ctx *ctx,
                            kp_estimate *out, kp_error *err) {
    (void)ctx;
    kp_wlayer *L = NULL;
    size_t nl = 0;
    int rc = kp_pass_collect_layers((kp_model *)m, kp_params_int(p, "min_size"), &L, &nl, err);
    if (rc) return rc;
    free(L);
    int k = (int)kp_params_int(p, "k");
    memset(out, 0, sizeof *out);
    out->size_ratio = 0.05 + 0.95 * 0.25;
    out->latency_ratio = 1.0;
    out->acc_drop = k >= 256 ? 0.05 : k >= 16 ? 0.5 : 3.0;
    out->confidence = 0.3;
    out->applicable = nl > 0;
    snprintf(out->reason, sizeof out->reason,
             "%zu layers share %d values each: 1-byte indices instead of 4-byte floats", nl, k);
    return 0;
}

static const kp_param_def cluster_params[] = {
    {"k", KP_PARAM_INT, "16", 2, 256, NULL, "shared values per layer (16 or 256 typical)"},
    {"init", KP_PARAM_ENUM, "linear", 0, 0, "linear|quantile",
     "initial centroids: evenly spaced between min and max, or at quantiles"},
    {"layers", KP_PARAM_STRING, "", 0, 0, NULL,
     "comma-separated node or weight names (empty: all)"},
    {"min_size", KP_PARAM_INT, "1000", 0, 1e12, NULL, "layers with fewer weights stay as is"},
};

const kp_pass kp_pass_cluster = {
    .id = "cluster",
    .title = "Weight sharing (k-means clustering)",
    .summary = "Each layer keeps k shared weight values; stored as uint8 indices + codebook",
    .lossless = 0,
    .needs_data = 0,
    .n_params = sizeof cluster_params / sizeof *cluster_params,
    .params = cluster_params,
    .estimate = cluster_estimate,
    .apply = cluster_apply,
};
