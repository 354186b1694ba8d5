/* Signal ops (opset 17): HannWindow, HammingWindow, BlackmanWindow (periodic or symmetric,
 * output_datatype), DFT (real or complex input, axis, inverse, onesided, dft_length) and STFT
 * (frame_step, window, frame_length, onesided), MelWeightMatrix. Direct O(n^2) transforms in
 * double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops/args.h"
#include "core/ops/elem.h"
#include "core/ops/extra.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static int window(kp_op_ctx *ctx, double a0, double a1, double a2) {
    int64_t n;
    int rc = kp_args_scalar_i(ctx, kp_op_input(ctx, 0), "size", &n);
    if (rc) return rc;
    if (n < 0 || n > KP_MAX_NUMEL) return kp_op_fail(ctx, KP_EINVAL, "size %lld", (long long)n);
    kp_dtype dt = (kp_dtype)kp_node_attr_int(ctx->node, "output_datatype", KP_FLOAT);
    if (!kp_dtype_valid((int)dt) || kp_elem_kind_of(dt) == KP_EK_NONE)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "output_datatype %d", (int)dt);
    int periodic = (int)kp_node_attr_int(ctx->node, "periodic", 1);
    kp_tensor *o = kp_op_output(ctx, 0, dt, 1, &n);
    if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    double den = periodic ? (double)n : (double)(n - 1);
    for (int64_t i = 0; i < n; i++) {
        double t = den > 0 ? 2 * M_PI * (double)i / den : 0;
        kp_elem_setd(o->data, dt, i, a0 - a1 * cos(t) + a2 * cos(2 * t));
    }
    return 0;
}

int kp_op_hann_window(kp_op_ctx *ctx) {
    return window(ctx, 0.5, 0.5, 0);
}
int kp_op_hamming_window(kp_op_ctx *ctx) {
    return window(ctx, 25.0 / 46, 21.0 / 46, 0);
}
int kp_op_blackman_window(kp_op_ctx *ctx) {
    return window(ctx, 0.42, 0.5, 0.08);
}

/* out[k] = sum_j in[j] * e^(sign 2 pi i j k / n) for k < nout; in has `len` valid samples
 * (zero beyond), each (re, im) or re only when `complex_in` is 0; strides in elements. */
static void dft_line(const kp_tensor *x, int64_t xbase, int64_t xstride, int complex_in,
                     int64_t len, int64_t n, int64_t nout, double sign, double scale, kp_tensor *o,
                     int64_t obase, int64_t ostride, const double *win) {
    for (int64_t k = 0; k < nout; k++) {
        double re = 0, im = 0;
        for (int64_t j = 0; j < len && j < n; j++) {
            double xr = kp_elem_getd(x->data, x->dtype, xbase + j * xstride);
            double xi = complex_in ? kp_elem_getd(x->data, x->dtype, xbase + j * xstride + 1) : 0;
            if (win) xr *= win[j], xi *= win[j];
            double ang = sign * 2 * M_PI * (double)((j * k) % n) / (double)n;
            double c = cos(ang), s = sin(ang);
            re += xr * c - xi * s;
            im += xr * s + xi * c;
        }
        kp_elem_setd(o->data, o->dtype, obase + k * ostride, re * scale);
        kp_elem_setd(o->data, o->dtype, obase + k * ostride + 1, im * scale);
    }
}

