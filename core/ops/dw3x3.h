/* Depthwise 3x3 convolution of one plane, stride 1 or 2, dilation 1 (float32, AVX-512F), read
 * straight from the input plane: 16 output columns per vector, the taps outside the plane
 * masked off (zero padding without a padded copy), the nine weights in registers, bias and
 * ReLU/Clip applied before a masked store. MobileNet-style networks spend their depthwise time
 * here, much of it on 7x7 and 4x4 planes where a padded copy cost as much as the sums. */
#ifndef KP_OPS_DW3X3_H
#define KP_OPS_DW3X3_H

#include <stdint.h>

/* 1 when this CPU runs the kernel (AVX-512F allowed by kp_cpu()). */
int kp_dw3x3_available(void);
/* y[oy][ox] = clamp(bias + sum over a, b < 3 of w[a * 3 + b] * x[iy][ix]) with
 * iy = oy * stride - pad_t + a, ix = ox * stride - pad_l + b, taps outside ih x iw counting 0,
 * for oy < oh, ox < ow. stride 1 or 2, pad_t and pad_l in 0..2; clamp != 0 applies [lo, hi]
 * (ReLU: 0, +inf). Only when kp_dw3x3_available(). Borrowed pointers. */
void kp_dw3x3_plane(const float *x, int64_t ih, int64_t iw, const float *w, float bias, int stride,
                    int64_t pad_t, int64_t pad_l, int clamp, float lo, float hi, float *y,
                    int64_t oh, int64_t ow);

#endif
