/* Data sets: opening by format, binding to a model's input, preprocessing, batches, labels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/dataset.h"
#include "core/dataset_src.h"

#define KP_DATA_MAX_INPUTS 16

/* One model input fed from one stacked source. */
typedef struct feed {
    kp_src *x;
    char *entry; /* npz entry name, or NULL */
    /* after bind */
    const char *name; /* model input name (borrowed from cur) */
    kp_dtype dtype;   /* model input dtype */
    int s_rank;       /* model sample rank (without batch) */
    int64_t s_dims[KP_MAX_RANK];
    int64_t s_numel;
    int nhwc; /* transpose stored HWC samples to CHW */
    kp_tensor *cur;
    double *raw;
} feed;

struct kp_dataset {
    kp_data_format format;
    char *path;
    size_t n_feeds;                 /* stacked formats: sources (npz: one per entry) */
    feed feeds[KP_DATA_MAX_INPUTS]; /* after bind: feeds[i] feeds model input i */
    kp_src *y;                      /* labels, or NULL */
    kp_pbset *pb;                   /* ONNX test folders */
    size_t n;                       /* samples used (after limit) */
    size_t limit;
    size_t batch; /* samples per batch */
    kp_preproc pre;
    /* after bind */
    int bound;
    int fixed_batch; /* model's batch dim is a fixed number: batches are padded to it */
    size_t n_model_inputs;
    /* current batch */
    double *lab_raw;
    int64_t *labels;
    const kp_tensor *in_view[KP_DATA_MAX_INPUTS];
    kp_tensor **pb_in, **pb_out;
    size_t pb_n_in, pb_n_out;
};

static const char *const format_names[KP_DATA_FORMAT_COUNT] = {
    [KP_DATA_AUTO] = "auto", [KP_DATA_NPY] = "npy", [KP_DATA_NPZ] = "npz",
    [KP_DATA_IDX] = "idx",   [KP_DATA_CSV] = "csv", [KP_DATA_ONNX_TEST] = "onnx-pb",
};
_Static_assert(sizeof format_names / sizeof *format_names == KP_DATA_FORMAT_COUNT, "format names");

const char *kp_data_format_name(kp_data_format f) {
    return f < KP_DATA_FORMAT_COUNT ? format_names[f] : "?";
}

int kp_data_format_parse(const char *s, kp_data_format *f) {
    if (!strcmp(s, "onnx-test") || !strcmp(s, "onnx")) s = "onnx-pb";
    for (int i = 0; i < KP_DATA_FORMAT_COUNT; i++)
        if (!strcmp(s, format_names[i])) {
            *f = (kp_data_format)i;
            return 0;
        }
    return KP_EINVAL;
}

void kp_dataset_opts_init(kp_dataset_opts *o) {
    memset(o, 0, sizeof *o);
    o->format = KP_DATA_AUTO;
    o->csv_header = -1;
    o->batch = 64;
    o->pre.scale = 1.0;
    o->pre.layout = KP_LAYOUT_NCHW;
}

int kp_preproc_parse_list(const char *s, float *vals, size_t *n, kp_error *err) {
    *n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v))
            return kp_error_set(err, KP_EINVAL, "'%s': expected numbers separated by commas", s);
        if (*n == KP_DATA_MAX_CHANNELS)
            return kp_error_set(err, KP_ERANGE, "'%s': more than %d values", s,
                                KP_DATA_MAX_CHANNELS);
        vals[(*n)++] = (float)v;
        p = end;
        if (*p == ',')
            p++;
        else if (*p)
            return kp_error_set(err, KP_EINVAL, "'%s': expected numbers separated by commas", s);
    }
    if (!*n) return kp_error_set(err, KP_EINVAL, "empty list");
    return 0;
}

