/* Conv and ConvTranspose (float32), 1-D/2-D/3-D and beyond.
 * Conv: per image and group, Y[Mg, OS] = W[Mg, Cg*K] x col[Cg*K, OS] through OpenBLAS, where col
 * is the im2col expansion of the input; 1x1 stride-1 unpadded convolutions use the input as
 * col directly, depthwise 2-D convolutions run a direct loop. ConvTranspose: col = W^T x X,
 * then col2im scatters col into Y. Bias is added in one pass over the output. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/ops/conv3x3.h"
#include "core/ops/conv3x3_oc.h"
#include "core/ops/dw3x3.h"
#include "core/ops/gemm_packed.h"

#include "core/ops/spatial.h"

/* ---- shared checks ------------------------------------------------------------------------- */

static int need_float(kp_op_ctx *ctx, const kp_tensor *t, const char *what) {
    if (!t) return kp_op_fail(ctx, KP_EINVAL, "input %s is missing", what);
    if (t->dtype != KP_FLOAT)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "input %s is %s; only float32 is supported", what,
                          kp_dtype_name(t->dtype));
    return 0;
}

/* Kernel spatial shape: from W, checked against the kernel_shape attribute when given. */
static int kernel_shape(kp_op_ctx *ctx, const kp_tensor *w, int nd, int64_t *k) {
    const int64_t *v;
    size_t n = kp_node_attr_ints(ctx->node, "kernel_shape", &v);
    if (n && (int)n != nd)
        return kp_op_fail(ctx, KP_EINVAL, "kernel_shape has %zu values, expected %d", n, nd);
    for (int i = 0; i < nd; i++) {
        k[i] = w->dims[2 + i];
        if (n && v[i] != k[i])
            return kp_op_fail(ctx, KP_EINVAL, "kernel_shape[%d] = %lld but W has %lld", i,
                              (long long)v[i], (long long)k[i]);
    }
    return 0;
}

typedef float v4f __attribute__((vector_size(16)));

static inline void copy_floats(float *d, const float *src, int64_t n) {
    int64_t j = 0;
    v4f v;
    for (; j + 4 <= n; j += 4) {
        memcpy(&v, src + j, sizeof v);
        memcpy(d + j, &v, sizeof v);
    }
    if (j < n && n >= 4) { /* last 4, overlapping what was copied (d and src do not overlap) */
        memcpy(&v, src + n - 4, sizeof v);
        memcpy(d + n - 4, &v, sizeof v);
        return;
    }
    for (; j < n; j++) d[j] = src[j];
}

/* y[i] += b */
static inline void add_floats(float *y, int64_t n, float b) {
    int64_t j = 0;
    v4f vb = {b, b, b, b};
    for (; j + 4 <= n; j += 4) {
        v4f v;
        memcpy(&v, y + j, sizeof v);
        v += vb;
        memcpy(y + j, &v, sizeof v);
    }
    for (; j < n; j++) y[j] += b;
}

/* Bias and the fused activation in one pass over the output. */
static void add_bias(const kp_op_ctx *ctx, float *y, const float *b, int64_t n, int64_t m,
                     int64_t os) {
    int act = ctx->fused_act;
    if (!b && !act) return;
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < m; c++) {
            float bv = b ? b[c] : 0, *p = y + (i * m + c) * os;
            if (act == KP_ACT_RELU) {
                kp_op_bias_relu(p, os, bv);
            } else {
                if (bv != 0) add_floats(p, os, bv);
                if (act) kp_op_apply_act(ctx, p, os);
            }
        }
}

/* y (row stride ldy) = w[mg][kk] x col[kk][nc] (row stride ldc), then bias[mg] (NULL: none) and
 * the fused activation. Single-threaded with AVX-512: our kernel (core/ops/gemm_packed.h: col
 * read in place, bias and ReLU in registers; OpenBLAS would pack both operands on every call);
 * else OpenBLAS (which uses the threads asked for) and a bias pass. */
static void conv_gemm(const kp_op_ctx *ctx, int64_t mg, int64_t nc, int64_t kk, const float *w,
                      const float *col, int64_t ldc, const float *bias, float *y, int64_t ldy) {
    int act = ctx->fused_act;
    if (ctx->threads <= 1 && kp_gemmp_available() && (act == KP_ACT_NONE || act == KP_ACT_RELU)) {
        kp_gemm_nn_run(w, kk, mg, kk, col, ldc, nc, bias, act == KP_ACT_RELU, y, ldy);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mg, (int)nc, (int)kk, 1.0f, w,
                (int)kk, col, (int)ldc, 0.0f, y, (int)ldy);
    for (int64_t mm = 0; mm < mg; mm++)
        add_bias(ctx, y + mm * ldy, bias ? bias + mm : NULL, 1, 1, nc);
}

/* ---- im2col -------------------------------------------------------------------------------- */

