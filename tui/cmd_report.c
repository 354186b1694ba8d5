/* kompress report PROJECT [--format md|csv|json] [--run ID] [--errors] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/report.h"
#include "tui/cli.h"
#include "tui/cli_opts.h"
#include "tui/cli_project.h"

#define CMD "report"

static void usage(FILE *f) {
    fprintf(f, "usage: kompress report PROJECT [--format md|csv|json] [--run ID] [--errors]\n"
               "Prints the report of the project's last run (or run ID). --errors: how far the\n"
               "planner's estimates were from the measurements, per pass, over every run.\n");
}

/* Estimate errors summed over steps: size and latency relative, top-1 in points. */
typedef struct err_sum {
    double size, lat, acc;
    int n, n_acc;
} err_sum;

/* Adds the steps of a finished run rr whose pass is pass_id (NULL = every step). */
static void add_run(err_sum *s, const kp_run_record *rr, const char *pass_id) {
    if (rr->status || !rr->step_after) return;
    const kp_metrics_row *prev = &rr->before;
    for (size_t k = 0; k < rr->n_steps; prev = &rr->step_after[k], k++) {
        const kp_metrics_row *m = &rr->step_after[k];
        const kp_estimate *e = &rr->steps[k].est;
        if ((pass_id && strcmp(rr->steps[k].pass_id, pass_id)) || prev->file_bytes <= 0 ||
            prev->host_latency_ms <= 0 || e->size_ratio <= 0 || e->latency_ratio <= 0)
            continue;
        s->size += fabs(m->file_bytes / prev->file_bytes / e->size_ratio - 1);
        s->lat += fabs(m->host_latency_ms / prev->host_latency_ms / e->latency_ratio - 1);
        s->n++;
        if (m->top1 >= 0 && prev->top1 >= 0) {
            s->acc += fabs((prev->top1 - m->top1) - e->acc_drop);
            s->n_acc++;
        }
    }
}

/* One row of means; nothing when no step was counted. */
static void print_row(const char *label, const err_sum *s) {
    if (s->n)
        printf("%-16s %5d %14.1f %14.1f %14.2f\n", label, s->n, 100 * s->size / s->n,
               100 * s->lat / s->n, s->n_acc ? s->acc / s->n_acc : 0.0);
}

static void errors(const kp_project *p) {
    printf("%-16s %5s %14s %14s %14s\n", "run", "steps", "size err %", "latency err %",
           "top-1 err pts");
    for (size_t r = 0; r < p->n_runs; r++) {
        err_sum s = {0};
        add_run(&s, &p->runs[r], NULL);
        print_row(p->runs[r].id, &s);
    }
    printf("\n");
    printf("%-16s %5s %14s %14s %14s\n", "pass", "runs", "size err %", "latency err %",
           "top-1 err pts");
    const char *seen[64];
    size_t n_seen = 0;
    for (size_t r = 0; r < p->n_runs; r++)
        for (size_t k = 0; k < p->runs[r].n_steps; k++) {
            const char *id = p->runs[r].steps[k].pass_id;
            int dup = 0;
            for (size_t i = 0; i < n_seen; i++) dup |= !strcmp(seen[i], id);
            if (!dup && n_seen < 64) seen[n_seen++] = id;
        }
    for (size_t i = 0; i < n_seen; i++) {
        err_sum s = {0};
        for (size_t r = 0; r < p->n_runs; r++) add_run(&s, &p->runs[r], seen[i]);
        print_row(seen[i], &s);
    }
}

static int read_format(void *dest, const char *arg, kp_error *err) {
    if (kp_report_format_parse(arg, dest))
        return kp_error_set(err, KP_EINVAL, "--format is md, csv or json, not '%s'", arg);
    return 0;
}

static int run(int argc, char **argv) {
    kp_report_format fmt = KP_REPORT_MD;
    const char *run_id = NULL, *proj_arg = NULL;
    int want_errors = 0;
    const kp_opt opts[] = {{"format", 'f', KP_OPT_FN, &fmt, 0, 0, read_format},
                           {"run", 'r', KP_OPT_STR, &run_id, 0, 0, NULL},
                           {"errors", 'e', KP_OPT_FLAG, &want_errors, 0, 0, NULL},
                           KP_OPT_END};
    size_t n_pos;
    int st = kp_cli_parse(CMD, argc, argv, opts, usage, "PROJECT", 1, 1, &proj_arg, &n_pos);
    if (st >= 0) return st;
    kp_error err = {0};
    kp_project *p = NULL;
    if (kp_cli_open_project(proj_arg, &p, &err)) return kp_cli_fail(CMD, &err);
    int status = 1;
    if (want_errors) {
        errors(p);
        status = 0;
        goto done;
    }
    const kp_run_record *r = NULL;
    for (size_t i = 0; i < p->n_runs; i++)
        if (run_id ? !strcmp(p->runs[i].id, run_id) : p->runs[i].status == 0) r = &p->runs[i];
    if (!r) {
        kp_cli_failf(CMD, 1,
                     run_id ? "no run named %s in this project"
                            : "this project has no finished run yet (kompress run)%s",
                     run_id ? run_id : "");
        goto done;
    }
    char *text = kp_report_text(p, r, fmt);
    if (!text) {
        kp_cli_failf(CMD, 1, "out of memory");
        goto done;
    }
    fputs(text, stdout);
    free(text);
    status = 0;
done:
    kp_project_free(p);
    return status;
}

const kp_cmd kp_cmd_report = {"report", "PROJECT [--format md|csv|json]",
                              "print the report of a project's run", run};
