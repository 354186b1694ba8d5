/* QDQ pattern fusion for the executor (see exec_qdq.h). */
#include "core/exec_qdq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kp_node *producer(kp_graph *g, const char *name) {
    if (!name || !*name) return NULL;
    return kp_graph_producer(g, name, NULL);
}

static int is_dq(const kp_node *n) {
    return n && kp_node_is(n, "DequantizeLinear");
}

static const kp_tensor *cst(kp_graph *g, const char *name) {
    return name && *name ? kp_graph_find_const(g, name) : NULL;
}

static float f_at(const kp_tensor *t, int64_t i) {
    return (float)kp_tensor_get(t, t->numel == 1 ? 0 : i);
}

/* The single consumer of value v, or NULL (several, none, or v is a graph output). */
static kp_node *only_consumer(kp_graph *g, const char *v) {
    kp_node *u[2];
    if (kp_graph_is_output(g, v)) return NULL;
    return kp_graph_consumers(g, v, u, 2) == 1 ? u[0] : NULL;
}

/* A Q node with constant scalar scale (and zero point, if any). */
static int q_ok(kp_graph *g, const kp_node *q) {
    if (!q || !kp_node_is(q, "QuantizeLinear") || q->n_outputs != 1) return 0;
    const kp_tensor *s = cst(g, kp_node_input(q, 1)), *z = cst(g, kp_node_input(q, 2));
    if (!s || s->numel != 1 || s->dtype != KP_FLOAT) return 0;
    if (kp_node_input(q, 2) && (!z || z->numel != 1)) return 0;
    if (z && z->dtype != KP_UINT8 && z->dtype != KP_INT8) return 0;
    if (!z && kp_node_attr_int(q, "output_dtype", 0)) return 0;
    return 1;
}

/* An activation DQ: non-constant 8-bit input, constant scalar scale and zero point. */
static int dq_act_ok(kp_graph *g, const kp_node *d) {
    if (!is_dq(d) || cst(g, kp_node_input(d, 0))) return 0;
    const kp_tensor *s = cst(g, kp_node_input(d, 1)), *z = cst(g, kp_node_input(d, 2));
    if (!s || s->numel != 1 || s->dtype != KP_FLOAT) return 0;
    if (kp_node_input(d, 2) && (!z || z->numel != 1)) return 0;
    if (z && z->dtype != KP_UINT8 && z->dtype != KP_INT8) return 0;
    return 1;
}

static int same_params(kp_graph *g, const kp_node *dq, const kp_node *q) {
    const kp_tensor *s1 = cst(g, kp_node_input(dq, 1)), *s2 = cst(g, kp_node_input(q, 1));
    const kp_tensor *z1 = cst(g, kp_node_input(dq, 2)), *z2 = cst(g, kp_node_input(q, 2));
    if (!s1 || !s2 || f_at(s1, 0) != f_at(s2, 0)) return 0;
    if (!z1 != !z2) return 0;
    return !z1 || (z1->dtype == z2->dtype && kp_tensor_get(z1, 0) == kp_tensor_get(z2, 0));
}

static const char *add_const(kp_graph *g, const char *base, kp_tensor *t, kp_error *err) {
    char *name = t ? kp_graph_unique_name(g, base) : NULL;
    if (!name || kp_tensor_set_name(t, name) || kp_graph_add_init(g, t)) {
        free(name);
        kp_tensor_free(t);
        kp_error_set(err, KP_ENOMEM, "out of memory");
        return NULL;
    }
    free(name);
    return t->name;
}

/* int32 bias for scale sx * sw[c] from input 2 of n (a DQ of int32, or a float constant), or
 * "" when absent. Returns NULL (no error) when the bias cannot be expressed exactly enough. */
