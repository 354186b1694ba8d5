/* project.json schema, version 1:
 * { "schema_version": 1, "name": str, "model": path, "target": id, "goals": [goal, goal?],
 *   "data": { "path", "labels"?, "format"?, "calib_samples"?, "eval_limit"?,
 *             "preprocessing": { "scale", "mean": [], "std": [], "layout" } },
 *   "budgets": { "max_drop", "size_bytes"?, "latency_ms"? }, "seed": int,
 *   "plan": [ { "pass", "params", "enabled", "estimate": {...} } ],
 *   "runs": [ { "id", "started", "status", "seed", "calib_hash", "tool_version",
 *               "hw_fingerprint", "output_model", "report", "before": {metrics},
 *               "after": {metrics}, "eval_samples"?, "holdout_hash"?,
 *               "predicted"?: {plan summary},
 *               "steps": [ { plan step..., "measured": {metrics} } ] } ] },
 *   "plan_summary"?: { "total": {estimate}, "acc_se", "trial_samples", "meets_budget": bool,
 *                      "note", "tried": [ {tried pipeline, see kp_tried_json} ] } }
 * Paths are stored as given (relative = relative to the project folder). Files written before
 * the tried list had one format (tried "name", and "meets"/"pareto"/"chosen" as 0/1 numbers) are
 * still read. */
#include "core/project_json.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ctx {
    const char *path;
    kp_error *err;
    int rc;
} ctx;

static int bad(ctx *c, const char *field, const char *want) {
    if (!c->rc)
        c->rc =
            kp_error_set(c->err, KP_EFORMAT, "%s: field \"%s\" must be %s", c->path, field, want);
    return c->rc;
}

static const cJSON *item(const cJSON *o, const char *k) {
    return o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static char *get_str(ctx *c, const cJSON *o, const char *k, int required) {
    const cJSON *v = item(o, k);
    if (!v || cJSON_IsNull(v)) {
        if (required) bad(c, k, "a string");
        return NULL;
    }
    if (!cJSON_IsString(v)) {
        bad(c, k, "a string");
        return NULL;
    }
    char *s = strdup(v->valuestring);
    if (!s && !c->rc) c->rc = kp_error_set(c->err, KP_ENOMEM, "out of memory");
    return s;
}

static double get_num(ctx *c, const cJSON *o, const char *k, double dflt, double lo, double hi) {
    const cJSON *v = item(o, k);
    if (!v || cJSON_IsNull(v)) return dflt;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi) {
        char want[96];
        snprintf(want, sizeof want, "a number from %g to %g", lo, hi);
        bad(c, k, want);
        return dflt;
    }
    return v->valuedouble;
}

/* A yes/no field: true/false, or the 0/1 of older files; old_k is the field's older name. */
static int get_flag(ctx *c, const cJSON *o, const char *k, const char *old_k, int dflt) {
    const cJSON *v = item(o, k);
    if ((!v || cJSON_IsNull(v)) && old_k) {
        v = item(o, old_k);
        k = old_k;
    }
    if (!v || cJSON_IsNull(v)) return dflt;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1)) return v->valueint;
    bad(c, k, "true or false");
    return dflt;
}

static size_t get_nums(ctx *c, const cJSON *o, const char *k, double *dst, size_t cap) {
    const cJSON *v = item(o, k);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsArray(v) || (size_t)cJSON_GetArraySize(v) > cap) {
        char want[64];
        snprintf(want, sizeof want, "a list of at most %zu numbers", cap);
        bad(c, k, want);
        return 0;
    }
    size_t n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (!cJSON_IsNumber(e)) {
            bad(c, k, "a list of numbers");
            return 0;
        }
        dst[n++] = e->valuedouble;
    }
    return n;
}

