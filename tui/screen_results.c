/* Step 8: the final before/after table with ratios and coloured deltas, bar charts, a
 * per-layer view of the weights (size, precision, sparsity before/after), the run history of
 * the project side by side, the output paths, and s to save a summary report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/report.h"
#include "tui/ui.h"

enum { VIEW_SUMMARY, VIEW_LAYERS, VIEW_HISTORY, VIEW_COUNT };

static struct {
    int view;
    int scroll;
    kp_model *out; /* the compressed model, for the per-layer view */
    char out_path[8192];
    char out_err[512];
    char task_err[600];
    int shown;   /* the per-layer view was drawn with the task's result */
    int loading; /* the layer task is loading out_path */
} S;

static const kp_run_record *last_run(const kp_app *a) {
    if (!a->proj) return NULL;
    for (size_t i = a->proj->n_runs; i > 0; i--)
        if (a->proj->runs[i - 1].status == 0) return &a->proj->runs[i - 1];
    return NULL;
}

static int done(const kp_app *a) {
    return last_run(a) != NULL;
}

static void leave(kp_app *a) {
    if (S.out) kp_model_free(S.out);
    S.out = NULL;
    S.out_path[0] = 0;
    S.task_err[0] = 0;
    S.loading = 0;
    kp_layer_task_leave();
}

static void enter(kp_app *a) {
    S.scroll = 0;
}

static void bars(kp_rect r, int y, const char *name, double b, double f, const char *bt,
                 const char *ft, int lower_better) {
    double mx = b > f ? b : f;
    if (!(mx > 0)) return;
    int w = r.w - 32;
    kp_put(y, r.x + 1, 12, KP_ROLE_TITLE, name);
    kp_put(y, r.x + 14, 7, KP_ROLE_MUTED, "before");
    kp_bar(y, r.x + 21, w, b / mx, KP_ROLE_MUTED);
    kp_put(y, r.x + 22 + w, 10, KP_ROLE_NORMAL, bt);
    kp_put(y + 1, r.x + 14, 7, KP_ROLE_MUTED, "after");
    int better = lower_better ? f <= b : f >= b;
    kp_bar(y + 1, r.x + 21, w, f / mx, better ? KP_ROLE_OK : KP_ROLE_BAD);
    kp_put(y + 1, r.x + 22 + w, 10, KP_ROLE_NORMAL, ft);
}

static void line(kp_rect r, int y, const char *name, double b, double f, int lower_better,
                 const char *unit) {
    char bt[32], ft[32], ratio[32] = "", delta[32] = "";
    if (!strcmp(unit, "B"))
        kp_fmt_bytes(b, bt), kp_fmt_bytes(f, ft);
    else if (!strcmp(unit, "ms"))
        kp_fmt_ms(b, bt), kp_fmt_ms(f, ft);
    else if (!strcmp(unit, "%"))
        snprintf(bt, 32, "%.2f%%", b), snprintf(ft, 32, "%.2f%%", f);
    else
        snprintf(bt, 32, b < 100 ? "%.3f %s" : "%.0f %s", b, unit),
            snprintf(ft, 32, f < 100 ? "%.3f %s" : "%.0f %s", f, unit);
    kp_role role = KP_ROLE_MUTED;
    if (!strcmp(unit, "%")) {
        kp_fmt_change(f - b, 2, " pts", delta);
        role = f - b < -0.005 ? KP_ROLE_BAD : f - b > 0.005 ? KP_ROLE_OK : KP_ROLE_MUTED;
    } else if (b > 0 && f > 0) {
        snprintf(ratio, sizeof ratio, "x%.2f", f / b);
        kp_fmt_change((f - b) / b * 100, 1, "%", delta);
        int better = lower_better ? f < b * 0.995 : f > b * 1.005;
        int worse = lower_better ? f > b * 1.005 : f < b * 0.995;
        role = better ? KP_ROLE_OK : worse ? KP_ROLE_BAD : KP_ROLE_MUTED;
    }
    if (b < 0) snprintf(bt, 32, "n/a");
    if (f < 0) snprintf(ft, 32, "n/a");
    kp_putf(y, r.x + 1, r.w - 2, KP_ROLE_NORMAL, "%-14s %10s %10s %6s", name, bt, ft, ratio);
    kp_put(y, r.x + 45, r.w - 46, role, delta);
}

