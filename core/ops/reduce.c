/* Reductions: Reduce{Sum,Mean,Max,Min,Prod,L1,L2,SumSquare,LogSum,LogSumExp} (axes as an
 * attribute before opset 18 -- 13 for ReduceSum -- and as an input after, keepdims,
 * noop_with_empty_axes), ArgMax/ArgMin (keepdims, select_last_index), Softmax, LogSoftmax and
 * Hardmax (2-D coercion before opset 13, single axis from 13), CumSum.
 * Reductions accumulate in double; the input is walked once in memory order. */
#include "core/ops/vectorize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops/args.h"
#include "core/ops/broadcast.h"
#include "core/ops/elem.h"
#include "core/ops/fastmath.h"
#include "core/ops/loss.h"
#include "core/ops/ops.h"

typedef enum rop { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_SSQ, R_LOGSUM, R_LSE } rop;

static double r_init(rop op) {
    switch (op) {
    case R_MAX: return -INFINITY;
    case R_MIN: return INFINITY;
    case R_PROD: return 1;
    default: return 0;
    }
}

/* Combines accumulator a with value x. R_LSE accumulates exp(x - shift) (shift applied by the
 * caller through a first max pass). */
#define R_COMBINE(op, a, x)                                                                        \
    switch (op) {                                                                                  \
    case R_MAX: a = (x > a || isnan(x)) ? x : a; break;                                            \
    case R_MIN: a = (x < a || isnan(x)) ? x : a; break;                                            \
    case R_PROD: a *= x; break;                                                                    \
    case R_L1: a += fabs(x); break;                                                                \
    case R_L2:                                                                                     \
    case R_SSQ: a += x * x; break;                                                                 \
    default: a += x; break;                                                                        \
    }

/* Sum (or sum of squares) of a contiguous float row: 8 float lanes over blocks of 512 values
 * (vectorizable without -ffast-math), block totals added in double for accuracy. */
static double sum_f32(const float *p, int64_t n, int square) {
    double t = 0;
    for (int64_t b = 0; b < n; b += 512) {
        int64_t e = n - b < 512 ? n - b : 512, i = 0;
        float l[8] = {0};
        const float *q = p + b;
        if (square)
            for (; i + 8 <= e; i += 8)
                for (int k = 0; k < 8; k++) l[k] += q[i + k] * q[i + k];
        else
            for (; i + 8 <= e; i += 8)
                for (int k = 0; k < 8; k++) l[k] += q[i + k];
        double bt = 0;
        for (int k = 0; k < 8; k++) bt += l[k];
        for (; i < e; i++) bt += square ? (double)q[i] * q[i] : q[i];
        t += bt;
    }
    return t;
}

/* Accumulates input x (dtype dt, shape dims/rank) into acc whose shape is dims with reduced
 * axes set to 1 (kd). For R_LSE, values are exp(x - shift[out]). */
static void accumulate(rop op, const kp_tensor *x, int rank, const int64_t *kd, double *acc,
                       const double *shift) {
    kp_bcast bc;
    const int64_t *dl[1] = {kd};
    kp_bcast_plan(&bc, 1, &rank, dl, x->rank, x->dims);
    int64_t idx[KP_MAX_RANK] = {0}, off[KP_BCAST_MAX] = {0};
    int64_t n = bc.inner, s = bc.strides[0][bc.rank - 1], j = 0;
    const float *xf = x->dtype == KP_FLOAT ? x->data : NULL;
    for (int64_t r = 0; r < bc.rows; r++) {
        double *a = acc + off[0];
        if (xf && op != R_LSE && s == 0) {
            double t = a[0];
            const float *p = xf + j;
            switch (op) {
            case R_SUM:
            case R_MEAN:
            case R_LOGSUM: t += sum_f32(p, n, 0); break;
            case R_SSQ:
            case R_L2: t += sum_f32(p, n, 1); break;
            default:
                for (int64_t i = 0; i < n; i++) {
                    double v = p[i];
                    R_COMBINE(op, t, v)
                }
            }
            a[0] = t;
        } else {
            for (int64_t i = 0; i < n; i++) {
                double v = xf ? xf[j + i] : kp_elem_getd(x->data, x->dtype, j + i);
                if (op == R_LSE) v = exp(v - shift[off[0] + i * s]);
                R_COMBINE(op, a[i * s], v)
            }
        }
        j += n;
        kp_bcast_next(&bc, idx, off);
    }
}