/* Output rows [y0, y0 + ny) into col (row stride ld). */
static void im2col_2d(const float *x, int64_t cg, const kp_spatial *s, float *col, int64_t ld,
                      int64_t y0, int64_t ny) {
    int64_t ih = s->in[0], iw = s->in[1], ow = s->out[1];
    int64_t kh = s->k[0], kw = s->k[1], sh = s->stride[0], sw = s->stride[1];
    int64_t dh = s->dil[0], dw = s->dil[1], ph = s->pad_b[0], pw = s->pad_b[1];
    for (int64_t c = 0; c < cg; c++) {
        const float *xc = x + c * ih * iw;
        for (int64_t a = 0; a < kh; a++)
            for (int64_t b = 0; b < kw; b++) {
                float *row = col + ((c * kh + a) * kw + b) * ld;
                /* Output columns whose input column is inside [0, iw). */
                int64_t off = b * dw - pw;
                int64_t lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
                int64_t hi = iw - off > 0 ? (iw - off + sw - 1) / sw : 0;
                if (hi > ow) hi = ow;
                if (lo > hi) lo = hi;
                for (int64_t y = y0; y < y0 + ny; y++) {
                    float *r = row + (y - y0) * ow;
                    int64_t yy = y * sh - ph + a * dh;
                    if (yy < 0 || yy >= ih) {
                        memset(r, 0, (size_t)ow * sizeof *r);
                        continue;
                    }
                    const float *xr = xc + yy * iw + off;
                    for (int64_t j = 0; j < lo; j++) r[j] = 0;
                    if (sw == 1)
                        memcpy(r + lo, xr + lo, (size_t)(hi - lo) * sizeof *r);
                    else
                        for (int64_t j = lo; j < hi; j++) r[j] = xr[j * sw];
                    for (int64_t j = hi; j < ow; j++) r[j] = 0;
                }
            }
    }
}

/* Stride-1 2-D: the group's input is first copied into a zero-bordered plane (pad) large
 * enough for every tap (pad_plane), so each col row is a run of plain copies without bounds
 * checks (im2col_rows_s1, output rows [y0, y0 + ny)). */
static void pad_plane(const float *x, int64_t cg, const kp_spatial *s, float *pad) {
    int64_t ih = s->in[0], iw = s->in[1], oh = s->out[0], ow = s->out[1];
    int64_t kh = s->k[0], kw = s->k[1], dh = s->dil[0], dw = s->dil[1];
    int64_t ph = s->pad_b[0], pw = s->pad_b[1];
    int64_t hp = oh + (kh - 1) * dh, wp = ow + (kw - 1) * dw;
    for (int64_t c = 0; c < cg; c++) {
        float *pc = pad + c * hp * wp;
        const float *xc = x + c * ih * iw;
        for (int64_t r = 0; r < hp; r++) {
            float *pr = pc + r * wp;
            int64_t yy = r - ph;
            if (yy < 0 || yy >= ih) {
                memset(pr, 0, (size_t)wp * sizeof *pr);
                continue;
            }
            int64_t lo = pw, hi = pw + iw; /* columns of pr holding input */
            if (hi > wp) hi = wp;
            for (int64_t j = 0; j < lo && j < wp; j++) pr[j] = 0;
            if (hi > lo) copy_floats(pr + lo, xc + yy * iw, hi - lo);
            for (int64_t j = hi > lo ? hi : lo; j < wp; j++) pr[j] = 0;
        }
    }
}

static void im2col_rows_s1(const float *pad, int64_t cg, const kp_spatial *s, float *col,
                           int64_t ld, int64_t y0, int64_t ny) {
    int64_t oh = s->out[0], ow = s->out[1];
    int64_t kh = s->k[0], kw = s->k[1], dh = s->dil[0], dw = s->dil[1];
    int64_t hp = oh + (kh - 1) * dh, wp = ow + (kw - 1) * dw;
    for (int64_t c = 0; c < cg; c++) {
        const float *pc = pad + c * hp * wp;
        for (int64_t a = 0; a < kh; a++)
            for (int64_t b = 0; b < kw; b++) {
                float *row = col + ((c * kh + a) * kw + b) * ld;
                const float *src = pc + (y0 + a * dh) * wp + b * dw;
                for (int64_t y = 0; y < ny; y++) copy_floats(row + y * ow, src + y * wp, ow);
            }
    }
}

