/* Step 7: runs the plan on the job thread. The UI polls job events every loop turn (never
 * blocks; the loop wakes every 100 ms while a job runs) and shows per-step progress bars,
 * elapsed time, a live log and the before/after table whose after-column fills in as steps
 * finish. c or Esc cancels; the job then reports what was kept. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tui/ui.h"

#define MAX_STEPS 32
#define LOG_LINES 200

static struct {
    int started;
    char stage[200];
    double frac[MAX_STEPS], secs[MAX_STEPS], t_start[MAX_STEPS];
    int state[MAX_STEPS]; /* 0 waiting, 1 running, 2 done, 3 failed */
    char step_name[MAX_STEPS][40];
    size_t plan_idx[MAX_STEPS]; /* row -> index in the project's plan (disabled steps skipped) */
    int n_steps;
    kp_metrics_row before, after;
    int have_before, have_after;
    char log[LOG_LINES][200];
    int n_log, log_head;
    struct timespec t0;
    double elapsed;
    int finished; /* 0 running, 1 done, 2 failed, 3 cancelled */
    char final_text[512];
    int cancel_asked;
} S;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...) {
    int i = (S.log_head + S.n_log) % LOG_LINES;
    if (S.n_log == LOG_LINES)
        S.log_head = (S.log_head + 1) % LOG_LINES;
    else
        S.n_log++;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(S.log[i], sizeof S.log[i], fmt, ap);
    va_end(ap);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - S.t0.tv_sec) + (double)(t.tv_nsec - S.t0.tv_nsec) / 1e9;
}

static int done(const kp_app *a) {
    return S.finished == 1;
}

static const char *prereq(kp_app *a) {
    if (!a->proj) return "Open a project first (step 1).";
    if (!a->proj->model) return "Choose the model to compress first (step 2).";
    for (size_t i = 0; i < a->proj->n_plan; i++)
        if (a->proj->plan[i].enabled) return NULL;
    return "There is no enabled step in the plan: go to step 6 (Plan) and enable at least one.";
}

void kp_app_run_start(kp_app *a) {
    if (a->job_running) return;
    const char *m = prereq(a);
    if (m) {
        kp_app_msg(a, KP_ROLE_WARN, "%s", m);
        return;
    }
    if (a->job) {
        kp_job_free(a->job);
        a->job = NULL;
    }
    memset(&S, 0, sizeof S);
    for (size_t i = 0; i < a->proj->n_plan; i++) {
        if (!a->proj->plan[i].enabled || S.n_steps >= MAX_STEPS) continue;
        S.plan_idx[S.n_steps] = i;
        snprintf(S.step_name[S.n_steps++], sizeof S.step_name[0], "%s", a->proj->plan[i].pass_id);
    }
    kp_error err = {0};
    if (kp_job_start(a->proj, a->passes, a->n_passes, &a->job, &err)) {
        a->job = NULL;
        S.finished = 2;
        snprintf(S.final_text, sizeof S.final_text, "could not start: %s", err.msg);
        kp_app_msg(a, KP_ROLE_BAD, "%s", S.final_text);
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &S.t0);
    S.started = 1;
    a->job_running = 1;
    snprintf(S.stage, sizeof S.stage, "starting");
    kp_app_msg(a, KP_ROLE_STATUS, "running; c cancels (nothing is lost)");
}

/* Job events carry the step's index in the plan (core/job.c); the rows are the enabled steps
 * only, so a disabled step before them must not shift the bars and the "step k of n". */
static int row_of(int plan_step) {
    for (int i = 0; i < S.n_steps; i++)
        if (plan_step >= 0 && S.plan_idx[i] == (size_t)plan_step) return i;
    return -1;
}

