/* kompress plan PROJECT [--json] [--calib N]: propose a plan and store it in project.json. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/cli.h"
#include "tui/cli_project.h"

#define CMD "plan"

static void usage(FILE *f) {
    fprintf(f, "usage: kompress plan PROJECT [--calib N] [--json]\n"
               "Proposes passes for the project's target and goals, with each one's estimated\n"
               "effect and reason, and stores the plan in project.json. --calib: samples used\n"
               "to try steps on (default 512: half fit, half measure).\n");
}

static int run(int argc, char **argv) {
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"calib", required_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int json = 0, c;
    long calib = 512;
    optind = 1;
    while ((c = getopt_long(argc, argv, "jc:h", opts, NULL)) != -1) {
        if (c == 'j')
            json = 1;
        else if (c == 'c') {
            char *end;
            calib = strtol(optarg, &end, 10);
            if (*end || calib < 1 || calib > 1000000)
                return kp_cli_failf(CMD, 2, "--calib must be 1..1000000");
        } else if (c == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    kp_error err = {0};
    kp_project *p = NULL;
    kp_cli_ctx ctx = {0};
    kp_plan plan = {0};
    int status = 1;
    if (kp_cli_open_project(argv[optind], &p, &err) ||
        kp_cli_ctx_open(p, (size_t)calib, &ctx, &err) || kp_cli_propose(p, &ctx, &plan, &err) ||
        kp_project_save(p, &err)) {
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
        cJSON_AddStringToObject(o, "note", plan.note);
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