/* Output positions [p0, p0 + np) only (np <= ld): lets large convolutions run in tiles. */
static void im2col_nd(const float *x, int64_t cg, const kp_spatial *s, float *col, int64_t ld,
                      int64_t p0, int64_t np) {
    int nd = s->nd;
    int64_t kidx[KP_SPATIAL_MAX], oidx[KP_SPATIAL_MAX], start[KP_SPATIAL_MAX];
    int64_t rem0 = p0;
    for (int d = nd - 1; d >= 0; d--) {
        start[d] = rem0 % s->out[d];
        rem0 /= s->out[d];
    }
    for (int64_t c = 0; c < cg; c++)
        for (int64_t kk = 0; kk < s->k_size; kk++) {
            int64_t rem = kk;
            for (int d = nd - 1; d >= 0; d--) {
                kidx[d] = rem % s->k[d];
                rem /= s->k[d];
            }
            float *row = col + (c * s->k_size + kk) * ld;
            const float *xc = x + c * s->in_size;
            for (int d = 0; d < nd; d++) oidx[d] = start[d];
            for (int64_t o = 0; o < np; o++) {
                int64_t lin = 0;
                int inside = 1;
                for (int d = 0; d < nd; d++) {
                    int64_t ii = oidx[d] * s->stride[d] - s->pad_b[d] + kidx[d] * s->dil[d];
                    if (ii < 0 || ii >= s->in[d]) {
                        inside = 0;
                        break;
                    }
                    lin = lin * s->in[d] + ii;
                }
                row[o] = inside ? xc[lin] : 0.0f;
                for (int d = nd - 1; d >= 0; d--) {
                    if (++oidx[d] < s->out[d]) break;
                    oidx[d] = 0;
                }
            }
        }
}

/* ---- depthwise 2-D ------------------------------------------------------------------------- */

/* One channel: the plane is first copied into a zero-bordered buffer covering every tap, so
 * the loops need no bounds checks; 3x3 stride-1 rows run 4 outputs at a time. Bias and the
 * fused activation are applied to each output row while it is in cache. */
static void depthwise_2d(const kp_op_ctx *ctx, const float *x, const float *w, float bias, float *y,
                         const kp_spatial *s, float *pad) {
    int64_t ih = s->in[0], iw = s->in[1], oh = s->out[0], ow = s->out[1];
    int64_t kh = s->k[0], kw = s->k[1], sh = s->stride[0], sw = s->stride[1];
    int64_t dh = s->dil[0], dw = s->dil[1], ph = s->pad_b[0], pw = s->pad_b[1];
    int64_t hp = (oh - 1) * sh + (kh - 1) * dh + 1, wp = (ow - 1) * sw + (kw - 1) * dw + 1;
    int act = ctx->fused_act;
    if (kh == 3 && kw == 3 && dh == 1 && dw == 1 && sh == sw && (sh == 1 || sh == 2) && ph <= 2 &&
        pw <= 2 && (act == KP_ACT_NONE || act == KP_ACT_RELU || act == KP_ACT_CLIP) &&
        kp_dw3x3_available()) {
        /* AVX-512 from the plane itself, activation in registers (core/ops/dw3x3.h). */
        float lo = act == KP_ACT_CLIP ? ctx->act_alpha : 0.0f;
        float hi = act == KP_ACT_CLIP ? ctx->act_beta : INFINITY;
        kp_dw3x3_plane(x, ih, iw, w, bias, (int)sh, ph, pw, act != KP_ACT_NONE, lo, hi, y, oh, ow);
        return;
    }
    for (int64_t r = 0; r < hp; r++) {
        float *pr = pad + r * wp;
        int64_t yy = r - ph;
        if (yy < 0 || yy >= ih) {
            memset(pr, 0, (size_t)wp * sizeof *pr);
            continue;
        }
        int64_t lo = pw < wp ? pw : wp, hi = pw + iw < wp ? pw + iw : wp;
        for (int64_t j = 0; j < lo; j++) pr[j] = 0;
        if (hi > lo) copy_floats(pr + lo, x + yy * iw, hi - lo);
        for (int64_t j = hi > lo ? hi : lo; j < wp; j++) pr[j] = 0;
    }
    int fast = kh == 3 && kw == 3 && sw == 1 && dw == 1;
    for (int64_t oy = 0; oy < oh; oy++) {
        float *yr = y + oy * ow;
        const float *r0 = pad + oy * sh * wp;
        int64_t ox = 0;
        if (fast) {
            const float *r1 = r0 + dh * wp, *r2 = r1 + dh * wp;
            v4f vb = {bias, bias, bias, bias};
            v4f w0 = {w[0], w[0], w[0], w[0]}, w1 = {w[1], w[1], w[1], w[1]};
            v4f w2 = {w[2], w[2], w[2], w[2]}, w3 = {w[3], w[3], w[3], w[3]};
            v4f w4 = {w[4], w[4], w[4], w[4]}, w5 = {w[5], w[5], w[5], w[5]};
            v4f w6 = {w[6], w[6], w[6], w[6]}, w7 = {w[7], w[7], w[7], w[7]};
            v4f w8 = {w[8], w[8], w[8], w[8]};
            for (; ox + 4 <= ow; ox += 4) {
                v4f a, b, c, acc = vb;
                memcpy(&a, r0 + ox, sizeof a);
                memcpy(&b, r0 + ox + 1, sizeof b);
                memcpy(&c, r0 + ox + 2, sizeof c);
                acc += w0 * a + w1 * b + w2 * c;
                memcpy(&a, r1 + ox, sizeof a);
                memcpy(&b, r1 + ox + 1, sizeof b);
                memcpy(&c, r1 + ox + 2, sizeof c);
                acc += w3 * a + w4 * b + w5 * c;
                memcpy(&a, r2 + ox, sizeof a);
                memcpy(&b, r2 + ox + 1, sizeof b);
                memcpy(&c, r2 + ox + 2, sizeof c);
                acc += w6 * a + w7 * b + w8 * c;
                memcpy(yr + ox, &acc, sizeof acc);
            }
        }
        if (kh == 3 && kw == 3 && dw == 1) {
            const float *r1 = r0 + dh * wp, *r2 = r1 + dh * wp;
            for (; ox < ow; ox++) {
                int64_t o = ox * sw;
                yr[ox] = bias + w[0] * r0[o] + w[1] * r0[o + 1] + w[2] * r0[o + 2] + w[3] * r1[o] +
                         w[4] * r1[o + 1] + w[5] * r1[o + 2] + w[6] * r2[o] + w[7] * r2[o + 1] +
                         w[8] * r2[o + 2];
            }
        }
        for (; ox < ow; ox++) {
            float acc = bias;
            for (int64_t a = 0; a < kh; a++) {
                const float *pr = r0 + a * dh * wp + ox * sw;
                for (int64_t b = 0; b < kw; b++) acc += w[a * kw + b] * pr[b * dw];
            }
            yr[ox] = acc;
        }
        if (ctx->fused_act) kp_op_apply_act(ctx, yr, ow);
    }
}

