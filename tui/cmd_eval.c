/* kompress eval MODEL --data D ...: accuracy on test data, latency, size, memory, MACs. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/dataset.h"
#include "core/exec.h"
#include "core/metrics.h"
#include "core/model_stats.h"
#include "core/onnx_io.h"
#include "core/project.h"
#include "core/shape_infer.h"
#include "tui/cli.h"
#include "tui/cli_opts.h"

#define CMD "eval"

static void usage(FILE *f) {
    fprintf(
        f, "usage: kompress eval MODEL --data D [options] [--json]\n"
           "       kompress eval --project DIR|project.json [MODEL] [options] [--json]\n\n"
           "Runs MODEL on test data and prints accuracy, latency, size, memory and MACs.\n\n"
           "data:\n"
           "  --data D           .npy, .npz, IDX (.gz too), .csv, or a folder of test_data_set_N/\n"
           "  --format F         npy|npz|idx|csv|onnx-pb (default: from the name)\n"
           "  --labels L         labels file (.npy, IDX, or text/CSV with one integer per line)\n"
           "  --label-column C   CSV: label column name or 0-based index (default: a header\n"
           "                     column named label/class/target/y)\n"
           "  --npz-key K        npz: entry holding the inputs\n"
           "  --reference R.onnx without labels: compare with this model's outputs (agreement)\n"
           "  --save-preds P.npy write the predicted class of every sample (int64 .npy)\n"
           "  --limit N          use the first N samples\n"
           "preprocessing (x = (raw * scale - mean[c]) / std[c]):\n"
           "  --scale S  --mean a,b,c  --std a,b,c  --layout nchw|nhwc (layout of the data)\n"
           "measurement:\n"
           "  --batch B          batch size for accuracy and for the batch latency (default 64)\n"
           "  --threads T        OpenBLAS threads (default 1)\n"
           "  --runs R           timed runs per latency figure (default 20), --warmup W (3)\n"
           "  --no-latency       skip latency\n"
           "  --project P        take model, data and preprocessing from project.json; flags\n"
           "                     given here override it\n"
           "  --json             machine-readable output\n"
           "Exit status: 0 ok, 1 error (bad model or data), 2 usage error.\n");
}

typedef struct eval_args {
    const char *model, *reference, *project, *save_preds;
    kp_cli_data d; /* --data, --labels, preprocessing, --batch, --limit */
    long long threads, runs, warmup;
    int json, no_latency;
} eval_args;

/* ---- progress ------------------------------------------------------------------------------ */

/* "evaluating [#####.....] 3200/10000 samples", redrawn at most every 100 ms. */
static void progress(int on, size_t done, size_t total) {
    static double last;
    if (!on) return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    if (done < total && done > 0 && now - last < 0.1) return;
    last = now;
    int width = 30, fill = total ? (int)((double)done / (double)total * width) : width;
    fprintf(stderr, "\r  evaluating [");
    for (int i = 0; i < width; i++) fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %zu/%zu samples", done, total);
    if (done == total) fprintf(stderr, "\r%*s\r", width + 50, "");
    fflush(stderr);
}

/* ---- pieces ------------------------------------------------------------------------------- */

static int refuse_missing(const kp_model *m, const char *path) {
    char **ops = NULL;
    size_t n = 0;
    kp_error err;
    if (kp_exec_missing_ops(m, &ops, &n, &err)) return kp_cli_fail(CMD, &err);
    if (!n) return 0;
    char list[1024] = "";
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", ops[i]);
    }
    kp_strv_free(ops, n);
    return kp_cli_failf(CMD, 1, "%s: cannot evaluate: %zu op%s without a kernel: %s", path, n,
                        n == 1 ? "" : "s", list);
}

static void free_outputs(kp_tensor **o, size_t n) {
    for (size_t i = 0; i < n; i++) {
        kp_tensor_free(o[i]);
        o[i] = NULL;
    }
}

/* A view of the first `rows` rows of t (data borrowed). */
static kp_tensor head_view(const kp_tensor *t, int64_t rows) {
    kp_tensor v = *t;
    v.name = t->name;
    v.borrowed = 1;
    v.strings = NULL;
    v.doc_string = NULL;
    if (t->rank >= 1 && t->dims[0] > rows) {
        v.dims[0] = rows;
        v.numel = t->numel / t->dims[0] * rows;
        v.nbytes = (size_t)v.numel * kp_dtype_size(t->dtype);
    }
    return v;
}

