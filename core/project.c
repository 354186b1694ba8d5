/* Projects on disk. Only files Kompress created are ever written or removed: project.json
 * (atomically), runs/ and cache/. The user's model and data are only read. */
#include "core/project.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/onnx_io.h"
#include "core/project_json.h"

static const char *const goal_names[KP_GOAL_COUNT] = {
    [KP_GOAL_NONE] = "none",
    [KP_GOAL_LATENCY] = "latency",
    [KP_GOAL_SIZE] = "size",
    [KP_GOAL_ACCURACY] = "accuracy",
};
_Static_assert(sizeof goal_names / sizeof *goal_names == KP_GOAL_COUNT, "one name per goal");

const char *kp_goal_name(kp_goal g) {
    return (unsigned)g < KP_GOAL_COUNT ? goal_names[g] : "?";
}

kp_goal kp_goal_from_name(const char *s) {
    for (int g = 1; g < KP_GOAL_COUNT; g++)
        if (s && !strcmp(s, goal_names[g])) return (kp_goal)g;
    return KP_GOAL_NONE;
}

char *kp_project_default_workspace(void) {
    const char *x = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    char buf[2048];
    if (x && *x)
        snprintf(buf, sizeof buf, "%s/kompress/projects", x);
    else if (home && *home)
        snprintf(buf, sizeof buf, "%s/.local/share/kompress/projects", home);
    else
        snprintf(buf, sizeof buf, "./kompress-projects");
    return strdup(buf);
}

