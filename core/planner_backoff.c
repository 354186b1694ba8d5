/* Planner back-off: one candidate pipeline is measured whole (planner_trial.c); while its
 * measured accuracy drop breaks the budget, each lossy step in turn is weakened one notch
 * (lower sparsity, more singular-value energy, larger k, fewer channels removed) — or switched
 * off when it cannot be weakened further — and the whole pipeline is measured again, so steps
 * that work together (prune -> reconstruct, low-rank -> cluster -> reconstruct) are judged by
 * their combined effect. The change that keeps the most of the first goal while meeting the
 * budget wins (else the one that loses the least accuracy), and the loop goes on from there. */
#include "core/planner_priv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/measure.h"

#define MAX_BACKOFF 8

double kp_pt_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- "k=v,k=v" parameter strings ---------------------------------------------------------- */

static int param_get(const char *params, const char *key, double *v) {
    size_t kl = strlen(key);
    for (const char *s = params; s && *s;) {
        if (!strncmp(s, key, kl) && s[kl] == '=') {
            *v = strtod(s + kl + 1, NULL);
            return 1;
        }
        s = strchr(s, ',');
        if (s) s++;
    }
    return 0;
}

/* Sets key=value in params (capacity cap), replacing an existing key. 0 ok, -1 no room. */
static int param_set(char *params, size_t cap, const char *key, const char *value) {
    char out[160] = "";
    size_t kl = strlen(key);
    int found = 0;
    for (const char *s = params; *s;) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char item[160];
        if (!strncmp(s, key, kl) && s[kl] == '=') {
            snprintf(item, sizeof item, "%s=%s", key, value);
            found = 1;
        } else {
            snprintf(item, sizeof item, "%.*s", (int)n, s);
        }
        if (strlen(out) + strlen(item) + 2 > sizeof out) return -1;
        if (out[0]) strcat(out, ",");
        strcat(out, item);
        s = e ? e + 1 : s + n;
    }
    if (!found) {
        char item[160];
        snprintf(item, sizeof item, "%s=%s", key, value);
        if (strlen(out) + strlen(item) + 2 > sizeof out) return -1;
        if (out[0]) strcat(out, ",");
        strcat(out, item);
    }
    if (strlen(out) + 1 > cap) return -1;
    memcpy(params, out, strlen(out) + 1);
    return 0;
}

/* One notch weaker (less lossy) parameters for a step; 0 when there is no weaker notch. */
static int weaken(const char *id, char *params, size_t cap) {
    static const double sparsity[] = {0.7, 0.6, 0.5, 0.4, 0.3, 0.2};
    static const double ratio[] = {0.35, 0.25, 0.15, 0.08};
    static const double energy[] = {0.95, 0.98, 0.995};
    static const int ks[] = {32, 64, 128, 256};
    char v[32];
    double cur;
    if (!strcmp(id, "prune")) {
        if (!param_get(params, "sparsity", &cur)) cur = 0.5;
        for (size_t i = 0; i < sizeof sparsity / sizeof *sparsity; i++)
            if (sparsity[i] < cur - 1e-9) {
                snprintf(v, sizeof v, "%g", sparsity[i]);
                return param_set(params, cap, "sparsity", v) == 0;
            }
    } else if (!strcmp(id, "prune-channels")) {
        if (!param_get(params, "ratio", &cur)) cur = 0.5;
        for (size_t i = 0; i < sizeof ratio / sizeof *ratio; i++)
            if (ratio[i] < cur - 1e-9) {
                snprintf(v, sizeof v, "%g", ratio[i]);
                return param_set(params, cap, "ratio", v) == 0;
            }
    } else if (!strcmp(id, "low-rank")) {
        if (!param_get(params, "energy", &cur)) cur = 0.9;
        for (size_t i = 0; i < sizeof energy / sizeof *energy; i++)
            if (energy[i] > cur + 1e-9) {
                snprintf(v, sizeof v, "%g", energy[i]);
                return param_set(params, cap, "energy", v) == 0;
            }
    } else if (!strcmp(id, "cluster")) {
        if (!param_get(params, "k", &cur)) cur = 16;
        for (size_t i = 0; i < sizeof ks / sizeof *ks; i++)
            if (ks[i] > cur + 1e-9) {
                snprintf(v, sizeof v, "%d", ks[i]);
                return param_set(params, cap, "k", v) == 0;
            }
    }
    return 0;
}

