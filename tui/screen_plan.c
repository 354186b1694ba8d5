/* Step 6: the planner's proposed passes as a table (enabled, pass, parameters, estimated
 * size/latency/accuracy change); Space toggles, Enter edits the parameters in a form made from
 * the pass's parameter table, totals re-estimate at once, r asks the planner again. The plan
 * is saved in the project after every change. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tui/ui.h"

static struct {
    kp_list list;
    char err[1024];
} S;

static int done(const kp_app *a) {
    if (!a->proj) return 0;
    for (size_t i = 0; i < a->proj->n_plan; i++)
        if (a->proj->plan[i].enabled) return 1;
    return 0;
}

static void free_steps(kp_plan_step *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(s[i].pass_id);
        free(s[i].params);
    }
    free(s);
}

static int copy_steps(const kp_plan_step *src, size_t n, kp_plan_step **out) {
    kp_plan_step *d = calloc(n ? n : 1, sizeof *d);
    if (!d) return -1;
    for (size_t i = 0; i < n; i++) {
        d[i] = src[i];
        d[i].pass_id = src[i].pass_id ? strdup(src[i].pass_id) : NULL;
        d[i].params = src[i].params ? strdup(src[i].params) : NULL;
        if ((src[i].pass_id && !d[i].pass_id) || (src[i].params && !d[i].params)) {
            free_steps(d, i + 1);
            return -1;
        }
    }
    *out = d;
    return 0;
}

/* Writes the working plan into the project and saves it. */
static void sync(kp_app *a) {
    kp_plan_step *s;
    if (copy_steps(a->plan.steps, a->plan.n, &s)) {
        kp_app_msg(a, KP_ROLE_BAD, "out of memory saving the plan");
        return;
    }
    free_steps(a->proj->plan, a->proj->n_plan);
    a->proj->plan = s;
    a->proj->n_plan = a->plan.n;
    kp_app_save_project(a);
}

static const char *prereq(kp_app *a) {
    static char buf[256];
    const char *m = kp_eng_missing(KP_MOD_PLANNER);
    if (m) return m;
    if (!a->proj) return "Open a project first (step 1).";
    kp_app_load_model(a);
    if (!a->model) return "Choose a model that loads (step 2).";
    if (!kp_app_target(a)) {
        snprintf(buf, sizeof buf, "Choose a target (step 4)%s.",
                 a->targets_err[0] ? "; the target list could not be loaded" : "");
        return buf;
    }
    return NULL;
}

static void estimate(kp_app *a) {
    kp_error err = {0};
    if (kp_planner_estimate(a->proj, a->model, kp_app_target(a), a->passes, a->n_passes, &a->plan,
                            &err))
        snprintf(S.err, sizeof S.err, "estimate failed: %s", err.msg);
    else
        S.err[0] = 0;
}

static void propose(kp_app *a) {
    kp_plan np;
    memset(&np, 0, sizeof np);
    kp_error err = {0};
    if (kp_planner_propose(a->proj, a->model, kp_app_target(a), a->passes, a->n_passes, NULL, &np,
                           &err)) {
        snprintf(S.err, sizeof S.err, "the planner failed: %s", err.msg);
        return;
    }
    if (a->have_plan) kp_plan_free(&a->plan);
    a->plan = np;
    a->have_plan = 1;
    S.err[0] = 0;
    S.list.sel = 0;
    sync(a);
    kp_app_msg(a, KP_ROLE_OK, "the planner proposed %zu step%s", np.n, np.n == 1 ? "" : "s");
}

static void enter(kp_app *a) {
    if (prereq(a)) return;
    if (a->have_plan) return;
    if (a->proj->n_plan) { /* the project's saved plan, re-estimated */
        memset(&a->plan, 0, sizeof a->plan);
        if (copy_steps(a->proj->plan, a->proj->n_plan, &a->plan.steps)) return;
        a->plan.n = a->proj->n_plan;
        a->have_plan = 1;
        estimate(a);
    } else {
        propose(a);
    }
}

static void pct(double ratio, char *buf) {
    if (!(ratio > 0))
        snprintf(buf, 16, "  -");
    else
        snprintf(buf, 16, "%+.0f%%", (ratio - 1) * 100);
}

