/* Kernels kept in files of their own for size and registered in misc.c's table:
 * NonMaxSuppression (nms.c), window functions, DFT and STFT (signal.c), Det (det.c), Unique
 * (unique.c), StringNormalizer (strnorm.c), GridSample (gridsample.c), RoiAlign (roialign.c),
 * MaxUnpool (unpool.c), TfIdfVectorizer (tfidf.c), the ai.onnx.preview.training optimizers
 * Adagrad, Momentum, Adam (training.c). */
#ifndef KP_OPS_EXTRA_H
#define KP_OPS_EXTRA_H

#include "core/ops/ops.h"

int kp_op_nms(kp_op_ctx *ctx);
int kp_op_hann_window(kp_op_ctx *ctx);
int kp_op_hamming_window(kp_op_ctx *ctx);
int kp_op_blackman_window(kp_op_ctx *ctx);
int kp_op_dft(kp_op_ctx *ctx);
int kp_op_stft(kp_op_ctx *ctx);
int kp_op_mel_weight_matrix(kp_op_ctx *ctx);
int kp_op_det(kp_op_ctx *ctx);
int kp_op_unique(kp_op_ctx *ctx);
int kp_op_string_normalizer(kp_op_ctx *ctx);
int kp_op_grid_sample(kp_op_ctx *ctx);
int kp_op_roi_align(kp_op_ctx *ctx);
int kp_op_max_unpool(kp_op_ctx *ctx);
int kp_op_tfidf(kp_op_ctx *ctx);
int kp_op_adagrad(kp_op_ctx *ctx);
int kp_op_momentum(kp_op_ctx *ctx);
int kp_op_adam(kp_op_ctx *ctx);

#endif
