/* low-rank: truncated SVD of layer weights, emitted as two thinner layers.
 *   Gemm/MatMul W[K,N] = U S Vt  ->  (x W1[K,r]) W2[r,N], bias on the second layer.
 *   1x1 Conv W[Co,Ci]            ->  Conv 1x1 Ci->r (strides/pads kept), Conv 1x1 r->Co.
 *   kh x kw Conv (group 1, 2-D)  ->  Conv kh x 1 Ci->r, Conv 1 x kw r->Co (spatial SVD of
 *                                    W reshaped to [(Ci,kh), (Co,kw)]).
 * The rank keeps `energy` of the squared singular values (or rank_ratio x full rank); a layer
 * is factorised only where the two layers have at most `max_ratio` of the weights (so they are
 * smaller and do fewer MACs); the others are left with a note. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/linalg.h"
#include "passes/common.h"
#include "passes/wstore.h"

typedef struct lr_opts {
    double energy, rank_ratio, max_ratio;
} lr_opts;

static int pick_rank(const float *s, int r, const lr_opts *o) {
    if (o->rank_ratio > 0) {
        int k = (int)ceil(o->rank_ratio * r);
        return k < 1 ? 1 : k > r ? r : k;
    }
    double tot = 0, acc = 0;
    for (int i = 0; i < r; i++) tot += (double)s[i] * s[i];
    for (int i = 0; i < r; i++) {
        acc += (double)s[i] * s[i];
        if (acc >= o->energy * tot) return i + 1;
    }
    return r;
}

static kp_tensor *mk(int rank, const int64_t *dims, kp_error *err) {
    return kp_tensor_new(KP_FLOAT, rank, dims, err);
}

/* Inserts `first` before node at pos and rewires: node reads first's output. */
static int add_before(kp_graph *g, kp_node *node, kp_node *first, const char *mid) {
    size_t pos = kp_graph_node_pos(g, node);
    if (pos == (size_t)-1 || kp_graph_insert_node(g, pos, first)) return KP_ENOMEM;
    return kp_node_set_input(node, 0, mid);
}

static char *wname(kp_graph *g, const kp_node *n, const char *suffix) {
    char base[256];
    snprintf(base, sizeof base, "%s_%s", kp_node_label(n), suffix);
    return kp_graph_unique_name(g, base);
}

