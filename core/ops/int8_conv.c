/* ConvInteger and QLinearConv (1-D and 2-D, groups, strides, pads, dilations, auto_pad) on the
 * int8 GEMM. Each image is moved to channels-last once, so a patch row is a few contiguous
 * copies; padding takes the input zero point, so padded taps contribute exactly zero. Weights
 * are reordered to (ky, kx, c) to match and packed once per plan (kp_i8_weights).
 * The fused ai.kompress:QConv may also take and give channels-last tensors (attributes
 * nhwc_in, nhwc_out: [N, H, W, C], set by the executor's int8 fusion between its int8 kernels),
 * which skips both transposes. */
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/ops/int8_ops.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define KP_X86 1
#endif

typedef struct cgeom {
    int64_t N, C, H, W, Cout, Cg, Coutg, kh, kw, sh, sw, dh, dw, pt, pl, OH, OW, group;
    int nhwc_in, nhwc_out;
} cgeom;

static int geometry(kp_op_ctx *ctx, const kp_tensor *x0, const kp_tensor *w, cgeom *g, int nhwc_in,
                    int nhwc_out) {
    memset(g, 0, sizeof *g);
    kp_tensor xv = *x0; /* dims as NCHW */
    const kp_tensor *x = &xv;
    if (nhwc_in || nhwc_out) {
        if (x0->rank != 4)
            return kp_op_fail(ctx, KP_EUNSUPPORTED, "channels-last needs a 2-D convolution");
        if (nhwc_in) {
            xv.dims[1] = x0->dims[3];
            xv.dims[2] = x0->dims[1];
            xv.dims[3] = x0->dims[2];
        }
    }
    g->nhwc_in = nhwc_in;
    g->nhwc_out = nhwc_out;
    if (x->rank != 3 && x->rank != 4)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "only 1-D and 2-D convolutions (input rank %d)",
                          x->rank);
    if (w->rank != x->rank) return kp_op_fail(ctx, KP_EFORMAT, "weight rank differs from input");
    int two = x->rank == 4;
    g->N = x->dims[0];
    g->C = x->dims[1];
    g->H = two ? x->dims[2] : 1;
    g->W = x->dims[x->rank - 1];
    g->Cout = w->dims[0];
    g->kh = two ? w->dims[2] : 1;
    g->kw = w->dims[w->rank - 1];
    g->group = kp_node_attr_int(ctx->node, "group", 1);
    if (g->group <= 0 || g->C % g->group || g->Cout % g->group || w->dims[1] != g->C / g->group)
        return kp_op_fail(ctx, KP_EFORMAT, "channels %lld/%lld do not fit group %lld (weight %lld)",
                          (long long)g->C, (long long)g->Cout, (long long)g->group,
                          (long long)w->dims[1]);
    g->Cg = g->C / g->group;
    g->Coutg = g->Cout / g->group;
    const int64_t *v;
    size_t n;
    int64_t s[2] = {1, 1}, d[2] = {1, 1}, p[4] = {0, 0, 0, 0};
    int ns = two ? 2 : 1;
    if ((n = kp_node_attr_ints(ctx->node, "strides", &v)) == (size_t)ns) memcpy(s, v, n * 8);
    if ((n = kp_node_attr_ints(ctx->node, "dilations", &v)) == (size_t)ns) memcpy(d, v, n * 8);
    if ((n = kp_node_attr_ints(ctx->node, "pads", &v)) == (size_t)(2 * ns)) memcpy(p, v, n * 8);
    if ((n = kp_node_attr_ints(ctx->node, "kernel_shape", &v)) == (size_t)ns) {
        if (v[0] != (two ? g->kh : g->kw) || (two && v[1] != g->kw))
            return kp_op_fail(ctx, KP_EFORMAT, "kernel_shape disagrees with the weight");
    }
    int64_t in[2] = {g->H, g->W}, k[2] = {g->kh, g->kw}, pb[2], pe[2], o[2];
    int64_t si[2] = {two ? s[0] : 1, two ? s[1] : s[0]},
            di[2] = {two ? d[0] : 1, two ? d[1] : d[0]};
    int64_t pbi[2] = {two ? p[0] : 0, two ? p[1] : p[0]},
            pei[2] = {two ? p[2] : 0, two ? p[3] : p[1]};
    const char *ap = kp_node_attr_string(ctx->node, "auto_pad", "NOTSET");
    for (int i = 0; i < 2; i++) {
        if (si[i] <= 0 || di[i] <= 0)
            return kp_op_fail(ctx, KP_EFORMAT, "strides and dilations must be positive");
        int64_t ext = (k[i] - 1) * di[i] + 1;
        if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            o[i] = (in[i] + si[i] - 1) / si[i];
            int64_t tot = (o[i] - 1) * si[i] + ext - in[i];
            if (tot < 0) tot = 0;
            pb[i] = !strcmp(ap, "SAME_UPPER") ? tot / 2 : tot - tot / 2;
            pe[i] = tot - pb[i];
        } else {
            pb[i] = !strcmp(ap, "VALID") ? 0 : pbi[i];
            pe[i] = !strcmp(ap, "VALID") ? 0 : pei[i];
            if (pb[i] < 0 || pe[i] < 0) return kp_op_fail(ctx, KP_EFORMAT, "negative pads");
            int64_t span = in[i] + pb[i] + pe[i] - ext;
            if (span < 0) return kp_op_fail(ctx, KP_EFORMAT, "kernel larger than padded input");
            o[i] = span / si[i] + 1;
        }
    }
    g->sh = si[0], g->sw = si[1], g->dh = di[0], g->dw = di[1];
    g->pt = pb[0], g->pl = pb[1], g->OH = o[0], g->OW = o[1];
    return 0;
}

