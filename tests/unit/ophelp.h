/* Helpers for kernel unit tests: build tensors from double arrays, run one op through
 * kp_op_call, compare with expected values. Included by tests/unit/test_ops_*.c only. */
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

#define D(...) ((const int64_t[]){__VA_ARGS__})
#define V(...) ((const double[]){__VA_ARGS__})

#endif
