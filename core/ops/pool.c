/* Pools: MaxPool (with Indices), AveragePool, LpPool and their Global forms.
 * Windowed pools treat 1-D and 2-D inputs as 3-D with unit dims, so one loop nest serves all;
 * for every output position the valid part of the window is computed once per dim. */
#include <math.h>
#include <string.h>

#include "core/cpu.h"
#include "core/ops/spatial.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

typedef struct win3 {
    int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
} win3;

static int to_win3(kp_op_ctx *ctx, const kp_spatial *sp, win3 *w) {
    if (sp->nd > 3)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "%d spatial dims; at most 3 are supported", sp->nd);
    int off = 3 - sp->nd;
    for (int i = 0; i < 3; i++) {
        w->in[i] = w->out[i] = w->k[i] = w->s[i] = w->d[i] = 1;
        w->pb[i] = w->pe[i] = 0;
    }
    for (int i = 0; i < sp->nd; i++) {
        w->in[off + i] = sp->in[i];
        w->out[off + i] = sp->out[i];
        w->k[off + i] = sp->k[i];
        w->s[off + i] = sp->stride[i];
        w->d[off + i] = sp->dil[i];
        w->pb[off + i] = sp->pad_b[i];
        w->pe[off + i] = sp->pad_e[i];
    }
    return 0;
}

/* Kernel taps along one dim for output o: taps j in [lo, hi) land inside the input; `padded`
 * counts taps inside the padded extent [-pb, in + pe). */
static void taps(const win3 *w, int dim, int64_t o, int64_t *lo, int64_t *hi, int64_t *padded) {
    int64_t start = o * w->s[dim] - w->pb[dim], d = w->d[dim], k = w->k[dim];
    int64_t l = 0, h = k, p = 0;
    while (l < k && start + l * d < 0) l++;
    while (h > l && start + (h - 1) * d >= w->in[dim]) h--;
    for (int64_t j = 0; j < k; j++) {
        int64_t x = start + j * d;
        if (x >= -w->pb[dim] && x < w->in[dim] + w->pe[dim]) p++;
    }
    *lo = l;
    *hi = h;
    *padded = p;
}

/* Tap ranges of every output index along each axis, computed once per call. */
typedef struct taps3 {
    int64_t *lo[3], *hi[3], *pad[3];
} taps3;

static int make_taps(kp_op_ctx *ctx, const win3 *w, taps3 *t) {
    size_t n = (size_t)(w->out[0] + w->out[1] + w->out[2]);
    int64_t *buf = ctx->scratch(ctx, 3 * (n ? n : 1) * sizeof *buf);
    if (!buf) return ctx->err->code;
    for (int d = 0; d < 3; d++) {
        t->lo[d] = buf;
        t->hi[d] = buf + w->out[d];
        t->pad[d] = buf + 2 * w->out[d];
        buf += 3 * w->out[d];
        for (int64_t o = 0; o < w->out[d]; o++)
            taps(w, d, o, &t->lo[d][o], &t->hi[d][o], &t->pad[d][o]);
    }
    return 0;
}

/* 2x2 stride-2 windows without padding or dilation: the common CNN downsampling. */
static int is_2x2s2(const win3 *w) {
    return w->in[0] == 1 && w->k[1] == 2 && w->k[2] == 2 && w->s[1] == 2 && w->s[2] == 2 &&
           w->d[1] == 1 && w->d[2] == 1 && !w->pb[1] && !w->pb[2] && 2 * w->out[1] <= w->in[1] &&
           2 * w->out[2] <= w->in[2];
}

#if defined(__x86_64__) || defined(__i386__)
/* 16 outputs of one row pair: the same max(max(r0 even, r0 odd), max(r1 even, r1 odd)) as the
 * scalar loop (max_ps(a, b) is a > b ? a : b), lanes past n masked off. */
