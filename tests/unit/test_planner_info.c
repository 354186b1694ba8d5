/* The planner's bookkeeping: the plan summary and Pareto set in project.json (and in run
 * records) survive a save/load; learned corrections round-trip; the trial measuring set is
 * disjoint from the calibration subset and nested as the run expects; the standard error. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/dataset.h"
#include "core/onnx_io.h"
#include "core/planner_priv.h"
#include "core/project_json.h"
#include "core/shape_infer.h"
#include "core/target_builtin.h"
#include "passes/registry.h"

static kp_tried tried(const char *name, double s, double l, double d, int meets) {
    kp_tried t = {0};
    t.name = strdup(name);
    t.size_ratio = s;
    t.latency_ratio = l;
    t.acc_drop = d;
    t.acc_se = 0.3;
    t.meets = meets;
    return t;
}

static void plan_summary_round_trip(void **state) {
    (void)state;
    kp_project p = {0};
    p.name = "demo";
    p.max_drop = 1;
    p.data.calib_samples = 512;
    snprintf(p.data.layout, sizeof p.data.layout, "nchw");
    kp_plan_step step = {0};
    step.pass_id = "prune";
    step.params = "sparsity=0.6";
    step.enabled = 1;
    step.est.size_ratio = 0.4;
    step.corrected = 1;
    step.corr_size = 0.98;
    step.corr_lat = 1.1;
    step.corr_drop = -0.2;
    p.plan = &step;
    p.n_plan = 1;
    kp_tried tr[2] = {tried("fold + prune(sparsity=0.6)", 0.4, 1.1, 0.5, 1),
                      tried("fold + prune(sparsity=0.8)", 0.3, 1.2, 1.7, 0)};
    tr[0].pareto = tr[0].chosen = 1;
    tr[1].pareto = 1;
    p.plan_info.total.size_ratio = 0.4;
    p.plan_info.total.acc_drop = 0.5;
    p.plan_info.acc_se = 0.31;
    p.plan_info.trial_samples = 2048;
    p.plan_info.meets = 1;
    p.plan_info.note = "chose it";
    p.plan_info.n_tried = 2;
    p.plan_info.tried = tr;
    kp_run_record r = {0};
    r.id = "run-001";
    r.before.top1 = r.after.top1 = -1;
    r.eval_samples = 7440;
    assert_int_equal(kp_plan_info_copy(&r.predicted, &p.plan_info), 0);
    p.runs = &r;
    p.n_runs = 1;
    char *text = kp_project_to_json(&p);
    assert_non_null(text);
    kp_project q = {0};
    kp_error e = {0};
    int rc = kp_project_from_json(text, "t", &q, &e);
    if (rc) fail_msg("%s", e.msg);
    assert_int_equal(q.plan_info.trial_samples, 2048);
    assert_float_equal(q.plan_info.acc_se, 0.31, 1e-12);
    assert_int_equal(q.plan_info.meets, 1);
    assert_string_equal(q.plan_info.note, "chose it");
    assert_int_equal(q.plan_info.n_tried, 2);
    assert_string_equal(q.plan_info.tried[1].name, "fold + prune(sparsity=0.8)");
    assert_int_equal(q.plan_info.tried[0].chosen, 1);
    assert_int_equal(q.plan_info.tried[1].chosen, 0);
    assert_int_equal(q.plan_info.tried[1].meets, 0);
    assert_float_equal(q.plan_info.tried[1].acc_drop, 1.7, 1e-12);
    assert_int_equal(q.plan[0].corrected, 1);
    assert_float_equal(q.plan[0].corr_lat, 1.1, 1e-12);
    assert_float_equal(q.plan[0].corr_drop, -0.2, 1e-12);
    assert_int_equal(q.n_runs, 1);
    assert_int_equal(q.runs[0].eval_samples, 7440);
    assert_int_equal(q.runs[0].predicted.n_tried, 2);
    assert_float_equal(q.runs[0].predicted.total.size_ratio, 0.4, 1e-12);
    /* A wrong type is an error naming the field, not a crash. */
    char *bad = strstr(text, "\"tried\":");
    assert_non_null(bad);
    memcpy(bad, "\"tried\":7,", 10);
    kp_project z = {0};
    kp_error e2 = {0};
    /* the edit may leave the JSON unparsable or the field wrong: either is refused */
    assert_true(kp_project_from_json(text, "t", &z, &e2) < 0);
    free(text);
    /* free what the loads allocated */
    kp_project *hq = calloc(1, sizeof *hq), *hz = calloc(1, sizeof *hz);
    *hq = q;
    *hz = z;
    kp_project_free(hq);
    kp_project_free(hz);
    kp_plan_info_clear(&r.predicted);
    for (int i = 0; i < 2; i++) free(tr[i].name);
}

