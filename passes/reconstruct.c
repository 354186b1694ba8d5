/* reconstruct: post-training layer-wise distillation. For each Conv (2-D, group 1), Gemm and
 * MatMul in graph order, it runs the current (compressed) model and the original model on
 * calibration batches, takes the layer's input in the compressed model and the value of the
 * same name in the original model as the target, and refits the layer by least squares
 * (normal equations, small ridge, LAPACKE):
 *   - pruned layers: each output row is refit over its kept weights only (zeros stay zero),
 *     bias included;
 *   - clustered layers (<= 256 distinct nonzero values): the codebook values are refit, the
 *     assignment kept, so the stored size is unchanged;
 *   - dense layers: plain refit.
 * Earlier layers are refit first, so later ones see their corrected inputs. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/exec.h"
#include "core/linalg.h"
#include "passes/common.h"
#include "passes/wstore.h"

typedef struct rc_layer {
    kp_graph *g;
    kp_node *n;
    int conv, tb;
    int64_t cin, cout, kh, kw, K; /* K = rows of the weight's input side (Cin*kh*kw or K) */
    int has_bias;
    int64_t sh, sw, ph, pw, dh, dw;
} rc_layer;

/* Fills P [rows, D] (D = K + has_bias) from input x for layer L; returns rows. */
static int64_t make_rows(const rc_layer *L, const kp_tensor *x, float *P, int64_t ho, int64_t wo) {
    int64_t D = L->K + L->has_bias;
    if (!L->conv) {
        int64_t rows = x->numel / L->K;
        const float *X = x->data;
        for (int64_t r = 0; r < rows; r++) {
            memcpy(P + r * D, X + r * L->K, (size_t)L->K * sizeof(float));
            if (L->has_bias) P[r * D + L->K] = 1.0f;
        }
        return rows;
    }
    int64_t N = x->dims[0], H = x->dims[2], W = x->dims[3];
    const float *X = x->data;
    int64_t r = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < ho; i++)
            for (int64_t j = 0; j < wo; j++, r++) {
                float *row = P + r * D;
                int64_t k = 0;
                for (int64_t c = 0; c < L->cin; c++)
                    for (int64_t a = 0; a < L->kh; a++)
                        for (int64_t b = 0; b < L->kw; b++, k++) {
                            int64_t y = i * L->sh - L->ph + a * L->dh;
                            int64_t z = j * L->sw - L->pw + b * L->dw;
                            row[k] = (y >= 0 && y < H && z >= 0 && z < W)
                                         ? X[((n * L->cin + c) * H + y) * W + z]
                                         : 0.0f;
                        }
                if (L->has_bias) row[k] = 1.0f;
            }
    return r;
}

/* Target rows Y [rows, Cout] from the original value t, whose channel map[o] (identity when
 * map is NULL) is the pruned layer's channel o; tc = channels of t. */
static void make_targets(const rc_layer *L, const kp_tensor *t, float *Y, int64_t rows,
                         const int64_t *map, int64_t tc) {
    const float *T = t->data;
    if (!L->conv) {
        for (int64_t r = 0; r < rows; r++)
            for (int64_t o = 0; o < L->cout; o++)
                Y[r * L->cout + o] = T[r * tc + (map ? map[o] : o)];
        return;
    }
    int64_t N = t->dims[0], S = t->dims[2] * t->dims[3];
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < L->cout; o++) {
            int64_t src = map ? map[o] : o;
            for (int64_t s = 0; s < S; s++)
                Y[(n * S + s) * L->cout + o] = T[(n * tc + src) * S + s];
        }
}

/* Weight index of (input k, output o) in the stored tensor. */
static int64_t widx(const rc_layer *L, int64_t k, int64_t o) {
    if (L->conv || L->tb) return o * L->K + k;
    return k * L->cout + o;
}

typedef struct rc_opts {
    const kp_calib *calib;
    size_t max_batches;
    double ridge;
    const kp_pass_ctx *ctx;
} rc_opts;

