/* ai.kompress:MaxPool8: 2-D max pooling on uint8/int8 tensors, so a quantized value stays
 * quantized through a pool (max commutes with a monotonic quantizer: the executor's QDQ fusion
 * replaces DequantizeLinear -> MaxPool -> QuantizeLinear with the same scale and zero point by
 * this). Attributes as MaxPool: kernel_shape, strides, pads, dilations, ceil_mode, auto_pad
 * NOTSET or VALID. */
#include <string.h>

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "core/ops/int8_ops.h"

/* d[i] = max(d[i], s[i]) over n bytes, unsigned or signed (signed: compare with the sign bit
 * flipped, the order-preserving map int8 -> uint8). */
static void max_into(uint8_t *d, const uint8_t *s, int64_t n, int sgn) {
    int64_t i = 0;
#if defined(__x86_64__)
    const __m128i f = _mm_set1_epi8(sgn ? (char)0x80 : 0);
    for (; i + 16 <= n; i += 16) {
        __m128i a = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(d + i)), f);
        __m128i b = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(s + i)), f);
        _mm_storeu_si128((__m128i *)(d + i), _mm_xor_si128(_mm_max_epu8(a, b), f));
    }
#endif
    for (; i < n; i++) {
        int a = sgn ? (int)(int8_t)d[i] : (int)d[i], b = sgn ? (int)(int8_t)s[i] : (int)s[i];
        if (b > a) d[i] = s[i];
    }
}

/* Channels-last layout (attribute nhwc = 1, set by the executor's int8 fusion between int8
 * kernels that keep channels last): x [N, H, W, C] -> y [N, OH, OW, C], each output pixel the
 * byte-wise max of its window's C-byte pixels. */
static void pool_nhwc(const uint8_t *x, uint8_t *y, int64_t N, int64_t H, int64_t W, int64_t C,
                      const int64_t *o, const int64_t *k, const int64_t *s, const int64_t *d,
                      const int64_t *p, int sgn) {
    for (int64_t n = 0; n < N; n++)
        for (int64_t oy = 0; oy < o[0]; oy++)
            for (int64_t ox = 0; ox < o[1]; ox++) {
                uint8_t *dst = y + ((n * o[0] + oy) * o[1] + ox) * C;
                int any = 0;
                for (int64_t ky = 0; ky < k[0]; ky++) {
                    int64_t iy = oy * s[0] - p[0] + ky * d[0];
                    if (iy < 0 || iy >= H) continue;
                    for (int64_t kx = 0; kx < k[1]; kx++) {
                        int64_t ix = ox * s[1] - p[1] + kx * d[1];
                        if (ix < 0 || ix >= W) continue;
                        const uint8_t *src = x + ((n * H + iy) * W + ix) * C;
                        if (any)
                            max_into(dst, src, C, sgn);
                        else
                            memcpy(dst, src, (size_t)C);
                        any = 1;
                    }
                }
                if (!any) memset(dst, 0, (size_t)C);
            }
}

