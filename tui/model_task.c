/* Loading the project's model runs on a worker thread, so a big model never freezes the
 * screen: the thread loads the file, infers every value's shape (the Target screen's RAM
 * estimate needs them), takes MACs from those shapes and the peak of live activations from one
 * run on zero inputs (symbolic dims set to 1), then the UI adopts the model when it polls
 * (kp_model_task_adopt, every loop turn via the Model screen's tick). Screens that need the
 * model at once call kp_app_load_model, which waits for a load in progress. Quitting (or a new
 * load) cancels a load in progress: the loader and the measuring run check the flag, so the
 * join takes about a second at most. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"
#include "core/model_stats.h"
#include "core/shape_infer.h"
#include "tui/ui.h"

static struct {
    pthread_t th;
    int started;
    atomic_int finished;
    volatile int cancel; /* raised by kp_model_task_end: the result is not wanted */
    char path[8192];
    kp_model *model;
    kp_error err;
    double macs, peak;
    char measure_err[256];
} T;

/* One run of m on zero inputs (symbolic dims set to 1). keep: keep every value (for MACs from
 * the run's shapes), else the run frees values as the engine does and its peak is the figure
 * `kompress eval` reports at batch 1. */
static int run_once(const kp_model *m, int keep, double *macs, double *peak, kp_error *err) {
    kp_exec_opts o = {0};
    o.keep_values = keep;
    o.cancel = &T.cancel;
    kp_exec *e = NULL;
    kp_tensor *in[16] = {0}, *out[64] = {0};
    size_t ni = 0, no = 0;
    int rc = T.cancel ? KP_ECANCELLED : kp_exec_new(m, &o, &e, err);
    if (!rc) {
        ni = kp_exec_n_inputs(e);
        no = kp_exec_n_outputs(e);
        if (ni > 16 || no > 64)
            rc = kp_error_set(err, KP_ERANGE, "too many inputs/outputs to measure here");
    }
    for (size_t i = 0; !rc && i < ni; i++) {
        const kp_value_info *vi = kp_exec_input(e, i);
        int64_t dims[KP_MAX_RANK];
        int rank = vi->type.rank;
        if (vi->type.kind != KP_TYPE_TENSOR || rank < 0 || rank > KP_MAX_RANK) {
            rc = kp_error_set(err, KP_EUNSUPPORTED, "input %s has no tensor shape", vi->name);
            break;
        }
        for (int d = 0; d < rank; d++)
            dims[d] = vi->type.dims[d].value > 0 ? vi->type.dims[d].value : 1;
        if (!(in[i] = kp_tensor_new(vi->type.elem, rank, dims, err))) rc = KP_ENOMEM;
    }
    if (!rc) rc = kp_exec_run(e, (const kp_tensor *const *)in, out, err);
    if (!rc && macs) {
        uint64_t n = 0;
        if (!(rc = kp_exec_macs(e, m, &n, err))) *macs = (double)n;
    }
    if (!rc && peak) *peak = (double)kp_exec_peak_bytes(e);
    kp_exec_free(e); /* first: with keep_values it still refers to the inputs */
    for (size_t i = 0; i < ni && i < 16; i++) kp_tensor_free(in[i]);
    for (size_t i = 0; i < no && i < 64; i++) kp_tensor_free(out[i]);
    return rc;
}

/* MACs from the inferred shapes (a run keeping every value when they are incomplete), and the
 * peak of live activations of a run as the engine runs it. */
static void measure(const kp_model *m) {
    T.macs = T.peak = -1;
    T.measure_err[0] = 0;
    kp_error err = {0};
    kp_model_stats *st = NULL;
    if (!kp_model_stats_compute(m, &st, &err) && st->macs_complete) T.macs = (double)st->macs;
    kp_model_stats_free(st);
    kp_error_clear(&err);
    if (T.macs < 0) run_once(m, 1, &T.macs, NULL, &err);
    if (!err.msg[0]) run_once(m, 0, NULL, &T.peak, &err);
    if (err.msg[0]) snprintf(T.measure_err, sizeof T.measure_err, "%s", err.msg);
}

static void *worker(void *arg) {
    (void)arg;
    kp_load_opts lo = {.cancel = &T.cancel};
    if (kp_onnx_load(T.path, &lo, &T.model, &T.err)) {
        T.model = NULL;
    } else {
        /* Shapes of every value, for the per-target RAM estimate (Target screen); a model
         * whose shapes cannot all be inferred still loads (the estimate says what it lacks). */
        kp_error e = {0};
        kp_infer_shapes_cancel(T.model, &T.cancel, &e);
        measure(T.model);
    }
    atomic_store(&T.finished, 1);
    return NULL;
}

int kp_model_task_running(void) {
    return T.started && !atomic_load(&T.finished);
}

int kp_model_task_start(const char *path, char *msg, size_t len) {
    kp_model_task_end();
    snprintf(T.path, sizeof T.path, "%s", path);
    memset(&T.err, 0, sizeof T.err);
    T.model = NULL;
    T.cancel = 0;
    atomic_store(&T.finished, 0);
    if (pthread_create(&T.th, NULL, worker, NULL)) {
        snprintf(msg, len, "cannot start a thread to load the model");
        return -1;
    }
    T.started = 1;
    return 0;
}

int kp_model_task_adopt(kp_app *a, int wait) {
    if (!T.started || (!wait && !atomic_load(&T.finished))) return 0;
    pthread_join(T.th, NULL);
    T.started = 0;
    a->model_loading = 0;
    if (strcmp(T.path, a->model_path)) { /* the project moved on to another model */
        kp_model_free(T.model);
        T.model = NULL;
        return 1;
    }
    a->model = T.model;
    T.model = NULL;
    a->model_macs = T.macs;
    a->model_peak = T.peak;
    snprintf(a->model_measure_err, sizeof a->model_measure_err, "%s", T.measure_err);
    if (!a->model)
        snprintf(a->model_err, sizeof a->model_err, "%s", T.err.msg[0] ? T.err.msg : "load failed");
    return 1;
}

void kp_model_task_cancel(void) {
    T.cancel = 1;
}

void kp_model_task_end(void) {
    T.cancel = 1;
    if (T.started) pthread_join(T.th, NULL);
    T.started = 0;
    kp_model_free(T.model);
    T.model = NULL;
}
