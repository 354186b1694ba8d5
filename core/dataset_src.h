/* Private to core/dataset*.c: byte streams and stacked-sample sources.
 *
 * A byte stream reads at an offset; streams that cannot seek (gzip, deflate) re-read from the
 * start when asked to go back. A source is an array of samples stacked along its first
 * dimension (npy, IDX, a CSV's columns), read into doubles a range at a time. */
#ifndef KP_DATASET_SRC_H
#define KP_DATASET_SRC_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "core/tensor.h"

typedef struct kp_bstream kp_bstream;
struct kp_bstream {
    uint64_t size; /* bytes in the stream */
    /* Reads exactly len bytes at pos; KP_EFORMAT naming the file when the stream ends early. */
    int (*read_at)(kp_bstream *s, uint64_t pos, void *buf, size_t len, kp_error *err);
    void (*close)(kp_bstream *s);
};

/* A plain file or the byte range [base, base+len) of it. Returns owned *out. */
int kp_bstream_file(const char *path, uint64_t base, uint64_t len, kp_bstream **out, kp_error *err);
/* A gzip file (or a plain one: zlib reads it through); size found by one pass at open. */
int kp_bstream_gzip(const char *path, kp_bstream **out, kp_error *err);
/* A raw-deflate range of a file (zip entry) inflating to `size` bytes. */
int kp_bstream_deflate(const char *path, uint64_t base, uint64_t clen, uint64_t size,
                       kp_bstream **out, kp_error *err);
void kp_bstream_close(kp_bstream *s);

typedef struct kp_src kp_src;
struct kp_src {
    char *what; /* "images.npy" or "data.npz:x" for messages (owned) */
    size_t n;   /* samples */
    int rank;   /* of one sample */
    int64_t dims[KP_MAX_RANK];
    int64_t numel;  /* values per sample */
    kp_dtype dtype; /* stored element type */
    /* Reads samples [start, start+count) as doubles into dst (count * numel). */
    int (*read)(kp_src *s, size_t start, size_t count, double *dst, kp_error *err);
    void (*free)(kp_src *s);
};
void kp_src_free(kp_src *s);

/* .npy over a byte stream (takes ownership of bs, also on failure). */
int kp_src_npy(kp_bstream *bs, const char *what, kp_src **out, kp_error *err);
int kp_src_npy_open(const char *path, kp_src **out, kp_error *err);
/* IDX, gzipped or not. */
int kp_src_idx_open(const char *path, kp_src **out, kp_error *err);

/* .npz: names of the entries (without ".npy"), and a source for one of them. */
typedef struct kp_npz kp_npz;
int kp_npz_open(const char *path, kp_npz **out, kp_error *err);
size_t kp_npz_count(const kp_npz *z);
const char *kp_npz_name(const kp_npz *z, size_t i);
int kp_npz_src(const kp_npz *z, size_t i, kp_src **out, kp_error *err);
void kp_npz_free(kp_npz *z);

/* CSV: `label_col` < 0 = no label column. header: -1 detect, 0 no, 1 yes. label_name: column
 * name or index text or NULL (see kp_dataset_opts). Features and labels as two sources. */
int kp_src_csv_open(const char *path, int header, const char *label_name, kp_src **features,
                    kp_src **labels, kp_error *err);
/* A labels file: .npy, IDX(.gz), or text/CSV with one integer per line. */
int kp_src_labels_open(const char *path, kp_src **out, kp_error *err);

/* ONNX test folders: `path` holds test_data_set_N/ folders or is one. */
typedef struct kp_pbset kp_pbset;
int kp_pbset_open(const char *path, kp_pbset **out, kp_error *err);
size_t kp_pbset_count(const kp_pbset *p);
/* Loads set i: owned arrays of owned tensors (input_K.pb, output_K.pb for K = 0, 1, ...). */
int kp_pbset_load(const kp_pbset *p, size_t i, kp_tensor ***in, size_t *n_in, kp_tensor ***out,
                  size_t *n_out, kp_error *err);
void kp_pbset_free(kp_pbset *p);
void kp_tensorv_free(kp_tensor **v, size_t n);

/* Common helpers */
char *kp_strdup_or_null(const char *s);
int kp_has_suffix(const char *s, const char *suffix); /* case-insensitive */

#endif