/* ---- Conv ---------------------------------------------------------------------------------- */

/* Fused 2x2 stride-2 MaxPool (floor mode): y[p][oy][ox] = max of full[p][2oy..+1][2ox..+1] for
 * np planes of h x w. */
static void maxpool2(const float *full, int64_t np, int64_t h, int64_t w, float *y) {
    int64_t oh = h / 2, ow = w / 2;
    for (int64_t p = 0; p < np; p++)
        for (int64_t oy = 0; oy < oh; oy++) {
            const float *a = full + (p * h + 2 * oy) * w, *b = a + w;
            float *d = y + (p * oh + oy) * ow;
            for (int64_t ox = 0; ox < ow; ox++) {
                float v = a[2 * ox];
                if (a[2 * ox + 1] > v) v = a[2 * ox + 1];
                if (b[2 * ox] > v) v = b[2 * ox];
                if (b[2 * ox + 1] > v) v = b[2 * ox + 1];
                d[ox] = v;
            }
        }
}

/* The end of every im2col path: pools the full output into the node's output when fused. */
static int conv_done(const kp_spatial *s, int64_t planes, const float *full, float *y, int pool) {
    if (pool) maxpool2(full, planes, s->out[0], s->out[1], y);
    return 0;
}

/* Packed weights for the channel-vectorised 3x3 kernel: the executor's (ctx->prep) when they
 * match, else packed here into scratch. */
static const float *c3oc_weights(kp_op_ctx *ctx, const float *w, int64_t m, int64_t c) {
    int64_t nf = kp_c3oc_packed_floats(m, c);
    if (ctx->prep && ctx->prep_bytes == (size_t)nf * sizeof(float)) return ctx->prep;
    float *p = ctx->scratch(ctx, (size_t)nf * sizeof *p);
    if (p) kp_c3oc_pack(w, m, c, p);
    return p;
}

