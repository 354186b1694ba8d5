/* Shape, index and misc kernels, with the attribute (old opset) and input (new opset) forms of
 * Reshape, Squeeze, Unsqueeze, Slice, Pad, Split, Dropout; bad input gives errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ophelp.h"

static kp_tensor *ints(int64_t n, const double *v) {
    return tt(KP_INT64, 1, &n, v);
}

/* Runs op with inputs, one output, expects success and the given float result. */
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

static void reshape_squeeze(void **state) {
    (void)state;
    kp_tensor *x = tramp(3, D(2, 3, 4), 1, 0);
    double w24[24];
    for (int i = 0; i < 24; i++) w24[i] = i;
    kp_tensor *sh = ints(3, V(0, -1, 2));
    const kp_tensor *in[2] = {x, sh};
    kp_node *n = mknode("Reshape", 2, in, 1);
    expect1(n, 13, 2, in, 3, D(2, 6, 2), w24); /* 0 copies the input dim */
    kp_node_set_attr_int(n, "allowzero", 1);
    kp_tensor *out[1];
    kp_error e;
    assert_int_equal(run(n, 14, 2, in, 1, out, &e), KP_EINVAL); /* 0 stays 0: -1 can't infer */
    kp_node_free(n);
    kp_tensor *bad = ints(2, V(5, -1));
    const kp_tensor *bin[2] = {x, bad};
    n = mknode("Reshape", 2, bin, 1);
    assert_int_equal(run(n, 13, 2, bin, 1, out, &e), KP_EINVAL);
    kp_node_free(n);

    kp_tensor *y = tramp(4, D(1, 3, 1, 2), 1, 0);
    const kp_tensor *yin[1] = {y};
    n = mknode("Squeeze", 1, yin, 1);
    expect1(n, 11, 1, yin, 2, D(3, 2), w24); /* no axes: every 1 */
    kp_node_set_attr_ints(n, "axes", 1, D(-2));
    expect1(n, 11, 1, yin, 3, D(1, 3, 2), w24); /* attribute before 13 */
    kp_node_set_attr_ints(n, "axes", 1, D(1));
    assert_int_equal(run(n, 11, 1, yin, 1, out, &e), KP_EINVAL); /* dim 3 is not 1 */
    kp_node_free(n);
    kp_tensor *ax = ints(1, V(0));
    const kp_tensor *yin2[2] = {y, ax};
    n = mknode("Squeeze", 2, yin2, 1);
    expect1(n, 13, 2, yin2, 3, D(3, 1, 2), w24); /* input from 13 */
    kp_node_free(n);

    n = mknode("Unsqueeze", 1, yin, 1);
    kp_node_set_attr_ints(n, "axes", 2, D(0, -1));
    expect1(n, 11, 1, yin, 6, D(1, 1, 3, 1, 2, 1), w24);
    kp_node_free(n);
    kp_tensor *ax2 = ints(2, V(4, 1));
    const kp_tensor *uin[2] = {y, ax2};
    n = mknode("Unsqueeze", 2, uin, 1);
    expect1(n, 13, 2, uin, 6, D(1, 1, 3, 1, 1, 2), w24);
    kp_node_free(n);

    n = mknode("Flatten", 1, (const kp_tensor *const[]){x}, 1);
    kp_node_set_attr_int(n, "axis", -1);
    expect1(n, 13, 1, (const kp_tensor *const[]){x}, 2, D(6, 4), w24);
    kp_node_set_attr_int(n, "axis", 0);
    expect1(n, 13, 1, (const kp_tensor *const[]){x}, 2, D(1, 24), w24);
    kp_node_free(n);

    n = mknode("Shape", 1, (const kp_tensor *const[]){x}, 1);
    expect1(n, 13, 1, (const kp_tensor *const[]){x}, 1, D(3), V(2, 3, 4));
    kp_node_set_attr_int(n, "start", -2);
    kp_node_set_attr_int(n, "end", 100);
    expect1(n, 15, 1, (const kp_tensor *const[]){x}, 1, D(2), V(3, 4));
    kp_node_free(n);
    kp_tensor_free(x);
    kp_tensor_free(sh);
    kp_tensor_free(bad);
    kp_tensor_free(y);
    kp_tensor_free(ax);
    kp_tensor_free(ax2);
}

