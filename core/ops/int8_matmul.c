/* MatMulInteger and QLinearMatMul on the int8 GEMM: numpy-style batch broadcasting, 1-D
 * operands, per-row A / per-column B zero points and scales. A rank-2 B (the usual weight)
 * is packed once per plan (kp_i8_weights). */
#include <stdlib.h>
#include <string.h>

#include "core/ops/int8_ops.h"

typedef struct mm {
    int64_t M, K, N;
    int a_rank, b_rank; /* after 1-D promotion */
    int64_t a_dims[KP_MAX_RANK], b_dims[KP_MAX_RANK];
    int nb; /* batch rank of the output */
    int64_t batch[KP_MAX_RANK], n_batch;
    int out_rank;
    int64_t out_dims[KP_MAX_RANK];
} mm;

static int geometry(kp_op_ctx *ctx, const kp_tensor *a, const kp_tensor *b, mm *g) {
    memset(g, 0, sizeof *g);
    if (a->rank < 1 || b->rank < 1) return kp_op_fail(ctx, KP_EFORMAT, "operands must be >= 1-D");
    g->a_rank = a->rank == 1 ? 2 : a->rank;
    g->b_rank = b->rank == 1 ? 2 : b->rank;
    if (a->rank == 1)
        g->a_dims[0] = 1, g->a_dims[1] = a->dims[0];
    else
        memcpy(g->a_dims, a->dims, sizeof(int64_t) * (size_t)a->rank);
    if (b->rank == 1)
        g->b_dims[0] = b->dims[0], g->b_dims[1] = 1;
    else
        memcpy(g->b_dims, b->dims, sizeof(int64_t) * (size_t)b->rank);
    g->M = g->a_dims[g->a_rank - 2];
    g->K = g->a_dims[g->a_rank - 1];
    g->N = g->b_dims[g->b_rank - 1];
    if (g->b_dims[g->b_rank - 2] != g->K)
        return kp_op_fail(ctx, KP_EFORMAT, "inner dims differ: %lld vs %lld", (long long)g->K,
                          (long long)g->b_dims[g->b_rank - 2]);
    int na = g->a_rank - 2, nbr = g->b_rank - 2;
    g->nb = na > nbr ? na : nbr;
    g->n_batch = 1;
    for (int i = 0; i < g->nb; i++) {
        int ia = i - (g->nb - na), ib = i - (g->nb - nbr);
        int64_t da = ia >= 0 ? g->a_dims[ia] : 1, db = ib >= 0 ? g->b_dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return kp_op_fail(ctx, KP_EFORMAT, "batch dims %lld and %lld do not broadcast",
                              (long long)da, (long long)db);
        g->batch[i] = da == 1 ? db : da;
        g->n_batch *= g->batch[i];
    }
    g->out_rank = 0;
    for (int i = 0; i < g->nb; i++) g->out_dims[g->out_rank++] = g->batch[i];
    if (a->rank > 1) g->out_dims[g->out_rank++] = g->M;
    if (b->rank > 1) g->out_dims[g->out_rank++] = g->N;
    return 0;
}

/* Linear batch index of an operand (rank r with dims d) for output batch index bi. */
static int64_t batch_of(const mm *g, int r, const int64_t *d, int64_t bi) {
    int nr = r - 2;
    int64_t idx = 0, stride = 1;
    for (int i = g->nb - 1; i >= 0; i--) {
        int64_t c = bi % g->batch[i];
        bi /= g->batch[i];
        int j = i - (g->nb - nr);
        if (j < 0) continue;
        idx += (d[j] == 1 ? 0 : c) * stride;
        stride *= d[j];
    }
    return idx;
}

typedef struct mm_pack {
    const void *b;
    int bs;
    int64_t K, N;
    const void *zb;
    size_t nzb;
} mm_pack;

static int pack_b(void *user, kp_i8_packed *out, kp_error *err) {
    mm_pack *p = user;
    return kp_i8_pack(p->b, p->bs, 0, p->K, p->N, p->N, p->zb, p->nzb, out, err);
}

