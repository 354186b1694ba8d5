/* core/pipeline: steps applied in order on copies, each checked against the model before it; a
 * failing, unsupported or lossless-but-changing step is not kept and the rest still run; cancel
 * stops and keeps what was done; the cache hook replaces apply; callbacks see every step. The
 * passes here are fakes on a one-MatMul model built in code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/exec.h"
#include "core/graph.h"
#include "core/pipeline.h"

static void set_vi(kp_value_info *v, const char *name, int rank, const int64_t *dims) {
    memset(v, 0, sizeof *v);
    v->name = strdup(name);
    assert_int_equal(kp_type_set_tensor(&v->type, KP_FLOAT, rank, dims), 0);
}

/* x[N,4] -> MatMul(w[4,3]) -> y */
static kp_model *build(void) {
    kp_model *m = kp_model_new();
    kp_graph *g = m->graph;
    int64_t xd[2] = {-1, 4}, yd[2] = {-1, 3}, wd[2] = {4, 3};
    g->inputs = calloc(1, sizeof *g->inputs);
    g->n_inputs = 1;
    set_vi(&g->inputs[0], "x", 2, xd);
    g->outputs = calloc(1, sizeof *g->outputs);
    g->n_outputs = 1;
    set_vi(&g->outputs[0], "y", 2, yd);
    kp_tensor *w = kp_tensor_new(KP_FLOAT, 2, wd, NULL);
    assert_non_null(w);
    assert_int_equal(kp_tensor_set_name(w, "w"), 0);
    for (int i = 0; i < 12; i++) ((float *)w->data)[i] = (float)(i % 5) - 2.0f;
    assert_int_equal(kp_graph_add_init(m->graph, w), 0);
    const char *in[2] = {"x", "w"}, *out[1] = {"y"};
    assert_int_equal(kp_graph_add_node(g, kp_node_new("MatMul", "mm", 2, in, 1, out)), 0);
    return m;
}

static float w0(const kp_model *m) {
    return ((const float *)m->graph->inits[0]->data)[0];
}

static int scale_w(kp_model *m, float f) {
    float *w = m->graph->inits[0]->data;
    for (int i = 0; i < 12; i++) w[i] *= f;
    return 0;
}

static int apply_scale(kp_model *m, const kp_params *p, const kp_pass_ctx *ctx, kp_error *err) {
    (void)p;
    (void)err;
    if (ctx->note) ctx->note(ctx->user, "scaled");
    if (ctx->progress) ctx->progress(ctx->user, 0.5, "half way");
    return scale_w(m, 1.001f);
}
static int apply_double(kp_model *m, const kp_params *p, const kp_pass_ctx *ctx, kp_error *err) {
    (void)p;
    (void)ctx;
    (void)err;
    return scale_w(m, 2.0f); /* declared lossless below: the pipeline must discard it */
}
static int apply_fail(kp_model *m, const kp_params *p, const kp_pass_ctx *ctx, kp_error *err) {
    (void)p;
    (void)ctx;
    scale_w(m, 3.0f); /* a failed pass's half-done work must not reach the result */
    return kp_error_set(err, KP_EINVAL, "fake: nothing to do");
}
static int apply_badop(kp_model *m, const kp_params *p, const kp_pass_ctx *ctx, kp_error *err) {
    (void)p;
    (void)ctx;
    (void)err;
    kp_node *n = m->graph->nodes[0];
    free(n->op_type);
    n->op_type = strdup("NoSuchOp");
    return 0;
}
static int apply_cancel(kp_model *m, const kp_params *p, const kp_pass_ctx *ctx, kp_error *err) {
    (void)m;
    (void)p;
    (void)ctx;
    return kp_error_set(err, KP_ECANCELLED, "cancelled");
}

static const kp_pass P_SCALE = {.id = "scale", .apply = apply_scale};
static const kp_pass P_DOUBLE = {.id = "double", .lossless = 1, .apply = apply_double};
static const kp_pass P_FAIL = {.id = "fail", .apply = apply_fail};
static const kp_pass P_BADOP = {.id = "badop", .apply = apply_badop};
static const kp_pass P_CANCEL = {.id = "cancel", .apply = apply_cancel};

typedef struct seen {
    int starts, notes, progress, dones;
    size_t done_steps[8];
    kp_model *cached; /* handed out by cache_get for step 0 when set */
    int puts;
} seen;

static void on_start(void *u, size_t i, const kp_pass *p) {
    (void)i;
    (void)p;
    ((seen *)u)->starts++;
}
static void on_note(void *u, size_t i, const char *msg) {
    (void)i;
    assert_string_equal(msg, "scaled");
    ((seen *)u)->notes++;
}
static void on_progress(void *u, size_t i, double f, const char *what) {
    (void)i;
    (void)f;
    (void)what;
    ((seen *)u)->progress++;
}
static int on_done(void *u, size_t i, const kp_model *m, const kp_step_result *r, kp_error *e) {
    seen *s = u;
    (void)m;
    (void)r;
    (void)e;
    s->done_steps[s->dones++ % 8] = i;
    return 0;
}
static kp_model *on_cache_get(void *u, size_t i) {
    seen *s = u;
    if (i || !s->cached) return NULL;
    kp_model *m = s->cached;
    s->cached = NULL;
    return m;
}
static void on_cache_put(void *u, size_t i, const kp_model *m) {
    (void)i;
    (void)m;
    ((seen *)u)->puts++;
}

