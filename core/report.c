#include "core/report.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/project_json.h"

static const char *const exts[KP_REPORT_FORMAT_COUNT] = {
    [KP_REPORT_MD] = "md",
    [KP_REPORT_CSV] = "csv",
    [KP_REPORT_JSON] = "json",
};
_Static_assert(sizeof exts / sizeof *exts == KP_REPORT_FORMAT_COUNT, "one name per format");

int kp_report_format_parse(const char *s, kp_report_format *f) {
    for (int i = 0; i < KP_REPORT_FORMAT_COUNT; i++)
        if (s && (!strcmp(s, exts[i]) || (i == KP_REPORT_MD && !strcmp(s, "markdown")))) {
            *f = (kp_report_format)i;
            return 0;
        }
    return KP_EINVAL;
}

const char *kp_report_format_ext(kp_report_format f) {
    return (unsigned)f < KP_REPORT_FORMAT_COUNT ? exts[f] : "txt";
}

typedef struct sb {
    char *s;
    size_t len, cap;
    int oom;
} sb;

__attribute__((format(printf, 2, 3))) static void put(sb *b, const char *fmt, ...) {
    if (b->oom) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 1024) + (size_t)n;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void md_row(sb *b, const char *label, const kp_metrics_row *m, const kp_metrics_row *base) {
    char acc[32] = "-";
    if (m->top1 >= 0) snprintf(acc, sizeof acc, "%.2f%%", m->top1);
    put(b, "| %s | %.0f | %.0f | %.2fx | %.3f | %.3f | %s | %.0f | %s | %.4f |\n", label,
        m->file_bytes, m->gzip_bytes, m->file_bytes > 0 ? base->file_bytes / m->file_bytes : 0,
        m->host_latency_ms, m->target_latency_ms, acc, m->ram_bytes,
        m->fits_ram && m->fits_flash ? "yes" : "no", m->energy_mj);
}

/* The planner's prediction for the whole plan against the run, and what it tried. */
static void plan_md(sb *b, const kp_project *p, const kp_run_record *r) {
    const kp_plan_info *pi = &r->predicted;
    if (pi->total.size_ratio <= 0) return;
    put(b, "\n## The whole plan: predicted vs measured\n\n");
    double ms = r->before.file_bytes > 0 ? r->after.file_bytes / r->before.file_bytes : 0;
    int host = !p->target_id || !strcmp(p->target_id, "host");
    double ml =
        host ? (r->before.host_latency_ms > 0 ? r->after.host_latency_ms / r->before.host_latency_ms
                                              : 0)
             : (r->before.target_latency_ms > 0
                    ? r->after.target_latency_ms / r->before.target_latency_ms
                    : 0);
    put(b,
        "| | size ratio | latency ratio (%s) | top-1 drop, points | samples "
        "|\n|---|---|---|---|---|\n",
        host ? "measured here" : "target estimate");
    put(b, "| predicted | %.3f | %.3f | %.2f ± %.2f | %lld (trials) |\n", pi->total.size_ratio,
        pi->total.latency_ratio, pi->total.acc_drop, pi->acc_se, (long long)pi->trial_samples);
    char drop[32] = "-";
    if (r->before.top1 >= 0 && r->after.top1 >= 0)
        snprintf(drop, sizeof drop, "%.2f", r->before.top1 - r->after.top1);
    put(b, "| measured | %.3f | %.3f | %s | %zu (holdout) |\n", ms, ml, drop, r->eval_samples);
    put(b, "\n± is the standard error of the trial's paired top-1 difference. ");
    if (!pi->meets && pi->note)
        put(b, "**Budget missed**: %s.\n", pi->note);
    else
        put(b, "The plan met every budget on the trials.\n");
    if (!pi->n_tried) return;
    size_t n_p = 0;
    for (size_t i = 0; i < pi->n_tried; i++) n_p += pi->tried[i].pareto != 0;
    put(b,
        "\n## What the planner tried (%zu pipelines, %zu on the Pareto front)\n\n| pipeline | size "
        "ratio | latency ratio | top-1 drop | meets budgets | Pareto | chosen "
        "|\n|---|---|---|---|---|---|---|\n",
        pi->n_tried, n_p);
    for (size_t i = 0; i < pi->n_tried; i++) {
        const kp_tried *k = &pi->tried[i];
        put(b, "| %s | %.3f | %.3f | %.2f ± %.2f | %s | %s | %s |\n", k->name ? k->name : "?",
            k->size_ratio, k->latency_ratio, k->acc_drop, k->acc_se, k->meets ? "yes" : "no",
            k->pareto ? "yes" : "", k->chosen ? "**yes**" : "");
    }
}