__attribute__((target("avx512f"))) static inline void max2x2_16(const float *r0, const float *r1,
                                                                float *y, int64_t n) {
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    int64_t n2 = 2 * n;
    __mmask16 m0 = n2 >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n2) - 1);
    __mmask16 m1 = n2 >= 32 ? (__mmask16)0xffff : n2 > 16 ? (__mmask16)((1u << (n2 - 16)) - 1) : 0;
    __mmask16 mo = n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
    __m512 a0 = _mm512_maskz_loadu_ps(m0, r0), a1 = _mm512_maskz_loadu_ps(m1, r0 + 16);
    __m512 b0 = _mm512_maskz_loadu_ps(m0, r1), b1 = _mm512_maskz_loadu_ps(m1, r1 + 16);
    __m512 a =
        _mm512_max_ps(_mm512_permutex2var_ps(a0, ev, a1), _mm512_permutex2var_ps(a0, od, a1));
    __m512 b =
        _mm512_max_ps(_mm512_permutex2var_ps(b0, ev, b1), _mm512_permutex2var_ps(b0, od, b1));
    _mm512_mask_storeu_ps(y, mo, _mm512_max_ps(a, b));
}

__attribute__((target("avx512f"))) static void maxpool_2x2s2_avx512(const float *x, float *y,
                                                                    int64_t planes, const win3 *w) {
    int64_t ih = w->in[1], iw = w->in[2], oh = w->out[1], ow = w->out[2];
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * ih * iw;
        float *yp = y + pl * oh * ow;
        for (int64_t i = 0; i < oh; i++) {
            const float *r0 = xp + 2 * i * iw, *r1 = r0 + iw;
            for (int64_t j = 0; j < ow; j += 16)
                max2x2_16(r0 + 2 * j, r1 + 2 * j, yp + i * ow + j, ow - j);
        }
    }
}
#endif

static void maxpool_2x2s2(const float *x, float *y, int64_t planes, const win3 *w) {
    int64_t ih = w->in[1], iw = w->in[2], oh = w->out[1], ow = w->out[2];
#if defined(__x86_64__) || defined(__i386__)
    if (kp_cpu()->avx512f) {
        maxpool_2x2s2_avx512(x, y, planes, w);
        return;
    }
#endif
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * ih * iw;
        float *yp = y + pl * oh * ow;
        for (int64_t i = 0; i < oh; i++) {
            const float *r0 = xp + 2 * i * iw, *r1 = r0 + iw;
            for (int64_t j = 0; j < ow; j++) {
                float a = r0[2 * j] > r0[2 * j + 1] ? r0[2 * j] : r0[2 * j + 1];
                float b = r1[2 * j] > r1[2 * j + 1] ? r1[2 * j] : r1[2 * j + 1];
                yp[i * ow + j] = a > b ? a : b;
            }
        }
    }
}

static int pool_setup(kp_op_ctx *ctx, const kp_tensor *x, kp_spatial *sp, win3 *w, kp_tensor **y,
                      kp_dtype out_dt) {
    int64_t k[KP_SPATIAL_MAX];
    int rc;
    if (!x) return kp_op_fail(ctx, KP_EINVAL, "input X is missing");
    if (x->rank < 3)
        return kp_op_fail(ctx, KP_EINVAL, "input must be N x C x spatial..., got rank %d", x->rank);
    if ((rc = kp_spatial_kernel_attr(ctx, x->rank - 2, k)) < 0) return rc;
    int ceil_mode = kp_node_attr_int(ctx->node, "ceil_mode", 0) != 0;
    if ((rc = kp_spatial_init(ctx, x, k, ceil_mode, sp)) < 0) return rc;
    if ((rc = to_win3(ctx, sp, w)) < 0) return rc;
    int64_t dims[KP_MAX_RANK] = {x->dims[0], x->dims[1]};
    for (int i = 0; i < sp->nd; i++) dims[2 + i] = sp->out[i];
    *y = kp_op_output(ctx, 0, out_dt, x->rank, dims);
    return *y ? 0 : ctx->err->code;
}

/* ---- MaxPool ------------------------------------------------------------------------------- */