static int accumulate(kp_model *m, const kp_model *orig, const rc_layer *L, const rc_opts *o,
                      double *G, double *H, kp_error *err) {
    size_t nmap = 0;
    int64_t *map = kp_pass_chmap_get(m, L->n->outputs[0], &nmap);
    if (map && nmap != (size_t)L->cout) {
        free(map);
        map = NULL;
    }
    kp_exec_opts eo = {.threads = 1, .keep_values = 1};
    kp_exec *ec = NULL, *eo2 = NULL;
    kp_tensor **oc = NULL, **oo = NULL;
    float *P = NULL, *Y = NULL, *g = NULL, *h = NULL;
    size_t nco = 0, noo = 0;
    int64_t D = L->K + L->has_bias;
    int rc = kp_exec_new(m, &eo, &ec, err);
    if (!rc) rc = kp_exec_new(orig, &eo, &eo2, err);
    if (rc) goto done;
    nco = kp_exec_n_outputs(ec);
    noo = kp_exec_n_outputs(eo2);
    oc = calloc(nco + 1, sizeof *oc);
    oo = calloc(noo + 1, sizeof *oo);
    g = malloc((size_t)(D * D) * sizeof *g);
    h = malloc((size_t)(D * L->cout) * sizeof *h);
    if (!oc || !oo || !g || !h) {
        rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        goto done;
    }
    size_t nb = o->calib->n_batches < o->max_batches ? o->calib->n_batches : o->max_batches;
    for (size_t b = 0; b < nb && !rc; b++) {
        const kp_tensor *const *in;
        const int64_t *labels;
        size_t bs;
        rc = o->calib->get((kp_calib *)o->calib, b, &in, &labels, &bs, err);
        if (!rc) rc = kp_exec_run(ec, in, oc, err);
        if (!rc) rc = kp_exec_run(eo2, in, oo, err);
        if (rc) break;
        const char *xn = kp_node_input(L->n, 0), *yn = L->n->outputs[0];
        const kp_tensor *x = kp_exec_value(ec, xn), *t = kp_exec_value(eo2, yn);
        for (size_t i = 0; !x && i < kp_exec_n_inputs(ec); i++)
            if (!strcmp(kp_exec_input(ec, i)->name, xn)) x = in[i];
        for (size_t i = 0; !t && i < noo; i++)
            if (!strcmp(kp_exec_output(eo2, i)->name, yn)) t = oo[i];
        if (!x || !t || x->dtype != KP_FLOAT || t->dtype != KP_FLOAT) {
            rc = kp_error_set(err, KP_ENOTFOUND, "value '%s' or '%s' not available", xn, yn);
            break;
        }
        int64_t ho = 1, wo = 1, rows;
        int64_t tc = t->rank ? t->dims[L->conv ? 1 : t->rank - 1] : 0;
        int map_ok = tc == L->cout || map;
        for (int64_t c = 0; map && map_ok && c < L->cout; c++) map_ok = map[c] < tc;
        if (!map_ok) {
            rc = kp_error_set(err, KP_EUNSUPPORTED,
                              "the original has %lld channels here and no channel map",
                              (long long)tc);
            break;
        }
        const int64_t *use_map = tc == L->cout ? NULL : map;
        if (L->conv) {
            if (x->rank != 4 || t->rank != 4 || x->dims[1] != L->cin || t->dims[0] != x->dims[0]) {
                rc = kp_error_set(err, KP_EUNSUPPORTED, "shapes do not match the original");
                break;
            }
            ho = t->dims[2];
            wo = t->dims[3];
            rows = x->dims[0] * ho * wo;
        } else {
            if (x->numel % L->K || t->numel != (x->numel / L->K) * tc) {
                rc = kp_error_set(err, KP_EUNSUPPORTED, "shapes do not match the original");
                break;
            }
            rows = x->numel / L->K;
        }
        free(P);
        free(Y);
        P = malloc((size_t)(rows * D) * sizeof *P);
        Y = malloc((size_t)(rows * L->cout) * sizeof *Y);
        if (!P || !Y) {
            rc = kp_error_set(err, KP_ENOMEM, "out of memory for %lld rows", (long long)rows);
            break;
        }
        make_rows(L, x, P, ho, wo);
        make_targets(L, t, Y, rows, use_map, tc);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)D, (int)D, (int)rows, 1.0f, P,
                    (int)D, P, (int)D, 0.0f, g, (int)D);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)D, (int)L->cout, (int)rows, 1.0f,
                    P, (int)D, Y, (int)L->cout, 0.0f, h, (int)L->cout);
        for (int64_t i = 0; i < D * D; i++) G[i] += g[i];
        for (int64_t i = 0; i < D * L->cout; i++) H[i] += h[i];
        for (size_t i = 0; i < nco; i++) kp_tensor_free(oc[i]), oc[i] = NULL;
        for (size_t i = 0; i < noo; i++) kp_tensor_free(oo[i]), oo[i] = NULL;
    }