static int is_recon(const kp_pass *p) {
    return !strcmp(p->id, "reconstruct");
}

/* Reconstruction only makes sense after a lossy step that is on. */
static void fix_recon(kp_pt_cfg *c) {
    int lossy = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (is_recon(c->pass[i])) {
            if (!lossy) c->on[i] = 0;
        } else if (c->on[i] && !c->pass[i]->lossless) {
            lossy = 1;
        }
    }
}

/* "fold + prune(sparsity=0.6) + reconstruct" */
static void cfg_name(const kp_pt_cfg *c, char *buf, size_t cap) {
    buf[0] = 0;
    size_t len = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (!c->on[i]) continue;
        int w = snprintf(buf + len, cap - len, "%s%s%s%s%s", len ? " + " : "", c->pass[i]->id,
                         c->params[i][0] ? "(" : "", c->params[i], c->params[i][0] ? ")" : "");
        if (w < 0 || (size_t)w >= cap - len) break;
        len += (size_t)w;
    }
    if (!buf[0]) snprintf(buf, cap, "nothing");
}

/* Whole-pipeline totals of run (as measured for cfg), corrected by corr[]; lat_ratio > 0
 * replaces the measured latency ratio (an interleaved re-measurement). */
static int totals(const kp_pt_env *env, const kp_pt_run *run, const kp_pt_corr *corr,
                  double lat_ratio, kp_pt_tot *o, kp_error *err) {
    const kp_project *p = env->p;
    memset(o, 0, sizeof *o);
    int last = kp_pt_last(run);
    const kp_pt_step *ls = last >= 0 ? &run->st[last] : NULL;
    o->size = ls ? ls->bytes / env->base_bytes : 1;
    o->lat = lat_ratio > 0 ? lat_ratio : ls && env->base_lat > 0 ? ls->lat / env->base_lat : 1;
    o->drop = ls ? ls->cum_drop : 0;
    o->se = ls ? kp_pt_drop_se(ls->cum_drop, ls->agree, env->n_measure) : 0;
    for (size_t i = 0; i < run->cfg.n; i++)
        if (run->st[i].ran && corr[i].n) {
            o->size *= corr[i].size;
            o->lat *= corr[i].lat;
            o->drop += corr[i].drop;
        }
    o->bytes = env->base_bytes * o->size;
    o->target_ms = env->base_target_ms * o->lat;
    kp_target_estimate e;
    int rc = kp_measure_roofline(ls ? ls->after : env->orig, env->t, &e, err);
    if (rc) return rc;
    o->ram_bytes = (double)e.ram_bytes;
    o->fits_ram = e.fits_ram;
    /* Judged with one standard error of margin: a plan right at the budget on the trial
     * samples is as likely to break it on the run's as not, and the best of many tried
     * pipelines tends to have been measured lucky. */
    double drop = o->drop + KP_PT_SE_MARGIN * o->se;
    double ex[5] = {0, 0, 0, 0, 0};
    const char *what[5] = {0};
    char buf[5][96];
    if (drop > p->max_drop + 1e-9) {
        ex[0] = (drop - p->max_drop) / (p->max_drop > 0.25 ? p->max_drop : 0.25);
        snprintf(buf[0], sizeof buf[0], "top-1 drop %.2f (+%.2f margin) > %.2f points", o->drop,
                 KP_PT_SE_MARGIN * o->se, p->max_drop);
        what[0] = buf[0];
    }
    if (p->size_budget_bytes > 0 && o->bytes > p->size_budget_bytes) {
        ex[1] = o->bytes / p->size_budget_bytes - 1;
        snprintf(buf[1], sizeof buf[1], "size %.0f bytes, %.0f over the %.0f budget", o->bytes,
                 o->bytes - p->size_budget_bytes, p->size_budget_bytes);
        what[1] = buf[1];
    }
    if (p->latency_budget_ms > 0 && o->target_ms > p->latency_budget_ms) {
        ex[2] = o->target_ms / p->latency_budget_ms - 1;
        snprintf(buf[2], sizeof buf[2], "latency %.3f ms, %.3f over the %.3f ms budget",
                 o->target_ms, o->target_ms - p->latency_budget_ms, p->latency_budget_ms);
        what[2] = buf[2];
    }
    if (env->t->storage_bytes && o->bytes > (double)env->t->storage_bytes) {
        ex[3] = o->bytes / (double)env->t->storage_bytes - 1;
        snprintf(buf[3], sizeof buf[3], "%.0f bytes do not fit the %llu bytes of flash", o->bytes,
                 (unsigned long long)env->t->storage_bytes);
        what[3] = buf[3];
    }
    if (!o->fits_ram && env->t->ram_bytes) {
        ex[4] = o->ram_bytes / (double)env->t->ram_bytes - 1;
        if (ex[4] <= 0) ex[4] = 0.01;
        snprintf(buf[4], sizeof buf[4], "needs %.0f bytes of RAM, the target has %llu",
                 o->ram_bytes, (unsigned long long)env->t->ram_bytes);
        what[4] = buf[4];
    }
    for (int i = 0; i < 5; i++) {
        if (ex[i] > o->excess) o->excess = ex[i];
        if (what[i]) {
            size_t len = strlen(o->miss);
            snprintf(o->miss + len, sizeof o->miss - len, "%s%s", len ? "; " : "", what[i]);
        }
    }
    o->meets = o->excess <= 0;
    return 0;
}

