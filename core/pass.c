/* Pass parameters: parsing "k=v,k=v" against a pass's table, validation, typed access,
 * formatting, and pass lookup. Values are kept as validated, normalized text (booleans as
 * "true"/"false") so they round-trip through project.json and the CLI unchanged. */
#include "core/pass.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *dup_str(const char *s) {
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

/* "a, b, c" listing of the table's names (into buf). */
static void list_names(const kp_param_def *defs, size_t n, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = 0;
    for (size_t i = 0; i < n && used < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", defs[i].name);
        if (w < 0) break;
        used += (size_t)w;
    }
    if (!n) snprintf(buf, cap, "(this pass has no parameters)");
}

static int choice_ok(const char *choices, const char *v) {
    size_t len = strlen(v);
    const char *p = choices;
    while (p && *p) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && !strncmp(p, v, n)) return 1;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

static const char *bool_norm(const char *v) {
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i])) return "true";
        if (!strcasecmp(v, no[i])) return "false";
    }
    return NULL;
}

static void fmt_num(char *buf, size_t cap, double v, kp_param_type t) {
    if (t == KP_PARAM_INT)
        snprintf(buf, cap, "%.0f", v);
    else
        snprintf(buf, cap, "%g", v);
}

/* Validates value against def; on success returns an owned normalized copy. */
static char *validate(const char *pass_id, const kp_param_def *d, const char *v, kp_error *err) {
    char lo[32], hi[32];
    fmt_num(lo, sizeof lo, d->min, d->type);
    fmt_num(hi, sizeof hi, d->max, d->type);
    switch (d->type) {
    case KP_PARAM_INT: {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (!*v || *end || errno) {
            kp_error_set(err, KP_EINVAL, "%s: %s=%s is not an integer (allowed %s..%s)", pass_id,
                         d->name, v, lo, hi);
            return NULL;
        }
        if ((double)x < d->min || (double)x > d->max) {
            kp_error_set(err, KP_ERANGE, "%s: %s=%s is out of range (allowed %s..%s)", pass_id,
                         d->name, v, lo, hi);
            return NULL;
        }
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", x);
        return dup_str(buf);
    }
    case KP_PARAM_FLOAT: {
        char *end;
        errno = 0;
        double x = strtod(v, &end);
        if (!*v || *end || errno || !isfinite(x)) {
            kp_error_set(err, KP_EINVAL, "%s: %s=%s is not a number (allowed %s..%s)", pass_id,
                         d->name, v, lo, hi);
            return NULL;
        }
        if (x < d->min || x > d->max) {
            kp_error_set(err, KP_ERANGE, "%s: %s=%s is out of range (allowed %s..%s)", pass_id,
                         d->name, v, lo, hi);
            return NULL;
        }
        return dup_str(v);
    }
    case KP_PARAM_BOOL: {
        const char *b = bool_norm(v);
        if (!b) {
            kp_error_set(err, KP_EINVAL, "%s: %s=%s is not a boolean (use true or false)", pass_id,
                         d->name, v);
            return NULL;
        }
        return dup_str(b);
    }
    case KP_PARAM_ENUM:
        if (!choice_ok(d->choices, v)) {
            kp_error_set(err, KP_EINVAL, "%s: %s=%s is not one of %s", pass_id, d->name, v,
                         d->choices ? d->choices : "(none)");
            return NULL;
        }
        return dup_str(v);
    case KP_PARAM_STRING: return dup_str(v);
    default:
        kp_error_set(err, KP_EINVAL, "%s: parameter %s has an unknown type", pass_id, d->name);
        return NULL;
    }
}

static size_t find_def(const kp_params *p, const char *name) {
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->defs[i].name, name)) return i;
    return (size_t)-1;
}

void kp_params_free(kp_params *p) {
    if (!p) return;
    if (p->values)
        for (size_t i = 0; i < p->n; i++) free(p->values[i]);
    free(p->values);
    p->values = NULL;
    p->n = 0;
    p->defs = NULL;
}

int kp_params_defaults(const kp_pass *pass, kp_params *out, kp_error *err) {
    memset(out, 0, sizeof *out);
    if (!pass) return kp_error_set(err, KP_EINVAL, "no pass given");
    out->defs = pass->params;
    out->values = calloc(pass->n_params ? pass->n_params : 1, sizeof *out->values);
    if (!out->values) return kp_error_set(err, KP_ENOMEM, "out of memory");
    out->n = pass->n_params;
    for (size_t i = 0; i < pass->n_params; i++) {
        /* Defaults go through validation too: a bad default is our bug, reported not hidden. */
        out->values[i] = validate(pass->id, &pass->params[i], pass->params[i].dflt, err);
        if (!out->values[i]) {
            int code = err ? err->code : KP_EINVAL;
            kp_params_free(out);
            return code ? code : KP_EINVAL;
        }
    }
    return 0;
}

/* Set without knowing the pass id (used by kp_params_set); id only feeds messages. */
static int set_named(kp_params *p, const char *pass_id, const char *name, const char *value,
                     kp_error *err) {
    size_t i = find_def(p, name);
    if (i == (size_t)-1) {
        char names[512];
        list_names(p->defs, p->n, names, sizeof names);
        return kp_error_set(err, KP_ENOTFOUND, "%s: unknown parameter '%s'; valid: %s", pass_id,
                            name, names);
    }
    char *v = validate(pass_id, &p->defs[i], value, err);
    if (!v) return err && err->code ? err->code : KP_EINVAL;
    free(p->values[i]);
    p->values[i] = v;
    return 0;
}