/* acc for image n, group gi: [OH*OW, Coutg] int32. */
typedef struct conv_work {
    uint8_t *nhwc;        /* H*W*Cg */
    int32_t *acc;         /* OH*OW*Coutg */
    kp_i8_rows rows;      /* patches */
    uint8_t *pad;         /* direct path: the zero-point padded image, channels-last, unsigned */
    const uint8_t **rowp; /* direct path: where each output pixel's window starts in pad */
} conv_work;

static void work_free(conv_work *w) {
    free(w->nhwc);
    free(w->acc);
    free(w->pad);
    free((void *)w->rowp);
    kp_i8_rows_free(&w->rows);
}

typedef struct conv_pack {
    const int8_t *w; /* this group's weights as stored: [co][c][ky][kx] */
    const cgeom *g;
    int64_t K;   /* packed row length: kh * kwp * Cg */
    int64_t kwp; /* kernel width as packed: kw, or more with zero taps for the direct path */
    int ws;
    const uint8_t *zw;
    size_t nzw;
} conv_pack;

/* Weights reordered to [co][ky][kx][c] (the patch order; kx < kwp, taps beyond kw zero),
 * then packed. */
static int pack_conv(void *user, kp_i8_packed *out, kp_error *err) {
    conv_pack *p = user;
    const cgeom *g = p->g;
    int64_t K = p->K, T = g->kh * g->kw, K0 = g->Cg * T;
    int8_t *wre = calloc((size_t)(g->Coutg * K) + 1, 1);
    if (!wre) return kp_error_set(err, KP_ENOMEM, "out of memory packing int8 weights");
    for (int64_t co = 0; co < g->Coutg; co++)
        for (int64_t c = 0; c < g->Cg; c++)
            for (int64_t ky = 0; ky < g->kh; ky++)
                for (int64_t kx = 0; kx < g->kw; kx++)
                    wre[co * K + (ky * p->kwp + kx) * g->Cg + c] =
                        p->w[co * K0 + c * T + ky * g->kw + kx];
    int rc = kp_i8_pack(wre, p->ws, 1, K, g->Coutg, K, p->zw, p->nzw, out, err);
    free(wre);
    return rc;
}

/* Runs the integer convolution of every image and group, handing each accumulator block to
 * emit(). zx: raw input zero point byte; wz: weight zero points (NULL, 1 or Cout values);
 * w_in: which node inputs w and wz are (bits, for kp_i8_weights). */