static void draw(kp_app *a, kp_rect r) {
    const char *m = prereq(a);
    if (m) {
        kp_app_notice(r, "The plan needs a few choices first", m);
        return;
    }
    if (!a->have_plan) {
        kp_wrap(r.y + 1, r.x + 1, r.w - 2, r.h - 2, KP_ROLE_BAD,
                S.err[0] ? S.err : "No plan yet: press r to ask the planner.");
        return;
    }
    kp_plan *p = &a->plan;
    int wide = r.w >= 100;
    int y = r.y;
    kp_putf(y++, r.x + 1, r.w - 2, KP_ROLE_TITLE, "%-3s %-15s %-14s %6s %6s %6s%s", "on", "pass",
            "parameters", "size", "lat.", "acc.", wide ? "  reason" : "");
    int h = r.h - 8;
    S.list.n = (int)p->n;
    kp_list_fit(&S.list, h);
    for (int i = 0; i < h && S.list.top + i < (int)p->n; i++) {
        int k = S.list.top + i, sel = k == S.list.sel;
        const kp_plan_step *s = &p->steps[k];
        kp_role role = sel ? KP_ROLE_SELECTED : s->enabled ? KP_ROLE_NORMAL : KP_ROLE_MUTED;
        if (sel) kp_fill(y, r.x, r.w, role);
        char ds[16], dl[16];
        pct(s->est.size_ratio, ds);
        pct(s->est.latency_ratio, dl);
        kp_putf(y, r.x + 1, r.w - 2, role, "%s %-15.15s %-14.14s %6s %6s %6.2f",
                s->enabled ? kp_g()->on : kp_g()->off, s->pass_id ? s->pass_id : "?",
                s->params ? s->params : "", ds, dl, -s->est.acc_drop);
        if (wide) kp_put(y, r.x + 58, r.w - 59, role, s->est.reason);
        y++;
    }
    if (!p->n) kp_put(y++, r.x + 1, r.w - 2, KP_ROLE_WARN, "The planner found nothing to do.");
    y = r.y + r.h - 7;
    if (p->n && !wide) {
        const kp_plan_step *s = &p->steps[S.list.sel];
        kp_wrap(y, r.x + 1, r.w - 2, 2, KP_ROLE_MUTED, s->est.reason);
    }
    y += 2;
    struct stat st;
    double before = stat(a->model_path, &st) ? -1 : (double)st.st_size;
    char b1[32], b2[32], dl[16];
    pct(p->total.latency_ratio, dl);
    kp_putf(y++, r.x + 1, r.w - 2, KP_ROLE_TITLE, "Estimated total of the enabled steps");
    kp_putf(y++, r.x + 1, r.w - 2, p->total.size_ratio < 1 ? KP_ROLE_OK : KP_ROLE_NORMAL,
            "size     %s -> %s  (x%.2f)", kp_fmt_bytes(before, b1),
            kp_fmt_bytes(before * p->total.size_ratio, b2), p->total.size_ratio);
    kp_putf(y++, r.x + 1, r.w - 2, p->total.latency_ratio < 1 ? KP_ROLE_OK : KP_ROLE_NORMAL,
            "latency  %s on %s  (x%.2f)", dl, a->proj->target_id, p->total.latency_ratio);
    kp_putf(y++, r.x + 1, r.w - 2, p->total.acc_drop > a->proj->max_drop ? KP_ROLE_BAD : KP_ROLE_OK,
            "accuracy -%.2f points (budget %.2f)   confidence %.0f%%", p->total.acc_drop,
            a->proj->max_drop, p->total.confidence * 100);
    const char *note = S.err[0] ? S.err : p->note;
    kp_put(y, r.x + 1, r.w - 2, S.err[0] ? KP_ROLE_BAD : KP_ROLE_MUTED, note);
}

static int toggle(kp_app *a) {
    if (!a->plan.n) return KP_DRAW_NONE;
    kp_plan_step *s = &a->plan.steps[S.list.sel];
    s->enabled = !s->enabled;
    estimate(a);
    sync(a);
    kp_app_msg(a, KP_ROLE_STATUS, "%s %s; totals re-estimated", s->pass_id,
               s->enabled ? "enabled" : "disabled");
    return KP_DRAW_ALL;
}