int kp_op_dft(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x || kp_elem_kind_of(x->dtype) != KP_EK_FLOAT)
        return kp_op_fail(ctx, KP_EINVAL, "needs a floating-point input");
    if (x->rank < 2 || (x->dims[x->rank - 1] != 1 && x->dims[x->rank - 1] != 2))
        return kp_op_fail(ctx, KP_EINVAL, "last dim must be 1 (real) or 2 (complex)");
    int64_t ax = kp_node_attr_int(ctx->node, "axis", 1);
    int axis, rc;
    if ((rc = kp_args_axis(ctx, ax, x->rank - 1, &axis))) return rc;
    int inverse = (int)kp_node_attr_int(ctx->node, "inverse", 0);
    int onesided = (int)kp_node_attr_int(ctx->node, "onesided", 0);
    int64_t len = x->dims[axis], n = len;
    if (kp_op_input(ctx, 1)) {
        if ((rc = kp_args_scalar_i(ctx, kp_op_input(ctx, 1), "dft_length", &n))) return rc;
        if (n < 1 || n > (1 << 24))
            return kp_op_fail(ctx, KP_EINVAL, "dft_length %lld", (long long)n);
    }
    if (onesided && inverse) return kp_op_fail(ctx, KP_EUNSUPPORTED, "onesided inverse DFT");
    int64_t nout = onesided ? n / 2 + 1 : n;
    int64_t od[KP_MAX_RANK];
    memcpy(od, x->dims, sizeof od);
    od[axis] = nout;
    od[x->rank - 1] = 2;
    kp_tensor *o = kp_op_output(ctx, 0, x->dtype, x->rank, od);
    if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    int cplx = x->dims[x->rank - 1] == 2;
    int64_t xs[KP_MAX_RANK], os[KP_MAX_RANK], idx[KP_MAX_RANK] = {0};
    kp_args_strides(x->rank, x->dims, xs);
    kp_args_strides(x->rank, od, os);
    int64_t lines = 1;
    for (int d = 0; d < x->rank - 1; d++)
        if (d != axis) lines *= x->dims[d];
    for (int64_t l = 0; l < lines; l++) {
        int64_t xb = 0, ob = 0;
        for (int d = 0; d < x->rank - 1; d++)
            if (d != axis) xb += idx[d] * xs[d], ob += idx[d] * os[d];
        dft_line(x, xb, xs[axis], cplx, len, n, nout, inverse ? 1 : -1,
                 inverse ? 1.0 / (double)n : 1, o, ob, os[axis], NULL);
        for (int d = x->rank - 2; d >= 0; d--) {
            if (d == axis) continue;
            if (++idx[d] < x->dims[d]) break;
            idx[d] = 0;
        }
    }
    return 0;
}

int kp_op_stft(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0), *win = kp_op_input(ctx, 2);
    if (!x || kp_elem_kind_of(x->dtype) != KP_EK_FLOAT || x->rank != 3 ||
        (x->dims[2] != 1 && x->dims[2] != 2))
        return kp_op_fail(ctx, KP_EINVAL, "signal must be [batch, length, 1 or 2], floating");
    int64_t step, flen = -1;
    int rc = kp_args_scalar_i(ctx, kp_op_input(ctx, 1), "frame_step", &step);
    if (rc) return rc;
    if (kp_op_input(ctx, 3) &&
        (rc = kp_args_scalar_i(ctx, kp_op_input(ctx, 3), "frame_length", &flen)))
        return rc;
    if (win) {
        if (win->rank != 1) return kp_op_fail(ctx, KP_EINVAL, "window must be 1-D");
        if (flen < 0) flen = win->dims[0];
        if (flen != win->dims[0])
            return kp_op_fail(ctx, KP_EINVAL, "window length differs from frame_length");
    }
    int64_t len = x->dims[1];
    if (flen < 1 || flen > len || step < 1)
        return kp_op_fail(ctx, KP_EINVAL, "frame_length %lld / frame_step %lld invalid",
                          (long long)flen, (long long)step);
    int onesided = (int)kp_node_attr_int(ctx->node, "onesided", 1);
    int64_t frames = (len - flen) / step + 1, bins = onesided ? flen / 2 + 1 : flen;
    int64_t od[4] = {x->dims[0], frames, bins, 2};
    kp_tensor *o = kp_op_output(ctx, 0, x->dtype, 4, od);
    if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    double *w = NULL;
    if (win) {
        w = malloc((size_t)flen * sizeof *w);
        if (!w) return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
        for (int64_t j = 0; j < flen; j++) w[j] = kp_elem_getd(win->data, win->dtype, j);
    }
    int cplx = x->dims[2] == 2;
    for (int64_t b = 0; b < x->dims[0]; b++)
        for (int64_t f = 0; f < frames; f++)
            dft_line(x, (b * len + f * step) * x->dims[2], x->dims[2], cplx, flen, flen, bins, -1,
                     1, o, ((b * frames + f) * bins) * 2, 2, w);
    free(w);
    return 0;
}

