/* Helpers shared by the quantization passes. */
#include "passes/quant_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/model_stats.h"
/* core/target.h has a comment-start sequence inside its header comment (-Wcomment). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcomment"
#include "core/target.h"
#pragma GCC diagnostic pop

int kp_qw_quantize(const kp_tensor *w, int axis, int per_channel, int reduce_range, int as_u8,
                   int transpose, kp_tensor **q, kp_tensor **scale, kp_tensor **zp, kp_error *err) {
    return kp_qw_quantize_bits(w, axis, per_channel, 8, reduce_range, as_u8, transpose, q, scale,
                               zp, err);
}

int kp_qw_quantize_bits(const kp_tensor *w, int axis, int per_channel, int bits, int reduce_range,
                        int as_u8, int transpose, kp_tensor **q, kp_tensor **scale, kp_tensor **zp,
                        kp_error *err) {
    *q = *scale = *zp = NULL;
    if (w->dtype != KP_FLOAT)
        return kp_error_set(err, KP_EUNSUPPORTED, "weight %s is %s, not float32",
                            w->name ? w->name : "?", kp_dtype_name(w->dtype));
    if (w->rank < 1 || axis < 0 || axis >= w->rank || (transpose && w->rank != 2))
        return kp_error_set(err, KP_EUNSUPPORTED, "weight %s: unexpected shape",
                            w->name ? w->name : "?");
    int64_t C = per_channel ? w->dims[axis] : 1, inner = 1;
    for (int d = axis + 1; d < w->rank; d++) inner *= w->dims[d];
    int64_t D = w->dims[axis];
    if (bits < 2 || bits > 8)
        return kp_error_set(err, KP_ERANGE, "weight bits %d out of range (2..8)", bits);
    float qmax = (float)((1 << (bits - 1)) - 1);
    if (reduce_range && qmax > 63.f) qmax = 63.f;
    float *s = calloc((size_t)(C ? C : 1), sizeof *s);
    if (!s) return kp_error_set(err, KP_ENOMEM, "out of memory");
    const float *wf = w->data;
    for (int64_t i = 0; i < w->numel; i++) {
        int64_t c = per_channel ? (i / inner) % D : 0;
        float a = fabsf(wf[i]);
        if (a > s[c]) s[c] = a;
    }
    for (int64_t c = 0; c < C; c++) s[c] = s[c] > 0.f ? s[c] / qmax : 1.f;
    int64_t dims[KP_MAX_RANK];
    memcpy(dims, w->dims, sizeof dims);
    if (transpose) dims[0] = w->dims[1], dims[1] = w->dims[0];
    kp_tensor *qt = kp_tensor_new(as_u8 ? KP_UINT8 : KP_INT8, w->rank, dims, err);
    if (!qt) {
        free(s);
        return err && err->code ? err->code : KP_ENOMEM;
    }
    for (int64_t i = 0; i < w->numel; i++) {
        int64_t c = per_channel ? (i / inner) % D : 0;
        float v = nearbyintf(wf[i] / s[c]);
        if (v > qmax) v = qmax;
        if (v < -qmax) v = -qmax;
        int64_t o = i;
        if (transpose) o = (i % w->dims[1]) * w->dims[0] + i / w->dims[1];
        if (as_u8)
            ((uint8_t *)qt->data)[o] = (uint8_t)((int)v + 128);
        else
            ((int8_t *)qt->data)[o] = (int8_t)v;
    }
    *scale = per_channel ? kp_q_vec_f(s, C) : kp_q_scalar_f(s[0]);
    free(s);
    if (per_channel && as_u8) {
        /* one shared zero point keeps uint8 kernels that need a scalar zero point happy */
        *zp = kp_q_scalar_zp(KP_UINT8, 128);
    } else if (per_channel) {
        int64_t n = C;
        *zp = kp_tensor_new(KP_INT8, 1, &n, err);
    } else
        *zp = kp_q_scalar_zp(as_u8 ? KP_UINT8 : KP_INT8, as_u8 ? 128 : 0);
    *q = qt;
    if (!*scale || !*zp) {
        kp_tensor_free(*q);
        kp_tensor_free(*scale);
        kp_tensor_free(*zp);
        *q = *scale = *zp = NULL;
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    return 0;
}

