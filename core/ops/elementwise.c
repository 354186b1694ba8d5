/* Elementwise kernels with numpy broadcasting: arithmetic (Add Sub Mul Div Pow Mod PRelu),
 * variadic (Max Min Sum Mean), comparisons (Equal Greater GreaterOrEqual Less LessOrEqual, bool
 * output), logic (And Or Xor) and Where. float32 runs in tight loops specialised for
 * same-shape, scalar and channel-broadcast operands; other dtypes take a generic path that
 * computes in double (float kinds), int64 (signed) or uint64 (unsigned). */
#include "core/ops/vectorize.h"

#include <math.h>
#include <string.h>

#include "core/ops/args.h"
#include "core/ops/broadcast.h"
#include "core/ops/elem.h"
#include "core/ops/ops.h"

typedef enum bop {
    B_ADD,
    B_SUB,
    B_MUL,
    B_DIV,
    B_POW,
    B_MOD,  /* integer mod, sign of divisor (fmod = 0) */
    B_FMOD, /* C fmod / truncated remainder (fmod = 1) */
    B_MAX,
    B_MIN,
    B_PRELU,
    B_SHL, /* BitShift, unsigned only */
    B_SHR,
    B_EQ,
    B_GT,
    B_GE,
    B_LT,
    B_LE,
    B_AND,
    B_OR,
    B_XOR,
} bop;

static int is_cmp(bop op) {
    return op >= B_EQ && op <= B_LE;
}
static int is_logic(bop op) {
    return op >= B_AND;
}

/* ---- float32 fast loops ---------------------------------------------------------------- */

#define F32_LOOP(EXPR)                                                                             \
    do {                                                                                           \
        if (sa && sb)                                                                              \
            for (int64_t i = 0; i < n; i++) {                                                      \
                float x = a[i], y = b[i];                                                          \
                o[i] = (EXPR);                                                                     \
            }                                                                                      \
        else if (sa) {                                                                             \
            const float y = b[0];                                                                  \
            for (int64_t i = 0; i < n; i++) {                                                      \
                float x = a[i];                                                                    \
                o[i] = (EXPR);                                                                     \
            }                                                                                      \
        } else if (sb) {                                                                           \
            const float x = a[0];                                                                  \
            for (int64_t i = 0; i < n; i++) {                                                      \
                float y = b[i];                                                                    \
                o[i] = (EXPR);                                                                     \
            }                                                                                      \
        } else {                                                                                   \
            const float x = a[0], y = b[0];                                                        \
            const float v = (EXPR);                                                                \
            for (int64_t i = 0; i < n; i++) o[i] = v;                                              \
        }                                                                                          \
    } while (0)

static void f32_row(bop op, float *restrict o, const float *a, int64_t sa, const float *b,
                    int64_t sb, int64_t n) {
    switch (op) {
    case B_ADD: F32_LOOP(x + y); break;
    case B_SUB: F32_LOOP(x - y); break;
    case B_MUL: F32_LOOP(x * y); break;
    case B_DIV: F32_LOOP(x / y); break;
    case B_POW: F32_LOOP(powf(x, y)); break;
    case B_FMOD: F32_LOOP(fmodf(x, y)); break;
    case B_MAX: F32_LOOP((x > y || isnan(x)) ? x : y); break;
    case B_MIN: F32_LOOP((x < y || isnan(x)) ? x : y); break;
    case B_PRELU: F32_LOOP(x < 0 ? x * y : x); break;
    default: break;
    }
}

#define CMP_LOOP(EXPR)                                                                             \
    for (int64_t i = 0; i < n; i++) {                                                              \
        float x = a[i * sa], y = b[i * sb];                                                        \
        o[i] = (EXPR);                                                                             \
    }

static void f32_cmp_row(bop op, uint8_t *restrict o, const float *a, int64_t sa, const float *b,
                        int64_t sb, int64_t n) {
    switch (op) {
    case B_EQ: CMP_LOOP(x == y); break;
    case B_GT: CMP_LOOP(x > y); break;
    case B_GE: CMP_LOOP(x >= y); break;
    case B_LT: CMP_LOOP(x < y); break;
    case B_LE: CMP_LOOP(x <= y); break;
    default: break;
    }
}

/* ---- generic scalar ops ---------------------------------------------------------------- */

