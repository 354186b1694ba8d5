/* Reductions, ArgMax/ArgMin, Softmax family and CumSum, including the axes-attribute vs
 * axes-input forms (ReduceSum at 13, the others at 18), noop_with_empty_axes, and Softmax's
 * 2-D coercion before opset 13. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ophelp.h"

static void expect1(kp_node *n, int64_t opset, size_t n_in, const kp_tensor *const *in, int rank,
                    const int64_t *dims, const double *want) {
    kp_tensor *out[1];
    kp_error e;
    int rc = run(n, opset, n_in, in, 1, out, &e);
    if (rc) fail_msg("%s opset %lld: %s", n->op_type, (long long)opset, e.msg);
    if (!close_to(out[0], rank, dims, want))
        fail_msg("%s opset %lld", n->op_type, (long long)opset);
    free_all(1, out);
}

static void reduce_axes_forms(void **state) {
    (void)state;
    /* x = [[[0,1],[2,3],[4,5]], [[6,7],[8,9],[10,11]]] */
    kp_tensor *x = tramp(3, D(2, 3, 2), 1, 0);
    const kp_tensor *in1[1] = {x};
    kp_node *n = mknode("ReduceSum", 1, in1, 1);
    kp_node_set_attr_ints(n, "axes", 1, D(1));
    expect1(n, 11, 1, in1, 3, D(2, 1, 2), V(6, 9, 24, 27)); /* attribute before 13 */
    kp_node_set_attr_int(n, "keepdims", 0);
    expect1(n, 11, 1, in1, 2, D(2, 2), V(6, 9, 24, 27));
    kp_node_free(n);
    kp_tensor *ax = tt(KP_INT64, 1, D(2), V(0, -1));
    const kp_tensor *in2[2] = {x, ax};
    n = mknode("ReduceSum", 2, in2, 1);
    expect1(n, 13, 2, in2, 3, D(1, 3, 1), V(14, 22, 30)); /* input from 13 */
    kp_node_free(n);
    kp_tensor *none = tt(KP_INT64, 1, D(0), NULL);
    const kp_tensor *in3[2] = {x, none};
    n = mknode("ReduceSum", 2, in3, 1);
    expect1(n, 13, 2, in3, 3, D(1, 1, 1), V(66)); /* empty axes: everything */
    kp_node_set_attr_int(n, "noop_with_empty_axes", 1);
    double id[12];
    for (int i = 0; i < 12; i++) id[i] = i;
    expect1(n, 13, 2, in3, 3, D(2, 3, 2), id); /* ... or nothing */
    kp_node_free(n);
    /* ReduceMean keeps the attribute until 17 and takes the input from 18 */
    n = mknode("ReduceMean", 1, in1, 1);
    kp_node_set_attr_ints(n, "axes", 1, D(2));
    expect1(n, 13, 1, in1, 3, D(2, 3, 1), V(0.5, 2.5, 4.5, 6.5, 8.5, 10.5));
    kp_node_free(n);
    n = mknode("ReduceMean", 2, in2, 1);
    expect1(n, 18, 2, in2, 3, D(1, 3, 1), V(3.5, 5.5, 7.5));
    kp_node_free(n);
    const char *ops[] = {"ReduceMax", "ReduceMin",       "ReduceProd",     "ReduceL1",
                         "ReduceL2",  "ReduceSumSquare", "ReduceLogSumExp"};
    const double want[][3] = {{7, 9, 11},
                              {0, 2, 4},
                              {0, 2 * 3 * 8 * 9, 4 * 5 * 10 * 11},
                              {14, 22, 30},
                              {sqrt(86), sqrt(158), sqrt(262)},
                              {86, 158, 262},
                              {7.31573737, 9.31573737, 11.31573737}};
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
        n = mknode(ops[k], 2, in2, 1);
        expect1(n, 18, 2, in2, 3, D(1, 3, 1), want[k]);
        kp_node_free(n);
    }
    kp_tensor *dup = tt(KP_INT64, 1, D(2), V(1, -2));
    const kp_tensor *in4[2] = {x, dup};
    n = mknode("ReduceSum", 2, in4, 1);
    kp_tensor *out[1];
    kp_error e;
    assert_int_equal(run(n, 13, 2, in4, 1, out, &e), KP_EINVAL); /* axis listed twice */
    kp_node_free(n);
    kp_tensor_free(x);
    kp_tensor_free(ax);
    kp_tensor_free(none);
    kp_tensor_free(dup);
}

