/* Packed int8 weights off the hot path: inside an executor plan (kp_op_ctx.state, weights
 * flagged in const_in) every int8 kernel packs its weights on the first run and reuses them with
 * no check, giving the same bytes as the content-validated cache kp_op_call uses; without the
 * constant flags nothing is kept; the executor itself gives the same bytes over repeated runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ophelp.h"

#include "core/exec.h"
#include "core/ops/int8_ops.h"

static int rnd(int lo, int hi) {
    return lo + (int)(rnd_u32() % (uint32_t)(hi - lo + 1));
}

static kp_tensor *rand8(kp_dtype dt, int rank, const int64_t *dims) {
    kp_tensor *t = tt(dt, rank, dims, NULL);
    for (int64_t i = 0; i < t->numel; i++)
        ((uint8_t *)t->data)[i] = (uint8_t)(dt == KP_INT8 ? rnd(-127, 127) : rnd(0, 255));
    return t;
}

static kp_tensor *randf(int rank, const int64_t *dims) {
    kp_tensor *t = tt(KP_FLOAT, rank, dims, NULL);
    for (int64_t i = 0; i < t->numel; i++) ((float *)t->data)[i] = rnd_f() * 3.f;
    return t;
}

static int same_bytes(const kp_tensor *a, const kp_tensor *b) {
    return a && b && a->dtype == b->dtype && a->nbytes == b->nbytes &&
           !memcmp(a->data, b->data, a->nbytes);
}

/* Runs n's kernel the way the executor does: with a per-node state and const_in flags. */
static kp_tensor *run_planned(kp_node *n, size_t n_in, const kp_tensor *const *in, uint32_t cin,
                              kp_op_state *st) {
    kp_error e;
    kp_error_clear(&e);
    kp_tensor *out[1] = {NULL};
    kp_op_ctx ctx = {.node = n,
                     .opset = 13,
                     .n_in = n_in,
                     .in = in,
                     .n_out = 1,
                     .out = out,
                     .err = &e,
                     .threads = 1,
                     .state = st,
                     .const_in = cin};
    const kp_op_def *def = kp_ops_find(n->domain, n->op_type);
    assert_non_null(def);
    int rc = def->run(&ctx);
    if (rc) fail_msg("%s: %s", n->op_type, e.msg);
    return out[0];
}

/* One kernel: the reference from kp_op_call; planned runs give its bytes, keep their packing
 * (a weight changed behind the plan's back is not looked at), while kp_op_call sees the change. */
static void check_kernel(kp_node *n, size_t n_in, const kp_tensor *const *in, kp_tensor *w,
                         uint32_t w_bits) {
    kp_error e;
    kp_tensor *ref = NULL, *got = NULL;
    if (kp_op_call(n, 13, n_in, in, 1, &ref, &e)) fail_msg("%s", e.msg);
    kp_op_state st = {0};
    for (int r = 0; r < 3; r++) {
        got = run_planned(n, n_in, in, w_bits | 1u << 0 /* x too: must not matter */, &st);
        if (!same_bytes(ref, got)) fail_msg("%s: planned run %d differs", n->op_type, r);
        kp_tensor_free(got);
        assert_non_null(st.data);
        assert_non_null(st.free);
    }
    /* Input 0 is not a weight: flagged or not, the same packing serves. */
    got = run_planned(n, n_in, in, w_bits & ~1u, &st);
    assert_true(same_bytes(ref, got));
    kp_tensor_free(got);
    /* Without the weight flags nothing is kept (the cache serves). */
    kp_op_state none = {0};
    got = run_planned(n, n_in, in, 1u, &none);
    assert_true(same_bytes(ref, got));
    assert_null(none.data);
    kp_tensor_free(got);
    /* Change the weights: the plan's packing is the one made on its first run ... */
    for (int64_t i = 0; i < w->numel; i++) ((uint8_t *)w->data)[i] ^= 0x15;
    got = run_planned(n, n_in, in, w_bits, &st);
    assert_true(same_bytes(ref, got));
    kp_tensor_free(got);
    /* ... while kp_op_call revalidates and repacks. */
    kp_tensor *changed = NULL;
    assert_int_equal(kp_op_call(n, 13, n_in, in, 1, &changed, &e), 0);
    assert_false(same_bytes(ref, changed));
    kp_tensor_free(changed);
    for (int64_t i = 0; i < w->numel; i++) ((uint8_t *)w->data)[i] ^= 0x15;
    st.free(st.data);
    kp_tensor_free(ref);
}