typedef void (*emit_fn)(void *user, int64_t n, int64_t gi, const int32_t *acc, const cgeom *g);

static int conv_int(kp_op_ctx *ctx, const kp_tensor *x, const kp_tensor *w, const kp_tensor *xz,
                    const kp_tensor *wz, uint32_t w_in, const cgeom *g, emit_fn emit, void *user) {
    if (!kp_q_is_8bit(x->dtype) || !kp_q_is_8bit(w->dtype))
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "operands %s x %s: only 8-bit integers",
                          kp_dtype_name(x->dtype), kp_dtype_name(w->dtype));
    if (xz && (xz->dtype != x->dtype || xz->numel != 1))
        return kp_op_fail(ctx, KP_EFORMAT, "input zero point must be one %s value",
                          kp_dtype_name(x->dtype));
    if (wz && (wz->dtype != w->dtype || (wz->numel != 1 && wz->numel != g->Cout)))
        return kp_op_fail(ctx, KP_EFORMAT, "weight zero point must be %s with 1 or %lld values",
                          kp_dtype_name(w->dtype), (long long)g->Cout);
    int64_t K = g->Cg * g->kh * g->kw, M = g->OH * g->OW, HW = g->H * g->W;
    if (M == 0 || g->N == 0 || g->Cout == 0) return 0;
    uint8_t zx = xz ? *(const uint8_t *)xz->data : 0;
    int xs = x->dtype == KP_INT8, ws = w->dtype == KP_INT8;
    /* direct path (no im2col, AVX-512 VNNI): each kernel row of a window is kwp*Cg contiguous
     * bytes of a padded channels-last image, read in place by the GEMM; kwp >= kw makes that a
     * whole number of quads (extra taps have zero weights). Weights must have zero points 0. */
    int64_t kwp = g->kw;
    while ((kwp * g->Cg) % 4) kwp++;
    int direct = g->dw == 1 && ws && !strcmp(kp_cpu_int8_path(), "avx512-vnni");
    for (int64_t i = 0; direct && wz && i < wz->numel; i++) direct = !((const int8_t *)wz->data)[i];
    if (!direct) kwp = g->kw;
    int64_t Kp = g->kh * kwp * g->Cg;
    conv_work wk = {0};
    wk.nhwc = malloc((size_t)(HW * g->Cg) + 1);
    wk.acc = malloc((size_t)(M * g->Coutg) * sizeof(int32_t) + 4);
    int rc = 0;
    if (!wk.nhwc || !wk.acc) {
        rc = kp_op_fail(ctx, KP_ENOMEM, "out of memory");
        goto done;
    }
    if (K == 0 || HW == 0) {
        /* Empty W or X (data may be NULL): every sum is over nothing or over zero-point
         * padding only, so every accumulator is 0. */
        memset(wk.acc, 0, (size_t)(M * g->Coutg) * sizeof(int32_t));
        for (int64_t gi = 0; gi < g->group; gi++)
            for (int64_t n = 0; n < g->N; n++) emit(user, n, gi, wk.acc, g);
        goto done;
    }
    for (int64_t gi = 0; gi < g->group && !rc; gi++) {
        size_t nzw = wz ? (size_t)wz->numel : 0;
        const uint8_t *zwp = wz ? (const uint8_t *)wz->data + (nzw > 1 ? gi * g->Coutg : 0) : NULL;
        conv_pack pk = {(const int8_t *)w->data + gi * g->Coutg * K,
                        g,
                        Kp,
                        kwp,
                        ws,
                        zwp,
                        nzw > 1 ? (size_t)g->Coutg : nzw};
        kp_i8_want want = {w_in, (size_t)gi, (size_t)g->group, kwp, pk.w, (size_t)(g->Coutg * K),
                           zwp,  pk.nzw,     pack_conv,        &pk};
        const kp_i8_packed *p = kp_i8_weights(ctx, &want);
        if (!p) {
            rc = ctx->err->code ? ctx->err->code : KP_ENOMEM;
            break;
        }
        int64_t Hp = (g->OH - 1) * g->sh + (g->kh - 1) * g->dh + 1;
        int64_t Wp = (g->OW - 1) * g->sw + kwp;
        if (direct && !wk.pad) {
            wk.pad = malloc((size_t)(Hp * Wp * g->Cg) + 1);
            wk.rowp = malloc((size_t)M * sizeof *wk.rowp);
            if (!wk.pad || !wk.rowp) {
                rc = kp_op_fail(ctx, KP_ENOMEM, "out of memory");
                break;
            }
        }
        for (int64_t n = 0; n < g->N && !rc; n++) {
            const uint8_t *pix = wk.nhwc;
            if (g->nhwc_in && g->group == 1) {
                pix = (const uint8_t *)x->data + n * HW * g->C;
            } else if (g->nhwc_in) {
                const uint8_t *src = (const uint8_t *)x->data + n * HW * g->C + gi * g->Cg;
                for (int64_t i = 0; i < HW; i++)
                    memcpy(wk.nhwc + i * g->Cg, src + i * g->C, (size_t)g->Cg);
            } else {
                const uint8_t *src = (const uint8_t *)x->data + (n * g->C + gi * g->Cg) * HW;
                kp_u8_transpose(src, g->Cg, HW, wk.nhwc);
            }
            if (direct) {
                uint8_t fill = (uint8_t)(zx ^ (xs ? 0x80 : 0));
                memset(wk.pad, fill, (size_t)(Hp * Wp * g->Cg));
                int64_t ncol = g->W < Wp - g->pl ? g->W : Wp - g->pl;
                for (int64_t iy = 0; iy < g->H && iy + g->pt < Hp && ncol > 0; iy++) {
                    uint8_t *d = wk.pad + ((iy + g->pt) * Wp + g->pl) * g->Cg;
                    const uint8_t *sp = pix + iy * g->W * g->Cg;
                    if (xs)
                        for (int64_t b = 0; b < ncol * g->Cg; b++) d[b] = sp[b] ^ 0x80;
                    else
                        memcpy(d, sp, (size_t)(ncol * g->Cg));
                }
                for (int64_t oy = 0; oy < g->OH; oy++)
                    for (int64_t ox = 0; ox < g->OW; ox++)
                        wk.rowp[oy * g->OW + ox] = wk.pad + (oy * g->sh * Wp + ox * g->sw) * g->Cg;
                int32_t za = (xs ? (int32_t)(int8_t)zx + 128 : (int32_t)zx);
                if (!kp_i8_gemm_segments(wk.rowp, M, g->kh, kwp * g->Cg, g->dh * Wp * g->Cg, za, p,
                                         wk.acc, g->Coutg)) {
                    rc = kp_op_fail(ctx, KP_EINVAL, "int8 conv: direct path refused its rows");
                    break;
                }
                emit(user, n, gi, wk.acc, g);
                continue;
            }
            uint8_t *rowbuf;
            rc = kp_i8_rows_reserve(&wk.rows, M, K, &rowbuf, ctx->err);
            if (rc) break;
            int64_t lda = wk.rows.kq * 4, run = g->kw * g->Cg;
            for (int64_t oy = 0; oy < g->OH; oy++)
                for (int64_t ox = 0; ox < g->OW; ox++) {
                    uint8_t *row = rowbuf + (oy * g->OW + ox) * lda;
                    int64_t ix0 = ox * g->sw - g->pl;
                    int inside_x = ix0 >= 0 && ix0 + (g->kw - 1) * g->dw < g->W && g->dw == 1;
                    for (int64_t ky = 0; ky < g->kh; ky++) {
                        int64_t iy = oy * g->sh - g->pt + ky * g->dh;
                        uint8_t *dst = row + ky * run;
                        if (iy < 0 || iy >= g->H) {
                            memset(dst, zx, (size_t)run);
                            continue;
                        }
                        const uint8_t *srow = pix + iy * g->W * g->Cg;
                        if (inside_x) { /* the whole kernel row is contiguous in NHWC */
                            const uint8_t *sp = srow + ix0 * g->Cg;
                            if (run <= 8) /* a few bytes (single-channel input): no call */
                                for (int64_t b = 0; b < run; b++) dst[b] = sp[b];
                            else
                                memcpy(dst, sp, (size_t)run);
                            continue;
                        }
                        for (int64_t kx = 0; kx < g->kw; kx++) {
                            int64_t ix = ix0 + kx * g->dw;
                            uint8_t *d = dst + kx * g->Cg;
                            if (ix < 0 || ix >= g->W)
                                memset(d, zx, (size_t)g->Cg);
                            else if (g->Cg == 1)
                                *d = srow[ix];
                            else
                                memcpy(d, srow + ix * g->Cg, (size_t)g->Cg);
                        }
                    }
                }
            wk.rows.no_row_sum = !p->any_zb;
            kp_i8_rows_finish(&wk.rows, K, xs, xz ? xz->data : NULL, xz ? 1 : 0);
            kp_i8_gemm(&wk.rows, p, wk.acc, g->Coutg, NULL);
            emit(user, n, gi, wk.acc, g);
        }
    }
