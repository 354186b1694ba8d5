/* .npz archives (zip of .npy files, stored or deflated, zip64 as numpy writes it). Only the
 * central directory is kept in memory; entries stream through kp_bstream. */
#include <stdlib.h>
#include <string.h>

#include "core/dataset_src.h"

typedef struct npz_entry {
    char *name; /* without ".npy" */
    int method; /* 0 stored, 8 deflate */
    uint64_t csize, usize, local;
} npz_entry;

struct kp_npz {
    char *path;
    uint64_t fsize;
    size_t n;
    npz_entry *e;
};

static uint16_t le16(const uint8_t *p) {
    return (uint16_t)(p[0] | p[1] << 8);
}
static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) {
    return le32(p) | (uint64_t)le32(p + 4) << 32;
}

void kp_npz_free(kp_npz *z) {
    if (!z) return;
    for (size_t i = 0; i < z->n; i++) free(z->e[i].name);
    free(z->e);
    free(z->path);
    free(z);
}

size_t kp_npz_count(const kp_npz *z) {
    return z->n;
}
const char *kp_npz_name(const kp_npz *z, size_t i) {
    return i < z->n ? z->e[i].name : NULL;
}

static int bad(const char *path, kp_error *err, const char *why) {
    return kp_error_set(err, KP_EFORMAT, "%s: not a valid .npz (zip) file: %s", path, why);
}

/* Applies a zip64 extra field to the entry's 0xFFFFFFFF fields. */
static int zip64_extra(const uint8_t *x, size_t len, npz_entry *e, int need_u, int need_c,
                       int need_o) {
    size_t p = 0;
    while (p + 4 <= len) {
        uint16_t id = le16(x + p), sz = le16(x + p + 2);
        if (p + 4 + sz > len) return -1;
        if (id == 1) {
            size_t q = p + 4, end = p + 4 + sz;
            if (need_u) {
                if (q + 8 > end) return -1;
                e->usize = le64(x + q);
                q += 8;
            }
            if (need_c) {
                if (q + 8 > end) return -1;
                e->csize = le64(x + q);
                q += 8;
            }
            if (need_o) {
                if (q + 8 > end) return -1;
                e->local = le64(x + q);
            }
            return 0;
        }
        p += 4 + (size_t)sz;
    }
    return (need_u || need_c || need_o) ? -1 : 0;
}