static void draw_summary(kp_app *a, const kp_run_record *rr, kp_rect r) {
    const kp_metrics_row *b = &rr->before, *f = &rr->after;
    int y = r.y;
    kp_putf(y++, r.x + 1, r.w - 2, KP_ROLE_TITLE, "%-14s %10s %10s %6s  %s",
            rr->id ? rr->id : "run", "before", "after", "ratio", "change");
    line(r, y++, "file size", b->file_bytes, f->file_bytes, 1, "B");
    line(r, y++, "gzip size", b->gzip_bytes, f->gzip_bytes, 1, "B");
    line(r, y++, "latency here", b->host_latency_ms, f->host_latency_ms, 1, "ms");
    line(r, y++, "latency target", b->target_latency_ms, f->target_latency_ms, 1, "ms");
    line(r, y++, "top-1", b->top1, f->top1, 0, "%");
    line(r, y++, "RAM", b->ram_bytes, f->ram_bytes, 1, "B");
    line(r, y++, "energy/inf.", b->energy_mj, f->energy_mj, 1, "mJ");
    kp_putf(y++, r.x + 1, r.w - 2, f->fits_ram && f->fits_flash ? KP_ROLE_OK : KP_ROLE_BAD,
            "fits the target: RAM %s, flash %s", f->fits_ram ? "yes" : "no",
            f->fits_flash ? "yes" : "no");
    char x1[32], x2[32];
    int last = r.y + r.h - 2; /* two lines for the paths */
    if (y + 1 < last) {
        bars(r, y, "size", b->file_bytes, f->file_bytes, kp_fmt_bytes(b->file_bytes, x1),
             kp_fmt_bytes(f->file_bytes, x2), 1);
        y += 2;
    }
    if (y + 1 < last && b->host_latency_ms > 0) {
        bars(r, y, "latency", b->host_latency_ms, f->host_latency_ms,
             kp_fmt_ms(b->host_latency_ms, x1), kp_fmt_ms(f->host_latency_ms, x2), 1);
        y += 2;
    }
    if (y + 1 < last && b->top1 >= 0) {
        snprintf(x1, 32, "%.2f%%", b->top1);
        snprintf(x2, 32, "%.2f%%", f->top1);
        bars(r, y, "accuracy", b->top1, f->top1, x1, x2, 0);
        y += 2;
    }
    y = last;
    kp_put(y, r.x + 1, 8, KP_ROLE_MUTED, "model:");
    kp_put_tail(y++, r.x + 9, r.w - 10, KP_ROLE_MUTED,
                rr->output_model ? kp_app_path(a, rr->output_model) : "-");
    kp_put(y, r.x + 1, 8, KP_ROLE_MUTED, "report:");
    kp_put_tail(y, r.x + 9, r.w - 10, KP_ROLE_MUTED, rr->report ? kp_app_path(a, rr->report) : "-");
}

static void draw_history(kp_app *a, kp_rect r) {
    int y = r.y;
    kp_putf(y++, r.x + 1, r.w - 2, KP_ROLE_TITLE, "%-9s %-9s %9s %8s %8s %5s", "run", "status",
            "size", "latency", "top-1", "steps");
    size_t n = a->proj->n_runs;
    int h = r.h - 1;
    if (S.scroll > (int)n - h) S.scroll = (int)n - h;
    if (S.scroll < 0) S.scroll = 0;
    for (int i = 0; i < h && (size_t)(S.scroll + i) < n; i++) {
        const kp_run_record *rr = &a->proj->runs[n - 1 - (size_t)(S.scroll + i)];
        char s1[32] = "-", s2[32] = "-", s3[32] = "-";
        kp_role role = rr->status == 0 ? KP_ROLE_NORMAL : KP_ROLE_MUTED;
        /* A run that did not finish measured nothing: "-", not "0 B" or "0.00%". */
        if (!rr->status && rr->after.file_bytes > 0) kp_fmt_bytes(rr->after.file_bytes, s1);
        if (!rr->status && rr->after.host_latency_ms > 0) kp_fmt_ms(rr->after.host_latency_ms, s2);
        if (!rr->status && rr->after.top1 >= 0) snprintf(s3, sizeof s3, "%.2f%%", rr->after.top1);
        kp_putf(y++, r.x + 1, r.w - 2, role, "%-9s %-9s %9s %8s %8s %5zu", rr->id ? rr->id : "?",
                rr->status == 0               ? "ok"
                : rr->status == KP_ECANCELLED ? "cancelled"
                                              : "failed",
                s1, s2, s3, rr->n_steps);
    }
}