static int mkdir_p(const char *path, kp_error *err) {
    char buf[2048];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return kp_error_set(err, KP_ERANGE, "path too long: %s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) && errno != EEXIST)
            return kp_error_set(err, KP_EIO, "cannot create folder %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) && errno != EEXIST)
        return kp_error_set(err, KP_EIO, "cannot create folder %s: %s", buf, strerror(errno));
    return 0;
}

static int valid_name(const char *name) {
    if (!name || !*name || strlen(name) > 64 || name[0] == '.') return 0;
    for (const char *p = name; *p; p++)
        if (*p == '/' || *p == '\\' || (unsigned char)*p < 32) return 0;
    return 1;
}

static void project_defaults(kp_project *p) {
    p->max_drop = 1.0;
    p->seed = 1234;
    p->data.scale = 1;
    p->data.calib_samples = 512;
    snprintf(p->data.layout, sizeof p->data.layout, "nchw");
}

int kp_project_create(const char *workspace, const char *name, kp_project **out, kp_error *err) {
    *out = NULL;
    if (!valid_name(name))
        return kp_error_set(err, KP_EINVAL,
                            "project name \"%s\" is not usable: 1-64 characters, no '/', not "
                            "starting with '.'",
                            name ? name : "");
    char dir[2048], file[2100];
    if (snprintf(dir, sizeof dir, "%s/%s", workspace, name) >= (int)sizeof dir)
        return kp_error_set(err, KP_ERANGE, "workspace path too long");
    snprintf(file, sizeof file, "%s/project.json", dir);
    if (access(file, F_OK) == 0)
        return kp_error_set(err, KP_EEXIST, "a project named \"%s\" already exists in %s", name,
                            workspace);
    int rc = mkdir_p(dir, err);
    if (rc) return rc;
    kp_project *p = calloc(1, sizeof *p);
    if (!p) return kp_error_set(err, KP_ENOMEM, "out of memory");
    project_defaults(p);
    p->name = strdup(name);
    p->dir = realpath(dir, NULL);
    p->target_id = strdup("host");
    if (!p->name || !p->dir || !p->target_id) {
        kp_project_free(p);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    if ((rc = kp_project_save(p, err))) {
        kp_project_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int kp_project_load(const char *dir_or_file, kp_project **out, kp_error *err) {
    *out = NULL;
    char dir[2048], file[2100];
    struct stat st;
    if (stat(dir_or_file, &st))
        return kp_error_set(err, KP_ENOTFOUND, "%s: %s", dir_or_file, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        snprintf(dir, sizeof dir, "%s", dir_or_file);
    } else {
        snprintf(dir, sizeof dir, "%s", dir_or_file);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(dir, sizeof dir, ".");
    }
    snprintf(file, sizeof file, "%s/project.json", dir);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = kp_read_file(file, 16u << 20, &buf, &len, err);
    if (rc) return kp_error_wrap(err, "opening project: ");
    char *text = realloc(buf, len + 1);
    if (!text) {
        free(buf);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    text[len] = 0;
    kp_project *p = calloc(1, sizeof *p);
    if (!p) {
        free(text);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    project_defaults(p);
    rc = kp_project_from_json(text, file, p, err);
    free(text);
    if (!rc && !(p->dir = realpath(dir, NULL)))
        rc = kp_error_set(err, KP_EIO, "%s: %s", dir, strerror(errno));
    if (rc) {
        kp_project_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* A save killed between writing its temp file and renaming it leaves project.json.tmp-*
 * behind; the next successful save removes those older than a minute (younger ones may
 * belong to a save in flight in another process). */
static void remove_stale_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    time_t now = time(NULL);
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, "project.json.tmp", 16)) continue;
        char f[2400];
        struct stat st;
        snprintf(f, sizeof f, "%s/%s", dir, de->d_name);
        if (!lstat(f, &st) && S_ISREG(st.st_mode) && now - st.st_mtime > 60) remove(f);
    }
    closedir(d);
}

int kp_project_save(const kp_project *p, kp_error *err) {
    char file[2100];
    if (!p->dir) return kp_error_set(err, KP_EINVAL, "project has no folder");
    if (snprintf(file, sizeof file, "%s/project.json", p->dir) >= (int)sizeof file)
        return kp_error_set(err, KP_ERANGE, "project path too long");
    char *text = kp_project_to_json(p);
    if (!text) return kp_error_set(err, KP_ENOMEM, "out of memory");
    int rc = kp_write_file_atomic(file, text, strlen(text), err);
    free(text);
    if (!rc) remove_stale_temps(p->dir);
    return rc;
}

static void free_step(kp_plan_step *s) {
    free(s->pass_id);
    free(s->params);
}

void kp_project_free(kp_project *p) {
    if (!p) return;
    free(p->dir);
    free(p->name);
    free(p->model);
    free(p->target_id);
    free(p->data.path);
    free(p->data.labels);
    free(p->data.format);
    for (size_t i = 0; i < p->n_plan; i++) free_step(&p->plan[i]);
    free(p->plan);
    for (size_t i = 0; i < p->n_runs; i++) {
        kp_run_record *r = &p->runs[i];
        for (size_t k = 0; k < r->n_steps; k++) free_step(&r->steps[k]);
        free(r->steps);
        free(r->step_after);
        free(r->id);
        free(r->started);
        free(r->output_model);
        free(r->report);
        free(r->calib_hash);
        free(r->holdout_hash);
        free(r->tool_version);
        free(r->hw_fingerprint);
        kp_plan_info_clear(&r->predicted);
    }
    free(p->runs);
    kp_plan_info_clear(&p->plan_info);
    free(p);
}

void kp_plan_info_clear(kp_plan_info *pi) {
    if (!pi) return;
    for (size_t i = 0; i < pi->n_tried; i++) free(pi->tried[i].name);
    free(pi->tried);
    free(pi->note);
    memset(pi, 0, sizeof *pi);
}

void kp_plan_info_outdate(kp_plan_info *pi) {
    int64_t trials = pi->trial_samples;
    kp_plan_info_clear(pi);
    pi->trial_samples = trials;
}

int kp_plan_info_copy(kp_plan_info *dst, const kp_plan_info *src) {
    *dst = *src;
    dst->note = NULL;
    dst->tried = NULL;
    dst->n_tried = 0;
    if (src->note && !(dst->note = strdup(src->note))) return KP_ENOMEM;
    if (src->n_tried) {
        if (!(dst->tried = calloc(src->n_tried, sizeof *dst->tried))) return KP_ENOMEM;
        for (size_t i = 0; i < src->n_tried; i++) {
            dst->tried[i] = src->tried[i];
            dst->tried[i].name = NULL;
            dst->n_tried++;
            if (src->tried[i].name && !(dst->tried[i].name = strdup(src->tried[i].name)))
                return KP_ENOMEM;
        }
    }
    return 0;
}

char *kp_project_path(const kp_project *p, const char *rel) {
    if (!rel) return NULL;
    if (rel[0] == '/' || !p->dir) return strdup(rel);
    size_t n = strlen(p->dir) + strlen(rel) + 2;
    char *s = malloc(n);
    if (s) snprintf(s, n, "%s/%s", p->dir, rel);
    return s;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int kp_project_list(const char *workspace, char ***names, size_t *n, kp_error *err) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(workspace);
    if (!d) {
        if (errno == ENOENT) return 0; /* no workspace yet: no projects */
        return kp_error_set(err, KP_EIO, "cannot read %s: %s", workspace, strerror(errno));
    }
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char f[2300];
        snprintf(f, sizeof f, "%s/%s/project.json", workspace, de->d_name);
        if (access(f, R_OK)) continue;
        char **nn = realloc(*names, (*n + 1) * sizeof **names);
        if (!nn || !(nn[*n] = strdup(de->d_name))) {
            if (nn) *names = nn;
            rc = kp_error_set(err, KP_ENOMEM, "out of memory");
            break;
        }
        *names = nn;
        (*n)++;
    }
    closedir(d);
    if (*n) qsort(*names, *n, sizeof **names, cmp_str);
    return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int kp_project_delete(const char *workspace, const char *name, kp_error *err) {
    if (!valid_name(name)) return kp_error_set(err, KP_EINVAL, "not a project name: %s", name);
    char dir[2048], f[2100];
    snprintf(dir, sizeof dir, "%s/%s", workspace, name);
    snprintf(f, sizeof f, "%s/project.json", dir);
    if (access(f, F_OK))
        return kp_error_set(err, KP_ENOTFOUND, "no project named \"%s\" in %s", name, workspace);
    /* Only what Kompress made: runs/, cache/, project.json. Anything else the user put in the
     * folder stays, and then so does the folder. */
    const char *ours[] = {"runs", "cache"};
    for (size_t i = 0; i < 2; i++) {
        char sub[2100];
        snprintf(sub, sizeof sub, "%s/%s", dir, ours[i]);
        if (access(sub, F_OK) == 0 && nftw(sub, rm_entry, 16, FTW_DEPTH | FTW_PHYS))
            return kp_error_set(err, KP_EIO, "cannot remove %s: %s", sub, strerror(errno));
    }
    if (remove(f)) return kp_error_set(err, KP_EIO, "cannot remove %s: %s", f, strerror(errno));
    rmdir(dir); /* fails harmlessly when the user kept other files there */
    return 0;
}
