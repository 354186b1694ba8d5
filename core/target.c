/* Target profiles: built-ins, host detection, user JSON profiles. */
#include "core/target.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/onnx_io.h"
#include "core/target_builtin.h"

static const char *const class_names[KP_TARGET_CLASS_COUNT] = {
    [KP_TARGET_CPU] = "CPU",
    [KP_TARGET_GPU] = "GPU",
    [KP_TARGET_MCU] = "MCU",
    [KP_TARGET_EDGE] = "edge",
};
_Static_assert(sizeof class_names / sizeof *class_names == KP_TARGET_CLASS_COUNT,
               "one name per target class");

const char *kp_target_class_name(kp_target_class c) {
    return (unsigned)c < KP_TARGET_CLASS_COUNT ? class_names[c] : "?";
}

static int has_flag(const char *flags, const char *f) {
    size_t n = strlen(f);
    for (const char *p = flags; (p = strstr(p, f)); p += n)
        if ((p == flags || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || p[n] == 0)) return 1;
    return 0;
}

int kp_target_detect_host(kp_target *t, kp_error *err) {
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "host");
    t->cls = KP_TARGET_CPU;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) cores = 1;
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psz > 0) t->ram_bytes = (uint64_t)pages * (uint64_t)psz;
    char model[128] = "unknown CPU", line[4096];
    double mhz = 0;
    int avx2 = 0, fma = 0, avx512 = 0, vnni = 0, neon = 0, dotprod = 0, fp16 = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        while (fgets(line, sizeof line, f)) {
            char *colon = strchr(line, ':');
            if (!colon) continue;
            const char *val = colon + 1 + (colon[1] == ' ');
            if (!strncmp(line, "model name", 10) && !strcmp(model, "unknown CPU")) {
                snprintf(model, sizeof model, "%s", val);
                model[strcspn(model, "\n")] = 0;
            } else if (!strncmp(line, "cpu MHz", 7) && mhz == 0) {
                mhz = atof(val);
            } else if (!strncmp(line, "flags", 5) || !strncmp(line, "Features", 8)) {
                avx2 |= has_flag(val, "avx2");
                fma |= has_flag(val, "fma");
                avx512 |= has_flag(val, "avx512f");
                vnni |= has_flag(val, "avx512_vnni") || has_flag(val, "avx_vnni");
                neon |= has_flag(val, "asimd") || has_flag(val, "neon");
                dotprod |= has_flag(val, "asimddp");
                fp16 |= has_flag(val, "asimdhp");
            }
        }
        fclose(f);
    }
    if (mhz <= 0) mhz = 2000; /* stated in the source field below when guessed */
    /* fp32 FLOP per cycle per core: 2 FMA units x vector width x 2. */
    double flop_cycle = avx512 ? 64 : (avx2 && fma) ? 32 : neon ? 16 : 8;
    t->fp32_gflops = (double)cores * mhz * 1e-3 * flop_cycle;
    t->int8_gops = t->fp32_gflops * (vnni || dotprod ? 4 : 2);
    t->fp16_gflops = fp16 ? t->fp32_gflops * 2 : 0;
    t->mem_bw_gbs = 20; /* no portable way to read it; typical dual-channel DDR4 */
    t->power_w = 15.0 * (double)cores / 4.0;
    t->precisions = KP_PREC_FP32 | KP_PREC_INT8 | (fp16 ? KP_PREC_FP16 : 0);
    snprintf(t->isa, sizeof t->isa, "%s",
             vnni      ? (avx512 ? "avx512-vnni" : "avx-vnni")
             : avx512  ? "avx512"
             : avx2    ? "avx2"
             : dotprod ? "neon-dotprod"
             : neon    ? "neon"
                       : "scalar");
    t->u8s8_saturates = (avx2 || avx512) && !vnni;
    snprintf(t->name, sizeof t->name, "This machine (%.50s, %d cores)", model,
             (int)(cores % 10000));
    snprintf(t->source, sizeof t->source,
             "/proc/cpuinfo: %.0f MHz, %s; bandwidth and power are typical values", mhz, t->isa);
    (void)err;
    return 0;
}

/* ---- user profiles ----------------------------------------------------------------------- */

