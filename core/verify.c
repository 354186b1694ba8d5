/* Numeric model-vs-model check and a latency probe, on top of the executor. */
#include "core/verify.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/exec.h"

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int is_init(const kp_graph *g, const char *name) {
    for (size_t i = 0; i < g->n_inits; i++)
        if (g->inits[i]->name && !strcmp(g->inits[i]->name, name)) return 1;
    return 0;
}

int kp_verify_random_inputs(const kp_model *m, int64_t batch, uint64_t seed, kp_tensor ***in,
                            size_t *n, kp_error *err) {
    *in = NULL;
    *n = 0;
    const kp_graph *g = m->graph;
    kp_tensor **v = calloc(g->n_inputs + 1, sizeof *v);
    if (!v) return kp_error_set(err, KP_ENOMEM, "out of memory");
    size_t k = 0;
    uint64_t s = seed ? seed : 1;
    for (size_t i = 0; i < g->n_inputs; i++) {
        const kp_value_info *vi = &g->inputs[i];
        if (is_init(g, vi->name)) continue;
        if (vi->type.kind != KP_TYPE_TENSOR || vi->type.rank < 0) {
            kp_error_set(err, KP_EUNSUPPORTED, "input %s has no tensor shape to make data for",
                         vi->name);
            goto fail;
        }
        int64_t dims[KP_MAX_RANK];
        if (vi->type.rank > KP_MAX_RANK) {
            kp_error_set(err, KP_ERANGE, "input %s: rank too large", vi->name);
            goto fail;
        }
        for (int d = 0; d < vi->type.rank; d++) {
            int64_t x = vi->type.dims[d].value;
            dims[d] = x >= 0 ? x : (d == 0 ? batch : 1);
        }
        kp_tensor *t = kp_tensor_new(vi->type.elem, vi->type.rank, dims, err);
        if (!t) goto fail;
        v[k++] = t;
        for (int64_t e = 0; e < t->numel; e++) {
            double r = (double)(splitmix(&s) >> 11) / 9007199254740992.0;
            switch (t->dtype) {
            case KP_FLOAT: ((float *)t->data)[e] = (float)r; break;
            case KP_DOUBLE: ((double *)t->data)[e] = r; break;
            case KP_FLOAT16: ((uint16_t *)t->data)[e] = kp_f32_to_f16((float)r); break;
            case KP_UINT8: ((uint8_t *)t->data)[e] = (uint8_t)(r * 256); break;
            case KP_INT8: ((int8_t *)t->data)[e] = (int8_t)(r * 256 - 128); break;
            case KP_INT32: ((int32_t *)t->data)[e] = (int32_t)(r * 10); break;
            case KP_INT64: ((int64_t *)t->data)[e] = (int64_t)(r * 10); break;
            case KP_BOOL: ((uint8_t *)t->data)[e] = r > 0.5; break;
            default:
                kp_error_set(err, KP_EUNSUPPORTED, "input %s: cannot make random %s data", vi->name,
                             kp_dtype_name(t->dtype));
                goto fail;
            }
        }
    }
    *in = v;
    *n = k;
    return 0;
fail:
    for (size_t i = 0; i < k; i++) kp_tensor_free(v[i]);
    free(v);
    return err && err->code ? err->code : KP_EINVAL;
}

static double as_d(const kp_tensor *t, int64_t i) {
    if (t->dtype == KP_FLOAT) return ((const float *)t->data)[i];
    return kp_tensor_get(t, i);
}

static int64_t argmax_row(const kp_tensor *t, int64_t row, int64_t width) {
    int64_t best = 0;
    double bv = -INFINITY;
    for (int64_t j = 0; j < width; j++) {
        double v = as_d(t, row * width + j);
        if (v > bv) bv = v, best = j;
    }
    return best;
}

typedef struct acc_out {
    double max_abs, max_ref, dot, na, nb;
} acc_out;

static void free_outs(kp_tensor **o, size_t n) {
    if (!o) return;
    for (size_t i = 0; i < n; i++) kp_tensor_free(o[i]);
}

