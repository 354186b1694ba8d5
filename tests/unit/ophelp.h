/* Helpers for kernel unit tests (all static inline: a test uses what it needs): build tensors
 * from double arrays, run one op through kp_op_call, compare with expected values; seeded
 * random floats and naive references (3x3 convolution, GEMM) for the SIMD kernels' tests;
 * graph value infos for models built in code. */
#ifndef KP_TEST_OPHELP_H
#define KP_TEST_OPHELP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "core/ops/elem.h"
#include "core/ops/ops.h"
#include "core/tensor.h"

/* Tensor of dtype dt and shape dims[rank] holding vals (converted), or zeros if vals NULL. */
static inline kp_tensor *tt(kp_dtype dt, int rank, const int64_t *dims, const double *vals) {
    kp_error e;
    kp_tensor *t = kp_tensor_new(dt, rank, dims, &e);
    if (!t) abort();
    for (int64_t i = 0; vals && i < t->numel; i++) kp_elem_setd(t->data, dt, i, vals[i]);
    return t;
}

/* float32 tensor with values 0, 1, 2, ... scaled by `scale` and shifted by `shift`. */
static inline kp_tensor *tramp(int rank, const int64_t *dims, double scale, double shift) {
    kp_tensor *t = tt(KP_FLOAT, rank, dims, NULL);
    for (int64_t i = 0; i < t->numel; i++) ((float *)t->data)[i] = (float)(i * scale + shift);
    return t;
}

static inline kp_node *mknode(const char *op, size_t n_in, const kp_tensor *const *in,
                              size_t n_out) {
    const char *ins[16], *outs[16];
    static const char *names[16] = {"i0", "i1", "i2",  "i3",  "i4",  "i5",  "i6",  "i7",
                                    "i8", "i9", "i10", "i11", "i12", "i13", "i14", "i15"};
    static const char *onames[16] = {"o0", "o1", "o2",  "o3",  "o4",  "o5",  "o6",  "o7",
                                     "o8", "o9", "o10", "o11", "o12", "o13", "o14", "o15"};
    for (size_t i = 0; i < n_in; i++) ins[i] = in[i] ? names[i] : "";
    for (size_t i = 0; i < n_out; i++) outs[i] = onames[i];
    kp_node *n = kp_node_new(op, "t", n_in, ins, n_out, outs);
    if (!n) abort();
    return n;
}

/* Runs node at opset; returns kp_op_call's code. Frees nothing. */
static inline int run(kp_node *n, int64_t opset, size_t n_in, const kp_tensor *const *in,
                      size_t n_out, kp_tensor **out, kp_error *err) {
    kp_error_clear(err);
    return kp_op_call(n, opset, n_in, in, n_out, out, err);
}

/* 1 when t has the given shape and every element is within 1e-5 (relative) of want. */
static inline int close_to(const kp_tensor *t, int rank, const int64_t *dims, const double *want) {
    if (!t || t->rank != rank) {
        fprintf(stderr, "rank %d, want %d\n", t ? t->rank : -1, rank);
        return 0;
    }
    for (int d = 0; d < rank; d++)
        if (t->dims[d] != dims[d]) {
            fprintf(stderr, "dim %d is %lld, want %lld\n", d, (long long)t->dims[d],
                    (long long)dims[d]);
            return 0;
        }
    for (int64_t i = 0; i < t->numel; i++) {
        double g = kp_elem_getd(t->data, t->dtype, i);
        if (!(fabs(g - want[i]) <= 1e-5 * (1 + fabs(want[i]))) && !(isnan(g) && isnan(want[i]))) {
            fprintf(stderr, "element %lld is %.9g, want %.9g\n", (long long)i, g, want[i]);
            return 0;
        }
    }
    return 1;
}

static inline void free_all(size_t n, kp_tensor **t) {
    for (size_t i = 0; i < n; i++) kp_tensor_free(t[i]);
}

/* ---- random data and naive references --------------------------------------------------- */

