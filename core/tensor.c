#include "core/tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Element sizes indexed by kp_dtype; 0 = no fixed byte size (string, undefined, 4-bit). */
static const size_t dtype_sizes[KP_DTYPE_COUNT] = {
    [KP_UNDEFINED] = 0,      [KP_FLOAT] = 4,        [KP_UINT8] = 1,          [KP_INT8] = 1,
    [KP_UINT16] = 2,         [KP_INT16] = 2,        [KP_INT32] = 4,          [KP_INT64] = 8,
    [KP_STRING] = 0,         [KP_BOOL] = 1,         [KP_FLOAT16] = 2,        [KP_DOUBLE] = 8,
    [KP_UINT32] = 4,         [KP_UINT64] = 8,       [KP_COMPLEX64] = 8,      [KP_COMPLEX128] = 16,
    [KP_BFLOAT16] = 2,       [KP_FLOAT8E4M3FN] = 1, [KP_FLOAT8E4M3FNUZ] = 1, [KP_FLOAT8E5M2] = 1,
    [KP_FLOAT8E5M2FNUZ] = 1, [KP_UINT4] = 0,        [KP_INT4] = 0,
};

static const char *const dtype_names[KP_DTYPE_COUNT] = {
    [KP_UNDEFINED] = "undefined",
    [KP_FLOAT] = "float32",
    [KP_UINT8] = "uint8",
    [KP_INT8] = "int8",
    [KP_UINT16] = "uint16",
    [KP_INT16] = "int16",
    [KP_INT32] = "int32",
    [KP_INT64] = "int64",
    [KP_STRING] = "string",
    [KP_BOOL] = "bool",
    [KP_FLOAT16] = "float16",
    [KP_DOUBLE] = "float64",
    [KP_UINT32] = "uint32",
    [KP_UINT64] = "uint64",
    [KP_COMPLEX64] = "complex64",
    [KP_COMPLEX128] = "complex128",
    [KP_BFLOAT16] = "bfloat16",
    [KP_FLOAT8E4M3FN] = "float8e4m3fn",
    [KP_FLOAT8E4M3FNUZ] = "float8e4m3fnuz",
    [KP_FLOAT8E5M2] = "float8e5m2",
    [KP_FLOAT8E5M2FNUZ] = "float8e5m2fnuz",
    [KP_UINT4] = "uint4",
    [KP_INT4] = "int4",
};

_Static_assert(sizeof dtype_sizes / sizeof *dtype_sizes == KP_DTYPE_COUNT, "dtype table");
_Static_assert(sizeof dtype_names / sizeof *dtype_names == KP_DTYPE_COUNT, "dtype table");

int kp_dtype_valid(int t) {
    return t > KP_UNDEFINED && t < KP_DTYPE_COUNT;
}

size_t kp_dtype_size(kp_dtype t) {
    return kp_dtype_valid((int)t) ? dtype_sizes[t] : 0;
}

size_t kp_dtype_bytes(kp_dtype t, int64_t n, int *ok) {
    int dummy;
    if (!ok) ok = &dummy;
    *ok = 1;
    if (n < 0) {
        *ok = 0;
        return 0;
    }
    if (t == KP_UINT4 || t == KP_INT4) return (size_t)(n / 2 + (n & 1));
    size_t es = kp_dtype_size(t);
    if (es == 0) return 0;
    if ((uint64_t)n > SIZE_MAX / es) {
        *ok = 0;
        return 0;
    }
    return (size_t)n * es;
}

const char *kp_dtype_name(kp_dtype t) {
    return kp_dtype_valid((int)t) ? dtype_names[t] : "?";
}

kp_dtype kp_dtype_from_name(const char *name) {
    if (!name) return KP_UNDEFINED;
    for (int i = 1; i < KP_DTYPE_COUNT; i++)
        if (!strcmp(dtype_names[i], name)) return (kp_dtype)i;
    if (!strcmp(name, "float")) return KP_FLOAT;
    if (!strcmp(name, "double")) return KP_DOUBLE;
    return KP_UNDEFINED;
}

int kp_shape_numel(int rank, const int64_t *dims, int64_t *numel, kp_error *err) {
    if (rank < 0 || rank > KP_MAX_RANK)
        return kp_error_set(err, KP_ERANGE, "rank %d is outside 0..%d", rank, KP_MAX_RANK);
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return kp_error_set(err, KP_ERANGE, "dimension %d is negative (%lld)", i,
                                (long long)dims[i]);
        if (dims[i] != 0 && n > KP_MAX_NUMEL / dims[i])
            return kp_error_set(err, KP_ERANGE,
                                "dimension %d (%lld) makes the element count exceed %lld", i,
                                (long long)dims[i], (long long)KP_MAX_NUMEL);
        n *= dims[i];
    }
    if (n > KP_MAX_NUMEL)
        return kp_error_set(err, KP_ERANGE, "element count exceeds %lld", (long long)KP_MAX_NUMEL);
    *numel = n;
    return 0;
}

