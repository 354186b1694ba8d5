/* Gemm and MatMul. float32/float64 go through OpenBLAS; MatMul on integer types uses a plain
 * loop (32/64-bit, wrapping like fixed-width arithmetic). */
#include <cblas.h>
#include <string.h>

#include "core/ops/gemm_packed.h"
#include "core/ops/ops.h"

/* ---- Gemm ---------------------------------------------------------------------------------- */

static int gemm_run(kp_op_ctx *ctx) {
    const kp_tensor *a = kp_op_input(ctx, 0), *b = kp_op_input(ctx, 1), *c = kp_op_input(ctx, 2);
    if (!a || !b) return kp_op_fail(ctx, KP_EINVAL, "inputs A and B are required");
    if (a->dtype != b->dtype || (c && c->dtype != a->dtype))
        return kp_op_fail(ctx, KP_EINVAL, "A, B and C must share one element type (%s, %s%s%s)",
                          kp_dtype_name(a->dtype), kp_dtype_name(b->dtype), c ? ", " : "",
                          c ? kp_dtype_name(c->dtype) : "");
    if (a->dtype != KP_FLOAT && a->dtype != KP_DOUBLE)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "element type %s is not supported",
                          kp_dtype_name(a->dtype));
    if (a->rank != 2 || b->rank != 2)
        return kp_op_fail(ctx, KP_EINVAL, "A and B must be 2-D, got rank %d and %d", a->rank,
                          b->rank);
    int ta = kp_node_attr_int(ctx->node, "transA", 0) != 0;
    int tb = kp_node_attr_int(ctx->node, "transB", 0) != 0;
    if (ctx->flags & KP_OPF_B_PRETRANSPOSED) tb = !tb;
    double alpha = kp_node_attr_float(ctx->node, "alpha", 1.0f);
    double beta = kp_node_attr_float(ctx->node, "beta", 1.0f);
    int64_t m = ta ? a->dims[1] : a->dims[0], k = ta ? a->dims[0] : a->dims[1];
    int64_t kb = tb ? b->dims[1] : b->dims[0], n = tb ? b->dims[0] : b->dims[1];
    if (k != kb)
        return kp_op_fail(ctx, KP_EINVAL, "inner dimensions differ: A gives %lld, B gives %lld",
                          (long long)k, (long long)kb);
    if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX)
        return kp_op_fail(ctx, KP_ERANGE, "matrix too large");
    int64_t cs0 = 0, cs1 = 0; /* C strides after broadcasting to [m, n] */
    if (c) {
        int64_t c0 = c->rank == 2 ? c->dims[0] : 1;
        int64_t c1 = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
        if (c->rank > 2 || (c0 != 1 && c0 != m) || (c1 != 1 && c1 != n))
            return kp_op_fail(ctx, KP_EINVAL, "C does not broadcast to %lldx%lld", (long long)m,
                              (long long)n);
        cs1 = c1 == 1 ? 0 : 1;
        cs0 = c0 == 1 ? 0 : c1;
    }
    int64_t dims[2] = {m, n};
    kp_tensor *y = kp_op_output(ctx, 0, a->dtype, 2, dims);
    if (!y) return ctx->err->code;
    if (!y->numel) return 0;
    int has_c = c && beta != 0.0 && c->numel;
    /* B packed by the executor (ctx->prep, core/ops/gemm_packed.h): one thread (more go to
     * OpenBLAS, which uses them), several rows, no scaling, C absent or a bias row, ReLU or no
     * activation. One row stays on sgemv below. */
    if (a->dtype == KP_FLOAT && ctx->prep && ctx->threads <= 1 && m > 1 && k && !ta &&
        alpha == 1.0 && ctx->prep_bytes == (size_t)kp_gemmp_packed_floats(k, n) * sizeof(float) &&
        (!has_c || (beta == 1.0 && c->numel == n && cs0 == 0 && (n == 1 || cs1 == 1))) &&
        (ctx->fused_act == KP_ACT_NONE || ctx->fused_act == KP_ACT_RELU)) {
        kp_gemmp_run(a->data, m, k, ctx->prep, n, has_c ? c->data : NULL,
                     ctx->fused_act == KP_ACT_RELU, y->data);
        return 0;
    }
    if (a->dtype == KP_FLOAT) {
        float *yd = y->data;
        if (has_c) {
            const float *cd = c->data;
            float bt = (float)beta;
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++) yd[i * n + j] = bt * cd[i * cs0 + j * cs1];
        }
        if (k && m == 1) {
            /* One row: a matrix-vector product (sgemm would pack all of B on every call). */
            if (tb)
                cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)k, (float)alpha, b->data,
                            (int)k, a->data, 1, has_c ? 1.0f : 0.0f, yd, 1);
            else
                cblas_sgemv(CblasRowMajor, CblasTrans, (int)k, (int)n, (float)alpha, b->data,
                            (int)n, a->data, 1, has_c ? 1.0f : 0.0f, yd, 1);
        } else if (k)
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                        tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, (float)alpha,
                        a->data, (int)a->dims[1], b->data, (int)b->dims[1], has_c ? 1.0f : 0.0f, yd,
                        (int)n);
        else if (!has_c)
            memset(yd, 0, y->nbytes);
        kp_op_apply_act(ctx, yd, y->numel);
    } else {
        double *yd = y->data;
        if (has_c) {
            const double *cd = c->data;
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++) yd[i * n + j] = beta * cd[i * cs0 + j * cs1];
        }
        if (k)
            cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                        tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a->data,
                        (int)a->dims[1], b->data, (int)b->dims[1], has_c ? 1.0 : 0.0, yd, (int)n);
        else if (!has_c)
            memset(yd, 0, y->nbytes);
        for (int64_t i = 0; ctx->fused_act && i < y->numel; i++) {
            double v = yd[i];
            if (ctx->fused_act == KP_ACT_RELU) v = v > 0 ? v : 0;
            if (ctx->fused_act == KP_ACT_LEAKY) v = v >= 0 ? v : ctx->act_alpha * v;
            if (ctx->fused_act == KP_ACT_CLIP)
                v = v < ctx->act_alpha ? ctx->act_alpha : v > ctx->act_beta ? ctx->act_beta : v;
            yd[i] = v;
        }
    }
    return 0;
}