static void get_metrics(ctx *c, const cJSON *o, kp_metrics_row *m) {
    memset(m, 0, sizeof *m);
    m->top1 = -1;
    if (!o) return;
    if (!cJSON_IsObject(o)) {
        bad(c, "metrics", "an object");
        return;
    }
    m->file_bytes = get_num(c, o, "file_bytes", 0, 0, 1e15);
    m->gzip_bytes = get_num(c, o, "gzip_bytes", 0, 0, 1e15);
    m->host_latency_ms = get_num(c, o, "host_latency_ms", 0, 0, 1e12);
    m->target_latency_ms = get_num(c, o, "target_latency_ms", 0, 0, 1e12);
    m->top1 = get_num(c, o, "top1", -1, -1, 100);
    m->ram_bytes = get_num(c, o, "ram_bytes", 0, 0, 1e18);
    m->flash_bytes = get_num(c, o, "flash_bytes", 0, 0, 1e18);
    m->energy_mj = get_num(c, o, "energy_mj", 0, 0, 1e15);
    m->fits_ram = (int)get_num(c, o, "fits_ram", 1, 0, 1);
    m->fits_flash = (int)get_num(c, o, "fits_flash", 1, 0, 1);
}

static void get_estimate(ctx *c, const cJSON *e, kp_estimate *est);

static void get_step(ctx *c, const cJSON *o, kp_plan_step *s) {
    memset(s, 0, sizeof *s);
    if (!cJSON_IsObject(o)) {
        bad(c, "plan", "a list of objects");
        return;
    }
    s->pass_id = get_str(c, o, "pass", 1);
    s->params = get_str(c, o, "params", 0);
    if (!s->params && !c->rc) s->params = strdup("");
    const cJSON *en = item(o, "enabled");
    s->enabled = en ? cJSON_IsTrue(en) : 1;
    if (en && !cJSON_IsBool(en)) bad(c, "enabled", "true or false");
    const cJSON *e = item(o, "estimate");
    if (e) get_estimate(c, e, &s->est);
    s->corr_size = s->corr_lat = 1;
    const cJSON *k = item(o, "correction");
    if (k && !cJSON_IsNull(k)) {
        s->corrected = 1;
        s->corr_size = get_num(c, k, "size", 1, 1e-6, 1e6);
        s->corr_lat = get_num(c, k, "latency", 1, 1e-6, 1e6);
        s->corr_drop = get_num(c, k, "acc_drop", 0, -100, 100);
    }
}

static void get_estimate(ctx *c, const cJSON *e, kp_estimate *est) {
    est->size_ratio = get_num(c, e, "size_ratio", 1, 0, 1e6);
    est->latency_ratio = get_num(c, e, "latency_ratio", 1, 0, 1e6);
    est->acc_drop = get_num(c, e, "acc_drop", 0, -100, 100);
    est->confidence = get_num(c, e, "confidence", 0, 0, 1);
    est->applicable = (int)get_num(c, e, "applicable", 1, 0, 1);
    char *r = get_str(c, e, "reason", 0);
    if (r) snprintf(est->reason, sizeof est->reason, "%s", r);
    free(r);
}

static int get_plan_info(ctx *c, const cJSON *o, const char *field, kp_plan_info *pi) {
    memset(pi, 0, sizeof *pi);
    if (!o || cJSON_IsNull(o)) return 0;
    if (!cJSON_IsObject(o)) return bad(c, field, "an object");
    const cJSON *t = item(o, "total");
    if (t) get_estimate(c, t, &pi->total);
    pi->acc_se = get_num(c, o, "acc_se", 0, 0, 100);
    pi->trial_samples = (int64_t)get_num(c, o, "trial_samples", 0, 0, 1e12);
    pi->meets = get_flag(c, o, "meets_budget", "meets", 1);
    pi->note = get_str(c, o, "note", 0);
    const cJSON *arr = item(o, "tried");
    if (!arr || cJSON_IsNull(arr)) return c->rc;
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > 4096)
        return bad(c, "tried", "a list of at most 4096 objects");
    size_t cnt = (size_t)cJSON_GetArraySize(arr);
    pi->tried = calloc(cnt ? cnt : 1, sizeof *pi->tried);
    if (!pi->tried) return c->rc = kp_error_set(c->err, KP_ENOMEM, "out of memory");
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        if (!cJSON_IsObject(e)) return bad(c, "tried", "a list of objects");
        kp_tried *k = &pi->tried[pi->n_tried++];
        k->name = get_str(c, e, item(e, "name") && !item(e, "pipeline") ? "name" : "pipeline", 1);
        k->size_ratio = get_num(c, e, "size_ratio", 1, 0, 1e6);
        k->latency_ratio = get_num(c, e, "latency_ratio", 1, 0, 1e6);
        k->acc_drop = get_num(c, e, "acc_drop", 0, -100, 100);
        k->acc_se = get_num(c, e, "acc_se", 0, 0, 100);
        k->meets = get_flag(c, e, "meets_budget", "meets", 0);
        k->pareto = get_flag(c, e, "pareto", NULL, 0);
        k->chosen = get_flag(c, e, "chosen", NULL, 0);
        if (c->rc) break;
    }
    return c->rc;
}

