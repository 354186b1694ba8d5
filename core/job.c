/* The job runner: a worker thread runs a project's enabled plan steps on copies of the model,
 * measures after each step, writes the outputs and appends a run record. The UI polls events.
 * Files: outputs go to <project>/runs/.<id>.tmp/ and are renamed to runs/<id>/ at the end;
 * project.json is saved last, atomically. On cancel or failure the temp folder and any cache
 * file this run created are removed, so the project folder is as it was. */
#include "core/job.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "core/dataset.h"
#include "core/exec.h"
#include "core/measure.h"
#include "core/onnx_io.h"
#include "core/pipeline.h"
#include "core/project_json.h"
#include "core/report.h"
#include "core/target_builtin.h"

#define QCAP         4096
#define TOOL_VERSION "kompress 0.1.0"

struct kp_job {
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    kp_event q[QCAP];
    size_t head, count;
    volatile int cancel;
    kp_project *p; /* private copy */
    const kp_pass *const *passes;
    size_t n_passes;
    int status;
    kp_error err;
    kp_run_record rec;
    int have_rec;
    struct timespec t0;
    char **created; /* cache files made by this run (removed on cancel) */
    size_t n_created;
    int cur_step;
};

static double elapsed(const kp_job *j) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - j->t0.tv_sec) + 1e-9 * (double)(t.tv_nsec - j->t0.tv_nsec);
}

static void emit(kp_job *j, kp_event_kind k, int step, double frac, const kp_metrics_row *m,
                 const char *text) {
    kp_event ev = {0};
    ev.kind = k;
    ev.step = step;
    ev.fraction = frac;
    ev.elapsed_s = elapsed(j);
    if (m) ev.metrics = *m;
    if (text) snprintf(ev.text, sizeof ev.text, "%s", text);
    pthread_mutex_lock(&j->mu);
    /* Progress events are droppable when the UI falls behind; the others never are. */
    if (!(k == KP_EV_PROGRESS && j->count > QCAP * 3 / 4)) {
        if (j->count == QCAP) { /* drop the oldest (only progress can fill it this far) */
            j->head = (j->head + 1) % QCAP;
            j->count--;
        }
        j->q[(j->head + j->count) % QCAP] = ev;
        j->count++;
    }
    pthread_mutex_unlock(&j->mu);
}

int kp_job_poll(kp_job *j, kp_event *ev) {
    int got = 0;
    pthread_mutex_lock(&j->mu);
    if (j->count) {
        *ev = j->q[j->head];
        j->head = (j->head + 1) % QCAP;
        j->count--;
        got = 1;
    }
    pthread_mutex_unlock(&j->mu);
    return got;
}

void kp_job_cancel(kp_job *j) {
    if (j) j->cancel = 1;
}

/* FNV-1a 64, chained: the cache key of a step is a hash of the previous key, pass and params. */
static uint64_t fnv(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static int file_hash(const char *path, uint64_t *h, kp_error *err) {
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = kp_read_file(path, (size_t)4 << 30, &buf, &len, err);
    if (rc) return rc;
    *h = fnv(1469598103934665603ull, buf, len);
    free(buf);
    return 0;
}

static int mkdir_one(const char *path, kp_error *err) {
    if (mkdir(path, 0755) && errno != EEXIST)
        return kp_error_set(err, KP_EIO, "cannot create folder %s: %s", path, strerror(errno));
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *path) {
    if (access(path, F_OK) == 0) nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void hw_fingerprint(char *buf, size_t cap) {
    struct utsname u;
    char model[128] = "cpu";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "model name", 10)) {
                char *c = strchr(line, ':');
                if (c) snprintf(model, sizeof model, "%s", c + 2);
                model[strcspn(model, "\n")] = 0;
                break;
            }
        fclose(f);
    }
    if (uname(&u)) snprintf(u.machine, sizeof u.machine, "?");
    snprintf(buf, cap, "%s, %s, %ld cores", u.machine, model, sysconf(_SC_NPROCESSORS_ONLN));
}