typedef struct results {
    kp_accuracy acc;
    int have_lat1, have_latb;
    kp_latency lat1, latb;
    uint64_t file_bytes, gzip_bytes, weight_bytes, params, macs;
    size_t peak1, peakb;
    int64_t peakb_batch; /* batch size of the run peakb was measured on */
    int64_t macs_batch;
    int macs_measured; /* 1: counted from a run's shapes; 0: from model statistics */
    size_t samples;
} results;

/* The first graph input's batch dimension when it is a fixed number, else 1. */
static int64_t fixed_batch(const kp_model *m) {
    const kp_graph *g = m->graph;
    for (size_t i = 0; i < g->n_inputs; i++) {
        const kp_value_info *v = &g->inputs[i];
        int init = 0;
        for (size_t k = 0; k < g->n_inits && !init; k++)
            init = g->inits[k]->name && !strcmp(g->inits[k]->name, v->name);
        if (init) continue;
        return v->type.rank >= 1 && v->type.dims[0].value > 1 ? v->type.dims[0].value : 1;
    }
    return 1;
}

/* Parameters, weight bytes and MACs from the shared model statistics (core/model_stats.h, as
 * `kompress info` shows them). Returns 1 when the MAC count is complete. Mutates m's value_info
 * (shape inference), so it runs before an executor borrows m. */
static int static_stats(kp_model *m, results *r) {
    kp_error err;
    kp_model_stats *st = NULL;
    if (kp_infer_shapes(m, &err) || kp_model_stats_compute(m, &st, &err)) return 0;
    r->params = (uint64_t)st->params;
    r->weight_bytes = (uint64_t)st->param_bytes;
    int complete = st->macs_complete;
    if (complete) {
        r->macs = (uint64_t)st->macs;
        r->macs_batch = fixed_batch(m); /* statistics count a symbolic batch as 1 */
    }
    kp_model_stats_free(st);
    return complete;
}

static int measure_static(const char *model_path, const kp_model *m, const kp_tensor *const *in1,
                          int threads, results *r, kp_error *err) {
    int rc = kp_file_sizes(model_path, &r->file_bytes, &r->gzip_bytes, err);
    if (rc || !r->macs_measured) return rc;
    if (!r->weight_bytes) r->weight_bytes = kp_weight_bytes(m);
    if (!r->params) r->params = kp_param_count(m);
    /* The statistics could not count every layer: count from one run that keeps every value
     * (exact shapes of this batch). */
    kp_exec_opts o = {.threads = threads, .keep_values = 1};
    kp_exec *e = NULL;
    if ((rc = kp_exec_new(m, &o, &e, err))) return rc;
    size_t no = kp_exec_n_outputs(e);
    kp_tensor **outs = calloc(no ? no : 1, sizeof *outs);
    if (!outs) rc = kp_error_set(err, KP_ENOMEM, "out of memory");
    if (!rc) rc = kp_exec_run(e, in1, outs, err);
    if (!rc) rc = kp_exec_macs(e, m, &r->macs, err);
    r->macs_batch = in1[0]->rank ? in1[0]->dims[0] : 1;
    if (outs) free_outputs(outs, no);
    free(outs);
    kp_exec_free(e);
    return rc;
}

/* Appends the arg max of the first n rows of scores to f (int64). */
static int write_preds(FILE *f, const kp_tensor *scores, size_t n, kp_error *err) {
    if (scores->dtype == KP_INT64 && scores->numel >= (int64_t)n &&
        (scores->rank == 1 || (scores->rank == 2 && scores->dims[1] == 1))) {
        if (fwrite(scores->data, sizeof(int64_t), n, f) != n) /* class indices already */
            return kp_error_set(err, KP_EIO, "--save-preds: write failed");
        return 0;
    }
    if (scores->dtype != KP_FLOAT || scores->rank < 1)
        return kp_error_set(err, KP_EUNSUPPORTED,
                            "--save-preds needs float32 scores or int64 class indices");
    int64_t k = scores->dims[scores->rank - 1];
    const float *v = scores->data;
    for (size_t r = 0; r < n; r++) {
        int64_t best = 0;
        for (int64_t c = 1; c < k; c++)
            if (v[(int64_t)r * k + c] > v[(int64_t)r * k + best]) best = c;
        if (fwrite(&best, sizeof best, 1, f) != 1)
            return kp_error_set(err, KP_EIO, "--save-preds: write failed");
    }
    return 0;
}

