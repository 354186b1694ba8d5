/* Per-node time of a model in our executor on random inputs:
 *   node_times MODEL.onnx [BATCH] [RUNS]
 * Prints the total median latency and the share of each op type (after the executor's own
 * rewrites such as the QDQ fusion). For finding where int8 time goes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/exec.h"
#include "core/onnx_io.h"
#include "core/verify.h"

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.onnx [BATCH] [RUNS]\n", argv[0]);
        return 2;
    }
    int64_t batch = argc > 2 ? atol(argv[2]) : 1;
    int runs = argc > 3 ? atoi(argv[3]) : 20;
    kp_error err = {0};
    kp_model *m = NULL;
    kp_exec *e = NULL;
    kp_tensor **in = NULL;
    size_t n_in = 0;
    if (kp_onnx_load(argv[1], NULL, &m, &err) ||
        kp_verify_random_inputs(m, batch, 1, &in, &n_in, &err) || kp_exec_new(m, NULL, &e, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    size_t n_out = kp_exec_n_outputs(e), nn;
    kp_tensor **outs = calloc(n_out, sizeof *outs);
    double *acc = NULL, cpu = 0;
    for (int r = 0; r <= runs; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
        if (kp_exec_run(e, (const kp_tensor *const *)in, outs, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
        if (r)
            cpu +=
                ((double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec)) / runs;
        for (size_t i = 0; i < n_out; i++) kp_tensor_free(outs[i]);
        const double *s = kp_exec_node_seconds(e, &nn);
        if (!acc) acc = calloc(nn + 1, sizeof *acc);
        if (r)
            for (size_t i = 0; i < nn; i++) acc[i] += s[i] / runs;
    }
    double total = 0;
    for (size_t i = 0; i < nn; i++) total += acc[i];
    printf("%s batch %lld: %.3f ms per run (sum of nodes, wall), %.3f ms process CPU\n", argv[1],
           (long long)batch, 1e3 * total, 1e3 * cpu);
    const kp_graph *g = kp_exec_model(e)->graph; /* constants evaluated, QDQ fused */
    for (size_t i = 0; i < nn; i++)
        printf("  %8.3f ms  %s%s%s -> %s\n", 1e3 * acc[i],
               g->nodes[i]->domain && *g->nodes[i]->domain ? g->nodes[i]->domain : "",
               g->nodes[i]->domain && *g->nodes[i]->domain ? ":" : "", g->nodes[i]->op_type,
               g->nodes[i]->n_outputs ? g->nodes[i]->outputs[0] : "");
    kp_exec_free(e);
    kp_model_free(m);
    for (size_t i = 0; i < n_in; i++) kp_tensor_free(in[i]);
    free(in);
    free(outs);
    free(acc);
    return 0;
}
