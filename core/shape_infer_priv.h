/* Private to core/shape_infer*.c: the working representation of shapes and small integer
 * values during inference, and the per-op rule table. */
#ifndef KP_SHAPE_INFER_PRIV_H
#define KP_SHAPE_INFER_PRIV_H

#include "core/graph.h"

/* One dimension: v >= 0 known; v < 0 unknown, then sym names it when symbolic. sym strings are
 * interned for the whole inference run, so they may be compared by pointer. */
typedef struct si_dim {
    int64_t v;
    const char *sym;
} si_dim;

/* A tensor type: elem KP_UNDEFINED = unknown; rank -1 = unknown shape. */
typedef struct si_shape {
    kp_dtype elem;
    int rank;
    si_dim d[KP_MAX_RANK];
} si_shape;

/* The value of a small integer tensor (rank 0 or 1, at most SI_MAX_VAL entries), each entry
 * known, symbolic (a dim name) or unknown. Lets Shape -> Gather -> Concat -> Reshape chains
 * resolve, including symbolic batch dims. */
#define SI_MAX_VAL 64
typedef struct si_vel {
    int64_t v;       /* the value when known (may be negative) */
    const char *sym; /* when !known: the dim name it equals, or NULL */
    int known;
} si_vel;
typedef struct si_val {
    int rank; /* 0 or 1 */
    int n;
    si_vel e[SI_MAX_VAL];
} si_val;

struct si_run;

typedef struct si_ctx {
    struct si_run *run;
    kp_graph *g;
    kp_node *n;
    int64_t opset;
    size_t n_in;
    const si_shape *in;     /* n_in entries; rank -1/elem 0 when unknown or omitted */
    const kp_tensor **cval; /* constant value of input i, or NULL (borrowed) */
    const si_val **val;     /* small integer value of input i, or NULL */
    size_t n_out;
    si_shape *out;    /* n_out entries, start unknown */
    si_val **out_val; /* rules may fill: si_val owned by the run (si_new_val) */
    kp_error *err;
} si_ctx;

typedef int (*si_rule)(si_ctx *c);

/* The rule for op_type (default domain), or NULL. */
si_rule si_find_rule(const char *op_type);

/* Helpers for the rules (shape_infer.c). */
const char *si_intern(struct si_run *r, const char *s);
si_val *si_new_val(si_ctx *c); /* owned by the run; NULL on no memory */
int si_fail(si_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void si_unknown(si_shape *s);
int si_dim_known(si_dim d);
/* Merges two dims that must be equal: known wins; KP_EFORMAT-worthy mismatch returns -1. */
int si_dim_merge(si_dim a, si_dim b, si_dim *out);
/* Numpy broadcast of a and b into out; -1 on incompatible known dims (names dim index). */
int si_broadcast(const si_shape *a, const si_shape *b, si_shape *out, int *bad_axis);
/* Integer values of input i if fully known (count in *n, up to cap); 0 when known. */
int si_ints(si_ctx *c, size_t i, int64_t *out, int cap, int *n);
/* Float values of constant input i; 0 when known. */
int si_floats(si_ctx *c, size_t i, double *out, int cap, int *n);
/* Normalizes axis against rank; -1 when out of range. */
int si_axis(int64_t axis, int rank);
int64_t si_prod(const si_shape *s, int from, int to); /* -1 if any unknown */

/* Checked arithmetic for sizes taken from untrusted models: 0 ok, -1 on overflow. */
static inline int si_add(int64_t a, int64_t b, int64_t *r) {
    return __builtin_add_overflow(a, b, r) ? -1 : 0;
}
static inline int si_mul(int64_t a, int64_t b, int64_t *r) {
    return __builtin_mul_overflow(a, b, r) ? -1 : 0;
}

/* Conversions between dims, value entries and declared types. */
si_dim si_dim_of_vel(si_vel e);
si_vel si_vel_of_dim(si_dim d);
void si_from_type(struct si_run *r, const kp_type *t, si_shape *s);
/* Fails naming two shapes ("cannot broadcast shapes: [2,3] and [4]"). */
int si_fail_shapes(si_ctx *c, const char *what, const si_shape *a, const si_shape *b);

/* Rules (shape_infer_nn.c) */
int si_rule_same(si_ctx *c);
int si_rule_bool_same(si_ctx *c);
int si_rule_bcast(si_ctx *c);
int si_rule_compare(si_ctx *c);
int si_rule_where(si_ctx *c);
int si_rule_cast(si_ctx *c);
int si_rule_castlike(si_ctx *c);
int si_rule_dropout(si_ctx *c);
int si_rule_batchnorm(si_ctx *c);
int si_rule_layernorm(si_ctx *c);
int si_rule_quantize(si_ctx *c);
int si_rule_dequantize(si_ctx *c);
int si_rule_dyn_quantize(si_ctx *c);
int si_rule_conv(si_ctx *c);
int si_rule_conv_transpose(si_ctx *c);
int si_rule_conv_integer(si_ctx *c);
int si_rule_qlinear_conv(si_ctx *c);
int si_rule_pool(si_ctx *c);
int si_rule_global_pool(si_ctx *c);
int si_rule_matmul(si_ctx *c);
int si_rule_matmul_integer(si_ctx *c);
int si_rule_qlinear_matmul(si_ctx *c);
int si_rule_gemm(si_ctx *c);
int si_rule_flatten(si_ctx *c);
int si_rule_depth_to_space(si_ctx *c);
int si_rule_reduce(si_ctx *c);
int si_rule_rnn(si_ctx *c);
int si_rule_topk(si_ctx *c);
/* Rules (shape_infer_tensor.c) */
int si_rule_reshape(si_ctx *c);
int si_rule_transpose(si_ctx *c);
int si_rule_concat(si_ctx *c);
int si_rule_split(si_ctx *c);
int si_rule_squeeze(si_ctx *c);
int si_rule_unsqueeze(si_ctx *c);
int si_rule_slice(si_ctx *c);
int si_rule_gather(si_ctx *c);
int si_rule_gather_elements(si_ctx *c);
int si_rule_gather_nd(si_ctx *c);
int si_rule_shape(si_ctx *c);
int si_rule_size(si_ctx *c);
int si_rule_constant(si_ctx *c);
int si_rule_constant_of_shape(si_ctx *c);
int si_rule_expand(si_ctx *c);
int si_rule_tile(si_ctx *c);
int si_rule_pad(si_ctx *c);
int si_rule_resize(si_ctx *c);
int si_rule_range(si_ctx *c);
int si_rule_nonzero(si_ctx *c);
int si_rule_identity(si_ctx *c);
int si_rule_arith(si_ctx *c);
int si_rule_onehot(si_ctx *c);
int si_rule_if(si_ctx *c);
int si_rule_loop(si_ctx *c);
int si_rule_eyelike(si_ctx *c);
int si_rule_random(si_ctx *c);
int si_rule_seq_length(si_ctx *c);
/* Rules (shape_infer_more.c) */
int si_rule_einsum(si_ctx *c);
int si_rule_det(si_ctx *c);
int si_rule_roialign(si_ctx *c);
int si_rule_nms(si_ctx *c);
int si_rule_gridsample(si_ctx *c);
int si_rule_maxunpool(si_ctx *c);
int si_rule_loss(si_ctx *c);
int si_rule_scan(si_ctx *c);
int si_rule_compress(si_ctx *c);
int si_rule_window(si_ctx *c);

#endif
