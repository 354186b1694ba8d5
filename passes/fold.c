/* fold: lossless graph clean-up. In order, on every graph (subgraphs included):
 *   Identity/Dropout removal, constant folding through the executor's kernels, BatchNorm into
 *   Conv/ConvTranspose/Gemm, MatMul+Add -> Gemm (2-D input, constant [K,N] weight, bias of N),
 *   zero Pad into Conv/AveragePool pads, then dead nodes and unused initializers.
 * Every rewrite keeps outputs equal up to float rounding; with calibration data the result is
 * compared with the input model and the pass fails when they differ beyond `tol`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/exec.h"
#include "core/ops/ops.h"
#include "core/shape_infer.h"
#include "passes/common.h"
#include "passes/verify.h"

typedef struct fold_state {
    kp_model *m;
    const kp_pass_ctx *ctx;
    int fold_constants;
    size_t n_identity, n_const, n_bn, n_gemm, n_pad;
} fold_state;

/* ---- Identity / Dropout ------------------------------------------------------------------- */

static int dropout_is_identity(kp_graph *g, const kp_node *n) {
    if (n->n_outputs > 1 && n->outputs[1][0] && kp_value_n_uses(g, n->outputs[1])) return 0;
    const char *tm = kp_node_input(n, 2);
    if (tm) {
        kp_tensor *t = kp_graph_find_const(g, tm);
        if (!t || t->numel != 1 || kp_tensor_get(t, 0) != 0) return 0;
    }
    return 1; /* inference: Dropout passes its input through */
}

static int remove_identities(kp_graph *g, fold_state *st) {
    for (size_t i = 0; i < g->n_nodes;) {
        kp_node *n = g->nodes[i];
        int ident = kp_node_is(n, "Identity") && n->n_inputs == 1;
        if (kp_node_is(n, "Dropout")) ident = dropout_is_identity(g, n);
        const char *x = kp_node_input(n, 0);
        if (!ident || !x || n->n_outputs < 1 || !n->outputs[0][0]) {
            i++;
            continue;
        }
        char *xs = strdup(x), *ys = strdup(n->outputs[0]);
        if (!xs || !ys) {
            free(xs);
            free(ys);
            return KP_ENOMEM;
        }
        int done = 0;
        if (!kp_graph_is_output(g, ys)) {
            kp_graph_remove_node(g, i);
            kp_graph_rename_value(g, ys, xs);
            done = 1;
        } else {
            /* Y is a graph output: rename X's producer instead, when X is made here. */
            size_t ppos;
            kp_node *p = kp_graph_producer(g, xs, &ppos);
            if (p && !kp_graph_is_output(g, xs)) {
                kp_graph_remove_node(g, i);
                kp_graph_rename_value(g, xs, ys);
                done = 1;
            }
        }
        free(xs);
        free(ys);
        if (done) {
            st->n_identity++;
            kp_graph_touch(g);
        } else {
            i++;
        }
    }
    return 0;
}

/* ---- constant folding --------------------------------------------------------------------- */

static int has_graph_attr(const kp_node *n) {
    for (size_t a = 0; a < n->n_attrs; a++)
        if (n->attrs[a].type == KP_ATTR_GRAPH || n->attrs[a].type == KP_ATTR_GRAPHS) return 1;
    return 0;
}