static void slice_forms(void **state) {
    (void)state;
    kp_tensor *x = tramp(2, D(3, 5), 1, 0); /* rows 0..4, 5..9, 10..14 */
    const kp_tensor *in1[1] = {x};
    kp_node *n = mknode("Slice", 1, in1, 1);
    kp_node_set_attr_ints(n, "starts", 2, D(1, -4));
    kp_node_set_attr_ints(n, "ends", 2, D(1000, -1));
    expect1(n, 9, 1, in1, 2, D(2, 3), V(6, 7, 8, 11, 12, 13)); /* attributes before 10 */
    kp_node_free(n);
    kp_tensor *st = ints(1, V(-1)), *en = ints(1, V(INT64_MIN)), *axs = ints(1, V(1)),
              *sp = ints(1, V(-2));
    const kp_tensor *in5[5] = {x, st, en, axs, sp};
    n = mknode("Slice", 5, in5, 1);
    expect1(n, 13, 5, in5, 2, D(3, 3), V(4, 2, 0, 9, 7, 5, 14, 12, 10)); /* negative step */
    kp_node_free(n);
    kp_tensor *zero = ints(1, V(0));
    const kp_tensor *inz[5] = {x, st, en, axs, zero};
    n = mknode("Slice", 5, inz, 1);
    kp_tensor *out[1];
    kp_error e;
    assert_int_equal(run(n, 13, 5, inz, 1, out, &e), KP_EINVAL); /* step 0 */
    kp_node_free(n);
    kp_tensor_free(x);
    kp_tensor_free(st);
    kp_tensor_free(en);
    kp_tensor_free(axs);
    kp_tensor_free(sp);
    kp_tensor_free(zero);
}

static void pad_forms(void **state) {
    (void)state;
    kp_tensor *x = tt(KP_FLOAT, 2, D(2, 3), V(1, 2, 3, 4, 5, 6));
    const kp_tensor *in1[1] = {x};
    kp_node *n = mknode("Pad", 1, in1, 1);
    kp_node_set_attr_ints(n, "pads", 4, D(0, 1, 1, 0));
    kp_node_set_attr_float(n, "value", 9);
    expect1(n, 2, 1, in1, 2, D(3, 4), V(9, 1, 2, 3, 9, 4, 5, 6, 9, 9, 9, 9)); /* attributes */
    kp_node_free(n);
    kp_tensor *pads = ints(4, V(0, 2, 0, 2));
    const kp_tensor *in2[2] = {x, pads};
    n = mknode("Pad", 2, in2, 1);
    kp_node_set_attr_string(n, "mode", "reflect");
    expect1(n, 13, 2, in2, 2, D(2, 7), V(3, 2, 1, 2, 3, 2, 1, 6, 5, 4, 5, 6, 5, 4));
    kp_node_set_attr_string(n, "mode", "edge");
    expect1(n, 13, 2, in2, 2, D(2, 7), V(1, 1, 1, 2, 3, 3, 3, 4, 4, 4, 5, 6, 6, 6));
    kp_node_set_attr_string(n, "mode", "wrap");
    expect1(n, 19, 2, in2, 2, D(2, 7), V(2, 3, 1, 2, 3, 1, 2, 5, 6, 4, 5, 6, 4, 5));
    kp_node_set_attr_string(n, "mode", "bogus");
    kp_tensor *out[1];
    kp_error e;
    assert_int_equal(run(n, 13, 2, in2, 1, out, &e), KP_EINVAL);
    kp_node_free(n);
    /* opset 18: axes input selects which dims the pads apply to; negative pads crop */
    kp_tensor *p2 = ints(2, V(-1, 1)), *cv = tt(KP_FLOAT, 0, NULL, V(7)), *ax = ints(1, V(-1));
    const kp_tensor *in4[4] = {x, p2, cv, ax};
    n = mknode("Pad", 4, in4, 1);
    expect1(n, 18, 4, in4, 2, D(2, 3), V(2, 3, 7, 5, 6, 7));
    kp_node_free(n);
    kp_tensor_free(x);
    kp_tensor_free(pads);
    kp_tensor_free(p2);
    kp_tensor_free(cv);
    kp_tensor_free(ax);
}

static void split_forms(void **state) {
    (void)state;
    kp_tensor *x = tramp(1, D(5), 1, 0);
    kp_tensor *out[3];
    kp_error e;
    const kp_tensor *in1[1] = {x};
    kp_node *n = mknode("Split", 1, in1, 2);
    kp_node_set_attr_ints(n, "split", 2, D(2, 3));
    assert_int_equal(run(n, 11, 1, in1, 2, out, &e), 0); /* attribute before 13 */
    assert_true(close_to(out[0], 1, D(2), V(0, 1)));
    assert_true(close_to(out[1], 1, D(3), V(2, 3, 4)));
    free_all(2, out);
    kp_node_free(n);
    kp_tensor *sz = ints(3, V(1, 0, 4));
    const kp_tensor *in2[2] = {x, sz};
    n = mknode("Split", 2, in2, 3);
    assert_int_equal(run(n, 13, 2, in2, 3, out, &e), 0); /* input from 13, a zero part */
    assert_true(close_to(out[0], 1, D(1), V(0)));
    assert_int_equal(out[1]->numel, 0);
    assert_true(close_to(out[2], 1, D(4), V(1, 2, 3, 4)));
    free_all(3, out);
    kp_node_free(n);
    n = mknode("Split", 1, in1, 3);
    kp_node_set_attr_int(n, "num_outputs", 3);
    assert_int_equal(run(n, 18, 1, in1, 3, out, &e), 0); /* uneven: 2, 2, 1 */
    assert_true(close_to(out[2], 1, D(1), V(4)));
    free_all(3, out);
    kp_node_free(n);
    n = mknode("Split", 1, in1, 2);
    assert_int_equal(run(n, 13, 1, in1, 2, out, &e), KP_EINVAL); /* 5 into 2 equal parts */
    kp_node_free(n);
    kp_tensor_free(x);
    kp_tensor_free(sz);
}

