/* ONNX files <-> IR. The only module that sees protobuf-c. Model files are untrusted input:
 * every length, count, dim and offset is checked before use. */
#ifndef KP_ONNX_IO_H
#define KP_ONNX_IO_H

#include <stddef.h>
#include <stdint.h>

#include "core/graph.h"

/* Limits on untrusted nesting, refused with KP_ERANGE: protobuf messages inside one another
 * (checked on the raw bytes before parsing, so the parser's recursion stays shallow), and
 * subgraphs (If/Loop/Scan bodies) inside one another. One subgraph level costs 3 message levels. */
#define KP_ONNX_MAX_NESTING     128
#define KP_ONNX_MAX_GRAPH_DEPTH 32

typedef struct kp_load_opts {
    size_t max_file_bytes; /* 0 = default (4 GiB) */
    /* Optional: once non-zero the load stops with KP_ECANCELLED and nothing is returned. It
     * is checked between the load's phases and every few thousand nodes and initializers (a
     * model of 600,000 nodes stops within a fraction of a second). */
    const volatile int *cancel;
} kp_load_opts;

/* Loads path into a new model (returns owned via *out). External data is read from files
 * relative to the model's folder only. opts may be NULL. */
int kp_onnx_load(const char *path, const kp_load_opts *opts, kp_model **out, kp_error *err);
/* Same from a buffer already in memory; `dir` is the base for external data (NULL: refuse
 * external data). */
int kp_onnx_load_buffer(const uint8_t *buf, size_t len, const char *dir, kp_model **out,
                        kp_error *err);
/* Serializes m into a malloc'd buffer (returns owned *buf). All tensor data inline. */
int kp_onnx_save_buffer(const kp_model *m, uint8_t **buf, size_t *len, kp_error *err);
/* Atomic save: temp file in the same folder, fsync, rename. Refuses (KP_EEXIST) to overwrite
 * the file the model was loaded from, and any file when !overwrite. */
int kp_onnx_save(const kp_model *m, const char *path, int overwrite, kp_error *err);

/* A serialized onnx.TensorProto (input_0.pb, output_0.pb in ONNX test folders). */
int kp_onnx_load_tensor(const char *path, kp_tensor **out, kp_error *err);
int kp_onnx_load_tensor_buffer(const uint8_t *buf, size_t len, kp_tensor **out, kp_error *err);
int kp_onnx_save_tensor(const kp_tensor *t, const char *path, kp_error *err);
/* Serializes t as an onnx.TensorProto into a malloc'd buffer (returns owned *buf). */
int kp_onnx_save_tensor_buffer(const kp_tensor *t, uint8_t **buf, size_t *len, kp_error *err);

/* Reads a whole file with a size limit (returns owned *buf). Shared by loaders. */
int kp_read_file(const char *path, size_t max_bytes, uint8_t **buf, size_t *len, kp_error *err);
/* Writes buf atomically to path (temp + fsync + rename in the same folder). */
int kp_write_file_atomic(const char *path, const void *buf, size_t len, kp_error *err);

#endif
