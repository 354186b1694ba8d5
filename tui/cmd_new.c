/* kompress new NAME --model M [--data D --labels L ...] --target T --goal G [--goal G]
 *                  [--max-drop X] [--workspace DIR] [--json] */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dataset.h"
#include "core/onnx_io.h"
#include "core/project.h"
#include "core/target.h"
#include "tui/cli.h"
#include "tui/cli_opts.h"

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

/* --goal, up to twice, in priority order. */
typedef struct goal_list {
    kp_goal g[2];
    int n;
} goal_list;

static int read_goal(void *dest, const char *arg, kp_error *err) {
    goal_list *l = dest;
    kp_goal g = kp_goal_from_name(arg);
    if (g == KP_GOAL_NONE)
        return kp_error_set(err, KP_EINVAL, "--goal: latency, size or accuracy, not '%s'", arg);
    if (l->n == 2) return kp_error_set(err, KP_ERANGE, "--goal: at most two goals");
    if (l->n == 1 && l->g[0] == g)
        return kp_error_set(err, KP_EINVAL, "--goal: '%s' given twice", arg);
    l->g[l->n++] = g;
    return 0;
}

/* --mean / --std: per-channel values, at most as many as a project holds. */
typedef struct chan_list {
    const char *name;
    size_t n;
    float v[KP_DATA_MAX_CHANNELS];
} chan_list;

static int read_chans(void *dest, const char *arg, kp_error *err) {
    chan_list *l = dest;
    kp_data_spec spec;
    const size_t cap = sizeof spec.mean / sizeof spec.mean[0];
    if (kp_preproc_parse_list(arg, l->v, &l->n, err)) return kp_error_wrap(err, "--%s: ", l->name);
    if (l->n > cap)
        return kp_error_set(err, KP_ERANGE, "--%s: at most %zu values (one per channel), not %zu",
                            l->name, cap, l->n);
    for (size_t i = 0; !strcmp(l->name, "std") && i < l->n; i++)
        if (l->v[i] == 0) return kp_error_set(err, KP_EINVAL, "--std: values must not be zero");
    return 0;
}

static int read_layout(void *dest, const char *arg, kp_error *err) {
    if (strcmp(arg, "nchw") && strcmp(arg, "nhwc"))
        return kp_error_set(err, KP_EINVAL, "--layout: nchw or nhwc, not '%s'", arg);
    *(const char **)dest = arg;
    return 0;
}

static int read_format(void *dest, const char *arg, kp_error *err) {
    kp_data_format f;
    if (kp_data_format_parse(arg, &f))
        return kp_error_set(err, KP_EINVAL, "--format %s: use npy, npz, idx, csv or onnx-pb", arg);
    *(const char **)dest = arg;
    return 0;
}

static int run(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *labels = NULL, *format = NULL, *target = "host",
               *ws = NULL, *layout = "nchw", *name = NULL;
    double scale = 1, drop = 1.0, sizeb = 0, latb = 0;
    long long calib = 512, limit = 0;
    goal_list gl = {{KP_GOAL_NONE, KP_GOAL_NONE}, 0};
    chan_list mean = {"mean", 0, {0}}, std = {"std", 0, {0}};
    int json = 0;
    const kp_opt opts[] = {{"model", 0, KP_OPT_STR, &model, 0, 0, NULL},
                           {"data", 0, KP_OPT_STR, &data, 0, 0, NULL},
                           {"labels", 0, KP_OPT_STR, &labels, 0, 0, NULL},
                           {"format", 0, KP_OPT_FN, &format, 0, 0, read_format},
                           {"scale", 0, KP_OPT_FN, &scale, 0, 0, kp_cli_read_scale},
                           {"mean", 0, KP_OPT_FN, &mean, 0, 0, read_chans},
                           {"std", 0, KP_OPT_FN, &std, 0, 0, read_chans},
                           {"layout", 0, KP_OPT_FN, &layout, 0, 0, read_layout},
                           {"target", 0, KP_OPT_STR, &target, 0, 0, NULL},
                           {"goal", 0, KP_OPT_FN, &gl, 0, 0, read_goal},
                           {"max-drop", 0, KP_OPT_DOUBLE, &drop, 0, 100, NULL},
                           {"size-budget", 0, KP_OPT_DOUBLE, &sizeb, 0, 1e15, NULL},
                           {"latency-budget", 0, KP_OPT_DOUBLE, &latb, 0, 1e9, NULL},
                           {"workspace", 0, KP_OPT_STR, &ws, 0, 0, NULL},
                           {"limit", 0, KP_OPT_LONG, &limit, 0, 1e12, NULL},
                           {"calib", 0, KP_OPT_LONG, &calib, 1, 1e9, NULL},
                           {"json", 0, KP_OPT_FLAG, &json, 0, 0, NULL},
                           KP_OPT_END};
    size_t n_pos;
    int st = kp_cli_parse(CMD, argc, argv, opts, usage, "NAME", 1, 1, &name, &n_pos);
    if (st >= 0) return st;
    kp_goal *goals = gl.g;
    if (!gl.n) goals[gl.n++] = KP_GOAL_SIZE;
    if (!model) return kp_cli_failf(CMD, 2, "--model is required");
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
    if (kp_project_create(ws, name, &p, &err)) goto done;
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
        for (size_t i = 0; i < mean.n; i++) p->data.mean[i] = mean.v[i];
        for (size_t i = 0; i < std.n; i++) p->data.std[i] = std.v[i];
        p->data.n_mean = mean.n;
        p->data.n_std = std.n;
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
