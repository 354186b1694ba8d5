/* Kernel contract. One family file per group of ops (core/ops/<family>.c), each exporting a
 * table `const kp_op_def kp_ops_<family>[]` ending with an all-zero entry; core/ops/table.c
 * lists the families and the executor looks ops up by (domain, op_type).
 * Adding an op: write its kernel in the family file and add one line to that family's table. */
#ifndef KP_OPS_H
#define KP_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "core/graph.h"

typedef struct kp_op_ctx kp_op_ctx;

struct kp_op_ctx {
    const kp_node *node;
    int64_t opset; /* opset version of the node's domain imported by the model */
    size_t n_in;
    const kp_tensor *const *in; /* n_in entries; NULL for an omitted optional input */
    size_t n_out;
    kp_tensor **out; /* filled through kp_op_output(); NULL for omitted outputs */
    kp_error *err;
    int threads;
    /* Executor hooks (set by the executor, or by a unit test harness). */
    void *priv;
    kp_tensor *(*alloc)(kp_op_ctx *ctx, size_t i, kp_dtype dt, int rank, const int64_t *dims);
    /* Runs subgraph g with the given inputs (borrowed), outer-scope values visible; fills
     * outputs (owned). NULL when the host cannot run subgraphs. */
    int (*run_subgraph)(kp_op_ctx *ctx, const kp_graph *g, size_t n_in, const kp_tensor *const *in,
                        size_t n_out, kp_tensor **out);
    /* Scratch memory valid until the kernel returns; NULL + err on failure. */
    void *(*scratch)(kp_op_ctx *ctx, size_t bytes);
    /* An activation the executor fused into this node (only Conv and Gemm get one): the
     * kernel applies it to its output. KP_ACT_NONE otherwise. */
    int fused_act;
    float act_alpha, act_beta; /* CLIP: min, max; LEAKY: alpha */
    /* KP_OPF_* hints from the executor's preparation. */
    unsigned flags;
    /* Conv only: 1 when the executor folded the MaxPool 2x2 stride 2 (floor mode, no padding)
     * that reads this Conv's output into it: the kernel writes the pooled output, after the
     * fused activation (only ReLU or none then). 0 otherwise. */
    int fused_pool;
    /* Data the executor prepared once for this node (Conv: weights packed by kp_c3oc_pack for
     * a 3x3 kernel, group 1; Gemm: B packed by kp_gemmp_pack), borrowed; NULL when none.
     * Kernels check prep_bytes before use. */
    const void *prep;
    size_t prep_bytes;
    /* Per-node state kept across the runs of one executor plan; NULL outside an executor
     * (kp_op_call). A kernel may keep there data made only from its attributes and from inputs
     * flagged in const_in (e.g. packed weights): it sets data and free on first use, and the
     * executor calls free(data) with the plan. */
    struct kp_op_state *state;
    /* Bit i (i < 32): input i is a constant of the plan (initializer, Constant node or a
     * replacement the executor made): the same tensor with the same bytes on every run. */
    uint32_t const_in;
};

typedef struct kp_op_state {
    void *data;
    void (*free)(void *data);
} kp_op_state;

/* Gemm: input B was transposed ahead of time, so transB is to be read inverted. */
#define KP_OPF_B_PRETRANSPOSED 1u

enum { KP_ACT_NONE = 0, KP_ACT_RELU = 1, KP_ACT_CLIP = 2, KP_ACT_LEAKY = 3 };

/* Applies a fused activation in place to n floats. */
void kp_op_apply_act(const kp_op_ctx *ctx, float *y, int64_t n);
/* y[i] = max(y[i] + b, 0) (NaN gives 0), 4 lanes at a time; branch-free. */
void kp_op_bias_relu(float *y, int64_t n, float b);
/* dst[i] = max(src[i] + b, 0), the same from another buffer. */
void kp_op_bias_relu_copy(float *dst, const float *src, int64_t n, float b);

typedef int (*kp_op_fn)(kp_op_ctx *ctx);

typedef struct kp_op_def {
    const char *domain; /* "" = ai.onnx, "com.microsoft" ... */
    const char *op_type;
    kp_op_fn run;
} kp_op_def;

/* Output i with the given dtype and shape, data uninitialized (zeroed for numel 0). Returns
 * NULL with ctx->err set on failure. Kernels write it and leave ownership to the executor. */
kp_tensor *kp_op_output(kp_op_ctx *ctx, size_t i, kp_dtype dt, int rank, const int64_t *dims);
/* Input i or NULL when absent/omitted. */
const kp_tensor *kp_op_input(const kp_op_ctx *ctx, size_t i);
/* Errors naming the node: "Conv 'conv1': <message>". Returns code. */
int kp_op_fail(kp_op_ctx *ctx, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 1 when output i is named by the node (someone may read it); kernels may skip computing
 * optional outputs nobody wants. kp_op_output() works for unwanted outputs too. */
int kp_op_wants(const kp_op_ctx *ctx, size_t i);

/* Runs node's kernel outside an executor: inputs borrowed (NULL = omitted), outputs returned
 * owned in out[0..n_out) (NULL where the kernel produced none). No subgraph support. For unit
 * tests and constant folding. On failure nothing is returned and err names the node. */
int kp_op_call(const kp_node *node, int64_t opset, size_t n_in, const kp_tensor *const *in,
               size_t n_out, kp_tensor **out, kp_error *err);

/* Looks up a kernel; NULL if none. domain NULL or "ai.onnx" = "". */
const kp_op_def *kp_ops_find(const char *domain, const char *op_type);
/* All registered ops, sorted by (domain, op_type); *n receives the count. */
const kp_op_def *const *kp_ops_all(size_t *n);

#endif
