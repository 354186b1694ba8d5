/* .npy arrays (format versions 1.0, 2.0, 3.0; C order; little-endian float32/float64/uint8/
 * int8/int32/int64/bool) as stacked-sample sources over any byte stream. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/dataset.h"
#include "core/dataset_src.h"
#include "core/onnx_io.h"

typedef struct npy_src {
    kp_src base;
    kp_bstream *bs;
    uint64_t data_off;
    size_t elem;
    int kind; /* 'f' float, 'i' signed, 'u' unsigned, 'b' bool */
    uint8_t *buf;
    size_t cap;
} npy_src;

void kp_src_free(kp_src *s) {
    if (s) s->free(s);
}

static void npy_free(kp_src *s) {
    npy_src *n = (npy_src *)s;
    kp_bstream_close(n->bs);
    free(n->buf);
    free(s->what);
    free(n);
}

static double npy_elem(const npy_src *n, const uint8_t *p) {
    /* Little-endian on disk; decode byte by byte so host endianness does not matter. */
    uint64_t u = 0;
    for (size_t b = 0; b < n->elem; b++) u |= (uint64_t)p[b] << (8 * b);
    switch (n->kind) {
    case 'f':
        if (n->elem == 4) {
            uint32_t w = (uint32_t)u;
            float f;
            memcpy(&f, &w, 4);
            return f;
        } else {
            double d;
            memcpy(&d, &u, 8);
            return d;
        }
    case 'i':
        if (n->elem == 1) return (int8_t)u;
        if (n->elem == 4) return (int32_t)(uint32_t)u;
        return (double)(int64_t)u;
    case 'b': return u ? 1.0 : 0.0;
    default: return (double)u;
    }
}

static int npy_read(kp_src *s, size_t start, size_t count, double *dst, kp_error *err) {
    npy_src *n = (npy_src *)s;
    if (start > s->n || count > s->n - start)
        return kp_error_set(err, KP_ERANGE, "%s: samples %zu..%zu past the end (%zu)", s->what,
                            start, start + count, s->n);
    size_t per = (size_t)s->numel * n->elem;
    /* Read in chunks of whole samples so a huge batch does not need one huge temp buffer. */
    size_t chunk = per ? (size_t)(1u << 20) / per : 1;
    if (chunk == 0) chunk = 1;
    size_t done = 0;
    while (done < count) {
        size_t k = count - done < chunk ? count - done : chunk;
        size_t bytes = k * per;
        if (bytes > n->cap) {
            uint8_t *nb = realloc(n->buf, bytes);
            if (!nb) return kp_error_set(err, KP_ENOMEM, "out of memory reading %s", s->what);
            n->buf = nb;
            n->cap = bytes;
        }
        int rc =
            n->bs->read_at(n->bs, n->data_off + (uint64_t)(start + done) * per, n->buf, bytes, err);
        if (rc) return kp_error_wrap(err, "%s: ", s->what);
        size_t vals = k * (size_t)s->numel;
        double *o = dst + done * (size_t)s->numel;
        for (size_t i = 0; i < vals; i++) o[i] = npy_elem(n, n->buf + i * n->elem);
        done += k;
    }
    return 0;
}

/* Finds `'key':` in the header dict and returns a pointer past the colon and spaces. */
static const char *dict_value(const char *h, const char *key) {
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p) {
        snprintf(pat, sizeof pat, "\"%s\"", key);
        p = strstr(h, pat);
    }
    if (!p) return NULL;
    p += strlen(pat);
    while (*p == ' ') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