static kp_node *conv_node(const char *op, const char *domain, size_t n_in,
                          const kp_tensor *const *in, int64_t group) {
    kp_node *n = mknode(op, n_in, in, 1);
    if (domain) {
        free(n->domain);
        n->domain = strdup(domain);
    }
    kp_node_set_attr_ints(n, "pads", 4, D(1, 0, 1, 2));
    kp_node_set_attr_ints(n, "strides", 2, D(1, 2));
    kp_node_set_attr_int(n, "group", group);
    return n;
}

static void qlinear_conv_planned(void **state) {
    (void)state;
    /* int8 weights without zero points: the direct path where the CPU has it (padded kernel
     * width); then uint8 weights with zero points: im2col. Two groups each. */
    for (int wt = 0; wt < 2; wt++) {
        kp_dtype wd = wt ? KP_UINT8 : KP_INT8;
        kp_tensor *x = rand8(KP_UINT8, 4, D(2, 6, 9, 8)), *w = rand8(wd, 4, D(8, 3, 3, 3));
        kp_tensor *sx = tt(KP_FLOAT, 0, NULL, V(0.02)), *zx = tt(KP_UINT8, 0, NULL, V(17));
        kp_tensor *sw = tt(KP_FLOAT, 1, D(8), V(.01, .02, .005, .03, .015, .001, .02, .01));
        kp_tensor *zw = rand8(wd, 1, D(8));
        if (!wt) memset(zw->data, 0, 8);
        kp_tensor *sy = tt(KP_FLOAT, 0, NULL, V(0.3)), *zy = tt(KP_UINT8, 0, NULL, V(100));
        kp_tensor *b = tt(KP_INT32, 1, D(8), V(5, -300, 70, 0, 1000, -20, 3, 9));
        const kp_tensor *in[9] = {x, sx, zx, w, sw, zw, sy, zy, b};
        kp_node *n = conv_node("QLinearConv", NULL, 9, in, 2);
        check_kernel(n, 9, in, w, 1u << 3 | 1u << 5);
        kp_node_free(n);
        n = conv_node("QConv", "ai.kompress", 9, in, 2);
        check_kernel(n, 9, in, w, 1u << 3 | 1u << 5);
        kp_node_free(n);
        const kp_tensor *ci[4] = {x, w, zx, zw};
        n = conv_node("ConvInteger", NULL, 4, ci, 2);
        check_kernel(n, 4, ci, w, 1u << 1 | 1u << 3);
        kp_node_free(n);
        kp_tensor *all[] = {x, w, sx, zx, sw, zw, sy, zy, b};
        free_all(9, all);
    }
}

static void dyn_conv_planned(void **state) {
    (void)state;
    kp_tensor *x = randf(4, D(1, 4, 7, 7)), *w = rand8(KP_INT8, 4, D(6, 4, 3, 3));
    kp_tensor *wz = tt(KP_INT8, 0, NULL, V(0)), *ws = tt(KP_FLOAT, 1, D(6), NULL);
    kp_tensor *b = randf(1, D(6));
    for (int i = 0; i < 6; i++) ((float *)ws->data)[i] = 0.01f * (float)(i + 1);
    const kp_tensor *in[5] = {x, w, wz, ws, b};
    kp_node *n = conv_node("DynQConv", "ai.kompress", 5, in, 1);
    check_kernel(n, 5, in, w, 1u << 1 | 1u << 2);
    kp_node_free(n);
    kp_tensor *all[] = {x, w, wz, ws, b};
    free_all(5, all);
}

