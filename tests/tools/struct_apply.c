/* Applies structural passes to a model without calibration data and saves the result:
 *   struct_apply IN.onnx OUT.onnx PASS[:k=v,...] [PASS[:k=v,...] ...]
 * Prints the pass notes. Used by tests/e2e/struct_*.sh and tests/bench/structural.sh. */
#include <stdio.h>
#include <string.h>

#include "core/onnx_io.h"
#include "core/pass.h"

extern const kp_pass kp_pass_prune, kp_pass_cluster, kp_pass_low_rank, kp_pass_prune_channels;
static const kp_pass *const passes[] = {&kp_pass_prune, &kp_pass_cluster, &kp_pass_low_rank,
                                        &kp_pass_prune_channels};

static void note(void *user, const char *msg) {
    (void)user;
    printf("  %s\n", msg);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s IN.onnx OUT.onnx PASS[:k=v,...]...\n", argv[0]);
        return 2;
    }
    kp_error err;
    kp_error_clear(&err);
    kp_model *m = NULL;
    if (kp_onnx_load(argv[1], NULL, &m, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    for (int a = 3; a < argc; a++) {
        const char *colon = strchr(argv[a], ':');
        size_t len = colon ? (size_t)(colon - argv[a]) : strlen(argv[a]);
        const kp_pass *p = NULL;
        for (size_t i = 0; i < sizeof passes / sizeof *passes; i++)
            if (strlen(passes[i]->id) == len && !strncmp(passes[i]->id, argv[a], len))
                p = passes[i];
        if (!p) {
            fprintf(stderr, "unknown pass '%.*s'\n", (int)len, argv[a]);
            return 2;
        }
        kp_params prm;
        if (kp_params_parse(p, colon ? colon + 1 : "", &prm, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 2;
        }
        kp_pass_ctx ctx = {.note = note, .reference = m};
        printf("%s:\n", p->id);
        int rc = p->apply(m, &prm, &ctx, &err);
        kp_params_free(&prm);
        if (rc) {
            fprintf(stderr, "%s: %s\n", p->id, err.msg);
            kp_model_free(m);
            return 1;
        }
    }
    if (kp_graph_validate(m->graph, &err) || kp_onnx_save(m, argv[2], 1, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        kp_model_free(m);
        return 1;
    }
    kp_model_free(m);
    return 0;
}