static int parse_header(npy_src *n, const char *h, kp_error *err) {
    const char *what = n->base.what;
    const char *d = dict_value(h, "descr");
    const char *fo = dict_value(h, "fortran_order");
    const char *sh = dict_value(h, "shape");
    if (!d || !fo || !sh)
        return kp_error_set(err, KP_EFORMAT, "%s: .npy header lacks descr, fortran_order or shape",
                            what);
    if (*d != '\'' && *d != '"')
        return kp_error_set(err, KP_EUNSUPPORTED, "%s: structured dtypes are not supported", what);
    char descr[16] = {0};
    size_t i = 0;
    for (d++; *d && *d != '\'' && *d != '"' && i < sizeof descr - 1; d++) descr[i++] = *d;
    static const struct {
        const char *descr;
        int kind;
        size_t size;
        kp_dtype dt;
    } types[] = {
        {"<f4", 'f', 4, KP_FLOAT}, {"<f8", 'f', 8, KP_DOUBLE}, {"|u1", 'u', 1, KP_UINT8},
        {"<u1", 'u', 1, KP_UINT8}, {"|i1", 'i', 1, KP_INT8},   {"<i4", 'i', 4, KP_INT32},
        {"<i8", 'i', 8, KP_INT64}, {"|b1", 'b', 1, KP_BOOL},
    };
    int found = 0;
    for (size_t t = 0; t < sizeof types / sizeof *types; t++)
        if (!strcmp(descr, types[t].descr)) {
            n->kind = types[t].kind;
            n->elem = types[t].size;
            n->base.dtype = types[t].dt;
            found = 1;
        }
    if (!found)
        return kp_error_set(err, KP_EUNSUPPORTED,
                            "%s: dtype '%s' not supported (use float32, float64, uint8, int8, "
                            "int32, int64 or bool, little-endian)",
                            what, descr);
    if (!strncmp(fo, "True", 4))
        return kp_error_set(err, KP_EUNSUPPORTED,
                            "%s: Fortran-order array; save it in C order (np.ascontiguousarray)",
                            what);
    if (strncmp(fo, "False", 5))
        return kp_error_set(err, KP_EFORMAT, "%s: bad fortran_order in .npy header", what);
    if (*sh != '(') return kp_error_set(err, KP_EFORMAT, "%s: bad shape in .npy header", what);
    sh++;
    int64_t dims[KP_MAX_RANK + 1];
    int rank = 0;
    for (;;) {
        while (*sh == ' ' || *sh == ',') sh++;
        if (*sh == ')') break;
        if (!isdigit((unsigned char)*sh))
            return kp_error_set(err, KP_EFORMAT, "%s: bad shape in .npy header", what);
        if (rank > KP_MAX_RANK)
            return kp_error_set(err, KP_EUNSUPPORTED, "%s: rank above %d", what, KP_MAX_RANK + 1);
        char *end;
        unsigned long long v = strtoull(sh, &end, 10);
        if (v > (unsigned long long)INT64_MAX)
            return kp_error_set(err, KP_ERANGE, "%s: dimension too large", what);
        dims[rank++] = (int64_t)v;
        sh = end;
    }
    if (rank == 0)
        return kp_error_set(err, KP_EFORMAT,
                            "%s: a scalar array; samples must be stacked along a first dimension",
                            what);
    n->base.n = (size_t)dims[0];
    n->base.rank = rank - 1;
    memcpy(n->base.dims, dims + 1, sizeof(int64_t) * (size_t)(rank - 1));
    int64_t numel;
    if (kp_shape_numel(rank - 1, dims + 1, &numel, err)) return kp_error_wrap(err, "%s: ", what);
    n->base.numel = numel;
    int64_t total;
    if (kp_shape_numel(rank, dims, &total, err)) return kp_error_wrap(err, "%s: ", what);
    if ((uint64_t)total > (UINT64_MAX - n->data_off) / n->elem)
        return kp_error_set(err, KP_ERANGE, "%s: array too large", what);
    uint64_t need = n->data_off + (uint64_t)total * n->elem;
    if (need > n->bs->size)
        return kp_error_set(err, KP_EFORMAT,
                            "%s: truncated: the header promises %llu data bytes, the file has %llu",
                            what, (unsigned long long)((uint64_t)total * n->elem),
                            (unsigned long long)(n->bs->size - n->data_off));
    return 0;
}

int kp_src_npy(kp_bstream *bs, const char *what, kp_src **out, kp_error *err) {
    *out = NULL;
    npy_src *n = calloc(1, sizeof *n);
    if (!n) {
        kp_bstream_close(bs);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    n->bs = bs;
    n->base.read = npy_read;
    n->base.free = npy_free;
    n->base.what = kp_strdup_or_null(what);
    char *h = NULL;
    int rc = 0;
    uint8_t pre[12];
    if (!n->base.what) {
        rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        goto fail;
    }
    if (bs->size < 10 || bs->read_at(bs, 0, pre, 10, err) || memcmp(pre, "\x93NUMPY", 6)) {
        rc = kp_error_set(err, KP_EFORMAT, "%s: not a .npy file (bad magic)", what);
        goto fail;
    }
    uint64_t hlen;
    if (pre[6] == 1) {
        hlen = (uint64_t)pre[8] | (uint64_t)pre[9] << 8;
        n->data_off = 10 + hlen;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (bs->size < 12 || bs->read_at(bs, 10, pre + 10, 2, err)) {
            rc = kp_error_set(err, KP_EFORMAT, "%s: truncated .npy header", what);
            goto fail;
        }
        hlen = (uint64_t)pre[8] | (uint64_t)pre[9] << 8 | (uint64_t)pre[10] << 16 |
               (uint64_t)pre[11] << 24;
        n->data_off = 12 + hlen;
    } else {
        rc = kp_error_set(err, KP_EUNSUPPORTED, "%s: .npy format version %d.%d not supported", what,
                          pre[6], pre[7]);
        goto fail;
    }
    if (hlen > (1u << 20) || n->data_off > bs->size) {
        rc = kp_error_set(err, KP_EFORMAT, "%s: truncated or oversized .npy header", what);
        goto fail;
    }
    h = malloc(hlen + 1);
    if (!h) {
        rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = bs->read_at(bs, n->data_off - hlen, h, hlen, err))) goto fail;
    h[hlen] = 0;
    if (strlen(h) != hlen) {
        rc = kp_error_set(err, KP_EFORMAT, "%s: NUL byte in .npy header", what);
        goto fail;
    }
    if ((rc = parse_header(n, h, err))) goto fail;
    free(h);
    *out = &n->base;
    return 0;
fail:
    free(h);
    npy_free(&n->base);
    return rc;
}

