/* Metrics of a model on this machine: accuracy (vs labels, or agreement with reference outputs),
 * latency (warm-up, N timed runs, median and p10/p90), size (file and gzip bytes), memory
 * (weights + peak live activations) and MACs. */
#ifndef KP_METRICS_H
#define KP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/exec.h"
#include "core/graph.h"

/* ---- accuracy ------------------------------------------------------------------------------ */

typedef struct kp_accuracy {
    /* against labels */
    size_t n, top1, top5;
    /* against reference outputs (another model's, or output_K.pb) */
    size_t n_ref, agree;        /* rows compared, rows whose arg max matches */
    size_t n_values;            /* values compared */
    double max_abs;             /* largest |out - ref| */
    double dot, nn_out, nn_ref; /* for the cosine similarity over all values */
    int class_outputs;          /* the model outputs class indices: top-5 = top-1 */
} kp_accuracy;

void kp_accuracy_init(kp_accuracy *a);
/* Scores the first n rows of `scores` ([rows, ..., classes], classes = last dim, float32 or
 * float64) against labels. A label outside [0, classes) is an error naming the sample. A model
 * that outputs class indices (int32/int64 [N] or [N,1], e.g. ending in ArgMax) is scored on
 * them (top-5 then equals top-1). */
int kp_accuracy_add_labels(kp_accuracy *a, const kp_tensor *scores, size_t n, const int64_t *labels,
                           kp_error *err);
/* Compares out with ref (same shape, float32/float64): arg max agreement per row of the last
 * axis, max abs error, cosine. Shapes that differ are an error. */
int kp_accuracy_add_reference(kp_accuracy *a, const kp_tensor *out, const kp_tensor *ref,
                              kp_error *err);
double kp_accuracy_top1(const kp_accuracy *a);      /* percent; -1 without labels */
double kp_accuracy_top5(const kp_accuracy *a);      /* percent; -1 without labels */
double kp_accuracy_agreement(const kp_accuracy *a); /* percent; -1 without references */
double kp_accuracy_cosine(const kp_accuracy *a);    /* -2 without references */

/* ---- latency ------------------------------------------------------------------------------- */

typedef struct kp_latency {
    int runs;
    int64_t batch;
    double median_ms, p10_ms, p90_ms, min_ms, mean_ms;
} kp_latency;

/* Runs e on inputs `warmup` times untimed, then `runs` times timed (runs >= 1). Checks *cancel
 * between runs when given. */
int kp_measure_latency(kp_exec *e, const kp_tensor *const *inputs, int warmup, int runs,
                       const volatile int *cancel, kp_latency *out, kp_error *err);
/* Percentile p (0..100) of n sorted values, nearest rank. */
double kp_percentile(const double *sorted, size_t n, double p);

/* ---- size, memory, MACs -------------------------------------------------------------------- */

/* File bytes, and its size gzip-compressed (zlib, level 9) — a proxy for what compression of
 * the weights leaves to squeeze. */
int kp_file_sizes(const char *path, uint64_t *bytes, uint64_t *gzip_bytes, kp_error *err);
/* Same for an in-memory buffer (a serialized model). */
int kp_buffer_gzip_bytes(const void *buf, size_t len, uint64_t *gzip_bytes, kp_error *err);

/* Bytes of all initializers and Constant-node tensors of the top-level graph. */
uint64_t kp_weight_bytes(const kp_model *m);
/* Number of parameters (elements of float/int initializers). */
uint64_t kp_param_count(const kp_model *m);

/* Multiply-accumulates of one run of e, from the shapes of the last run (e must have been
 * created with keep_values = 1 and run once): Conv, ConvTranspose, Gemm, MatMul, and their
 * integer/QLinear forms. Divide by the batch for per-sample MACs. */
int kp_exec_macs(const kp_exec *e, const kp_model *m, uint64_t *macs, kp_error *err);

#endif