static kp_pipeline_opts opts_for(seen *s, kp_measure_opts *mo) {
    kp_pipeline_opts o = {0};
    o.verify.seed = 7;
    o.verify.random_samples = 4;
    o.measure = mo;
    o.user = s;
    o.step_start = on_start;
    o.note = on_note;
    o.progress = on_progress;
    o.step_done = on_done;
    o.cache_get = on_cache_get;
    o.cache_put = on_cache_put;
    return o;
}

static void test_mixed_steps(void **state) {
    (void)state;
    kp_model *m = build();
    kp_params none = {0};
    kp_pipeline_step steps[4] = {
        {&P_SCALE, &none}, {&P_FAIL, &none}, {&P_DOUBLE, &none}, {&P_BADOP, &none}};
    seen s = {0};
    kp_measure_opts mo = {.runs = 1};
    kp_metrics_row before = {.file_bytes = 123, .top1 = -1};
    kp_pipeline_opts o = opts_for(&s, &mo);
    o.before = &before;
    kp_pipeline_out out;
    kp_error err = {0};
    assert_int_equal(kp_pipeline_run(m, steps, 4, &o, &out, &err), 0);
    assert_int_equal(out.n_steps, 4);
    assert_int_equal(out.steps[0].status, KP_STEP_OK);
    assert_true(out.steps[0].verified && out.steps[0].measured);
    assert_true(out.steps[0].verify.max_rel > 0 && out.steps[0].verify.max_rel < 0.01);
    assert_true(out.steps[0].metrics.file_bytes > 0);
    assert_int_equal(out.steps[1].status, KP_STEP_FAILED);
    assert_non_null(strstr(out.steps[1].error, "fake: nothing to do"));
    assert_int_equal(out.steps[1].code, KP_EINVAL);
    /* a step not kept reports the model before it */
    assert_true(out.steps[1].metrics.file_bytes == out.steps[0].metrics.file_bytes);
    assert_int_equal(out.steps[2].status, KP_STEP_DISCARDED);
    assert_true(out.steps[2].verified && out.steps[2].verify.max_rel > 0.5);
    assert_non_null(strstr(out.steps[2].error, "lossless pass double"));
    assert_int_equal(out.steps[3].status, KP_STEP_FAILED);
    assert_non_null(strstr(out.steps[3].error, "NoSuchOp"));
    /* only the first step reached the result; the original is untouched */
    assert_float_equal(w0(out.model), -2.0f * 1.001f, 1e-6);
    assert_float_equal(w0(m), -2.0f, 0);
    assert_int_equal(s.starts, 4);
    assert_int_equal(s.dones, 4);
    assert_int_equal(s.notes, 1);
    assert_true(s.progress >= 2); /* the pass's own, and "measuring" */
    assert_int_equal(s.puts, 1);
    assert_string_equal(kp_step_status_name(out.steps[2].status), "discarded");
    kp_pipeline_out_free(&out);
    kp_pipeline_out_free(&out); /* twice is harmless */
    kp_model_free(m);
}

static void test_cancel_keeps_done(void **state) {
    (void)state;
    kp_model *m = build();
    kp_params none = {0};
    kp_pipeline_step steps[3] = {{&P_SCALE, &none}, {&P_CANCEL, &none}, {&P_SCALE, &none}};
    seen s = {0};
    kp_pipeline_opts o = opts_for(&s, NULL);
    kp_pipeline_out out;
    kp_error err = {0};
    assert_int_equal(kp_pipeline_run(m, steps, 3, &o, &out, &err), KP_ECANCELLED);
    assert_int_equal(out.steps[0].status, KP_STEP_OK);
    assert_false(out.steps[0].measured);
    assert_int_equal(out.steps[1].status, KP_STEP_CANCELLED);
    assert_int_equal(out.steps[2].status, KP_STEP_PENDING);
    assert_float_equal(w0(out.model), -2.0f * 1.001f, 1e-6);
    assert_int_equal(s.dones, 1); /* step_done is not called for the cancelled step */
    kp_pipeline_out_free(&out);

    /* a cancel flag already up stops before the first step */
    volatile int flag = 1;
    o.cancel = &flag;
    memset(&s, 0, sizeof s);
    assert_int_equal(kp_pipeline_run(m, steps, 3, &o, &out, &err), KP_ECANCELLED);
    assert_int_equal(out.steps[0].status, KP_STEP_PENDING);
    assert_int_equal(s.starts, 0);
    assert_float_equal(w0(out.model), -2.0f, 0);
    kp_pipeline_out_free(&out);
    kp_model_free(m);
}

static void test_cache_replaces_apply(void **state) {
    (void)state;
    kp_model *m = build();
    kp_params none = {0};
    kp_pipeline_step steps[1] = {{&P_FAIL, &none}}; /* would fail if it ran */
    seen s = {0};
    kp_error err = {0};
    s.cached = kp_model_clone(m, &err);
    scale_w(s.cached, 5.0f);
    kp_pipeline_opts o = opts_for(&s, NULL);
    kp_pipeline_out out;
    assert_int_equal(kp_pipeline_run(m, steps, 1, &o, &out, &err), 0);
    assert_int_equal(out.steps[0].status, KP_STEP_CACHED);
    assert_false(out.steps[0].verified);
    assert_float_equal(w0(out.model), -10.0f, 0);
    assert_int_equal(s.puts, 0);
    kp_pipeline_out_free(&out);
    kp_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixed_steps),
        cmocka_unit_test(test_cancel_keeps_done),
        cmocka_unit_test(test_cache_replaces_apply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