/* Integer reductions that must stay exact beyond 2^53 (sum, product, min, max, sum of squares,
 * L1), in wrapping 64-bit arithmetic like the integer types themselves; unsigned values are
 * compared as unsigned. */
static int reduce_int(kp_op_ctx *ctx, rop op, const kp_tensor *x, const int64_t *kd, kp_tensor *o) {
    int64_t on = o->numel;
    uint64_t *acc = malloc((size_t)on * sizeof *acc);
    if (!acc) return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
    int uns = kp_elem_kind_of(x->dtype) == KP_EK_UINT;
    uint64_t init = op == R_PROD  ? 1
                    : op == R_MAX ? (uns ? 0 : (uint64_t)INT64_MIN)
                    : op == R_MIN ? (uns ? UINT64_MAX : (uint64_t)INT64_MAX)
                                  : 0;
    for (int64_t i = 0; i < on; i++) acc[i] = init;
    kp_bcast bc;
    const int64_t *dl[1] = {kd};
    int r = x->rank;
    kp_bcast_plan(&bc, 1, &r, dl, x->rank, x->dims);
    int64_t idx[KP_MAX_RANK] = {0}, off[KP_BCAST_MAX] = {0}, j = 0;
    int64_t n = bc.inner, st = bc.strides[0][bc.rank - 1];
    for (int64_t row = 0; row < bc.rows && x->numel; row++) {
        for (int64_t i = 0; i < n; i++) {
            uint64_t *a = &acc[off[0] + i * st];
            uint64_t v = uns ? kp_elem_getu(x->data, x->dtype, j + i)
                             : (uint64_t)kp_elem_geti(x->data, x->dtype, j + i);
            int64_t sv = (int64_t)v, sa = (int64_t)*a;
            switch (op) {
            case R_SUM: *a += v; break;
            case R_PROD: *a *= v; break;
            case R_SSQ: *a += v * v; break;
            case R_L1: *a += (!uns && sv < 0) ? 0 - v : v; break;
            case R_MAX: *a = (uns ? v > *a : sv > sa) ? v : *a; break;
            case R_MIN: *a = (uns ? v < *a : sv < sa) ? v : *a; break;
            default: break;
            }
        }
        j += n;
        kp_bcast_next(&bc, idx, off);
    }
    for (int64_t i = 0; i < on; i++) {
        if (uns)
            kp_elem_setu(o->data, o->dtype, i, acc[i]);
        else
            kp_elem_seti(o->data, o->dtype, i, (int64_t)acc[i]);
    }
    free(acc);
    return 0;
}