/* Factorises matrix a[m,n] at rank r into p[m,r] = U sqrt(S), q[r,n] = sqrt(S) Vt. */
static int factor(const float *a, int m, int n, const lr_opts *o, int *rank_out, float **p,
                  float **q, double *kept_energy, kp_error *err) {
    int r = m < n ? m : n;
    float *u = malloc((size_t)m * r * sizeof *u), *s = malloc((size_t)r * sizeof *s);
    float *vt = malloc((size_t)r * n * sizeof *vt);
    if (!u || !s || !vt) {
        free(u);
        free(s);
        free(vt);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    int rc = kp_linalg_svd(a, m, n, u, s, vt, err);
    if (rc) {
        free(u);
        free(s);
        free(vt);
        return rc;
    }
    int k = pick_rank(s, r, o);
    double tot = 0, acc = 0;
    for (int i = 0; i < r; i++) tot += (double)s[i] * s[i], acc += i < k ? (double)s[i] * s[i] : 0;
    *kept_energy = tot > 0 ? acc / tot : 1;
    *p = malloc((size_t)m * k * sizeof **p);
    *q = malloc((size_t)k * n * sizeof **q);
    if (!*p || !*q) {
        free(*p);
        free(*q);
        free(u);
        free(s);
        free(vt);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    for (int j = 0; j < k; j++) {
        float rs = sqrtf(s[j]);
        for (int i = 0; i < m; i++) (*p)[(size_t)i * k + j] = u[(size_t)i * r + j] * rs;
        for (int i = 0; i < n; i++) (*q)[(size_t)j * n + i] = vt[(size_t)j * n + i] * rs;
    }
    *rank_out = k;
    free(u);
    free(s);
    free(vt);
    return 0;
}

/* Gemm / MatMul: y = x W (+C). */
static int lr_matrix(kp_wlayer *l, const lr_opts *o, const kp_pass_ctx *ctx, int *did,
                     kp_error *err) {
    kp_node *n = l->node;
    kp_graph *g = l->g;
    int is_gemm = l->kind == KP_LAYER_GEMM;
    int tb = is_gemm ? (int)kp_node_attr_int(n, "transB", 0) : 0;
    int K = (int)(tb ? l->w->dims[1] : l->w->dims[0]),
        N = (int)(tb ? l->w->dims[0] : l->w->dims[1]);
    float *wk = malloc((size_t)K * N * sizeof *wk);
    if (!wk) return kp_error_set(err, KP_ENOMEM, "out of memory");
    const float *W = l->w->data;
    for (int i = 0; i < K; i++)
        for (int j = 0; j < N; j++)
            wk[(size_t)i * N + j] = tb ? W[(size_t)j * K + i] : W[(size_t)i * N + j];
    int r;
    float *p, *q;
    double ke;
    int rc = factor(wk, K, N, o, &r, &p, &q, &ke, err);
    free(wk);
    if (rc) return rc;
    double ratio = (double)r * (K + N) / ((double)K * N);
    if (ratio > o->max_ratio) {
        kp_pass_notef(ctx,
                      "low-rank: %s unchanged (rank %d of %d keeps %.1f%% energy but "
                      "would be %.0f%% of the weights)",
                      kp_node_label(n), r, K < N ? K : N, 100 * ke, 100 * ratio);
        free(p);
        free(q);
        return 0;
    }
    int64_t d1[2] = {K, r}, d2[2] = {r, N};
    kp_tensor *t1 = mk(2, d1, err), *t2 = mk(2, d2, err);
    char *mid = wname(g, n, "lr_mid");
    if (!t1 || !t2 || !mid) {
        kp_tensor_free(t1);
        kp_tensor_free(t2);
        free(p);
        free(q);
        free(mid);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    memcpy(t1->data, p, t1->nbytes);
    memcpy(t2->data, q, t2->nbytes);
    free(p);
    free(q);
    char *w1n = wname(g, n, "lr_w1");
    const char *in1[2] = {kp_node_input(n, 0), w1n};
    const char *out1[1] = {mid};
    char nm[256];
    snprintf(nm, sizeof nm, "%s_lr1", kp_node_label(n));
    kp_node *first = kp_node_new(is_gemm ? "Gemm" : "MatMul", nm, 2, in1, 1, out1);
    rc = first ? 0 : KP_ENOMEM;
    if (!rc && is_gemm) {
        /* alpha and transA belong to the first product; beta and C to the second. */
        rc |= kp_node_set_attr_int(first, "transA", kp_node_attr_int(n, "transA", 0));
        rc |= kp_node_set_attr_float(first, "alpha", kp_node_attr_float(n, "alpha", 1.0f));
        kp_node_remove_attr(n, "transA");
        kp_node_remove_attr(n, "alpha");
        kp_node_remove_attr(n, "transB");
    }
    if (!rc)
        rc = add_before(g, n, first, mid);
    else
        kp_node_free(first);
    free(w1n);
    free(mid);
    if (!rc)
        rc = kp_pass_set_input_const(g, first, 1, t1, kp_node_input(first, 1), err);
    else
        kp_tensor_free(t1);
    if (!rc)
        rc = kp_pass_set_input_const(g, n, 1, t2, "lr_w2", err);
    else
        kp_tensor_free(t2);
    if (rc) return err->msg[0] ? rc : kp_error_set(err, rc, "out of memory");
    kp_pass_notef(ctx, "low-rank: %s %dx%d -> rank %d (%.1f%% energy, %.0f%% of the weights)",
                  kp_node_label(n), K, N, r, 100 * ke, 100 * ratio);
    *did = 1;
    return 0;
}

static int set_conv_attrs(kp_node *c, const int64_t *strides, const int64_t *pads,
                          const int64_t *dil, const int64_t *ks) {
    int rc = kp_node_set_attr_ints(c, "strides", 2, strides);
    rc |= kp_node_set_attr_ints(c, "pads", 4, pads);
    rc |= kp_node_set_attr_ints(c, "dilations", 2, dil);
    rc |= kp_node_set_attr_ints(c, "kernel_shape", 2, ks);
    return rc ? KP_ENOMEM : 0;
}

/* 2-D Conv, group 1: 1x1 (channel SVD) or kh x kw (spatial SVD). */
static int lr_conv(kp_wlayer *l, const lr_opts *o, const kp_pass_ctx *ctx, int *did,
                   kp_error *err) {
    kp_node *n = l->node;
    kp_graph *g = l->g;
    kp_tensor *w = l->w;
    if (w->rank != 4 || kp_node_attr_int(n, "group", 1) != 1 ||
        strcmp(kp_node_attr_string(n, "auto_pad", "NOTSET"), "NOTSET")) {
        kp_pass_notef(ctx, "low-rank: %s unchanged (only 2-D, group=1, explicit pads)",
                      kp_node_label(n));
        return 0;
    }
    int Co = (int)w->dims[0], Ci = (int)w->dims[1], kh = (int)w->dims[2], kw = (int)w->dims[3];
    int m = Ci * kh, nn = Co * kw;
    float *a = malloc((size_t)m * nn * sizeof *a);
    if (!a) return kp_error_set(err, KP_ENOMEM, "out of memory");
    const float *W = w->data;
    for (int oc = 0; oc < Co; oc++)
        for (int c = 0; c < Ci; c++)
            for (int h = 0; h < kh; h++)
                for (int x = 0; x < kw; x++)
                    a[(size_t)(c * kh + h) * nn + (oc * kw + x)] =
                        W[(((size_t)oc * Ci + c) * kh + h) * kw + x];
    int r;
    float *p, *q;
    double ke;
    int rc = factor(a, m, nn, o, &r, &p, &q, &ke, err);
    free(a);
    if (rc) return rc;
    double ratio = (double)r * (m + nn) / ((double)Co * Ci * kh * kw);
    if (ratio > o->max_ratio) {
        kp_pass_notef(ctx,
                      "low-rank: %s unchanged (rank %d keeps %.1f%% energy but would be "
                      "%.0f%% of the weights)",
                      kp_node_label(n), r, 100 * ke, 100 * ratio);
        free(p);
        free(q);
        return 0;
    }
    int64_t d1[4] = {r, Ci, kh, 1}, d2[4] = {Co, r, 1, kw};
    kp_tensor *t1 = mk(4, d1, err), *t2 = mk(4, d2, err);
    if (!t1 || !t2) {
        kp_tensor_free(t1);
        kp_tensor_free(t2);
        free(p);
        free(q);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    float *T1 = t1->data, *T2 = t2->data;
    for (int j = 0; j < r; j++)
        for (int c = 0; c < Ci; c++)
            for (int h = 0; h < kh; h++)
                T1[((size_t)j * Ci + c) * kh + h] = p[(size_t)(c * kh + h) * r + j];
    for (int oc = 0; oc < Co; oc++)
        for (int j = 0; j < r; j++)
            for (int x = 0; x < kw; x++)
                T2[((size_t)oc * r + j) * kw + x] = q[(size_t)j * nn + oc * kw + x];
    free(p);
    free(q);
    const int64_t *sv, *pv, *dv;
    int64_t st[2] = {1, 1}, pd[4] = {0, 0, 0, 0}, dl[2] = {1, 1};
    if (kp_node_attr_ints(n, "strides", &sv) == 2) st[0] = sv[0], st[1] = sv[1];
    if (kp_node_attr_ints(n, "pads", &pv) == 4) memcpy(pd, pv, sizeof pd);
    if (kp_node_attr_ints(n, "dilations", &dv) == 2) dl[0] = dv[0], dl[1] = dv[1];
    int64_t st1[2] = {st[0], 1}, pd1[4] = {pd[0], 0, pd[2], 0}, dl1[2] = {dl[0], 1};
    int64_t st2[2] = {1, st[1]}, pd2[4] = {0, pd[1], 0, pd[3]}, dl2[2] = {1, dl[1]};
    int64_t ks1[2] = {kh, 1}, ks2[2] = {1, kw};
    char *mid = wname(g, n, "lr_mid"), *w1n = wname(g, n, "lr_w1");
    char nm[256];
    snprintf(nm, sizeof nm, "%s_lr1", kp_node_label(n));
    const char *in1[2] = {kp_node_input(n, 0), w1n};
    const char *out1[1] = {mid};
    kp_node *first = (mid && w1n) ? kp_node_new("Conv", nm, 2, in1, 1, out1) : NULL;
    rc = first ? set_conv_attrs(first, st1, pd1, dl1, ks1) : KP_ENOMEM;
    if (!rc) rc = set_conv_attrs(n, st2, pd2, dl2, ks2);
    if (!rc)
        rc = add_before(g, n, first, mid);
    else
        kp_node_free(first);
    free(mid);
    free(w1n);
    if (!rc)
        rc = kp_pass_set_input_const(g, first, 1, t1, kp_node_input(first, 1), err);
    else
        kp_tensor_free(t1);
    if (!rc)
        rc = kp_pass_set_input_const(g, n, 1, t2, "lr_w2", err);
    else
        kp_tensor_free(t2);
    if (rc) return err->msg[0] ? rc : kp_error_set(err, rc, "out of memory");
    kp_pass_notef(ctx,
                  "low-rank: %s %dx%dx%dx%d -> rank %d (%.1f%% energy, %.0f%% of the "
                  "weights)",
                  kp_node_label(n), Co, Ci, kh, kw, r, 100 * ke, 100 * ratio);
    *did = 1;
    return 0;
}

static int lr_apply(kp_model *m, const kp_params *p, const kp_pass_ctx *ctx, kp_error *err) {
    lr_opts o = {kp_params_float(p, "energy"), kp_params_float(p, "rank_ratio"),
                 kp_params_float(p, "max_ratio")};
    const char *only = kp_params_str(p, "layers");
    int64_t min_size = kp_params_int(p, "min_size");
    int rc = kp_wstore_decode_model(m, NULL, err);
    if (rc) return rc;
    kp_wlayer *L = NULL;
    size_t nl = 0;
    rc = kp_pass_collect_layers(m, min_size, &L, &nl, err);
    if (rc) return rc;
    size_t n_done = 0;
    for (size_t i = 0; i < nl && !rc; i++) {
        if (!kp_pass_layer_selected(only, &L[i])) continue;
        rc = kp_pass_check_cancel(ctx, err);
        if (rc) break;
        int did = 0;
        /* A weight shared with other layers stays: factorising it would change them too. */
        if (kp_value_n_uses(L[i].g, L[i].wname) != 1) {
            kp_pass_notef(ctx, "low-rank: %s unchanged (weight shared)", kp_node_label(L[i].node));
            continue;
        }
        if (L[i].kind == KP_LAYER_GEMM || L[i].kind == KP_LAYER_MATMUL)
            rc = lr_matrix(&L[i], &o, ctx, &did, err);
        else if (L[i].kind == KP_LAYER_CONV)
            rc = lr_conv(&L[i], &o, ctx, &did, err);
        else
            kp_pass_notef(ctx, "low-rank: %s unchanged (ConvTranspose not factorised)",
                          kp_node_label(L[i].node));
        n_done += (size_t)did;
        kp_pass_progress(ctx, (double)(i + 1) / (double)nl, "factorising");
    }
    free(L);
    if (rc) return rc;
    kp_graph_remove_dead(m->graph);
    kp_pass_notef(ctx, "low-rank: %zu layers factorised", n_done);
    return kp_wstore_encode_model(m, 0, NULL, err);
}

static int lr_estimate(const kp_model *m, const kp_params *p, const kp_pass_ctx *ctx,
                       kp_estimate *out, kp_error *err) {
    (void)ctx;
    kp_wlayer *L = NULL;
    size_t nl = 0;
    int rc = kp_pass_collect_layers((kp_model *)m, kp_params_int(p, "min_size"), &L, &nl, err);
    if (rc) return rc;
    free(L);
    memset(out, 0, sizeof *out);
    double e = kp_params_float(p, "energy");
    out->size_ratio = 0.5 + 0.5 * e;
    out->latency_ratio = out->size_ratio;
    out->acc_drop = (1 - e) * 20;
    out->confidence = 0.2;
    out->applicable = nl > 0;
    snprintf(out->reason, sizeof out->reason,
             "%zu layers may split into two thinner ones keeping %.0f%% of their energy", nl,
             100 * e);
    return 0;
}

static const kp_param_def lr_params[] = {
    {"energy", KP_PARAM_FLOAT, "0.9", 0.01, 1, NULL,
     "fraction of squared singular values kept (chooses the rank)"},
    {"rank_ratio", KP_PARAM_FLOAT, "0", 0, 1, NULL,
     "if > 0: rank = this fraction of full rank (a size target), energy ignored"},
    {"max_ratio", KP_PARAM_FLOAT, "0.8", 0.01, 1, NULL,
     "factorise only where the two layers have at most this fraction of the weights"},
    {"layers", KP_PARAM_STRING, "", 0, 0, NULL,
     "comma-separated node or weight names (empty: all)"},
    {"min_size", KP_PARAM_INT, "1000", 0, 1e12, NULL, "layers with fewer weights stay"},
};

const kp_pass kp_pass_low_rank = {
    .id = "low-rank",
    .title = "Low-rank factorisation (truncated SVD)",
    .summary = "Splits Gemm/MatMul and 1x1 or kxk Conv into two thinner layers where smaller",
    .lossless = 0,
    .needs_data = 0,
    .n_params = sizeof lr_params / sizeof *lr_params,
    .params = lr_params,
    .estimate = lr_estimate,
    .apply = lr_apply,
};
