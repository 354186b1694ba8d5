/* Step 3: the labelled test data: data file (or folder) and labels file pickers, the detected
 * format, a preview, and the preprocessing fields (scale, mean/std, layout, sample counts). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dataset.h"
#include "tui/ui.h"

enum { PICK_NONE = 0, PICK_DATA, PICK_LABELS };

#define HIST_MAX 16
#define IMG_MAX  4096

/* What the loader says about the chosen data, computed when the choice changes. */
typedef struct preview {
    int valid;          /* computed for the current spec */
    char err[1024];     /* the data could not be opened */
    char fit_err[1024]; /* opened, but does not fit the model's input */
    char fmt[16], shape[64];
    size_t n, n_hist;
    int has_labels, n_classes;
    size_t hist[HIST_MAX];
    int img_w, img_h; /* first sample after preprocessing (one channel), 0 = none */
    float img[IMG_MAX];
} preview;

static struct {
    int picking;
    int pick_top; /* rows the picker's title took (the picker starts below them) */
    kp_picker pk;
    kp_list list; /* rows below */
    preview pv;
    unsigned gen; /* bumped whenever the preview goes out of date */
} S;

/* The preview is computed on a worker thread (reading a big data set takes a while) from its
 * own copies: the resolved paths, the options and a clone of the model. */
static struct {
    pthread_t th;
    int started;
    atomic_int finished;
    unsigned gen; /* of the spec it works on */
    char path[8192], labels[8192];
    kp_dataset_opts o;
    kp_model *m; /* NULL: no model chosen */
    preview out;
} W;

static void invalidate(void) {
    S.pv.valid = 0;
    S.gen++;
}

static void to_opts(const kp_data_spec *d, kp_dataset_opts *o) {
    kp_dataset_opts_init(o);
    if (d->format) kp_data_format_parse(d->format, &o->format);
    o->labels = d->labels;
    if (d->scale > 0) o->pre.scale = d->scale;
    o->pre.n_mean = d->n_mean < 8 ? d->n_mean : 8;
    o->pre.n_std = d->n_std < 8 ? d->n_std : 8;
    for (size_t i = 0; i < o->pre.n_mean; i++) o->pre.mean[i] = (float)d->mean[i];
    for (size_t i = 0; i < o->pre.n_std; i++) o->pre.std[i] = (float)d->std[i];
    o->pre.layout = !strcmp(d->layout, "nhwc") ? KP_LAYOUT_NHWC : KP_LAYOUT_NCHW;
    o->batch = 256;
}

/* Opens the data, binds it to the model, reads up to 2048 labels for the histogram and keeps
 * the first sample for the picture. Bounded: a few batches at most. Runs on the worker. */
static void *compute_preview(void *arg) {
    (void)arg;
    preview *v = &W.out;
    memset(v, 0, sizeof *v);
    v->valid = 1;
    kp_dataset *ds = NULL;
    kp_error err = {0};
    if (kp_dataset_open(W.path, &W.o, &ds, &err)) {
        snprintf(v->err, sizeof v->err, "%s", err.msg);
        atomic_store(&W.finished, 1);
        return NULL;
    }
    snprintf(v->fmt, sizeof v->fmt, "%s", kp_data_format_name(kp_dataset_format(ds)));
    kp_dataset_sample_shape(ds, v->shape, sizeof v->shape);
    v->n = kp_dataset_n_samples(ds);
    v->has_labels = kp_dataset_has_labels(ds);
    if (!W.m) {
        snprintf(v->fit_err, sizeof v->fit_err, "choose a model (step 2) to check the data fits");
    } else if (kp_dataset_bind(ds, W.m, &err)) {
        snprintf(v->fit_err, sizeof v->fit_err, "%s", err.msg);
    } else {
        for (size_t b = 0; b < kp_dataset_n_batches(ds) && v->n_hist < 2048; b++) {
            kp_batch bt;
            if (kp_dataset_batch(ds, b, &bt, &err)) {
                snprintf(v->fit_err, sizeof v->fit_err, "reading batch %zu: %s", b, err.msg);
                break;
            }
            if (b == 0 && bt.n_inputs && bt.inputs[0]->dtype == KP_FLOAT &&
                bt.inputs[0]->rank == 4) {
                const kp_tensor *t = bt.inputs[0];
                int h = (int)t->dims[2], w = (int)t->dims[3];
                if (h > 0 && w > 0 && (int64_t)h * w <= IMG_MAX) {
                    v->img_h = h, v->img_w = w;
                    memcpy(v->img, t->data, (size_t)h * (size_t)w * sizeof(float));
                }
            }
            for (size_t i = 0; bt.labels && i < bt.n; i++, v->n_hist++) {
                int64_t l = bt.labels[i];
                if (l >= 0 && l < HIST_MAX) v->hist[l]++;
                if (l + 1 > v->n_classes) v->n_classes = (int)(l + 1 < 1 << 20 ? l + 1 : 1 << 20);
            }
        }
    }
    kp_dataset_free(ds);
    atomic_store(&W.finished, 1);
    return NULL;
}