static int reduce(kp_op_ctx *ctx, rop op) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x) return kp_op_fail(ctx, KP_EINVAL, "input is missing");
    kp_elem_kind k = kp_elem_kind_of(x->dtype);
    if (k == KP_EK_NONE || k == KP_EK_BOOL)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "dtype %s is not supported",
                          kp_dtype_name(x->dtype));
    int axes[KP_MAX_RANK], nax, present;
    int64_t input_opset = (op == R_SUM) ? 13 : 18;
    int rc = kp_args_axes(ctx, 1, input_opset, x->rank, axes, &nax, &present);
    if (rc) return rc;
    int keep = (int)kp_node_attr_int(ctx->node, "keepdims", 1);
    int noop = (int)kp_node_attr_int(ctx->node, "noop_with_empty_axes", 0);
    int red[KP_MAX_RANK] = {0};
    if (nax == 0) {
        if (noop) {
            kp_tensor *o = kp_op_output(ctx, 0, x->dtype, x->rank, x->dims);
            if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
            return kp_args_copy(ctx, o, x);
        }
        for (int d = 0; d < x->rank; d++) red[d] = 1;
    }
    for (int i = 0; i < nax; i++) red[axes[i]] = 1;
    int64_t kd[KP_MAX_RANK], od[KP_MAX_RANK], count = 1;
    int orank = 0;
    for (int d = 0; d < x->rank; d++) {
        kd[d] = red[d] ? 1 : x->dims[d];
        if (red[d]) count *= x->dims[d];
        if (!red[d] || keep) od[orank++] = kd[d];
    }
    kp_tensor *o = kp_op_output(ctx, 0, x->dtype, orank, od);
    if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    int64_t on = o->numel;
    if (on == 0) return 0;
    if (k != KP_EK_FLOAT &&
        (op == R_SUM || op == R_PROD || op == R_MAX || op == R_MIN || op == R_SSQ || op == R_L1))
        return reduce_int(ctx, op, x, kd, o);
    double *acc = malloc((size_t)on * sizeof *acc * (op == R_LSE ? 2 : 1));
    if (!acc)
        return kp_op_fail(ctx, KP_ENOMEM, "out of memory for %lld accumulators", (long long)on);
    double init = r_init(op);
    for (int64_t i = 0; i < on; i++) acc[i] = init;
    double *shift = NULL;
    if (op == R_LSE) {
        shift = acc + on;
        for (int64_t i = 0; i < on; i++) shift[i] = -INFINITY;
        accumulate(R_MAX, x, x->rank, kd, shift, NULL);
        for (int64_t i = 0; i < on; i++)
            if (!isfinite(shift[i])) shift[i] = 0;
    }
    if (x->numel) accumulate(op, x, x->rank, kd, acc, shift);
    for (int64_t i = 0; i < on; i++) {
        double v = acc[i];
        switch (op) {
        case R_MEAN: v = count ? v / (double)count : NAN; break;
        case R_L2: v = sqrt(v); break;
        case R_LOGSUM: v = log(v); break;
        case R_LSE: v = log(v) + shift[i]; break;
        default: break;
        }
        if (o->dtype == KP_FLOAT)
            ((float *)o->data)[i] = (float)v;
        else
            kp_elem_setd(o->data, o->dtype, i, v);
    }
    free(acc);
    return 0;
}

#define REDUCE(fn, op)                                                                             \
    static int fn(kp_op_ctx *c) {                                                                  \
        return reduce(c, op);                                                                      \
    }
REDUCE(run_rsum, R_SUM)
REDUCE(run_rmean, R_MEAN)
REDUCE(run_rmax, R_MAX)
REDUCE(run_rmin, R_MIN)
REDUCE(run_rprod, R_PROD)
REDUCE(run_rl1, R_L1)
REDUCE(run_rl2, R_L2)
REDUCE(run_rssq, R_SSQ)
REDUCE(run_rlogsum, R_LOGSUM)
REDUCE(run_rlse, R_LSE)
#undef REDUCE

/* MeanVarianceNormalization: (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9) over `axes` (default
 * [0, 2, 3]), as the op's function body defines it; statistics in double. */
