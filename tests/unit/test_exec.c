/* The executor on a model built in code: order independence, liveness, symbolic batch, input
 * checks, cancel, missing ops, keep_values, repeated runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/exec.h"
#include "core/graph.h"
#include "core/ops/ops.h"

static void set_vi(kp_value_info *v, const char *name, int rank, const int64_t *dims) {
    memset(v, 0, sizeof *v);
    v->name = strdup(name);
    assert_int_equal(kp_type_set_tensor(&v->type, KP_FLOAT, rank, dims), 0);
}

static kp_tensor *named(kp_tensor *t, const char *name) {
    assert_int_equal(kp_tensor_set_name(t, name), 0);
    return t;
}

/* x[N,1,4,4] -> Conv(w, pad 1) -> c -> MaxPool 2x2 -> p -> GlobalAveragePool -> y; c also feeds
 * an AveragePool whose output nobody reads. Nodes are added out of order on purpose. */
static kp_model *build(const char *extra_op) {
    kp_model *m = kp_model_new();
    kp_graph *g = m->graph;
    int64_t xd[4] = {-1, 1, 4, 4}, yd[4] = {-1, 2, 1, 1}, wd[4] = {2, 1, 3, 3};
    g->inputs = calloc(1, sizeof *g->inputs);
    g->n_inputs = 1;
    set_vi(&g->inputs[0], "x", 4, xd);
    g->outputs = calloc(1, sizeof *g->outputs);
    g->n_outputs = 1;
    set_vi(&g->outputs[0], "y", 4, yd);
    kp_tensor *w = named(kp_tensor_new(KP_FLOAT, 4, wd, NULL), "w");
    for (int i = 0; i < 18; i++) ((float *)w->data)[i] = (float)((i * 7) % 5) - 2.0f;
    assert_int_equal(kp_graph_add_init(g, w), 0);
    const char *gin[1] = {"p"}, *gout[1] = {"y"};
    kp_node *ga = kp_node_new("GlobalAveragePool", "gap", 1, gin, 1, gout);
    const char *min[1] = {"c"}, *mout[1] = {"p"};
    kp_node *mp = kp_node_new("MaxPool", "mp", 1, min, 1, mout);
    int64_t k2[2] = {2, 2}, pads[4] = {1, 1, 1, 1};
    kp_node_set_attr_ints(mp, "kernel_shape", 2, k2);
    kp_node_set_attr_ints(mp, "strides", 2, k2);
    const char *cin[2] = {"x", "w"}, *cout[1] = {"c"};
    kp_node *cv = kp_node_new("Conv", "conv", 2, cin, 1, cout);
    kp_node_set_attr_ints(cv, "pads", 4, pads);
    const char *ain[1] = {"c"}, *aout[1] = {"unused"};
    kp_node *ap = kp_node_new("AveragePool", "ap", 1, ain, 1, aout);
    kp_node_set_attr_ints(ap, "kernel_shape", 2, k2);
    assert_int_equal(kp_graph_add_node(g, ga), 0);
    assert_int_equal(kp_graph_add_node(g, mp), 0);
    assert_int_equal(kp_graph_add_node(g, ap), 0);
    assert_int_equal(kp_graph_add_node(g, cv), 0);
    if (extra_op) {
        const char *ein[1] = {"x"}, *eout[1] = {"e"};
        assert_int_equal(kp_graph_add_node(g, kp_node_new(extra_op, "extra", 1, ein, 1, eout)), 0);
    }
    return m;
}

static kp_tensor *input(int64_t n, int64_t c) {
    int64_t d[4] = {n, c, 4, 4};
    kp_tensor *t = kp_tensor_new(KP_FLOAT, 4, d, NULL);
    for (int64_t i = 0; i < t->numel; i++) ((float *)t->data)[i] = (float)(i % 11) * 0.25f - 1;
    return t;
}

