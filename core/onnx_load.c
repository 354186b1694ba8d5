/* ONNX protobuf -> IR. The file is untrusted: protobuf-c's unpack allocates only what the
 * buffer itself holds (bounded by the file size); every copy made here is sized from checked
 * values (dims checked for sign, rank and overflow, data sizes compared with dims x dtype
 * before anything is allocated). Nesting and parse memory are bounded before unpack ever runs
 * (scan_wire). */
#include "core/onnx_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/onnx_priv.h"
#include "onnx.pb-c.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "raw_data is little-endian; byte swapping for big-endian hosts is not implemented"
#endif

typedef struct ld {
    const char *dir; /* external data base folder, NULL = refuse external data */
    kp_error *err;
    int too_deep; /* the nesting limit was hit: outer levels add no more context */
} ld;

/* ---- wire pre-scan: bounds message nesting so protobuf-c's recursive unpack stays shallow -- */

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

static int scan_checked(const uint8_t *buf, size_t len, const ProtobufCMessageDescriptor *d,
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

/* ---- small helpers ------------------------------------------------------------------------ */

static int oom(ld *c) {
    return kp_error_set(c->err, KP_ENOMEM, "out of memory while loading");
}

static int dup_str(ld *c, const char *s, char **out) {
    *out = NULL;
    if (!s) return 0;
    *out = strdup(s);
    return *out ? 0 : oom(c);
}

/* Copies into kp_bytes with a hidden NUL at data[len] (see graph.h). */
static int dup_bytes(ld *c, const ProtobufCBinaryData *b, kp_bytes *out) {
    out->len = 0;
    out->data = malloc(b->len + 1);
    if (!out->data) return oom(c);
    if (b->len) memcpy(out->data, b->data, b->len);
    out->data[b->len] = 0;
    out->len = b->len;
    return 0;
}

static int pack_msg(ld *c, const ProtobufCMessage *msg, kp_bytes *out) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    out->data = malloc(n + 1);
    if (!out->data) return oom(c);
    out->len = protobuf_c_message_pack(msg, out->data);
    out->data[out->len] = 0;
    return 0;
}

static const char *nz(const char *s) {
    return s ? s : "";
}

/* ---- tensors ------------------------------------------------------------------------------ */

static int check_dims(ld *c, const char *what, const char *name, size_t n_dims, const int64_t *dims,
                      int64_t *numel) {
    if (n_dims > KP_MAX_RANK)
        return kp_error_set(c->err, KP_ERANGE, "%s '%s' has rank %zu; at most %d is supported",
                            what, name, n_dims, KP_MAX_RANK);
    int rc = kp_shape_numel((int)n_dims, dims, numel, c->err);
    if (rc) return kp_error_wrap(c->err, "%s '%s': ", what, name);
    if (*numel > KP_MAX_NUMEL)
        return kp_error_set(c->err, KP_ERANGE,
                            "%s '%s' has %lld elements, more than the %lld this tool accepts", what,
                            name, (long long)*numel, (long long)KP_MAX_NUMEL);
    return 0;
}

static int parse_u64(const char *s, uint64_t *v) {
    if (!s || !*s) return -1;
    uint64_t r = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        unsigned d = (unsigned)(*s - '0');
        if (r > (UINT64_MAX - d) / 10) return -1;
        r = r * 10 + d;
    }
    *v = r;
    return 0;
}