static int nondeterministic(const kp_node *n) {
    static const char *const ops[] = {"RandomNormal",      "RandomUniform", "RandomNormalLike",
                                      "RandomUniformLike", "Multinomial",   "Bernoulli",
                                      "Constant",          "Dropout"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (kp_node_is(n, ops[i])) return 1;
    return 0;
}

static int copy_opsets(kp_model *dst, const kp_model *src) {
    if (!src->n_opsets) return 0;
    dst->opsets = calloc(src->n_opsets, sizeof *dst->opsets);
    if (!dst->opsets) return KP_ENOMEM;
    dst->n_opsets = src->n_opsets;
    for (size_t i = 0; i < src->n_opsets; i++) {
        dst->opsets[i].domain = strdup(src->opsets[i].domain ? src->opsets[i].domain : "");
        dst->opsets[i].version = src->opsets[i].version;
        if (!dst->opsets[i].domain) return KP_ENOMEM;
    }
    return 0;
}

/* Runs node n alone on its constant inputs; fills outs[0..n_outputs) with owned tensors. */
static int eval_node(const kp_model *m, kp_graph *g, const kp_node *n, kp_tensor **outs,
                     kp_error *err) {
    kp_model *mm = kp_model_new();
    kp_exec *e = NULL;
    int rc = KP_ENOMEM;
    if (!mm) return kp_error_set(err, KP_ENOMEM, "out of memory");
    mm->ir_version = m->ir_version;
    if (copy_opsets(mm, m)) goto done;
    for (size_t i = 0; i < n->n_inputs; i++) {
        const char *v = kp_node_input(n, i);
        if (!v || kp_graph_init(mm->graph, v)) continue;
        kp_tensor *t = kp_tensor_clone(kp_graph_find_const(g, v), err);
        if (!t) goto done;
        if (kp_tensor_set_name(t, v) || kp_graph_add_init(mm->graph, t)) {
            kp_tensor_free(t);
            goto done;
        }
    }
    kp_node *c = kp_node_clone(n, mm->graph);
    if (!c) goto done;
    if (kp_graph_add_node(mm->graph, c)) {
        kp_node_free(c);
        goto done;
    }
    mm->graph->outputs = calloc(n->n_outputs, sizeof *mm->graph->outputs);
    if (!mm->graph->outputs) goto done;
    for (size_t o = 0; o < n->n_outputs; o++) {
        mm->graph->outputs[o].name = strdup(n->outputs[o]);
        mm->graph->n_outputs++;
        if (!mm->graph->outputs[o].name) goto done;
    }
    rc = kp_exec_new(mm, NULL, &e, err);
    if (!rc) rc = kp_exec_run(e, NULL, outs, err);
done:
    if (rc == KP_ENOMEM && !err->msg[0]) kp_error_set(err, KP_ENOMEM, "out of memory");
    kp_exec_free(e);
    kp_model_free(mm);
    return rc;
}

static int fold_constants(kp_graph *g, fold_state *st, kp_error *err) {
    for (size_t i = 0; i < g->n_nodes;) {
        kp_node *n = g->nodes[i];
        int ok = n->n_inputs > 0 && n->n_outputs > 0 && !has_graph_attr(n) &&
                 !nondeterministic(n) && (!n->domain || !n->domain[0]) &&
                 kp_ops_find(n->domain, n->op_type);
        size_t in_bytes = 0;
        for (size_t k = 0; ok && k < n->n_inputs; k++) {
            const char *v = kp_node_input(n, k);
            if (!v) continue;
            kp_tensor *t = kp_graph_find_const(g, v);
            if (!t)
                ok = 0;
            else
                in_bytes += t->nbytes + 8 * (size_t)t->numel * (t->dtype == KP_STRING);
        }
        for (size_t o = 0; ok && o < n->n_outputs; o++)
            if (!n->outputs[o][0] || kp_graph_is_output(g, n->outputs[o])) ok = 0;
        if (!ok) {
            i++;
            continue;
        }
        kp_tensor **outs = calloc(n->n_outputs, sizeof *outs);
        if (!outs) return kp_error_set(err, KP_ENOMEM, "out of memory");
        kp_error e2;
        kp_error_clear(&e2);
        int rc = eval_node(st->m, g, n, outs, &e2);
        size_t out_bytes = 0;
        for (size_t o = 0; !rc && o < n->n_outputs; o++) out_bytes += outs[o]->nbytes;
        /* Never expand: a small pattern that builds a large tensor (our own compressed weight
         * encodings, ConstantOfShape, Expand) stays as it is. */
        if (rc || out_bytes > in_bytes + 256) {
            if (rc && rc != KP_EUNSUPPORTED)
                kp_pass_notef(st->ctx, "fold: %s '%s' kept (%s)", n->op_type, kp_node_label(n),
                              e2.msg);
            for (size_t o = 0; o < n->n_outputs; o++) kp_tensor_free(outs[o]);
            free(outs);
            i++;
            continue;
        }
        size_t nout = n->n_outputs;
        char **names = calloc(nout, sizeof *names);
        for (size_t o = 0; names && o < nout; o++) names[o] = strdup(n->outputs[o]);
        kp_graph_remove_node(g, i);
        for (size_t o = 0; o < nout; o++) {
            if (names && names[o] && !kp_tensor_set_name(outs[o], names[o]) &&
                !kp_graph_add_init(g, outs[o]))
                outs[o] = NULL;
            kp_tensor_free(outs[o]);
            if (names) free(names[o]);
        }
        free(names);
        free(outs);
        kp_graph_touch(g);
        st->n_const++;
    }
    return 0;
}

/* ---- BatchNorm into the producer ---------------------------------------------------------- */

/* Channel of element i of the weight, for each producer kind; -1 if unknown. */
typedef struct wlayout {
    int kind; /* 0 conv, 1 convtranspose, 2 gemm transB=0, 3 gemm transB=1 */
    int64_t cout, inner, d1, group, cin;
} wlayout;

static int64_t channel_of(const wlayout *L, int64_t i) {
    switch (L->kind) {
    case 0: return i / L->inner;
    case 1: {
        int64_t ci = i / (L->d1 * L->inner), j = (i / L->inner) % L->d1;
        int64_t grp = ci / (L->cin / L->group);
        return grp * L->d1 + j;
    }
    case 2: return i % L->cout;
    default: return i / L->inner;
    }
}

static int fold_bn(kp_graph *g, fold_state *st, kp_error *err) {
    for (size_t i = 0; i < g->n_nodes; i++) {
        kp_node *bn = g->nodes[i];
        if (!kp_node_is(bn, "BatchNormalization") || bn->n_inputs < 5) continue;
        int extra = 0;
        for (size_t o = 1; o < bn->n_outputs; o++)
            if (bn->outputs[o][0] && kp_value_n_uses(g, bn->outputs[o])) extra = 1;
        if (extra || kp_node_attr_int(bn, "spatial", 1) != 1 ||
            kp_node_attr_int(bn, "training_mode", 0) != 0)
            continue;
        const char *x = kp_node_input(bn, 0);
        size_t ppos;
        kp_node *p = x ? kp_graph_producer(g, x, &ppos) : NULL;
        if (!p || kp_value_n_uses(g, x) != 1 || strcmp(p->outputs[0], x)) continue;
        int is_conv = kp_node_is(p, "Conv"), is_ct = kp_node_is(p, "ConvTranspose");
        int is_gemm = kp_node_is(p, "Gemm");
        if (!is_conv && !is_ct && !is_gemm) continue;
        kp_tensor *w = kp_pass_const_input(g, p, 1);
        kp_tensor *b = kp_pass_const_input(g, p, 2);
        if (!w || (kp_node_input(p, 2) && !b)) continue;
        kp_tensor *sc = kp_pass_const_input(g, bn, 1), *bb = kp_pass_const_input(g, bn, 2);
        kp_tensor *mu = kp_pass_const_input(g, bn, 3), *var = kp_pass_const_input(g, bn, 4);
        if (!sc || !bb || !mu || !var) continue;
        wlayout L = {0};
        if (is_conv) {
            if (w->rank < 3 || w->dims[0] <= 0) continue;
            L.kind = 0;
            L.cout = w->dims[0];
            L.inner = w->numel / w->dims[0];
        } else if (is_ct) {
            L.group = kp_node_attr_int(p, "group", 1);
            if (w->rank < 3 || L.group <= 0 || w->dims[0] % L.group || w->dims[1] <= 0) continue;
            L.kind = 1;
            L.cin = w->dims[0];
            L.d1 = w->dims[1];
            L.cout = w->dims[1] * L.group;
            L.inner = w->numel / (w->dims[0] * w->dims[1]);
        } else {
            if (w->rank != 2) continue;
            int tb = (int)kp_node_attr_int(p, "transB", 0);
            L.kind = tb ? 3 : 2;
            L.cout = tb ? w->dims[0] : w->dims[1];
            L.inner = tb ? w->dims[1] : 1;
        }
        int64_t C = L.cout;
        if (sc->numel != C || bb->numel != C || mu->numel != C || var->numel != C) continue;
        if (b && !(b->numel == C || (is_gemm && b->numel == 1))) continue;
        if (b && is_gemm && b->rank == 2 && b->dims[0] != 1) continue;
        double eps = kp_node_attr_float(bn, "epsilon", 1e-5f);
        double beta = is_gemm ? kp_node_attr_float(p, "beta", 1.0f) : 1.0;
        const float *S = sc->data, *BB = bb->data, *MU = mu->data, *V = var->data;
        double *s = malloc(sizeof(double) * (size_t)C);
        kp_tensor *nw = kp_tensor_clone(w, err);
        int64_t bd[1] = {C};
        kp_tensor *nb = kp_tensor_new(KP_FLOAT, 1, bd, err);
        if (!s || !nw || !nb) {
            free(s);
            kp_tensor_free(nw);
            kp_tensor_free(nb);
            return kp_error_set(err, KP_ENOMEM, "out of memory folding BatchNormalization");
        }
        for (int64_t c = 0; c < C; c++) s[c] = S[c] / sqrt((double)V[c] + eps);
        float *W = nw->data, *NB = nb->data;
        for (int64_t k = 0; k < w->numel; k++) W[k] = (float)(W[k] * s[channel_of(&L, k)]);
        for (int64_t c = 0; c < C; c++) {
            double b0 = b ? beta * ((const float *)b->data)[b->numel == 1 ? 0 : c] : 0.0;
            NB[c] = (float)((b0 - MU[c]) * s[c] + BB[c]);
        }
        free(s);
        char wname[200], base[256]; /* copy: rewiring input 1 frees the node's string */
        snprintf(wname, sizeof wname, "%s", kp_node_input(p, 1));
        snprintf(base, sizeof base, "%s_bnfold", wname);
        int rc = kp_pass_set_input_const(g, p, 1, nw, base, err);
        if (!rc) {
            snprintf(base, sizeof base, "%s_bnfold_bias", wname);
            rc = kp_pass_set_input_const(g, p, 2, nb, base, err);
        } else {
            kp_tensor_free(nb);
        }
        if (rc) return rc;
        if (is_gemm) kp_node_set_attr_float(p, "beta", 1.0f);
        if (kp_node_set_output(p, 0, bn->outputs[0])) return KP_ENOMEM;
        kp_graph_remove_node(g, i);
        kp_graph_touch(g);
        st->n_bn++;
        i = (size_t)-1; /* restart: positions changed */
    }
    return 0;
}

/* ---- MatMul + Add -> Gemm ----------------------------------------------------------------- */

static int fold_matmul_add(kp_graph *g, fold_state *st) {
    if (kp_model_opset(st->m, "") < 7) return 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        kp_node *add = g->nodes[i];
        if (!kp_node_is(add, "Add") || add->n_inputs != 2) continue;
        for (int side = 0; side < 2; side++) {
            const char *mo = kp_node_input(add, (size_t)side);
            const char *cn = kp_node_input(add, (size_t)(1 - side));
            size_t mpos;
            kp_node *mm = mo ? kp_graph_producer(g, mo, &mpos) : NULL;
            if (!mm || !cn || !kp_node_is(mm, "MatMul") || kp_value_n_uses(g, mo) != 1) continue;
            kp_tensor *B = kp_pass_const_input(g, mm, 1), *C = kp_graph_find_const(g, cn);
            const char *a = kp_node_input(mm, 0);
            const kp_type *at = a ? kp_graph_value_type(g, a) : NULL;
            if (!B || B->rank != 2 || !C || C->dtype != KP_FLOAT || !at ||
                at->kind != KP_TYPE_TENSOR || at->rank != 2 || at->elem != KP_FLOAT)
                continue;
            int64_t N = B->dims[1];
            int cshape_ok = (C->rank == 1 && C->dims[0] == N) ||
                            (C->rank == 2 && C->dims[0] == 1 && C->dims[1] == N);
            if (!cshape_ok) continue;
            const char *in[3] = {a, kp_node_input(mm, 1), cn};
            const char *out[1] = {add->outputs[0]};
            kp_node *gm = kp_node_new("Gemm", mm->name, 3, in, 1, out);
            if (!gm) return KP_ENOMEM;
            kp_graph_replace_node(g, i, gm);
            kp_graph_remove_node(g, mpos);
            kp_graph_touch(g);
            st->n_gemm++;
            i = (size_t)-1;
            break;
        }
    }
    return 0;
}

