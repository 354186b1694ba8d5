/* `kompress compress MODEL -o OUT --pass ID[:k=v,...] ...`: applies passes in order to a copy
 * of the model, checks each result numerically against the model before it, prints a
 * before/after table and writes OUT atomically. The input file is never written. */
#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/dataset.h"
#include "core/measure.h"
#include "core/onnx_io.h"
#include "core/project.h"
#include "core/pipeline.h"
#include "core/verify.h"
#include "passes/registry.h"
#include "tui/cli.h"
#include "tui/cli_opts.h"

#define CMD        "compress"
#define MAX_PASSES 32

static volatile int cancel_flag;
static void on_sigint(int sig) {
    (void)sig;
    cancel_flag = 1;
}

typedef struct stage {
    const char *label;  /* "original" or pass id */
    char *params;       /* formatted, owned */
    const char *status; /* "ok", "failed", "discarded", "input" */
    char error[1200];
    char **notes;
    size_t n_notes;
    size_t size, gz;
    double lat1_ms, latb_ms;
    int has_acc;
    double top1, agree, max_abs, max_rel, cosine;
    int verified;
} stage;

/* What the pipeline's callbacks see: the stages (stage 0 is the original, stage i+1 step i). */
typedef struct run_ctx {
    stage *st;
    int json, threads, runs;
    int line_open; /* a progress line without its newline is on stderr */
} run_ctx;

static void end_line(run_ctx *u) {
    if (u->line_open) fputc('\n', stderr);
    u->line_open = 0;
}

static void add_note(void *user, size_t step, const char *msg) {
    stage *s = &((run_ctx *)user)->st[step + 1];
    char **v = realloc(s->notes, (s->n_notes + 1) * sizeof *v);
    if (!v) return;
    s->notes = v;
    s->notes[s->n_notes] = strdup(msg);
    if (s->notes[s->n_notes]) s->n_notes++;
}

static void on_progress(void *user, size_t step, double f, const char *what) {
    run_ctx *u = user;
    (void)step;
    if (!isatty(2)) return;
    fprintf(stderr, "\r  %3.0f%% %-60.60s", 100 * f, what ? what : "");
    u->line_open = 1;
    if (f >= 1) end_line(u);
}

static void on_step_start(void *user, size_t step, const kp_pass *pass) {
    run_ctx *u = user;
    (void)step;
    end_line(u);
    if (!u->json) fprintf(stderr, "kompress compress: running %s...\n", pass->id);
}

/* Median milliseconds at batch 64, or -1 when it cannot be measured. */
static double latency_b64(const kp_model *m, int threads, int runs) {
    kp_error e = {0};
    double t = 0;
    if (kp_verify_latency(m, 64, runs > 5 ? runs / 4 : 2, threads, &t, &e)) return -1;
    return 1e3 * t;
}

static void stage_metrics(stage *s, const kp_metrics_row *m) {
    s->size = (size_t)m->file_bytes;
    s->gz = (size_t)m->gzip_bytes;
    s->lat1_ms = m->host_latency_ms;
    s->has_acc = m->top1 >= 0;
    s->top1 = m->top1;
}

static int on_step_done(void *user, size_t step, const kp_model *m, const kp_step_result *r,
                        kp_error *err) {
    run_ctx *u = user;
    (void)err;
    if (r->status == KP_STEP_OK) u->st[step + 1].latb_ms = latency_b64(m, u->threads, u->runs);
    return 0;
}

/* A stage row from a step's result; a step not kept shows the size before it, no latency. */
static void stage_from_result(stage *s, const kp_step_result *r, double tol) {
    stage_metrics(s, &r->metrics);
    s->has_acc = 0;
    if (r->verified) {
        s->verified = 1;
        s->agree = r->verify.agree;
        s->max_abs = r->verify.max_abs;
        s->max_rel = r->verify.max_rel;
        s->cosine = r->verify.min_cosine;
        s->has_acc = r->verify.has_labels;
        s->top1 = r->verify.acc_cand;
    }
    s->status = kp_step_status_name(r->status);
    if (r->status == KP_STEP_OK) return;
    s->lat1_ms = s->latb_ms = -1;
    if (r->status == KP_STEP_DISCARDED)
        snprintf(s->error, sizeof s->error,
                 "BUG: lossless pass %s changed the outputs (max relative error %.3g > %.3g); "
                 "its result is discarded",
                 s->label, r->verify.max_rel, tol);
    else
        snprintf(s->error, sizeof s->error, "%.1100s; the model is left as it was before this pass",
                 r->error);
}

