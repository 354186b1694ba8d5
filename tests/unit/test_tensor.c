#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "core/tensor.h"

static void dtypes(void **state) {
    (void)state;
    assert_int_equal(kp_dtype_size(KP_FLOAT), 4);
    assert_int_equal(kp_dtype_size(KP_COMPLEX128), 16);
    assert_int_equal(kp_dtype_size(KP_STRING), 0);
    assert_int_equal(kp_dtype_size((kp_dtype)99), 0);
    int ok;
    assert_int_equal(kp_dtype_bytes(KP_INT4, 5, &ok), 3);
    assert_true(ok);
    assert_int_equal(kp_dtype_bytes(KP_DOUBLE, INT64_MAX / 2, &ok), 0);
    assert_false(ok);
    assert_string_equal(kp_dtype_name(KP_FLOAT16), "float16");
    assert_string_equal(kp_dtype_name((kp_dtype)77), "?");
    assert_int_equal(kp_dtype_from_name("bfloat16"), KP_BFLOAT16);
    assert_int_equal(kp_dtype_from_name("nope"), KP_UNDEFINED);
    assert_true(kp_dtype_valid(KP_INT4));
    assert_false(kp_dtype_valid(0));
    assert_false(kp_dtype_valid(KP_DTYPE_COUNT));
}

static void shapes(void **state) {
    (void)state;
    kp_error e;
    int64_t n = -5;
    int64_t d[3] = {2, 3, 4};
    assert_int_equal(kp_shape_numel(3, d, &n, &e), 0);
    assert_int_equal(n, 24);
    assert_int_equal(kp_shape_numel(0, d, &n, &e), 0);
    assert_int_equal(n, 1);
    int64_t neg[2] = {2, -1};
    assert_int_equal(kp_shape_numel(2, neg, &n, &e), KP_ERANGE);
    assert_non_null(strstr(e.msg, "negative"));
    int64_t huge[3] = {1 << 20, 1 << 20, 1 << 20};
    assert_int_equal(kp_shape_numel(3, huge, &n, &e), KP_ERANGE);
    assert_int_equal(kp_shape_numel(KP_MAX_RANK + 1, d, &n, &e), KP_ERANGE);
    int64_t zero[2] = {0, INT64_MAX};
    assert_int_equal(kp_shape_numel(2, zero, &n, &e), 0);
    assert_int_equal(n, 0);
    char buf[64];
    assert_string_equal(kp_shape_str(3, d, buf, sizeof buf), "2x3x4");
    assert_string_equal(kp_shape_str(0, d, buf, sizeof buf), "scalar");
    char tiny[4];
    kp_shape_str(3, d, tiny, sizeof tiny);
    assert_int_equal(strlen(tiny), 3);
}

static void new_clone_equal(void **state) {
    (void)state;
    kp_error e;
    int64_t d[2] = {2, 3};
    kp_tensor *t = kp_tensor_new(KP_FLOAT, 2, d, &e);
    assert_non_null(t);
    assert_int_equal(t->numel, 6);
    assert_int_equal(t->nbytes, 24);
    for (int i = 0; i < 6; i++) ((float *)t->data)[i] = (float)i * 0.5f;
    assert_int_equal(kp_tensor_set_name(t, "w"), 0);
    kp_tensor *c = kp_tensor_clone(t, &e);
    assert_non_null(c);
    assert_string_equal(c->name, "w");
    assert_true(kp_tensor_equal(t, c));
    assert_true(kp_tensor_get(c, 5) == 2.5);
    assert_true(kp_tensor_get(c, 6) == 0); /* out of range */
    ((float *)c->data)[1] = 9;
    assert_false(kp_tensor_equal(t, c));
    kp_tensor_free(c);
    kp_tensor_free(t);
    kp_tensor_free(NULL);
    assert_null(kp_tensor_new((kp_dtype)0, 2, d, &e));
    assert_int_equal(e.code, KP_EUNSUPPORTED);
    int64_t neg[1] = {-3};
    assert_null(kp_tensor_new(KP_FLOAT, 1, neg, &e));
    assert_int_equal(e.code, KP_ERANGE);

    kp_tensor *s = kp_tensor_new(KP_STRING, 1, d, &e);
    assert_non_null(s);
    assert_null(s->data);
    s->strings[0].data = (uint8_t *)strdup("hi");
    s->strings[0].len = 2;
    kp_tensor *s2 = kp_tensor_clone(s, &e);
    assert_true(kp_tensor_equal(s, s2));
    s2->strings[0].data[1] = 'o';
    assert_false(kp_tensor_equal(s, s2));
    kp_tensor_free(s);
    kp_tensor_free(s2);

    int64_t z[1] = {0};
    kp_tensor *empty = kp_tensor_new(KP_INT64, 1, z, &e);
    assert_non_null(empty);
    assert_null(empty->data);
    kp_tensor *ec = kp_tensor_clone(empty, &e);
    assert_true(kp_tensor_equal(empty, ec));
    kp_tensor_free(empty);
    kp_tensor_free(ec);
}

