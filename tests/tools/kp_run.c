/* kp_run MODEL --in X.npy|X.pb ... [--runs R] [--warmup W] [--threads T] [--out DIR]
 * Runs MODEL in Kompress's executor on the given inputs (graph input order), prints one JSON line
 * {"engine","model","runs","median_ms","p10_ms","p90_ms","cpu_median_ms","peak_bytes",
 * "outputs":[...]} like tests/bench/ort_run.js (cpu_median_ms: median CPU time of the whole
 * process per run, CLOCK_PROCESS_CPUTIME_ID, so OpenBLAS threads count too), and writes
 * output_K.npy into DIR. --profile prints the slowest nodes
 * of the last run to stderr. Used by tests/bench/engine.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/dataset.h"
#include "core/exec.h"
#include "core/metrics.h"
#include "core/onnx_io.h"

static double now_ms(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *sorted, int n, int p) {
    int i = (int)((double)p / 100 * (n - 1) + 0.5);
    return sorted[i < 0 ? 0 : i >= n ? n - 1 : i];
}

static int fail(const kp_error *e) {
    fprintf(stderr, "kp_run: %s\n", e->msg);
    return 1;
}

int main(int argc, char **argv) {
    const char *model = NULL, *outdir = NULL, *ins[16];
    int n_in = 0, runs = 20, warmup = 3, threads = 1, profile = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--in") && i + 1 < argc && n_in < 16)
            ins[n_in++] = argv[++i];
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
            warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            outdir = argv[++i];
        else if (!strcmp(argv[i], "--profile"))
            profile = 1;
        else if (argv[i][0] != '-' && !model)
            model = argv[i];
        else {
            fprintf(stderr, "usage: kp_run MODEL --in X.npy|X.pb ... [--runs R] [--warmup W] "
                            "[--threads T] [--out DIR]\n");
            return 2;
        }
    }
    if (!model || runs < 1) {
        fprintf(stderr, "kp_run: give MODEL, --in files and runs >= 1\n");
        return 2;
    }
    kp_error e;
    kp_error_clear(&e);
    kp_model *m = NULL;
    if (kp_onnx_load(model, NULL, &m, &e)) return fail(&e);
    kp_tensor *in[16] = {0};
    for (int i = 0; i < n_in; i++) {
        size_t l = strlen(ins[i]);
        int rc = l > 3 && !strcmp(ins[i] + l - 3, ".pb") ? kp_onnx_load_tensor(ins[i], &in[i], &e)
                                                         : kp_npy_load(ins[i], &in[i], &e);
        if (rc) return fail(&e);
    }
    if (outdir) mkdir(outdir, 0755); /* an existing folder is fine; errors show at save */
    kp_exec_opts o = {.threads = threads};
    kp_exec *x = NULL;
    if (kp_exec_new(m, &o, &x, &e)) return fail(&e);
    if ((int)kp_exec_n_inputs(x) != n_in) {
        fprintf(stderr, "kp_run: the model has %zu inputs, got %d\n", kp_exec_n_inputs(x), n_in);
        return 1;
    }
    size_t no = kp_exec_n_outputs(x);
    kp_tensor **outs = calloc(no, sizeof *outs);
    double *wall = calloc((size_t)runs, sizeof *wall), *cpu = calloc((size_t)runs, sizeof *cpu);
    if (!outs || !wall || !cpu) {
        fprintf(stderr, "kp_run: out of memory\n");
        return 1;
    }
    /* Wall and CPU time of each run, the same way ort_run.js times ORT. */
    for (int r = -warmup; r < runs; r++) {
        double c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID), t0 = now_ms(CLOCK_MONOTONIC);
        if (kp_exec_run(x, (const kp_tensor *const *)in, outs, &e)) return fail(&e);
        double t1 = now_ms(CLOCK_MONOTONIC), c1 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
        if (r >= 0) {
            wall[r] = t1 - t0;
            cpu[r] = c1 - c0;
        }
        if (r + 1 < runs)
            for (size_t k = 0; k < no; k++) {
                kp_tensor_free(outs[k]);
                outs[k] = NULL;
            }
    }
    qsort(wall, (size_t)runs, sizeof *wall, cmp_double);
    qsort(cpu, (size_t)runs, sizeof *cpu, cmp_double);
    printf("{\"engine\":\"kompress\",\"model\":\"%s\",\"runs\":%d,\"median_ms\":%.6f,"
           "\"p10_ms\":%.6f,\"p90_ms\":%.6f,\"cpu_median_ms\":%.6f,\"peak_bytes\":%zu,"
           "\"outputs\":[",
           model, runs, pct(wall, runs, 50), pct(wall, runs, 10), pct(wall, runs, 90),
           pct(cpu, runs, 50), kp_exec_peak_bytes(x));
    for (size_t k = 0; k < no; k++) {
        char shape[128], path[4096];
        kp_shape_str(outs[k]->rank, outs[k]->dims, shape, sizeof shape);
        printf("%s{\"name\":\"%s\",\"type\":\"%s\",\"shape\":\"%s\"", k ? "," : "",
               kp_exec_output(x, k)->name, kp_dtype_name(outs[k]->dtype), shape);
        if (outdir) {
            snprintf(path, sizeof path, "%s/output_%zu.npy", outdir, k);
            if (kp_npy_save(outs[k], path, &e)) return fail(&e);
            printf(",\"file\":\"%s\"", path);
        }
        printf("}");
        kp_tensor_free(outs[k]);
    }
    printf("]}\n");
    size_t nn = 0;
    const double *sec = kp_exec_node_seconds(x, &nn);
    if (profile && sec) {
        double total = 0;
        for (size_t i = 0; i < nn; i++) total += sec[i];
        fprintf(stderr, "node times of the last run (%.4f ms total):\n", total * 1e3);
        for (size_t i = 0; i < nn && i < m->graph->n_nodes; i++) {
            const kp_node *nd = m->graph->nodes[i];
            fprintf(stderr, "  %8.4f ms %5.1f%%  %-20s %s\n", sec[i] * 1e3,
                    total > 0 ? 100 * sec[i] / total : 0, nd->op_type, nd->name ? nd->name : "");
        }
    }
    free(outs);
    free(wall);
    free(cpu);
    for (int i = 0; i < n_in; i++) kp_tensor_free(in[i]);
    kp_exec_free(x);
    kp_model_free(m);
    return 0;
}
