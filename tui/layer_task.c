/* The per-layer view's data (step 8): which layers hold weights, and, on a worker thread,
 * each layer's MACs before and after (core/model_stats.h on shape-inferred copies) and its
 * output error: the original and the compressed model run on a few test samples with
 * keep_values, each layer's output compared where the value name exists in both (relative max
 * error, max|a-b| / max|a|, the worst over the samples). Like tui/plan_task.c, the thread works
 * on its own copies: it loads the compressed model (handing the screen a copy of it), the
 * original from its file and the project itself, so the UI thread only copies paths and never
 * waits for it, not even when the screen is left while it works (the task is cancelled and
 * joined once it ends). A cancelled task stops within about a second, whatever it was doing
 * (the loads, shape inference and the MAC walk check the cancel flag every few thousand
 * nodes), so quitting joins every task without waiting for work nobody will see. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dataset.h"
#include "core/model_stats.h"
#include "core/onnx_io.h"
#include "core/shape_infer.h"
#include "tui/ui.h"

static const kp_tensor *find_init(const kp_graph *g, const char *name) {
    for (size_t i = 0; i < g->n_inits; i++)
        if (g->inits[i]->name && !strcmp(g->inits[i]->name, name)) return g->inits[i];
    return NULL;
}

double kp_layer_zero_frac(const kp_tensor *t) {
    size_t es = kp_dtype_size(t->dtype);
    if (!es || !t->data || !t->numel) return 0;
    int64_t z = 0;
    const unsigned char *p = t->data;
    for (int64_t i = 0; i < t->numel; i++) {
        int nz = 0;
        for (size_t k = 0; k < es; k++) nz |= p[(size_t)i * es + k] & (k == es - 1 ? 0x7f : 0xff);
        z += !nz;
    }
    return (double)z / (double)t->numel;
}

/* The layers that hold weights, in graph order, with the weight and bias inputs' positions. */
static int weight_slots(const kp_node *n, int *w, int *b) {
    static const struct {
        const char *op;
        int w, b;
    } ops[] = {{"Conv", 1, 2},        {"ConvTranspose", 1, 2}, {"Gemm", 1, 2},
               {"MatMul", 1, -1},     {"ConvInteger", 1, -1},  {"MatMulInteger", 1, -1},
               {"QLinearConv", 3, 8}, {"QLinearMatMul", 3, -1}};
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx")) return 0;
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (!strcmp(n->op_type, ops[i].op)) return *w = ops[i].w, *b = ops[i].b, 1;
    return 0;
}

/* The stored tensor behind a value: an initializer, or one reached through the nodes that only
 * change its form (DequantizeLinear, Cast, Transpose, Reshape, Identity). */
static const kp_tensor *stored(const kp_graph *g, const char *name, int depth) {
    if (!name || !name[0] || depth > 4) return NULL;
    const kp_tensor *t = find_init(g, name);
    if (t) return t;
    static const char *const pass_through[] = {"DequantizeLinear", "Cast", "Transpose", "Reshape",
                                               "Identity"};
    for (size_t i = 0; i < g->n_nodes; i++) {
        const kp_node *n = g->nodes[i];
        for (size_t o = 0; o < n->n_outputs; o++) {
            if (strcmp(n->outputs[o], name)) continue;
            for (size_t k = 0; k < sizeof pass_through / sizeof *pass_through; k++)
                if (!strcmp(n->op_type, pass_through[k]) && n->n_inputs)
                    return stored(g, n->inputs[0], depth + 1);
            return NULL;
        }
    }
    return NULL;
}

size_t kp_layers_of(const kp_graph *g, kp_layer *out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < g->n_nodes && k < cap; i++) {
        const kp_node *n = g->nodes[i];
        int wi, bi;
        if (!weight_slots(n, &wi, &bi)) continue;
        const kp_tensor *w = (size_t)wi < n->n_inputs ? stored(g, n->inputs[wi], 0) : NULL;
        if (!w) continue; /* activation x activation */
        out[k].n = n;
        out[k].w = w;
        out[k].b = bi >= 0 && (size_t)bi < n->n_inputs ? stored(g, n->inputs[bi], 0) : NULL;
        k++;
    }
    return k;
}

