/* Element access by dtype (see elem.h). */
#include "core/ops/elem.h"

#include <math.h>
#include <string.h>

kp_elem_kind kp_elem_kind_of(kp_dtype dt) {
    switch (dt) {
    case KP_FLOAT:
    case KP_DOUBLE:
    case KP_FLOAT16:
    case KP_BFLOAT16: return KP_EK_FLOAT;
    case KP_INT8:
    case KP_INT16:
    case KP_INT32:
    case KP_INT64: return KP_EK_INT;
    case KP_UINT8:
    case KP_UINT16:
    case KP_UINT32:
    case KP_UINT64: return KP_EK_UINT;
    case KP_BOOL: return KP_EK_BOOL;
    default: return KP_EK_NONE;
    }
}

static int64_t d2i(double v) {
    if (isnan(v)) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}

static uint64_t d2u(double v) {
    if (isnan(v) || v <= 0) return v <= -1.0 ? (uint64_t)d2i(v) : 0;
    if (v >= 18446744073709551615.0) return UINT64_MAX;
    return (uint64_t)v;
}

double kp_elem_getd(const void *data, kp_dtype dt, int64_t i) {
    switch (dt) {
    case KP_FLOAT: return ((const float *)data)[i];
    case KP_DOUBLE: return ((const double *)data)[i];
    case KP_FLOAT16: return kp_f16_to_f32(((const uint16_t *)data)[i]);
    case KP_BFLOAT16: return kp_bf16_to_f32(((const uint16_t *)data)[i]);
    case KP_INT8: return ((const int8_t *)data)[i];
    case KP_INT16: return ((const int16_t *)data)[i];
    case KP_INT32: return ((const int32_t *)data)[i];
    case KP_INT64: return (double)((const int64_t *)data)[i];
    case KP_UINT8: return ((const uint8_t *)data)[i];
    case KP_UINT16: return ((const uint16_t *)data)[i];
    case KP_UINT32: return ((const uint32_t *)data)[i];
    case KP_UINT64: return (double)((const uint64_t *)data)[i];
    case KP_BOOL: return ((const uint8_t *)data)[i] != 0;
    default: return 0;
    }
}

int64_t kp_elem_geti(const void *data, kp_dtype dt, int64_t i) {
    switch (dt) {
    case KP_INT8: return ((const int8_t *)data)[i];
    case KP_INT16: return ((const int16_t *)data)[i];
    case KP_INT32: return ((const int32_t *)data)[i];
    case KP_INT64: return ((const int64_t *)data)[i];
    case KP_UINT8: return ((const uint8_t *)data)[i];
    case KP_UINT16: return ((const uint16_t *)data)[i];
    case KP_UINT32: return ((const uint32_t *)data)[i];
    case KP_UINT64: return (int64_t)((const uint64_t *)data)[i];
    case KP_BOOL: return ((const uint8_t *)data)[i] != 0;
    default: return d2i(kp_elem_getd(data, dt, i));
    }
}

uint64_t kp_elem_getu(const void *data, kp_dtype dt, int64_t i) {
    switch (kp_elem_kind_of(dt)) {
    case KP_EK_FLOAT: return d2u(kp_elem_getd(data, dt, i));
    case KP_EK_UINT:
        return dt == KP_UINT64 ? ((const uint64_t *)data)[i] : (uint64_t)kp_elem_geti(data, dt, i);
    default: return (uint64_t)kp_elem_geti(data, dt, i);
    }
}

void kp_elem_seti(void *data, kp_dtype dt, int64_t i, int64_t v) {
    switch (dt) {
    case KP_INT8: ((int8_t *)data)[i] = (int8_t)v; break;
    case KP_INT16: ((int16_t *)data)[i] = (int16_t)v; break;
    case KP_INT32: ((int32_t *)data)[i] = (int32_t)v; break;
    case KP_INT64: ((int64_t *)data)[i] = v; break;
    case KP_UINT8: ((uint8_t *)data)[i] = (uint8_t)v; break;
    case KP_UINT16: ((uint16_t *)data)[i] = (uint16_t)v; break;
    case KP_UINT32: ((uint32_t *)data)[i] = (uint32_t)v; break;
    case KP_UINT64: ((uint64_t *)data)[i] = (uint64_t)v; break;
    case KP_BOOL: ((uint8_t *)data)[i] = v != 0; break;
    default: kp_elem_setd(data, dt, i, (double)v); break;
    }
}

void kp_elem_setu(void *data, kp_dtype dt, int64_t i, uint64_t v) {
    if (kp_elem_kind_of(dt) == KP_EK_FLOAT)
        kp_elem_setd(data, dt, i, (double)v);
    else if (dt == KP_UINT64)
        ((uint64_t *)data)[i] = v;
    else
        kp_elem_seti(data, dt, i, (int64_t)v);
}

void kp_elem_setd(void *data, kp_dtype dt, int64_t i, double v) {
    switch (dt) {
    case KP_FLOAT: ((float *)data)[i] = (float)v; break;
    case KP_DOUBLE: ((double *)data)[i] = v; break;
    case KP_FLOAT16: ((uint16_t *)data)[i] = kp_f32_to_f16((float)v); break;
    case KP_BFLOAT16: ((uint16_t *)data)[i] = kp_f32_to_bf16((float)v); break;
    case KP_BOOL: ((uint8_t *)data)[i] = v != 0; break;
    case KP_UINT64: ((uint64_t *)data)[i] = d2u(v); break;
    case KP_UINT8:
    case KP_UINT16:
    case KP_UINT32: {
        /* saturate to the type's range */
        double hi = dt == KP_UINT8 ? 255.0 : dt == KP_UINT16 ? 65535.0 : 4294967295.0;
        double c = isnan(v) ? 0 : v < 0 ? 0 : v > hi ? hi : v;
        kp_elem_seti(data, dt, i, (int64_t)c);
        break;
    }
    case KP_INT8:
    case KP_INT16:
    case KP_INT32: {
        double hi = dt == KP_INT8 ? 127.0 : dt == KP_INT16 ? 32767.0 : 2147483647.0;
        double c = isnan(v) ? 0 : v < -hi - 1 ? -hi - 1 : v > hi ? hi : v;
        kp_elem_seti(data, dt, i, (int64_t)c);
        break;
    }
    case KP_INT64: ((int64_t *)data)[i] = d2i(v); break;
    default: break;
    }
}