/* Same computation node by node through kp_op_call. */
static kp_tensor *reference(const kp_model *m, const kp_tensor *x) {
    kp_graph *g = m->graph;
    kp_error err = {0};
    kp_tensor *c, *p, *y;
    const kp_tensor *in1[2] = {x, g->inits[0]};
    assert_int_equal(kp_op_call(g->nodes[3], 21, 2, in1, 1, &c, &err), 0);
    const kp_tensor *in2[1] = {c};
    assert_int_equal(kp_op_call(g->nodes[1], 21, 1, in2, 1, &p, &err), 0);
    const kp_tensor *in3[1] = {p};
    assert_int_equal(kp_op_call(g->nodes[0], 21, 1, in3, 1, &y, &err), 0);
    kp_tensor_free(c);
    kp_tensor_free(p);
    return y;
}

static void runs_any_order_and_batch(void **state) {
    (void)state;
    kp_model *m = build(NULL);
    kp_exec *e;
    kp_error err = {0};
    assert_int_equal(kp_exec_new(m, NULL, &e, &err), 0);
    assert_int_equal(kp_exec_n_inputs(e), 1);
    assert_int_equal(kp_exec_n_outputs(e), 1);
    for (int64_t n = 1; n <= 3; n += 2)
        for (int rep = 0; rep < 2; rep++) {
            kp_tensor *x = input(n, 1), *y = NULL;
            const kp_tensor *in[1] = {x};
            assert_int_equal(kp_exec_run(e, in, &y, &err), 0);
            kp_tensor *ref = reference(m, x);
            assert_int_equal(y->rank, 4);
            assert_int_equal(y->dims[0], n);
            assert_string_equal(y->name, "y");
            assert_true(kp_tensor_equal(y, ref));
            /* x + c + p (+ unused) live at once at most; weights are not counted. */
            size_t peak = kp_exec_peak_bytes(e);
            assert_true(peak >= x->nbytes + (size_t)(n * 2 * 16 * 4));
            assert_true(peak <= x->nbytes + (size_t)(n * 2 * 16 * 4) * 3);
            size_t nn;
            const double *secs = kp_exec_node_seconds(e, &nn);
            assert_int_equal(nn, 4);
            for (size_t i = 0; i < nn; i++) assert_true(secs[i] >= 0);
            kp_tensor_free(x);
            kp_tensor_free(y);
            kp_tensor_free(ref);
        }
    kp_exec_free(e);
    kp_model_free(m);
}

static void refuses_bad_inputs(void **state) {
    (void)state;
    kp_model *m = build(NULL);
    kp_exec *e;
    kp_error err = {0};
    assert_int_equal(kp_exec_new(m, NULL, &e, &err), 0);
    kp_tensor *x = input(1, 2), *y = NULL;
    const kp_tensor *in[1] = {x};
    assert_int_equal(kp_exec_run(e, in, &y, &err), KP_EINVAL);
    assert_non_null(strstr(err.msg, "'x'"));
    assert_null(y);
    kp_tensor_free(x);
    int64_t d[4] = {1, 1, 4, 4};
    kp_tensor *xi = kp_tensor_new(KP_INT64, 4, d, NULL);
    in[0] = xi;
    assert_int_equal(kp_exec_run(e, in, &y, &err), KP_EINVAL);
    assert_non_null(strstr(err.msg, "float32"));
    kp_tensor_free(xi);
    int64_t d3[3] = {1, 4, 4};
    kp_tensor *x3 = kp_tensor_new(KP_FLOAT, 3, d3, NULL);
    in[0] = x3;
    assert_int_equal(kp_exec_run(e, in, &y, &err), KP_EINVAL);
    assert_non_null(strstr(err.msg, "rank"));
    kp_tensor_free(x3);
    kp_exec_free(e);
    kp_model_free(m);
}

static void cancel_flag(void **state) {
    (void)state;
    kp_model *m = build(NULL);
    volatile int cancel = 1;
    kp_exec_opts o = {.threads = 1, .cancel = &cancel};
    kp_exec *e;
    kp_error err = {0};
    assert_int_equal(kp_exec_new(m, &o, &e, &err), 0);
    kp_tensor *x = input(1, 1), *y = NULL;
    const kp_tensor *in[1] = {x};
    assert_int_equal(kp_exec_run(e, in, &y, &err), KP_ECANCELLED);
    assert_null(y);
    cancel = 0;
    assert_int_equal(kp_exec_run(e, in, &y, &err), 0);
    kp_tensor_free(y);
    kp_tensor_free(x);
    kp_exec_free(e);
    kp_model_free(m);
}

