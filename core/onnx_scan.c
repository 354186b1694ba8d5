/* Checks on the raw protobuf bytes of an untrusted file before protobuf-c parses them, and
 * the count of fields a newer ONNX added. Part of the loader (see onnx_load.c). */
#include "core/onnx_io.h"

#include <string.h>

#include "core/onnx_load_priv.h"

static int wire_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64 && *pos < len; shift += 7) {
        uint8_t b = p[(*pos)++];
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

/* Memory a packed array of n wire bytes becomes: fixed-size numbers keep their size, varints
 * (at least one byte each) become 4 or 8 bytes. */
static size_t packed_bytes(ProtobufCType t, size_t n) {
    switch (t) {
    case PROTOBUF_C_TYPE_FLOAT:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_DOUBLE:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64: return n;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_SINT64: return 8 * n;
    default: return 4 * n;
    }
}

/* Walks the wire format once, before protobuf-c parses it: bounds nesting (protobuf-c's unpack
 * recurses without limit), refuses strings with NUL bytes, and adds to *mem an upper estimate of
 * what protobuf-c will allocate (every field slot, copied bytes, expanded packed arrays, message
 * structs), so a file of millions of tiny messages is refused instead of exhausting memory. */
static int scan_wire(const uint8_t *p, size_t len, const ProtobufCMessageDescriptor *d, int depth,
                     size_t base, size_t *mem, kp_error *err) {
    if (depth > KP_ONNX_MAX_NESTING)
        return kp_error_set(err, KP_ERANGE,
                            "messages nested more than %d levels deep (at byte %zu); refusing a "
                            "model this deep",
                            KP_ONNX_MAX_NESTING, base);
    size_t pos = 0;
    while (pos < len) {
        size_t at = pos;
        uint64_t key, v;
        if (wire_varint(p, len, &pos, &key)) goto bad;
        uint64_t id = key >> 3;
        if (id == 0 || id > 536870911u) goto bad;
        *mem += 32; /* the field's slot: array element, pointer or unknown-field record */
        switch (key & 7) {
        case 0:
            if (wire_varint(p, len, &pos, &v)) goto bad;
            break;
        case 1:
            if (len - pos < 8) goto bad;
            pos += 8;
            break;
        case 5:
            if (len - pos < 4) goto bad;
            pos += 4;
            break;
        case 2: {
            if (wire_varint(p, len, &pos, &v) || v > len - pos) goto bad;
            const ProtobufCFieldDescriptor *f =
                d ? protobuf_c_message_descriptor_get_field(d, (unsigned)id) : NULL;
            /* protobuf-c hands strings out NUL-terminated: an embedded NUL would silently cut a
             * name short (two values could then share one name). */
            if (f && f->type == PROTOBUF_C_TYPE_STRING && v && memchr(p + pos, 0, (size_t)v))
                return kp_error_set(err, KP_EFORMAT,
                                    "text field '%s' at byte %zu contains a NUL character", f->name,
                                    base + pos);
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
                const ProtobufCMessageDescriptor *sub = f->descriptor;
                *mem += sub->sizeof_message;
                int rc = scan_wire(p + pos, (size_t)v, sub, depth + 1, base + pos, mem, err);
                if (rc) return rc;
            } else if (f && f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_BYTES) {
                *mem += packed_bytes(f->type, (size_t)v);
            } else {
                *mem += (size_t)v + 1; /* copied bytes (+ NUL) */
            }
            pos += (size_t)v;
            break;
        }
        default: goto bad;
        }
        (void)at;
        continue;
    bad:
        return kp_error_set(err, KP_EFORMAT,
                            "not a valid ONNX protobuf: damaged or truncated data at byte %zu",
                            base + at);
    }
    return 0;
}

int kp_onnx_scan(const uint8_t *buf, size_t len, const ProtobufCMessageDescriptor *d,
                 kp_error *err) {
    size_t mem = d->sizeof_message;
    int rc = scan_wire(buf, len, d, 0, 0, &mem, err);
    if (rc) return rc;
    /* Real models need about their own size (mostly weights) plus small structs; allow 4x the
     * file plus 256 MiB before calling a file absurd. */
    size_t limit =
        len > (SIZE_MAX - ((size_t)256 << 20)) / 4 ? SIZE_MAX : 4 * len + ((size_t)256 << 20);
    if (mem > limit)
        return kp_error_set(err, KP_ERANGE,
                            "parsing these %zu bytes would take about %zu MiB of memory (absurd "
                            "counts of tiny entries); refusing a damaged or hostile file",
                            len, mem >> 20);
    return 0;
}

/* Fields of a newer ONNX than our onnx.proto, which protobuf-c keeps as unknown fields and the
 * IR drops. Parts kept verbatim as bytes (training info, annotations, non-tensor types) keep
 * theirs and are not counted. Depth is bounded by the pre-scan. */
size_t kp_onnx_count_unknown(const ProtobufCMessage *m) {
    if (!m) return 0;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (d == &onnx__training_info_proto__descriptor || d == &onnx__tensor_annotation__descriptor)
        return 0;
    if (d == &onnx__type_proto__descriptor &&
        ((const Onnx__TypeProto *)m)->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE)
        return 0;
    size_t n = m->n_unknown_fields;
    const char *base = (const char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t cnt;
            ProtobufCMessage *const *arr;
            memcpy(&cnt, base + f->quantifier_offset, sizeof cnt);
            memcpy(&arr, base + f->offset, sizeof arr);
            for (size_t j = 0; j < cnt; j++) n += kp_onnx_count_unknown(arr[j]);
            continue;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which;
            memcpy(&which, base + f->quantifier_offset, sizeof which);
            if (which != f->id) continue;
        }
        const ProtobufCMessage *sub;
        memcpy(&sub, base + f->offset, sizeof sub);
        n += kp_onnx_count_unknown(sub);
    }
    return n;
}
