/* Unary elementwise kernels: math (Abs Neg Sign Ceil Floor Round Sqrt Reciprocal Exp Log Erf,
 * trigonometric and hyperbolic functions), activations (Relu LeakyRelu Elu Selu Celu Sigmoid
 * HardSigmoid HardSwish Softplus Softsign Tanh Gelu ThresholdedRelu Shrink), Clip in both its
 * attribute (< 11) and input (>= 11) forms, and Not. float32 and double run native loops;
 * float16/bfloat16 compute in float; integer dtypes are accepted where ONNX defines them
 * (Abs Neg Sign Relu Clip). */
#include "core/ops/vectorize.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "core/ops/args.h"
#include "core/ops/elem.h"
#include "core/ops/fastmath.h"
#include "core/ops/ops.h"

typedef enum uop {
    U_ABS,
    U_NEG,
    U_SIGN,
    U_CEIL,
    U_FLOOR,
    U_ROUND,
    U_SQRT,
    U_RECIP,
    U_EXP,
    U_LOG,
    U_ERF,
    U_SIN,
    U_COS,
    U_TAN,
    U_ASIN,
    U_ACOS,
    U_ATAN,
    U_SINH,
    U_COSH,
    U_ASINH,
    U_ACOSH,
    U_ATANH,
    U_TANH,
    U_RELU,
    U_LEAKY,
    U_ELU,
    U_SELU,
    U_CELU,
    U_SIGMOID,
    U_HARDSIGMOID,
    U_HARDSWISH,
    U_SOFTPLUS,
    U_SOFTSIGN,
    U_GELU,
    U_GELU_TANH,
    U_THRESH,
    U_SHRINK,
    U_CLIP,
} uop;

typedef struct uparams {
    double a, b, g; /* alpha, beta, gamma (meaning per op) */
} uparams;

/* The math of every op as one expression over x of type T with params p (T float/double). */
#define UNARY_EXPR(T, FN)                                                                          \
    switch (op) {                                                                                  \
    case U_ABS: LOOP(FN(fabs)(x)); break;                                                          \
    case U_NEG: LOOP(-x); break;                                                                   \
    case U_SIGN: LOOP((T)((x > 0) - (x < 0))); break;                                              \
    case U_CEIL: LOOP(FN(ceil)(x)); break;                                                         \
    case U_FLOOR: LOOP(FN(floor)(x)); break;                                                       \
    case U_ROUND: LOOP(FN(nearbyint)(x)); break;                                                   \
    case U_SQRT: LOOP(FN(sqrt)(x)); break;                                                         \
    case U_RECIP: LOOP((T)1 / x); break;                                                           \
    case U_EXP: LOOP(FN(exp)(x)); break;                                                           \
    case U_LOG: LOOP(FN(log)(x)); break;                                                           \
    case U_ERF: LOOP(FN(erf)(x)); break;                                                           \
    case U_SIN: LOOP(FN(sin)(x)); break;                                                           \
    case U_COS: LOOP(FN(cos)(x)); break;                                                           \
    case U_TAN: LOOP(FN(tan)(x)); break;                                                           \
    case U_ASIN: LOOP(FN(asin)(x)); break;                                                         \
    case U_ACOS: LOOP(FN(acos)(x)); break;                                                         \
    case U_ATAN: LOOP(FN(atan)(x)); break;                                                         \
    case U_SINH: LOOP(FN(sinh)(x)); break;                                                         \
    case U_COSH: LOOP(FN(cosh)(x)); break;                                                         \
    case U_ASINH: LOOP(FN(asinh)(x)); break;                                                       \
    case U_ACOSH: LOOP(FN(acosh)(x)); break;                                                       \
    case U_ATANH: LOOP(FN(atanh)(x)); break;                                                       \
    case U_TANH: LOOP(FN(tanh)(x)); break;                                                         \
    case U_RELU: LOOP(x > 0 ? x : (T)0); break;                                                    \
    case U_LEAKY: LOOP(x < 0 ? x * pa : x); break;                                                 \
    case U_ELU: LOOP(x < 0 ? pa * (FN(exp)(x) - 1) : x); break;                                    \
    case U_SELU: LOOP(pg *(x <= 0 ? pa * (FN(exp)(x) - 1) : x)); break;                            \
    case U_CELU: LOOP((x > 0 ? x : (T)0) + (x < 0 ? pa * (FN(exp)(x / pa) - 1) : (T)0)); break;    \
    case U_SIGMOID: LOOP(x >= 0 ? 1 / (1 + FN(exp)(-x)) : FN(exp)(x) / (1 + FN(exp)(x))); break;   \
    case U_HARDSIGMOID: LOOP(FN(fmax)(0, FN(fmin)(1, pa * x + pb))); break;                        \
    case U_HARDSWISH: LOOP(x *FN(fmax)(0, FN(fmin)(1, x / 6 + (T)0.5))); break;                    \
    case U_SOFTPLUS: LOOP(x > 0 ? x + FN(log1p)(FN(exp)(-x)) : FN(log1p)(FN(exp)(x))); break;      \
    case U_SOFTSIGN: LOOP(x / (1 + FN(fabs)(x))); break;                                           \
    case U_GELU: LOOP((T)0.5 * x * (1 + FN(erf)(x * (T)0.70710678118654752440))); break;           \
    case U_GELU_TANH:                                                                              \
        LOOP((T)0.5 * x *                                                                          \
             (1 + FN(tanh)((T)0.79788456080286535588 * (x + (T)0.044715 * x * x * x))));           \
        break;                                                                                     \
    case U_THRESH: LOOP(x > pa ? x : (T)0); break;                                                 \
    case U_SHRINK: LOOP(x<-pg ? x + pb : x> pg ? x - pb : (T)0); break;                            \
    case U_CLIP: LOOP(x<pa ? pa : x> pb ? pb : x); break;                                          \
    }