static void layout_ops(void **state) {
    (void)state;
    kp_tensor *x = tramp(3, D(2, 3, 2), 1, 0);
    const kp_tensor *in1[1] = {x};
    kp_node *n = mknode("Transpose", 1, in1, 1);
    kp_node_set_attr_ints(n, "perm", 3, D(1, 0, 2));
    expect1(n, 13, 1, in1, 3, D(3, 2, 2), V(0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11));
    kp_node_free(n);
    n = mknode("Transpose", 1, in1, 1); /* default: reversed */
    expect1(n, 13, 1, in1, 3, D(2, 3, 2), V(0, 6, 2, 8, 4, 10, 1, 7, 3, 9, 5, 11));
    kp_node_free(n);
    kp_tensor *r = tramp(2, D(1, 2), 1, 1), *sh = ints(3, V(2, 1, 2));
    const kp_tensor *ein[2] = {r, sh};
    n = mknode("Expand", 2, ein, 1);
    expect1(n, 13, 2, ein, 3, D(2, 1, 2), V(1, 2, 1, 2));
    kp_node_free(n);
    kp_tensor *rep = ints(2, V(2, 3));
    const kp_tensor *tin[2] = {r, rep};
    n = mknode("Tile", 2, tin, 1);
    expect1(n, 13, 2, tin, 2, D(2, 6), V(1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2));
    kp_node_free(n);
    const kp_tensor *cin[3] = {r, r, r};
    n = mknode("Concat", 3, cin, 1);
    kp_node_set_attr_int(n, "axis", -1);
    expect1(n, 13, 3, cin, 2, D(1, 6), V(1, 2, 1, 2, 1, 2));
    kp_node_free(n);
    /* DepthToSpace then SpaceToDepth (DCR) is the identity; CRD differs */
    kp_tensor *d = tramp(4, D(1, 8, 1, 2), 1, 0);
    const kp_tensor *din[1] = {d};
    n = mknode("DepthToSpace", 1, din, 1);
    kp_node_set_attr_int(n, "blocksize", 2);
    kp_tensor *out[1], *back[1];
    kp_error e;
    assert_int_equal(run(n, 13, 1, din, 1, out, &e), 0);
    assert_int_equal(out[0]->dims[1], 2);
    assert_int_equal(out[0]->dims[3], 4);
    /* DCR: out[0,0,0,:] takes channels 0,2 (block col j) of input pixel (0,0),(0,1) */
    assert_true(close_to(out[0], 4, D(1, 2, 2, 4),
                         V(0, 4, 1, 5, 8, 12, 9, 13, 2, 6, 3, 7, 10, 14, 11, 15)));
    const kp_tensor *bin[1] = {out[0]};
    kp_node *m = mknode("SpaceToDepth", 1, bin, 1);
    kp_node_set_attr_int(m, "blocksize", 2);
    assert_int_equal(run(m, 13, 1, bin, 1, back, &e), 0);
    assert_true(kp_tensor_equal(back[0], d));
    free_all(1, back);
    free_all(1, out);
    kp_node_set_attr_string(n, "mode", "CRD");
    assert_int_equal(run(n, 13, 1, din, 1, out, &e), 0);
    assert_true(close_to(out[0], 4, D(1, 2, 2, 4),
                         V(0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15)));
    free_all(1, out);
    kp_node_free(n);
    kp_node_free(m);
    kp_tensor_free(x);
    kp_tensor_free(r);
    kp_tensor_free(sh);
    kp_tensor_free(rep);
    kp_tensor_free(d);
}