static int eval_accuracy(kp_exec *e, kp_exec *ref, kp_dataset *ds, FILE *preds, results *r,
                         kp_error *err) {
    size_t nb = kp_dataset_n_batches(ds), no = kp_exec_n_outputs(e);
    size_t nr = ref ? kp_exec_n_outputs(ref) : 0;
    kp_tensor **outs = calloc(no + nr + 1, sizeof *outs), **routs = outs + no;
    if (!outs) return kp_error_set(err, KP_ENOMEM, "out of memory");
    int tty = isatty(2), rc = 0;
    kp_accuracy_init(&r->acc);
    progress(tty, 0, kp_dataset_has_reference(ds) ? nb : kp_dataset_n_samples(ds));
    for (size_t b = 0; b < nb && !rc; b++) {
        kp_batch batch;
        if ((rc = kp_dataset_batch(ds, b, &batch, err))) break;
        if ((rc = kp_exec_run(e, batch.inputs, outs, err))) break;
        if (preds && (rc = write_preds(preds, outs[0], batch.n, err))) break;
        if (batch.labels) {
            rc = kp_accuracy_add_labels(&r->acc, outs[0], batch.n, batch.labels, err);
        } else if (batch.n_refs) {
            for (size_t k = 0; k < batch.n_refs && k < no && !rc; k++)
                rc = kp_accuracy_add_reference(&r->acc, outs[k], batch.refs[k], err);
        } else if (ref) {
            if (!(rc = kp_exec_run(ref, batch.inputs, routs, err)))
                for (size_t k = 0; k < nr && k < no && !rc; k++) {
                    kp_tensor a = head_view(outs[k], (int64_t)batch.n);
                    kp_tensor bb = head_view(routs[k], (int64_t)batch.n);
                    rc = kp_accuracy_add_reference(&r->acc, &a, &bb, err);
                }
            free_outputs(routs, nr);
        }
        if (b == 0) {
            r->peakb = kp_exec_peak_bytes(e);
            r->peakb_batch = batch.inputs[0]->rank ? batch.inputs[0]->dims[0] : 1;
        }
        r->samples += batch.n;
        free_outputs(outs, no);
        progress(tty, r->samples, kp_dataset_has_reference(ds) ? nb : kp_dataset_n_samples(ds));
    }
    if (rc && tty) fputc('\n', stderr);
    free_outputs(outs, no + nr);
    free(outs);
    return rc;
}

static int eval_latency(kp_exec *e, kp_dataset *ds, const eval_args *a, int64_t fixed, results *r,
                        kp_error *err) {
    kp_batch batch;
    int rc = kp_dataset_batch(ds, 0, &batch, err);
    if (rc) return rc;
    const kp_tensor *in0 = batch.inputs[0];
    int64_t rows = in0->rank ? in0->dims[0] : 1;
    int single = !batch.n_refs && batch.n_inputs == 1;
    /* Batch 1, unless the model's batch size is a fixed number above 1 or the data is ONNX test
     * folders (their tensors are run as given). */
    if (single && fixed == 1) {
        kp_tensor one = head_view(in0, 1);
        const kp_tensor *in1[1] = {&one};
        rc = kp_measure_latency(e, in1, (int)a->warmup, (int)a->runs, NULL, &r->lat1, err);
        if (rc) return rc;
        r->have_lat1 = 1;
        r->peak1 = kp_exec_peak_bytes(e);
    }
    if (rows > 1 || !single) {
        rc = kp_measure_latency(e, batch.inputs, (int)a->warmup, (int)a->runs, NULL, &r->latb, err);
        if (rc) return rc;
        r->have_latb = 1;
        r->peakb = kp_exec_peak_bytes(e);
        r->peakb_batch = r->latb.batch;
    }
    return 0;
}

/* 1 when the first graph input's batch dimension is not a fixed number above 1. */
static int batch_is_free(const kp_model *m) {
    return fixed_batch(m) == 1;
}

/* ---- output ------------------------------------------------------------------------------- */

