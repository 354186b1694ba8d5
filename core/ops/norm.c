/* Normalizations (float32): BatchNormalization (inference and training forms),
 * InstanceNormalization, LayerNormalization, LRN. Statistics accumulate in double. */
#include <math.h>
#include <string.h>

#include "core/ops/ops.h"

static int need_float(kp_op_ctx *ctx, const kp_tensor *t, const char *what) {
    if (!t) return kp_op_fail(ctx, KP_EINVAL, "input %s is missing", what);
    if (t->dtype != KP_FLOAT)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "input %s is %s; only float32 is supported", what,
                          kp_dtype_name(t->dtype));
    return 0;
}

static int need_vec(kp_op_ctx *ctx, const kp_tensor *t, const char *what, int64_t n) {
    int rc = need_float(ctx, t, what);
    if (rc < 0) return rc;
    if (t->numel != n || t->rank > 1)
        return kp_op_fail(ctx, KP_EINVAL, "%s must have %lld entries (one per channel)", what,
                          (long long)n);
    return 0;
}

/* ---- BatchNormalization -------------------------------------------------------------------- */

static int batchnorm_run(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0), *sc = kp_op_input(ctx, 1), *b = kp_op_input(ctx, 2);
    const kp_tensor *mean = kp_op_input(ctx, 3), *var = kp_op_input(ctx, 4);
    int rc;
    if ((rc = need_float(ctx, x, "X")) < 0) return rc;
    if (x->rank < 2)
        return kp_op_fail(ctx, KP_EINVAL, "X must be N x C x ..., got rank %d", x->rank);
    int64_t c = x->dims[1];
    if ((rc = need_vec(ctx, sc, "scale", c)) < 0 || (rc = need_vec(ctx, b, "B", c)) < 0 ||
        (rc = need_vec(ctx, mean, "mean", c)) < 0 || (rc = need_vec(ctx, var, "var", c)) < 0)
        return rc;
    if (ctx->opset < 9 && kp_node_attr_int(ctx->node, "spatial", 1) == 0)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "spatial=0 is not supported");
    double eps = kp_node_attr_float(ctx->node, "epsilon", 1e-5f);
    double mom = kp_node_attr_float(ctx->node, "momentum", 0.9f);
    int training = ctx->opset >= 14 ? kp_node_attr_int(ctx->node, "training_mode", 0) != 0
                                    : (kp_op_wants(ctx, 1) || kp_op_wants(ctx, 2));
    kp_tensor *y = kp_op_output(ctx, 0, KP_FLOAT, x->rank, x->dims);
    if (!y) return ctx->err->code;
    int64_t n = x->dims[0], sz = (n && c) ? x->numel / (n * c) : 0;
    const float *xd = x->data, *sd = sc->data, *bd = b->data;
    const float *md = mean->data, *vd = var->data;
    float *yd = y->data;
    double *bm = NULL, *bv = NULL;
    if (training) {
        bm = ctx->scratch(ctx, 2 * (size_t)(c ? c : 1) * sizeof *bm);
        if (!bm) return ctx->err->code;
        bv = bm + c;
        for (int64_t ch = 0; ch < c; ch++) {
            double s = 0, s2 = 0, cnt = (double)(n * sz);
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < sz; j++) s += xd[(i * c + ch) * sz + j];
            double mu = cnt > 0 ? s / cnt : 0;
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = 0; j < sz; j++) {
                    double d = xd[(i * c + ch) * sz + j] - mu;
                    s2 += d * d;
                }
            bm[ch] = mu;
            bv[ch] = cnt > 0 ? s2 / cnt : 0;
        }
    }
    for (int64_t ch = 0; ch < c; ch++) {
        double mu = training ? bm[ch] : md[ch], va = training ? bv[ch] : vd[ch];
        float k = (float)(sd[ch] / sqrt(va + eps));
        float off = (float)(bd[ch] - mu * k);
        for (int64_t i = 0; i < n; i++) {
            const float *xp = xd + (i * c + ch) * sz;
            float *yp = yd + (i * c + ch) * sz;
            for (int64_t j = 0; j < sz; j++) yp[j] = xp[j] * k + off;
        }
    }
    if (!training) return 0;
    /* Opset 14+: (Y, running_mean, running_var). Before: (Y, mean, var, saved_mean, saved_var)
     * with mean/var the running statistics. */
    int64_t cd[1] = {c};
    for (size_t o = 1; o < ctx->n_out && o <= 4; o++) {
        if (!kp_op_wants(ctx, o)) continue;
        kp_tensor *t = kp_op_output(ctx, o, KP_FLOAT, 1, cd);
        if (!t) return ctx->err->code;
        float *td = t->data;
        for (int64_t ch = 0; ch < c; ch++) {
            if (o == 1) td[ch] = (float)(md[ch] * mom + bm[ch] * (1 - mom));
            if (o == 2) td[ch] = (float)(vd[ch] * mom + bv[ch] * (1 - mom));
            if (o == 3) td[ch] = (float)bm[ch];
            if (o == 4) td[ch] = (float)bv[ch];
        }
    }
    return 0;
}

