/* Numeric check used by passes that promise to keep outputs: runs the reference and the
 * rewritten model on calibration batches through the executor and compares every output. */
#ifndef KP_PASSES_VERIFY_H
#define KP_PASSES_VERIFY_H

#include "core/pass.h"

/* Largest relative error over all float outputs of up to max_batches calibration batches:
 * max|a-b| / max(max|ref|, 1e-12) per output tensor. Fills *rel_err (may be NULL). */
int kp_pass_compare(const kp_model *ref, const kp_model *m, const kp_calib *calib,
                    size_t max_batches, double *rel_err, kp_error *err);

#endif
