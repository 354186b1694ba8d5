/* Step 6: the plan as a table (enabled, pass, parameters, estimated size/latency/accuracy
 * change, reason). Space toggles, Enter edits the parameters in a form made from the pass's
 * parameter table, a adds a pass, d removes one; totals re-estimate at once; r asks the
 * planner again. The plan is saved in the project after every change.
 * Estimates come from the planner (kp_planner_estimate). When the planner is not in the build,
 * each pass's own estimate() is shown and the totals are their plain product, and the screen
 * says so. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tui/ui.h"

static struct {
    kp_list list;
    char err[1024];
    int adding; /* choosing a pass to add */
    kp_list add;
    char planned_dir[4096]; /* project the running planner works for */
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
/* The user changed the plan: the project takes its steps; the planner's prediction and tried
 * list no longer describe it (its trial samples stay out of the runs' holdout). */
static void sync(kp_app *a) {
    kp_plan_step *s;
    if (copy_steps(a->plan.steps, a->plan.n, &s)) {
        kp_app_msg(a, KP_ROLE_BAD, "out of memory saving the plan");
        return;
    }
    free_steps(a->proj->plan, a->proj->n_plan);
    a->proj->plan = s;
    a->proj->n_plan = a->plan.n;
    kp_plan_info_outdate(&a->proj->plan_info);
    kp_app_save_project(a);
}

/* What the planner needs; NULL when everything is there. */
static const char *planner_needs(kp_app *a) {
    kp_app_load_model(a);
    if (!a->model) return "Choose a model that loads (step 2).";
    if (!kp_app_target(a)) return "Choose a target (step 4).";
    return NULL;
}

/* Per-pass estimates and their plain combination (planner missing). */
static void pass_estimates(kp_app *a) {
    kp_estimate *t = &a->plan.total;
    memset(t, 0, sizeof *t);
    t->size_ratio = t->latency_ratio = t->confidence = 1;
    t->applicable = 1;
    kp_pass_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.target = kp_app_target(a);
    ctx.reference = a->model;
    ctx.acc_budget = a->proj->max_drop;
    ctx.seed = a->proj->seed;
    ctx.threads = 1;
    for (size_t i = 0; i < a->plan.n; i++) {
        kp_plan_step *s = &a->plan.steps[i];
        const kp_pass *pass = kp_pass_find(a->passes, a->n_passes, s->pass_id);
        memset(&s->est, 0, sizeof s->est);
        if (!pass || !a->model || !pass->estimate) {
            snprintf(s->est.reason, sizeof s->est.reason, "%s",
                     !pass ? "this pass is not in this build" : "choose a model to estimate");
            continue;
        }
        kp_params pp;
        kp_error err = {0};
        if (kp_params_parse(pass, s->params ? s->params : "", &pp, &err)) {
            snprintf(s->est.reason, sizeof s->est.reason, "%s", err.msg);
            continue;
        }
        if (pass->estimate(a->model, &pp, &ctx, &s->est, &err))
            snprintf(s->est.reason, sizeof s->est.reason, "estimate failed: %s", err.msg);
        kp_params_free(&pp);
        if (!s->enabled || !s->est.applicable) continue;
        if (s->est.size_ratio > 0) t->size_ratio *= s->est.size_ratio;
        if (s->est.latency_ratio > 0) t->latency_ratio *= s->est.latency_ratio;
        t->acc_drop += s->est.acc_drop;
        if (s->est.confidence < t->confidence) t->confidence = s->est.confidence;
    }
    snprintf(a->plan.note, sizeof a->plan.note,
             "each pass's own estimate, multiplied (the planner needs a model and a target)");
}

static void estimate(kp_app *a) {
    S.err[0] = 0;
    if (planner_needs(a)) {
        pass_estimates(a);
        return;
    }
    kp_error err = {0};
    if (kp_planner_estimate(a->proj, a->model, kp_app_target(a), a->passes, a->n_passes, &a->plan,
                            &err))
        snprintf(S.err, sizeof S.err, "estimate failed: %s", err.msg);
}