/* ---- InstanceNormalization ----------------------------------------------------------------- */

static int instnorm_run(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0), *sc = kp_op_input(ctx, 1), *b = kp_op_input(ctx, 2);
    int rc;
    if ((rc = need_float(ctx, x, "X")) < 0) return rc;
    if (x->rank < 3)
        return kp_op_fail(ctx, KP_EINVAL, "X must be N x C x spatial..., got rank %d", x->rank);
    int64_t c = x->dims[1], n = x->dims[0];
    if ((rc = need_vec(ctx, sc, "scale", c)) < 0 || (rc = need_vec(ctx, b, "B", c)) < 0) return rc;
    double eps = kp_node_attr_float(ctx->node, "epsilon", 1e-5f);
    kp_tensor *y = kp_op_output(ctx, 0, KP_FLOAT, x->rank, x->dims);
    if (!y) return ctx->err->code;
    int64_t sz = (n && c) ? x->numel / (n * c) : 0;
    const float *sd = sc->data, *bd = b->data;
    for (int64_t i = 0; i < n * c; i++) {
        const float *xp = (const float *)x->data + i * sz;
        float *yp = (float *)y->data + i * sz;
        double s = 0, s2 = 0;
        for (int64_t j = 0; j < sz; j++) s += xp[j];
        double mu = sz ? s / (double)sz : 0;
        for (int64_t j = 0; j < sz; j++) s2 += (xp[j] - mu) * (xp[j] - mu);
        double inv = 1.0 / sqrt((sz ? s2 / (double)sz : 0) + eps);
        int64_t ch = i % c;
        for (int64_t j = 0; j < sz; j++) yp[j] = (float)((xp[j] - mu) * inv * sd[ch] + bd[ch]);
    }
    return 0;
}

/* ---- LayerNormalization -------------------------------------------------------------------- */

/* Strides of t broadcast (numpy-style, right-aligned) to the trailing `rank` dims `dims`;
 * fails when it does not broadcast. */
static int bcast_strides(const kp_tensor *t, int rank, const int64_t *dims, int64_t *str) {
    if (t->rank > rank) return -1;
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        int ti = i - (rank - t->rank);
        int64_t d = ti >= 0 ? t->dims[ti] : 1;
        if (d != 1 && d != dims[i]) return -1;
        str[i] = d == 1 ? 0 : s;
        s *= d;
    }
    return 0;
}

