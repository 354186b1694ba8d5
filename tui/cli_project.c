#include "tui/cli_project.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/dataset.h"
#include "core/onnx_io.h"
#include "core/shape_infer.h"
#include "passes/registry.h"

int kp_cli_open_project(const char *arg, kp_project **out, kp_error *err) {
    struct stat st;
    if (stat(arg, &st) == 0) return kp_project_load(arg, out, err);
    if (!strchr(arg, '/')) {
        char *ws = kp_project_default_workspace();
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", ws ? ws : ".", arg);
        free(ws);
        if (stat(path, &st) == 0) return kp_project_load(path, out, err);
    }
    return kp_error_set(err, KP_ENOTFOUND,
                        "no project at %s (give a project folder, or a name in the default "
                        "workspace; kompress new creates one)",
                        arg);
}

int kp_cli_ctx_open(const kp_project *p, size_t trial_samples, kp_cli_ctx *c, kp_error *err) {
    memset(c, 0, sizeof *c);
    if (!p->model) return kp_error_set(err, KP_EINVAL, "the project has no model");
    char *mp = kp_project_path(p, p->model);
    int rc = kp_onnx_load(mp, NULL, &c->model, err);
    if (rc) kp_error_wrap(err, "model %s: ", mp);
    free(mp);
    if (!rc) rc = kp_infer_shapes(c->model, err);
    if (!rc) rc = kp_targets_load(NULL, &c->targets, &c->n_targets, err);
    if (!rc) {
        const char *tid = p->target_id ? p->target_id : "host";
        c->target = kp_target_find(c->targets, c->n_targets, tid);
        if (!c->target)
            rc = kp_error_set(err, KP_ENOTFOUND, "target \"%s\" is not known (kompress targets)",
                              tid);
    }
    if (!rc && p->data.path) {
        rc = kp_dataset_open_project(p, 64, &c->ds, err);
        if (!rc) rc = kp_dataset_bind(c->ds, c->model, err);
        /* The subset the run calibrates on, and trial samples beyond it that leave at least
         * half the rest to the run's holdout (core/dataset.h, as run and compress do). */
        if (!rc) rc = kp_dataset_project_calib(c->ds, p, &c->calib, err);
        if (!rc) rc = kp_dataset_project_trial(c->ds, p, trial_samples, &c->trial, err);
        if (rc) kp_error_wrap(err, "test data: ");
    }
    if (rc) kp_cli_ctx_free(c);
    return rc;
}

void kp_cli_ctx_free(kp_cli_ctx *c) {
    kp_dataset_calib_free(c->trial);
    kp_dataset_calib_free(c->calib);
    kp_dataset_free(c->ds);
    free(c->targets);
    kp_model_free(c->model);
    memset(c, 0, sizeof *c);
}

int kp_cli_propose(kp_project *p, const kp_cli_ctx *c, kp_plan *plan, kp_error *err) {
    size_t n;
    const kp_pass *const *reg = kp_passes(&n);
    int rc =
        kp_planner_propose_split(p, c->model, c->target, reg, n, c->calib, c->trial, plan, err);
    return rc ? rc : kp_plan_adopt(p, plan, err);
}

void kp_cli_print_plan(const kp_project *p, const kp_plan *plan) {
    printf("plan for %s (target %s, goals %s%s%s, budget %.2f points)\n", p->name,
           p->target_id ? p->target_id : "host", kp_goal_name(p->goals[0]), p->goals[1] ? ", " : "",
           p->goals[1] ? kp_goal_name(p->goals[1]) : "", p->max_drop);
    printf("  %-3s %-16s %-22s %8s %8s %7s  %s\n", "on", "pass", "params", "size", "latency",
           "Δtop-1", "reason");
    for (size_t i = 0; i < plan->n; i++) {
        const kp_plan_step *s = &plan->steps[i];
        printf("  [%c] %-16s %-22.22s %7.2fx %7.2fx %7.2f  %s\n", s->enabled ? 'x' : ' ',
               s->pass_id, s->params, s->est.size_ratio, s->est.latency_ratio, -s->est.acc_drop,
               s->est.reason);
    }
    printf("  total: %s\n", plan->total.reason);
    if (plan->note[0]) printf("  note: %s\n", plan->note);
    if (!plan->info.meets && plan->info.note) printf("  BUDGET MISSED: %s\n", plan->info.note);
    kp_cli_print_tried(&plan->info);
}

void kp_cli_print_tried(const kp_plan_info *pi) {
    size_t n_p = 0;
    for (size_t i = 0; i < pi->n_tried; i++) n_p += pi->tried[i].pareto != 0;
    if (!pi->n_tried) return;
    printf("  tried %zu pipelines; the Pareto set (none better on size, latency and accuracy "
           "at once):\n",
           pi->n_tried);
    printf("      %8s %8s %15s  %s\n", "size", "latency", "Δtop-1", "pipeline");
    for (size_t i = 0; i < pi->n_tried; i++) {
        const kp_tried *k = &pi->tried[i];
        if (!k->pareto && !k->chosen) continue;
        char acc[32];
        snprintf(acc, sizeof acc, "%+.2f ± %.2f", -k->acc_drop, k->acc_se);
        printf("  %c%c  %7.3fx %7.2fx %15s  %s%s\n", k->chosen ? '*' : ' ', k->meets ? ' ' : '!',
               k->size_ratio, k->latency_ratio, acc, k->name ? k->name : "?",
               k->pareto ? "" : " (not Pareto)");
    }
    printf("  (* = chosen, ! = misses a budget; %zu of %zu on the Pareto front)\n", n_p,
           pi->n_tried);
}
