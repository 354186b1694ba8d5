/* CSV data: one sample per row, comma-separated numbers, optional header row, an optional label
 * column. Open scans the file once, checks every cell and keeps only each row's byte offset, so
 * batches re-read just their rows. Cells may be wrapped in double quotes (no embedded commas). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/dataset_src.h"

typedef struct csv_file {
    int refs;
    char *path;
    FILE *f;
    size_t ncols;
    long label_col; /* -1 none */
    size_t nrows;
    uint64_t *offs; /* byte offset of each data row */
    size_t *lineno; /* 1-based line number of each data row (for messages) */
    char *line;
    size_t cap;
} csv_file;

typedef struct csv_src {
    kp_src base;
    csv_file *cf;
    int labels; /* 1: the label column; 0: every other column */
} csv_src;

static void csv_file_unref(csv_file *cf) {
    if (!cf || --cf->refs > 0) return;
    if (cf->f) fclose(cf->f);
    free(cf->path);
    free(cf->offs);
    free(cf->lineno);
    free(cf->line);
    free(cf);
}

/* Splits line in place; cells[i] point into line. Returns the count (may exceed max). */
static size_t split(char *line, char **cells, size_t max) {
    size_t n = 0;
    char *p = line;
    for (;;) {
        char *c = strchr(p, ',');
        if (c) *c = 0;
        if (n < max) cells[n] = p;
        n++;
        if (!c) break;
        p = c + 1;
    }
    return n;
}

/* Parses a cell as a number (surrounding blanks and quotes allowed). */
static int cell_num(char *s, double *v) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    if (*s == '"' && e - s >= 2 && e[-1] == '"') {
        s++;
        *--e = 0;
    }
    if (!*s) return -1;
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *end || errno == ERANGE ? -1 : 0;
}

static void cell_trim(const char *s, char *out, size_t cap) {
    while (isspace((unsigned char)*s) || *s == '"') s++;
    size_t n = strlen(s);
    while (n && (isspace((unsigned char)s[n - 1]) || s[n - 1] == '"')) n--;
    if (n >= cap) n = cap - 1;
    memcpy(out, s, n);
    out[n] = 0;
}

static ssize_t read_line(csv_file *cf) {
    int at_start = ftello(cf->f) == 0;
    ssize_t len = getline(&cf->line, &cf->cap, cf->f);
    if (len < 0) return len;
    if (at_start && len >= 3 && !memcmp(cf->line, "\xEF\xBB\xBF", 3)) { /* UTF-8 BOM */
        memmove(cf->line, cf->line + 3, (size_t)len - 2);
        len -= 3;
    }
    while (len && (cf->line[len - 1] == '\n' || cf->line[len - 1] == '\r')) cf->line[--len] = 0;
    return len;
}

static int blank(const char *s) {
    while (isspace((unsigned char)*s)) s++;
    return !*s;
}

