/* Resize (opsets 10, 11, 13, 18, 19) and Upsample (7, 9).
 * Interpolation is separable: for every axis and output index we compute the source taps
 * (indices clamped to the edge, weights) once, then each output element sums the product of
 * its axes' taps. Axes whose taps reduce to one weight-1 source cost nothing extra.
 * Coordinates follow the ONNX definition, including its use of the real-valued output length
 * (scale * input length) in align_corners and tf_crop_and_resize when scales are given. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops/ops.h"

enum { M_NEAREST, M_LINEAR, M_CUBIC };
enum {
    C_HALF_PIXEL,
    C_HALF_PIXEL_SYM,
    C_PYTORCH_HALF_PIXEL,
    C_ALIGN_CORNERS,
    C_ASYMMETRIC,
    C_TF_CROP,
    C_TF_HALF_PIXEL_NN
};
enum { N_ROUND_FLOOR, N_ROUND_CEIL, N_FLOOR, N_CEIL, N_SIMPLE };

#define MAX_TAPS 4

typedef struct axis_taps {
    int64_t out;
    int *n;       /* taps per output index; 0 = extrapolate */
    int64_t *idx; /* out * MAX_TAPS */
    double *w;    /* out * MAX_TAPS */
} axis_taps;

typedef struct resize_cfg {
    int mode, coord, nearest, exclude_outside, antialias;
    double cubic_a, extrapolation;
} resize_cfg;

static void cubic_coeffs(double r, double a, double *c) {
    double t = r + 1, u = 1 - r, v = 2 - r;
    c[0] = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
    c[1] = ((a + 2) * r - (a + 3)) * r * r + 1;
    c[2] = ((a + 2) * u - (a + 3)) * u * u + 1;
    c[3] = ((a * v - 5 * a) * v + 8 * a) * v - 4 * a;
}

/* Source coordinate of output index x along an axis of input length `in`; 0 when the output
 * takes the extrapolation value. */
static int coord_of(const resize_cfg *c, int64_t x, int64_t in, int64_t out, double scale,
                    double roi0, double roi1, double *res) {
    double len_f = scale * (double)in, xo;
    switch (c->coord) {
    case C_ALIGN_CORNERS: xo = len_f == 1 ? 0 : (double)x * (double)(in - 1) / (len_f - 1); break;
    case C_ASYMMETRIC: xo = (double)x / scale; break;
    case C_TF_HALF_PIXEL_NN: xo = ((double)x + 0.5) / scale; break;
    case C_TF_CROP:
        if (len_f == 1)
            xo = (roi1 - roi0) * (double)(in - 1) / 2;
        else
            xo = (double)x * (roi1 - roi0) * (double)(in - 1) / (len_f - 1);
        xo += roi0 * (double)(in - 1);
        if (xo < 0 || xo > (double)(in - 1)) return 0;
        break;
    case C_PYTORCH_HALF_PIXEL: xo = len_f == 1 ? -0.5 : ((double)x + 0.5) / scale - 0.5; break;
    case C_HALF_PIXEL_SYM: {
        double adj = (double)out / len_f, center = (double)in / 2;
        xo = center * (1 - adj) + ((double)x + 0.5) / scale - 0.5;
        break;
    }
    default: xo = ((double)x + 0.5) / scale - 0.5; break;
    }
    *res = xo;
    return 1;
}

/* Taps of one output index (no antialiasing). Returns the tap count, 0 to extrapolate. */
static int taps_for(const resize_cfg *c, int64_t x, int64_t in, int64_t out, double scale,
                    double roi0, double roi1, int64_t *idx, double *w) {
    double xo;
    if (!coord_of(c, x, in, out, scale, roi0, roi1, &xo)) return 0;
    if (c->mode == M_NEAREST) {
        int64_t j;
        double fl = floor(xo), fr = xo - fl;
        switch (c->nearest) {
        case N_ROUND_CEIL: j = (int64_t)(fr >= 0.5 ? fl + 1 : fl); break;
        case N_FLOOR: j = (int64_t)fl; break;
        case N_CEIL: j = (int64_t)ceil(xo); break;
        case N_SIMPLE: j = scale < 1 ? (int64_t)ceil(xo) : (int64_t)fl; break;
        default: j = (int64_t)(fr > 0.5 ? fl + 1 : fl); break;
        }
        idx[0] = j < 0 ? 0 : j >= in ? in - 1 : j;
        w[0] = 1;
        return 1;
    }
    /* Linear and cubic: ratio in (0, 1] measured from the tap left of xo. */
    double left = ceil(xo) - 1, r = xo - left;
    int n, first;
    double cw[MAX_TAPS];
    if (c->mode == M_LINEAR) {
        n = 2;
        first = 0;
        cw[0] = 1 - r;
        cw[1] = r;
    } else {
        n = 4;
        first = -1;
        cubic_coeffs(r, c->cubic_a, cw);
    }
    int k = 0;
    double sum = 0;
    for (int t = 0; t < n; t++) {
        int64_t j = (int64_t)left + first + t;
        if (c->exclude_outside && (j < 0 || j >= in)) continue;
        if (cw[t] == 0) continue;
        idx[k] = j < 0 ? 0 : j >= in ? in - 1 : j;
        w[k] = cw[t];
        sum += cw[t];
        k++;
    }
    if (c->exclude_outside && sum != 0)
        for (int t = 0; t < k; t++) w[t] /= sum;
    if (!k) { /* all weights zero: keep one zero-weight tap so the sum is 0, not extrapolated */
        idx[0] = 0;
        w[0] = 0;
        k = 1;
    }
    return k;
}

