#include <stdlib.h>
#include <string.h>

#include "passes/cluster_kmeans.h"

typedef struct vi {
    float v;
    int64_t i;
} vi;

static int cmp_vi(const void *a, const void *b) {
    const vi *x = a, *y = b;
    if (x->v != y->v) return (x->v > y->v) - (x->v < y->v);
    return (x->i > y->i) - (x->i < y->i);
}

/* First index in sorted v[0..m) with value > t. */
static int64_t upper(const vi *v, int64_t m, double t) {
    int64_t lo = 0, hi = m;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if ((double)v[mid].v <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void lloyd(const vi *v, int64_t m, const double *pre, double *c, int64_t *lo, int k) {
    for (int it = 0; it < 300; it++) {
        lo[0] = 0;
        for (int j = 1; j < k; j++) lo[j] = upper(v, m, (c[j - 1] + c[j]) / 2);
        lo[k] = m;
        int moved = 0;
        for (int j = 0; j < k; j++) {
            int64_t a = lo[j], b = lo[j + 1];
            if (b <= a) continue;
            double nc = (pre[b] - pre[a]) / (double)(b - a);
            if (nc != c[j]) moved = 1;
            c[j] = nc;
        }
        if (!moved) break;
    }
    lo[0] = 0;
    for (int j = 1; j < k; j++) lo[j] = upper(v, m, (c[j - 1] + c[j]) / 2);
    lo[k] = m;
}

int kp_kmeans_1d(float *w, int64_t n, int k, int quantile, int keep_zero, float *codebook,
                 double *sse, kp_error *err) {
    if (k < 1 || n < 0) return kp_error_set(err, KP_EINVAL, "k-means: k must be >= 1");
    vi *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    double *pre = malloc((size_t)(n + 1) * sizeof *pre);
    double *c = malloc((size_t)k * sizeof *c);
    int64_t *lo = malloc((size_t)(k + 1) * sizeof *lo);
    if (!v || !pre || !c || !lo) {
        free(v);
        free(pre);
        free(c);
        free(lo);
        return kp_error_set(err, KP_ENOMEM, "k-means: out of memory for %lld values", (long long)n);
    }
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (!keep_zero || w[i] != 0.0f) v[m++] = (vi){w[i], i};
    qsort(v, (size_t)m, sizeof *v, cmp_vi);
    double *pre2 = malloc((size_t)(n + 1) * sizeof *pre2);
    if (!pre2) {
        free(v);
        free(pre);
        free(c);
        free(lo);
        return kp_error_set(err, KP_ENOMEM, "k-means: out of memory");
    }
    pre[0] = pre2[0] = 0;
    for (int64_t i = 0; i < m; i++) {
        pre[i + 1] = pre[i] + v[i].v;
        pre2[i + 1] = pre2[i] + (double)v[i].v * v[i].v;
    }
    double mn = m ? v[0].v : 0, mx = m ? v[m - 1].v : 0;
    for (int j = 0; j < k; j++) {
        if (quantile && m)
            c[j] = v[(int64_t)(((double)j + 0.5) * (double)m / k)].v;
        else
            c[j] = k == 1 ? (mn + mx) / 2 : mn + (mx - mn) * j / (k - 1);
    }
    for (int round = 0; round <= k; round++) {
        lloyd(v, m, pre, c, lo, k);
        /* Empty clusters (e.g. linear init over a pruned, two-sided distribution) are moved
         * into the cluster with the largest squared error, which is then split. */
        int empty = -1, worst = -1;
        double wsse = 0;
        for (int j = 0; j < k; j++) {
            int64_t a = lo[j], b = lo[j + 1];
            if (b <= a) {
                if (empty < 0) empty = j;
                continue;
            }
            double mean = (pre[b] - pre[a]) / (double)(b - a);
            double e = (pre2[b] - pre2[a]) - (double)(b - a) * mean * mean;
            if (b - a > 1 && e > wsse && v[a].v != v[b - 1].v) wsse = e, worst = j;
        }
        if (empty < 0 || worst < 0) break;
        int64_t a = lo[worst], b = lo[worst + 1];
        c[empty] = v[a + (b - a) / 4].v;
        c[worst] = v[a + 3 * (b - a) / 4].v;
        qsort(c, (size_t)k, sizeof *c, cmp_double);
    }
    lo[0] = 0;
    for (int j = 1; j < k; j++) lo[j] = upper(v, m, (c[j - 1] + c[j]) / 2);
    lo[k] = m;
    double e = 0;
    for (int j = 0; j < k; j++) {
        float cf = (float)c[j];
        if (keep_zero && cf == 0.0f) cf = (float)(c[j] > 0 ? 1e-30 : -1e-30);
        for (int64_t t = lo[j]; t < lo[j + 1]; t++) {
            double d = (double)v[t].v - cf;
            e += d * d;
            w[v[t].i] = cf;
        }
        if (codebook) codebook[j] = cf;
    }
    if (sse) *sse = e;
    free(pre2);
    free(v);
    free(pre);
    free(c);
    free(lo);
    return 0;
}