/* Waits for the worker and drops its model. */
static void preview_join(void) {
    if (!W.started) return;
    pthread_join(W.th, NULL);
    W.started = 0;
    kp_model_free(W.m);
    W.m = NULL;
}

void kp_data_preview_end(void) {
    preview_join();
}

/* Starts the worker on the current spec; on failure the preview says why. */
static void preview_start(kp_app *a) {
    const kp_data_spec *d = &a->proj->data;
    to_opts(d, &W.o);
    snprintf(W.path, sizeof W.path, "%s", kp_app_path(a, d->path));
    if (d->labels) {
        snprintf(W.labels, sizeof W.labels, "%s", kp_app_path(a, d->labels));
        W.o.labels = W.labels;
    }
    kp_app_load_model(a);
    kp_error err = {0};
    W.m = a->model ? kp_model_clone(a->model, &err) : NULL;
    W.gen = S.gen;
    atomic_store(&W.finished, 0);
    if ((a->model && !W.m) || pthread_create(&W.th, NULL, compute_preview, NULL)) {
        kp_model_free(W.m);
        W.m = NULL;
        memset(&S.pv, 0, sizeof S.pv);
        S.pv.valid = 1;
        snprintf(S.pv.err, sizeof S.pv.err, "cannot preview the data: %s",
                 err.msg[0] ? err.msg : "no thread");
        return;
    }
    W.started = 1;
}

/* 1 while the preview is being computed (after adopting a finished one). */
static int preview_update(kp_app *a) {
    if (S.pv.valid || !a->proj || !a->proj->data.path || !a->proj->data.path[0]) return 0;
    if (W.started && !atomic_load(&W.finished)) return 1;
    if (W.started) {
        preview_join();
        if (W.gen == S.gen) {
            S.pv = W.out;
            return 0;
        }
    }
    preview_start(a);
    return !S.pv.valid;
}

static int tick(kp_app *a) {
    if (S.pv.valid || !W.started) return 0;
    preview_update(a);
    return 1;
}

/* The first sample as shading, 2 pixel rows per text row, scaled down to fit h x w cells. */
static void draw_image(const preview *v, int y, int x, int h, int w) {
    static const char *const utf[] = {" ", "░", "▒", "▓", "█"};
    static const char *const asc[] = {" ", ".", ":", "+", "#", "@"};
    int utf8 = kp_g()->eighths != NULL;
    int levels = utf8 ? 5 : 6;
    int f = 1;
    while (v->img_w / f > w || v->img_h / (2 * f) > h) f++;
    float lo = v->img[0], hi = v->img[0];
    for (int i = 0; i < v->img_w * v->img_h; i++) {
        if (v->img[i] < lo) lo = v->img[i];
        if (v->img[i] > hi) hi = v->img[i];
    }
    if (!(hi > lo)) hi = lo + 1;
    for (int r = 0; r < v->img_h / (2 * f); r++) {
        for (int c = 0; c < v->img_w / f; c++) {
            double sum = 0;
            int cnt = 0;
            for (int dy = 0; dy < 2 * f; dy++)
                for (int dx = 0; dx < f; dx++) {
                    int py = r * 2 * f + dy, px = c * f + dx;
                    if (py < v->img_h && px < v->img_w) sum += v->img[py * v->img_w + px], cnt++;
                }
            double g = cnt ? (sum / cnt - lo) / (hi - lo) : 0;
            int k = (int)(g * (levels - 1) + 0.5);
            if (k < 0) k = 0;
            if (k >= levels) k = levels - 1;
            kp_put(y + r, x + c, 1, KP_ROLE_NORMAL, utf8 ? utf[k] : asc[k]);
        }
    }
}