enum { MAX_LAYERS = 256, MAX_BATCHES = 2, BATCH = 4 };

/* One task: its own copies of everything, so an abandoned task (the screen was left while it
 * worked) can finish on its own and be joined later without holding the UI up. */
typedef struct task {
    pthread_t th;
    atomic_int loaded;   /* the compressed model's load ended (ui or load_err is set) */
    atomic_int finished; /* everything ended (and proj, m0, m1 are freed) */
    volatile int cancel;
    kp_project *proj;
    kp_model *m0, *m1;
    kp_model *ui; /* a copy of m1 for the screen, until taken */
    char load_err[512];
    kp_layer_result res;
    char path[8192]; /* the compressed model the result is for */
    char *orig_path; /* the original to load here (NULL: m0 was cloned at start) */
    char *proj_dir;  /* the project to reload here */
} task;

enum { MAX_OLD = 8 };
static task *T;            /* the screen's task, NULL = none */
static task *old[MAX_OLD]; /* abandoned tasks still running, joined once finished */
static size_t n_old;

static void macs_of(task *t, kp_model *m, int64_t *macs, int64_t *total) {
    kp_error e = {0};
    *total = -1;
    if (kp_infer_shapes_cancel(m, &t->cancel, &e) || t->cancel) return;
    kp_layer L[MAX_LAYERS];
    size_t n = kp_layers_of(m->graph, L, MAX_LAYERS);
    kp_model_stats *st = NULL;
    if (!t->cancel && !kp_model_stats_compute(m, &st, &e)) {
        *total = st->macs_complete ? st->macs : -1;
        kp_model_stats_free(st);
    }
    for (size_t k = 0; k < n && !t->cancel; k++) {
        int b1 = 0;
        macs[k] = kp_node_macs(m->graph, L[k].n, &b1);
    }
}

/* max|a-b| and max|a| of two float tensors of the same size; 0 when they cannot be compared. */
static int compare(const kp_tensor *a, const kp_tensor *b, double *diff, double *mag) {
    if (!a || !b || a->dtype != KP_FLOAT || b->dtype != KP_FLOAT || a->numel != b->numel ||
        !a->data || !b->data)
        return 0;
    const float *x = a->data, *y = b->data;
    for (int64_t i = 0; i < a->numel; i++) {
        double d = fabs((double)x[i] - (double)y[i]), m = fabs((double)x[i]);
        if (d > *diff || d != d) *diff = d != d ? INFINITY : d;
        if (m > *mag) *mag = m;
    }
    return 1;
}