static void matmul_planned(void **state) {
    (void)state;
    const int64_t M = 5, K = 37, N = 21;
    kp_tensor *a = rand8(KP_UINT8, 3, D(2, M, K)), *bm = rand8(KP_INT8, 2, D(K, N));
    kp_tensor *za = tt(KP_UINT8, 0, NULL, V(9)), *zb = rand8(KP_INT8, 1, D(N));
    const kp_tensor *mi[4] = {a, bm, za, zb};
    kp_node *n = mknode("MatMulInteger", 4, mi, 1);
    check_kernel(n, 4, mi, bm, 1u << 1 | 1u << 3);
    kp_node_free(n);
    kp_tensor *sa = tt(KP_FLOAT, 0, NULL, V(0.05)), *sb = tt(KP_FLOAT, 1, D(N), NULL);
    for (int64_t i = 0; i < N; i++) ((float *)sb->data)[i] = 0.002f * (float)(i + 1);
    kp_tensor *sy = tt(KP_FLOAT, 0, NULL, V(0.4)), *zy = tt(KP_INT8, 0, NULL, V(-3));
    const kp_tensor *qi[8] = {a, sa, za, bm, sb, zb, sy, zy};
    n = mknode("QLinearMatMul", 8, qi, 1);
    check_kernel(n, 8, qi, bm, 1u << 3 | 1u << 5);
    kp_node_free(n);
    kp_tensor *x = randf(2, D(3, K)), *ws = tt(KP_FLOAT, 0, NULL, V(0.01)), *bias = randf(1, D(N));
    const kp_tensor *di[5] = {x, bm, zb, ws, bias};
    n = mknode("DynQMatMul", 5, di, 1);
    free(n->domain);
    n->domain = strdup("ai.kompress");
    check_kernel(n, 5, di, bm, 1u << 1 | 1u << 2);
    kp_node_free(n);
    kp_tensor *all[] = {a, bm, za, zb, sa, sb, sy, zy, x, ws, bias};
    free_all(11, all);
}

/* DynQConv's output (channel-major, written in 16 x 16 transposed blocks where AVX-512 is
 * there) against the unfused ops it stands for, over channel counts around 16 and planes with
 * and without a tail of pixels, with and without bias. */
static void dynq_conv_layouts(void **state) {
    (void)state;
    static const int64_t shapes[][3] = {
        {5, 7, 6}, {16, 4, 4}, {32, 28, 28}, {37, 5, 9}, {64, 7, 7}};
    kp_error e;
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++)
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            int64_t co = shapes[si][0], h = shapes[si][1], wd = shapes[si][2];
            kp_tensor *x = randf(4, D(1, 3, h, wd)), *w = rand8(KP_INT8, 4, D(co, 3, 3, 3));
            kp_tensor *ws = randf(3, D(co, 1, 1)), *b = randf(3, D(co, 1, 1));
            kp_tensor *wz = tt(KP_INT8, 0, NULL, V(0));
            const kp_tensor *in[5] = {x, w, wz, ws, with_bias ? b : NULL};
            kp_node *n = conv_node("DynQConv", "ai.kompress", 5, in, 1);
            kp_tensor *got = NULL, *dq[3] = {0}, *acc = NULL, *f = NULL, *sc = NULL, *y = NULL;
            if (kp_op_call(n, 13, 5, in, 1, &got, &e)) fail_msg("%s", e.msg);
            const kp_tensor *i1[1] = {x};
            kp_node *n1 = mknode("DynamicQuantizeLinear", 1, i1, 3);
            assert_int_equal(kp_op_call(n1, 13, 1, i1, 3, dq, &e), 0);
            const kp_tensor *i2[4] = {dq[0], w, dq[2], wz};
            kp_node *n2 = conv_node("ConvInteger", NULL, 4, i2, 1);
            assert_int_equal(kp_op_call(n2, 13, 4, i2, 1, &acc, &e), 0);
            const kp_tensor *i3[1] = {acc};
            kp_node *n3 = mknode("Cast", 1, i3, 1);
            kp_node_set_attr_int(n3, "to", KP_FLOAT);
            assert_int_equal(kp_op_call(n3, 13, 1, i3, 1, &f, &e), 0);
            const kp_tensor *i4[2] = {dq[1], ws};
            kp_node *n4 = mknode("Mul", 2, i4, 1);
            assert_int_equal(kp_op_call(n4, 13, 2, i4, 1, &sc, &e), 0);
            const kp_tensor *i5[2] = {f, sc};
            assert_int_equal(kp_op_call(n4, 13, 2, i5, 1, &y, &e), 0);
            if (with_bias) {
                kp_tensor *yb = NULL;
                const kp_tensor *i6[2] = {y, b};
                kp_node *n6 = mknode("Add", 2, i6, 1);
                assert_int_equal(kp_op_call(n6, 13, 2, i6, 1, &yb, &e), 0);
                kp_node_free(n6);
                kp_tensor_free(y);
                y = yb;
            }
            if (!same_bytes(got, y)) {
                int64_t i = 0;
                while (((float *)got->data)[i] == ((float *)y->data)[i]) i++;
                fail_msg("Cout %lld, %lldx%lld, bias %d: element %lld is %.9g, want %.9g",
                         (long long)co, (long long)h, (long long)wd, with_bias, (long long)i,
                         ((float *)got->data)[i], ((float *)y->data)[i]);
            }
            kp_tensor *all[] = {x, w, ws, b, wz, got, dq[0], dq[1], dq[2], acc, f, sc, y};
            free_all(13, all);
            kp_node *nodes[] = {n, n1, n2, n3, n4};
            for (int k = 0; k < 5; k++) kp_node_free(nodes[k]);
        }
}