static void drop_standard_error(void **state) {
    (void)state;
    /* 5% of 2048 answers changed, no net drop: sqrt(0.05 / 2048) = 0.494 points */
    assert_float_equal(kp_pt_drop_se(0, 0.95, 2048), 100 * sqrt(0.05 / 2048), 1e-9);
    /* every changed answer went wrong (McNemar: (q - d^2) / n) */
    assert_float_equal(kp_pt_drop_se(5, 0.95, 2048), 100 * sqrt((0.05 - 0.0025) / 2048), 1e-9);
    assert_float_equal(kp_pt_drop_se(0, 1, 2048), 0, 1e-12);
    assert_float_equal(kp_pt_drop_se(1, -1, 2048), 0, 1e-12); /* agreement unknown */
    assert_float_equal(kp_pt_drop_se(1, 0.9, 0), 0, 1e-12);
    /* four times the samples, half the error */
    assert_float_equal(kp_pt_drop_se(0.5, 0.97, 512) / kp_pt_drop_se(0.5, 0.97, 2048), 2, 1e-9);
}

/* Sample indices a calib serves, through its batches' first input (sample i holds value i). */
static size_t indices(kp_calib *c, int *out, size_t cap) {
    size_t n = 0;
    kp_error e;
    for (size_t b = 0; b < c->n_batches; b++) {
        const kp_tensor *const *in;
        const int64_t *lab;
        size_t bs;
        assert_int_equal(c->get(c, b, &in, &lab, &bs, &e), 0);
        for (size_t i = 0; i < bs && n < cap; i++) out[n++] = (int)((const float *)in[0]->data)[i];
    }
    return n;
}

static void trial_set_is_disjoint_and_nested(void **state) {
    (void)state;
    char dir[] = "/tmp/kp-plinfo-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[300];
    snprintf(path, sizeof path, "%s/x.csv", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 100; i++) fprintf(f, "%d\n", i);
    fclose(f);
    kp_dataset_opts o;
    kp_dataset_opts_init(&o);
    o.batch = 8;
    kp_dataset *ds = NULL;
    kp_error e = {0};
    int rc = kp_dataset_open(path, &o, &ds, &e);
    if (rc) fail_msg("%s", e.msg);
    kp_model *m = kp_model_new();
    kp_graph *g = m->graph;
    g->inputs = calloc(1, sizeof *g->inputs);
    g->n_inputs = 1;
    g->inputs[0].name = strdup("x");
    g->inputs[0].type.kind = KP_TYPE_TENSOR;
    g->inputs[0].type.elem = KP_FLOAT;
    g->inputs[0].type.rank = 2;
    g->inputs[0].type.dims = calloc(2, sizeof *g->inputs[0].type.dims);
    g->inputs[0].type.dims[0].value = -1;
    g->inputs[0].type.dims[0].param = strdup("N");
    g->inputs[0].type.dims[1].value = 1;
    rc = kp_dataset_bind(ds, m, &e);
    if (rc) fail_msg("%s", e.msg);
    kp_calib *cal, *both, *trial, *hold;
    assert_int_equal(kp_dataset_calib_new(ds, 20, 77, &cal, &e), 0);
    assert_int_equal(kp_dataset_calib_new(ds, 50, 77, &both, &e), 0);
    assert_int_equal(kp_dataset_calib_minus_new(ds, both, cal, &trial, &e), 0);
    assert_int_equal(kp_dataset_holdout_new(ds, both, &hold, &e), 0);
    int a[100], b[100], t[100], h[100];
    size_t na = indices(cal, a, 100), nb = indices(both, b, 100), nt = indices(trial, t, 100),
           nh = indices(hold, h, 100);
    assert_int_equal(na, 20);
    assert_int_equal(nb, 50);
    assert_int_equal(nt, 30);
    assert_int_equal(nh, 50);
    int seen[100] = {0};
    for (size_t i = 0; i < na; i++) seen[a[i]] |= 1;
    for (size_t i = 0; i < nb; i++) seen[b[i]] |= 2;
    for (size_t i = 0; i < nt; i++) seen[t[i]] |= 4;
    for (size_t i = 0; i < nh; i++) seen[h[i]] |= 8;
    for (int i = 0; i < 100; i++) {
        /* calibration samples are part of the larger subset (same seed) */
        if (seen[i] & 1) assert_true(seen[i] & 2);
        /* trial = larger minus calibration; holdout = neither */
        assert_int_equal(!!(seen[i] & 4), (seen[i] & 3) == 2);
        assert_int_equal(!!(seen[i] & 8), !(seen[i] & 3));
    }
    kp_calib *none;
    assert_int_equal(kp_dataset_calib_minus_new(ds, cal, both, &none, &e), KP_ERANGE);
    assert_null(none);
    kp_dataset_calib_free(hold);
    kp_dataset_calib_free(trial);
    kp_dataset_calib_free(both);
    kp_dataset_calib_free(cal);
    kp_dataset_free(ds);
    kp_model_free(m);
    unlink(path);
    rmdir(dir);
}

