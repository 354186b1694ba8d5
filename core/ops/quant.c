/* Quantization kernels: QuantizeLinear, DequantizeLinear (per-tensor, per-axis, blocked),
 * DynamicQuantizeLinear; the integer matrix kernels live in int8_matmul.c / int8_conv.c.
 * Rounding is round-half-to-even and results saturate to the output type, as ONNX requires. */
#include <math.h>
#include <string.h>

#include "core/cpu.h"
#include "core/ops/int8_ops.h"

int kp_q_is_8bit(kp_dtype t) {
    return t == KP_UINT8 || t == KP_INT8;
}

int32_t kp_q_zp(const kp_tensor *t, int64_t i) {
    if (!t || !t->numel) return 0;
    if (t->numel == 1) i = 0;
    switch (t->dtype) {
    case KP_UINT8: return ((const uint8_t *)t->data)[i];
    case KP_INT8: return ((const int8_t *)t->data)[i];
    case KP_UINT16: return ((const uint16_t *)t->data)[i];
    case KP_INT16: return ((const int16_t *)t->data)[i];
    case KP_INT32: return ((const int32_t *)t->data)[i];
    default: return 0;
    }
}

float kp_q_scale(const kp_tensor *t, int64_t i) {
    if (!t || !t->numel) return 1.f;
    if (t->numel == 1) i = 0;
    if (t->dtype == KP_FLOAT) return ((const float *)t->data)[i];
    if (t->dtype == KP_FLOAT16) return kp_f16_to_f32(((const uint16_t *)t->data)[i]);
    if (t->dtype == KP_BFLOAT16) return kp_bf16_to_f32(((const uint16_t *)t->data)[i]);
    if (t->dtype == KP_DOUBLE) return (float)((const double *)t->data)[i];
    return 1.f;
}

static float in_f(const kp_tensor *t, int64_t i) {
    switch (t->dtype) {
    case KP_FLOAT: return ((const float *)t->data)[i];
    case KP_FLOAT16: return kp_f16_to_f32(((const uint16_t *)t->data)[i]);
    case KP_BFLOAT16: return kp_bf16_to_f32(((const uint16_t *)t->data)[i]);
    case KP_INT32: return (float)((const int32_t *)t->data)[i];
    default: return 0.f;
    }
}

static int range_of(kp_dtype t, int32_t *lo, int32_t *hi) {
    switch (t) {
    case KP_UINT8: *lo = 0, *hi = 255; return 1;
    case KP_INT8: *lo = -128, *hi = 127; return 1;
    case KP_UINT16: *lo = 0, *hi = 65535; return 1;
    case KP_INT16: *lo = -32768, *hi = 32767; return 1;
    default: return 0;
    }
}

static void store_q(void *y, kp_dtype t, int64_t i, int32_t v) {
    switch (t) {
    case KP_UINT8: ((uint8_t *)y)[i] = (uint8_t)v; break;
    case KP_INT8: ((int8_t *)y)[i] = (int8_t)v; break;
    case KP_UINT16: ((uint16_t *)y)[i] = (uint16_t)v; break;
    case KP_INT16: ((int16_t *)y)[i] = (int16_t)v; break;
    default: break;
    }
}

/* How element i of x maps to a scale index: per-tensor, per-axis or blocked. */
typedef struct qmap {
    int mode; /* 0 tensor, 1 axis, 2 block */
    int64_t inner, D, Ds, block;
} qmap;

