/* kompress plan PROJECT [--json] [--trial N]: propose a plan and store it in project.json. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/project_json.h"
#include "tui/cli.h"
#include "tui/cli_opts.h"
#include "tui/cli_project.h"

#define CMD "plan"

static void usage(FILE *f) {
    fprintf(f,
            "usage: kompress plan PROJECT [--trial N] [--json]\n"
            "Proposes passes for the project's target and goals, with each one's estimated\n"
            "effect and reason, and stores the plan in project.json. Passes fit on the\n"
            "project's calibration subset (the one the run uses); --trial: samples the\n"
            "candidate pipelines are measured on (default %d, other samples than the\n"
            "calibration ones; runs do not score them). --calib is an old name for --trial.\n",
            KP_PLANNER_TRIAL_SAMPLES);
}

static int run(int argc, char **argv) {
    int json = 0;
    long long calib = KP_PLANNER_TRIAL_SAMPLES;
    const char *proj_arg = NULL;
    const kp_opt opts[] = {{"json", 'j', KP_OPT_FLAG, &json, 0, 0, NULL},
                           {"calib", 'c', KP_OPT_LONG, &calib, 0, 1000000, NULL},
                           {"trial", 0, KP_OPT_LONG, &calib, 0, 1000000, NULL}, /* 0: no trials */
                           KP_OPT_END};
    size_t n_pos;
    int st = kp_cli_parse(CMD, argc, argv, opts, usage, "PROJECT", 1, 1, &proj_arg, &n_pos);
    if (st >= 0) return st;
    kp_error err = {0};
    kp_project *p = NULL;
    kp_cli_ctx ctx = {0};
    kp_plan plan = {0};
    int status = 1;
    if (kp_cli_open_project(proj_arg, &p, &err) || kp_cli_ctx_open(p, (size_t)calib, &ctx, &err) ||
        kp_cli_propose(p, &ctx, &plan, &err) || kp_project_save(p, &err)) {
        kp_cli_fail(CMD, &err);
        goto done;
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(o, "steps");
        for (size_t i = 0; i < plan.n; i++) {
            const kp_plan_step *s = &plan.steps[i];
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "pass", s->pass_id);
            cJSON_AddStringToObject(e, "params", s->params);
            cJSON_AddBoolToObject(e, "enabled", s->enabled);
            cJSON_AddNumberToObject(e, "size_ratio", s->est.size_ratio);
            cJSON_AddNumberToObject(e, "latency_ratio", s->est.latency_ratio);
            cJSON_AddNumberToObject(e, "acc_drop", s->est.acc_drop);
            cJSON_AddNumberToObject(e, "confidence", s->est.confidence);
            cJSON_AddStringToObject(e, "reason", s->est.reason);
            cJSON_AddItemToArray(arr, e);
        }
        cJSON *t = cJSON_AddObjectToObject(o, "total");
        cJSON_AddNumberToObject(t, "size_ratio", plan.total.size_ratio);
        cJSON_AddNumberToObject(t, "latency_ratio", plan.total.latency_ratio);
        cJSON_AddNumberToObject(t, "acc_drop", plan.total.acc_drop);
        cJSON_AddNumberToObject(t, "acc_se", plan.info.acc_se);
        cJSON_AddNumberToObject(t, "trial_samples", (double)plan.info.trial_samples);
        cJSON_AddBoolToObject(o, "meets_budget", plan.info.meets);
        if (!plan.info.meets && plan.info.note)
            cJSON_AddStringToObject(o, "budget_missed", plan.info.note);
        cJSON_AddStringToObject(o, "note", plan.note);
        cJSON_AddItemToObject(o, "tried", kp_tried_json(plan.info.tried, plan.info.n_tried));
        char *s = cJSON_Print(o);
        if (s) puts(s);
        free(s);
        cJSON_Delete(o);
    } else {
        kp_cli_print_plan(p, &plan);
        printf("saved in %s/project.json; next: kompress run %s\n", p->dir, p->dir);
    }
    status = 0;
done:
    kp_plan_free(&plan);
    kp_cli_ctx_free(&ctx);
    kp_project_free(p);
    return status;
}

const kp_cmd kp_cmd_plan = {"plan", "PROJECT [--json]", "propose passes for a project", run};