static int params_submit(kp_app *a, kp_form *f) {
    kp_plan_step *s = &a->plan.steps[f->tag];
    const kp_pass *pass = kp_pass_find(a->passes, a->n_passes, s->pass_id);
    if (!pass) return 0;
    char text[4096] = "";
    for (int i = 0; i < f->n; i++) {
        size_t l = strlen(text);
        snprintf(text + l, sizeof text - l, "%s%s=%s", i ? "," : "", f->label[i], f->val[i].buf);
    }
    kp_params pp;
    kp_error err = {0};
    if (kp_params_parse(pass, text, &pp, &err)) {
        snprintf(f->err, sizeof f->err, "%s", err.msg);
        return 1;
    }
    char *fmt = kp_params_format(&pp);
    kp_params_free(&pp);
    if (!fmt) return 1;
    free(s->params);
    s->params = fmt;
    estimate(a);
    sync(a);
    kp_app_msg(a, KP_ROLE_OK, "%s: %s; totals re-estimated", s->pass_id, fmt);
    return 0;
}

static int edit(kp_app *a) {
    if (!a->plan.n) return KP_DRAW_NONE;
    kp_plan_step *s = &a->plan.steps[S.list.sel];
    const kp_pass *pass = kp_pass_find(a->passes, a->n_passes, s->pass_id);
    if (!pass) {
        kp_app_msg(a, KP_ROLE_BAD, "pass '%s' is not in this build", s->pass_id);
        return KP_DRAW_ALL;
    }
    if (!pass->n_params) {
        kp_app_msg(a, KP_ROLE_STATUS, "%s has no parameters", pass->id);
        return KP_DRAW_ALL;
    }
    kp_params pp;
    kp_error err = {0};
    if (kp_params_parse(pass, s->params ? s->params : "", &pp, &err) &&
        kp_params_defaults(pass, &pp, &err)) {
        kp_app_msg(a, KP_ROLE_BAD, "%s", err.msg);
        return KP_DRAW_ALL;
    }
    char title[128];
    snprintf(title, sizeof title, "%s: %s", pass->id, pass->title);
    kp_form_init(&a->form, title, S.list.sel);
    for (size_t i = 0; i < pass->n_params && i < KP_FORM_MAX; i++) {
        const kp_param_def *d = &pass->params[i];
        char help[200];
        if (d->type == KP_PARAM_ENUM)
            snprintf(help, sizeof help, "%s (one of %s)", d->help, d->choices);
        else if (d->type == KP_PARAM_INT || d->type == KP_PARAM_FLOAT)
            snprintf(help, sizeof help, "%s (%g to %g; default %s)", d->help, d->min, d->max,
                     d->dflt);
        else if (d->type == KP_PARAM_BOOL)
            snprintf(help, sizeof help, "%s (true/false)", d->help);
        else
            snprintf(help, sizeof help, "%s", d->help);
        kp_form_add(&a->form, d->name, pp.values[i], help);
    }
    kp_params_free(&pp);
    kp_app_form(a, params_submit);
    return KP_DRAW_ALL;
}

static int key(kp_app *a, kp_action act, int ch, int is_key) {
    if (prereq(a)) return KP_UNHANDLED;
    if (act == KP_ACT_REPLAN) {
        propose(a);
        return KP_DRAW_ALL;
    }
    if (!a->have_plan) return KP_UNHANDLED;
    if (kp_list_key(&S.list, act, 5)) return KP_DRAW_SCREEN;
    switch (act) {
    case KP_ACT_TOGGLE: return toggle(a);
    case KP_ACT_ENTER:
    case KP_ACT_EDIT: return edit(a);
    case KP_ACT_RUN: kp_app_goto(a, KP_STEP_RUN); return KP_DRAW_ALL;
    default: return KP_UNHANDLED;
    }
}

static int click(kp_app *a, kp_rect r, int row, int col) {
    if (prereq(a) || !a->have_plan) return KP_DRAW_NONE;
    int k = S.list.top + row - 1;
    if (row < 1 || k >= (int)a->plan.n) return KP_DRAW_NONE;
    S.list.sel = k;
    if (col < 4) return toggle(a);
    return KP_DRAW_SCREEN;
}

static const kp_help help[] = {
    {KP_ACT_TOGGLE, "enable/disable the step", 1},
    {KP_ACT_ENTER, "edit its parameters", 1},
    {KP_ACT_REPLAN, "ask the planner again", 1},
    {KP_ACT_RUN, "run the plan (step 7)", 1},
    {KP_ACT_UP, "previous step", 0},
    {KP_ACT_DOWN, "next step", 0},
};

const kp_screen kp_screen_plan = {
    .name = "Plan",
    .help = help,
    .n_help = sizeof help / sizeof *help,
    .enter = enter,
    .draw = draw,
    .key = key,
    .click = click,
    .done = done,
};