/* External data: checks location, offset and length against the file before allocating. */
static int ld_external(ld *c, const Onnx__TensorProto *tp, const char *name, kp_dtype dt, int rank,
                       const int64_t *dims, size_t nbytes, kp_tensor **out) {
    const char *loc = NULL;
    uint64_t off = 0, len = 0;
    int has_len = 0;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *kv = tp->external_data[i];
        const char *k = nz(kv->key);
        if (!strcmp(k, "location")) {
            loc = kv->value;
        } else if (!strcmp(k, "offset")) {
            if (parse_u64(kv->value, &off))
                return kp_error_set(c->err, KP_EFORMAT,
                                    "tensor '%s': external data offset '%s' is not a number", name,
                                    nz(kv->value));
        } else if (!strcmp(k, "length")) {
            if (parse_u64(kv->value, &len))
                return kp_error_set(c->err, KP_EFORMAT,
                                    "tensor '%s': external data length '%s' is not a number", name,
                                    nz(kv->value));
            has_len = 1;
        }
    }
    if (has_len && len != nbytes)
        return kp_error_set(c->err, KP_EFORMAT,
                            "tensor '%s': external data length %llu does not match its shape and "
                            "type (%zu bytes)",
                            name, (unsigned long long)len, nbytes);
    int fd = -1;
    uint64_t fsize = 0;
    int rc = kp_ext_open(c->dir, loc, name, &fd, &fsize, c->err);
    if (rc) return rc;
    if (off > fsize || nbytes > fsize - off) {
        close(fd);
        return kp_error_set(c->err, KP_EFORMAT,
                            "tensor '%s': external data needs %zu bytes at offset %llu, but '%s' "
                            "has only %llu bytes",
                            name, nbytes, (unsigned long long)off, loc, (unsigned long long)fsize);
    }
    kp_tensor *t = kp_tensor_new(dt, rank, dims, c->err);
    if (!t) {
        close(fd);
        return c->err ? c->err->code : KP_ENOMEM;
    }
    rc = nbytes ? kp_ext_pread(fd, t->data, nbytes, off, name, c->err) : 0;
    close(fd);
    if (rc) {
        kp_tensor_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

/* Which typed field holds values of dtype dt, and how many entries it needs for numel
 * elements of nbytes bytes. */
enum { F_NONE, F_FLOAT, F_INT32, F_INT64, F_DOUBLE, F_UINT64, F_STRING };

static int typed_field(kp_dtype dt, int64_t numel, size_t nbytes, size_t *want) {
    switch (dt) {
    case KP_FLOAT: *want = (size_t)numel; return F_FLOAT;
    case KP_COMPLEX64: *want = (size_t)numel * 2; return F_FLOAT;
    case KP_DOUBLE: *want = (size_t)numel; return F_DOUBLE;
    case KP_COMPLEX128: *want = (size_t)numel * 2; return F_DOUBLE;
    case KP_INT64: *want = (size_t)numel; return F_INT64;
    case KP_UINT32:
    case KP_UINT64: *want = (size_t)numel; return F_UINT64;
    case KP_STRING: *want = (size_t)numel; return F_STRING;
    case KP_UINT4:
    case KP_INT4: *want = nbytes; return F_INT32; /* two 4-bit values per entry */
    case KP_INT32:
    case KP_INT8:
    case KP_UINT8:
    case KP_INT16:
    case KP_UINT16:
    case KP_BOOL:
    case KP_FLOAT16:
    case KP_BFLOAT16:
    case KP_FLOAT8E4M3FN:
    case KP_FLOAT8E4M3FNUZ:
    case KP_FLOAT8E5M2:
    case KP_FLOAT8E5M2FNUZ: *want = (size_t)numel; return F_INT32;
    default: *want = 0; return F_NONE;
    }
}

static const char *field_name(int f) {
    static const char *names[] = {"(none)",      "float_data",  "int32_data", "int64_data",
                                  "double_data", "uint64_data", "string_data"};
    return names[f];
}

static void fill_from_int32(void *dst, const int32_t *src, size_t n, size_t esize) {
    uint8_t *d = dst;
    for (size_t i = 0; i < n; i++) {
        if (esize == 4) {
            memcpy(d + 4 * i, &src[i], 4);
        } else if (esize == 2) {
            uint16_t v = (uint16_t)src[i];
            memcpy(d + 2 * i, &v, 2);
        } else {
            d[i] = (uint8_t)src[i];
        }
    }
}

static int ld_tensor(ld *c, const Onnx__TensorProto *tp, kp_tensor **out) {
    *out = NULL;
    const char *name = nz(tp->name);
    int dt = tp->has_data_type ? tp->data_type : 0;
    if (dt == KP_UNDEFINED)
        return kp_error_set(c->err, KP_EFORMAT, "tensor '%s' has no data_type", name);
    if (!kp_dtype_valid(dt))
        return kp_error_set(c->err, KP_EUNSUPPORTED,
                            "tensor '%s' has unknown data_type %d (newer ONNX or damaged file)",
                            name, dt);
    int64_t numel;
    int rc = check_dims(c, "tensor", name, tp->n_dims, tp->dims, &numel);
    if (rc) return rc;
    int rank = (int)tp->n_dims;
    if (tp->segment)
        return kp_error_set(c->err, KP_EUNSUPPORTED,
                            "tensor '%s' is a segment of a larger tensor, which is not supported",
                            name);
    int external = 0;
    if (tp->has_data_location) {
        if (tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
            external = 1;
        else if (tp->data_location != ONNX__TENSOR_PROTO__DATA_LOCATION__DEFAULT)
            return kp_error_set(c->err, KP_EFORMAT, "tensor '%s' has unknown data_location %d",
                                name, (int)tp->data_location);
    }
    /* The sources of data present; exactly one (or none for empty tensors) is allowed. */
    int present[7] = {0};
    present[F_FLOAT] = tp->n_float_data > 0;
    present[F_INT32] = tp->n_int32_data > 0;
    present[F_INT64] = tp->n_int64_data > 0;
    present[F_DOUBLE] = tp->n_double_data > 0;
    present[F_UINT64] = tp->n_uint64_data > 0;
    present[F_STRING] = tp->n_string_data > 0;
    int raw = tp->has_raw_data && !external;
    int nsrc = raw + external;
    for (int f = F_FLOAT; f <= F_STRING; f++) nsrc += present[f];
    if (nsrc > 1)
        return kp_error_set(c->err, KP_EFORMAT,
                            "tensor '%s' holds its data in more than one place (raw_data, "
                            "external data or typed fields); only one is allowed",
                            name);
    int ok = 1;
    size_t nbytes = dt == KP_STRING ? 0 : kp_dtype_bytes((kp_dtype)dt, numel, &ok);
    if (!ok)
        return kp_error_set(c->err, KP_ERANGE, "tensor '%s': byte size of %lld elements overflows",
                            name, (long long)numel);
    if (dt != KP_STRING && numel > 0 && nbytes == 0)
        return kp_error_set(c->err, KP_EUNSUPPORTED, "tensor '%s': data type %s is not supported",
                            name, kp_dtype_name((kp_dtype)dt));
    char shape[128];
    kp_shape_str(rank, tp->dims, shape, sizeof shape);

    if (external) {
        if (dt == KP_STRING)
            return kp_error_set(c->err, KP_EFORMAT,
                                "tensor '%s': string tensors cannot use external data", name);
        rc = ld_external(c, tp, name, (kp_dtype)dt, rank, tp->dims, nbytes, out);
        if (rc) return rc;
        goto named;
    }
    if (raw) {
        if (dt == KP_STRING)
            return kp_error_set(c->err, KP_EFORMAT,
                                "tensor '%s': string tensors must use string_data, not raw_data",
                                name);
        if (tp->raw_data.len != nbytes)
            return kp_error_set(c->err, KP_EFORMAT,
                                "tensor '%s' (%s, %s) needs %zu bytes of raw_data but has %zu",
                                name, kp_dtype_name((kp_dtype)dt), shape, nbytes, tp->raw_data.len);
        kp_tensor *t = kp_tensor_new((kp_dtype)dt, rank, tp->dims, c->err);
        if (!t) return c->err ? c->err->code : KP_ENOMEM;
        if (nbytes) {
            /* The unpacked tree is ours and its bytes come from malloc (protobuf-c's default
             * allocator): take the buffer instead of copying it, so a model's weights are held
             * once, not twice, while loading. */
            Onnx__TensorProto *own = (Onnx__TensorProto *)tp;
            free(t->data);
            t->data = own->raw_data.data;
            own->raw_data.data = NULL;
            own->raw_data.len = 0;
            own->has_raw_data = 0;
        }
        *out = t;
        goto named;
    }
    size_t want;
    int field = typed_field((kp_dtype)dt, numel, nbytes, &want);
    size_t have = 0;
    for (int f = F_FLOAT; f <= F_STRING; f++)
        if (present[f]) {
            if (f != field)
                return kp_error_set(c->err, KP_EFORMAT,
                                    "tensor '%s' of type %s keeps its values in %s; ONNX expects "
                                    "%s for this type",
                                    name, kp_dtype_name((kp_dtype)dt), field_name(f),
                                    field_name(field));
            have = f == F_FLOAT    ? tp->n_float_data
                   : f == F_INT32  ? tp->n_int32_data
                   : f == F_INT64  ? tp->n_int64_data
                   : f == F_DOUBLE ? tp->n_double_data
                   : f == F_UINT64 ? tp->n_uint64_data
                                   : tp->n_string_data;
        }
    if (have != want) {
        if (have == 0)
            return kp_error_set(c->err, KP_EFORMAT, "tensor '%s' (%s, %s) has no data", name,
                                kp_dtype_name((kp_dtype)dt), shape);
        return kp_error_set(c->err, KP_EFORMAT,
                            "tensor '%s' (%s, %s) needs %zu values in %s but has %zu", name,
                            kp_dtype_name((kp_dtype)dt), shape, want, field_name(field), have);
    }
    kp_tensor *t = kp_tensor_new((kp_dtype)dt, rank, tp->dims, c->err);
    if (!t) return c->err ? c->err->code : KP_ENOMEM;
    *out = t;
    if (have == 0) goto named;
    switch (field) {
    case F_FLOAT: memcpy(t->data, tp->float_data, have * sizeof(float)); break;
    case F_DOUBLE: memcpy(t->data, tp->double_data, have * sizeof(double)); break;
    case F_INT64: memcpy(t->data, tp->int64_data, have * sizeof(int64_t)); break;
    case F_UINT64:
        if (dt == KP_UINT64) {
            memcpy(t->data, tp->uint64_data, have * sizeof(uint64_t));
        } else {
            uint32_t *d = t->data;
            for (size_t i = 0; i < have; i++) d[i] = (uint32_t)tp->uint64_data[i];
        }
        break;
    case F_INT32: {
        size_t es = (dt == KP_INT4 || dt == KP_UINT4) ? 1 : kp_dtype_size((kp_dtype)dt);
        fill_from_int32(t->data, tp->int32_data, have, es);
        break;
    }
    case F_STRING:
        for (size_t i = 0; i < have; i++) {
            free(t->strings[i].data);
            t->strings[i].data = NULL;
            t->strings[i].len = 0;
            if (dup_bytes(c, &tp->string_data[i], &t->strings[i])) return KP_ENOMEM;
        }
        break;
    default: break;
    }
named:
    if ((tp->name && kp_tensor_set_name(*out, tp->name)) ||
        dup_str(c, tp->doc_string, &(*out)->doc_string)) {
        kp_tensor_free(*out);
        *out = NULL;
        return oom(c);
    }
    return 0;
}

/* Wrapper freeing *out on failure (ld_tensor's string path may fail after allocation). */
static int ld_tensor_owned(ld *c, const Onnx__TensorProto *tp, kp_tensor **out) {
    int rc = ld_tensor(c, tp, out);
    if (rc && *out) {
        kp_tensor_free(*out);
        *out = NULL;
    }
    return rc;
}

static int ld_sparse(ld *c, const Onnx__SparseTensorProto *sp, kp_sparse_tensor **out) {
    *out = NULL;
    const char *name = sp->values ? nz(sp->values->name) : "";
    if (!sp->values || !sp->indices)
        return kp_error_set(c->err, KP_EFORMAT, "sparse tensor '%s' lacks its %s", name,
                            sp->values ? "indices" : "values");
    int64_t numel;
    int rc = check_dims(c, "sparse tensor", name, sp->n_dims, sp->dims, &numel);
    if (rc) return rc;
    kp_sparse_tensor *s = calloc(1, sizeof *s);
    if (!s) return oom(c);
    s->rank = (int)sp->n_dims;
    if (sp->n_dims) memcpy(s->dims, sp->dims, sp->n_dims * sizeof(int64_t));
    rc = ld_tensor_owned(c, sp->values, &s->values);
    if (!rc) rc = ld_tensor_owned(c, sp->indices, &s->indices);
    if (rc) goto fail;
    const kp_tensor *v = s->values, *ix = s->indices;
    if (v->rank != 1) {
        rc = kp_error_set(c->err, KP_EFORMAT, "sparse tensor '%s': values must be 1-D, not rank %d",
                          name, v->rank);
        goto fail;
    }
    int64_t nnz = v->dims[0];
    int linear = ix->rank == 1 && ix->dims[0] == nnz;
    int coords = ix->rank == 2 && ix->dims[0] == nnz && ix->dims[1] == s->rank;
    if (ix->dtype != KP_INT64 || (!linear && !coords)) {
        rc = kp_error_set(c->err, KP_EFORMAT,
                          "sparse tensor '%s': indices must be int64 of shape [%lld] or "
                          "[%lld, %d]",
                          name, (long long)nnz, (long long)nnz, s->rank);
        goto fail;
    }
    const int64_t *idx = ix->data;
    for (int64_t i = 0; i < ix->numel; i++) {
        int64_t lim = linear ? numel : s->dims[i % s->rank];
        if (idx[i] < 0 || idx[i] >= lim) {
            rc = kp_error_set(c->err, KP_ERANGE,
                              "sparse tensor '%s': index %lld is outside the tensor", name,
                              (long long)idx[i]);
            goto fail;
        }
    }
    *out = s;
    return 0;
fail:
    kp_sparse_tensor_free(s);
    return rc;
}

/* ---- types -------------------------------------------------------------------------------- */

static int ld_type(ld *c, const Onnx__TypeProto *tp, const char *value, kp_type *out) {
    memset(out, 0, sizeof *out);
    out->kind = KP_TYPE_NONE;
    out->rank = -1;
    if (!tp) return 0;
    if (dup_str(c, tp->denotation, &out->denotation)) return KP_ENOMEM;
    if (tp->value_case == ONNX__TYPE_PROTO__VALUE__NOT_SET) return 0;
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type) {
        out->kind = KP_TYPE_OTHER;
        return pack_msg(c, &tp->base, &out->raw);
    }
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    out->kind = KP_TYPE_TENSOR;
    int et = tt->has_elem_type ? tt->elem_type : 0;
    if (!kp_dtype_valid(et))
        return kp_error_set(c->err, KP_EUNSUPPORTED,
                            "value '%s' has unknown element type %d (newer ONNX or damaged file)",
                            value, et);
    out->elem = (kp_dtype)et;
    if (!tt->shape) return 0;
    size_t n = tt->shape->n_dim;
    if (n > KP_MAX_RANK)
        return kp_error_set(c->err, KP_ERANGE, "value '%s' has rank %zu; at most %d is supported",
                            value, n, KP_MAX_RANK);
    if (n) {
        out->dims = calloc(n, sizeof *out->dims);
        if (!out->dims) return oom(c);
    }
    out->rank = (int)n;
    for (size_t i = 0; i < n; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        kp_dim *o = &out->dims[i];
        o->value = -1;
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            /* Some old exporters write -1 for "unknown"; any negative value means unknown. */
            if (d->dim_value >= 0) o->value = d->dim_value;
        } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM) {
            if (dup_str(c, d->dim_param, &o->param)) return KP_ENOMEM;
        }
        if (dup_str(c, d->denotation, &o->denotation)) return KP_ENOMEM;
    }
    return 0;
}

