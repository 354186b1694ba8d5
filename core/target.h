/* Hardware targets: built-in profiles (spec-sheet sources in core/target_builtin.c) plus user
 * JSON profiles from $XDG_CONFIG_HOME/kompress/targets/ (one .json each), and per-layer roofline
 * estimates of latency, RAM, flash and energy for a model on a target. */
#ifndef KP_TARGET_H
#define KP_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "core/graph.h"

typedef enum kp_target_class {
    KP_TARGET_CPU = 0,
    KP_TARGET_GPU = 1,
    KP_TARGET_MCU = 2,
    KP_TARGET_EDGE = 3,
    KP_TARGET_CLASS_COUNT
} kp_target_class;

enum { KP_PREC_FP32 = 1, KP_PREC_FP16 = 2, KP_PREC_INT8 = 4 };

typedef struct kp_target {
    char id[48];   /* "rpi4", "stm32h7", "host" */
    char name[96]; /* "Raspberry Pi 4 (Cortex-A72)" */
    kp_target_class cls;
    double fp32_gflops, fp16_gflops, int8_gops; /* sustained, all cores; 0 = not supported */
    double mem_bw_gbs;
    uint64_t ram_bytes;     /* 0 = no limit that matters */
    uint64_t storage_bytes; /* flash for MCUs; 0 = no limit */
    double power_w;         /* active power */
    unsigned precisions;    /* KP_PREC_* mask */
    char isa[64];           /* "avx2", "avx512-vnni", "neon-dotprod", "armv7e-m-dsp" */
    int u8s8_saturates;     /* x86 without VNNI: u8*s8 pairs saturate in vpmaddubsw */
    char source[200];       /* where the numbers come from */
    char path[512];         /* user profile file, "" for built-ins */
} kp_target;

const char *kp_target_class_name(kp_target_class c); /* "CPU", "GPU", "MCU", "edge" */

/* Built-ins + user profiles (dir NULL = $XDG_CONFIG_HOME/kompress/targets or
 * ~/.config/kompress/targets). Returns owned array. A broken user file is an error naming the
 * file and the field. */
int kp_targets_load(const char *dir, kp_target **out, size_t *n, kp_error *err);
const kp_target *kp_target_find(const kp_target *t, size_t n, const char *id);
/* Parses one user profile JSON text. */
int kp_target_parse(const char *json, const char *path, kp_target *out, kp_error *err);

typedef struct kp_target_estimate {
    double latency_s;     /* roofline over layers at the model's precisions */
    double energy_j;      /* power_w * latency_s */
    uint64_t ram_bytes;   /* weights that must sit in RAM + peak live activations */
    uint64_t flash_bytes; /* model bytes on storage */
    int fits_ram, fits_flash;
    double host_calibration; /* measured/roofline factor applied for the host, 1 if none */
    /* Activations whose size is unknown (no inferred shape): not counted, so ram_bytes is
     * then a lower bound and fits_ram judges only that bound. Run kp_infer_shapes first. */
    size_t unknown_values;
} kp_target_estimate;

/* Estimate for model m at batch 1. host_factor: measured/predicted latency ratio learned on
 * this machine (0 = none). */
int kp_target_estimate_model(const kp_target *t, const kp_model *m, double host_factor,
                             kp_target_estimate *out, kp_error *err);
/* Fixed cost of running one layer on a target of class c, seconds (kernel launch, a runtime's
 * layer loop), as the roofline above counts it. */
double kp_target_dispatch_s(kp_target_class c);
/* Elements of value `name` of g at batch 1 (a constant's, or from its value_info with symbolic
 * dims counted as 1); 0 when unknown. */
double kp_target_value_elems(kp_graph *g, const char *name);

#endif
