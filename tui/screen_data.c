/* Step 3: the labelled test data: data file (or folder) and labels file pickers, the detected
 * format, a preview, and the preprocessing fields (scale, mean/std, layout, sample counts). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/ui.h"

enum { PICK_NONE = 0, PICK_DATA, PICK_LABELS };

static struct {
    int picking;
    kp_picker pk;
    kp_list list; /* rows below */
} S;

enum { ROW_DATA, ROW_LABELS, ROW_PREP, ROW_COUNT };

static int done(const kp_app *a) {
    return a->proj && a->proj->data.path && a->proj->data.path[0];
}

static void enter(kp_app *a) {
    S.picking = PICK_NONE;
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
        kp_put(r.y, r.x + 1, r.w - 2, KP_ROLE_TITLE,
               S.picking == PICK_DATA ? "Choose the test data (.npy .npz IDX .gz .csv, or a folder "
                                        "of input_K.pb: its ./ row)"
                                      : "Choose the labels file (Esc: none)");
        kp_picker_draw(&S.pk, (kp_rect){r.y + 1, r.x + 1, r.h - 1, r.w - 2});
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
    snprintf(prep, sizeof prep, "scale %g  mean [%s]  std [%s]", d->scale,
             fmt_list(d->mean, d->n_mean, b, sizeof b), fmt_list(d->std, d->n_std, m, sizeof m));
    snprintf(prep2, sizeof prep2, "layout %s  calibrate on %lld  evaluate %s",
             d->layout[0] ? d->layout : "nchw", (long long)d->calib_samples,
             d->eval_limit > 0 ? "a subset" : "all");
    rows[ROW_PREP] = prep;
    for (int i = 0; i < ROW_COUNT; i++) {
        int y = r.y + i * 2, sel = i == S.list.sel;
        if (sel) kp_fill(y, r.x, r.w, KP_ROLE_SELECTED);
        kp_put(y, r.x + 1, 14, sel ? KP_ROLE_SELECTED : KP_ROLE_TITLE, labels[i]);
        (i == ROW_PREP ? kp_put : kp_put_tail)(y, r.x + 16, r.w - 17,
                                               sel ? KP_ROLE_SELECTED : KP_ROLE_NORMAL, rows[i]);
    }
    kp_put(r.y + ROW_PREP * 2 + 1, r.x + 16, r.w - 17, KP_ROLE_NORMAL, prep2);
    int y = r.y + ROW_COUNT * 2 + 1;
    kp_putf(y++, r.x + 1, r.w - 2, KP_ROLE_NORMAL, "Format: %s",
            d->format ? d->format : "detected by the loader from the file");
    kp_put(y++, r.x + 1, r.w - 2, KP_ROLE_TITLE, "Preview");
    kp_wrap(y, r.x + 1, r.w - 2, r.y + r.h - y, KP_ROLE_WARN,
            "The data preview (sample count, shape, label histogram, one sample drawn here) "
            "needs core/dataset.c, which is not in this build yet. The choices above are saved "
            "in the project and used by the run.");
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

static void chose(kp_app *a, const char *path) {
    int which = S.picking;
    S.picking = PICK_NONE;
    char **dst = which == PICK_DATA ? &a->proj->data.path : &a->proj->data.labels;
    if (kp_app_setstr(dst, path)) return;
    if (which == PICK_DATA && kp_app_setstr(&a->proj->data.format, NULL)) return;
    if (!kp_app_save_project(a))
        kp_app_msg(a, KP_ROLE_OK, "%s saved in the project",
                   which == PICK_DATA ? "data" : "labels");
}

static int key(kp_app *a, kp_action act, int ch, int is_key) {
    if (!a->proj) return KP_UNHANDLED;
    if (S.picking) {
        char out[8192];
        if (act == KP_ACT_BACK && !S.pk.filter.len) {
            if (S.picking == PICK_LABELS) {
                kp_app_setstr(&a->proj->data.labels, NULL);
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
        if (kp_picker_click(&S.pk, r, row - 1, out, sizeof out) == 1) chose(a, out);
        return KP_DRAW_ALL;
    }
    if (row % 2 == 0 && row / 2 < ROW_COUNT) {
        if (S.list.sel == row / 2) return key(a, KP_ACT_ENTER, 0, 0);
        S.list.sel = row / 2;
    }
    return KP_DRAW_SCREEN;
}

static const kp_help help[] = {
    {KP_ACT_ENTER, "choose the file / edit preprocessing", 1},
    {KP_ACT_UP, "previous row", 0},
    {KP_ACT_DOWN, "next row", 0},
    {KP_ACT_BACK, "picker: clear the filter or close (labels: none)", 0},
    {KP_ACT_LEFT, "picker: parent folder", 0},
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
    .done = done,
};
