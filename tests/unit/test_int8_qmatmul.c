/* QLinearMatMul and the executor's fused ai.kompress:QGemm (int32 bias, relu) bit-exact against
 * the definition computed directly: exact integer sums, then y = saturate(round_half_even(acc *
 * a_scale * b_scale / y_scale) + y_zero) in float as ONNX Runtime does; uint8 and int8 outputs,
 * one or per-column b scales, one or per-row a scales, batches of rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ophelp.h"

#include "core/ops/int8_gemm.h"

static int32_t at(const kp_tensor *t, int64_t i) {
    return t->dtype == KP_INT8 ? ((const int8_t *)t->data)[i] : ((const uint8_t *)t->data)[i];
}

static kp_tensor *rand_q(kp_dtype dt, int rank, const int64_t *dims) {
    kp_tensor *t = tt(dt, rank, dims, NULL);
    for (int64_t i = 0; i < t->numel; i++) ((uint8_t *)t->data)[i] = (uint8_t)rnd_u32();
    return t;
}

static kp_tensor *scales(int64_t n, float base) {
    kp_tensor *t = n > 1 ? tt(KP_FLOAT, 1, D(n), NULL) : tt(KP_FLOAT, 0, NULL, NULL);
    for (int64_t i = 0; i < t->numel; i++) ((float *)t->data)[i] = base * (1 + (float)(i % 7));
    return t;
}

static void check(int64_t B, int64_t M, int64_t K, int64_t N, kp_dtype yt, int per_row, int per_col,
                  int fused) {
    kp_tensor *a = rand_q(KP_UINT8, 3, D(B, M, K)), *b = rand_q(KP_INT8, 2, D(K, N));
    kp_tensor *sa = scales(per_row ? M : 1, 0.01f), *sb = scales(per_col ? N : 1, 0.002f);
    kp_tensor *za = tt(KP_UINT8, 0, NULL, V(7)), *zb = tt(KP_INT8, 0, NULL, V(0));
    kp_tensor *sy = tt(KP_FLOAT, 0, NULL, V(0.05)),
              *zy = tt(yt, 0, NULL, V(yt == KP_UINT8 ? 9 : -4));
    kp_tensor *bias = tt(KP_INT32, 1, D(N), NULL);
    for (int64_t j = 0; j < N; j++) ((int32_t *)bias->data)[j] = (int32_t)(rnd_u32() % 4001) - 2000;
    const kp_tensor *in[9] = {a, sa, za, b, sb, zb, sy, zy, bias};
    kp_node *n = mknode(fused ? "QGemm" : "QLinearMatMul", fused ? 9 : 8, in, 1);
    if (fused) {
        free(n->domain);
        n->domain = strdup("ai.kompress");
        kp_node_set_attr_int(n, "relu", 1);
    }
    kp_error e;
    kp_tensor *y = NULL;
    if (kp_op_call(n, 13, fused ? 9 : 8, in, 1, &y, &e)) fail_msg("%s", e.msg);
    assert_int_equal(y->dtype, yt);
    int32_t lo = yt == KP_UINT8 ? 0 : -128, hi = yt == KP_UINT8 ? 255 : 127, z = at(zy, 0);
    if (fused && z > lo) lo = z;
    for (int64_t bb = 0; bb < B; bb++)
        for (int64_t m = 0; m < M; m++)
            for (int64_t j = 0; j < N; j++) {
                int32_t acc = fused ? ((int32_t *)bias->data)[j] : 0;
                for (int64_t k = 0; k < K; k++)
                    acc += (at(a, (bb * M + m) * K + k) - 7) * at(b, k * N + j);
                float mult = ((float *)sa->data)[per_row ? m : 0] *
                             ((float *)sb->data)[per_col ? j : 0] / 0.05f;
                int32_t want = kp_i8_requant(acc, mult, z, lo, hi);
                int32_t got = at(y, (bb * M + m) * N + j);
                if (got != want)
                    fail_msg("%s B%lld M%lld K%lld N%lld %s row%d col%d: y[%lld][%lld][%lld] = %d, "
                             "want %d",
                             fused ? "QGemm" : "QLinearMatMul", (long long)B, (long long)M,
                             (long long)K, (long long)N, kp_dtype_name(yt), per_row, per_col,
                             (long long)bb, (long long)m, (long long)j, got, want);
            }
    kp_tensor *all[] = {a, b, sa, sb, za, zb, sy, zy, bias, y};
    free_all(10, all);
    kp_node_free(n);
}

static void qlinear_matmul_exact(void **state) {
    (void)state;
    static const int64_t shapes[][4] = {
        {1, 1, 784, 256}, {2, 5, 37, 21}, {1, 64, 256, 10}, {3, 4, 16, 33}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int t = 0; t < 2; t++)
            for (int pr = 0; pr < 2; pr++)
                for (int pc = 0; pc < 2; pc++)
                    for (int fused = 0; fused < 2; fused++)
                        check(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3],
                              t ? KP_INT8 : KP_UINT8, pr, pc, fused);
}

int main(void) {
    rnd_seed(2718);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(qlinear_matmul_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