static int conv_run(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0), *w = kp_op_input(ctx, 1), *b = kp_op_input(ctx, 2);
    int rc;
    if ((rc = need_float(ctx, x, "X")) < 0 || (rc = need_float(ctx, w, "W")) < 0) return rc;
    if (b && (rc = need_float(ctx, b, "B")) < 0) return rc;
    if (x->rank < 3 || w->rank != x->rank)
        return kp_op_fail(ctx, KP_EINVAL, "X (rank %d) and W (rank %d) must both be N x C x ...",
                          x->rank, w->rank);
    int nd = x->rank - 2;
    int64_t group = kp_node_attr_int(ctx->node, "group", 1);
    int64_t n = x->dims[0], c = x->dims[1], m = w->dims[0];
    if (group < 1 || c % group || m % group || w->dims[1] * group != c)
        return kp_op_fail(ctx, KP_EINVAL,
                          "X has %lld channels, W is %lld x %lld, group %lld: they do not match",
                          (long long)c, (long long)m, (long long)w->dims[1], (long long)group);
    if (b && (b->rank != 1 || b->dims[0] != m))
        return kp_op_fail(ctx, KP_EINVAL, "B must have %lld entries", (long long)m);
    int64_t k[KP_SPATIAL_MAX];
    kp_spatial s;
    if ((rc = kernel_shape(ctx, w, nd, k)) < 0) return rc;
    if ((rc = kp_spatial_init(ctx, x, k, 0, &s)) < 0) return rc;
    int64_t dims[KP_MAX_RANK] = {n, m};
    for (int i = 0; i < nd; i++) dims[2 + i] = s.out[i];
    int pool = ctx->fused_pool;
    if (pool && (nd != 2 || (ctx->fused_act != KP_ACT_NONE && ctx->fused_act != KP_ACT_RELU)))
        return kp_op_fail(ctx, KP_EINVAL, "a fused MaxPool needs a 2-D Conv with ReLU or none");
    int64_t pdims[KP_MAX_RANK] = {n, m, s.out[0] / 2, nd == 2 ? s.out[1] / 2 : 0};
    kp_tensor *yt = kp_op_output(ctx, 0, KP_FLOAT, x->rank, pool ? pdims : dims);
    if (!yt) return ctx->err->code;
    if (!yt->numel) return 0;
    float *yout = yt->data, *y = yout;
    int64_t full = n * m * s.out_size;
    if (pool && !(y = ctx->scratch(ctx, (size_t)full * sizeof *y))) return ctx->err->code;
    if (!x->numel || !w->numel) {
        /* Empty X or W (data may be NULL) with a non-empty Y: every sum is over nothing or
         * over padding only, so Y is the bias (then the fused activation). */
        memset(y, 0, (size_t)full * sizeof *y);
        add_bias(ctx, y, b ? b->data : NULL, n, m, full / (n * m));
        return conv_done(&s, n * m, y, yout, pool);
    }
    const float *xd = x->data, *wd = w->data;
    int64_t cg = c / group, mg = m / group, kk = cg * s.k_size, os = s.out_size, is = s.in_size;
    int pointwise = 1;
    for (int i = 0; i < nd; i++)
        if (s.k[i] != 1 || s.stride[i] != 1 || s.pad_b[i] || s.pad_e[i]) pointwise = 0;
    int depthwise = nd == 2 && cg == 1 && mg == 1;
    if (depthwise) {
        int64_t hp = (s.out[0] - 1) * s.stride[0] + (s.k[0] - 1) * s.dil[0] + 1;
        int64_t wp = (s.out[1] - 1) * s.stride[1] + (s.k[1] - 1) * s.dil[1] + 1;
        float *dpad = ctx->scratch(ctx, (size_t)(hp * wp) * sizeof *dpad);
        if (!dpad) return ctx->err->code;
        const float *bias = b ? b->data : NULL;
        for (int64_t i = 0; i < n; i++)
            for (int64_t ch = 0; ch < c; ch++)
                depthwise_2d(ctx, xd + (i * c + ch) * is, wd + ch * s.k_size,
                             bias ? bias[ch] : 0.0f, y + (i * m + ch) * os, &s, dpad);
        return conv_done(&s, n * m, y, yout, pool);
    }
    int isa3 = nd == 2 && group == 1 ? kp_conv3x3_isa() : KP_C3_NONE;
    for (int i = 0; i < nd && isa3; i++)
        if (s.k[i] != 3 || s.stride[i] != 1 || s.dil[i] != 1 || s.pad_b[i] != 1 || s.pad_e[i] != 1)
            isa3 = KP_C3_NONE;
    int relu = ctx->fused_act == KP_ACT_RELU;
    if (isa3 && (relu || ctx->fused_act == KP_ACT_NONE) && c >= KP_C3OC_MIN_C &&
        kp_c3oc_available()) {
        /* Channel-vectorised direct 3x3 kernel, pooling fused (core/ops/conv3x3_oc.h). */
        int64_t h = s.in[0], wd2 = s.in[1], ys = pool ? m * (h / 2) * (wd2 / 2) : m * os;
        const float *pk = c3oc_weights(ctx, wd, m, c);
        float *sc = ctx->scratch(ctx, (size_t)kp_c3oc_scratch_floats(c, m, h, wd2) * sizeof *sc);
        if (!pk || !sc) return ctx->err->code;
        for (int64_t i = 0; i < n; i++)
            kp_c3oc_run(xd + i * c * is, c, h, wd2, pk, m, b ? b->data : NULL, relu, pool,
                        yout + i * ys, sc);
        return 0;
    }
    if (isa3) {
        /* Direct 3x3 kernel: no im2col copy (core/ops/conv3x3.h). */
        int64_t h = s.in[0], wd2 = s.in[1];
        float *p3 = ctx->scratch(ctx, (size_t)kp_conv3x3_pad_floats(c, h, wd2) * sizeof *p3);
        float *o3 = ctx->scratch(ctx, (size_t)kp_conv3x3_out_floats(m, h, wd2) * sizeof *o3);
        if (!p3 || !o3) return ctx->err->code;
        /* Pooled in the kernel's output pass (then y is the node's output) when the
         * activation is ReLU or none. */
        int kpool = pool && (relu || ctx->fused_act == KP_ACT_NONE);
        int64_t ys = kpool ? m * (h / 2) * (wd2 / 2) : m * os;
        float *yk = kpool ? yout : y;
        for (int64_t i = 0; i < n; i++) {
            float *yi = yk + i * ys;
            kp_conv3x3_run(isa3, xd + i * c * is, c, h, wd2, wd, m, b ? b->data : NULL, relu, kpool,
                           yi, p3, o3);
            if (ctx->fused_act && !relu) kp_op_apply_act(ctx, yi, ys);
        }
        return kpool ? 0 : conv_done(&s, n * m, y, yout, pool);
    }
    float *col = NULL, *pad = NULL;
    int s1 = nd == 2 && s.stride[0] == 1 && s.stride[1] == 1;
    if (mg > INT32_MAX || os > INT32_MAX || kk > INT32_MAX)
        return kp_op_fail(ctx, KP_ERANGE, "convolution too large for one GEMM");
    /* A col buffer over 64 MiB: run each image in tiles of output positions instead. */
    int64_t tile = kk ? ((int64_t)16 << 20) / kk : os;
    if (!pointwise && !depthwise && kk && os && tile < os) {
        if (tile < 1) tile = 1;
        col = ctx->scratch(ctx, (size_t)(kk * tile) * sizeof *col);
        if (!col) return ctx->err->code;
        for (int64_t i = 0; i < n; i++)
            for (int64_t g = 0; g < group; g++) {
                const float *xg = xd + (i * c + g * cg) * is, *wg = wd + g * mg * kk;
                float *yg = y + (i * m + g * mg) * os;
                for (int64_t p0 = 0; p0 < os; p0 += tile) {
                    int64_t np = os - p0 < tile ? os - p0 : tile;
                    im2col_nd(xg, cg, &s, col, np, p0, np);
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mg, (int)np,
                                (int)kk, 1.0f, wg, (int)kk, col, (int)np, 0.0f, yg + p0, (int)os);
                }
            }
        add_bias(ctx, y, b ? b->data : NULL, n, m, os);
        return conv_done(&s, n * m, y, yout, pool);
    }
    if (!pointwise && !depthwise && kk && os) {
        col = ctx->scratch(ctx, (size_t)(kk * os) * sizeof *col);
        if (!col) return ctx->err->code;
        if (s1) {
            int64_t hp = s.out[0] + (s.k[0] - 1) * s.dil[0];
            int64_t wp = s.out[1] + (s.k[1] - 1) * s.dil[1];
            pad = ctx->scratch(ctx, (size_t)(cg * hp * wp) * sizeof *pad);
            if (!pad) return ctx->err->code;
        }
    }
    /* Several images per GEMM when one image is small: wider N runs OpenBLAS closer to peak
     * and packs W once per chunk. The output pass then scatters to NCHW with bias and the
     * fused activation. */
    int64_t chunk = os >= 512 ? 1 : (512 + os - 1) / os;
    if (chunk > n) chunk = n;
    if (group == 1 && !depthwise && chunk > 1 && kk && (kk * chunk * os) < (1 << 22)) {
        float *colc = ctx->scratch(ctx, (size_t)(kk * chunk * os) * sizeof *colc);
        float *ytmp = ctx->scratch(ctx, (size_t)(m * chunk * os) * sizeof *ytmp);
        if (!colc || !ytmp) return ctx->err->code;
        const float *bias = b ? b->data : NULL;
        for (int64_t i0 = 0; i0 < n; i0 += chunk) {
            int64_t cn = n - i0 < chunk ? n - i0 : chunk, ld = cn * os;
            for (int64_t j = 0; j < cn; j++) {
                const float *xi = xd + (i0 + j) * c * is;
                if (pointwise) {
                    for (int64_t ci = 0; ci < c; ci++)
                        copy_floats(colc + ci * ld + j * os, xi + ci * is, os);
                    continue;
                }
                if (s1) {
                    pad_plane(xi, c, &s, pad);
                    im2col_rows_s1(pad, c, &s, colc + j * os, ld, 0, s.out[0]);
                } else if (nd == 2) {
                    im2col_2d(xi, c, &s, colc + j * os, ld, 0, s.out[0]);
                } else
                    im2col_nd(xi, c, &s, colc + j * os, ld, 0, os);
            }
            if (ctx->threads <= 1 && kp_gemmp_available())
                kp_gemm_nn_run(wd, kk, m, kk, colc, ld, ld, NULL, 0, ytmp, ld);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)ld, (int)kk,
                            1.0f, wd, (int)kk, colc, (int)ld, 0.0f, ytmp, (int)ld);
            for (int64_t j = 0; j < cn; j++)
                for (int64_t mm = 0; mm < m; mm++) {
                    float *dst = y + ((i0 + j) * m + mm) * os;
                    const float *src = ytmp + mm * ld + j * os;
                    float bv = bias ? bias[mm] : 0;
                    if (ctx->fused_act == KP_ACT_RELU) {
                        kp_op_bias_relu_copy(dst, src, os, bv);
                    } else {
                        copy_floats(dst, src, os);
                        if (bv != 0)
                            for (int64_t q = 0; q < os; q++) dst[q] += bv;
                        kp_op_apply_act(ctx, dst, os);
                    }
                }
        }
        return conv_done(&s, n * m, y, yout, pool);
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t g = 0; g < group; g++) {
            const float *xg = xd + (i * c + g * cg) * is, *wg = wd + g * mg * kk;
            float *yg = y + (i * m + g * mg) * os;
            if (!kk) {
                memset(yg, 0, (size_t)(mg * os) * sizeof *yg);
                add_bias(ctx, yg, b ? (const float *)b->data + g * mg : NULL, 1, mg, os);
                continue;
            }
            if (!pointwise && nd == 2) {
                /* Blocks of output rows (about 512 positions): the col block stays in cache
                 * and OpenBLAS runs faster on it than on one very wide matrix. */
                int64_t oh = s.out[0], ow = s.out[1], rb = os > 1024 && ow ? 512 / ow : oh;
                if (rb < 1) rb = 1;
                if (s1) pad_plane(xg, cg, &s, pad);
                for (int64_t y0 = 0; y0 < oh; y0 += rb) {
                    int64_t ny = oh - y0 < rb ? oh - y0 : rb, nc = ny * ow;
                    if (s1)
                        im2col_rows_s1(pad, cg, &s, col, nc, y0, ny);
                    else
                        im2col_2d(xg, cg, &s, col, nc, y0, ny);
                    conv_gemm(ctx, mg, nc, kk, wg, col, nc,
                              b ? (const float *)b->data + g * mg : NULL, yg + y0 * ow, os);
                }
                continue;
            }
            const float *src = xg;
            if (!pointwise) {
                im2col_nd(xg, cg, &s, col, os, 0, os);
                src = col;
            }
            /* Bias and activation while this image's output is still in cache. */
            conv_gemm(ctx, mg, os, kk, wg, src, os, b ? (const float *)b->data + g * mg : NULL, yg,
                      os);
        }
    return conv_done(&s, n * m, y, yout, pool);
}