void kp_dataset_free(kp_dataset *ds) {
    if (!ds) return;
    for (size_t i = 0; i < ds->n_feeds; i++) {
        kp_src_free(ds->feeds[i].x);
        free(ds->feeds[i].entry);
        kp_tensor_free(ds->feeds[i].cur);
        free(ds->feeds[i].raw);
    }
    kp_src_free(ds->y);
    kp_pbset_free(ds->pb);
    kp_tensorv_free(ds->pb_in, ds->pb_n_in);
    kp_tensorv_free(ds->pb_out, ds->pb_n_out);
    free(ds->lab_raw);
    free(ds->labels);
    free(ds->path);
    free(ds);
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static kp_data_format guess_format(const char *path) {
    if (is_dir(path)) return KP_DATA_ONNX_TEST;
    if (kp_has_suffix(path, ".npy")) return KP_DATA_NPY;
    if (kp_has_suffix(path, ".npz")) return KP_DATA_NPZ;
    if (kp_has_suffix(path, ".csv") || kp_has_suffix(path, ".txt")) return KP_DATA_CSV;
    if (kp_has_suffix(path, ".gz") || kp_has_suffix(path, "-ubyte") || kp_has_suffix(path, ".idx"))
        return KP_DATA_IDX;
    return KP_DATA_AUTO;
}

static int is_label_name(const char *s) {
    static const char *const names[] = {"labels", "label", "y", "targets", "target"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(s, names[i])) return 1;
    return 0;
}

/* Every non-label entry becomes a candidate feed (bind picks them by model input name); the
 * first label-named entry gives the labels. With npz_key only that entry is a feed. */
static int open_npz(kp_dataset *ds, const kp_dataset_opts *o, kp_error *err) {
    kp_npz *z = NULL;
    int rc = kp_npz_open(ds->path, &z, err);
    if (rc) return rc;
    long yi = -1;
    char names[512] = "";
    for (size_t i = 0; i < kp_npz_count(z) && !rc; i++) {
        const char *nm = kp_npz_name(z, i);
        size_t l = strlen(names);
        snprintf(names + l, sizeof names - l, "%s%s", i ? ", " : "", nm);
        int is_x = o->npz_key ? !strcmp(nm, o->npz_key) : !is_label_name(nm);
        if (yi < 0 && is_label_name(nm) && (!o->npz_key || strcmp(nm, o->npz_key))) yi = (long)i;
        if (!is_x) continue;
        if (ds->n_feeds == KP_DATA_MAX_INPUTS) {
            rc = kp_error_set(err, KP_EUNSUPPORTED, "%s: more than %d input arrays", ds->path,
                              KP_DATA_MAX_INPUTS);
            break;
        }
        feed *f = &ds->feeds[ds->n_feeds];
        if (!(f->entry = kp_strdup_or_null(nm))) {
            rc = kp_error_set(err, KP_ENOMEM, "out of memory");
            break;
        }
        ds->n_feeds++;
        rc = kp_npz_src(z, i, &f->x, err);
    }
    if (!rc && !ds->n_feeds)
        rc = o->npz_key ? kp_error_set(err, KP_ENOTFOUND, "%s: no entry '%s' (entries: %s)",
                                       ds->path, o->npz_key, names)
                        : kp_error_set(err, KP_EFORMAT, "%s: no input array (entries: %s)",
                                       ds->path, names[0] ? names : "none");
    if (!rc && yi >= 0 && !o->labels) rc = kp_npz_src(z, (size_t)yi, &ds->y, err);
    kp_npz_free(z);
    return rc;
}

int kp_dataset_open(const char *path, const kp_dataset_opts *opts, kp_dataset **out,
                    kp_error *err) {
    *out = NULL;
    kp_dataset_opts dflt;
    if (!opts) {
        kp_dataset_opts_init(&dflt);
        opts = &dflt;
    }
    if (!(opts->pre.scale > 0 || opts->pre.scale < 0) || !isfinite(opts->pre.scale))
        return kp_error_set(err, KP_EINVAL, "scale must be a non-zero number");
    for (size_t i = 0; i < opts->pre.n_std; i++)
        if (!(opts->pre.std[i] != 0) || !isfinite(opts->pre.std[i]))
            return kp_error_set(err, KP_EINVAL, "std values must be non-zero");
    kp_dataset *ds = calloc(1, sizeof *ds);
    if (!ds || !(ds->path = kp_strdup_or_null(path))) {
        free(ds);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    ds->pre = opts->pre;
    ds->batch = opts->batch ? opts->batch : 64;
    ds->format = opts->format == KP_DATA_AUTO ? guess_format(path) : opts->format;
    int rc = 0;
    switch (ds->format) {
    case KP_DATA_NPY:
        ds->n_feeds = 1;
        rc = kp_src_npy_open(path, &ds->feeds[0].x, err);
        break;
    case KP_DATA_NPZ: rc = open_npz(ds, opts, err); break;
    case KP_DATA_IDX:
        ds->n_feeds = 1;
        rc = kp_src_idx_open(path, &ds->feeds[0].x, err);
        break;
    case KP_DATA_CSV:
        ds->n_feeds = 1;
        rc = kp_src_csv_open(path, opts->csv_header, opts->label_column, &ds->feeds[0].x,
                             opts->labels ? NULL : &ds->y, err);
        break;
    case KP_DATA_ONNX_TEST:
        if (opts->labels)
            rc = kp_error_set(err, KP_EUNSUPPORTED,
                              "%s: ONNX test folders carry reference outputs; a labels file is "
                              "not used with them",
                              path);
        else if (opts->pre.layout == KP_LAYOUT_NHWC)
            rc = kp_error_set(err, KP_EUNSUPPORTED,
                              "%s: layout nhwc applies to stacked arrays, not ONNX test folders",
                              path);
        else
            rc = kp_pbset_open(path, &ds->pb, err);
        break;
    default:
        rc = kp_error_set(err, KP_EINVAL,
                          "%s: cannot tell the data format from the name; give it (npy, npz, "
                          "idx, csv, onnx-pb)",
                          path);
    }
    if (!rc && opts->labels) rc = kp_src_labels_open(opts->labels, &ds->y, err);
    /* Several npz arrays: which ones feed the model is known at bind, which checks counts. */
    if (!rc && ds->n_feeds == 1) {
        const kp_src *x = ds->feeds[0].x;
        ds->n = x->n;
        if (ds->y && ds->y->n != x->n)
            rc = kp_error_set(err, KP_EFORMAT, "%s has %zu samples but %s has %zu labels", x->what,
                              x->n, ds->y->what, ds->y->n);
        else if (!x->n)
            rc = kp_error_set(err, KP_EFORMAT, "%s: no samples", x->what);
    } else if (!rc && ds->n_feeds) {
        ds->n = ds->feeds[0].x->n;
    }
    if (!rc && ds->pb) ds->n = kp_pbset_count(ds->pb);
    if (rc) {
        kp_dataset_free(ds);
        return rc;
    }
    ds->limit = opts->limit;
    if (opts->limit && opts->limit < ds->n) ds->n = opts->limit;
    *out = ds;
    return 0;
}

size_t kp_dataset_n_samples(const kp_dataset *ds) {
    return ds->n;
}
int kp_dataset_has_labels(const kp_dataset *ds) {
    return ds->y != NULL;
}
int kp_dataset_has_reference(const kp_dataset *ds) {
    return ds->pb != NULL;
}
kp_data_format kp_dataset_format(const kp_dataset *ds) {
    return ds->format;
}

char *kp_dataset_sample_shape(const kp_dataset *ds, char *buf, size_t cap) {
    if (ds->n_feeds) return kp_shape_str(ds->feeds[0].x->rank, ds->feeds[0].x->dims, buf, cap);
    snprintf(buf, cap, "per-folder tensors");
    return buf;
}

size_t kp_dataset_n_batches(const kp_dataset *ds) {
    if (ds->pb) return ds->n;
    return (ds->n + ds->batch - 1) / ds->batch;
}

static int is_init(const kp_graph *g, const char *name) {
    for (size_t i = 0; i < g->n_inits; i++)
        if (g->inits[i]->name && !strcmp(g->inits[i]->name, name)) return 1;
    return 0;
}

static int dtype_ok_for_input(kp_dtype t) {
    return t == KP_FLOAT || t == KP_DOUBLE || t == KP_UINT8 || t == KP_INT8 || t == KP_INT32 ||
           t == KP_INT64;
}

static int is_float(kp_dtype t) {
    return t == KP_FLOAT || t == KP_DOUBLE;
}

static int pre_identity(const kp_preproc *p) {
    return p->scale == 1.0 && !p->n_mean && !p->n_std;
}

/* Checks feed f against model input `in` and allocates its batch buffers. */
static int bind_feed(kp_dataset *ds, feed *f, const kp_value_info *in, kp_error *err) {
    if (in->type.kind != KP_TYPE_TENSOR || in->type.rank < 1)
        return kp_error_set(err, KP_EUNSUPPORTED,
                            "model input '%s' has no tensor shape with a batch dimension",
                            in->name);
    kp_dtype mt = in->type.elem;
    if (!dtype_ok_for_input(mt))
        return kp_error_set(err, KP_EUNSUPPORTED,
                            "model input '%s' is %s: data loaders feed "
                            "float32, float64, uint8, int8, int32 or int64 inputs",
                            in->name, kp_dtype_name(mt));
    kp_src *x = f->x;
    if (!is_float(mt) && is_float(x->dtype))
        return kp_error_set(err, KP_EINVAL,
                            "wrong dtype: %s holds %s values but model input '%s' expects %s",
                            x->what, kp_dtype_name(x->dtype), in->name, kp_dtype_name(mt));
    if (!is_float(mt) && !pre_identity(&ds->pre))
        return kp_error_set(err, KP_EINVAL,
                            "scale/mean/std apply to float inputs; model input '%s' is %s",
                            in->name, kp_dtype_name(mt));
    int r = in->type.rank - 1;
    if (r > KP_MAX_RANK) return kp_error_set(err, KP_EUNSUPPORTED, "input rank too large");
    int unknown = 0;
    for (int i = 0; i < r; i++) {
        f->s_dims[i] = in->type.dims[i + 1].value;
        if (f->s_dims[i] < 0) unknown++;
    }
    char ds_shape[128], m_shape[160];
    kp_shape_str(x->rank, x->dims, ds_shape, sizeof ds_shape);
    if (unknown) {
        if (x->rank != r)
            return kp_error_set(err, KP_EINVAL,
                                "wrong shape: data samples are %s but model input '%s' has "
                                "rank %d with unknown dimensions",
                                ds_shape, in->name, r + 1);
        for (int i = 0; i < r; i++)
            if (f->s_dims[i] < 0)
                f->s_dims[i] = x->dims[i];
            else if (f->s_dims[i] != x->dims[i])
                return kp_error_set(err, KP_EINVAL,
                                    "wrong shape: data samples are %s but model input '%s' "
                                    "needs dimension %d = %lld",
                                    ds_shape, in->name, i + 1, (long long)f->s_dims[i]);
    }
    f->s_rank = r;
    int rc = kp_shape_numel(r, f->s_dims, &f->s_numel, err);
    if (rc) return rc;
    kp_shape_str(r, f->s_dims, m_shape, sizeof m_shape);
    if (f->s_numel != x->numel)
        return kp_error_set(err, KP_EINVAL,
                            "wrong shape: data samples are %s (%lld values) but model input "
                            "'%s' expects N x %s (%lld values per sample)",
                            ds_shape, (long long)x->numel, in->name, m_shape,
                            (long long)f->s_numel);
    f->nhwc = ds->pre.layout == KP_LAYOUT_NHWC;
    if (f->nhwc && r != 3)
        return kp_error_set(err, KP_EINVAL,
                            "layout nhwc needs a model input of rank 4 (N,C,H,W); '%s' is N x %s",
                            in->name, m_shape);
    if (f->nhwc && x->rank == 3 &&
        (x->dims[0] != f->s_dims[1] || x->dims[1] != f->s_dims[2] || x->dims[2] != f->s_dims[0]))
        return kp_error_set(err, KP_EINVAL,
                            "wrong shape: NHWC samples %s do not match model input '%s' N x %s "
                            "(expected %lldx%lldx%lld)",
                            ds_shape, in->name, m_shape, (long long)f->s_dims[1],
                            (long long)f->s_dims[2], (long long)f->s_dims[0]);
    int64_t channels = r >= 1 ? f->s_dims[0] : 1;
    if ((ds->pre.n_mean > 1 && (int64_t)ds->pre.n_mean != channels) ||
        (ds->pre.n_std > 1 && (int64_t)ds->pre.n_std != channels))
        return kp_error_set(err, KP_EINVAL,
                            "mean/std give %zu/%zu values but model input '%s' has %lld "
                            "channels (give 1 or %lld)",
                            ds->pre.n_mean, ds->pre.n_std, in->name, (long long)channels,
                            (long long)channels);
    int64_t bd[KP_MAX_RANK + 1];
    bd[0] = (int64_t)ds->batch;
    memcpy(bd + 1, f->s_dims, sizeof(int64_t) * (size_t)r);
    kp_tensor_free(f->cur);
    free(f->raw);
    f->raw = NULL;
    f->cur = kp_tensor_new(mt, r + 1, bd, err);
    if (!f->cur) return err ? err->code : KP_ENOMEM;
    if (kp_tensor_set_name(f->cur, in->name)) return kp_error_set(err, KP_ENOMEM, "out of memory");
    f->name = f->cur->name;
    f->raw = malloc(ds->batch * (size_t)f->s_numel * sizeof(double));
    if (!f->raw) return kp_error_set(err, KP_ENOMEM, "out of memory for a batch of %zu", ds->batch);
    f->dtype = mt;
    return 0;
}

static int find_feed(const kp_dataset *ds, const char *name) {
    for (size_t i = 0; i < ds->n_feeds; i++)
        if (ds->feeds[i].entry && !strcmp(ds->feeds[i].entry, name)) return (int)i;
    return -1;
}

/* Puts the feeds for the model's inputs first, in input order; frees the rest. */
static int order_feeds(kp_dataset *ds, const kp_value_info *const *ins, size_t n_in,
                       kp_error *err) {
    feed picked[KP_DATA_MAX_INPUTS];
    int used[KP_DATA_MAX_INPUTS] = {0};
    if (n_in == 1) {
        int k = find_feed(ds, ins[0]->name);
        if (k < 0) k = 0; /* the first array, whatever its name */
        picked[0] = ds->feeds[k];
        used[k] = 1;
    } else {
        char missing[512] = "", have[512] = "";
        for (size_t i = 0; i < ds->n_feeds; i++) {
            size_t l = strlen(have);
            snprintf(have + l, sizeof have - l, "%s%s", i ? ", " : "",
                     ds->feeds[i].entry ? ds->feeds[i].entry : "?");
        }
        for (size_t i = 0; i < n_in; i++) {
            int k = find_feed(ds, ins[i]->name);
            if (k < 0 || used[k]) {
                size_t l = strlen(missing);
                snprintf(missing + l, sizeof missing - l, "%s%s", l ? ", " : "", ins[i]->name);
                continue;
            }
            picked[i] = ds->feeds[k];
            used[k] = 1;
        }
        if (missing[0])
            return kp_error_set(err, KP_EINVAL,
                                "%s: the model's inputs %s have no array of that name (arrays: "
                                "%s); name npz entries after the model's inputs",
                                ds->path, missing, have);
        if (!pre_identity(&ds->pre))
            return kp_error_set(err, KP_EUNSUPPORTED,
                                "scale/mean/std are for single-input models; store the inputs "
                                "of a %zu-input model preprocessed",
                                n_in);
    }
    for (size_t i = 0; i < ds->n_feeds; i++)
        if (!used[i]) {
            kp_src_free(ds->feeds[i].x);
            free(ds->feeds[i].entry);
            kp_tensor_free(ds->feeds[i].cur);
            free(ds->feeds[i].raw);
        }
    memset(ds->feeds, 0, sizeof ds->feeds);
    memcpy(ds->feeds, picked, n_in * sizeof *picked);
    ds->n_feeds = n_in;
    return 0;
}

int kp_dataset_bind(kp_dataset *ds, const kp_model *m, kp_error *err) {
    const kp_graph *g = m->graph;
    const kp_value_info *ins[KP_DATA_MAX_INPUTS];
    size_t n_in = 0;
    for (size_t i = 0; i < g->n_inputs; i++) {
        if (is_init(g, g->inputs[i].name)) continue;
        if (n_in == KP_DATA_MAX_INPUTS)
            return kp_error_set(err, KP_EUNSUPPORTED, "the model has more than %d inputs",
                                KP_DATA_MAX_INPUTS);
        ins[n_in++] = &g->inputs[i];
    }
    ds->n_model_inputs = n_in;
    if (!n_in) return kp_error_set(err, KP_EINVAL, "the model has no inputs to feed");
    if (ds->pb) {
        ds->bound = 1; /* shapes are checked per folder against what the model declares */
        return 0;
    }
    if (n_in > 1 && ds->format != KP_DATA_NPZ)
        return kp_error_set(err, KP_EUNSUPPORTED,
                            "the model has %zu inputs; %s data feeds one: use an .npz with one "
                            "array per input (named after it) or ONNX test folders",
                            n_in, kp_data_format_name(ds->format));
    int rc;
    if (ds->bound) {
        /* Re-binding (another model): feeds are already one per input. */
        if (ds->n_feeds != n_in)
            return kp_error_set(err, KP_EINVAL, "data set bound to a model with %zu inputs",
                                ds->n_feeds);
    } else if ((rc = order_feeds(ds, ins, n_in, err))) {
        return rc;
    }
    /* Sample counts of the chosen arrays and labels. */
    size_t n = ds->feeds[0].x->n;
    for (size_t i = 1; i < n_in; i++)
        if (ds->feeds[i].x->n != n)
            return kp_error_set(err, KP_EFORMAT, "%s has %zu samples but %s has %zu",
                                ds->feeds[0].x->what, n, ds->feeds[i].x->what, ds->feeds[i].x->n);
    if (ds->y && ds->y->n != n)
        return kp_error_set(err, KP_EFORMAT, "%s has %zu samples but %s has %zu labels",
                            ds->feeds[0].x->what, n, ds->y->what, ds->y->n);
    if (!n) return kp_error_set(err, KP_EFORMAT, "%s: no samples", ds->feeds[0].x->what);
    ds->n = ds->limit && ds->limit < n ? ds->limit : n;
    int64_t b0 = ins[0]->type.kind == KP_TYPE_TENSOR && ins[0]->type.rank >= 1
                     ? ins[0]->type.dims[0].value
                     : -1;
    if (b0 == 0)
        return kp_error_set(err, KP_EINVAL, "model input '%s' has batch size 0", ins[0]->name);
    ds->fixed_batch = b0 > 0;
    if (b0 > 0)
        ds->batch = (size_t)b0;
    else if (ds->batch > ds->n)
        ds->batch = ds->n; /* no buffers larger than the data */
    for (size_t i = 0; i < n_in; i++)
        if ((rc = bind_feed(ds, &ds->feeds[i], ins[i], err))) return rc;
    free(ds->lab_raw);
    free(ds->labels);
    ds->lab_raw = ds->y ? malloc(ds->batch * (size_t)ds->y->numel * sizeof(double)) : NULL;
    ds->labels = malloc(ds->batch * sizeof(int64_t));
    if (!ds->labels || (ds->y && !ds->lab_raw))
        return kp_error_set(err, KP_ENOMEM, "out of memory for a batch of %zu", ds->batch);
    ds->bound = 1;
    return 0;
}

/* Converts sample s (raw doubles, stored layout) into row s of the feed's batch tensor. */
static void convert_sample(const kp_preproc *p, feed *f, size_t s, const double *src) {
    int64_t n = f->s_numel;
    int64_t C = f->s_rank >= 1 ? f->s_dims[0] : 1;
    int64_t inner = C ? n / C : 0; /* values per channel (NCHW) */
    if (f->dtype == KP_FLOAT) {
        float *dst = (float *)f->cur->data + s * (size_t)n;
        float scale = (float)p->scale;
        for (int64_t c = 0; c < C; c++) {
            float mean = p->n_mean ? p->mean[p->n_mean == 1 ? 0 : c] : 0.0f;
            float sd = p->n_std ? p->std[p->n_std == 1 ? 0 : c] : 1.0f;
            for (int64_t i = 0; i < inner; i++) {
                /* NHWC source index of (c, h, w) = (h*W + w)*C + c with i = h*W + w. */
                double raw = f->nhwc ? src[i * C + c] : src[c * inner + i];
                float v = (float)raw;
                if (p->scale != 1.0) v = v * scale;
                if (p->n_mean) v = v - mean;
                if (p->n_std) v = v / sd;
                dst[c * inner + i] = v;
            }
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t c = i / (inner ? inner : 1), k = i % (inner ? inner : 1);
        double raw = f->nhwc ? src[k * C + c] : src[i];
        double v = raw * p->scale;
        if (p->n_mean) v -= p->mean[p->n_mean == 1 ? 0 : c];
        if (p->n_std) v /= p->std[p->n_std == 1 ? 0 : c];
        size_t at = s * (size_t)n + (size_t)i;
        switch (f->dtype) {
        case KP_DOUBLE: ((double *)f->cur->data)[at] = v; break;
        case KP_UINT8: ((uint8_t *)f->cur->data)[at] = (uint8_t)v; break;
        case KP_INT8: ((int8_t *)f->cur->data)[at] = (int8_t)v; break;
        case KP_INT32: ((int32_t *)f->cur->data)[at] = (int32_t)v; break;
        default: ((int64_t *)f->cur->data)[at] = (int64_t)v; break;
        }
    }
}

static int check_int_range(const feed *f, size_t count, kp_error *err) {
    if (is_float(f->dtype)) return 0;
    double lo = f->dtype == KP_UINT8 ? 0 : f->dtype == KP_INT8 ? -128 : -9.2e18;
    double hi = f->dtype == KP_UINT8   ? 255
                : f->dtype == KP_INT8  ? 127
                : f->dtype == KP_INT32 ? 2147483647.0
                                       : 9.2e18;
    for (size_t i = 0; i < count * (size_t)f->s_numel; i++)
        if (f->raw[i] < lo || f->raw[i] > hi || f->raw[i] != floor(f->raw[i]))
            return kp_error_set(err, KP_ERANGE, "%s: value %g does not fit model input dtype %s",
                                f->x->what, f->raw[i], kp_dtype_name(f->dtype));
    return 0;
}

/* Reads the samples idx[0..count) (ascending) into the current batch. */
static int read_indices(kp_dataset *ds, const size_t *idx, size_t count, kp_batch *out,
                        kp_error *err) {
    if (!ds->bound)
        return kp_error_set(err, KP_EINVAL, "data set not bound to a model (kp_dataset_bind)");
    if (count > ds->batch) return kp_error_set(err, KP_ERANGE, "batch larger than allocated");
    size_t i = 0;
    int rc = 0;
    while (i < count) {
        size_t j = i + 1;
        while (j < count && idx[j] == idx[j - 1] + 1) j++;
        for (size_t k = 0; k < ds->n_feeds && !rc; k++) {
            feed *f = &ds->feeds[k];
            rc = f->x->read(f->x, idx[i], j - i, f->raw + i * (size_t)f->s_numel, err);
        }
        if (!rc && ds->y)
            rc = ds->y->read(ds->y, idx[i], j - i, ds->lab_raw + i * (size_t)ds->y->numel, err);
        if (rc) return rc;
        i = j;
    }
    size_t rows = ds->fixed_batch ? ds->batch : count;
    for (size_t k = 0; k < ds->n_feeds; k++) {
        feed *f = &ds->feeds[k];
        if ((rc = check_int_range(f, count, err))) return rc;
        size_t es = kp_dtype_size(f->dtype), per = (size_t)f->s_numel * es;
        f->cur->dims[0] = (int64_t)rows;
        f->cur->numel = (int64_t)rows * f->s_numel;
        f->cur->nbytes = (size_t)f->cur->numel * es;
        if (rows > count) memset((char *)f->cur->data + count * per, 0, (rows - count) * per);
        for (size_t s = 0; s < count; s++)
            convert_sample(&ds->pre, f, s, f->raw + s * (size_t)f->s_numel);
        ds->in_view[k] = f->cur;
    }
    if (ds->y) {
        size_t k = (size_t)ds->y->numel;
        for (size_t s = 0; s < count; s++) {
            const double *l = ds->lab_raw + s * k;
            double v = l[0];
            if (k > 1) { /* one-hot or scores: the arg max is the class */
                size_t best = 0;
                for (size_t c = 1; c < k; c++)
                    if (l[c] > l[best]) best = c;
                v = (double)best;
            }
            if (!(v >= 0) || v != floor(v) || v > 2147483647.0)
                return kp_error_set(err, KP_EFORMAT,
                                    "%s: label %g of sample %zu is not a class index "
                                    "(a non-negative integer)",
                                    ds->y->what, v, idx[s]);
            ds->labels[s] = (int64_t)v;
        }
    }
    memset(out, 0, sizeof *out);
    out->n = count;
    out->n_inputs = ds->n_feeds;
    out->inputs = ds->in_view;
    out->labels = ds->y ? ds->labels : NULL;
    return 0;
}

static void preprocess_tensor(const kp_preproc *p, kp_tensor *t) {
    if (t->dtype != KP_FLOAT || pre_identity(p)) return;
    float *d = t->data;
    int64_t C = t->rank >= 2 ? t->dims[1] : 1, N = t->rank >= 1 ? t->dims[0] : 1;
    int64_t inner = (N && C) ? t->numel / N / C : 0;
    for (int64_t nn = 0; nn < N; nn++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t i = 0; i < inner; i++) {
                float *v = &d[(nn * C + c) * inner + i];
                if (p->scale != 1.0) *v = *v * (float)p->scale;
                if (p->n_mean) *v = *v - p->mean[p->n_mean == 1 ? 0 : (c % (int64_t)p->n_mean)];
                if (p->n_std) *v = *v / p->std[p->n_std == 1 ? 0 : (c % (int64_t)p->n_std)];
            }
}

static int read_folder(kp_dataset *ds, size_t i, kp_batch *out, kp_error *err) {
    kp_tensorv_free(ds->pb_in, ds->pb_n_in);
    kp_tensorv_free(ds->pb_out, ds->pb_n_out);
    ds->pb_in = ds->pb_out = NULL;
    ds->pb_n_in = ds->pb_n_out = 0;
    int rc = kp_pbset_load(ds->pb, i, &ds->pb_in, &ds->pb_n_in, &ds->pb_out, &ds->pb_n_out, err);
    if (rc) return rc;
    if (ds->pb_n_in != ds->n_model_inputs)
        return kp_error_set(err, KP_EINVAL, "test data set %zu has %zu inputs, the model %zu", i,
                            ds->pb_n_in, ds->n_model_inputs);
    for (size_t k = 0; k < ds->pb_n_in; k++) preprocess_tensor(&ds->pre, ds->pb_in[k]);
    memset(out, 0, sizeof *out);
    out->n = 1;
    out->n_inputs = ds->pb_n_in;
    out->inputs = (const kp_tensor *const *)ds->pb_in;
    out->n_refs = ds->pb_n_out;
    out->refs = (const kp_tensor *const *)ds->pb_out;
    return 0;
}

int kp_dataset_batch(kp_dataset *ds, size_t i, kp_batch *out, kp_error *err) {
    if (!ds->bound)
        return kp_error_set(err, KP_EINVAL, "data set not bound to a model (kp_dataset_bind)");
    if (i >= kp_dataset_n_batches(ds))
        return kp_error_set(err, KP_ERANGE, "batch %zu of %zu", i, kp_dataset_n_batches(ds));
    if (ds->pb) return read_folder(ds, i, out, err);
    size_t start = i * ds->batch, count = ds->n - start < ds->batch ? ds->n - start : ds->batch;
    size_t *idx = malloc(count * sizeof *idx);
    if (!idx) return kp_error_set(err, KP_ENOMEM, "out of memory");
    for (size_t k = 0; k < count; k++) idx[k] = start + k;
    int rc = read_indices(ds, idx, count, out, err);
    free(idx);
    return rc;
}

/* ---- calibration adapter ----------------------------------------------------------------- */

typedef struct calib_state {
    kp_calib c;
    kp_dataset *ds;
    size_t *idx; /* ascending sample (or folder) indices of the subset */
    size_t n;
    kp_batch cur;
} calib_state;

static int calib_get(kp_calib *c, size_t b, const kp_tensor *const **inputs, const int64_t **labels,
                     size_t *batch_size, kp_error *err) {
    calib_state *s = (calib_state *)c->user;
    if (b >= c->n_batches)
        return kp_error_set(err, KP_ERANGE, "calibration batch %zu of %zu", b, c->n_batches);
    int rc;
    if (s->ds->pb) {
        rc = read_folder(s->ds, s->idx[b], &s->cur, err);
    } else {
        size_t start = b * s->ds->batch;
        size_t count = s->n - start < s->ds->batch ? s->n - start : s->ds->batch;
        rc = read_indices(s->ds, s->idx + start, count, &s->cur, err);
    }
    if (rc) return rc;
    *inputs = s->cur.inputs;
    if (labels) *labels = s->cur.labels;
    if (batch_size) *batch_size = s->cur.n;
    return 0;
}

/* Fills s as the subset idx[0..n) (ascending sample indices, owned by s) of ds. */
static kp_calib *calib_init(calib_state *s, kp_dataset *ds, size_t *idx, size_t n) {
    s->ds = ds;
    s->idx = idx;
    s->n = n;
    s->c.n_samples = n;
    s->c.n_batches = ds->pb ? n : (n + ds->batch - 1) / ds->batch;
    s->c.user = s;
    s->c.get = calib_get;
    return &s->c;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

int kp_dataset_calib_new(kp_dataset *ds, size_t n, uint64_t seed, kp_calib **out, kp_error *err) {
    *out = NULL;
    if (!ds->bound)
        return kp_error_set(err, KP_EINVAL, "data set not bound to a model (kp_dataset_bind)");
    size_t total = ds->n;
    if (!n || n > total) n = total;
    calib_state *s = calloc(1, sizeof *s);
    size_t *all = malloc(total * sizeof *all);
    if (!s || !all) {
        free(s);
        free(all);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < total; i++) all[i] = i;
    if (seed && n < total) {
        uint64_t st = seed;
        for (size_t i = 0; i < n; i++) { /* partial Fisher-Yates */
            size_t j = i + (size_t)(splitmix64(&st) % (total - i));
            size_t t = all[i];
            all[i] = all[j];
            all[j] = t;
        }
        qsort(all, n, sizeof *all, cmp_size);
    }
    *out = calib_init(s, ds, all, n);
    return 0;
}

/* The samples of a (ascending indices) not in b (ascending, or NULL = none) as a new calib. */
static int subset_minus(kp_dataset *ds, const calib_state *a, const calib_state *b, size_t total,
                        kp_calib **out, kp_error *err) {
    size_t na = a ? a->n : total, nb = b ? b->n : 0;
    calib_state *s = calloc(1, sizeof *s);
    size_t *idx = malloc((na ? na : 1) * sizeof *idx);
    if (!s || !idx) {
        free(s);
        free(idx);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    size_t k = 0, j = 0; /* both ascending: walk both */
    for (size_t t = 0; t < na; t++) {
        size_t i = a ? a->idx[t] : t;
        while (j < nb && b->idx[j] < i) j++;
        if (j < nb && b->idx[j] == i) continue;
        idx[k++] = i;
    }
    *out = calib_init(s, ds, idx, k);
    return 0;
}

int kp_dataset_holdout_new(kp_dataset *ds, const kp_calib *calib, kp_calib **out, kp_error *err) {
    *out = NULL;
    const calib_state *cs = (const calib_state *)calib->user;
    if (cs->ds != ds) return kp_error_set(err, KP_EINVAL, "calibration subset of another data set");
    if (ds->n - cs->n == 0)
        return kp_error_set(err, KP_ERANGE,
                            "all %zu samples are used for calibration: none is left to measure "
                            "accuracy on (lower the calibration sample count)",
                            ds->n);
    return subset_minus(ds, NULL, cs, ds->n, out, err);
}

int kp_dataset_calib_minus_new(kp_dataset *ds, const kp_calib *a, const kp_calib *b, kp_calib **out,
                               kp_error *err) {
    *out = NULL;
    const calib_state *as = (const calib_state *)a->user, *bs = (const calib_state *)b->user;
    if (as->ds != ds || bs->ds != ds)
        return kp_error_set(err, KP_EINVAL, "subsets of another data set");
    int rc = subset_minus(ds, as, bs, ds->n, out, err);
    if (!rc && !(*out)->n_samples) {
        kp_dataset_calib_free(*out);
        *out = NULL;
        return kp_error_set(err, KP_ERANGE, "no sample is left after removing %zu of %zu", bs->n,
                            as->n);
    }
    return rc;
}

void kp_dataset_calib_free(kp_calib *c) {
    if (!c) return;
    calib_state *s = (calib_state *)c->user;
    free(s->idx);
    free(s);
}

uint64_t kp_dataset_calib_hash(const kp_calib *c) {
    const calib_state *s = (const calib_state *)c->user;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < s->n; i++) {
        uint64_t v = s->idx[i];
        for (int b = 0; b < 8; b++) {
            h ^= (v >> (8 * b)) & 0xff;
            h *= 1099511628211ull;
        }
    }
    return h;
}

/* ---- projects ---------------------------------------------------------------------------- */

static char *resolve(const char *dir, const char *p) {
    if (!p) return NULL;
    if (p[0] == '/' || !dir) return kp_strdup_or_null(p);
    size_t n = strlen(dir) + strlen(p) + 2;
    char *r = malloc(n);
    if (r) snprintf(r, n, "%s/%s", dir, p);
    return r;
}

int kp_dataset_opts_from_spec(const kp_data_spec *spec, const char *dir, kp_dataset_opts *o,
                              char **path, char **labels, kp_error *err) {
    *path = *labels = NULL;
    if (!spec->path || !*spec->path)
        return kp_error_set(err, KP_EINVAL, "the project names no test data (data.path)");
    if (spec->format && *spec->format && kp_data_format_parse(spec->format, &o->format))
        return kp_error_set(err, KP_EINVAL,
                            "project data.format '%s' is not one of npy, npz, idx, csv, onnx-pb",
                            spec->format);
    if (spec->n_mean > KP_DATA_MAX_CHANNELS || spec->n_std > KP_DATA_MAX_CHANNELS)
        return kp_error_set(err, KP_ERANGE, "too many mean/std values");
    o->pre.scale = spec->scale;
    o->pre.n_mean = spec->n_mean;
    o->pre.n_std = spec->n_std;
    for (size_t i = 0; i < spec->n_mean; i++) o->pre.mean[i] = (float)spec->mean[i];
    for (size_t i = 0; i < spec->n_std; i++) o->pre.std[i] = (float)spec->std[i];
    o->pre.layout = !strcmp(spec->layout, "nhwc") ? KP_LAYOUT_NHWC : KP_LAYOUT_NCHW;
    if (spec->eval_limit > 0) o->limit = (size_t)spec->eval_limit;
    *path = resolve(dir, spec->path);
    if (spec->labels && *spec->labels) *labels = resolve(dir, spec->labels);
    if (!*path || (spec->labels && *spec->labels && !*labels)) {
        free(*path);
        free(*labels);
        *path = *labels = NULL;
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    o->labels = *labels;
    return 0;
}

int kp_dataset_open_project(const kp_project *p, size_t batch, kp_dataset **out, kp_error *err) {
    *out = NULL;
    kp_dataset_opts o;
    kp_dataset_opts_init(&o);
    if (batch) o.batch = batch;
    char *path = NULL, *labels = NULL;
    int rc = kp_dataset_opts_from_spec(&p->data, p->dir, &o, &path, &labels, err);
    if (!rc) rc = kp_dataset_open(path, &o, out, err);
    free(path);
    free(labels);
    return rc;
}