/* ---- MatMul -------------------------------------------------------------------------------- */

#define MATMUL_INT(T)                                                                              \
    static void matmul_##T(const T *a, const T *b, T *y, int64_t m, int64_t k, int64_t n) {        \
        for (int64_t i = 0; i < m; i++)                                                            \
            for (int64_t j = 0; j < n; j++) {                                                      \
                T acc = 0;                                                                         \
                for (int64_t p = 0; p < k; p++) acc += a[i * k + p] * b[p * n + j];                \
                y[i * n + j] = acc;                                                                \
            }                                                                                      \
    }
/* Signed types accumulate as unsigned of the same width: wrap-around, no undefined overflow. */
MATMUL_INT(uint32_t)
MATMUL_INT(uint64_t)
#undef MATMUL_INT

static void matmul_int(const kp_tensor *a, const kp_tensor *b, kp_tensor *y, int64_t ao, int64_t bo,
                       int64_t yo, int64_t m, int64_t k, int64_t n) {
    if (kp_dtype_size(a->dtype) == 4)
        matmul_uint32_t((const uint32_t *)a->data + ao, (const uint32_t *)b->data + bo,
                        (uint32_t *)y->data + yo, m, k, n);
    else
        matmul_uint64_t((const uint64_t *)a->data + ao, (const uint64_t *)b->data + bo,
                        (uint64_t *)y->data + yo, m, k, n);
}

