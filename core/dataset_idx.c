/* IDX files (MNIST / Fashion-MNIST), gzipped or not, through zlib's gzread. Big-endian values
 * of type uint8, int8, int16, int32, float32, float64. */
#include <stdlib.h>
#include <string.h>

#include "core/dataset_src.h"

typedef struct idx_src {
    kp_src base;
    kp_bstream *bs;
    uint64_t data_off;
    size_t elem;
    int code;
    uint8_t *buf;
    size_t cap;
} idx_src;

static void idx_free(kp_src *s) {
    idx_src *x = (idx_src *)s;
    kp_bstream_close(x->bs);
    free(x->buf);
    free(s->what);
    free(x);
}

static double idx_elem(int code, const uint8_t *p) {
    uint64_t u = 0;
    switch (code) {
    case 0x08: return p[0];
    case 0x09: return (int8_t)p[0];
    case 0x0B: return (int16_t)(uint16_t)(p[0] << 8 | p[1]);
    case 0x0C:
        return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
    case 0x0D: {
        uint32_t w = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        float f;
        memcpy(&f, &w, 4);
        return f;
    }
    default:
        for (int b = 0; b < 8; b++) u = u << 8 | p[b];
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
}

static int idx_read(kp_src *s, size_t start, size_t count, double *dst, kp_error *err) {
    idx_src *x = (idx_src *)s;
    if (start > s->n || count > s->n - start)
        return kp_error_set(err, KP_ERANGE, "%s: samples %zu..%zu past the end (%zu)", s->what,
                            start, start + count, s->n);
    size_t bytes = count * (size_t)s->numel * x->elem;
    if (bytes > x->cap) {
        uint8_t *nb = realloc(x->buf, bytes ? bytes : 1);
        if (!nb) return kp_error_set(err, KP_ENOMEM, "out of memory reading %s", s->what);
        x->buf = nb;
        x->cap = bytes;
    }
    int rc = x->bs->read_at(x->bs, x->data_off + (uint64_t)start * (uint64_t)s->numel * x->elem,
                            x->buf, bytes, err);
    if (rc) return rc;
    size_t vals = count * (size_t)s->numel;
    for (size_t i = 0; i < vals; i++) dst[i] = idx_elem(x->code, x->buf + i * x->elem);
    return 0;
}

int kp_src_idx_open(const char *path, kp_src **out, kp_error *err) {
    *out = NULL;
    kp_bstream *bs;
    int rc = kp_bstream_gzip(path, &bs, err);
    if (rc) return rc;
    idx_src *x = calloc(1, sizeof *x);
    if (!x || !(x->base.what = kp_strdup_or_null(path))) {
        free(x);
        kp_bstream_close(bs);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    x->bs = bs;
    x->base.read = idx_read;
    x->base.free = idx_free;
    uint8_t h[4 + 4 * 9];
    if (bs->size < 4 || (rc = bs->read_at(bs, 0, h, 4, err)) || h[0] || h[1]) {
        rc = kp_error_set(err, KP_EFORMAT, "%s: not an IDX file (bad magic)", path);
        goto fail;
    }
    static const struct {
        int code;
        size_t size;
        kp_dtype dt;
    } types[] = {{0x08, 1, KP_UINT8}, {0x09, 1, KP_INT8},  {0x0B, 2, KP_INT16},
                 {0x0C, 4, KP_INT32}, {0x0D, 4, KP_FLOAT}, {0x0E, 8, KP_DOUBLE}};
    for (size_t t = 0; t < sizeof types / sizeof *types; t++)
        if (types[t].code == h[2]) {
            x->code = h[2];
            x->elem = types[t].size;
            x->base.dtype = types[t].dt;
        }
    if (!x->elem) {
        rc = kp_error_set(err, KP_EFORMAT, "%s: unknown IDX type code 0x%02x", path, h[2]);
        goto fail;
    }
    int nd = h[3];
    if (nd < 1 || nd > KP_MAX_RANK + 1) {
        rc = kp_error_set(err, KP_EFORMAT, "%s: IDX rank %d not in 1..%d", path, nd,
                          KP_MAX_RANK + 1);
        goto fail;
    }
    if (bs->size < 4 + 4 * (uint64_t)nd || (rc = bs->read_at(bs, 4, h + 4, 4 * (size_t)nd, err))) {
        rc = kp_error_set(err, KP_EFORMAT, "%s: truncated IDX header", path);
        goto fail;
    }
    int64_t dims[KP_MAX_RANK + 1];
    for (int i = 0; i < nd; i++) {
        const uint8_t *p = h + 4 + 4 * i;
        dims[i] =
            (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
    }
    x->data_off = 4 + 4 * (uint64_t)nd;
    x->base.n = (size_t)dims[0];
    x->base.rank = nd - 1;
    memcpy(x->base.dims, dims + 1, sizeof(int64_t) * (size_t)(nd - 1));
    int64_t total;
    if ((rc = kp_shape_numel(nd - 1, dims + 1, &x->base.numel, err)) ||
        (rc = kp_shape_numel(nd, dims, &total, err))) {
        kp_error_wrap(err, "%s: ", path);
        goto fail;
    }
    uint64_t need = (uint64_t)total * x->elem;
    if (need > bs->size - x->data_off) {
        rc = kp_error_set(err, KP_EFORMAT,
                          "%s: truncated: the header promises %lld samples (%llu bytes), the "
                          "file holds %llu bytes",
                          path, (long long)dims[0], (unsigned long long)need,
                          (unsigned long long)(bs->size - x->data_off));
        goto fail;
    }
    *out = &x->base;
    return 0;
fail:
    idx_free(&x->base);
    return rc;
}