static int ld_value_info(ld *c, const Onnx__ValueInfoProto *vp, kp_value_info *out) {
    memset(out, 0, sizeof *out);
    out->type.rank = -1;
    if (dup_str(c, vp->name, &out->name) || dup_str(c, vp->doc_string, &out->doc_string))
        return KP_ENOMEM;
    return ld_type(c, vp->type, nz(vp->name), &out->type);
}

/* ---- attributes, nodes, graphs ------------------------------------------------------------ */

static int ld_graph(ld *c, const Onnx__GraphProto *gp, kp_graph *parent, int depth, kp_graph **out);

static int infer_attr_type(const Onnx__AttributeProto *a) {
    if (a->has_f) return KP_ATTR_FLOAT;
    if (a->has_i) return KP_ATTR_INT;
    if (a->has_s) return KP_ATTR_STRING;
    if (a->t) return KP_ATTR_TENSOR;
    if (a->g) return KP_ATTR_GRAPH;
    if (a->sparse_tensor) return KP_ATTR_SPARSE_TENSOR;
    if (a->tp) return KP_ATTR_TYPE_PROTO;
    if (a->n_floats) return KP_ATTR_FLOATS;
    if (a->n_ints) return KP_ATTR_INTS;
    if (a->n_strings) return KP_ATTR_STRINGS;
    if (a->n_tensors) return KP_ATTR_TENSORS;
    if (a->n_graphs) return KP_ATTR_GRAPHS;
    if (a->n_sparse_tensors) return KP_ATTR_SPARSE_TENSORS;
    if (a->n_type_protos) return KP_ATTR_TYPE_PROTOS;
    return KP_ATTR_UNDEFINED;
}

