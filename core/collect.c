#include <stdlib.h>
#include <string.h>

#include "core/collect.h"
#include "core/exec.h"

int kp_collect_values(const kp_model *m, const kp_calib *calib, size_t max_batches,
                      const char *const *names, size_t n, kp_collect_fn fn, void *user,
                      kp_error *err) {
    if (!calib || !calib->get || !calib->n_batches)
        return kp_error_set(err, KP_EINVAL, "calibration data is needed (none was given)");
    kp_exec_opts opts = {.threads = 1, .keep_values = 1};
    kp_exec *e = NULL;
    int rc = kp_exec_new(m, &opts, &e, err);
    if (rc) return rc;
    size_t no = kp_exec_n_outputs(e);
    kp_tensor **outs = calloc(no ? no : 1, sizeof *outs);
    const kp_tensor **vals = calloc(n ? n : 1, sizeof *vals);
    if (!outs || !vals) {
        rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        goto done;
    }
    size_t nb = calib->n_batches;
    if (max_batches && max_batches < nb) nb = max_batches;
    for (size_t b = 0; b < nb && !rc; b++) {
        const kp_tensor *const *in = NULL;
        const int64_t *labels = NULL;
        size_t bs = 0;
        rc = calib->get((kp_calib *)calib, b, &in, &labels, &bs, err);
        if (rc) break;
        rc = kp_exec_run(e, in, outs, err);
        if (rc) break;
        for (size_t i = 0; i < n; i++) {
            vals[i] = kp_exec_value(e, names[i]);
            if (!vals[i]) {
                /* graph outputs may not be kept as intermediates */
                for (size_t o = 0; o < no; o++)
                    if (!strcmp(kp_exec_output(e, o)->name, names[i])) vals[i] = outs[o];
                for (size_t k = 0; !vals[i] && k < kp_exec_n_inputs(e); k++)
                    if (!strcmp(kp_exec_input(e, k)->name, names[i])) vals[i] = in[k];
            }
        }
        rc = fn(user, b, vals, err);
        for (size_t o = 0; o < no; o++) {
            kp_tensor_free(outs[o]);
            outs[o] = NULL;
        }
    }
done:
    free(outs);
    free(vals);
    kp_exec_free(e);
    return rc;
}