#define FNF(name) name##f
#define FND(name) name
#define LOOP(EXPR)                                                                                 \
    for (int64_t i = 0; i < n; i++) {                                                              \
        T x = in[i];                                                                               \
        out[i] = (EXPR);                                                                           \
    }

static void run_f32(uop op, const uparams *p, float *restrict out, const float *in, int64_t n) {
    typedef float T;
    const T pa = (T)p->a, pb = (T)p->b, pg = (T)p->g;
    (void)pa, (void)pb, (void)pg;
    if (op == U_SIGMOID) { /* hot in real models: branch-free, vectorizable */
        for (int64_t i = 0; i < n; i++) out[i] = 1.0f / (1.0f + kp_fast_expf(-in[i]));
        return;
    }
    UNARY_EXPR(float, FNF)
}

static void run_f64(uop op, const uparams *p, double *restrict out, const double *in, int64_t n) {
    typedef double T;
    const T pa = p->a, pb = p->b, pg = p->g;
    (void)pa, (void)pb, (void)pg;
    UNARY_EXPR(double, FND)
}
#undef LOOP

static int int_ok(uop op) {
    return op == U_ABS || op == U_NEG || op == U_SIGN || op == U_RELU || op == U_CLIP;
}

static int64_t int_op(uop op, int64_t x, int64_t lo, int64_t hi) {
    switch (op) {
    case U_ABS: return x < 0 ? (int64_t)(0 - (uint64_t)x) : x;
    case U_NEG: return (int64_t)(0 - (uint64_t)x);
    case U_SIGN: return (x > 0) - (x < 0);
    case U_RELU: return x > 0 ? x : 0;
    case U_CLIP: return x < lo ? lo : x > hi ? hi : x;
    default: return x;
    }
}

static uint64_t uint_op(uop op, uint64_t x, uint64_t lo, uint64_t hi) {
    switch (op) {
    case U_SIGN: return x > 0;
    case U_NEG: return 0 - x;
    case U_CLIP: return x < lo ? lo : x > hi ? hi : x;
    default: return x;
    }
}

