/* GridSample (opset 16, 4-D): samples X [N, C, H, W] at normalized grid points [N, Ho, Wo, 2]
 * ((x, y) in [-1, 1]) with bilinear, nearest (half to even) or bicubic (A = -0.75)
 * interpolation; padding zeros, border (clamp) or reflection (mirror at the edges, or at the
 * pixel borders without align_corners). */
#include <math.h>
#include <string.h>

#include "core/ops/extra.h"

typedef enum { PAD_ZEROS, PAD_BORDER, PAD_REFLECT } gpad;

static double unnormalize(double v, int64_t size, int align) {
    return align ? (v + 1) / 2 * (double)(size - 1) : ((v + 1) * (double)size - 1) / 2;
}

static double clip(double v, int64_t size) {
    return v < 0 ? 0 : v > (double)(size - 1) ? (double)(size - 1) : v;
}

/* Mirrors v into [lo2/2, hi2/2] (bounds given doubled to stay exact). */
static double reflect(double v, double lo2, double hi2) {
    if (lo2 == hi2) return 0;
    double lo = lo2 / 2, span = (hi2 - lo2) / 2;
    v = fabs(v - lo);
    double extra = fmod(v, span), flips = floor(v / span);
    return fmod(flips, 2) == 0 ? extra + lo : span - extra + lo;
}

static double pad_coord(double v, int64_t size, gpad pad, int align) {
    if (pad == PAD_BORDER) return clip(v, size);
    if (pad == PAD_REFLECT) {
        v = align ? reflect(v, 0, 2.0 * (double)(size - 1))
                  : reflect(v, -1, 2.0 * (double)size - 1);
        return clip(v, size);
    }
    return v;
}

/* Pixel at integral coordinates (y, x) of plane p, or 0 outside (NaN and huge grid values
 * included: the bounds are checked before any conversion to an integer). */
static double px(const float *p, int64_t h, int64_t w, double y, double x) {
    if (!(y >= 0 && y < (double)h && x >= 0 && x < (double)w)) return 0;
    return p[(int64_t)y * w + (int64_t)x];
}

static double cubic1(double x) {
    return ((1.25 * x - 2.25) * x) * x + 1;
} /* |x| <= 1 */
static double cubic2(double x) {
    return ((-0.75 * x + 3.75) * x - 6) * x + 3;
} /* 1 < |x| < 2 */

int kp_op_grid_sample(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0), *g = kp_op_input(ctx, 1);
    if (!x || !g || x->dtype != KP_FLOAT || g->dtype != KP_FLOAT)
        return kp_op_fail(ctx, KP_EINVAL, "needs float32 X and grid");
    if (x->rank != 4 || g->rank != 4 || g->dims[3] != 2 || g->dims[0] != x->dims[0])
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "only 4-D X [N,C,H,W] with grid [N,Ho,Wo,2]");
    const char *ms = kp_node_attr_string(ctx->node, "mode", "bilinear");
    const char *ps = kp_node_attr_string(ctx->node, "padding_mode", "zeros");
    int mode = !strcmp(ms, "bilinear") || !strcmp(ms, "linear") ? 0
               : !strcmp(ms, "nearest")                         ? 1
               : !strcmp(ms, "bicubic") || !strcmp(ms, "cubic") ? 2
                                                                : -1;
    gpad pad = !strcmp(ps, "zeros")        ? PAD_ZEROS
               : !strcmp(ps, "border")     ? PAD_BORDER
               : !strcmp(ps, "reflection") ? PAD_REFLECT
                                           : (gpad)-1;
    if (mode < 0 || (int)pad < 0)
        return kp_op_fail(ctx, KP_EINVAL, "unknown mode \"%s\" or padding_mode \"%s\"", ms, ps);
    int align = (int)kp_node_attr_int(ctx->node, "align_corners", 0);
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t Ho = g->dims[1], Wo = g->dims[2], od[4] = {N, C, Ho, Wo};
    kp_tensor *o = kp_op_output(ctx, 0, KP_FLOAT, 4, od);
    if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    if (o->numel == 0) return 0;
    if (H == 0 || W == 0) {
        memset(o->data, 0, o->nbytes);
        return 0;
    }
    const float *gd = g->data;
    float *out = o->data;
    for (int64_t n = 0; n < N; n++)
        for (int64_t i = 0; i < Ho; i++)
            for (int64_t j = 0; j < Wo; j++) {
                const float *gp = gd + ((n * Ho + i) * Wo + j) * 2;
                double fx = unnormalize(gp[0], W, align), fy = unnormalize(gp[1], H, align);
                for (int64_t c = 0; c < C; c++) {
                    const float *p = (const float *)x->data + (n * C + c) * H * W;
                    double v = 0;
                    if (mode == 2) {
                        double x0 = floor(fx), y0 = floor(fy), tx = fx - x0, ty = fy - y0;
                        double wx[4] = {cubic2(tx + 1), cubic1(tx), cubic1(1 - tx), cubic2(2 - tx)};
                        double wy[4] = {cubic2(ty + 1), cubic1(ty), cubic1(1 - ty), cubic2(2 - ty)};
                        for (int a = 0; a < 4; a++)
                            for (int b = 0; b < 4; b++) {
                                double yy = pad_coord(y0 - 1 + a, H, pad, align);
                                double xx = pad_coord(x0 - 1 + b, W, pad, align);
                                v += wy[a] * wx[b] * px(p, H, W, yy, xx);
                            }
                    } else {
                        double sx = pad_coord(fx, W, pad, align), sy = pad_coord(fy, H, pad, align);
                        if (mode == 1) {
                            v = px(p, H, W, nearbyint(sy), nearbyint(sx));
                        } else {
                            double x0 = floor(sx), y0 = floor(sy), tx = sx - x0, ty = sy - y0;
                            v = px(p, H, W, y0, x0) * (1 - tx) * (1 - ty) +
                                px(p, H, W, y0, x0 + 1) * tx * (1 - ty) +
                                px(p, H, W, y0 + 1, x0) * (1 - tx) * ty +
                                px(p, H, W, y0 + 1, x0 + 1) * tx * ty;
                        }
                    }
                    out[((n * C + c) * Ho + i) * Wo + j] = (float)v;
                }
            }
    return 0;
}