static int ld_attr(ld *c, const Onnx__AttributeProto *ap, const char *node, kp_graph *g, int depth,
                   kp_attr *a) {
    memset(a, 0, sizeof *a);
    if (!ap->name || !*ap->name)
        return kp_error_set(c->err, KP_EFORMAT, "node '%s' has an attribute without a name", node);
    const char *an = ap->name;
    if (dup_str(c, ap->name, &a->name) || dup_str(c, ap->doc_string, &a->doc_string) ||
        dup_str(c, ap->ref_attr_name, &a->ref_attr_name))
        return KP_ENOMEM;
    int type = ap->has_type ? (int)ap->type : infer_attr_type(ap);
    /* A reference to a function's attribute carries a type but no value. */
    if (type == KP_ATTR_UNDEFINED && !ap->ref_attr_name)
        return kp_error_set(c->err, KP_EFORMAT,
                            "node '%s': attribute '%s' has no type and no value", node, an);
    a->type = (kp_attr_type)type;
    /* Singular tensor/graph values are pointers that every consumer dereferences: require them
     * unless the attribute only refers to a function's attribute. */
    int missing = (type == KP_ATTR_TENSOR && !ap->t) || (type == KP_ATTR_GRAPH && !ap->g) ||
                  (type == KP_ATTR_SPARSE_TENSOR && !ap->sparse_tensor) ||
                  (type == KP_ATTR_TYPE_PROTO && !ap->tp);
    if (missing && !ap->ref_attr_name)
        return kp_error_set(c->err, KP_EFORMAT,
                            "node '%s': attribute '%s' is declared as a %s but holds none", node,
                            an,
                            type == KP_ATTR_TENSOR       ? "tensor"
                            : type == KP_ATTR_GRAPH      ? "graph"
                            : type == KP_ATTR_TYPE_PROTO ? "type"
                                                         : "sparse tensor");
    int rc = 0;
    size_t n = 0;
    switch (type) {
    case KP_ATTR_UNDEFINED: break;
    case KP_ATTR_FLOAT: a->f = ap->f; break;
    case KP_ATTR_INT: a->i = ap->i; break;
    case KP_ATTR_STRING: rc = dup_bytes(c, &ap->s, &a->s); break;
    case KP_ATTR_TENSOR:
        if (ap->t) rc = ld_tensor_owned(c, ap->t, &a->t);
        break;
    case KP_ATTR_GRAPH:
        if (ap->g) rc = ld_graph(c, ap->g, g, depth + 1, &a->g);
        break;
    case KP_ATTR_SPARSE_TENSOR:
        if (ap->sparse_tensor) rc = ld_sparse(c, ap->sparse_tensor, &a->sparse);
        break;
    case KP_ATTR_TYPE_PROTO:
        if (ap->tp) {
            a->tp = calloc(1, sizeof *a->tp);
            rc = a->tp ? ld_type(c, ap->tp, an, a->tp) : oom(c);
        }
        break;
    case KP_ATTR_FLOATS:
        if ((n = ap->n_floats)) {
            if (!(a->floats = malloc(n * sizeof(float)))) return oom(c);
            memcpy(a->floats, ap->floats, n * sizeof(float));
        }
        a->n = n;
        break;
    case KP_ATTR_INTS:
        if ((n = ap->n_ints)) {
            if (!(a->ints = malloc(n * sizeof(int64_t)))) return oom(c);
            memcpy(a->ints, ap->ints, n * sizeof(int64_t));
        }
        a->n = n;
        break;
    case KP_ATTR_STRINGS:
        if ((n = ap->n_strings) && !(a->strings = calloc(n, sizeof *a->strings))) return oom(c);
        for (size_t i = 0; i < n && !rc; i++, a->n++)
            rc = dup_bytes(c, &ap->strings[i], &a->strings[i]);
        break;
    case KP_ATTR_TENSORS:
        if ((n = ap->n_tensors) && !(a->tensors = calloc(n, sizeof *a->tensors))) return oom(c);
        for (size_t i = 0; i < n && !rc; i++, a->n++)
            rc = ld_tensor_owned(c, ap->tensors[i], &a->tensors[i]);
        break;
    case KP_ATTR_GRAPHS:
        if ((n = ap->n_graphs) && !(a->graphs = calloc(n, sizeof *a->graphs))) return oom(c);
        for (size_t i = 0; i < n && !rc; i++, a->n++)
            rc = ld_graph(c, ap->graphs[i], g, depth + 1, &a->graphs[i]);
        break;
    case KP_ATTR_SPARSE_TENSORS:
        if ((n = ap->n_sparse_tensors) && !(a->sparses = calloc(n, sizeof *a->sparses)))
            return oom(c);
        for (size_t i = 0; i < n && !rc; i++, a->n++)
            rc = ld_sparse(c, ap->sparse_tensors[i], &a->sparses[i]);
        break;
    case KP_ATTR_TYPE_PROTOS:
        if ((n = ap->n_type_protos) && !(a->tps = calloc(n, sizeof *a->tps))) return oom(c);
        for (size_t i = 0; i < n && !rc; i++, a->n++)
            rc = ld_type(c, ap->type_protos[i], an, &a->tps[i]);
        break;
    default:
        return kp_error_set(c->err, KP_EFORMAT, "node '%s': attribute '%s' has unknown type %d",
                            node, an, type);
    }
    if (rc && !c->too_deep) kp_error_wrap(c->err, "node '%s', attribute '%s': ", node, an);
    return rc;
}

