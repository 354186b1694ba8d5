/* Runs registered passes on a model with Fashion-MNIST calibration data and saves the result:
 *   struct_run IN.onnx OUT.onnx [--calib N] [--eval N] [--bench N] PASS[:k=v,...] ...
 * Calibration: the first N (default 512) training images (never the test set), scaled as in
 * examples/fashion-mnist/project.json. --eval N: top-1 of the input and output models on the
 * first N test images with our executor (--preds FILE: the output model's predictions, one per
 * line). --bench N: median batch-1 latency over N runs. --compare N: largest relative output
 * difference between input and output models on N calibration batches ("MAXREL x"). Prints the
 * pass notes and one "RESULT" line. Test/bench driver for tests/e2e/struct_*.sh and
 * tests/bench/structural.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "core/exec.h"
#include "core/onnx_io.h"
#include "core/pass.h"
#include "passes/registry.h"
#include "passes/verify.h"

#define DS    "/usr/share/datasets/fashion-mnist/"
#define BATCH 64

typedef struct idx_data {
    int64_t n;
    float *x;
    int64_t *y;
    kp_tensor *bt;
} idx_data;

static uint8_t *read_gz(const char *path, size_t *len) {
    gzFile f = gzopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 20, n = 0;
    uint8_t *b = malloc(cap);
    int r;
    while (b && (r = gzread(f, b + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)r;
        if (n == cap) {
            uint8_t *nb = realloc(b, cap *= 2);
            if (!nb) free(b);
            b = nb;
        }
    }
    gzclose(f);
    *len = n;
    return b;
}

static int load_idx(const char *img, const char *lab, int64_t limit, idx_data *d) {
    size_t li, ll;
    uint8_t *bi = read_gz(img, &li), *bl = read_gz(lab, &ll);
    if (!bi || !bl || li < 16 || ll < 8) return -1;
    int64_t n = ((int64_t)bi[4] << 24) | (bi[5] << 16) | (bi[6] << 8) | bi[7];
    if (limit && limit < n) n = limit;
    if ((size_t)(16 + n * 784) > li || (size_t)(8 + n) > ll) return -1;
    d->n = n;
    d->x = malloc((size_t)n * 784 * sizeof *d->x);
    d->y = malloc((size_t)n * sizeof *d->y);
    for (int64_t i = 0; i < n * 784; i++) d->x[i] = (bi[16 + i] / 255.0f - 0.286f) / 0.353f;
    for (int64_t i = 0; i < n; i++) d->y[i] = bl[8 + i];
    free(bi);
    free(bl);
    return 0;
}

static int calib_get(kp_calib *c, size_t b, const kp_tensor *const **inputs, const int64_t **labels,
                     size_t *bs, kp_error *err) {
    idx_data *d = c->user;
    int64_t s = (int64_t)b * BATCH, n = d->n - s < BATCH ? d->n - s : BATCH;
    if (n <= 0) return kp_error_set(err, KP_ERANGE, "batch %zu out of range", b);
    kp_tensor_free(d->bt);
    int64_t dims[4] = {n, 1, 28, 28};
    d->bt = kp_tensor_new(KP_FLOAT, 4, dims, err);
    if (!d->bt) return KP_ENOMEM;
    memcpy(d->bt->data, d->x + s * 784, (size_t)n * 784 * sizeof(float));
    static const kp_tensor *one[1];
    one[0] = d->bt;
    *inputs = one;
    *labels = d->y + s;
    *bs = (size_t)n;
    return 0;
}

static double top1(const kp_model *m, idx_data *d, FILE *preds, kp_error *err) {
    kp_exec *e = NULL;
    if (kp_exec_new(m, NULL, &e, err)) return -1;
    kp_calib c = {.n_batches = (size_t)((d->n + BATCH - 1) / BATCH), .user = d, .get = calib_get};
    int64_t ok = 0;
    for (size_t b = 0; b < c.n_batches; b++) {
        const kp_tensor *const *in;
        const int64_t *lab;
        size_t bs;
        kp_tensor *out[1] = {NULL};
        if (calib_get(&c, b, &in, &lab, &bs, err) || kp_exec_run(e, in, out, err)) {
            kp_exec_free(e);
            return -1;
        }
        int64_t k = out[0]->numel / (int64_t)bs;
        const float *o = out[0]->data;
        for (size_t i = 0; i < bs; i++) {
            int64_t best = 0;
            for (int64_t j = 1; j < k; j++)
                if (o[i * k + j] > o[i * k + best]) best = j;
            ok += best == lab[i];
            if (preds) fprintf(preds, "%lld\n", (long long)best);
        }
        kp_tensor_free(out[0]);
    }
    kp_exec_free(e);
    return 100.0 * (double)ok / (double)d->n;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median milliseconds of `runs` single-image inferences (after 3 warm-up runs), 1 thread. */
static double latency_ms(const kp_model *m, int runs, kp_error *err) {
    kp_exec_opts o = {.threads = 1};
    kp_exec *e = NULL;
    if (kp_exec_new(m, &o, &e, err)) return -1;
    int64_t dims[4] = {1, 1, 28, 28};
    kp_tensor *x = kp_tensor_new(KP_FLOAT, 4, dims, err);
    double *t = calloc((size_t)runs, sizeof *t);
    if (!x || !t) return -1;
    for (int i = 0; i < 784; i++) ((float *)x->data)[i] = (float)(i % 17) / 17.0f;
    const kp_tensor *in[1] = {x};
    for (int r = -3; r < runs; r++) {
        kp_tensor *out[1] = {NULL};
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (kp_exec_run(e, in, out, err)) return -1;
        clock_gettime(CLOCK_MONOTONIC, &b);
        kp_tensor_free(out[0]);
        if (r >= 0)
            t[r] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_d);
    double med = t[runs / 2];
    free(t);
    kp_tensor_free(x);
    kp_exec_free(e);
    return med;
}

