/* Prints a pass's estimate for a model as one JSON line (no calibration data; this machine
 * unless a target id is given):
 *   pass_estimate MODEL PASS[:k=v,...] [TARGET]
 * {"pass": .., "applicable": b, "size_ratio": x, "latency_ratio": x, "speedup": x,
 *  "acc_drop": x, "reason": ".."}
 * For checking estimates against measurements (kp_run / node_times on the pass's output). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/onnx_io.h"
#include "core/pass.h"
#include "core/target.h"
#include "passes/registry.h"

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: pass_estimate MODEL PASS[:k=v,...] [TARGET]\n");
        return 2;
    }
    kp_error e = {0};
    kp_model *m = NULL;
    if (kp_onnx_load(argv[1], NULL, &m, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    char id[64];
    const char *colon = strchr(argv[2], ':');
    size_t len = colon ? (size_t)(colon - argv[2]) : strlen(argv[2]);
    if (len >= sizeof id) len = sizeof id - 1;
    memcpy(id, argv[2], len);
    id[len] = 0;
    size_t np = 0;
    const kp_pass *const *all = kp_passes(&np), *pass = NULL;
    for (size_t i = 0; i < np; i++)
        if (!strcmp(all[i]->id, id)) pass = all[i];
    if (!pass) {
        fprintf(stderr, "no pass '%s'\n", id);
        return 1;
    }
    kp_params p;
    if (kp_params_parse(pass, colon ? colon + 1 : "", &p, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    kp_target *targets = NULL;
    size_t nt = 0;
    kp_pass_ctx ctx = {0};
    if (argc == 4) {
        if (kp_targets_load(NULL, &targets, &nt, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        for (size_t i = 0; i < nt; i++)
            if (!strcmp(targets[i].id, argv[3])) ctx.target = &targets[i];
        if (!ctx.target) {
            fprintf(stderr, "no target '%s'\n", argv[3]);
            return 1;
        }
    }
    kp_estimate est;
    if (pass->estimate(m, &p, &ctx, &est, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    printf("{\"pass\": \"%s\", \"applicable\": %d, \"size_ratio\": %.4f, \"latency_ratio\": %.4f, "
           "\"speedup\": %.3f, \"acc_drop\": %.2f, \"reason\": \"%s\"}\n",
           argv[2], est.applicable, est.size_ratio, est.latency_ratio,
           est.latency_ratio > 0 ? 1 / est.latency_ratio : 0, est.acc_drop, est.reason);
    kp_params_free(&p);
    free(targets);
    kp_model_free(m);
    return 0;
}
