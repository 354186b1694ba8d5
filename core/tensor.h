/* Tensors: a dtype, a shape and one contiguous row-major buffer.
 * Used for initializers, Constant values, attribute tensors, data-set batches and executor
 * values alike. A tensor owns its name and, unless `borrowed` is set, its data. */
#ifndef KP_TENSOR_H
#define KP_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Values equal ONNX TensorProto.DataType so they pass through files unchanged. */
typedef enum kp_dtype {
    KP_UNDEFINED = 0,
    KP_FLOAT = 1,
    KP_UINT8 = 2,
    KP_INT8 = 3,
    KP_UINT16 = 4,
    KP_INT16 = 5,
    KP_INT32 = 6,
    KP_INT64 = 7,
    KP_STRING = 8,
    KP_BOOL = 9,
    KP_FLOAT16 = 10,
    KP_DOUBLE = 11,
    KP_UINT32 = 12,
    KP_UINT64 = 13,
    KP_COMPLEX64 = 14,
    KP_COMPLEX128 = 15,
    KP_BFLOAT16 = 16,
    KP_FLOAT8E4M3FN = 17,
    KP_FLOAT8E4M3FNUZ = 18,
    KP_FLOAT8E5M2 = 19,
    KP_FLOAT8E5M2FNUZ = 20,
    KP_UINT4 = 21,
    KP_INT4 = 22,
    KP_DTYPE_COUNT
} kp_dtype;

/* Highest rank we accept; models with more are refused with a clear error. */
#define KP_MAX_RANK 8
/* Largest element count of a single tensor we will allocate (guards hostile dims). */
#define KP_MAX_NUMEL ((int64_t)1 << 34)

typedef struct kp_bytes {
    size_t len;
    uint8_t *data; /* owned; not NUL-terminated in general */
} kp_bytes;

typedef struct kp_tensor {
    char *name; /* owned, may be NULL */
    kp_dtype dtype;
    int rank;
    int64_t dims[KP_MAX_RANK];
    int64_t numel;     /* product of dims (1 for rank 0) */
    size_t nbytes;     /* bytes of data; for 4-bit types ceil(numel/2); 0 for strings */
    void *data;        /* row-major; NULL when numel == 0 or dtype is STRING */
    kp_bytes *strings; /* numel entries when dtype == KP_STRING, else NULL */
    char *doc_string;  /* owned, may be NULL */
    int borrowed;      /* data belongs to someone else (executor arena, mmap); not freed */
} kp_tensor;

/* Size in bytes of one element; 0 for STRING, UNDEFINED, unknown values and 4-bit types
 * (use kp_dtype_bytes for a count of elements). */
size_t kp_dtype_size(kp_dtype t);
/* Bytes needed for n elements of t (handles 4-bit packing); 0 and sets *ok=0 on overflow. */
size_t kp_dtype_bytes(kp_dtype t, int64_t n, int *ok);
const char *kp_dtype_name(kp_dtype t);         /* "float32", "int8", ...; "?" if unknown */
kp_dtype kp_dtype_from_name(const char *name); /* inverse; KP_UNDEFINED if unknown */
int kp_dtype_valid(int t);                     /* 1 if t is one of the values above */

/* Product of dims with overflow and negativity checks; returns 0 and fills *numel, or
 * KP_ERANGE with a message naming the offending dim. */
int kp_shape_numel(int rank, const int64_t *dims, int64_t *numel, kp_error *err);

/* Returns owned tensor with zeroed data (strings: empty). NULL + err on bad shape or no memory. */
kp_tensor *kp_tensor_new(kp_dtype dtype, int rank, const int64_t *dims, kp_error *err);
/* Returns owned deep copy (data, strings, name). */
kp_tensor *kp_tensor_clone(const kp_tensor *t, kp_error *err);
void kp_tensor_free(kp_tensor *t);                      /* NULL is a no-op */
int kp_tensor_set_name(kp_tensor *t, const char *name); /* copies; KP_ENOMEM on failure */
/* 1 when dtype, shape and data bytes (or strings) are identical; names are not compared. */
int kp_tensor_equal(const kp_tensor *a, const kp_tensor *b);
/* Scalar element i converted to double (numeric dtypes incl. fp16/bf16/bool); 0 otherwise. */
double kp_tensor_get(const kp_tensor *t, int64_t i);
/* Writes shape as "1x3x224x224" (or "scalar") into buf; returns buf. */
char *kp_shape_str(int rank, const int64_t *dims, char *buf, size_t cap);

/* IEEE half and bfloat16 conversions (round to nearest even). */
float kp_f16_to_f32(uint16_t h);
uint16_t kp_f32_to_f16(float f);
float kp_bf16_to_f32(uint16_t h);
uint16_t kp_f32_to_bf16(float f);

#endif