static int layernorm_run(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0), *sc = kp_op_input(ctx, 1), *b = kp_op_input(ctx, 2);
    int rc;
    if ((rc = need_float(ctx, x, "X")) < 0 || (rc = need_float(ctx, sc, "Scale")) < 0) return rc;
    if (b && (rc = need_float(ctx, b, "B")) < 0) return rc;
    int64_t axis = kp_node_attr_int(ctx->node, "axis", -1);
    if (axis < 0) axis += x->rank;
    if (axis < 0 || axis >= x->rank || x->rank < 1)
        return kp_op_fail(ctx, KP_EINVAL, "axis is out of range for rank %d", x->rank);
    double eps = kp_node_attr_float(ctx->node, "epsilon", 1e-5f);
    int nr = x->rank - (int)axis;
    const int64_t *nd = x->dims + axis;
    int64_t ss[KP_MAX_RANK], bs[KP_MAX_RANK];
    if (bcast_strides(sc, nr, nd, ss) < 0 || (b && bcast_strides(b, nr, nd, bs) < 0))
        return kp_op_fail(ctx, KP_EINVAL, "Scale/B do not broadcast to the normalized shape");
    int64_t inner = 1, outer = 1;
    for (int i = 0; i < x->rank; i++) {
        if (i < axis)
            outer *= x->dims[i];
        else
            inner *= x->dims[i];
    }
    kp_tensor *y = kp_op_output(ctx, 0, KP_FLOAT, x->rank, x->dims);
    if (!y) return ctx->err->code;
    int64_t sdims[KP_MAX_RANK];
    for (int i = 0; i < x->rank; i++) sdims[i] = i < axis ? x->dims[i] : 1;
    kp_tensor *mt = NULL, *it = NULL;
    if (kp_op_wants(ctx, 1) && !(mt = kp_op_output(ctx, 1, KP_FLOAT, x->rank, sdims)))
        return ctx->err->code;
    if (kp_op_wants(ctx, 2) && !(it = kp_op_output(ctx, 2, KP_FLOAT, x->rank, sdims)))
        return ctx->err->code;
    /* Per normalized element: offset into Scale and B. */
    int64_t *soff = ctx->scratch(ctx, 2 * (size_t)(inner ? inner : 1) * sizeof *soff);
    if (!soff) return ctx->err->code;
    int64_t *boff = soff + inner, idx[KP_MAX_RANK] = {0}, so = 0, bo = 0;
    for (int64_t j = 0; j < inner; j++) {
        soff[j] = so;
        boff[j] = bo;
        for (int d = nr - 1; d >= 0; d--) {
            so += ss[d];
            if (b) bo += bs[d];
            if (++idx[d] < nd[d]) break;
            so -= ss[d] * nd[d];
            if (b) bo -= bs[d] * nd[d];
            idx[d] = 0;
        }
    }
    const float *sd = sc->data, *bd = b ? b->data : NULL;
    for (int64_t o = 0; o < outer; o++) {
        /* inner == 0: X and Y are empty (data may be NULL); only Mean/InvStdDev get values. */
        const float *xp = inner ? (const float *)x->data + o * inner : NULL;
        float *yp = inner ? (float *)y->data + o * inner : NULL;
        double s = 0, s2 = 0;
        for (int64_t j = 0; j < inner; j++) s += xp[j];
        double mu = inner ? s / (double)inner : 0;
        for (int64_t j = 0; j < inner; j++) s2 += (xp[j] - mu) * (xp[j] - mu);
        double inv = 1.0 / sqrt((inner ? s2 / (double)inner : 0) + eps);
        for (int64_t j = 0; j < inner; j++)
            yp[j] = (float)((xp[j] - mu) * inv * sd[soff[j]] + (bd ? bd[boff[j]] : 0));
        if (mt) ((float *)mt->data)[o] = (float)mu;
        if (it) ((float *)it->data)[o] = (float)inv;
    }
    return 0;
}

/* ---- LRN ----------------------------------------------------------------------------------- */

static int lrn_run(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    int rc;
    if ((rc = need_float(ctx, x, "X")) < 0) return rc;
    if (x->rank < 3)
        return kp_op_fail(ctx, KP_EINVAL, "X must be N x C x spatial..., got rank %d", x->rank);
    int64_t size = kp_node_attr_int(ctx->node, "size", 0);
    if (size < 1) return kp_op_fail(ctx, KP_EINVAL, "attribute size must be >= 1");
    double alpha = kp_node_attr_float(ctx->node, "alpha", 1e-4f);
    double beta = kp_node_attr_float(ctx->node, "beta", 0.75f);
    double bias = kp_node_attr_float(ctx->node, "bias", 1.0f);
    kp_tensor *y = kp_op_output(ctx, 0, KP_FLOAT, x->rank, x->dims);
    if (!y) return ctx->err->code;
    int64_t n = x->dims[0], c = x->dims[1], sz = (n && c) ? x->numel / (n * c) : 0;
    int64_t lo = (size - 1) / 2, hi = (size - 1) - lo; /* floor below, ceil above */
    const float *xd = x->data;
    float *yd = y->data;
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t j = 0; j < sz; j++) {
                double sq = 0;
                int64_t a = ch - lo < 0 ? 0 : ch - lo, z = ch + hi >= c ? c - 1 : ch + hi;
                for (int64_t k = a; k <= z; k++) {
                    double v = xd[(i * c + k) * sz + j];
                    sq += v * v;
                }
                double v = xd[(i * c + ch) * sz + j];
                yd[(i * c + ch) * sz + j] =
                    (float)(v / pow(bias + alpha / (double)size * sq, beta));
            }
    return 0;
}

const kp_op_def kp_ops_norm[] = {
    {"", "BatchNormalization", batchnorm_run},
    {"", "InstanceNormalization", instnorm_run},
    {"", "LRN", lrn_run},
    {"", "LayerNormalization", layernorm_run},
    {0},
};