static int ld_node(ld *c, const Onnx__NodeProto *np, size_t idx, kp_graph *g, int depth,
                   kp_node **out) {
    *out = NULL;
    char label[96];
    snprintf(label, sizeof label, "%s", np->name && *np->name ? np->name : "");
    if (!*label) snprintf(label, sizeof label, "#%zu", idx);
    if (!np->op_type || !*np->op_type)
        return kp_error_set(c->err, KP_EFORMAT, "node '%s' has no op_type", label);
    kp_node *n = kp_node_new(np->op_type, np->name, np->n_input, (const char *const *)np->input,
                             np->n_output, (const char *const *)np->output);
    if (!n) return oom(c);
    int rc = 0;
    if (dup_str(c, np->domain, &n->domain) || dup_str(c, np->doc_string, &n->doc_string)) {
        rc = KP_ENOMEM;
        goto fail;
    }
    if (np->n_attribute) {
        n->attrs = calloc(np->n_attribute, sizeof *n->attrs);
        if (!n->attrs) {
            rc = oom(c);
            goto fail;
        }
    }
    for (size_t i = 0; i < np->n_attribute; i++) {
        n->n_attrs++;
        rc = ld_attr(c, np->attribute[i], label, g, depth, &n->attrs[i]);
        if (rc) goto fail;
    }
    *out = n;
    return 0;
fail:
    kp_node_free(n);
    return rc;
}