static double op_d(bop op, double x, double y) {
    switch (op) {
    case B_ADD: return x + y;
    case B_SUB: return x - y;
    case B_MUL: return x * y;
    case B_DIV: return x / y;
    case B_POW: return pow(x, y);
    case B_MOD: {
        double r = fmod(x, y);
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
        return r;
    }
    case B_FMOD: return fmod(x, y);
    case B_MAX: return (x > y || isnan(x)) ? x : y;
    case B_MIN: return (x < y || isnan(x)) ? x : y;
    case B_PRELU: return x < 0 ? x * y : x;
    case B_EQ: return x == y;
    case B_GT: return x > y;
    case B_GE: return x >= y;
    case B_LT: return x < y;
    case B_LE: return x <= y;
    default: return 0;
    }
}

/* Integer ops; *bad set on division by zero. Arithmetic wraps (done in unsigned). */
static int64_t op_i(bop op, int64_t x, int64_t y, int *bad) {
    switch (op) {
    case B_ADD: return (int64_t)((uint64_t)x + (uint64_t)y);
    case B_SUB: return (int64_t)((uint64_t)x - (uint64_t)y);
    case B_MUL: return (int64_t)((uint64_t)x * (uint64_t)y);
    case B_DIV:
    case B_MOD:
    case B_FMOD:
        if (y == 0) {
            *bad = 1;
            return 0;
        }
        if (y == -1) return op == B_DIV ? (int64_t)(0 - (uint64_t)x) : 0;
        if (op == B_DIV) return x / y;
        {
            int64_t r = x % y;
            if (op == B_MOD && r != 0 && ((r < 0) != (y < 0))) r += y;
            return r;
        }
    case B_MAX: return x > y ? x : y;
    case B_MIN: return x < y ? x : y;
    case B_PRELU: return x < 0 ? (int64_t)((uint64_t)x * (uint64_t)y) : x;
    case B_EQ: return x == y;
    case B_GT: return x > y;
    case B_GE: return x >= y;
    case B_LT: return x < y;
    case B_LE: return x <= y;
    case B_AND: return (x != 0) && (y != 0);
    case B_OR: return (x != 0) || (y != 0);
    case B_XOR: return (x != 0) != (y != 0);
    default: return 0;
    }
}

static uint64_t op_u(bop op, uint64_t x, uint64_t y, int *bad) {
    switch (op) {
    case B_ADD: return x + y;
    case B_SUB: return x - y;
    case B_MUL: return x * y;
    case B_DIV:
    case B_MOD:
    case B_FMOD:
        if (y == 0) {
            *bad = 1;
            return 0;
        }
        return op == B_DIV ? x / y : x % y;
    case B_MAX: return x > y ? x : y;
    case B_MIN: return x < y ? x : y;
    case B_PRELU: return x;
    case B_SHL: return y >= 64 ? 0 : x << y;
    case B_SHR: return y >= 64 ? 0 : x >> y;
    case B_EQ: return x == y;
    case B_GT: return x > y;
    case B_GE: return x >= y;
    case B_LT: return x < y;
    case B_LE: return x <= y;
    default: return 0;
    }
}

/* Integer pow by squaring (wrapping); negative exponents give 0 except for bases 1 / -1. */
static int64_t ipow(int64_t x, int64_t e) {
    if (e < 0) return x == 1 ? 1 : x == -1 ? ((e & 1) ? -1 : 1) : 0;
    uint64_t r = 1, b = (uint64_t)x;
    while (e) {
        if (e & 1) r *= b;
        b *= b;
        e >>= 1;
    }
    return (int64_t)r;
}

/* ---- the binary driver ----------------------------------------------------------------- */

/* o = a (op) b elementwise with broadcasting; o has the broadcast shape and dtype `odt`.
 * o may alias a when a already has the output shape. */
