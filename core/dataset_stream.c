/* Byte streams for the data loaders: plain file ranges, gzip files, raw-deflate zip entries. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "core/dataset_src.h"

char *kp_strdup_or_null(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int kp_has_suffix(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcasecmp(s + a - b, suffix);
}

void kp_bstream_close(kp_bstream *s) {
    if (s) s->close(s);
}

/* ---- plain file range ------------------------------------------------------------------ */

typedef struct file_stream {
    kp_bstream base;
    FILE *f;
    uint64_t off;
    char *path;
} file_stream;

static int file_read_at(kp_bstream *s, uint64_t pos, void *buf, size_t len, kp_error *err) {
    file_stream *fs = (file_stream *)s;
    if (pos > s->size || len > s->size - pos)
        return kp_error_set(err, KP_EFORMAT, "%s: truncated: needs %llu bytes, has %llu", fs->path,
                            (unsigned long long)(pos + len), (unsigned long long)s->size);
    if (fseeko(fs->f, (off_t)(fs->off + pos), SEEK_SET) != 0 || fread(buf, 1, len, fs->f) != len)
        return kp_error_set(err, KP_EIO, "%s: read failed at byte %llu", fs->path,
                            (unsigned long long)(fs->off + pos));
    return 0;
}

static void file_close(kp_bstream *s) {
    file_stream *fs = (file_stream *)s;
    if (fs->f) fclose(fs->f);
    free(fs->path);
    free(fs);
}

int kp_bstream_file(const char *path, uint64_t base, uint64_t len, kp_bstream **out,
                    kp_error *err) {
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0) return kp_error_set(err, KP_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return kp_error_set(err, KP_EIO, "%s: not a regular file", path);
    uint64_t fsize = (uint64_t)st.st_size;
    if (base > fsize) return kp_error_set(err, KP_EFORMAT, "%s: offset past the end", path);
    if (len == UINT64_MAX) len = fsize - base;
    if (len > fsize - base)
        return kp_error_set(err, KP_EFORMAT, "%s: truncated: range ends past the file's end", path);
    file_stream *fs = calloc(1, sizeof *fs);
    if (!fs) return kp_error_set(err, KP_ENOMEM, "out of memory");
    fs->path = kp_strdup_or_null(path);
    fs->f = fopen(path, "rb");
    if (!fs->f || !fs->path) {
        int e = fs->f ? KP_ENOMEM : KP_EIO;
        kp_error_set(err, e, "%s: %s", path, fs->f ? "out of memory" : strerror(errno));
        file_close(&fs->base);
        return e;
    }
    fs->off = base;
    fs->base.size = len;
    fs->base.read_at = file_read_at;
    fs->base.close = file_close;
    *out = &fs->base;
    return 0;
}

/* ---- gzip -------------------------------------------------------------------------------- */

typedef struct gz_stream {
    kp_bstream base;
    gzFile g;
    char *path;
} gz_stream;

static int gz_read_at(kp_bstream *s, uint64_t pos, void *buf, size_t len, kp_error *err) {
    gz_stream *gs = (gz_stream *)s;
    if (pos > s->size || len > s->size - pos)
        return kp_error_set(err, KP_EFORMAT, "%s: truncated: needs %llu bytes, has %llu", gs->path,
                            (unsigned long long)(pos + len), (unsigned long long)s->size);
    /* gzseek goes forward by decompressing, backward by restarting: fine for batches. */
    if (gzseek(gs->g, (z_off_t)pos, SEEK_SET) < 0)
        return kp_error_set(err, KP_EIO, "%s: cannot seek to %llu", gs->path,
                            (unsigned long long)pos);
    uint8_t *p = buf;
    while (len) {
        unsigned chunk = len > (1u << 30) ? (1u << 30) : (unsigned)len;
        int got = gzread(gs->g, p, chunk);
        if (got <= 0) {
            int zerr = 0;
            const char *m = gzerror(gs->g, &zerr);
            return kp_error_set(err, KP_EFORMAT, "%s: truncated or corrupt gzip data (%s)",
                                gs->path, zerr ? m : "unexpected end");
        }
        p += got;
        len -= (size_t)got;
    }
    return 0;
}

static void gz_close(kp_bstream *s) {
    gz_stream *gs = (gz_stream *)s;
    if (gs->g) gzclose(gs->g);
    free(gs->path);
    free(gs);
}

int kp_bstream_gzip(const char *path, kp_bstream **out, kp_error *err) {
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0) return kp_error_set(err, KP_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return kp_error_set(err, KP_EIO, "%s: not a regular file", path);
    gz_stream *gs = calloc(1, sizeof *gs);
    if (!gs) return kp_error_set(err, KP_ENOMEM, "out of memory");
    gs->base.read_at = gz_read_at;
    gs->base.close = gz_close;
    gs->path = kp_strdup_or_null(path);
    gs->g = gzopen(path, "rb");
    if (!gs->g || !gs->path) {
        gz_close(&gs->base);
        return kp_error_set(err, KP_EIO, "%s: cannot open", path);
    }
    gzbuffer(gs->g, 1 << 17);
    /* One pass to learn the decompressed size (and find corrupt data now, not mid-run). */
    uint8_t tmp[1 << 15];
    uint64_t total = 0;
    for (;;) {
        int got = gzread(gs->g, tmp, sizeof tmp);
        if (got < 0) {
            int zerr = 0;
            const char *m = gzerror(gs->g, &zerr);
            kp_error_set(err, KP_EFORMAT, "%s: corrupt gzip data (%s)", path, m);
            gz_close(&gs->base);
            return KP_EFORMAT;
        }
        if (got == 0) break;
        total += (uint64_t)got;
    }
    int zerr = 0;
    gzerror(gs->g, &zerr);
    if (zerr != Z_OK && zerr != Z_BUF_ERROR) {
        gz_close(&gs->base);
        return kp_error_set(err, KP_EFORMAT, "%s: corrupt gzip data", path);
    }
    if (zerr == Z_BUF_ERROR) {
        gz_close(&gs->base);
        return kp_error_set(err, KP_EFORMAT, "%s: truncated gzip file (ends mid-stream)", path);
    }
    gs->base.size = total;
    *out = &gs->base;
    return 0;
}