/* ---- ConvTranspose ------------------------------------------------------------------------- */

static int int_list(kp_op_ctx *ctx, const char *name, int nd, int64_t dflt, int64_t *out) {
    const int64_t *v;
    size_t cnt = kp_node_attr_ints(ctx->node, name, &v);
    for (int i = 0; i < nd; i++) out[i] = dflt;
    if (!cnt) return 0;
    if ((int)cnt < nd)
        return kp_op_fail(ctx, KP_EINVAL, "%s has %zu values, expected %d", name, cnt, nd);
    /* output_shape may list N and C too: take the spatial tail. */
    for (int i = 0; i < nd; i++) out[i] = v[cnt - (size_t)nd + (size_t)i];
    return 1;
}

static void col2im(const float *col, int64_t mg, const kp_spatial *s, float *y) {
    /* Here s->in is the input (X) spatial size, s->out the output (Y) size. */
    int nd = s->nd;
    int64_t kidx[KP_SPATIAL_MAX], iidx[KP_SPATIAL_MAX];
    for (int64_t c = 0; c < mg; c++)
        for (int64_t kk = 0; kk < s->k_size; kk++) {
            int64_t rem = kk;
            for (int d = nd - 1; d >= 0; d--) {
                kidx[d] = rem % s->k[d];
                rem /= s->k[d];
            }
            const float *row = col + (c * s->k_size + kk) * s->in_size;
            float *yc = y + c * s->out_size;
            for (int d = 0; d < nd; d++) iidx[d] = 0;
            for (int64_t p = 0; p < s->in_size; p++) {
                int64_t lin = 0;
                int inside = 1;
                for (int d = 0; d < nd; d++) {
                    int64_t o = iidx[d] * s->stride[d] - s->pad_b[d] + kidx[d] * s->dil[d];
                    if (o < 0 || o >= s->out[d]) {
                        inside = 0;
                        break;
                    }
                    lin = lin * s->out[d] + o;
                }
                if (inside) yc[lin] += row[p];
                for (int d = nd - 1; d >= 0; d--) {
                    if (++iidx[d] < s->in[d]) break;
                    iidx[d] = 0;
                }
            }
        }
}