static void argmax_forms(void **state) {
    (void)state;
    kp_tensor *x = tt(KP_FLOAT, 2, D(2, 3), V(1, 5, 5, 7, 2, 7));
    const kp_tensor *in[1] = {x};
    kp_node *n = mknode("ArgMax", 1, in, 1);
    kp_node_set_attr_int(n, "axis", 1);
    expect1(n, 13, 1, in, 2, D(2, 1), V(1, 0));
    kp_node_set_attr_int(n, "select_last_index", 1);
    kp_node_set_attr_int(n, "keepdims", 0);
    expect1(n, 13, 1, in, 1, D(2), V(2, 2));
    kp_node_free(n);
    n = mknode("ArgMin", 1, in, 1);
    expect1(n, 13, 1, in, 2, D(1, 3), V(0, 1, 0));
    kp_node_free(n);
    kp_tensor_free(x);
}

static void softmax_forms(void **state) {
    (void)state;
    kp_tensor *x = tt(KP_FLOAT, 3, D(1, 2, 2), V(0, 1, 2, 3));
    const kp_tensor *in[1] = {x};
    kp_node *n = mknode("Softmax", 1, in, 1);
    /* opset 11, axis 1: coerced to [1, 4], one softmax over all four values */
    double s = 1 + exp(1) + exp(2) + exp(3);
    expect1(n, 11, 1, in, 3, D(1, 2, 2), V(1 / s, exp(1) / s, exp(2) / s, exp(3) / s));
    /* opset 13, axis 1: softmax over the two rows separately for each column */
    double a = 1 / (1 + exp(2)), b = exp(2) / (1 + exp(2));
    kp_node_set_attr_int(n, "axis", 1);
    expect1(n, 13, 1, in, 3, D(1, 2, 2), V(a, a, b, b));
    kp_node_free(n);
    n = mknode("LogSoftmax", 1, in, 1); /* default axis -1 from 13 */
    double l = log(1 + exp(1));
    expect1(n, 13, 1, in, 3, D(1, 2, 2), V(-l, 1 - l, -l, 1 - l));
    kp_node_free(n);
    /* large inputs do not overflow */
    kp_tensor *big = tt(KP_FLOAT, 1, D(2), V(10000, 10000));
    const kp_tensor *bin[1] = {big};
    n = mknode("Softmax", 1, bin, 1);
    expect1(n, 13, 1, bin, 1, D(2), V(0.5, 0.5));
    kp_node_free(n);
    kp_tensor_free(x);
    kp_tensor_free(big);
}

static void cumsum_forms(void **state) {
    (void)state;
    kp_tensor *x = tt(KP_FLOAT, 2, D(2, 3), V(1, 2, 3, 4, 5, 6)), *ax = tt(KP_INT32, 0, NULL, V(1));
    const kp_tensor *in[2] = {x, ax};
    kp_node *n = mknode("CumSum", 2, in, 1);
    expect1(n, 14, 2, in, 2, D(2, 3), V(1, 3, 6, 4, 9, 15));
    kp_node_set_attr_int(n, "exclusive", 1);
    kp_node_set_attr_int(n, "reverse", 1);
    expect1(n, 14, 2, in, 2, D(2, 3), V(5, 3, 0, 11, 6, 0));
    kp_node_free(n);
    kp_tensor_free(x);
    kp_tensor_free(ax);
}