static int csv_scan(csv_file *cf, int header, const char *label_name, kp_error *err) {
    size_t rows_cap = 0, lineno = 0;
    char **cells = NULL;
    char **names = NULL;
    int rc = 0;
    uint64_t off = 0;
    for (;;) {
        uint64_t here = off;
        ssize_t len = read_line(cf);
        if (len < 0) break;
        lineno++;
        off = (uint64_t)ftello(cf->f);
        if (blank(cf->line)) continue;
        if (!cf->ncols) {
            /* First non-blank row: column count and header. */
            char *copy = kp_strdup_or_null(cf->line);
            if (!copy) return kp_error_set(err, KP_ENOMEM, "out of memory");
            size_t n = split(copy, NULL, 0);
            free(copy);
            cf->ncols = n;
            cells = calloc(n, sizeof *cells);
            names = calloc(n, sizeof *names);
            if (!cells || !names) {
                rc = kp_error_set(err, KP_ENOMEM, "out of memory");
                goto done;
            }
            char *hl = kp_strdup_or_null(cf->line);
            if (!hl) {
                rc = kp_error_set(err, KP_ENOMEM, "out of memory");
                goto done;
            }
            split(hl, cells, n);
            size_t text = 0;
            for (size_t c = 0; c < n; c++) {
                double v;
                char tmp[256];
                snprintf(tmp, sizeof tmp, "%s", cells[c]);
                if (cell_num(tmp, &v)) text++;
            }
            int is_header = header == 1 || (header == -1 && text == n);
            if (is_header) {
                for (size_t c = 0; c < n; c++) {
                    char tmp[256];
                    cell_trim(cells[c], tmp, sizeof tmp);
                    names[c] = kp_strdup_or_null(tmp);
                }
            }
            free(hl);
            /* Label column. */
            cf->label_col = -1;
            if (label_name && *label_name) {
                char *end;
                long idx = strtol(label_name, &end, 10);
                if (!*end && idx >= 0) {
                    if ((size_t)idx >= n) {
                        rc = kp_error_set(err, KP_EINVAL,
                                          "%s: label column %ld out of range (the file has %zu "
                                          "columns, numbered from 0)",
                                          cf->path, idx, n);
                        goto done;
                    }
                    cf->label_col = idx;
                } else {
                    for (size_t c = 0; c < n && is_header; c++)
                        if (names[c] && !strcasecmp(names[c], label_name)) cf->label_col = (long)c;
                    if (cf->label_col < 0) {
                        rc = kp_error_set(err, KP_EINVAL, "%s: no column named '%s'%s", cf->path,
                                          label_name, is_header ? "" : " (the file has no header)");
                        goto done;
                    }
                }
            } else if (is_header) {
                static const char *const auto_names[] = {"label", "labels", "class", "target", "y"};
                for (size_t c = 0; c < n && cf->label_col < 0; c++)
                    for (size_t k = 0; k < sizeof auto_names / sizeof *auto_names; k++)
                        if (names[c] && !strcasecmp(names[c], auto_names[k])) {
                            cf->label_col = (long)c;
                            break;
                        }
            }
            if (is_header) continue;
        }
        size_t n = split(cf->line, cells, cf->ncols);
        if (n != cf->ncols) {
            rc = kp_error_set(err, KP_EFORMAT, "%s: row %zu has %zu columns, expected %zu",
                              cf->path, lineno, n, cf->ncols);
            goto done;
        }
        for (size_t c = 0; c < n; c++) {
            double v;
            char shown[64];
            cell_trim(cells[c], shown, sizeof shown);
            if (cell_num(cells[c], &v)) {
                if (names && names[c])
                    rc = kp_error_set(err, KP_EFORMAT,
                                      "%s: row %zu, column %zu (%s): '%s' is not a number",
                                      cf->path, lineno, c + 1, names[c], shown);
                else
                    rc = kp_error_set(err, KP_EFORMAT,
                                      "%s: row %zu, column %zu: '%s' is not a number", cf->path,
                                      lineno, c + 1, shown);
                goto done;
            }
        }
        if (cf->nrows == rows_cap) {
            rows_cap = rows_cap ? rows_cap * 2 : 1024;
            uint64_t *no = realloc(cf->offs, rows_cap * sizeof *no);
            if (no) cf->offs = no;
            size_t *nl = realloc(cf->lineno, rows_cap * sizeof *nl);
            if (nl) cf->lineno = nl;
            if (!no || !nl) {
                rc = kp_error_set(err, KP_ENOMEM, "out of memory");
                goto done;
            }
        }
        cf->offs[cf->nrows] = here;
        cf->lineno[cf->nrows] = lineno;
        cf->nrows++;
    }
    if (ferror(cf->f))
        rc = kp_error_set(err, KP_EIO, "%s: read error", cf->path);
    else if (!cf->nrows)
        rc = kp_error_set(err, KP_EFORMAT, "%s: no data rows", cf->path);
done:
    if (names)
        for (size_t c = 0; c < cf->ncols; c++) free(names[c]);
    free(names);
    free(cells);
    return rc;
}