/* The executor: a QLinearConv with initializer weights, run four times, against kp_op_call. */
static void executor_runs_match(void **state) {
    (void)state;
    kp_model *m = kp_model_new();
    kp_graph *g = m->graph;
    kp_tensor *w = rand8(KP_INT8, 4, D(4, 3, 3, 3)), *x = rand8(KP_UINT8, 4, D(1, 3, 6, 6));
    kp_tensor *sx = tt(KP_FLOAT, 0, NULL, V(0.02)), *zx = tt(KP_UINT8, 0, NULL, V(17));
    kp_tensor *sw = tt(KP_FLOAT, 0, NULL, V(0.01)), *zw = tt(KP_INT8, 0, NULL, V(0));
    kp_tensor *sy = tt(KP_FLOAT, 0, NULL, V(0.1)), *zy = tt(KP_UINT8, 0, NULL, V(128));
    kp_tensor *inits[] = {sx, zx, w, sw, zw, sy, zy};
    const char *names[] = {"sx", "zx", "w", "sw", "zw", "sy", "zy"};
    for (int i = 0; i < 7; i++) {
        kp_tensor *c = kp_tensor_clone(inits[i], NULL);
        assert_int_equal(kp_tensor_set_name(c, names[i]), 0);
        assert_int_equal(kp_graph_add_init(g, c), 0);
    }
    set_io(g, KP_UINT8, 4, D(1, 3, 6, 6), 4, D(1, 4, 6, 6));
    const char *ins[8] = {"x", "sx", "zx", "w", "sw", "zw", "sy", "zy"}, *outs[1] = {"y"};
    kp_node *n = kp_node_new("QLinearConv", "qc", 8, ins, 1, outs);
    kp_node_set_attr_ints(n, "pads", 4, D(1, 1, 1, 1));
    assert_int_equal(kp_graph_add_node(g, n), 0);
    kp_error e;
    const kp_tensor *in[8] = {x, sx, zx, w, sw, zw, sy, zy};
    kp_tensor *ref = NULL;
    assert_int_equal(kp_op_call(n, 13, 8, in, 1, &ref, &e), 0);
    kp_exec *ex = NULL;
    if (kp_exec_new(m, NULL, &ex, &e)) fail_msg("%s", e.msg);
    for (int r = 0; r < 4; r++) {
        kp_tensor *y = NULL;
        const kp_tensor *xin[1] = {x};
        if (kp_exec_run(ex, xin, &y, &e)) fail_msg("%s", e.msg);
        assert_true(same_bytes(ref, y));
        kp_tensor_free(y);
    }
    kp_exec_free(ex);
    kp_model_free(m);
    kp_tensor_free(ref);
    kp_tensor *all[] = {w, x, sx, zx, sw, zw, sy, zy};
    free_all(8, all);
}

int main(void) {
    rnd_seed(7);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(qlinear_conv_planned), cmocka_unit_test(dyn_conv_planned),
        cmocka_unit_test(matmul_planned),       cmocka_unit_test(executor_runs_match),
        cmocka_unit_test(dynq_conv_layouts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
