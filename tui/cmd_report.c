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

/* Mean estimate errors of one run over its steps: size and latency relative, top-1 in points. */
static int run_errors(const kp_run_record *rr, double *es, double *el, double *ea) {
    int n = 0, na = 0;
    *es = *el = *ea = 0;
    const kp_metrics_row *prev = &rr->before;
    for (size_t k = 0; k < rr->n_steps && rr->step_after; k++) {
        const kp_metrics_row *m = &rr->step_after[k];
        const kp_estimate *e = &rr->steps[k].est;
        if (prev->file_bytes > 0 && prev->host_latency_ms > 0 && e->size_ratio > 0 &&
            e->latency_ratio > 0) {
            *es += fabs(m->file_bytes / prev->file_bytes / e->size_ratio - 1);
            *el += fabs(m->host_latency_ms / prev->host_latency_ms / e->latency_ratio - 1);
            n++;
            if (m->top1 >= 0 && prev->top1 >= 0) {
                *ea += fabs((prev->top1 - m->top1) - e->acc_drop);
                na++;
            }
        }
        prev = m;
    }
    if (n) {
        *es /= n;
        *el /= n;
    }
    if (na) *ea /= na;
    return n;
}

static void errors(const kp_project *p) {
    printf("%-16s %5s %14s %14s %14s\n", "run", "steps", "size err %", "latency err %",
           "top-1 err pts");
    for (size_t r = 0; r < p->n_runs; r++) {
        double es, el, ea;
        if (p->runs[r].status) continue;
        int n = run_errors(&p->runs[r], &es, &el, &ea);
        if (n) printf("%-16s %5d %14.1f %14.1f %14.2f\n", p->runs[r].id, n, 100 * es, 100 * el, ea);
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
            for (size_t s = 0; s < n_seen; s++) dup |= !strcmp(seen[s], id);
            if (!dup && n_seen < 64) seen[n_seen++] = id;
        }
    for (size_t s = 0; s < n_seen; s++) {
        double es = 0, el = 0, ea = 0;
        int n = 0, na = 0;
        for (size_t r = 0; r < p->n_runs; r++) {
            const kp_run_record *rr = &p->runs[r];
            if (rr->status || !rr->step_after) continue;
            const kp_metrics_row *prev = &rr->before;
            for (size_t k = 0; k < rr->n_steps; k++) {
                const kp_metrics_row *m = &rr->step_after[k];
                const kp_estimate *e = &rr->steps[k].est;
                if (!strcmp(rr->steps[k].pass_id, seen[s]) && prev->file_bytes > 0 &&
                    prev->host_latency_ms > 0 && e->size_ratio > 0 && e->latency_ratio > 0) {
                    es += fabs(m->file_bytes / prev->file_bytes / e->size_ratio - 1);
                    el += fabs(m->host_latency_ms / prev->host_latency_ms / e->latency_ratio - 1);
                    n++;
                    if (m->top1 >= 0 && prev->top1 >= 0) {
                        ea += fabs((prev->top1 - m->top1) - e->acc_drop);
                        na++;
                    }
                }
                prev = m;
            }
        }
        if (n)
            printf("%-16s %5d %14.1f %14.1f %14.2f\n", seen[s], n, 100 * es / n, 100 * el / n,
                   na ? ea / na : 0.0);
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
