/* Cancel flags on the long walks over a big model (what lets the TUI quit promptly while a
 * worker loads or measures): the ONNX loader, shape inference, the executor's planning and the
 * planner stop with KP_ECANCELLED and return nothing once the flag is raised, and do their work
 * when it is not. Also: inference appends value_info in amortized constant time (a chain of
 * 20,000 nodes gets every intermediate shape). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/exec.h"
#include "core/graph.h"
#include "core/onnx_io.h"
#include "core/planner.h"
#include "core/shape_infer.h"
#include "core/target_builtin.h"
#include "passes/registry.h"

enum { BIG = 20000 };

static void set_vi(kp_value_info *v, const char *name) {
    int64_t d[2] = {1, 4};
    memset(v, 0, sizeof *v);
    v->name = strdup(name);
    assert_non_null(v->name);
    assert_int_equal(kp_type_set_tensor(&v->type, KP_FLOAT, 2, d), 0);
}

/* x[1,4] -> Relu -> r0 -> Relu -> r1 ... -> y: n nodes, no declared intermediate shapes. */
static kp_model *chain(size_t n) {
    kp_model *m = kp_model_new();
    assert_non_null(m);
    kp_graph *g = m->graph;
    g->inputs = calloc(1, sizeof *g->inputs);
    g->outputs = calloc(1, sizeof *g->outputs);
    assert_true(g->inputs && g->outputs);
    g->n_inputs = g->n_outputs = 1;
    set_vi(&g->inputs[0], "x");
    set_vi(&g->outputs[0], "y");
    char in[32] = "x", out[32];
    for (size_t i = 0; i < n; i++) {
        if (i + 1 == n)
            snprintf(out, sizeof out, "y");
        else
            snprintf(out, sizeof out, "r%zu", i);
        const char *ins[1] = {in}, *outs[1] = {out};
        kp_node *nd = kp_node_new("Relu", NULL, 1, ins, 1, outs);
        assert_non_null(nd);
        assert_int_equal(kp_graph_add_node(g, nd), 0);
        memcpy(in, out, sizeof in);
    }
    return m;
}

static void inference_appends_every_shape(void **state) {
    (void)state;
    kp_model *m = chain(BIG);
    kp_error err = {0};
    assert_int_equal(kp_infer_shapes(m, &err), 0);
    assert_int_equal(m->graph->n_value_info, BIG - 1); /* every r_i, not x or y */
    const char *probe[] = {"r0", "r1", "r4095", "r4096", "r12345", "r19998"};
    for (size_t i = 0; i < sizeof probe / sizeof *probe; i++) {
        const kp_type *t = kp_graph_value_type(m->graph, probe[i]);
        assert_non_null(t);
        assert_int_equal(t->rank, 2);
        assert_int_equal(t->dims[1].value, 4);
    }
    /* a second run changes types in place and appends nothing */
    assert_int_equal(kp_infer_shapes(m, &err), 0);
    assert_int_equal(m->graph->n_value_info, BIG - 1);
    kp_model *c = kp_model_clone(m, &err); /* the copy is exact-sized: appending must still work */
    assert_non_null(c);
    const kp_type *t = kp_graph_value_type(c->graph, "x");
    assert_non_null(t);
    kp_type nt;
    assert_int_equal(kp_type_copy(&nt, t), 0);
    assert_int_equal(kp_graph_set_value_type(c->graph, "extra", &nt), 0);
    kp_type_clear(&nt);
    assert_int_equal(c->graph->n_value_info, BIG);
    assert_non_null(kp_graph_value_type(c->graph, "r777"));
    assert_non_null(kp_graph_value_type(c->graph, "extra"));
    kp_model_free(c);
    kp_model_free(m);
}

static void inference_cancels(void **state) {
    (void)state;
    kp_model *m = chain(BIG);
    kp_error err = {0};
    volatile int cancel = 1;
    assert_int_equal(kp_infer_shapes_cancel(m, &cancel, &err), KP_ECANCELLED);
    assert_non_null(strstr(err.msg, "cancel"));
    cancel = 0;
    memset(&err, 0, sizeof err);
    assert_int_equal(kp_infer_shapes_cancel(m, &cancel, &err), 0);
    assert_non_null(kp_graph_value_type(m->graph, "r19998"));
    kp_model_free(m);
}

static void load_cancels(void **state) {
    (void)state;
    char dir[] = "/tmp/kp_cancel_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/big.onnx", dir);
    kp_model *m = chain(BIG);
    kp_error err = {0};
    assert_int_equal(kp_onnx_save(m, path, 1, &err), 0);
    kp_model_free(m);

    volatile int cancel = 1;
    kp_load_opts o = {.cancel = &cancel};
    kp_model *got = (kp_model *)&o; /* must be reset to NULL */
    assert_int_equal(kp_onnx_load(path, &o, &got, &err), KP_ECANCELLED);
    assert_null(got);
    assert_non_null(strstr(err.msg, "cancel"));
    cancel = 0;
    memset(&err, 0, sizeof err);
    assert_int_equal(kp_onnx_load(path, &o, &got, &err), 0);
    assert_int_equal(got->graph->n_nodes, BIG);
    kp_model_free(got);
    unlink(path);
    rmdir(dir);
}

static void exec_new_cancels_on_big_graphs(void **state) {
    (void)state;
    kp_model *m = chain(BIG);
    kp_error err = {0};
    volatile int cancel = 1;
    kp_exec_opts o = {.threads = 1, .cancel = &cancel};
    kp_exec *e = (kp_exec *)&o;
    assert_int_equal(kp_exec_new(m, &o, &e, &err), KP_ECANCELLED);
    assert_null(e);
    cancel = 0;
    assert_int_equal(kp_exec_new(m, &o, &e, &err), 0);
    kp_exec_free(e);
    kp_model_free(m);
    /* a small graph is planned whatever the flag says (its run is what stops) */
    m = chain(10);
    cancel = 1;
    assert_int_equal(kp_exec_new(m, &o, &e, &err), 0);
    kp_exec_free(e);
    kp_model_free(m);
}

static void planner_cancels(void **state) {
    (void)state;
    kp_model *m = chain(4);
    kp_project p;
    memset(&p, 0, sizeof p);
    p.max_drop = 1.0;
    const kp_target *t = &kp_target_builtins[0];
    size_t np;
    const kp_pass *const *passes = kp_passes(&np);
    kp_error err = {0};
    volatile int cancel = 1;
    kp_planner_opts o = {.cancel = &cancel};
    kp_plan plan;
    memset(&plan, 0xff, sizeof plan);
    assert_int_equal(
        kp_planner_propose_split_opts(&p, m, t, passes, np, NULL, NULL, &o, &plan, &err),
        KP_ECANCELLED);
    assert_int_equal(plan.n, 0);
    assert_null(plan.steps);
    assert_string_equal(err.msg, "plan cancelled");
    cancel = 0;
    memset(&err, 0, sizeof err);
    assert_int_equal(
        kp_planner_propose_split_opts(&p, m, t, passes, np, NULL, NULL, &o, &plan, &err), 0);
    assert_true(plan.n > 0);
    kp_plan_free(&plan);
    kp_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(inference_appends_every_shape),
        cmocka_unit_test(inference_cancels),
        cmocka_unit_test(load_cancels),
        cmocka_unit_test(exec_new_cancels_on_big_graphs),
        cmocka_unit_test(planner_cancels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