int kp_verify_models(const kp_model *ref, const kp_model *cand, const kp_calib *data,
                     const kp_verify_opts *opts, kp_verify *out, kp_error *err) {
    memset(out, 0, sizeof *out);
    out->agree = -1;
    kp_verify_opts o = {0};
    if (opts) o = *opts;
    kp_exec_opts eo = {o.threads, o.cancel, 0};
    kp_exec *er = NULL, *ec = NULL;
    kp_tensor **ro = NULL, **co = NULL, **rin = NULL;
    size_t n_rin = 0, nr = 0, nc = 0;
    acc_out acc[KP_VERIFY_MAX_OUTPUTS];
    memset(acc, 0, sizeof acc);
    size_t agree = 0, total = 0, hit_ref = 0, hit_cand = 0, labelled = 0;
    int rc = kp_exec_new(cand, &eo, &ec, err);
    if (rc) {
        kp_error_wrap(err, "running the rewritten model: ");
        goto done;
    }
    if (ref && (rc = kp_exec_new(ref, &eo, &er, err))) {
        kp_error_wrap(err, "running the reference model: ");
        goto done;
    }
    nc = kp_exec_n_outputs(ec);
    nr = er ? kp_exec_n_outputs(er) : nc;
    if (er && nr != nc) {
        rc = kp_error_set(err, KP_EFORMAT, "the rewritten model has %zu outputs, the reference %zu",
                          nc, nr);
        goto done;
    }
    ro = calloc(nr + 1, sizeof *ro);
    co = calloc(nc + 1, sizeof *co);
    if (!ro || !co) {
        rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        goto done;
    }
    out->n_outputs = nc < KP_VERIFY_MAX_OUTPUTS ? nc : KP_VERIFY_MAX_OUTPUTS;
    for (size_t i = 0; i < out->n_outputs; i++)
        snprintf(out->out[i].name, sizeof out->out[i].name, "%s", kp_exec_output(ec, i)->name);
    size_t n_batches = data ? data->n_batches : 1;
    if (o.max_batches && n_batches > o.max_batches) n_batches = o.max_batches;
    for (size_t b = 0; b < n_batches; b++) {
        if (o.cancel && *o.cancel) {
            rc = kp_error_set(err, KP_ECANCELLED, "cancelled");
            goto done;
        }
        const kp_tensor *const *inputs;
        const int64_t *labels = NULL;
        size_t bs = 0;
        if (data) {
            rc = data->get((kp_calib *)data, b, &inputs, &labels, &bs, err);
            if (rc) goto done;
        } else {
            rc = kp_verify_random_inputs(cand, o.random_samples ? (int64_t)o.random_samples : 8,
                                         o.seed, &rin, &n_rin, err);
            if (rc) goto done;
            inputs = (const kp_tensor *const *)rin;
            bs = n_rin && rin[0]->rank ? (size_t)rin[0]->dims[0] : 1;
        }
        rc = kp_exec_run(ec, inputs, co, err);
        if (rc) {
            kp_error_wrap(err, "running the rewritten model: ");
            goto done;
        }
        if (er && (rc = kp_exec_run(er, inputs, ro, err))) {
            kp_error_wrap(err, "running the reference model: ");
            goto done;
        }
        for (size_t i = 0; er && i < out->n_outputs; i++) {
            const kp_tensor *a = ro[i], *c = co[i];
            if (!a || !c || a->numel != c->numel) {
                rc = kp_error_set(
                    err, KP_EFORMAT, "output %s: %lld values vs %lld in the reference",
                    out->out[i].name, c ? (long long)c->numel : -1, a ? (long long)a->numel : -1);
                goto done;
            }
            for (int64_t e = 0; e < a->numel; e++) {
                double x = as_d(a, e), y = as_d(c, e), d = fabs(x - y);
                if (!(d <= acc[i].max_abs)) acc[i].max_abs = isnan(d) ? INFINITY : d;
                if (fabs(x) > acc[i].max_ref) acc[i].max_ref = fabs(x);
                acc[i].dot += x * y;
                acc[i].na += x * x;
                acc[i].nb += y * y;
            }
        }
        /* top-1 on output 0 when it looks like [batch, classes] */
        const kp_tensor *c0 = co[0];
        if (c0 && c0->rank >= 2 && c0->dims[0] == (int64_t)bs && bs) {
            int64_t width = c0->numel / (int64_t)bs;
            for (size_t s = 0; s < bs; s++) {
                int64_t pc = argmax_row(c0, (int64_t)s, width);
                int64_t pr = er ? argmax_row(ro[0], (int64_t)s, width) : -1;
                if (er) agree += pc == pr;
                if (labels) {
                    labelled++;
                    hit_cand += pc == labels[s];
                    if (er) hit_ref += pr == labels[s];
                }
                total++;
            }
        }
        out->n_samples += bs;
        free_outs(ro, nr);
        free_outs(co, nc);
        memset(ro, 0, sizeof *ro * nr);
        memset(co, 0, sizeof *co * nc);
        if (rin) {
            free_outs(rin, n_rin);
            free(rin);
            rin = NULL;
        }
    }
    out->min_cosine = 1;
    for (size_t i = 0; er && i < out->n_outputs; i++) {
        kp_verify_output *v = &out->out[i];
        v->max_abs = acc[i].max_abs;
        v->max_rel = acc[i].max_ref > 0 ? acc[i].max_abs / acc[i].max_ref
                                        : (acc[i].max_abs > 0 ? INFINITY : 0);
        v->cosine = (acc[i].na > 0 && acc[i].nb > 0) ? acc[i].dot / sqrt(acc[i].na * acc[i].nb)
                                                     : (acc[i].na == acc[i].nb ? 1 : 0);
        if (v->max_abs > out->max_abs) out->max_abs = v->max_abs;
        if (v->max_rel > out->max_rel) out->max_rel = v->max_rel;
        if (v->cosine < out->min_cosine) out->min_cosine = v->cosine;
    }
    if (er && total) out->agree = (double)agree / (double)total;
    if (labelled) {
        out->has_labels = 1;
        out->acc_cand = 100.0 * (double)hit_cand / (double)labelled;
        out->acc_ref = er ? 100.0 * (double)hit_ref / (double)labelled : 0;
    }
    out->peak_cand = kp_exec_peak_bytes(ec);
    out->peak_ref = er ? kp_exec_peak_bytes(er) : 0;
done:
    if (ro) free_outs(ro, nr);
    if (co) free_outs(co, nc);
    free(ro);
    free(co);
    if (rin) {
        free_outs(rin, n_rin);
        free(rin);
    }
    kp_exec_free(er);
    kp_exec_free(ec);
    return rc;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int kp_verify_latency_host(const kp_model *m, int runs, int threads, double *median_s,
                           kp_error *err) {
    int rc = kp_verify_latency(m, 1, runs, threads, median_s, err);
    if (rc || *median_s >= 5e-4) return rc;
    double fill = 0.05 / (*median_s > 1e-6 ? *median_s : 1e-6);
    int more = fill > 10000 ? 10000 : fill < 200 ? 200 : (int)fill;
    return kp_verify_latency(m, 1, more, threads, median_s, err);
}

int kp_verify_latency(const kp_model *m, int64_t batch, int runs, int threads, double *median_s,
                      kp_error *err) {
    *median_s = 0;
    if (runs < 1) runs = 1;
    if (runs > 10000) runs = 10000;
    kp_tensor **in = NULL, **outs = NULL;
    size_t n_in = 0, n_out = 0;
    double *t = calloc((size_t)runs, sizeof *t);
    kp_exec_opts eo = {threads, NULL, 0};
    kp_exec *e = NULL;
    int rc = t ? 0 : kp_error_set(err, KP_ENOMEM, "out of memory");
    if (!rc) rc = kp_verify_random_inputs(m, batch, 7, &in, &n_in, err);
    if (!rc) rc = kp_exec_new(m, &eo, &e, err);
    if (!rc) {
        n_out = kp_exec_n_outputs(e);
        outs = calloc(n_out + 1, sizeof *outs);
        if (!outs) rc = kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    for (int r = -1; !rc && r < runs; r++) {
        double t0 = now_s();
        rc = kp_exec_run(e, (const kp_tensor *const *)in, outs, err);
        if (r >= 0) t[r] = now_s() - t0;
        if (outs) free_outs(outs, n_out);
    }
    if (!rc) {
        qsort(t, (size_t)runs, sizeof *t, cmp_d);
        *median_s = t[runs / 2];
    }
    kp_exec_free(e);
    free(outs);
    if (in) free_outs(in, n_in);
    free(in);
    free(t);
    return rc;
}
