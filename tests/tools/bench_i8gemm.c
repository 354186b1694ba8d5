/* Micro-benchmark of the AVX-512 VNNI int8 GEMM kernels (AMX off), for judging kernel changes
 * on a shared machine where callgrind cannot run AVX-512:
 *   bench_i8gemm [reps]
 * Prints, per shape, the best thread-CPU microseconds of one call over reps calls (default
 * 2000) of kp_i8_gemm on contiguous rows (4-row tiles) and of kp_i8_gemm_segments (direct
 * convolution rows), and a checksum of C so two builds can be compared for identical results.
 * Exit 77 when the CPU has no AVX-512 VNNI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ops/int8_gemm.h"

static double cpu_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

static uint32_t rng = 12345;
static uint8_t rbyte(void) {
    rng = rng * 1103515245u + 12345u;
    return (uint8_t)(rng >> 16);
}

static uint64_t checksum(const int32_t *c, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint32_t)c[i]) * 1099511628211ull;
    return h;
}

/* Contiguous rows: M x K activations against K x N weights. */
static int bench_rows(int64_t M, int64_t K, int64_t N, int reps) {
    kp_error err = {0};
    int8_t *B = malloc((size_t)(K * N));
    uint8_t *A = malloc((size_t)(M * K));
    int32_t *C = malloc((size_t)(M * N) * sizeof *C);
    if (!A || !B || !C) return 1;
    for (int64_t i = 0; i < K * N; i++) B[i] = (int8_t)(rbyte() % 255 - 127);
    for (int64_t i = 0; i < M * K; i++) A[i] = rbyte();
    kp_i8_packed p;
    kp_i8_rows r = {0};
    uint8_t za = 3;
    if (kp_i8_pack(B, 1, 0, K, N, N, NULL, 0, &p, &err) ||
        kp_i8_rows_prepare(&r, A, 0, M, K, K, &za, 1, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double best = 1e30;
    for (int i = 0; i < reps; i++) {
        double t0 = cpu_us();
        kp_i8_gemm(&r, &p, C, N, "avx512-vnni");
        double t = cpu_us() - t0;
        if (t < best) best = t;
    }
    printf("rows     M=%-4lld K=%-4lld N=%-4lld  %9.2f us  checksum %016llx\n", (long long)M,
           (long long)K, (long long)N, best, (unsigned long long)checksum(C, (size_t)(M * N)));
    kp_i8_rows_free(&r);
    kp_i8_packed_free(&p);
    free(A);
    free(B);
    free(C);
    return 0;
}

/* Direct-convolution rows: M windows of S segments of L bytes in an image of row stride ss. */
static int bench_segments(int64_t M, int64_t S, int64_t L, int64_t N, int reps) {
    kp_error err = {0};
    int64_t K = S * L, ss = L * 8, img = ss * S + M * 4 + L;
    int8_t *B = malloc((size_t)(K * N));
    uint8_t *X = malloc((size_t)img);
    const uint8_t **rows = malloc((size_t)M * sizeof *rows);
    int32_t *C = malloc((size_t)(M * N) * sizeof *C);
    if (!B || !X || !rows || !C) return 1;
    for (int64_t i = 0; i < K * N; i++) B[i] = (int8_t)(rbyte() % 255 - 127);
    for (int64_t i = 0; i < img; i++) X[i] = rbyte();
    for (int64_t m = 0; m < M; m++) rows[m] = X + m * 4;
    kp_i8_packed p;
    if (kp_i8_pack(B, 1, 0, K, N, N, NULL, 0, &p, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double best = 1e30;
    for (int i = 0; i < reps; i++) {
        double t0 = cpu_us();
        if (!kp_i8_gemm_segments(rows, M, S, L, ss, 5, &p, C, N)) {
            fprintf(stderr, "segments refused\n");
            return 1;
        }
        double t = cpu_us() - t0;
        if (t < best) best = t;
    }
    printf("segments M=%-4lld S=%lld L=%-3lld N=%-4lld  %9.2f us  checksum %016llx\n", (long long)M,
           (long long)S, (long long)L, (long long)N, best,
           (unsigned long long)checksum(C, (size_t)(M * N)));
    kp_i8_packed_free(&p);
    free(B);
    free(X);
    free((void *)rows);
    free(C);
    return 0;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 2000;
    if (reps < 1) reps = 1;
    setenv("KOMPRESS_NO_AMX", "1", 1);
    int8_t one = 1;
    kp_i8_packed probe;
    kp_error err = {0};
    if (kp_i8_pack(&one, 1, 0, 1, 1, 1, NULL, 0, &probe, &err)) return 1;
    int ok = !strcmp(kp_i8_gemm_path(&probe), "avx512-vnni");
    kp_i8_packed_free(&probe);
    if (!ok) {
        printf("no AVX-512 VNNI on this CPU\n");
        return 77;
    }
    int rc = 0;
    rc |= bench_rows(64, 784, 256, reps);
    rc |= bench_rows(64, 256, 10, reps);
    rc |= bench_rows(196, 288, 64, reps);
    rc |= bench_segments(784, 3, 12, 32, reps);
    rc |= bench_segments(196, 3, 96, 64, reps);
    rc |= bench_segments(49, 3, 192, 64, reps);
    return rc;
}