static int make_map(kp_op_ctx *ctx, const kp_tensor *x, const kp_tensor *scale, const kp_tensor *zp,
                    qmap *m) {
    memset(m, 0, sizeof *m);
    if (zp && zp->numel != scale->numel)
        return kp_op_fail(ctx, KP_EFORMAT, "zero point has %lld values, scale has %lld",
                          (long long)zp->numel, (long long)scale->numel);
    if (scale->rank == 0 || (scale->rank == 1 && scale->numel == 1 && x->rank == 0)) return 0;
    int64_t axis = kp_node_attr_int(ctx->node, "axis", 1);
    if (axis < 0) axis += x->rank;
    if (axis < 0 || axis >= x->rank)
        return kp_op_fail(ctx, KP_EFORMAT, "axis %lld out of range for rank %d",
                          (long long)kp_node_attr_int(ctx->node, "axis", 1), x->rank);
    m->D = x->dims[axis];
    m->inner = 1;
    for (int d = (int)axis + 1; d < x->rank; d++) m->inner *= x->dims[d];
    int64_t block = kp_node_attr_int(ctx->node, "block_size", 0);
    if (scale->rank == 1 && !block) {
        if (scale->numel == 1 && m->D != 1) return 0; /* 1-element 1-D scale: per tensor */
        if (scale->dims[0] != m->D)
            return kp_op_fail(ctx, KP_EFORMAT, "per-axis scale has %lld values, axis %lld has %lld",
                              (long long)scale->dims[0], (long long)axis, (long long)m->D);
        m->mode = 1;
        return 0;
    }
    if (block <= 0 || scale->rank != x->rank)
        return kp_op_fail(ctx, KP_EFORMAT, "scale of rank %d needs block_size > 0 and rank %d",
                          scale->rank, x->rank);
    for (int d = 0; d < x->rank; d++) {
        int64_t want = d == axis ? (x->dims[d] + block - 1) / block : x->dims[d];
        if (scale->dims[d] != want)
            return kp_op_fail(ctx, KP_EFORMAT, "blocked scale dim %d is %lld, expected %lld", d,
                              (long long)scale->dims[d], (long long)want);
    }
    m->mode = 2;
    m->block = block;
    m->Ds = scale->dims[axis];
    return 0;
}

static inline int64_t map_idx(const qmap *m, int64_t i) {
    if (m->mode == 0) return 0;
    int64_t in = i % m->inner, rest = i / m->inner, d = rest % m->D;
    if (m->mode == 1) return d;
    int64_t o = rest / m->D;
    return (o * m->Ds + d / m->block) * m->inner + in;
}

/* Per-tensor QuantizeLinear of n floats into uint8 or int8, NaN -> 0 (SIMD where the CPU has
 * it, the same bytes). */
static void quant_rows(const float *x, int64_t n, float sc, float zp, int is_s8, void *y);

static int quantize_linear(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0), *s = kp_op_input(ctx, 1), *z = kp_op_input(ctx, 2);
    if (!x || !s) return kp_op_fail(ctx, KP_EFORMAT, "needs inputs x and y_scale");
    if (x->dtype != KP_FLOAT && x->dtype != KP_FLOAT16 && x->dtype != KP_BFLOAT16 &&
        x->dtype != KP_INT32)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "input type %s not supported",
                          kp_dtype_name(x->dtype));
    kp_dtype yt =
        z ? z->dtype : (kp_dtype)kp_node_attr_int(ctx->node, "output_dtype", (int64_t)KP_UINT8);
    if (yt == KP_UNDEFINED) yt = KP_UINT8;
    int32_t lo, hi;
    if (!range_of(yt, &lo, &hi))
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "output type %s not supported (8/16-bit only)",
                          kp_dtype_name(yt));
    qmap m;
    int rc = make_map(ctx, x, s, z, &m);
    if (rc) return rc;
    kp_tensor *y = kp_op_output(ctx, 0, yt, x->rank, x->dims);
    if (!y) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    if (m.mode == 0 && x->dtype == KP_FLOAT) {
        float sc = kp_q_scale(s, 0);
        float zp = (float)kp_q_zp(z, 0);
        /* NaN gives 0, as in the generic path below (and ONNX's reference). */
        if (yt == KP_UINT8 || yt == KP_INT8) {
            quant_rows(x->data, x->numel, sc, zp, yt == KP_INT8, y->data);
            return 0;
        }
    }
    for (int64_t i = 0; i < x->numel; i++) {
        int64_t k = map_idx(&m, i);
        float v = kp_rne(in_f(x, i) / kp_q_scale(s, k)) + (float)kp_q_zp(z, k);
        if (isnan(v)) v = 0.f;
        if (v < (float)lo) v = (float)lo;
        if (v > (float)hi) v = (float)hi;
        store_q(y->data, yt, i, (int32_t)v);
    }
    return 0;
}