int kp_op_KMaxPool8(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x || x->rank != 4 || !kp_q_is_8bit(x->dtype))
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "needs a 4-D uint8/int8 input");
    const int64_t *v;
    int64_t k[2], s[2] = {1, 1}, d[2] = {1, 1}, p[4] = {0, 0, 0, 0};
    if (kp_node_attr_ints(ctx->node, "kernel_shape", &v) != 2)
        return kp_op_fail(ctx, KP_EFORMAT, "kernel_shape must have 2 values");
    memcpy(k, v, sizeof k);
    if (kp_node_attr_ints(ctx->node, "strides", &v) == 2) memcpy(s, v, sizeof s);
    if (kp_node_attr_ints(ctx->node, "dilations", &v) == 2) memcpy(d, v, sizeof d);
    const char *ap = kp_node_attr_string(ctx->node, "auto_pad", "NOTSET");
    if (strcmp(ap, "VALID") && kp_node_attr_ints(ctx->node, "pads", &v) == 4)
        memcpy(p, v, sizeof p);
    if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID"))
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "auto_pad %s", ap);
    int ceil_mode = (int)kp_node_attr_int(ctx->node, "ceil_mode", 0);
    int nhwc = (int)kp_node_attr_int(ctx->node, "nhwc", 0);
    int64_t N = x->dims[0], C = x->dims[nhwc ? 3 : 1], H = x->dims[nhwc ? 1 : 2],
            W = x->dims[nhwc ? 2 : 3], o[2];
    int64_t in[2] = {H, W};
    for (int i = 0; i < 2; i++) {
        if (k[i] <= 0 || s[i] <= 0 || d[i] <= 0 || p[i] < 0 || p[i + 2] < 0)
            return kp_op_fail(ctx, KP_EFORMAT, "bad pooling geometry");
        int64_t span = in[i] + p[i] + p[i + 2] - ((k[i] - 1) * d[i] + 1);
        if (span < 0) return kp_op_fail(ctx, KP_EFORMAT, "kernel larger than the input");
        o[i] = (ceil_mode ? (span + s[i] - 1) / s[i] : span / s[i]) + 1;
        /* ceil mode: the last window must start inside the input or left padding */
        if (ceil_mode && (o[i] - 1) * s[i] >= in[i] + p[i]) o[i]--;
    }
    int64_t dims[4] = {N, C, o[0], o[1]}, dims_nhwc[4] = {N, o[0], o[1], C};
    kp_tensor *y = kp_op_output(ctx, 0, x->dtype, 4, nhwc ? dims_nhwc : dims);
    if (!y) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    int sgn = x->dtype == KP_INT8;
    if (nhwc) {
        pool_nhwc(x->data, y->data, N, H, W, C, o, k, s, d, p, sgn);
        return 0;
    }
    if (!sgn && k[0] == 2 && k[1] == 2 && s[0] == 2 && s[1] == 2 && d[0] == 1 && d[1] == 1 &&
        !p[0] && !p[1] && 2 * o[0] <= H && 2 * o[1] <= W) {
        /* the common 2x2 / stride 2 window, every tap inside */
        for (int64_t nc = 0; nc < N * C; nc++) {
            const uint8_t *src = (const uint8_t *)x->data + nc * H * W;
            uint8_t *dst = (uint8_t *)y->data + nc * o[0] * o[1];
            for (int64_t oy = 0; oy < o[0]; oy++) {
                const uint8_t *r0 = src + 2 * oy * W, *r1 = r0 + W;
                int64_t ox = 0;
#if defined(__x86_64__)
                /* 16 outputs at a time: vertical max, then max of each byte pair */
                const __m128i lo = _mm_set1_epi16(0x00ff);
                for (; ox + 16 <= o[1]; ox += 16) {
                    __m128i a = _mm_max_epu8(_mm_loadu_si128((const __m128i *)(r0 + 2 * ox)),
                                             _mm_loadu_si128((const __m128i *)(r1 + 2 * ox)));
                    __m128i b = _mm_max_epu8(_mm_loadu_si128((const __m128i *)(r0 + 2 * ox + 16)),
                                             _mm_loadu_si128((const __m128i *)(r1 + 2 * ox + 16)));
                    a = _mm_and_si128(_mm_max_epu8(a, _mm_srli_epi16(a, 8)), lo);
                    b = _mm_and_si128(_mm_max_epu8(b, _mm_srli_epi16(b, 8)), lo);
                    _mm_storeu_si128((__m128i *)(dst + oy * o[1] + ox), _mm_packus_epi16(a, b));
                }
#endif
                for (; ox < o[1]; ox++) {
                    uint8_t a = r0[2 * ox] > r0[2 * ox + 1] ? r0[2 * ox] : r0[2 * ox + 1];
                    uint8_t b = r1[2 * ox] > r1[2 * ox + 1] ? r1[2 * ox] : r1[2 * ox + 1];
                    dst[oy * o[1] + ox] = a > b ? a : b;
                }
            }
        }
        return 0;
    }
    for (int64_t nc = 0; nc < N * C; nc++) {
        const uint8_t *src = (const uint8_t *)x->data + nc * H * W;
        uint8_t *dst = (uint8_t *)y->data + nc * o[0] * o[1];
        for (int64_t oy = 0; oy < o[0]; oy++)
            for (int64_t ox = 0; ox < o[1]; ox++) {
                int best = -1000;
                for (int64_t ky = 0; ky < k[0]; ky++) {
                    int64_t iy = oy * s[0] - p[0] + ky * d[0];
                    if (iy < 0 || iy >= H) continue;
                    for (int64_t kx = 0; kx < k[1]; kx++) {
                        int64_t ix = ox * s[1] - p[1] + kx * d[1];
                        if (ix < 0 || ix >= W) continue;
                        int val = sgn ? (int)(int8_t)src[iy * W + ix] : (int)src[iy * W + ix];
                        if (val > best) best = val;
                    }
                }
                dst[oy * o[1] + ox] = (uint8_t)(best == -1000 ? 0 : best);
            }
    }
    return 0;
}
