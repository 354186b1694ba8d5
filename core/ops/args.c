/* Argument helpers shared by kernels (see args.h). */
#include "core/ops/args.h"

#include <stdlib.h>
#include <string.h>

#include "core/ops/elem.h"

int kp_args_ints(kp_op_ctx *ctx, const kp_tensor *t, const char *what, int64_t *out, size_t cap,
                 size_t *n) {
    *n = 0;
    if (!t) return kp_op_fail(ctx, KP_EINVAL, "input '%s' is missing", what);
    if (t->dtype != KP_INT64 && t->dtype != KP_INT32)
        return kp_op_fail(ctx, KP_EINVAL, "input '%s' must be int32 or int64, not %s", what,
                          kp_dtype_name(t->dtype));
    if (t->rank > 1)
        return kp_op_fail(ctx, KP_EINVAL, "input '%s' must be 1-D, has rank %d", what, t->rank);
    if (t->numel < 0 || (uint64_t)t->numel > cap)
        return kp_op_fail(ctx, KP_ERANGE, "input '%s' has %lld entries, at most %zu allowed", what,
                          (long long)t->numel, cap);
    for (int64_t i = 0; i < t->numel; i++)
        out[i] =
            t->dtype == KP_INT64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
    *n = (size_t)t->numel;
    return 0;
}

static int scalar_check(kp_op_ctx *ctx, const kp_tensor *t, const char *what) {
    if (!t) return kp_op_fail(ctx, KP_EINVAL, "input '%s' is missing", what);
    if (t->numel != 1)
        return kp_op_fail(ctx, KP_EINVAL, "input '%s' must hold one value, has %lld", what,
                          (long long)t->numel);
    if (kp_elem_kind_of(t->dtype) == KP_EK_NONE)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "input '%s' has unsupported dtype %s", what,
                          kp_dtype_name(t->dtype));
    return 0;
}

int kp_args_scalar_i(kp_op_ctx *ctx, const kp_tensor *t, const char *what, int64_t *out) {
    int rc = scalar_check(ctx, t, what);
    if (!rc) *out = kp_elem_geti(t->data, t->dtype, 0);
    return rc;
}

int kp_args_scalar_d(kp_op_ctx *ctx, const kp_tensor *t, const char *what, double *out) {
    int rc = scalar_check(ctx, t, what);
    if (!rc) *out = kp_elem_getd(t->data, t->dtype, 0);
    return rc;
}

int kp_args_axis(kp_op_ctx *ctx, int64_t axis, int rank, int *out) {
    if (axis < -(int64_t)rank || axis >= rank)
        return kp_op_fail(ctx, KP_EINVAL, "axis %lld is out of range for rank %d", (long long)axis,
                          rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return 0;
}

int kp_args_axes(kp_op_ctx *ctx, size_t in_idx, int64_t input_opset, int rank, int *axes, int *n,
                 int *present) {
    int64_t raw[KP_MAX_RANK];
    size_t cnt = 0;
    *n = 0;
    *present = 0;
    if (ctx->opset >= input_opset) {
        const kp_tensor *t = kp_op_input(ctx, in_idx);
        if (t) {
            int rc = kp_args_ints(ctx, t, "axes", raw, KP_MAX_RANK, &cnt);
            if (rc) return rc;
            *present = 1;
        }
    } else {
        const int64_t *a;
        size_t k = kp_node_attr_ints(ctx->node, "axes", &a);
        if (kp_node_attr(ctx->node, "axes")) *present = 1;
        if (k > KP_MAX_RANK)
            return kp_op_fail(ctx, KP_ERANGE, "attribute 'axes' has %zu entries, at most %d", k,
                              KP_MAX_RANK);
        if (k) memcpy(raw, a, k * sizeof *raw);
        cnt = k;
    }
    unsigned seen = 0;
    for (size_t i = 0; i < cnt; i++) {
        int ax = 0;
        int rc = kp_args_axis(ctx, raw[i], rank, &ax);
        if (rc) return rc;
        if (seen & (1u << ax))
            return kp_op_fail(ctx, KP_EINVAL, "axis %lld is listed twice", (long long)raw[i]);
        seen |= 1u << ax;
        axes[i] = ax;
    }
    *n = (int)cnt;
    return 0;
}

void kp_args_strides(int rank, const int64_t *dims, int64_t *strides) {
    int64_t s = 1;
    for (int d = rank - 1; d >= 0; d--) {
        strides[d] = s;
        s *= dims[d];
    }
}

int kp_args_copy(kp_op_ctx *ctx, kp_tensor *dst, const kp_tensor *src) {
    if (dst->dtype != src->dtype || dst->numel != src->numel)
        return kp_op_fail(ctx, KP_EINVAL, "copy between mismatched tensors (kernel bug)");
    if (src->dtype == KP_STRING) {
        if (!dst->strings || !src->strings) return 0;
        for (int64_t i = 0; i < src->numel; i++) {
            size_t len = src->strings[i].len;
            uint8_t *p = malloc(len ? len : 1);
            if (!p) return kp_op_fail(ctx, KP_ENOMEM, "out of memory copying strings");
            if (len) memcpy(p, src->strings[i].data, len);
            free(dst->strings[i].data);
            dst->strings[i].data = p;
            dst->strings[i].len = len;
        }
        return 0;
    }
    if (src->nbytes && src->data && dst->data && dst->data != src->data)
        memcpy(dst->data, src->data, src->nbytes < dst->nbytes ? src->nbytes : dst->nbytes);
    return 0;
}