kp_tensor *kp_q_scalar_f(float v) {
    kp_tensor *t = kp_tensor_new(KP_FLOAT, 0, NULL, NULL);
    if (t) *(float *)t->data = v;
    return t;
}

kp_tensor *kp_q_scalar_zp(kp_dtype dt, int32_t v) {
    kp_tensor *t = kp_tensor_new(dt, 0, NULL, NULL);
    if (!t) return NULL;
    if (dt == KP_UINT8)
        *(uint8_t *)t->data = (uint8_t)v;
    else if (dt == KP_INT8)
        *(int8_t *)t->data = (int8_t)v;
    else if (dt == KP_INT32)
        *(int32_t *)t->data = v;
    return t;
}

kp_tensor *kp_q_vec_f(const float *v, int64_t n) {
    kp_tensor *t = kp_tensor_new(KP_FLOAT, 1, &n, NULL);
    if (t && n) memcpy(t->data, v, (size_t)n * sizeof *v);
    return t;
}

const char *kp_q_add_init(kp_graph *g, const char *base, kp_tensor *t, kp_error *err) {
    if (!t) {
        kp_error_set(err, KP_ENOMEM, "out of memory");
        return NULL;
    }
    char *name = kp_graph_unique_name(g, base);
    if (!name || kp_tensor_set_name(t, name) || kp_graph_add_init(g, t)) {
        free(name);
        kp_tensor_free(t);
        kp_error_set(err, KP_ENOMEM, "out of memory");
        return NULL;
    }
    free(name);
    return t->name;
}

kp_node *kp_q_node(const char *op, const char *name, size_t n_in, const char *const *in,
                   const char *out) {
    const char *outs[1] = {out};
    return kp_node_new(op, name, n_in, in, 1, outs);
}

const char *kp_q_layer_name(const kp_node *n) {
    if (n->name && *n->name) return n->name;
    return n->n_outputs ? n->outputs[0] : n->op_type;
}

int kp_q_in_list(const char *list, const kp_node *n) {
    if (!list || !*list) return 0;
    const char *names[2] = {n->name, n->n_outputs ? n->outputs[0] : NULL};
    for (int k = 0; k < 2; k++) {
        if (!names[k] || !*names[k]) continue;
        size_t len = strlen(names[k]);
        const char *p = list;
        while (*p) {
            const char *comma = strchr(p, ',');
            size_t m = comma ? (size_t)(comma - p) : strlen(p);
            if (m == len && !strncmp(p, names[k], m)) return 1;
            p += m + (comma ? 1 : 0);
        }
    }
    return 0;
}

int kp_q_reduce_range(const char *mode, const kp_pass_ctx *ctx) {
    if (!strcmp(mode, "on")) return 1;
    if (!strcmp(mode, "off")) return 0;
    if (ctx && ctx->target) return ctx->target->u8s8_saturates;
    return kp_cpu_u8s8_saturates();
}

/* ---- BatchNorm folding -------------------------------------------------------------------- */

