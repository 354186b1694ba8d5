/* prune: unstructured magnitude pruning of Conv/ConvTranspose/Gemm/MatMul weights, with one
 * threshold over all selected layers (scope=global) or one per layer (scope=layer). The pruned
 * weights are saved in the compact sparse form of passes/wstore.h wherever that is smaller, so
 * the file shrinks; ONNX Runtime expands them once at load (constant folding). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/common.h"
#include "passes/wstore.h"

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Magnitude at or below which `frac` of the n values fall. */
static float threshold(const float *const *w, const int64_t *n, size_t nl, double frac,
                       kp_error *err, int *rc) {
    int64_t total = 0;
    for (size_t l = 0; l < nl; l++) total += n[l];
    float *mag = malloc((size_t)(total ? total : 1) * sizeof *mag);
    if (!mag) {
        *rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        return 0;
    }
    int64_t k = 0;
    for (size_t l = 0; l < nl; l++)
        for (int64_t i = 0; i < n[l]; i++) mag[k++] = fabsf(w[l][i]);
    qsort(mag, (size_t)total, sizeof *mag, cmp_float);
    int64_t cut = (int64_t)floor(frac * (double)total);
    float t = cut <= 0 ? -1.0f : mag[cut - 1];
    free(mag);
    *rc = 0;
    return t;
}

static int prune_apply(kp_model *m, const kp_params *p, const kp_pass_ctx *ctx, kp_error *err) {
    double sp = kp_params_float(p, "sparsity");
    int global = !strcmp(kp_params_str(p, "scope"), "global");
    const char *only = kp_params_str(p, "layers");
    int64_t min_size = kp_params_int(p, "min_size");
    int rc = kp_wstore_decode_model(m, NULL, err);
    if (rc) return rc;
    kp_wlayer *L = NULL;
    size_t nl = 0;
    rc = kp_pass_collect_layers(m, 1, &L, &nl, err);
    if (rc) return rc;
    const float **wp = calloc(nl ? nl : 1, sizeof *wp);
    int64_t *wn = calloc(nl ? nl : 1, sizeof *wn);
    int *sel = calloc(nl ? nl : 1, sizeof *sel);
    if (!wp || !wn || !sel) {
        rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        goto done;
    }
    size_t nsel = 0;
    for (size_t l = 0; l < nl; l++) {
        sel[l] = kp_pass_layer_selected(only, &L[l]) && L[l].w->numel >= min_size;
        if (!sel[l] && L[l].w->numel < min_size && (!only || !only[0]))
            kp_pass_notef(ctx, "prune: %s left dense (%lld weights < min_size %lld)",
                          kp_node_label(L[l].node), (long long)L[l].w->numel, (long long)min_size);
        if (sel[l]) {
            wp[nsel] = L[l].w->data;
            wn[nsel] = L[l].w->numel;
            nsel++;
        }
    }
    if (!nsel) {
        rc = kp_error_set(err, KP_EINVAL,
                          "prune: no layer to prune (layers='%s', min_size=%lld); the model has "
                          "%zu Conv/Gemm/MatMul layers with constant float weights",
                          only, (long long)min_size, nl);
        goto done;
    }
    float gthr = 0;
    if (global) {
        gthr = threshold(wp, wn, nsel, sp, err, &rc);
        if (rc) goto done;
    }
    /* Work on names: replacing a constant frees the old tensor. */
    int64_t kept_total = 0, all_total = 0;
    for (size_t l = 0; l < nl; l++) {
        if (!sel[l]) continue;
        rc = kp_pass_check_cancel(ctx, err);
        if (rc) goto done;
        kp_tensor *w = L[l].w;
        float thr = gthr;
        if (!global) {
            const float *one[1] = {w->data};
            thr = threshold(one, &w->numel, 1, sp, err, &rc);
            if (rc) goto done;
        }
        kp_tensor *nw = kp_tensor_clone(w, err);
        if (!nw) {
            rc = err->code ? err->code : KP_ENOMEM;
            goto done;
        }
        float *W = nw->data;
        int64_t kept = 0;
        for (int64_t i = 0; i < nw->numel; i++) {
            if (fabsf(W[i]) <= thr) W[i] = 0.0f;
            kept += W[i] != 0.0f;
        }
        kept_total += kept;
        all_total += nw->numel;
        kp_pass_notef(ctx, "prune: %s %.1f%% zeros (%lld of %lld kept)", kp_node_label(L[l].node),
                      100.0 * (double)(nw->numel - kept) / (double)nw->numel, (long long)kept,
                      (long long)nw->numel);
        rc = kp_graph_replace_const(L[l].g, nw, err);
        if (rc) goto done;
        kp_pass_progress(ctx, (double)(l + 1) / (double)nl, "pruning");
    }
    kp_wstore_stats st = {0};
    rc = kp_wstore_encode_model(m, 0, &st, err);
    if (rc) goto done;
    kp_pass_notef(ctx,
                  "prune: %.1f%% of %lld weights are zero; %zu tensors stored sparse (%zu "
                  "sparse+codebook, %zu codebook), %zu kept dense",
                  all_total ? 100.0 * (double)(all_total - kept_total) / (double)all_total : 0.0,
                  (long long)all_total, st.n_sparse, st.n_sparse_cluster, st.n_cluster, st.n_dense);
done:
    free(wp);
    free(wn);
    free(sel);
    free(L);
    return rc;
}