static int run_mvn(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x || kp_elem_kind_of(x->dtype) != KP_EK_FLOAT)
        return kp_op_fail(ctx, KP_EINVAL, "needs one floating-point input");
    const int64_t *ax;
    size_t nax = kp_node_attr_ints(ctx->node, "axes", &ax);
    static const int64_t dflt[3] = {0, 2, 3};
    if (!kp_node_attr(ctx->node, "axes")) ax = dflt, nax = 3;
    int64_t kd[KP_MAX_RANK], count = 1;
    for (int d = 0; d < x->rank; d++) kd[d] = x->dims[d];
    for (size_t i = 0; i < nax; i++) {
        int a, rc = kp_args_axis(ctx, ax[i], x->rank, &a);
        if (rc) return rc;
        if (kd[a] == 1 && x->dims[a] != 1)
            return kp_op_fail(ctx, KP_EINVAL, "axis %d is listed twice", a);
        count *= x->dims[a];
        kd[a] = 1;
    }
    kp_tensor *o = kp_op_output(ctx, 0, x->dtype, x->rank, x->dims);
    if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    if (x->numel == 0) return 0;
    int64_t on = x->numel / count;
    double *acc = calloc((size_t)on * 2, sizeof *acc);
    if (!acc) return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
    accumulate(R_SUM, x, x->rank, kd, acc, NULL);
    accumulate(R_SSQ, x, x->rank, kd, acc + on, NULL);
    for (int64_t i = 0; i < on; i++) {
        double m = acc[i] / (double)count, v = acc[on + i] / (double)count - m * m;
        acc[i] = m;
        acc[on + i] = 1.0 / (sqrt(v > 0 ? v : 0) + 1e-9);
    }
    kp_bcast bc;
    const int64_t *dl[1] = {kd};
    int r = x->rank;
    kp_bcast_plan(&bc, 1, &r, dl, x->rank, x->dims);
    int64_t idx[KP_MAX_RANK] = {0}, off[KP_BCAST_MAX] = {0}, j = 0;
    int64_t n = bc.inner, st = bc.strides[0][bc.rank - 1];
    for (int64_t row = 0; row < bc.rows; row++) {
        for (int64_t i = 0; i < n; i++) {
            int64_t a = off[0] + i * st;
            double v = kp_elem_getd(x->data, x->dtype, j + i);
            kp_elem_setd(o->data, o->dtype, j + i, (v - acc[a]) * acc[on + a]);
        }
        j += n;
        kp_bcast_next(&bc, idx, off);
    }
    free(acc);
    return 0;
}

/* Splits dims around axis: outer = prod(dims[:axis]), a = dims[axis], inner = rest. */
static void split3(const kp_tensor *x, int axis, int64_t *outer, int64_t *a, int64_t *inner) {
    *outer = 1;
    *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= x->dims[d];
    *a = x->dims[axis];
    for (int d = axis + 1; d < x->rank; d++) *inner *= x->dims[d];
}

/* ---- ArgMax / ArgMin ------------------------------------------------------------------- */

static int arg(kp_op_ctx *ctx, int want_max) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x) return kp_op_fail(ctx, KP_EINVAL, "input is missing");
    kp_elem_kind k = kp_elem_kind_of(x->dtype);
    if (k == KP_EK_NONE || k == KP_EK_BOOL)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "dtype %s is not supported",
                          kp_dtype_name(x->dtype));
    int axis, rc = kp_args_axis(ctx, kp_node_attr_int(ctx->node, "axis", 0), x->rank ? x->rank : 1,
                                &axis);
    if (rc) return rc;
    if (x->rank == 0) return kp_op_fail(ctx, KP_EINVAL, "input must have rank >= 1");
    int keep = (int)kp_node_attr_int(ctx->node, "keepdims", 1);
    int last = (int)kp_node_attr_int(ctx->node, "select_last_index", 0);
    int64_t od[KP_MAX_RANK];
    int orank = 0;
    for (int d = 0; d < x->rank; d++) {
        if (d != axis)
            od[orank++] = x->dims[d];
        else if (keep)
            od[orank++] = 1;
    }
    int64_t outer, a, inner;
    split3(x, axis, &outer, &a, &inner);
    if (a == 0 && outer * inner > 0)
        return kp_op_fail(ctx, KP_EINVAL, "cannot take arg%s over an empty axis",
                          want_max ? "max" : "min");
    kp_tensor *o = kp_op_output(ctx, 0, KP_INT64, orank, od);
    if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    int64_t *out = o->data;
    for (int64_t p = 0; p < outer; p++)
        for (int64_t q = 0; q < inner; q++) {
            int64_t base = p * a * inner + q, best = 0;
            double bv = kp_elem_getd(x->data, x->dtype, base);
            for (int64_t i = 1; i < a; i++) {
                double v = kp_elem_getd(x->data, x->dtype, base + i * inner);
                int better = want_max ? (last ? v >= bv : v > bv) : (last ? v <= bv : v < bv);
                if (better) {
                    bv = v;
                    best = i;
                }
            }
            out[p * inner + q] = best;
        }
    return 0;
}