static int binary_into(kp_op_ctx *ctx, bop op, kp_tensor *o, const kp_tensor *a,
                       const kp_tensor *b) {
    const kp_tensor *ops[2] = {a, b};
    kp_bcast bc;
    kp_bcast_plan_t(&bc, 2, ops, o->rank, o->dims);
    if (bc.numel == 0) return 0;
    int64_t idx[KP_MAX_RANK] = {0}, off[KP_BCAST_MAX] = {0};
    int64_t n = bc.inner, sa = bc.strides[0][bc.rank - 1], sb = bc.strides[1][bc.rank - 1];
    if (a->dtype == KP_FLOAT && b->dtype == KP_FLOAT && !is_logic(op) && op != B_MOD) {
        const float *pa = a->data, *pb = b->data;
        if (is_cmp(op)) {
            uint8_t *po = o->data;
            for (int64_t r = 0; r < bc.rows; r++, po += n) {
                f32_cmp_row(op, po, pa + off[0], sa, pb + off[1], sb, n);
                kp_bcast_next(&bc, idx, off);
            }
        } else {
            float *po = o->data;
            for (int64_t r = 0; r < bc.rows; r++, po += n) {
                f32_row(op, po, pa + off[0], sa, pb + off[1], sb, n);
                kp_bcast_next(&bc, idx, off);
            }
        }
        return 0;
    }
    kp_elem_kind ka = kp_elem_kind_of(a->dtype), kb = kp_elem_kind_of(b->dtype);
    if (ka == KP_EK_NONE || kb == KP_EK_NONE)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "unsupported dtypes %s and %s",
                          kp_dtype_name(a->dtype), kp_dtype_name(b->dtype));
    int bad = 0;
    int64_t j = 0;
    for (int64_t r = 0; r < bc.rows; r++) {
        for (int64_t i = 0; i < n; i++, j++) {
            int64_t ia = off[0] + i * sa, ib = off[1] + i * sb;
            if (op == B_POW && ka != KP_EK_FLOAT && kb != KP_EK_FLOAT) {
                kp_elem_seti(
                    o->data, o->dtype, j,
                    ipow(kp_elem_geti(a->data, a->dtype, ia), kp_elem_geti(b->data, b->dtype, ib)));
            } else if (ka == KP_EK_FLOAT || kb == KP_EK_FLOAT || op == B_POW) {
                double v = op_d(op, kp_elem_getd(a->data, a->dtype, ia),
                                kp_elem_getd(b->data, b->dtype, ib));
                kp_elem_setd(o->data, o->dtype, j, v);
            } else if (ka == KP_EK_UINT && kb == KP_EK_UINT) {
                uint64_t v = op_u(op, kp_elem_getu(a->data, a->dtype, ia),
                                  kp_elem_getu(b->data, b->dtype, ib), &bad);
                kp_elem_setu(o->data, o->dtype, j, v);
            } else {
                int64_t v = op_i(op, kp_elem_geti(a->data, a->dtype, ia),
                                 kp_elem_geti(b->data, b->dtype, ib), &bad);
                kp_elem_seti(o->data, o->dtype, j, v);
            }
        }
        kp_bcast_next(&bc, idx, off);
    }
    if (bad) return kp_op_fail(ctx, KP_EINVAL, "integer division by zero");
    return 0;
}

static int binary(kp_op_ctx *ctx, bop op) {
    const kp_tensor *a = kp_op_input(ctx, 0), *b = kp_op_input(ctx, 1);
    if (!a || !b) return kp_op_fail(ctx, KP_EINVAL, "needs two inputs");
    int same_type = !(op == B_POW); /* Pow allows a different exponent dtype */
    if (same_type && a->dtype != b->dtype)
        return kp_op_fail(ctx, KP_EINVAL, "input dtypes differ: %s and %s", kp_dtype_name(a->dtype),
                          kp_dtype_name(b->dtype));
    if (is_logic(op) && a->dtype != KP_BOOL)
        return kp_op_fail(ctx, KP_EINVAL, "inputs must be bool, not %s", kp_dtype_name(a->dtype));
    int rank;
    int64_t dims[KP_MAX_RANK];
    const kp_tensor *ts[2] = {a, b};
    int rc = kp_bcast_shape_t(2, ts, &rank, dims, ctx->err);
    if (rc) return kp_op_fail(ctx, rc, "%s", ctx->err->msg);
    kp_dtype odt = (is_cmp(op) || is_logic(op)) ? KP_BOOL : a->dtype;
    kp_tensor *o = kp_op_output(ctx, 0, odt, rank, dims);
    if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    return binary_into(ctx, op, o, a, b);
}