/* ---- antialiased downsampling (opset 18) ---------------------------------------------------- */

static double aa_kernel(const resize_cfg *c, double t) {
    t = fabs(t);
    if (c->mode == M_LINEAR) return t < 1 ? 1 - t : 0;
    double a = c->cubic_a;
    if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
    if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
    return 0;
}

/* ---- shared driver ------------------------------------------------------------------------- */

typedef struct plan {
    int rank;
    axis_taps ax[KP_MAX_RANK];
    int max_taps[KP_MAX_RANK];
} plan;

static void plan_free(plan *p) {
    for (int i = 0; i < p->rank; i++) {
        free(p->ax[i].n);
        free(p->ax[i].idx);
        free(p->ax[i].w);
    }
}

static int plan_axis(kp_op_ctx *ctx, const resize_cfg *c, plan *p, int d, int64_t in, int64_t out,
                     double scale, double roi0, double roi1) {
    axis_taps *a = &p->ax[d];
    int cap = MAX_TAPS;
    int aa = c->antialias && scale < 1 && c->mode != M_NEAREST;
    if (aa) {
        double support = (c->mode == M_LINEAR ? 1.0 : 2.0) / scale;
        cap = (int)ceil(2 * support) + 2;
        if (cap > 4096) return kp_op_fail(ctx, KP_ERANGE, "downsampling factor too large");
    }
    a->out = out;
    a->n = calloc((size_t)(out ? out : 1), sizeof *a->n);
    a->idx = calloc((size_t)(out ? out : 1) * (size_t)cap, sizeof *a->idx);
    a->w = calloc((size_t)(out ? out : 1) * (size_t)cap, sizeof *a->w);
    if (!a->n || !a->idx || !a->w) return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
    p->max_taps[d] = cap;
    for (int64_t x = 0; x < out; x++) {
        int64_t *ix = a->idx + x * cap;
        double *w = a->w + x * cap;
        if (!aa) {
            a->n[x] = taps_for(c, x, in, out, scale, roi0, roi1, ix, w);
            continue;
        }
        /* Center from the coordinate mode, then taps of the stretched filter. */
        double xo;
        if (!coord_of(c, x, in, out, scale, roi0, roi1, &xo)) {
            a->n[x] = 0;
            continue;
        }
        double support = (c->mode == M_LINEAR ? 1.0 : 2.0) / scale;
        int64_t lo = (int64_t)floor(xo - support) + 1, hi = (int64_t)ceil(xo + support);
        int k = 0;
        double sum = 0;
        for (int64_t j = lo; j < hi && k < cap; j++) {
            double wt = aa_kernel(c, ((double)j - xo) * scale);
            if (wt == 0) continue;
            if (c->exclude_outside && (j < 0 || j >= in)) continue;
            ix[k] = j < 0 ? 0 : j >= in ? in - 1 : j;
            w[k] = wt;
            sum += wt;
            k++;
        }
        if (sum != 0)
            for (int t = 0; t < k; t++) w[t] /= sum;
        if (!k) {
            ix[0] = 0;
            w[0] = 0;
            k = 1;
        }
        a->n[x] = k;
    }
    return 0;
}

