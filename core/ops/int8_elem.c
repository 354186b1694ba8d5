/* ai.kompress:QAdd: DequantizeLinear(a), DequantizeLinear(b) -> Add [-> Relu] ->
 * QuantizeLinear as one kernel on 8-bit tensors (made by the executor's QDQ fusion, see
 * core/exec_qdq.c). Inputs: a, a_scale, a_zero, b, b_scale, b_zero, y_scale, y_zero (zero
 * points optional, scalars); attribute relu. Every element takes the float steps of the
 * unfused ops in the same order, (q - z) * s for each side, their sum, max(., 0), then
 * rne(v / y_scale) + y_zero saturated (NaN -> 0), so the bytes equal the unfused graph's while
 * no float tensor is written. Numpy broadcasting as Add. */
#include <math.h>
#include <string.h>

#include "core/ops/broadcast.h"
#include "core/ops/int8_ops.h"

static int scalar_q(kp_op_ctx *ctx, const kp_tensor *s, const kp_tensor *z, kp_dtype t,
                    const char *what) {
    if (!s || s->numel != 1 || s->dtype != KP_FLOAT)
        return kp_op_fail(ctx, KP_EFORMAT, "%s scale must be one float", what);
    if (z && (z->numel != 1 || z->dtype != t))
        return kp_op_fail(ctx, KP_EFORMAT, "%s zero point must be one %s", what, kp_dtype_name(t));
    return 0;
}

static inline float deq(const uint8_t *p, int64_t i, int sgn, int32_t z, float s) {
    int32_t q = sgn ? (int32_t)((const int8_t *)p)[i] : (int32_t)p[i];
    return (float)(q - z) * s;
}

int kp_op_KQAdd(kp_op_ctx *ctx) {
    const kp_tensor *a = kp_op_input(ctx, 0), *sa = kp_op_input(ctx, 1), *za = kp_op_input(ctx, 2);
    const kp_tensor *b = kp_op_input(ctx, 3), *sb = kp_op_input(ctx, 4), *zb = kp_op_input(ctx, 5);
    const kp_tensor *sy = kp_op_input(ctx, 6), *zy = kp_op_input(ctx, 7);
    if (!a || !b || !kp_q_is_8bit(a->dtype) || !kp_q_is_8bit(b->dtype))
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "needs two uint8/int8 inputs");
    kp_dtype yt = zy ? zy->dtype : KP_UINT8;
    if (!kp_q_is_8bit(yt)) return kp_op_fail(ctx, KP_EUNSUPPORTED, "output must be 8-bit");
    int rc = scalar_q(ctx, sa, za, a->dtype, "a");
    if (!rc) rc = scalar_q(ctx, sb, zb, b->dtype, "b");
    if (!rc) rc = scalar_q(ctx, sy, zy, yt, "y");
    if (rc) return rc;
    const kp_tensor *ops[2] = {a, b};
    int rank;
    int64_t dims[KP_MAX_RANK];
    if ((rc = kp_bcast_shape_t(2, ops, &rank, dims, ctx->err))) return rc;
    kp_tensor *y = kp_op_output(ctx, 0, yt, rank, dims);
    if (!y) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    if (!y->numel) return 0;
    kp_bcast bc;
    kp_bcast_plan_t(&bc, 2, ops, rank, dims);
    float fa = kp_q_scale(sa, 0), fb = kp_q_scale(sb, 0), fy = kp_q_scale(sy, 0);
    int32_t ia = kp_q_zp(za, 0), ib = kp_q_zp(zb, 0);
    float zyf = (float)kp_q_zp(zy, 0);
    int as = a->dtype == KP_INT8, bs = b->dtype == KP_INT8, ys = yt == KP_INT8;
    float lo = ys ? -128.f : 0.f, hi = ys ? 127.f : 255.f;
    int relu = (int)kp_node_attr_int(ctx->node, "relu", 0);
    int64_t sta = bc.strides[0][bc.rank - 1], stb = bc.strides[1][bc.rank - 1];
    int64_t idx[KP_MAX_RANK] = {0}, off[KP_BCAST_MAX] = {0};
    uint8_t *yo = y->data;
    for (int64_t r = 0; r < bc.rows; r++) {
        for (int64_t i = 0; i < bc.inner; i++) {
            float v = deq(a->data, off[0] + i * sta, as, ia, fa) +
                      deq(b->data, off[1] + i * stb, bs, ib, fb);
            if (relu) v = v < 0.f ? 0.f : v;
            v = kp_rne(v / fy) + zyf;
            v = isnan(v) ? 0.f : v < lo ? lo : v > hi ? hi : v;
            if (ys)
                ((int8_t *)yo)[r * bc.inner + i] = (int8_t)v;
            else
                yo[r * bc.inner + i] = (uint8_t)v;
        }
        kp_bcast_next(&bc, idx, off);
    }
    return 0;
}