static int run_add(kp_op_ctx *c) {
    return binary(c, B_ADD);
}
static int run_sub(kp_op_ctx *c) {
    return binary(c, B_SUB);
}
static int run_mul(kp_op_ctx *c) {
    return binary(c, B_MUL);
}
static int run_div(kp_op_ctx *c) {
    return binary(c, B_DIV);
}
static int run_pow(kp_op_ctx *c) {
    return binary(c, B_POW);
}
static int run_prelu(kp_op_ctx *c) {
    const kp_tensor *x = kp_op_input(c, 0), *s = kp_op_input(c, 1);
    if (c->opset < 7 && x && s && x->rank >= 2 && s->rank == 1 && s->dims[0] != 1 &&
        s->dims[0] == x->dims[1]) {
        /* Before opset 7 a 1-D slope of size C applies per channel (axis 1), not numpy-style
         * along the last axis: view it as [C, 1, ..., 1]. */
        kp_tensor view = *s;
        view.rank = x->rank - 1;
        for (int d = 1; d < view.rank; d++) view.dims[d] = 1;
        const kp_tensor *ins[2] = {x, &view};
        kp_op_ctx c2 = *c;
        c2.in = ins;
        c2.n_in = 2;
        return binary(&c2, B_PRELU);
    }
    return binary(c, B_PRELU);
}
static int run_equal(kp_op_ctx *c) {
    return binary(c, B_EQ);
}
static int run_greater(kp_op_ctx *c) {
    return binary(c, B_GT);
}
static int run_greater_eq(kp_op_ctx *c) {
    return binary(c, B_GE);
}
static int run_less(kp_op_ctx *c) {
    return binary(c, B_LT);
}
static int run_less_eq(kp_op_ctx *c) {
    return binary(c, B_LE);
}
static int run_and(kp_op_ctx *c) {
    return binary(c, B_AND);
}
static int run_or(kp_op_ctx *c) {
    return binary(c, B_OR);
}
static int run_bitshift(kp_op_ctx *c) {
    const char *dir = kp_node_attr_string(c->node, "direction", "");
    const kp_tensor *a = kp_op_input(c, 0);
    if (a && kp_elem_kind_of(a->dtype) != KP_EK_UINT)
        return kp_op_fail(c, KP_EINVAL, "inputs must be unsigned integers, not %s",
                          kp_dtype_name(a->dtype));
    if (!strcmp(dir, "LEFT")) return binary(c, B_SHL);
    if (!strcmp(dir, "RIGHT")) return binary(c, B_SHR);
    return kp_op_fail(c, KP_EINVAL, "direction must be \"LEFT\" or \"RIGHT\", not \"%s\"", dir);
}
static int run_xor(kp_op_ctx *c) {
    return binary(c, B_XOR);
}

static int run_mod(kp_op_ctx *c) {
    int fm = (int)kp_node_attr_int(c->node, "fmod", 0);
    const kp_tensor *a = kp_op_input(c, 0);
    if (a && kp_elem_kind_of(a->dtype) == KP_EK_FLOAT && !fm)
        return kp_op_fail(c, KP_EINVAL, "fmod must be 1 for floating-point inputs");
    return binary(c, fm ? B_FMOD : B_MOD);
}

/* ---- variadic Max Min Sum Mean --------------------------------------------------------- */

static int variadic(kp_op_ctx *ctx, bop op, int mean) {
    size_t n = ctx->n_in;
    if (n == 0) return kp_op_fail(ctx, KP_EINVAL, "needs at least one input");
    int rank = 0;
    int64_t dims[KP_MAX_RANK];
    const kp_tensor *first = kp_op_input(ctx, 0);
    for (size_t k = 0; k < n; k++) {
        const kp_tensor *t = kp_op_input(ctx, k);
        if (!t) return kp_op_fail(ctx, KP_EINVAL, "input %zu is missing", k);
        if (t->dtype != first->dtype)
            return kp_op_fail(ctx, KP_EINVAL, "input dtypes differ: %s and %s",
                              kp_dtype_name(first->dtype), kp_dtype_name(t->dtype));
        if (kp_elem_kind_of(t->dtype) == KP_EK_NONE || t->dtype == KP_BOOL)
            return kp_op_fail(ctx, KP_EUNSUPPORTED, "unsupported dtype %s",
                              kp_dtype_name(t->dtype));
        int r2;
        int64_t d2[KP_MAX_RANK];
        int ranks[2] = {rank, t->rank};
        const int64_t *ds[2] = {dims, t->dims};
        int rc =
            kp_bcast_shape(k ? 2 : 1, k ? ranks : &ranks[1], k ? ds : &ds[1], &r2, d2, ctx->err);
        if (rc) return kp_op_fail(ctx, rc, "%s", ctx->err->msg);
        rank = r2;
        memcpy(dims, d2, sizeof dims);
    }
    kp_tensor *o = kp_op_output(ctx, 0, first->dtype, rank, dims);
    if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    if (o->numel == 0) return 0;
    kp_bcast_copy(o, first);
    for (size_t k = 1; k < n; k++) {
        int rc = binary_into(ctx, op, o, o, kp_op_input(ctx, k));
        if (rc) return rc;
    }
    if (mean && n > 1) {
        if (o->dtype == KP_FLOAT) {
            float *p = o->data, s = 1.0f / (float)n;
            for (int64_t i = 0; i < o->numel; i++) p[i] *= s;
        } else if (kp_elem_kind_of(o->dtype) == KP_EK_FLOAT) {
            for (int64_t i = 0; i < o->numel; i++)
                kp_elem_setd(o->data, o->dtype, i, kp_elem_getd(o->data, o->dtype, i) / (double)n);
        } else {
            for (int64_t i = 0; i < o->numel; i++)
                kp_elem_seti(o->data, o->dtype, i, kp_elem_geti(o->data, o->dtype, i) / (int64_t)n);
        }
    }
    return 0;
}