static int dequantize_linear(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0), *s = kp_op_input(ctx, 1), *z = kp_op_input(ctx, 2);
    if (!x || !s) return kp_op_fail(ctx, KP_EFORMAT, "needs inputs x and x_scale");
    int32_t lo, hi;
    if (!range_of(x->dtype, &lo, &hi) && x->dtype != KP_INT32)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "input type %s not supported",
                          kp_dtype_name(x->dtype));
    if (z && z->dtype != x->dtype)
        return kp_op_fail(ctx, KP_EFORMAT, "zero point type %s differs from input type %s",
                          kp_dtype_name(z->dtype), kp_dtype_name(x->dtype));
    if (s->dtype != KP_FLOAT && s->dtype != KP_FLOAT16 && s->dtype != KP_BFLOAT16)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "scale type %s not supported",
                          kp_dtype_name(s->dtype));
    qmap m;
    int rc = make_map(ctx, x, s, z, &m);
    if (rc) return rc;
    kp_tensor *y = kp_op_output(ctx, 0, s->dtype, x->rank, x->dims);
    if (!y) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    if (s->dtype == KP_FLOAT && m.mode == 0 && x->dtype == KP_UINT8) {
        float sc = kp_q_scale(s, 0);
        int32_t zp = kp_q_zp(z, 0);
        const uint8_t *xi = x->data;
        float *yo = y->data;
        for (int64_t i = 0; i < x->numel; i++) yo[i] = (float)((int32_t)xi[i] - zp) * sc;
        return 0;
    }
    for (int64_t i = 0; i < x->numel; i++) {
        int64_t k = map_idx(&m, i);
        int32_t q = x->dtype == KP_INT32 ? ((const int32_t *)x->data)[i] : kp_q_zp(x, i);
        float v = (float)((int64_t)q - kp_q_zp(z, k)) * kp_q_scale(s, k);
        if (s->dtype == KP_FLOAT)
            ((float *)y->data)[i] = v;
        else if (s->dtype == KP_FLOAT16)
            ((uint16_t *)y->data)[i] = kp_f32_to_f16(v);
        else
            ((uint16_t *)y->data)[i] = kp_f32_to_bf16(v);
    }
    return 0;
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f"))) static void range_512(const float *x, int64_t n, float *mn,
                                                         float *mx) {
    /* min_ps(x, acc) keeps acc when x is NaN, as the scalar comparisons do */
    __m512 lo = _mm512_setzero_ps(), hi = lo;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        lo = _mm512_min_ps(v, lo);
        hi = _mm512_max_ps(v, hi);
    }
    float l[16], h[16];
    _mm512_storeu_ps(l, lo);
    _mm512_storeu_ps(h, hi);
    for (int k = 0; k < 16; k++) {
        if (l[k] < *mn) *mn = l[k];
        if (h[k] > *mx) *mx = h[k];
    }
    for (; i < n; i++) {
        if (x[i] < *mn) *mn = x[i];
        if (x[i] > *mx) *mx = x[i];
    }
}

/* y = saturate(rne(x / scale) + zp) into uint8 ([0, 255]) or int8 ([-128, 127]), NaN -> 0, 16
 * at a time; returns how many were done (the caller finishes the tail in C). */
__attribute__((target("avx512f"))) static int64_t quant_512(const float *x, int64_t n, float scale,
                                                            float zpf, int is_s8, void *y) {
    const __m512 s = _mm512_set1_ps(scale), z = _mm512_set1_ps(zpf);
    const __m512 lo = _mm512_set1_ps(is_s8 ? -128.f : 0.f),
                 hi = _mm512_set1_ps(is_s8 ? 127.f : 255.f);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_div_ps(_mm512_loadu_ps(x + i), s);
        v = _mm512_add_ps(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
                          z);
        v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, v, _CMP_ORD_Q), v); /* NaN -> 0 */
        __m512i q = _mm512_cvttps_epi32(_mm512_min_ps(_mm512_max_ps(v, lo), hi));
        _mm_storeu_si128((__m128i *)((uint8_t *)y + i),
                         is_s8 ? _mm512_cvtsepi32_epi8(q) : _mm512_cvtusepi32_epi8(q));
    }
    return i;
}
#endif

static void quant_rows(const float *x, int64_t n, float sc, float zp, int is_s8, void *y) {
    int64_t i = 0;
#if defined(__x86_64__)
    if (kp_cpu()->avx512f) i = quant_512(x, n, sc, zp, is_s8, y);
#endif
    for (; i < n; i++) {
        float v = kp_rne(x[i] / sc) + zp;
        if (is_s8)
            ((int8_t *)y)[i] = isnan(v) ? 0 : (int8_t)(v < -128.f ? -128.f : v > 127.f ? 127.f : v);
        else
            ((uint8_t *)y)[i] = isnan(v) ? 0 : (uint8_t)(v < 0.f ? 0.f : v > 255.f ? 255.f : v);
    }
}

