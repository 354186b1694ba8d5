/* File-level ONNX I/O: reading whole files with limits, atomic writes, external-data files
 * confined to the model's folder, and the path-based load entry points. The protobuf work is in
 * onnx_load.c and onnx_save.c. */
#include "core/onnx_io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/onnx_priv.h"

#define KP_DEFAULT_MAX_FILE ((size_t)4 << 30)

static int io_errno(kp_error *err, int e, const char *what, const char *path) {
    if (e == ENOENT) return kp_error_set(err, KP_ENOTFOUND, "%s '%s': no such file", what, path);
    return kp_error_set(err, KP_EIO, "%s '%s': %s", what, path, strerror(e));
}

int kp_read_file(const char *path, size_t max_bytes, uint8_t **buf, size_t *len, kp_error *err) {
    if (!path || !buf || !len) return kp_error_set(err, KP_EINVAL, "kp_read_file: NULL argument");
    *buf = NULL;
    *len = 0;
    /* O_NONBLOCK: opening a FIFO must not hang; it is refused below as not a regular file. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return io_errno(err, errno, "cannot open", path);
    struct stat st;
    int rc = 0;
    uint8_t *b = NULL;
    if (fstat(fd, &st) != 0) {
        rc = io_errno(err, errno, "cannot read", path);
        goto out;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = kp_error_set(err, KP_EIO, "'%s' is a folder, not a file", path);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = kp_error_set(err, KP_EIO, "'%s' is not a regular file", path);
        goto out;
    }
    if ((uint64_t)st.st_size > (uint64_t)max_bytes) {
        rc = kp_error_set(err, KP_ERANGE, "'%s' is %lld bytes, more than the limit of %zu", path,
                          (long long)st.st_size, max_bytes);
        goto out;
    }
    size_t n = (size_t)st.st_size;
    b = malloc(n ? n : 1);
    if (!b) {
        rc = kp_error_set(err, KP_ENOMEM, "out of memory reading '%s' (%zu bytes)", path, n);
        goto out;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, b + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = io_errno(err, errno, "cannot read", path);
            goto out;
        }
        if (r == 0) {
            rc = kp_error_set(err, KP_EIO, "'%s' shrank while being read", path);
            goto out;
        }
        got += (size_t)r;
    }
    *buf = b;
    *len = n;
    b = NULL;
out:
    free(b);
    close(fd);
    return rc;
}

int kp_write_all(int fd, const void *buf, size_t n, const char *path, kp_error *err) {
    const uint8_t *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return io_errno(err, errno, "cannot write", path);
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Folder part of path ("." when none); returns owned string or NULL. */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

int kp_write_atomic_fn(const char *path, kp_write_fn fn, void *ctx, kp_error *err) {
    if (!path || !*path) return kp_error_set(err, KP_EINVAL, "no output path given");
    size_t n = strlen(path);
    char *tmp = malloc(n + 16);
    char *dir = dir_of(path);
    int fd = -1, rc = 0;
    if (!tmp || !dir) {
        rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(tmp, n + 16, "%s.tmp-XXXXXX", path);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        rc = io_errno(err, errno, "cannot create a file in the folder of", path);
        goto out;
    }
    if (fchmod(fd, 0644) != 0) {
        rc = io_errno(err, errno, "cannot set permissions of", tmp);
        goto fail;
    }
    if ((rc = fn(fd, ctx, err))) goto fail;
    if (fsync(fd) != 0) {
        rc = io_errno(err, errno, "cannot flush", tmp);
        goto fail;
    }
    int cfd = fd;
    fd = -1;
    if (close(cfd) != 0) {
        rc = io_errno(err, errno, "cannot write", tmp);
        goto fail;
    }
    if (rename(tmp, path) != 0) {
        rc = io_errno(err, errno, "cannot replace", path);
        goto fail;
    }
    /* Make the rename itself durable. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0 && errno != EINVAL)
            rc = io_errno(err, errno, "cannot flush folder of", path);
        close(dfd);
    }
    goto out;
fail:
    if (fd >= 0) close(fd);
    fd = -1;
    unlink(tmp);
out:
    if (fd >= 0) close(fd);
    free(tmp);
    free(dir);
    return rc;
}

typedef struct mem_job {
    const void *buf;
    size_t len;
    const char *path;
} mem_job;

static int write_mem(int fd, void *ctx, kp_error *err) {
    mem_job *j = ctx;
    return kp_write_all(fd, j->buf, j->len, j->path, err);
}

int kp_write_file_atomic(const char *path, const void *buf, size_t len, kp_error *err) {
    if (!buf && len) return kp_error_set(err, KP_EINVAL, "kp_write_file_atomic: no data");
    mem_job j = {.buf = buf, .len = len, .path = path};
    return kp_write_atomic_fn(path, write_mem, &j, err);
}

/* ---- external data ------------------------------------------------------------------------ */

static int has_dotdot(const char *p) {
    const char *s = p;
    while (*s) {
        size_t n = strcspn(s, "/\\");
        if (n == 2 && s[0] == '.' && s[1] == '.') return 1;
        s += n;
        if (*s) s++;
    }
    return 0;
}

int kp_ext_open(const char *dir, const char *location, const char *tensor, int *fd, uint64_t *size,
                kp_error *err) {
    *fd = -1;
    *size = 0;
    if (!dir)
        return kp_error_set(err, KP_EUNSUPPORTED,
                            "tensor '%s' keeps its data in an external file, but the model was "
                            "not loaded from a file, so there is no folder to read it from",
                            tensor);
    if (!location || !*location)
        return kp_error_set(err, KP_EFORMAT, "tensor '%s' has external data without a location",
                            tensor);
    if (location[0] == '/' || location[0] == '\\')
        return kp_error_set(err, KP_EFORMAT,
                            "tensor '%s': external data path '%s' is absolute; refused (it must "
                            "be relative to the model's folder)",
                            tensor, location);
    if (has_dotdot(location))
        return kp_error_set(err, KP_EFORMAT,
                            "tensor '%s': external data path '%s' contains '..'; refused (it "
                            "must stay inside the model's folder)",
                            tensor, location);
    char full[PATH_MAX], rdir[PATH_MAX], rfile[PATH_MAX];
    int n = snprintf(full, sizeof full, "%s/%s", dir, location);
    if (n < 0 || (size_t)n >= sizeof full)
        return kp_error_set(err, KP_EFORMAT, "tensor '%s': external data path is too long", tensor);
    if (!realpath(dir, rdir)) return io_errno(err, errno, "cannot resolve model folder", dir);
    if (!realpath(full, rfile)) {
        int e = errno;
        if (e == ENOENT)
            return kp_error_set(err, KP_ENOTFOUND,
                                "tensor '%s': external data file '%s' not found next to the model",
                                tensor, location);
        return io_errno(err, e, "cannot open external data file", full);
    }
    size_t dl = strlen(rdir);
    int inside = !strcmp(rdir, "/") ? 1 : !strncmp(rfile, rdir, dl) && rfile[dl] == '/';
    if (!inside)
        return kp_error_set(err, KP_EFORMAT,
                            "tensor '%s': external data '%s' resolves to '%s', outside the "
                            "model's folder '%s'; refused (a symbolic link leaves the folder)",
                            tensor, location, rfile, rdir);
    int f = open(rfile, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (f < 0) return io_errno(err, errno, "cannot open external data file", rfile);
    struct stat st;
    if (fstat(f, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(f);
        return kp_error_set(err, KP_EFORMAT,
                            "tensor '%s': external data '%s' is not a regular file", tensor,
                            location);
    }
    *fd = f;
    *size = (uint64_t)st.st_size;
    return 0;
}

int kp_ext_pread(int fd, void *dst, size_t n, uint64_t off, const char *tensor, kp_error *err) {
    uint8_t *p = dst;
    while (n) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0)
            return kp_error_set(err, KP_EIO, "tensor '%s': reading external data failed: %s",
                                tensor, strerror(errno));
        if (r == 0)
            return kp_error_set(err, KP_EIO, "tensor '%s': external data file ended early", tensor);
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* ---- path-based loading ------------------------------------------------------------------- */

int kp_onnx_load(const char *path, const kp_load_opts *opts, kp_model **out, kp_error *err) {
    if (!out) return kp_error_set(err, KP_EINVAL, "kp_onnx_load: out is NULL");
    *out = NULL;
    if (!path || !*path) return kp_error_set(err, KP_EINVAL, "no model path given");
    size_t max = opts && opts->max_file_bytes ? opts->max_file_bytes : KP_DEFAULT_MAX_FILE;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (opts && opts->cancel && *opts->cancel)
        return kp_error_set(err, KP_ECANCELLED, "loading %s was cancelled", path);
    int rc = kp_read_file(path, max, &buf, &len, err);
    if (rc) return rc;
    struct stat st;
    /* Absolute when possible, so the model's folder stays right if the working folder changes. */
    char *rel = dir_of(path), *dir = rel ? realpath(rel, NULL) : NULL;
    if (dir)
        free(rel);
    else
        dir = rel;
    if (!dir) {
        free(buf);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    rc = kp_onnx_load_owned(buf, len, buf, dir, opts ? opts->cancel : NULL, out, err);
    free(dir);
    if (rc) return kp_error_wrap(err, "%s: ", path);
    if (stat(path, &st) == 0) {
        (*out)->src_dev = (uint64_t)st.st_dev;
        (*out)->src_ino = (uint64_t)st.st_ino;
    }
    return 0;
}

int kp_onnx_load_tensor(const char *path, kp_tensor **out, kp_error *err) {
    if (!out) return kp_error_set(err, KP_EINVAL, "kp_onnx_load_tensor: out is NULL");
    *out = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = kp_read_file(path, KP_DEFAULT_MAX_FILE, &buf, &len, err);
    if (rc) return rc;
    rc = kp_onnx_load_tensor_buffer(buf, len, out, err);
    free(buf);
    if (rc) kp_error_wrap(err, "%s: ", path);
    return rc;
}
