/* Direct 3x3 convolution vectorised over output channels (float32, AVX-512F), for the small
 * planes of CNNs (7x7, 14x14, ...) where vectorising over the width wastes lanes. Stride 1,
 * dilation 1, padding 1 on every side, one group.
 * Weights are packed once (kp_c3oc_pack) into blocks of 16 output channels: [block][ci][tap][16],
 * zero-filled past M. The kernel keeps 2 blocks (32 channels) x up to 14 output pixels of one
 * row in registers, summing every input channel and tap with the input value broadcast; bias and
 * ReLU are applied in registers and the pixel-major result is transposed into y (NCHW). With
 * pool != 0 the 2x2 stride-2 MaxPool (floor mode, no padding) that follows the convolution is
 * applied on the way out, so only the pooled plane is written. */
#ifndef KP_OPS_CONV3X3_OC_H
#define KP_OPS_CONV3X3_OC_H

#include <stdint.h>

/* Conv uses this kernel from this many input channels on (below it the width-vectorised
 * conv3x3.h kernel is faster: the transposition costs more than the few sums per output). */
#define KP_C3OC_MIN_C 8

/* 1 when this CPU runs the kernel (AVX-512F allowed by kp_cpu()), else 0. */
int kp_c3oc_available(void);
/* Floats of packed weights for M output and C input channels. */
int64_t kp_c3oc_packed_floats(int64_t m, int64_t c);
/* w[M][C][3][3] -> packed (kp_c3oc_packed_floats(m, c) floats, caller-owned). */
void kp_c3oc_pack(const float *w, int64_t m, int64_t c, float *packed);
/* Floats of scratch kp_c3oc_run needs for one image. */
int64_t kp_c3oc_scratch_floats(int64_t c, int64_t m, int64_t h, int64_t w);
/* One image: y = relu?(conv3x3(x[C][H][W], w) + bias) (bias may be NULL), then 2x2 max pool
 * when pool != 0 (y is M x H/2 x W/2, floor), else y is M x H x W. packed from kp_c3oc_pack;
 * scratch of kp_c3oc_scratch_floats floats, contents ignored. Only when kp_c3oc_available().
 * Borrowed pointers; y must not overlap x. */
void kp_c3oc_run(const float *x, int64_t c, int64_t h, int64_t w, const float *packed, int64_t m,
                 const float *bias, int relu, int pool, float *y, float *scratch);

#endif
