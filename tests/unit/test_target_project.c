#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/project.h"
#include "core/target.h"
#include "core/target_builtin.h"

static char tmp[256];

static int setup(void **state) {
    (void)state;
    snprintf(tmp, sizeof tmp, "/tmp/kp-test-XXXXXX");
    return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void builtins_are_complete(void **state) {
    (void)state;
    const char *want[] = {"laptop-avx2",      "server-vnni", "rpi4",    "rpi5",     "jetson-nano",
                          "jetson-orin-nano", "rtx3060",     "stm32h7", "nrf52840", "esp32s3"};
    kp_target *t;
    size_t n;
    kp_error e;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/none", tmp);
    assert_int_equal(kp_targets_load(dir, &t, &n, &e), 0);
    assert_int_equal(n, kp_target_builtins_count + 1);
    assert_string_equal(t[0].id, "host");
    assert_true(t[0].fp32_gflops > 0);
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const kp_target *x = kp_target_find(t, n, want[i]);
        assert_non_null(x);
        assert_true(x->fp32_gflops > 0 && x->mem_bw_gbs > 0 && x->power_w > 0);
        assert_true(x->source[0] != 0);
        assert_true(x->precisions & KP_PREC_FP32);
    }
    const kp_target *m = kp_target_find(t, n, "stm32h7");
    assert_int_equal(m->cls, KP_TARGET_MCU);
    assert_int_equal(m->ram_bytes, 1024 * 1024);
    assert_int_equal(m->storage_bytes, 2 * 1024 * 1024);
    assert_true(kp_target_find(t, n, "laptop-avx2")->u8s8_saturates);
    assert_false(kp_target_find(t, n, "server-vnni")->u8s8_saturates);
    free(t);
}

static void user_profiles_load_and_errors_name_the_field(void **state) {
    (void)state;
    char dir[300], f[400];
    snprintf(dir, sizeof dir, "%s/targets", tmp);
    mkdir(dir, 0755);
    snprintf(f, sizeof f, "%s/board.json", dir);
    write_text(f, "{\"id\":\"myboard\",\"name\":\"My board\",\"class\":\"edge\",\"fp32_gflops\":"
                  "10,\"mem_bw_gbs\":4,\"power_w\":3,\"ram_mb\":512,\"precisions\":[\"fp32\","
                  "\"int8\"]}");
    kp_target *t;
    size_t n;
    kp_error e;
    assert_int_equal(kp_targets_load(dir, &t, &n, &e), 0);
    const kp_target *b = kp_target_find(t, n, "myboard");
    assert_non_null(b);
    assert_int_equal(b->cls, KP_TARGET_EDGE);
    assert_int_equal(b->ram_bytes, 512ull * 1024 * 1024);
    assert_true(b->precisions & KP_PREC_INT8);
    assert_true(b->int8_gops > 0);
    free(t);

    write_text(f, "{\"id\":\"myboard\",\"name\":\"x\",\"class\":\"edge\",\"fp32_gflops\":\"ten\","
                  "\"mem_bw_gbs\":4,\"power_w\":3}");
    assert_int_equal(kp_targets_load(dir, &t, &n, &e), KP_EFORMAT);
    assert_non_null(strstr(e.msg, "fp32_gflops"));
    assert_non_null(strstr(e.msg, "board.json"));

    write_text(f, "{\"id\":\"rpi4\",\"name\":\"x\",\"class\":\"edge\",\"fp32_gflops\":1,"
                  "\"mem_bw_gbs\":4,\"power_w\":3}");
    assert_int_equal(kp_targets_load(dir, &t, &n, &e), KP_EFORMAT);
    assert_non_null(strstr(e.msg, "already used"));

    write_text(f, "{not json");
    assert_int_equal(kp_targets_load(dir, &t, &n, &e), KP_EFORMAT);
    assert_non_null(strstr(e.msg, "not valid JSON"));
}

static void project_round_trip(void **state) {
    (void)state;
    kp_project *p;
    kp_error e;
    assert_int_equal(kp_project_create(tmp, "demo", &p, &e), 0);
    kp_project *bad; /* failed calls set their out-pointer to NULL: keep p for the free */
    assert_int_equal(kp_project_create(tmp, "demo", &bad, &e), KP_EEXIST);
    assert_int_equal(kp_project_create(tmp, "../evil", &bad, &e), KP_EINVAL);
    kp_project *q;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/demo", tmp);
    assert_int_equal(kp_project_load(dir, &q, &e), 0);
    assert_string_equal(q->name, "demo");
    assert_float_equal(q->max_drop, 1.0, 1e-12);
    q->goals[0] = KP_GOAL_SIZE;
    q->goals[1] = KP_GOAL_ACCURACY;
    free(q->model); /* replaced: free what the load allocated (LeakSanitizer) */
    q->model = strdup("model.onnx");
    free(q->plan);
    q->plan = calloc(1, sizeof *q->plan);
    q->n_plan = 1;
    q->plan[0].pass_id = strdup("fold");
    q->plan[0].params = strdup("");
    q->plan[0].enabled = 1;
    q->plan[0].est.size_ratio = 0.9;
    snprintf(q->plan[0].est.reason, sizeof q->plan[0].est.reason, "lossless");
    assert_int_equal(kp_project_save(q, &e), 0);
    kp_project *r;
    assert_int_equal(kp_project_load(dir, &r, &e), 0);
    assert_int_equal(r->goals[0], KP_GOAL_SIZE);
    assert_int_equal(r->goals[1], KP_GOAL_ACCURACY);
    assert_int_equal(r->n_plan, 1);
    assert_string_equal(r->plan[0].pass_id, "fold");
    assert_float_equal(r->plan[0].est.size_ratio, 0.9, 1e-9);
    assert_string_equal(r->plan[0].est.reason, "lossless");
    char **names;
    size_t n;
    assert_int_equal(kp_project_list(tmp, &names, &n, &e), 0);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "demo");
    free(names[0]);
    free(names);
    kp_project_free(p);
    kp_project_free(q);
    kp_project_free(r);
    assert_int_equal(kp_project_delete(tmp, "demo", &e), 0);
    assert_int_equal(kp_project_load(dir, &r, &e), KP_ENOTFOUND);
}

static void damaged_or_newer_files_are_refused_and_kept(void **state) {
    (void)state;
    char dir[300], f[400];
    snprintf(dir, sizeof dir, "%s/bad", tmp);
    mkdir(dir, 0755);
    snprintf(f, sizeof f, "%s/project.json", dir);
    kp_project *p;
    kp_error e;
    write_text(f, "{\"schema_version\": 99, \"name\": \"x\"}");
    assert_int_equal(kp_project_load(dir, &p, &e), KP_EUNSUPPORTED);
    assert_non_null(strstr(e.msg, "newer"));
    write_text(f, "{\"schema_version\": 1, \"name\": \"x\", \"goals\": [\"speed\"]}");
    assert_int_equal(kp_project_load(dir, &p, &e), KP_EFORMAT);
    assert_non_null(strstr(e.msg, "goals"));
    write_text(f, "{\"schema_version\": 1, \"name\": ");
    assert_int_equal(kp_project_load(dir, &p, &e), KP_EFORMAT);
    FILE *fp = fopen(f, "r");
    char buf[64] = "";
    assert_non_null(fgets(buf, sizeof buf, fp));
    fclose(fp);
    assert_string_equal(buf, "{\"schema_version\": 1, \"name\": ");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(builtins_are_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(user_profiles_load_and_errors_name_the_field, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(project_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(damaged_or_newer_files_are_refused_and_kept, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