/* Weight sharing stores indices + a codebook decoded by a lookup node: on an MCU the decoded
 * weights are read by the kernel from flash, so RAM stays the activations' (it used to count
 * the decoded weights as live activations: 541 KB for the demo MLP on a 256 KB nRF52840). */
static void roofline_counts_decoded_weights_as_weights(void **state) {
    (void)state;
    kp_error e = {0};
    kp_model *m = NULL;
    if (kp_onnx_load("examples/fashion-mnist/mlp.onnx", NULL, &m, &e)) {
        print_message("skipped: %s\n", e.msg);
        skip();
    }
    assert_int_equal(kp_infer_shapes(m, &e), 0);
    kp_target *ts = NULL;
    size_t nt = 0;
    assert_int_equal(kp_targets_load(NULL, &ts, &nt, &e), 0);
    const kp_target *t = kp_target_find(ts, nt, "nrf52840");
    assert_non_null(t);
    kp_target_estimate e0, e1;
    assert_int_equal(kp_target_estimate_model(t, m, 0, &e0, &e), 0);
    size_t np;
    const kp_pass *const *reg = kp_passes(&np);
    const kp_pass *cl = kp_pass_find(reg, np, "cluster");
    assert_non_null(cl);
    kp_params params;
    assert_int_equal(kp_params_parse(cl, "k=16", &params, &e), 0);
    kp_pass_ctx ctx = {0};
    ctx.reference = m;
    ctx.original = m;
    ctx.target = t;
    ctx.seed = 1;
    ctx.threads = 1;
    kp_model *c = kp_model_clone(m, &e);
    assert_non_null(c);
    int rc = cl->apply(c, &params, &ctx, &e);
    if (rc) fail_msg("%s", e.msg);
    assert_int_equal(kp_infer_shapes(c, &e), 0);
    assert_int_equal(kp_target_estimate_model(t, c, 0, &e1, &e), 0);
    assert_true(e1.flash_bytes < e0.flash_bytes / 4);
    assert_true(e1.ram_bytes <= e0.ram_bytes + e0.ram_bytes / 10);
    assert_int_equal(e1.fits_ram, 1);
    kp_params_free(&params);
    kp_model_free(c);
    kp_model_free(m);
    free(ts);
}

/* Without inferred shapes the activations' sizes are unknown: the estimate says so (it used
 * to count only the input, 3.18 KB, and call the CNN a fit for a 512 KB ESP32-S3 that the TUI
 * showed beside a measured peak of hundreds of KB). */
static void roofline_says_when_shapes_are_unknown(void **state) {
    (void)state;
    kp_error e = {0};
    kp_model *m = NULL;
    if (kp_onnx_load("examples/fashion-mnist/cnn.onnx", NULL, &m, &e)) {
        print_message("skipped: %s\n", e.msg);
        skip();
    }
    kp_target *ts = NULL;
    size_t nt = 0;
    assert_int_equal(kp_targets_load(NULL, &ts, &nt, &e), 0);
    const kp_target *t = kp_target_find(ts, nt, "esp32s3");
    assert_non_null(t);
    kp_target_estimate before, after;
    assert_int_equal(kp_target_estimate_model(t, m, 0, &before, &e), 0);
    assert_true(before.unknown_values > 0);
    assert_int_equal(kp_infer_shapes(m, &e), 0);
    assert_int_equal(kp_target_estimate_model(t, m, 0, &after, &e), 0);
    assert_int_equal(after.unknown_values, 0);
    /* the first conv's output alone, [1,32,28,28] float, is 100 KB */
    assert_true(after.ram_bytes > 100000);
    assert_true(after.ram_bytes > before.ram_bytes);
    kp_model_free(m);
    free(ts);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plan_summary_round_trip),
        cmocka_unit_test(drop_standard_error),
        cmocka_unit_test(trial_set_is_disjoint_and_nested),
        cmocka_unit_test(roofline_counts_decoded_weights_as_weights),
        cmocka_unit_test(roofline_says_when_shapes_are_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
