/* Depthwise 3x3 convolution of one plane, stride 1 or 2, dilation 1 (float32, AVX-512F): 16
 * output columns per vector (masked at the row's end), the nine weights in registers, bias and
 * ReLU/Clip applied before the store. MobileNet-style networks spend their depthwise time here. */
#ifndef KP_OPS_DW3X3_H
#define KP_OPS_DW3X3_H

#include <stdint.h>

/* Readable floats kp_dw3x3_plane may touch past the padded plane's last row (their values are
 * never used; keep them initialised). */
#define KP_DW3X3_SLACK 64

/* 1 when this CPU runs the kernel (AVX-512F allowed by kp_cpu()). */
int kp_dw3x3_available(void);
/* y[oy][ox] = clamp(bias + sum over a, b < 3 of w[a * 3 + b] * pad[(oy * stride + a) * wp +
 * ox * stride + b], lo, hi) for oy < oh, ox < ow. pad: the zero-bordered input plane, rows of wp
 * floats (wp >= (ow - 1) * stride + 3), (oh - 1) * stride + 3 rows, then KP_DW3X3_SLACK floats.
 * stride is 1 or 2; clamp != 0 applies [lo, hi] (ReLU: 0, +inf). Only when kp_dw3x3_available().
 * Borrowed pointers. */
void kp_dw3x3_plane(const float *pad, int64_t wp, const float *w, float bias, int stride, int clamp,
                    float lo, float hi, float *y, int64_t oh, int64_t ow);

#endif
