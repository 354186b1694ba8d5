/* Streaming statistics of one activation tensor for calibration, in bounded memory: running
 * min/max (first sweep), then histograms over the known range (second sweep) for the
 * percentile and entropy (KL divergence) methods. Never keeps the values themselves. */
#ifndef KP_CALIB_STATS_H
#define KP_CALIB_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef enum kp_calib_method {
    KP_CALIB_MINMAX = 0,
    KP_CALIB_PERCENTILE = 1,
    KP_CALIB_ENTROPY = 2,
    KP_CALIB_MSE = 3, /* the range minimising the expected squared quantization error */
} kp_calib_method;

int kp_calib_method_parse(const char *s, kp_calib_method *m); /* 0 or KP_EINVAL */

typedef struct kp_calib_stats {
    double min, max; /* over everything seen in sweep 1 (starts at +inf / -inf) */
    uint64_t count;
    int bins;
    double *hist;     /* bins over [min, max] */
    double *hist_abs; /* bins over [0, max(|min|, |max|)] */
} kp_calib_stats;

/* bins: histogram resolution (e.g. 2048). Returns owned, NULL on no memory. */
kp_calib_stats *kp_calib_stats_new(int bins);
void kp_calib_stats_free(kp_calib_stats *s);
/* Sweep 1. NaNs are ignored. */
void kp_calib_stats_add_minmax(kp_calib_stats *s, const float *x, int64_t n);
/* Sweep 2 (after sweep 1 over the same data): fills both histograms. */
void kp_calib_stats_add_hist(kp_calib_stats *s, const float *x, int64_t n);
/* The clipping range [lo, hi] (always containing 0). percentile in (50, 100]. levels: number of
 * quantization levels the range will be cut into (255 for uint8, 254 for symmetric int8). */
void kp_calib_stats_range(const kp_calib_stats *s, kp_calib_method m, double percentile, int levels,
                          float *lo, float *hi);

/* MSE range on a histogram of `bins` bins of width bin_w starting at x0: the [lo, hi]
 * (containing 0; lo = 0 when x0 >= 0; symmetric, lo = -hi, when sym) minimising
 *   sum over bins of count * (delta^2 / 12 inside the range, squared clipping distance outside)
 * with delta = (hi - lo) / levels: rounding noise against clipping error, as PyTorch's
 * HistogramObserver trades them. Bin counts sit at bin centres. Exposed for tests. */
void kp_calib_mse_range(const double *hist, int bins, double x0, double bin_w, int levels, int sym,
                        double *lo, double *hi);

/* Entropy threshold on a histogram of |x| with `bins` bins of width bin_w: the T minimizing
 * KL(P || Q) where Q is P quantized to `nq` levels (TensorRT's method). Exposed for tests. */
double kp_calib_kl_threshold(const double *hist, int bins, double bin_w, int nq);

#endif