static int acc_ok(const kp_project *p, const kp_pt_tot *t) {
    return t->drop + KP_PT_SE_MARGIN * t->se <= p->max_drop + 1e-9;
}

static double goal_of(kp_goal g, const kp_pt_tot *t) {
    switch (g) {
    case KP_GOAL_LATENCY: return t->lat;
    case KP_GOAL_ACCURACY: return t->drop;
    default: return t->size;
    }
}

/* 1 when back-off move a is better than b. */
static int better_move(const kp_project *p, const kp_pt_tot *a, const kp_pt_tot *b) {
    int ia = acc_ok(p, a), ib = acc_ok(p, b);
    if (ia != ib) return ia;
    if (!ia) return a->drop < b->drop;
    kp_goal g0 = p->goals[0] ? p->goals[0] : KP_GOAL_SIZE;
    double va = goal_of(g0, a), vb = goal_of(g0, b);
    if (va != vb) return va < vb;
    return a->drop < b->drop;
}

static int add_tried(kp_plan_info *info, const kp_pt_cfg *c, const kp_pt_tot *t, kp_error *err) {
    kp_tried *n = realloc(info->tried, (info->n_tried + 1) * sizeof *n);
    if (!n) return kp_error_set(err, KP_ENOMEM, "out of memory");
    info->tried = n;
    kp_tried *k = &n[info->n_tried];
    memset(k, 0, sizeof *k);
    char name[400];
    cfg_name(c, name, sizeof name);
    if (!(k->name = strdup(name))) return kp_error_set(err, KP_ENOMEM, "out of memory");
    k->size_ratio = t->size;
    k->latency_ratio = t->lat;
    k->acc_drop = t->drop;
    k->acc_se = t->se;
    k->meets = t->meets;
    info->n_tried++;
    return 0;
}

static int measure(const kp_pt_env *env, kp_pt_run *run, kp_pt_cfg *c, const kp_pt_corr *corr,
                   kp_pt_tot *t, kp_plan_info *tried, kp_error *err) {
    int rc = kp_pt_measure(env, run, c, err);
    if (!rc) rc = totals(env, run, corr, 0, t, err);
    if (!rc) rc = add_tried(tried, c, t, err);
    return rc;
}

