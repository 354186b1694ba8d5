/* Metrics: accuracy accumulators, latency runs, sizes, weights, MACs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "core/metrics.h"

void kp_accuracy_init(kp_accuracy *a) {
    memset(a, 0, sizeof *a);
}

static double val(const kp_tensor *t, int64_t i) {
    return t->dtype == KP_FLOAT ? (double)((const float *)t->data)[i]
                                : ((const double *)t->data)[i];
}

static int score_shape(const kp_tensor *t, int64_t *rows, int64_t *classes, kp_error *err) {
    if (t->dtype != KP_FLOAT && t->dtype != KP_DOUBLE)
        return kp_error_set(err, KP_EUNSUPPORTED,
                            "model output '%s' is %s; accuracy needs float scores",
                            t->name ? t->name : "?", kp_dtype_name(t->dtype));
    if (t->rank < 1 || t->dims[t->rank - 1] < 1)
        return kp_error_set(err, KP_EINVAL, "model output '%s' has no class dimension",
                            t->name ? t->name : "?");
    *classes = t->dims[t->rank - 1];
    *rows = t->numel / *classes;
    return 0;
}

/* Models that end in ArgMax output class indices ([N] or [N,1], int32/int64). */
static int is_class_output(const kp_tensor *t) {
    return (t->dtype == KP_INT64 || t->dtype == KP_INT32) && t->rank >= 1 &&
           (t->rank == 1 || (t->rank == 2 && t->dims[1] == 1));
}

int kp_accuracy_add_labels(kp_accuracy *a, const kp_tensor *scores, size_t n, const int64_t *labels,
                           kp_error *err) {
    if (is_class_output(scores)) {
        if ((int64_t)n > scores->dims[0])
            return kp_error_set(err, KP_EINVAL, "model output has %lld rows for %zu samples",
                                (long long)scores->dims[0], n);
        for (size_t r = 0; r < n; r++) {
            int64_t p = scores->dtype == KP_INT64 ? ((const int64_t *)scores->data)[r]
                                                  : ((const int32_t *)scores->data)[r];
            if (p == labels[r]) a->top1++, a->top5++;
        }
        a->n += n;
        a->class_outputs = 1;
        return 0;
    }
    int64_t rows, k;
    int rc = score_shape(scores, &rows, &k, err);
    if (rc) return rc;
    if ((int64_t)n > rows)
        return kp_error_set(err, KP_EINVAL, "model output has %lld rows for %zu samples",
                            (long long)rows, n);
    for (size_t r = 0; r < n; r++) {
        int64_t y = labels[r];
        if (y < 0 || y >= k)
            return kp_error_set(err, KP_ERANGE,
                                "label %lld of sample %zu is outside the model's %lld classes",
                                (long long)y, a->n + r, (long long)k);
        double ys = val(scores, (int64_t)r * k + y);
        /* rank of the true class: how many classes score strictly higher (ties favour it,
         * except that an earlier class with an equal score wins top-1, as arg max does). */
        int64_t higher = 0;
        int tie_before = 0;
        for (int64_t c = 0; c < k; c++) {
            double v = val(scores, (int64_t)r * k + c);
            if (v > ys || (isnan(ys) && !isnan(v)))
                higher++;
            else if (v == ys && c < y)
                tie_before = 1;
        }
        if (higher == 0 && !tie_before) a->top1++;
        if (higher < 5) a->top5++;
    }
    a->n += n;
    return 0;
}

static int64_t argmax_row(const kp_tensor *t, int64_t r, int64_t k) {
    int64_t best = 0;
    for (int64_t c = 1; c < k; c++)
        if (val(t, r * k + c) > val(t, r * k + best)) best = c;
    return best;
}

int kp_accuracy_add_reference(kp_accuracy *a, const kp_tensor *out, const kp_tensor *ref,
                              kp_error *err) {
    char s1[128], s2[128];
    if (out->rank != ref->rank || memcmp(out->dims, ref->dims, sizeof(int64_t) * (size_t)out->rank))
        return kp_error_set(err, KP_EINVAL, "output shape %s differs from the reference's %s",
                            kp_shape_str(out->rank, out->dims, s1, sizeof s1),
                            kp_shape_str(ref->rank, ref->dims, s2, sizeof s2));
    int64_t rows, k;
    int rc = score_shape(out, &rows, &k, err);
    if (!rc) rc = score_shape(ref, &rows, &k, err);
    if (rc) return rc;
    for (int64_t i = 0; i < out->numel; i++) {
        double x = val(out, i), y = val(ref, i);
        double d = fabs(x - y);
        if (d > a->max_abs || isnan(d)) a->max_abs = isnan(d) ? INFINITY : d;
        a->dot += x * y;
        a->nn_out += x * x;
        a->nn_ref += y * y;
    }
    a->n_values += (size_t)out->numel;
    for (int64_t r = 0; r < rows; r++)
        if (argmax_row(out, r, k) == argmax_row(ref, r, k)) a->agree++;
    a->n_ref += (size_t)rows;
    return 0;
}