/* ---- Pad into Conv / AveragePool ---------------------------------------------------------- */

static int pad_amounts(kp_graph *g, const kp_node *pad, const int64_t **pads, size_t *np,
                       kp_tensor **pt) {
    const char *mode = kp_node_attr_string(pad, "mode", "constant");
    if (strcmp(mode, "constant")) return 0;
    *pt = NULL;
    if (pad->n_inputs >= 2 && kp_node_input(pad, 1)) {
        if (kp_node_input(pad, 3)) return 0; /* axes: not handled */
        kp_tensor *t = kp_graph_find_const(g, kp_node_input(pad, 1));
        if (!t || t->dtype != KP_INT64 || t->rank != 1) return 0;
        const char *cv = kp_node_input(pad, 2);
        if (cv) {
            kp_tensor *c = kp_graph_find_const(g, cv);
            if (!c || c->numel != 1 || kp_tensor_get(c, 0) != 0) return 0;
        }
        *pads = t->data;
        *np = (size_t)t->numel;
        *pt = t;
        return 1;
    }
    if (kp_node_attr_float(pad, "value", 0.0f) != 0.0f) return 0;
    *np = kp_node_attr_ints(pad, "pads", pads);
    return *np > 0;
}

static int fold_pad(kp_graph *g, fold_state *st) {
    for (size_t i = 0; i < g->n_nodes; i++) {
        kp_node *pad = g->nodes[i];
        if (!kp_node_is(pad, "Pad") || pad->n_outputs != 1) continue;
        const char *y = pad->outputs[0];
        kp_node *c = NULL;
        if (kp_value_n_uses(g, y) != 1 || kp_graph_consumers(g, y, &c, 1) != 1 || !c) continue;
        int is_conv = kp_node_is(c, "Conv");
        if (!is_conv && !kp_node_is(c, "AveragePool")) continue;
        if (strcmp(kp_node_input(c, 0) ? kp_node_input(c, 0) : "", y)) continue;
        const char *ap = kp_node_attr_string(c, "auto_pad", "NOTSET");
        if (strcmp(ap, "NOTSET")) continue;
        const int64_t *pp;
        size_t np;
        kp_tensor *pt;
        if (!pad_amounts(g, pad, &pp, &np, &pt) || np % 2 || np < 6) continue;
        size_t r = np / 2, ns = r - 2;
        if (pp[0] || pp[1] || pp[r] || pp[r + 1]) continue;
        int neg = 0;
        for (size_t k = 0; k < np; k++) neg |= pp[k] < 0;
        if (neg) continue;
        if (!is_conv) {
            const int64_t *cp;
            size_t ncp = kp_node_attr_ints(c, "pads", &cp);
            int any = 0;
            for (size_t k = 0; k < ncp; k++) any |= cp[k] != 0;
            if (any && !kp_node_attr_int(c, "count_include_pad", 0)) continue;
        }
        const int64_t *cp;
        size_t ncp = kp_node_attr_ints(c, "pads", &cp);
        if (ncp && ncp != 2 * ns) continue;
        int64_t np2[2 * KP_MAX_RANK];
        if (ns > KP_MAX_RANK) continue;
        for (size_t k = 0; k < ns; k++) {
            np2[k] = (ncp ? cp[k] : 0) + pp[2 + k];
            np2[ns + k] = (ncp ? cp[ns + k] : 0) + pp[r + 2 + k];
        }
        const char *x = kp_node_input(pad, 0);
        if (!x) continue;
        if (kp_node_set_attr_ints(c, "pads", 2 * ns, np2)) return KP_ENOMEM;
        if (!is_conv) kp_node_set_attr_int(c, "count_include_pad", 1);
        if (kp_node_set_input(c, 0, x)) return KP_ENOMEM;
        kp_graph_remove_node(g, i);
        kp_graph_touch(g);
        st->n_pad++;
        i = (size_t)-1;
    }
    return 0;
}