/* Fills out's steps from the measured pipeline. */
static int fill_plan(const kp_pt_env *env, const kp_pt_cfg *c, const kp_pt_cfg *first,
                     const kp_pt_run *run, const kp_pt_corr *corr, char why[][256],
                     const kp_pt_tot *tot, int *corrected, kp_plan *out, kp_error *err) {
    out->steps = calloc(KP_PT_MAX_STEPS, sizeof *out->steps);
    if (!out->steps) return kp_error_set(err, KP_ENOMEM, "out of memory");
    double pb = env->base_bytes, pl = env->base_lat, pd = 0;
    for (size_t i = 0; i < c->n; i++) {
        kp_plan_step *s = &out->steps[out->n++];
        s->pass_id = strdup(c->pass[i]->id);
        s->params = strdup(c->params[i]);
        if (!s->pass_id || !s->params) return kp_error_set(err, KP_ENOMEM, "out of memory");
        s->enabled = c->on[i];
        s->corr_size = s->corr_lat = 1;
        const kp_pt_step *st = &run->st[i];
        s->est.size_ratio = s->est.latency_ratio = 1;
        char r[256];
        if (st->ran) {
            s->est.size_ratio = pb > 0 ? st->bytes / pb : 1;
            s->est.latency_ratio = pl > 0 ? st->lat / pl : 1;
            s->est.acc_drop = st->cum_drop - pd; /* negative: won accuracy back (reconstruct) */
            s->est.confidence = 0.9;
            s->est.applicable = 1;
            pb = st->bytes;
            pl = st->lat;
            pd = st->cum_drop;
            if (corr[i].n) {
                s->corrected = 1;
                s->corr_size = corr[i].size;
                s->corr_lat = corr[i].lat;
                s->corr_drop = corr[i].drop;
                s->est.size_ratio *= corr[i].size;
                s->est.latency_ratio *= corr[i].lat;
                s->est.acc_drop += corr[i].drop;
                (*corrected)++;
            }
            if (strcmp(first->params[i], c->params[i]))
                snprintf(r, sizeof r, "backed off from %.40s: %.190s", first->params[i], why[i]);
            else
                snprintf(r, sizeof r, "%.200s (measured in the pipeline)", why[i]);
        } else if (st->failed) {
            snprintf(r, sizeof r, "%.250s", st->msg);
        } else if (first->on[i] && is_recon(c->pass[i])) {
            snprintf(r, sizeof r, "off: no lossy step before it to refit");
        } else if (first->on[i]) {
            snprintf(r, sizeof r,
                     "off: the whole pipeline broke the %.2f-point budget with it; %.150s",
                     env->p->max_drop, why[i]);
        } else {
            snprintf(r, sizeof r, "%.250s", why[i]);
        }
        snprintf(s->est.reason, sizeof s->est.reason, "%s", r);
    }
    kp_estimate *t = &out->total;
    memset(t, 0, sizeof *t);
    t->size_ratio = tot->size;
    t->latency_ratio = tot->lat;
    t->acc_drop = tot->drop;
    t->confidence = 0.9;
    t->applicable = 1;
    snprintf(t->reason, sizeof t->reason,
             "%.2fx smaller, %.2fx the latency, %+.2f ± %.2f points of top-1 (the whole plan "
             "measured on %zu samples)",
             tot->size > 0 ? 1 / tot->size : 0, tot->lat, -tot->drop, tot->se, env->n_measure);
    out->info.total = *t;
    out->info.acc_se = tot->se;
    out->info.trial_samples = (int64_t)env->n_measure;
    out->info.meets = tot->meets;
    return 0;
}