static void handle(kp_app *a, const kp_event *e) {
    int s = row_of(e->step);
    switch (e->kind) {
    case KP_EV_STAGE:
        snprintf(S.stage, sizeof S.stage, "%s", e->text);
        logf_("%s", e->text);
        break;
    case KP_EV_STEP_START:
        if (s >= 0) S.state[s] = 1, S.frac[s] = 0, S.t_start[s] = now_s();
        if (s >= 0 && e->text[0]) snprintf(S.step_name[s], sizeof S.step_name[0], "%s", e->text);
        snprintf(S.stage, sizeof S.stage, "step %d of %d: %s", s + 1, S.n_steps, e->text);
        logf_("step %d: %s", s + 1, e->text);
        break;
    case KP_EV_PROGRESS:
        if (s >= 0) S.frac[s] = e->fraction;
        break;
    case KP_EV_METRICS:
        if (e->step < 0)
            S.before = e->metrics, S.have_before = 1;
        else
            S.after = e->metrics, S.have_after = 1;
        break;
    case KP_EV_LOG: logf_("%s", e->text); break;
    case KP_EV_STEP_DONE:
        if (s >= 0)
            S.state[s] = e->text[0] ? 3 : 2, S.frac[s] = 1, S.secs[s] = now_s() - S.t_start[s];
        logf_("step %d done%s%s", s + 1, e->text[0] ? ": " : "", e->text);
        break;
    case KP_EV_DONE:
    case KP_EV_FAILED:
    case KP_EV_CANCELLED:
        S.finished = e->kind == KP_EV_DONE ? 1 : e->kind == KP_EV_FAILED ? 2 : 3;
        snprintf(S.final_text, sizeof S.final_text, "%s", e->text);
        logf_("%s: %s",
              S.finished == 1   ? "done"
              : S.finished == 2 ? "failed"
                                : "cancelled",
              e->text);
        break;
    default: break;
    }
}

static void finish(kp_app *a) {
    kp_error err = {0};
    kp_job_wait(a->job, &err);
    kp_job_free(a->job);
    a->job = NULL;
    a->job_running = 0;
    S.elapsed = now_s();
    /* The job wrote the run record into project.json: reload it (keeping the loaded model). */
    kp_project *p = NULL;
    kp_error lerr = {0};
    if (a->proj && !kp_project_load(a->proj->dir, &p, &lerr)) {
        kp_project_free(a->proj);
        a->proj = p;
    }
    if (S.finished == 1)
        kp_app_msg(a, KP_ROLE_OK, "finished in %.1f s; Tab: results", S.elapsed);
    else if (S.finished == 3)
        kp_app_msg(a, KP_ROLE_WARN, "cancelled: %s", S.final_text);
    else
        kp_app_msg(a, KP_ROLE_BAD, "the run failed: %s", S.final_text[0] ? S.final_text : err.msg);
}

static int tick(kp_app *a) {
    if (!a->job || !a->job_running) return 0;
    kp_event e;
    int n = 0;
    while (n < 256 && kp_job_poll(a->job, &e) == 1) {
        handle(a, &e);
        n++;
    }
    S.elapsed = now_s();
    for (int i = 0; i < S.n_steps; i++) /* the running step's time ticks */
        if (S.state[i] == 1) S.secs[i] = S.elapsed - S.t_start[i];
    if (S.finished) finish(a);
    return 1; /* elapsed time changes: redraw every turn while running */
}

static const char *fmt_b(double v, char *b) {
    return kp_fmt_bytes(v, b);
}
static const char *fmt_ms(double v, char *b) {
    return v < 0 ? "n/a" : kp_fmt_ms(v, b);
}
static const char *fmt_pct(double v, char *b) {
    if (v < 0) return "n/a";
    snprintf(b, 32, "%.2f%%", v);
    return b;
}
static const char *fmt_mj(double v, char *b) {
    /* Fixed decimals, so before and after line up and read alike ("0.680", not "0.68"). */
    snprintf(b, 32, v < 100 ? "%.3f mJ" : "%.0f mJ", v);
    return b;
}

