/* The pass contract. A pass is one const kp_pass descriptor (passes/<id>.c) listed in
 * passes/registry.c. Its parameter table is the single source for CLI flags
 * (--pass id:k=v,...), TUI forms, validation and project.json. core never names a concrete
 * pass: the planner and the job runner receive the registry as (const kp_pass *const *, n). */
#ifndef KP_PASS_H
#define KP_PASS_H

#include <stddef.h>
#include <stdint.h>

#include "core/graph.h"

struct kp_target; /* core/target.h */

typedef enum kp_param_type {
    KP_PARAM_INT = 0,
    KP_PARAM_FLOAT = 1,
    KP_PARAM_BOOL = 2,
    KP_PARAM_ENUM = 3,   /* one of `choices` ("minmax|percentile|entropy") */
    KP_PARAM_STRING = 4, /* free text, e.g. a layer list "conv1,fc2" */
    KP_PARAM_TYPE_COUNT
} kp_param_type;

typedef struct kp_param_def {
    const char *name;
    kp_param_type type;
    const char *dflt;    /* default as text, never NULL */
    double min, max;     /* INT/FLOAT range, inclusive */
    const char *choices; /* ENUM: '|'-separated */
    const char *help;    /* one line */
} kp_param_def;

/* Parameter values as validated text, one per def, in def order. */
typedef struct kp_params {
    size_t n;
    const kp_param_def *defs; /* borrowed from the pass */
    char **values;            /* owned */
} kp_params;

/* Estimated effect on a model for a target. Ratios are after/before (0.25 = 4x smaller). */
typedef struct kp_estimate {
    double size_ratio;    /* file bytes */
    double latency_ratio; /* on the target */
    double acc_drop;      /* expected top-1 drop in percentage points (>= 0 = worse) */
    double confidence;    /* 0..1: how much the numbers are worth (measured > guessed) */
    int applicable;       /* 0 when the pass would not change this model / target */
    char reason[256];     /* one line a student understands */
} kp_estimate;

/* Calibration data: random access to batches, so passes can make several sweeps while memory
 * stays bounded by one batch. Tensors returned are borrowed until the next get(). */
typedef struct kp_calib {
    size_t n_batches;
    size_t n_samples;
    void *user;
    /* inputs: one tensor per model input (graph order); labels: batch entries or NULL. */
    int (*get)(struct kp_calib *c, size_t batch, const kp_tensor *const **inputs,
               const int64_t **labels, size_t *batch_size, kp_error *err);
} kp_calib;

typedef struct kp_pass_ctx {
    const kp_calib *calib;          /* NULL when no data was given */
    const kp_model *reference;      /* the model before this pass (borrowed) */
    const struct kp_target *target; /* NULL = this machine */
    const volatile int *cancel;     /* checked inside long loops */
    uint64_t seed;
    int threads;
    double acc_budget; /* max top-1 drop in points the user accepts */
    void *user;
    void (*progress)(void *user, double fraction, const char *what);
    /* A note for the report: "conv3: left unchanged, grouped conv not supported". */
    void (*note)(void *user, const char *msg);
    /* The user's model before the first pass of the pipeline (borrowed; NULL = use
     * `reference`). reconstruct fits layers to this model's outputs. */
    const kp_model *original;
} kp_pass_ctx;

typedef struct kp_pass {
    const char *id;    /* "quant-static" */
    const char *title; /* "Static int8 quantization" */
    const char *summary;
    int lossless;
    int needs_data; /* 1: apply() fails without ctx->calib */
    size_t n_params;
    const kp_param_def *params;
    /* Cheap prediction from model statistics (may run the executor briefly on ctx->calib). */
    int (*estimate)(const kp_model *m, const kp_params *p, const kp_pass_ctx *ctx, kp_estimate *out,
                    kp_error *err);
    /* Rewrites m in place. On error or cancel the caller discards m (it works on a copy), so a
     * failed pass never reaches the user's model. */
    int (*apply)(kp_model *m, const kp_params *p, const kp_pass_ctx *ctx, kp_error *err);
} kp_pass;

/* Parses "k=v,k=v" against the pass's table (defaults for the rest); validates types, ranges,
 * choices; unknown keys are errors naming the valid ones. Fills *out (caller frees). */
int kp_params_parse(const kp_pass *pass, const char *text, kp_params *out, kp_error *err);
int kp_params_defaults(const kp_pass *pass, kp_params *out, kp_error *err);
int kp_params_set(kp_params *p, const char *name, const char *value, kp_error *err);
void kp_params_free(kp_params *p);
int kp_params_copy(kp_params *dst, const kp_params *src);
/* Typed getters; the name must be in the table (an unknown name is our bug: asserts). */
int64_t kp_params_int(const kp_params *p, const char *name);
double kp_params_float(const kp_params *p, const char *name);
int kp_params_bool(const kp_params *p, const char *name);
const char *kp_params_str(const kp_params *p, const char *name);
/* "bits=8,method=entropy" with every value; returns owned string. */
char *kp_params_format(const kp_params *p);

const kp_pass *kp_pass_find(const kp_pass *const *passes, size_t n, const char *id);
/* Parses "id" or "id:k=v,k=v" (the CLI's --pass argument): finds the pass (unknown id: error
 * listing the valid ids) and parses its parameters. On success *pass is borrowed from passes
 * and *params is owned by the caller (kp_params_free). */
int kp_pass_spec_parse(const kp_pass *const *passes, size_t n, const char *spec,
                       const kp_pass **pass, kp_params *params, kp_error *err);

#endif
