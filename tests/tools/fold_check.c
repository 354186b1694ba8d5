/* fold over the ONNX backend test suite: for every model under ROOT/<suite>/<test>/ that our
 * executor runs and that fold changes ("touched"), runs the original and the folded model on
 * each test_data_set_N and checks that
 *   - the folded outputs equal the unfolded ones within 1e-5 relative (max|a-b| / max|a|), and
 *   - they match the expected output_K.pb with ONNX's tolerance (rtol 1e-3, atol 1e-7) whenever
 *     the unfolded model does.
 * usage: fold_check [--root DIR] [--sample N] [-v]
 * Prints one line per touched model and "N passed, N failed, N skipped" (skipped: untouched,
 * unsupported ops, or the unfolded model itself fails). Exit 1 if any touched model fails. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/exec.h"
#include "core/onnx_io.h"
#include "core/pass.h"

extern const kp_pass kp_pass_fold;

static const char *const suites[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 1 = close, 0 = differ. rel: |a-b| <= tol * max|a| (floats); else exact. */
static int close_rel(const kp_tensor *a, const kp_tensor *b, double tol, double *worst) {
    if (a->dtype != b->dtype || a->numel != b->numel) return 0;
    if (a->dtype != KP_FLOAT && a->dtype != KP_DOUBLE && a->dtype != KP_FLOAT16)
        return kp_tensor_equal(a, b);
    double mx = 0, md = 0;
    for (int64_t i = 0; i < a->numel; i++) {
        double x = kp_tensor_get(a, i), y = kp_tensor_get(b, i);
        if (isnan(x) && isnan(y)) continue;
        if (isinf(x) && x == y) continue;
        if (isnan(x) != isnan(y)) return 0;
        mx = fmax(mx, fabs(x));
        md = fmax(md, fabs(x - y));
    }
    double r = md / (mx > 1e-30 ? mx : 1e-30);
    if (md == 0) r = 0;
    if (worst && r > *worst) *worst = r;
    return r <= tol;
}

static int close_onnx(const kp_tensor *got, const kp_tensor *want) {
    if (got->numel != want->numel) return 0;
    if (got->dtype != want->dtype) return 0;
    if (got->dtype != KP_FLOAT && got->dtype != KP_DOUBLE && got->dtype != KP_FLOAT16)
        return kp_tensor_equal(got, want);
    for (int64_t i = 0; i < got->numel; i++) {
        double x = kp_tensor_get(got, i), y = kp_tensor_get(want, i);
        if (isnan(x) && isnan(y)) continue;
        if (isinf(y) && x == y) continue;
        if (!(fabs(x - y) <= 1e-7 + 1e-3 * fabs(y))) return 0;
    }
    return 1;
}

static int run(const kp_model *m, size_t nin, const kp_tensor *const *in, kp_tensor **out,
               size_t *nout, kp_error *err) {
    kp_exec *e = NULL;
    int rc = kp_exec_new(m, NULL, &e, err);
    if (rc) return rc;
    if (kp_exec_n_inputs(e) != nin) {
        kp_exec_free(e);
        return kp_error_set(err, KP_EINVAL, "input count");
    }
    *nout = kp_exec_n_outputs(e);
    rc = kp_exec_run(e, in, out, err);
    kp_exec_free(e);
    return rc;
}

typedef struct stats {
    int pass, fail, skip, verbose;
} stats;

/* Returns 1 pass, 0 fail, -1 skip. */
static int check_set(const kp_model *orig, const kp_model *folded, const char *dir, double *worst) {
    char path[4400];
    kp_tensor *in[16] = {0}, *want[16] = {0}, *a[16] = {0}, *b[16] = {0};
    size_t nin = 0, nwant = 0, na = 0, nb = 0;
    int res = -1;
    kp_error err;
    for (; nin < 16; nin++) {
        snprintf(path, sizeof path, "%s/input_%zu.pb", dir, nin);
        if (kp_onnx_load_tensor(path, &in[nin], &err)) break;
    }
    for (; nwant < 16; nwant++) {
        snprintf(path, sizeof path, "%s/output_%zu.pb", dir, nwant);
        if (kp_onnx_load_tensor(path, &want[nwant], &err)) break;
    }
    if (run(orig, nin, (const kp_tensor *const *)in, a, &na, &err)) goto done;
    if (na != nwant) goto done;
    int orig_ok = 1;
    for (size_t i = 0; i < na; i++) orig_ok &= close_onnx(a[i], want[i]);
    if (!orig_ok) goto done; /* executor issue, not fold's */
    res = 0;
    if (run(folded, nin, (const kp_tensor *const *)in, b, &nb, &err) || nb != na) goto done;
    res = 1;
    for (size_t i = 0; i < na; i++)
        if (!close_rel(a[i], b[i], 1e-5, worst) || !close_onnx(b[i], want[i])) res = 0;
done:
    for (size_t i = 0; i < 16; i++) {
        kp_tensor_free(in[i]);
        kp_tensor_free(want[i]);
        kp_tensor_free(a[i]);
        kp_tensor_free(b[i]);
    }
    return res;
}