/* ---- driver ------------------------------------------------------------------------------- */

static int fold_graph(kp_graph *g, void *user, kp_error *err) {
    fold_state *st = user;
    int rc = remove_identities(g, st);
    if (!rc && st->fold_constants) rc = fold_constants(g, st, err);
    if (!rc) rc = fold_bn(g, st, err);
    if (!rc) rc = fold_matmul_add(g, st);
    if (!rc) rc = fold_pad(g, st);
    if (rc && !err->msg[0]) kp_error_set(err, rc, "fold: out of memory");
    return rc;
}

static int fold_apply(kp_model *m, const kp_params *p, const kp_pass_ctx *ctx, kp_error *err) {
    fold_state st = {.m = m, .ctx = ctx, .fold_constants = kp_params_bool(p, "constants")};
    kp_error e2;
    kp_error_clear(&e2);
    /* Shapes tell where MatMul+Add can become Gemm (2-D inputs only). */
    if (kp_infer_shapes(m, &e2))
        kp_pass_notef(ctx, "fold: shape inference stopped (%s); MatMul+Add fusion limited", e2.msg);
    int rc = kp_pass_each_graph(m->graph, fold_graph, &st, err);
    if (rc) return rc;
    size_t dead = kp_graph_remove_dead(m->graph);
    rc = kp_graph_toposort(m->graph, err);
    if (rc) return rc;
    kp_pass_notef(ctx,
                  "fold: %zu Identity/Dropout removed, %zu constants folded, %zu BatchNorm "
                  "folded, %zu MatMul+Add fused, %zu Pad merged, %zu dead nodes/initializers",
                  st.n_identity, st.n_const, st.n_bn, st.n_gemm, st.n_pad, dead);
    if (ctx && ctx->calib && ctx->reference && ctx->calib->n_batches) {
        double rel = 0;
        rc = kp_pass_compare(ctx->reference, m, ctx->calib, 2, &rel, err);
        if (rc) return kp_error_wrap(err, "fold: verifying: ");
        double tol = kp_params_float(p, "tol");
        if (rel > tol)
            return kp_error_set(err, KP_EINVAL,
                                "fold changed outputs by %.3g relative (tolerance %.3g): this is "
                                "a bug in fold, the model is left unchanged",
                                rel, tol);
    }
    return 0;
}

