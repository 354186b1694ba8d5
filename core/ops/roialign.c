/* RoiAlign (opsets 10-16): average (or max) of bilinear samples on a regular grid inside each
 * output bin of each region of interest. coordinate_transformation_mode half_pixel (default
 * from 16) shifts by half a pixel; output_half_pixel (the only mode before 16) does not and
 * makes every region at least 1x1. sampling_ratio 0 = ceil(roi size / output size) samples. */
#include <math.h>
#include <string.h>

#include "core/ops/args.h"
#include "core/ops/extra.h"

/* Bilinear sample of plane p at (y, x); *ok = 0 outside the [-1, size] band (sample skipped
 * as 0). w[4] and the corner values are returned for max mode. */
static void sample(const float *p, int64_t h, int64_t w, double y, double x, double *wt,
                   double *val) {
    memset(wt, 0, 4 * sizeof *wt);
    memset(val, 0, 4 * sizeof *val);
    if (!(y >= -1.0 && y <= (double)h && x >= -1.0 && x <= (double)w)) return;
    if (y < 0) y = 0;
    if (x < 0) x = 0;
    int64_t y0 = (int64_t)y, x0 = (int64_t)x, y1, x1;
    if (y0 >= h - 1) {
        y0 = y1 = h - 1;
        y = (double)y0;
    } else
        y1 = y0 + 1;
    if (x0 >= w - 1) {
        x0 = x1 = w - 1;
        x = (double)x0;
    } else
        x1 = x0 + 1;
    double ly = y - (double)y0, lx = x - (double)x0, hy = 1 - ly, hx = 1 - lx;
    wt[0] = hy * hx, wt[1] = hy * lx, wt[2] = ly * hx, wt[3] = ly * lx;
    val[0] = p[y0 * w + x0], val[1] = p[y0 * w + x1], val[2] = p[y1 * w + x0],
    val[3] = p[y1 * w + x1];
}

int kp_op_roi_align(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0), *rois = kp_op_input(ctx, 1),
                    *bi = kp_op_input(ctx, 2);
    if (!x || !rois || !bi || x->dtype != KP_FLOAT || rois->dtype != KP_FLOAT)
        return kp_op_fail(ctx, KP_EINVAL, "needs float32 X, rois and batch_indices");
    if (x->rank != 4 || rois->rank != 2 || rois->dims[1] != 4 || bi->rank != 1 ||
        bi->dims[0] != rois->dims[0] || (bi->dtype != KP_INT64 && bi->dtype != KP_INT32))
        return kp_op_fail(ctx, KP_EINVAL, "X [N,C,H,W], rois [R,4], batch_indices [R] expected");
    const char *ms = kp_node_attr_string(ctx->node, "mode", "avg");
    int is_max = !strcmp(ms, "max");
    if (!is_max && strcmp(ms, "avg")) return kp_op_fail(ctx, KP_EINVAL, "unknown mode \"%s\"", ms);
    const char *cm = kp_node_attr_string(ctx->node, "coordinate_transformation_mode",
                                         ctx->opset >= 16 ? "half_pixel" : "output_half_pixel");
    int half = !strcmp(cm, "half_pixel");
    if (!half && strcmp(cm, "output_half_pixel"))
        return kp_op_fail(ctx, KP_EINVAL, "unknown coordinate_transformation_mode \"%s\"", cm);
    int64_t oh = kp_node_attr_int(ctx->node, "output_height", 1),
            ow = kp_node_attr_int(ctx->node, "output_width", 1),
            sr = kp_node_attr_int(ctx->node, "sampling_ratio", 0);
    double scale = kp_node_attr_float(ctx->node, "spatial_scale", 1.0f);
    if (oh < 1 || ow < 1 || sr < 0 || oh > 65536 || ow > 65536 || sr > 65536)
        return kp_op_fail(ctx, KP_EINVAL, "invalid output size or sampling_ratio");
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3], R = rois->dims[0];
    int64_t od[4] = {R, C, oh, ow};
    kp_tensor *o = kp_op_output(ctx, 0, KP_FLOAT, 4, od);
    if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    const float *rd = rois->data;
    float *out = o->data;
    double off = half ? 0.5 : 0;
    for (int64_t r = 0; r < R; r++) {
        int64_t b =
            bi->dtype == KP_INT64 ? ((const int64_t *)bi->data)[r] : ((const int32_t *)bi->data)[r];
        if (b < 0 || b >= N)
            return kp_op_fail(ctx, KP_EINVAL, "batch index %lld out of range", (long long)b);
        double x1 = rd[r * 4] * scale - off, y1 = rd[r * 4 + 1] * scale - off,
               x2 = rd[r * 4 + 2] * scale - off, y2 = rd[r * 4 + 3] * scale - off;
        double rw = x2 - x1, rh = y2 - y1;
        if (!half) {
            rw = rw > 1 ? rw : 1;
            rh = rh > 1 ? rh : 1;
        }
        if (!isfinite(rw) || !isfinite(rh) || fabs(rw) > 1e9 || fabs(rh) > 1e9)
            return kp_op_fail(ctx, KP_EINVAL, "roi %lld is not finite", (long long)r);
        double bh = rh / (double)oh, bw = rw / (double)ow;
        int64_t gh = sr > 0 ? sr : (int64_t)ceil(rh / (double)oh),
                gw = sr > 0 ? sr : (int64_t)ceil(rw / (double)ow);
        if (gh < 0) gh = 0;
        if (gw < 0) gw = 0;
        if (gh > 4096 || gw > 4096)
            return kp_op_fail(ctx, KP_ERANGE, "roi %lld needs too many samples", (long long)r);
        double count = gh * gw > 0 ? (double)(gh * gw) : 1;
        for (int64_t c = 0; c < C; c++) {
            const float *p = (const float *)x->data + (b * C + c) * H * W;
            for (int64_t ph = 0; ph < oh; ph++)
                for (int64_t pw = 0; pw < ow; pw++) {
                    double acc = 0, mx = 0;
                    int first = 1;
                    for (int64_t iy = 0; iy < gh; iy++) {
                        double yy = y1 + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh;
                        for (int64_t ix = 0; ix < gw; ix++) {
                            double xx = x1 + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw;
                            double wt[4], v[4];
                            sample(p, H, W, yy, xx, wt, v);
                            if (is_max) { /* as ONNX Runtime: max of the weighted corners */
                                double m = wt[0] * v[0];
                                for (int k = 1; k < 4; k++) m = wt[k] * v[k] > m ? wt[k] * v[k] : m;
                                mx = first || m > mx ? m : mx;
                                first = 0;
                            } else
                                acc += wt[0] * v[0] + wt[1] * v[1] + wt[2] * v[2] + wt[3] * v[3];
                        }
                    }
                    out[((r * C + c) * oh + ph) * ow + pw] = (float)(is_max ? mx : acc / count);
                }
        }
    }
    return 0;
}