double kp_accuracy_top1(const kp_accuracy *a) {
    return a->n ? 100.0 * a->top1 / a->n : -1;
}
double kp_accuracy_top5(const kp_accuracy *a) {
    return a->n ? 100.0 * a->top5 / a->n : -1;
}
double kp_accuracy_agreement(const kp_accuracy *a) {
    return a->n_ref ? 100.0 * a->agree / a->n_ref : -1;
}
double kp_accuracy_cosine(const kp_accuracy *a) {
    if (!a->n_values) return -2;
    if (a->nn_out == 0 && a->nn_ref == 0) return 1;
    if (a->nn_out == 0 || a->nn_ref == 0) return 0;
    return a->dot / (sqrt(a->nn_out) * sqrt(a->nn_ref));
}

/* ---- latency ------------------------------------------------------------------------------- */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

double kp_percentile(const double *sorted, size_t n, double p) {
    if (!n) return 0;
    double pos = p / 100.0 * (double)(n - 1);
    size_t i = (size_t)llround(pos);
    if (i >= n) i = n - 1;
    return sorted[i];
}

static int run_once(kp_exec *e, const kp_tensor *const *inputs, kp_error *err) {
    size_t no = kp_exec_n_outputs(e);
    kp_tensor *outs[64] = {0};
    kp_tensor **o = no <= 64 ? outs : calloc(no, sizeof *o);
    if (!o) return kp_error_set(err, KP_ENOMEM, "out of memory");
    int rc = kp_exec_run(e, inputs, o, err);
    for (size_t i = 0; i < no; i++) kp_tensor_free(o[i]);
    if (o != outs) free(o);
    return rc;
}

int kp_measure_latency(kp_exec *e, const kp_tensor *const *inputs, int warmup, int runs,
                       const volatile int *cancel, kp_latency *out, kp_error *err) {
    memset(out, 0, sizeof *out);
    if (runs < 1 || runs > 1000000 || warmup < 0)
        return kp_error_set(err, KP_EINVAL, "runs must be 1..1000000 and warm-up >= 0");
    double *t = malloc((size_t)runs * sizeof *t);
    if (!t) return kp_error_set(err, KP_ENOMEM, "out of memory");
    int rc = 0;
    for (int i = 0; i < warmup && !rc; i++) {
        if (cancel && *cancel)
            rc = kp_error_set(err, KP_ECANCELLED, "cancelled");
        else
            rc = run_once(e, inputs, err);
    }
    double sum = 0;
    for (int i = 0; i < runs && !rc; i++) {
        if (cancel && *cancel) {
            rc = kp_error_set(err, KP_ECANCELLED, "cancelled");
            break;
        }
        double t0 = now_ms();
        rc = run_once(e, inputs, err);
        t[i] = now_ms() - t0;
        sum += t[i];
    }
    if (!rc) {
        qsort(t, (size_t)runs, sizeof *t, cmp_double);
        out->runs = runs;
        out->batch = inputs[0] && inputs[0]->rank ? inputs[0]->dims[0] : 1;
        out->median_ms = kp_percentile(t, (size_t)runs, 50);
        out->p10_ms = kp_percentile(t, (size_t)runs, 10);
        out->p90_ms = kp_percentile(t, (size_t)runs, 90);
        out->min_ms = t[0];
        out->mean_ms = sum / runs;
    }
    free(t);
    return rc;
}

/* ---- sizes ----------------------------------------------------------------------------------- */

typedef struct gz_counter {
    z_stream z;
    uint64_t out;
    uint8_t buf[1 << 15];
} gz_counter;