static int fold_estimate(const kp_model *m, const kp_params *p, const kp_pass_ctx *ctx,
                         kp_estimate *out, kp_error *err) {
    (void)p;
    (void)ctx;
    (void)err;
    size_t n = 0;
    for (size_t i = 0; i < m->graph->n_nodes; i++) {
        const kp_node *nd = m->graph->nodes[i];
        if (kp_node_is(nd, "BatchNormalization") || kp_node_is(nd, "Identity") ||
            kp_node_is(nd, "Dropout") || kp_node_is(nd, "Pad") || kp_node_is(nd, "Constant"))
            n++;
    }
    memset(out, 0, sizeof *out);
    out->size_ratio = 1.0;
    out->latency_ratio = m->graph->n_nodes ? 1.0 - 0.5 * (double)n / (double)m->graph->n_nodes : 1;
    out->acc_drop = 0;
    out->confidence = 0.5;
    out->applicable = n > 0;
    if (n)
        snprintf(out->reason, sizeof out->reason,
                 "%zu nodes can be folded away (BatchNorm, Identity, Dropout, Pad, constants)", n);
    else
        snprintf(out->reason, sizeof out->reason, "nothing obvious to fold");
    return 0;
}

static const kp_param_def fold_params[] = {
    {"constants", KP_PARAM_BOOL, "true", 0, 1, NULL,
     "evaluate nodes whose inputs are all constant (never when the result is larger)"},
    {"tol", KP_PARAM_FLOAT, "1e-5", 0, 1, NULL,
     "largest relative output change accepted when verifying on calibration data"},
};

const kp_pass kp_pass_fold = {
    .id = "fold",
    .title = "Fold and clean up (lossless)",
    .summary = "Folds BatchNorm into Conv/Gemm, constants, Dropout/Identity, MatMul+Add, Pad; "
               "removes dead code",
    .lossless = 1,
    .needs_data = 0,
    .n_params = sizeof fold_params / sizeof *fold_params,
    .params = fold_params,
    .estimate = fold_estimate,
    .apply = fold_apply,
};
