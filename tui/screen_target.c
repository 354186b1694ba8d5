/* Step 4: the target profiles grouped by class (CPU, GPU, MCU, edge); the highlighted one's
 * RAM, flash, compute and precisions; whether the model as it is fits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/ui.h"

static struct {
    int order[512]; /* display order: target index, or -1 - class for a heading */
    int n;
    kp_list list; /* over targets only: index into order via pos[] */
    int pos[512];
    int npos;
} S;

static int done(const kp_app *a) {
    return a->proj && a->proj->target_id && a->proj->target_id[0];
}

static void build(kp_app *a) {
    S.n = S.npos = 0;
    for (int c = 0; c < KP_TARGET_CLASS_COUNT; c++) {
        int any = 0;
        for (size_t i = 0; i < a->n_targets && S.n < 510; i++) {
            if ((int)a->targets[i].cls != c) continue;
            if (!any) S.order[S.n++] = -1 - c;
            any = 1;
            S.pos[S.npos++] = S.n;
            S.order[S.n++] = (int)i;
        }
    }
    S.list.n = S.npos;
}

static void enter(kp_app *a) {
    kp_app_load_targets(a);
    build(a);
    S.list.sel = 0;
    if (a->proj && a->proj->target_id)
        for (int k = 0; k < S.npos; k++)
            if (!strcmp(a->targets[S.order[S.pos[k]]].id, a->proj->target_id)) S.list.sel = k;
}

static const kp_target *selected(kp_app *a) {
    if (!S.npos) return NULL;
    return &a->targets[S.order[S.pos[S.list.sel]]];
}

static void precs(unsigned m, char *buf, size_t len) {
    snprintf(buf, len, "%s%s%s", m & KP_PREC_FP32 ? "fp32 " : "", m & KP_PREC_FP16 ? "fp16 " : "",
             m & KP_PREC_INT8 ? "int8" : "");
}

static void details(kp_app *a, const kp_target *t, kp_rect r) {
    char b1[32], b2[32], p[64];
    int y = r.y;
    y += kp_wrap(y, r.x, r.w, 2, KP_ROLE_TITLE, t->name);
    kp_putf(y++, r.x, r.w, KP_ROLE_MUTED, "%s  (%s)", t->id, kp_target_class_name(t->cls));
    kp_putf(y++, r.x, r.w, KP_ROLE_NORMAL, "RAM       %s",
            t->ram_bytes ? kp_fmt_bytes((double)t->ram_bytes, b1) : "no limit");
    kp_putf(y++, r.x, r.w, KP_ROLE_NORMAL, "Storage   %s",
            t->storage_bytes ? kp_fmt_bytes((double)t->storage_bytes, b1) : "no limit");
    kp_putf(y++, r.x, r.w, KP_ROLE_NORMAL, "fp32      %.3g GFLOP/s", t->fp32_gflops);
    if (t->fp16_gflops > 0)
        kp_putf(y++, r.x, r.w, KP_ROLE_NORMAL, "fp16      %.4g GFLOP/s", t->fp16_gflops);
    if (t->int8_gops > 0)
        kp_putf(y++, r.x, r.w, KP_ROLE_NORMAL, "int8      %.4g GOP/s", t->int8_gops);
    kp_putf(y++, r.x, r.w, KP_ROLE_NORMAL, "Memory    %.3g GB/s", t->mem_bw_gbs);
    kp_putf(y++, r.x, r.w, KP_ROLE_NORMAL, "Power     %.3g W", t->power_w);
    precs(t->precisions, p, sizeof p);
    kp_putf(y++, r.x, r.w, KP_ROLE_NORMAL, "Precision %s", p);
    if (t->isa[0]) kp_putf(y++, r.x, r.w, KP_ROLE_NORMAL, "ISA       %s", t->isa);
    y++;
    if (!a->model) {
        kp_put(y++, r.x, r.w, KP_ROLE_MUTED, "Fits? choose a model first (step 2)");
    } else {
        kp_target_estimate e;
        kp_error err = {0};
        if (kp_target_estimate_model(t, a->model, 0, &e, &err)) {
            kp_wrap(y, r.x, r.w, 2, KP_ROLE_BAD, err.msg);
            y += 2;
        } else {
            if (e.unknown_values && e.fits_ram)
                kp_putf(y++, r.x, r.w, KP_ROLE_WARN,
                        "RAM   unknown: needs at least %s (%zu activation sizes unknown)",
                        kp_fmt_bytes((double)e.ram_bytes, b1), e.unknown_values);
            else
                kp_putf(y++, r.x, r.w, e.fits_ram ? KP_ROLE_OK : KP_ROLE_BAD, "RAM   %s: needs %s",
                        e.fits_ram ? "fits" : "DOES NOT FIT",
                        kp_fmt_bytes((double)e.ram_bytes, b1));
            kp_putf(y++, r.x, r.w, e.fits_flash ? KP_ROLE_OK : KP_ROLE_BAD, "Flash %s: needs %s",
                    e.fits_flash ? "fits" : "DOES NOT FIT",
                    kp_fmt_bytes((double)e.flash_bytes, b2));
            char lat[128];
            snprintf(lat, sizeof lat, "Latency ~%s  %.3g mJ (estimated)",
                     kp_fmt_ms(e.latency_s * 1000, b1), e.energy_j * 1000);
            y += kp_wrap(y, r.x, r.w, 2, KP_ROLE_NORMAL, lat);
        }
    }
    if (t->source[0] && y < r.y + r.h)
        kp_wrap(y + 1, r.x, r.w, r.y + r.h - y - 1, KP_ROLE_MUTED, t->source);
}

