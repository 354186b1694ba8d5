/* Applies registered passes and checks the result against the input:
 *   quant_apply IN.onnx OUT.onnx [--no-verify] [--idx IMAGES.gz LABELS.gz CALIB_N EVAL_N |
 *               --random-calib BATCHES] PASS[:k=v,...] ...
 * Without --idx: no calibration data, checked on random inputs. With --idx: Fashion-MNIST IDX
 * files preprocessed as the demo project declares ((x/255 - 0.286) / 0.353), the first CALIB_N
 * samples calibrate, the first EVAL_N are evaluated (top-1 of both models). --random-calib:
 * calibration on BATCHES batches of 16 seeded random inputs (kp_verify_random_inputs). For
 * quantization tests and benchmarks; `kompress compress` is the product. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/onnx_io.h"
#include "core/verify.h"
#include "passes/registry.h"

static void note(void *user, const char *msg) {
    (void)user;
    printf("  note: %s\n", msg);
}

typedef struct idx_data {
    float *x;
    int64_t *y;
    size_t n, off, batch;
    kp_tensor *t;
    const kp_tensor *tv[1];
} idx_data;

static int idx_get(kp_calib *c, size_t b, const kp_tensor *const **in, const int64_t **lab,
                   size_t *bs, kp_error *err) {
    idx_data *d = c->user;
    size_t start = b * d->batch,
           n = c->n_samples - start < d->batch ? c->n_samples - start : d->batch;
    kp_tensor_free(d->t);
    int64_t dims[4] = {(int64_t)n, 1, 28, 28};
    d->t = kp_tensor_new(KP_FLOAT, 4, dims, err);
    if (!d->t) return KP_ENOMEM;
    memcpy(d->t->data, d->x + start * 784, n * 784 * sizeof(float));
    d->tv[0] = d->t;
    *in = d->tv;
    *lab = d->y + start;
    *bs = n;
    return 0;
}

typedef struct rnd_data {
    const kp_model *m;
    kp_tensor **in;
    size_t n_in;
} rnd_data;

static int rnd_get(kp_calib *c, size_t b, const kp_tensor *const **in, const int64_t **lab,
                   size_t *bs, kp_error *err) {
    rnd_data *r = c->user;
    for (size_t i = 0; i < r->n_in; i++) kp_tensor_free(r->in[i]);
    free(r->in);
    r->in = NULL;
    int rc = kp_verify_random_inputs(r->m, 16, 1000 + b, &r->in, &r->n_in, err);
    if (rc) return rc;
    *in = (const kp_tensor *const *)r->in;
    *lab = NULL;
    *bs = 16;
    return 0;
}

static unsigned char *gz_read(const char *path, size_t want) {
    gzFile f = gzopen(path, "rb");
    unsigned char *buf = malloc(want);
    if (!f || !buf || gzread(f, buf, (unsigned)want) != (int)want) {
        free(buf);
        buf = NULL;
    }
    if (f) gzclose(f);
    return buf;
}

static int load_idx(const char *img, const char *lab, idx_data *d) {
    unsigned char *a = gz_read(img, 16 + 10000 * 784), *b = gz_read(lab, 8 + 10000);
    if (!a || !b) {
        free(a);
        free(b);
        return 1;
    }
    d->n = 10000;
    d->x = malloc(d->n * 784 * sizeof *d->x);
    d->y = malloc(d->n * sizeof *d->y);
    for (size_t i = 0; i < d->n * 784; i++) d->x[i] = (a[16 + i] / 255.f - 0.286f) / 0.353f;
    for (size_t i = 0; i < d->n; i++) d->y[i] = b[8 + i];
    free(a);
    free(b);
    d->batch = 64;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s IN.onnx OUT.onnx PASS[:k=v,...]...\n", argv[0]);
        return 2;
    }
    kp_error err = {0};
    kp_model *m = NULL, *ref = NULL;
    if (kp_onnx_load(argv[1], NULL, &m, &err) || !(ref = kp_model_clone(m, &err))) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    size_t n;
    const kp_pass *const *all = kp_passes(&n);
    idx_data d = {0};
    kp_calib calib = {0}, evalset = {0};
    int first = 3, verify = 1;
    if (argc > 3 && !strcmp(argv[3], "--no-verify")) {
        verify = 0;
        first = 4;
    }
    if (argc > first + 4 && !strcmp(argv[first], "--idx")) {
        if (load_idx(argv[first + 1], argv[first + 2], &d)) {
            fprintf(stderr, "cannot read %s / %s\n", argv[first + 1], argv[first + 2]);
            return 1;
        }
        calib.user = evalset.user = &d;
        calib.get = evalset.get = idx_get;
        calib.n_samples = (size_t)atol(argv[first + 3]);
        evalset.n_samples = (size_t)atol(argv[first + 4]);
        if (calib.n_samples > d.n) calib.n_samples = d.n;
        if (evalset.n_samples > d.n) evalset.n_samples = d.n;
        calib.n_batches = (calib.n_samples + d.batch - 1) / d.batch;
        evalset.n_batches = (evalset.n_samples + d.batch - 1) / d.batch;
        first += 5;
    }
    rnd_data rd = {ref, NULL, 0};
    kp_calib rcal = {0};
    if (argc > first + 1 && !strcmp(argv[first], "--random-calib")) {
        rcal.user = &rd;
        rcal.get = rnd_get;
        rcal.n_batches = (size_t)atol(argv[first + 1]);
        rcal.n_samples = rcal.n_batches * 16;
        first += 2;
    }
    for (int a = first; a < argc; a++) {
        const kp_pass *p;
        kp_params prm;
        if (kp_pass_spec_parse(all, n, argv[a], &p, &prm, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 2;
        }
        kp_pass_ctx ctx = {0};
        ctx.reference = ref;
        ctx.calib = d.x ? &calib : rcal.get ? &rcal : NULL;
        ctx.note = note;
        int rc = p->apply(m, &prm, &ctx, &err);
        kp_params_free(&prm);
        if (rc) {
            fprintf(stderr, "%s: %s\n", p->id, err.msg);
            return 1;
        }
    }
    if (!verify) {
        if (kp_onnx_save(m, argv[2], 1, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        kp_model_free(m);
        kp_model_free(ref);
        return 0;
    }
    kp_verify v;
    kp_verify_opts vo = {0, 3, 16, NULL, 1};
    if (kp_verify_models(ref, m, d.x ? &evalset : NULL, &vo, &v, &err)) {
        fprintf(stderr, "verify: %s\n", err.msg);
        return 1;
    }
    printf("max_abs %.4g max_rel %.4g cosine %.6f agree %.3f\n", v.max_abs, v.max_rel, v.min_cosine,
           v.agree);
    if (v.has_labels)
        printf("top1 ref %.2f%% new %.2f%% on %zu samples; peak activations ref %zu new %zu\n",
               v.acc_ref, v.acc_cand, v.n_samples, v.peak_ref, v.peak_cand);
    if (kp_onnx_save(m, argv[2], 1, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    kp_model_free(m);
    kp_model_free(ref);
    kp_tensor_free(d.t);
    for (size_t i = 0; i < rd.n_in; i++) kp_tensor_free(rd.in[i]);
    free(rd.in);
    free(d.x);
    free(d.y);
    return 0;
}