/* acc (n_batch * M * N int32) = (A - za)(B - zb). b_in: the inputs b and zb are (bits). */
static int int_product(kp_op_ctx *ctx, const kp_tensor *a, const kp_tensor *b, const kp_tensor *za,
                       const kp_tensor *zb, uint32_t b_in, const mm *g, int32_t *acc) {
    if (!kp_q_is_8bit(a->dtype) || !kp_q_is_8bit(b->dtype))
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "operands %s x %s: only 8-bit integers",
                          kp_dtype_name(a->dtype), kp_dtype_name(b->dtype));
    if (za && (za->dtype != a->dtype || (za->numel != 1 && za->numel != g->M)))
        return kp_op_fail(ctx, KP_EFORMAT, "A zero point must be %s with 1 or %lld values",
                          kp_dtype_name(a->dtype), (long long)g->M);
    if (zb && (zb->dtype != b->dtype || (zb->numel != 1 && zb->numel != g->N)))
        return kp_op_fail(ctx, KP_EFORMAT, "B zero point must be %s with 1 or %lld values",
                          kp_dtype_name(b->dtype), (long long)g->N);
    if (g->M * g->N == 0 || g->n_batch == 0) return 0;
    if (g->K == 0) {
        memset(acc, 0, sizeof(int32_t) * (size_t)(g->n_batch * g->M * g->N));
        return 0;
    }
    int as = a->dtype == KP_INT8, bs = b->dtype == KP_INT8;
    size_t nza = za ? (size_t)za->numel : 0, nzb = zb ? (size_t)zb->numel : 0;
    kp_i8_rows rows = {0};
    int rc = 0;
    int b_single = 1;
    for (int i = 0; i < g->b_rank - 2; i++) b_single &= g->b_dims[i] == 1;
    if (b_single && (nza <= 1 || g->a_rank == 2)) {
        /* One weight matrix: every row of every batch in one GEMM. */
        mm_pack pk = {b->data, bs, g->K, g->N, zb ? zb->data : NULL, nzb};
        kp_i8_want want = {b_in, 0, 1, 0, b->data, (size_t)(g->K * g->N), pk.zb, nzb, pack_b, &pk};
        const kp_i8_packed *p = kp_i8_weights(ctx, &want);
        if (!p) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
        int64_t rows_total = g->n_batch * g->M;
        int64_t a_batches = 1;
        for (int i = 0; i < g->a_rank - 2; i++) a_batches *= g->a_dims[i];
        if (a_batches == g->n_batch) {
            rc = kp_i8_rows_prepare(&rows, a->data, as, rows_total, g->K, g->K,
                                    za ? za->data : NULL, nza, ctx->err);
            if (!rc) kp_i8_gemm(&rows, p, acc, g->N, NULL);
        } else { /* A broadcast over B's batch: B single means A batches == n_batch */
            rc = kp_op_fail(ctx, KP_EUNSUPPORTED, "unexpected broadcast shape");
        }
        kp_i8_rows_free(&rows);
        return rc;
    }
    for (int64_t bi = 0; bi < g->n_batch && !rc; bi++) {
        int64_t ia = batch_of(g, g->a_rank, g->a_dims, bi);
        int64_t ib = batch_of(g, g->b_rank, g->b_dims, bi);
        kp_i8_packed p;
        rc = kp_i8_pack((const uint8_t *)b->data + ib * g->K * g->N, bs, 0, g->K, g->N, g->N,
                        zb ? zb->data : NULL, nzb, &p, ctx->err);
        if (rc) break;
        rc = kp_i8_rows_prepare(&rows, (const uint8_t *)a->data + ia * g->M * g->K, as, g->M, g->K,
                                g->K, za ? za->data : NULL, nza, ctx->err);
        if (!rc) kp_i8_gemm(&rows, &p, acc + bi * g->M * g->N, g->N, NULL);
        kp_i8_packed_free(&p);
    }
    kp_i8_rows_free(&rows);
    return rc;
}

int kp_op_MatMulInteger(kp_op_ctx *ctx) {
    const kp_tensor *a = kp_op_input(ctx, 0), *b = kp_op_input(ctx, 1);
    if (!a || !b) return kp_op_fail(ctx, KP_EFORMAT, "needs inputs A and B");
    mm g;
    int rc = geometry(ctx, a, b, &g);
    if (rc) return rc;
    kp_tensor *y = kp_op_output(ctx, 0, KP_INT32, g.out_rank, g.out_dims);
    if (!y) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    const kp_tensor *zb = kp_op_input(ctx, 3);
    return int_product(ctx, a, b, kp_op_input(ctx, 2), zb, (1u << 1) | (zb ? 1u << 3 : 0), &g,
                       y->data);
}

/* QLinearMatMul, and the executor's fused ai.kompress:QGemm: the same inputs plus an int32
 * bias (input 8) added to the accumulator; y_scale absent = float output; relu = 1 clamps. */