/* One linear congruential generator per test binary; rnd_seed() it in main() so a file keeps
 * its own reproducible sequence. */
static uint32_t rnd_state = 1;
static inline void rnd_seed(uint32_t s) {
    rnd_state = s;
}
static inline uint32_t rnd_u32(void) { /* 24 random bits */
    rnd_state = rnd_state * 1664525u + 1013904223u;
    return rnd_state >> 8;
}
static inline float rnd_f(void) { /* in [-1, 1) */
    return (float)(rnd_u32() & 0xffff) / 32768.0f - 1.0f;
}
/* n floats (at least one allocated), random, or NaN when nan_fill (buffers whose old contents
 * must not matter). Caller frees. */
static inline float *rnd_floats(int64_t n, int nan_fill) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    if (!p) abort();
    for (int64_t i = 0; i < n; i++) p[i] = nan_fill ? NAN : rnd_f();
    return p;
}

/* 3x3 convolution, stride 1, zero padding 1, sums in double: x [c, h, w], wt [m, c, 3, 3],
 * bias NULL or m values, relu clamps at 0; y [m, h, w]. */
static inline void ref_conv3x3(const float *x, int64_t c, int64_t h, int64_t w, const float *wt,
                               int64_t m, const float *bias, int relu, float *y) {
    for (int64_t o = 0; o < m; o++)
        for (int64_t p = 0; p < h; p++)
            for (int64_t q = 0; q < w; q++) {
                double acc = bias ? bias[o] : 0;
                for (int64_t ci = 0; ci < c; ci++)
                    for (int64_t a = 0; a < 3; a++)
                        for (int64_t b = 0; b < 3; b++) {
                            int64_t yy = p - 1 + a, xx = q - 1 + b;
                            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                            acc += (double)x[(ci * h + yy) * w + xx] *
                                   wt[((o * c + ci) * 3 + a) * 3 + b];
                        }
                if (relu && acc < 0) acc = 0;
                y[(o * h + p) * w + q] = (float)acc;
            }
}

/* y (double, m x n dense) = bias + A B: A [m, k] with row stride lda; B [k, n] with row stride
 * ldb or, when tb, [n, k] with row stride ldb; bias NULL, one value per column or, when
 * bias_rows, per row; relu clamps at 0. */
static inline void ref_gemm(const float *a, int64_t lda, const float *b, int64_t ldb, int tb,
                            int64_t m, int64_t k, int64_t n, const float *bias, int bias_rows,
                            int relu, double *y) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = bias ? bias[bias_rows ? i : j] : 0;
            for (int64_t p = 0; p < k; p++)
                acc += (double)a[i * lda + p] * (tb ? b[j * ldb + p] : b[p * ldb + j]);
            y[i * n + j] = relu && acc < 0 ? 0 : acc;
        }
}

/* A graph input/output description: name and tensor type (caller's struct, which owns the
 * fields afterwards). */
static inline void set_vi(kp_value_info *v, const char *name, kp_dtype dt, int rank,
                          const int64_t *dims) {
    memset(v, 0, sizeof *v);
    v->name = strdup(name);
    if (!v->name || kp_type_set_tensor(&v->type, dt, rank, dims) < 0) abort();
}

/* Gives g (with none yet) one input "x" and one output "y", dt tensors of the given shapes. */
static inline void set_io(kp_graph *g, kp_dtype dt, int rank_x, const int64_t *dims_x, int rank_y,
                          const int64_t *dims_y) {
    g->inputs = calloc(1, sizeof *g->inputs);
    g->outputs = calloc(1, sizeof *g->outputs);
    if (!g->inputs || !g->outputs) abort();
    g->n_inputs = g->n_outputs = 1;
    set_vi(&g->inputs[0], "x", dt, rank_x, dims_x);
    set_vi(&g->outputs[0], "y", dt, rank_y, dims_y);
}

#define D(...) ((const int64_t[]){__VA_ARGS__})
#define V(...) ((const double[]){__VA_ARGS__})

#endif