static int fold_one(kp_graph *g, size_t bn_pos, kp_error *err) {
    kp_node *bn = g->nodes[bn_pos];
    if (bn->n_inputs < 5 || bn->n_outputs < 1) return 0;
    size_t cpos;
    kp_node *conv = kp_graph_producer(g, bn->inputs[0], &cpos);
    if (!conv || !kp_node_is(conv, "Conv") || conv->n_outputs != 1) return 0;
    if (kp_graph_consumers(g, conv->outputs[0], NULL, 0) != 1 ||
        kp_graph_is_output(g, conv->outputs[0]))
        return 0;
    const char *wn = kp_node_input(conv, 1), *bname = kp_node_input(conv, 2);
    kp_tensor *w = wn ? kp_graph_find_const(g, wn) : NULL;
    kp_tensor *b = bname ? kp_graph_find_const(g, bname) : NULL;
    kp_tensor *p[4];
    for (int i = 0; i < 4; i++) {
        const char *n = kp_node_input(bn, (size_t)i + 1);
        p[i] = n ? kp_graph_find_const(g, n) : NULL;
        if (!p[i] || p[i]->dtype != KP_FLOAT) return 0;
    }
    if (!w || w->dtype != KP_FLOAT || w->rank < 3 || (bname && (!b || b->dtype != KP_FLOAT)))
        return 0;
    int64_t C = w->dims[0];
    for (int i = 0; i < 4; i++)
        if (p[i]->numel != C) return 0;
    if (b && b->numel != C) return 0;
    /* weights shared with another node cannot be rewritten in place */
    if (kp_graph_consumers(g, wn, NULL, 0) != 1 ||
        (bname && kp_graph_consumers(g, bname, NULL, 0) != 1))
        return 0;
    float eps = kp_node_attr_float(bn, "epsilon", 1e-5f);
    kp_tensor *nw = kp_tensor_clone(w, err);
    int64_t c1 = C;
    kp_tensor *nb = kp_tensor_new(KP_FLOAT, 1, &c1, err);
    if (!nw || !nb) {
        kp_tensor_free(nw);
        kp_tensor_free(nb);
        return KP_ENOMEM;
    }
    int64_t per = w->numel / C;
    const float *gm = p[0]->data, *bt = p[1]->data, *mu = p[2]->data, *var = p[3]->data;
    for (int64_t c = 0; c < C; c++) {
        float sc = gm[c] / sqrtf(var[c] + eps);
        for (int64_t i = 0; i < per; i++) ((float *)nw->data)[c * per + i] *= sc;
        float b0 = b ? ((const float *)b->data)[c] : 0.f;
        ((float *)nb->data)[c] = (b0 - mu[c]) * sc + bt[c];
    }
    int rc = kp_graph_replace_const(g, nw, err);
    if (rc) {
        kp_tensor_free(nb);
        return rc;
    }
    if (b) {
        if (kp_tensor_set_name(nb, bname)) {
            kp_tensor_free(nb);
            return kp_error_set(err, KP_ENOMEM, "out of memory");
        }
        rc = kp_graph_replace_const(g, nb, err);
        if (rc) return rc;
    } else {
        char base[256];
        snprintf(base, sizeof base, "%s_bias", wn);
        const char *nbn = kp_q_add_init(g, base, nb, err);
        if (!nbn) return KP_ENOMEM;
        if (kp_node_set_input(conv, 2, nbn)) return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    if (kp_node_set_output(conv, 0, bn->outputs[0]))
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    kp_graph_remove_node(g, bn_pos);
    return 1;
}

int kp_q_fold_bn(kp_graph *g, kp_error *err) {
    int folded = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        if (!kp_node_is(g->nodes[i], "BatchNormalization")) continue;
        /* training-mode BN (extra outputs in use) is left alone */
        if (g->nodes[i]->n_outputs > 1 && kp_node_input(g->nodes[i], 0) &&
            g->nodes[i]->outputs[1][0])
            continue;
        int rc = fold_one(g, i, err);
        if (rc < 0) return rc;
        if (rc > 0) {
            folded++;
            i--;
        }
    }
    if (folded) kp_graph_remove_dead(g);
    return folded;
}

int kp_q_copy_conv_attrs(kp_node *dst, const kp_node *src) {
    static const char *const ints[] = {"dilations", "kernel_shape", "pads", "strides"};
    for (size_t i = 0; i < 4; i++) {
        const int64_t *v;
        size_t n = kp_node_attr_ints(src, ints[i], &v);
        if (n && kp_node_set_attr_ints(dst, ints[i], n, v)) return KP_ENOMEM;
    }
    if (kp_node_attr(src, "group") &&
        kp_node_set_attr_int(dst, "group", kp_node_attr_int(src, "group", 1)))
        return KP_ENOMEM;
    const char *ap = kp_node_attr_string(src, "auto_pad", NULL);
    if (ap && kp_node_set_attr_string(dst, "auto_pad", ap)) return KP_ENOMEM;
    return 0;
}

double kp_q_target_fp16_speedup(const struct kp_target *t) {
    if (!t || !(t->precisions & KP_PREC_FP16) || t->fp16_gflops <= 0) return 0;
    return t->fp32_gflops > 0 ? t->fp16_gflops / t->fp32_gflops : 1;
}