static int run_argmax(kp_op_ctx *c) {
    return arg(c, 1);
}
static int run_argmin(kp_op_ctx *c) {
    return arg(c, 0);
}

/* ---- Softmax family -------------------------------------------------------------------- */

typedef enum smop { SM_SOFTMAX, SM_LOG, SM_HARD } smop;

/* Max and sum of a contiguous row with 8 independent lanes, so the loops vectorize without
 * -ffast-math (a sequential float reduction cannot be reordered by the compiler). */
static float row_max(const float *x, int64_t n) {
    float l[8];
    int64_t i = 0;
    if (n < 8) {
        float m = x[0];
        for (i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
        return m;
    }
    for (int k = 0; k < 8; k++) l[k] = x[k];
    for (i = 8; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) l[k] = x[i + k] > l[k] ? x[i + k] : l[k];
    float m = l[0];
    for (int k = 1; k < 8; k++) m = l[k] > m ? l[k] : m;
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

/* o[i] = exp(x[i] - m) (o may be NULL: sum only); returns the sum. */
static double row_exp_sum(float *o, const float *x, int64_t n, float m) {
    float l[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            float e = kp_fast_expf(x[i + k] - m);
            if (o) o[i + k] = e;
            l[k] += e;
        }
    double s = 0;
    for (int k = 0; k < 8; k++) s += l[k];
    for (; i < n; i++) {
        float e = kp_fast_expf(x[i] - m);
        if (o) o[i] = e;
        s += e;
    }
    return s;
}

/* One softmax over a[i * inner], i < a (any stride; Hardmax and the generic path). */
static void softmax_f32(smop op, float *o, const float *x, int64_t a, int64_t inner) {
    if (inner == 1 && op != SM_HARD && a > 0) {
        float m = row_max(x, a);
        if (op == SM_SOFTMAX) {
            float inv = (float)(1.0 / row_exp_sum(o, x, a, m));
            for (int64_t i = 0; i < a; i++) o[i] *= inv;
        } else {
            float sh = m + (float)log(row_exp_sum(NULL, x, a, m));
            for (int64_t i = 0; i < a; i++) o[i] = x[i] - sh;
        }
        return;
    }
    float m = -INFINITY;
    int64_t arg = 0;
    for (int64_t i = 0; i < a; i++)
        if (x[i * inner] > m) {
            m = x[i * inner];
            arg = i;
        }
    if (op == SM_HARD) {
        for (int64_t i = 0; i < a; i++) o[i * inner] = i == arg ? 1.0f : 0.0f;
        return;
    }
    double sum = 0;
    if (op == SM_SOFTMAX) {
        for (int64_t i = 0; i < a; i++) o[i * inner] = kp_fast_expf(x[i * inner] - m);
        for (int64_t i = 0; i < a; i++) sum += o[i * inner];
        float inv = (float)(1.0 / sum);
        for (int64_t i = 0; i < a; i++) o[i * inner] *= inv;
    } else {
        for (int64_t i = 0; i < a; i++) sum += kp_fast_expf(x[i * inner] - m);
        float ls = (float)log(sum);
        for (int64_t i = 0; i < a; i++) o[i * inner] = x[i * inner] - m - ls;
    }
}

/* Softmax/LogSoftmax over the middle axis of a contiguous [a, inner] block, vectorized across
 * inner; mx and sum are scratch arrays of inner floats. */
static void softmax_block(smop op, float *restrict o, const float *restrict x, int64_t a,
                          int64_t inner, float *restrict mx, float *restrict sum) {
    for (int64_t q = 0; q < inner; q++) {
        mx[q] = x[q];
        sum[q] = 0;
    }
    for (int64_t i = 1; i < a; i++) {
        const float *xi = x + i * inner;
        for (int64_t q = 0; q < inner; q++) mx[q] = xi[q] > mx[q] ? xi[q] : mx[q];
    }
    for (int64_t i = 0; i < a; i++) {
        const float *xi = x + i * inner;
        float *oi = o + i * inner;
        for (int64_t q = 0; q < inner; q++) {
            float e = kp_fast_expf(xi[q] - mx[q]);
            sum[q] += e;
            if (op == SM_SOFTMAX) oi[q] = e;
        }
    }
    if (op == SM_SOFTMAX) {
        for (int64_t q = 0; q < inner; q++) sum[q] = 1.0f / sum[q];
        for (int64_t i = 0; i < a; i++) {
            float *oi = o + i * inner;
            for (int64_t q = 0; q < inner; q++) oi[q] *= sum[q];
        }
    } else {
        for (int64_t q = 0; q < inner; q++) sum[q] = mx[q] + logf(sum[q]);
        for (int64_t i = 0; i < a; i++) {
            float *oi = o + i * inner;
            const float *xi = x + i * inner;
            for (int64_t q = 0; q < inner; q++) oi[q] = xi[q] - sum[q];
        }
    }
}

static int softmax(kp_op_ctx *ctx, smop op) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x) return kp_op_fail(ctx, KP_EINVAL, "input is missing");
    if (kp_elem_kind_of(x->dtype) != KP_EK_FLOAT)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "dtype %s is not supported",
                          kp_dtype_name(x->dtype));
    int old = ctx->opset < 13;
    int rank = x->rank ? x->rank : 1;
    int axis,
        rc = kp_args_axis(ctx, kp_node_attr_int(ctx->node, "axis", old ? 1 : -1), rank, &axis);
    if (rc) return rc;
    kp_tensor *o = kp_op_output(ctx, 0, x->dtype, x->rank, x->dims);
    if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    if (x->numel == 0) return 0;
    int64_t outer = 1, a = 1, inner = 1;
    if (x->rank == 0)
        a = 1;
    else if (old) {
        /* opset < 13: coerce to 2-D [prod(dims[:axis]), prod(dims[axis:])] */
        for (int d = 0; d < axis; d++) outer *= x->dims[d];
        for (int d = axis; d < x->rank; d++) a *= x->dims[d];
    } else
        split3(x, axis, &outer, &a, &inner);
    if (x->dtype == KP_FLOAT) {
        const float *in = x->data;
        float *out = o->data;
        if (inner > 1 && op != SM_HARD) {
            float *tmp = malloc((size_t)inner * 2 * sizeof *tmp);
            if (!tmp) return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
            for (int64_t p = 0; p < outer; p++)
                softmax_block(op, out + p * a * inner, in + p * a * inner, a, inner, tmp,
                              tmp + inner);
            free(tmp);
            return 0;
        }
        for (int64_t p = 0; p < outer; p++)
            for (int64_t q = 0; q < inner; q++)
                softmax_f32(op, out + p * a * inner + q, in + p * a * inner + q, a, inner);
        return 0;
    }
    /* other float kinds: through float buffers, one slice at a time */
    float *buf = malloc((size_t)a * 2 * sizeof *buf);
    if (!buf) return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
    for (int64_t p = 0; p < outer; p++)
        for (int64_t q = 0; q < inner; q++) {
            int64_t base = p * a * inner + q;
            for (int64_t i = 0; i < a; i++)
                buf[i] = (float)kp_elem_getd(x->data, x->dtype, base + i * inner);
            softmax_f32(op, buf + a, buf, a, 1);
            for (int64_t i = 0; i < a; i++)
                kp_elem_setd(o->data, o->dtype, base + i * inner, buf[a + i]);
        }
    free(buf);
    return 0;
}

