/* One SIMD width of the direct 3x3 convolution (core/ops/conv3x3.c includes this once per ISA
 * with C3_ATTR, C3_V, C3_VL, C3_NV, C3_LOAD, C3_STORE, C3_SET1, C3_ZERO, C3_MAX, C3_FMA and
 * C3_FN defined). tile: MB output channels x NV vectors of positions starting at q0, bias first,
 * summed over all input channels and the 9 taps, ReLU last; plane: every output channel, 4 at a
 * time, each block copied into y (spare columns dropped; 2x2 max-pooled when pool) while it is
 * in L1. */

C3_ATTR static inline __attribute__((always_inline)) void
C3_FN(tile)(const float *pad, int64_t ps, int64_t c, const float *wt, const float *bias, int relu,
            float *out, int64_t os, int64_t q0, int64_t w2, const int mb, const int nv) {
    C3_V acc[4][4];
#pragma GCC unroll 4
    for (int m = 0; m < mb; m++) {
        C3_V b = bias ? C3_SET1(bias[m]) : C3_ZERO();
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) acc[m][v] = b;
    }
    const int64_t wstride = c * 9;
    for (int64_t ci = 0; ci < c; ci++) {
        const float *p = pad + ci * ps + q0, *wc = wt + ci * 9;
#pragma GCC unroll 9
        for (int t = 0; t < 9; t++) {
            const float *pt = p + (t / 3) * w2 + t % 3;
            C3_V xv[4];
#pragma GCC unroll 4
            for (int v = 0; v < nv; v++) xv[v] = C3_LOAD(pt + v * C3_VL);
#pragma GCC unroll 4
            for (int m = 0; m < mb; m++) {
                C3_V wv = C3_SET1(wc[m * wstride + t]);
#pragma GCC unroll 4
                for (int v = 0; v < nv; v++) acc[m][v] = C3_FMA(wv, xv[v], acc[m][v]);
            }
        }
    }
#pragma GCC unroll 4
    for (int m = 0; m < mb; m++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) {
            C3_V r = relu ? C3_MAX(acc[m][v], C3_ZERO()) : acc[m][v];
            C3_STORE(out + m * os + q0 + v * C3_VL, r);
        }
}

/* out (nq positions per channel, rows of w + 2) -> y (rows of w), mb channels. */
C3_ATTR static void C3_FN(compact)(const float *out, int64_t nq, float *y, int mb, int64_t h,
                                   int64_t w) {
    for (int m = 0; m < mb; m++)
        for (int64_t r = 0; r < h; r++) {
            const float *s = out + m * nq + r * (w + 2);
            float *d = y + (m * h + r) * w;
            int64_t j = 0;
            for (; j + C3_VL <= w; j += C3_VL) C3_STORE(d + j, C3_LOAD(s + j));
            for (; j < w; j++) d[j] = s[j];
        }
}

/* out -> y pooled 2x2 stride 2 (floor): y is mb planes of (h / 2) x (w / 2). */
C3_ATTR static void C3_FN(compact_pool)(const float *out, int64_t nq, float *y, int mb, int64_t h,
                                        int64_t w) {
    int64_t oh = h / 2, ow = w / 2;
    for (int m = 0; m < mb; m++)
        for (int64_t r = 0; r < oh; r++) {
            const float *a = out + m * nq + 2 * r * (w + 2), *b = a + (w + 2);
            float *d = y + (m * oh + r) * ow;
            for (int64_t j = 0; j < ow; j++) {
                float v = a[2 * j];
                if (a[2 * j + 1] > v) v = a[2 * j + 1];
                if (b[2 * j] > v) v = b[2 * j];
                if (b[2 * j + 1] > v) v = b[2 * j + 1];
                d[j] = v;
            }
        }
}

/* nq: positions per output plane (a multiple of C3_VL); out: scratch of 4 * nq floats. */
C3_ATTR static void C3_FN(plane)(const float *pad, int64_t ps, int64_t c, const float *wt,
                                 const float *bias, int relu, int pool, int64_t m, float *out,
                                 int64_t nq, float *y, int64_t h, int64_t w) {
    int64_t w2 = w + 2, ys = pool ? (h / 2) * (w / 2) : h * w;
    for (int64_t m0 = 0; m0 < m; m0 += 4) {
        const float *wm = wt + m0 * c * 9, *bm = bias ? bias + m0 : NULL;
        int64_t q0 = 0;
        if (m - m0 >= 4) {
            for (; q0 + C3_NV * C3_VL <= nq; q0 += C3_NV * C3_VL)
                C3_FN(tile)(pad, ps, c, wm, bm, relu, out, nq, q0, w2, 4, C3_NV);
            for (; q0 < nq; q0 += C3_VL)
                C3_FN(tile)(pad, ps, c, wm, bm, relu, out, nq, q0, w2, 4, 1);
            if (pool)
                C3_FN(compact_pool)(out, nq, y + m0 * ys, 4, h, w);
            else
                C3_FN(compact)(out, nq, y + m0 * ys, 4, h, w);
            continue;
        }
        for (int64_t mm = m0; mm < m; mm++) {
            wm = wt + mm * c * 9;
            bm = bias ? bias + mm : NULL;
            for (q0 = 0; q0 + C3_NV * C3_VL <= nq; q0 += C3_NV * C3_VL)
                C3_FN(tile)(pad, ps, c, wm, bm, relu, out, nq, q0, w2, 1, C3_NV);
            for (; q0 < nq; q0 += C3_VL)
                C3_FN(tile)(pad, ps, c, wm, bm, relu, out, nq, q0, w2, 1, 1);
            if (pool)
                C3_FN(compact_pool)(out, nq, y + mm * ys, 1, h, w);
            else
                C3_FN(compact)(out, nq, y + mm * ys, 1, h, w);
        }
    }
}