static void einsum_forms(void **state) {
    (void)state;
    kp_tensor *a = tramp(2, D(2, 3), 1, 0), *b = tramp(2, D(3, 2), 1, 1);
    const kp_tensor *in[2] = {a, b};
    kp_node *n = mknode("Einsum", 2, in, 1);
    kp_node_set_attr_string(n, "equation", "ij,jk->ik");
    /* [[0,1,2],[3,4,5]] x [[1,2],[3,4],[5,6]] */
    expect1(n, 12, 2, in, 2, D(2, 2), V(13, 16, 40, 52));
    kp_node_set_attr_string(n, "equation", "ij, jk"); /* implicit output: ik */
    expect1(n, 12, 2, in, 2, D(2, 2), V(13, 16, 40, 52));
    kp_node_set_attr_string(n, "equation", "ij,jk->");
    expect1(n, 12, 2, in, 0, NULL, V(121));
    kp_node_set_attr_string(n, "equation", "ij,jk->x");
    kp_tensor *out[1];
    kp_error e;
    assert_int_equal(run(n, 12, 2, in, 1, out, &e), KP_EINVAL);
    kp_node_free(n);
    kp_tensor *sq = tramp(3, D(2, 2, 2), 1, 0);
    const kp_tensor *in1[1] = {sq};
    n = mknode("Einsum", 1, in1, 1);
    kp_node_set_attr_string(n, "equation", "...ii->...i"); /* batch diagonal */
    expect1(n, 12, 1, in1, 2, D(2, 2), V(0, 3, 4, 7));
    kp_node_free(n);
    kp_tensor_free(a);
    kp_tensor_free(b);
    kp_tensor_free(sq);
}

static void loss_forms(void **state) {
    (void)state;
    kp_tensor *x = tt(KP_FLOAT, 2, D(2, 3), V(-1, -2, -3, -4, -5, -6)),
              *t = tt(KP_INT64, 1, D(2), V(2, 0)), *w = tt(KP_FLOAT, 1, D(3), V(1, 2, 3));
    const kp_tensor *in[3] = {x, t, w};
    kp_node *n = mknode("NegativeLogLikelihoodLoss", 3, in, 1);
    expect1(n, 13, 3, in, 0, NULL, V((9.0 + 4.0) / 4.0)); /* mean weighs by w[target] */
    kp_node_set_attr_string(n, "reduction", "none");
    expect1(n, 13, 3, in, 1, D(2), V(9, 4));
    kp_node_set_attr_int(n, "ignore_index", 0);
    kp_node_set_attr_string(n, "reduction", "sum");
    expect1(n, 13, 3, in, 0, NULL, V(9));
    kp_node_free(n);
    kp_tensor *bad = tt(KP_INT64, 1, D(2), V(3, 0));
    const kp_tensor *bin[2] = {x, bad};
    n = mknode("NegativeLogLikelihoodLoss", 2, bin, 1);
    kp_tensor *out[1];
    kp_error e;
    assert_int_equal(run(n, 13, 2, bin, 1, out, &e), KP_EINVAL); /* class 3 of 3 */
    kp_node_free(n);
    const kp_tensor *sin_[2] = {x, t};
    n = mknode("SoftmaxCrossEntropyLoss", 2, sin_, 1);
    double l0 = 3 - 1 + log(1 + exp(-1) + exp(-2)) - 0; /* -log_softmax(x0)[2] */
    double lse1 = -4 + log(1 + exp(-1) + exp(-2));
    double l1 = -(-4 - lse1);
    expect1(n, 13, 2, sin_, 0, NULL, V((l0 + l1) / 2));
    kp_node_free(n);
    kp_tensor_free(x);
    kp_tensor_free(t);
    kp_tensor_free(w);
    kp_tensor_free(bad);
}