/* ai.kompress:QConcat: DequantizeLinear of every input -> Concat -> QuantizeLinear as one kernel.
 * Inputs: y_scale, y_zero (may be empty), then (x, x_scale, x_zero) per input; attribute axis.
 * Each element is rne(((q - z) * s) / y_scale) + y_zero saturated, the unfused float steps; an
 * input already in the output's type, scale and zero point is copied (the same bytes: for
 * |q - z| <= 255 the round trip through float is exact). */
int kp_op_KQConcat(kp_op_ctx *ctx) {
    const kp_tensor *sy = kp_op_input(ctx, 0), *zy = kp_op_input(ctx, 1);
    if (ctx->n_in < 5 || (ctx->n_in - 2) % 3)
        return kp_op_fail(ctx, KP_EFORMAT, "needs y_scale, y_zero and (x, scale, zero) triples");
    size_t k = (ctx->n_in - 2) / 3;
    kp_dtype yt = zy ? zy->dtype : KP_UINT8;
    if (!kp_q_is_8bit(yt)) return kp_op_fail(ctx, KP_EUNSUPPORTED, "output must be 8-bit");
    int rc = scalar_q(ctx, sy, zy, yt, "y");
    if (rc) return rc;
    const kp_tensor *x0 = kp_op_input(ctx, 2);
    if (!x0) return kp_op_fail(ctx, KP_EFORMAT, "first input missing");
    int rank = x0->rank;
    int64_t axis = kp_node_attr_int(ctx->node, "axis", 0);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank)
        return kp_op_fail(ctx, KP_EFORMAT, "axis %lld out of range for rank %d",
                          (long long)kp_node_attr_int(ctx->node, "axis", 0), rank);
    int64_t dims[KP_MAX_RANK];
    memcpy(dims, x0->dims, sizeof(int64_t) * (size_t)rank);
    dims[axis] = 0;
    for (size_t i = 0; i < k; i++) {
        const kp_tensor *x = kp_op_input(ctx, 2 + 3 * i);
        if (!x || !kp_q_is_8bit(x->dtype) || x->rank != rank)
            return kp_op_fail(ctx, KP_EFORMAT, "input %zu: needs a uint8/int8 tensor of rank %d", i,
                              rank);
        for (int d = 0; d < rank; d++)
            if (d != axis && x->dims[d] != x0->dims[d])
                return kp_op_fail(ctx, KP_EFORMAT, "input %zu: dim %d is %lld, not %lld", i, d,
                                  (long long)x->dims[d], (long long)x0->dims[d]);
        rc = scalar_q(ctx, kp_op_input(ctx, 3 + 3 * i), kp_op_input(ctx, 4 + 3 * i), x->dtype,
                      "input");
        if (rc) return rc;
        dims[axis] += x->dims[axis];
    }
    kp_tensor *y = kp_op_output(ctx, 0, yt, rank, dims);
    if (!y) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= dims[d];
    for (int d = (int)axis + 1; d < rank; d++) inner *= dims[d];
    float fy = kp_q_scale(sy, 0), zyf = (float)kp_q_zp(zy, 0);
    int ys = yt == KP_INT8;
    float lo = ys ? -128.f : 0.f, hi = ys ? 127.f : 255.f;
    int64_t at = 0; /* elements of the output row already filled */
    for (size_t i = 0; i < k; i++) {
        const kp_tensor *x = kp_op_input(ctx, 2 + 3 * i), *s = kp_op_input(ctx, 3 + 3 * i),
                        *z = kp_op_input(ctx, 4 + 3 * i);
        int64_t run = x->dims[axis] * inner, row = dims[axis] * inner;
        int xs = x->dtype == KP_INT8;
        float fs = kp_q_scale(s, 0);
        int32_t iz = kp_q_zp(z, 0);
        int same = x->dtype == yt && fs == fy && iz == kp_q_zp(zy, 0);
        for (int64_t o = 0; o < outer; o++) {
            const uint8_t *src = (const uint8_t *)x->data + o * run;
            uint8_t *dst = (uint8_t *)y->data + o * row + at;
            if (same) {
                memcpy(dst, src, (size_t)run);
                continue;
            }
            for (int64_t j = 0; j < run; j++) {
                float v = kp_rne(deq(src, j, xs, iz, fs) / fy) + zyf;
                v = isnan(v) ? 0.f : v < lo ? lo : v > hi ? hi : v;
                dst[j] = ys ? (uint8_t)(int8_t)v : (uint8_t)v;
            }
        }
        at += x->dims[axis] * inner;
    }
    return 0;
}
