/* MaxUnpool (opsets 9-11): scatters X into a zero tensor at the flat positions given by I (as
 * MaxPool's Indices output produces them) of the unpooled shape (in - 1) * stride + kernel -
 * pad_begin - pad_end per spatial dim; an output_shape input may enlarge it (zeros at the end). */
#include <string.h>

#include "core/ops/args.h"
#include "core/ops/extra.h"

int kp_op_max_unpool(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0), *ind = kp_op_input(ctx, 1),
                    *shp = kp_op_input(ctx, 2);
    if (!x || !ind || ind->dtype != KP_INT64 || ind->numel != x->numel)
        return kp_op_fail(ctx, KP_EINVAL, "needs X and int64 indices of the same size");
    size_t es = kp_dtype_size(x->dtype);
    if (!es || x->rank < 3)
        return kp_op_fail(ctx, KP_EINVAL, "X must be [N, C, spatial...] with a numeric dtype");
    int sp = x->rank - 2;
    const int64_t *ks, *pads, *st;
    size_t nk = kp_node_attr_ints(ctx->node, "kernel_shape", &ks);
    size_t np = kp_node_attr_ints(ctx->node, "pads", &pads);
    size_t ns = kp_node_attr_ints(ctx->node, "strides", &st);
    if (nk != (size_t)sp || (np && np != 2 * (size_t)sp) || (ns && ns != (size_t)sp))
        return kp_op_fail(ctx, KP_EINVAL, "kernel_shape/pads/strides do not match rank %d", sp);
    /* dd: the unpooled shape the indices refer to; od: the output (output_shape may be larger,
     * the extra rows and columns at the end stay zero) */
    int64_t dd[KP_MAX_RANK], od[KP_MAX_RANK];
    dd[0] = x->dims[0];
    dd[1] = x->dims[1];
    for (int d = 0; d < sp; d++) {
        int64_t s = ns ? st[d] : 1, pb = np ? pads[d] : 0, pe = np ? pads[sp + d] : 0;
        if (s < 1 || ks[d] < 1 || s > (1 << 20) || ks[d] > (1 << 20) || pb < 0 || pe < 0)
            return kp_op_fail(ctx, KP_EINVAL, "invalid kernel, stride or pads");
        dd[2 + d] = (x->dims[2 + d] - 1) * s + ks[d] - pb - pe;
        if (dd[2 + d] < 0) return kp_op_fail(ctx, KP_EINVAL, "negative output size");
    }
    memcpy(od, dd, sizeof od);
    int rc;
    if (shp) {
        size_t n;
        if ((rc = kp_args_ints(ctx, shp, "output_shape", od, KP_MAX_RANK, &n))) return rc;
        if (n != (size_t)x->rank || od[0] != x->dims[0] || od[1] != x->dims[1])
            return kp_op_fail(ctx, KP_EINVAL, "output_shape does not fit X");
        for (int d = 2; d < x->rank; d++)
            if (od[d] < dd[d])
                return kp_op_fail(ctx, KP_EINVAL, "output_shape dim %d is below %lld", d,
                                  (long long)dd[d]);
    }
    kp_tensor *o = kp_op_output(ctx, 0, x->dtype, x->rank, od);
    if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    if (o->nbytes) memset(o->data, 0, o->nbytes);
    const int64_t *iv = ind->data;
    int64_t dn = 1;
    for (int d = 0; d < x->rank; d++) dn *= dd[d];
    for (int64_t i = 0; i < x->numel; i++) {
        if (iv[i] < 0 || iv[i] >= dn)
            return kp_op_fail(ctx, KP_EINVAL, "index %lld is outside the output", (long long)iv[i]);
        int64_t rem = iv[i], off = 0, mul = 1;
        for (int d = x->rank - 1; d >= 0; d--) { /* re-ravel from dd into od */
            off += (rem % dd[d]) * mul;
            rem /= dd[d];
            mul *= od[d];
        }
        memcpy((uint8_t *)o->data + (size_t)off * es, (const uint8_t *)x->data + (size_t)i * es,
               es);
    }
    return 0;
}
