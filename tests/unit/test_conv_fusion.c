/* Conv (+ activation) + MaxPool through the executor: the fused run (BatchNorm/activation/2x2
 * MaxPool folded into the Conv, weights packed at plan time) must match the unfused one
 * (keep_values disables fusion, every node then runs its own kernel) for every Conv path: the
 * channel-vectorised and width-vectorised direct 3x3 kernels, im2col + sgemm (5x5, stride 2,
 * and every shape when run with KOMPRESS_ISA=c, as tests/e2e/conv_portable.sh does), and for
 * MaxPools that must not be fused (3x3 window, ceil_mode, pads) and activations that block the
 * pool fusion (LeakyRelu). Also MaxPool's 2-D fast path against its general loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ophelp.h"

#include "core/exec.h"
#include "core/graph.h"
#include "core/ops/ops.h"

typedef struct {
    int64_t n, c, m, h, w, k, stride, pad;
    const char *act; /* "Relu", "LeakyRelu" or NULL */
    int64_t pk, ps;  /* MaxPool kernel and stride */
    int64_t ppad;    /* MaxPool pads (all sides) */
    int ceil;        /* MaxPool ceil_mode */
    int64_t group;   /* Conv group (0 = 1) */
} shape;

/* x -> Conv(w, b) -> [act] -> MaxPool -> y */
static kp_model *build(const shape *s) {
    kp_model *m = kp_model_new();
    kp_graph *g = m->graph;
    int64_t grp = s->group ? s->group : 1;
    int64_t xd[4] = {-1, s->c, s->h, s->w}, wd[4] = {s->m, s->c / grp, s->k, s->k}, bd[1] = {s->m};
    int64_t yd[4] = {-1, s->m, -1, -1};
    set_io(g, KP_FLOAT, 4, xd, 4, yd);
    kp_tensor *w = kp_tensor_new(KP_FLOAT, 4, wd, NULL), *b = kp_tensor_new(KP_FLOAT, 1, bd, NULL);
    assert_true(w && b);
    for (int64_t i = 0; i < w->numel; i++) ((float *)w->data)[i] = rnd_f();
    for (int64_t i = 0; i < b->numel; i++) ((float *)b->data)[i] = rnd_f();
    assert_int_equal(kp_tensor_set_name(w, "w"), 0);
    assert_int_equal(kp_tensor_set_name(b, "b"), 0);
    assert_int_equal(kp_graph_add_init(g, w), 0);
    assert_int_equal(kp_graph_add_init(g, b), 0);
    const char *cin[3] = {"x", "w", "b"}, *cout[1] = {s->act ? "c" : "a"};
    kp_node *cv = kp_node_new("Conv", "conv", 3, cin, 1, cout);
    int64_t pads[4] = {s->pad, s->pad, s->pad, s->pad}, st[2] = {s->stride, s->stride};
    int64_t ks[2] = {s->k, s->k};
    kp_node_set_attr_ints(cv, "pads", 4, pads);
    kp_node_set_attr_ints(cv, "strides", 2, st);
    kp_node_set_attr_ints(cv, "kernel_shape", 2, ks);
    if (grp > 1) kp_node_set_attr_int(cv, "group", grp);
    assert_int_equal(kp_graph_add_node(g, cv), 0);
    if (s->act) {
        const char *ain[1] = {"c"}, *aout[1] = {"a"};
        assert_int_equal(kp_graph_add_node(g, kp_node_new(s->act, "act", 1, ain, 1, aout)), 0);
    }
    const char *min[1] = {"a"}, *mout[1] = {"y"};
    kp_node *mp = kp_node_new("MaxPool", "mp", 1, min, 1, mout);
    int64_t pk[2] = {s->pk, s->pk}, ps[2] = {s->ps, s->ps};
    int64_t pp[4] = {s->ppad, s->ppad, s->ppad, s->ppad};
    kp_node_set_attr_ints(mp, "kernel_shape", 2, pk);
    kp_node_set_attr_ints(mp, "strides", 2, ps);
    if (s->ppad) kp_node_set_attr_ints(mp, "pads", 4, pp);
    if (s->ceil) kp_node_set_attr_int(mp, "ceil_mode", 1);
    assert_int_equal(kp_graph_add_node(g, mp), 0);
    return m;
}