static int json_num(const cJSON *o, const char *key, double *out, int required, double lo,
                    double hi, const char *path, kp_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        if (required)
            return kp_error_set(err, KP_EFORMAT, "%s: missing field \"%s\" (a number)", path, key);
        return 0;
    }
    if (!cJSON_IsNumber(v))
        return kp_error_set(err, KP_EFORMAT, "%s: field \"%s\" must be a number", path, key);
    if (v->valuedouble < lo || v->valuedouble > hi)
        return kp_error_set(err, KP_EFORMAT, "%s: field \"%s\" = %g is outside %g..%g", path, key,
                            v->valuedouble, lo, hi);
    *out = v->valuedouble;
    return 0;
}

static int json_str(const cJSON *o, const char *key, char *dst, size_t cap, int required,
                    const char *path, kp_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) {
        if (required)
            return kp_error_set(err, KP_EFORMAT, "%s: missing field \"%s\" (a string)", path, key);
        return 0;
    }
    if (!cJSON_IsString(v) || !v->valuestring)
        return kp_error_set(err, KP_EFORMAT, "%s: field \"%s\" must be a string", path, key);
    if (strlen(v->valuestring) >= cap)
        return kp_error_set(err, KP_EFORMAT, "%s: field \"%s\" is longer than %zu characters", path,
                            key, cap - 1);
    snprintf(dst, cap, "%s", v->valuestring);
    return 0;
}

int kp_target_parse(const char *json, const char *path, kp_target *t, kp_error *err) {
    memset(t, 0, sizeof *t);
    if (!path) path = "target";
    cJSON *o = cJSON_Parse(json);
    if (!o) return kp_error_set(err, KP_EFORMAT, "%s: not valid JSON", path);
    int rc = KP_EFORMAT;
    if (!cJSON_IsObject(o)) {
        kp_error_set(err, KP_EFORMAT, "%s: expected a JSON object", path);
        goto done;
    }
    char cls[16] = "";
    double ram_mb = 0, flash_mb = 0, sat = 0;
    if ((rc = json_str(o, "id", t->id, sizeof t->id, 1, path, err)) ||
        (rc = json_str(o, "name", t->name, sizeof t->name, 1, path, err)) ||
        (rc = json_str(o, "class", cls, sizeof cls, 1, path, err)) ||
        (rc = json_str(o, "isa", t->isa, sizeof t->isa, 0, path, err)) ||
        (rc = json_str(o, "source", t->source, sizeof t->source, 0, path, err)) ||
        (rc = json_num(o, "fp32_gflops", &t->fp32_gflops, 1, 1e-6, 1e7, path, err)) ||
        (rc = json_num(o, "fp16_gflops", &t->fp16_gflops, 0, 0, 1e7, path, err)) ||
        (rc = json_num(o, "int8_gops", &t->int8_gops, 0, 0, 1e8, path, err)) ||
        (rc = json_num(o, "mem_bw_gbs", &t->mem_bw_gbs, 1, 1e-6, 1e5, path, err)) ||
        (rc = json_num(o, "ram_mb", &ram_mb, 0, 0, 1e9, path, err)) ||
        (rc = json_num(o, "storage_mb", &flash_mb, 0, 0, 1e10, path, err)) ||
        (rc = json_num(o, "power_w", &t->power_w, 1, 1e-6, 1e5, path, err)) ||
        (rc = json_num(o, "u8s8_saturates", &sat, 0, 0, 1, path, err)))
        goto done;
    rc = KP_EFORMAT;
    for (const char *p = t->id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_')) {
            kp_error_set(err, KP_EFORMAT, "%s: id \"%s\" may use only a-z, 0-9, '-' and '_'", path,
                         t->id);
            goto done;
        }
    if (!t->id[0]) {
        kp_error_set(err, KP_EFORMAT, "%s: id is empty", path);
        goto done;
    }
    t->cls = KP_TARGET_CLASS_COUNT;
    for (int c = 0; c < KP_TARGET_CLASS_COUNT; c++)
        if (!strcasecmp(cls, class_names[c])) t->cls = (kp_target_class)c;
    if (t->cls == KP_TARGET_CLASS_COUNT) {
        kp_error_set(err, KP_EFORMAT, "%s: class \"%s\" is not one of cpu, gpu, mcu, edge", path,
                     cls);
        goto done;
    }
    t->ram_bytes = (uint64_t)(ram_mb * 1024 * 1024);
    t->storage_bytes = (uint64_t)(flash_mb * 1024 * 1024);
    t->u8s8_saturates = sat != 0;
    t->precisions = KP_PREC_FP32;
    const cJSON *prec = cJSON_GetObjectItemCaseSensitive(o, "precisions");
    if (prec) {
        if (!cJSON_IsArray(prec)) {
            kp_error_set(err, KP_EFORMAT,
                         "%s: \"precisions\" must be a list like "
                         "[\"fp32\", \"int8\"]",
                         path);
            goto done;
        }
        t->precisions = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, prec) {
            const char *s = cJSON_IsString(e) ? e->valuestring : "";
            if (!strcmp(s, "fp32"))
                t->precisions |= KP_PREC_FP32;
            else if (!strcmp(s, "fp16"))
                t->precisions |= KP_PREC_FP16;
            else if (!strcmp(s, "int8"))
                t->precisions |= KP_PREC_INT8;
            else {
                kp_error_set(err, KP_EFORMAT, "%s: precision \"%s\" is not fp32, fp16 or int8",
                             path, s);
                goto done;
            }
        }
    }
    if ((t->precisions & KP_PREC_FP16) && t->fp16_gflops <= 0) t->fp16_gflops = t->fp32_gflops;
    if ((t->precisions & KP_PREC_INT8) && t->int8_gops <= 0) t->int8_gops = t->fp32_gflops;
    snprintf(t->path, sizeof t->path, "%s", path);
    rc = 0;