static void errors_of(task *t, kp_layer *L0, size_t n0) {
    kp_layer_result *R = &t->res;
    kp_error e = {0};
    kp_dataset *ds = NULL;
    kp_exec *x0 = NULL, *x1 = NULL;
    kp_exec_opts o = {.threads = 1, .cancel = &t->cancel, .keep_values = 1};
    double diff[MAX_LAYERS] = {0}, mag[MAX_LAYERS] = {0};
    int seen[MAX_LAYERS] = {0};
    size_t n_out0 = 0, n_out1 = 0;
    kp_tensor **out0 = NULL, **out1 = NULL;
    if (!t->proj->data.path || !t->proj->data.path[0]) {
        snprintf(R->err_note, sizeof R->err_note, "error: no test data in this project");
        return;
    }
    if (t->cancel) return;
    if (kp_dataset_open_project(t->proj, BATCH, &ds, &e) || kp_dataset_bind(ds, t->m0, &e) ||
        kp_exec_new(t->m0, &o, &x0, &e) || t->cancel || kp_exec_new(t->m1, &o, &x1, &e)) {
        snprintf(R->err_note, sizeof R->err_note, "error not measured: %s", e.msg);
        goto out;
    }
    n_out0 = kp_exec_n_outputs(x0);
    n_out1 = kp_exec_n_outputs(x1);
    out0 = calloc(n_out0 + 1, sizeof *out0);
    out1 = calloc(n_out1 + 1, sizeof *out1);
    if (!out0 || !out1) {
        snprintf(R->err_note, sizeof R->err_note, "error not measured: out of memory");
        goto out;
    }
    size_t nb = kp_dataset_n_batches(ds), samples = 0;
    if (nb > MAX_BATCHES) nb = MAX_BATCHES;
    for (size_t b = 0; b < nb && !t->cancel; b++) {
        kp_batch bt;
        if (kp_dataset_batch(ds, b, &bt, &e) || bt.n_inputs != kp_exec_n_inputs(x0) ||
            bt.n_inputs != kp_exec_n_inputs(x1) || kp_exec_run(x0, bt.inputs, out0, &e) ||
            kp_exec_run(x1, bt.inputs, out1, &e)) {
            snprintf(R->err_note, sizeof R->err_note, "error not measured: %s",
                     e.msg[0] ? e.msg : "the data does not fit the models' inputs");
            for (size_t i = 0; i < n_out0; i++) kp_tensor_free(out0[i]), out0[i] = NULL;
            for (size_t i = 0; i < n_out1; i++) kp_tensor_free(out1[i]), out1[i] = NULL;
            goto out;
        }
        samples += bt.n;
        for (size_t k = 0; k < n0; k++) {
            const char *v = L0[k].n->n_outputs ? L0[k].n->outputs[0] : NULL;
            if (v && compare(kp_exec_value(x0, v), kp_exec_value(x1, v), &diff[k], &mag[k]))
                seen[k] = 1;
        }
        for (size_t i = 0; i < n_out0; i++) kp_tensor_free(out0[i]), out0[i] = NULL;
        for (size_t i = 0; i < n_out1; i++) kp_tensor_free(out1[i]), out1[i] = NULL;
    }
    for (size_t k = 0; k < n0; k++)
        if (seen[k]) R->err[k] = mag[k] > 0 ? diff[k] / mag[k] : diff[k];
    snprintf(R->err_note, sizeof R->err_note, "error: relative max over %zu test samples", samples);
out:
    free(out0);
    free(out1);
    kp_exec_free(x0);
    kp_exec_free(x1);
    kp_dataset_free(ds);
}

/* Loads the compressed model and hands the screen a copy of its own (the worker goes on
 * shape-inferring m1, which the screen must not see half-changed). 0 when loaded. */
static int load_output(task *t) {
    kp_error err = {0};
    kp_load_opts lo = {.cancel = &t->cancel};
    int rc = kp_onnx_load(t->path, &lo, &t->m1, &err);
    if (rc) t->m1 = NULL;
    if (!rc && t->cancel) rc = kp_error_set(&err, KP_ECANCELLED, "cancelled");
    if (!rc && !(t->ui = kp_model_clone(t->m1, &err))) rc = err.code ? err.code : KP_ENOMEM;
    if (rc) {
        snprintf(t->load_err, sizeof t->load_err, "%s", err.msg[0] ? err.msg : "out of memory");
        /* here, before `loaded`: from then on the UI thread may clear load_err */
        snprintf(t->res.err_note, sizeof t->res.err_note, "%s", t->load_err);
    }
    atomic_store(&t->loaded, 1);
    return rc;
}

/* The end of the worker: its own copies are freed here, on the worker (a big model takes a
 * while to free), so joining a finished task costs the UI thread next to nothing. */
static void *finish(task *t) {
    kp_model_free(t->m0);
    kp_model_free(t->m1);
    kp_project_free(t->proj);
    t->m0 = t->m1 = NULL;
    t->proj = NULL;
    atomic_store(&t->finished, 1);
    return NULL;
}