static void draw_preview(kp_app *a, kp_rect r, int y) {
    preview *v = &S.pv;
    int x = r.x + 1, w = r.w - 2, end = r.y + r.h;
    if (!a->proj->data.path || !a->proj->data.path[0]) return;
    if (preview_update(a)) {
        static const char *const spin[] = {"|", "/", "-", "\\"};
        static unsigned k;
        kp_putf(y, x, w, KP_ROLE_WARN, "%s reading the data...", spin[k++ % 4]);
        return;
    }
    if (v->err[0]) {
        kp_put(y++, x, w, KP_ROLE_BAD, "This data could not be read:");
        kp_wrap(y, x, w, end - y, KP_ROLE_BAD, v->err);
        return;
    }
    kp_putf(y++, x, w, KP_ROLE_NORMAL, "Format %s   %zu samples of %s   %s", v->fmt, v->n, v->shape,
            v->has_labels ? "labelled" : "no labels: accuracy = agreement");
    if (v->fit_err[0]) {
        kp_put(y++, x, w, KP_ROLE_BAD, "The data does not fit the model's input:");
        kp_wrap(y, x, w, end - y, KP_ROLE_BAD, v->fit_err);
        return;
    }
    kp_put(y++, x, w, KP_ROLE_OK, "fits the model's input");
    int img_w = 0;
    if (v->img_w) {
        int f = 1;
        while (v->img_w / f > 28 || v->img_h / (2 * f) > end - y) f++;
        img_w = v->img_w / f;
    }
    int hx = x + (img_w ? img_w + 2 : 0), hw = w - (hx - x);
    if (v->img_w) draw_image(v, y, x, end - y, img_w);
    if (v->n_hist && hw > 20) {
        size_t mx = 1;
        for (int i = 0; i < HIST_MAX; i++)
            if (v->hist[i] > mx) mx = v->hist[i];
        kp_putf(y, hx, hw, KP_ROLE_MUTED, "labels (first %zu)", v->n_hist);
        for (int i = 0; i < v->n_classes && i < HIST_MAX && y + 1 + i < end; i++) {
            kp_putf(y + 1 + i, hx, 4, KP_ROLE_NORMAL, "%3d", i);
            kp_bar(y + 1 + i, hx + 4, hw - 10, (double)v->hist[i] / (double)mx, KP_ROLE_BAR);
            kp_putf(y + 1 + i, hx + hw - 5, 5, KP_ROLE_MUTED, "%5zu", v->hist[i]);
        }
    }
}

enum { ROW_DATA, ROW_LABELS, ROW_PREP, ROW_COUNT };

static int done(const kp_app *a) {
    return a->proj && a->proj->data.path && a->proj->data.path[0];
}

static void enter(kp_app *a) {
    S.picking = PICK_NONE;
    invalidate();
    S.list.n = ROW_COUNT;
}

static void leave(kp_app *a) {
    kp_picker_free(&S.pk);
    S.picking = PICK_NONE;
}

static int capture(const kp_app *a) {
    return S.picking != PICK_NONE;
}

static void start_picker(kp_app *a, int which) {
    const char *cur = which == PICK_DATA ? a->proj->data.path : a->proj->data.labels;
    char dir[8192];
    if (cur && cur[0]) {
        snprintf(dir, sizeof dir, "%s", kp_app_path(a, cur));
        char *s = strrchr(dir, '/');
        if (s && s != dir) *s = 0;
    } else if (which == PICK_LABELS && a->proj->data.path) {
        snprintf(dir, sizeof dir, "%s", kp_app_path(a, a->proj->data.path));
        char *s = strrchr(dir, '/');
        if (s && s != dir) *s = 0;
    } else {
        snprintf(dir, sizeof dir, "%s", a->proj->dir ? a->proj->dir : ".");
    }
    S.pk.dirs_ok = which == PICK_DATA;
    kp_picker_open(&S.pk, dir, NULL);
    S.picking = which;
}