#define MAXPOOL_BODY(T)                                                                            \
    static void maxpool_##T(const T *x, T *y, int64_t *ind, int64_t planes, const win3 *w,         \
                            const taps3 *tp, int col_major, int nd) {                              \
        int64_t is = w->in[0] * w->in[1] * w->in[2], os = w->out[0] * w->out[1] * w->out[2];       \
        for (int64_t pl = 0; pl < planes; pl++) {                                                  \
            const T *xp = x + pl * is;                                                             \
            for (int64_t o0 = 0; o0 < w->out[0]; o0++) {                                           \
                int64_t l0 = tp->lo[0][o0], h0 = tp->hi[0][o0], p0 = tp->pad[0][o0];               \
                (void)p0;                                                                          \
                for (int64_t o1 = 0; o1 < w->out[1]; o1++) {                                       \
                    int64_t l1 = tp->lo[1][o1], h1 = tp->hi[1][o1], p1 = tp->pad[1][o1];           \
                    (void)p1;                                                                      \
                    for (int64_t o2 = 0; o2 < w->out[2]; o2++) {                                   \
                        int64_t l2 = tp->lo[2][o2], h2 = tp->hi[2][o2], p2 = tp->pad[2][o2];       \
                        (void)p2;                                                                  \
                        int found = 0;                                                             \
                        T best = 0;                                                                \
                        int64_t bi[3] = {0, 0, 0};                                                 \
                        for (int64_t j0 = l0; j0 < h0; j0++) {                                     \
                            int64_t i0 = o0 * w->s[0] - w->pb[0] + j0 * w->d[0];                   \
                            for (int64_t j1 = l1; j1 < h1; j1++) {                                 \
                                int64_t i1 = o1 * w->s[1] - w->pb[1] + j1 * w->d[1];               \
                                const T *row = xp + (i0 * w->in[1] + i1) * w->in[2];               \
                                for (int64_t j2 = l2; j2 < h2; j2++) {                             \
                                    int64_t i2 = o2 * w->s[2] - w->pb[2] + j2 * w->d[2];           \
                                    T v = row[i2];                                                 \
                                    if (!found || v > best) {                                      \
                                        best = v;                                                  \
                                        bi[0] = i0;                                                \
                                        bi[1] = i1;                                                \
                                        bi[2] = i2;                                                \
                                        found = 1;                                                 \
                                    }                                                              \
                                }                                                                  \
                            }                                                                      \
                        }                                                                          \
                        int64_t oi = (o0 * w->out[1] + o1) * w->out[2] + o2;                       \
                        y[pl * os + oi] = best;                                                    \
                        if (ind) {                                                                 \
                            int64_t lin;                                                           \
                            if (!col_major)                                                        \
                                lin = (bi[0] * w->in[1] + bi[1]) * w->in[2] + bi[2];               \
                            else if (nd == 1)                                                      \
                                lin = bi[2];                                                       \
                            else if (nd == 2)                                                      \
                                lin = bi[1] + bi[2] * w->in[1];                                    \
                            else                                                                   \
                                lin = bi[0] + w->in[0] * (bi[1] + w->in[1] * bi[2]);               \
                            ind[pl * os + oi] = pl * is + lin;                                     \
                        }                                                                          \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

MAXPOOL_BODY(float)
MAXPOOL_BODY(double)
MAXPOOL_BODY(int8_t)
MAXPOOL_BODY(uint8_t)

/* 2-D float MaxPool without dilation or Indices (e.g. ResNet's 3x3 stride 2 pad 1): for each
 * output row, the maximum over the window's rows first (a contiguous, vectorisable pass into
 * rmax), then over each window's columns. Same result as maxpool_float for non-NaN inputs. */
static void maxpool2d_float(const float *x, float *y, int64_t planes, const win3 *w,
                            const taps3 *tp, float *rmax) {
    int64_t ih = w->in[1], iw = w->in[2], oh = w->out[1], ow = w->out[2];
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * ih * iw;
        float *yp = y + pl * oh * ow;
        for (int64_t oy = 0; oy < oh; oy++) {
            int64_t l1 = tp->lo[1][oy], h1 = tp->hi[1][oy], r0 = oy * w->s[1] - w->pb[1];
            if (h1 <= l1) { /* the window is all padding: maxpool_float writes 0 */
                for (int64_t ox = 0; ox < ow; ox++) yp[oy * ow + ox] = 0;
                continue;
            }
            memcpy(rmax, xp + (r0 + l1) * iw, (size_t)iw * sizeof *rmax);
            for (int64_t j = l1 + 1; j < h1; j++) {
                const float *row = xp + (r0 + j) * iw;
                for (int64_t i = 0; i < iw; i++) rmax[i] = row[i] > rmax[i] ? row[i] : rmax[i];
            }
            for (int64_t ox = 0; ox < ow; ox++) {
                int64_t l2 = tp->lo[2][ox], h2 = tp->hi[2][ox], c0 = ox * w->s[2] - w->pb[2];
                float best = 0;
                for (int64_t j = l2; j < h2; j++) {
                    float v = rmax[c0 + j];
                    if (j == l2 || v > best) best = v;
                }
                yp[oy * ow + ox] = best;
            }
        }
    }
}

static int maxpool_run(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (x && x->dtype != KP_FLOAT && x->dtype != KP_DOUBLE && x->dtype != KP_INT8 &&
        x->dtype != KP_UINT8)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "element type %s is not supported",
                          kp_dtype_name(x->dtype));
    kp_spatial sp;
    win3 w;
    kp_tensor *y, *ind = NULL;
    int rc = pool_setup(ctx, x, &sp, &w, &y, x ? x->dtype : KP_FLOAT);
    if (rc < 0) return rc;
    if (kp_op_wants(ctx, 1)) {
        ind = kp_op_output(ctx, 1, KP_INT64, y->rank, y->dims);
        if (!ind) return ctx->err->code;
    }
    int col_major = kp_node_attr_int(ctx->node, "storage_order", 0) != 0;
    int64_t planes = x->dims[0] * x->dims[1];
    int64_t *id = ind ? ind->data : NULL;
    if (!y->numel) return 0;
    if (!id && x->dtype == KP_FLOAT && is_2x2s2(&w)) {
        maxpool_2x2s2(x->data, y->data, planes, &w);
        return 0;
    }
    taps3 tp;
    if ((rc = make_taps(ctx, &w, &tp)) < 0) return rc;
    if (!id && x->dtype == KP_FLOAT && sp.nd == 2 && w.d[1] == 1 && w.d[2] == 1) {
        float *rmax = ctx->scratch(ctx, (size_t)(w.in[2] ? w.in[2] : 1) * sizeof *rmax);
        if (!rmax) return ctx->err->code;
        maxpool2d_float(x->data, y->data, planes, &w, &tp, rmax);
        return 0;
    }
    switch (x->dtype) {
    case KP_FLOAT: maxpool_float(x->data, y->data, id, planes, &w, &tp, col_major, sp.nd); break;
    case KP_DOUBLE: maxpool_double(x->data, y->data, id, planes, &w, &tp, col_major, sp.nd); break;
    case KP_INT8: maxpool_int8_t(x->data, y->data, id, planes, &w, &tp, col_major, sp.nd); break;
    default: maxpool_uint8_t(x->data, y->data, id, planes, &w, &tp, col_major, sp.nd); break;
    }
    return 0;
}

/* ---- AveragePool and LpPool ---------------------------------------------------------------- */

/* kind 0: average (count_include_pad per flag), kind 1: Lp norm with exponent p. */
static void avg_lp_pool(const float *x, float *y, int64_t planes, const win3 *w, const taps3 *tp,
                        int kind, int include_pad, double p) {
    int64_t is = w->in[0] * w->in[1] * w->in[2], os = w->out[0] * w->out[1] * w->out[2];
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * is;
        float *yp = y + pl * os;
        for (int64_t o0 = 0; o0 < w->out[0]; o0++) {
            int64_t l0 = tp->lo[0][o0], h0 = tp->hi[0][o0], p0 = tp->pad[0][o0];
            (void)p0;
            for (int64_t o1 = 0; o1 < w->out[1]; o1++) {
                int64_t l1 = tp->lo[1][o1], h1 = tp->hi[1][o1], p1 = tp->pad[1][o1];
                (void)p1;
                for (int64_t o2 = 0; o2 < w->out[2]; o2++) {
                    int64_t l2 = tp->lo[2][o2], h2 = tp->hi[2][o2], p2 = tp->pad[2][o2];
                    (void)p2;
                    double acc = 0;
                    for (int64_t j0 = l0; j0 < h0; j0++) {
                        int64_t i0 = o0 * w->s[0] - w->pb[0] + j0 * w->d[0];
                        for (int64_t j1 = l1; j1 < h1; j1++) {
                            int64_t i1 = o1 * w->s[1] - w->pb[1] + j1 * w->d[1];
                            const float *row = xp + (i0 * w->in[1] + i1) * w->in[2];
                            for (int64_t j2 = l2; j2 < h2; j2++) {
                                double v = row[o2 * w->s[2] - w->pb[2] + j2 * w->d[2]];
                                if (kind == 0)
                                    acc += v;
                                else if (p == 2)
                                    acc += v * v;
                                else if (p == 1)
                                    acc += fabs(v);
                                else
                                    acc += pow(fabs(v), p);
                            }
                        }
                    }
                    double r;
                    if (kind == 0) {
                        int64_t cnt =
                            include_pad ? p0 * p1 * p2 : (h0 - l0) * (h1 - l1) * (h2 - l2);
                        r = cnt > 0 ? acc / (double)cnt : 0.0;
                    } else {
                        r = p == 2 ? sqrt(acc) : p == 1 ? acc : pow(acc, 1.0 / p);
                    }
                    yp[(o0 * w->out[1] + o1) * w->out[2] + o2] = (float)r;
                }
            }
        }
    }
}

static int avg_lp_run(kp_op_ctx *ctx, int kind) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (x && x->dtype != KP_FLOAT)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "element type %s is not supported",
                          kp_dtype_name(x->dtype));
    kp_spatial sp;
    win3 w;
    kp_tensor *y;
    int rc = pool_setup(ctx, x, &sp, &w, &y, KP_FLOAT);
    if (rc < 0) return rc;
    int include_pad = kp_node_attr_int(ctx->node, "count_include_pad", 0) != 0;
    double p = (double)kp_node_attr_int(ctx->node, "p", 2);
    if (kind == 1 && p < 1) return kp_op_fail(ctx, KP_EINVAL, "p must be >= 1");
    if (!y->numel) return 0;
    taps3 tp;
    if ((rc = make_taps(ctx, &w, &tp)) < 0) return rc;
    avg_lp_pool(x->data, y->data, x->dims[0] * x->dims[1], &w, &tp, kind, include_pad, p);
    return 0;
}

