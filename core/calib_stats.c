/* Calibration statistics: running ranges, histograms, percentile and KL-entropy thresholds. */
#include "core/calib_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int kp_calib_method_parse(const char *s, kp_calib_method *m) {
    if (!strcmp(s, "minmax"))
        *m = KP_CALIB_MINMAX;
    else if (!strcmp(s, "percentile"))
        *m = KP_CALIB_PERCENTILE;
    else if (!strcmp(s, "entropy"))
        *m = KP_CALIB_ENTROPY;
    else if (!strcmp(s, "mse"))
        *m = KP_CALIB_MSE;
    else
        return KP_EINVAL;
    return 0;
}

kp_calib_stats *kp_calib_stats_new(int bins) {
    if (bins < 16) bins = 16;
    if (bins > 1 << 16) bins = 1 << 16;
    kp_calib_stats *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->bins = bins;
    s->min = INFINITY;
    s->max = -INFINITY;
    s->hist = calloc((size_t)bins, sizeof *s->hist);
    s->hist_abs = calloc((size_t)bins, sizeof *s->hist_abs);
    if (!s->hist || !s->hist_abs) {
        kp_calib_stats_free(s);
        return NULL;
    }
    return s;
}

void kp_calib_stats_free(kp_calib_stats *s) {
    if (!s) return;
    free(s->hist);
    free(s->hist_abs);
    free(s);
}

void kp_calib_stats_add_minmax(kp_calib_stats *s, const float *x, int64_t n) {
    float mn = (float)s->min, mx = (float)s->max;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        if (v < mn) mn = v;
        if (v > mx) mx = v;
    }
    s->min = mn;
    s->max = mx;
    s->count += (uint64_t)n;
}

void kp_calib_stats_add_hist(kp_calib_stats *s, const float *x, int64_t n) {
    if (!(s->max >= s->min)) return;
    double w = (s->max - s->min) / s->bins, amax = fmax(fabs(s->min), fabs(s->max));
    double wa = amax / s->bins;
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        if (isnan(v)) continue;
        int b = w > 0 ? (int)((v - s->min) / w) : 0;
        if (b < 0) b = 0;
        if (b >= s->bins) b = s->bins - 1;
        s->hist[b] += 1;
        int a = wa > 0 ? (int)(fabs(v) / wa) : 0;
        if (a >= s->bins) a = s->bins - 1;
        s->hist_abs[a] += 1;
    }
}

/* KL(P || Q) for the first i bins quantized to nq levels; p and q are scratch of >= i. */
static double kl_at(const double *hist, int bins, int i, int nq, double *p, double *q) {
    double outl = 0;
    for (int k = i; k < bins; k++) outl += hist[k];
    for (int k = 0; k < i; k++) p[k] = hist[k];
    p[i - 1] += outl;
    for (int j = 0; j < nq; j++) {
        int a = (int)((long long)j * i / nq), b = (int)((long long)(j + 1) * i / nq);
        double sum = 0;
        int nz = 0;
        for (int k = a; k < b; k++) {
            sum += hist[k];
            nz += hist[k] > 0;
        }
        for (int k = a; k < b; k++) q[k] = (hist[k] > 0 && nz) ? sum / nz : 0;
    }
    double ps = 0, qs = 0;
    for (int k = 0; k < i; k++) ps += p[k], qs += q[k];
    if (ps <= 0 || qs <= 0) return INFINITY;
    double kl = 0;
    for (int k = 0; k < i; k++) {
        if (p[k] <= 0) continue;
        double pk = p[k] / ps, qk = q[k] / qs;
        kl += qk > 0 ? pk * log(pk / qk) : pk * 50.0; /* mass Q cannot represent */
    }
    return kl;
}

double kp_calib_kl_threshold(const double *hist, int bins, double bin_w, int nq) {
    if (bins <= nq) return bins * bin_w;
    double total = 0;
    for (int i = 0; i < bins; i++) total += hist[i];
    if (total <= 0) return bins * bin_w;
    double *p = malloc((size_t)bins * sizeof *p), *q = malloc((size_t)bins * sizeof *q);
    int best = bins;
    if (p && q) {
        double best_kl = INFINITY;
        int step = bins / 256 > 1 ? bins / 256 : 1; /* ~256 candidates keep it fast */
        for (int i = nq; i <= bins; i += step) {
            double kl = kl_at(hist, bins, i, nq, p, q);
            if (kl < best_kl) best_kl = kl, best = i;
        }
    }
    free(p);
    free(q);
    return best * bin_w;
}

/* Prefix sums over bins [0, k): count, sum of centres, sum of squared centres. */
typedef struct msum {
    double *n, *c, *c2;
} msum;

