/* Helpers shared by the quantization passes (quant-dynamic, quant-static, fp16,
 * mixed-precision): weight quantization, BatchNorm folding, small graph-building helpers. */
#ifndef KP_QUANT_UTIL_H
#define KP_QUANT_UTIL_H

#include "core/pass.h"

/* Weight quantization, symmetric around 0 with per-channel (or one) scale:
 * q = clamp(round_half_even(w / s), -qmax, qmax), s = max|w| / qmax, qmax = 127 (63 with
 * reduce_range, so AVX2's vpmaddubsw cannot saturate). as_u8 stores q + 128 as uint8 with zero
 * point 128 (for kernels that only take uint8 weights). channel axis `axis` of w; transpose
 * (rank 2 only) writes q as w^T. Returns owned q, scale (float [C] or scalar) and zero point. */
int kp_qw_quantize(const kp_tensor *w, int axis, int per_channel, int reduce_range, int as_u8,
                   int transpose, kp_tensor **q, kp_tensor **scale, kp_tensor **zp, kp_error *err);
/* Same with `bits` (2..8) of weight levels: qmax = 2^(bits-1) - 1 (reduce_range caps at 63). */
int kp_qw_quantize_bits(const kp_tensor *w, int axis, int per_channel, int bits, int reduce_range,
                        int as_u8, int transpose, kp_tensor **q, kp_tensor **scale, kp_tensor **zp,
                        kp_error *err);

/* Folds BatchNormalization into a preceding Conv (constant weights, Conv output read only by
 * the BN) in g; returns the number folded or a negative error. Leaves g valid either way. */
int kp_q_fold_bn(kp_graph *g, kp_error *err);

/* Adds an initializer named after base (made unique) and returns its borrowed name. */
const char *kp_q_add_init(kp_graph *g, const char *base, kp_tensor *t /* takes */, kp_error *err);
/* Scalar or 1-D tensors. */
kp_tensor *kp_q_scalar_f(float v);
kp_tensor *kp_q_scalar_zp(kp_dtype t, int32_t v);
kp_tensor *kp_q_vec_f(const float *v, int64_t n);

/* New node (owned), single output; name may be NULL. */
kp_node *kp_q_node(const char *op, const char *name, size_t n_in, const char *const *in,
                   const char *out);

/* A layer name for notes: node name, else its first output. */
const char *kp_q_layer_name(const kp_node *n);
/* 1 when name appears in the comma-separated list (layer names or output names). */
int kp_q_in_list(const char *list, const kp_node *n);

/* Target's view: reduce_range "auto" resolves to the target's (or this CPU's) saturation. */
int kp_q_reduce_range(const char *mode, const kp_pass_ctx *ctx);

/* Copies Conv geometry attributes (auto_pad, dilations, group, kernel_shape, pads, strides). */
int kp_q_copy_conv_attrs(kp_node *dst, const kp_node *src);

/* Estimate for an int8 pass: size from the float weights it would quantize, latency from the
 * target's (or this CPU's) int8 path, honest when int8 would not be faster. with_conv: Conv
 * layers count; is_static: activations stay int8 between layers (no run-time quantization). */
int kp_q_estimate_int8(const kp_model *m, const kp_pass_ctx *ctx, int with_conv, int is_static,
                       kp_estimate *out, kp_error *err);

/* quant-dynamic's rewrite (DynamicQuantizeLinear -> MatMulInteger/ConvInteger) applied inside
 * every If/Loop/Scan body of g (not to g's own nodes), with bits, per_channel and exclude taken
 * from the static pass's parameters sp: how quant-static makes weights in bodies int8.
 * *n_done: layers rewritten. */
int kp_q_dynamic_bodies(kp_graph *g, const kp_params *sp, const kp_pass_ctx *ctx, int reduce,
                        size_t *n_done, kp_error *err);

/* fp16 over fp32 throughput of target t (0 when it has no fp16). */
double kp_q_target_fp16_speedup(const struct kp_target *t);

#endif
