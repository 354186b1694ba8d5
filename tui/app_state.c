/* Engine objects held by the app: the open project, its loaded model and the target list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/ui.h"

int kp_app_setstr(char **dst, const char *s) {
    char *c = s ? strdup(s) : NULL;
    if (s && !c) return -1;
    free(*dst);
    *dst = c;
    return 0;
}

const char *kp_app_path(const kp_app *a, const char *rel) {
    static char buf[8192];
    if (!rel) return NULL;
    if (rel[0] == '/' || !a->proj || !a->proj->dir)
        snprintf(buf, sizeof buf, "%s", rel);
    else
        snprintf(buf, sizeof buf, "%s/%s", a->proj->dir, rel);
    return buf;
}

/* The working plan's steps are malloc'd by the planner or by the Plan screen alike (kp_plan
 * owns only its steps array and their strings), so one free works for both. */
void kp_app_plan_clear(kp_app *a) {
    for (size_t i = 0; i < a->plan.n; i++) {
        free(a->plan.steps[i].pass_id);
        free(a->plan.steps[i].params);
    }
    free(a->plan.steps);
    kp_plan_info_clear(&a->plan.info);
    memset(&a->plan, 0, sizeof a->plan);
    a->have_plan = 0;
}

static void drop_plan(kp_app *a) {
    kp_app_plan_clear(a);
}

static void drop_model(kp_app *a) {
    if (a->model) kp_model_free(a->model);
    a->model = NULL;
    a->model_path[0] = 0;
    a->model_err[0] = 0;
    a->model_loading = 0;
    a->model_macs = a->model_peak = -1;
    a->model_measure_err[0] = 0;
}

void kp_app_close_project(kp_app *a) {
    drop_plan(a);
    drop_model(a);
    if (a->proj) kp_project_free(a->proj);
    a->proj = NULL;
}

int kp_app_open_project(kp_app *a, const char *dir) {
    if (a->job_running) {
        kp_app_msg(a, KP_ROLE_BAD,
                   "a run is in progress; cancel it (step 7) before opening "
                   "another project");
        return -1;
    }
    kp_error err = {0};
    kp_project *p = NULL;
    if (kp_project_load(dir, &p, &err)) {
        kp_app_msg(a, KP_ROLE_BAD, "cannot open project %s: %s", dir, err.msg);
        return -1;
    }
    kp_app_close_project(a);
    a->proj = p;
    kp_app_msg(a, KP_ROLE_OK, "opened project %s (%s)", p->name, p->dir);
    kp_app_load_model_async(a);
    return 0;
}

int kp_app_save_project(kp_app *a) {
    if (!a->proj) return -1;
    kp_error err = {0};
    if (kp_project_save(a->proj, &err)) {
        kp_app_msg(a, KP_ROLE_BAD, "could not save project.json: %s", err.msg);
        return -1;
    }
    return 0;
}

/* The project's model as an absolute path, or 0 when it has none (the model is dropped). */
static int model_path(kp_app *a, char *path, size_t len) {
    if (!a->proj || !a->proj->model || !a->proj->model[0]) {
        drop_model(a);
        return 0;
    }
    snprintf(path, len, "%s", kp_app_path(a, a->proj->model));
    return 1;
}

void kp_app_load_model_async(kp_app *a) {
    char path[8192];
    if (!model_path(a, path, sizeof path)) return;
    if (!strcmp(path, a->model_path) && (a->model || a->model_err[0] || a->model_loading)) return;
    drop_model(a);
    drop_plan(a);
    snprintf(a->model_path, sizeof a->model_path, "%s", path);
    char msg[256];
    if (kp_model_task_start(path, msg, sizeof msg)) {
        snprintf(a->model_err, sizeof a->model_err, "%s", msg);
        return;
    }
    a->model_loading = 1;
}

void kp_app_load_model(kp_app *a) {
    kp_app_load_model_async(a);
    if (a->model_loading) kp_model_task_adopt(a, 1);
}

void kp_app_load_targets(kp_app *a) {
    if (a->targets_loaded) return;
    a->targets_loaded = 1;
    kp_error err = {0};
    if (kp_targets_load(NULL, &a->targets, &a->n_targets, &err)) {
        a->targets = NULL;
        a->n_targets = 0;
        snprintf(a->targets_err, sizeof a->targets_err, "%s", err.msg);
    }
}

const kp_target *kp_app_target(kp_app *a) {
    if (!a->proj || !a->proj->target_id) return NULL;
    kp_app_load_targets(a);
    for (size_t i = 0; i < a->n_targets; i++)
        if (!strcmp(a->targets[i].id, a->proj->target_id)) return &a->targets[i];
    return NULL;
}