static const char *fmt_list(const double *v, size_t n, char *buf, size_t len) {
    buf[0] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(buf);
        snprintf(buf + l, len - l, "%s%g", i ? "," : "", v[i]);
    }
    return buf;
}

static void draw(kp_app *a, kp_rect r) {
    if (!a->proj) {
        kp_app_notice(r, "Open a project first", "Step 1 (Project): open or create a project.");
        return;
    }
    if (S.picking) {
        /* The title names every accepted kind: two lines when narrow, never cut. */
        int th = kp_wrap(r.y, r.x + 1, r.w - 2, 2, KP_ROLE_TITLE,
                         S.picking == PICK_DATA
                             ? "Choose the test data (.npy .npz IDX .gz .csv, or a folder "
                               "of input_K.pb: its ./ row)"
                             : "Choose the labels file (Esc: none)");
        S.pick_top = th > 0 ? th : 1;
        kp_picker_draw(&S.pk, (kp_rect){r.y + S.pick_top, r.x + 1, r.h - S.pick_top, r.w - 2});
        return;
    }
    const kp_data_spec *d = &a->proj->data;
    char b[200], m[200];
    const char *rows[ROW_COUNT] = {d->path ? d->path : "(none: press Enter)",
                                   d->labels ? d->labels
                                             : "(none: accuracy = agreement with "
                                               "the original model)",
                                   NULL};
    const char *labels[ROW_COUNT] = {"Data", "Labels", "Preprocessing"};
    char prep[300], prep2[200];
    /* "mean [] std []" told a newcomer nothing: say there is no normalisation. */
    if (d->n_mean || d->n_std)
        snprintf(prep, sizeof prep, "scale %g mean [%s] std [%s]", d->scale,
                 fmt_list(d->mean, d->n_mean, b, sizeof b),
                 fmt_list(d->std, d->n_std, m, sizeof m));
    else
        snprintf(prep, sizeof prep, "scale %g, no mean/std normalisation", d->scale);
    char ev[48] = "all"; /* short: the line has 56 columns at 80x24 */
    if (d->eval_limit > 0) snprintf(ev, sizeof ev, "%lld", (long long)d->eval_limit);
    snprintf(prep2, sizeof prep2, "layout %s  calibration %lld  eval %s",
             d->layout[0] ? d->layout : "nchw", (long long)d->calib_samples, ev);
    rows[ROW_PREP] = prep;
    for (int i = 0; i < ROW_COUNT; i++) {
        int y = r.y + i * 2, sel = i == S.list.sel;
        if (sel) kp_fill(y, r.x, r.w, KP_ROLE_SELECTED);
        kp_put(y, r.x + 1, 14, sel ? KP_ROLE_SELECTED : KP_ROLE_TITLE, labels[i]);
        (i == ROW_PREP ? kp_put : kp_put_tail)(y, r.x + 16, r.w - 17,
                                               sel ? KP_ROLE_SELECTED : KP_ROLE_NORMAL, rows[i]);
    }
    kp_put(r.y + ROW_PREP * 2 + 1, r.x + 16, r.w - 17, KP_ROLE_NORMAL, prep2);
    draw_preview(a, r, r.y + ROW_COUNT * 2);
}