static int run_softmax(kp_op_ctx *c) {
    return softmax(c, SM_SOFTMAX);
}
static int run_logsoftmax(kp_op_ctx *c) {
    return softmax(c, SM_LOG);
}
static int run_hardmax(kp_op_ctx *c) {
    return softmax(c, SM_HARD);
}

/* ---- CumSum ---------------------------------------------------------------------------- */

static int run_cumsum(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x) return kp_op_fail(ctx, KP_EINVAL, "input is missing");
    kp_elem_kind k = kp_elem_kind_of(x->dtype);
    if (k == KP_EK_NONE || k == KP_EK_BOOL)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "dtype %s is not supported",
                          kp_dtype_name(x->dtype));
    int64_t ax;
    int rc = kp_args_scalar_i(ctx, kp_op_input(ctx, 1), "axis", &ax);
    if (rc) return rc;
    int axis;
    if ((rc = kp_args_axis(ctx, ax, x->rank, &axis))) return rc;
    int excl = (int)kp_node_attr_int(ctx->node, "exclusive", 0);
    int rev = (int)kp_node_attr_int(ctx->node, "reverse", 0);
    kp_tensor *o = kp_op_output(ctx, 0, x->dtype, x->rank, x->dims);
    if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    int64_t outer, a, inner;
    split3(x, axis, &outer, &a, &inner);
    for (int64_t p = 0; p < outer; p++)
        for (int64_t q = 0; q < inner; q++) {
            int64_t base = p * a * inner + q;
            double sd = 0;
            int64_t si = 0;
            for (int64_t t = 0; t < a; t++) {
                int64_t i = base + (rev ? a - 1 - t : t) * inner;
                if (k == KP_EK_FLOAT) {
                    double v = kp_elem_getd(x->data, x->dtype, i);
                    if (!excl) sd += v;
                    kp_elem_setd(o->data, o->dtype, i, sd);
                    if (excl) sd += v;
                } else {
                    int64_t v = kp_elem_geti(x->data, x->dtype, i);
                    if (!excl) si = (int64_t)((uint64_t)si + (uint64_t)v);
                    kp_elem_seti(o->data, o->dtype, i, si);
                    if (excl) si = (int64_t)((uint64_t)si + (uint64_t)v);
                }
            }
        }
    return 0;
}

const kp_op_def kp_ops_reduce[] = {
    {"", "ArgMax", run_argmax},
    {"", "ArgMin", run_argmin},
    {"", "CumSum", run_cumsum},
    {"", "Hardmax", run_hardmax},
    {"", "LogSoftmax", run_logsoftmax},
    {"", "MeanVarianceNormalization", run_mvn},
    {"", "NegativeLogLikelihoodLoss", kp_op_nll_loss},
    {"", "ReduceL1", run_rl1},
    {"", "ReduceL2", run_rl2},
    {"", "ReduceLogSum", run_rlogsum},
    {"", "ReduceLogSumExp", run_rlse},
    {"", "ReduceMax", run_rmax},
    {"", "ReduceMean", run_rmean},
    {"", "ReduceMin", run_rmin},
    {"", "ReduceProd", run_rprod},
    {"", "ReduceSum", run_rsum},
    {"", "ReduceSumSquare", run_rssq},
    {"", "Softmax", run_softmax},
    {"", "SoftmaxCrossEntropyLoss", kp_op_sce_loss},
    {0},
};