static int get_steps(ctx *c, const cJSON *arr, const char *field, kp_plan_step **out, size_t *n,
                     kp_metrics_row **measured) {
    *out = NULL;
    *n = 0;
    if (!arr || cJSON_IsNull(arr)) return 0;
    if (!cJSON_IsArray(arr)) return bad(c, field, "a list");
    size_t cnt = (size_t)cJSON_GetArraySize(arr);
    if (cnt > 256) return bad(c, field, "a list of at most 256 steps");
    *out = calloc(cnt ? cnt : 1, sizeof **out);
    if (measured) *measured = calloc(cnt ? cnt : 1, sizeof **measured);
    if (!*out || (measured && !*measured))
        return c->rc = kp_error_set(c->err, KP_ENOMEM, "out of memory");
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        get_step(c, e, &(*out)[*n]);
        if (measured) get_metrics(c, item(e, "measured"), &(*measured)[*n]);
        (*n)++;
        if (c->rc) break;
    }
    return c->rc;
}

int kp_project_from_json(const char *text, const char *path, kp_project *p, kp_error *err) {
    ctx c = {path, err, 0};
    cJSON *o = cJSON_Parse(text);
    if (!o)
        return kp_error_set(err, KP_EFORMAT,
                            "%s: not valid JSON (damaged file?); it was left "
                            "as it is",
                            path);
    if (!cJSON_IsObject(o)) {
        bad(&c, "(top level)", "an object");
        goto done;
    }
    const cJSON *sv = item(o, "schema_version");
    if (!sv || !cJSON_IsNumber(sv)) {
        bad(&c, "schema_version", "a number");
        goto done;
    }
    if (sv->valueint > KP_PROJECT_SCHEMA) {
        c.rc = kp_error_set(err, KP_EUNSUPPORTED,
                            "%s: schema version %d was written by a newer Kompress (this one "
                            "reads up to %d); the file was left as it is",
                            path, sv->valueint, KP_PROJECT_SCHEMA);
        goto done;
    }
    p->name = get_str(&c, o, "name", 1);
    p->model = get_str(&c, o, "model", 0);
    p->target_id = get_str(&c, o, "target", 0);
    p->seed = (uint64_t)get_num(&c, o, "seed", 1234, 0, 9007199254740991.0);
    const cJSON *goals = item(o, "goals");
    if (goals && !cJSON_IsNull(goals)) {
        if (!cJSON_IsArray(goals) || cJSON_GetArraySize(goals) > 2) {
            bad(&c, "goals", "a list of at most two of \"latency\", \"size\", \"accuracy\"");
            goto done;
        }
        int gi = 0;
        const cJSON *g;
        cJSON_ArrayForEach(g, goals) {
            kp_goal k = cJSON_IsString(g) ? kp_goal_from_name(g->valuestring) : KP_GOAL_NONE;
            if (k == KP_GOAL_NONE || (gi == 1 && p->goals[0] == k)) {
                bad(&c, "goals",
                    "a list of at most two different goals among \"latency\", "
                    "\"size\", \"accuracy\"");
                goto done;
            }
            p->goals[gi++] = k;
        }
    }
    const cJSON *d = item(o, "data");
    if (d && !cJSON_IsNull(d)) {
        if (!cJSON_IsObject(d)) {
            bad(&c, "data", "an object");
            goto done;
        }
        p->data.path = get_str(&c, d, "path", 0);
        p->data.labels = get_str(&c, d, "labels", 0);
        p->data.format = get_str(&c, d, "format", 0);
        p->data.calib_samples = (int64_t)get_num(&c, d, "calib_samples", 512, 1, 1e9);
        p->data.eval_limit = (int64_t)get_num(&c, d, "eval_limit", 0, 0, 1e12);
        const cJSON *pp = item(d, "preprocessing");
        if (pp && !cJSON_IsObject(pp)) bad(&c, "preprocessing", "an object");
        const cJSON *src = pp ? pp : d;
        p->data.scale = get_num(&c, src, "scale", 1, -1e9, 1e9);
        p->data.n_mean = get_nums(&c, src, "mean", p->data.mean, 8);
        p->data.n_std = get_nums(&c, src, "std", p->data.std, 8);
        for (size_t i = 0; i < p->data.n_std; i++)
            if (p->data.std[i] == 0) bad(&c, "std", "a list of non-zero numbers");
        char *lay = get_str(&c, src, "layout", 0);
        if (lay && strcmp(lay, "nchw") && strcmp(lay, "nhwc")) bad(&c, "layout", "nchw or nhwc");
        snprintf(p->data.layout, sizeof p->data.layout, "%s", lay ? lay : "nchw");
        free(lay);
    } else {
        snprintf(p->data.layout, sizeof p->data.layout, "nchw");
        p->data.scale = 1;
        p->data.calib_samples = 512;
    }
    const cJSON *b = item(o, "budgets");
    p->max_drop = get_num(&c, b, "max_drop", get_num(&c, o, "max_drop", 1.0, 0, 100), 0, 100);
    p->size_budget_bytes = get_num(&c, b, "size_bytes", 0, 0, 1e15);
    p->latency_budget_ms = get_num(&c, b, "latency_ms", 0, 0, 1e12);
    if (c.rc) goto done;
    if (get_steps(&c, item(o, "plan"), "plan", &p->plan, &p->n_plan, NULL)) goto done;
    if (get_plan_info(&c, item(o, "plan_summary"), "plan_summary", &p->plan_info)) goto done;
    const cJSON *runs = item(o, "runs");
    if (runs && !cJSON_IsNull(runs)) {
        if (!cJSON_IsArray(runs)) {
            bad(&c, "runs", "a list");
            goto done;
        }
        size_t cnt = (size_t)cJSON_GetArraySize(runs);
        p->runs = calloc(cnt ? cnt : 1, sizeof *p->runs);
        if (!p->runs) {
            c.rc = kp_error_set(err, KP_ENOMEM, "out of memory");
            goto done;
        }
        const cJSON *r;
        cJSON_ArrayForEach(r, runs) {
            kp_run_record *rr = &p->runs[p->n_runs++];
            if (!cJSON_IsObject(r)) {
                bad(&c, "runs", "a list of objects");
                goto done;
            }
            rr->id = get_str(&c, r, "id", 1);
            rr->started = get_str(&c, r, "started", 0);
            rr->status = (int)get_num(&c, r, "status", 0, -1000, 0);
            rr->seed = (uint64_t)get_num(&c, r, "seed", 0, 0, 9007199254740991.0);
            rr->calib_hash = get_str(&c, r, "calib_hash", 0);
            rr->tool_version = get_str(&c, r, "tool_version", 0);
            rr->hw_fingerprint = get_str(&c, r, "hw_fingerprint", 0);
            rr->output_model = get_str(&c, r, "output_model", 0);
            rr->report = get_str(&c, r, "report", 0);
            get_metrics(&c, item(r, "before"), &rr->before);
            get_metrics(&c, item(r, "after"), &rr->after);
            rr->eval_samples = (size_t)get_num(&c, r, "eval_samples", 0, 0, 1e15);
            rr->holdout_hash = get_str(&c, r, "holdout_hash", 0);
            if (get_plan_info(&c, item(r, "predicted"), "predicted", &rr->predicted)) goto done;
            if (get_steps(&c, item(r, "steps"), "steps", &rr->steps, &rr->n_steps, &rr->step_after))
                goto done;
        }
    }
done:
    cJSON_Delete(o);
    return c.rc;
}

