/* Latency of one model in our executor, for comparison with ONNX Runtime (tests/bench).
 *
 * usage: bench_exec MODEL [--batch B] [--runs N] [--warmup W] [--threads T] [--in FILE.f32]
 *                         [--dump-in FILE.f32] [--dump-out FILE.f32] [--profile]
 * The single float input gets shape from the model with symbolic dims set to B; its values come
 * from --in (raw little-endian float32) or a fixed pseudo-random sequence. Prints one JSON line:
 * median/p10/p90 ms, peak activation bytes, and the input shape ("1x1x28x28") that ORT needs.
 * --profile adds per-op-type milliseconds (median run) on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/exec.h"
#include "core/onnx_io.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const char *model = NULL, *in_path = NULL, *dump_in = NULL, *dump_out = NULL;
    int64_t batch = 1;
    int runs = 50, warmup = 5, threads = 1, profile = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc)
            warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--in") && i + 1 < argc)
            in_path = argv[++i];
        else if (!strcmp(argv[i], "--dump-in") && i + 1 < argc)
            dump_in = argv[++i];
        else if (!strcmp(argv[i], "--dump-out") && i + 1 < argc)
            dump_out = argv[++i];
        else if (!strcmp(argv[i], "--profile"))
            profile = 1;
        else if (!model && argv[i][0] != '-')
            model = argv[i];
        else {
            fprintf(stderr, "usage: bench_exec MODEL [--batch B] [--runs N] [--warmup W] "
                            "[--threads T] [--in F.f32] [--dump-in F] [--dump-out F] "
                            "[--profile]\n");
            return 2;
        }
    }
    if (!model || runs < 1 || batch < 1) {
        fprintf(stderr, "bench_exec: a model, runs >= 1 and batch >= 1 are required\n");
        return 2;
    }
    kp_error err = {0};
    kp_model *m = NULL;
    kp_exec *e = NULL;
    if (kp_onnx_load(model, NULL, &m, &err) < 0) goto fail;
    kp_exec_opts o = {.threads = threads};
    if (kp_exec_new(m, &o, &e, &err) < 0) goto fail;
    if (kp_exec_n_inputs(e) != 1) {
        fprintf(stderr, "bench_exec: only single-input models are supported\n");
        return 1;
    }
    const kp_value_info *vi = kp_exec_input(e, 0);
    if (vi->type.kind != KP_TYPE_TENSOR || vi->type.elem != KP_FLOAT || vi->type.rank < 0) {
        fprintf(stderr, "bench_exec: the input must be a float32 tensor of known rank\n");
        return 1;
    }
    int64_t dims[KP_MAX_RANK];
    for (int d = 0; d < vi->type.rank; d++)
        dims[d] = vi->type.dims[d].value >= 0 ? vi->type.dims[d].value : batch;
    kp_tensor *x = kp_tensor_new(KP_FLOAT, vi->type.rank, dims, &err);
    if (!x) goto fail;
    if (in_path) {
        FILE *f = fopen(in_path, "rb");
        if (!f || fread(x->data, 1, x->nbytes, f) != x->nbytes) {
            fprintf(stderr, "bench_exec: cannot read %zu bytes from %s\n", x->nbytes, in_path);
            return 1;
        }
        fclose(f);
    } else {
        uint32_t s = 42;
        for (int64_t i = 0; i < x->numel; i++) {
            s = s * 1664525u + 1013904223u;
            ((float *)x->data)[i] = (float)(s >> 8) / 16777216.0f;
        }
    }
    if (dump_in) {
        FILE *f = fopen(dump_in, "wb");
        if (!f || fwrite(x->data, 1, x->nbytes, f) != x->nbytes) return 1;
        fclose(f);
    }
    size_t nout = kp_exec_n_outputs(e);
    kp_tensor **out = calloc(nout, sizeof *out);
    double *t = malloc(sizeof(double) * (size_t)runs);
    const kp_tensor *in[1] = {x};
    size_t nn;
    const double *secs = kp_exec_node_seconds(e, &nn);
    double *optime = calloc(nn + 1, sizeof *optime);
    for (int i = 0; i < warmup + runs; i++) {
        double t0 = now_ms();
        if (kp_exec_run(e, in, out, &err) < 0) goto fail;
        double dt = now_ms() - t0;
        if (i >= warmup) {
            t[i - warmup] = dt;
            for (size_t k = 0; k < nn; k++) optime[k] += secs[k];
        }
        if (i + 1 < warmup + runs)
            for (size_t k = 0; k < nout; k++) {
                kp_tensor_free(out[k]);
                out[k] = NULL;
            }
    }
    if (dump_out) {
        FILE *f = fopen(dump_out, "wb");
        if (!f || fwrite(out[0]->data, 1, out[0]->nbytes, f) != out[0]->nbytes) return 1;
        fclose(f);
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_d);
    char shape[128];
    kp_shape_str(x->rank, x->dims, shape, sizeof shape);
    printf("{\"engine\":\"kompress\",\"model\":\"%s\",\"batch\":%lld,\"runs\":%d,"
           "\"median_ms\":%.4f,\"p10_ms\":%.4f,\"p90_ms\":%.4f,\"peak_bytes\":%zu,"
           "\"input_shape\":\"%s\"}\n",
           model, (long long)batch, runs, t[runs / 2], t[runs / 10], t[(runs * 9) / 10],
           kp_exec_peak_bytes(e), shape);
    if (profile)
        for (size_t k = 0; k < nn; k++)
            fprintf(stderr, "%3zu %-20s %8.4f ms\n", k, m->graph->nodes[k]->op_type,
                    optime[k] * 1e3 / runs);
    for (size_t k = 0; k < nout; k++) kp_tensor_free(out[k]);
    free(out);
    free(t);
    free(optime);
    kp_tensor_free(x);
    kp_exec_free(e);
    kp_model_free(m);
    return 0;
fail:
    fprintf(stderr, "bench_exec: %s\n", err.msg);
    return 1;
}