static void print_human(const char *model, const char *data, kp_dataset *ds, const results *r,
                        int threads, int warmup) {
    char shape[128];
    printf("model     %s\n", model);
    if (kp_dataset_has_reference(ds))
        printf("data      %s (%s, %zu test data set%s with reference outputs)\n", data,
               kp_data_format_name(kp_dataset_format(ds)), r->samples, r->samples == 1 ? "" : "s");
    else
        printf("data      %s (%s, %zu samples of %s%s)\n", data,
               kp_data_format_name(kp_dataset_format(ds)), r->samples,
               kp_dataset_sample_shape(ds, shape, sizeof shape),
               kp_dataset_has_labels(ds) ? ", labelled" : "");
    const kp_accuracy *acc = &r->acc;
    if (acc->n && acc->class_outputs)
        printf("accuracy  top-1 %.2f%% (%zu/%zu)  (the model outputs class indices: no top-5)\n",
               kp_accuracy_top1(acc), acc->top1, acc->n);
    else if (acc->n)
        printf("accuracy  top-1 %.2f%% (%zu/%zu)  top-5 %.2f%%\n", kp_accuracy_top1(acc), acc->top1,
               acc->n, kp_accuracy_top5(acc));
    if (acc->n_ref)
        printf("agreement top-1 %.2f%% (%zu/%zu rows)  max abs error %.3g  cosine %.6f\n",
               kp_accuracy_agreement(acc), acc->agree, acc->n_ref, acc->max_abs,
               kp_accuracy_cosine(acc));
    if (!acc->n && !acc->n_ref)
        printf("accuracy  not measured: no labels and no reference (--labels or --reference)\n");
    if (r->have_lat1)
        printf("latency   batch 1: median %.3f ms (p10 %.3f, p90 %.3f)\n", r->lat1.median_ms,
               r->lat1.p10_ms, r->lat1.p90_ms);
    if (r->have_latb)
        printf("latency   batch %lld: median %.3f ms (p10 %.3f, p90 %.3f) = %.4f ms/sample\n",
               (long long)r->latb.batch, r->latb.median_ms, r->latb.p10_ms, r->latb.p90_ms,
               r->latb.median_ms / (double)(r->latb.batch > 0 ? r->latb.batch : 1));
    if (r->have_lat1 || r->have_latb)
        printf("          %d thread%s, %d timed runs after %d warm-up runs\n", threads,
               threads == 1 ? "" : "s", r->have_lat1 ? r->lat1.runs : r->latb.runs, warmup);
    printf("size      %llu bytes on disk, %llu gzipped\n", (unsigned long long)r->file_bytes,
           (unsigned long long)r->gzip_bytes);
    /* weights + peak live activations: what a run needs, at batch 1 and at the batch size */
    printf("memory    weights %llu bytes", (unsigned long long)r->weight_bytes);
    if (r->have_lat1)
        printf(" + peak activations %zu at batch 1 = %llu bytes", r->peak1,
               (unsigned long long)(r->weight_bytes + r->peak1));
    if (r->peakb && r->peakb_batch != 1)
        printf("%s peak activations %zu at batch %lld = %llu bytes", r->have_lat1 ? ";" : " +",
               r->peakb, (long long)r->peakb_batch,
               (unsigned long long)(r->weight_bytes + r->peakb));
    printf("\n");
    double per = (double)r->macs / (double)(r->macs_batch > 0 ? r->macs_batch : 1);
    printf("compute   %.0f MACs per sample (%.2f M), %llu parameters\n", per, per / 1e6,
           (unsigned long long)r->params);
}

static void add_latency(cJSON *o, const char *key, const kp_latency *l) {
    cJSON *x = cJSON_AddObjectToObject(o, key);
    cJSON_AddNumberToObject(x, "batch", (double)l->batch);
    cJSON_AddNumberToObject(x, "runs", l->runs);
    cJSON_AddNumberToObject(x, "median_ms", l->median_ms);
    cJSON_AddNumberToObject(x, "p10_ms", l->p10_ms);
    cJSON_AddNumberToObject(x, "p90_ms", l->p90_ms);
    cJSON_AddNumberToObject(x, "min_ms", l->min_ms);
}