/* Applies op to x into a fresh output 0 of the same dtype and shape. For U_CLIP on integer
 * dtypes, ilo/ihi (signed) or p->a/p->b converted (unsigned) give the bounds. */
static int apply(kp_op_ctx *ctx, uop op, const uparams *p, int64_t ilo, int64_t ihi) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x) return kp_op_fail(ctx, KP_EINVAL, "input is missing");
    kp_elem_kind k = kp_elem_kind_of(x->dtype);
    if (k == KP_EK_NONE || k == KP_EK_BOOL || (k != KP_EK_FLOAT && !int_ok(op)) ||
        (k == KP_EK_UINT && op == U_NEG))
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "dtype %s is not supported",
                          kp_dtype_name(x->dtype));
    kp_tensor *o = kp_op_output(ctx, 0, x->dtype, x->rank, x->dims);
    if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    int64_t n = x->numel;
    if (n == 0) return 0;
    switch (x->dtype) {
    case KP_FLOAT: run_f32(op, p, o->data, x->data, n); return 0;
    case KP_DOUBLE: run_f64(op, p, o->data, x->data, n); return 0;
    case KP_FLOAT16:
    case KP_BFLOAT16: {
        /* convert in blocks through a float buffer on the stack */
        float buf[256], res[256];
        for (int64_t s = 0; s < n; s += 256) {
            int64_t m = n - s < 256 ? n - s : 256;
            for (int64_t i = 0; i < m; i++) buf[i] = (float)kp_elem_getd(x->data, x->dtype, s + i);
            run_f32(op, p, res, buf, m);
            for (int64_t i = 0; i < m; i++) kp_elem_setd(o->data, o->dtype, s + i, res[i]);
        }
        return 0;
    }
    default: break;
    }
    if (k == KP_EK_UINT) {
        uint64_t lo = ilo < 0 ? 0 : (uint64_t)ilo, hi = ihi < 0 ? 0 : (uint64_t)ihi;
        for (int64_t i = 0; i < n; i++)
            kp_elem_setu(o->data, o->dtype, i,
                         uint_op(op, kp_elem_getu(x->data, x->dtype, i), lo, hi));
    } else {
        for (int64_t i = 0; i < n; i++)
            kp_elem_seti(o->data, o->dtype, i,
                         int_op(op, kp_elem_geti(x->data, x->dtype, i), ilo, ihi));
    }
    return 0;
}

static int simple(kp_op_ctx *c, uop op) {
    uparams p = {0, 0, 0};
    return apply(c, op, &p, 0, 0);
}

#define SIMPLE(fn, op)                                                                             \
    static int fn(kp_op_ctx *c) {                                                                  \
        return simple(c, op);                                                                      \
    }
SIMPLE(run_abs, U_ABS)
SIMPLE(run_neg, U_NEG)
SIMPLE(run_sign, U_SIGN)
SIMPLE(run_ceil, U_CEIL)
SIMPLE(run_floor, U_FLOOR)
SIMPLE(run_round, U_ROUND)
SIMPLE(run_sqrt, U_SQRT)
SIMPLE(run_recip, U_RECIP)
SIMPLE(run_exp, U_EXP)
SIMPLE(run_log, U_LOG)
SIMPLE(run_erf, U_ERF)
SIMPLE(run_sin, U_SIN)
SIMPLE(run_cos, U_COS)
SIMPLE(run_tan, U_TAN)
SIMPLE(run_asin, U_ASIN)
SIMPLE(run_acos, U_ACOS)
SIMPLE(run_atan, U_ATAN)
SIMPLE(run_sinh, U_SINH)
SIMPLE(run_cosh, U_COSH)
SIMPLE(run_asinh, U_ASINH)
SIMPLE(run_acosh, U_ACOSH)
SIMPLE(run_atanh, U_ATANH)
SIMPLE(run_tanh, U_TANH)
SIMPLE(run_relu, U_RELU)
SIMPLE(run_sigmoid, U_SIGMOID)
SIMPLE(run_hardswish, U_HARDSWISH)
SIMPLE(run_softplus, U_SOFTPLUS)
SIMPLE(run_softsign, U_SOFTSIGN)
#undef SIMPLE