done:
    work_free(&wk);
    return rc;
}

static void emit_int32(void *user, int64_t n, int64_t gi, const int32_t *acc, const cgeom *g) {
    int32_t *y = user;
    int64_t M = g->OH * g->OW;
    for (int64_t co = 0; co < g->Coutg; co++) {
        int32_t *dst = y + (n * g->Cout + gi * g->Coutg + co) * M;
        for (int64_t i = 0; i < M; i++) dst[i] = acc[i * g->Coutg + co];
    }
}

static int out_dims(const kp_tensor *x, const cgeom *g, int64_t *d) {
    d[0] = g->N;
    if (g->nhwc_out) {
        d[1] = g->OH;
        d[2] = g->OW;
        d[3] = g->Cout;
        return 4;
    }
    d[1] = g->Cout;
    if (x->rank == 4) {
        d[2] = g->OH;
        d[3] = g->OW;
    } else
        d[2] = g->OW;
    return x->rank;
}

int kp_op_ConvInteger(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0), *w = kp_op_input(ctx, 1);
    if (!x || !w) return kp_op_fail(ctx, KP_EFORMAT, "needs inputs x and w");
    cgeom g;
    int rc = geometry(ctx, x, w, &g, 0, 0);
    if (rc) return rc;
    int64_t d[4];
    int r = out_dims(x, &g, d);
    kp_tensor *y = kp_op_output(ctx, 0, KP_INT32, r, d);
    if (!y) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    const kp_tensor *wz = kp_op_input(ctx, 3);
    return conv_int(ctx, x, w, kp_op_input(ctx, 2), wz, (1u << 1) | (wz ? 1u << 3 : 0), &g,
                    emit_int32, y->data);
}