void kp_q_dynamic_u8(const float *x, int64_t n, uint8_t *y, float *scale_out, uint8_t *zp_out,
                     int portable) {
    float mn = 0.f, mx = 0.f;
    int64_t done = 0;
#if defined(__x86_64__)
    int simd = !portable && kp_cpu()->avx512f;
    if (simd)
        range_512(x, n, &mn, &mx);
    else
#endif
        for (int64_t i = 0; i < n; i++) {
            if (x[i] < mn) mn = x[i];
            if (x[i] > mx) mx = x[i];
        }
    float scale = (mx - mn) / 255.f;
    if (scale == 0.f || !isfinite(scale)) scale = 1.f;
    float zpf = kp_rne(0.f - mn / scale);
    if (zpf < 0.f) zpf = 0.f;
    if (zpf > 255.f) zpf = 255.f;
#if defined(__x86_64__)
    if (simd) done = quant_512(x, n, scale, zpf, 0, y);
#endif
    for (int64_t i = done; i < n; i++) {
        float v = kp_rne(x[i] / scale) + zpf;
        y[i] = (uint8_t)(v > 0.f ? (v < 255.f ? v : 255.f) : 0.f); /* NaN -> 0 */
    }
    *scale_out = scale;
    *zp_out = (uint8_t)zpf;
}

static int dynamic_quantize_linear(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x || x->dtype != KP_FLOAT)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "needs a float32 input");
    int64_t one = 1;
    kp_tensor *y = kp_op_output(ctx, 0, KP_UINT8, x->rank, x->dims);
    kp_tensor *ys = kp_op_output(ctx, 1, KP_FLOAT, 0, &one);
    kp_tensor *yz = kp_op_output(ctx, 2, KP_UINT8, 0, &one);
    if (!y) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    if (ctx->n_out > 1 && !ys) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    if (ctx->n_out > 2 && !yz) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    float scale;
    uint8_t zp;
    kp_q_dynamic_u8(x->data, x->numel, y->data, &scale, &zp, 0);
    if (ys) *(float *)ys->data = scale;
    if (yz) *(uint8_t *)yz->data = zp;
    return 0;
}

/* ai.kompress:RoundF16 (executor-internal, see core/exec_qdq.c): float32 rounded through
 * float16 (nearest even), other types copied. */
static int round_f16(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x) return kp_op_fail(ctx, KP_EFORMAT, "needs an input");
    kp_tensor *y = kp_op_output(ctx, 0, x->dtype, x->rank, x->dims);
    if (!y) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    if (x->dtype == KP_FLOAT) {
        const float *a = x->data;
        float *b = y->data;
        for (int64_t i = 0; i < x->numel; i++) b[i] = kp_f16_to_f32(kp_f32_to_f16(a[i]));
    } else if (x->dtype == KP_STRING) {
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "string values");
    } else if (x->nbytes) {
        memcpy(y->data, x->data, x->nbytes);
    }
    return 0;
}

const kp_op_def kp_ops_quant[] = {
    {"", "ConvInteger", kp_op_ConvInteger},
    {"", "DequantizeLinear", dequantize_linear},
    {"", "DynamicQuantizeLinear", dynamic_quantize_linear},
    {"", "MatMulInteger", kp_op_MatMulInteger},
    {"", "QLinearConv", kp_op_QLinearConv},
    {"", "QLinearMatMul", kp_op_QLinearMatMul},
    {"", "QuantizeLinear", quantize_linear},
    {"ai.kompress", "DynQConv", kp_op_KDynQConv},
    {"ai.kompress", "DynQMatMul", kp_op_KDynQMatMul},
    {"ai.kompress", "MaxPool8", kp_op_KMaxPool8},
    {"ai.kompress", "QAdd", kp_op_KQAdd},
    {"ai.kompress", "QConcat", kp_op_KQConcat},
    {"ai.kompress", "QConv", kp_op_KQConv},
    {"ai.kompress", "QGemm", kp_op_KQGemm},
    {"ai.kompress", "RoundF16", round_f16},
    {0},
};
