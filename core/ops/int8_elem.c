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
        return kp_op_fail(ctx, KP_EFORMAT, "%s zero point must be one %s", what,
                          kp_dtype_name(t));
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