static int avgpool_run(kp_op_ctx *ctx) {
    return avg_lp_run(ctx, 0);
}
static int lppool_run(kp_op_ctx *ctx) {
    return avg_lp_run(ctx, 1);
}

/* ---- Global pools -------------------------------------------------------------------------- */

static int global_run(kp_op_ctx *ctx, int kind) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x) return kp_op_fail(ctx, KP_EINVAL, "input X is missing");
    if (x->rank < 2)
        return kp_op_fail(ctx, KP_EINVAL, "input must be N x C x ..., got rank %d", x->rank);
    if (x->dtype != KP_FLOAT && x->dtype != KP_DOUBLE)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "element type %s is not supported",
                          kp_dtype_name(x->dtype));
    int64_t dims[KP_MAX_RANK];
    for (int i = 0; i < x->rank; i++) dims[i] = i < 2 ? x->dims[i] : 1;
    kp_tensor *y = kp_op_output(ctx, 0, x->dtype, x->rank, dims);
    if (!y) return ctx->err->code;
    int64_t planes = x->dims[0] * x->dims[1], sz = planes ? x->numel / planes : 0;
    double p = kind == 2 ? (double)kp_node_attr_int(ctx->node, "p", 2) : 0;
    for (int64_t pl = 0; pl < planes; pl++) {
        double acc = kind == 1 ? -INFINITY : 0;
        for (int64_t i = 0; i < sz; i++) {
            double v = x->dtype == KP_FLOAT ? ((const float *)x->data)[pl * sz + i]
                                            : ((const double *)x->data)[pl * sz + i];
            if (kind == 0)
                acc += v;
            else if (kind == 1)
                acc = v > acc || isnan(v) ? v : acc;
            else
                acc += pow(fabs(v), p);
        }
        double r = kind == 0 ? (sz ? acc / (double)sz : 0) : kind == 1 ? acc : pow(acc, 1.0 / p);
        if (x->dtype == KP_FLOAT)
            ((float *)y->data)[pl] = (float)r;
        else
            ((double *)y->data)[pl] = r;
    }
    return 0;
}

static int gavg_run(kp_op_ctx *ctx) {
    return global_run(ctx, 0);
}
static int gmax_run(kp_op_ctx *ctx) {
    return global_run(ctx, 1);
}
static int glp_run(kp_op_ctx *ctx) {
    return global_run(ctx, 2);
}

const kp_op_def kp_ops_pool[] = {
    {"", "AveragePool", avgpool_run},
    {"", "GlobalAveragePool", gavg_run},
    {"", "GlobalLpPool", glp_run},
    {"", "GlobalMaxPool", gmax_run},
    {"", "LpPool", lppool_run},
    {"", "MaxPool", maxpool_run},
    {0},
};
