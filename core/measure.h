/* One row of the before/after table for a model: file and gzip bytes, host latency measured
 * here (batch 1, median), target latency/RAM/flash/energy estimated (roofline), top-1 on the
 * evaluation set. Shared by the job runner and the planner. */
#ifndef KP_MEASURE_H
#define KP_MEASURE_H

#include "core/pass.h"
#include "core/project.h"
#include "core/target.h"

typedef struct kp_measure_opts {
    const kp_target *target;    /* NULL = no target estimate */
    double host_factor;         /* measured/roofline on this machine; 0 = none */
    const kp_calib *evalset;    /* NULL = no accuracy */
    int runs;                   /* latency runs (median), 0 = 20 */
    int threads;                /* 0/1 = single thread */
    const volatile int *cancel; /* optional */
} kp_measure_opts;

/* Fills *out for m (borrowed). */
int kp_measure_model(const kp_model *m, const kp_measure_opts *o, kp_metrics_row *out,
                     kp_error *err);
/* Roofline latency (seconds) of m on t without calibration; shapes inferred on a copy. */
int kp_measure_roofline(const kp_model *m, const kp_target *t, kp_target_estimate *out,
                        kp_error *err);

#endif
