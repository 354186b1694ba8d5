/* Test data sets: .npy, .npz, IDX (gzipped or not), CSV, and ONNX test_data_set_N/ folders.
 *
 * A data set streams in batches: only the current batch is in memory, whatever the file's size
 * (gzip and deflate streams are re-read from the start when a batch before the current position
 * is asked for). Samples are stacked along the first dimension of the stored array (npy, npz,
 * IDX), or are CSV rows; an ONNX test folder is one "sample" per test_data_set_N holding whole
 * input tensors (its own batch dimension) and reference outputs.
 *
 * Preprocessing is declared, never hard-coded: x = (raw * scale - mean[c]) / std[c], computed in
 * float32, with c the channel of the model's NCHW input; `layout` says how the stored sample is
 * laid out (NHWC data is transposed to the model's NCHW).
 *
 * Labels come from a second file (npy/IDX/CSV or text, one integer per sample), from a CSV
 * column, from an npz entry named labels/label/y/targets, or are absent.
 *
 * Models with several inputs take an .npz with one array per input, named after the input
 * (preprocessing must then be the identity), or ONNX test folders. A single-input model takes
 * the npz array named after its input if there is one, else npz_key, else the first array.
 *
 * Usage: kp_dataset_open() -> kp_dataset_bind(model) -> kp_dataset_batch(i) for i < n_batches. */
#ifndef KP_DATASET_H
#define KP_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/graph.h"
#include "core/pass.h"
#include "core/project.h"

#define KP_DATA_MAX_CHANNELS 64

typedef enum kp_data_format {
    KP_DATA_AUTO = 0, /* from the file name / folder contents */
    KP_DATA_NPY,
    KP_DATA_NPZ,
    KP_DATA_IDX,
    KP_DATA_CSV,
    KP_DATA_ONNX_TEST, /* "onnx-pb": test_data_set_N/ folders (input_K.pb, output_K.pb) */
    KP_DATA_FORMAT_COUNT
} kp_data_format;

typedef enum kp_layout { KP_LAYOUT_NCHW = 0, KP_LAYOUT_NHWC = 1 } kp_layout;

typedef struct kp_preproc {
    double scale;  /* raw values are multiplied by this first (1.0 = none) */
    size_t n_mean; /* 0 = none, 1 = every channel, else one per channel */
    float mean[KP_DATA_MAX_CHANNELS];
    size_t n_std; /* same rules as n_mean */
    float std[KP_DATA_MAX_CHANNELS];
    kp_layout layout; /* layout of the stored samples (rank-3 samples only) */
} kp_preproc;

typedef struct kp_dataset_opts {
    kp_data_format format;
    const char *labels;       /* labels file, or NULL */
    const char *label_column; /* CSV: column name or 0-based index; NULL = a header column named
                                 label/labels/class/target/y if any, else no label column */
    int csv_header;           /* CSV: -1 = detect (a first row of text cells), 0 = no, 1 = yes */
    const char *npz_key;      /* npz: entry holding the inputs; NULL = by input name (above) */
    size_t batch;             /* samples per batch; 0 = 64 */
    size_t limit;             /* use at most this many samples; 0 = all */
    kp_preproc pre;
} kp_dataset_opts;

/* Fills opts with defaults: auto format, batch 64, scale 1, no mean/std, NCHW, CSV header
 * detection. */
void kp_dataset_opts_init(kp_dataset_opts *opts);
/* Names: auto npy npz idx csv onnx-pb (parse also takes "onnx-test"). */
const char *kp_data_format_name(kp_data_format f);
int kp_data_format_parse(const char *s, kp_data_format *f); /* 0 or KP_EINVAL */

/* Parses "0.5,0.4,0.3" into vals (at most KP_DATA_MAX_CHANNELS); sets *n. */
int kp_preproc_parse_list(const char *s, float *vals, size_t *n, kp_error *err);

typedef struct kp_dataset kp_dataset;

/* Opens path (a file, or a folder of test_data_set_N/ or one such folder). Headers, sizes and
 * label counts are checked here, so a truncated file or a label count mismatch fails at once.
 * Returns owned *out. */
int kp_dataset_open(const char *path, const kp_dataset_opts *opts, kp_dataset **out, kp_error *err);
void kp_dataset_free(kp_dataset *ds);

size_t kp_dataset_n_samples(const kp_dataset *ds);
int kp_dataset_has_labels(const kp_dataset *ds);
int kp_dataset_has_reference(const kp_dataset *ds); /* ONNX test folders with output_K.pb */
kp_data_format kp_dataset_format(const kp_dataset *ds);
/* Stored shape of one sample ("28x28") into buf; returns buf. */
char *kp_dataset_sample_shape(const kp_dataset *ds, char *buf, size_t cap);

/* Checks the data against the model's graph inputs (count, element count, dtype, layout,
 * channel count of mean/std) and fixes the batch shape. Must be called before batches are read.
 * m is borrowed for the call only. */
int kp_dataset_bind(kp_dataset *ds, const kp_model *m, kp_error *err);

size_t kp_dataset_n_batches(const kp_dataset *ds);

typedef struct kp_batch {
    /* samples in this batch: the first n rows of each input (a model with a fixed batch size
     * gets zero-padded rows after them); an ONNX test folder counts as 1 whatever its shape */
    size_t n;
    size_t n_inputs; /* = model inputs */
    const kp_tensor *const *inputs;
    const int64_t *labels; /* n entries, or NULL */
    size_t n_refs;         /* reference outputs (ONNX test folders), else 0 */
    const kp_tensor *const *refs;
} kp_batch;