static void propose(kp_app *a) {
    const char *need = planner_needs(a);
    if (need) {
        kp_app_msg(a, KP_ROLE_WARN, "the planner needs: %s", need);
        return;
    }
    char msg[512];
    if (kp_plan_task_start(a, msg, sizeof msg)) {
        kp_app_msg(a, KP_ROLE_BAD, "%s", msg);
        return;
    }
    S.err[0] = 0;
    snprintf(S.planned_dir, sizeof S.planned_dir, "%s", a->proj->dir);
    kp_app_msg(a, KP_ROLE_STATUS, "asking the planner (it may measure on calibration data)...");
}

/* Adopts the planner's answer when the background task has one. */
static int tick(kp_app *a) {
    if (!kp_plan_task_running() && !a->proj) return 0;
    kp_plan np;
    char msg[512];
    int r = kp_plan_task_poll(&np, msg, sizeof msg);
    if (r == 0) return kp_plan_task_running(); /* spinner */
    if (r == -2) {
        snprintf(S.err, sizeof S.err, "plan cancelled; the project is as it was");
        kp_app_msg(a, KP_ROLE_WARN, "plan cancelled; press r to ask the planner again");
        return 1;
    }
    if (r < 0) {
        snprintf(S.err, sizeof S.err, "the planner failed: %s", msg);
        kp_app_msg(a, KP_ROLE_BAD, "%s", S.err);
        return 1;
    }
    if (!a->proj || strcmp(a->proj->dir, S.planned_dir)) { /* another project by now */
        kp_plan_free(&np);
        return 1;
    }
    kp_app_plan_clear(a);
    a->plan = np;
    a->have_plan = 1;
    S.list.sel = 0;
    kp_error err = {0}; /* the project takes the plan with what the planner measured */
    if (kp_plan_adopt(a->proj, &a->plan, &err)) {
        kp_app_msg(a, KP_ROLE_BAD, "%s", err.msg);
        return 1;
    }
    if (kp_app_save_project(a)) return 1; /* it said why */
    kp_app_msg(a, KP_ROLE_OK, "the planner proposed %zu step%s%s%s", np.n, np.n == 1 ? "" : "s",
               msg[0] ? "; " : "", msg);
    return 1;
}