static void get_types(void **state) {
    (void)state;
    int64_t d[1] = {4};
    kp_tensor *t = kp_tensor_new(KP_INT4, 1, d, NULL);
    ((uint8_t *)t->data)[0] = 0xF7; /* elem0 = 7, elem1 = -1 */
    assert_true(kp_tensor_get(t, 0) == 7);
    assert_true(kp_tensor_get(t, 1) == -1);
    kp_tensor_free(t);
    t = kp_tensor_new(KP_FLOAT16, 1, d, NULL);
    ((uint16_t *)t->data)[0] = 0x3C00;
    ((uint16_t *)t->data)[1] = 0xC000;
    assert_true(kp_tensor_get(t, 0) == 1.0);
    assert_true(kp_tensor_get(t, 1) == -2.0);
    kp_tensor_free(t);
    t = kp_tensor_new(KP_FLOAT8E4M3FN, 1, d, NULL);
    ((uint8_t *)t->data)[0] = 0x38; /* 1.0 */
    ((uint8_t *)t->data)[1] = 0x7E; /* 448 */
    ((uint8_t *)t->data)[2] = 0x7F; /* nan */
    assert_true(kp_tensor_get(t, 0) == 1.0);
    assert_true(kp_tensor_get(t, 1) == 448.0);
    assert_true(isnan(kp_tensor_get(t, 2)));
    kp_tensor_free(t);
    t = kp_tensor_new(KP_BOOL, 1, d, NULL);
    ((uint8_t *)t->data)[2] = 5;
    assert_true(kp_tensor_get(t, 2) == 1.0);
    kp_tensor_free(t);
}

static void halfs(void **state) {
    (void)state;
    assert_int_equal(kp_f32_to_f16(1.0f), 0x3C00);
    assert_int_equal(kp_f32_to_f16(-2.0f), 0xC000);
    assert_int_equal(kp_f32_to_f16(65504.0f), 0x7BFF);
    assert_int_equal(kp_f32_to_f16(65520.0f), 0x7C00); /* rounds to inf */
    assert_int_equal(kp_f32_to_f16(1e-8f), 0x0000);
    assert_int_equal(kp_f32_to_f16(5.9604645e-8f), 0x0001); /* smallest subnormal */
    assert_int_equal(kp_f32_to_f16(INFINITY), 0x7C00);
    assert_true(isnan(kp_f16_to_f32(kp_f32_to_f16(NAN))));
    /* ties to even: 1 + 2^-11 is halfway between 1 and 1+2^-10 */
    assert_int_equal(kp_f32_to_f16(1.0f + 0.00048828125f), 0x3C00);
    assert_int_equal(kp_f32_to_f16(1.0f + 3 * 0.00048828125f), 0x3C02);
    /* every finite half survives a round trip */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7C00) == 0x7C00) continue;
        assert_int_equal(kp_f32_to_f16(kp_f16_to_f32((uint16_t)h)), h);
    }
    assert_true(kp_f16_to_f32(0x0001) == 5.9604645e-8f);
    assert_int_equal(kp_f32_to_bf16(1.0f), 0x3F80);
    assert_true(kp_bf16_to_f32(0x3F80) == 1.0f);
    assert_int_equal(kp_f32_to_bf16(1.00390625f), 0x3F80); /* tie -> even */
    assert_true(isnan(kp_bf16_to_f32(kp_f32_to_bf16(NAN))));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dtypes),    cmocka_unit_test(shapes), cmocka_unit_test(new_clone_equal),
        cmocka_unit_test(get_types), cmocka_unit_test(halfs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