done:
    if (oc)
        for (size_t i = 0; i < nco; i++) kp_tensor_free(oc[i]);
    if (oo)
        for (size_t i = 0; i < noo; i++) kp_tensor_free(oo[i]);
    free(oc);
    free(oo);
    free(P);
    free(Y);
    free(g);
    free(h);
    free(map);
    kp_exec_free(ec);
    kp_exec_free(eo2);
    return rc;
}

/* Masked refit: per output, solve over inputs with nonzero weight (+ bias). */
static int solve_masked(const rc_layer *L, const double *G, const double *H, float *W, float *B,
                        double ridge, kp_error *err) {
    int64_t D = L->K + L->has_bias;
    int64_t *S = malloc((size_t)D * sizeof *S);
    double *A = malloc((size_t)(D * D) * sizeof *A), *rhs = malloc((size_t)D * sizeof *rhs);
    int rc = (!S || !A || !rhs) ? kp_error_set(err, KP_ENOMEM, "out of memory") : 0;
    for (int64_t o = 0; !rc && o < L->cout; o++) {
        int64_t s = 0;
        for (int64_t k = 0; k < L->K; k++)
            if (W[widx(L, k, o)] != 0.0f) S[s++] = k;
        if (L->has_bias) S[s++] = L->K;
        if (!s) continue;
        for (int64_t a = 0; a < s; a++) {
            for (int64_t b = 0; b < s; b++) A[a * s + b] = G[S[a] * D + S[b]];
            rhs[a] = H[S[a] * L->cout + o];
        }
        kp_error e2;
        if (kp_linalg_solve_spd(A, (int)s, rhs, 1, ridge, &e2)) continue; /* keep old row */
        int64_t a = 0;
        for (; a < s && S[a] < L->K; a++) W[widx(L, S[a], o)] = (float)rhs[a];
        if (L->has_bias && B) B[o] = (float)rhs[a];
    }
    free(S);
    free(A);
    free(rhs);
    return rc;
}