static const char *bias_int32(kp_graph *g, const kp_node *n, const kp_node *wdq, float sx,
                              const kp_tensor *sw, int64_t C, int *fail, kp_error *err) {
    const char *bn = kp_node_input(n, 2);
    if (!bn) return "";
    const kp_tensor *bf = cst(g, bn);
    kp_node *bd = producer(g, bn);
    const kp_tensor *bq = NULL, *bs = NULL;
    if (!bf) {
        if (!is_dq(bd) || kp_node_input(bd, 2)) goto no;
        bq = cst(g, kp_node_input(bd, 0));
        if (!bq || bq->dtype != KP_INT32 || bq->numel != C) goto no;
        bs = cst(g, kp_node_input(bd, 1));
        if (!bs) {
            /* bias scale computed in the graph as Mul(x_scale, w_scale): exact by construction */
            kp_node *mul = producer(g, kp_node_input(bd, 1));
            const kp_node *xdq = producer(g, kp_node_input(n, 0));
            if (!mul || !kp_node_is(mul, "Mul") || !kp_node_input(mul, 0) ||
                !kp_node_input(mul, 1) || strcmp(kp_node_input(mul, 0), kp_node_input(xdq, 1)) ||
                strcmp(kp_node_input(mul, 1), kp_node_input(wdq, 1)))
                goto no;
            return bq->name;
        }
    } else if (bf->dtype != KP_FLOAT || bf->numel != C)
        goto no;
    int64_t one = C;
    kp_tensor *t = kp_tensor_new(KP_INT32, 1, &one, err);
    if (!t) {
        *fail = 1;
        return NULL;
    }
    for (int64_t c = 0; c < C; c++) {
        double real =
            bf ? kp_tensor_get(bf, c) : (double)((const int32_t *)bq->data)[c] * f_at(bs, c);
        double v = nearbyint(real / ((double)sx * f_at(sw, c)));
        if (!(fabs(v) < 2147483647.0)) {
            kp_tensor_free(t);
            goto no;
        }
        ((int32_t *)t->data)[c] = (int32_t)v;
    }
    const char *name = add_const(g, "kq_bias", t, err);
    if (!name) *fail = 1;
    return name;
no:
    return NULL;
}

static int set_inputs(kp_node *n, const char *const *in, size_t k) {
    for (size_t i = 0; i < k; i++)
        if (kp_node_set_input(n, i, in[i] ? in[i] : "")) return KP_ENOMEM;
    return 0;
}

static int copy_conv_attrs(kp_node *dst, const kp_node *src) {
    static const char *const ints[] = {"dilations", "kernel_shape", "pads", "strides"};
    for (size_t i = 0; i < 4; i++) {
        const int64_t *v;
        size_t c = kp_node_attr_ints(src, ints[i], &v);
        if (c && kp_node_set_attr_ints(dst, ints[i], c, v)) return KP_ENOMEM;
    }
    if (kp_node_set_attr_int(dst, "group", kp_node_attr_int(src, "group", 1))) return KP_ENOMEM;
    const char *ap = kp_node_attr_string(src, "auto_pad", NULL);
    if (ap && kp_node_set_attr_string(dst, "auto_pad", ap)) return KP_ENOMEM;
    return 0;
}

static void remove_node_ptr(kp_graph *g, const kp_node *n) {
    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i] == n) {
            kp_graph_remove_node(g, i);
            return;
        }
}