typedef struct qemit {
    void *y;
    int mode; /* 0 uint8, 1 int8, 2 float (dequantized output) */
    const float *mult;
    const int32_t *bias;
    int32_t zy;
    int relu;
    uint8_t *tmp; /* OH*OW*Coutg bytes */
} qemit;

static void emit_q(void *user, int64_t n, int64_t gi, const int32_t *acc, const cgeom *g) {
    qemit *q = user;
    int64_t M = g->OH * g->OW, C = g->Coutg, c0 = gi * g->Coutg;
    int32_t lo = q->mode == 0 ? 0 : -128, hi = q->mode == 0 ? 255 : 127;
    if (q->relu && q->zy > lo) lo = q->zy; /* Relu before quantizing = clamp at the zero point */
    if (q->mode != 2 && g->nhwc_out) {     /* requantized pixel rows straight into [N,OH,OW,C] */
        kp_i8_requant_rows(acc, M, C, C, q->bias ? q->bias + c0 : NULL, q->mult + c0, q->zy, lo, hi,
                           q->mode == 0, (uint8_t *)q->y + n * M * g->Cout + c0, g->Cout);
        return;
    }
    if (q->mode != 2) {
        /* requantize pixel rows (contiguous, vectorized), then transpose bytes to NCHW */
        kp_i8_requant_rows(acc, M, C, C, q->bias ? q->bias + c0 : NULL, q->mult + c0, q->zy, lo, hi,
                           q->mode == 0, q->tmp, C);
        kp_u8_transpose(q->tmp, M, C, (uint8_t *)q->y + (n * g->Cout + c0) * M);
        return;
    }
    for (int64_t c = 0; c < C; c++) {
        int64_t co = c0 + c;
        float mult = q->mult[co];
        int32_t b = q->bias ? q->bias[co] : 0;
        float *dst = (float *)q->y + (g->nhwc_out ? n * M * g->Cout + co : (n * g->Cout + co) * M);
        int64_t step = g->nhwc_out ? g->Cout : 1;
        for (int64_t i = 0; i < M; i++) {
            float v = (float)(acc[i * C + c] + b) * mult;
            dst[i * step] = q->relu && v < 0.f ? 0.f : v;
        }
    }
}

