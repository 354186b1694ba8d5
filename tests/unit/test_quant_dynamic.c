/* quant-dynamic on the demo CNN (examples/fashion-mnist/cnn.onnx, 4 Conv + 2 Gemm): by default
 * (conv=keep) the Conv layers stay float and only the Gemms become MatMulInteger, with a note
 * saying why; conv=convinteger writes ConvInteger. The estimate matches each choice, and on a
 * model whose only weights are Conv kernels the default estimate is "not applicable" and apply
 * fails, both naming quant-static. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/onnx_io.h"
#include "core/pass.h"
#include "passes/registry.h"

#define CNN "examples/fashion-mnist/cnn.onnx"

static char notes[4096];
static void on_note(void *user, const char *msg) {
    (void)user;
    strncat(notes, msg, sizeof notes - strlen(notes) - 2);
    strcat(notes, "\n");
}

static const kp_pass *qd(void) {
    size_t n;
    const kp_pass *const *all = kp_passes(&n);
    const kp_pass *p = kp_pass_find(all, n, "quant-dynamic");
    assert_non_null(p);
    return p;
}

static size_t count(const kp_model *m, const char *op) {
    size_t c = 0;
    for (size_t i = 0; i < m->graph->n_nodes; i++) c += kp_node_is(m->graph->nodes[i], op) ? 1 : 0;
    return c;
}

static kp_model *load(void) {
    kp_model *m = NULL;
    kp_error e = {0};
    if (kp_onnx_load(CNN, NULL, &m, &e)) return NULL;
    return m;
}

static void run(const char *params, kp_estimate *est, kp_model **out) {
    kp_model *m = load();
    if (!m) skip();
    kp_params p;
    kp_error e = {0};
    assert_int_equal(kp_params_parse(qd(), params, &p, &e), 0);
    kp_pass_ctx ctx = {0};
    ctx.note = on_note;
    notes[0] = 0;
    assert_int_equal(qd()->estimate(m, &p, &ctx, est, &e), 0);
    assert_int_equal(qd()->apply(m, &p, &ctx, &e), 0);
    kp_params_free(&p);
    *out = m;
}

static void default_keeps_conv(void **state) {
    (void)state;
    kp_estimate keep, ci;
    kp_model *m;
    run("", &keep, &m);
    assert_int_equal(count(m, "Conv"), 4);
    assert_int_equal(count(m, "ConvInteger"), 0);
    assert_int_equal(count(m, "MatMulInteger"), 2);
    assert_non_null(strstr(notes, "4 Conv kept in float: ONNX Runtime runs ConvInteger slower"));
    kp_model_free(m);

    run("conv=convinteger", &ci, &m);
    assert_int_equal(count(m, "Conv"), 0);
    assert_int_equal(count(m, "ConvInteger"), 4);
    assert_int_equal(count(m, "MatMulInteger"), 2);
    assert_null(strstr(notes, "kept in float"));
    kp_model_free(m);

    /* keeping Conv float shrinks the file less, and int8 covers less of the compute */
    assert_true(keep.applicable && ci.applicable);
    assert_true(keep.size_ratio > ci.size_ratio + 0.05);
    assert_true(keep.latency_ratio >= ci.latency_ratio);
}

static void conv_only(void **state) {
    (void)state;
    kp_model *m = load();
    if (!m) skip();
    /* the Gemms become Sums (no weights): the shapes no longer fit, but estimate and apply
     * only look at which ops use the weights, and now every weight-using layer is a Conv */
    for (size_t i = 0; i < m->graph->n_nodes; i++) {
        kp_node *n = m->graph->nodes[i];
        if (!kp_node_is(n, "Gemm")) continue;
        free(n->op_type);
        n->op_type = strdup("Sum");
        assert_non_null(n->op_type);
    }
    kp_params p;
    kp_error e = {0};
    assert_int_equal(kp_params_parse(qd(), "", &p, &e), 0);
    kp_estimate est;
    assert_int_equal(qd()->estimate(m, &p, NULL, &est, &e), 0);
    assert_false(est.applicable);
    assert_non_null(strstr(est.reason, "changes nothing by default"));
    assert_non_null(strstr(est.reason, "quant-static"));
    assert_int_equal(qd()->apply(m, &p, NULL, &e), KP_EUNSUPPORTED);
    if (!strstr(e.msg, "use quant-static")) fail_msg("%s", e.msg);
    kp_params_free(&p);
    assert_int_equal(kp_params_parse(qd(), "conv=convinteger", &p, &e), 0);
    assert_int_equal(qd()->estimate(m, &p, NULL, &est, &e), 0);
    assert_true(est.applicable);
    kp_params_free(&p);
    kp_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(default_keeps_conv),
                                       cmocka_unit_test(conv_only)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
