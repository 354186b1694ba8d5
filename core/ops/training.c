/* Optimizer update ops of the ai.onnx.preview.training domain: Adagrad, Momentum (standard and
 * nesterov) and Adam, for n tensors at once (inputs R, T, then the n-tensor groups in order;
 * outputs one group per updated state). Computed in double, float32/float64 tensors. */
#include <math.h>
#include <string.h>

#include "core/ops/args.h"
#include "core/ops/elem.h"
#include "core/ops/extra.h"

/* Checks groups tensors per group (after R and T) and that shapes/dtypes agree; *n = count. */
static int groups(kp_op_ctx *ctx, int n_groups, size_t *n, double *r, int64_t *t) {
    int rc;
    if ((rc = kp_args_scalar_d(ctx, kp_op_input(ctx, 0), "R", r)) ||
        (rc = kp_args_scalar_i(ctx, kp_op_input(ctx, 1), "T", t)))
        return rc;
    if (ctx->n_in < 2 || (ctx->n_in - 2) % (size_t)n_groups)
        return kp_op_fail(ctx, KP_EINVAL, "expects R, T and %d groups of tensors", n_groups);
    *n = (ctx->n_in - 2) / (size_t)n_groups;
    if (ctx->n_out != *n * (size_t)(n_groups - 1))
        return kp_op_fail(ctx, KP_EINVAL, "expects %zu outputs", *n * (size_t)(n_groups - 1));
    for (size_t i = 0; i < *n; i++) {
        const kp_tensor *x = kp_op_input(ctx, 2 + i);
        if (!x || kp_elem_kind_of(x->dtype) != KP_EK_FLOAT)
            return kp_op_fail(ctx, KP_EINVAL, "tensor %zu must be floating-point", i);
        for (int g = 1; g < n_groups; g++) {
            const kp_tensor *y = kp_op_input(ctx, 2 + (size_t)g * *n + i);
            if (!y || y->dtype != x->dtype || y->numel != x->numel || y->rank != x->rank ||
                memcmp(y->dims, x->dims, sizeof(int64_t) * (size_t)x->rank))
                return kp_op_fail(ctx, KP_EINVAL, "group %d tensor %zu does not match X", g, i);
        }
    }
    return 0;
}

static kp_tensor *out_like(kp_op_ctx *ctx, size_t k, const kp_tensor *x) {
    return kp_op_output(ctx, k, x->dtype, x->rank, x->dims);
}

#define GET(t, i)    kp_elem_getd((t)->data, (t)->dtype, i)
#define SET(t, i, v) kp_elem_setd((t)->data, (t)->dtype, i, v)
#define FAIL_OUT()   return ctx->err->code ? ctx->err->code : KP_ENOMEM

int kp_op_adagrad(kp_op_ctx *ctx) {
    size_t n;
    double r;
    int64_t t;
    int rc = groups(ctx, 3, &n, &r, &t);
    if (rc) return rc;
    double decay = kp_node_attr_float(ctx->node, "decay_factor", 0.0f),
           eps = kp_node_attr_float(ctx->node, "epsilon", 1e-6f),
           norm = kp_node_attr_float(ctx->node, "norm_coefficient", 0.0f);
    double rr = r / (1 + (double)t * decay);
    for (size_t i = 0; i < n; i++) {
        const kp_tensor *x = ctx->in[2 + i], *g = ctx->in[2 + n + i], *h = ctx->in[2 + 2 * n + i];
        kp_tensor *xo = out_like(ctx, i, x), *ho = xo ? out_like(ctx, n + i, x) : NULL;
        if (!ho) FAIL_OUT();
        for (int64_t k = 0; k < x->numel; k++) {
            double gr = norm * GET(x, k) + GET(g, k), hn = GET(h, k) + gr * gr;
            SET(ho, k, hn);
            SET(xo, k, GET(x, k) - rr * gr / (sqrt(hn) + eps));
        }
    }
    return 0;
}

int kp_op_momentum(kp_op_ctx *ctx) {
    size_t n;
    double r;
    int64_t t;
    int rc = groups(ctx, 3, &n, &r, &t);
    if (rc) return rc;
    double alpha = kp_node_attr_float(ctx->node, "alpha", 0.0f),
           beta = kp_node_attr_float(ctx->node, "beta", 0.0f),
           norm = kp_node_attr_float(ctx->node, "norm_coefficient", 0.0f);
    const char *mode = kp_node_attr_string(ctx->node, "mode", "standard");
    int nesterov = !strcmp(mode, "nesterov");
    if (!nesterov && strcmp(mode, "standard"))
        return kp_op_fail(ctx, KP_EINVAL, "unknown mode \"%s\"", mode);
    double b = t > 0 ? beta : 1;
    for (size_t i = 0; i < n; i++) {
        const kp_tensor *x = ctx->in[2 + i], *g = ctx->in[2 + n + i], *v = ctx->in[2 + 2 * n + i];
        kp_tensor *xo = out_like(ctx, i, x), *vo = xo ? out_like(ctx, n + i, x) : NULL;
        if (!vo) FAIL_OUT();
        for (int64_t k = 0; k < x->numel; k++) {
            double gr = norm * GET(x, k) + GET(g, k), vn = alpha * GET(v, k) + b * gr;
            SET(vo, k, vn);
            SET(xo, k, GET(x, k) - r * (nesterov ? gr + alpha * vn : vn));
        }
    }
    return 0;
}

int kp_op_adam(kp_op_ctx *ctx) {
    size_t n;
    double r;
    int64_t t;
    int rc = groups(ctx, 4, &n, &r, &t);
    if (rc) return rc;
    double alpha = kp_node_attr_float(ctx->node, "alpha", 0.9f),
           beta = kp_node_attr_float(ctx->node, "beta", 0.999f),
           eps = kp_node_attr_float(ctx->node, "epsilon", 1e-6f),
           norm = kp_node_attr_float(ctx->node, "norm_coefficient", 0.0f),
           post = kp_node_attr_float(ctx->node, "norm_coefficient_post", 0.0f);
    double ra = t > 0 ? r * sqrt(1 - pow(beta, (double)t)) / (1 - pow(alpha, (double)t)) : r;
    for (size_t i = 0; i < n; i++) {
        const kp_tensor *x = ctx->in[2 + i], *g = ctx->in[2 + n + i], *v = ctx->in[2 + 2 * n + i],
                        *h = ctx->in[2 + 3 * n + i];
        kp_tensor *xo = out_like(ctx, i, x), *vo = xo ? out_like(ctx, n + i, x) : NULL,
                  *ho = vo ? out_like(ctx, 2 * n + i, x) : NULL;
        if (!ho) FAIL_OUT();
        for (int64_t k = 0; k < x->numel; k++) {
            double gr = norm * GET(x, k) + GET(g, k);
            double vn = alpha * GET(v, k) + (1 - alpha) * gr;
            double hn = beta * GET(h, k) + (1 - beta) * gr * gr;
            SET(vo, k, vn);
            SET(ho, k, hn);
            SET(xo, k, (1 - post) * (GET(x, k) - ra * vn / (sqrt(hn) + eps)));
        }
    }
    return 0;
}