static int same(const char *x, const char *y) {
    return x && y && x[0] && !strcmp(x, y);
}

/* The compressed model's layer that the original's layer k became: the one with the same node
 * name, else the same weight name, else (names unknown) the one at the same position; -1 when
 * it is gone. */
static long match(const kp_layer *l0, const kp_layer *L1, size_t n1, size_t k) {
    for (size_t j = 0; j < n1; j++)
        if (same(l0->n->name, L1[j].n->name)) return (long)j;
    for (size_t j = 0; j < n1; j++)
        if (same(l0->w->name, L1[j].w->name)) return (long)j;
    if (k < n1 && !(l0->n->name && l0->n->name[0]) && !(L1[k].n->name && L1[k].n->name[0]))
        return (long)k;
    return -1;
}

/* 1 when the compressed graph still has a node of this name: the layer is there, its weights
 * stored in a form the table does not read as one tensor (codebook, int8 with scales...). */
static int node_kept(const kp_graph *g, const char *name) {
    if (!name || !name[0]) return 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i]->name && !strcmp(g->nodes[i]->name, name)) return 1;
    return 0;
}

/* Per layer (weight-holding nodes, matched in graph order): weight bytes before and after,
 * the stored precision and the fraction of zeros after. */
static void draw_layers(kp_app *a, const kp_run_record *rr, kp_rect r) {
    if (!a->model) {
        kp_put(r.y, r.x + 1, r.w - 2, KP_ROLE_WARN, "the original model is not loaded (step 2)");
        return;
    }
    static const char *const spin[] = {"|", "/", "-", "\\"};
    static unsigned k_spin;
    const char *path = rr->output_model ? kp_app_path(a, rr->output_model) : NULL;
    if (path && strcmp(path, S.out_path)) {
        /* The compressed model loads on the layer task's worker, which then computes MACs and
         * errors: the screen keeps answering keys while a large model loads. */
        if (S.out) kp_model_free(S.out);
        S.out = NULL;
        S.out_err[0] = 0;
        S.task_err[0] = 0;
        snprintf(S.out_path, sizeof S.out_path, "%s", path);
        char msg[512];
        S.loading = !kp_layer_task_start(a, path, msg, sizeof msg);
        if (!S.loading) snprintf(S.out_err, sizeof S.out_err, "%s", msg);
    }
    if (S.loading && kp_layer_task_take_model(S.out_path, &S.out, S.out_err, sizeof S.out_err))
        S.loading = 0;
    if (S.loading) {
        kp_putf(r.y, r.x + 1, r.w - 2, KP_ROLE_MUTED, "%s loading the compressed model %s...",
                spin[k_spin++ % 4], rr->output_model);
        return;
    }
    if (!S.out) {
        kp_wrap(r.y, r.x + 1, r.w - 2, 3, KP_ROLE_BAD, path ? S.out_err : "no output model");
        return;
    }
    kp_layer L0[256], L1[256];
    size_t n0 = kp_layers_of(a->model->graph, L0, 256), n1 = kp_layers_of(S.out->graph, L1, 256);
    const kp_layer_result *R = kp_layer_task_poll(S.out_path);
    S.shown = R != NULL;
    if (!R && !kp_layer_task_running()) /* the worker ended without a result */
        snprintf(S.task_err, sizeof S.task_err, "MACs and error not computed");
    int wide = r.w - 2 >= 84, y = r.y, n_encoded = 0;
    if (wide)
        kp_putf(y++, r.x + 1, r.w - 2, KP_ROLE_TITLE, "%-20s %-6s %9s %9s %8s %8s %-5s %6s %8s",
                "layer", "op", "before", "after", "MACs", "MACs aft", "as", "zeros", "error");
    else
        kp_putf(y++, r.x + 1, r.w - 2, KP_ROLE_TITLE, "%-12s %9s %9s %7s %-4s %4s %5s", "layer",
                "before", "after", "MACs", "as", "zero", "error");
    int h = r.h - 2;
    size_t n = n0;
    if (S.scroll > (int)n - h) S.scroll = (int)n - h;
    if (S.scroll < 0) S.scroll = 0;
    const char *pending = S.task_err[0] ? "-" : "...";
    for (int i = 0; i < h && (size_t)(S.scroll + i) < n; i++) {
        size_t k = (size_t)(S.scroll + i);
        long j = match(&L0[k], L1, n1, k);
        const kp_layer *l0 = &L0[k], *l1 = j >= 0 ? &L1[j] : NULL;
        double before = l0 ? (double)l0->w->nbytes + (l0->b ? (double)l0->b->nbytes : 0) : 0;
        double after = l1 ? (double)l1->w->nbytes + (l1->b ? (double)l1->b->nbytes : 0) : 0;
        const kp_layer *any = l0 ? l0 : l1;
        /* The original weight's name reads best ("features.4.weight"). */
        const char *name = any->w->name ? any->w->name : any->n->name ? any->n->name : "?";
        /* Every row is a weight: "features.11" reads better than a cut "features.11.". */
        char nm[128];
        snprintf(nm, sizeof nm, "%s", name);
        size_t nl = strlen(nm);
        if (nl > 7 && !strcmp(nm + nl - 7, ".weight")) nm[nl - 7] = 0;
        name = nm;
        const char *gone = l0 && node_kept(S.out->graph, l0->n->name) ? "encoded" : "removed";
        if (!l1 && !strcmp(gone, "encoded")) n_encoded++;
        const char *dt = l1 ? kp_dtype_name(l1->w->dtype) : "-";
        if (!strcmp(dt, "float32"))
            dt = "fp32";
        else if (!strcmp(dt, "float16"))
            dt = "fp16";
        char s0[32], s1[32], m0[32] = "?", m1[32] = "?", e[32];
        snprintf(m0, sizeof m0, "%s", pending);
        snprintf(m1, sizeof m1, "%s", pending);
        snprintf(e, sizeof e, "%s", pending);
        if (R && k < R->n) {
            if (R->macs0[k] >= 0)
                kp_fmt_count((double)R->macs0[k], m0);
            else
                snprintf(m0, sizeof m0, "?");
            if (j >= 0 && (size_t)j < R->n && R->macs1[j] >= 0)
                kp_fmt_count((double)R->macs1[j], m1);
            else
                snprintf(m1, sizeof m1, l1 ? "?" : "-");
            if (R->err[k] == R->err[k])
                snprintf(e, sizeof e, wide ? "%.1e" : "%.0e", R->err[k]);
            else
                snprintf(e, sizeof e, "-");
        }
        kp_role role = l1 && after < before ? KP_ROLE_OK : KP_ROLE_NORMAL;
        /* Zeros are only known for a weight read as one tensor: "-" otherwise, not "0%". */
        char zs[16] = "-";
        if (l1)
            snprintf(zs, sizeof zs, wide ? "%.1f%%" : "%.0f%%", kp_layer_zero_frac(l1->w) * 100);
        if (wide)
            kp_putf(y++, r.x + 1, r.w - 2, role, "%-20.20s %-6.6s %9s %9s %8s %8s %-5.5s %6s %8s",
                    name, any->n->op_type, l0 ? kp_fmt_bytes(before, s0) : "-",
                    l1 ? kp_fmt_bytes(after, s1) : gone, m0, m1, dt, zs, e);
        else
            kp_putf(y++, r.x + 1, r.w - 2, role, "%-12.12s %9s %9s %7s %-4.4s %4s %5s", name,
                    l0 ? kp_fmt_bytes(before, s0) : "-", l1 ? kp_fmt_bytes(after, s1) : gone, m1,
                    dt, zs, e);
    }
    if (n_encoded && y < r.y + r.h - 2)
        kp_wrap(y + 1, r.x + 1, r.w - 2, r.y + r.h - 2 - (y + 1), KP_ROLE_MUTED,
                "encoded: the layer is kept; its weights are stored in another form (codebook, "
                "int8 with scales...), counted in the file size of the summary.");
    char foot[400];
    if (S.task_err[0])
        snprintf(foot, sizeof foot, "%s", S.task_err);
    else if (!R)
        snprintf(foot, sizeof foot, "%s computing MACs and per-layer error...", spin[k_spin++ % 4]);
    else {
        char t0[32] = "?", t1[32] = "?";
        if (R->total0 >= 0) kp_fmt_count((double)R->total0, t0);
        if (R->total1 >= 0) kp_fmt_count((double)R->total1, t1);
        snprintf(foot, sizeof foot, "MACs %s -> %s; %s; Up/Down scroll", t0, t1, R->err_note);
    }
    kp_put(r.y + r.h - 1, r.x + 1, r.w - 2, KP_ROLE_MUTED, foot);
}