/* QLinearConv and the executor's fused ai.kompress:QConv (same inputs; y_scale absent = float
 * output; attribute relu = 1 clamps at zero). */
static int qconv(kp_op_ctx *ctx, int fused) {
    const kp_tensor *x = kp_op_input(ctx, 0), *sx = kp_op_input(ctx, 1), *zx = kp_op_input(ctx, 2);
    const kp_tensor *w = kp_op_input(ctx, 3), *sw = kp_op_input(ctx, 4), *zw = kp_op_input(ctx, 5);
    const kp_tensor *sy = kp_op_input(ctx, 6), *zy = kp_op_input(ctx, 7), *b = kp_op_input(ctx, 8);
    if (!x || !sx || !w || !sw || (!sy && !fused))
        return kp_op_fail(ctx, KP_EFORMAT, "needs x, x_scale, w, w_scale and y_scale");
    cgeom g;
    int rc = geometry(ctx, x, w, &g, fused ? (int)kp_node_attr_int(ctx->node, "nhwc_in", 0) : 0,
                      fused ? (int)kp_node_attr_int(ctx->node, "nhwc_out", 0) : 0);
    if (rc) return rc;
    if (sx->numel != 1 || (sy && sy->numel != 1))
        return kp_op_fail(ctx, KP_EFORMAT, "x_scale and y_scale must be scalars");
    if (sw->numel != 1 && sw->numel != g.Cout)
        return kp_op_fail(ctx, KP_EFORMAT, "w_scale must have 1 or %lld values", (long long)g.Cout);
    if (b && (b->dtype != KP_INT32 || b->numel != g.Cout))
        return kp_op_fail(ctx, KP_EFORMAT, "bias must be int32 with %lld values",
                          (long long)g.Cout);
    kp_dtype yt = !sy ? KP_FLOAT : zy ? zy->dtype : x->dtype;
    if (yt != KP_FLOAT && !kp_q_is_8bit(yt))
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "output type %s", kp_dtype_name(yt));
    int64_t d[4];
    int r = out_dims(x, &g, d);
    kp_tensor *y = kp_op_output(ctx, 0, yt, r, d);
    if (!y) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    float *mult = malloc((size_t)(g.Cout ? g.Cout : 1) * sizeof *mult);
    if (!mult) return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
    float ys = sy ? kp_q_scale(sy, 0) : 1.f;
    for (int64_t c = 0; c < g.Cout; c++) mult[c] = kp_q_scale(sx, 0) * kp_q_scale(sw, c) / ys;
    qemit q = {y->data,
               yt == KP_UINT8  ? 0
               : yt == KP_INT8 ? 1
                               : 2,
               mult,
               b ? b->data : NULL,
               kp_q_zp(zy, 0),
               fused ? (int)kp_node_attr_int(ctx->node, "relu", 0) : 0,
               malloc((size_t)(g.OH * g.OW * g.Coutg) + 1)};
    rc = q.tmp ? conv_int(ctx, x, w, zx, zw, (1u << 3) | (zw ? 1u << 5 : 0), &g, emit_q, &q)
               : kp_op_fail(ctx, KP_ENOMEM, "out of memory");
    free(q.tmp);
    free(mult);
    return rc;
}