static char *xstrdup(const char *s) {
    return s ? strdup(s) : NULL;
}

/* The enabled plan steps as a pipeline (core/pipeline.h): plan index, parsed parameters and
 * cache file of each, and the hooks that turn the pipeline's callbacks into job events. */
typedef struct job_steps {
    kp_job *j;
    size_t n;
    kp_pipeline_step *steps;
    kp_params *params;
    size_t *plan_index;
    char (*cpath)[2400];
} job_steps;

static int plan_step(const job_steps *s, size_t i) {
    return (int)s->plan_index[i];
}

static void st_start(void *user, size_t i, const kp_pass *pass) {
    job_steps *s = user;
    s->j->cur_step = plan_step(s, i);
    emit(s->j, KP_EV_STEP_START, plan_step(s, i), 0, NULL, pass->id);
}

static void st_progress(void *user, size_t i, double f, const char *what) {
    job_steps *s = user;
    emit(s->j, KP_EV_PROGRESS, plan_step(s, i), f, NULL, what);
}

static void st_note(void *user, size_t i, const char *msg) {
    job_steps *s = user; /* passes name themselves in their notes */
    emit(s->j, KP_EV_LOG, plan_step(s, i), 0, NULL, msg);
}

static kp_model *st_cache_get(void *user, size_t i) {
    job_steps *s = user;
    kp_model *m = NULL;
    kp_error pe = {0};
    if (access(s->cpath[i], R_OK) || kp_onnx_load(s->cpath[i], NULL, &m, &pe)) return NULL;
    emit(s->j, KP_EV_LOG, plan_step(s, i), 0, NULL, "reused the cached result of this step");
    return m;
}

static void st_cache_put(void *user, size_t i, const kp_model *m) {
    job_steps *s = user;
    kp_job *j = s->j;
    kp_error pe = {0};
    if (kp_onnx_save(m, s->cpath[i], 1, &pe)) return; /* a cache that cannot be written */
    char **c = realloc(j->created, (j->n_created + 1) * sizeof *c);
    if (c) {
        j->created = c;
        if ((c[j->n_created] = strdup(s->cpath[i]))) j->n_created++;
    }
}

static int st_done(void *user, size_t i, const kp_model *m, const kp_step_result *r,
                   kp_error *err) {
    job_steps *s = user;
    int k = plan_step(s, i);
    const char *id = s->steps[i].pass->id;
    (void)m;
    (void)err;
    if (r->status == KP_STEP_OK || r->status == KP_STEP_CACHED) {
        emit(s->j, KP_EV_METRICS, k, 1, &r->metrics, id);
        emit(s->j, KP_EV_STEP_DONE, k, 1, NULL, "");
        return 0;
    }
    /* A failed step leaves the model as it was; the run goes on without it. */
    char msg[1200];
    if (r->status == KP_STEP_DISCARDED)
        snprintf(msg, sizeof msg,
                 "%s failed: lossless pass %s changed outputs by %.2e (relative): a bug, its "
                 "result was discarded; the model is left as it was",
                 id, id, r->verify.max_rel);
    else
        snprintf(msg, sizeof msg, "%s failed: %.900s; the model is left as it was", id, r->error);
    emit(s->j, KP_EV_STEP_DONE, k, 1, NULL, msg);
    return 0;
}

static void job_steps_free(job_steps *s) {
    for (size_t i = 0; i < s->n; i++) kp_params_free(&s->params[i]);
    free(s->steps);
    free(s->params);
    free(s->plan_index);
    free(s->cpath);
}

/* Parses the enabled plan steps and names their cache files: the key of a step chains the
 * previous key (first: the model file's hash), pass, params and calibration subset. */