static void draw(kp_app *a, kp_rect r) {
    if (!a->proj) {
        kp_app_notice(r, "Open a project first", "Step 1 (Project): open or create a project.");
        return;
    }
    const kp_run_record *rr = last_run(a);
    if (!rr) {
        kp_app_notice(r, "No results yet",
                      a->proj->n_runs ? "The runs of this project did not finish (cancelled or "
                                        "failed); press v for the history, or run again (step 7)."
                                      : "Run the plan first (step 7).");
        if (a->proj->n_runs && S.view == VIEW_HISTORY)
            draw_history(a, (kp_rect){r.y + 6, r.x, r.h - 6, r.w});
        return;
    }
    static const char *const names[VIEW_COUNT] = {"summary", "per layer", "history"};
    kp_rect body = {r.y + 1, r.x, r.h - 1, r.w};
    int x = r.x + 1;
    for (int i = 0; i < VIEW_COUNT; i++)
        x += kp_putf(r.y, x, r.w - (x - r.x), i == S.view ? KP_ROLE_SELECTED : KP_ROLE_MUTED,
                     " %s ", names[i]) +
             1;
    if (S.view == VIEW_SUMMARY)
        draw_summary(a, rr, body);
    else if (S.view == VIEW_LAYERS)
        draw_layers(a, rr, body);
    else
        draw_history(a, body);
}