/* ---- writing ----------------------------------------------------------------------------- */

static void put_str(cJSON *o, const char *k, const char *v) {
    if (v) cJSON_AddStringToObject(o, k, v);
}

static cJSON *metrics_json(const kp_metrics_row *m) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "file_bytes", m->file_bytes);
    cJSON_AddNumberToObject(o, "gzip_bytes", m->gzip_bytes);
    cJSON_AddNumberToObject(o, "host_latency_ms", m->host_latency_ms);
    cJSON_AddNumberToObject(o, "target_latency_ms", m->target_latency_ms);
    cJSON_AddNumberToObject(o, "top1", m->top1);
    cJSON_AddNumberToObject(o, "ram_bytes", m->ram_bytes);
    cJSON_AddNumberToObject(o, "flash_bytes", m->flash_bytes);
    cJSON_AddNumberToObject(o, "energy_mj", m->energy_mj);
    cJSON_AddNumberToObject(o, "fits_ram", m->fits_ram);
    cJSON_AddNumberToObject(o, "fits_flash", m->fits_flash);
    return o;
}

static void put_estimate(cJSON *e, const kp_estimate *est) {
    cJSON_AddNumberToObject(e, "size_ratio", est->size_ratio);
    cJSON_AddNumberToObject(e, "latency_ratio", est->latency_ratio);
    cJSON_AddNumberToObject(e, "acc_drop", est->acc_drop);
    cJSON_AddNumberToObject(e, "confidence", est->confidence);
    cJSON_AddNumberToObject(e, "applicable", est->applicable);
    put_str(e, "reason", est->reason);
}