static int ld_value_infos(ld *c, size_t n, Onnx__ValueInfoProto **src, kp_value_info **dst,
                          size_t *count) {
    *dst = NULL;
    *count = 0;
    if (!n) return 0;
    *dst = calloc(n, sizeof **dst);
    if (!*dst) return oom(c);
    for (size_t i = 0; i < n; i++) {
        (*count)++;
        int rc = ld_value_info(c, src[i], &(*dst)[i]);
        if (rc) return rc;
    }
    return 0;
}

static int ld_graph_body(ld *c, const Onnx__GraphProto *gp, kp_graph *g, int depth) {
    if (dup_str(c, gp->name, &g->name) || dup_str(c, gp->doc_string, &g->doc_string))
        return KP_ENOMEM;
    int rc;
    if (gp->n_node) {
        g->nodes = calloc(gp->n_node, sizeof *g->nodes);
        if (!g->nodes) return oom(c);
        g->cap_nodes = gp->n_node;
    }
    for (size_t i = 0; i < gp->n_node; i++) {
        if ((rc = ld_node(c, gp->node[i], i, g, depth, &g->nodes[i]))) return rc;
        g->n_nodes++;
    }
    if (gp->n_initializer) {
        g->inits = calloc(gp->n_initializer, sizeof *g->inits);
        if (!g->inits) return oom(c);
    }
    for (size_t i = 0; i < gp->n_initializer; i++) {
        if ((rc = ld_tensor_owned(c, gp->initializer[i], &g->inits[i]))) return rc;
        g->n_inits++;
    }
    if (gp->n_sparse_initializer) {
        g->sparse_inits = calloc(gp->n_sparse_initializer, sizeof *g->sparse_inits);
        if (!g->sparse_inits) return oom(c);
    }
    for (size_t i = 0; i < gp->n_sparse_initializer; i++) {
        if ((rc = ld_sparse(c, gp->sparse_initializer[i], &g->sparse_inits[i]))) return rc;
        g->n_sparse_inits++;
    }
    if ((rc = ld_value_infos(c, gp->n_input, gp->input, &g->inputs, &g->n_inputs)) ||
        (rc = ld_value_infos(c, gp->n_output, gp->output, &g->outputs, &g->n_outputs)) ||
        (rc =
             ld_value_infos(c, gp->n_value_info, gp->value_info, &g->value_info, &g->n_value_info)))
        return rc;
    if (gp->n_quantization_annotation) {
        g->raw_quant_annotations =
            calloc(gp->n_quantization_annotation, sizeof *g->raw_quant_annotations);
        if (!g->raw_quant_annotations) return oom(c);
    }
    for (size_t i = 0; i < gp->n_quantization_annotation; i++) {
        if ((rc = pack_msg(c, &gp->quantization_annotation[i]->base, &g->raw_quant_annotations[i])))
            return rc;
        g->n_raw_quant_annotations++;
    }
    return 0;
}