/* Saves the run's report as Markdown, CSV and JSON (core/report.h) next to its model,
 * each file written atomically. */
static int save_report(kp_app *a) {
    const kp_run_record *rr = last_run(a);
    if (!rr) return KP_DRAW_NONE;
    char dir[8192];
    snprintf(dir, sizeof dir, "%s/runs/%s", a->proj->dir, rr->id ? rr->id : "last");
    for (int f = 0; f < KP_REPORT_FORMAT_COUNT; f++) {
        char path[8300];
        snprintf(path, sizeof path, "%s/report.%s", dir, kp_report_format_ext((kp_report_format)f));
        char *text = kp_report_text(a->proj, rr, (kp_report_format)f);
        kp_error err = {0};
        if (!text) {
            kp_app_msg(a, KP_ROLE_BAD, "could not make the report (out of memory?)");
            return KP_DRAW_ALL;
        }
        int rc = kp_write_file_atomic(path, text, strlen(text), &err);
        free(text);
        if (rc) {
            kp_app_msg(a, KP_ROLE_BAD, "could not save %s: %s", path, err.msg);
            return KP_DRAW_ALL;
        }
    }
    kp_app_msg(a, KP_ROLE_OK, "report saved: runs/%s/report.md (.csv .json)",
               rr->id ? rr->id : "last");
    return KP_DRAW_ALL;
}

static int key(kp_app *a, kp_action act, int ch, int is_key) {
    if (!a->proj) return KP_UNHANDLED;
    switch (act) {
    case KP_ACT_VIEW:
    case KP_ACT_RIGHT: S.view = (S.view + 1) % VIEW_COUNT, S.scroll = 0; return KP_DRAW_SCREEN;
    case KP_ACT_LEFT:
        S.view = (S.view + VIEW_COUNT - 1) % VIEW_COUNT, S.scroll = 0;
        return KP_DRAW_SCREEN;
    case KP_ACT_UP: S.scroll--; return KP_DRAW_SCREEN;
    case KP_ACT_DOWN: S.scroll++; return KP_DRAW_SCREEN;
    case KP_ACT_SAVE: return save_report(a);
    default: return KP_UNHANDLED;
    }
}

/* Redraws while the per-layer numbers are being computed, and once when they arrive. */
static int tick(kp_app *a) {
    (void)a;
    if (S.view != VIEW_LAYERS) return 0;
    return kp_layer_task_running() || (!S.shown && kp_layer_task_poll(S.out_path));
}

static const kp_help help[] = {
    {KP_ACT_VIEW, "next view: summary, per layer, history", "view"},
    {KP_ACT_SAVE, "save the report", "save report"},
    {KP_ACT_DOWN, "scroll", NULL},
    {KP_ACT_LEFT, "previous view", NULL},
};

const kp_screen kp_screen_results = {
    .name = "Results",
    .help = help,
    .n_help = sizeof help / sizeof *help,
    .enter = enter,
    .leave = leave,
    .draw = draw,
    .key = key,
    .tick = tick,
    .done = done,
};