static void print_json(const char *model, const char *data, kp_dataset *ds, const results *r,
                       int threads) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", model);
    cJSON *d = cJSON_AddObjectToObject(o, "data");
    cJSON_AddStringToObject(d, "path", data);
    cJSON_AddStringToObject(d, "format", kp_data_format_name(kp_dataset_format(ds)));
    cJSON_AddNumberToObject(d, "samples", (double)r->samples);
    cJSON_AddBoolToObject(d, "labels", kp_dataset_has_labels(ds));
    cJSON *a = cJSON_AddObjectToObject(o, "accuracy");
    const kp_accuracy *acc = &r->acc;
    if (acc->n) {
        cJSON_AddNumberToObject(a, "top1", kp_accuracy_top1(acc));
        if (!acc->class_outputs) cJSON_AddNumberToObject(a, "top5", kp_accuracy_top5(acc));
        cJSON_AddNumberToObject(a, "correct", (double)acc->top1);
        cJSON_AddNumberToObject(a, "samples", (double)acc->n);
    }
    if (acc->n_ref) {
        cJSON_AddNumberToObject(a, "agreement", kp_accuracy_agreement(acc));
        cJSON_AddNumberToObject(a, "max_abs_error", acc->max_abs);
        cJSON_AddNumberToObject(a, "cosine", kp_accuracy_cosine(acc));
        cJSON_AddNumberToObject(a, "rows", (double)acc->n_ref);
    }
    cJSON *l = cJSON_AddObjectToObject(o, "latency");
    cJSON_AddNumberToObject(l, "threads", threads);
    if (r->have_lat1) add_latency(l, "batch1", &r->lat1);
    if (r->have_latb) add_latency(l, "batchB", &r->latb);
    cJSON *s = cJSON_AddObjectToObject(o, "size");
    cJSON_AddNumberToObject(s, "file_bytes", (double)r->file_bytes);
    cJSON_AddNumberToObject(s, "gzip_bytes", (double)r->gzip_bytes);
    cJSON *m = cJSON_AddObjectToObject(o, "memory");
    cJSON_AddNumberToObject(m, "weight_bytes", (double)r->weight_bytes);
    if (r->have_lat1) {
        cJSON_AddNumberToObject(m, "peak_activation_bytes_batch1", (double)r->peak1);
        cJSON_AddNumberToObject(m, "total_bytes_batch1", (double)(r->weight_bytes + r->peak1));
    }
    if (r->peakb) cJSON_AddNumberToObject(m, "peak_activation_bytes_batchB", (double)r->peakb);
    cJSON_AddNumberToObject(o, "macs_per_sample",
                            (double)r->macs / (double)(r->macs_batch > 0 ? r->macs_batch : 1));
    cJSON_AddStringToObject(o, "macs_source", r->macs_measured ? "measured run" : "model_stats");
    cJSON_AddNumberToObject(o, "parameters", (double)r->params);
    char *txt = cJSON_Print(o);
    if (txt) puts(txt);
    free(txt);
    cJSON_Delete(o);
}

/* ---- main ----------------------------------------------------------------------------------- */

static int parse_args(int argc, char **argv, eval_args *a) {
    memset(a, 0, sizeof *a);
    kp_cli_data_init(&a->d);
    a->threads = 1;
    a->runs = 20;
    a->warmup = 3;
    kp_opt opts[KP_CLI_DATA_N_OPTS + 10] = {
        {"reference", 0, KP_OPT_STR, &a->reference, 0, 0, NULL},
        {"threads", 't', KP_OPT_LONG, &a->threads, 1, 256, NULL},
        {"runs", 'r', KP_OPT_LONG, &a->runs, 1, 100000, NULL},
        {"warmup", 0, KP_OPT_LONG, &a->warmup, 0, 100000, NULL},
        {"project", 'p', KP_OPT_STR, &a->project, 0, 0, NULL},
        {"no-latency", 0, KP_OPT_FLAG, &a->no_latency, 0, 0, NULL},
        {"json", 'j', KP_OPT_FLAG, &a->json, 0, 0, NULL},
        {"save-preds", 0, KP_OPT_STR, &a->save_preds, 0, 0, NULL},
    };
    kp_cli_data_opts(&a->d, 1, opts + 8);
    size_t n_pos;
    int st = kp_cli_parse(CMD, argc, argv, opts, usage, "MODEL", 0, 1, &a->model, &n_pos);
    /* accuracy and the batch latency use the same batch size (64 unless given) */
    if (a->d.batch < 0) a->d.batch = 64;
    return st;
}

