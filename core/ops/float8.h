/* float8 formats of ONNX (opset 19): E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ. Conversions round to
 * nearest even. With saturate, values beyond the format's largest finite value (and
 * infinities, except for the FNUZ formats where an infinity becomes NaN) clamp to +-max; without
 * it they become infinity (E5M2) or NaN (formats without infinity), as in Cast's spec table. */
#ifndef KP_OPS_FLOAT8_H
#define KP_OPS_FLOAT8_H

#include <stdint.h>

#include "core/tensor.h"

/* 1 if dt is one of the four float8 types. */
int kp_f8_is(kp_dtype dt);
uint8_t kp_f8_from_double(kp_dtype dt, double v, int saturate);
double kp_f8_to_double(kp_dtype dt, uint8_t bits);

#endif
