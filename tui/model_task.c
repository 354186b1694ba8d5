/* Loading the project's model runs on a worker thread, so a big model never freezes the
 * screen: the thread loads the file and measures MACs and peak activation memory with one run
 * on zero inputs (symbolic dims set to 1), then the UI adopts the model when it polls
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

static void measure(const kp_model *m) {
    T.macs = T.peak = -1;
    T.measure_err[0] = 0;
    kp_exec_opts o = {0};
    o.keep_values = 1;
    o.cancel = &T.cancel;
    kp_exec *e = NULL;
    kp_error err = {0};
    kp_tensor *in[16] = {0}, *out[64] = {0};
    size_t ni = 0, no = 0;
    if (T.cancel || kp_exec_new(m, &o, &e, &err)) goto done;
    ni = kp_exec_n_inputs(e);
    no = kp_exec_n_outputs(e);
    if (ni > 16 || no > 64) {
        kp_error_set(&err, KP_ERANGE, "too many inputs/outputs to measure here");
        goto done;
    }
    for (size_t i = 0; i < ni; i++) {
        const kp_value_info *vi = kp_exec_input(e, i);
        int64_t dims[KP_MAX_RANK];
        int rank = vi->type.rank;
        if (vi->type.kind != KP_TYPE_TENSOR || rank < 0 || rank > KP_MAX_RANK) {
            kp_error_set(&err, KP_EUNSUPPORTED, "input %s has no tensor shape", vi->name);
            goto done;
        }
        for (int d = 0; d < rank; d++)
            dims[d] = vi->type.dims[d].value > 0 ? vi->type.dims[d].value : 1;
        if (!(in[i] = kp_tensor_new(vi->type.elem, rank, dims, &err))) goto done;
    }
    if (kp_exec_run(e, (const kp_tensor *const *)in, out, &err)) goto done;
    uint64_t macs = 0;
    if (!kp_exec_macs(e, m, &macs, &err)) T.macs = (double)macs;
    T.peak = (double)kp_exec_peak_bytes(e);
done:
    if (err.msg[0]) snprintf(T.measure_err, sizeof T.measure_err, "%s", err.msg);
    kp_exec_free(e); /* first: with keep_values it still refers to the inputs */
    for (size_t i = 0; i < ni && i < 16; i++) kp_tensor_free(in[i]);
    for (size_t i = 0; i < no && i < 64; i++) kp_tensor_free(out[i]);
}

static void *worker(void *arg) {
    (void)arg;
    kp_load_opts lo = {.cancel = &T.cancel};
    if (kp_onnx_load(T.path, &lo, &T.model, &T.err))
        T.model = NULL;
    else
        measure(T.model);
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