static int with_alpha(kp_op_ctx *c, uop op, float dflt) {
    uparams p = {kp_node_attr_float(c->node, "alpha", dflt), 0, 0};
    return apply(c, op, &p, 0, 0);
}

static int run_leaky(kp_op_ctx *c) {
    return with_alpha(c, U_LEAKY, 0.01f);
}
static int run_elu(kp_op_ctx *c) {
    return with_alpha(c, U_ELU, 1.0f);
}
static int run_celu(kp_op_ctx *c) {
    return with_alpha(c, U_CELU, 1.0f);
}
static int run_thresh(kp_op_ctx *c) {
    return with_alpha(c, U_THRESH, 1.0f);
}

static int run_selu(kp_op_ctx *c) {
    uparams p = {kp_node_attr_float(c->node, "alpha", 1.67326319217681884765625f), 0,
                 kp_node_attr_float(c->node, "gamma", 1.05070102214813232421875f)};
    return apply(c, U_SELU, &p, 0, 0);
}

static int run_hardsigmoid(kp_op_ctx *c) {
    uparams p = {kp_node_attr_float(c->node, "alpha", 0.2f),
                 kp_node_attr_float(c->node, "beta", 0.5f), 0};
    return apply(c, U_HARDSIGMOID, &p, 0, 0);
}

static int run_shrink(kp_op_ctx *c) {
    uparams p = {0, kp_node_attr_float(c->node, "bias", 0.0f),
                 kp_node_attr_float(c->node, "lambd", 0.5f)};
    return apply(c, U_SHRINK, &p, 0, 0);
}

static int run_gelu(kp_op_ctx *c) {
    const char *ap = kp_node_attr_string(c->node, "approximate", "none");
    uparams p = {0, 0, 0};
    if (!strcmp(ap, "none")) return apply(c, U_GELU, &p, 0, 0);
    if (!strcmp(ap, "tanh")) return apply(c, U_GELU_TANH, &p, 0, 0);
    return kp_op_fail(c, KP_EINVAL, "approximate must be \"none\" or \"tanh\", not \"%s\"", ap);
}

static int run_clip(kp_op_ctx *c) {
    uparams p = {-INFINITY, INFINITY, 0};
    int64_t ilo = INT64_MIN, ihi = INT64_MAX;
    const kp_tensor *x = kp_op_input(c, 0);
    if (!x) return kp_op_fail(c, KP_EINVAL, "input is missing");
    if (c->opset < 11) {
        p.a = kp_node_attr_float(c->node, "min", -FLT_MAX);
        p.b = kp_node_attr_float(c->node, "max", FLT_MAX);
    } else {
        const kp_tensor *lo = kp_op_input(c, 1), *hi = kp_op_input(c, 2);
        int rc;
        if (lo) {
            if (lo->dtype != x->dtype)
                return kp_op_fail(c, KP_EINVAL, "min dtype %s differs from input dtype %s",
                                  kp_dtype_name(lo->dtype), kp_dtype_name(x->dtype));
            if ((rc = kp_args_scalar_d(c, lo, "min", &p.a))) return rc;
            if ((rc = kp_args_scalar_i(c, lo, "min", &ilo))) return rc;
        }
        if (hi) {
            if (hi->dtype != x->dtype)
                return kp_op_fail(c, KP_EINVAL, "max dtype %s differs from input dtype %s",
                                  kp_dtype_name(hi->dtype), kp_dtype_name(x->dtype));
            if ((rc = kp_args_scalar_d(c, hi, "max", &p.b))) return rc;
            if ((rc = kp_args_scalar_i(c, hi, "max", &ihi))) return rc;
        }
    }
    return apply(c, U_CLIP, &p, ilo, ihi);
}