int kp_pt_plan_alt(const kp_pt_env *env, const kp_pass *const *passes, size_t n_passes,
                   const kp_pt_alt *al, double deadline, kp_plan *out, kp_plan_info *tried,
                   size_t *final_idx, double *excess, int *corrected, kp_error *err) {
    const kp_project *p = env->p;
    memset(out, 0, sizeof *out);
    kp_pt_cfg cfg = {0};
    char why[KP_PT_MAX_STEPS][256];
    kp_pt_corr corr[KP_PT_MAX_STEPS];
    for (size_t i = 0; i < al->n && cfg.n < KP_PT_MAX_STEPS; i++) {
        const kp_pass *pass = kp_pass_find(passes, n_passes, al->c[i].id);
        if (!pass) continue; /* not registered in this build */
        if (pass->needs_data && !env->fit) continue;
        size_t k = cfg.n++;
        cfg.pass[k] = pass;
        snprintf(cfg.params[k], sizeof cfg.params[k], "%s", al->c[i].params);
        cfg.on[k] = 1;
        corr[k] = kp_pt_learn(p, pass->id);
        /* On the host a trial's latency is itself a measurement on this machine: a factor
         * learned from one earlier run's equally noisy timings would only add its noise. */
        if (env->host) corr[k].lat = 1;
        kp_estimate est;
        kp_error pe = {0};
        int rc = kp_pt_cancelled(env, err);
        if (rc) return rc;
        rc = kp_pt_pass_estimate(p, env->orig, env->t, pass, cfg.params[k], env->fit, env->cancel,
                                 &est, &pe);
        if (rc && env->cancel && *env->cancel) return kp_pt_cancelled(env, err);
        if (rc == KP_ENOMEM || rc == KP_ECANCELLED) {
            *err = pe;
            return rc;
        }
        if (rc) {
            cfg.on[k] = 0;
            snprintf(why[k], sizeof why[k], "%.250s", pe.msg);
        } else if (!est.applicable) {
            cfg.on[k] = 0;
            snprintf(why[k], sizeof why[k], "%.250s", est.reason);
        } else {
            snprintf(why[k], sizeof why[k], "%.100s: %.150s", al->c[i].why, est.reason);
        }
    }
    fix_recon(&cfg);
    kp_pt_cfg first = cfg;
    kp_pt_run run = {0};
    kp_pt_tot tot;
    int rc = measure(env, &run, &cfg, corr, &tot, tried, err);
    size_t idx = tried->n_tried - 1;
    for (int iter = 0; !rc && !acc_ok(p, &tot) && iter < MAX_BACKOFF && kp_pt_now() < deadline;
         iter++) {
        kp_pt_cfg best_cfg = cfg;
        kp_pt_tot best = {0};
        size_t best_idx = 0;
        int have = 0, best_is_last = 0;
        /* From the last step back: each trial re-runs only from the step it changes. */
        for (size_t i = cfg.n; i-- > 0 && !rc;) {
            if ((rc = kp_pt_cancelled(env, err))) break;
            if (!cfg.on[i] || cfg.pass[i]->lossless || is_recon(cfg.pass[i])) continue;
            kp_pt_cfg c2 = cfg;
            if (!weaken(cfg.pass[i]->id, c2.params[i], sizeof c2.params[i])) c2.on[i] = 0;
            fix_recon(&c2);
            kp_pt_tot t2;
            rc = measure(env, &run, &c2, corr, &t2, tried, err);
            if (rc) break;
            if (!have || better_move(p, &t2, &best)) {
                have = 1;
                best = t2;
                best_cfg = c2;
                best_idx = tried->n_tried - 1;
                best_is_last = 1;
            } else {
                best_is_last = 0;
            }
            if (kp_pt_now() > deadline) break;
        }
        if (rc || !have) break;
        cfg = best_cfg;
        tot = best;
        idx = best_idx;
        /* The run holds the last pipeline measured; bring it back to the chosen one. */
        if (!best_is_last && (rc = kp_pt_measure(env, &run, &cfg, err))) break;
    }
    if (!rc) {
        /* Host latency: the chosen pipeline and the original again, interleaved. */
        int last = kp_pt_last(&run);
        double lr = 0;
        if (last >= 0 && env->host) rc = kp_pt_latency_ratio(env, run.st[last].after, &lr, err);
        if (!rc && lr > 0) {
            rc = totals(env, &run, corr, lr, &tot, err);
            if (!rc) {
                tried->tried[idx].latency_ratio = tot.lat;
                tried->tried[idx].meets = tot.meets;
            }
        }
    }
    if (!rc) rc = fill_plan(env, &cfg, &first, &run, corr, why, &tot, corrected, out, err);
    if (!rc && tot.miss[0] && !(out->info.note = strdup(tot.miss)))
        rc = kp_error_set(err, KP_ENOMEM, "out of memory");
    *final_idx = idx;
    *excess = tot.excess;
    kp_pt_run_clear(&run);
    return rc;
}