int kp_src_npy_open(const char *path, kp_src **out, kp_error *err) {
    kp_bstream *bs;
    int rc = kp_bstream_file(path, 0, UINT64_MAX, &bs, err);
    if (rc) return rc;
    return kp_src_npy(bs, path, out, err);
}

static int host_little_endian(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

int kp_npy_load(const char *path, kp_tensor **out, kp_error *err) {
    *out = NULL;
    if (!host_little_endian())
        return kp_error_set(err, KP_EUNSUPPORTED, "kp_npy_load needs a little-endian host");
    kp_src *s = NULL;
    int rc = kp_src_npy_open(path, &s, err);
    if (rc) return rc;
    npy_src *n = (npy_src *)s;
    int64_t dims[KP_MAX_RANK];
    if (s->rank + 1 > KP_MAX_RANK) {
        kp_src_free(s);
        return kp_error_set(err, KP_EUNSUPPORTED, "%s: rank above %d", path, KP_MAX_RANK);
    }
    dims[0] = (int64_t)s->n;
    memcpy(dims + 1, s->dims, sizeof(int64_t) * (size_t)s->rank);
    kp_tensor *t = kp_tensor_new(s->dtype, s->rank + 1, dims, err);
    if (!t) {
        kp_src_free(s);
        return err ? err->code : KP_ENOMEM;
    }
    if (t->nbytes) rc = n->bs->read_at(n->bs, n->data_off, t->data, t->nbytes, err);
    kp_src_free(s);
    if (rc) {
        kp_tensor_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

static const char *npy_descr(kp_dtype t) {
    switch (t) {
    case KP_FLOAT: return "<f4";
    case KP_DOUBLE: return "<f8";
    case KP_UINT8: return "|u1";
    case KP_INT8: return "|i1";
    case KP_INT32: return "<i4";
    case KP_INT64: return "<i8";
    case KP_BOOL: return "|b1";
    default: return NULL;
    }
}

size_t kp_npy_header(kp_dtype dt, int rank, const int64_t *dims, uint8_t *buf, size_t cap) {
    const char *descr = npy_descr(dt);
    if (!descr || rank < 0 || rank > KP_MAX_RANK || cap < 512) return 0;
    char h[400];
    int len = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < rank; i++)
        len += snprintf(h + len, sizeof h - (size_t)len, "%lld,%s", (long long)dims[i],
                        i + 1 < rank ? " " : "");
    len += snprintf(h + len, sizeof h - (size_t)len, "), }");
    size_t pad = (64 - (10 + (size_t)len + 1) % 64) % 64;
    size_t hl = (size_t)len + pad + 1;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (uint8_t)(hl & 0xff);
    buf[9] = (uint8_t)(hl >> 8);
    memcpy(buf + 10, h, (size_t)len);
    memset(buf + 10 + len, ' ', pad);
    buf[10 + hl - 1] = '\n';
    return 10 + hl;
}

int kp_npy_save(const kp_tensor *t, const char *path, kp_error *err) {
    if (!npy_descr(t->dtype))
        return kp_error_set(err, KP_EUNSUPPORTED, "%s: cannot save %s as .npy", path,
                            kp_dtype_name(t->dtype));
    if (!host_little_endian())
        return kp_error_set(err, KP_EUNSUPPORTED, "kp_npy_save needs a little-endian host");
    uint8_t *buf = malloc(512 + t->nbytes);
    if (!buf) return kp_error_set(err, KP_ENOMEM, "out of memory");
    size_t hl = kp_npy_header(t->dtype, t->rank, t->dims, buf, 512);
    if (t->nbytes) memcpy(buf + hl, t->data, t->nbytes);
    int rc = kp_write_file_atomic(path, buf, hl + t->nbytes, err);
    free(buf);
    return rc;
}