static int convt_run(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0), *w = kp_op_input(ctx, 1), *b = kp_op_input(ctx, 2);
    int rc;
    if ((rc = need_float(ctx, x, "X")) < 0 || (rc = need_float(ctx, w, "W")) < 0) return rc;
    if (b && (rc = need_float(ctx, b, "B")) < 0) return rc;
    if (x->rank < 3 || w->rank != x->rank)
        return kp_op_fail(ctx, KP_EINVAL, "X (rank %d) and W (rank %d) must both be N x C x ...",
                          x->rank, w->rank);
    int nd = x->rank - 2;
    int64_t group = kp_node_attr_int(ctx->node, "group", 1);
    int64_t n = x->dims[0], c = x->dims[1];
    if (group < 1 || c % group || w->dims[0] != c)
        return kp_op_fail(ctx, KP_EINVAL, "X has %lld channels, W has %lld, group %lld",
                          (long long)c, (long long)w->dims[0], (long long)group);
    int64_t mg = w->dims[1], m = mg * group, cg = c / group;
    if (b && (b->rank != 1 || b->dims[0] != m))
        return kp_op_fail(ctx, KP_EINVAL, "B must have %lld entries", (long long)m);
    kp_spatial s;
    memset(&s, 0, sizeof s);
    s.nd = nd;
    if ((rc = kernel_shape(ctx, w, nd, s.k)) < 0) return rc;
    int64_t outpad[KP_SPATIAL_MAX], oshape[KP_SPATIAL_MAX], pads[2 * KP_SPATIAL_MAX];
    if ((rc = int_list(ctx, "strides", nd, 1, s.stride)) < 0) return rc;
    if ((rc = int_list(ctx, "dilations", nd, 1, s.dil)) < 0) return rc;
    if ((rc = int_list(ctx, "output_padding", nd, 0, outpad)) < 0) return rc;
    int has_oshape = int_list(ctx, "output_shape", nd, 0, oshape);
    if (has_oshape < 0) return has_oshape;
    const int64_t *pv;
    size_t np = kp_node_attr_ints(ctx->node, "pads", &pv);
    if (np && (int)np != 2 * nd)
        return kp_op_fail(ctx, KP_EINVAL, "pads has %zu values, expected %d", np, 2 * nd);
    for (int i = 0; i < 2 * nd; i++) pads[i] = np ? pv[i] : 0;
    const char *ap = kp_node_attr_string(ctx->node, "auto_pad", "NOTSET");
    int same = !strcmp(ap, "SAME_UPPER") ? 1 : !strcmp(ap, "SAME_LOWER") ? 2 : 0;
    int valid = !strcmp(ap, "VALID");
    if (!same && !valid && strcmp(ap, "NOTSET") && ap[0])
        return kp_op_fail(ctx, KP_EINVAL, "unknown auto_pad '%s'", ap);
    s.in_size = s.out_size = s.k_size = 1;
    for (int i = 0; i < nd; i++) {
        int64_t in = x->dims[2 + i], ek = (s.k[i] - 1) * s.dil[i] + 1;
        int64_t full = s.stride[i] * (in - 1) + outpad[i] + ek;
        if (s.stride[i] < 1 || s.dil[i] < 1 || outpad[i] < 0)
            return kp_op_fail(ctx, KP_EINVAL, "bad strides/dilations/output_padding");
        s.in[i] = in;
        if (has_oshape || same) {
            int64_t target = has_oshape ? oshape[i] : in * s.stride[i];
            int64_t total = full - target;
            /* Floor division: a negative total (output_shape past the natural size) pads the
             * end, like output_padding. */
            int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
            if (same == 1) {
                s.pad_b[i] = half;
                s.pad_e[i] = total - half;
            } else {
                s.pad_b[i] = total - half;
                s.pad_e[i] = half;
            }
            s.out[i] = target;
        } else {
            if (!valid) {
                s.pad_b[i] = pads[i];
                s.pad_e[i] = pads[nd + i];
            }
            s.out[i] = full - s.pad_b[i] - s.pad_e[i];
        }
        if (s.out[i] < 0 || s.out[i] > ((int64_t)1 << 31))
            return kp_op_fail(ctx, KP_EINVAL, "output spatial dim %d would be %lld", i,
                              (long long)s.out[i]);
        s.in_size *= in;
        s.out_size *= s.out[i];
        s.k_size *= s.k[i];
    }
    int64_t dims[KP_MAX_RANK] = {n, m};
    for (int i = 0; i < nd; i++) dims[2 + i] = s.out[i];
    kp_tensor *yt = kp_op_output(ctx, 0, KP_FLOAT, x->rank, dims);
    if (!yt) return ctx->err->code;
    if (!yt->numel) return 0;
    float *y = yt->data;
    memset(y, 0, yt->nbytes);
    int64_t rows = mg * s.k_size;
    if (rows > INT32_MAX || s.in_size > INT32_MAX || cg > INT32_MAX ||
        (rows && s.in_size > ((int64_t)1 << 32) / rows))
        return kp_op_fail(ctx, KP_ERANGE, "transposed convolution too large");
    float *col = NULL;
    if (rows && s.in_size) {
        col = ctx->scratch(ctx, (size_t)(rows * s.in_size) * sizeof *col);
        if (!col) return ctx->err->code;
    }
    const float *xd = x->data, *wd = w->data;
    for (int64_t i = 0; i < n && col && cg; i++)
        for (int64_t g = 0; g < group; g++) {
            const float *xg = xd + (i * c + g * cg) * s.in_size, *wg = wd + g * cg * rows;
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)rows, (int)s.in_size, (int)cg,
                        1.0f, wg, (int)rows, xg, (int)s.in_size, 0.0f, col, (int)s.in_size);
            col2im(col, mg, &s, y + (i * m + g * mg) * s.out_size);
        }
    add_bias(ctx, y, b ? b->data : NULL, n, m, s.out_size);
    return 0;
}

const kp_op_def kp_ops_conv[] = {
    {"", "Conv", conv_run},
    {"", "ConvTranspose", convt_run},
    {0},
};