static void run_float(const plan *p, const kp_tensor *x, kp_tensor *y, double extrap) {
    int r = p->rank;
    int64_t istr[KP_MAX_RANK], o[KP_MAX_RANK] = {0};
    int64_t s = 1;
    for (int d = r - 1; d >= 0; d--) {
        istr[d] = s;
        s *= x->dims[d];
    }
    const float *xd = x->data;
    float *yd = y->data;
    for (int64_t e = 0; e < y->numel; e++) {
        int ok = 1;
        for (int d = 0; d < r && ok; d++) ok = p->ax[d].n[o[d]] > 0;
        double acc = 0;
        if (!ok) {
            acc = extrap;
        } else {
            /* Sum over the product of the axes' taps. */
            int t[KP_MAX_RANK] = {0};
            for (;;) {
                double w = 1;
                int64_t off = 0;
                for (int d = 0; d < r; d++) {
                    const axis_taps *a = &p->ax[d];
                    int64_t base = o[d] * p->max_taps[d] + t[d];
                    w *= a->w[base];
                    off += a->idx[base] * istr[d];
                }
                acc += w * xd[off];
                int d = r - 1;
                for (; d >= 0; d--) {
                    if (++t[d] < p->ax[d].n[o[d]]) break;
                    t[d] = 0;
                }
                if (d < 0) break;
            }
        }
        yd[e] = (float)acc;
        for (int d = r - 1; d >= 0; d--) {
            if (++o[d] < y->dims[d]) break;
            o[d] = 0;
        }
    }
}

/* Nearest on any fixed-size element type: copies bytes. */
static void run_nearest_bytes(const plan *p, const kp_tensor *x, kp_tensor *y, size_t es) {
    int r = p->rank;
    int64_t istr[KP_MAX_RANK], o[KP_MAX_RANK] = {0};
    int64_t s = 1;
    for (int d = r - 1; d >= 0; d--) {
        istr[d] = s;
        s *= x->dims[d];
    }
    for (int64_t e = 0; e < y->numel; e++) {
        int64_t off = 0;
        for (int d = 0; d < r; d++) off += p->ax[d].idx[o[d] * p->max_taps[d]] * istr[d];
        memcpy((char *)y->data + (size_t)e * es, (const char *)x->data + (size_t)off * es, es);
        for (int d = r - 1; d >= 0; d--) {
            if (++o[d] < y->dims[d]) break;
            o[d] = 0;
        }
    }
}

static int read_floats(kp_op_ctx *ctx, const kp_tensor *t, const char *what, double *out, int n) {
    if (t->dtype != KP_FLOAT && t->dtype != KP_DOUBLE && t->dtype != KP_FLOAT16)
        return kp_op_fail(ctx, KP_EINVAL, "%s must be floating point", what);
    if (t->numel != n)
        return kp_op_fail(ctx, KP_EINVAL, "%s has %lld values, expected %d", what,
                          (long long)t->numel, n);
    for (int i = 0; i < n; i++) out[i] = kp_tensor_get(t, i);
    return 0;
}

static int parse_mode(kp_op_ctx *ctx, const char *m, int *mode) {
    if (!strcmp(m, "nearest"))
        *mode = M_NEAREST;
    else if (!strcmp(m, "linear") || !strcmp(m, "bilinear") || !strcmp(m, "trilinear"))
        *mode = M_LINEAR;
    else if (!strcmp(m, "cubic"))
        *mode = M_CUBIC;
    else
        return kp_op_fail(ctx, KP_EINVAL, "unknown mode '%s'", m);
    return 0;
}

/* x, per-axis output sizes, scales and roi known: run. */
static int resize_exec(kp_op_ctx *ctx, const resize_cfg *c, const kp_tensor *x,
                       const int64_t *out_dims, const double *scales, const double *roi) {
    int r = x->rank;
    if (c->mode != M_NEAREST && x->dtype != KP_FLOAT)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "%s interpolation of %s is not supported",
                          c->mode == M_LINEAR ? "linear" : "cubic", kp_dtype_name(x->dtype));
    if (x->dtype == KP_STRING || !kp_dtype_size(x->dtype))
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "element type %s is not supported",
                          kp_dtype_name(x->dtype));
    for (int d = 0; d < r; d++)
        if (out_dims[d] < 0 || out_dims[d] > ((int64_t)1 << 31))
            return kp_op_fail(ctx, KP_EINVAL, "output dim %d would be %lld", d,
                              (long long)out_dims[d]);
    kp_tensor *y = kp_op_output(ctx, 0, x->dtype, r, out_dims);
    if (!y) return ctx->err->code;
    if (!y->numel) return 0;
    if (!x->numel) return kp_op_fail(ctx, KP_EINVAL, "cannot resize an empty input");
    plan p;
    memset(&p, 0, sizeof p);
    p.rank = r;
    int rc = 0;
    for (int d = 0; d < r && !rc; d++)
        rc = plan_axis(ctx, c, &p, d, x->dims[d], out_dims[d], scales[d], roi ? roi[d] : 0,
                       roi ? roi[r + d] : 1);
    if (!rc) {
        if (c->mode == M_NEAREST && c->coord != C_TF_CROP)
            run_nearest_bytes(&p, x, y, kp_dtype_size(x->dtype));
        else if (x->dtype == KP_FLOAT)
            run_float(&p, x, y, c->extrapolation);
        else
            rc = kp_op_fail(ctx, KP_EUNSUPPORTED, "tf_crop_and_resize on %s",
                            kp_dtype_name(x->dtype));
    }
    plan_free(&p);
    return rc;
}