/* ---- raw deflate (zip entries) ----------------------------------------------------------- */

typedef struct deflate_stream {
    kp_bstream base;
    FILE *f;
    char *path;
    uint64_t cbase, clen; /* compressed range in the file */
    uint64_t cpos;        /* compressed bytes consumed */
    uint64_t upos;        /* uncompressed position of the next inflated byte */
    z_stream z;
    int zinit, ended;
    uint8_t in[1 << 15];
} deflate_stream;

static int deflate_restart(deflate_stream *d, kp_error *err) {
    if (d->zinit) inflateEnd(&d->z);
    memset(&d->z, 0, sizeof d->z);
    d->zinit = 0;
    if (inflateInit2(&d->z, -15) != Z_OK)
        return kp_error_set(err, KP_ENOMEM, "%s: cannot start inflate", d->path);
    d->zinit = 1;
    d->cpos = d->upos = 0;
    d->ended = 0;
    return 0;
}

/* Inflates len bytes into buf (NULL = discard). */
static int deflate_pull(deflate_stream *d, uint8_t *buf, size_t len, kp_error *err) {
    uint8_t scratch[1 << 14];
    while (len) {
        size_t want = len;
        uint8_t *dst = buf;
        if (!buf) {
            dst = scratch;
            if (want > sizeof scratch) want = sizeof scratch;
        }
        if (want > (1u << 30)) want = 1u << 30;
        d->z.next_out = dst;
        d->z.avail_out = (uInt)want;
        while (d->z.avail_out) {
            if (d->ended)
                return kp_error_set(err, KP_EFORMAT, "%s: compressed entry ends early", d->path);
            if (!d->z.avail_in && d->cpos < d->clen) {
                size_t n = sizeof d->in;
                if (n > d->clen - d->cpos) n = (size_t)(d->clen - d->cpos);
                if (fseeko(d->f, (off_t)(d->cbase + d->cpos), SEEK_SET) != 0 ||
                    fread(d->in, 1, n, d->f) != n)
                    return kp_error_set(err, KP_EFORMAT, "%s: truncated compressed data", d->path);
                d->cpos += n;
                d->z.next_in = d->in;
                d->z.avail_in = (uInt)n;
            }
            uInt before = d->z.avail_out;
            int r = inflate(&d->z, Z_NO_FLUSH);
            if (r == Z_STREAM_END)
                d->ended = 1;
            else if (r == Z_BUF_ERROR && !d->z.avail_in && d->cpos >= d->clen)
                return kp_error_set(err, KP_EFORMAT, "%s: truncated compressed data", d->path);
            else if (r != Z_OK && r != Z_BUF_ERROR)
                return kp_error_set(err, KP_EFORMAT, "%s: corrupt compressed data (%s)", d->path,
                                    d->z.msg ? d->z.msg : "inflate failed");
            d->upos += before - d->z.avail_out;
        }
        if (buf) buf += want;
        len -= want;
    }
    return 0;
}

static int deflate_read_at(kp_bstream *s, uint64_t pos, void *buf, size_t len, kp_error *err) {
    deflate_stream *d = (deflate_stream *)s;
    if (pos > s->size || len > s->size - pos)
        return kp_error_set(err, KP_EFORMAT, "%s: truncated: needs %llu bytes, has %llu", d->path,
                            (unsigned long long)(pos + len), (unsigned long long)s->size);
    int rc;
    if (pos < d->upos && (rc = deflate_restart(d, err)) != 0) return rc;
    while (d->upos < pos) {
        uint64_t skip = pos - d->upos;
        if ((rc = deflate_pull(d, NULL, skip > (1u << 20) ? (1u << 20) : (size_t)skip, err)))
            return rc;
    }
    return deflate_pull(d, buf, len, err);
}

static void deflate_close(kp_bstream *s) {
    deflate_stream *d = (deflate_stream *)s;
    if (d->zinit) inflateEnd(&d->z);
    if (d->f) fclose(d->f);
    free(d->path);
    free(d);
}

int kp_bstream_deflate(const char *path, uint64_t base, uint64_t clen, uint64_t size,
                       kp_bstream **out, kp_error *err) {
    *out = NULL;
    deflate_stream *d = calloc(1, sizeof *d);
    if (!d) return kp_error_set(err, KP_ENOMEM, "out of memory");
    d->base.read_at = deflate_read_at;
    d->base.close = deflate_close;
    d->base.size = size;
    d->cbase = base;
    d->clen = clen;
    d->path = kp_strdup_or_null(path);
    d->f = fopen(path, "rb");
    int rc = 0;
    if (!d->f || !d->path)
        rc = kp_error_set(err, KP_EIO, "%s: %s", path, d->f ? "out of memory" : strerror(errno));
    else
        rc = deflate_restart(d, err);
    if (rc) {
        deflate_close(&d->base);
        return rc;
    }
    *out = &d->base;
    return 0;
}