static int qmatmul(kp_op_ctx *ctx, int fused) {
    const kp_tensor *a = kp_op_input(ctx, 0), *sa = kp_op_input(ctx, 1), *za = kp_op_input(ctx, 2);
    const kp_tensor *b = kp_op_input(ctx, 3), *sb = kp_op_input(ctx, 4), *zb = kp_op_input(ctx, 5);
    const kp_tensor *sy = kp_op_input(ctx, 6), *zy = kp_op_input(ctx, 7);
    const kp_tensor *bias = fused ? kp_op_input(ctx, 8) : NULL;
    if (!a || !sa || !b || !sb || (!sy && !fused))
        return kp_op_fail(ctx, KP_EFORMAT, "needs a, a_scale, b, b_scale and y_scale");
    mm g;
    int rc = geometry(ctx, a, b, &g);
    if (rc) return rc;
    if (sa->numel != 1 && sa->numel != g.M)
        return kp_op_fail(ctx, KP_EFORMAT, "a_scale must have 1 or %lld values", (long long)g.M);
    if (sb->numel != 1 && sb->numel != g.N)
        return kp_op_fail(ctx, KP_EFORMAT, "b_scale must have 1 or %lld values", (long long)g.N);
    if (sy && sy->numel != 1) return kp_op_fail(ctx, KP_EFORMAT, "y_scale must be a scalar");
    if (bias && (bias->dtype != KP_INT32 || bias->numel != g.N))
        return kp_op_fail(ctx, KP_EFORMAT, "bias must be int32 with %lld values", (long long)g.N);
    kp_dtype yt = !sy ? KP_FLOAT : zy ? zy->dtype : KP_UINT8;
    if (yt != KP_FLOAT && !kp_q_is_8bit(yt))
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "output type %s", kp_dtype_name(yt));
    kp_tensor *y = kp_op_output(ctx, 0, yt, g.out_rank, g.out_dims);
    if (!y) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    size_t n = (size_t)(g.n_batch * g.M * g.N);
    int32_t *acc = malloc((n ? n : 1) * sizeof *acc);
    float *mult = malloc((size_t)(g.M * g.N + 1) * sizeof *mult);
    if (!acc || !mult) {
        free(acc);
        free(mult);
        return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
    }
    rc = int_product(ctx, a, b, za, zb, (1u << 3) | (zb ? 1u << 5 : 0), &g, acc);
    if (!rc) {
        float inv = sy ? kp_q_scale(sy, 0) : 1.f;
        int per_row = sa->numel > 1;
        const float *sbf = sb->dtype == KP_FLOAT && sb->numel == g.N ? sb->data : NULL;
        for (int64_t m = 0; m < (per_row ? g.M : 1); m++) {
            float am = kp_q_scale(sa, m);
            for (int64_t j = 0; j < g.N; j++)
                mult[m * g.N + j] = am * (sbf ? sbf[j] : kp_q_scale(sb, j)) / inv;
        }
        int relu = fused ? (int)kp_node_attr_int(ctx->node, "relu", 0) : 0;
        int32_t lo = yt == KP_UINT8 ? 0 : -128, hi = yt == KP_UINT8 ? 255 : 127;
        int32_t z = kp_q_zp(zy, 0);
        if (relu && z > lo) lo = z;
        const int32_t *bv = bias ? bias->data : NULL;
        size_t rows = n / (size_t)g.N;
        if (yt != KP_FLOAT && !per_row) { /* one scale row: the vectorized requantization */
            kp_i8_requant_rows(acc, (int64_t)rows, g.N, g.N, bv, mult, z, lo, hi, yt == KP_UINT8,
                               y->data, g.N);
            rows = 0;
        }
        for (size_t r = 0; r < rows; r++) {
            const float *mr = mult + (per_row ? (int64_t)(r % (size_t)g.M) * g.N : 0);
            const int32_t *ar = acc + r * (size_t)g.N;
            if (yt == KP_FLOAT) {
                float *yo = (float *)y->data + r * (size_t)g.N;
                for (int64_t j = 0; j < g.N; j++) {
                    float v = (float)(ar[j] + (bv ? bv[j] : 0)) * mr[j];
                    yo[j] = relu && v < 0.f ? 0.f : v;
                }
            } else if (yt == KP_UINT8) {
                uint8_t *yo = (uint8_t *)y->data + r * (size_t)g.N;
                for (int64_t j = 0; j < g.N; j++)
                    yo[j] = (uint8_t)kp_i8_requant(ar[j] + (bv ? bv[j] : 0), mr[j], z, lo, hi);
            } else {
                int8_t *yo = (int8_t *)y->data + r * (size_t)g.N;
                for (int64_t j = 0; j < g.N; j++)
                    yo[j] = (int8_t)kp_i8_requant(ar[j] + (bv ? bv[j] : 0), mr[j], z, lo, hi);
            }
        }
    }
    free(acc);
    free(mult);
    return rc;
}