static void enter(kp_app *a) {
    S.adding = 0;
    if (!a->proj) return;
    kp_app_load_model(a);
    if (a->have_plan) {
        estimate(a);
        return;
    }
    if (a->proj->n_plan || planner_needs(a)) {
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
    double d = (ratio - 1) * 100;
    if (!(ratio > 0))
        snprintf(buf, 16, "  -");
    else if (fabs(d) < 0.05)
        snprintf(buf, 16, "0%%"); /* never "-0%" */
    else if (fabs(d) < 0.5)
        snprintf(buf, 16, "%+.1f%%", d); /* small but not nothing: "-0.2%" */
    else
        snprintf(buf, 16, "%+.0f%%", d);
}

static void draw_add(kp_app *a, kp_rect r) {
    kp_put(r.y, r.x + 1, r.w - 2, KP_ROLE_TITLE, "Add a pass (Enter adds it, Esc cancels)");
    S.add.n = (int)a->n_passes;
    int h = r.h - 4;
    kp_list_fit(&S.add, h);
    for (int i = 0; i < h && S.add.top + i < S.add.n; i++) {
        int k = S.add.top + i, sel = k == S.add.sel;
        const kp_pass *p = a->passes[k];
        kp_role role = sel ? KP_ROLE_SELECTED : KP_ROLE_NORMAL;
        if (sel) kp_fill(r.y + 1 + i, r.x, r.w, role);
        kp_putf(r.y + 1 + i, r.x + 1, r.w - 2, role, "%-16s %s%s", p->id, p->title,
                p->lossless && !strstr(p->title, "lossless") ? " [lossless]" : "");
    }
    if (S.add.n)
        kp_wrap(r.y + r.h - 3, r.x + 1, r.w - 2, 3, KP_ROLE_MUTED, a->passes[S.add.sel]->summary);
    else
        kp_put(r.y + 2, r.x + 1, r.w - 2, KP_ROLE_WARN, "No passes are registered in this build.");
}

static void draw(kp_app *a, kp_rect r) {
    if (!a->proj) {
        kp_app_notice(r, "Open a project first", "Step 1 (Project): open or create a project.");
        return;
    }
    if (S.adding) {
        draw_add(a, r);
        return;
    }
    if (kp_plan_task_running()) {
        static const char *const spin[] = {"|", "/", "-", "\\"};
        static unsigned k;
        kp_putf(r.y + r.h - 1, r.x + 1, r.w - 2, KP_ROLE_WARN,
                "%s the planner is working; the table updates when it answers (c cancels)",
                spin[k++ % 4]);
        r.h--;
    }
    kp_plan *p = &a->plan;
    /* Columns: box, pass, parameters, three deltas; the reason gets a column when there is
     * room for it, else it is shown under the table for the highlighted step. */
    int spare = r.w - 2 - 4 - 16 - 21;
    int pw = spare >= 60 ? 30 : spare - 1;
    int wide = spare >= 60;
    if (pw < 8) pw = 8;
    int y = r.y;
    kp_putf(y++, r.x + 1, r.w - 2, KP_ROLE_TITLE, "%-3s %-15s %-*s %6s %6s %6s%s", "on", "pass", pw,
            "parameters", "size", "lat.", "acc.", wide ? "  reason" : "");
    int h = r.h - 9;
    S.list.n = (int)p->n;
    kp_list_fit(&S.list, h);
    for (int i = 0; i < h && S.list.top + i < (int)p->n; i++) {
        int k = S.list.top + i, sel = k == S.list.sel;
        const kp_plan_step *s = &p->steps[k];
        kp_role role = sel ? KP_ROLE_SELECTED : s->enabled ? KP_ROLE_NORMAL : KP_ROLE_MUTED;
        if (sel) kp_fill(y, r.x, r.w, role);
        char ds[16], dl[16], da[16];
        pct(s->est.size_ratio, ds);
        pct(s->est.latency_ratio, dl);
        if (s->est.size_ratio > 0) {
            char c[32];
            snprintf(da, sizeof da, "%6s", kp_fmt_change(0.0 - s->est.acc_drop, 2, "", c));
        } else
            snprintf(da, sizeof da, "%6s", "-");
        kp_putf(y, r.x + 1, r.w - 2, role, "%s %-15.15s %-*.*s %6s %6s %s",
                s->enabled ? kp_g()->on : kp_g()->off, s->pass_id ? s->pass_id : "?", pw, pw,
                s->params ? s->params : "", ds, dl, da);
        if (wide) kp_put(y, r.x + 44 + pw, r.w - 45 - pw, role, s->est.reason);
        y++;
    }
    if (!p->n && kp_plan_task_running()) /* not "empty: r asks the planner" while it does */
        kp_wrap(y, r.x + 1, r.w - 2, 3, KP_ROLE_MUTED,
                "The planner is choosing the passes for this model and target; they appear "
                "here when it answers.");
    else if (!p->n)
        kp_wrap(y, r.x + 1, r.w - 2, 3, KP_ROLE_WARN,
                "The plan is empty: r asks the planner, n (or a) adds a pass.");
    /* Table rows left unused give the reason and the note more lines (no cut-off text). */
    int used = (int)p->n < h ? (int)p->n : h;
    int extra = p->n ? h - used - 1 : 0;
    if (extra > 4) extra = 4;
    if (extra < 0) extra = 0;
    int reason_h = 2 + extra / 2, note_h = 2 + extra - extra / 2;
    y = r.y + r.h - 8 - extra;
    /* The highlighted step's reason in full: always when narrow, and when wide if its column
     * cut it short. */
    if (p->n && (!wide || kp_text_width(p->steps[S.list.sel].est.reason) > r.w - 45 - pw)) {
        const kp_plan_step *s = &p->steps[S.list.sel];
        kp_wrap(y, r.x + 1, r.w - 2, reason_h, KP_ROLE_MUTED, s->est.reason);
    }
    y += reason_h;
    /* The planner's measurement of exactly this plan while the user has not changed it; else
     * the steps' estimates combined. */
    const kp_plan_info *pi = &a->proj->plan_info;
    int measured = p->n && pi->trial_samples > 0 && pi->total.size_ratio > 0;
    const kp_estimate *t = measured ? &pi->total : &p->total;
    if (measured)
        kp_putf(y++, r.x + 1, r.w - 2, KP_ROLE_TITLE,
                "Predicted for this plan (measured on %lld trial samples)",
                (long long)pi->trial_samples);
    else
        kp_putf(y++, r.x + 1, r.w - 2, KP_ROLE_TITLE, "Estimated total of the enabled steps");
    if (p->n) {
        struct stat st;
        double before = a->model_path[0] && !stat(a->model_path, &st) ? (double)st.st_size : -1;
        char b1[32], b2[32], dl[16], se[32] = "";
        pct(t->latency_ratio, dl);
        if (measured && pi->acc_se > 0) snprintf(se, sizeof se, " %s %.2f", kp_pm(), pi->acc_se);
        kp_putf(y++, r.x + 1, r.w - 2, t->size_ratio < 1 ? KP_ROLE_OK : KP_ROLE_NORMAL,
                "size     %s -> %s  (x%.2f)", kp_fmt_bytes(before, b1),
                kp_fmt_bytes(before * t->size_ratio, b2), t->size_ratio);
        kp_putf(y++, r.x + 1, r.w - 2, t->latency_ratio < 1 ? KP_ROLE_OK : KP_ROLE_NORMAL,
                "latency  %s on %s  (x%.2f)", dl,
                a->proj->target_id ? a->proj->target_id : "this machine", t->latency_ratio);
        char acc[160], ch[32];
        kp_fmt_change(0.0 - t->acc_drop, 2, "", ch);
        snprintf(acc, sizeof acc, "top-1    %s%s points (budget -%.2f)   confidence %.0f%%", ch, se,
                 a->proj->max_drop, t->confidence * 100);
        if (kp_text_width(acc) > r.w - 2) /* narrow: the same facts, shorter words */
            snprintf(acc, sizeof acc, "top-1    %s%s pts (budget -%.2f) confidence %.0f%%", ch, se,
                     a->proj->max_drop, t->confidence * 100);
        kp_put(y++, r.x + 1, r.w - 2, t->acc_drop > a->proj->max_drop ? KP_ROLE_BAD : KP_ROLE_OK,
               acc);
    } else {
        kp_putf(y++, r.x + 1, r.w - 2, KP_ROLE_MUTED, "no steps yet");
        y += 2;
    }
    const char *note = S.err[0] ? S.err : measured && pi->note ? pi->note : p->note;
    kp_wrap(y, r.x + 1, r.w - 2, note_h, S.err[0] ? KP_ROLE_BAD : KP_ROLE_MUTED, note);
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
    if (f->tag < 0 || (size_t)f->tag >= a->plan.n) return 0;
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

static int add_pass(kp_app *a) {
    S.adding = 0;
    if (S.add.sel < 0 || (size_t)S.add.sel >= a->n_passes) return KP_DRAW_ALL;
    const kp_pass *pass = a->passes[S.add.sel];
    kp_params pp;
    kp_error err = {0};
    if (kp_params_defaults(pass, &pp, &err)) {
        kp_app_msg(a, KP_ROLE_BAD, "%s", err.msg);
        return KP_DRAW_ALL;
    }
    char *params = kp_params_format(&pp);
    kp_params_free(&pp);
    kp_plan_step *n = realloc(a->plan.steps, (a->plan.n + 1) * sizeof *n);
    char *id = strdup(pass->id);
    if (!n || !params || !id) {
        if (n) a->plan.steps = n;
        free(params);
        free(id);
        kp_app_msg(a, KP_ROLE_BAD, "out of memory");
        return KP_DRAW_ALL;
    }
    a->plan.steps = n;
    memset(&n[a->plan.n], 0, sizeof *n);
    n[a->plan.n].pass_id = id;
    n[a->plan.n].params = params;
    n[a->plan.n].enabled = 1;
    S.list.sel = (int)a->plan.n;
    a->plan.n++;
    a->have_plan = 1;
    estimate(a);
    sync(a);
    kp_app_msg(a, KP_ROLE_OK, "added %s; Enter edits its parameters", pass->id);
    return KP_DRAW_ALL;
}

static int remove_step(kp_app *a) {
    if (!a->plan.n) return KP_DRAW_NONE;
    size_t k = (size_t)S.list.sel;
    kp_plan_step *s = &a->plan.steps[k];
    kp_app_msg(a, KP_ROLE_STATUS, "removed %s (a adds it back)", s->pass_id);
    free(s->pass_id);
    free(s->params);
    memmove(s, s + 1, (a->plan.n - k - 1) * sizeof *s);
    a->plan.n--;
    estimate(a);
    sync(a);
    return KP_DRAW_ALL;
}

static int key(kp_app *a, kp_action act, int ch, int is_key) {
    if (!a->proj) return KP_UNHANDLED;
    if (S.adding) {
        if (kp_list_key(&S.add, act, 5)) return KP_DRAW_SCREEN;
        if (act == KP_ACT_ENTER || act == KP_ACT_TOGGLE) return add_pass(a);
        if (act == KP_ACT_BACK) {
            S.adding = 0;
            return KP_DRAW_ALL; /* the hint bar changes too */
        }
        return KP_UNHANDLED;
    }
    if (kp_list_key(&S.list, act, 5)) return KP_DRAW_SCREEN;
    if (kp_plan_task_running() && (act == KP_ACT_CANCEL || act == KP_ACT_BACK)) {
        kp_plan_task_cancel();
        kp_app_msg(a, KP_ROLE_WARN, "cancelling the planner...");
        return KP_DRAW_ALL;
    }
    if (kp_plan_task_running() &&
        (act == KP_ACT_REPLAN || act == KP_ACT_TOGGLE || act == KP_ACT_ENTER ||
         act == KP_ACT_EDIT || act == KP_ACT_NEW || act == KP_ACT_DELETE || act == KP_ACT_RUN)) {
        kp_app_msg(a, KP_ROLE_WARN, "the planner is working; its answer will replace this plan");
        return KP_DRAW_ALL;
    }
    switch (act) {
    case KP_ACT_REPLAN: propose(a); return KP_DRAW_ALL;
    case KP_ACT_TOGGLE: return toggle(a);
    case KP_ACT_ENTER:
    case KP_ACT_EDIT: return edit(a);
    case KP_ACT_NEW: S.adding = 1; return KP_DRAW_ALL;
    case KP_ACT_DELETE: return remove_step(a);
    case KP_ACT_RUN:
        kp_app_goto(a, KP_STEP_RUN);
        kp_app_run_start(a);
        return KP_DRAW_ALL;
    default: return KP_UNHANDLED;
    }
}

static int click(kp_app *a, kp_rect r, int row, int col) {
    if (!a->proj) return KP_DRAW_NONE;
    if (S.adding) {
        int k = S.add.top + row - 1;
        if (row < 1 || k >= S.add.n) return KP_DRAW_NONE;
        if (k == S.add.sel) return add_pass(a);
        S.add.sel = k;
        return KP_DRAW_SCREEN;
    }
    int k = S.list.top + row - 1;
    if (row < 1 || k >= (int)a->plan.n) return KP_DRAW_NONE;
    S.list.sel = k;
    if (col < 4) return toggle(a);
    return KP_DRAW_SCREEN;
}

static const kp_help help[] = {
    {KP_ACT_TOGGLE, "toggle the step on/off", "toggle"},
    {KP_ACT_ENTER, "edit its parameters", "edit"},
    {KP_ACT_NEW, "add a pass", "add"},
    {KP_ACT_RUN, "run (step 7)", "run"},
    {KP_ACT_REPLAN, "ask the planner again", NULL},
    {KP_ACT_CANCEL, "cancel the planner while it works", NULL},
    {KP_ACT_DELETE, "remove the step", NULL},
    {KP_ACT_UP, "previous step", NULL},
    {KP_ACT_DOWN, "next step", NULL},
};

/* The Add-a-pass list and a planner at work take other keys than the plan table. */
static const kp_help add_help[] = {
    {KP_ACT_ENTER, "add the highlighted pass to the plan", "add"},
    {KP_ACT_BACK, "close the list", "cancel"},
    {KP_ACT_UP, "previous pass", NULL},
    {KP_ACT_DOWN, "next pass", NULL},
};
static const kp_help busy_help[] = {
    {KP_ACT_CANCEL, "cancel the planner (the plan stays as it was)", "cancel planner"},
    {KP_ACT_UP, "previous step", NULL},
    {KP_ACT_DOWN, "next step", NULL},
};
static const kp_help *mode_help(const kp_app *a, size_t *n) {
    if (S.adding) return *n = sizeof add_help / sizeof *add_help, add_help;
    if (kp_plan_task_running()) return *n = sizeof busy_help / sizeof *busy_help, busy_help;
    return NULL;
}

const kp_screen kp_screen_plan = {
    .name = "Plan",
    .help = help,
    .n_help = sizeof help / sizeof *help,
    .enter = enter,
    .draw = draw,
    .key = key,
    .click = click,
    .tick = tick,
    .done = done,
    .mode_help = mode_help,
};