static int gz_begin(gz_counter *g, kp_error *err) {
    memset(&g->z, 0, sizeof g->z);
    g->out = 0;
    if (deflateInit2(&g->z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return kp_error_set(err, KP_ENOMEM, "cannot start gzip");
    return 0;
}

static void gz_feed(gz_counter *g, const void *p, size_t n, int finish) {
    g->z.next_in = (Bytef *)p;
    g->z.avail_in = (uInt)n;
    int r;
    do {
        g->z.next_out = g->buf;
        g->z.avail_out = sizeof g->buf;
        r = deflate(&g->z, finish ? Z_FINISH : Z_NO_FLUSH);
        g->out += sizeof g->buf - g->z.avail_out;
    } while (g->z.avail_out == 0 || (finish && r != Z_STREAM_END && r != Z_STREAM_ERROR));
}

int kp_buffer_gzip_bytes(const void *buf, size_t len, uint64_t *gzip_bytes, kp_error *err) {
    gz_counter *g = malloc(sizeof *g);
    if (!g) return kp_error_set(err, KP_ENOMEM, "out of memory");
    int rc = gz_begin(g, err);
    if (!rc) {
        const uint8_t *p = buf;
        while (len > (1u << 30)) {
            gz_feed(g, p, 1u << 30, 0);
            p += 1u << 30;
            len -= 1u << 30;
        }
        gz_feed(g, p, len, 1);
        *gzip_bytes = g->out;
        deflateEnd(&g->z);
    }
    free(g);
    return rc;
}

int kp_file_sizes(const char *path, uint64_t *bytes, uint64_t *gzip_bytes, kp_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return kp_error_set(err, KP_EIO, "%s: cannot open", path);
    gz_counter *g = malloc(sizeof *g);
    uint8_t *in = malloc(1 << 16);
    int rc = (!g || !in) ? kp_error_set(err, KP_ENOMEM, "out of memory") : gz_begin(g, err);
    uint64_t total = 0;
    if (!rc) {
        size_t n;
        while ((n = fread(in, 1, 1 << 16, f)) > 0) {
            gz_feed(g, in, n, 0);
            total += n;
        }
        if (ferror(f)) rc = kp_error_set(err, KP_EIO, "%s: read error", path);
        gz_feed(g, NULL, 0, 1);
        *bytes = total;
        *gzip_bytes = g->out;
        deflateEnd(&g->z);
    }
    free(in);
    free(g);
    fclose(f);
    return rc;
}

/* ---- weights and MACs ------------------------------------------------------------------------ */

uint64_t kp_weight_bytes(const kp_model *m) {
    const kp_graph *g = m->graph;
    uint64_t b = 0;
    for (size_t i = 0; i < g->n_inits; i++) b += g->inits[i]->nbytes;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const kp_node *n = g->nodes[i];
        if (!kp_node_is(n, "Constant")) continue;
        const kp_attr *v = kp_node_attr(n, "value");
        if (v && v->t) b += v->t->nbytes;
    }
    return b;
}

uint64_t kp_param_count(const kp_model *m) {
    const kp_graph *g = m->graph;
    uint64_t c = 0;
    for (size_t i = 0; i < g->n_inits; i++) c += (uint64_t)g->inits[i]->numel;
    return c;
}

static const kp_tensor *find_value(const kp_exec *e, const kp_model *m, const char *name) {
    if (!name || !*name) return NULL;
    const kp_tensor *t = kp_exec_value(e, name);
    if (t) return t;
    for (size_t i = 0; i < m->graph->n_inits; i++)
        if (m->graph->inits[i]->name && !strcmp(m->graph->inits[i]->name, name))
            return m->graph->inits[i];
    return NULL;
}

static uint64_t prod_from(const kp_tensor *t, int from) {
    uint64_t p = 1;
    for (int i = from; i < t->rank; i++) p *= (uint64_t)t->dims[i];
    return p;
}

int kp_exec_macs(const kp_exec *e, const kp_model *m, uint64_t *macs, kp_error *err) {
    *macs = 0;
    const kp_graph *g = m->graph;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const kp_node *n = g->nodes[i];
        if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx")) continue;
        const char *op = n->op_type;
        const kp_tensor *y = find_value(e, m, n->n_outputs ? n->outputs[0] : NULL);
        int conv = !strcmp(op, "Conv") || !strcmp(op, "ConvInteger");
        int qconv = !strcmp(op, "QLinearConv");
        int mm = !strcmp(op, "MatMul") || !strcmp(op, "MatMulInteger");
        int qmm = !strcmp(op, "QLinearMatMul");
        if (!conv && !qconv && !mm && !qmm && strcmp(op, "Gemm") && strcmp(op, "ConvTranspose"))
            continue;
        if (!y)
            return kp_error_set(err, KP_EINVAL,
                                "MACs need the values of a run (keep_values); node '%s' has none",
                                n->name ? n->name : op);
        if (conv || qconv) {
            const kp_tensor *w = find_value(e, m, kp_node_input(n, qconv ? 3 : 1));
            if (w && w->rank >= 2) *macs += (uint64_t)y->numel * prod_from(w, 1);
        } else if (!strcmp(op, "ConvTranspose")) {
            const kp_tensor *x = find_value(e, m, kp_node_input(n, 0));
            const kp_tensor *w = find_value(e, m, kp_node_input(n, 1));
            if (x && w && w->rank >= 2) *macs += (uint64_t)x->numel * prod_from(w, 1);
        } else if (!strcmp(op, "Gemm")) {
            const kp_tensor *a = find_value(e, m, kp_node_input(n, 0));
            if (a && a->rank == 2)
                *macs += (uint64_t)y->numel *
                         (uint64_t)a->dims[kp_node_attr_int(n, "transA", 0) ? 0 : 1];
        } else {
            const kp_tensor *a = find_value(e, m, kp_node_input(n, 0));
            if (a && a->rank >= 1) *macs += (uint64_t)y->numel * (uint64_t)a->dims[a->rank - 1];
        }
    }
    return 0;
}