done:
    cJSON_Delete(o);
    return rc;
}

static char *user_dir(void) {
    const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    char buf[1024];
    if (x && *x)
        snprintf(buf, sizeof buf, "%s/kompress/targets", x);
    else if (home && *home)
        snprintf(buf, sizeof buf, "%s/.config/kompress/targets", home);
    else
        return NULL;
    return strdup(buf);
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int kp_targets_load(const char *dir, kp_target **out, size_t *n, kp_error *err) {
    *out = NULL;
    *n = 0;
    size_t cap = kp_target_builtins_count + 1, cnt = 0;
    kp_target *v = malloc(cap * sizeof *v);
    char *owned_dir = dir ? NULL : user_dir();
    char **names = NULL;
    size_t n_names = 0;
    int rc = 0;
    if (!v) return kp_error_set(err, KP_ENOMEM, "out of memory");
    kp_target_detect_host(&v[cnt++], err);
    for (size_t i = 0; i < kp_target_builtins_count; i++) v[cnt++] = kp_target_builtins[i];
    if (!dir) dir = owned_dir;
    DIR *d = dir ? opendir(dir) : NULL;
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            size_t l = strlen(de->d_name);
            if (l < 6 || strcmp(de->d_name + l - 5, ".json") || de->d_name[0] == '.') continue;
            char **nn = realloc(names, (n_names + 1) * sizeof *names);
            if (!nn || !(nn[n_names] = strdup(de->d_name))) {
                if (nn) names = nn;
                closedir(d);
                rc = kp_error_set(err, KP_ENOMEM, "out of memory");
                goto done;
            }
            names = nn;
            n_names++;
        }
        closedir(d);
        qsort(names, n_names, sizeof *names, cmp_name); /* stable order on every machine */
    }
    for (size_t i = 0; i < n_names; i++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        uint8_t *buf = NULL;
        size_t len = 0;
        if ((rc = kp_read_file(path, 1 << 20, &buf, &len, err))) goto done;
        char *text = realloc(buf, len + 1);
        if (!text) {
            free(buf);
            rc = kp_error_set(err, KP_ENOMEM, "out of memory");
            goto done;
        }
        text[len] = 0;
        kp_target t;
        rc = kp_target_parse(text, path, &t, err);
        free(text);
        if (rc) goto done;
        for (size_t j = 0; j < cnt; j++)
            if (!strcmp(v[j].id, t.id)) {
                rc = kp_error_set(err, KP_EFORMAT, "%s: id \"%s\" is already used by %s", path,
                                  t.id, v[j].path[0] ? v[j].path : "a built-in profile");
                goto done;
            }
        if (cnt == cap) {
            kp_target *nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv) {
                rc = kp_error_set(err, KP_ENOMEM, "out of memory");
                goto done;
            }
            v = nv;
        }
        v[cnt++] = t;
    }
done:
    for (size_t i = 0; i < n_names; i++) free(names[i]);
    free(names);
    free(owned_dir);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *n = cnt;
    return 0;
}

const kp_target *kp_target_find(const kp_target *t, size_t n, const char *id) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i].id, id)) return &t[i];
    return NULL;
}
