/* kompress new NAME --model M [--data D --labels L ...] --target T --goal G [--goal G]
 *                  [--max-drop X] [--workspace DIR] [--json] */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dataset.h"
#include "core/onnx_io.h"
#include "core/project.h"
#include "core/target.h"
#include "tui/cli.h"

#define CMD "new"

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: kompress new NAME --model M [--data D [--labels L] [--format F]\n"
        "         [--scale S] [--mean a,b,c] [--std a,b,c] [--layout nchw|nhwc]]\n"
        "         [--target T] [--goal latency|size|accuracy]... [--max-drop X]\n"
        "         [--size-budget BYTES] [--latency-budget MS] [--calib N] [--limit N]\n"
        "         [--workspace DIR] [--json]\n"
        "Creates a project folder WORKSPACE/NAME with project.json (default workspace\n"
        "$XDG_DATA_HOME/kompress/projects). Goals: at most two, in priority order.\n"
        "--max-drop: largest top-1 drop accepted, in points (default 1.0). --calib: calibration\n"
        "samples (512). --limit: evaluate on the first N samples only (0 = all).\n");
}

static char *abs_path(const char *p, kp_error *err) {
    char *r = realpath(p, NULL);
    if (!r) kp_error_set(err, KP_ENOTFOUND, "%s: no such file", p);
    return r;
}