static void index_ops(void **state) {
    (void)state;
    kp_tensor *x = tramp(2, D(3, 2), 1, 0), *ind = ints(2, V(-1, 0));
    const kp_tensor *in[2] = {x, ind};
    kp_node *n = mknode("Gather", 2, in, 1);
    expect1(n, 13, 2, in, 2, D(2, 2), V(4, 5, 0, 1));
    kp_node_set_attr_int(n, "axis", 1);
    expect1(n, 13, 2, in, 2, D(3, 2), V(1, 0, 3, 2, 5, 4));
    kp_tensor *oob = ints(1, V(3));
    const kp_tensor *bad[2] = {x, oob};
    kp_node_set_attr_int(n, "axis", 0);
    kp_tensor *out[2];
    kp_error e;
    assert_int_equal(run(n, 13, 2, bad, 1, out, &e), KP_EINVAL);
    assert_non_null(strstr(e.msg, "out of range"));
    kp_node_free(n);
    kp_tensor *ge = tt(KP_INT64, 2, D(2, 2), V(2, 0, -1, 1));
    const kp_tensor *gin[2] = {x, ge};
    n = mknode("GatherElements", 2, gin, 1);
    expect1(n, 13, 2, gin, 2, D(2, 2), V(4, 1, 4, 3));
    kp_node_free(n);
    kp_tensor *v = tt(KP_FLOAT, 2, D(2, 4), V(1, 3, 3, 2, 0, -1, 5, 5)), *k = ints(1, V(2));
    const kp_tensor *tin[2] = {v, k};
    n = mknode("TopK", 2, tin, 2);
    assert_int_equal(run(n, 11, 2, tin, 2, out, &e), 0);
    assert_true(close_to(out[0], 2, D(2, 2), V(3, 3, 5, 5)));
    assert_true(close_to(out[1], 2, D(2, 2), V(1, 2, 2, 3))); /* ties: lower index first */
    free_all(2, out);
    kp_node_set_attr_int(n, "largest", 0);
    assert_int_equal(run(n, 11, 2, tin, 2, out, &e), 0);
    assert_true(close_to(out[0], 2, D(2, 2), V(1, 2, -1, 0)));
    assert_true(close_to(out[1], 2, D(2, 2), V(0, 3, 1, 0)));
    free_all(2, out);
    kp_node_free(n);
    n = mknode("TopK", 1, tin, 2); /* opset 1: k attribute */
    kp_node_set_attr_int(n, "k", 1);
    assert_int_equal(run(n, 1, 1, tin, 2, out, &e), 0);
    assert_true(close_to(out[0], 2, D(2, 1), V(3, 5)));
    free_all(2, out);
    kp_node_free(n);
    kp_tensor_free(x);
    kp_tensor_free(ind);
    kp_tensor_free(oob);
    kp_tensor_free(ge);
    kp_tensor_free(v);
    kp_tensor_free(k);
}

static void misc_ops(void **state) {
    (void)state;
    kp_tensor *x = tramp(1, D(3), 1, 1);
    kp_tensor *out[2];
    kp_error e;
    const kp_tensor *in1[1] = {x};
    kp_node *n = mknode("Dropout", 1, in1, 2);
    assert_int_equal(run(n, 13, 1, in1, 2, out, &e), 0);
    assert_true(close_to(out[0], 1, D(3), V(1, 2, 3)));
    assert_int_equal(out[1]->dtype, KP_BOOL);
    assert_true(close_to(out[1], 1, D(3), V(1, 1, 1)));
    free_all(2, out);
    kp_node_free(n);
    kp_tensor *ratio = tt(KP_FLOAT, 0, NULL, V(0.5)), *train = tt(KP_BOOL, 0, NULL, V(1));
    const kp_tensor *in3[3] = {x, ratio, train};
    n = mknode("Dropout", 3, in3, 1);
    assert_int_equal(run(n, 13, 3, in3, 1, out, &e), KP_EUNSUPPORTED); /* random: refused */
    kp_node_free(n);
    kp_tensor *s = tt(KP_INT32, 0, NULL, V(10)), *l = tt(KP_INT32, 0, NULL, V(1)),
              *d = tt(KP_INT32, 0, NULL, V(-4));
    const kp_tensor *rin[3] = {s, l, d};
    n = mknode("Range", 3, rin, 1);
    expect1(n, 11, 3, rin, 1, D(3), V(10, 6, 2));
    kp_node_free(n);
    kp_tensor *shape = ints(2, V(2, 2));
    const kp_tensor *cin[1] = {shape};
    n = mknode("ConstantOfShape", 1, cin, 1);
    kp_node_set_attr_tensor(n, "value", tt(KP_INT32, 1, D(1), V(7)));
    expect1(n, 9, 1, cin, 2, D(2, 2), V(7, 7, 7, 7));
    kp_node_free(n);
    n = mknode("Constant", 0, NULL, 1);
    kp_node_set_attr_floats(n, "value_floats", 2, (const float[]){1.5f, 2.5f});
    expect1(n, 13, 0, NULL, 1, D(2), V(1.5, 2.5));
    kp_node_free(n);
    kp_tensor_free(x);
    kp_tensor_free(ratio);
    kp_tensor_free(train);
    kp_tensor_free(s);
    kp_tensor_free(l);
    kp_tensor_free(d);
    kp_tensor_free(shape);
}

