/* Element access by dtype for kernels that handle many dtypes on a slow generic path
 * (the float32 hot paths never go through here). Values are read and written as double
 * (float kinds), int64 (signed kinds and bool) or uint64 (unsigned kinds). */
#ifndef KP_OPS_ELEM_H
#define KP_OPS_ELEM_H

#include <stdint.h>

#include "core/tensor.h"

typedef enum kp_elem_kind {
    KP_EK_NONE = 0, /* strings, complex, 4/8-bit floats: not handled generically */
    KP_EK_FLOAT,    /* float16, bfloat16, float, double */
    KP_EK_INT,      /* int8 .. int64 */
    KP_EK_UINT,     /* uint8 .. uint64 */
    KP_EK_BOOL,
} kp_elem_kind;

kp_elem_kind kp_elem_kind_of(kp_dtype dt);
/* Element i of data (dtype dt) as a double / int64 / uint64. Float-to-integer reads truncate
 * toward zero and saturate (NaN reads as 0). */
double kp_elem_getd(const void *data, kp_dtype dt, int64_t i);
int64_t kp_elem_geti(const void *data, kp_dtype dt, int64_t i);
uint64_t kp_elem_getu(const void *data, kp_dtype dt, int64_t i);
/* Stores v into element i. Double into an integer type truncates toward zero and saturates
 * (NaN stores 0); integers into narrower integers wrap as in C; bool stores v != 0. */
void kp_elem_setd(void *data, kp_dtype dt, int64_t i, double v);
void kp_elem_seti(void *data, kp_dtype dt, int64_t i, int64_t v);
void kp_elem_setu(void *data, kp_dtype dt, int64_t i, uint64_t v);

#endif