static void nms_det(void **state) {
    (void)state;
    /* three boxes: 0 and 1 overlap heavily (IoU 0.9), 2 is apart */
    kp_tensor *boxes = tt(KP_FLOAT, 3, D(1, 3, 4), V(0, 0, 1, 1, 0, 0.1, 1, 1.0, 5, 5, 6, 6)),
              *scores = tt(KP_FLOAT, 3, D(1, 1, 3), V(0.8, 0.9, 0.3)),
              *maxo = tt(KP_INT64, 1, D(1), V(10)), *iou = tt(KP_FLOAT, 1, D(1), V(0.5)),
              *st = tt(KP_FLOAT, 1, D(1), V(0.25));
    const kp_tensor *in[5] = {boxes, scores, maxo, iou, st};
    kp_node *n = mknode("NonMaxSuppression", 5, in, 1);
    expect1(n, 11, 5, in, 2, D(2, 3), V(0, 0, 1, 0, 0, 2));
    ((float *)st->data)[0] = 0.5f; /* box 2 scores below */
    expect1(n, 11, 5, in, 2, D(1, 3), V(0, 0, 1));
    kp_node_free(n);
    kp_tensor *m = tt(KP_FLOAT, 3, D(2, 2, 2), V(1, 2, 3, 4, 0, 1, 1, 0));
    const kp_tensor *min[1] = {m};
    n = mknode("Det", 1, min, 1);
    expect1(n, 11, 1, min, 1, D(2), V(-2, -1));
    kp_node_free(n);
    kp_tensor_free(boxes);
    kp_tensor_free(scores);
    kp_tensor_free(maxo);
    kp_tensor_free(iou);
    kp_tensor_free(st);
    kp_tensor_free(m);
}

/* ONNX's test_adam_multiple case, with the epsilon its expected values were computed with. */
static void adam_update(void **state) {
    (void)state;
    kp_tensor *r = tt(KP_FLOAT, 0, NULL, V(0.1)), *t = tt(KP_INT64, 0, NULL, V(0)),
              *x = tt(KP_FLOAT, 1, D(1), V(1)), *g = tt(KP_FLOAT, 1, D(1), V(-1)),
              *v = tt(KP_FLOAT, 1, D(1), V(2)), *h = tt(KP_FLOAT, 1, D(1), V(0.5));
    const kp_tensor *in[6] = {r, t, x, g, v, h};
    kp_node *n = mknode("Adam", 6, in, 3);
    free(n->domain);
    n->domain = strdup("ai.onnx.preview.training");
    kp_node_set_attr_float(n, "alpha", 0.95f);
    kp_node_set_attr_float(n, "beta", 0.85f);
    kp_node_set_attr_float(n, "norm_coefficient", 0.001f);
    kp_node_set_attr_float(n, "epsilon", 0.01f);
    kp_tensor *out[3];
    kp_error e;
    assert_int_equal(run(n, 1, 6, in, 3, out, &e), 0);
    assert_true(close_to(out[0], 1, D(1), V(0.75913626)));
    assert_true(close_to(out[1], 1, D(1), V(1.85005)));
    assert_true(close_to(out[2], 1, D(1), V(0.5747002)));
    free_all(3, out);
    kp_node_free(n);
    kp_tensor_free(r);
    kp_tensor_free(t);
    kp_tensor_free(x);
    kp_tensor_free(g);
    kp_tensor_free(v);
    kp_tensor_free(h);
}