static int prune_estimate(const kp_model *m, const kp_params *p, const kp_pass_ctx *ctx,
                          kp_estimate *out, kp_error *err) {
    (void)ctx;
    kp_wlayer *L = NULL;
    size_t nl = 0;
    int rc = kp_pass_collect_layers((kp_model *)m, kp_params_int(p, "min_size"), &L, &nl, err);
    if (rc) return rc;
    double sp = kp_params_float(p, "sparsity");
    int64_t tot = 0;
    for (size_t l = 0; l < nl; l++) tot += L[l].w->numel;
    free(L);
    memset(out, 0, sizeof *out);
    /* Weights dominate the file; sparse form costs 5 bytes per kept weight against 4 dense. */
    double wfrac = 0.95, keep = 1.0 - sp;
    double r = keep * 5.0 / 4.0;
    if (r > 1.0) r = 1.0;
    out->size_ratio = 1.0 - wfrac + wfrac * r;
    out->latency_ratio = 1.0; /* dense kernels: no speed-up */
    out->acc_drop = sp <= 0.5 ? 0.1 : sp <= 0.8 ? 0.5 + 2 * (sp - 0.5) : 2.0 + 20 * (sp - 0.8);
    out->confidence = 0.3;
    out->applicable = nl > 0 && sp > 0;
    snprintf(out->reason, sizeof out->reason,
             "%lld weights in %zu layers; %.0f%% zeros stored sparse shrink the file, not the "
             "latency",
             (long long)tot, nl, 100 * sp);
    return 0;
}

static const kp_param_def prune_params[] = {
    {"sparsity", KP_PARAM_FLOAT, "0.5", 0, 0.99, NULL, "fraction of weights set to zero"},
    {"scope", KP_PARAM_ENUM, "global", 0, 0, "global|layer",
     "one magnitude threshold for all layers, or the same fraction in each layer"},
    {"layers", KP_PARAM_STRING, "", 0, 0, NULL,
     "comma-separated node or weight names to prune (empty: all)"},
    {"min_size", KP_PARAM_INT, "1000", 0, 1e12, NULL, "layers with fewer weights stay dense"},
};

const kp_pass kp_pass_prune = {
    .id = "prune",
    .title = "Magnitude pruning (unstructured)",
    .summary = "Zeros the smallest weights and stores them sparse so the file shrinks",
    .lossless = 0,
    .needs_data = 0,
    .n_params = sizeof prune_params / sizeof *prune_params,
    .params = prune_params,
    .estimate = prune_estimate,
    .apply = prune_apply,
};