static int resize_run(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x) return kp_op_fail(ctx, KP_EINVAL, "input X is missing");
    int r = x->rank;
    if (r < 1) return kp_op_fail(ctx, KP_EINVAL, "X must have rank >= 1");
    resize_cfg c = {0};
    int rc;
    if ((rc = parse_mode(ctx, kp_node_attr_string(ctx->node, "mode", "nearest"), &c.mode)) < 0)
        return rc;
    const kp_tensor *roi_t = NULL, *scales_t = NULL, *sizes_t = NULL;
    if (ctx->opset < 11) {
        c.coord = C_ASYMMETRIC;
        c.nearest = N_SIMPLE;
        scales_t = kp_op_input(ctx, 1);
        if (c.mode == M_CUBIC) return kp_op_fail(ctx, KP_EINVAL, "cubic needs opset 11");
    } else {
        roi_t = kp_op_input(ctx, 1);
        scales_t = kp_op_input(ctx, 2);
        sizes_t = kp_op_input(ctx, 3);
        const char *ct =
            kp_node_attr_string(ctx->node, "coordinate_transformation_mode", "half_pixel");
        static const char *const cn[] = {
            "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",  "align_corners",
            "asymmetric", "tf_crop_and_resize",   "tf_half_pixel_for_nn"};
        c.coord = -1;
        for (int i = 0; i < 7; i++)
            if (!strcmp(ct, cn[i])) c.coord = i;
        if (c.coord < 0)
            return kp_op_fail(ctx, KP_EINVAL, "unknown coordinate_transformation_mode '%s'", ct);
        const char *nm = kp_node_attr_string(ctx->node, "nearest_mode", "round_prefer_floor");
        if (!strcmp(nm, "round_prefer_floor"))
            c.nearest = N_ROUND_FLOOR;
        else if (!strcmp(nm, "round_prefer_ceil"))
            c.nearest = N_ROUND_CEIL;
        else if (!strcmp(nm, "floor"))
            c.nearest = N_FLOOR;
        else if (!strcmp(nm, "ceil"))
            c.nearest = N_CEIL;
        else
            return kp_op_fail(ctx, KP_EINVAL, "unknown nearest_mode '%s'", nm);
        c.cubic_a = kp_node_attr_float(ctx->node, "cubic_coeff_a", -0.75f);
        c.exclude_outside = kp_node_attr_int(ctx->node, "exclude_outside", 0) != 0;
        c.extrapolation = kp_node_attr_float(ctx->node, "extrapolation_value", 0.0f);
        c.antialias = kp_node_attr_int(ctx->node, "antialias", 0) != 0;
    }
    if (scales_t && !scales_t->numel) scales_t = NULL;
    if (sizes_t && !sizes_t->numel) sizes_t = NULL;
    if (roi_t && !roi_t->numel) roi_t = NULL;
    if (!!scales_t == !!sizes_t)
        return kp_op_fail(ctx, KP_EINVAL, "exactly one of scales and sizes must be given");
    /* Axes (opset 18): scales/sizes/roi then cover only these axes. */
    int axes[KP_MAX_RANK], na = r;
    const int64_t *av;
    size_t nav = ctx->opset >= 18 ? kp_node_attr_ints(ctx->node, "axes", &av) : 0;
    for (int i = 0; i < r; i++) axes[i] = i;
    if (nav) {
        if ((int)nav > r) return kp_op_fail(ctx, KP_EINVAL, "too many axes");
        na = (int)nav;
        for (int i = 0; i < na; i++) {
            int64_t a = av[i] < 0 ? av[i] + r : av[i];
            if (a < 0 || a >= r)
                return kp_op_fail(ctx, KP_EINVAL, "axis %lld out of range", (long long)av[i]);
            for (int j = 0; j < i; j++)
                if (axes[j] == a) return kp_op_fail(ctx, KP_EINVAL, "axis repeated");
            axes[i] = (int)a;
        }
    }
    double scales[KP_MAX_RANK], roi[2 * KP_MAX_RANK], given[2 * KP_MAX_RANK];
    int64_t out[KP_MAX_RANK];
    for (int d = 0; d < r; d++) {
        scales[d] = 1;
        out[d] = x->dims[d];
        roi[d] = 0;
        roi[r + d] = 1;
    }
    if (roi_t && c.coord == C_TF_CROP) {
        if ((rc = read_floats(ctx, roi_t, "roi", given, 2 * na)) < 0) return rc;
        for (int i = 0; i < na; i++) {
            roi[axes[i]] = given[i];
            roi[r + axes[i]] = given[na + i];
        }
    }
    if (scales_t) {
        if ((rc = read_floats(ctx, scales_t, "scales", given, na)) < 0) return rc;
        for (int i = 0; i < na; i++) {
            if (!(given[i] > 0)) return kp_op_fail(ctx, KP_EINVAL, "scales must be positive");
            scales[axes[i]] = given[i];
            double o = floor((double)x->dims[axes[i]] * given[i]);
            if (o > (double)((int64_t)1 << 31))
                return kp_op_fail(ctx, KP_ERANGE, "output too large");
            out[axes[i]] = (int64_t)o;
        }
    } else {
        if (sizes_t->dtype != KP_INT64 || sizes_t->numel != na)
            return kp_op_fail(ctx, KP_EINVAL, "sizes must be int64 with %d values", na);
        const int64_t *sv = sizes_t->data;
        const char *pol = kp_node_attr_string(ctx->node, "keep_aspect_ratio_policy", "stretch");
        int policy = !strcmp(pol, "not_larger") ? 1 : !strcmp(pol, "not_smaller") ? 2 : 0;
        if (!policy && strcmp(pol, "stretch"))
            return kp_op_fail(ctx, KP_EINVAL, "unknown keep_aspect_ratio_policy '%s'", pol);
        double common = policy == 1 ? INFINITY : 0;
        for (int i = 0; i < na; i++) {
            if (sv[i] < 0) return kp_op_fail(ctx, KP_EINVAL, "sizes must be >= 0");
            if (!x->dims[axes[i]]) return kp_op_fail(ctx, KP_EINVAL, "input dim is 0");
            double sc = (double)sv[i] / (double)x->dims[axes[i]];
            if (policy == 1 && sc < common) common = sc;
            if (policy == 2 && sc > common) common = sc;
            scales[axes[i]] = sc;
            out[axes[i]] = sv[i];
        }
        if (policy)
            for (int i = 0; i < na; i++) {
                scales[axes[i]] = common;
                out[axes[i]] = (int64_t)floor((double)x->dims[axes[i]] * common + 0.5);
            }
    }
    return resize_exec(ctx, &c, x, out, scales, roi_t ? roi : NULL);
}