static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (!strcmp(a, b)) return 1;
    if (stat(a, &sa) || stat(b, &sb)) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: kompress compress MODEL -o OUT --pass ID[:name=value,...] [--pass ...]\n"
        "         [--data D [--labels L] [--format F] [--batch B] [--limit N] [--scale S]\n"
        "          [--mean a,b,c] [--std a,b,c] [--layout nchw|nhwc]] [--calib N] [--seed S]\n"
        "         [--score holdout|all] [--project P.json] [--threads T] [--runs R] [--tol X]\n"
        "         [--json]\n"
        "Applies the passes in order to a copy of MODEL, checks each result against the model\n"
        "before it (on the data, or on random inputs without --data), prints a before/after\n"
        "table and writes OUT atomically. MODEL is never modified. `kompress passes` lists\n"
        "the passes and their parameters. --calib: samples used for calibration (default 512,\n"
        "or the project's; 0 = all); --seed: which ones (default 1, or the project's).\n"
        "--score: samples top-1 and agreement are measured on: holdout (default; the samples\n"
        "calibration does not use, which then takes at most half of them) or all (the\n"
        "calibration samples too). --project: data, preprocessing and calibration subset from a\n"
        "project.json, and the holdout its runs score (not the planner's trial samples either).\n"
        "--tol: largest relative output change a lossless pass may make (1e-4).\n");
}

static void free_stage(stage *s) {
    free(s->params);
    for (size_t i = 0; i < s->n_notes; i++) free(s->notes[i]);
    free(s->notes);
}

/* Which samples top-1 and agreement were measured on. */
typedef struct scoring {
    int all;                          /* --score all: every sample, calibration ones included */
    size_t scored, total, calibrated; /* sample counts */
    kp_holdout_info hold;             /* which samples the holdout is (not with all) */
    char calib_hash[24];              /* of the calibration subset, as in run records */
    char note[256];                   /* why calibration took fewer samples than asked */
} scoring;

/* Opens the data, picks the calibration samples and the samples to score: by default the
 * holdout (the samples calibration does not use; calibration then takes at most half, as in
 * jobs; with a project, not its planner's trial samples either: the holdout its runs score),
 * with --score all every sample. */
static int open_data(const char *data, const kp_dataset_opts *dopts, const kp_model *model,
                     const kp_project *proj, size_t calib_n, uint64_t seed, kp_dataset **ds,
                     kp_calib **calib, kp_calib **evalset, scoring *sc, kp_error *err) {
    int rc = kp_dataset_open(data, dopts, ds, err);
    if (!rc) rc = kp_dataset_bind(*ds, model, err);
    if (rc) return rc;
    size_t total = kp_dataset_n_samples(*ds), n_cal = calib_n ? calib_n : total;
    if (!sc->all && n_cal > total / 2) {
        n_cal = total / 2;
        snprintf(sc->note, sizeof sc->note,
                 "calibration uses %zu of the %zu samples so that the other %zu score the "
                 "models (--score all scores every sample)",
                 n_cal, total, total - n_cal);
    }
    if (!sc->all && n_cal == 0)
        return kp_error_set(err, KP_ERANGE,
                            "%zu sample(s) are too few to both calibrate and score on the others "
                            "(--score all scores the calibration samples too)",
                            total);
    if ((rc = kp_dataset_calib_new(*ds, sc->all ? calib_n : n_cal, seed, calib, err))) return rc;
    rc = sc->all ? kp_dataset_calib_new(*ds, 0, 0, evalset, err)
                 : kp_dataset_project_holdout(*ds, proj, *calib, evalset, &sc->hold, err);
    if (rc) return rc;
    sc->total = total;
    sc->calibrated = (*calib)->n_samples;
    sc->scored = (*evalset)->n_samples;
    snprintf(sc->calib_hash, sizeof sc->calib_hash, "%016llx",
             (unsigned long long)kp_dataset_calib_hash(*calib));
    return 0;
}