static void more_index_ops(void **state) {
    (void)state;
    kp_tensor *x = tramp(2, D(3, 3), 1, 1); /* 1..9 */
    const kp_tensor *in1[1] = {x};
    kp_node *n = mknode("Trilu", 1, in1, 1);
    expect1(n, 14, 1, in1, 2, D(3, 3), V(1, 2, 3, 0, 5, 6, 0, 0, 9));
    kp_node_set_attr_int(n, "upper", 0);
    kp_tensor *k = ints(1, V(-1));
    const kp_tensor *in2[2] = {x, k};
    expect1(n, 14, 2, in2, 2, D(3, 3), V(0, 0, 0, 4, 0, 0, 7, 8, 0));
    kp_node_free(n);
    kp_tensor *ind = tt(KP_INT64, 2, D(2, 2), V(2, 0, 0, -1));
    const kp_tensor *gin[2] = {x, ind};
    n = mknode("GatherND", 2, gin, 1);
    expect1(n, 13, 2, gin, 1, D(2), V(7, 3));
    kp_node_free(n);
    kp_tensor *upd = tt(KP_FLOAT, 1, D(2), V(10, 20));
    const kp_tensor *sin_[3] = {x, ind, upd};
    n = mknode("ScatterND", 3, sin_, 1);
    expect1(n, 13, 3, sin_, 2, D(3, 3), V(1, 2, 20, 4, 5, 6, 10, 8, 9));
    kp_node_set_attr_string(n, "reduction", "add");
    expect1(n, 16, 3, sin_, 2, D(3, 3), V(1, 2, 23, 4, 5, 6, 17, 8, 9));
    kp_node_free(n);
    kp_tensor *oh = tt(KP_INT64, 1, D(3), V(0, -1, 5)), *depth = tt(KP_FLOAT, 0, NULL, V(3)),
              *vals = tt(KP_FLOAT, 1, D(2), V(-1, 1));
    const kp_tensor *oin[3] = {oh, depth, vals};
    n = mknode("OneHot", 3, oin, 1);
    expect1(n, 11, 3, oin, 2, D(3, 3), V(1, -1, -1, -1, -1, 1, -1, -1, -1)); /* 5: all off */
    kp_node_free(n);
    kp_tensor *a = tt(KP_UINT8, 1, D(2), V(1, 128)), *b = tt(KP_UINT8, 1, D(2), V(3, 1));
    const kp_tensor *bin[2] = {a, b};
    n = mknode("BitShift", 2, bin, 1);
    kp_node_set_attr_string(n, "direction", "LEFT");
    expect1(n, 11, 2, bin, 1, D(2), V(8, 0)); /* wraps in uint8 */
    kp_node_set_attr_string(n, "direction", "RIGHT");
    expect1(n, 11, 2, bin, 1, D(2), V(0, 64));
    kp_node_free(n);
    kp_tensor_free(x);
    kp_tensor_free(k);
    kp_tensor_free(ind);
    kp_tensor_free(upd);
    kp_tensor_free(oh);
    kp_tensor_free(depth);
    kp_tensor_free(vals);
    kp_tensor_free(a);
    kp_tensor_free(b);
}

/* Every permutation of a 4-D tensor large enough to take the tiled path, against index math. */
static void transpose_all_perms(void **state) {
    (void)state;
    const int64_t dims[4] = {3, 40, 2, 37};
    kp_tensor *x = tramp(4, dims, 1, 0);
    const kp_tensor *in[1] = {x};
    int perm[4];
    int count = 0;
    for (perm[0] = 0; perm[0] < 4; perm[0]++)
        for (perm[1] = 0; perm[1] < 4; perm[1]++)
            for (perm[2] = 0; perm[2] < 4; perm[2]++) {
                perm[3] = 6 - perm[0] - perm[1] - perm[2];
                if (perm[0] == perm[1] || perm[0] == perm[2] || perm[1] == perm[2]) continue;
                kp_node *n = mknode("Transpose", 1, in, 1);
                int64_t p64[4] = {perm[0], perm[1], perm[2], perm[3]};
                kp_node_set_attr_ints(n, "perm", 4, p64);
                kp_tensor *out[1];
                kp_error e;
                assert_int_equal(run(n, 13, 1, in, 1, out, &e), 0);
                const float *y = out[0]->data;
                int64_t od[4], i[4];
                for (int d = 0; d < 4; d++) od[d] = dims[perm[d]];
                int64_t k = 0;
                for (i[0] = 0; i[0] < od[0]; i[0]++)
                    for (i[1] = 0; i[1] < od[1]; i[1]++)
                        for (i[2] = 0; i[2] < od[2]; i[2]++)
                            for (i[3] = 0; i[3] < od[3]; i[3]++, k++) {
                                int64_t src[4];
                                for (int d = 0; d < 4; d++) src[perm[d]] = i[d];
                                int64_t off =
                                    ((src[0] * dims[1] + src[1]) * dims[2] + src[2]) * dims[3] +
                                    src[3];
                                if (y[k] != (float)off)
                                    fail_msg("perm %d%d%d%d at %lld", perm[0], perm[1], perm[2],
                                             perm[3], (long long)k);
                            }
                free_all(1, out);
                kp_node_free(n);
                count++;
            }
    assert_int_equal(count, 24);
    kp_tensor_free(x);
}

