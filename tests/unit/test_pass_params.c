#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/pass.h"

static const kp_param_def defs[] = {
    {"bits", KP_PARAM_INT, "8", 2, 8, NULL, "weight bits"},
    {"method", KP_PARAM_ENUM, "minmax", 0, 0, "minmax|percentile|entropy", "calibration"},
    {"percentile", KP_PARAM_FLOAT, "99.99", 90, 100, NULL, "percentile"},
    {"per_channel", KP_PARAM_BOOL, "true", 0, 0, NULL, "per-channel weights"},
    {"exclude", KP_PARAM_STRING, "", 0, 0, NULL, "layers kept in float"},
};
static const kp_pass fake = {"fake", "Fake", "for tests", 0, 0, 5, defs, NULL, NULL};
static const kp_pass other = {"other", "Other", "none", 1, 0, 0, NULL, NULL, NULL};

static void defaults_and_parse(void **state) {
    (void)state;
    kp_params p;
    kp_error e = {0};
    assert_int_equal(kp_params_parse(&fake, "", &p, &e), 0);
    assert_int_equal(kp_params_int(&p, "bits"), 8);
    assert_string_equal(kp_params_str(&p, "method"), "minmax");
    assert_true(kp_params_bool(&p, "per_channel"));
    kp_params_free(&p);

    assert_int_equal(kp_params_parse(&fake,
                                     "bits=4, method=entropy,per_channel=no,"
                                     "exclude=conv1,fc2,percentile=99.9",
                                     &p, &e),
                     0);
    assert_int_equal(kp_params_int(&p, "bits"), 4);
    assert_string_equal(kp_params_str(&p, "method"), "entropy");
    assert_false(kp_params_bool(&p, "per_channel"));
    assert_string_equal(kp_params_str(&p, "exclude"), "conv1,fc2");
    assert_true(kp_params_float(&p, "percentile") > 99.89);
    char *s = kp_params_format(&p);
    assert_string_equal(s, "bits=4,method=entropy,percentile=99.9,per_channel=false,"
                           "exclude=conv1,fc2");
    kp_params q;
    assert_int_equal(kp_params_copy(&q, &p), 0);
    assert_int_equal(kp_params_set(&q, "bits", "3", &e), 0);
    assert_int_equal(kp_params_int(&q, "bits"), 3);
    assert_int_equal(kp_params_int(&p, "bits"), 4);
    kp_params_free(&q);
    kp_params_free(&p);
    free(s);
    kp_params_free(NULL);
}

static void errors(void **state) {
    (void)state;
    kp_params p;
    kp_error e = {0};
    assert_int_equal(kp_params_parse(&fake, "bits=9", &p, &e), KP_ERANGE);
    assert_non_null(strstr(e.msg, "2..8"));
    assert_int_equal(kp_params_parse(&fake, "bits=x", &p, &e), KP_EINVAL);
    assert_int_equal(kp_params_parse(&fake, "bits=7.5", &p, &e), KP_EINVAL);
    assert_int_equal(kp_params_parse(&fake, "method=kl", &p, &e), KP_EINVAL);
    assert_non_null(strstr(e.msg, "minmax|percentile|entropy"));
    assert_int_equal(kp_params_parse(&fake, "percentile=nan", &p, &e), KP_EINVAL);
    assert_int_equal(kp_params_parse(&fake, "per_channel=maybe", &p, &e), KP_EINVAL);
    assert_int_equal(kp_params_parse(&fake, "colour=red", &p, &e), KP_ENOTFOUND);
    assert_non_null(strstr(e.msg, "bits, method, percentile, per_channel, exclude"));
    assert_int_equal(kp_params_parse(&fake, "junk", &p, &e), KP_EINVAL);
    assert_int_equal(kp_params_parse(&other, "x=1", &p, &e), KP_ENOTFOUND);
    assert_non_null(strstr(e.msg, "no parameters"));
}

static void spec(void **state) {
    (void)state;
    const kp_pass *const all[] = {&fake, &other};
    const kp_pass *p;
    kp_params pr;
    kp_error e = {0};
    assert_int_equal(kp_pass_spec_parse(all, 2, "fake:bits=5", &p, &pr, &e), 0);
    assert_ptr_equal(p, &fake);
    assert_int_equal(kp_params_int(&pr, "bits"), 5);
    kp_params_free(&pr);
    assert_int_equal(kp_pass_spec_parse(all, 2, "other", &p, &pr, &e), 0);
    assert_ptr_equal(p, &other);
    kp_params_free(&pr);
    assert_int_equal(kp_pass_spec_parse(all, 2, "nope:a=1", &p, &pr, &e), KP_ENOTFOUND);
    assert_non_null(strstr(e.msg, "valid passes: fake, other"));
    assert_null(p);
    assert_ptr_equal(kp_pass_find(all, 2, "other"), &other);
    assert_null(kp_pass_find(all, 2, "x"));
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(defaults_and_parse),
                                       cmocka_unit_test(errors), cmocka_unit_test(spec)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
