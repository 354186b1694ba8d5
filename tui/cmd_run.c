/* kompress run PROJECT [--json] [--tries N]: runs the plan, checks the measured accuracy
 * against the budget and, when it breaks it, backs off (switches off the step that cost the
 * most accuracy) and runs again, up to N tries. Every try is a run record; the best one that
 * meets the budget (or the closest) is named at the end. */
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/job.h"
#include "passes/registry.h"
#include "tui/cli.h"
#include "tui/cli_opts.h"
#include "tui/cli_project.h"

#define CMD "run"

static kp_job *current;
static void on_sigint(int s) {
    (void)s;
    if (current) kp_job_cancel(current);
}

static void usage(FILE *f) {
    fprintf(f, "usage: kompress run PROJECT [--tries N] [--json]\n"
               "Runs the project's plan (proposing one first if it has none), writes the\n"
               "compressed model and a report under PROJECT/runs/, and records the run in\n"
               "project.json. When the measured top-1 drop breaks the budget, the step that\n"
               "cost most is switched off and the plan runs again (up to --tries, default 3;\n"
               "unchanged steps come from the cache). Ctrl-C cancels and leaves the project as\n"
               "it was.\n");
}

static void row(const char *label, const kp_metrics_row *m, const kp_metrics_row *b) {
    char acc[16] = "-";
    if (m->top1 >= 0) snprintf(acc, sizeof acc, "%.2f", m->top1);
    printf("  %-16s %10.0f %10.0f %6.2fx %9.3f %10.3f %7s %5s\n", label, m->file_bytes,
           m->gzip_bytes, m->file_bytes > 0 ? b->file_bytes / m->file_bytes : 0, m->host_latency_ms,
           m->target_latency_ms, acc, m->fits_ram && m->fits_flash ? "yes" : "NO");
}