cJSON *kp_tried_json(const kp_tried *tried, size_t n) {
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        const kp_tried *k = &tried[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "pipeline", k->name ? k->name : "");
        cJSON_AddNumberToObject(e, "size_ratio", k->size_ratio);
        cJSON_AddNumberToObject(e, "latency_ratio", k->latency_ratio);
        cJSON_AddNumberToObject(e, "acc_drop", k->acc_drop);
        cJSON_AddNumberToObject(e, "acc_se", k->acc_se);
        cJSON_AddBoolToObject(e, "meets_budget", k->meets);
        cJSON_AddBoolToObject(e, "pareto", k->pareto);
        cJSON_AddBoolToObject(e, "chosen", k->chosen);
        cJSON_AddItemToArray(arr, e);
    }
    return arr;
}

static cJSON *plan_info_json(const kp_plan_info *pi) {
    cJSON *o = cJSON_CreateObject();
    put_estimate(cJSON_AddObjectToObject(o, "total"), &pi->total);
    cJSON_AddNumberToObject(o, "acc_se", pi->acc_se);
    cJSON_AddNumberToObject(o, "trial_samples", (double)pi->trial_samples);
    cJSON_AddBoolToObject(o, "meets_budget", pi->meets);
    put_str(o, "note", pi->note);
    cJSON_AddItemToObject(o, "tried", kp_tried_json(pi->tried, pi->n_tried));
    return o;
}

static cJSON *step_json(const kp_plan_step *s, const kp_metrics_row *measured) {
    cJSON *o = cJSON_CreateObject();
    put_str(o, "pass", s->pass_id);
    put_str(o, "params", s->params ? s->params : "");
    cJSON_AddBoolToObject(o, "enabled", s->enabled);
    put_estimate(cJSON_AddObjectToObject(o, "estimate"), &s->est);
    if (s->corrected) {
        cJSON *k = cJSON_AddObjectToObject(o, "correction");
        cJSON_AddNumberToObject(k, "size", s->corr_size);
        cJSON_AddNumberToObject(k, "latency", s->corr_lat);
        cJSON_AddNumberToObject(k, "acc_drop", s->corr_drop);
    }
    if (measured) cJSON_AddItemToObject(o, "measured", metrics_json(measured));
    return o;
}

