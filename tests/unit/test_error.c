#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "core/error.h"

static void set_and_wrap(void **state) {
    (void)state;
    kp_error e;
    kp_error_clear(&e);
    assert_int_equal(kp_error_set(&e, KP_EIO, "cannot open %s", "x.onnx"), KP_EIO);
    assert_string_equal(e.msg, "cannot open x.onnx");
    assert_int_equal(kp_error_wrap(&e, "loading: "), KP_EIO);
    assert_string_equal(e.msg, "loading: cannot open x.onnx");
    assert_int_equal(kp_error_set(NULL, KP_EINVAL, "ignored"), KP_EINVAL);
    assert_string_equal(kp_strerror(KP_ENOMEM), "out of memory");
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(set_and_wrap)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
