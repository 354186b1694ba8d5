/* The planner's tried pipelines have one JSON form (kp_tried_json: "pipeline", booleans), used
 * by project.json and `plan --json`; project.json files written in the older form ("name",
 * "meets" and 0/1 numbers) still load; a wrong type is refused naming the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <cmocka.h>

#include "core/project_json.h"

static void written_form(void **state) {
    (void)state;
    kp_tried t[2] = {{0}, {0}};
    t[0].name = "fold + prune(sparsity=0.6)";
    t[0].size_ratio = 0.4;
    t[0].latency_ratio = 1.1;
    t[0].acc_drop = 0.5;
    t[0].acc_se = 0.3;
    t[0].meets = t[0].pareto = t[0].chosen = 1;
    t[1].name = NULL; /* written as "" */
    cJSON *a = kp_tried_json(t, 2);
    assert_non_null(a);
    assert_int_equal(cJSON_GetArraySize(a), 2);
    const cJSON *e = cJSON_GetArrayItem(a, 0);
    assert_string_equal(cJSON_GetObjectItem(e, "pipeline")->valuestring, t[0].name);
    assert_null(cJSON_GetObjectItem(e, "name"));
    assert_null(cJSON_GetObjectItem(e, "meets"));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e, "meets_budget")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e, "pareto")));
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(e, "chosen")));
    assert_float_equal(cJSON_GetObjectItem(e, "acc_se")->valuedouble, 0.3, 1e-12);
    e = cJSON_GetArrayItem(a, 1);
    assert_string_equal(cJSON_GetObjectItem(e, "pipeline")->valuestring, "");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(e, "meets_budget")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(e, "chosen")));
    cJSON_Delete(a);
    assert_non_null(a = kp_tried_json(NULL, 0));
    assert_int_equal(cJSON_GetArraySize(a), 0);
    cJSON_Delete(a);
}

#define HEAD "{\"schema_version\": 1, \"name\": \"demo\", \"plan\": [{\"pass\": \"fold\"}], "

/* A project.json as an older Kompress wrote it. */
static const char *old_text =
    HEAD "\"plan_summary\": {\"total\": {\"size_ratio\": 0.3}, \"meets\": 0, \"note\": \"over\","
         " \"tried\": [{\"name\": \"fold\", \"size_ratio\": 1, \"meets\": 1, \"pareto\": 0,"
         " \"chosen\": 0}, {\"name\": \"fold + prune(sparsity=0.8)\", \"size_ratio\": 0.3,"
         " \"acc_drop\": 1.7, \"acc_se\": 0.2, \"meets\": 0, \"pareto\": 1, \"chosen\": 1}]}}";

static void free_fields(kp_project *q) {
    kp_project *h = calloc(1, sizeof *h);
    *h = *q;
    kp_project_free(h);
}

static void reads_old_form(void **state) {
    (void)state;
    kp_project q = {0};
    kp_error e = {0};
    assert_int_equal(kp_project_from_json(old_text, "old.json", &q, &e), 0);
    const kp_plan_info *pi = &q.plan_info;
    assert_int_equal(pi->meets, 0);
    assert_int_equal(pi->n_tried, 2);
    assert_string_equal(pi->tried[0].name, "fold");
    assert_int_equal(pi->tried[0].meets, 1);
    assert_int_equal(pi->tried[0].chosen, 0);
    assert_string_equal(pi->tried[1].name, "fold + prune(sparsity=0.8)");
    assert_int_equal(pi->tried[1].meets, 0);
    assert_int_equal(pi->tried[1].pareto, 1);
    assert_int_equal(pi->tried[1].chosen, 1);
    assert_float_equal(pi->tried[1].acc_drop, 1.7, 1e-12);
    /* saved again, it is in the one new form, and reads back the same */
    char *text = kp_project_to_json(&q);
    assert_non_null(text);
    assert_null(strstr(text, "\"meets\""));
    assert_non_null(strstr(text, "\"pipeline\":\t\"fold + prune(sparsity=0.8)\""));
    kp_project r = {0};
    assert_int_equal(kp_project_from_json(text, "new.json", &r, &e), 0);
    assert_int_equal(r.plan_info.meets, 0);
    assert_int_equal(r.plan_info.n_tried, 2);
    assert_string_equal(r.plan_info.tried[1].name, "fold + prune(sparsity=0.8)");
    assert_int_equal(r.plan_info.tried[1].chosen, 1);
    assert_int_equal(r.plan_info.tried[0].meets, 1);
    free(text);
    free_fields(&q);
    free_fields(&r);
}

static void refuses_bad_types(void **state) {
    (void)state;
    static const struct {
        const char *text, *field;
    } cases[] = {
        {HEAD "\"plan_summary\": {\"meets_budget\": \"yes\"}}", "meets_budget"},
        {HEAD "\"plan_summary\": {\"meets\": 2}}", "meets"},
        {HEAD "\"plan_summary\": {\"tried\": [{\"pipeline\": 3}]}}", "pipeline"},
        {HEAD "\"plan_summary\": {\"tried\": [{\"size_ratio\": 1}]}}", "pipeline"},
        {HEAD "\"plan_summary\": {\"tried\": [{\"pipeline\": \"a\", \"chosen\": 0.5}]}}", "chosen"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kp_project q = {0};
        kp_error e = {0};
        assert_true(kp_project_from_json(cases[i].text, "bad.json", &q, &e) < 0);
        char want[64];
        snprintf(want, sizeof want, "\"%s\"", cases[i].field);
        if (!strstr(e.msg, want)) fail_msg("case %zu: '%s' lacks %s", i, e.msg, want);
        free_fields(&q);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(written_form),
        cmocka_unit_test(reads_old_form),
        cmocka_unit_test(refuses_bad_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