/* Hostile sizes give errors (or correct tiny results), never overflow or huge allocations. */
static void hostile_values(void **state) {
    (void)state;
    kp_tensor *x = tramp(2, D(3, 4), 1, 0);
    kp_tensor *out[1];
    kp_error e;
    kp_tensor *st = ints(1, V(0)), *en = ints(1, V(10)), *ax = ints(1, V(1)),
              *sp = tt(KP_INT64, 1, D(1), NULL);
    ((int64_t *)sp->data)[0] = INT64_MAX;
    const kp_tensor *sin_[5] = {x, st, en, ax, sp};
    kp_node *n = mknode("Slice", 5, sin_, 1);
    expect1(n, 13, 5, sin_, 2, D(3, 1), V(0, 4, 8)); /* huge step: first element only */
    ((int64_t *)sp->data)[0] = INT64_MIN;
    ((int64_t *)st->data)[0] = -1;
    ((int64_t *)en->data)[0] = INT64_MIN;
    expect1(n, 13, 5, sin_, 2, D(3, 1), V(3, 7, 11));
    kp_node_free(n);
    kp_tensor *rep = tt(KP_INT64, 1, D(2), NULL);
    ((int64_t *)rep->data)[0] = INT64_MAX / 2;
    ((int64_t *)rep->data)[1] = 3;
    const kp_tensor *tin[2] = {x, rep};
    n = mknode("Tile", 2, tin, 1);
    assert_int_equal(run(n, 13, 2, tin, 1, out, &e), KP_ERANGE);
    kp_node_free(n);
    kp_tensor *sh = tt(KP_INT64, 1, D(3), NULL);
    ((int64_t *)sh->data)[0] = INT64_MAX / 4;
    ((int64_t *)sh->data)[1] = 1 << 20;
    ((int64_t *)sh->data)[2] = -1;
    const kp_tensor *rin[2] = {x, sh};
    n = mknode("Reshape", 2, rin, 1);
    assert_true(run(n, 13, 2, rin, 1, out, &e) < 0);
    kp_node_free(n);
    kp_tensor *pads = tt(KP_INT64, 1, D(4), NULL);
    ((int64_t *)pads->data)[1] = INT64_MAX;
    const kp_tensor *pin[2] = {x, pads};
    n = mknode("Pad", 2, pin, 1);
    assert_true(run(n, 13, 2, pin, 1, out, &e) < 0);
    kp_node_free(n);
    kp_tensor *idx = tt(KP_FLOAT, 1, D(2), V(NAN, 1e30)), *depth = tt(KP_INT64, 0, NULL, V(3)),
              *vals = tt(KP_FLOAT, 1, D(2), V(0, 1));
    const kp_tensor *oin[3] = {idx, depth, vals};
    n = mknode("OneHot", 3, oin, 1);
    expect1(n, 11, 3, oin, 2, D(2, 3), V(0, 0, 0, 0, 0, 0));
    kp_node_free(n);
    kp_tensor_free(x);
    kp_tensor_free(st);
    kp_tensor_free(en);
    kp_tensor_free(ax);
    kp_tensor_free(sp);
    kp_tensor_free(rep);
    kp_tensor_free(sh);
    kp_tensor_free(pads);
    kp_tensor_free(idx);
    kp_tensor_free(depth);
    kp_tensor_free(vals);
}

static void unique_strnorm(void **state) {
    (void)state;
    kp_tensor *x = tt(KP_FLOAT, 1, D(6), V(2, 1, 1, 3, 4, 3));
    const kp_tensor *in[1] = {x};
    kp_tensor *out[4];
    kp_error e;
    kp_node *n = mknode("Unique", 1, in, 4);
    assert_int_equal(run(n, 11, 1, in, 4, out, &e), 0); /* sorted */
    assert_true(close_to(out[0], 1, D(4), V(1, 2, 3, 4)));
    assert_true(close_to(out[1], 1, D(4), V(1, 0, 3, 4)));
    assert_true(close_to(out[2], 1, D(6), V(1, 0, 0, 2, 3, 2)));
    assert_true(close_to(out[3], 1, D(4), V(2, 1, 2, 1)));
    free_all(4, out);
    kp_node_set_attr_int(n, "sorted", 0);
    assert_int_equal(run(n, 11, 1, in, 4, out, &e), 0); /* first-occurrence order */
    assert_true(close_to(out[0], 1, D(4), V(2, 1, 3, 4)));
    assert_true(close_to(out[2], 1, D(6), V(0, 1, 1, 2, 3, 2)));
    free_all(4, out);
    kp_node_free(n);
    kp_error err;
    kp_tensor *s = kp_tensor_new(KP_STRING, 1, D(3), &err);
    const char *words[3] = {"Monday", "tuesday", "MONDAY"};
    for (int i = 0; i < 3; i++) {
        s->strings[i].len = strlen(words[i]);
        s->strings[i].data = (uint8_t *)strdup(words[i]);
    }
    const kp_tensor *sin_[1] = {s};
    n = mknode("StringNormalizer", 1, sin_, 1);
    kp_node_set_attr_string(n, "case_change_action", "UPPER");
    assert_int_equal(run(n, 10, 1, sin_, 1, out, &e), 0); /* no stopwords */
    assert_int_equal(out[0]->numel, 3);
    assert_memory_equal(out[0]->strings[1].data, "TUESDAY", 7);
    free_all(1, out);
    kp_node_free(n);
    kp_tensor_free(x);
    kp_tensor_free(s);
}