static int prep_submit(kp_app *a, kp_form *f) {
    kp_data_spec *d = &a->proj->data;
    char *end;
    double scale = strtod(f->val[0].buf, &end);
    if (end == f->val[0].buf || *end || !(scale > 0)) {
        snprintf(f->err, sizeof f->err,
                 "Scale must be a positive number, e.g. 0.00392157 "
                 "(1/255) for 8-bit images.");
        f->sel = 0;
        return 1;
    }
    double mean[8], std[8];
    size_t nm = 0, ns = 0;
    for (int k = 0; k < 2; k++) {
        double *dst = k ? std : mean;
        size_t *cnt = k ? &ns : &nm;
        const char *p = f->val[1 + k].buf;
        while (*p) {
            double v = strtod(p, &end);
            if (end == p || *cnt >= 8 || (k && !(v > 0))) {
                snprintf(f->err, sizeof f->err, "%s: up to 8 comma-separated numbers%s.",
                         k ? "Std" : "Mean", k ? ", each above 0" : "");
                f->sel = 1 + k;
                return 1;
            }
            dst[(*cnt)++] = v;
            p = end;
            while (*p == ',' || *p == ' ') p++;
        }
    }
    const char *lay = f->val[3].buf;
    if (strcmp(lay, "nchw") && strcmp(lay, "nhwc")) {
        snprintf(f->err, sizeof f->err, "Layout is nchw (channels first) or nhwc.");
        f->sel = 3;
        return 1;
    }
    long long calib = strtoll(f->val[4].buf, &end, 10);
    if (end == f->val[4].buf || *end || calib < 1 || calib > 1000000) {
        snprintf(f->err, sizeof f->err, "Calibration samples: a whole number from 1 to 1000000.");
        f->sel = 4;
        return 1;
    }
    long long lim = strtoll(f->val[5].buf, &end, 10);
    if (end == f->val[5].buf || *end || lim < 0) {
        snprintf(f->err, sizeof f->err, "Evaluation limit: 0 (all samples) or a positive count.");
        f->sel = 5;
        return 1;
    }
    d->scale = scale;
    memcpy(d->mean, mean, sizeof mean);
    memcpy(d->std, std, sizeof std);
    d->n_mean = nm;
    d->n_std = ns;
    memcpy(d->layout, lay, 5); /* "nchw"/"nhwc" + NUL, checked above */
    d->calib_samples = calib;
    d->eval_limit = lim;
    invalidate();
    if (!kp_app_save_project(a)) kp_app_msg(a, KP_ROLE_OK, "preprocessing saved");
    return 0;
}

static void open_prep_form(kp_app *a) {
    kp_data_spec *d = &a->proj->data;
    char v[200];
    kp_form_init(&a->form, "Preprocessing", 0);
    snprintf(v, sizeof v, "%g", d->scale > 0 ? d->scale : 1.0);
    kp_form_add(&a->form, "Scale", v,
                "Raw values are multiplied by this first (1/255 = "
                "0.00392157 for 8-bit images).");
    kp_form_add(&a->form, "Mean", fmt_list(d->mean, d->n_mean, v, sizeof v),
                "Subtracted per channel after scaling (comma list, empty = none).");
    kp_form_add(&a->form, "Std", fmt_list(d->std, d->n_std, v, sizeof v),
                "Divides per channel after the mean (comma list, empty = none).");
    kp_form_add(&a->form, "Layout", d->layout[0] ? d->layout : "nchw",
                "How the model wants images: nchw (channels first) or nhwc.");
    snprintf(v, sizeof v, "%lld", (long long)(d->calib_samples > 0 ? d->calib_samples : 256));
    kp_form_add(&a->form, "Calibration samples", v,
                "How many samples passes may use to calibrate (int8 ranges, sensitivity).");
    snprintf(v, sizeof v, "%lld", (long long)d->eval_limit);
    kp_form_add(&a->form, "Evaluation limit", v, "Samples used to measure accuracy; 0 = all.");
    kp_app_form(a, prep_submit);
}

/* IDX image files come with a labels file next to them ("...-images-idx3-ubyte" and
 * "...-labels-idx1-ubyte"): finds it. Returns 1 and fills out when it exists. */
static int labels_beside(const char *data, char *out, size_t len) {
    const char *pairs[][2] = {{"images-idx3", "labels-idx1"}, {"images", "labels"}};
    for (size_t i = 0; i < 2; i++) {
        const char *hit = strstr(data, pairs[i][0]);
        if (!hit) continue;
        snprintf(out, len, "%.*s%s%s", (int)(hit - data), data, pairs[i][1],
                 hit + strlen(pairs[i][0]));
        FILE *f = fopen(out, "rb");
        if (f) {
            fclose(f);
            return 1;
        }
    }
    return 0;
}

