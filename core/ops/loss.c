/* NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opsets 12-13): inputs [N, C] or
 * [N, C, d1..dk], integer targets [N] or [N, d1..dk], optional per-class weights, reduction
 * none/sum/mean, optional ignore_index (ignored targets contribute 0 and weigh 0 in the mean).
 * Computed in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops/args.h"
#include "core/ops/elem.h"
#include "core/ops/loss.h"

typedef enum red { RED_NONE, RED_SUM, RED_MEAN } red;

typedef struct loss_args {
    const kp_tensor *x, *target, *weight;
    red reduction;
    int has_ignore;
    int64_t ignore;
    int64_t N, C, D; /* x viewed as [N, C, D] */
} loss_args;

static int parse_args(kp_op_ctx *ctx, loss_args *a) {
    memset(a, 0, sizeof *a);
    a->x = kp_op_input(ctx, 0);
    a->target = kp_op_input(ctx, 1);
    a->weight = kp_op_input(ctx, 2);
    const kp_tensor *x = a->x, *t = a->target, *w = a->weight;
    if (!x || !t) return kp_op_fail(ctx, KP_EINVAL, "needs input and target");
    if (kp_elem_kind_of(x->dtype) != KP_EK_FLOAT)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "input dtype %s", kp_dtype_name(x->dtype));
    if (t->dtype != KP_INT32 && t->dtype != KP_INT64)
        return kp_op_fail(ctx, KP_EINVAL, "target must be int32 or int64");
    if (x->rank < 2 || t->rank != x->rank - 1)
        return kp_op_fail(ctx, KP_EINVAL, "input rank %d needs target rank %d, got %d", x->rank,
                          x->rank - 1, t->rank);
    if (t->dims[0] != x->dims[0]) return kp_op_fail(ctx, KP_EINVAL, "batch sizes differ");
    a->N = x->dims[0];
    a->C = x->dims[1];
    a->D = 1;
    for (int d = 2; d < x->rank; d++) {
        if (t->dims[d - 1] != x->dims[d])
            return kp_op_fail(ctx, KP_EINVAL, "target dim %d is %lld, input has %lld", d - 1,
                              (long long)t->dims[d - 1], (long long)x->dims[d]);
        a->D *= x->dims[d];
    }
    if (w && (w->rank != 1 || w->dims[0] != a->C || w->dtype != x->dtype))
        return kp_op_fail(ctx, KP_EINVAL, "weight must be 1-D with C entries of the input dtype");
    const char *r = kp_node_attr_string(ctx->node, "reduction", "mean");
    if (!strcmp(r, "none"))
        a->reduction = RED_NONE;
    else if (!strcmp(r, "sum"))
        a->reduction = RED_SUM;
    else if (!strcmp(r, "mean"))
        a->reduction = RED_MEAN;
    else
        return kp_op_fail(ctx, KP_EINVAL, "unknown reduction \"%s\"", r);
    a->has_ignore = kp_node_attr(ctx->node, "ignore_index") != NULL;
    a->ignore = kp_node_attr_int(ctx->node, "ignore_index", 0);
    return 0;
}

/* NLL over logp (x's layout [N, C, D], element getter through get(logp_src, i)). */
static int nll(kp_op_ctx *ctx, const loss_args *a, const double *logp) {
    const kp_tensor *x = a->x, *t = a->target, *w = a->weight;
    int64_t nd = a->N * a->D;
    double *loss = malloc((size_t)(nd ? nd : 1) * sizeof *loss);
    if (!loss) return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
    double wsum = 0, lsum = 0;
    for (int64_t n = 0; n < a->N; n++)
        for (int64_t d = 0; d < a->D; d++) {
            int64_t i = n * a->D + d, c = kp_elem_geti(t->data, t->dtype, i);
            if (a->has_ignore && c == a->ignore) {
                loss[i] = 0;
                continue;
            }
            if (c < 0 || c >= a->C) {
                free(loss);
                return kp_op_fail(ctx, KP_EINVAL, "target %lld is out of range for %lld classes",
                                  (long long)c, (long long)a->C);
            }
            double wc = w ? kp_elem_getd(w->data, w->dtype, c) : 1.0;
            double v = logp ? logp[(n * a->C + c) * a->D + d]
                            : kp_elem_getd(x->data, x->dtype, (n * a->C + c) * a->D + d);
            loss[i] = -v * wc;
            wsum += wc;
            lsum += loss[i];
        }
    kp_tensor *o;
    if (a->reduction == RED_NONE) {
        o = kp_op_output(ctx, 0, x->dtype, t->rank, t->dims);
        if (o)
            for (int64_t i = 0; i < nd; i++) kp_elem_setd(o->data, o->dtype, i, loss[i]);
    } else {
        o = kp_op_output(ctx, 0, x->dtype, 0, NULL);
        if (o) kp_elem_setd(o->data, o->dtype, 0, a->reduction == RED_SUM ? lsum : lsum / wsum);
    }
    free(loss);
    return o ? 0 : (ctx->err->code ? ctx->err->code : KP_ENOMEM);
}

int kp_op_nll_loss(kp_op_ctx *ctx) {
    loss_args a;
    int rc = parse_args(ctx, &a);
    return rc ? rc : nll(ctx, &a, NULL);
}

int kp_op_sce_loss(kp_op_ctx *ctx) {
    loss_args a;
    int rc = parse_args(ctx, &a);
    if (rc) return rc;
    const kp_tensor *x = a.x;
    double *lp = malloc((size_t)(x->numel ? x->numel : 1) * sizeof *lp);
    if (!lp) return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
    /* log_softmax over axis 1 */
    for (int64_t n = 0; n < a.N; n++)
        for (int64_t d = 0; d < a.D; d++) {
            int64_t base = n * a.C * a.D + d;
            double m = -INFINITY, s = 0;
            for (int64_t c = 0; c < a.C; c++) {
                double v = kp_elem_getd(x->data, x->dtype, base + c * a.D);
                if (v > m) m = v;
            }
            for (int64_t c = 0; c < a.C; c++)
                s += exp(kp_elem_getd(x->data, x->dtype, base + c * a.D) - m);
            double ls = m + log(s);
            for (int64_t c = 0; c < a.C; c++)
                lp[base + c * a.D] = kp_elem_getd(x->data, x->dtype, base + c * a.D) - ls;
        }
    rc = nll(ctx, &a, lp);
    if (!rc && ctx->n_out > 1 && kp_op_wants(ctx, 1)) {
        kp_tensor *o = kp_op_output(ctx, 1, x->dtype, x->rank, x->dims);
        if (!o)
            rc = ctx->err->code ? ctx->err->code : KP_ENOMEM;
        else
            for (int64_t i = 0; i < x->numel; i++) kp_elem_setd(o->data, o->dtype, i, lp[i]);
    }
    free(lp);
    return rc;
}