static void mvn(void **state) {
    (void)state;
    kp_tensor *x = tt(KP_FLOAT, 4, D(1, 2, 1, 2), V(1, 3, 10, 30));
    const kp_tensor *in[1] = {x};
    kp_node *n = mknode("MeanVarianceNormalization", 1, in, 1);
    expect1(n, 13, 1, in, 4, D(1, 2, 1, 2), V(-1, 1, -1, 1)); /* per channel */
    kp_node_free(n);
    kp_tensor_free(x);
}

/* Pad against a per-element reference for every mode and mixed positive/negative pads. */
static int64_t ref_src(const char *mode, int64_t i, int64_t n) {
    if (i >= 0 && i < n) return i;
    if (!strcmp(mode, "edge")) return i < 0 ? 0 : n - 1;
    if (!strcmp(mode, "wrap")) return ((i % n) + n) % n;
    if (!strcmp(mode, "reflect")) {
        int64_t p = 2 * (n - 1);
        i = ((i % p) + p) % p;
        return i >= n ? p - i : i;
    }
    return -1;
}

static void pad_random(void **state) {
    (void)state;
    const char *modes[4] = {"constant", "reflect", "edge", "wrap"};
    kp_tensor *x = tramp(3, D(2, 4, 5), 1, 1);
    unsigned seed = 7;
    for (int it = 0; it < 200; it++) {
        const char *mode = modes[it % 4];
        int64_t p[6];
        for (int k = 0; k < 6; k++) {
            seed = seed * 1103515245u + 12345u;
            p[k] = (int64_t)((seed >> 16) % 7) - 2;             /* -2 .. 4 */
            if (strcmp(mode, "constant") && p[k] > 3) p[k] = 3; /* reflect needs pad < dim */
        }
        const int64_t xd[3] = {2, 4, 5};
        for (int k = 0; k < 3; k++)
            while (xd[k] + p[k] + p[k + 3] < 1) p[k + 3]++; /* keep every dim non-empty */
        kp_tensor *pads = tt(KP_INT64, 1, D(6), NULL);
        memcpy(pads->data, p, sizeof p);
        const kp_tensor *in[2] = {x, pads};
        kp_node *n = mknode("Pad", 2, in, 1);
        kp_node_set_attr_string(n, "mode", mode);
        kp_tensor *out[1];
        kp_error e;
        if (run(n, 19, 2, in, 1, out, &e)) fail_msg("%s", e.msg);
        const kp_tensor *o = out[0];
        for (int64_t a = 0; a < o->dims[0]; a++)
            for (int64_t b = 0; b < o->dims[1]; b++)
                for (int64_t c = 0; c < o->dims[2]; c++) {
                    int64_t sa = ref_src(mode, a - p[0], 2), sb = ref_src(mode, b - p[1], 4),
                            sc = ref_src(mode, c - p[2], 5);
                    float want = (sa < 0 || sb < 0 || sc < 0)
                                     ? 0.0f
                                     : ((const float *)x->data)[(sa * 4 + sb) * 5 + sc];
                    float got = ((const float *)o->data)[(a * o->dims[1] + b) * o->dims[2] + c];
                    if (got != want)
                        fail_msg("%s pads %lld %lld %lld %lld %lld %lld at %lld,%lld,%lld", mode,
                                 (long long)p[0], (long long)p[1], (long long)p[2], (long long)p[3],
                                 (long long)p[4], (long long)p[5], (long long)a, (long long)b,
                                 (long long)c);
                }
        free_all(1, out);
        kp_node_free(n);
        kp_tensor_free(pads);
    }
    kp_tensor_free(x);
}

static void grid_sample(void **state) {
    (void)state;
    kp_tensor *x = tramp(4, D(1, 1, 2, 3), 1, 0); /* [[0,1,2],[3,4,5]] */
    /* identity grid with align_corners=1, plus one point far outside and one NaN */
    kp_tensor *g = tt(KP_FLOAT, 4, D(1, 1, 4, 2), V(-1, -1, 1, 1, 1e30, 0, NAN, 0));
    const kp_tensor *in[2] = {x, g};
    kp_node *n = mknode("GridSample", 2, in, 1);
    kp_node_set_attr_int(n, "align_corners", 1);
    const char *modes[3] = {"bilinear", "nearest", "bicubic"};
    for (int m = 0; m < 3; m++) {
        kp_node_set_attr_string(n, "mode", modes[m]);
        kp_tensor *out[1];
        kp_error e;
        assert_int_equal(run(n, 16, 2, in, 1, out, &e), 0);
        const float *y = out[0]->data;
        assert_true(fabsf(y[0] - 0) < 1e-5f && fabsf(y[1] - 5) < 1e-5f);
        assert_true(y[2] == 0); /* far outside, zeros padding */
        free_all(1, out);
    }
    kp_node_set_attr_string(n, "mode", "bilinear");
    kp_node_set_attr_string(n, "padding_mode", "border");
    kp_tensor *out[1];
    kp_error e;
    assert_int_equal(run(n, 16, 2, in, 1, out, &e), 0);
    /* x clamps to column 2, y = 0 is halfway between the rows: (2 + 5) / 2 */
    assert_true(fabsf(((float *)out[0]->data)[2] - 3.5f) < 1e-5f);
    free_all(1, out);
    kp_node_free(n);
    kp_tensor_free(x);
    kp_tensor_free(g);
}