/* MelWeightMatrix: [dft_length / 2 + 1, num_mel_bins] triangular filters whose edges are
 * num_mel_bins + 2 points evenly spaced on the mel scale (mel = 2595 log10(1 + hz / 700))
 * from lower_edge_hertz, mapped to (integer) spectrogram bins. */
int kp_op_mel_weight_matrix(kp_op_ctx *ctx) {
    int64_t nmel, dftl, rate;
    double lo, hi;
    int rc;
    if ((rc = kp_args_scalar_i(ctx, kp_op_input(ctx, 0), "num_mel_bins", &nmel)) ||
        (rc = kp_args_scalar_i(ctx, kp_op_input(ctx, 1), "dft_length", &dftl)) ||
        (rc = kp_args_scalar_i(ctx, kp_op_input(ctx, 2), "sample_rate", &rate)) ||
        (rc = kp_args_scalar_d(ctx, kp_op_input(ctx, 3), "lower_edge_hertz", &lo)) ||
        (rc = kp_args_scalar_d(ctx, kp_op_input(ctx, 4), "upper_edge_hertz", &hi)))
        return rc;
    if (nmel < 1 || nmel > 65536 || dftl < 1 || dftl > (1 << 24) || rate < 1 || !(lo >= 0) ||
        !(hi > lo))
        return kp_op_fail(ctx, KP_EINVAL, "invalid mel parameters");
    kp_dtype dt = (kp_dtype)kp_node_attr_int(ctx->node, "output_datatype", KP_FLOAT);
    if (!kp_dtype_valid((int)dt) || kp_elem_kind_of(dt) == KP_EK_NONE)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "output_datatype %d", (int)dt);
    int64_t nbins = dftl / 2 + 1, od[2] = {nbins, nmel};
    kp_tensor *o = kp_op_output(ctx, 0, dt, 2, od);
    if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    int64_t *edge = malloc((size_t)(nmel + 2) * sizeof *edge);
    if (!edge) return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
    double mlo = 2595 * log10(1 + lo / 700), mhi = 2595 * log10(1 + hi / 700);
    /* ONNX (reference and ONNX Runtime) divides the mel range by num_mel_bins + 2, so the last
     * edge stops short of upper_edge_hertz; we follow it to produce the same matrix */
    double step = (mhi - mlo) / (double)(nmel + 2);
    for (int64_t i = 0; i < nmel + 2; i++) {
        double hz = 700 * (pow(10, ((double)i * step + mlo) / 2595) - 1);
        edge[i] = (int64_t)floor((double)(dftl + 1) * hz / (double)rate);
    }
    for (int64_t i = 0; i < o->numel; i++) kp_elem_setd(o->data, dt, i, 0);
    for (int64_t m = 0; m < nmel; m++) {
        int64_t l = edge[m], c = edge[m + 1], h = edge[m + 2];
        if (l < 0 || h >= nbins + 1 || c >= nbins) continue; /* outside the spectrogram */
        if (c == l)
            kp_elem_setd(o->data, dt, c * nmel + m, 1);
        else
            for (int64_t j = l; j <= c; j++)
                kp_elem_setd(o->data, dt, j * nmel + m, (double)(j - l) / (double)(c - l));
        for (int64_t j = c; j < h && h > c; j++)
            kp_elem_setd(o->data, dt, j * nmel + m, (double)(h - j) / (double)(h - c));
    }
    free(edge);
    return 0;
}
