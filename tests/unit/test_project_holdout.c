/* A project's samples (core/dataset_holdout.c): the calibration subset (at most half), the
 * planner's trial samples (beyond it, at most half the rest) and the holdout (neither), which
 * `run` and `compress --project` share: disjoint, covering, sized as documented, with a hash
 * that names the samples; a plan without trials leaves the holdout to be "not calibration". */
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

typedef struct fixture {
    char dir[32], path[300];
    kp_dataset *ds;
    kp_model *m;
} fixture;

/* A data set of n one-value samples whose value is the sample's index. */
static void open_n(fixture *fx, int n) {
    snprintf(fx->dir, sizeof fx->dir, "/tmp/kp-hold-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof fx->path, "%s/x.csv", fx->dir);
    FILE *f = fopen(fx->path, "w");
    assert_non_null(f);
    for (int i = 0; i < n; i++) fprintf(f, "%d\n", i);
    fclose(f);
    kp_dataset_opts o;
    kp_dataset_opts_init(&o);
    o.batch = 16;
    kp_error e = {0};
    if (kp_dataset_open(fx->path, &o, &fx->ds, &e)) fail_msg("%s", e.msg);
    fx->m = kp_model_new();
    kp_graph *g = fx->m->graph;
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
    if (kp_dataset_bind(fx->ds, fx->m, &e)) fail_msg("%s", e.msg);
}

static void close_fx(fixture *fx) {
    kp_dataset_free(fx->ds);
    kp_model_free(fx->m);
    unlink(fx->path);
    rmdir(fx->dir);
}

/* Marks bit in seen[] for every sample of c; returns how many. */
static size_t mark(kp_calib *c, int *seen, int bit) {
    size_t n = 0;
    kp_error e;
    for (size_t b = 0; c && b < c->n_batches; b++) {
        const kp_tensor *const *in;
        const int64_t *lab;
        size_t bs;
        assert_int_equal(c->get(c, b, &in, &lab, &bs, &e), 0);
        for (size_t i = 0; i < bs; i++, n++) seen[(int)((const float *)in[0]->data)[i]] |= bit;
    }
    return n;
}

static kp_project project(int64_t calib, int64_t trials) {
    kp_project p = {0};
    p.seed = 99;
    p.data.calib_samples = calib;
    p.plan_info.trial_samples = trials;
    return p;
}

static void calibration_trials_holdout_partition(void **state) {
    (void)state;
    fixture fx;
    open_n(&fx, 200);
    kp_project p = project(40, 60);
    kp_error e = {0};
    kp_calib *cal = NULL, *trial = NULL, *hold = NULL;
    assert_int_equal(kp_dataset_project_calib(fx.ds, &p, &cal, &e), 0);
    assert_int_equal(kp_dataset_project_trial(fx.ds, &p, 60, &trial, &e), 0);
    kp_holdout_info hi;
    assert_int_equal(kp_dataset_project_holdout(fx.ds, &p, cal, &hold, &hi, &e), 0);
    int seen[200] = {0};
    assert_int_equal(mark(cal, seen, 1), 40);
    assert_int_equal(mark(trial, seen, 2), 60);
    assert_int_equal(mark(hold, seen, 4), 100);
    for (int i = 0; i < 200; i++) /* each sample in exactly one of the three */
        if (seen[i] != 1 && seen[i] != 2 && seen[i] != 4) fail_msg("sample %d: %d", i, seen[i]);
    assert_int_equal(hi.total, 200);
    assert_int_equal(hi.calibrated, 40);
    assert_int_equal(hi.trial, 60);
    assert_int_equal(hi.scored, 100);
    assert_true(hi.hash == kp_dataset_calib_hash(hold));
    char line[300];
    kp_dataset_holdout_describe(&hi, line, sizeof line);
    char want[300];
    snprintf(want, sizeof want,
             "scored on the holdout: 100 of 200 samples (not the 40 used for calibration nor the "
             "60 the planner measured its trials on; holdout %016llx)",
             (unsigned long long)hi.hash);
    assert_string_equal(line, want);
    /* the same project gives the same holdout again (run and compress --project) */
    kp_calib *again = NULL;
    kp_holdout_info h2;
    assert_int_equal(kp_dataset_project_holdout(fx.ds, &p, cal, &again, &h2, &e), 0);
    assert_true(h2.hash == hi.hash);
    kp_dataset_calib_free(again);
    /* without trials the holdout is every sample calibration does not use */
    kp_project q = project(40, 0);
    assert_int_equal(kp_dataset_project_holdout(fx.ds, &q, cal, &again, &h2, &e), 0);
    assert_int_equal(h2.scored, 160);
    assert_int_equal(h2.trial, 0);
    assert_true(h2.hash != hi.hash);
    kp_dataset_holdout_describe(&h2, line, sizeof line);
    assert_null(strstr(line, "trials"));
    kp_dataset_calib_free(again);
    assert_int_equal(kp_dataset_project_holdout(fx.ds, NULL, cal, &again, NULL, &e), 0);
    assert_int_equal(again->n_samples, 160);
    kp_dataset_calib_free(again);
    kp_dataset_calib_free(hold);
    kp_dataset_calib_free(trial);
    kp_dataset_calib_free(cal);
    close_fx(&fx);
}

static void counts_are_capped(void **state) {
    (void)state;
    kp_project p = project(512, 2048);
    assert_int_equal(kp_dataset_project_calib_count(&p, 10000), 512);
    assert_int_equal(kp_dataset_project_calib_count(&p, 600), 300);
    assert_int_equal(kp_dataset_project_calib_count(&p, 1), 0);
    assert_int_equal(kp_dataset_project_trial_count(&p, 10000, 2048), 2048);
    assert_int_equal(kp_dataset_project_trial_count(&p, 2000, 2048), 744); /* (2000-512)/2 */
    kp_project d = project(0, 0);                                          /* unset: 512 */
    assert_int_equal(kp_dataset_project_calib_count(&d, 5000), 512);
}

static void too_few_samples(void **state) {
    (void)state;
    fixture fx;
    open_n(&fx, 1);
    kp_project p = project(8, 4);
    kp_error e = {0};
    kp_calib *cal = NULL, *trial = NULL;
    assert_int_equal(kp_dataset_project_calib(fx.ds, &p, &cal, &e), KP_ERANGE);
    assert_null(cal);
    assert_non_null(strstr(e.msg, "too few"));
    assert_int_equal(kp_dataset_project_trial(fx.ds, &p, 4, &trial, &e), 0);
    assert_null(trial);
    close_fx(&fx);
    /* calibration taking every sample leaves nothing to score: an error, not an empty set */
    open_n(&fx, 10);
    kp_calib *all = NULL, *hold = NULL;
    assert_int_equal(kp_dataset_calib_new(fx.ds, 0, 0, &all, &e), 0);
    assert_int_equal(kp_dataset_project_holdout(fx.ds, &p, all, &hold, NULL, &e), KP_ERANGE);
    assert_null(hold);
    kp_dataset_calib_free(all);
    close_fx(&fx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(calibration_trials_holdout_partition),
        cmocka_unit_test(counts_are_capped),
        cmocka_unit_test(too_few_samples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