static void note(void *user, const char *msg) {
    (void)user;
    printf("  %s\n", msg);
}

/* Everything main allocates, freed at exit on every path (LeakSanitizer-clean error exits). */
static kp_model *g_orig, *g_m;
static idx_data g_cal, g_test;

static void cleanup(void) {
    kp_model_free(g_m);
    kp_model_free(g_orig);
    kp_tensor_free(g_cal.bt);
    kp_tensor_free(g_test.bt);
    free(g_cal.x);
    free(g_cal.y);
    free(g_test.x);
    free(g_test.y);
}

int main(int argc, char **argv) {
    atexit(cleanup);
    if (argc < 4) {
        fprintf(stderr, "usage: %s IN.onnx OUT.onnx [--calib N] [--eval N] PASS[:k=v]...\n",
                argv[0]);
        return 2;
    }
    int64_t ncal = 512, neval = 0, nbench = 0, ncompare = 0;
    const char *preds_path = NULL;
    kp_error err;
    kp_error_clear(&err);
    if (kp_onnx_load(argv[1], NULL, &g_orig, &err) || !(g_m = kp_model_clone(g_orig, &err))) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    kp_model *orig = g_orig, *m = g_m;
    idx_data *calp = &g_cal, *testp = &g_test;
#define cal  (*calp)
#define test (*testp)
    size_t np;
    const kp_pass *const *reg = kp_passes(&np);
    int a = 3;
    for (; a < argc && argv[a][0] == '-'; a += 2) {
        if (a + 1 >= argc) return 2;
        if (!strcmp(argv[a], "--calib"))
            ncal = atoll(argv[a + 1]);
        else if (!strcmp(argv[a], "--eval"))
            neval = atoll(argv[a + 1]);
        else if (!strcmp(argv[a], "--bench"))
            nbench = atoll(argv[a + 1]);
        else if (!strcmp(argv[a], "--compare"))
            ncompare = atoll(argv[a + 1]);
        else if (!strcmp(argv[a], "--preds"))
            preds_path = argv[a + 1];
        else {
            fprintf(stderr, "unknown option %s\n", argv[a]);
            return 2;
        }
    }
    if (ncal > 0 &&
        load_idx(DS "train-images-idx3-ubyte.gz", DS "train-labels-idx1-ubyte.gz", ncal, &cal)) {
        printf("calibration data not found under " DS "\n");
        return 77;
    }
    kp_calib calib = {.n_batches = (size_t)((cal.n + BATCH - 1) / BATCH),
                      .n_samples = (size_t)cal.n,
                      .user = &cal,
                      .get = calib_get};
    for (; a < argc; a++) {
        const char *colon = strchr(argv[a], ':');
        char id[64];
        snprintf(id, sizeof id, "%.*s", (int)(colon ? colon - argv[a] : (long)strlen(argv[a])),
                 argv[a]);
        const kp_pass *p = kp_pass_find(reg, np, id);
        kp_params prm;
        if (!p) {
            fprintf(stderr, "unknown pass '%s'\n", id);
            return 2;
        }
        if (kp_params_parse(p, colon ? colon + 1 : "", &prm, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 2;
        }
        kp_model *before = kp_model_clone(m, &err);
        kp_pass_ctx ctx = {
            .note = note, .reference = before, .original = orig, .calib = cal.n ? &calib : NULL};
        printf("%s:\n", p->id);
        int rc = p->apply(m, &prm, &ctx, &err);
        kp_params_free(&prm);
        kp_model_free(before);
        if (!rc) rc = kp_graph_validate(m->graph, &err);
        if (rc) {
            fprintf(stderr, "%s: %s\n", p->id, err.msg);
            return 1;
        }
    }
    if (kp_onnx_save(m, argv[2], 1, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    if (neval > 0) {
        if (load_idx(DS "t10k-images-idx3-ubyte.gz", DS "t10k-labels-idx1-ubyte.gz", neval, &test))
            return 77;
        FILE *pf = preds_path ? fopen(preds_path, "w") : NULL;
        if (preds_path && !pf) {
            fprintf(stderr, "cannot write %s\n", preds_path);
            return 1;
        }
        double t0 = top1(orig, &test, NULL, &err), t1 = t0 >= 0 ? top1(m, &test, pf, &err) : -1;
        if (pf) fclose(pf);
        if (t0 < 0 || t1 < 0) {
            fprintf(stderr, "eval: %s\n", err.msg);
            return 1;
        }
        printf("RESULT top1_before=%.2f top1_after=%.2f samples=%lld\n", t0, t1, (long long)test.n);
    }
    if (ncompare > 0 && cal.n) {
        double rel = 0;
        if (kp_pass_compare(orig, m, &calib, (size_t)ncompare, &rel, &err)) {
            fprintf(stderr, "compare: %s\n", err.msg);
            return 1;
        }
        printf("MAXREL %.3g\n", rel);
    }
    if (nbench > 0) {
        double l0 = latency_ms(orig, (int)nbench, &err), l1 = latency_ms(m, (int)nbench, &err);
        if (l0 < 0 || l1 < 0) {
            fprintf(stderr, "bench: %s\n", err.msg);
            return 1;
        }
        printf("LATENCY ms_before=%.4f ms_after=%.4f ratio=%.3f\n", l0, l1, l1 / l0);
    }
    return 0;
#undef cal
#undef test
}