static void draw(kp_app *a, kp_rect r) {
    if (a->targets_err[0]) {
        kp_put(r.y, r.x + 1, r.w - 2, KP_ROLE_BAD, "The target profiles could not be loaded:");
        kp_wrap(r.y + 2, r.x + 1, r.w - 2, r.h - 2, KP_ROLE_BAD, a->targets_err);
        return;
    }
    int lw = 20;
    int sel_row = S.npos ? S.pos[S.list.sel] : 0;
    int top = sel_row >= r.h ? sel_row - r.h + 1 : 0;
    for (int i = 0; i < r.h && top + i < S.n; i++) {
        int o = S.order[top + i], y = r.y + i;
        if (o < 0) {
            kp_put(y, r.x + 1, lw, KP_ROLE_TITLE, kp_target_class_name((kp_target_class)(-1 - o)));
            continue;
        }
        int sel = top + i == sel_row;
        int cur = a->proj && a->proj->target_id && !strcmp(a->proj->target_id, a->targets[o].id);
        if (sel) kp_fill(y, r.x, lw + 1, KP_ROLE_SELECTED);
        kp_putf(y, r.x + 1, lw,
                sel   ? KP_ROLE_SELECTED
                : cur ? KP_ROLE_OK
                      : KP_ROLE_NORMAL,
                "%s %s", cur ? kp_g()->done : " ", a->targets[o].id);
    }
    const kp_target *t = selected(a);
    if (t) details(a, t, (kp_rect){r.y, r.x + lw + 3, r.h, r.w - lw - 4});
    if (!a->proj)
        kp_put(r.y + r.h - 1, r.x + 1, r.w - 2, KP_ROLE_WARN, "Open a project to choose.");
}

static int choose(kp_app *a) {
    const kp_target *t = selected(a);
    if (!t || !a->proj) {
        kp_app_msg(a, KP_ROLE_WARN, "open a project first (step 1)");
        return KP_DRAW_ALL;
    }
    if (kp_app_setstr(&a->proj->target_id, t->id)) return KP_DRAW_ALL;
    if (!kp_app_save_project(a))
        kp_app_msg(a, KP_ROLE_OK, "target %s saved; Tab: next step (goals)", t->id);
    return KP_DRAW_ALL;
}

static int key(kp_app *a, kp_action act, int ch, int is_key) {
    if (kp_list_key(&S.list, act, 10)) return KP_DRAW_SCREEN;
    if (act == KP_ACT_ENTER || act == KP_ACT_TOGGLE) return choose(a);
    return KP_UNHANDLED;
}

static int click(kp_app *a, kp_rect r, int row, int col) {
    if (col > 21) return KP_UNHANDLED;
    int sel_row = S.npos ? S.pos[S.list.sel] : 0;
    int top = sel_row >= r.h ? sel_row - r.h + 1 : 0;
    for (int k = 0; k < S.npos; k++)
        if (S.pos[k] == top + row) {
            if (k == S.list.sel) return choose(a);
            S.list.sel = k;
        }
    return KP_DRAW_SCREEN;
}

static const kp_help help[] = {
    {KP_ACT_ENTER, "use this target", "use target"},
    {KP_ACT_UP, "previous target", NULL},
    {KP_ACT_DOWN, "next target", NULL},
};

const kp_screen kp_screen_target = {
    .name = "Target",
    .help = help,
    .n_help = sizeof help / sizeof *help,
    .enter = enter,
    .draw = draw,
    .key = key,
    .click = click,
    .done = done,
};
