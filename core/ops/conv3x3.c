/* Direct 3x3 convolution (see conv3x3.h). Layout: input channel ci of the image is a plane of
 * (H + 2) rows x (W + 2) columns with a zero border, then zeros up to the plane stride ps; output
 * position q = y * (W + 2) + x (x < W are real, x = W, W + 1 spare) reads pad[ci][q + a * (W + 2)
 * + b] for tap (a, b), so each tap is a contiguous run of loads. Output planes hold nq positions
 * (H * (W + 2) rounded up to the vector width). */
#include "core/ops/conv3x3.h"

#include <string.h>

#include "core/cpu.h"
#include "core/ops/ops.h"

#define C3_VMAX 16

static int64_t nq_of(int64_t h, int64_t w) {
    int64_t q = h * (w + 2);
    return (q + C3_VMAX - 1) / C3_VMAX * C3_VMAX;
}

/* Reads reach q + 2 * (W + 2) + 2 + (vector width) for q < nq. */
static int64_t ps_of(int64_t h, int64_t w) {
    int64_t need = nq_of(h, w) + 2 * (w + 2) + 2 + C3_VMAX;
    return (need + C3_VMAX - 1) / C3_VMAX * C3_VMAX;
}

int64_t kp_conv3x3_pad_floats(int64_t c, int64_t h, int64_t w) {
    return c * ps_of(h, w);
}
int64_t kp_conv3x3_out_floats(int64_t m, int64_t h, int64_t w) {
    return m * nq_of(h, w);
}

int kp_conv3x3_isa(void) {
#if defined(__x86_64__) || defined(__i386__)
    const kp_cpu_features *f = kp_cpu();
    if (f->avx512f) return KP_C3_AVX512;
#endif
    return KP_C3_NONE;
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define C3_ATTR  __attribute__((target("avx512f")))
#define C3_V     __m512
#define C3_VL    16
#define C3_NV    4
#define C3_LOAD  _mm512_loadu_ps
#define C3_STORE _mm512_storeu_ps
#define C3_SET1  _mm512_set1_ps
#define C3_ZERO  _mm512_setzero_ps
#define C3_FMA   _mm512_fmadd_ps
#define C3_MAX   _mm512_max_ps
#define C3_FN(n) n##_avx512
#include "core/ops/conv3x3_body.h"
#undef C3_ATTR
#undef C3_V
#undef C3_VL
#undef C3_NV
#undef C3_LOAD
#undef C3_STORE
#undef C3_SET1
#undef C3_ZERO
#undef C3_FMA
#undef C3_MAX
#undef C3_FN

#define C3_ATTR  __attribute__((target("avx2,fma")))
#define C3_V     __m256
#define C3_VL    8
#define C3_NV    2
#define C3_LOAD  _mm256_loadu_ps
#define C3_STORE _mm256_storeu_ps
#define C3_SET1  _mm256_set1_ps
#define C3_ZERO  _mm256_setzero_ps
#define C3_FMA   _mm256_fmadd_ps
#define C3_MAX   _mm256_max_ps
#define C3_FN(n) n##_avx2
#include "core/ops/conv3x3_body.h"
#endif

static void fill_pad(const float *x, int64_t c, int64_t h, int64_t w, float *pad) {
    int64_t w2 = w + 2, ps = ps_of(h, w);
    memset(pad, 0, (size_t)(c * ps) * sizeof *pad);
    for (int64_t ci = 0; ci < c; ci++)
        for (int64_t r = 0; r < h; r++)
            memcpy(pad + ci * ps + (r + 1) * w2 + 1, x + (ci * h + r) * w, (size_t)w * sizeof *x);
}

void kp_conv3x3_run(int isa, const float *x, int64_t c, int64_t h, int64_t w, const float *wt,
                    int64_t m, const float *bias, int relu, int pool, float *y, float *pad,
                    float *out) {
    int64_t ps = ps_of(h, w), nq = nq_of(h, w);
    fill_pad(x, c, h, w, pad);
#if defined(__x86_64__) || defined(__i386__)
    if (isa == KP_C3_AVX512)
        plane_avx512(pad, ps, c, wt, bias, relu, pool, m, out, nq, y, h, w);
    else
        plane_avx2(pad, ps, c, wt, bias, relu, pool, m, out, nq, y, h, w);
#else
    (void)isa, (void)wt, (void)bias, (void)relu, (void)m, (void)out, (void)y, (void)ps, (void)nq;
    (void)pool;
#endif
}
