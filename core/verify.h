/* Numeric check of a rewritten model against a reference: both run on the same inputs
 * (calibration batches, or seeded random inputs when there is no data), per-output max
 * absolute / relative error and cosine, top-1 agreement, and top-1 accuracy of each when the
 * data has labels. Also a latency probe. Used by `kompress compress` after every pass and by
 * passes that measure sensitivity (mixed-precision). */
#ifndef KP_VERIFY_H
#define KP_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "core/pass.h"

#define KP_VERIFY_MAX_OUTPUTS 8

typedef struct kp_verify_output {
    char name[128];
    double max_abs; /* max |cand - ref| */
    double max_rel; /* max_abs / max |ref| (0 when ref is all zeros and so is the error) */
    double cosine;  /* of the flattened outputs over every sample */
} kp_verify_output;

typedef struct kp_verify {
    size_t n_samples;
    size_t n_outputs; /* compared outputs (first KP_VERIFY_MAX_OUTPUTS) */
    kp_verify_output out[KP_VERIFY_MAX_OUTPUTS];
    double max_abs, max_rel, min_cosine; /* worst over outputs */
    double agree;                        /* top-1 agreement of output 0 in [0,1]; -1 if n/a */
    int has_labels;
    double acc_ref, acc_cand;   /* top-1 % vs labels (output 0), when has_labels */
    size_t peak_ref, peak_cand; /* peak live activation bytes seen by each executor */
} kp_verify;

typedef struct kp_verify_opts {
    size_t max_batches;         /* 0 = every batch of data */
    uint64_t seed;              /* random inputs when data is NULL */
    size_t random_samples;      /* 0 = 8 */
    const volatile int *cancel; /* optional */
    int threads;
} kp_verify_opts;

/* Runs ref and cand on data (or on random inputs when data is NULL) and compares. Both models
 * are borrowed. ref may be NULL: then only cand's accuracy is measured (acc_cand). */
int kp_verify_models(const kp_model *ref, const kp_model *cand, const kp_calib *data,
                     const kp_verify_opts *opts, kp_verify *out, kp_error *err);

/* kp_verify_latency_host: the batch-1 median used for host latency figures: `runs` runs, then,
 * for a sub-millisecond model, as many runs as fill about 50 ms (at most 10000), so that a pause
 * of the machine lasting a millisecond or two cannot move the median (200 runs of a 10 µs model
 * last only 2 ms).
 * Median seconds of `runs` inferences at batch size `batch` on seeded random inputs (symbolic
 * dims = batch for the first dim, 1 elsewhere); after one warm-up run. */
int kp_verify_latency_host(const kp_model *m, int runs, int threads, double *median_s,
                           kp_error *err);
int kp_verify_latency(const kp_model *m, int64_t batch, int runs, int threads, double *median_s,
                      kp_error *err);

/* Random inputs for m's graph inputs (returns owned tensors in *in, count *n). */
int kp_verify_random_inputs(const kp_model *m, int64_t batch, uint64_t seed, kp_tensor ***in,
                            size_t *n, kp_error *err);

#endif