static void check(const shape *s) {
    kp_model *m = build(s);
    int64_t xd[4] = {s->n, s->c, s->h, s->w};
    kp_tensor *x = kp_tensor_new(KP_FLOAT, 4, xd, NULL);
    assert_non_null(x);
    for (int64_t i = 0; i < x->numel; i++) ((float *)x->data)[i] = rnd_f();
    const kp_tensor *in[1] = {x};
    kp_tensor *y1 = NULL, *y2 = NULL;
    kp_error err = {0};
    kp_exec *fused = NULL, *plain = NULL;
    kp_exec_opts keep = {.keep_values = 1};
    assert_int_equal(kp_exec_new(m, NULL, &fused, &err), 0);
    assert_int_equal(kp_exec_new(m, &keep, &plain, &err), 0);
    for (int rep = 0; rep < 2; rep++) { /* twice: scratch reuse must not matter */
        kp_tensor_free(y1);
        y1 = NULL;
        if (kp_exec_run(fused, in, &y1, &err)) fail_msg("fused run: %s", err.msg);
    }
    if (kp_exec_run(plain, in, &y2, &err)) fail_msg("plain run: %s", err.msg);
    assert_int_equal(y1->rank, 4);
    for (int i = 0; i < 4; i++) assert_int_equal(y1->dims[i], y2->dims[i]);
    assert_true(y1->numel > 0);
    for (int64_t i = 0; i < y1->numel; i++) {
        float a = ((float *)y1->data)[i], b = ((float *)y2->data)[i];
        if (!(fabsf(a - b) <= 1e-5f * (1 + fabsf(b))))
            fail_msg("c=%lld m=%lld %lldx%lld k=%lld: y[%lld] = %g fused, %g unfused",
                     (long long)s->c, (long long)s->m, (long long)s->h, (long long)s->w,
                     (long long)s->k, (long long)i, (double)a, (double)b);
    }
    kp_tensor_free(y1);
    kp_tensor_free(y2);
    kp_tensor_free(x);
    kp_exec_free(fused);
    kp_exec_free(plain);
    kp_model_free(m);
}