static int matmul_run(kp_op_ctx *ctx) {
    const kp_tensor *a = kp_op_input(ctx, 0), *b = kp_op_input(ctx, 1);
    if (!a || !b) return kp_op_fail(ctx, KP_EINVAL, "inputs A and B are required");
    if (a->dtype != b->dtype)
        return kp_op_fail(ctx, KP_EINVAL, "A is %s but B is %s", kp_dtype_name(a->dtype),
                          kp_dtype_name(b->dtype));
    kp_dtype dt = a->dtype;
    if (dt != KP_FLOAT && dt != KP_DOUBLE && dt != KP_INT32 && dt != KP_INT64 && dt != KP_UINT32 &&
        dt != KP_UINT64)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "element type %s is not supported",
                          kp_dtype_name(dt));
    if (a->rank < 1 || b->rank < 1)
        return kp_op_fail(ctx, KP_EINVAL, "operands must have rank >= 1");
    /* Promote 1-D operands to matrices, remember to drop the added dims. */
    int64_t ad[KP_MAX_RANK + 1], bd[KP_MAX_RANK + 1];
    int ar = a->rank, br = b->rank;
    memcpy(ad, a->dims, sizeof(int64_t) * (size_t)ar);
    memcpy(bd, b->dims, sizeof(int64_t) * (size_t)br);
    if (ar == 1) {
        ad[1] = ad[0];
        ad[0] = 1;
        ar = 2;
    }
    if (br == 1) {
        bd[1] = 1;
        br = 2;
    }
    int64_t m = ad[ar - 2], k = ad[ar - 1], kb = bd[br - 2], n = bd[br - 1];
    if (k != kb)
        return kp_op_fail(ctx, KP_EINVAL, "inner dimensions differ: A has %lld, B has %lld",
                          (long long)k, (long long)kb);
    if (m > INT32_MAX || n > INT32_MAX || k > INT32_MAX)
        return kp_op_fail(ctx, KP_ERANGE, "matrix too large");
    int nb = (ar > br ? ar : br) - 2; /* batch rank */
    int64_t bdims[KP_MAX_RANK], astr[KP_MAX_RANK], bstr[KP_MAX_RANK];
    int64_t as = m * k, bs = k * n;
    for (int i = nb - 1; i >= 0; i--) {
        int ai = i - (nb - (ar - 2)), bi = i - (nb - (br - 2));
        int64_t da = ai >= 0 ? ad[ai] : 1, db = bi >= 0 ? bd[bi] : 1;
        if (da != db && da != 1 && db != 1)
            return kp_op_fail(ctx, KP_EINVAL, "batch dims %lld and %lld do not broadcast",
                              (long long)da, (long long)db);
        bdims[i] = da > db ? da : db;
        if (da == 0 || db == 0) bdims[i] = 0;
        astr[i] = da == 1 ? 0 : as;
        bstr[i] = db == 1 ? 0 : bs;
        as *= da;
        bs *= db;
    }
    int64_t od[KP_MAX_RANK + 2];
    int orank = 0;
    for (int i = 0; i < nb; i++) od[orank++] = bdims[i];
    if (a->rank > 1) od[orank++] = m;
    if (b->rank > 1) od[orank++] = n;
    if (orank > KP_MAX_RANK) return kp_op_fail(ctx, KP_EUNSUPPORTED, "rank too high");
    kp_tensor *y = kp_op_output(ctx, 0, dt, orank, od);
    if (!y) return ctx->err->code;
    if (!y->numel) return 0;
    int64_t nbatch = 1;
    for (int i = 0; i < nb; i++) nbatch *= bdims[i];
    if (!k) {
        memset(y->data, 0, y->nbytes);
        return 0;
    }
    /* B shared by every batch and A contiguous: one call with the batch folded into M. */
    int b_shared = 1, a_contig = 1;
    for (int i = 0; i < nb; i++) {
        if (bstr[i]) b_shared = 0;
        if (!astr[i] && bdims[i] != 1) a_contig = 0;
    }
    if (b_shared && a_contig && nbatch * m <= INT32_MAX) {
        m *= nbatch;
        nbatch = 1;
    }
    int64_t idx[KP_MAX_RANK] = {0}, ao = 0, bo = 0;
    for (int64_t t = 0; t < nbatch; t++) {
        int64_t yo = t * m * n;
        if (dt == KP_FLOAT)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0f,
                        (const float *)a->data + ao, (int)k, (const float *)b->data + bo, (int)n,
                        0.0f, (float *)y->data + yo, (int)n);
        else if (dt == KP_DOUBLE)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)k, 1.0,
                        (const double *)a->data + ao, (int)k, (const double *)b->data + bo, (int)n,
                        0.0, (double *)y->data + yo, (int)n);
        else
            matmul_int(a, b, y, ao, bo, yo, m, k, n);
        for (int d = nb - 1; d >= 0; d--) {
            ao += astr[d];
            bo += bstr[d];
            if (++idx[d] < bdims[d]) break;
            ao -= astr[d] * bdims[d];
            bo -= bstr[d] * bdims[d];
            idx[d] = 0;
        }
    }
    return 0;
}

const kp_op_def kp_ops_gemm[] = {
    {"", "Gemm", gemm_run},
    {"", "MatMul", matmul_run},
    {0},
};