/* Codebook refit with bias fixed: unknowns are the distinct nonzero values. */
static int solve_codebook(const rc_layer *L, const double *G, const double *H, float *W,
                          const float *B, const float *cb, int k, double ridge, kp_error *err) {
    int64_t D = L->K + L->has_bias;
    double *A = calloc((size_t)(k * k), sizeof *A), *rhs = calloc((size_t)k, sizeof *rhs);
    int *code = malloc((size_t)L->K * sizeof *code);
    if (!A || !rhs || !code) {
        free(A);
        free(rhs);
        free(code);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    for (int64_t o = 0; o < L->cout; o++) {
        for (int64_t i = 0; i < L->K; i++) {
            float v = W[widx(L, i, o)];
            code[i] = -1;
            if (v == 0.0f) continue;
            int lo = 0, hi = k - 1;
            while (lo < hi) {
                int mid = (lo + hi) / 2;
                if (cb[mid] < v)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            code[i] = lo;
        }
        double bo = (L->has_bias && B) ? B[o] : 0.0;
        for (int64_t i = 0; i < L->K; i++) {
            if (code[i] < 0) continue;
            /* rhs_j += sum_i [code=j] (H[i,o] - bias * G[i,bias]) */
            rhs[code[i]] += H[i * L->cout + o] - (L->has_bias ? bo * G[i * D + L->K] : 0.0);
            for (int64_t i2 = 0; i2 < L->K; i2++)
                if (code[i2] >= 0) A[code[i] * k + code[i2]] += G[i * D + i2];
        }
    }
    int rc = kp_linalg_solve_spd(A, k, rhs, 1, ridge, err);
    if (!rc)
        for (int64_t i = 0; i < L->K * L->cout; i++) {
            float v = W[i];
            if (v == 0.0f) continue;
            int lo = 0, hi = k - 1;
            while (lo < hi) {
                int mid = (lo + hi) / 2;
                if (cb[mid] < v)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            W[i] = (float)rhs[lo] != 0.0f ? (float)rhs[lo] : cb[lo];
        }
    free(A);
    free(rhs);
    free(code);
    return rc;
}

static int cmp_f(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Distinct nonzero values of w into cb (cap 256); returns count or 257. */
static int codebook_of(const kp_tensor *w, float *cb) {
    float *t = malloc((size_t)w->numel * sizeof *t);
    if (!t) return 257;
    int64_t m = 0;
    for (int64_t i = 0; i < w->numel; i++)
        if (((float *)w->data)[i] != 0.0f) t[m++] = ((float *)w->data)[i];
    qsort(t, (size_t)m, sizeof *t, cmp_f);
    int k = 0;
    for (int64_t i = 0; i < m; i++) {
        if (k && t[i] == cb[k - 1]) continue;
        if (k == 256) {
            free(t);
            return 257;
        }
        cb[k++] = t[i];
    }
    free(t);
    return k;
}

static int describe(kp_graph *g, kp_node *n, rc_layer *L, const char **why) {
    memset(L, 0, sizeof *L);
    L->g = g;
    L->n = n;
    kp_tensor *w = kp_pass_const_input(g, n, 1);
    if (!w) return *why = "weight is not a constant", 0;
    if (kp_value_n_uses(g, kp_node_input(n, 1)) != 1) return *why = "weight is shared", 0;
    const char *bn = kp_node_input(n, 2);
    kp_tensor *b = bn ? kp_pass_const_input(g, n, 2) : NULL;
    if (bn && !b) return *why = "bias is not a constant", 0;
    if (kp_node_is(n, "Conv")) {
        if (w->rank != 4 || kp_node_attr_int(n, "group", 1) != 1 ||
            strcmp(kp_node_attr_string(n, "auto_pad", "NOTSET"), "NOTSET"))
            return *why = "only 2-D Convs with group 1 and explicit pads", 0;
        L->conv = 1;
        L->cout = w->dims[0];
        L->cin = w->dims[1];
        L->kh = w->dims[2];
        L->kw = w->dims[3];
        L->K = L->cin * L->kh * L->kw;
        const int64_t *v;
        L->sh = L->sw = L->dh = L->dw = 1;
        if (kp_node_attr_ints(n, "strides", &v) == 2) L->sh = v[0], L->sw = v[1];
        if (kp_node_attr_ints(n, "dilations", &v) == 2) L->dh = v[0], L->dw = v[1];
        if (kp_node_attr_ints(n, "pads", &v) == 4) L->ph = v[0], L->pw = v[1];
    } else {
        if (w->rank != 2) return *why = "weight is not 2-D", 0;
        if (kp_node_is(n, "Gemm")) {
            if (kp_node_attr_int(n, "transA", 0) || kp_node_attr_float(n, "alpha", 1) != 1.0f ||
                kp_node_attr_float(n, "beta", 1) != 1.0f)
                return *why = "Gemm with transA/alpha/beta", 0;
            L->tb = (int)kp_node_attr_int(n, "transB", 0);
        }
        L->K = L->tb ? w->dims[1] : w->dims[0];
        L->cout = L->tb ? w->dims[0] : w->dims[1];
    }
    if (b && b->numel != L->cout) return *why = "bias is not [Cout]", 0;
    L->has_bias = b != NULL;
    if (L->K + L->has_bias > 4096) return *why = "too many inputs per output (> 4096)", 0;
    return 1;
}

static int rc_apply(kp_model *m, const kp_params *p, const kp_pass_ctx *ctx, kp_error *err) {
    const kp_model *orig = ctx ? (ctx->original ? ctx->original : ctx->reference) : NULL;
    if (!ctx || !ctx->calib || !ctx->calib->n_batches)
        return kp_error_set(
            err, KP_EINVAL,
            "reconstruct needs calibration data: give a data set (kompress compress --data)");
    if (!orig) return kp_error_set(err, KP_EINVAL, "reconstruct needs the original model");
    rc_opts o = {ctx->calib, (size_t)kp_params_int(p, "batches"), kp_params_float(p, "ridge"), ctx};
    const char *only = kp_params_str(p, "layers");
    int rc = kp_wstore_decode_model(m, NULL, err);
    if (rc) return rc;
    kp_model *od = kp_model_clone(orig, err); /* decoded copy: plain weights, same outputs */
    if (!od) return err->code ? err->code : KP_ENOMEM;
    rc = kp_wstore_decode_model(od, NULL, err);
    kp_graph *g = m->graph;
    size_t done_n = 0;
    for (size_t i = 0; !rc && i < g->n_nodes; i++) {
        kp_node *n = g->nodes[i];
        if (!kp_node_is(n, "Conv") && !kp_node_is(n, "Gemm") && !kp_node_is(n, "MatMul")) continue;
        kp_wlayer wl = {g, n, kp_node_input(n, 1), NULL, KP_LAYER_CONV};
        if (!wl.wname || !kp_pass_layer_selected(only, &wl)) continue;
        rc_layer L;
        const char *why = "";
        if (!describe(g, n, &L, &why)) {
            kp_pass_notef(ctx, "reconstruct: %s unchanged (%s)", kp_node_label(n), why);
            continue;
        }
        size_t pos;
        if (!kp_graph_producer(od->graph, n->outputs[0], &pos)) {
            kp_pass_notef(ctx, "reconstruct: %s unchanged (the original has no value '%s')",
                          kp_node_label(n), n->outputs[0]);
            continue;
        }
        rc = kp_pass_check_cancel(ctx, err);
        if (rc) break;
        int64_t D = L.K + L.has_bias;
        double *G = calloc((size_t)(D * D), sizeof *G),
               *H = calloc((size_t)(D * L.cout), sizeof *H);
        if (!G || !H) {
            free(G);
            free(H);
            rc = kp_error_set(err, KP_ENOMEM, "out of memory");
            break;
        }
        kp_error e2;
        kp_error_clear(&e2);
        int arc = accumulate(m, od, &L, &o, G, H, &e2);
        if (arc == KP_ECANCELLED || arc == KP_ENOMEM) {
            free(G);
            free(H);
            rc = kp_error_set(err, arc, "%s", e2.msg);
            break;
        }
        if (arc) {
            kp_pass_notef(ctx, "reconstruct: %s unchanged (%s)", kp_node_label(n), e2.msg);
            free(G);
            free(H);
            continue;
        }
        kp_tensor *w = kp_tensor_clone(kp_pass_const_input(g, n, 1), err);
        kp_tensor *b = L.has_bias ? kp_tensor_clone(kp_pass_const_input(g, n, 2), err) : NULL;
        float cb[256];
        int k = w ? codebook_of(w, cb) : 257;
        int clustered = w && k <= 256 && w->numel > 4 * 256;
        if (!w || (L.has_bias && !b))
            rc = KP_ENOMEM;
        else if (clustered)
            rc = solve_codebook(&L, G, H, w->data, b ? b->data : NULL, cb, k, o.ridge, &e2);
        else
            rc = solve_masked(&L, G, H, w->data, b ? b->data : NULL, o.ridge, &e2);
        free(G);
        free(H);
        if (rc) {
            kp_pass_notef(ctx, "reconstruct: %s unchanged (%s)", kp_node_label(n), e2.msg);
            kp_tensor_free(w);
            kp_tensor_free(b);
            rc = 0;
            continue;
        }
        rc = kp_graph_replace_const(g, w, err);
        if (!rc && b)
            rc = kp_graph_replace_const(g, b, err);
        else
            kp_tensor_free(b);
        if (rc) break;
        kp_pass_notef(ctx, "reconstruct: %s refit (%s, %lld inputs per output)", kp_node_label(n),
                      clustered ? "codebook"
                                : (L.has_bias ? "kept weights + bias" : "kept weights"),
                      (long long)D);
        done_n++;
        kp_pass_progress(ctx, (double)(i + 1) / (double)g->n_nodes, "refitting layers");
    }
    kp_model_free(od);
    if (rc) return rc;
    kp_pass_notef(ctx, "reconstruct: %zu layers refit on %zu calibration batches", done_n,
                  o.calib->n_batches < o.max_batches ? o.calib->n_batches : o.max_batches);
    return kp_wstore_encode_model(m, 0, NULL, err);
}

static int rc_estimate(const kp_model *m, const kp_params *p, const kp_pass_ctx *ctx,
                       kp_estimate *out, kp_error *err) {
    (void)m;
    (void)p;
    (void)err;
    memset(out, 0, sizeof *out);
    out->size_ratio = 1.0;
    out->latency_ratio = 1.0;
    out->acc_drop = -0.5; /* recovers accuracy */
    out->confidence = 0.2;
    out->applicable = ctx && ctx->calib != NULL;
    snprintf(out->reason, sizeof out->reason, "%s",
             out->applicable ? "refits compressed layers to the original's outputs"
                             : "needs calibration data");
    return 0;
}

static const kp_param_def rc_params[] = {
    {"batches", KP_PARAM_INT, "64", 1, 100000, NULL, "calibration batches used per layer"},
    {"ridge", KP_PARAM_FLOAT, "1e-4", 0, 1, NULL,
     "ridge regularisation, relative to the mean input energy"},
    {"layers", KP_PARAM_STRING, "", 0, 0, NULL,
     "comma-separated node or weight names (empty: all)"},
};

const kp_pass kp_pass_reconstruct = {
    .id = "reconstruct",
    .title = "Layer-wise reconstruction (distillation)",
    .summary = "Refits compressed layers by least squares to reproduce the original outputs",
    .lossless = 0,
    .needs_data = 1,
    .n_params = sizeof rc_params / sizeof *rc_params,
    .params = rc_params,
    .estimate = rc_estimate,
    .apply = rc_apply,
};