static void missing_ops_listed(void **state) {
    (void)state;
    kp_model *m = build("Frobnicate");
    char **ops;
    size_t n;
    kp_error err = {0};
    assert_int_equal(kp_exec_missing_ops(m, &ops, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(ops[0], "Frobnicate");
    kp_strv_free(ops, n);
    kp_exec *e = NULL;
    assert_int_equal(kp_exec_new(m, NULL, &e, &err), KP_EUNSUPPORTED);
    assert_null(e);
    assert_non_null(strstr(err.msg, "Frobnicate"));
    kp_model_free(m);
}

static void keep_values(void **state) {
    (void)state;
    kp_model *m = build(NULL);
    kp_exec_opts o = {.keep_values = 1};
    kp_exec *e;
    kp_error err = {0};
    assert_int_equal(kp_exec_new(m, &o, &e, &err), 0);
    kp_tensor *x = input(2, 1), *y = NULL;
    const kp_tensor *in[1] = {x};
    assert_int_equal(kp_exec_run(e, in, &y, &err), 0);
    const kp_tensor *c = kp_exec_value(e, "c");
    assert_non_null(c);
    assert_int_equal(c->dims[0], 2);
    assert_int_equal(c->dims[1], 2);
    assert_non_null(kp_exec_value(e, "y"));
    assert_null(kp_exec_value(e, "nope"));
    kp_tensor_free(y);
    kp_tensor_free(x);
    kp_exec_free(e);
    kp_model_free(m);
}

static void cycle_refused(void **state) {
    (void)state;
    kp_model *m = build(NULL);
    /* Make conv read p (produced downstream of conv): a cycle. */
    kp_node_set_input(m->graph->nodes[3], 0, "p");
    kp_graph_touch(m->graph);
    kp_exec *e = NULL;
    kp_error err = {0};
    assert_int_equal(kp_exec_new(m, NULL, &e, &err), KP_EFORMAT);
    assert_non_null(strstr(err.msg, "cycle"));
    kp_model_free(m);
}

/* x -> Conv(+bias) -> BatchNormalization -> Relu -> y, and x also -> Gemm path is not needed:
 * the fused run (BN folded, Relu fused) must match the unfused one (keep_values disables
 * fusion) within float rounding. */
static void fusion_matches_unfused(void **state) {
    (void)state;
    kp_model *m = kp_model_new();
    kp_graph *g = m->graph;
    int64_t xd[4] = {2, 3, 5, 5}, yd[4] = {2, 4, 5, 5}, wd[4] = {4, 3, 3, 3}, cd[1] = {4};
    g->inputs = calloc(1, sizeof *g->inputs);
    g->n_inputs = 1;
    set_vi(&g->inputs[0], "x", 4, xd);
    g->outputs = calloc(1, sizeof *g->outputs);
    g->n_outputs = 1;
    set_vi(&g->outputs[0], "y", 4, yd);
    const char *names[6] = {"w", "b", "s", "beta", "mean", "var"};
    for (int k = 0; k < 6; k++) {
        kp_tensor *t = named(kp_tensor_new(KP_FLOAT, k ? 1 : 4, k ? cd : wd, NULL), names[k]);
        for (int64_t i = 0; i < t->numel; i++)
            ((float *)t->data)[i] = k == 5 ? 0.5f + (float)i : (float)((i * 7 + k) % 9) / 4 - 1;
        assert_int_equal(kp_graph_add_init(g, t), 0);
    }
    const char *cin[3] = {"x", "w", "b"}, *cout[1] = {"c"};
    kp_node *cv = kp_node_new("Conv", "conv", 3, cin, 1, cout);
    int64_t pads[4] = {1, 1, 1, 1};
    kp_node_set_attr_ints(cv, "pads", 4, pads);
    const char *bin[5] = {"c", "s", "beta", "mean", "var"}, *bout[1] = {"n"};
    const char *rin[1] = {"n"}, *rout[1] = {"y"};
    assert_int_equal(kp_graph_add_node(g, cv), 0);
    assert_int_equal(kp_graph_add_node(g, kp_node_new("BatchNormalization", "bn", 5, bin, 1, bout)),
                     0);
    assert_int_equal(kp_graph_add_node(g, kp_node_new("Relu", "relu", 1, rin, 1, rout)), 0);
    kp_tensor *x = input(2, 3);
    int64_t d5[4] = {2, 3, 5, 5};
    kp_tensor *x5 = kp_tensor_new(KP_FLOAT, 4, d5, NULL);
    for (int64_t i = 0; i < x5->numel; i++) ((float *)x5->data)[i] = (float)(i % 13) / 6 - 1;
    kp_tensor_free(x);
    const kp_tensor *in[1] = {x5};
    kp_tensor *y1 = NULL, *y2 = NULL;
    kp_error err = {0};
    kp_exec *fused, *plain;
    kp_exec_opts keep = {.keep_values = 1};
    assert_int_equal(kp_exec_new(m, NULL, &fused, &err), 0);
    assert_int_equal(kp_exec_new(m, &keep, &plain, &err), 0);
    assert_int_equal(kp_exec_run(fused, in, &y1, &err), 0);
    assert_int_equal(kp_exec_run(plain, in, &y2, &err), 0);
    assert_non_null(kp_exec_value(plain, "c"));
    int negatives = 0;
    for (int64_t i = 0; i < y1->numel; i++) {
        float a = ((float *)y1->data)[i], b = ((float *)y2->data)[i];
        assert_true(fabsf(a - b) <= 1e-5f * (1 + fabsf(b)));
        assert_true(a >= 0);
        negatives += ((float *)kp_exec_value(plain, "n")->data)[i] < 0;
    }
    assert_true(negatives > 0); /* the Relu mattered */
    kp_tensor_free(y1);
    kp_tensor_free(y2);
    kp_tensor_free(x5);
    kp_exec_free(fused);
    kp_exec_free(plain);
    kp_model_free(m);
}

/* Loop (3 trips) whose body multiplies the carried [1,2] row by an outer-scope 2x2 matrix and
 * scans each result; inside an If's then-branch. Checks outer-scope reads two levels deep. */
static void loop_inside_if(void **state) {
    (void)state;
    kp_model *m = kp_model_new();
    kp_graph *g = m->graph;
    int64_t vd[2] = {1, 2}, md[2] = {2, 2}, sd[3] = {3, 1, 2}, one = 1;
    g->inputs = calloc(2, sizeof *g->inputs);
    g->n_inputs = 2;
    set_vi(&g->inputs[0], "v0", 2, vd);
    set_vi(&g->inputs[1], "cond", 0, NULL);
    g->inputs[1].type.elem = KP_BOOL;
    g->outputs = calloc(2, sizeof *g->outputs);
    g->n_outputs = 2;
    set_vi(&g->outputs[0], "vf", 2, vd);
    set_vi(&g->outputs[1], "scan", 3, sd);
    kp_tensor *w = named(kp_tensor_new(KP_FLOAT, 2, md, NULL), "w");
    float wv[4] = {0, 1, 2, 0}; /* [a, b] -> [2b, a] */
    memcpy(w->data, wv, sizeof wv);
    assert_int_equal(kp_graph_add_init(g, w), 0);
    kp_tensor *trips = named(kp_tensor_new(KP_INT64, 0, &one, NULL), "trips");
    *(int64_t *)trips->data = 3;
    assert_int_equal(kp_graph_add_init(g, trips), 0);
    /* Loop body: (i, c, v) -> (c, v*w, v*w) */
    kp_graph *body = kp_graph_new(NULL);
    body->inputs = calloc(3, sizeof *body->inputs);
    body->n_inputs = 3;
    set_vi(&body->inputs[0], "i", 0, NULL);
    body->inputs[0].type.elem = KP_INT64;
    set_vi(&body->inputs[1], "c", 0, NULL);
    body->inputs[1].type.elem = KP_BOOL;
    set_vi(&body->inputs[2], "v", 2, vd);
    body->outputs = calloc(3, sizeof *body->outputs);
    body->n_outputs = 3;
    set_vi(&body->outputs[0], "c", 0, NULL);
    set_vi(&body->outputs[1], "vw", 2, vd);
    set_vi(&body->outputs[2], "vw2", 2, vd);
    const char *mi[2] = {"v", "w"}, *mo[1] = {"vw"}, *m2i[2] = {"v", "w"}, *m2o[1] = {"vw2"};
    assert_int_equal(kp_graph_add_node(body, kp_node_new("MatMul", "mm", 2, mi, 1, mo)), 0);
    assert_int_equal(kp_graph_add_node(body, kp_node_new("MatMul", "mm2", 2, m2i, 1, m2o)), 0);
    /* then-branch: Loop(trips, "", v0) -> (vf_t, scan_t); the else-branch is a copy. */
    kp_graph *then_g = kp_graph_new(NULL);
    then_g->outputs = calloc(2, sizeof *then_g->outputs);
    then_g->n_outputs = 2;
    set_vi(&then_g->outputs[0], "vf_t", 2, vd);
    set_vi(&then_g->outputs[1], "scan_t", 3, sd);
    const char *li[3] = {"trips", "", "v0"}, *lo[2] = {"vf_t", "scan_t"};
    kp_node *loop = kp_node_new("Loop", "loop", 3, li, 2, lo);
    assert_int_equal(kp_node_set_attr_graph(loop, "body", body), 0);
    assert_int_equal(kp_graph_add_node(then_g, loop), 0);
    kp_graph *else_g = kp_graph_clone(then_g, NULL, NULL);
    assert_non_null(else_g);
    const char *ii[1] = {"cond"}, *io[2] = {"vf", "scan"};
    kp_node *ifn = kp_node_new("If", "if", 1, ii, 2, io);
    assert_int_equal(kp_node_set_attr_graph(ifn, "then_branch", then_g), 0);
    assert_int_equal(kp_node_set_attr_graph(ifn, "else_branch", else_g), 0);
    assert_int_equal(kp_graph_add_node(g, ifn), 0);
    char **missing;
    size_t nm;
    kp_error err = {0};
    assert_int_equal(kp_exec_missing_ops(m, &missing, &nm, &err), 0);
    assert_int_equal(nm, 0);
    kp_exec *e;
    assert_int_equal(kp_exec_new(m, NULL, &e, &err), 0);
    kp_tensor *v0 = kp_tensor_new(KP_FLOAT, 2, vd, NULL),
              *c = kp_tensor_new(KP_BOOL, 0, &one, NULL);
    ((float *)v0->data)[0] = 1;
    ((float *)v0->data)[1] = 3;
    *(uint8_t *)c->data = 1;
    const kp_tensor *in[2] = {v0, c};
    kp_tensor *out[2] = {NULL, NULL};
    assert_int_equal(kp_exec_run(e, in, out, &err), 0);
    /* [1,3] -> [6,1] -> [2,6] -> [12,2] */
    const float *vf = out[0]->data, *sc = out[1]->data;
    assert_true(vf[0] == 12 && vf[1] == 2);
    assert_int_equal(out[1]->rank, 3);
    assert_int_equal(out[1]->dims[0], 3);
    assert_true(sc[0] == 6 && sc[1] == 1 && sc[2] == 2 && sc[3] == 6 && sc[4] == 12 && sc[5] == 2);
    kp_tensor_free(out[0]);
    kp_tensor_free(out[1]);
    kp_tensor_free(v0);
    kp_tensor_free(c);
    kp_exec_free(e);
    kp_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(runs_any_order_and_batch),
        cmocka_unit_test(refuses_bad_inputs),
        cmocka_unit_test(cancel_flag),
        cmocka_unit_test(missing_ops_listed),
        cmocka_unit_test(keep_values),
        cmocka_unit_test(cycle_refused),
        cmocka_unit_test(fusion_matches_unfused),
        cmocka_unit_test(loop_inside_if),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