int kp_op_QLinearMatMul(kp_op_ctx *ctx) {
    return qmatmul(ctx, 0);
}

int kp_op_KQGemm(kp_op_ctx *ctx) {
    return qmatmul(ctx, 1);
}

/* ai.kompress:DynQMatMul, the executor's fusion of quant-dynamic's pattern
 *   DynamicQuantizeLinear(x) -> MatMulInteger(., w, ., w_zero) -> Cast(float)
 *   -> Mul(., Mul(x_scale, w_scale)) [-> Add(., bias)]
 * Inputs: x (float, last dim K), w (8-bit [K, N], constant), w_zero (optional), w_scale (one or
 * N floats), bias (optional, N floats). The steps and their float order are the unfused ones,
 * so the bytes are too; no uint8 copy of x, int32 or intermediate float tensor is left. */
int kp_op_KDynQMatMul(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0), *w = kp_op_input(ctx, 1), *wz = kp_op_input(ctx, 2);
    const kp_tensor *ws = kp_op_input(ctx, 3), *bias = kp_op_input(ctx, 4);
    if (!x || x->dtype != KP_FLOAT || x->rank < 1)
        return kp_op_fail(ctx, KP_EFORMAT, "needs a float input");
    if (!w || w->rank != 2 || !kp_q_is_8bit(w->dtype))
        return kp_op_fail(ctx, KP_EFORMAT, "weight must be a 2-D 8-bit tensor");
    int64_t K = w->dims[0], N = w->dims[1];
    if (x->dims[x->rank - 1] != K)
        return kp_op_fail(ctx, KP_EFORMAT, "inner dims differ: %lld vs %lld",
                          (long long)x->dims[x->rank - 1], (long long)K);
    if (!ws || ws->dtype != KP_FLOAT || (ws->numel != 1 && ws->numel != N))
        return kp_op_fail(ctx, KP_EFORMAT, "w_scale must be 1 or %lld floats", (long long)N);
    if (wz && (wz->dtype != w->dtype || (wz->numel != 1 && wz->numel != N)))
        return kp_op_fail(ctx, KP_EFORMAT, "w_zero must be %s with 1 or %lld values",
                          kp_dtype_name(w->dtype), (long long)N);
    if (bias && (bias->dtype != KP_FLOAT || bias->numel != N))
        return kp_op_fail(ctx, KP_EFORMAT, "bias must be %lld floats", (long long)N);
    int64_t dims[KP_MAX_RANK];
    int rank = x->rank;
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)rank);
    dims[rank - 1] = N;
    kp_tensor *y = kp_op_output(ctx, 0, KP_FLOAT, rank, dims);
    if (!y) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    int64_t M = K ? x->numel / K : 0;
    if (M * N == 0) return 0;
    uint8_t *xq = malloc((size_t)x->numel + 1);
    int32_t *acc = malloc((size_t)(M * N) * sizeof *acc);
    float *sc = malloc((size_t)N * sizeof *sc);
    kp_i8_rows rows = {0};
    int rc = 0;
    if (!xq || !acc || !sc) {
        rc = kp_op_fail(ctx, KP_ENOMEM, "out of memory");
        goto done;
    }
    float xs;
    uint8_t xz;
    kp_q_dynamic_u8(x->data, x->numel, xq, &xs, &xz, 0);
    size_t nzb = wz ? (size_t)wz->numel : 0;
    mm_pack pk = {w->data, w->dtype == KP_INT8, K, N, wz ? wz->data : NULL, nzb};
    kp_i8_want want = {
        (1u << 1) | (wz ? 1u << 2 : 0), 0, 1, 0, w->data, (size_t)(K * N), pk.zb, nzb, pack_b, &pk};
    const kp_i8_packed *p = kp_i8_weights(ctx, &want);
    if (!p) {
        rc = ctx->err->code ? ctx->err->code : KP_ENOMEM;
        goto done;
    }
    rc = kp_i8_rows_prepare(&rows, xq, 0, M, K, K, &xz, 1, ctx->err);
    if (rc) goto done;
    kp_i8_gemm(&rows, p, acc, N, NULL);
    for (int64_t j = 0; j < N; j++) sc[j] = xs * kp_q_scale(ws, j);
    const float *bv = bias ? bias->data : NULL;
    float *yo = y->data;
    for (int64_t m = 0; m < M; m++)
        for (int64_t j = 0; j < N; j++) {
            float v = (float)acc[m * N + j] * sc[j];
            yo[m * N + j] = bv ? v + bv[j] : v;
        }
done:
    kp_i8_rows_free(&rows);
    free(xq);
    free(acc);
    free(sc);
    return rc;
}
