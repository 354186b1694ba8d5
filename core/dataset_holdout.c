/* A project's samples: the calibration subset passes fit on, the planner's trial samples and
 * the holdout models are scored on. One place for `plan`, `run` and `compress --project`, so
 * they calibrate and score on the same samples. */
#include <stdio.h>

#include "core/dataset.h"

size_t kp_dataset_project_calib_count(const kp_project *p, size_t total) {
    size_t n = p->data.calib_samples > 0 ? (size_t)p->data.calib_samples : 512;
    return n > total / 2 ? total / 2 : n;
}

size_t kp_dataset_project_trial_count(const kp_project *p, size_t total, size_t n_trial) {
    size_t left = total - kp_dataset_project_calib_count(p, total);
    return n_trial > left / 2 ? left / 2 : n_trial;
}

int kp_dataset_project_calib(kp_dataset *ds, const kp_project *p, kp_calib **out, kp_error *err) {
    *out = NULL;
    size_t total = kp_dataset_n_samples(ds), n = kp_dataset_project_calib_count(p, total);
    if (!n)
        return kp_error_set(err, KP_ERANGE,
                            "%zu sample(s) are too few to both calibrate and score on the others",
                            total);
    return kp_dataset_calib_new(ds, n, p->seed, out, err);
}

int kp_dataset_project_trial(kp_dataset *ds, const kp_project *p, size_t n_trial, kp_calib **out,
                             kp_error *err) {
    *out = NULL;
    size_t total = kp_dataset_n_samples(ds), n_cal = kp_dataset_project_calib_count(p, total);
    size_t n = kp_dataset_project_trial_count(p, total, n_trial);
    if (!n || !n_cal) return 0;
    kp_calib *cal = NULL, *both = NULL;
    int rc = kp_dataset_calib_new(ds, n_cal, p->seed, &cal, err);
    if (!rc) rc = kp_dataset_calib_new(ds, n_cal + n, p->seed, &both, err);
    if (!rc) rc = kp_dataset_calib_minus_new(ds, both, cal, out, err);
    kp_dataset_calib_free(both);
    kp_dataset_calib_free(cal);
    return rc;
}

int kp_dataset_project_holdout(kp_dataset *ds, const kp_project *p, const kp_calib *calib,
                               kp_calib **out, kp_holdout_info *info, kp_error *err) {
    *out = NULL;
    kp_calib *rest = NULL, *trial = NULL;
    int rc = kp_dataset_holdout_new(ds, calib, &rest, err);
    if (!rc && p && p->plan_info.trial_samples > 0)
        rc = kp_dataset_project_trial(ds, p, (size_t)p->plan_info.trial_samples, &trial, err);
    if (!rc && trial) {
        rc = kp_dataset_calib_minus_new(ds, rest, trial, out, err);
        if (rc == KP_ERANGE)
            kp_error_set(err, KP_ERANGE,
                         "no sample is left to score: the %zu calibration samples and the %zu "
                         "the planner measured its trials on take all %zu",
                         calib->n_samples, trial->n_samples, kp_dataset_n_samples(ds));
    } else if (!rc) {
        *out = rest;
        rest = NULL;
    }
    if (!rc && info) {
        info->total = kp_dataset_n_samples(ds);
        info->calibrated = calib->n_samples;
        /* the trial samples left out here (all of them when calib is the project's subset) */
        info->trial = trial ? rest->n_samples - (*out)->n_samples : 0;
        info->scored = (*out)->n_samples;
        info->hash = kp_dataset_calib_hash(*out);
    }
    kp_dataset_calib_free(trial);
    kp_dataset_calib_free(rest);
    return rc;
}

const char *kp_dataset_holdout_describe(const kp_holdout_info *h, char *buf, size_t cap) {
    int n = snprintf(buf, cap,
                     "scored on the holdout: %zu of %zu samples (not the %zu used for "
                     "calibration",
                     h->scored, h->total, h->calibrated);
    if (n >= 0 && (size_t)n < cap && h->trial)
        n += snprintf(buf + n, cap - (size_t)n, " nor the %zu the planner measured its trials on",
                      h->trial);
    if (n >= 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, "; holdout %016llx)", (unsigned long long)h->hash);
    return buf;
}