static void row(kp_rect r, int y, const char *name, double b, double af, int have_b, int have_a,
                int lower_better, const char *(*fmt)(double, char *)) {
    char x1[32], x2[32], d[32] = "";
    kp_put(y, r.x + 1, 16, KP_ROLE_NORMAL, name);
    kp_put(y, r.x + 18, 12, KP_ROLE_NORMAL, have_b ? fmt(b, x1) : "...");
    kp_put(y, r.x + 31, 12, have_a ? KP_ROLE_NORMAL : KP_ROLE_MUTED, have_a ? fmt(af, x2) : "...");
    if (have_a && have_b && fmt == fmt_pct && b >= 0 && af >= 0) { /* accuracy: points */
        double ch = af - b;
        kp_role role = ch < -0.005 ? KP_ROLE_BAD : ch > 0.005 ? KP_ROLE_OK : KP_ROLE_MUTED;
        kp_fmt_change(ch, 2, " pts", d);
        kp_put(y, r.x + 44, r.w - 45, role, d);
    } else if (have_a && have_b && b > 0) {
        double ch = (af - b) / b * 100;
        kp_role role = (ch < -0.5) == (lower_better != 0) ? KP_ROLE_OK : KP_ROLE_BAD;
        if (ch > -0.5 && ch < 0.5) role = KP_ROLE_MUTED;
        kp_fmt_change(ch, 1, "%", d);
        kp_put(y, r.x + 44, r.w - 45, role, d);
    }
}

static void draw(kp_app *a, kp_rect r) {
    const char *m = prereq(a);
    if (m && !S.started) {
        kp_app_notice(r, "Not ready to run", m);
        return;
    }
    int y = r.y;
    if (!S.started) {
        kp_put(y++, r.x + 1, r.w - 2, KP_ROLE_TITLE, "Ready. Press g (or Enter) to run the plan:");
        for (size_t i = 0; i < a->proj->n_plan && y < r.y + r.h; i++)
            if (a->proj->plan[i].enabled)
                kp_putf(y++, r.x + 3, r.w - 4, KP_ROLE_NORMAL, "%s %s", a->proj->plan[i].pass_id,
                        a->proj->plan[i].params ? a->proj->plan[i].params : "");
        kp_wrap(y + 1, r.x + 1, r.w - 2, 3, KP_ROLE_MUTED,
                "Your model and data are never changed; the result goes to the project's runs "
                "folder. You can cancel at any time.");
        return;
    }
    kp_role sr = S.finished == 1   ? KP_ROLE_OK
                 : S.finished == 2 ? KP_ROLE_BAD
                 : S.finished == 3 ? KP_ROLE_WARN
                                   : KP_ROLE_STATUS;
    kp_putf(y++, r.x + 1, r.w - 2, sr, "%s  %.1f s",
            S.finished == 1   ? "done"
            : S.finished == 2 ? "failed"
            : S.finished == 3 ? "cancelled"
                              : S.stage,
            S.elapsed);
    if (S.finished > 1) kp_wrap(y++, r.x + 1, r.w - 2, 1, sr, S.final_text);
    int bar_w = r.w - 34;
    for (int i = 0; i < S.n_steps && y < r.y + 7; i++, y++) {
        kp_role role = S.state[i] == 3   ? KP_ROLE_BAD
                       : S.state[i] == 2 ? KP_ROLE_OK
                       : S.state[i] == 1 ? KP_ROLE_TITLE
                                         : KP_ROLE_MUTED;
        kp_put(y, r.x + 1, 16, role, S.step_name[i]);
        kp_bar(y, r.x + 18, bar_w, S.frac[i], KP_ROLE_BAR);
        kp_putf(y, r.x + 19 + bar_w, 14, role, "%3.0f%% %5.1fs", S.frac[i] * 100, S.secs[i]);
    }
    y++;
    kp_putf(y++, r.x + 1, r.w - 2, KP_ROLE_TITLE, "%-16s %-12s %-12s %s", "", "before", "after",
            "change");
    const kp_metrics_row *b = &S.before, *f = &S.after;
    int hb = S.have_before, ha = S.have_after;
    row(r, y++, "file size", b->file_bytes, f->file_bytes, hb, ha, 1, fmt_b);
    row(r, y++, "gzip size", b->gzip_bytes, f->gzip_bytes, hb, ha, 1, fmt_b);
    row(r, y++, "latency here", b->host_latency_ms, f->host_latency_ms, hb, ha, 1, fmt_ms);
    row(r, y++, "latency target", b->target_latency_ms, f->target_latency_ms, hb, ha, 1, fmt_ms);
    row(r, y++, "top-1", b->top1, f->top1, hb, ha, 0, fmt_pct);
    row(r, y++, "energy/inf.", b->energy_mj, f->energy_mj, hb, ha, 1, fmt_mj);
    if (hb) {
        kp_putf(y++, r.x + 1, r.w - 2, KP_ROLE_NORMAL, "%-16s %-12s %-12s", "fits RAM/flash",
                b->fits_ram && b->fits_flash ? "yes" : "no",
                !ha                            ? "..."
                : f->fits_ram && f->fits_flash ? "yes"
                                               : "no");
    }
    int lh = r.y + r.h - y - 1;
    if (lh > 0) {
        kp_put(y++, r.x + 1, r.w - 2, KP_ROLE_TITLE, "Log");
        int first = S.n_log > lh ? S.n_log - lh : 0;
        for (int i = first; i < S.n_log; i++)
            kp_put(y++, r.x + 1, r.w - 2, KP_ROLE_MUTED, S.log[(S.log_head + i) % LOG_LINES]);
    }
}