static int upsample_run(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x) return kp_op_fail(ctx, KP_EINVAL, "input X is missing");
    int r = x->rank, rc;
    resize_cfg c = {0};
    if ((rc = parse_mode(ctx, kp_node_attr_string(ctx->node, "mode", "nearest"), &c.mode)) < 0)
        return rc;
    if (c.mode == M_CUBIC) return kp_op_fail(ctx, KP_EINVAL, "Upsample has no cubic mode");
    c.coord = C_ASYMMETRIC;
    c.nearest = N_SIMPLE;
    double scales[KP_MAX_RANK];
    const kp_tensor *st = kp_op_input(ctx, 1);
    if (st) {
        if ((rc = read_floats(ctx, st, "scales", scales, r)) < 0) return rc;
    } else {
        const float *fv;
        size_t n = kp_node_attr_floats(ctx->node, "scales", &fv);
        if ((int)n != r)
            return kp_op_fail(ctx, KP_EINVAL, "scales has %zu values, expected %d", n, r);
        for (int i = 0; i < r; i++) scales[i] = fv[i];
    }
    int64_t out[KP_MAX_RANK];
    for (int d = 0; d < r; d++) {
        if (!(scales[d] >= 1)) return kp_op_fail(ctx, KP_EINVAL, "Upsample scales must be >= 1");
        out[d] = (int64_t)floor((double)x->dims[d] * scales[d]);
    }
    return resize_exec(ctx, &c, x, out, scales, NULL);
}

const kp_op_def kp_ops_resize[] = {
    {"", "Resize", resize_run},
    {"", "Upsample", upsample_run},
    {0},
};