static char *markdown(const kp_project *p, const kp_run_record *r) {
    sb b = {0};
    put(&b, "# Kompress report: %s, %s\n\n", p->name ? p->name : "project", r->id ? r->id : "run");
    put(&b, "- model: `%s`\n- target: %s\n- goals: %s%s%s\n- accuracy budget: %.2f points\n",
        p->model ? p->model : "?", p->target_id ? p->target_id : "host", kp_goal_name(p->goals[0]),
        p->goals[1] ? ", " : "", p->goals[1] ? kp_goal_name(p->goals[1]) : "", p->max_drop);
    put(&b, "- started: %s, status: %s\n- seed %llu, calibration subset %s, tool %s, machine %s\n",
        r->started ? r->started : "?",
        r->status == 0    ? "ok"
        : r->status == -6 ? "cancelled"
                          : "failed",
        (unsigned long long)r->seed, r->calib_hash ? r->calib_hash : "-",
        r->tool_version ? r->tool_version : "-", r->hw_fingerprint ? r->hw_fingerprint : "-");
    if (r->eval_samples)
        put(&b,
            "- top-1 scored on %zu samples used neither for calibration nor for the planner's "
            "trials (holdout %s)\n",
            r->eval_samples, r->holdout_hash ? r->holdout_hash : "-");
    if (r->output_model) put(&b, "- compressed model: `%s`\n", r->output_model);
    put(&b, "\n| stage | file bytes | gzip bytes | smaller | host ms (b=1) | target ms | top-1 "
            "| RAM bytes | fits | energy mJ |\n|---|---|---|---|---|---|---|---|---|---|\n");
    md_row(&b, "original", &r->before, &r->before);
    for (size_t i = 0; i < r->n_steps; i++) {
        char label[160];
        snprintf(label, sizeof label, "+ %s%s%.60s%s", r->steps[i].pass_id,
                 r->steps[i].params && *r->steps[i].params ? " (" : "",
                 r->steps[i].params ? r->steps[i].params : "",
                 r->steps[i].params && *r->steps[i].params ? ")" : "");
        if (r->step_after) md_row(&b, label, &r->step_after[i], &r->before);
    }
    md_row(&b, "**final**", &r->after, &r->before);
    put(&b, "\n## Predicted vs measured, per step\n\n| step | size ratio pred | size ratio "
            "meas | latency ratio pred | latency ratio meas | top-1 drop pred | top-1 drop meas "
            "| reason |\n|---|---|---|---|---|---|---|---|\n");
    const kp_metrics_row *prev = &r->before;
    for (size_t i = 0; i < r->n_steps && r->step_after; i++) {
        const kp_metrics_row *m = &r->step_after[i];
        const kp_estimate *e = &r->steps[i].est;
        double sr = prev->file_bytes > 0 ? m->file_bytes / prev->file_bytes : 0;
        double lr = prev->host_latency_ms > 0 ? m->host_latency_ms / prev->host_latency_ms : 0;
        char drop[32] = "-";
        if (m->top1 >= 0 && prev->top1 >= 0)
            snprintf(drop, sizeof drop, "%.2f", prev->top1 - m->top1);
        put(&b, "| %s | %.3f | %.3f | %.3f | %.3f | %.2f | %s | %s |\n", r->steps[i].pass_id,
            e->size_ratio, sr, e->latency_ratio, lr, e->acc_drop, drop, e->reason);
        prev = m;
    }
    plan_md(&b, p, r);
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

static void csv_row(sb *b, const char *stage, const char *params, const kp_metrics_row *m) {
    put(b, "%s,\"%s\",%.0f,%.0f,%.4f,%.4f,%.2f,%.0f,%.0f,%.5f,%d,%d\n", stage, params ? params : "",
        m->file_bytes, m->gzip_bytes, m->host_latency_ms, m->target_latency_ms, m->top1,
        m->ram_bytes, m->flash_bytes, m->energy_mj, m->fits_ram, m->fits_flash);
}

static char *csv(const kp_run_record *r) {
    sb b = {0};
    put(&b, "stage,params,file_bytes,gzip_bytes,host_latency_ms,target_latency_ms,top1,ram_bytes,"
            "flash_bytes,energy_mj,fits_ram,fits_flash\n");
    csv_row(&b, "original", "", &r->before);
    for (size_t i = 0; i < r->n_steps && r->step_after; i++)
        csv_row(&b, r->steps[i].pass_id, r->steps[i].params, &r->step_after[i]);
    csv_row(&b, "final", "", &r->after);
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

static char *json(const kp_project *p, const kp_run_record *r) {
    /* The run record exactly as project.json stores it, plus the project's context. */
    kp_project one = *p;
    one.runs = (kp_run_record *)r;
    one.n_runs = 1;
    char *full = kp_project_to_json(&one);
    return full;
}

char *kp_report_text(const kp_project *p, const kp_run_record *r, kp_report_format f) {
    switch (f) {
    case KP_REPORT_MD: return markdown(p, r);
    case KP_REPORT_CSV: return csv(r);
    case KP_REPORT_JSON: return json(p, r);
    default: return NULL;
    }
}
