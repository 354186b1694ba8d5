/* Streaming named values over calibration data. The requested values become extra graph
 * outputs of a private copy of the model, run by a normal executor: it frees every other
 * intermediate as soon as its last reader has run. Each batch runs in chunks of at most
 * KP_COLLECT_CHUNK samples, so the requested values held at once stay small next to an
 * ordinary run of the whole batch (the keep_values option would hold every value of it). */
#include <stdlib.h>
#include <string.h>

#include "core/collect.h"
#include "core/exec.h"

#define KP_COLLECT_CHUNK 16

/* Samples [s0, s0 + cs) of each input whose first dim is the batch (bs); other inputs (no batch
 * dim) are passed whole. chunk[k] is owned (NULL when in[k] is passed whole). */
static int slice_inputs(const kp_tensor *const *in, size_t n_in, size_t bs, size_t s0, size_t cs,
                        kp_tensor **chunk, const kp_tensor **use, kp_error *err) {
    for (size_t k = 0; k < n_in; k++) {
        chunk[k] = NULL;
        use[k] = in[k];
        const kp_tensor *t = in[k];
        if (!t || t->rank < 1 || t->dims[0] != (int64_t)bs || cs == bs) continue;
        int64_t dims[KP_MAX_RANK];
        memcpy(dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
        dims[0] = (int64_t)cs;
        kp_tensor *c = kp_tensor_new(t->dtype, t->rank, dims, err);
        if (!c) return err && err->code ? err->code : KP_ENOMEM;
        size_t row = kp_dtype_size(t->dtype) * (size_t)(t->numel / (int64_t)bs);
        if (row) memcpy(c->data, (const char *)t->data + s0 * row, cs * row);
        chunk[k] = c;
        use[k] = c;
    }
    return 0;
}

/* Adds names[i] as graph outputs of c when a node of the top graph produces it and it is not
 * an output already. */
static int add_outputs(kp_model *c, const char *const *names, size_t n, kp_error *err) {
    kp_graph *g = c->graph;
    kp_value_info *o = realloc(g->outputs, (g->n_outputs + n + 1) * sizeof *o);
    if (!o) return kp_error_set(err, KP_ENOMEM, "out of memory");
    g->outputs = o;
    for (size_t i = 0; i < n; i++) {
        if (!names[i] || kp_graph_is_output(g, names[i]) || !kp_graph_producer(g, names[i], NULL))
            continue;
        kp_value_info *v = &g->outputs[g->n_outputs];
        memset(v, 0, sizeof *v);
        v->name = strdup(names[i]);
        if (!v->name) return kp_error_set(err, KP_ENOMEM, "out of memory");
        v->type.kind = KP_TYPE_TENSOR;
        v->type.elem = KP_FLOAT;
        v->type.rank = -1;
        g->n_outputs++;
    }
    kp_graph_touch(g);
    return 0;
}

int kp_collect_values(const kp_model *m, const kp_calib *calib, size_t max_batches,
                      const char *const *names, size_t n, kp_collect_fn fn, void *user,
                      kp_error *err) {
    if (!calib || !calib->get || !calib->n_batches)
        return kp_error_set(err, KP_EINVAL, "calibration data is needed (none was given)");
    kp_model *c = kp_model_clone(m, err);
    if (!c) return err && err->code ? err->code : KP_ENOMEM;
    int rc = add_outputs(c, names, n, err);
    kp_exec_opts opts = {.threads = 1};
    kp_exec *e = NULL;
    if (!rc) rc = kp_exec_new(c, &opts, &e, err);
    if (rc) {
        kp_model_free(c);
        return rc;
    }
    size_t no = kp_exec_n_outputs(e);
    kp_tensor **outs = calloc(no ? no : 1, sizeof *outs);
    const kp_tensor **vals = calloc(n ? n : 1, sizeof *vals);
    size_t ni = kp_exec_n_inputs(e);
    kp_tensor **chunk = calloc(ni + 1, sizeof *chunk);
    const kp_tensor **use = calloc(ni + 1, sizeof *use);
    if (!outs || !vals || !chunk || !use) {
        rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        goto done;
    }
    size_t nb = calib->n_batches;
    if (max_batches && max_batches < nb) nb = max_batches;
    for (size_t b = 0; b < nb && !rc; b++) {
        const kp_tensor *const *in = NULL;
        const int64_t *labels = NULL;
        size_t bs = 0;
        rc = calib->get((kp_calib *)calib, b, &in, &labels, &bs, err);
        if (rc) break;
        size_t n_in = kp_exec_n_inputs(e);
        for (size_t s0 = 0; s0 < (bs ? bs : 1) && !rc; s0 += KP_COLLECT_CHUNK) {
            size_t cs = bs ? (bs - s0 < KP_COLLECT_CHUNK ? bs - s0 : KP_COLLECT_CHUNK) : 0;
            rc = slice_inputs(in, n_in, bs, s0, bs ? cs : 0, chunk, use, err);
            if (!rc) rc = kp_exec_run(e, use, outs, err);
            for (size_t i = 0; !rc && i < n; i++) {
                vals[i] = NULL;
                for (size_t o = 0; !vals[i] && o < no; o++)
                    if (!strcmp(kp_exec_output(e, o)->name, names[i])) vals[i] = outs[o];
                for (size_t k = 0; !vals[i] && k < n_in; k++)
                    if (!strcmp(kp_exec_input(e, k)->name, names[i])) vals[i] = use[k];
                if (!vals[i]) vals[i] = kp_graph_find_const(c->graph, names[i]);
            }
            if (!rc) rc = fn(user, b, vals, err);
            for (size_t o = 0; o < no; o++) {
                kp_tensor_free(outs[o]);
                outs[o] = NULL;
            }
            for (size_t k = 0; k < n_in; k++) {
                kp_tensor_free(chunk[k]);
                chunk[k] = NULL;
            }
        }
    }
done:
    free(outs);
    free(vals);
    free(chunk);
    free((void *)use);
    kp_exec_free(e);
    kp_model_free(c);
    return rc;
}