static void fused_paths(void **state) {
    (void)state;
    static const shape cases[] = {
        {2, 1, 32, 28, 28, 3, 1, 1, "Relu", 2, 2, 0, 0, 1},  /* demo CNN layer 1 */
        {2, 32, 64, 14, 14, 3, 1, 1, "Relu", 2, 2, 0, 0, 1}, /* demo CNN layer 2 */
        {3, 3, 5, 9, 7, 3, 1, 1, "Relu", 2, 2, 0, 0, 1},     /* odd sizes, few channels */
        {2, 17, 33, 10, 13, 3, 1, 1, "Relu", 2, 2, 0, 0, 1},
        {1, 9, 18, 5, 31, 3, 1, 1, NULL, 2, 2, 0, 0, 1},      /* no activation */
        {2, 8, 16, 12, 11, 5, 1, 2, "Relu", 2, 2, 0, 0, 1},   /* 5x5: im2col + sgemm */
        {2, 4, 6, 13, 12, 3, 2, 1, "Relu", 2, 2, 0, 0, 1},    /* stride 2: im2col */
        {1, 20, 7, 3, 3, 3, 1, 1, "Relu", 2, 2, 0, 0, 1},     /* 3x3 plane -> 1x1 */
        {2, 24, 24, 13, 21, 3, 1, 1, "Relu", 2, 2, 0, 0, 24}, /* depthwise, stride 1 */
        {2, 20, 20, 15, 40, 3, 2, 1, "Relu", 2, 2, 0, 0, 20}, /* depthwise, stride 2 */
        {1, 8, 8, 9, 9, 5, 1, 2, NULL, 2, 2, 0, 0, 8},        /* depthwise 5x5: loop */
        {2, 16, 32, 10, 10, 3, 1, 1, "Relu", 2, 2, 0, 0, 4},  /* grouped */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check(&cases[i]);
}

static void unfusable_pools(void **state) {
    (void)state;
    static const shape cases[] = {
        {2, 16, 16, 9, 9, 3, 1, 1, "Relu", 3, 2, 0, 0, 1},      /* 3x3 window */
        {2, 16, 16, 9, 9, 3, 1, 1, "Relu", 2, 2, 0, 1, 1},      /* ceil_mode */
        {2, 16, 16, 8, 8, 3, 1, 1, "Relu", 2, 2, 1, 0, 1},      /* padded pool */
        {2, 16, 16, 8, 8, 3, 1, 1, "Relu", 2, 1, 0, 0, 1},      /* stride 1 */
        {2, 16, 16, 8, 8, 3, 1, 1, "LeakyRelu", 2, 2, 0, 0, 1}, /* activation not ReLU */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check(&cases[i]);
}

/* MaxPool without Indices takes the 2-D fast path (rows first); asking for Indices takes the
 * general loop: Y must be the same, over windows, strides and pads that clip at the borders. */
static void maxpool_fast_matches_general(void **state) {
    (void)state;
    static const int64_t cfg[][4] = {{3, 2, 1, 0}, {2, 2, 0, 1}, {3, 1, 1, 0}, {5, 3, 2, 1},
                                     {3, 2, 0, 1}, {2, 1, 1, 0}, {4, 3, 3, 1}};
    for (size_t t = 0; t < sizeof cfg / sizeof *cfg; t++) {
        int64_t k = cfg[t][0], st = cfg[t][1], pd = cfg[t][2], ceil = cfg[t][3];
        int64_t xd[4] = {2, 3, 9 + (int64_t)t, 7 + 2 * (int64_t)t};
        kp_tensor *x = kp_tensor_new(KP_FLOAT, 4, xd, NULL);
        assert_non_null(x);
        for (int64_t i = 0; i < x->numel; i++) ((float *)x->data)[i] = rnd_f();
        const char *in[1] = {"x"}, *o1[1] = {"y"}, *o2[2] = {"y", "i"};
        kp_node *fast = kp_node_new("MaxPool", "fast", 1, in, 1, o1);
        kp_node *gen = kp_node_new("MaxPool", "gen", 1, in, 2, o2);
        int64_t ks[2] = {k, k}, ss[2] = {st, st}, ps[4] = {pd, pd, pd, pd};
        for (int j = 0; j < 2; j++) {
            kp_node *nd = j ? gen : fast;
            kp_node_set_attr_ints(nd, "kernel_shape", 2, ks);
            kp_node_set_attr_ints(nd, "strides", 2, ss);
            kp_node_set_attr_ints(nd, "pads", 4, ps);
            kp_node_set_attr_int(nd, "ceil_mode", ceil);
        }
        kp_error err = {0};
        kp_tensor *yf = NULL, *yg[2] = {NULL, NULL};
        const kp_tensor *ins[1] = {x};
        if (kp_op_call(fast, 12, 1, ins, 1, &yf, &err)) fail_msg("%s", err.msg);
        if (kp_op_call(gen, 12, 1, ins, 2, yg, &err)) fail_msg("%s", err.msg);
        assert_int_equal(yf->numel, yg[0]->numel);
        assert_true(yf->numel > 0);
        assert_memory_equal(yf->data, yg[0]->data, (size_t)yf->numel * sizeof(float));
        kp_tensor_free(yf);
        kp_tensor_free(yg[0]);
        kp_tensor_free(yg[1]);
        kp_tensor_free(x);
        kp_node_free(fast);
        kp_node_free(gen);
    }
}

int main(void) {
    rnd_seed(99);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fused_paths),
        cmocka_unit_test(unfusable_pools),
        cmocka_unit_test(maxpool_fast_matches_general),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
