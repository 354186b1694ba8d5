/* ONNX backend-test style data: test_data_set_N/ folders of serialized TensorProtos. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/dataset_src.h"
#include "core/onnx_io.h"

struct kp_pbset {
    size_t n;
    char **dirs; /* full paths, sorted by N */
};

void kp_tensorv_free(kp_tensor **v, size_t n) {
    if (!v) return;
    for (size_t i = 0; i < n; i++) kp_tensor_free(v[i]);
    free(v);
}

void kp_pbset_free(kp_pbset *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) free(p->dirs[i]);
    free(p->dirs);
    free(p);
}

size_t kp_pbset_count(const kp_pbset *p) {
    return p->n;
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

typedef struct numbered {
    long num;
    char *path;
} numbered;

static int cmp_numbered(const void *a, const void *b) {
    long x = ((const numbered *)a)->num, y = ((const numbered *)b)->num;
    return (x > y) - (x < y);
}

int kp_pbset_open(const char *path, kp_pbset **out, kp_error *err) {
    *out = NULL;
    kp_pbset *p = calloc(1, sizeof *p);
    if (!p) return kp_error_set(err, KP_ENOMEM, "out of memory");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/input_0.pb", path);
    if (is_file(buf)) {
        p->dirs = malloc(sizeof *p->dirs);
        if (!p->dirs || !(p->dirs[0] = kp_strdup_or_null(path))) {
            kp_pbset_free(p);
            return kp_error_set(err, KP_ENOMEM, "out of memory");
        }
        p->n = 1;
        *out = p;
        return 0;
    }
    DIR *d = opendir(path);
    if (!d) {
        kp_pbset_free(p);
        return kp_error_set(err, KP_EIO, "%s: %s", path, strerror(errno));
    }
    numbered *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *pre = "test_data_set_";
        if (strncmp(de->d_name, pre, strlen(pre))) continue;
        char *end;
        long num = strtol(de->d_name + strlen(pre), &end, 10);
        if (*end || num < 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            numbered *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                rc = kp_error_set(err, KP_ENOMEM, "out of memory");
                break;
            }
            v = nv;
        }
        snprintf(buf, sizeof buf, "%s/%s", path, de->d_name);
        v[n].num = num;
        v[n].path = kp_strdup_or_null(buf);
        if (!v[n].path) {
            rc = kp_error_set(err, KP_ENOMEM, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (!rc && !n)
        rc = kp_error_set(err, KP_EFORMAT,
                          "%s: no test_data_set_N/ folders and no input_0.pb (ONNX test data)",
                          path);
    if (rc) {
        for (size_t i = 0; i < n; i++) free(v[i].path);
        free(v);
        kp_pbset_free(p);
        return rc;
    }
    qsort(v, n, sizeof *v, cmp_numbered);
    p->dirs = malloc(n * sizeof *p->dirs);
    if (!p->dirs) {
        for (size_t i = 0; i < n; i++) free(v[i].path);
        free(v);
        kp_pbset_free(p);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) p->dirs[i] = v[i].path;
    p->n = n;
    free(v);
    *out = p;
    return 0;
}

static int load_list(const char *dir, const char *prefix, kp_tensor ***out, size_t *n,
                     kp_error *err) {
    *out = NULL;
    *n = 0;
    char buf[4096];
    for (size_t k = 0;; k++) {
        snprintf(buf, sizeof buf, "%s/%s_%zu.pb", dir, prefix, k);
        if (!is_file(buf)) break;
        kp_tensor **nv = realloc(*out, (k + 1) * sizeof *nv);
        if (!nv) return kp_error_set(err, KP_ENOMEM, "out of memory");
        *out = nv;
        int rc = kp_onnx_load_tensor(buf, &nv[k], err);
        if (rc) return kp_error_wrap(err, "%s: ", buf);
        *n = k + 1;
    }
    return 0;
}

int kp_pbset_load(const kp_pbset *p, size_t i, kp_tensor ***in, size_t *n_in, kp_tensor ***out,
                  size_t *n_out, kp_error *err) {
    *in = *out = NULL;
    *n_in = *n_out = 0;
    if (i >= p->n) return kp_error_set(err, KP_ERANGE, "no test data set %zu", i);
    int rc = load_list(p->dirs[i], "input", in, n_in, err);
    if (!rc) rc = load_list(p->dirs[i], "output", out, n_out, err);
    if (!rc && !*n_in) rc = kp_error_set(err, KP_EFORMAT, "%s: no input_0.pb", p->dirs[i]);
    if (rc) {
        kp_tensorv_free(*in, *n_in);
        kp_tensorv_free(*out, *n_out);
        *in = *out = NULL;
        *n_in = *n_out = 0;
    }
    return rc;
}