/* Squared clipping error of every value below lo (bins [0, k)) and above hi (bins [j, bins)). */
static double clip_err(const msum *m, int bins, int k, double lo, int j, double hi) {
    double below = m->c2[k] - 2 * lo * m->c[k] + lo * lo * m->n[k];
    double n = m->n[bins] - m->n[j], c = m->c[bins] - m->c[j], c2 = m->c2[bins] - m->c2[j];
    double above = c2 - 2 * hi * c + hi * hi * n;
    return (below > 0 ? below : 0) + (above > 0 ? above : 0);
}

void kp_calib_mse_range(const double *hist, int bins, double x0, double bin_w, int levels, int sym,
                        double *lo, double *hi) {
    double x1 = x0 + bins * bin_w;
    *lo = x0 < 0 ? x0 : 0;
    *hi = x1 > 0 ? x1 : 0;
    if (bins <= 0 || !(bin_w > 0) || levels < 1) return;
    msum m = {calloc((size_t)bins + 1, sizeof(double)), calloc((size_t)bins + 1, sizeof(double)),
              calloc((size_t)bins + 1, sizeof(double))};
    if (!m.n || !m.c || !m.c2) goto done;
    for (int i = 0; i < bins; i++) {
        double c = x0 + (i + 0.5) * bin_w;
        m.n[i + 1] = m.n[i] + hist[i];
        m.c[i + 1] = m.c[i] + hist[i] * c;
        m.c2[i + 1] = m.c2[i] + hist[i] * c * c;
    }
    if (m.n[bins] <= 0) goto done;
    /* candidate ends on bin edges: lo = x0 + k*w (k in [0, z]) and hi = x0 + j*w (j in [z, bins]),
     * z the bin holding 0; about 256 steps each way keep the search small */
    int z = x0 >= 0 ? 0 : (int)floor(-x0 / bin_w);
    if (z > bins) z = bins;
    int step = bins / 256 > 1 ? bins / 256 : 1;
    double best = INFINITY;
    for (int j = bins; j >= z && j >= 1; j -= step) {
        double h = x0 + j * bin_w;
        if (h < 0) h = 0;
        int k0 = x0 >= 0 ? 0 : 0, k1 = x0 >= 0 ? 0 : z;
        for (int k = k0; k <= k1; k += (sym || x0 >= 0) ? (k1 - k0 + 1) : step) {
            double l = x0 >= 0 ? 0 : x0 + k * bin_w;
            if (l > 0) l = 0;
            int kk = k, jj = j;
            if (sym) { /* [-h, h]: clip below at -h */
                l = -h;
                kk = (int)floor((l - x0) / bin_w);
                if (kk < 0) kk = 0;
                if (kk > bins) kk = bins;
            }
            double delta = (h - l) / levels;
            if (!(delta > 0)) continue;
            double inside = m.n[jj] - m.n[kk];
            double e = inside * delta * delta / 12.0 + clip_err(&m, bins, kk, l, jj, h);
            if (e < best) best = e, *lo = l, *hi = h;
        }
    }
done:
    free(m.n);
    free(m.c);
    free(m.c2);
}

void kp_calib_stats_range(const kp_calib_stats *s, kp_calib_method m, double percentile, int levels,
                          float *lo, float *hi) {
    double mn = s->count ? s->min : 0, mx = s->count ? s->max : 0;
    if (m == KP_CALIB_PERCENTILE && s->count) {
        double total = 0;
        for (int i = 0; i < s->bins; i++) total += s->hist[i];
        double w = (s->max - s->min) / s->bins, tail = total * (100.0 - percentile) / 100.0;
        double acc = 0, plo = s->min, phi = s->max;
        if (s->min < 0) /* lower tail too when the tensor takes negative values */
            for (int i = 0; i < s->bins; i++) {
                acc += s->hist[i];
                if (acc > tail) {
                    plo = s->min + i * w;
                    break;
                }
            }
        acc = 0;
        for (int i = s->bins - 1; i >= 0; i--) {
            acc += s->hist[i];
            if (acc > tail) {
                phi = s->min + (i + 1) * w;
                break;
            }
        }
        mn = plo;
        mx = phi;
    } else if (m == KP_CALIB_ENTROPY && s->count) {
        double amax = fmax(fabs(s->min), fabs(s->max));
        int nq = s->min >= 0 ? (levels + 1) : (levels + 1) / 2;
        if (nq < 2) nq = 2;
        double t = kp_calib_kl_threshold(s->hist_abs, s->bins, amax / s->bins, nq);
        mn = fmax(s->min, -t);
        mx = fmin(s->max, t);
    } else if (m == KP_CALIB_MSE && s->count) {
        kp_calib_mse_range(s->hist, s->bins, s->min, (s->max - s->min) / s->bins, levels,
                           levels % 2 == 0, &mn, &mx);
        mn = fmax(mn, s->min);
        mx = fmin(mx, s->max);
    }
    if (mn > 0) mn = 0;
    if (mx < 0) mx = 0;
    *lo = (float)mn;
    *hi = (float)mx;
}