static void print_table(stage *st, size_t n, const char *in, const char *out, const scoring *sc) {
    printf("%s -> %s\n", in, out);
    if (sc->total && sc->all)
        printf("scored on all %zu samples (the %zu calibration samples included)\n", sc->scored,
               sc->calibrated);
    else if (sc->total) {
        char line[400];
        printf("%s\n", kp_dataset_holdout_describe(&sc->hold, line, sizeof line));
    }
    printf("%-16s %-10s %10s %10s %7s %10s %11s %8s %8s %10s\n", "stage", "status", "bytes", "gzip",
           "ratio", "ms b=1", "ms b=64", "top-1 %", "agree %", "max rel");
    for (size_t i = 0; i < n; i++) {
        stage *s = &st[i];
        char acc[16] = "-", agree[16] = "-", rel[16] = "-", l1[16] = "-", lb[16] = "-";
        if (s->has_acc) snprintf(acc, sizeof acc, "%.2f", s->top1);
        if (s->verified && s->agree >= 0) snprintf(agree, sizeof agree, "%.2f", 100 * s->agree);
        if (s->verified) snprintf(rel, sizeof rel, "%.2e", s->max_rel);
        if (s->lat1_ms >= 0) snprintf(l1, sizeof l1, "%.3f", s->lat1_ms);
        if (s->latb_ms >= 0) snprintf(lb, sizeof lb, "%.2f", s->latb_ms);
        double ratio = s->size ? (double)st[0].size / (double)s->size : 0;
        printf("%-16s %-10s %10zu %10zu %6.2fx %10s %11s %8s %8s %10s\n", s->label, s->status,
               s->size, s->gz, ratio, l1, lb, acc, agree, rel);
        if (s->params && *s->params) printf("  params: %s\n", s->params);
        for (size_t k = 0; k < s->n_notes; k++) printf("  note: %s\n", s->notes[k]);
        if (s->error[0]) printf("  error: %s\n", s->error);
    }
}

static void print_json(stage *st, size_t n, const char *in, const char *out, int ok,
                       const scoring *sc) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "input", in);
    cJSON_AddStringToObject(root, "output", out);
    cJSON_AddBoolToObject(root, "ok", ok);
    if (sc->total) {
        cJSON *o = cJSON_AddObjectToObject(root, "scored");
        cJSON_AddStringToObject(o, "set", sc->all ? "all" : "holdout");
        cJSON_AddNumberToObject(o, "samples", (double)sc->scored);
        cJSON_AddNumberToObject(o, "of", (double)sc->total);
        cJSON_AddNumberToObject(o, "calibration_samples", (double)sc->calibrated);
        cJSON_AddStringToObject(o, "calibration_hash", sc->calib_hash);
        if (!sc->all) {
            char h[24];
            snprintf(h, sizeof h, "%016llx", (unsigned long long)sc->hold.hash);
            cJSON_AddNumberToObject(o, "trial_samples", (double)sc->hold.trial);
            cJSON_AddStringToObject(o, "holdout_hash", h);
        }
        if (sc->note[0]) cJSON_AddStringToObject(o, "note", sc->note);
    }
    cJSON *arr = cJSON_AddArrayToObject(root, "stages");
    for (size_t i = 0; i < n; i++) {
        stage *s = &st[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "stage", s->label);
        cJSON_AddStringToObject(o, "status", s->status);
        cJSON_AddStringToObject(o, "params", s->params ? s->params : "");
        cJSON_AddNumberToObject(o, "bytes", (double)s->size);
        cJSON_AddNumberToObject(o, "gzip_bytes", (double)s->gz);
        cJSON_AddNumberToObject(o, "ratio", s->size ? (double)st[0].size / (double)s->size : 0);
        if (s->lat1_ms >= 0) cJSON_AddNumberToObject(o, "latency_ms_b1", s->lat1_ms);
        if (s->latb_ms >= 0) cJSON_AddNumberToObject(o, "latency_ms_b64", s->latb_ms);
        if (s->has_acc) cJSON_AddNumberToObject(o, "top1", s->top1);
        if (s->verified) {
            if (s->agree >= 0) cJSON_AddNumberToObject(o, "agreement", s->agree);
            cJSON_AddNumberToObject(o, "max_abs_err", s->max_abs);
            cJSON_AddNumberToObject(o, "max_rel_err", s->max_rel);
            cJSON_AddNumberToObject(o, "cosine", s->cosine);
        }
        cJSON *notes = cJSON_AddArrayToObject(o, "notes");
        for (size_t k = 0; k < s->n_notes; k++)
            cJSON_AddItemToArray(notes, cJSON_CreateString(s->notes[k]));
        if (s->error[0]) cJSON_AddStringToObject(o, "error", s->error);
    }
    char *t = cJSON_Print(root);
    if (t) printf("%s\n", t);
    free(t);
    cJSON_Delete(root);
}

/* --pass may be given many times: the specs in order. */
typedef struct pass_specs {
    const char *v[MAX_PASSES];
    size_t n;
} pass_specs;

static int add_spec(void *dest, const char *arg, kp_error *err) {
    pass_specs *p = dest;
    if (p->n == MAX_PASSES) return kp_error_set(err, KP_ERANGE, "at most %d passes", MAX_PASSES);
    p->v[p->n++] = arg;
    return 0;
}

