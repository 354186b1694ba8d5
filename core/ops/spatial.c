/* Window geometry for Conv/ConvTranspose/pools (see spatial.h). */
#include <string.h>

#include "core/ops/spatial.h"

static int read_list(kp_op_ctx *ctx, const char *name, int nd, int64_t dflt, int64_t *out,
                     int64_t min) {
    const int64_t *v;
    size_t n = kp_node_attr_ints(ctx->node, name, &v);
    for (int i = 0; i < nd; i++) out[i] = dflt;
    if (!n) return 0;
    if ((int)n != nd)
        return kp_op_fail(ctx, KP_EINVAL, "attribute %s has %zu values, expected %d", name, n, nd);
    for (int i = 0; i < nd; i++) {
        if (v[i] < min || v[i] > ((int64_t)1 << 30))
            return kp_op_fail(ctx, KP_EINVAL, "attribute %s[%d] = %lld is out of range", name, i,
                              (long long)v[i]);
        out[i] = v[i];
    }
    return 0;
}

int kp_spatial_kernel_attr(kp_op_ctx *ctx, int nd, int64_t *kshape) {
    const int64_t *v;
    size_t n = kp_node_attr_ints(ctx->node, "kernel_shape", &v);
    if ((int)n != nd)
        return kp_op_fail(ctx, KP_EINVAL,
                          "kernel_shape has %zu values, the input has %d "
                          "spatial dims",
                          n, nd);
    for (int i = 0; i < nd; i++) {
        if (v[i] < 1 || v[i] > ((int64_t)1 << 30))
            return kp_op_fail(ctx, KP_EINVAL, "kernel_shape[%d] = %lld is out of range", i,
                              (long long)v[i]);
        kshape[i] = v[i];
    }
    return 0;
}

int kp_spatial_init(kp_op_ctx *ctx, const kp_tensor *x, const int64_t *kshape, int ceil_mode,
                    kp_spatial *s) {
    memset(s, 0, sizeof *s);
    if (x->rank < 3 || x->rank > KP_MAX_RANK)
        return kp_op_fail(ctx, KP_EINVAL, "input must be N x C x spatial..., got rank %d", x->rank);
    int nd = s->nd = x->rank - 2;
    int rc;
    if ((rc = read_list(ctx, "strides", nd, 1, s->stride, 1)) < 0) return rc;
    if ((rc = read_list(ctx, "dilations", nd, 1, s->dil, 1)) < 0) return rc;
    int64_t pads[2 * KP_SPATIAL_MAX];
    const int64_t *pv;
    size_t np = kp_node_attr_ints(ctx->node, "pads", &pv);
    if (np && (int)np != 2 * nd)
        return kp_op_fail(ctx, KP_EINVAL, "pads has %zu values, expected %d", np, 2 * nd);
    for (int i = 0; i < 2 * nd; i++) {
        pads[i] = np ? pv[i] : 0;
        if (pads[i] < 0 || pads[i] > ((int64_t)1 << 30))
            return kp_op_fail(ctx, KP_EINVAL, "pads[%d] = %lld is out of range", i,
                              (long long)pads[i]);
    }
    const char *ap = kp_node_attr_string(ctx->node, "auto_pad", "NOTSET");
    int mode = 0; /* 0 NOTSET, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID */
    if (!strcmp(ap, "SAME_UPPER"))
        mode = 1;
    else if (!strcmp(ap, "SAME_LOWER"))
        mode = 2;
    else if (!strcmp(ap, "VALID"))
        mode = 3;
    else if (strcmp(ap, "NOTSET") && ap[0])
        return kp_op_fail(ctx, KP_EINVAL, "unknown auto_pad '%s'", ap);
    s->in_size = s->out_size = s->k_size = 1;
    for (int i = 0; i < nd; i++) {
        int64_t in = x->dims[2 + i], k = kshape[i];
        int64_t ek = (k - 1) * s->dil[i] + 1, out;
        s->in[i] = in;
        s->k[i] = k;
        if (mode == 1 || mode == 2) {
            out = (in + s->stride[i] - 1) / s->stride[i];
            int64_t total = (out - 1) * s->stride[i] + ek - in;
            if (total < 0) total = 0;
            s->pad_b[i] = mode == 1 ? total / 2 : total - total / 2;
            s->pad_e[i] = total - s->pad_b[i];
        } else {
            if (mode == 0) {
                s->pad_b[i] = pads[i];
                s->pad_e[i] = pads[nd + i];
            }
            int64_t span = in + s->pad_b[i] + s->pad_e[i] - ek;
            if (span < 0)
                return kp_op_fail(ctx, KP_EINVAL,
                                  "window %lld (dilated) is larger than the padded input %lld in "
                                  "spatial dim %d",
                                  (long long)ek, (long long)(in + s->pad_b[i] + s->pad_e[i]), i);
            if (ceil_mode && mode == 0) {
                out = (span + s->stride[i] - 1) / s->stride[i] + 1;
                /* The last window must start inside the input or its left padding. */
                if ((out - 1) * s->stride[i] >= in + s->pad_b[i]) out--;
            } else {
                out = span / s->stride[i] + 1;
            }
        }
        s->out[i] = out;
        s->in_size *= in;
        s->out_size *= out;
        s->k_size *= k;
    }
    return 0;
}
