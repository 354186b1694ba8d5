/* Errors: every fallible function returns int (0 ok, negative KP_E*) and fills a caller-owned
 * kp_error with a message a person can act on. core never prints and never exits. */
#ifndef KP_ERROR_H
#define KP_ERROR_H

enum {
    KP_OK = 0,
    KP_EINVAL = -1,       /* bad argument or parameter */
    KP_EIO = -2,          /* file could not be read or written */
    KP_ENOMEM = -3,       /* allocation failed */
    KP_EFORMAT = -4,      /* malformed input file (model, data, JSON) */
    KP_EUNSUPPORTED = -5, /* valid input we cannot handle (op, dtype, layout) */
    KP_ECANCELLED = -6,   /* cancel flag was raised */
    KP_ERANGE = -7,       /* a size, count or value out of the allowed range */
    KP_EEXIST = -8,       /* refusing to overwrite */
    KP_ENOTFOUND = -9,    /* named thing does not exist */
};

typedef struct kp_error {
    int code;
    char msg[1024];
} kp_error;

/* Sets code and a printf-style message; returns code so callers can `return kp_error_set(...)`.
 * err may be NULL. */
int kp_error_set(kp_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes the existing message with more context ("loading x.onnx: " + old). Returns err->code. */
int kp_error_wrap(kp_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kp_error_clear(kp_error *err);
const char *kp_strerror(int code);

#endif