kp_tensor *kp_tensor_new(kp_dtype dtype, int rank, const int64_t *dims, kp_error *err) {
    if (!kp_dtype_valid((int)dtype)) {
        kp_error_set(err, KP_EUNSUPPORTED, "unknown tensor data type %d", (int)dtype);
        return NULL;
    }
    int64_t numel;
    if (kp_shape_numel(rank, dims, &numel, err)) return NULL;
    int ok;
    size_t nbytes = kp_dtype_bytes(dtype, numel, &ok);
    if (!ok) {
        kp_error_set(err, KP_ERANGE, "tensor of %lld elements is too large", (long long)numel);
        return NULL;
    }
    kp_tensor *t = calloc(1, sizeof *t);
    if (!t) goto nomem;
    t->dtype = dtype;
    t->rank = rank;
    for (int i = 0; i < rank; i++) t->dims[i] = dims[i];
    t->numel = numel;
    if (dtype == KP_STRING) {
        if (numel > 0) {
            t->strings = calloc((size_t)numel, sizeof *t->strings);
            if (!t->strings) goto nomem;
        }
    } else {
        t->nbytes = nbytes;
        if (nbytes > 0) {
            t->data = calloc(1, nbytes);
            if (!t->data) goto nomem;
        }
    }
    return t;
nomem:
    kp_tensor_free(t);
    kp_error_set(err, KP_ENOMEM, "out of memory allocating a %s tensor of %lld elements",
                 kp_dtype_name(dtype), (long long)numel);
    return NULL;
}

