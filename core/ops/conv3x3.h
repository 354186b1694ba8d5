/* Direct 3x3 convolution, stride 1, dilation 1, padding 1 on every side, one group (float32):
 * no im2col copy. The input of one image is copied into zero-bordered planes of width W + 2;
 * output positions are computed in that padded-width layout (two spare columns per row), a
 * block of output channels x a run of positions in SIMD registers, over every input channel
 * and tap, bias and ReLU applied in registers; each block of 4 output channels is then copied
 * into y without the spare columns while it is still in L1.
 * Paths: AVX-512F (selected at run time from kp_cpu()) and AVX2+FMA (tested, but not selected:
 * on the AVX-512 development machine it ran the demo CNN slower than OpenBLAS; untried on
 * AVX2-only CPUs, which keep im2col + sgemm). */
#ifndef KP_OPS_CONV3X3_H
#define KP_OPS_CONV3X3_H

#include <stdint.h>

enum { KP_C3_NONE = 0, KP_C3_AVX2 = 1, KP_C3_AVX512 = 2 };

/* The path conv_run uses: KP_C3_AVX512 when kp_cpu() allows AVX-512F, else KP_C3_NONE
 * (callers then use im2col + GEMM). */
int kp_conv3x3_isa(void);
/* Floats of scratch kp_conv3x3_run needs for the padded input and the padded output. */
int64_t kp_conv3x3_pad_floats(int64_t c, int64_t h, int64_t w);
int64_t kp_conv3x3_out_floats(int64_t m, int64_t h, int64_t w);
/* One image: y[M][H][W] = sum over C input channels and 3x3 taps of w[M][C][3][3] x x[C][H][W]
 * (padding 1) + bias[M] (bias may be NULL); relu != 0 clamps at 0; pool != 0 then takes the
 * 2x2 stride-2 maximum (floor mode): y is M x H/2 x W/2. pad and out are scratch of
 * the sizes above (contents ignored). isa must be a path the CPU supports (<= kp_conv3x3_isa()),
 * not KP_C3_NONE. Borrowed pointers only; y must not overlap x. */
void kp_conv3x3_run(int isa, const float *x, int64_t c, int64_t h, int64_t w, const float *wt,
                    int64_t m, const float *bias, int relu, int pool, float *y, float *pad,
                    float *out);

#endif
