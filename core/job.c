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
#include "core/project_json.h"
#include "core/report.h"
#include "core/target_builtin.h"
#include "core/verify.h"

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

static void on_progress(void *user, double f, const char *what) {
    kp_job *j = user;
    emit(j, KP_EV_PROGRESS, j->cur_step, f, NULL, what);
}

static void on_note(void *user, const char *msg) {
    kp_job *j = user;
    emit(j, KP_EV_LOG, j->cur_step, 0, NULL, msg); /* passes name themselves in their notes */
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

/* The samples accuracy is measured on: every sample not used for calibration nor by the
 * planner's trials (the trial set extends the seeded calibration subset, see
 * kp_dataset_calib_minus_new), so neither a fitted pass nor the plan's choice saw them. */
static int holdout(kp_job *j, kp_dataset *ds, const kp_calib *calib, size_t n_cal, kp_calib **out,
                   kp_error *err) {
    size_t n_trial = (size_t)j->p->plan_info.trial_samples, total = kp_dataset_n_samples(ds);
    if (!n_trial || n_cal + n_trial >= total) return kp_dataset_holdout_new(ds, calib, out, err);
    kp_calib *seen = NULL;
    int rc = kp_dataset_calib_new(ds, n_cal + n_trial, j->p->seed, &seen, err);
    if (!rc) rc = kp_dataset_holdout_new(ds, seen, out, err);
    kp_dataset_calib_free(seen);
    if (!rc) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "accuracy is measured on %zu samples: not the %zu used for calibration nor the "
                 "%zu the planner measured its trials on",
                 (*out)->n_samples, n_cal, n_trial);
        emit(j, KP_EV_LOG, -1, 0, NULL, msg);
    }
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
        /* Calibration takes at most half the samples; accuracy is measured on the others. */
        size_t total = kp_dataset_n_samples(ds), n_cal = (size_t)p->data.calib_samples;
        if (n_cal > total / 2) {
            n_cal = total / 2;
            char msg[160];
            snprintf(msg, sizeof msg,
                     "calibration uses %zu of the %zu samples; accuracy is measured on the other "
                     "%zu",
                     n_cal, total, total - n_cal);
            emit(j, KP_EV_LOG, -1, 0, NULL, msg);
        }
        if (n_cal == 0) {
            rc = kp_error_set(err, KP_ERANGE,
                              "test data: %zu sample(s) are too few to both "
                              "calibrate and measure",
                              total);
            goto done;
        }
        if ((rc = kp_dataset_calib_new(ds, n_cal, p->seed, &calib, err)) ||
            (rc = holdout(j, ds, calib, n_cal, &evalset, err))) {
            kp_error_wrap(err, "test data: ");
            goto done;
        }
        r->eval_samples = evalset->n_samples;
        char h[32];
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

    size_t n_en = 0;
    for (size_t i = 0; i < p->n_plan; i++) n_en += p->plan[i].enabled != 0;
    r->steps = calloc(n_en ? n_en : 1, sizeof *r->steps);
    r->step_after = calloc(n_en ? n_en : 1, sizeof *r->step_after);
    if (!r->steps || !r->step_after) {
        rc = kp_error_set(err, KP_ENOMEM, "out of memory");
        goto done;
    }
    if (!(cur = kp_model_clone(orig, err))) {
        rc = err->code;
        goto done;
    }
    kp_metrics_row prev = r->before;
    for (size_t i = 0; i < p->n_plan; i++) {
        kp_plan_step *s = &p->plan[i];
        if (!s->enabled) continue;
        j->cur_step = (int)i;
        if (j->cancel) {
            rc = kp_error_set(err, KP_ECANCELLED, "cancelled");
            goto done;
        }
        const kp_pass *pass = kp_pass_find(j->passes, j->n_passes, s->pass_id);
        if (!pass) {
            rc = kp_error_set(err, KP_ENOTFOUND, "step %zu: no pass named \"%s\"", i + 1,
                              s->pass_id);
            goto done;
        }
        kp_params params;
        if ((rc = kp_params_parse(pass, s->params ? s->params : "", &params, err))) {
            kp_error_wrap(err, "step %zu (%s): ", i + 1, pass->id);
            goto done;
        }
        if (pass->needs_data && !calib) {
            kp_params_free(&params);
            rc = kp_error_set(err, KP_EINVAL, "pass %s needs test data; choose data first",
                              pass->id);
            goto done;
        }
        char *ptxt = kp_params_format(&params);
        key = fnv(key, pass->id, strlen(pass->id) + 1);
        key = fnv(key, ptxt ? ptxt : "", ptxt ? strlen(ptxt) + 1 : 1);
        if (calib) key = fnv(key, r->calib_hash, strlen(r->calib_hash));
        char cpath[2400];
        snprintf(cpath, sizeof cpath, "%s/%016llx.onnx", cachedir, (unsigned long long)key);
        kp_run_record *rr = r;
        kp_plan_step *out = &rr->steps[rr->n_steps];
        out->pass_id = strdup(pass->id);
        out->params = ptxt ? ptxt : strdup("");
        out->enabled = 1;
        out->est = s->est;
        out->corrected = s->corrected;
        out->corr_size = s->corr_size;
        out->corr_lat = s->corr_lat;
        out->corr_drop = s->corr_drop;
        emit(j, KP_EV_STEP_START, (int)i, 0, NULL, pass->id);

        kp_model *next = NULL;
        kp_error pe = {0};
        if (access(cpath, R_OK) == 0 && kp_onnx_load(cpath, NULL, &next, &pe) == 0) {
            emit(j, KP_EV_LOG, (int)i, 0, NULL, "reused the cached result of this step");
        } else {
            next = kp_model_clone(cur, &pe);
            kp_pass_ctx ctx = {0};
            ctx.calib = calib;
            ctx.reference = cur;
            ctx.original = orig;
            ctx.target = t;
            ctx.cancel = &j->cancel;
            ctx.seed = p->seed;
            ctx.threads = 1;
            ctx.acc_budget = p->max_drop;
            ctx.user = j;
            ctx.progress = on_progress;
            ctx.note = on_note;
            int prc = next ? pass->apply(next, &params, &ctx, &pe) : pe.code;
            if (!prc) prc = kp_graph_validate(next->graph, &pe);
            kp_verify v = {0};
            kp_verify_opts vo = {0};
            vo.max_batches = 4;
            vo.cancel = &j->cancel;
            vo.seed = p->seed;
            if (!prc) prc = kp_verify_models(cur, next, calib, &vo, &v, &pe);
            if (!prc && pass->lossless && v.max_rel > 1e-4) {
                prc = kp_error_set(&pe, KP_EFORMAT,
                                   "lossless pass %s changed outputs by %.2e (relative): a bug, "
                                   "its result was discarded",
                                   pass->id, v.max_rel);
            }
            if (prc) {
                kp_model_free(next);
                kp_params_free(&params);
                if (prc == KP_ECANCELLED || j->cancel) {
                    rc = kp_error_set(err, KP_ECANCELLED, "cancelled");
                    goto done;
                }
                /* A failed step leaves the model as it was; the run goes on without it. */
                char msg[1200];
                snprintf(msg, sizeof msg, "%s failed: %.900s; the model is left as it was",
                         pass->id, pe.msg);
                emit(j, KP_EV_STEP_DONE, (int)i, 1, NULL, msg);
                rr->step_after[rr->n_steps] = prev;
                rr->n_steps++;
                continue;
            }
            if (kp_onnx_save(next, cpath, 1, &pe) == 0) {
                char **c = realloc(j->created, (j->n_created + 1) * sizeof *c);
                if (c) {
                    j->created = c;
                    if ((c[j->n_created] = strdup(cpath))) j->n_created++;
                }
            }
        }
        kp_params_free(&params);
        kp_metrics_row m;
        emit(j, KP_EV_PROGRESS, (int)i, 0.95, NULL, "measuring");
        if ((rc = kp_measure_model(next, &mo, &m, err))) {
            kp_model_free(next);
            goto done;
        }
        rr->step_after[rr->n_steps++] = m;
        kp_model_free(cur);
        cur = next;
        prev = m;
        emit(j, KP_EV_METRICS, (int)i, 1, &m, pass->id);
        emit(j, KP_EV_STEP_DONE, (int)i, 1, NULL, "");
    }
    j->cur_step = -1;
    r->after = prev;

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
    free(r->tool_version);
    free(r->hw_fingerprint);
    kp_plan_info_clear(&r->predicted);
    for (size_t i = 0; i < j->n_created; i++) free(j->created[i]);
    free(j->created);
    kp_project_free(j->p);
    pthread_mutex_destroy(&j->mu);
    free(j);
}