int kp_op_KQConv(kp_op_ctx *ctx) {
    return qconv(ctx, 1);
}

int kp_op_QLinearConv(kp_op_ctx *ctx) {
    return qconv(ctx, 0);
}

/* ai.kompress:DynQConv, the executor's fusion of quant-dynamic's convolution pattern
 *   DynamicQuantizeLinear(x) -> ConvInteger(., w, ., w_zero) -> Cast(float)
 *   -> Mul(., Mul(x_scale, w_scale)) [-> Add(., bias)]
 * Inputs: x (float NCHW), w (int8), w_zero (optional, zero), w_scale (one or Cout floats along
 * the channel axis), bias (optional, Cout floats along the channel axis); Conv attributes. Same
 * float steps in the same order as the unfused ops, so the same bytes. */
typedef struct dyn_emit {
    float *y;
    const float *sc;   /* x_scale * w_scale per output channel */
    const float *bias; /* NULL or per output channel */
} dyn_emit;

/* acc is pixel-major ([M][C]), the output channel-major. One channel of pixels [i0, i1):
 * dst[i] = (float)a[i * C] * s (+ b), in blocks of 64 pixels (64 * C int32 of acc, in L1). */
static void dyn_channel(const int32_t *a, int64_t C, int64_t i0, int64_t i1, float s,
                        const float *b, float *dst) {
    if (b)
        for (int64_t i = i0; i < i1; i++) dst[i] = (float)a[i * C] * s + *b;
    else
        for (int64_t i = i0; i < i1; i++) dst[i] = (float)a[i * C] * s;
}

#ifdef KP_X86
/* 16 pixels x up to 16 channels (cn) at once: each pixel's channels are contiguous in acc, so
 * load, convert and scale them as rows, transpose the 16 x 16 block in registers and store one
 * row of 16 pixels per channel. The float steps are the scalar ones, lane by lane. */
__attribute__((target("avx512f"))) static void dyn_block512(const int32_t *acc, int64_t C,
                                                            int64_t i0, int64_t c0, int cn,
                                                            const float *sc, const float *bias,
                                                            float *y, int64_t M) {
    __mmask16 mk = (__mmask16)((1u << cn) - 1);
    __m512 vs = _mm512_maskz_loadu_ps(mk, sc + c0);
    __m512 vb = _mm512_maskz_loadu_ps(mk, bias ? bias + c0 : sc + c0);
    __m512 r[16], u[16], col[16];
    for (int p = 0; p < 16; p++) {
        __m512 f = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(mk, acc + (i0 + p) * C + c0));
        f = _mm512_mul_ps(f, vs);
        r[p] = bias ? _mm512_add_ps(f, vb) : f;
    }
    for (int a = 0; a < 4; a++) { /* rows 4a..4a+3 -> u[4a + j]: column 4k + j in lane k */
        __m512 t0 = _mm512_unpacklo_ps(r[4 * a], r[4 * a + 1]);
        __m512 t1 = _mm512_unpackhi_ps(r[4 * a], r[4 * a + 1]);
        __m512 t2 = _mm512_unpacklo_ps(r[4 * a + 2], r[4 * a + 3]);
        __m512 t3 = _mm512_unpackhi_ps(r[4 * a + 2], r[4 * a + 3]);
        u[4 * a] = _mm512_shuffle_ps(t0, t2, 0x44);
        u[4 * a + 1] = _mm512_shuffle_ps(t0, t2, 0xEE);
        u[4 * a + 2] = _mm512_shuffle_ps(t1, t3, 0x44);
        u[4 * a + 3] = _mm512_shuffle_ps(t1, t3, 0xEE);
    }
    for (int j = 0; j < 4; j++) { /* gather the 128-bit lanes of the four row groups */
        __m512 v = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88);
        __m512 v2 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xDD);
        __m512 x = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
        __m512 x2 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xDD);
        col[j] = _mm512_shuffle_f32x4(v, x, 0x88);
        col[8 + j] = _mm512_shuffle_f32x4(v, x, 0xDD);
        col[4 + j] = _mm512_shuffle_f32x4(v2, x2, 0x88);
        col[12 + j] = _mm512_shuffle_f32x4(v2, x2, 0xDD);
    }
    for (int c = 0; c < cn; c++) _mm512_storeu_ps(y + (c0 + c) * M + i0, col[c]);
}
#endif