static char *dupstr(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

kp_tensor *kp_tensor_clone(const kp_tensor *t, kp_error *err) {
    if (!t) {
        kp_error_set(err, KP_EINVAL, "no tensor to copy");
        return NULL;
    }
    kp_tensor *c = kp_tensor_new(t->dtype, t->rank, t->dims, err);
    if (!c) return NULL;
    if ((t->name && !(c->name = dupstr(t->name))) ||
        (t->doc_string && !(c->doc_string = dupstr(t->doc_string))))
        goto nomem;
    if (t->dtype == KP_STRING) {
        for (int64_t i = 0; t->strings && i < t->numel; i++) {
            size_t len = t->strings[i].len;
            if (!len) continue;
            c->strings[i].data = malloc(len);
            if (!c->strings[i].data) goto nomem;
            memcpy(c->strings[i].data, t->strings[i].data, len);
            c->strings[i].len = len;
        }
    } else if (c->nbytes && t->data) {
        memcpy(c->data, t->data, c->nbytes < t->nbytes ? c->nbytes : t->nbytes);
    }
    return c;
nomem:
    kp_tensor_free(c);
    kp_error_set(err, KP_ENOMEM, "out of memory copying tensor %s", t->name ? t->name : "");
    return NULL;
}

void kp_tensor_free(kp_tensor *t) {
    if (!t) return;
    free(t->name);
    free(t->doc_string);
    if (!t->borrowed) free(t->data);
    if (t->strings) {
        for (int64_t i = 0; i < t->numel; i++) free(t->strings[i].data);
        free(t->strings);
    }
    free(t);
}

int kp_tensor_set_name(kp_tensor *t, const char *name) {
    if (!t) return KP_EINVAL;
    char *d = NULL;
    if (name && !(d = dupstr(name))) return KP_ENOMEM;
    free(t->name);
    t->name = d;
    return 0;
}

int kp_tensor_equal(const kp_tensor *a, const kp_tensor *b) {
    if (a == b) return 1;
    if (!a || !b) return 0;
    if (a->dtype != b->dtype || a->rank != b->rank || a->numel != b->numel) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    if (a->dtype == KP_STRING) {
        for (int64_t i = 0; i < a->numel; i++) {
            const kp_bytes *x = a->strings ? &a->strings[i] : NULL;
            const kp_bytes *y = b->strings ? &b->strings[i] : NULL;
            size_t lx = x ? x->len : 0, ly = y ? y->len : 0;
            if (lx != ly) return 0;
            if (lx && memcmp(x->data, y->data, lx)) return 0;
        }
        return 1;
    }
    if (a->nbytes != b->nbytes) return 0;
    if (!a->nbytes) return 1;
    if (!a->data || !b->data) return a->data == b->data;
    return memcmp(a->data, b->data, a->nbytes) == 0;
}

/* float8 decoders: sign, exponent bits e, mantissa bits m, bias; fnuz/fn variants differ in
 * their NaN/inf encodings. */
static double f8_decode(uint8_t v, int ebits, int mbits, int bias, int fnuz, int has_inf) {
    int sign = v >> 7, e = (v >> mbits) & ((1 << ebits) - 1), m = v & ((1 << mbits) - 1);
    if (fnuz && v == 0x80) return NAN;
    if (!fnuz) {
        if (has_inf && e == (1 << ebits) - 1) return m ? NAN : (sign ? -INFINITY : INFINITY);
        if (!has_inf && (v & 0x7f) == 0x7f) return NAN; /* e4m3fn: only S.1111.111 is NaN */
    }
    double r;
    if (e == 0)
        r = ldexp((double)m, 1 - bias - mbits);
    else
        r = ldexp((double)(m | (1 << mbits)), e - bias - mbits);
    return sign ? -r : r;
}

double kp_tensor_get(const kp_tensor *t, int64_t i) {
    if (!t || i < 0 || i >= t->numel || !t->data) return 0;
    const void *d = t->data;
    switch (t->dtype) {
    case KP_FLOAT: return ((const float *)d)[i];
    case KP_DOUBLE: return ((const double *)d)[i];
    case KP_UINT8: return ((const uint8_t *)d)[i];
    case KP_INT8: return ((const int8_t *)d)[i];
    case KP_UINT16: return ((const uint16_t *)d)[i];
    case KP_INT16: return ((const int16_t *)d)[i];
    case KP_INT32: return ((const int32_t *)d)[i];
    case KP_INT64: return (double)((const int64_t *)d)[i];
    case KP_UINT32: return ((const uint32_t *)d)[i];
    case KP_UINT64: return (double)((const uint64_t *)d)[i];
    case KP_BOOL: return ((const uint8_t *)d)[i] != 0;
    case KP_FLOAT16: return kp_f16_to_f32(((const uint16_t *)d)[i]);
    case KP_BFLOAT16: return kp_bf16_to_f32(((const uint16_t *)d)[i]);
    case KP_FLOAT8E4M3FN: return f8_decode(((const uint8_t *)d)[i], 4, 3, 7, 0, 0);
    case KP_FLOAT8E4M3FNUZ: return f8_decode(((const uint8_t *)d)[i], 4, 3, 8, 1, 0);
    case KP_FLOAT8E5M2: return f8_decode(((const uint8_t *)d)[i], 5, 2, 15, 0, 1);
    case KP_FLOAT8E5M2FNUZ: return f8_decode(((const uint8_t *)d)[i], 5, 2, 16, 1, 0);
    case KP_UINT4:
    case KP_INT4: {
        uint8_t b = ((const uint8_t *)d)[i / 2];
        int v = (i & 1) ? (b >> 4) : (b & 0xf);
        if (t->dtype == KP_INT4 && v >= 8) v -= 16;
        return v;
    }
    default: return 0;
    }
}

char *kp_shape_str(int rank, const int64_t *dims, char *buf, size_t cap) {
    if (!buf || !cap) return buf;
    buf[0] = 0;
    if (rank <= 0) {
        snprintf(buf, cap, "scalar");
        return buf;
    }
    size_t used = 0;
    for (int i = 0; i < rank && used < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s%lld", i ? "x" : "", (long long)dims[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
    return buf;
}

/* ---- half precision ------------------------------------------------------------------- */

static uint32_t f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float kp_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e == 0x1f) return u2f(sign | 0x7f800000u | (m << 13)); /* inf / nan */
    if (e == 0) {
        float r = ldexpf((float)m, -24); /* zero or subnormal */
        return sign ? -r : r;
    }
    return u2f(sign | ((e + 112) << 23) | (m << 13));
}

uint16_t kp_f32_to_f16(float f) {
    uint32_t u = f2u(f), sign = (u >> 16) & 0x8000, au = u & 0x7fffffffu;
    if (au >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00 | (au > 0x7f800000u ? 0x200 | ((au >> 13) & 0x3ff) : 0));
    if (au >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds to >= 65520: inf */
    if (au < 0x38800000u) {                                  /* below smallest normal half */
        if (au < 0x33000000u) return (uint16_t)sign;         /* < half of smallest subnormal */
        uint32_t e = au >> 23, m = (au & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e; /* 14..24 */
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t e = (au >> 23) - 112, m = au & 0x7fffff;
    uint32_t q = (e << 10) | (m >> 13), rem = m & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (q & 1))) q++;
    return (uint16_t)(sign | q);
}

float kp_bf16_to_f32(uint16_t h) {
    return u2f((uint32_t)h << 16);
}

uint16_t kp_f32_to_bf16(float f) {
    uint32_t u = f2u(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet nan */
    uint32_t rounding = 0x7fff + ((u >> 16) & 1);
    return (uint16_t)((u + rounding) >> 16);
}