static int is_8bit_idx(const char *path) {
    return strstr(path, "-ubyte") != NULL || strstr(path, ".idx3") != NULL;
}

static void chose(kp_app *a, const char *path) {
    int which = S.picking;
    S.picking = PICK_NONE;
    invalidate();
    kp_data_spec *d = &a->proj->data;
    char **dst = which == PICK_DATA ? &d->path : &d->labels;
    if (kp_app_setstr(dst, path)) return;
    if (which == PICK_DATA && kp_app_setstr(&d->format, NULL)) return;
    /* Suggested defaults, said out loud: the labels file beside IDX images, 1/255 for bytes. */
    char note[600] = "", lab[8192];
    if (which == PICK_DATA && !d->labels && labels_beside(path, lab, sizeof lab) &&
        !kp_app_setstr(&d->labels, lab))
        snprintf(note, sizeof note, "; labels found beside it");
    if (which == PICK_DATA && is_8bit_idx(path) && (d->scale == 1 || d->scale <= 0)) {
        d->scale = 1.0 / 255.0;
        size_t l = strlen(note);
        snprintf(note + l, sizeof note - l, "; scale 1/255 (8-bit)");
    }
    if (!kp_app_save_project(a))
        kp_app_msg(a, KP_ROLE_OK, "%s saved%s", which == PICK_DATA ? "data" : "labels", note);
}

static int key(kp_app *a, kp_action act, int ch, int is_key) {
    if (!a->proj) return KP_UNHANDLED;
    if (S.picking) {
        char out[8192];
        if (act == KP_ACT_BACK && !S.pk.filter.len) {
            if (S.picking == PICK_LABELS) {
                kp_app_setstr(&a->proj->data.labels, NULL);
                invalidate();
                if (!kp_app_save_project(a))
                    kp_app_msg(a, KP_ROLE_STATUS,
                               "no labels: accuracy will be agreement with "
                               "the original model");
            }
            S.picking = PICK_NONE;
            return KP_DRAW_ALL;
        }
        int r = kp_picker_key(&S.pk, act, ch, is_key, out, sizeof out);
        if (r == 1) chose(a, out);
        return r == KP_UNHANDLED ? KP_UNHANDLED : KP_DRAW_ALL;
    }
    if (kp_list_key(&S.list, act, 3)) return KP_DRAW_SCREEN;
    if (act == KP_ACT_ENTER || act == KP_ACT_EDIT) {
        if (S.list.sel == ROW_PREP)
            open_prep_form(a);
        else
            start_picker(a, S.list.sel == ROW_DATA ? PICK_DATA : PICK_LABELS);
        return KP_DRAW_ALL;
    }
    return KP_UNHANDLED;
}

static int click(kp_app *a, kp_rect r, int row, int col) {
    if (!a->proj) return KP_UNHANDLED;
    if (S.picking) {
        char out[8192];
        int top = S.pick_top > 0 ? S.pick_top : 1;
        if (kp_picker_click(&S.pk, r, row - top, out, sizeof out) == 1) chose(a, out);
        return KP_DRAW_ALL;
    }
    if (row % 2 == 0 && row / 2 < ROW_COUNT) {
        if (S.list.sel == row / 2) return key(a, KP_ACT_ENTER, 0, 0);
        S.list.sel = row / 2;
    }
    return KP_DRAW_SCREEN;
}

static const kp_help help[] = {
    {KP_ACT_ENTER, "choose the file / edit preprocessing", "choose"},
    {KP_ACT_UP, "previous row", NULL},
    {KP_ACT_DOWN, "next row", NULL},
    {KP_ACT_BACK, "picker: clear the filter or close (labels: none)", NULL},
    {KP_ACT_LEFT, "picker: parent folder", NULL},
};

const kp_screen kp_screen_data = {
    .name = "Test data",
    .help = help,
    .n_help = sizeof help / sizeof *help,
    .enter = enter,
    .leave = leave,
    .draw = draw,
    .key = key,
    .click = click,
    .capture = capture,
    .tick = tick,
    .done = done,
};