/* Reads batch i (0-based). The batch and its tensors are owned by ds and valid until the next
 * kp_dataset_batch() or kp_dataset_free(). */
int kp_dataset_batch(kp_dataset *ds, size_t i, kp_batch *out, kp_error *err);

/* Calibration adapter for passes (core/pass.h): a subset of `n` samples (0 = all), the first n
 * or a seeded sample when `seed` != 0, served in batches of the data set's batch size. The
 * returned kp_calib borrows ds (which must stay bound and alive); free with
 * kp_dataset_calib_free. Several calibs over one ds share its batch buffer: a get() on any of
 * them (or kp_dataset_batch) ends the life of tensors returned by the others. */
int kp_dataset_calib_new(kp_dataset *ds, size_t n, uint64_t seed, kp_calib **out, kp_error *err);
void kp_dataset_calib_free(kp_calib *c);
/* The samples of ds that calib does not use (ascending), so accuracy is never measured on the
 * data a pass was fitted to. KP_ERANGE when calib takes every sample. Free with
 * kp_dataset_calib_free. */
int kp_dataset_holdout_new(kp_dataset *ds, const kp_calib *calib, kp_calib **out, kp_error *err);
/* The samples of subset a that subset b does not use (ascending), e.g. the planner's trial
 * measuring set: calib_new(n + m) minus calib_new(n) with the same seed (a seeded subset of n
 * is always part of the subset of n + m). KP_ERANGE when nothing is left. Free with
 * kp_dataset_calib_free. */
int kp_dataset_calib_minus_new(kp_dataset *ds, const kp_calib *a, const kp_calib *b, kp_calib **out,
                               kp_error *err);
/* A stable hash of the calibration subset's sample indices (for run records). */
uint64_t kp_dataset_calib_hash(const kp_calib *c);

/* A whole .npy array as one tensor of its own dtype (float32, float64, uint8, int8, int32,
 * int64, bool; C order). Returns owned *out. For arrays too big for memory use a data set. */
int kp_npy_load(const char *path, kp_tensor **out, kp_error *err);
/* Writes t as .npy v1 (numeric dtypes above; atomically). */
int kp_npy_save(const kp_tensor *t, const char *path, kp_error *err);
/* A .npy v1 header for an array of dt and dims, into buf (cap >= 512); returns its length, 0
 * for a dtype .npy cannot hold. For writers that stream the data after it. */
size_t kp_npy_header(kp_dtype dt, int rank, const int64_t *dims, uint8_t *buf, size_t cap);

/* The data section of a project (core/project.h) as options: relative paths resolved against
 * dir; returns owned *path and *labels (NULL when none), which o->labels borrows. Other fields
 * of o are left as they were (callers may override them afterwards). */
int kp_dataset_opts_from_spec(const kp_data_spec *spec, const char *dir, kp_dataset_opts *o,
                              char **path, char **labels, kp_error *err);
/* Opens the project's test data (eval_limit applied); batch 0 = 64. */
int kp_dataset_open_project(const kp_project *p, size_t batch, kp_dataset **out, kp_error *err);

/* ---- a project's samples (core/dataset_holdout.c): the same for plan, run, compress ------ */

/* Calibration samples of a project whose data has `total` samples: data.calib_samples (512
 * when unset), at most half of total so that the rest can score. */
size_t kp_dataset_project_calib_count(const kp_project *p, size_t total);
/* The planner's trial samples for a request of n_trial: at most half of what calibration
 * leaves (so that runs keep at least as many to score). */
size_t kp_dataset_project_trial_count(const kp_project *p, size_t total, size_t n_trial);
/* The project's calibration subset: kp_dataset_project_calib_count samples drawn with p->seed
 * (the one plan and run fit passes on). KP_ERANGE when there are too few samples. */
int kp_dataset_project_calib(kp_dataset *ds, const kp_project *p, kp_calib **out, kp_error *err);
/* The planner's trial samples: kp_dataset_project_trial_count samples beyond the calibration
 * subset (the seeded subset of n_cal + n minus that of n_cal). *out is NULL (and 0 returned)
 * when there are none. */
int kp_dataset_project_trial(kp_dataset *ds, const kp_project *p, size_t n_trial, kp_calib **out,
                             kp_error *err);

/* Which samples a holdout scores. */
typedef struct kp_holdout_info {
    size_t total;      /* samples in the data set */
    size_t calibrated; /* in the calibration subset */
    size_t trial;      /* planner's trial samples left out (0 = none) */
    size_t scored;     /* in the holdout */
    uint64_t hash;     /* kp_dataset_calib_hash of the holdout: equal hashes = same samples */
} kp_holdout_info;

/* The samples a project's models are scored on: those of ds that calib (the calibration subset
 * used, normally kp_dataset_project_calib's) does not use, minus the trial samples the planner
 * measured the current plan on (p->plan_info.trial_samples, rebuilt as kp_dataset_project_trial
 * does; none when p is NULL), so that neither a fitted pass nor the plan's choice saw them.
 * Used by `run` (core/job.c) and `compress --project`. KP_ERANGE when none is left. Free *out
 * with kp_dataset_calib_free; info (optional) says which samples. */
int kp_dataset_project_holdout(kp_dataset *ds, const kp_project *p, const kp_calib *calib,
                               kp_calib **out, kp_holdout_info *info, kp_error *err);
/* One line for people: "scored on the holdout: 872 of 2000 samples (not the 256 used for
 * calibration nor the 872 the planner measured its trials on; holdout 0123456789abcdef)".
 * Returns buf. */
const char *kp_dataset_holdout_describe(const kp_holdout_info *h, char *buf, size_t cap);

#endif