static int job_steps_new(kp_job *j, int have_calib, uint64_t key, const char *cachedir,
                         job_steps *s, kp_error *err) {
    kp_project *p = j->p;
    memset(s, 0, sizeof *s);
    s->j = j;
    size_t cap = p->n_plan ? p->n_plan : 1;
    s->steps = calloc(cap, sizeof *s->steps);
    s->params = calloc(cap, sizeof *s->params);
    s->plan_index = calloc(cap, sizeof *s->plan_index);
    s->cpath = calloc(cap, sizeof *s->cpath);
    if (!s->steps || !s->params || !s->plan_index || !s->cpath)
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    for (size_t i = 0; i < p->n_plan; i++) {
        kp_plan_step *ps = &p->plan[i];
        if (!ps->enabled) continue;
        const kp_pass *pass = kp_pass_find(j->passes, j->n_passes, ps->pass_id);
        if (!pass)
            return kp_error_set(err, KP_ENOTFOUND, "step %zu: no pass named \"%s\"", i + 1,
                                ps->pass_id);
        int rc = kp_params_parse(pass, ps->params ? ps->params : "", &s->params[s->n], err);
        if (rc) return kp_error_wrap(err, "step %zu (%s): ", i + 1, pass->id), rc;
        size_t k = s->n++;
        if (pass->needs_data && !have_calib)
            return kp_error_set(err, KP_EINVAL, "pass %s needs test data; choose data first",
                                pass->id);
        s->steps[k].pass = pass;
        s->steps[k].params = &s->params[k];
        s->plan_index[k] = i;
        char *ptxt = kp_params_format(&s->params[k]);
        key = fnv(key, pass->id, strlen(pass->id) + 1);
        key = fnv(key, ptxt ? ptxt : "", ptxt ? strlen(ptxt) + 1 : 1);
        free(ptxt);
        if (have_calib) key = fnv(key, j->rec.calib_hash, strlen(j->rec.calib_hash));
        snprintf(s->cpath[k], sizeof s->cpath[k], "%s/%016llx.onnx", cachedir,
                 (unsigned long long)key);
    }
    return 0;
}

/* Runs the enabled steps on orig through the pipeline; fills the run record's steps,
 * step_after and after, and *cur with the final model (owned). */