static void roialign_unpool(void **state) {
    (void)state;
    kp_tensor *x = tt(KP_FLOAT, 4, D(1, 1, 4, 4), NULL);
    for (int i = 0; i < 16; i++) ((float *)x->data)[i] = 2.5f; /* constant image */
    kp_tensor *rois = tt(KP_FLOAT, 2, D(2, 4), V(0, 0, 3, 3, 1, 1, 2.5, 3)),
              *bi = tt(KP_INT64, 1, D(2), V(0, 0));
    const kp_tensor *in[3] = {x, rois, bi};
    kp_node *n = mknode("RoiAlign", 3, in, 1);
    kp_node_set_attr_int(n, "output_height", 2);
    kp_node_set_attr_int(n, "output_width", 2);
    expect1(n, 16, 3, in, 4, D(2, 1, 2, 2), V(2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5));
    ((int64_t *)bi->data)[1] = 1; /* batch 1 does not exist */
    kp_tensor *out[1];
    kp_error e;
    assert_int_equal(run(n, 16, 3, in, 1, out, &e), KP_EINVAL);
    kp_node_free(n);
    kp_tensor *v = tt(KP_FLOAT, 4, D(1, 1, 1, 2), V(7, 9)),
              *idx = tt(KP_INT64, 4, D(1, 1, 1, 2), V(1, 6));
    const kp_tensor *uin[2] = {v, idx};
    n = mknode("MaxUnpool", 2, uin, 1);
    kp_node_set_attr_ints(n, "kernel_shape", 2, D(2, 2));
    kp_node_set_attr_ints(n, "strides", 2, D(2, 2));
    expect1(n, 11, 2, uin, 4, D(1, 1, 2, 4), V(0, 7, 0, 0, 0, 0, 9, 0));
    ((int64_t *)idx->data)[1] = 8; /* outside the 2x4 output */
    assert_int_equal(run(n, 11, 2, uin, 1, out, &e), KP_EINVAL);
    kp_node_free(n);
    kp_tensor_free(x);
    kp_tensor_free(rois);
    kp_tensor_free(bi);
    kp_tensor_free(v);
    kp_tensor_free(idx);
}

/* Slice with an axes attribute (opset 1), Pad's constant_value input (11), Squeeze at 13
 * without axes, Clip at 11 with neither bound. */
static void more_shape_forms(void **state) {
    (void)state;
    kp_tensor *x = tramp(2, D(2, 3), 1, 0);
    const kp_tensor *in1[1] = {x};
    kp_node *n = mknode("Slice", 1, in1, 1);
    kp_node_set_attr_ints(n, "axes", 1, D(1));
    kp_node_set_attr_ints(n, "starts", 1, D(1));
    kp_node_set_attr_ints(n, "ends", 1, D(3));
    expect1(n, 1, 1, in1, 2, D(2, 2), V(1, 2, 4, 5));
    kp_node_free(n);
    kp_tensor *pads = ints(4, V(1, 0, 0, 0)), *cv = tt(KP_FLOAT, 0, NULL, V(-1));
    const kp_tensor *pin[3] = {x, pads, cv};
    n = mknode("Pad", 3, pin, 1);
    expect1(n, 11, 3, pin, 2, D(3, 3), V(-1, -1, -1, 0, 1, 2, 3, 4, 5));
    kp_node_free(n);
    kp_tensor *y = tramp(3, D(1, 3, 1), 1, 0);
    const kp_tensor *yin[1] = {y};
    n = mknode("Squeeze", 1, yin, 1);
    expect1(n, 13, 1, yin, 1, D(3), V(0, 1, 2));
    kp_node_free(n);
    n = mknode("Clip", 1, in1, 1);
    expect1(n, 11, 1, in1, 2, D(2, 3), V(0, 1, 2, 3, 4, 5));
    kp_node_free(n);
    kp_tensor_free(x);
    kp_tensor_free(pads);
    kp_tensor_free(cv);
    kp_tensor_free(y);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reshape_squeeze),
        cmocka_unit_test(slice_forms),
        cmocka_unit_test(pad_forms),
        cmocka_unit_test(split_forms),
        cmocka_unit_test(layout_ops),
        cmocka_unit_test(index_ops),
        cmocka_unit_test(misc_ops),
        cmocka_unit_test(more_index_ops),
        cmocka_unit_test(transpose_all_perms),
        cmocka_unit_test(hostile_values),
        cmocka_unit_test(unique_strnorm),
        cmocka_unit_test(mvn),
        cmocka_unit_test(pad_random),
        cmocka_unit_test(grid_sample),
        cmocka_unit_test(roialign_unpool),
        cmocka_unit_test(more_shape_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
