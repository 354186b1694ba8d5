/* core/metrics: accuracy (labels, references), percentiles, sizes, weights, MACs, latency. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/exec.h"
#include "core/metrics.h"

static kp_tensor *scores(int rows, int k, const float *v) {
    const int64_t d[2] = {rows, k};
    kp_tensor *t = kp_tensor_new(KP_FLOAT, 2, d, NULL);
    memcpy(t->data, v, sizeof(float) * (size_t)(rows * k));
    return t;
}

static void accuracy_labels(void **state) {
    (void)state;
    /* 6 classes so top-5 can miss. */
    const float v[3 * 6] = {
        0.1f, 0.9f, 0.0f, 0.0f, 0.0f, 0.0f, /* arg max 1 */
        0.5f, 0.4f, 0.3f, 0.2f, 0.1f, 0.0f, /* label 5 ranks last: top-5 miss */
        0.2f, 0.2f, 0.1f, 0.0f, 0.0f, 0.0f, /* tie 0/1: arg max is 0 */
    };
    kp_tensor *t = scores(3, 6, v);
    kp_accuracy a;
    kp_accuracy_init(&a);
    assert_true(kp_accuracy_top1(&a) < 0);
    kp_error e;
    const int64_t y[3] = {1, 5, 1};
    assert_int_equal(kp_accuracy_add_labels(&a, t, 3, y, &e), 0);
    assert_int_equal(a.n, 3);
    assert_int_equal(a.top1, 1); /* row 2: class 0 wins the tie, as arg max does */
    assert_int_equal(a.top5, 2);
    assert_float_equal(kp_accuracy_top1(&a), 100.0 / 3, 1e-9);
    const int64_t bad[1] = {6};
    assert_int_equal(kp_accuracy_add_labels(&a, t, 1, bad, &e), KP_ERANGE);
    assert_non_null(strstr(e.msg, "outside"));
    assert_int_equal(kp_accuracy_add_labels(&a, t, 4, y, &e), KP_EINVAL); /* more than rows */
    kp_tensor_free(t);
}

static void accuracy_class_indices(void **state) {
    (void)state;
    const int64_t d[1] = {4};
    kp_tensor *t = kp_tensor_new(KP_INT64, 1, d, NULL);
    const int64_t pred[4] = {3, 1, 0, 2}, y[4] = {3, 2, 0, 2};
    memcpy(t->data, pred, sizeof pred);
    kp_accuracy a;
    kp_accuracy_init(&a);
    kp_error e;
    assert_int_equal(kp_accuracy_add_labels(&a, t, 4, y, &e), 0);
    assert_int_equal(a.top1, 3);
    assert_int_equal(a.top5, 3);
    assert_true(a.class_outputs);
    assert_int_equal(kp_accuracy_add_labels(&a, t, 5, y, &e), KP_EINVAL);
    kp_tensor_free(t);
}

static void accuracy_reference(void **state) {
    (void)state;
    const float o[4] = {1, 2, 3, 0}, r[4] = {1, 2.5f, 2, 0};
    kp_tensor *a = scores(2, 2, o), *b = scores(2, 2, r);
    kp_accuracy acc;
    kp_accuracy_init(&acc);
    kp_error e;
    assert_int_equal(kp_accuracy_add_reference(&acc, a, b, &e), 0);
    assert_int_equal(acc.n_ref, 2);
    assert_int_equal(acc.agree, 2);
    assert_float_equal(acc.max_abs, 1.0, 1e-9);
    double cos = (1 + 5 + 6) / (sqrt(14.0) * sqrt(1 + 6.25 + 4));
    assert_float_equal(kp_accuracy_cosine(&acc), cos, 1e-9);
    assert_float_equal(kp_accuracy_agreement(&acc), 100.0, 1e-9);
    kp_tensor *c = scores(1, 4, o);
    assert_int_equal(kp_accuracy_add_reference(&acc, a, c, &e), KP_EINVAL);
    assert_non_null(strstr(e.msg, "differs"));
    kp_tensor_free(a);
    kp_tensor_free(b);
    kp_tensor_free(c);
}

static void percentiles(void **state) {
    (void)state;
    const double v[5] = {1, 2, 3, 4, 100};
    assert_float_equal(kp_percentile(v, 5, 50), 3, 0);
    assert_float_equal(kp_percentile(v, 5, 0), 1, 0);
    assert_float_equal(kp_percentile(v, 5, 100), 100, 0);
    assert_float_equal(kp_percentile(v, 5, 10), 1, 0);
    assert_float_equal(kp_percentile(v, 5, 90), 100, 0);
    assert_float_equal(kp_percentile(v, 0, 50), 0, 0);
}

