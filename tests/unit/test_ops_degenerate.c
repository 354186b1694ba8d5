/* Regression tests for kernel bugs found by tests/tools/fuzz_ops under UBSan: empty tensors
 * (data may be NULL) in Conv, ConvInteger and LayerNormalization, and NaN in QuantizeLinear.
 * Each case checks the values ONNX implies, not only that the call survives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ophelp.h"

/* Conv with zero input channels: every output is the bias. */
static void conv_empty_channels(void **state) {
    (void)state;
    kp_error e;
    kp_tensor *x = tt(KP_FLOAT, 4, D(1, 0, 3, 3), NULL);
    kp_tensor *w = tt(KP_FLOAT, 4, D(2, 0, 1, 1), NULL);
    kp_tensor *b = tt(KP_FLOAT, 1, D(2), V(1.5, -2));
    const kp_tensor *in[3] = {x, w, b};
    kp_tensor *out[1] = {0};
    kp_node *n = mknode("Conv", 3, in, 1);
    assert_int_equal(run(n, 13, 3, in, 1, out, &e), 0);
    double want[18];
    for (int i = 0; i < 18; i++) want[i] = i < 9 ? 1.5 : -2;
    assert_true(close_to(out[0], 4, D(1, 2, 3, 3), want));
    free_all(1, out);
    kp_node_free(n);
    kp_tensor *all[] = {x, w, b};
    free_all(3, all);
}

/* Conv on an empty image made non-empty by padding: all taps read padding, Y = bias. */
static void conv_empty_image_padded(void **state) {
    (void)state;
    kp_error e;
    kp_tensor *x = tt(KP_FLOAT, 4, D(1, 1, 0, 0), NULL);
    kp_tensor *w = tramp(4, D(1, 1, 1, 1), 1, 3);
    kp_tensor *b = tt(KP_FLOAT, 1, D(1), V(0.25));
    const kp_tensor *in[3] = {x, w, b};
    kp_tensor *out[1] = {0};
    kp_node *n = mknode("Conv", 3, in, 1);
    assert_int_equal(kp_node_set_attr_ints(n, "pads", 4, D(1, 1, 1, 1)), 0);
    assert_int_equal(run(n, 13, 3, in, 1, out, &e), 0);
    assert_true(close_to(out[0], 4, D(1, 1, 2, 2), V(0.25, 0.25, 0.25, 0.25)));
    free_all(1, out);
    /* Without bias: zeros. */
    const kp_tensor *in2[2] = {x, w};
    assert_int_equal(run(n, 13, 2, in2, 1, out, &e), 0);
    assert_true(close_to(out[0], 4, D(1, 1, 2, 2), V(0, 0, 0, 0)));
    free_all(1, out);
    kp_node_free(n);
    kp_tensor *all[] = {x, w, b};
    free_all(3, all);
}

/* ConvInteger with zero input channels: the int32 accumulators are all 0. */
static void conv_integer_empty(void **state) {
    (void)state;
    kp_error e;
    kp_tensor *x = tt(KP_UINT8, 4, D(1, 0, 2, 2), NULL);
    kp_tensor *w = tt(KP_UINT8, 4, D(3, 0, 1, 1), NULL);
    const kp_tensor *in[2] = {x, w};
    kp_tensor *out[1] = {0};
    kp_node *n = mknode("ConvInteger", 2, in, 1);
    assert_int_equal(run(n, 10, 2, in, 1, out, &e), 0);
    assert_int_equal(out[0]->dtype, KP_INT32);
    double want[12] = {0};
    assert_true(close_to(out[0], 4, D(1, 3, 2, 2), want));
    free_all(1, out);
    kp_node_free(n);
    kp_tensor *all[] = {x, w};
    free_all(2, all);
}

/* LayerNormalization over an empty axis: Y is empty, Mean 0, InvStdDev 1/sqrt(epsilon). */
static void layernorm_empty_axis(void **state) {
    (void)state;
    kp_error e;
    kp_tensor *x = tt(KP_FLOAT, 2, D(2, 0), NULL);
    kp_tensor *s = tt(KP_FLOAT, 1, D(0), NULL);
    const kp_tensor *in[2] = {x, s};
    kp_tensor *out[3] = {0};
    kp_node *n = mknode("LayerNormalization", 2, in, 3);
    assert_int_equal(kp_node_set_attr_float(n, "epsilon", 0.25f), 0);
    assert_int_equal(run(n, 17, 2, in, 3, out, &e), 0);
    assert_int_equal(out[0]->numel, 0);
    assert_true(close_to(out[1], 2, D(2, 1), V(0, 0)));
    assert_true(close_to(out[2], 2, D(2, 1), V(2, 2)));
    free_all(3, out);
    kp_node_free(n);
    kp_tensor *all[] = {x, s};
    free_all(2, all);
}

/* QuantizeLinear: NaN becomes 0 on both the per-tensor float fast path (uint8, int8) and the
 * generic path (float16 input), never an undefined float-to-integer conversion. */
static void quantize_nan(void **state) {
    (void)state;
    kp_error e;
    kp_tensor *x = tt(KP_FLOAT, 1, D(3), V(NAN, 2, -2));
    kp_tensor *s = tt(KP_FLOAT, 0, NULL, V(1));
    kp_tensor *zu = tt(KP_UINT8, 0, NULL, V(128));
    kp_tensor *zi = tt(KP_INT8, 0, NULL, V(1));
    kp_tensor *xh = tt(KP_FLOAT16, 1, D(3), V(NAN, 2, -2));
    const kp_tensor *in[3] = {x, s, zu};
    kp_tensor *out[1] = {0};
    kp_node *n = mknode("QuantizeLinear", 3, in, 1);
    assert_int_equal(run(n, 19, 3, in, 1, out, &e), 0);
    assert_true(close_to(out[0], 1, D(3), V(0, 130, 126)));
    free_all(1, out);
    const kp_tensor *in2[3] = {x, s, zi};
    assert_int_equal(run(n, 19, 3, in2, 1, out, &e), 0);
    assert_true(close_to(out[0], 1, D(3), V(0, 3, -1)));
    free_all(1, out);
    const kp_tensor *in3[3] = {xh, s, zu};
    assert_int_equal(run(n, 19, 3, in3, 1, out, &e), 0);
    assert_true(close_to(out[0], 1, D(3), V(0, 130, 126)));
    free_all(1, out);
    kp_node_free(n);
    kp_tensor *all[] = {x, s, zu, zi, xh};
    free_all(5, all);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv_empty_channels), cmocka_unit_test(conv_empty_image_padded),
        cmocka_unit_test(conv_integer_empty),  cmocka_unit_test(layernorm_empty_axis),
        cmocka_unit_test(quantize_nan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