int kp_params_set(kp_params *p, const char *name, const char *value, kp_error *err) {
    if (!p || !name || !value) return kp_error_set(err, KP_EINVAL, "no parameter given");
    return set_named(p, "pass", name, value, err);
}

static void trim(char *s) {
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    size_t k = 0;
    while (s[k] && isspace((unsigned char)s[k])) k++;
    if (k) memmove(s, s + k, n - k + 1);
}

/* "k=v,k=v". A segment without '=' continues the previous STRING value ("layers=a,b,c"). */
int kp_params_parse(const kp_pass *pass, const char *text, kp_params *out, kp_error *err) {
    int rc = kp_params_defaults(pass, out, err);
    if (rc) return rc;
    if (!text || !*text) return 0;
    char *buf = dup_str(text);
    if (!buf) {
        kp_params_free(out);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    size_t last = (size_t)-1; /* index of the last STRING param set, for continuation */
    char *save = NULL;
    for (char *seg = strtok_r(buf, ",", &save); seg; seg = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(seg, '=');
        if (!eq) {
            trim(seg);
            if (!*seg) continue;
            if (last == (size_t)-1) {
                char names[512];
                list_names(pass->params, pass->n_params, names, sizeof names);
                rc = kp_error_set(err, KP_EINVAL,
                                  "%s: '%s' is not of the form name=value; parameters: %s",
                                  pass->id, seg, names);
                goto fail;
            }
            size_t a = strlen(out->values[last]), b = strlen(seg);
            char *joined = malloc(a + b + 2);
            if (!joined) {
                rc = kp_error_set(err, KP_ENOMEM, "out of memory");
                goto fail;
            }
            memcpy(joined, out->values[last], a);
            joined[a] = ',';
            memcpy(joined + a + 1, seg, b + 1);
            free(out->values[last]);
            out->values[last] = joined;
            continue;
        }
        *eq = 0;
        char *k = seg, *v = eq + 1;
        trim(k);
        trim(v);
        rc = set_named(out, pass->id, k, v, err);
        if (rc) goto fail;
        size_t i = find_def(out, k);
        last = out->defs[i].type == KP_PARAM_STRING ? i : (size_t)-1;
    }
    free(buf);
    return 0;
fail:
    free(buf);
    kp_params_free(out);
    return rc;
}

int kp_params_copy(kp_params *dst, const kp_params *src) {
    memset(dst, 0, sizeof *dst);
    dst->values = calloc(src->n ? src->n : 1, sizeof *dst->values);
    if (!dst->values) return KP_ENOMEM;
    dst->defs = src->defs;
    dst->n = src->n;
    for (size_t i = 0; i < src->n; i++) {
        dst->values[i] = dup_str(src->values[i] ? src->values[i] : "");
        if (!dst->values[i]) {
            kp_params_free(dst);
            return KP_ENOMEM;
        }
    }
    return 0;
}

static const char *value_of(const kp_params *p, const char *name) {
    size_t i = find_def(p, name);
    assert(i != (size_t)-1 && "parameter name not in the pass's table");
    if (i == (size_t)-1) return "";
    return p->values[i];
}

int64_t kp_params_int(const kp_params *p, const char *name) {
    return strtoll(value_of(p, name), NULL, 10);
}

double kp_params_float(const kp_params *p, const char *name) {
    return strtod(value_of(p, name), NULL);
}

int kp_params_bool(const kp_params *p, const char *name) {
    return !strcmp(value_of(p, name), "true");
}

const char *kp_params_str(const kp_params *p, const char *name) {
    return value_of(p, name);
}

char *kp_params_format(const kp_params *p) {
    size_t cap = 1;
    for (size_t i = 0; i < p->n; i++) cap += strlen(p->defs[i].name) + strlen(p->values[i]) + 2;
    char *s = malloc(cap);
    if (!s) return NULL;
    size_t used = 0;
    s[0] = 0;
    for (size_t i = 0; i < p->n; i++)
        used += (size_t)snprintf(s + used, cap - used, "%s%s=%s", i ? "," : "", p->defs[i].name,
                                 p->values[i]);
    return s;
}

const kp_pass *kp_pass_find(const kp_pass *const *passes, size_t n, const char *id) {
    if (!id) return NULL;
    for (size_t i = 0; i < n; i++)
        if (passes[i] && !strcmp(passes[i]->id, id)) return passes[i];
    return NULL;
}

int kp_pass_spec_parse(const kp_pass *const *passes, size_t n, const char *spec,
                       const kp_pass **pass, kp_params *params, kp_error *err) {
    *pass = NULL;
    memset(params, 0, sizeof *params);
    if (!spec || !*spec) return kp_error_set(err, KP_EINVAL, "empty pass specification");
    const char *colon = strchr(spec, ':');
    size_t idlen = colon ? (size_t)(colon - spec) : strlen(spec);
    char id[128];
    if (idlen >= sizeof id) idlen = sizeof id - 1;
    memcpy(id, spec, idlen);
    id[idlen] = 0;
    const kp_pass *p = kp_pass_find(passes, n, id);
    if (!p) {
        char names[1024];
        size_t used = 0;
        names[0] = 0;
        for (size_t i = 0; i < n && used < sizeof names; i++) {
            int w =
                snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", passes[i]->id);
            if (w < 0) break;
            used += (size_t)w;
        }
        return kp_error_set(err, KP_ENOTFOUND, "unknown pass '%s'; valid passes: %s", id,
                            n ? names : "(none registered)");
    }
    int rc = kp_params_parse(p, colon ? colon + 1 : "", params, err);
    if (rc) return rc;
    *pass = p;
    return 0;
}
