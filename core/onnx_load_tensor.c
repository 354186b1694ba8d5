/* TensorProto -> kp_tensor for the loader: every dtype from raw_data, typed fields or external
 * data, and sparse tensors. Sizes are compared with dims x dtype before anything is allocated. */
#include "core/onnx_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/onnx_load_priv.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "raw_data is little-endian; byte swapping for big-endian hosts is not implemented"
#endif

static const char *nz(const char *s) {
    return s ? s : "";
}

/* ---- small helpers ------------------------------------------------------------------------ */

int kp_ld_oom(kp_ld *c) {
    return kp_error_set(c->err, KP_ENOMEM, "out of memory while loading");
}

int kp_ld_cancelled(kp_ld *c) {
    return c->cancel && *c->cancel ? kp_error_set(c->err, KP_ECANCELLED, "the load was cancelled")
                                   : 0;
}

int kp_ld_str(kp_ld *c, const char *s, char **out) {
    *out = NULL;
    if (!s) return 0;
    *out = strdup(s);
    return *out ? 0 : kp_ld_oom(c);
}

/* Copies into kp_bytes with a hidden NUL at data[len] (see graph.h). */
int kp_ld_bytes(kp_ld *c, const ProtobufCBinaryData *b, kp_bytes *out) {
    out->len = 0;
    out->data = malloc(b->len + 1);
    if (!out->data) return kp_ld_oom(c);
    if (b->len) memcpy(out->data, b->data, b->len);
    out->data[b->len] = 0;
    out->len = b->len;
    return 0;
}

/* ---- tensors ------------------------------------------------------------------------------ */

static int check_dims(kp_ld *c, const char *what, const char *name, size_t n_dims,
                      const int64_t *dims, int64_t *numel) {
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
static int ld_external(kp_ld *c, const Onnx__TensorProto *tp, const char *name, kp_dtype dt,
                       int rank, const int64_t *dims, size_t nbytes, kp_tensor **out) {
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

static int ld_tensor(kp_ld *c, const Onnx__TensorProto *tp, kp_tensor **out) {
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
            if (kp_ld_bytes(c, &tp->string_data[i], &t->strings[i])) return KP_ENOMEM;
        }
        break;
    default: break;
    }
named:
    if ((tp->name && kp_tensor_set_name(*out, tp->name)) ||
        kp_ld_str(c, tp->doc_string, &(*out)->doc_string)) {
        kp_tensor_free(*out);
        *out = NULL;
        return kp_ld_oom(c);
    }
    return 0;
}

/* Wrapper freeing *out on failure (ld_tensor's string path may fail after allocation). */
int kp_ld_tensor(kp_ld *c, const Onnx__TensorProto *tp, kp_tensor **out) {
    int rc = ld_tensor(c, tp, out);
    if (rc && *out) {
        kp_tensor_free(*out);
        *out = NULL;
    }
    return rc;
}

int kp_ld_sparse(kp_ld *c, const Onnx__SparseTensorProto *sp, kp_sparse_tensor **out) {
    *out = NULL;
    const char *name = sp->values ? nz(sp->values->name) : "";
    if (!sp->values || !sp->indices)
        return kp_error_set(c->err, KP_EFORMAT, "sparse tensor '%s' lacks its %s", name,
                            sp->values ? "indices" : "values");
    int64_t numel;
    int rc = check_dims(c, "sparse tensor", name, sp->n_dims, sp->dims, &numel);
    if (rc) return rc;
    kp_sparse_tensor *s = calloc(1, sizeof *s);
    if (!s) return kp_ld_oom(c);
    s->rank = (int)sp->n_dims;
    if (sp->n_dims) memcpy(s->dims, sp->dims, sp->n_dims * sizeof(int64_t));
    rc = kp_ld_tensor(c, sp->values, &s->values);
    if (!rc) rc = kp_ld_tensor(c, sp->indices, &s->indices);
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

int kp_onnx_load_tensor_buffer(const uint8_t *buf, size_t len, kp_tensor **out, kp_error *err) {
    if (!out) return kp_error_set(err, KP_EINVAL, "kp_onnx_load_tensor_buffer: out is NULL");
    *out = NULL;
    if (!buf && len) return kp_error_set(err, KP_EINVAL, "kp_onnx_load_tensor_buffer: no buffer");
    int rc = kp_onnx_scan(buf, len, &onnx__tensor_proto__descriptor, err);
    if (rc) return rc;
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
    if (!tp)
        return kp_error_set(err, KP_EFORMAT,
                            "not an ONNX tensor: the protobuf data is damaged or of another kind");
    kp_ld c = {.dir = NULL, .err = err};
    rc = kp_ld_tensor(&c, tp, out);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return rc;
}