/* acc is pixel-major ([M][C]), the output channel-major: blocks of 64 pixels (64 * C int32 of
 * acc, in L1) are written out channel by channel, rather than one strided pass over all of acc
 * per channel. */
static void emit_dyn(void *user, int64_t n, int64_t gi, const int32_t *acc, const cgeom *g) {
    dyn_emit *d = user;
    int64_t M = g->OH * g->OW, C = g->Coutg, i0 = 0;
    float *y = d->y + (n * g->Cout + gi * C) * M;
    const float *sc = d->sc + gi * C, *bias = d->bias ? d->bias + gi * C : NULL;
#ifdef KP_X86
    if (kp_cpu()->avx512f)
        for (; i0 + 16 <= M; i0 += 16)
            for (int64_t c0 = 0; c0 < C; c0 += 16)
                dyn_block512(acc, C, i0, c0, C - c0 < 16 ? (int)(C - c0) : 16, sc, bias, y, M);
#endif
    for (; i0 < M; i0 += 64) {
        int64_t i1 = M - i0 > 64 ? i0 + 64 : M;
        for (int64_t c = 0; c < C; c++)
            dyn_channel(acc + c, C, i0, i1, sc[c], bias ? bias + c : NULL, y + c * M);
    }
}

int kp_op_KDynQConv(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0), *w = kp_op_input(ctx, 1), *wz = kp_op_input(ctx, 2);
    const kp_tensor *ws = kp_op_input(ctx, 3), *bias = kp_op_input(ctx, 4);
    if (!x || x->dtype != KP_FLOAT || !w)
        return kp_op_fail(ctx, KP_EFORMAT, "needs a float input and 8-bit weights");
    if (!kp_q_is_8bit(w->dtype)) return kp_op_fail(ctx, KP_EFORMAT, "weights must be 8-bit");
    cgeom g;
    int rc = geometry(ctx, x, w, &g, 0, 0);
    if (rc) return rc;
    if (!ws || ws->dtype != KP_FLOAT || (ws->numel != 1 && ws->numel != g.Cout))
        return kp_op_fail(ctx, KP_EFORMAT, "w_scale must be 1 or %lld floats", (long long)g.Cout);
    if (bias && (bias->dtype != KP_FLOAT || bias->numel != g.Cout))
        return kp_op_fail(ctx, KP_EFORMAT, "bias must be %lld floats", (long long)g.Cout);
    int64_t d[4];
    int r = out_dims(x, &g, d);
    kp_tensor *y = kp_op_output(ctx, 0, KP_FLOAT, r, d);
    if (!y) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    kp_tensor *xq = kp_tensor_new(KP_UINT8, x->rank, x->dims, ctx->err);
    float *sc = malloc((size_t)(g.Cout + 1) * sizeof *sc);
    int64_t one = 1;
    kp_tensor *xz = kp_tensor_new(KP_UINT8, 0, &one, ctx->err);
    if (!xq || !sc || !xz) {
        kp_tensor_free(xq);
        kp_tensor_free(xz);
        free(sc);
        return ctx->err->code ? ctx->err->code : kp_op_fail(ctx, KP_ENOMEM, "out of memory");
    }
    float xs;
    kp_q_dynamic_u8(x->data, x->numel, xq->data, &xs, (uint8_t *)xz->data, 0);
    for (int64_t c = 0; c < g.Cout; c++) sc[c] = xs * kp_q_scale(ws, c);
    dyn_emit de = {y->data, sc, bias ? bias->data : NULL};
    rc = conv_int(ctx, xq, w, xz, wz, (1u << 1) | (wz ? 1u << 2 : 0), &g, emit_dyn, &de);
    kp_tensor_free(xq);
    kp_tensor_free(xz);
    free(sc);
    return rc;
}