/* Tries to fuse compute node at pos. 1 fused, 0 not, <0 error. */
static int fuse_compute(kp_graph *g, size_t pos, kp_error *err) {
    kp_node *n = g->nodes[pos];
    int conv = kp_node_is(n, "Conv"), gemm = kp_node_is(n, "Gemm");
    if (!conv && !gemm && !kp_node_is(n, "MatMul")) return 0;
    if (n->n_outputs != 1) return 0;
    kp_node *xdq = producer(g, kp_node_input(n, 0)), *wdq = producer(g, kp_node_input(n, 1));
    if (!dq_act_ok(g, xdq) || !is_dq(wdq)) return 0;
    const kp_tensor *wq = cst(g, kp_node_input(wdq, 0)), *ws = cst(g, kp_node_input(wdq, 1));
    const kp_tensor *wz = cst(g, kp_node_input(wdq, 2));
    if (!wq || !ws || ws->dtype != KP_FLOAT || (kp_node_input(wdq, 2) && !wz)) return 0;
    if (wq->dtype != KP_INT8 && wq->dtype != KP_UINT8) return 0;
    if (wz && (wz->dtype != wq->dtype || wz->numel != ws->numel)) return 0;
    int transB = gemm ? (int)kp_node_attr_int(n, "transB", 0) : 0;
    int64_t C, want_axis;
    if (conv) {
        if (wq->rank != 3 && wq->rank != 4) return 0;
        C = wq->dims[0];
        want_axis = 0;
    } else {
        if (wq->rank != 2) return 0;
        if (gemm &&
            (kp_node_attr_int(n, "transA", 0) || kp_node_attr_float(n, "alpha", 1.f) != 1.f ||
             kp_node_attr_float(n, "beta", 1.f) != 1.f))
            return 0;
        C = transB ? wq->dims[0] : wq->dims[1];
        want_axis = transB ? 0 : 1;
    }
    if (ws->numel != 1) {
        int64_t axis = kp_node_attr_int(wdq, "axis", 1);
        if (axis < 0) axis += wq->rank;
        if (axis != want_axis || ws->numel != C) return 0;
    }
    const kp_tensor *sx = cst(g, kp_node_input(xdq, 1));
    int fail = 0;
    const char *bias = (conv || gemm) ? bias_int32(g, n, wdq, f_at(sx, 0), ws, C, &fail, err) : "";
    if (fail) return err->code ? err->code : KP_ENOMEM;
    if (!bias) return 0;
    /* output side: [Relu ->] Q, or a float output */
    kp_node *after = only_consumer(g, n->outputs[0]), *relu = NULL, *q = NULL;
    if (after && kp_node_is(after, "Relu") && after->n_outputs == 1) {
        kp_node *aq = only_consumer(g, after->outputs[0]);
        if (q_ok(g, aq)) relu = after, q = aq;
    } else if (q_ok(g, after))
        q = after;
    /* weights as [K, N] for QGemm */
    const char *wname = kp_node_input(wdq, 0);
    if (gemm && transB) {
        int64_t d[2] = {wq->dims[1], wq->dims[0]};
        kp_tensor *t = kp_tensor_new(wq->dtype, 2, d, err);
        if (!t) return err->code;
        const uint8_t *src = wq->data;
        for (int64_t i = 0; i < d[1]; i++)
            for (int64_t k = 0; k < d[0]; k++)
                ((uint8_t *)t->data)[k * d[1] + i] = src[i * d[0] + k];
        wname = add_const(g, "kq_wt", t, err);
        if (!wname) return err->code;
    }
    const char *out = q ? q->outputs[0] : n->outputs[0];
    kp_node *f = kp_node_new(conv ? "QConv" : "QGemm", n->name, 0, NULL, 1, &out);
    if (!f) return kp_error_set(err, KP_ENOMEM, "out of memory");
    const char *in[9] = {kp_node_input(xdq, 0),
                         kp_node_input(xdq, 1),
                         kp_node_input(xdq, 2),
                         wname,
                         kp_node_input(wdq, 1),
                         kp_node_input(wdq, 2),
                         q ? kp_node_input(q, 1) : NULL,
                         q ? kp_node_input(q, 2) : NULL,
                         *bias ? bias : NULL};
    free(f->domain);
    f->domain = strdup("ai.kompress");
    if (!f->domain || set_inputs(f, in, 9) || (conv && copy_conv_attrs(f, n)) ||
        (relu && kp_node_set_attr_int(f, "relu", 1))) {
        kp_node_free(f);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    kp_graph_replace_node(g, pos, f);
    if (relu) remove_node_ptr(g, relu);
    if (q) remove_node_ptr(g, q);
    return 1;
}

/* DQ -> MaxPool|Flatten -> Q with equal parameters. */
static int fuse_move(kp_graph *g, size_t pos, kp_error *err) {
    kp_node *n = g->nodes[pos];
    int pool = kp_node_is(n, "MaxPool"), flat = kp_node_is(n, "Flatten");
    if (!pool && !flat) return 0;
    if (n->n_outputs < 1 || (n->n_outputs > 1 && n->outputs[1][0])) return 0;
    kp_node *dq = producer(g, kp_node_input(n, 0));
    kp_node *q = only_consumer(g, n->outputs[0]);
    if (!dq_act_ok(g, dq) || !q_ok(g, q) || !same_params(g, dq, q)) return 0;
    if (pool) {
        const char *ap = kp_node_attr_string(n, "auto_pad", "NOTSET");
        const int64_t *v;
        if ((strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) ||
            kp_node_attr_ints(n, "kernel_shape", &v) != 2)
            return 0;
    }
    kp_node *f = kp_node_clone(n, g);
    if (!f) return kp_error_set(err, KP_ENOMEM, "out of memory");
    if (pool) {
        free(f->op_type);
        free(f->domain);
        f->op_type = strdup("MaxPool8");
        f->domain = strdup("ai.kompress");
        kp_node_remove_attr(f, "storage_order");
    }
    if (!f->op_type || (pool && !f->domain) || kp_node_set_input(f, 0, kp_node_input(dq, 0)) ||
        kp_node_set_output(f, 0, q->outputs[0])) {
        kp_node_free(f);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    for (size_t k = 1; k < f->n_outputs; k++) free(f->outputs[k]); /* unused indices output */
    if (f->n_outputs > 1) f->n_outputs = 1;
    kp_graph_replace_node(g, pos, f);
    remove_node_ptr(g, q);
    return 1;
}

/* DQ(a), DQ(b) -> Add [-> Relu] -> Q: one int8 kernel (ai.kompress:QAdd, core/ops/int8_elem.c)
 * whose bytes equal the unfused float steps. The DQ nodes stay for any other readers. */
static int fuse_add(kp_graph *g, size_t pos, kp_error *err) {
    kp_node *n = g->nodes[pos];
    if (!kp_node_is(n, "Add") || n->n_inputs != 2 || n->n_outputs != 1) return 0;
    kp_node *da = producer(g, kp_node_input(n, 0)), *db = producer(g, kp_node_input(n, 1));
    if (!dq_act_ok(g, da) || !dq_act_ok(g, db)) return 0;
    kp_node *after = only_consumer(g, n->outputs[0]), *relu = NULL, *q = NULL;
    if (after && kp_node_is(after, "Relu") && after->n_outputs == 1) {
        kp_node *aq = only_consumer(g, after->outputs[0]);
        if (q_ok(g, aq)) relu = after, q = aq;
    } else if (q_ok(g, after))
        q = after;
    if (!q) return 0;
    const char *out = q->outputs[0];
    kp_node *f = kp_node_new("QAdd", n->name, 0, NULL, 1, &out);
    if (!f) return kp_error_set(err, KP_ENOMEM, "out of memory");
    const char *in[8] = {kp_node_input(da, 0), kp_node_input(da, 1), kp_node_input(da, 2),
                         kp_node_input(db, 0), kp_node_input(db, 1), kp_node_input(db, 2),
                         kp_node_input(q, 1),  kp_node_input(q, 2)};
    free(f->domain);
    f->domain = strdup("ai.kompress");
    if (!f->domain || set_inputs(f, in, 8) || (relu && kp_node_set_attr_int(f, "relu", 1))) {
        kp_node_free(f);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    kp_graph_replace_node(g, pos, f);
    if (relu) remove_node_ptr(g, relu);
    remove_node_ptr(g, q);
    return 1;
}

/* DQ(x_1) .. DQ(x_k) -> Concat -> Q: one int8 kernel (ai.kompress:QConcat). */
static int fuse_concat(kp_graph *g, size_t pos, kp_error *err) {
    kp_node *n = g->nodes[pos];
    if (!kp_node_is(n, "Concat") || n->n_inputs < 1 || n->n_inputs > 64 || n->n_outputs != 1)
        return 0;
    kp_node *q = only_consumer(g, n->outputs[0]);
    if (!q_ok(g, q)) return 0;
    const char *in[2 + 3 * 64];
    in[0] = kp_node_input(q, 1);
    in[1] = kp_node_input(q, 2);
    for (size_t i = 0; i < n->n_inputs; i++) {
        kp_node *d = producer(g, kp_node_input(n, i));
        if (!dq_act_ok(g, d)) return 0;
        for (int t = 0; t < 3; t++) in[2 + 3 * i + (size_t)t] = kp_node_input(d, (size_t)t);
    }
    const char *out = q->outputs[0];
    kp_node *f = kp_node_new("QConcat", n->name, 0, NULL, 1, &out);
    if (!f) return kp_error_set(err, KP_ENOMEM, "out of memory");
    free(f->domain);
    f->domain = strdup("ai.kompress");
    if (!f->domain || set_inputs(f, in, 2 + 3 * n->n_inputs) ||
        kp_node_set_attr_int(f, "axis", kp_node_attr_int(n, "axis", 0))) {
        kp_node_free(f);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    kp_graph_replace_node(g, pos, f);
    remove_node_ptr(g, q);
    return 1;
}

/* The node reading value v as its only reader, with op type op (default domain), or NULL. */
static kp_node *only_consumer_is(kp_graph *g, const char *v, const char *op) {
    kp_node *u = v && *v ? only_consumer(g, v) : NULL;
    return u && kp_node_is(u, op) ? u : NULL;
}

/* t holds C values along the output's channel axis: [C] for a matrix product (last axis),
 * [C, 1, ...] (rank w_rank - 1) for a convolution's NC... output. */
static int along_channels(const kp_tensor *t, int64_t C, int conv, int w_rank) {
    if (t->numel != C) return 0;
    if (!conv) return t->rank == 1;
    if (t->rank != w_rank - 1 || t->dims[0] != C) return 0;
    for (int d = 1; d < t->rank; d++)
        if (t->dims[d] != 1) return 0;
    return 1;
}

/* quant-dynamic's pattern at a MatMulInteger or ConvInteger (pos):
 *   d = DynamicQuantizeLinear(x); MatMulInteger(d.y, W, d.zero[, wz]) -> Cast(float) -> t;
 *   s = Mul(d.scale, ws); Mul(t, s) [-> Add(., bias)]
 * with W, wz, ws, bias constants and every intermediate read only inside the pattern: one
 * ai.kompress:DynQMatMul (core/ops/int8_matmul.c), same bytes. */
static int fuse_dynamic(kp_graph *g, size_t pos, kp_error *err) {
    kp_node *n = g->nodes[pos];
    int conv = kp_node_is(n, "ConvInteger");
    if ((!conv && !kp_node_is(n, "MatMulInteger")) || n->n_outputs != 1) return 0;
    kp_node *d = producer(g, kp_node_input(n, 0));
    if (!d || !kp_node_is(d, "DynamicQuantizeLinear") || d->n_outputs != 3) return 0;
    if (strcmp(d->outputs[0], kp_node_input(n, 0)) || !kp_node_input(n, 2) ||
        strcmp(d->outputs[2], kp_node_input(n, 2)))
        return 0;
    if (only_consumer(g, d->outputs[0]) != n || only_consumer(g, d->outputs[2]) != n) return 0;
    const kp_tensor *w = cst(g, kp_node_input(n, 1));
    if (!w || (w->dtype != KP_INT8 && w->dtype != KP_UINT8)) return 0;
    if (conv ? (w->rank != 4 && w->rank != 3) || w->dtype != KP_INT8 : w->rank != 2) return 0;
    int64_t C = conv ? w->dims[0] : w->dims[1];
    const char *wzn = kp_node_input(n, 3);
    const kp_tensor *wz = wzn ? cst(g, wzn) : NULL;
    if (wzn && !wz) return 0;
    for (int64_t i = 0; conv && wz && i < wz->numel; i++)
        if (kp_tensor_get(wz, i) != 0) return 0; /* the direct conv path wants zero points 0 */
    kp_node *c = only_consumer_is(g, n->outputs[0], "Cast");
    if (!c || c->n_outputs != 1 || kp_node_attr_int(c, "to", 0) != KP_FLOAT) return 0;
    kp_node *m2 = only_consumer_is(g, c->outputs[0], "Mul");
    kp_node *m1 = only_consumer_is(g, d->outputs[1], "Mul");
    if (!m2 || !m1 || m1 == m2 || m1->n_outputs != 1 || m2->n_outputs != 1) return 0;
    /* m1 = Mul(scale, ws) in either order, read only by m2 */
    int si = !strcmp(kp_node_input(m1, 0), d->outputs[1]) ? 0 : 1;
    const char *wsn = kp_node_input(m1, 1 - (size_t)si);
    const kp_tensor *ws = cst(g, wsn);
    if (!ws || ws->dtype != KP_FLOAT || !(ws->numel == 1 || along_channels(ws, C, conv, w->rank)))
        return 0;
    if (only_consumer(g, m1->outputs[0]) != m2) return 0;
    int ci = !strcmp(kp_node_input(m2, 0), c->outputs[0]) ? 0 : 1;
    if (strcmp(kp_node_input(m2, 1 - (size_t)ci), m1->outputs[0])) return 0;
    kp_node *add = only_consumer_is(g, m2->outputs[0], "Add");
    const char *bias = NULL;
    if (add && add->n_outputs == 1) {
        int ti = !strcmp(kp_node_input(add, 0), m2->outputs[0]) ? 0 : 1;
        const char *bn = kp_node_input(add, 1 - (size_t)ti);
        const kp_tensor *b = cst(g, bn);
        if (b && b->dtype == KP_FLOAT && along_channels(b, C, conv, w->rank))
            bias = bn;
        else
            add = NULL;
    } else
        add = NULL;
    const char *out = add ? add->outputs[0] : m2->outputs[0];
    kp_node *f = kp_node_new(conv ? "DynQConv" : "DynQMatMul", n->name, 0, NULL, 1, &out);
    if (!f) return kp_error_set(err, KP_ENOMEM, "out of memory");
    const char *in[5] = {kp_node_input(d, 0), kp_node_input(n, 1), wzn, wsn, bias};
    free(f->domain);
    f->domain = strdup("ai.kompress");
    if (!f->domain || set_inputs(f, in, 5) || (conv && copy_conv_attrs(f, n))) {
        kp_node_free(f);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    kp_graph_replace_node(g, pos, f);
    remove_node_ptr(g, d);
    remove_node_ptr(g, c);
    remove_node_ptr(g, m1);
    remove_node_ptr(g, m2);
    if (add) remove_node_ptr(g, add);
    return 1;
}

static int has_fp16(const kp_graph *g) {
    for (size_t i = 0; i < g->n_inits; i++)
        if (g->inits[i]->dtype == KP_FLOAT16) return 1;
    for (size_t i = 0; i < g->n_nodes; i++)
        if (kp_node_is(g->nodes[i], "Cast") && kp_node_attr_int(g->nodes[i], "to", 0) == KP_FLOAT16)
            return 1;
    return 0;
}

static int worth_it(const kp_graph *g) {
    for (size_t i = 0; i < g->n_nodes; i++)
        if (kp_node_is(g->nodes[i], "DequantizeLinear") ||
            kp_node_is(g->nodes[i], "DynamicQuantizeLinear"))
            return 1;
    return has_fp16(g);
}

/* fp16 emulation: float16 constants widened to float32 (exact), Cast-to-float16 and every
 * other node's outputs rounded through float16 (ai.kompress:RoundF16), so values are what an
 * fp16 device stores while the arithmetic runs in fp32 (as fp16 hardware accumulates). */
static int lower_fp16(kp_graph *g, kp_error *err) {
    for (size_t i = 0; i < g->n_inits; i++) {
        kp_tensor *t = g->inits[i];
        if (t->dtype != KP_FLOAT16) continue;
        kp_tensor *f = kp_tensor_new(KP_FLOAT, t->rank, t->dims, err);
        if (!f || kp_tensor_set_name(f, t->name)) {
            kp_tensor_free(f);
            return kp_error_set(err, KP_ENOMEM, "out of memory");
        }
        for (int64_t k = 0; k < t->numel; k++)
            ((float *)f->data)[k] = kp_f16_to_f32(((const uint16_t *)t->data)[k]);
        kp_tensor_free(t);
        g->inits[i] = f;
    }
    kp_graph_touch(g);
    size_t n0 = g->n_nodes;
    for (size_t i = 0; i < n0; i++) {
        kp_node *n = g->nodes[i];
        if (kp_node_is(n, "Cast")) {
            int64_t to = kp_node_attr_int(n, "to", 0);
            if (to == KP_FLOAT16) {
                free(n->op_type);
                free(n->domain);
                n->op_type = strdup("RoundF16");
                n->domain = strdup("ai.kompress");
                kp_node_remove_attr(n, "to");
                if (!n->op_type || !n->domain) return kp_error_set(err, KP_ENOMEM, "out of memory");
            }
            continue;
        }
        if (n->n_attrs) { /* subgraph bodies are not lowered: leave such nodes alone */
            int sub = 0;
            for (size_t a = 0; a < n->n_attrs; a++)
                sub |= n->attrs[a].type == KP_ATTR_GRAPH || n->attrs[a].type == KP_ATTR_GRAPHS;
            if (sub) continue;
        }
        for (size_t k = 0; k < n->n_outputs; k++) {
            if (!n->outputs[k][0]) continue;
            char *orig = strdup(n->outputs[k]), base[300];
            snprintf(base, sizeof base, "%s_f32", orig ? orig : "v");
            char *tmp = orig ? kp_graph_unique_name(g, base) : NULL;
            const char *in[1] = {tmp};
            kp_node *r =
                tmp ? kp_node_new("RoundF16", NULL, 1, in, 1, (const char *const *)&orig) : NULL;
            int bad = !r || kp_node_set_output(n, k, tmp);
            if (!bad) {
                free(r->domain);
                r->domain = strdup("ai.kompress");
                bad = !r->domain || kp_graph_add_node(g, r);
            }
            if (bad) kp_node_free(r);
            free(orig);
            free(tmp);
            if (bad) return kp_error_set(err, KP_ENOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < g->n_value_info; i++)
        if (g->value_info[i].type.elem == KP_FLOAT16) g->value_info[i].type.elem = KP_FLOAT;
    /* Graph outputs the model declares float16 are cast back from the emulated float32 values
     * (consumers inside the graph keep reading float32), so callers get the declared dtype. */
    for (size_t o = 0; o < g->n_outputs; o++) {
        const char *name = g->outputs[o].name;
        if (!name || g->outputs[o].type.kind != KP_TYPE_TENSOR ||
            g->outputs[o].type.elem != KP_FLOAT16)
            continue;
        kp_node *prod = NULL;
        size_t slot = 0;
        for (size_t i = 0; i < g->n_nodes && !prod; i++)
            for (size_t k = 0; k < g->nodes[i]->n_outputs && !prod; k++)
                if (!strcmp(g->nodes[i]->outputs[k], name)) prod = g->nodes[i], slot = k;
        if (!prod) continue;
        char base[300];
        snprintf(base, sizeof base, "%s_f32out", name);
        char *tmp = kp_graph_unique_name(g, base);
        if (!tmp) return kp_error_set(err, KP_ENOMEM, "out of memory");
        int bad = 0;
        for (size_t i = 0; i < g->n_nodes && !bad; i++)
            for (size_t j = 0; j < g->nodes[i]->n_inputs && !bad; j++)
                if (!strcmp(g->nodes[i]->inputs[j], name))
                    bad = kp_node_set_input(g->nodes[i], j, tmp) != 0;
        const char *cin[1] = {tmp}, *cout[1] = {name};
        kp_node *c = bad ? NULL : kp_node_new("Cast", NULL, 1, cin, 1, cout);
        bad = bad || !c || kp_node_set_output(prod, slot, tmp) ||
              kp_node_set_attr_int(c, "to", KP_FLOAT16) || kp_graph_add_node(g, c);
        if (bad && c && c != g->nodes[g->n_nodes - 1]) kp_node_free(c);
        free(tmp);
        if (bad) return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    return kp_graph_toposort(g, err);
}

static int is_k(const kp_node *n, const char *op) {
    return n && n->domain && !strcmp(n->domain, "ai.kompress") && !strcmp(n->op_type, op);
}

/* A fused 2-D QConv with an 8-bit output (y_scale given). */
static int qconv2d(kp_graph *g, const kp_node *n, int need_q_out) {
    if (!is_k(n, "QConv")) return 0;
    const kp_tensor *w = cst(g, kp_node_input(n, 3));
    return w && w->rank == 4 && (!need_q_out || kp_node_input(n, 6));
}

/* Value of node i (its one output) can stay channels-last: made by a 2-D QConv or MaxPool8,
 * not a graph output, read only as input 0 of 2-D QConvs and MaxPool8s. */
static int nhwc_candidate(kp_graph *g, const kp_node *n) {
    if (n->n_outputs != 1 || !(qconv2d(g, n, 1) || is_k(n, "MaxPool8"))) return 0;
    const char *v = n->outputs[0];
    if (kp_graph_is_output(g, v)) return 0;
    kp_node *u[16];
    size_t nu = kp_graph_consumers(g, v, u, 16);
    if (nu == 0 || nu > 16) return 0;
    for (size_t k = 0; k < nu; k++) {
        if (!(qconv2d(g, u[k], 0) || is_k(u[k], "MaxPool8"))) return 0;
        for (size_t j = 1; j < u[k]->n_inputs; j++)
            if (!strcmp(u[k]->inputs[j], v)) return 0;
    }
    return 1;
}

/* Chains of int8 convolutions and max pools keep activations channels-last ([N, H, W, C]):
 * each QConv then reads its patches without transposing its input and writes requantized
 * pixel rows without transposing its output. MaxPool8 is marked only when both its input and
 * output stay channels-last; everything else (graph outputs, Flatten, float consumers) still
 * sees NCHW. */
static int mark_channels_last(kp_graph *g, kp_error *err) {
    size_t nn = g->n_nodes;
    char *in = calloc(nn + 1, 1);
    if (!in) return kp_error_set(err, KP_ENOMEM, "out of memory");
    for (size_t i = 0; i < nn; i++) in[i] = (char)nhwc_candidate(g, g->nodes[i]);
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < nn; i++) {
            kp_node *n = g->nodes[i];
            if (!in[i]) continue;
            int keep = 1;
            if (is_k(n, "MaxPool8")) { /* its input must be channels-last too */
                size_t pos;
                keep = kp_graph_producer(g, kp_node_input(n, 0), &pos) && in[pos];
            }
            kp_node *u[16];
            size_t nu = kp_graph_consumers(g, n->outputs[0], u, 16);
            for (size_t k = 0; k < nu && keep; k++)
                if (is_k(u[k], "MaxPool8")) {
                    size_t pos;
                    keep = kp_graph_producer(g, u[k]->outputs[0], &pos) && in[pos];
                }
            if (!keep) in[i] = 0, changed = 1;
        }
    }
    int rc = 0;
    for (size_t i = 0; i < nn && !rc; i++) {
        kp_node *n = g->nodes[i];
        size_t pos;
        int x_last = (qconv2d(g, n, 0) || is_k(n, "MaxPool8")) &&
                     kp_graph_producer(g, kp_node_input(n, 0), &pos) && in[pos];
        if (is_k(n, "MaxPool8")) {
            if (in[i]) rc = kp_node_set_attr_int(n, "nhwc", 1);
        } else if (is_k(n, "QConv")) {
            if (in[i]) rc = kp_node_set_attr_int(n, "nhwc_out", 1);
            if (!rc && x_last) rc = kp_node_set_attr_int(n, "nhwc_in", 1);
        }
    }
    free(in);
    return rc ? kp_error_set(err, KP_ENOMEM, "out of memory") : 0;
}

int kp_exec_qdq_fuse(const kp_model *m, kp_model **out, kp_error *err) {
    *out = NULL;
    if (!m || !m->graph || !worth_it(m->graph)) return 0;
    kp_model *c = kp_model_clone(m, err);
    if (!c) return err && err->code ? err->code : KP_ENOMEM;
    kp_graph *g = c->graph;
    int fused = 0, rc = 0;
    if (has_fp16(g)) {
        rc = lower_fp16(g, err);
        if (rc) {
            kp_model_free(c);
            return rc;
        }
        fused = 1;
    }
    for (int phase = 0; phase < 2 && rc >= 0; phase++)
        for (size_t i = 0; i < g->n_nodes; i++) {
            kp_node *n = g->nodes[i];
            if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx")) continue;
            rc = phase == 0 ? fuse_compute(g, i, err) : fuse_move(g, i, err);
            if (phase == 0 && rc == 0) rc = fuse_dynamic(g, i, err);
            if (phase == 1 && rc == 0) rc = fuse_add(g, i, err);
            if (phase == 1 && rc == 0) rc = fuse_concat(g, i, err);
            if (rc < 0) break;
            if (rc > 0) {
                fused++;
                i = 0; /* positions moved: rescan (graphs are small next to the work saved) */
                i--;
            }
        }
    if (rc < 0 || !fused) {
        kp_model_free(c);
        return rc < 0 ? rc : 0;
    }
    kp_graph_remove_dead(g);
    rc = kp_graph_toposort(g, err);
    if (!rc) rc = mark_channels_last(g, err);
    if (rc) {
        kp_model_free(c);
        return rc;
    }
    *out = c;
    return 0;
}
