/* Applies registered passes without data and checks the result against the input on random
 * inputs:  quant_apply IN.onnx OUT.onnx PASS[:k=v,...] ...
 * Prints notes and the verification figures. For quantization tests and benchmarks. */
#include <stdio.h>

#include "core/onnx_io.h"
#include "core/verify.h"
#include "passes/registry.h"

static void note(void *user, const char *msg) {
    (void)user;
    printf("  note: %s\n", msg);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s IN.onnx OUT.onnx PASS[:k=v,...]...\n", argv[0]);
        return 2;
    }
    kp_error err = {0};
    kp_model *m = NULL, *ref = NULL;
    if (kp_onnx_load(argv[1], NULL, &m, &err) || !(ref = kp_model_clone(m, &err))) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    size_t n;
    const kp_pass *const *all = kp_passes(&n);
    for (int a = 3; a < argc; a++) {
        const kp_pass *p;
        kp_params prm;
        if (kp_pass_spec_parse(all, n, argv[a], &p, &prm, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 2;
        }
        kp_pass_ctx ctx = {0};
        ctx.reference = ref;
        ctx.note = note;
        int rc = p->apply(m, &prm, &ctx, &err);
        kp_params_free(&prm);
        if (rc) {
            fprintf(stderr, "%s: %s\n", p->id, err.msg);
            return 1;
        }
    }
    kp_verify v;
    kp_verify_opts vo = {0, 3, 16, NULL, 1};
    if (kp_verify_models(ref, m, NULL, &vo, &v, &err)) {
        fprintf(stderr, "verify: %s\n", err.msg);
        return 1;
    }
    printf("max_abs %.4g max_rel %.4g cosine %.6f agree %.3f\n", v.max_abs, v.max_rel, v.min_cosine,
           v.agree);
    if (kp_onnx_save(m, argv[2], 1, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    kp_model_free(m);
    kp_model_free(ref);
    return 0;
}
