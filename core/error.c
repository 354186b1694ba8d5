#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int kp_error_set(kp_error *err, int code, const char *fmt, ...) {
    if (!err) return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

int kp_error_wrap(kp_error *err, const char *fmt, ...) {
    if (!err) return KP_EINVAL;
    char prefix[512], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t a = strnlen(prefix, sizeof prefix), b = strnlen(old, sizeof old - 1);
    if (a > sizeof err->msg - 1) a = sizeof err->msg - 1;
    if (b > sizeof err->msg - 1 - a) b = sizeof err->msg - 1 - a; /* truncation is fine */
    memcpy(err->msg, prefix, a);
    memcpy(err->msg + a, old, b);
    err->msg[a + b] = 0;
    return err->code;
}

void kp_error_clear(kp_error *err) {
    if (!err) return;
    err->code = 0;
    err->msg[0] = 0;
}

const char *kp_strerror(int code) {
    switch (code) {
    case KP_OK: return "ok";
    case KP_EINVAL: return "invalid argument";
    case KP_EIO: return "input/output error";
    case KP_ENOMEM: return "out of memory";
    case KP_EFORMAT: return "malformed input";
    case KP_EUNSUPPORTED: return "unsupported";
    case KP_ECANCELLED: return "cancelled";
    case KP_ERANGE: return "out of range";
    case KP_EEXIST: return "already exists";
    case KP_ENOTFOUND: return "not found";
    default: return "unknown error";
    }
}