static int parse_num(const char *s, double lo, double hi, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int run(int argc, char **argv) {
    enum {
        O_MODEL = 256,
        O_DATA,
        O_LABELS,
        O_FORMAT,
        O_SCALE,
        O_MEAN,
        O_STD,
        O_LAYOUT,
        O_TARGET,
        O_GOAL,
        O_DROP,
        O_SIZEB,
        O_LATB,
        O_WS,
        O_JSON,
        O_CALIB,
        O_LIMIT
    };
    static const struct option opts[] = {{"model", required_argument, 0, O_MODEL},
                                         {"data", required_argument, 0, O_DATA},
                                         {"labels", required_argument, 0, O_LABELS},
                                         {"format", required_argument, 0, O_FORMAT},
                                         {"scale", required_argument, 0, O_SCALE},
                                         {"mean", required_argument, 0, O_MEAN},
                                         {"std", required_argument, 0, O_STD},
                                         {"layout", required_argument, 0, O_LAYOUT},
                                         {"target", required_argument, 0, O_TARGET},
                                         {"goal", required_argument, 0, O_GOAL},
                                         {"max-drop", required_argument, 0, O_DROP},
                                         {"size-budget", required_argument, 0, O_SIZEB},
                                         {"latency-budget", required_argument, 0, O_LATB},
                                         {"workspace", required_argument, 0, O_WS},
                                         {"limit", required_argument, 0, O_LIMIT},
                                         {"calib", required_argument, 0, O_CALIB},
                                         {"json", no_argument, 0, O_JSON},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *model = NULL, *data = NULL, *labels = NULL, *format = NULL, *target = "host",
               *ws = NULL, *mean = NULL, *std = NULL, *layout = "nchw";
    double scale = 1, drop = 1.0, sizeb = 0, latb = 0, calib = 512, limit = 0;
    kp_goal goals[2] = {KP_GOAL_NONE, KP_GOAL_NONE};
    int n_goals = 0, json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model = optarg; break;
        case O_DATA: data = optarg; break;
        case O_LABELS: labels = optarg; break;
        case O_FORMAT: format = optarg; break;
        case O_MEAN: mean = optarg; break;
        case O_STD: std = optarg; break;
        case O_LAYOUT: layout = optarg; break;
        case O_TARGET: target = optarg; break;
        case O_WS: ws = optarg; break;
        case O_JSON: json = 1; break;
        case O_SCALE:
            if (parse_num(optarg, 1e-12, 1e12, &scale))
                return kp_cli_failf(CMD, 2, "--scale must be a positive number, not '%s'", optarg);
            break;
        case O_DROP:
            if (parse_num(optarg, 0, 100, &drop))
                return kp_cli_failf(CMD, 2, "--max-drop must be 0..100 points, not '%s'", optarg);
            break;
        case O_SIZEB:
            if (parse_num(optarg, 0, 1e15, &sizeb))
                return kp_cli_failf(CMD, 2, "--size-budget must be bytes, not '%s'", optarg);
            break;
        case O_LATB:
            if (parse_num(optarg, 0, 1e9, &latb))
                return kp_cli_failf(CMD, 2, "--latency-budget must be ms, not '%s'", optarg);
            break;
        case O_CALIB:
            if (parse_num(optarg, 1, 1e9, &calib))
                return kp_cli_failf(CMD, 2, "--calib must be a sample count, not '%s'", optarg);
            break;
        case O_LIMIT:
            if (parse_num(optarg, 0, 1e12, &limit))
                return kp_cli_failf(CMD, 2, "--limit must be a sample count, not '%s'", optarg);
            break;
        case O_GOAL: {
            kp_goal g = kp_goal_from_name(optarg);
            if (g == KP_GOAL_NONE)
                return kp_cli_failf(CMD, 2, "goal '%s' is not latency, size or accuracy", optarg);
            if (n_goals == 2) return kp_cli_failf(CMD, 2, "at most two goals");
            if (n_goals == 1 && goals[0] == g)
                return kp_cli_failf(CMD, 2, "goal '%s' given twice", optarg);
            goals[n_goals++] = g;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    if (!model) return kp_cli_failf(CMD, 2, "--model is required");
    if (strcmp(layout, "nchw") && strcmp(layout, "nhwc"))
        return kp_cli_failf(CMD, 2, "--layout must be nchw or nhwc");
    if (!n_goals) goals[n_goals++] = KP_GOAL_SIZE;
    kp_error err = {0};
    kp_target *targets = NULL;
    size_t nt = 0;
    if (kp_targets_load(NULL, &targets, &nt, &err)) return kp_cli_fail(CMD, &err);
    int known = kp_target_find(targets, nt, target) != NULL;
    free(targets);
    if (!known) return kp_cli_failf(CMD, 2, "target '%s' is not known (kompress targets)", target);

    kp_project *p = NULL;
    kp_model *m = NULL;
    char *owned_ws = NULL;
    int status = 1;
    char *mabs = abs_path(model, &err);
    if (!mabs) goto done;
    if (kp_onnx_load(mabs, NULL, &m, &err)) {
        kp_error_wrap(&err, "model %s: ", model);
        goto done;
    }
    if (!ws) ws = owned_ws = kp_project_default_workspace();
    if (kp_project_create(ws, argv[optind], &p, &err)) goto done;
    p->model = mabs;
    mabs = NULL;
    free(p->target_id);
    p->target_id = strdup(target);
    p->goals[0] = goals[0];
    p->goals[1] = goals[1];
    p->max_drop = drop;
    p->size_budget_bytes = sizeb;
    p->latency_budget_ms = latb;
    p->data.calib_samples = (int64_t)calib;
    p->data.eval_limit = (int64_t)limit;
    p->data.scale = scale;
    snprintf(p->data.layout, sizeof p->data.layout, "%s", layout);
    if (data) {
        if (!(p->data.path = abs_path(data, &err))) goto undo;
        if (labels && !(p->data.labels = abs_path(labels, &err))) goto undo;
        if (format) p->data.format = strdup(format);
        float v[KP_DATA_MAX_CHANNELS];
        size_t n = 0;
        if (mean) {
            if (kp_preproc_parse_list(mean, v, &n, &err) || n > 8) goto undo;
            for (size_t i = 0; i < n; i++) p->data.mean[i] = v[i];
            p->data.n_mean = n;
        }
        if (std) {
            if (kp_preproc_parse_list(std, v, &n, &err) || n > 8) goto undo;
            for (size_t i = 0; i < n; i++) p->data.std[i] = v[i];
            p->data.n_std = n;
        }
        /* The data must fit the model now, not at the first run. */
        kp_dataset *ds = NULL;
        if (kp_dataset_open_project(p, 64, &ds, &err) || kp_dataset_bind(ds, m, &err)) {
            kp_dataset_free(ds);
            kp_error_wrap(&err, "data %s: ", data);
            goto undo;
        }
        kp_dataset_free(ds);
    }
    if (kp_project_save(p, &err)) goto undo;
    if (json)
        printf("{\"project\": \"%s\", \"name\": \"%s\"}\n", p->dir, p->name);
    else
        printf("created project %s in %s\nnext: kompress plan %s\n", p->name, p->dir, p->dir);
    status = 0;
    goto done;
undo:
    if (p) {
        kp_error e2 = {0};
        kp_project_delete(ws, p->name, &e2);
    }
done:
    if (status) kp_cli_fail(CMD, &err);
    free(mabs);
    free(owned_ws);
    kp_project_free(p);
    kp_model_free(m);
    return status;
}

const kp_cmd kp_cmd_new = {"new", "NAME --model M --data D --target T --goal G", "create a project",
                           run};