static int run_not(kp_op_ctx *c) {
    const kp_tensor *x = kp_op_input(c, 0);
    if (!x) return kp_op_fail(c, KP_EINVAL, "input is missing");
    if (x->dtype != KP_BOOL)
        return kp_op_fail(c, KP_EINVAL, "input must be bool, not %s", kp_dtype_name(x->dtype));
    kp_tensor *o = kp_op_output(c, 0, KP_BOOL, x->rank, x->dims);
    if (!o) return c->err->code ? c->err->code : KP_ENOMEM;
    const uint8_t *in = x->data;
    uint8_t *out = o->data;
    for (int64_t i = 0; i < x->numel; i++) out[i] = !in[i];
    return 0;
}

static int run_isnan(kp_op_ctx *c) {
    const kp_tensor *x = kp_op_input(c, 0);
    if (!x || kp_elem_kind_of(x->dtype) != KP_EK_FLOAT)
        return kp_op_fail(c, KP_EINVAL, "needs one floating-point input");
    kp_tensor *o = kp_op_output(c, 0, KP_BOOL, x->rank, x->dims);
    if (!o) return c->err->code ? c->err->code : KP_ENOMEM;
    uint8_t *out = o->data;
    for (int64_t i = 0; i < x->numel; i++) out[i] = isnan(kp_elem_getd(x->data, x->dtype, i));
    return 0;
}

static int run_isinf(kp_op_ctx *c) {
    const kp_tensor *x = kp_op_input(c, 0);
    if (!x || kp_elem_kind_of(x->dtype) != KP_EK_FLOAT)
        return kp_op_fail(c, KP_EINVAL, "needs one floating-point input");
    int neg = (int)kp_node_attr_int(c->node, "detect_negative", 1);
    int pos = (int)kp_node_attr_int(c->node, "detect_positive", 1);
    kp_tensor *o = kp_op_output(c, 0, KP_BOOL, x->rank, x->dims);
    if (!o) return c->err->code ? c->err->code : KP_ENOMEM;
    uint8_t *out = o->data;
    for (int64_t i = 0; i < x->numel; i++) {
        double v = kp_elem_getd(x->data, x->dtype, i);
        out[i] = isinf(v) && ((v > 0 && pos) || (v < 0 && neg));
    }
    return 0;
}

const kp_op_def kp_ops_unary[] = {
    {"", "Abs", run_abs},
    {"", "Acos", run_acos},
    {"", "Acosh", run_acosh},
    {"", "Asin", run_asin},
    {"", "Asinh", run_asinh},
    {"", "Atan", run_atan},
    {"", "Atanh", run_atanh},
    {"", "Ceil", run_ceil},
    {"", "Celu", run_celu},
    {"", "Clip", run_clip},
    {"", "Cos", run_cos},
    {"", "Cosh", run_cosh},
    {"", "Elu", run_elu},
    {"", "Erf", run_erf},
    {"", "Exp", run_exp},
    {"", "Floor", run_floor},
    {"", "Gelu", run_gelu},
    {"", "HardSigmoid", run_hardsigmoid},
    {"", "HardSwish", run_hardswish},
    {"", "IsInf", run_isinf},
    {"", "IsNaN", run_isnan},
    {"", "LeakyRelu", run_leaky},
    {"", "Log", run_log},
    {"", "Neg", run_neg},
    {"", "Not", run_not},
    {"", "Reciprocal", run_recip},
    {"", "Relu", run_relu},
    {"", "Round", run_round},
    {"", "Selu", run_selu},
    {"", "Shrink", run_shrink},
    {"", "Sigmoid", run_sigmoid},
    {"", "Sign", run_sign},
    {"", "Sin", run_sin},
    {"", "Sinh", run_sinh},
    {"", "Softplus", run_softplus},
    {"", "Softsign", run_softsign},
    {"", "Sqrt", run_sqrt},
    {"", "Tan", run_tan},
    {"", "Tanh", run_tanh},
    {"", "ThresholdedRelu", run_thresh},
    {0},
};
