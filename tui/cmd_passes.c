/* `kompress passes [--json]`: every registered pass with its parameter table. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/registry.h"
#include "tui/cli.h"
#include "tui/cli_opts.h"

static const char *type_name(kp_param_type t) {
    static const char *const names[KP_PARAM_TYPE_COUNT] = {
        [KP_PARAM_INT] = "int",   [KP_PARAM_FLOAT] = "float",   [KP_PARAM_BOOL] = "bool",
        [KP_PARAM_ENUM] = "enum", [KP_PARAM_STRING] = "string",
    };
    _Static_assert(KP_PARAM_TYPE_COUNT == 5, "one name per parameter type");
    return (unsigned)t < KP_PARAM_TYPE_COUNT ? names[t] : "?";
}

static void range_text(const kp_param_def *d, char *buf, size_t cap) {
    switch (d->type) {
    case KP_PARAM_INT: snprintf(buf, cap, "%.0f..%.0f", d->min, d->max); break;
    case KP_PARAM_FLOAT: snprintf(buf, cap, "%g..%g", d->min, d->max); break;
    case KP_PARAM_BOOL: snprintf(buf, cap, "true|false"); break;
    case KP_PARAM_ENUM: snprintf(buf, cap, "%s", d->choices ? d->choices : ""); break;
    default: snprintf(buf, cap, "text"); break;
    }
}

static int print_json(const kp_pass *const *all, size_t n) {
    cJSON *root = cJSON_CreateArray();
    if (!root) return kp_cli_failf("passes", 1, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const kp_pass *p = all[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(root, o);
        cJSON_AddStringToObject(o, "id", p->id);
        cJSON_AddStringToObject(o, "title", p->title);
        cJSON_AddStringToObject(o, "summary", p->summary);
        cJSON_AddBoolToObject(o, "lossless", p->lossless);
        cJSON_AddBoolToObject(o, "needs_data", p->needs_data);
        cJSON *ps = cJSON_AddArrayToObject(o, "params");
        for (size_t k = 0; k < p->n_params; k++) {
            const kp_param_def *d = &p->params[k];
            cJSON *q = cJSON_CreateObject();
            cJSON_AddItemToArray(ps, q);
            cJSON_AddStringToObject(q, "name", d->name);
            cJSON_AddStringToObject(q, "type", type_name(d->type));
            cJSON_AddStringToObject(q, "default", d->dflt);
            if (d->type == KP_PARAM_INT || d->type == KP_PARAM_FLOAT) {
                cJSON_AddNumberToObject(q, "min", d->min);
                cJSON_AddNumberToObject(q, "max", d->max);
            }
            if (d->type == KP_PARAM_ENUM) {
                cJSON *c = cJSON_AddArrayToObject(q, "choices");
                const char *s = d->choices ? d->choices : "";
                while (*s) {
                    const char *bar = strchr(s, '|');
                    size_t len = bar ? (size_t)(bar - s) : strlen(s);
                    char tmp[128];
                    if (len >= sizeof tmp) len = sizeof tmp - 1;
                    memcpy(tmp, s, len);
                    tmp[len] = 0;
                    cJSON_AddItemToArray(c, cJSON_CreateString(tmp));
                    s = bar ? bar + 1 : s + len;
                }
            }
            cJSON_AddStringToObject(q, "help", d->help ? d->help : "");
        }
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return kp_cli_failf("passes", 1, "out of memory");
    printf("%s\n", text);
    free(text);
    return 0;
}

static void print_text(const kp_pass *const *all, size_t n) {
    if (!n) printf("no passes registered\n");
    for (size_t i = 0; i < n; i++) {
        const kp_pass *p = all[i];
        printf("%s%s — %s%s%s\n  %s\n", i ? "\n" : "", p->id, p->title,
               p->lossless ? " [lossless]" : "", p->needs_data ? " [needs --data]" : "",
               p->summary);
        if (!p->n_params) {
            printf("  (no parameters)\n");
            continue;
        }
        printf("  %-16s %-7s %-12s %-26s %s\n", "parameter", "type", "default", "allowed",
               "meaning");
        for (size_t k = 0; k < p->n_params; k++) {
            const kp_param_def *d = &p->params[k];
            char range[128];
            range_text(d, range, sizeof range);
            printf("  %-16s %-7s %-12s %-26s %s\n", d->name, type_name(d->type), d->dflt, range,
                   d->help ? d->help : "");
        }
    }
}

static void usage(FILE *f) {
    fprintf(f, "usage: kompress passes [--json]\n"
               "Lists every compression pass with its parameters. Use them as\n"
               "  kompress compress MODEL -o OUT --pass ID[:name=value,...]\n");
}

static int run(int argc, char **argv) {
    int json = 0;
    const kp_opt opts[] = {{"json", 'j', KP_OPT_FLAG, &json, 0, 0, NULL}, KP_OPT_END};
    size_t n_pos;
    int st = kp_cli_parse("passes", argc, argv, opts, usage, NULL, 0, 0, NULL, &n_pos);
    if (st >= 0) return st;
    size_t n;
    const kp_pass *const *all = kp_passes(&n);
    if (json) return print_json(all, n);
    print_text(all, n);
    return 0;
}

const kp_cmd kp_cmd_passes = {"passes", "[--json]", "list compression passes and their parameters",
                              run};