static void *worker(void *arg) {
    task *t = arg;
    kp_layer_result *R = &t->res;
    if (load_output(t) || t->cancel) return finish(t);
    /* the original and the project are read here too: the UI thread only copies two paths */
    kp_error e = {0};
    int rc = 0;
    if (!t->m0) {
        kp_model *m = NULL;
        kp_load_opts lo = {.cancel = &t->cancel};
        if (!(rc = kp_onnx_load(t->orig_path, &lo, &m, &e))) t->m0 = m;
    }
    if (!rc) rc = kp_project_load(t->proj_dir, &t->proj, &e);
    if (rc || t->cancel) {
        snprintf(R->err_note, sizeof R->err_note, "not measured: %s", e.msg);
        return finish(t);
    }
    kp_layer L0[MAX_LAYERS], L1[MAX_LAYERS];
    size_t n0 = kp_layers_of(t->m0->graph, L0, MAX_LAYERS);
    size_t n1 = kp_layers_of(t->m1->graph, L1, MAX_LAYERS);
    R->n = n0 > n1 ? n0 : n1;
    (void)L1;
    for (size_t k = 0; k < R->n; k++) R->err[k] = NAN, R->macs0[k] = R->macs1[k] = -1;
    errors_of(t, L0, n0); /* before shape inference: the executor gets the models as saved */
    if (!t->cancel) macs_of(t, t->m0, R->macs0, &R->total0);
    if (!t->cancel) macs_of(t, t->m1, R->macs1, &R->total1);
    return finish(t);
}

static void task_free(task *t) {
    if (!t) return;
    kp_project_free(t->proj);
    kp_model_free(t->m0);
    kp_model_free(t->m1);
    kp_model_free(t->ui);
    free(t->orig_path);
    free(t->proj_dir);
    free(t);
}

static void join_free(task *t) {
    pthread_join(t->th, NULL);
    task_free(t);
}

/* Joins the abandoned tasks that have finished (wait: all of them). */
static void reap(int wait) {
    size_t k = 0;
    for (size_t i = 0; i < n_old; i++)
        if (wait || atomic_load(&old[i]->finished))
            join_free(old[i]);
        else
            old[k++] = old[i];
    n_old = k;
}

int kp_layer_task_start(kp_app *a, const char *out_path, char *msg, size_t len) {
    kp_layer_task_leave();
    kp_error err = {0};
    if (!a->proj || !a->model) {
        snprintf(msg, len, "the per-layer view needs the project and its model");
        return -1;
    }
    task *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(msg, len, "out of memory");
        return -1;
    }
    if (!(t->proj_dir = strdup(a->proj->dir)) ||
        (a->model_path[0] && !(t->orig_path = strdup(a->model_path)))) {
        snprintf(msg, len, "out of memory");
        task_free(t);
        return -1;
    }
    if (!t->orig_path && !(t->m0 = kp_model_clone(a->model, &err))) {
        snprintf(msg, len, "%s", err.msg);
        task_free(t);
        return -1;
    }
    snprintf(t->path, sizeof t->path, "%s", out_path);
    if (pthread_create(&t->th, NULL, worker, t)) {
        snprintf(msg, len, "cannot start a thread for the per-layer view");
        task_free(t);
        return -1;
    }
    T = t;
    return 0;
}

const kp_layer_result *kp_layer_task_poll(const char *out_path) {
    if (!T || !atomic_load(&T->finished) || strcmp(out_path, T->path)) return NULL;
    return &T->res;
}

int kp_layer_task_take_model(const char *out_path, kp_model **out, char *msg, size_t len) {
    *out = NULL;
    if (!T || strcmp(out_path, T->path) || !atomic_load(&T->loaded)) return 0;
    if (!T->ui && !T->load_err[0]) return 0; /* taken already */
    *out = T->ui;
    T->ui = NULL;
    if (!*out) snprintf(msg, len, "%s", T->load_err);
    T->load_err[0] = 0;
    return 1;
}

int kp_layer_task_loading(const char *out_path) {
    return T && !strcmp(out_path, T->path) && !atomic_load(&T->loaded);
}

int kp_layer_task_running(void) {
    return T && !atomic_load(&T->finished);
}

void kp_layer_task_leave(void) {
    reap(0);
    if (!T) return;
    T->cancel = 1;
    if (atomic_load(&T->finished) || n_old == MAX_OLD) {
        join_free(T); /* at once when finished; waits only when MAX_OLD are still at work */
    } else {
        old[n_old++] = T;
    }
    T = NULL;
}

void kp_layer_task_end(void) {
    if (T) T->cancel = 1;
    for (size_t i = 0; i < n_old; i++) old[i]->cancel = 1;
    if (T) join_free(T);
    T = NULL;
    reap(1);
}
