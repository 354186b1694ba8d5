#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/exec.h"
#include "passes/verify.h"

static double rel_diff(const kp_tensor *a, const kp_tensor *b, int *ok) {
    if (a->dtype != b->dtype || a->numel != b->numel) {
        *ok = 0;
        return INFINITY;
    }
    if (a->dtype != KP_FLOAT && a->dtype != KP_DOUBLE) {
        *ok = kp_tensor_equal(a, b);
        return *ok ? 0.0 : INFINITY;
    }
    double maxref = 0, maxd = 0;
    for (int64_t i = 0; i < a->numel; i++) {
        double x = kp_tensor_get(a, i), y = kp_tensor_get(b, i);
        if (isnan(x) != isnan(y)) return INFINITY;
        if (isnan(x)) continue;
        if (fabs(x) > maxref) maxref = fabs(x);
        if (fabs(x - y) > maxd) maxd = fabs(x - y);
    }
    return maxd / (maxref > 1e-12 ? maxref : 1e-12);
}

int kp_pass_compare(const kp_model *ref, const kp_model *m, const kp_calib *calib,
                    size_t max_batches, double *rel_err, kp_error *err) {
    kp_exec *ea = NULL, *eb = NULL;
    kp_tensor **oa = NULL, **ob = NULL;
    size_t no = 0;
    double worst = 0;
    int rc = kp_exec_new(ref, NULL, &ea, err);
    if (rc) goto done;
    rc = kp_exec_new(m, NULL, &eb, err);
    if (rc) goto done;
    no = kp_exec_n_outputs(ea);
    if (no != kp_exec_n_outputs(eb)) {
        rc = kp_error_set(err, KP_EINVAL, "output count changed from %zu to %zu", no,
                          kp_exec_n_outputs(eb));
        goto done;
    }
    oa = calloc(no ? no : 1, sizeof *oa);
    ob = calloc(no ? no : 1, sizeof *ob);
    if (!oa || !ob) {
        rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        goto done;
    }
    size_t nb = calib->n_batches < max_batches ? calib->n_batches : max_batches;
    for (size_t b = 0; b < nb; b++) {
        const kp_tensor *const *in = NULL;
        const int64_t *labels = NULL;
        size_t bs = 0;
        rc = calib->get((kp_calib *)calib, b, &in, &labels, &bs, err);
        if (rc) goto done;
        rc = kp_exec_run(ea, in, oa, err);
        if (rc) goto done;
        rc = kp_exec_run(eb, in, ob, err);
        if (rc) goto done;
        for (size_t o = 0; o < no; o++) {
            int ok = 1;
            double d = rel_diff(oa[o], ob[o], &ok);
            if (d > worst) worst = d;
            kp_tensor_free(oa[o]);
            kp_tensor_free(ob[o]);
            oa[o] = ob[o] = NULL;
        }
    }
    if (rel_err) *rel_err = worst;
done:
    if (oa)
        for (size_t o = 0; o < no; o++) kp_tensor_free(oa[o]);
    if (ob)
        for (size_t o = 0; o < no; o++) kp_tensor_free(ob[o]);
    free(oa);
    free(ob);
    kp_exec_free(ea);
    kp_exec_free(eb);
    return rc;
}
