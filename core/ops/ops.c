/* Helpers every kernel uses, and a standalone way to call one kernel (kp_op_call). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops/ops.h"

int kp_op_fail(kp_op_ctx *ctx, int code, const char *fmt, ...) {
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const kp_node *n = ctx->node;
    const char *op = n && n->op_type ? n->op_type : "?";
    if (n && n->name && n->name[0])
        return kp_error_set(ctx->err, code, "%s '%s': %s", op, n->name, msg);
    if (n && n->n_outputs && n->outputs[0] && n->outputs[0][0])
        return kp_error_set(ctx->err, code, "%s (output '%s'): %s", op, n->outputs[0], msg);
    return kp_error_set(ctx->err, code, "%s: %s", op, msg);
}

const kp_tensor *kp_op_input(const kp_op_ctx *ctx, size_t i) {
    return i < ctx->n_in ? ctx->in[i] : NULL;
}

int kp_op_wants(const kp_op_ctx *ctx, size_t i) {
    if (i >= ctx->n_out) return 0;
    if (!ctx->node || i >= ctx->node->n_outputs) return 1;
    const char *o = ctx->node->outputs[i];
    return o && o[0];
}

kp_tensor *kp_op_output(kp_op_ctx *ctx, size_t i, kp_dtype dt, int rank, const int64_t *dims) {
    if (i >= ctx->n_out) {
        kp_op_fail(ctx, KP_EFORMAT, "produces output %zu but the node declares only %zu", i + 1,
                   ctx->n_out);
        return NULL;
    }
    if (rank < 0 || rank > KP_MAX_RANK) {
        kp_op_fail(ctx, KP_EUNSUPPORTED, "output rank %d is over the supported %d", rank,
                   KP_MAX_RANK);
        return NULL;
    }
    if (!kp_dtype_valid(dt) || dt == KP_UNDEFINED) {
        kp_op_fail(ctx, KP_EINVAL, "output %zu has an invalid element type %d", i, (int)dt);
        return NULL;
    }
    if (ctx->out[i]) {
        kp_op_fail(ctx, KP_EINVAL, "output %zu produced twice (kernel bug)", i);
        return NULL;
    }
    int64_t numel;
    kp_error e2;
    kp_error_clear(&e2);
    if (kp_shape_numel(rank, dims, &numel, &e2) < 0) {
        kp_op_fail(ctx, e2.code, "output %zu: %s", i, e2.msg);
        return NULL;
    }
    if (numel > KP_MAX_NUMEL) {
        kp_op_fail(ctx, KP_ERANGE, "output %zu would hold %lld elements, over the limit", i,
                   (long long)numel);
        return NULL;
    }
    kp_tensor *t;
    if (ctx->alloc) {
        t = ctx->alloc(ctx, i, dt, rank, dims);
    } else {
        t = kp_tensor_new(dt, rank, dims, &e2);
        if (!t) kp_op_fail(ctx, e2.code ? e2.code : KP_ENOMEM, "output %zu: %s", i, e2.msg);
    }
    if (t) ctx->out[i] = t;
    return t;
}

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

void kp_op_bias_relu(float *y, int64_t n, float b) {
    int64_t j = 0;
    v4f bb = {b, b, b, b}, z = {0, 0, 0, 0};
    for (; j + 4 <= n; j += 4) {
        v4f v;
        memcpy(&v, y + j, sizeof v);
        v += bb;
        v4i m = v > z;
        v = (v4f)((v4i)v & m);
        memcpy(y + j, &v, sizeof v);
    }
    for (; j < n; j++) {
        float v = y[j] + b;
        y[j] = v > 0.0f ? v : 0.0f;
    }
}

void kp_op_bias_relu_copy(float *dst, const float *src, int64_t n, float b) {
    int64_t j = 0;
    v4f bb = {b, b, b, b}, z = {0, 0, 0, 0};
    for (; j + 4 <= n; j += 4) {
        v4f v;
        memcpy(&v, src + j, sizeof v);
        v += bb;
        v4i m = v > z;
        v = (v4f)((v4i)v & m);
        memcpy(dst + j, &v, sizeof v);
    }
    for (; j < n; j++) {
        float v = src[j] + b;
        dst[j] = v > 0.0f ? v : 0.0f;
    }
}

void kp_op_apply_act(const kp_op_ctx *ctx, float *y, int64_t n) {
    switch (ctx->fused_act) {
    case KP_ACT_RELU: kp_op_bias_relu(y, n, 0.0f); break;
    case KP_ACT_CLIP: {
        /* Branch-free: NaN stays NaN, as in Clip. */
        float lo = ctx->act_alpha, hi = ctx->act_beta;
        int64_t i = 0;
        v4f vl = {lo, lo, lo, lo}, vh = {hi, hi, hi, hi};
        for (; i + 4 <= n; i += 4) {
            v4f v;
            memcpy(&v, y + i, sizeof v);
            v4i below = v<vl, above = v> vh;
            v = (v4f)(((v4i)v & ~below) | ((v4i)vl & below));
            v = (v4f)(((v4i)v & ~above) | ((v4i)vh & above));
            memcpy(y + i, &v, sizeof v);
        }
        for (; i < n; i++) y[i] = y[i] < lo ? lo : y[i] > hi ? hi : y[i];
        break;
    }
    case KP_ACT_LEAKY: {
        float a = ctx->act_alpha;
        for (int64_t i = 0; i < n; i++) y[i] = y[i] >= 0 ? y[i] : a * y[i];
        break;
    }
    default: break;
    }
}

/* ---- kp_op_call: a minimal host ---------------------------------------------------------- */

typedef struct call_host {
    void **blocks;
    size_t n, cap;
} call_host;

static void *call_scratch(kp_op_ctx *ctx, size_t bytes) {
    call_host *h = ctx->priv;
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 8;
        void **nb = realloc(h->blocks, nc * sizeof *nb);
        if (!nb) goto oom;
        h->blocks = nb;
        h->cap = nc;
    }
    void *p = malloc(bytes ? bytes : 1);
    if (!p) goto oom;
    h->blocks[h->n++] = p;
    return p;
oom:
    kp_op_fail(ctx, KP_ENOMEM, "out of memory for %zu bytes of scratch", bytes);
    return NULL;
}

int kp_op_call(const kp_node *node, int64_t opset, size_t n_in, const kp_tensor *const *in,
               size_t n_out, kp_tensor **out, kp_error *err) {
    const kp_op_def *def = kp_ops_find(node->domain, node->op_type);
    if (!def)
        return kp_error_set(err, KP_EUNSUPPORTED, "no kernel for op %s%s%s", node->op_type,
                            node->domain && node->domain[0] ? " in domain " : "",
                            node->domain ? node->domain : "");
    call_host h = {0};
    for (size_t i = 0; i < n_out; i++) out[i] = NULL;
    kp_op_ctx ctx = {.node = node,
                     .opset = opset,
                     .n_in = n_in,
                     .in = in,
                     .n_out = n_out,
                     .out = out,
                     .err = err,
                     .threads = 1,
                     .priv = &h,
                     .scratch = call_scratch};
    kp_error_clear(err);
    int rc = def->run(&ctx);
    for (size_t i = 0; i < h.n; i++) free(h.blocks[i]);
    free(h.blocks);
    if (rc < 0) {
        if (err && !err->msg[0]) kp_op_fail(&ctx, rc, "failed (%s)", kp_strerror(rc));
        for (size_t i = 0; i < n_out; i++) {
            kp_tensor_free(out[i]);
            out[i] = NULL;
        }
        return rc;
    }
    return 0;
}
