/* Private helpers shared by core/onnx_io.c, core/onnx_load.c and core/onnx_save.c only.
 * Nothing here is part of the public contract; other modules use core/onnx_io.h. */
#ifndef KP_ONNX_PRIV_H
#define KP_ONNX_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Opens the external-data file `location` (as written in a TensorProto) below `dir` after
 * checking that it is relative, has no ".." component and, once symlinks are resolved, still
 * lies inside dir and is a regular file. Returns an open read-only fd in *fd (caller closes)
 * and the file size in *size. tensor names the tensor in messages. */
int kp_ext_open(const char *dir, const char *location, const char *tensor, int *fd, uint64_t *size,
                kp_error *err);
/* Reads exactly n bytes at offset off from fd into dst. */
int kp_ext_pread(int fd, void *dst, size_t n, uint64_t off, const char *tensor, kp_error *err);

/* kp_onnx_load_buffer that also takes `owned` (may be NULL; usually the malloc'd buffer buf
 * points into) and frees it as soon as the bytes are parsed, before the IR is built, so a file
 * is not held in memory twice. `owned` is freed on every path. cancel may be NULL (see
 * kp_load_opts.cancel). */
int kp_onnx_load_owned(const uint8_t *buf, size_t len, uint8_t *owned, const char *dir,
                       const volatile int *cancel, kp_model **out, kp_error *err);

/* Streams data into a temp file next to path through write_fn (which returns 0 or KP_E* and
 * fills err), then fsyncs it and renames it over path. */
typedef int (*kp_write_fn)(int fd, void *ctx, kp_error *err);
int kp_write_atomic_fn(const char *path, kp_write_fn fn, void *ctx, kp_error *err);

/* Writes all n bytes to fd (retrying short writes). */
int kp_write_all(int fd, const void *buf, size_t n, const char *path, kp_error *err);

#endif