/* Integer reductions stay exact past 2^53. */
static void reduce_int_exact(void **state) {
    (void)state;
    kp_tensor *x = tt(KP_INT64, 2, D(2, 2), NULL);
    int64_t *p = x->data;
    p[0] = (INT64_C(1) << 60) + 1, p[1] = 1, p[2] = -5, p[3] = (INT64_C(1) << 60) + 3;
    const kp_tensor *in[1] = {x};
    kp_node *n = mknode("ReduceSum", 1, in, 1);
    kp_node_set_attr_int(n, "keepdims", 0);
    kp_tensor *out[1];
    kp_error e;
    assert_int_equal(run(n, 11, 1, in, 1, out, &e), 0);
    assert_true(((int64_t *)out[0]->data)[0] == (INT64_C(1) << 61) + 0);
    free_all(1, out);
    kp_node_free(n);
    n = mknode("ReduceMax", 1, in, 1);
    kp_node_set_attr_ints(n, "axes", 1, D(1));
    assert_int_equal(run(n, 13, 1, in, 1, out, &e), 0);
    assert_true(((int64_t *)out[0]->data)[0] == (INT64_C(1) << 60) + 1);
    assert_true(((int64_t *)out[0]->data)[1] == (INT64_C(1) << 60) + 3);
    free_all(1, out);
    kp_node_free(n);
    kp_tensor_free(x);
}

/* More opset-dependent forms: ReduceMax at 18 with the axes input omitted (all) or empty with
 * noop; LogSoftmax and Hardmax coercion before 13; Dropout's mask dtype before 10. */
static void more_opset_forms(void **state) {
    (void)state;
    kp_tensor *x = tt(KP_FLOAT, 2, D(2, 2), V(1, 4, 3, 2));
    const kp_tensor *in1[1] = {x};
    kp_node *n = mknode("ReduceMax", 1, in1, 1);
    expect1(n, 18, 1, in1, 2, D(1, 1), V(4)); /* no axes input: every axis */
    kp_node_free(n);
    kp_tensor *empty = tt(KP_INT64, 1, D(0), NULL);
    const kp_tensor *in2[2] = {x, empty};
    n = mknode("ReduceMax", 2, in2, 1);
    kp_node_set_attr_int(n, "noop_with_empty_axes", 1);
    expect1(n, 18, 2, in2, 2, D(2, 2), V(1, 4, 3, 2));
    kp_node_free(n);
    n = mknode("ReduceMin", 1, in1, 1); /* opset 13: axes attribute */
    kp_node_set_attr_ints(n, "axes", 1, D(0));
    expect1(n, 13, 1, in1, 2, D(1, 2), V(1, 2));
    kp_node_free(n);
    /* Hardmax at opset 11 over the coerced [1, 4] vs at 13 over the last axis */
    kp_tensor *h = tt(KP_FLOAT, 3, D(1, 2, 2), V(1, 4, 3, 2));
    const kp_tensor *hin[1] = {h};
    n = mknode("Hardmax", 1, hin, 1);
    expect1(n, 11, 1, hin, 3, D(1, 2, 2), V(0, 1, 0, 0));
    expect1(n, 13, 1, hin, 3, D(1, 2, 2), V(0, 1, 1, 0));
    kp_node_free(n);
    n = mknode("LogSoftmax", 1, hin, 1);
    double l4 = log(exp(1) + exp(4) + exp(3) + exp(2));
    expect1(n, 11, 1, hin, 3, D(1, 2, 2), V(1 - l4, 4 - l4, 3 - l4, 2 - l4));
    kp_node_free(n);
    n = mknode("Dropout", 1, in1, 2);
    kp_tensor *out[2];
    kp_error e;
    assert_int_equal(run(n, 7, 1, in1, 2, out, &e), 0); /* mask has the input's type */
    assert_int_equal(out[1]->dtype, KP_FLOAT);
    free_all(2, out);
    kp_node_free(n);
    kp_tensor_free(x);
    kp_tensor_free(empty);
    kp_tensor_free(h);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reduce_axes_forms), cmocka_unit_test(argmax_forms),
        cmocka_unit_test(softmax_forms),     cmocka_unit_test(cumsum_forms),
        cmocka_unit_test(einsum_forms),      cmocka_unit_test(loss_forms),
        cmocka_unit_test(nms_det),           cmocka_unit_test(adam_update),
        cmocka_unit_test(reduce_int_exact),  cmocka_unit_test(more_opset_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