static int run(int argc, char **argv) {
    eval_args a;
    int st = parse_args(argc, argv, &a);
    if (st >= 0) return st;
    kp_error err;
    kp_error_clear(&err);
    kp_project *proj = NULL;
    kp_model *m = NULL, *refm = NULL;
    kp_dataset *ds = NULL;
    kp_exec *e = NULL, *refe = NULL;
    char *model_path = NULL, *data_path = NULL, *labels_path = NULL;
    int rc = 0, status = 1;
    FILE *preds = NULL;
    kp_dataset_opts o;
    kp_dataset_opts_init(&o);
    if (a.project) {
        if ((rc = kp_project_load(a.project, &proj, &err))) goto fail;
        if (!a.model && proj->model) model_path = kp_project_path(proj, proj->model);
        if (!a.d.data && (rc = kp_dataset_opts_from_spec(&proj->data, proj->dir, &o, &data_path,
                                                         &labels_path, &err)))
            goto fail;
    }
    if (a.model) model_path = strdup(a.model);
    if (a.d.data) data_path = strdup(a.d.data);
    if (!model_path || !data_path) {
        usage(stderr);
        status = kp_cli_failf(CMD, 2, "%s",
                              !model_path ? "give a MODEL (or --project)"
                                          : "give --data (or --project)");
        goto done;
    }
    if ((rc = kp_cli_data_apply(&a.d, &o, &err))) goto fail;
    if ((rc = kp_onnx_load(model_path, NULL, &m, &err))) goto fail;
    if (refuse_missing(m, model_path)) goto done;
    if (a.reference) {
        if ((rc = kp_onnx_load(a.reference, NULL, &refm, &err))) goto fail;
        if (refuse_missing(refm, a.reference)) goto done;
    }
    if ((rc = kp_dataset_open(data_path, &o, &ds, &err))) goto fail;
    if ((rc = kp_dataset_bind(ds, m, &err))) goto fail;
    results r;
    memset(&r, 0, sizeof r);
    r.macs_measured = !static_stats(m, &r);
    kp_exec_opts eo = {.threads = (int)a.threads};
    if ((rc = kp_exec_new(m, &eo, &e, &err))) goto fail;
    if (refm && (rc = kp_exec_new(refm, &eo, &refe, &err))) goto fail;

    if (a.save_preds) {
        uint8_t hdr[512];
        int64_t n = (int64_t)kp_dataset_n_samples(ds);
        size_t hl = kp_npy_header(KP_INT64, 1, &n, hdr, sizeof hdr);
        if (kp_dataset_has_reference(ds)) {
            rc = kp_error_set(&err, KP_EUNSUPPORTED,
                              "--save-preds needs stacked samples, not ONNX test folders");
            goto fail;
        }
        if (!(preds = fopen(a.save_preds, "wb")) || fwrite(hdr, 1, hl, preds) != hl) {
            rc = kp_error_set(&err, KP_EIO, "%s: cannot write", a.save_preds);
            goto fail;
        }
    }
    if ((rc = eval_accuracy(e, refe, ds, preds, &r, &err))) goto fail;
    if (preds) {
        int bad = fclose(preds) != 0;
        preds = NULL;
        if (bad) {
            rc = kp_error_set(&err, KP_EIO, "%s: write failed", a.save_preds);
            goto fail;
        }
    }
    if (!a.no_latency && (rc = eval_latency(e, ds, &a, fixed_batch(m), &r, &err))) goto fail;
    kp_batch b0;
    if ((rc = kp_dataset_batch(ds, 0, &b0, &err))) goto fail;
    if (b0.n_inputs == 1 && !b0.n_refs) {
        /* MACs per sample from a batch-1 run, unless the model's batch size is fixed. */
        kp_tensor one = head_view(b0.inputs[0], 1);
        const kp_tensor *in1[1] = {batch_is_free(m) ? &one : b0.inputs[0]};
        rc = measure_static(model_path, m, in1, (int)a.threads, &r, &err);
    } else {
        rc = measure_static(model_path, m, b0.inputs, (int)a.threads, &r, &err);
    }
    if (rc) goto fail;
    if (a.json)
        print_json(model_path, data_path, ds, &r, (int)a.threads);
    else
        print_human(model_path, data_path, ds, &r, (int)a.threads, (int)a.warmup);
    status = 0;
    goto done;
fail:
    status = kp_cli_fail(CMD, &err);
done:
    if (preds) {
        fclose(preds);
        remove(a.save_preds); /* a partial file is worse than none */
    }
    kp_exec_free(e);
    kp_exec_free(refe);
    kp_dataset_free(ds);
    kp_model_free(m);
    kp_model_free(refm);
    kp_project_free(proj);
    free(model_path);
    free(data_path);
    free(labels_path);
    return status;
}

const kp_cmd kp_cmd_eval = {"eval", "MODEL --data D [--labels L] [--json]",
                            "accuracy, latency, size, memory and MACs on test data", run};