static void sizes(void **state) {
    (void)state;
    char path[] = "/tmp/kp_test_metrics_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char *buf = calloc(1, 100000); /* zeros compress well */
    assert_int_equal(write(fd, buf, 100000), 100000);
    close(fd);
    uint64_t bytes = 0, gz = 0, gz2 = 0;
    kp_error e;
    assert_int_equal(kp_file_sizes(path, &bytes, &gz, &e), 0);
    assert_int_equal(bytes, 100000);
    assert_true(gz > 18 && gz < 1000);
    assert_int_equal(kp_buffer_gzip_bytes(buf, 100000, &gz2, &e), 0);
    assert_int_equal(gz, gz2);
    unlink(path);
    assert_int_equal(kp_file_sizes(path, &bytes, &gz, &e), KP_EIO);
    free(buf);
}

/* x[N,4] -> MatMul W[4,3] -> Relu -> y; plus a Constant node. */
static kp_model *tiny_model(void) {
    kp_model *m = kp_model_new();
    kp_graph *g = m->graph;
    m->ir_version = 7;
    m->opsets = calloc(1, sizeof *m->opsets);
    m->opsets[0].domain = strdup("");
    m->opsets[0].version = 13;
    m->n_opsets = 1;
    g->inputs = calloc(1, sizeof *g->inputs);
    g->n_inputs = 1;
    g->inputs[0].name = strdup("x");
    g->inputs[0].type.kind = KP_TYPE_TENSOR;
    g->inputs[0].type.elem = KP_FLOAT;
    g->inputs[0].type.rank = 2;
    g->inputs[0].type.dims = calloc(2, sizeof(kp_dim));
    g->inputs[0].type.dims[0].value = -1;
    g->inputs[0].type.dims[0].param = strdup("N");
    g->inputs[0].type.dims[1].value = 4;
    g->outputs = calloc(1, sizeof *g->outputs);
    g->n_outputs = 1;
    g->outputs[0].name = strdup("y");
    const int64_t wd[2] = {4, 3};
    kp_tensor *w = kp_tensor_new(KP_FLOAT, 2, wd, NULL);
    for (int i = 0; i < 12; i++) ((float *)w->data)[i] = (float)(i % 5) - 2;
    kp_tensor_set_name(w, "W");
    assert_int_equal(kp_graph_add_init(g, w), 0);
    const char *mi[] = {"x", "W"}, *mo[] = {"h"}, *ri[] = {"h"}, *ro[] = {"y"};
    kp_node *mm = kp_node_new("MatMul", "mm", 2, mi, 1, mo);
    kp_node *relu = kp_node_new("Relu", "relu", 1, ri, 1, ro);
    assert_int_equal(kp_graph_add_node(g, mm), 0);
    assert_int_equal(kp_graph_add_node(g, relu), 0);
    return m;
}

static void weights_macs_latency(void **state) {
    (void)state;
    kp_model *m = tiny_model();
    assert_int_equal(kp_weight_bytes(m), 48);
    assert_int_equal(kp_param_count(m), 12);
    kp_error e;
    kp_exec_opts o = {.threads = 1, .keep_values = 1};
    kp_exec *x = NULL;
    if (kp_exec_new(m, &o, &x, &e)) fail_msg("exec: %s", e.msg);
    const int64_t d[2] = {5, 4};
    kp_tensor *in = kp_tensor_new(KP_FLOAT, 2, d, NULL);
    for (int i = 0; i < 20; i++) ((float *)in->data)[i] = (float)i / 7;
    const kp_tensor *ins[1] = {in};
    kp_tensor *out[1] = {0};
    assert_int_equal(kp_exec_run(x, ins, out, &e), 0);
    uint64_t macs = 0;
    assert_int_equal(kp_exec_macs(x, m, &macs, &e), 0);
    assert_int_equal(macs, 5 * 3 * 4);
    kp_tensor_free(out[0]);
    kp_latency lat;
    assert_int_equal(kp_measure_latency(x, ins, 1, 7, NULL, &lat, &e), 0);
    assert_int_equal(lat.runs, 7);
    assert_int_equal(lat.batch, 5);
    assert_true(lat.min_ms <= lat.p10_ms && lat.p10_ms <= lat.median_ms);
    assert_true(lat.median_ms <= lat.p90_ms && lat.median_ms > 0);
    volatile int cancel = 1;
    assert_int_equal(kp_measure_latency(x, ins, 0, 3, &cancel, &lat, &e), KP_ECANCELLED);
    assert_int_equal(kp_measure_latency(x, ins, 0, 0, NULL, &lat, &e), KP_EINVAL);
    /* With keep_values the executor still refers to the input until it is freed. */
    kp_exec_free(x);
    kp_tensor_free(in);
    kp_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accuracy_labels),
        cmocka_unit_test(accuracy_reference),
        cmocka_unit_test(accuracy_class_indices),
        cmocka_unit_test(percentiles),
        cmocka_unit_test(sizes),
        cmocka_unit_test(weights_macs_latency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
