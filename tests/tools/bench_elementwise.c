/* Throughput of hot elementwise kernels on activation-sized float32 tensors, against memcpy of
 * the same bytes. usage: bench_elementwise [reps]. Prints one line per case: ms per call and
 * GB/s moved (inputs read + output written). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/graph.h"
#include "core/ops/ops.h"
#include "core/tensor.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static kp_tensor *rnd(int rank, const int64_t *dims) {
    kp_error e;
    kp_tensor *t = kp_tensor_new(KP_FLOAT, rank, dims, &e);
    if (!t) exit(1);
    float *p = t->data;
    for (int64_t i = 0; i < t->numel; i++) p[i] = (float)((i * 7919) % 1000) / 250.0f - 2.0f;
    return t;
}

/* Output buffer reused across calls, so timings measure the kernel and not page faults. */
static kp_tensor reuse;
static size_t reuse_cap;

static kp_tensor *bench_alloc(kp_op_ctx *ctx, size_t i, kp_dtype dt, int rank,
                              const int64_t *dims) {
    int64_t numel = 1;
    for (int d = 0; d < rank; d++) numel *= dims[d];
    int ok = 1;
    size_t nb = kp_dtype_bytes(dt, numel, &ok);
    if (nb > reuse_cap) {
        free(reuse.data);
        reuse.data = malloc(nb);
        memset(reuse.data, 0, nb);
        reuse_cap = nb;
    }
    reuse.dtype = dt;
    reuse.rank = rank;
    memcpy(reuse.dims, dims, sizeof(int64_t) * (size_t)rank);
    reuse.numel = numel;
    reuse.nbytes = nb;
    reuse.borrowed = 1;
    return &reuse;
}

/* axes: optional "axes" attribute (n_axes entries) for reductions at opset 17. */
static void bench_axes(const char *label, const char *op, size_t n_in, kp_tensor **in, int reps,
                       const char *attr, int64_t attr_v, size_t n_axes, const int64_t *axes) {
    const char *names[4] = {"a", "b", "c", "d"}, *outs[1] = {"y"};
    kp_node *n = kp_node_new(op, "bench", n_in, names, 1, outs);
    if (attr) kp_node_set_attr_int(n, attr, attr_v);
    if (n_axes) kp_node_set_attr_ints(n, "axes", n_axes, axes);
    const kp_op_def *def = kp_ops_find("", op);
    kp_error e;
    kp_tensor *out[1];
    double bytes = 0;
    for (size_t i = 0; i < n_in; i++) bytes += (double)in[i]->nbytes;
    double best = 1e9;
    for (int r = 0; r < reps; r++) {
        out[0] = NULL;
        kp_op_ctx ctx = {.node = n,
                         .opset = 17,
                         .n_in = n_in,
                         .in = (const kp_tensor *const *)in,
                         .n_out = 1,
                         .out = out,
                         .err = &e,
                         .threads = 1,
                         .alloc = bench_alloc};
        double t0 = now();
        if (def->run(&ctx)) {
            fprintf(stderr, "%s: %s\n", label, e.msg);
            exit(1);
        }
        double t = now() - t0;
        if (t < best) best = t;
    }
    bytes += (double)reuse.nbytes;
    printf("%-34s %8.3f ms  %6.2f GB/s\n", label, best * 1e3, bytes / best / 1e9);
    kp_node_free(n);
}

static void bench(const char *label, const char *op, size_t n_in, kp_tensor **in, int reps,
                  const char *attr, int64_t attr_v) {
    bench_axes(label, op, n_in, in, reps, attr, attr_v, 0, NULL);
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 20;
    int64_t big[4] = {8, 64, 56, 56}, ch[3] = {64, 1, 1}, row[1] = {56};
    kp_tensor *a = rnd(4, big), *b = rnd(4, big), *c = rnd(3, ch), *r = rnd(1, row);
    kp_error e;
    kp_tensor *s = kp_tensor_new(KP_FLOAT, 0, NULL, &e);
    ((float *)s->data)[0] = 0.5f;
    /* memcpy reference: bandwidth for reading a and writing one output */
    double best = 1e9;
    float *dst = malloc(a->nbytes);
    for (int k = 0; k < reps; k++) {
        double t0 = now();
        memcpy(dst, a->data, a->nbytes);
        double t = now() - t0;
        if (t < best) best = t;
    }
    printf("%-34s %8.3f ms  %6.2f GB/s\n", "memcpy 8x64x56x56", best * 1e3,
           2.0 * (double)a->nbytes / best / 1e9);
    free(dst);
    kp_tensor *ab[2] = {a, b}, *ac[2] = {a, c}, *as[2] = {a, s}, *ar[2] = {a, r};
    bench("Add same shape", "Add", 2, ab, reps, NULL, 0);
    bench("Add channel [64,1,1]", "Add", 2, ac, reps, NULL, 0);
    bench("Mul scalar", "Mul", 2, as, reps, NULL, 0);
    bench("Mul last-dim row [56]", "Mul", 2, ar, reps, NULL, 0);
    bench("Relu", "Relu", 1, &a, reps, NULL, 0);
    bench("Sigmoid", "Sigmoid", 1, &a, reps, NULL, 0);
    bench("Softmax axis -1", "Softmax", 1, &a, reps, NULL, 0);
    bench("Softmax axis 1", "Softmax", 1, &a, reps, "axis", 1);
    bench("ReduceMean all (keepdims)", "ReduceMean", 1, &a, reps, NULL, 0);
    bench_axes("ReduceMean axes [2,3]", "ReduceMean", 1, &a, reps, NULL, 0, 2,
               (const int64_t[]){2, 3});
    bench_axes("ReduceMean axis -1", "ReduceMean", 1, &a, reps, NULL, 0, 1, (const int64_t[]){-1});
    bench_axes("ReduceSum axis 1", "ReduceSum", 1, &a, reps, NULL, 0, 1, (const int64_t[]){1});
    bench("Transpose (reverse)", "Transpose", 1, &a, reps, NULL, 0);
    kp_tensor_free(a);
    kp_tensor_free(b);
    kp_tensor_free(c);
    kp_tensor_free(s);
    kp_tensor_free(r);
    free(reuse.data);
    return 0;
}
