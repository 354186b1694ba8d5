/* int8 GEMM: every SIMD path bit-exact against the plain reference, all signedness and
 * zero-point combinations, odd sizes (K not a multiple of 4, N not of 16, M not of 4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ophelp.h"

#include "core/cpu.h"
#include "core/ops/int8_gemm.h"

static void one(int64_t M, int64_t K, int64_t N, int as, int bs, int per_row, int per_col,
                int small_b, const char *path) {
    uint8_t *A = malloc((size_t)(M * K)), *B = malloc((size_t)(K * N));
    uint8_t za[64], zb[80];
    int32_t *C = malloc((size_t)(M * N) * 4), *R = malloc((size_t)(M * N) * 4);
    for (int64_t i = 0; i < M * K; i++) A[i] = (uint8_t)rnd_u32();
    for (int64_t i = 0; i < K * N; i++) {
        B[i] = (uint8_t)rnd_u32();
        if (small_b)
            B[i] = bs ? (uint8_t)(int8_t)((int)(rnd_u32() % 128) - 64)
                      : (uint8_t)(64 + rnd_u32() % 128);
    }
    for (int i = 0; i < 64; i++) za[i] = (uint8_t)rnd_u32();
    for (int i = 0; i < 80; i++) zb[i] = small_b ? (bs ? 0 : 128) : (uint8_t)rnd_u32();
    size_t nza = per_row ? (size_t)M : 1, nzb = per_col ? (size_t)N : 1;
    kp_i8_gemm_ref(A, as, B, bs, M, K, N, za, nza, zb, nzb, R);
    kp_i8_packed p;
    kp_i8_rows r = {0};
    kp_error e = {0};
    assert_int_equal(kp_i8_pack(B, bs, 0, K, N, N, zb, nzb, &p, &e), 0);
    assert_int_equal(kp_i8_rows_prepare(&r, A, as, M, K, K, za, nza, &e), 0);
    memset(C, 0x55, (size_t)(M * N) * 4);
    kp_i8_gemm(&r, &p, C, N, path);
    for (int64_t i = 0; i < M * N; i++)
        if (C[i] != R[i])
            fail_msg("path %s M%lld K%lld N%lld as%d bs%d: C[%lld]=%d want %d", path, (long long)M,
                     (long long)K, (long long)N, as, bs, (long long)i, C[i], R[i]);
    /* transposed B packs to the same thing */
    uint8_t *BT = malloc((size_t)(K * N));
    for (int64_t k = 0; k < K; k++)
        for (int64_t n = 0; n < N; n++) BT[n * K + k] = B[k * N + n];
    kp_i8_packed pt;
    assert_int_equal(kp_i8_pack(BT, bs, 1, K, N, K, zb, nzb, &pt, &e), 0);
    assert_memory_equal(pt.data, p.data, (size_t)(p.panels * p.kq * 64));
    kp_i8_packed_free(&pt);
    kp_i8_packed_free(&p);
    kp_i8_rows_free(&r);
    free(A);
    free(B);
    free(BT);
    free(C);
    free(R);
}

static void all_paths(void **state) {
    (void)state;
    const char *paths[] = {"c", "avx2", "avx-vnni", "avx512-vnni"};
    const int64_t shapes[][3] = {{1, 1, 1},   {3, 5, 7},     {4, 16, 16},  {7, 33, 17},
                                 {9, 64, 40}, {13, 300, 80}, {64, 784, 33}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int as = 0; as < 2; as++)
            for (int bs = 0; bs < 2; bs++)
                for (size_t p = 0; p < 4; p++) {
                    int small = !strcmp(paths[p], "avx2");
                    one(shapes[s][0], shapes[s][1], shapes[s][2], as, bs, (int)(s & 1),
                        (int)((s >> 1) & 1), small, paths[p]);
                }
}

static void avx2_needs_small_weights(void **state) {
    (void)state;
    int8_t B[16 * 4];
    for (int i = 0; i < 64; i++) B[i] = (int8_t)(i % 2 ? 100 : -3);
    kp_i8_packed p;
    kp_error e = {0};
    assert_int_equal(kp_i8_pack(B, 1, 0, 4, 16, 16, NULL, 0, &p, &e), 0);
    assert_false(p.small);
    const kp_cpu_features *f = kp_cpu();
    if (f->avx2 && !f->avxvnni && !f->avx512vnni) assert_string_equal(kp_i8_gemm_path(&p), "c");
    kp_i8_packed_free(&p);
    assert_int_equal(kp_i8_pack(B, 1, 0, 0, 16, 16, NULL, 0, &p, &e), KP_ERANGE);
}

static void requant_rounding(void **state) {
    (void)state;
    assert_int_equal(kp_i8_requant(5, 0.5f, 0, 0, 255), 2); /* 2.5 -> 2 (even) */
    assert_int_equal(kp_i8_requant(7, 0.5f, 0, 0, 255), 4); /* 3.5 -> 4 */
    assert_int_equal(kp_i8_requant(-5, 0.5f, 0, -128, 127), -2);
    assert_int_equal(kp_i8_requant(1000, 1.f, 10, 0, 255), 255);
    assert_int_equal(kp_i8_requant(-1000, 1.f, 10, -128, 127), -128);
}

static void byte_transpose(void **state) {
    (void)state;
    for (int rows = 1; rows < 70; rows += 3)
        for (int cols = 1; cols < 70; cols += 5) {
            uint8_t *s = malloc((size_t)(rows * cols)), *d = malloc((size_t)(rows * cols));
            for (int i = 0; i < rows * cols; i++) s[i] = (uint8_t)(i * 7 + 3);
            kp_u8_transpose(s, rows, cols, d);
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) assert_int_equal(d[c * rows + r], s[r * cols + c]);
            free(s);
            free(d);
        }
}

int main(void) {
    rnd_seed(12345);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(all_paths), cmocka_unit_test(avx2_needs_small_weights),
        cmocka_unit_test(requant_rounding), cmocka_unit_test(byte_transpose)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
