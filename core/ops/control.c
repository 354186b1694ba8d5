/* Control flow: If and Loop. Bodies run through the executor's run_subgraph hook, with the
 * enclosing graphs' values visible. Results are copied into this node's outputs. */
#include <stdlib.h>
#include <string.h>

#include "core/ops/ops.h"

static const kp_graph *graph_attr(kp_op_ctx *ctx, const char *name) {
    const kp_attr *a = kp_node_attr(ctx->node, name);
    if (!a || a->type != KP_ATTR_GRAPH || !a->g) {
        kp_op_fail(ctx, KP_EFORMAT, "attribute %s (a graph) is missing", name);
        return NULL;
    }
    return a->g;
}

static int need_host(kp_op_ctx *ctx) {
    if (!ctx->run_subgraph)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "subgraphs need the executor to run");
    return 0;
}

/* Copies src into output i (same dtype and shape). */
static int emit(kp_op_ctx *ctx, size_t i, const kp_tensor *src) {
    kp_tensor *y = kp_op_output(ctx, i, src->dtype, src->rank, src->dims);
    if (!y) return ctx->err->code;
    if (src->dtype == KP_STRING) {
        for (int64_t k = 0; k < src->numel; k++) {
            kp_bytes *d = &y->strings[k];
            free(d->data);
            d->data = malloc(src->strings[k].len + 1);
            if (!d->data) return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
            memcpy(d->data, src->strings[k].data, src->strings[k].len);
            d->data[src->strings[k].len] = 0;
            d->len = src->strings[k].len;
        }
    } else if (src->nbytes) {
        memcpy(y->data, src->data, src->nbytes);
    }
    return 0;
}

static int truth(kp_op_ctx *ctx, const kp_tensor *t, const char *what, int *out) {
    if (!t || t->numel != 1)
        return kp_op_fail(ctx, KP_EINVAL, "%s must hold exactly one value", what);
    *out = kp_tensor_get(t, 0) != 0;
    return 0;
}

static void free_all(kp_tensor **v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        kp_tensor_free(v[i]);
        v[i] = NULL;
    }
}

/* ---- If ------------------------------------------------------------------------------------ */

static int if_run(kp_op_ctx *ctx) {
    int rc, c = 0;
    if ((rc = need_host(ctx)) < 0) return rc;
    if ((rc = truth(ctx, kp_op_input(ctx, 0), "cond", &c)) < 0) return rc;
    const kp_graph *g = graph_attr(ctx, c ? "then_branch" : "else_branch");
    if (!g) return ctx->err->code;
    if (g->n_outputs != ctx->n_out)
        return kp_op_fail(ctx, KP_EFORMAT, "branch has %zu outputs, the node %zu", g->n_outputs,
                          ctx->n_out);
    kp_tensor **res = calloc(ctx->n_out + 1, sizeof *res);
    if (!res) return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
    rc = ctx->run_subgraph(ctx, g, 0, NULL, ctx->n_out, res);
    for (size_t i = 0; i < ctx->n_out && rc == 0; i++) rc = emit(ctx, i, res[i]);
    free_all(res, ctx->n_out);
    free(res);
    return rc;
}

/* ---- Loop ---------------------------------------------------------------------------------- */