static int run_max(kp_op_ctx *c) {
    return variadic(c, B_MAX, 0);
}
static int run_min(kp_op_ctx *c) {
    return variadic(c, B_MIN, 0);
}
static int run_sum(kp_op_ctx *c) {
    return variadic(c, B_ADD, 0);
}
static int run_mean(kp_op_ctx *c) {
    return variadic(c, B_ADD, 1);
}

/* ---- Where ----------------------------------------------------------------------------- */

static int run_where(kp_op_ctx *ctx) {
    const kp_tensor *c = kp_op_input(ctx, 0), *x = kp_op_input(ctx, 1), *y = kp_op_input(ctx, 2);
    if (!c || !x || !y) return kp_op_fail(ctx, KP_EINVAL, "needs condition, X and Y");
    if (c->dtype != KP_BOOL)
        return kp_op_fail(ctx, KP_EINVAL, "condition must be bool, not %s",
                          kp_dtype_name(c->dtype));
    if (x->dtype != y->dtype)
        return kp_op_fail(ctx, KP_EINVAL, "X and Y dtypes differ: %s and %s",
                          kp_dtype_name(x->dtype), kp_dtype_name(y->dtype));
    size_t es = kp_dtype_size(x->dtype);
    if (!es)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "unsupported dtype %s", kp_dtype_name(x->dtype));
    const kp_tensor *ts[3] = {c, x, y};
    int rank;
    int64_t dims[KP_MAX_RANK];
    int rc = kp_bcast_shape_t(3, ts, &rank, dims, ctx->err);
    if (rc) return kp_op_fail(ctx, rc, "%s", ctx->err->msg);
    kp_tensor *o = kp_op_output(ctx, 0, x->dtype, rank, dims);
    if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    kp_bcast bc;
    kp_bcast_plan_t(&bc, 3, ts, rank, dims);
    if (bc.numel == 0) return 0;
    int64_t idx[KP_MAX_RANK] = {0}, off[KP_BCAST_MAX] = {0};
    int64_t n = bc.inner, sc = bc.strides[0][bc.rank - 1], sx = bc.strides[1][bc.rank - 1],
            sy = bc.strides[2][bc.rank - 1];
    const uint8_t *pc = c->data, *px = x->data, *py = y->data;
    uint8_t *po = o->data;
    for (int64_t r = 0; r < bc.rows; r++) {
        const uint8_t *rc_ = pc + off[0];
        if (es == 4) {
            const float *fx = (const float *)px + off[1], *fy = (const float *)py + off[2];
            float *fo = (float *)po;
            for (int64_t i = 0; i < n; i++) fo[i] = rc_[i * sc] ? fx[i * sx] : fy[i * sy];
        } else {
            for (int64_t i = 0; i < n; i++) {
                const uint8_t *src = rc_[i * sc] ? px + (off[1] + i * sx) * (int64_t)es
                                                 : py + (off[2] + i * sy) * (int64_t)es;
                memcpy(po + i * (int64_t)es, src, es);
            }
        }
        po += n * (int64_t)es;
        kp_bcast_next(&bc, idx, off);
    }
    return 0;
}

const kp_op_def kp_ops_elementwise[] = {
    {"", "Add", run_add},
    {"", "And", run_and},
    {"", "BitShift", run_bitshift},
    {"", "Div", run_div},
    {"", "Equal", run_equal},
    {"", "Greater", run_greater},
    {"", "GreaterOrEqual", run_greater_eq},
    {"", "Less", run_less},
    {"", "LessOrEqual", run_less_eq},
    {"", "Max", run_max},
    {"", "Mean", run_mean},
    {"", "Min", run_min},
    {"", "Mod", run_mod},
    {"", "Mul", run_mul},
    {"", "Or", run_or},
    {"", "PRelu", run_prelu},
    {"", "Pow", run_pow},
    {"", "Sub", run_sub},
    {"", "Sum", run_sum},
    {"", "Where", run_where},
    {"", "Xor", run_xor},
    {0},
};