static int key(kp_app *a, kp_action act, int ch, int is_key) {
    if (a->job_running) {
        if (act == KP_ACT_CANCEL || act == KP_ACT_BACK) {
            kp_job_cancel(a->job);
            S.cancel_asked = 1;
            snprintf(S.stage, sizeof S.stage, "cancelling...");
            kp_app_msg(a, KP_ROLE_WARN, "cancelling; the project stays as it was before the run");
            return KP_DRAW_ALL;
        }
        if (act == KP_ACT_NEXT_STEP || act == KP_ACT_PREV_STEP ||
            (act >= KP_ACT_STEP1 && act <= KP_ACT_STEP8)) {
            kp_app_msg(a, KP_ROLE_WARN, "a run is in progress: wait, or press c to cancel it");
            return KP_DRAW_ALL;
        }
        return KP_UNHANDLED;
    }
    if (act == KP_ACT_RUN || act == KP_ACT_ENTER) {
        kp_app_run_start(a);
        return KP_DRAW_ALL;
    }
    return KP_UNHANDLED;
}

static const kp_help help[] = {
    {KP_ACT_RUN, "start the run", "run"},
    {KP_ACT_CANCEL, "cancel the run (nothing is lost)", "cancel"},
    {KP_ACT_ENTER, "start the run", NULL},
    {KP_ACT_BACK, "cancel while running, else previous step", NULL},
};

/* While a run works only cancelling makes sense; once it ended, running again does. */
static const kp_help busy_help[] = {
    {KP_ACT_CANCEL, "cancel the run (nothing is lost)", "cancel"},
    {KP_ACT_BACK, "cancel the run", NULL},
};
static const kp_help after_help[] = {
    {KP_ACT_RUN, "run the plan again", "run again"},
    {KP_ACT_ENTER, "run the plan again", NULL},
    {KP_ACT_BACK, "previous step", NULL},
};
static const kp_help *mode_help(const kp_app *a, size_t *n) {
    if (a->job_running) return *n = sizeof busy_help / sizeof *busy_help, busy_help;
    if (S.started && S.finished) return *n = sizeof after_help / sizeof *after_help, after_help;
    return NULL;
}

const kp_screen kp_screen_run = {
    .name = "Run",
    .help = help,
    .n_help = sizeof help / sizeof *help,
    .draw = draw,
    .key = key,
    .tick = tick,
    .done = done,
    .mode_help = mode_help,
};
