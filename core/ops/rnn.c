/* Recurrent layers (float32): LSTM, GRU and RNN, all directions, both layouts (opset 14),
 * sequence_lens, initial states, peepholes, clip, input_forget, linear_before_reset and every
 * activation function the spec lists. The input projection X*W^T for all time steps is one
 * sgemm per direction; each step adds H*R^T (one sgemm) and applies the gates per batch row.
 * Rows whose sequence has ended keep their state and write zeros to Y. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/ops/ops.h"

typedef enum { RNN_PLAIN, RNN_GRU, RNN_LSTM } rnn_kind;

typedef struct act {
    int fn;
    float alpha, beta;
} act;

enum {
    A_SIGMOID,
    A_TANH,
    A_RELU,
    A_AFFINE,
    A_LEAKY,
    A_THRESH,
    A_STANH,
    A_HSIG,
    A_ELU,
    A_SSIGN,
    A_SPLUS
};

static float apply(const act *a, float x) {
    switch (a->fn) {
    case A_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case A_TANH: return tanhf(x);
    case A_RELU: return x > 0 ? x : 0;
    case A_AFFINE: return a->alpha * x + a->beta;
    case A_LEAKY: return x >= 0 ? x : a->alpha * x;
    case A_THRESH: return x > a->alpha ? x : 0;
    case A_STANH: return a->alpha * tanhf(a->beta * x);
    case A_HSIG: {
        float v = a->alpha * x + a->beta;
        return v < 0 ? 0 : v > 1 ? 1 : v;
    }
    case A_ELU: return x >= 0 ? x : a->alpha * (expf(x) - 1);
    case A_SSIGN: return x / (1 + fabsf(x));
    default: return log1pf(expf(x));
    }
}

static int parse_act(kp_op_ctx *ctx, const char *name, size_t pos, act *a) {
    static const struct {
        const char *name;
        int fn;
        float alpha, beta;
    } t[] = {{"sigmoid", A_SIGMOID, 0, 0},
             {"tanh", A_TANH, 0, 0},
             {"relu", A_RELU, 0, 0},
             {"affine", A_AFFINE, 1.0f, 0},
             {"leakyrelu", A_LEAKY, 0.01f, 0},
             {"thresholdedrelu", A_THRESH, 1.0f, 0},
             {"scaledtanh", A_STANH, 1.0f, 1.0f},
             {"hardsigmoid", A_HSIG, 0.2f, 0.5f},
             {"elu", A_ELU, 1.0f, 0},
             {"softsign", A_SSIGN, 0, 0},
             {"softplus", A_SPLUS, 0, 0}};
    char low[32];
    size_t i = 0;
    for (; name[i] && i < sizeof low - 1; i++)
        low[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    low[i] = 0;
    for (size_t k = 0; k < sizeof t / sizeof *t; k++)
        if (!strcmp(low, t[k].name)) {
            a->fn = t[k].fn;
            const float *al, *be;
            size_t na = kp_node_attr_floats(ctx->node, "activation_alpha", &al);
            size_t nb = kp_node_attr_floats(ctx->node, "activation_beta", &be);
            a->alpha = pos < na ? al[pos] : t[k].alpha;
            a->beta = pos < nb ? be[pos] : t[k].beta;
            return 0;
        }
    return kp_op_fail(ctx, KP_EUNSUPPORTED, "unknown activation '%s'", name);
}

static int need_float(kp_op_ctx *ctx, const kp_tensor *t, const char *what) {
    if (t && t->dtype != KP_FLOAT)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "input %s is %s; only float32 is supported", what,
                          kp_dtype_name(t->dtype));
    return 0;
}

static int check_shape(kp_op_ctx *ctx, const kp_tensor *t, const char *what, int rank,
                       const int64_t *dims) {
    if (!t) return 0;
    int ok = t->rank == rank;
    for (int i = 0; ok && i < rank; i++) ok = t->dims[i] == dims[i];
    if (!ok) {
        char a[128], b[128];
        return kp_op_fail(ctx, KP_EINVAL, "%s must be %s, got %s", what,
                          kp_shape_str(rank, dims, a, sizeof a),
                          kp_shape_str(t->rank, t->dims, b, sizeof b));
    }
    return 0;
}

static int rnn_run(kp_op_ctx *ctx, rnn_kind kind) {
    const kp_tensor *x = kp_op_input(ctx, 0), *w = kp_op_input(ctx, 1), *r = kp_op_input(ctx, 2);
    const kp_tensor *b = kp_op_input(ctx, 3), *sl = kp_op_input(ctx, 4);
    const kp_tensor *h0 = kp_op_input(ctx, 5);
    const kp_tensor *c0 = kind == RNN_LSTM ? kp_op_input(ctx, 6) : NULL;
    const kp_tensor *peep = kind == RNN_LSTM ? kp_op_input(ctx, 7) : NULL;
    int rc;
    if (!x || !w || !r) return kp_op_fail(ctx, KP_EINVAL, "inputs X, W and R are required");
    if ((rc = need_float(ctx, x, "X")) < 0 || (rc = need_float(ctx, w, "W")) < 0 ||
        (rc = need_float(ctx, r, "R")) < 0 || (rc = need_float(ctx, b, "B")) < 0 ||
        (rc = need_float(ctx, h0, "initial_h")) < 0 ||
        (rc = need_float(ctx, c0, "initial_c")) < 0 || (rc = need_float(ctx, peep, "P")) < 0)
        return rc;
    int layout = ctx->opset >= 14 ? (int)kp_node_attr_int(ctx->node, "layout", 0) : 0;
    if (x->rank != 3) return kp_op_fail(ctx, KP_EINVAL, "X must be 3-D, got rank %d", x->rank);
    int64_t seq = layout ? x->dims[1] : x->dims[0], batch = layout ? x->dims[0] : x->dims[1];
    int64_t in = x->dims[2];
    int gates = kind == RNN_LSTM ? 4 : kind == RNN_GRU ? 3 : 1;
    const char *dir = kp_node_attr_string(ctx->node, "direction", "forward");
    int ndir = !strcmp(dir, "bidirectional") ? 2 : 1, reverse_only = !strcmp(dir, "reverse");
    if (ndir == 1 && !reverse_only && strcmp(dir, "forward"))
        return kp_op_fail(ctx, KP_EINVAL, "unknown direction '%s'", dir);
    int64_t hid = kp_node_attr_int(ctx->node, "hidden_size", w->rank == 3 ? w->dims[1] / gates : 0);
    if (hid <= 0) return kp_op_fail(ctx, KP_EINVAL, "hidden_size must be positive");
    int64_t g = gates * hid;
    int64_t wd[3] = {ndir, g, in}, rd[3] = {ndir, g, hid}, bd[2] = {ndir, 2 * g};
    int64_t hd[3] = {layout ? batch : ndir, layout ? ndir : batch, hid}, pd[2] = {ndir, 3 * hid};
    int64_t sd[1] = {batch};
    if ((rc = check_shape(ctx, w, "W", 3, wd)) < 0 || (rc = check_shape(ctx, r, "R", 3, rd)) < 0 ||
        (rc = check_shape(ctx, b, "B", 2, bd)) < 0 ||
        (rc = check_shape(ctx, h0, "initial_h", 3, hd)) < 0 ||
        (rc = check_shape(ctx, c0, "initial_c", 3, hd)) < 0 ||
        (rc = check_shape(ctx, peep, "P", 2, pd)) < 0 ||
        (rc = check_shape(ctx, sl, "sequence_lens", 1, sd)) < 0)
        return rc;
    if (sl && sl->dtype != KP_INT32)
        return kp_op_fail(ctx, KP_EINVAL, "sequence_lens must be int32");
    float clip = kp_node_attr_float(ctx->node, "clip", 0.0f);
    int has_clip = kp_node_attr(ctx->node, "clip") != NULL;
    if (has_clip && !(clip > 0)) return kp_op_fail(ctx, KP_EINVAL, "clip must be positive");
    int input_forget = kind == RNN_LSTM && kp_node_attr_int(ctx->node, "input_forget", 0);
    int lbr = kind == RNN_GRU && kp_node_attr_int(ctx->node, "linear_before_reset", 0);
    /* Activations: per direction f (gates), g (candidate), h (output, LSTM). */
    int nact = kind == RNN_LSTM ? 3 : kind == RNN_GRU ? 2 : 1;
    act acts[6];
    const kp_attr *aa = kp_node_attr(ctx->node, "activations");
    static const char *const dflt[3][3] = {
        {"Tanh", NULL, NULL}, {"Sigmoid", "Tanh", NULL}, {"Sigmoid", "Tanh", "Tanh"}};
    for (int i = 0; i < nact * ndir; i++) {
        const char *name = dflt[kind][i % nact];
        char buf[32];
        if (aa && aa->type == KP_ATTR_STRINGS && aa->n) {
            if ((int)aa->n != nact * ndir && (int)aa->n != nact)
                return kp_op_fail(ctx, KP_EINVAL, "activations has %zu entries, expected %d", aa->n,
                                  nact * ndir);
            const kp_bytes *s = &aa->strings[(size_t)i % aa->n];
            size_t len = s->len < sizeof buf - 1 ? s->len : sizeof buf - 1;
            memcpy(buf, s->data, len);
            buf[len] = 0;
            name = buf;
        }
        if ((rc = parse_act(ctx, name, (size_t)i, &acts[i])) < 0) return rc;
    }
    /* Outputs. */
    int64_t yd[4] = {seq, ndir, batch, hid};
    if (layout) {
        yd[0] = batch;
        yd[1] = seq;
        yd[2] = ndir;
    }
    kp_tensor *y = NULL, *yh = NULL, *yc = NULL;
    if (kp_op_wants(ctx, 0) && !(y = kp_op_output(ctx, 0, KP_FLOAT, 4, yd))) return ctx->err->code;
    if (kp_op_wants(ctx, 1) && !(yh = kp_op_output(ctx, 1, KP_FLOAT, 3, hd))) return ctx->err->code;
    if (kind == RNN_LSTM && kp_op_wants(ctx, 2) && !(yc = kp_op_output(ctx, 2, KP_FLOAT, 3, hd)))
        return ctx->err->code;
    if (y) memset(y->data, 0, y->nbytes);
    if (!batch || !hid) return 0;
    /* Scratch: projections, per-step gates, states. */
    size_t need = (size_t)(seq * batch * g + batch * g + 4 * batch * hid + batch * hid);
    float *xw = ctx->scratch(ctx, need * sizeof(float));
    if (!xw) return ctx->err->code;
    float *gt = xw + seq * batch * g, *h = gt + batch * g, *c = h + batch * hid;
    float *hn = c + batch * hid, *tmp = hn + batch * hid, *rh = tmp + batch * hid;
    const float *xd = x->data;
    for (int d = 0; d < ndir; d++) {
        int rev = reverse_only || d == 1;
        const float *W = (const float *)w->data + d * g * in,
                    *R = (const float *)r->data + d * g * hid;
        const float *Wb = b ? (const float *)b->data + d * 2 * g : NULL, *Rb = Wb ? Wb + g : NULL;
        const float *P = peep ? (const float *)peep->data + d * 3 * hid : NULL;
        const act *fa = &acts[d * nact], *ga = nact > 1 ? &acts[d * nact + 1] : NULL;
        const act *ha = nact > 2 ? &acts[d * nact + 2] : NULL;
        /* xw rows follow X's layout: (t, b) for layout 0, (b, t) for layout 1. */
        if (seq && in)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(seq * batch), (int)g,
                        (int)in, 1.0f, xd, (int)in, W, (int)in, 0.0f, xw, (int)g);
        else
            memset(xw, 0, (size_t)(seq * batch * g) * sizeof *xw);
        for (int64_t bi = 0; bi < batch; bi++)
            for (int64_t j = 0; j < hid; j++) {
                int64_t hi = layout ? (bi * ndir + d) * hid + j : (d * batch + bi) * hid + j;
                h[bi * hid + j] = h0 ? ((const float *)h0->data)[hi] : 0;
                c[bi * hid + j] = c0 ? ((const float *)c0->data)[hi] : 0;
            }
        for (int64_t s = 0; s < seq; s++) {
            /* gt = H * R^T (for GRU's candidate gate, handled below per linear_before_reset). */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)batch, (int)g, (int)hid, 1.0f,
                        h, (int)hid, R, (int)hid, 0.0f, gt, (int)g);
            for (int64_t bi = 0; bi < batch; bi++) {
                int64_t len = sl ? ((const int32_t *)sl->data)[bi] : seq;
                if (len > seq) len = seq;
                if (s >= len) continue;
                int64_t t = rev ? len - 1 - s : s;
                const float *xr = xw + (layout ? bi * seq + t : t * batch + bi) * g;
                float *gr = gt + bi * g, *hb = h + bi * hid, *cb = c + bi * hid;
                float *out = hn + bi * hid;
                /* GRU's candidate gate keeps only H*Rh^T here; it is assembled below. */
                int64_t gend = kind == RNN_GRU ? 2 * hid : g;
                for (int64_t k = 0; k < gend; k++) {
                    float v = gr[k] + xr[k];
                    if (Wb) v += Wb[k];
                    if (Rb) v += Rb[k];
                    gr[k] = v;
                }
#define CLIP(v) (has_clip ? ((v) > clip ? clip : (v) < -clip ? -clip : (v)) : (v))
                if (kind == RNN_PLAIN) {
                    for (int64_t j = 0; j < hid; j++) out[j] = apply(fa, CLIP(gr[j]));
                } else if (kind == RNN_LSTM) {
                    /* gate order i, o, f, c; peepholes i, o, f */
                    for (int64_t j = 0; j < hid; j++) {
                        float iv = gr[j], ov = gr[hid + j], fv = gr[2 * hid + j];
                        float cv = gr[3 * hid + j];
                        if (P) {
                            iv += P[j] * cb[j];
                            fv += P[2 * hid + j] * cb[j];
                        }
                        float ig = apply(fa, CLIP(iv));
                        float fg = input_forget ? 1 - ig : apply(fa, CLIP(fv));
                        float cc = apply(ga, CLIP(cv));
                        float cn = fg * cb[j] + ig * cc;
                        if (P) ov += P[hid + j] * cn;
                        float og = apply(fa, CLIP(ov));
                        out[j] = og * apply(ha, cn);
                        tmp[bi * hid + j] = cn;
                    }
                } else {
                    /* gate order z, r, h */
                    const float *Rh = R + 2 * hid * hid;
                    for (int64_t j = 0; j < hid; j++)
                        rh[bi * hid + j] = apply(fa, CLIP(gr[hid + j]));
                    for (int64_t j = 0; j < hid; j++) {
                        float z = apply(fa, CLIP(gr[j])), rr = rh[bi * hid + j], hv;
                        float xh = xr[2 * hid + j] + (Wb ? Wb[2 * hid + j] : 0);
                        float rb = Rb ? Rb[2 * hid + j] : 0;
                        if (lbr) {
                            hv = xh + rr * (gr[2 * hid + j] + rb);
                        } else {
                            double acc = 0;
                            for (int64_t k = 0; k < hid; k++)
                                acc += (double)(rh[bi * hid + k] * hb[k]) * Rh[j * hid + k];
                            hv = xh + (float)acc + rb;
                        }
                        float hc = apply(ga, CLIP(hv));
                        out[j] = (1 - z) * hc + z * hb[j];
                    }
                }
#undef CLIP
                if (y) {
                    float *yr = (float *)y->data + (layout ? ((bi * seq + t) * ndir + d)
                                                           : ((t * ndir + d) * batch + bi)) *
                                                       hid;
                    memcpy(yr, out, (size_t)hid * sizeof *yr);
                }
            }
            for (int64_t bi = 0; bi < batch; bi++) {
                int64_t len = sl ? ((const int32_t *)sl->data)[bi] : seq;
                if (s >= len) continue;
                memcpy(h + bi * hid, hn + bi * hid, (size_t)hid * sizeof *h);
                if (kind == RNN_LSTM) memcpy(c + bi * hid, tmp + bi * hid, (size_t)hid * sizeof *c);
            }
        }
        for (int64_t bi = 0; bi < batch; bi++) {
            int64_t o = layout ? (bi * ndir + d) * hid : (d * batch + bi) * hid;
            if (yh) memcpy((float *)yh->data + o, h + bi * hid, (size_t)hid * sizeof(float));
            if (yc) memcpy((float *)yc->data + o, c + bi * hid, (size_t)hid * sizeof(float));
        }
    }
    return 0;
}

static int lstm_run(kp_op_ctx *ctx) {
    return rnn_run(ctx, RNN_LSTM);
}
static int gru_run(kp_op_ctx *ctx) {
    return rnn_run(ctx, RNN_GRU);
}
static int plain_run(kp_op_ctx *ctx) {
    return rnn_run(ctx, RNN_PLAIN);
}

const kp_op_def kp_ops_rnn[] = {
    {"", "GRU", gru_run},
    {"", "LSTM", lstm_run},
    {"", "RNN", plain_run},
    {0},
};