static void check_model(const char *root, const char *suite, const char *test, stats *st) {
    char dir[2048], path[4096];
    snprintf(dir, sizeof dir, "%s/%s/%s", root, suite, test);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    kp_error err;
    kp_error_clear(&err);
    kp_model *m = NULL, *f = NULL;
    char **miss = NULL;
    size_t nmiss = 0;
    uint8_t *b0 = NULL, *b1 = NULL;
    size_t l0 = 0, l1 = 0;
    if (kp_onnx_load(path, NULL, &m, &err) || kp_exec_missing_ops(m, &miss, &nmiss, &err) ||
        nmiss) {
        st->skip++;
        goto done;
    }
    f = kp_model_clone(m, &err);
    kp_params p;
    if (!f || kp_params_defaults(&kp_pass_fold, &p, &err)) {
        st->skip++;
        goto done;
    }
    kp_pass_ctx ctx = {.reference = m};
    int rc = kp_pass_fold.apply(f, &p, &ctx, &err);
    kp_params_free(&p);
    if (rc) {
        printf("FAIL  %s/%s: fold error: %s\n", suite, test, err.msg);
        st->fail++;
        goto done;
    }
    /* "touched" = nodes or weights changed; value_info added by shape inference does not count */
    size_t nvi = f->graph->n_value_info, mvi = m->graph->n_value_info;
    f->graph->n_value_info = m->graph->n_value_info = 0;
    int serr = kp_onnx_save_buffer(m, &b0, &l0, &err) || kp_onnx_save_buffer(f, &b1, &l1, &err);
    f->graph->n_value_info = nvi;
    m->graph->n_value_info = mvi;
    if (serr) {
        st->skip++;
        goto done;
    }
    if (l0 == l1 && !memcmp(b0, b1, l0)) { /* untouched */
        st->skip++;
        goto done;
    }
    int any = 0, bad = 0;
    double worst = 0;
    for (int s = 0; s < 16; s++) {
        char sd[4200];
        snprintf(sd, sizeof sd, "%s/test_data_set_%d", dir, s);
        struct stat sb;
        if (stat(sd, &sb)) break;
        int r = check_set(m, f, sd, &worst);
        if (r == 1) any = 1;
        if (r == 0) bad = 1;
    }
    if (bad) {
        printf("FAIL  %s/%s (folded differs, worst rel %.3g)\n", suite, test, worst);
        st->fail++;
    } else if (any) {
        if (st->verbose) printf("PASS  %s/%s (worst rel %.3g)\n", suite, test, worst);
        st->pass++;
    } else {
        st->skip++;
    }
done:
    kp_strv_free(miss, nmiss);
    free(b0);
    free(b1);
    kp_model_free(m);
    kp_model_free(f);
}

int main(int argc, char **argv) {
    const char *root = "/usr/share/libonnx-testdata/data";
    int sample = 1;
    stats st = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--root") && i + 1 < argc)
            root = argv[++i];
        else if (!strcmp(argv[i], "--sample") && i + 1 < argc)
            sample = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-v"))
            st.verbose = 1;
        else {
            fprintf(stderr, "usage: fold_check [--root DIR] [--sample N] [-v]\n");
            return 2;
        }
    }
    if (sample < 1) sample = 1;
    int k = 0;
    for (size_t s = 0; s < sizeof suites / sizeof *suites; s++) {
        char d[2048];
        snprintf(d, sizeof d, "%s/%s", root, suites[s]);
        DIR *dp = opendir(d);
        if (!dp) continue;
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        while ((de = readdir(dp))) {
            if (de->d_name[0] == '.') continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 256;
                names = realloc(names, cap * sizeof *names);
            }
            names[n++] = strdup(de->d_name);
        }
        closedir(dp);
        qsort(names, n, sizeof *names, cmp_name);
        for (size_t i = 0; i < n; i++) {
            if (k++ % sample == 0) check_model(root, suites[s], names[i], &st);
            free(names[i]);
        }
        free(names);
    }
    printf("fold touched %d models: %d passed, %d failed, %d skipped\n", st.pass + st.fail, st.pass,
           st.fail, st.skip);
    printf("%d passed, %d failed\n", st.pass, st.fail);
    return st.fail ? 1 : 0;
}
