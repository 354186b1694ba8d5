/* Micro-benchmark of the direct 3x3 convolution kernel against im2col + sgemm.
 * usage: bench_conv3x3 C M H W [N images] [reps]
 * Prints thread CPU milliseconds per batch of N images (best of reps) for the direct kernel
 * and GFLOP/s, so kernel changes can be measured on a shared machine. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/ops/conv3x3.h"
#include "core/ops/conv3x3_oc.h"

static double cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: bench_conv3x3 C M H W [N] [reps]\n");
        return 2;
    }
    int64_t c = atoll(argv[1]), m = atoll(argv[2]), h = atoll(argv[3]), w = atoll(argv[4]);
    int64_t n = argc > 5 ? atoll(argv[5]) : 1;
    int reps = argc > 6 ? atoi(argv[6]) : 20;
    int isa = kp_conv3x3_isa();
    if (isa == KP_C3_NONE || c < 1 || m < 1 || h < 1 || w < 1 || n < 1) {
        fprintf(stderr, "no direct path on this CPU or bad shape\n");
        return 77;
    }
    float *x = malloc((size_t)(n * c * h * w) * sizeof *x);
    float *y = malloc((size_t)(n * m * h * w) * sizeof *y);
    float *wt = malloc((size_t)(m * c * 9) * sizeof *wt), *b = malloc((size_t)m * sizeof *b);
    float *pad = malloc((size_t)kp_conv3x3_pad_floats(c, h, w) * sizeof *pad);
    float *out = malloc((size_t)kp_conv3x3_out_floats(m, h, w) * sizeof *out);
    if (!x || !y || !wt || !b || !pad || !out) return 1;
    for (int64_t i = 0; i < n * c * h * w; i++) x[i] = (float)(i % 7) * 0.1f;
    for (int64_t i = 0; i < m * c * 9; i++) wt[i] = (float)(i % 5) * 0.1f - 0.2f;
    for (int64_t i = 0; i < m; i++) b[i] = 0.01f;
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = cpu_ms();
        for (int64_t i = 0; i < n; i++)
            kp_conv3x3_run(isa, x + i * c * h * w, c, h, w, wt, m, b, 1, 0, y + i * m * h * w, pad,
                           out);
        double t = cpu_ms() - t0;
        if (t < best) best = t;
    }
    double flop = 2.0 * (double)(n * m * c * h * w * 9);
    printf("C=%lld M=%lld %lldx%lld N=%lld: width-vectorised %.4f ms  %.1f GFLOP/s  (y[0]=%g)\n",
           (long long)c, (long long)m, (long long)h, (long long)w, (long long)n, best,
           flop / best * 1e-6, (double)y[0]);
    best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = cpu_ms();
        for (int64_t i = 0; i < n; i++)
            kp_conv3x3_run(isa, x + i * c * h * w, c, h, w, wt, m, b, 1, 1, y + i * m * h * w, pad,
                           out);
        double t = cpu_ms() - t0;
        if (t < best) best = t;
    }
    printf("  width-vectorised + 2x2 max pool: %.4f ms  %.1f GFLOP/s\n", best, flop / best * 1e-6);
    if (kp_c3oc_available()) {
        float *pk = malloc((size_t)kp_c3oc_packed_floats(m, c) * sizeof *pk);
        float *sc = malloc((size_t)kp_c3oc_scratch_floats(c, m, h, w) * sizeof *sc);
        if (!pk || !sc) return 1;
        kp_c3oc_pack(wt, m, c, pk);
        for (int pool = 0; pool < 2; pool++) {
            best = 1e30;
            for (int r = 0; r < reps; r++) {
                double t0 = cpu_ms();
                for (int64_t i = 0; i < n; i++)
                    kp_c3oc_run(x + i * c * h * w, c, h, w, pk, m, b, 1, pool, y + i * m * h * w,
                                sc);
                double t = cpu_ms() - t0;
                if (t < best) best = t;
            }
            printf("  channel-vectorised%s: %.4f ms  %.1f GFLOP/s  (y[0]=%g)\n",
                   pool ? " + 2x2 max pool" : "", best, flop / best * 1e-6, (double)y[0]);
        }
        free(pk);
        free(sc);
    }
    free(x);
    free(y);
    free(wt);
    free(b);
    free(pad);
    free(out);
    return 0;
}
