/* Private to the loader (core/onnx_load.c, onnx_load_tensor.c, onnx_scan.c): the protobuf-c
 * types and the helpers these files share. Nothing else includes this header. */
#ifndef KP_ONNX_LOAD_PRIV_H
#define KP_ONNX_LOAD_PRIV_H

#include <stddef.h>

#include "core/graph.h"
#include "core/onnx_priv.h"
#include "onnx.pb-c.h"

typedef struct kp_ld {
    const char *dir; /* external data base folder, NULL = refuse external data */
    kp_error *err;
    int too_deep;               /* the nesting limit was hit: outer levels add no more context */
    const volatile int *cancel; /* optional, see kp_load_opts.cancel */
} kp_ld;

/* KP_ECANCELLED (with a message) when c's cancel flag is raised, else 0. */
int kp_ld_cancelled(kp_ld *c);

/* Wire checks before unpack: nesting depth, NUL bytes in strings, estimated parse memory. */
int kp_onnx_scan(const uint8_t *buf, size_t len, const ProtobufCMessageDescriptor *d,
                 kp_error *err);
/* Fields unknown to our onnx.proto in an unpacked tree (parts kept verbatim not counted). */
size_t kp_onnx_count_unknown(const ProtobufCMessage *m);

int kp_ld_oom(kp_ld *c);
int kp_ld_str(kp_ld *c, const char *s, char **out); /* NULL stays NULL */
/* Copies with a hidden NUL at data[len] (see graph.h). */
int kp_ld_bytes(kp_ld *c, const ProtobufCBinaryData *b, kp_bytes *out);
/* TensorProto -> owned tensor (*out NULL on failure). May take tp's raw_data buffer. */
int kp_ld_tensor(kp_ld *c, const Onnx__TensorProto *tp, kp_tensor **out);
int kp_ld_sparse(kp_ld *c, const Onnx__SparseTensorProto *sp, kp_sparse_tensor **out);

#endif