static int ld_graph(ld *c, const Onnx__GraphProto *gp, kp_graph *parent, int depth,
                    kp_graph **out) {
    *out = NULL;
    if (depth > KP_ONNX_MAX_GRAPH_DEPTH) {
        c->too_deep = 1;
        return kp_error_set(c->err, KP_ERANGE,
                            "subgraphs (If/Loop/Scan bodies) are nested more than %d levels "
                            "deep; refusing a model this deep",
                            KP_ONNX_MAX_GRAPH_DEPTH);
    }
    kp_graph *g = kp_graph_new(parent);
    if (!g) return oom(c);
    int rc = ld_graph_body(c, gp, g, depth);
    if (rc) {
        if (depth > 0 && gp->name && !c->too_deep)
            kp_error_wrap(c->err, "subgraph '%s': ", gp->name);
        kp_graph_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

/* ---- model -------------------------------------------------------------------------------- */

static int ld_opsets(ld *c, size_t n, Onnx__OperatorSetIdProto **src, kp_opset **dst,
                     size_t *count) {
    *dst = NULL;
    *count = 0;
    if (!n) return 0;
    if (!(*dst = calloc(n, sizeof **dst))) return oom(c);
    for (size_t i = 0; i < n; i++) {
        (*count)++;
        if (dup_str(c, src[i]->domain, &(*dst)[i].domain)) return KP_ENOMEM;
        (*dst)[i].version = src[i]->has_version ? src[i]->version : 0;
    }
    return 0;
}

static int dup_strv(ld *c, size_t n, char **src, char ***dst, size_t *count) {
    *dst = NULL;
    *count = 0;
    if (!n) return 0;
    if (!(*dst = calloc(n, sizeof **dst))) return oom(c);
    for (size_t i = 0; i < n; i++) {
        (*count)++;
        if (dup_str(c, src[i] ? src[i] : "", &(*dst)[i])) return KP_ENOMEM;
    }
    return 0;
}

static int ld_function(ld *c, const Onnx__FunctionProto *fp, kp_function *f) {
    memset(f, 0, sizeof *f);
    int rc;
    if (dup_str(c, fp->name, &f->name) || dup_str(c, fp->domain, &f->domain) ||
        dup_str(c, fp->doc_string, &f->doc_string))
        return KP_ENOMEM;
    if ((rc = dup_strv(c, fp->n_input, fp->input, &f->inputs, &f->n_inputs)) ||
        (rc = dup_strv(c, fp->n_output, fp->output, &f->outputs, &f->n_outputs)) ||
        (rc = dup_strv(c, fp->n_attribute, fp->attribute, &f->attr_names, &f->n_attr_names)) ||
        (rc = ld_opsets(c, fp->n_opset_import, fp->opset_import, &f->opsets, &f->n_opsets)))
        return rc;
    if (!(f->body = kp_graph_new(NULL))) return oom(c);
    kp_graph *g = f->body;
    if (fp->n_node) {
        if (!(g->nodes = calloc(fp->n_node, sizeof *g->nodes))) return oom(c);
        g->cap_nodes = fp->n_node;
    }
    for (size_t i = 0; i < fp->n_node; i++) {
        if ((rc = ld_node(c, fp->node[i], i, g, 0, &g->nodes[i]))) {
            return kp_error_wrap(c->err, "function '%s': ", nz(fp->name));
        }
        g->n_nodes++;
    }
    return 0;
}

static int ld_model(ld *c, const Onnx__ModelProto *mp, kp_model *m) {
    int rc;
    m->ir_version = mp->has_ir_version ? mp->ir_version : 0;
    m->model_version = mp->has_model_version ? mp->model_version : 0;
    if (dup_str(c, mp->producer_name, &m->producer_name) ||
        dup_str(c, mp->producer_version, &m->producer_version) ||
        dup_str(c, mp->domain, &m->domain) || dup_str(c, mp->doc_string, &m->doc_string))
        return KP_ENOMEM;
    if ((rc = ld_opsets(c, mp->n_opset_import, mp->opset_import, &m->opsets, &m->n_opsets)))
        return rc;
    if (mp->n_metadata_props && !(m->props = calloc(mp->n_metadata_props, sizeof *m->props)))
        return oom(c);
    for (size_t i = 0; i < mp->n_metadata_props; i++) {
        m->n_props++;
        if (dup_str(c, mp->metadata_props[i]->key, &m->props[i].key) ||
            dup_str(c, mp->metadata_props[i]->value, &m->props[i].value))
            return KP_ENOMEM;
    }
    if (mp->n_training_info &&
        !(m->raw_training_info = calloc(mp->n_training_info, sizeof *m->raw_training_info)))
        return oom(c);
    for (size_t i = 0; i < mp->n_training_info; i++) {
        if ((rc = pack_msg(c, &mp->training_info[i]->base, &m->raw_training_info[i]))) return rc;
        m->n_raw_training_info++;
    }
    if (mp->n_functions && !(m->functions = calloc(mp->n_functions, sizeof *m->functions)))
        return oom(c);
    for (size_t i = 0; i < mp->n_functions; i++) {
        m->n_functions++;
        if ((rc = ld_function(c, mp->functions[i], &m->functions[i]))) return rc;
    }
    kp_graph *g = NULL;
    if ((rc = ld_graph(c, mp->graph, NULL, 0, &g))) return rc;
    kp_graph_free(m->graph);
    m->graph = g;
    return 0;
}

/* Fields of a newer ONNX than our onnx.proto, which protobuf-c keeps as unknown fields and the
 * IR drops. Parts kept verbatim as bytes (training info, annotations, non-tensor types) keep
 * theirs and are not counted. Depth is bounded by the pre-scan. */
static size_t count_unknown(const ProtobufCMessage *m) {
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
            for (size_t j = 0; j < cnt; j++) n += count_unknown(arr[j]);
            continue;
        }
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which;
            memcpy(&which, base + f->quantifier_offset, sizeof which);
            if (which != f->id) continue;
        }
        const ProtobufCMessage *sub;
        memcpy(&sub, base + f->offset, sizeof sub);
        n += count_unknown(sub);
    }
    return n;
}