int kp_npz_open(const char *path, kp_npz **out, kp_error *err) {
    *out = NULL;
    kp_bstream *bs = NULL;
    int rc = kp_bstream_file(path, 0, UINT64_MAX, &bs, err);
    if (rc) return rc;
    kp_npz *z = calloc(1, sizeof *z);
    uint8_t *tail = NULL, *cd = NULL;
    if (!z || !(z->path = kp_strdup_or_null(path))) {
        rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        goto done;
    }
    z->fsize = bs->size;
    if (bs->size < 22) {
        rc = bad(path, err, "too short");
        goto done;
    }
    size_t tl = bs->size < 22 + 65535 + 20 ? (size_t)bs->size : 22 + 65535 + 20;
    tail = malloc(tl);
    if (!tail) {
        rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = bs->read_at(bs, bs->size - tl, tail, tl, err))) goto done;
    ssize_t eocd = -1;
    for (ssize_t i = (ssize_t)tl - 22; i >= 0; i--)
        if (le32(tail + i) == 0x06054b50 && (size_t)i + 22 + le16(tail + i + 20) == tl) {
            eocd = i;
            break;
        }
    if (eocd < 0) {
        rc = bad(path, err, "no end-of-central-directory record (truncated?)");
        goto done;
    }
    uint64_t n = le16(tail + eocd + 10), cdsize = le32(tail + eocd + 12),
             cdoff = le32(tail + eocd + 16);
    if (n == 0xFFFF || cdsize == 0xFFFFFFFF || cdoff == 0xFFFFFFFF) {
        uint8_t z64[56];
        if (eocd < 20 || le32(tail + eocd - 20) != 0x07064b50) {
            rc = bad(path, err, "zip64 locator missing");
            goto done;
        }
        uint64_t z64off = le64(tail + eocd - 20 + 8);
        if (z64off > bs->size - 56 || (rc = bs->read_at(bs, z64off, z64, 56, err)) ||
            le32(z64) != 0x06064b50) {
            rc = bad(path, err, "bad zip64 end record");
            goto done;
        }
        n = le64(z64 + 32);
        cdsize = le64(z64 + 40);
        cdoff = le64(z64 + 48);
    }
    if (cdoff > bs->size || cdsize > bs->size - cdoff || cdsize > (64u << 20) || n > cdsize / 46) {
        rc = bad(path, err, "central directory out of range");
        goto done;
    }
    cd = malloc(cdsize ? cdsize : 1);
    z->e = calloc(n ? n : 1, sizeof *z->e);
    if (!cd || !z->e) {
        rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = bs->read_at(bs, cdoff, cd, cdsize, err))) goto done;
    size_t p = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (p + 46 > cdsize || le32(cd + p) != 0x02014b50) {
            rc = bad(path, err, "corrupt central directory entry");
            goto done;
        }
        npz_entry *e = &z->e[z->n];
        uint16_t flags = le16(cd + p + 8);
        e->method = le16(cd + p + 10);
        e->csize = le32(cd + p + 20);
        e->usize = le32(cd + p + 24);
        size_t nl = le16(cd + p + 28), xl = le16(cd + p + 30), cl = le16(cd + p + 32);
        e->local = le32(cd + p + 42);
        if (p + 46 + nl + xl + cl > cdsize) {
            rc = bad(path, err, "central directory entry runs past its end");
            goto done;
        }
        if (zip64_extra(cd + p + 46 + nl, xl, e, e->usize == 0xFFFFFFFF, e->csize == 0xFFFFFFFF,
                        e->local == 0xFFFFFFFF)) {
            rc = bad(path, err, "bad zip64 extra field");
            goto done;
        }
        if (flags & 1) {
            rc =
                kp_error_set(err, KP_EUNSUPPORTED, "%s: encrypted entries are not supported", path);
            goto done;
        }
        e->name = malloc(nl + 1);
        if (!e->name) {
            rc = kp_error_set(err, KP_ENOMEM, "out of memory");
            goto done;
        }
        memcpy(e->name, cd + p + 46, nl);
        e->name[nl] = 0;
        z->n++;
        if (strlen(e->name) != nl) {
            rc = bad(path, err, "NUL in entry name");
            goto done;
        }
        if (kp_has_suffix(e->name, ".npy")) e->name[nl - 4] = 0;
        p += 46 + nl + xl + cl;
    }
done:
    free(tail);
    free(cd);
    kp_bstream_close(bs);
    if (rc) {
        kp_npz_free(z);
        return rc;
    }
    *out = z;
    return 0;
}

int kp_npz_src(const kp_npz *z, size_t i, kp_src **out, kp_error *err) {
    *out = NULL;
    if (i >= z->n) return kp_error_set(err, KP_ERANGE, "%s: no entry %zu", z->path, i);
    const npz_entry *e = &z->e[i];
    char what[1024];
    snprintf(what, sizeof what, "%s:%s", z->path, e->name);
    kp_bstream *bs = NULL;
    uint8_t lh[30];
    int rc = kp_bstream_file(z->path, 0, UINT64_MAX, &bs, err);
    if (rc) return rc;
    if (e->local > bs->size - 30 || bs->size < 30 || bs->read_at(bs, e->local, lh, 30, err) ||
        le32(lh) != 0x04034b50) {
        kp_bstream_close(bs);
        return bad(what, err, "bad local header");
    }
    kp_bstream_close(bs);
    uint64_t data = e->local + 30 + le16(lh + 26) + le16(lh + 28);
    if (data > z->fsize || e->csize > z->fsize - data)
        return kp_error_set(err, KP_EFORMAT, "%s: truncated: entry data runs past the file's end",
                            what);
    if (e->method == 0) {
        if (e->csize != e->usize) return bad(what, err, "stored entry with two sizes");
        rc = kp_bstream_file(z->path, data, e->usize, &bs, err);
    } else if (e->method == 8) {
        rc = kp_bstream_deflate(z->path, data, e->csize, e->usize, &bs, err);
    } else {
        return kp_error_set(err, KP_EUNSUPPORTED,
                            "%s: zip compression method %d not supported (stored or deflate)", what,
                            e->method);
    }
    if (rc) return rc;
    return kp_src_npy(bs, what, out, err);
}