static int run_steps(kp_job *j, const kp_model *orig, const kp_calib *calib, const kp_target *t,
                     const kp_measure_opts *mo, uint64_t key, const char *cachedir,
                     kp_model **cur) {
    kp_error *err = &j->err;
    kp_run_record *r = &j->rec;
    job_steps s;
    int rc = job_steps_new(j, calib != NULL, key, cachedir, &s, err);
    if (!rc) {
        r->steps = calloc(s.n ? s.n : 1, sizeof *r->steps);
        r->step_after = calloc(s.n ? s.n : 1, sizeof *r->step_after);
        if (!r->steps || !r->step_after) rc = kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    if (rc) {
        job_steps_free(&s);
        return rc;
    }
    kp_pipeline_opts po = {0};
    po.calib = calib;
    po.verify_data = calib;
    po.verify.max_batches = 4;
    po.verify.seed = j->p->seed;
    po.measure = mo;
    po.before = &r->before;
    po.target = t;
    po.seed = j->p->seed;
    po.threads = 1;
    po.acc_budget = j->p->max_drop;
    po.cancel = &j->cancel;
    po.user = &s;
    po.step_start = st_start;
    po.progress = st_progress;
    po.note = st_note;
    po.cache_get = st_cache_get;
    po.cache_put = st_cache_put;
    po.step_done = st_done;
    kp_pipeline_out out;
    rc = kp_pipeline_run(orig, s.steps, s.n, &po, &out, err);
    j->cur_step = -1;
    r->after = r->before;
    for (size_t i = 0; i < out.n_steps; i++) {
        kp_step_status st = out.steps[i].status;
        if (st == KP_STEP_PENDING || st == KP_STEP_CANCELLED) break;
        kp_plan_step *o = &r->steps[r->n_steps];
        o->pass_id = strdup(s.steps[i].pass->id);
        o->params = kp_params_format(&s.params[i]);
        if (!o->params) o->params = strdup("");
        o->enabled = 1;
        const kp_plan_step *ps = &j->p->plan[s.plan_index[i]];
        o->est = ps->est;
        o->corrected = ps->corrected; /* the history correction est includes */
        o->corr_size = ps->corr_size;
        o->corr_lat = ps->corr_lat;
        o->corr_drop = ps->corr_drop;
        r->step_after[r->n_steps++] = out.steps[i].metrics;
        r->after = out.steps[i].metrics;
    }
    if (!rc) {
        *cur = out.model;
        out.model = NULL;
    }
    kp_pipeline_out_free(&out);
    job_steps_free(&s);
    return rc;
}

/* Runs everything; returns status. Fills j->rec. */
static int work(kp_job *j) {
    kp_project *p = j->p;
    kp_error *err = &j->err;
    kp_model *orig = NULL, *cur = NULL;
    kp_dataset *ds = NULL;
    kp_calib *calib = NULL, *evalset = NULL;
    kp_target *targets = NULL;
    size_t n_targets = 0;
    char *model_path = NULL, tmpdir[2300] = "", finaldir[2300] = "", cachedir[2200] = "";
    int rc = 0;
    kp_run_record *r = &j->rec;

    char id[32];
    snprintf(id, sizeof id, "run-%03zu", p->n_runs + 1);
    r->id = strdup(id);
    time_t now = time(NULL);
    char ts[32];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    r->started = strdup(ts);
    r->seed = p->seed;
    r->tool_version = strdup(TOOL_VERSION);
    char fp[256];
    hw_fingerprint(fp, sizeof fp);
    r->hw_fingerprint = strdup(fp);
    if (kp_plan_info_copy(&r->predicted, &p->plan_info)) {
        j->have_rec = 1;
        rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        goto done;
    }
    j->have_rec = 1;

    emit(j, KP_EV_STAGE, -1, 0, NULL, "loading model");
    if (!p->model) {
        rc = kp_error_set(err, KP_EINVAL, "the project has no model yet");
        goto done;
    }
    model_path = kp_project_path(p, p->model);
    uint64_t key = 0;
    if ((rc = file_hash(model_path, &key, err)) ||
        (rc = kp_onnx_load(model_path, NULL, &orig, err))) {
        kp_error_wrap(err, "model %s: ", model_path);
        goto done;
    }
    if ((rc = kp_targets_load(NULL, &targets, &n_targets, err))) goto done;
    const kp_target *t = kp_target_find(targets, n_targets, p->target_id ? p->target_id : "host");
    if (!t) {
        rc = kp_error_set(err, KP_ENOTFOUND, "target \"%s\" is not known (kompress targets)",
                          p->target_id);
        goto done;
    }
    if (p->data.path) {
        emit(j, KP_EV_STAGE, -1, 0, NULL, "opening test data");
        if ((rc = kp_dataset_open_project(p, 64, &ds, err)) ||
            (rc = kp_dataset_bind(ds, orig, err))) {
            kp_error_wrap(err, "test data: ");
            goto done;
        }
        /* Calibration takes at most half the samples; accuracy is measured on the others
         * except the planner's trial samples (the same holdout as `compress --project`). */
        kp_holdout_info hi;
        char msg[400];
        if ((rc = kp_dataset_project_calib(ds, p, &calib, err)) ||
            (rc = kp_dataset_project_holdout(ds, p, calib, &evalset, &hi, err))) {
            kp_error_wrap(err, "test data: ");
            goto done;
        }
        if (p->data.calib_samples > 0 && hi.calibrated < (size_t)p->data.calib_samples) {
            snprintf(msg, sizeof msg,
                     "calibration uses %zu of the %zu samples (at most half), not %lld",
                     hi.calibrated, hi.total, (long long)p->data.calib_samples);
            emit(j, KP_EV_LOG, -1, 0, NULL, msg);
        }
        emit(j, KP_EV_LOG, -1, 0, NULL, kp_dataset_holdout_describe(&hi, msg, sizeof msg));
        r->eval_samples = evalset->n_samples;
        char h[32];
        snprintf(h, sizeof h, "%016llx", (unsigned long long)hi.hash);
        r->holdout_hash = strdup(h);
        snprintf(h, sizeof h, "%016llx", (unsigned long long)kp_dataset_calib_hash(calib));
        r->calib_hash = strdup(h);
    }

    emit(j, KP_EV_STAGE, -1, 0, NULL, "measuring the original");
    kp_measure_opts mo = {t, 0, evalset, 20, 1, &j->cancel};
    kp_target host = {0};
    if ((rc = kp_target_detect_host(&host, err))) goto done;
    kp_target_estimate he;
    if ((rc = kp_measure_roofline(orig, &host, &he, err))) goto done;
    if ((rc = kp_measure_model(orig, &mo, &r->before, err))) goto done;
    /* Host calibration: measured single-thread latency over the roofline of this machine. */
    if (he.latency_s > 0) mo.host_factor = r->before.host_latency_ms * 1e-3 / he.latency_s;
    if (!strcmp(t->id, "host")) {
        r->before.target_latency_ms = r->before.host_latency_ms;
        r->before.energy_mj = r->before.host_latency_ms * t->power_w;
    }
    emit(j, KP_EV_METRICS, -1, 1, &r->before, "original");

    snprintf(cachedir, sizeof cachedir, "%s/cache", p->dir);
    char runs[2200];
    snprintf(runs, sizeof runs, "%s/runs", p->dir);
    if ((rc = mkdir_one(cachedir, err)) || (rc = mkdir_one(runs, err))) goto done;
    snprintf(tmpdir, sizeof tmpdir, "%s/.%s.tmp", runs, id);
    snprintf(finaldir, sizeof finaldir, "%s/%s", runs, id);
    rm_tree(tmpdir);
    if ((rc = mkdir_one(tmpdir, err))) goto done;

    if ((rc = run_steps(j, orig, calib, t, &mo, key, cachedir, &cur))) goto done;

    emit(j, KP_EV_STAGE, -1, 0, NULL, "writing the compressed model and the report");
    char mpath[2400];
    snprintf(mpath, sizeof mpath, "%s/model.onnx", tmpdir);
    if ((rc = kp_onnx_save(cur, mpath, 0, err))) goto done;
    char rel[128];
    snprintf(rel, sizeof rel, "runs/%s/model.onnx", id);
    r->output_model = strdup(rel);
    snprintf(rel, sizeof rel, "runs/%s/report.md", id);
    r->report = strdup(rel);
    r->status = 0;
    for (int f = 0; f < KP_REPORT_FORMAT_COUNT; f++) {
        char *text = kp_report_text(p, r, (kp_report_format)f);
        char rp[2400];
        snprintf(rp, sizeof rp, "%s/report.%s", tmpdir, kp_report_format_ext((kp_report_format)f));
        if (!text) {
            rc = kp_error_set(err, KP_ENOMEM, "out of memory");
            goto done;
        }
        rc = kp_write_file_atomic(rp, text, strlen(text), err);
        free(text);
        if (rc) goto done;
    }
    if (j->cancel) {
        rc = kp_error_set(err, KP_ECANCELLED, "cancelled");
        goto done;
    }
    if (rename(tmpdir, finaldir)) {
        rc = kp_error_set(err, KP_EIO, "cannot move %s to %s: %s", tmpdir, finaldir,
                          strerror(errno));
        goto done;
    }
    tmpdir[0] = 0;
    /* Append the record and save project.json last (atomic). */
    kp_run_record *nr = realloc(p->runs, (p->n_runs + 1) * sizeof *nr);
    if (!nr) {
        rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        goto done;
    }
    p->runs = nr;
    p->runs[p->n_runs++] = *r; /* shares pointers with j->rec: p owns them from now on */
    rc = kp_project_save(p, err);
    p->n_runs--; /* j->rec keeps ownership; p's copy of the array entry is not freed twice */
    if (rc) {
        rm_tree(finaldir);
        goto done;
    }
done:
    if (rc && tmpdir[0]) rm_tree(tmpdir);
    if (rc == KP_ECANCELLED)
        for (size_t i = 0; i < j->n_created; i++) remove(j->created[i]);
    if (rc) {
        r->status = rc;
        r->after = r->before;
    }
    free(model_path);
    free(targets);
    kp_model_free(cur);
    kp_model_free(orig);
    kp_dataset_calib_free(calib);
    kp_dataset_calib_free(evalset);
    kp_dataset_free(ds);
    return rc;
}

static void *thread_main(void *arg) {
    kp_job *j = arg;
    j->status = work(j);
    if (j->status == 0)
        emit(j, KP_EV_DONE, -1, 1, &j->rec.after, j->rec.output_model);
    else if (j->status == KP_ECANCELLED)
        emit(j, KP_EV_CANCELLED, -1, 0, NULL,
             "cancelled: the project and its files are as they were before the run");
    else
        emit(j, KP_EV_FAILED, -1, 0, NULL, j->err.msg);
    return NULL;
}

int kp_job_start(const kp_project *p, const kp_pass *const *passes, size_t n_passes, kp_job **out,
                 kp_error *err) {
    *out = NULL;
    if (!p->dir) return kp_error_set(err, KP_EINVAL, "the project has no folder");
    kp_job *j = calloc(1, sizeof *j);
    if (!j) return kp_error_set(err, KP_ENOMEM, "out of memory");
    pthread_mutex_init(&j->mu, NULL);
    j->passes = passes;
    j->n_passes = n_passes;
    j->cur_step = -1;
    clock_gettime(CLOCK_MONOTONIC, &j->t0);
    /* A private copy through the JSON form: the caller may change or free p meanwhile. */
    char *text = kp_project_to_json(p);
    int rc = KP_ENOMEM;
    if (text && (j->p = calloc(1, sizeof *j->p))) {
        rc = kp_project_from_json(text, "project", j->p, err);
        if (!rc && !(j->p->dir = xstrdup(p->dir))) rc = KP_ENOMEM;
    }
    free(text);
    if (!rc && pthread_create(&j->thread, NULL, thread_main, j))
        rc = kp_error_set(err, KP_EIO, "cannot start a worker thread");
    if (rc) {
        if (rc == KP_ENOMEM) kp_error_set(err, KP_ENOMEM, "out of memory");
        kp_job_free(j);
        return rc;
    }
    j->started = 1;
    *out = j;
    return 0;
}

int kp_job_wait(kp_job *j, kp_error *err) {
    if (j->started) {
        pthread_join(j->thread, NULL);
        j->started = 0;
    }
    if (j->status && err) *err = j->err;
    return j->status;
}

const kp_run_record *kp_job_record(const kp_job *j) {
    return (!j->started && j->have_rec) ? &j->rec : NULL;
}

void kp_job_free(kp_job *j) {
    if (!j) return;
    if (j->started) {
        j->cancel = 1;
        pthread_join(j->thread, NULL);
    }
    kp_run_record *r = &j->rec;
    for (size_t k = 0; k < r->n_steps; k++) {
        free(r->steps[k].pass_id);
        free(r->steps[k].params);
    }
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
    for (size_t i = 0; i < j->n_created; i++) free(j->created[i]);
    free(j->created);
    kp_project_free(j->p);
    pthread_mutex_destroy(&j->mu);
    free(j);
}