/* One job; returns its status. Prints progress to stderr unless quiet. */
static int run_once(kp_project *p, const kp_pass *const *reg, size_t n, int quiet, kp_error *err) {
    kp_job *j;
    int rc = kp_job_start(p, reg, n, &j, err);
    if (rc) return rc;
    current = j;
    kp_event ev;
    int tty = isatty(2);
    for (;;) {
        int got = 0;
        while (kp_job_poll(j, &ev)) {
            got = 1;
            if (quiet) continue;
            switch (ev.kind) {
            case KP_EV_STAGE: fprintf(stderr, "[%6.1fs] %s\n", ev.elapsed_s, ev.text); break;
            case KP_EV_STEP_START:
                fprintf(stderr, "[%6.1fs] step %d: %s\n", ev.elapsed_s, ev.step + 1, ev.text);
                break;
            case KP_EV_PROGRESS:
                if (tty) fprintf(stderr, "\r  %3.0f%% %-50.50s", 100 * ev.fraction, ev.text);
                break;
            case KP_EV_LOG: fprintf(stderr, "%s  note: %s\n", tty ? "\n" : "", ev.text); break;
            case KP_EV_STEP_DONE:
                if (tty) fputc('\n', stderr);
                if (ev.text[0]) fprintf(stderr, "  %s\n", ev.text);
                break;
            case KP_EV_METRICS:
                fprintf(stderr, "[%6.1fs] %s: %.0f bytes, %.3f ms, top-1 %.2f\n", ev.elapsed_s,
                        ev.text, ev.metrics.file_bytes, ev.metrics.host_latency_ms,
                        ev.metrics.top1);
                break;
            default: break;
            }
        }
        if (!got) { /* the worker posts DONE/FAILED/CANCELLED last: stop after one */
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (got && (ev.kind == KP_EV_DONE || ev.kind == KP_EV_FAILED || ev.kind == KP_EV_CANCELLED))
            break;
    }
    rc = kp_job_wait(j, err);
    current = NULL;
    kp_job_free(j);
    return rc;
}

static int run(int argc, char **argv) {
    int json = 0;
    long long tries = 3;
    const char *proj_arg = NULL;
    const kp_opt opts[] = {{"json", 'j', KP_OPT_FLAG, &json, 0, 0, NULL},
                           {"tries", 't', KP_OPT_LONG, &tries, 1, 10, NULL},
                           KP_OPT_END};
    size_t n_pos;
    int st = kp_cli_parse(CMD, argc, argv, opts, usage, "PROJECT", 1, 1, &proj_arg, &n_pos);
    if (st >= 0) return st;
    kp_error err = {0};
    kp_project *p = NULL;
    size_t n;
    const kp_pass *const *reg = kp_passes(&n);
    int status = 1;
    if (kp_cli_open_project(proj_arg, &p, &err)) return kp_cli_fail(CMD, &err);
    if (!p->n_plan) {
        kp_cli_ctx ctx;
        kp_plan plan = {0};
        int rc = kp_cli_ctx_open(p, KP_PLANNER_TRIAL_SAMPLES, &ctx, &err);
        if (!rc) rc = kp_cli_propose(p, &ctx, &plan, &err);
        if (!rc && !json) kp_cli_print_plan(p, &plan);
        kp_plan_free(&plan);
        kp_cli_ctx_free(&ctx);
        if (rc) {
            kp_project_free(p);
            return kp_cli_fail(CMD, &err);
        }
    }
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    size_t first_run = p->n_runs;
    for (long t = 0; t < tries; t++) {
        int rc = run_once(p, reg, n, json, &err);
        char *dir = strdup(p->dir);
        kp_project *q = NULL;
        /* The job saved the record into project.json: reload to see it. */
        int lrc = dir ? kp_project_load(dir, &q, &err) : KP_ENOMEM;
        free(dir);
        if (rc) {
            kp_cli_fail(CMD, &err);
            kp_project_free(q);
            goto done;
        }
        if (lrc) {
            kp_cli_fail(CMD, &err);
            goto done;
        }
        /* keep the plan edits of this session (back-offs) in the reloaded project */
        kp_plan_step *ps = q->plan;
        size_t pn = q->n_plan;
        q->plan = p->plan;
        q->n_plan = p->n_plan;
        p->plan = ps;
        p->n_plan = pn;
        kp_project_free(p);
        p = q;
        const kp_run_record *r = &p->runs[p->n_runs - 1];
        double drop =
            (r->before.top1 >= 0 && r->after.top1 >= 0) ? r->before.top1 - r->after.top1 : 0;
        if (drop <= p->max_drop + 1e-9 || t == tries - 1) break;
        /* Back off: switch off the enabled step whose measured drop was largest. */
        size_t worst = r->n_steps;
        double wd = 0;
        const kp_metrics_row *prev = &r->before;
        for (size_t k = 0; k < r->n_steps; k++) {
            double d = prev->top1 - r->step_after[k].top1;
            if (d > wd) {
                wd = d;
                worst = k;
            }
            prev = &r->step_after[k];
        }
        if (worst == r->n_steps) break;
        int off = 0;
        for (size_t i = 0; i < p->n_plan && !off; i++)
            if (p->plan[i].enabled && !strcmp(p->plan[i].pass_id, r->steps[worst].pass_id)) {
                p->plan[i].enabled = 0;
                off = 1;
            }
        if (!off) break;
        /* Reconstruction with no lossy step on before it has nothing to refit. */
        int lossy = 0;
        for (size_t i = 0; i < p->n_plan; i++) {
            kp_plan_step *step = &p->plan[i];
            const kp_pass *pass = kp_pass_find(reg, n, step->pass_id);
            if (!step->enabled || !pass) continue;
            if (!strcmp(step->pass_id, "reconstruct"))
                step->enabled = lossy;
            else if (!pass->lossless)
                lossy = 1;
        }
        /* The planner's prediction was for the plan before this change; the samples its
         * trials measured on stay out of the holdout (the plan was chosen on them). */
        kp_plan_info_outdate(&p->plan_info);
        if (!json)
            fprintf(stderr,
                    "measured drop %.2f points breaks the %.2f budget: switching off %s "
                    "(cost %.2f) and running again\n",
                    drop, p->max_drop, r->steps[worst].pass_id, wd);
        if (kp_project_save(p, &err)) {
            kp_cli_fail(CMD, &err);
            goto done;
        }
    }
    /* Best run of this invocation: meets the budget and is best on the first goal. */
    const kp_run_record *best = NULL;
    for (size_t i = first_run; i < p->n_runs; i++) {
        const kp_run_record *r = &p->runs[i];
        if (r->status) continue;
        double drop =
            (r->before.top1 >= 0 && r->after.top1 >= 0) ? r->before.top1 - r->after.top1 : 0;
        int ok = drop <= p->max_drop + 1e-9;
        if (!best) {
            best = r;
            continue;
        }
        double bdrop = best->before.top1 - best->after.top1;
        int bok = bdrop <= p->max_drop + 1e-9;
        double v = p->goals[0] == KP_GOAL_LATENCY    ? r->after.host_latency_ms
                   : p->goals[0] == KP_GOAL_ACCURACY ? -r->after.top1
                                                     : r->after.file_bytes;
        double bv = p->goals[0] == KP_GOAL_LATENCY    ? best->after.host_latency_ms
                    : p->goals[0] == KP_GOAL_ACCURACY ? -best->after.top1
                                                      : best->after.file_bytes;
        if ((ok && !bok) || (ok == bok && v < bv)) best = r;
    }
    if (!best) {
        kp_cli_failf(CMD, 1, "no run finished");
        goto done;
    }
    double drop = best->before.top1 - best->after.top1;
    if (json) {
        printf("{\"run\": \"%s\", \"model\": \"%s/%s\", \"report\": \"%s/%s\", "
               "\"before\": {\"bytes\": %.0f, \"latency_ms\": %.4f, \"top1\": %.2f}, "
               "\"after\": {\"bytes\": %.0f, \"latency_ms\": %.4f, \"top1\": %.2f}, "
               "\"meets_budget\": %s, \"scored\": {\"samples\": %zu, \"holdout_hash\": \"%s\"}}\n",
               best->id, p->dir, best->output_model, p->dir, best->report, best->before.file_bytes,
               best->before.host_latency_ms, best->before.top1, best->after.file_bytes,
               best->after.host_latency_ms, best->after.top1,
               drop <= p->max_drop + 1e-9 ? "true" : "false", best->eval_samples,
               best->holdout_hash ? best->holdout_hash : "");
    } else {
        printf("  %-16s %10s %10s %7s %9s %10s %7s %5s\n", "", "bytes", "gzip", "smaller",
               "host ms", "target ms", "top-1", "fits");
        row("original", &best->before, &best->before);
        for (size_t k = 0; k < best->n_steps; k++)
            row(best->steps[k].pass_id, &best->step_after[k], &best->before);
        row("final", &best->after, &best->before);
        const kp_plan_info *pi = &best->predicted;
        if (pi->total.size_ratio > 0 && best->before.file_bytes > 0)
            printf("predicted %.3fx the size, %.2fx the target latency, %+.2f ± %.2f points "
                   "(trials on "
                   "%lld samples); measured %.3fx, %.2fx, %+.2f points on %zu holdout samples\n",
                   pi->total.size_ratio, pi->total.latency_ratio, -pi->total.acc_drop, pi->acc_se,
                   (long long)pi->trial_samples, best->after.file_bytes / best->before.file_bytes,
                   best->before.target_latency_ms > 0
                       ? best->after.target_latency_ms / best->before.target_latency_ms
                       : 0,
                   -drop, best->eval_samples);
        if (drop > p->max_drop + 1e-9)
            printf("no plan met the %.2f-point budget; the closest (%s, -%.2f points, %.2f over) "
                   "is saved\n",
                   p->max_drop, best->id, drop, drop - p->max_drop);
        printf("best run %s: model %s/%s, report %s/%s\n", best->id, p->dir, best->output_model,
               p->dir, best->report);
    }
    status = 0;
done:
    kp_project_free(p);
    return status;
}

const kp_cmd kp_cmd_run = {"run", "PROJECT [--json]", "run a project's plan and save results", run};