char *kp_project_to_json(const kp_project *p) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "schema_version", KP_PROJECT_SCHEMA);
    put_str(o, "name", p->name);
    put_str(o, "model", p->model);
    put_str(o, "target", p->target_id);
    cJSON *g = cJSON_AddArrayToObject(o, "goals");
    for (int i = 0; i < 2; i++)
        if (p->goals[i] != KP_GOAL_NONE)
            cJSON_AddItemToArray(g, cJSON_CreateString(kp_goal_name(p->goals[i])));
    cJSON *d = cJSON_AddObjectToObject(o, "data");
    put_str(d, "path", p->data.path);
    put_str(d, "labels", p->data.labels);
    put_str(d, "format", p->data.format);
    cJSON_AddNumberToObject(d, "calib_samples", (double)p->data.calib_samples);
    cJSON_AddNumberToObject(d, "eval_limit", (double)p->data.eval_limit);
    cJSON *pp = cJSON_AddObjectToObject(d, "preprocessing");
    cJSON_AddNumberToObject(pp, "scale", p->data.scale);
    cJSON *mean = cJSON_AddArrayToObject(pp, "mean"), *std = cJSON_AddArrayToObject(pp, "std");
    for (size_t i = 0; i < p->data.n_mean; i++)
        cJSON_AddItemToArray(mean, cJSON_CreateNumber(p->data.mean[i]));
    for (size_t i = 0; i < p->data.n_std; i++)
        cJSON_AddItemToArray(std, cJSON_CreateNumber(p->data.std[i]));
    put_str(pp, "layout", p->data.layout[0] ? p->data.layout : "nchw");
    cJSON *b = cJSON_AddObjectToObject(o, "budgets");
    cJSON_AddNumberToObject(b, "max_drop", p->max_drop);
    cJSON_AddNumberToObject(b, "size_bytes", p->size_budget_bytes);
    cJSON_AddNumberToObject(b, "latency_ms", p->latency_budget_ms);
    cJSON_AddNumberToObject(o, "seed", (double)p->seed);
    cJSON *plan = cJSON_AddArrayToObject(o, "plan");
    for (size_t i = 0; i < p->n_plan; i++) cJSON_AddItemToArray(plan, step_json(&p->plan[i], 0));
    if (p->n_plan && (p->plan_info.total.size_ratio > 0 || p->plan_info.trial_samples > 0))
        cJSON_AddItemToObject(o, "plan_summary", plan_info_json(&p->plan_info));
    cJSON *runs = cJSON_AddArrayToObject(o, "runs");
    for (size_t i = 0; i < p->n_runs; i++) {
        const kp_run_record *r = &p->runs[i];
        cJSON *ro = cJSON_CreateObject();
        put_str(ro, "id", r->id);
        put_str(ro, "started", r->started);
        cJSON_AddNumberToObject(ro, "status", r->status);
        cJSON_AddNumberToObject(ro, "seed", (double)r->seed);
        put_str(ro, "calib_hash", r->calib_hash);
        put_str(ro, "tool_version", r->tool_version);
        put_str(ro, "hw_fingerprint", r->hw_fingerprint);
        put_str(ro, "output_model", r->output_model);
        put_str(ro, "report", r->report);
        cJSON_AddItemToObject(ro, "before", metrics_json(&r->before));
        cJSON_AddItemToObject(ro, "after", metrics_json(&r->after));
        if (r->eval_samples) cJSON_AddNumberToObject(ro, "eval_samples", (double)r->eval_samples);
        put_str(ro, "holdout_hash", r->holdout_hash);
        if (r->predicted.total.size_ratio > 0)
            cJSON_AddItemToObject(ro, "predicted", plan_info_json(&r->predicted));
        cJSON *st = cJSON_AddArrayToObject(ro, "steps");
        for (size_t k = 0; k < r->n_steps; k++)
            cJSON_AddItemToArray(st,
                                 step_json(&r->steps[k], r->step_after ? &r->step_after[k] : 0));
        cJSON_AddItemToArray(runs, ro);
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    return text;
}
