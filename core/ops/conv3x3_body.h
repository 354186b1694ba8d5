/* One SIMD width of the direct 3x3 convolution (core/ops/conv3x3.c includes this once per ISA
 * with C3_ATTR, C3_V, C3_VL, C3_LOAD, C3_STORE, C3_SET1, C3_ZERO, C3_FMA and C3_FN defined).
 * tile: MB output channels x NV vectors of positions starting at q0, summed over all input
 * channels and the 9 taps; plane: every position of every output channel. */

C3_ATTR static inline __attribute__((always_inline)) void
C3_FN(tile)(const float *pad, int64_t ps, int64_t c, const float *wt, float *out, int64_t os,
            int64_t q0, int64_t w2, const int mb, const int nv) {
    C3_V acc[4][4];
#pragma GCC unroll 4
    for (int m = 0; m < mb; m++)
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) acc[m][v] = C3_ZERO();
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
        for (int v = 0; v < nv; v++) C3_STORE(out + m * os + q0 + v * C3_VL, acc[m][v]);
}

/* nq: positions to compute (a multiple of C3_VL); os: output plane stride. */
C3_ATTR static void C3_FN(plane)(const float *pad, int64_t ps, int64_t c, const float *wt,
                                 int64_t m, float *out, int64_t os, int64_t nq, int64_t w2) {
    int64_t m0 = 0;
    for (; m0 + 4 <= m; m0 += 4) {
        const float *wm = wt + m0 * c * 9;
        float *om = out + m0 * os;
        int64_t q0 = 0;
        for (; q0 + C3_NV * C3_VL <= nq; q0 += C3_NV * C3_VL)
            C3_FN(tile)(pad, ps, c, wm, om, os, q0, w2, 4, C3_NV);
        for (; q0 < nq; q0 += C3_VL) C3_FN(tile)(pad, ps, c, wm, om, os, q0, w2, 4, 1);
    }
    for (; m0 < m; m0++) {
        const float *wm = wt + m0 * c * 9;
        float *om = out + m0 * os;
        int64_t q0 = 0;
        for (; q0 + C3_NV * C3_VL <= nq; q0 += C3_NV * C3_VL)
            C3_FN(tile)(pad, ps, c, wm, om, os, q0, w2, 1, C3_NV);
        for (; q0 < nq; q0 += C3_VL) C3_FN(tile)(pad, ps, c, wm, om, os, q0, w2, 1, 1);
    }
}