static int loop_run(kp_op_ctx *ctx) {
    int rc;
    if ((rc = need_host(ctx)) < 0) return rc;
    const kp_graph *body = graph_attr(ctx, "body");
    if (!body) return ctx->err->code;
    const kp_tensor *mt = kp_op_input(ctx, 0), *ct = kp_op_input(ctx, 1);
    if (ctx->n_in < 2) return kp_op_fail(ctx, KP_EFORMAT, "Loop needs inputs M and cond");
    size_t n_carried = ctx->n_in - 2;
    if (body->n_inputs != n_carried + 2 || body->n_outputs < n_carried + 1)
        return kp_op_fail(ctx, KP_EFORMAT,
                          "body takes %zu inputs and gives %zu outputs; %zu loop-carried "
                          "values need %zu and at least %zu",
                          body->n_inputs, body->n_outputs, n_carried, n_carried + 2, n_carried + 1);
    size_t n_scan = body->n_outputs - 1 - n_carried;
    if (ctx->n_out != n_carried + n_scan)
        return kp_op_fail(ctx, KP_EFORMAT, "node has %zu outputs, the body implies %zu", ctx->n_out,
                          n_carried + n_scan);
    if (!mt && !ct)
        return kp_op_fail(ctx, KP_EUNSUPPORTED,
                          "Loop with neither a trip count M nor a cond input never ends");
    int64_t max_trip = INT64_MAX;
    if (mt) {
        if (mt->numel != 1) return kp_op_fail(ctx, KP_EINVAL, "M must hold one value");
        max_trip = (int64_t)kp_tensor_get(mt, 0);
    }
    int cond = 1;
    if (ct && (rc = truth(ctx, ct, "cond", &cond)) < 0) return rc;
    size_t nb_out = body->n_outputs;
    kp_tensor **carried = calloc(n_carried + 1, sizeof *carried);
    kp_tensor **res = calloc(nb_out + 1, sizeof *res);
    const kp_tensor **in = calloc(n_carried + 3, sizeof *in);
    kp_tensor ***scans = calloc(n_scan + 1, sizeof *scans);
    size_t n_iter = 0, cap_iter = 0;
    int64_t one = 0;
    kp_tensor *it = kp_tensor_new(KP_INT64, 0, &one, ctx->err);
    kp_tensor *cd = kp_tensor_new(KP_BOOL, 0, &one, ctx->err);
    if (!carried || !res || !in || !scans || !it || !cd) {
        rc = kp_op_fail(ctx, KP_ENOMEM, "out of memory");
        goto out;
    }
    for (int64_t i = 0; i < max_trip && cond; i++) {
        *(int64_t *)it->data = i;
        *(uint8_t *)cd->data = (uint8_t)cond;
        in[0] = it;
        in[1] = cd;
        for (size_t k = 0; k < n_carried; k++)
            in[2 + k] = n_iter ? carried[k] : kp_op_input(ctx, 2 + k);
        for (size_t k = 0; k < n_carried; k++)
            if (!in[2 + k]) {
                rc = kp_op_fail(ctx, KP_EINVAL, "loop-carried input %zu is missing", k);
                goto out;
            }
        if ((rc = ctx->run_subgraph(ctx, body, n_carried + 2, in, nb_out, res)) < 0) goto out;
        if (ct && (rc = truth(ctx, res[0], "the body's cond output", &cond)) < 0) goto out;
        free_all(carried, n_carried);
        for (size_t k = 0; k < n_carried; k++) {
            carried[k] = res[1 + k];
            res[1 + k] = NULL;
        }
        if (n_scan) {
            if (n_iter == cap_iter) {
                cap_iter = cap_iter ? cap_iter * 2 : 16;
                for (size_t k = 0; k < n_scan; k++) {
                    kp_tensor **ns = realloc(scans[k], cap_iter * sizeof *ns);
                    if (!ns) {
                        rc = kp_op_fail(ctx, KP_ENOMEM, "out of memory");
                        goto out;
                    }
                    scans[k] = ns;
                }
            }
            for (size_t k = 0; k < n_scan; k++) {
                scans[k][n_iter] = res[1 + n_carried + k];
                res[1 + n_carried + k] = NULL;
            }
        }
        free_all(res, nb_out);
        n_iter++;
    }
    for (size_t k = 0; k < n_carried && rc == 0; k++)
        rc = emit(ctx, k, n_iter ? carried[k] : kp_op_input(ctx, 2 + k));
    /* Scan outputs: iterations stacked on a new leading axis. */
    for (size_t k = 0; k < n_scan && rc == 0; k++) {
        int64_t dims[KP_MAX_RANK] = {(int64_t)n_iter};
        int rank = 1;
        kp_dtype dt = KP_FLOAT;
        if (n_iter) {
            const kp_tensor *f = scans[k][0];
            if (f->rank + 1 > KP_MAX_RANK) {
                rc = kp_op_fail(ctx, KP_EUNSUPPORTED, "scan output rank too high");
                break;
            }
            dt = f->dtype;
            rank = f->rank + 1;
            memcpy(dims + 1, f->dims, sizeof(int64_t) * (size_t)f->rank);
            for (size_t j = 1; j < n_iter; j++) {
                const kp_tensor *o = scans[k][j];
                if (o->dtype != f->dtype || o->rank != f->rank ||
                    memcmp(o->dims, f->dims, sizeof(int64_t) * (size_t)f->rank)) {
                    rc = kp_op_fail(ctx, KP_EINVAL,
                                    "scan output %zu changes shape or type between iterations", k);
                    break;
                }
            }
            if (rc) break;
            if (dt == KP_STRING) {
                rc = kp_op_fail(ctx, KP_EUNSUPPORTED, "string scan outputs");
                break;
            }
        } else {
            const kp_value_info *vi = &body->outputs[1 + n_carried + k];
            if (vi->type.kind == KP_TYPE_TENSOR && vi->type.elem) dt = vi->type.elem;
        }
        kp_tensor *y = kp_op_output(ctx, n_carried + k, dt, rank, dims);
        if (!y) {
            rc = ctx->err->code;
            break;
        }
        size_t off = 0;
        for (size_t j = 0; j < n_iter; j++) {
            memcpy((char *)y->data + off, scans[k][j]->data, scans[k][j]->nbytes);
            off += scans[k][j]->nbytes;
        }
    }
out:
    if (carried) free_all(carried, n_carried);
    if (res) free_all(res, nb_out);
    for (size_t k = 0; scans && k < n_scan; k++) {
        if (scans[k]) free_all(scans[k], n_iter);
        free(scans[k]);
    }
    free(scans);
    free(carried);
    free(res);
    free(in);
    kp_tensor_free(it);
    kp_tensor_free(cd);
    return rc;
}

const kp_op_def kp_ops_control[] = {
    {"", "If", if_run},
    {"", "Loop", loop_run},
    {0},
};