int kp_onnx_load_buffer(const uint8_t *buf, size_t len, const char *dir, kp_model **out,
                        kp_error *err) {
    return kp_onnx_load_owned(buf, len, NULL, dir, out, err);
}

int kp_onnx_load_owned(const uint8_t *buf, size_t len, uint8_t *owned, const char *dir,
                       kp_model **out, kp_error *err) {
    if (!out) {
        free(owned);
        return kp_error_set(err, KP_EINVAL, "kp_onnx_load_buffer: out is NULL");
    }
    *out = NULL;
    if (!buf && len) {
        free(owned);
        return kp_error_set(err, KP_EINVAL, "kp_onnx_load_buffer: buffer is NULL");
    }
    if (len == 0) {
        free(owned);
        return kp_error_set(err, KP_EFORMAT, "the file is empty, not an ONNX model");
    }
    int rc = scan_checked(buf, len, &onnx__model_proto__descriptor, err);
    if (rc) {
        free(owned);
        return rc;
    }
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    free(owned); /* everything needed is in the unpacked tree now */
    if (!mp)
        return kp_error_set(err, KP_EFORMAT,
                            "not an ONNX model: the protobuf data is damaged or of another kind");
    if (!mp->graph) {
        onnx__model_proto__free_unpacked(mp, NULL);
        return kp_error_set(err, KP_EFORMAT,
                            "not an ONNX model: it has no graph (damaged file, or not a model)");
    }
    ld c = {.dir = dir, .err = err};
    kp_model *m = kp_model_new();
    if (!m) {
        onnx__model_proto__free_unpacked(mp, NULL);
        return kp_error_set(err, KP_ENOMEM, "out of memory while loading");
    }
    m->n_unknown_fields = count_unknown(&mp->base);
    rc = ld_model(&c, mp, m);
    onnx__model_proto__free_unpacked(mp, NULL);
    if (!rc && dir && !(m->dir = strdup(dir))) rc = kp_error_set(err, KP_ENOMEM, "out of memory");
    if (!rc) {
        rc = kp_graph_validate(m->graph, err);
        if (rc) kp_error_wrap(err, "invalid graph: ");
    }
    if (rc) {
        kp_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int kp_onnx_load_tensor_buffer(const uint8_t *buf, size_t len, kp_tensor **out, kp_error *err) {
    if (!out) return kp_error_set(err, KP_EINVAL, "kp_onnx_load_tensor_buffer: out is NULL");
    *out = NULL;
    if (!buf && len) return kp_error_set(err, KP_EINVAL, "kp_onnx_load_tensor_buffer: no buffer");
    int rc = scan_checked(buf, len, &onnx__tensor_proto__descriptor, err);
    if (rc) return rc;
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
    if (!tp)
        return kp_error_set(err, KP_EFORMAT,
                            "not an ONNX tensor: the protobuf data is damaged or of another kind");
    ld c = {.dir = NULL, .err = err};
    rc = ld_tensor_owned(&c, tp, out);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return rc;
}