static int csv_read(kp_src *s, size_t start, size_t count, double *dst, kp_error *err) {
    csv_src *cs = (csv_src *)s;
    csv_file *cf = cs->cf;
    if (start > s->n || count > s->n - start)
        return kp_error_set(err, KP_ERANGE, "%s: rows %zu..%zu past the end (%zu)", s->what, start,
                            start + count, s->n);
    char **cells = malloc(cf->ncols * sizeof *cells);
    if (!cells) return kp_error_set(err, KP_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t r = 0; r < count && !rc; r++) {
        size_t row = start + r;
        if (fseeko(cf->f, (off_t)cf->offs[row], SEEK_SET) || read_line(cf) < 0) {
            rc = kp_error_set(err, KP_EIO, "%s: cannot re-read row %zu (file changed?)", cf->path,
                              cf->lineno[row]);
            break;
        }
        if (split(cf->line, cells, cf->ncols) != cf->ncols) {
            rc = kp_error_set(err, KP_EFORMAT, "%s: row %zu changed since it was checked", cf->path,
                              cf->lineno[row]);
            break;
        }
        double *o = dst + r * (size_t)s->numel;
        size_t k = 0;
        for (size_t c = 0; c < cf->ncols; c++) {
            int is_label = (long)c == cf->label_col;
            if (is_label != cs->labels) continue;
            if (cell_num(cells[c], &o[k++])) {
                rc = kp_error_set(err, KP_EFORMAT, "%s: row %zu, column %zu is not a number",
                                  cf->path, cf->lineno[row], c + 1);
                break;
            }
        }
    }
    free(cells);
    return rc;
}

static void csv_free(kp_src *s) {
    csv_src *cs = (csv_src *)s;
    csv_file_unref(cs->cf);
    free(s->what);
    free(cs);
}

static kp_src *csv_view(csv_file *cf, int labels) {
    csv_src *cs = calloc(1, sizeof *cs);
    if (!cs) return NULL;
    cs->base.what = kp_strdup_or_null(cf->path);
    if (!cs->base.what) {
        free(cs);
        return NULL;
    }
    cs->cf = cf;
    cf->refs++;
    cs->labels = labels;
    cs->base.n = cf->nrows;
    cs->base.rank = 1;
    cs->base.dims[0] = labels ? 1 : (int64_t)(cf->ncols - (cf->label_col >= 0));
    cs->base.numel = cs->base.dims[0];
    if (labels) cs->base.rank = 0;
    cs->base.dtype = KP_DOUBLE;
    cs->base.read = csv_read;
    cs->base.free = csv_free;
    return &cs->base;
}

int kp_src_csv_open(const char *path, int header, const char *label_name, kp_src **features,
                    kp_src **labels, kp_error *err) {
    *features = NULL;
    if (labels) *labels = NULL;
    csv_file *cf = calloc(1, sizeof *cf);
    if (!cf) return kp_error_set(err, KP_ENOMEM, "out of memory");
    cf->refs = 1;
    cf->label_col = -1;
    cf->path = kp_strdup_or_null(path);
    cf->f = fopen(path, "rb");
    int rc = 0;
    if (!cf->path || !cf->f) {
        rc = kp_error_set(err, KP_EIO, "%s: %s", path, cf->f ? "out of memory" : strerror(errno));
        goto done;
    }
    if ((rc = csv_scan(cf, header, label_name, err))) goto done;
    if (!labels) cf->label_col = -1; /* the caller wants every column */
    if (cf->label_col >= 0 && cf->ncols == 1 && labels) {
        rc = kp_error_set(err, KP_EFORMAT, "%s: the only column is the label column", path);
        goto done;
    }
    *features = csv_view(cf, 0);
    if (cf->label_col >= 0 && labels) *labels = csv_view(cf, 1);
    if (!*features || (cf->label_col >= 0 && labels && !*labels)) {
        kp_src_free(*features);
        *features = NULL;
        rc = kp_error_set(err, KP_ENOMEM, "out of memory");
    }
done:
    csv_file_unref(cf);
    return rc;
}

int kp_src_labels_open(const char *path, kp_src **out, kp_error *err) {
    *out = NULL;
    if (kp_has_suffix(path, ".npy")) return kp_src_npy_open(path, out, err);
    if (kp_has_suffix(path, ".gz") || kp_has_suffix(path, "-ubyte") ||
        kp_has_suffix(path, ".idx") || kp_has_suffix(path, ".idx1"))
        return kp_src_idx_open(path, out, err);
    kp_src *f = NULL;
    int rc = kp_src_csv_open(path, -1, NULL, &f, NULL, err);
    if (rc) return rc;
    if (f->numel != 1) {
        rc = kp_error_set(err, KP_EFORMAT,
                          "%s: a labels file needs one value per line, found %lld columns", path,
                          (long long)f->numel);
        kp_src_free(f);
        return rc;
    }
    *out = f;
    return 0;
}