static int read_score(void *dest, const char *arg, kp_error *err) {
    if (strcmp(arg, "holdout") && strcmp(arg, "all"))
        return kp_error_set(err, KP_EINVAL, "--score is holdout or all, not '%s'", arg);
    *(int *)dest = !strcmp(arg, "all");
    return 0;
}

static int run(int argc, char **argv) {
    const char *out_path = NULL, *project = NULL, *in_path = NULL;
    pass_specs sp = {0};
    kp_cli_data dd;
    kp_cli_data_init(&dd);
    long long calib_ll = -1, seed_ll = -1, threads_ll = 1, runs_ll = 20; /* -1: not given */
    int json = 0, score_all = 0;
    double tol = 1e-4;
    kp_opt opts[KP_CLI_DATA_N_OPTS + 12] = {
        {"output", 'o', KP_OPT_STR, &out_path, 0, 0, NULL},
        {"pass", 0, KP_OPT_FN, &sp, 0, 0, add_spec},
        {"calib", 0, KP_OPT_LONG, &calib_ll, 0, 1e12, NULL},
        {"seed", 0, KP_OPT_LONG, &seed_ll, 0, 9e18, NULL},
        {"threads", 0, KP_OPT_LONG, &threads_ll, 0, 256, NULL},
        {"runs", 0, KP_OPT_LONG, &runs_ll, 1, 1000, NULL},
        {"tol", 0, KP_OPT_DOUBLE, &tol, 1e-300, 1e300, NULL},
        {"json", 0, KP_OPT_FLAG, &json, 0, 0, NULL},
        {"project", 0, KP_OPT_STR, &project, 0, 0, NULL},
        {"score", 0, KP_OPT_FN, &score_all, 0, 0, read_score},
    };
    kp_cli_data_opts(&dd, 0, opts + 10);
    size_t n_pos;
    int pst = kp_cli_parse(CMD, argc, argv, opts, usage, "MODEL", 1, 1, &in_path, &n_pos);
    if (pst >= 0) return pst;
    const char **specs = sp.v, *data = dd.data;
    size_t n_specs = sp.n, calib_n = calib_ll < 0 ? 512 : (size_t)calib_ll;
    uint64_t seed = seed_ll < 0 ? 1 : (uint64_t)seed_ll;
    int threads = (int)threads_ll, runs = (int)runs_ll;
    kp_dataset_opts dopts;
    kp_dataset_opts_init(&dopts);
    kp_error err = {0};
    if (!out_path) return kp_cli_failf(CMD, 2, "no output given (-o OUT)");
    if (!n_specs) return kp_cli_failf(CMD, 2, "no --pass given (see `kompress passes`)");
    if (same_file(in_path, out_path))
        return kp_cli_failf(CMD, 2, "output %s is the input model; the input is never overwritten",
                            out_path);

    /* Every pass spec is checked before any work. */
    size_t n_reg;
    const kp_pass *const *reg = kp_passes(&n_reg);
    const kp_pass *passes[MAX_PASSES];
    kp_params params[MAX_PASSES];
    memset(params, 0, sizeof params);
    int status = 0;
    for (size_t i = 0; i < n_specs; i++) {
        if (kp_pass_spec_parse(reg, n_reg, specs[i], &passes[i], &params[i], &err)) {
            for (size_t k = 0; k < i; k++) kp_params_free(&params[k]);
            return kp_cli_fail(CMD, &err), 2;
        }
    }

    kp_project *proj = NULL;
    char *pdata = NULL, *plabels = NULL;
    if (project && !data) {
        if (kp_project_load(project, &proj, &err) ||
            kp_dataset_opts_from_spec(&proj->data, proj->dir, &dopts, &pdata, &plabels, &err)) {
            for (size_t k = 0; k < n_specs; k++) kp_params_free(&params[k]);
            kp_project_free(proj);
            return kp_cli_fail(CMD, &err);
        }
        data = pdata;
        if (plabels) dopts.labels = plabels;
        /* the project's calibration subset: the holdout is the one its runs score */
        if (calib_ll < 0 && proj->data.calib_samples > 0)
            calib_n = (size_t)proj->data.calib_samples;
        if (seed_ll < 0) seed = proj->seed;
    }
    if (data && !status) status = kp_cli_data_apply(&dd, &dopts, &err);
    if (status) {
        for (size_t k = 0; k < n_specs; k++) kp_params_free(&params[k]);
        kp_project_free(proj);
        free(pdata);
        free(plabels);
        return kp_cli_fail(CMD, &err), 2;
    }
    for (size_t i = 0; i < n_specs; i++)
        if (passes[i]->needs_data && !data) {
            for (size_t k = 0; k < n_specs; k++) kp_params_free(&params[k]);
            kp_project_free(proj);
            free(pdata);
            free(plabels);
            return kp_cli_failf(CMD, 2,
                                "pass %s needs calibration data: give --data (and --labels for "
                                "accuracy) or --project",
                                passes[i]->id);
        }

    kp_model *model = NULL;
    kp_dataset *ds = NULL;
    kp_calib *calib = NULL, *evalset = NULL;
    stage st[MAX_PASSES + 1];
    memset(st, 0, sizeof st);
    size_t n_st = 0;
    kp_pipeline_out po_out = {0};
    scoring sc = {0};
    sc.all = score_all;
    if (kp_onnx_load(in_path, NULL, &model, &err)) {
        status = kp_cli_fail(CMD, &err);
        goto done;
    }
    if (data) {
        if (open_data(data, &dopts, model, proj, calib_n, seed, &ds, &calib, &evalset, &sc, &err)) {
            kp_error_wrap(&err, "data %s: ", data);
            status = kp_cli_fail(CMD, &err);
            goto done;
        }
        if (sc.note[0] && !json) fprintf(stderr, "kompress compress: %s\n", sc.note);
    }
    signal(SIGINT, on_sigint);

    /* the original */
    kp_measure_opts mo = {0};
    mo.evalset = evalset;
    mo.runs = runs;
    mo.threads = threads;
    mo.cancel = &cancel_flag;
    stage *s0 = &st[n_st++];
    s0->label = "original";
    s0->status = "input";
    kp_metrics_row before;
    if (kp_measure_model(model, &mo, &before, &err)) {
        status = kp_cli_fail(CMD, &err);
        goto done;
    }
    stage_metrics(s0, &before);
    s0->latb_ms = latency_b64(model, threads, runs);
    for (size_t i = 0; i < n_specs; i++) {
        st[n_st + i].label = passes[i]->id;
        st[n_st + i].params = kp_params_format(&params[i]);
    }

    kp_pipeline_step steps[MAX_PASSES];
    for (size_t i = 0; i < n_specs; i++) steps[i] = (kp_pipeline_step){passes[i], &params[i]};
    run_ctx rc_user = {st, json, threads, runs, 0};
    kp_pipeline_opts po = {0};
    po.calib = calib;
    po.verify_data = evalset;
    po.verify = (kp_verify_opts){0, seed, 8, NULL, threads};
    po.measure = &mo;
    po.before = &before;
    po.seed = seed;
    po.threads = threads;
    po.acc_budget = 1.0;
    po.lossless_tol = tol;
    po.cancel = &cancel_flag;
    po.user = &rc_user;
    po.step_start = on_step_start;
    po.progress = on_progress;
    po.note = add_note;
    po.step_done = on_step_done;
    int prc = kp_pipeline_run(model, steps, n_specs, &po, &po_out, &err);
    end_line(&rc_user);
    if (prc && prc != KP_ECANCELLED) {
        status = kp_cli_fail(CMD, &err);
        goto done;
    }
    for (size_t i = 0; i < po_out.n_steps; i++) {
        const kp_step_result *r = &po_out.steps[i];
        if (r->status == KP_STEP_PENDING) break;
        stage_from_result(&st[n_st++], r, tol);
        if (r->status != KP_STEP_OK) status = 1;
    }
    kp_model *cur = po_out.model;
    if (kp_onnx_save(cur, out_path, 1, &err)) {
        status = kp_cli_fail(CMD, &err);
        goto done;
    }
    if (json)
        print_json(st, n_st, in_path, out_path, status == 0, &sc);
    else
        print_table(st, n_st, in_path, out_path, &sc);
done:
    for (size_t i = 0; i <= MAX_PASSES; i++) free_stage(&st[i]);
    for (size_t i = 0; i < n_specs; i++) kp_params_free(&params[i]);
    kp_dataset_calib_free(calib);
    kp_dataset_calib_free(evalset);
    kp_dataset_free(ds);
    kp_project_free(proj);
    free(pdata);
    free(plabels);
    kp_pipeline_out_free(&po_out);
    kp_model_free(model);
    return status;
}

const kp_cmd kp_cmd_compress = {
    "compress", "MODEL -o OUT --pass ID[:k=v,...] ... [--data D --labels L] [--json]",
    "apply compression passes, check each numerically, write the result", run};
