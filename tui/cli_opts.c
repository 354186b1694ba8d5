#include "tui/cli_opts.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tui/cli.h"

#define MAX_OPTS 64

/* getopt_long's value for entry i: its letter, or 256 + i for a long-only option. */
static int opt_val(const kp_opt *o, size_t i) {
    return o->letter ? o->letter : 256 + (int)i;
}

static int read_value(const char *cmd, const kp_opt *o, const char *arg) {
    char *end = NULL;
    kp_error err = {0};
    switch (o->type) {
    case KP_OPT_FLAG: *(int *)o->dest = 1; return 0;
    case KP_OPT_STR: *(const char **)o->dest = arg; return 0;
    case KP_OPT_LONG: {
        long long v = strtoll(arg, &end, 10);
        if (!*arg || *end || (double)v < o->min || (double)v > o->max)
            return kp_cli_failf(cmd, 2, "--%s: a whole number from %.0f to %.0f, not '%s'", o->name,
                                o->min, o->max, arg);
        *(long long *)o->dest = v;
        return 0;
    }
    case KP_OPT_DOUBLE: {
        double v = strtod(arg, &end);
        if ((!*arg || *end || !isfinite(v) || v < o->min || v > o->max) && o->min > 0 &&
            o->min < 1e-200)
            return kp_cli_failf(cmd, 2, "--%s: a positive number, not '%s'", o->name, arg);
        if (!*arg || *end || !isfinite(v) || v < o->min || v > o->max)
            return kp_cli_failf(cmd, 2, "--%s: a number from %g to %g, not '%s'", o->name, o->min,
                                o->max, arg);
        *(double *)o->dest = v;
        return 0;
    }
    case KP_OPT_FN:
        if (o->fn(o->dest, arg, &err)) return kp_cli_fail(cmd, &err), 2;
        return 0;
    default: return kp_cli_failf(cmd, 2, "--%s: unknown option type (a bug)", o->name);
    }
}

static int parse(const char *cmd, int argc, char **argv, const kp_opt *opts, void (*usage)(FILE *),
                 const char *pos_name, size_t min_pos, size_t max_pos, const char **pos,
                 size_t *n_pos) {
    struct option lo[MAX_OPTS + 2];
    char short_opts[2 * MAX_OPTS + 2];
    size_t n = 0, k = 0;
    for (; opts[n].name; n++) {
        if (n == MAX_OPTS) return kp_cli_failf(cmd, 2, "too many options in the table (a bug)");
        int arg = opts[n].type == KP_OPT_FLAG ? no_argument : required_argument;
        lo[n] = (struct option){opts[n].name, arg, NULL, opt_val(&opts[n], n)};
        if (opts[n].letter) {
            short_opts[k++] = (char)opts[n].letter;
            if (arg == required_argument) short_opts[k++] = ':';
        }
    }
    lo[n] = (struct option){"help", no_argument, NULL, 'h'};
    lo[n + 1] = (struct option){0, 0, 0, 0};
    short_opts[k++] = 'h';
    short_opts[k] = 0;
    *n_pos = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, short_opts, lo, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        size_t i = 0;
        while (i < n && opt_val(&opts[i], i) != c) i++;
        if (i == n) { /* getopt said what was wrong */
            usage(stderr);
            return 2;
        }
        int st = read_value(cmd, &opts[i], optarg);
        if (st) return st;
    }
    for (int a = optind; a < argc; a++) {
        if (*n_pos == max_pos) return kp_cli_failf(cmd, 2, "unexpected argument '%s'", argv[a]);
        pos[(*n_pos)++] = argv[a];
    }
    if (*n_pos < min_pos) {
        usage(stderr);
        return kp_cli_failf(cmd, 2, "no %s given", pos_name ? pos_name : "argument");
    }
    return -1;
}

int kp_cli_parse(const char *cmd, int argc, char **argv, const kp_opt *opts, void (*usage)(FILE *),
                 const char *pos_name, size_t min_pos, size_t max_pos, const char **pos,
                 size_t *n_pos) {
    /* getopt names the program as argv[0] in its messages ("unrecognized option", "requires
     * an argument", "is ambiguous"): make that "kompress CMD" like every other message. It
     * also reorders the array it is given: a copy, so the caller's argv stays as it was. */
    char prog[96];
    snprintf(prog, sizeof prog, "kompress %s", cmd);
    char **av = malloc(((size_t)argc + 1) * sizeof *av);
    if (!av) return kp_cli_failf(cmd, 2, "out of memory");
    av[0] = prog;
    for (int i = 1; i < argc; i++) av[i] = argv[i];
    av[argc] = NULL;
    int st = parse(cmd, argc, av, opts, usage, pos_name, min_pos, max_pos, pos, n_pos);
    free(av);
    return st;
}

/* ---- data-set options ------------------------------------------------------------------- */

void kp_cli_data_init(kp_cli_data *d) {
    memset(d, 0, sizeof *d);
    d->batch = d->limit = -1;
}

size_t kp_cli_data_opts(kp_cli_data *d, int with_letters, kp_opt *out) {
    const kp_opt t[KP_CLI_DATA_N_OPTS] = {
        {"data", 'd', KP_OPT_STR, &d->data, 0, 0, NULL},
        {"labels", 'l', KP_OPT_STR, &d->labels, 0, 0, NULL},
        {"format", 'f', KP_OPT_STR, &d->format, 0, 0, NULL},
        {"label-column", 0, KP_OPT_STR, &d->label_column, 0, 0, NULL},
        {"npz-key", 0, KP_OPT_STR, &d->npz_key, 0, 0, NULL},
        {"batch", 'b', KP_OPT_LONG, &d->batch, 1, 1 << 20, NULL},
        {"limit", 'n', KP_OPT_LONG, &d->limit, 0, 1e12, NULL},
        {"scale", 's', KP_OPT_STR, &d->scale, 0, 0, NULL},
        {"mean", 'm', KP_OPT_STR, &d->mean, 0, 0, NULL},
        {"std", 'S', KP_OPT_STR, &d->std, 0, 0, NULL},
        {"layout", 'L', KP_OPT_STR, &d->layout, 0, 0, NULL},
    };
    for (size_t i = 0; i < KP_CLI_DATA_N_OPTS; i++) {
        out[i] = t[i];
        if (!with_letters) out[i].letter = 0;
    }
    return KP_CLI_DATA_N_OPTS;
}

/* "0.00392", or a fraction such as "1/255"; never zero. */
static int parse_scale(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end), num, den;
    char extra;
    if (*s && !*end && isfinite(v) && v != 0) {
        *out = v;
        return 0;
    }
    if (sscanf(s, "%lf/%lf%c", &num, &den, &extra) == 2 && den != 0 && num != 0 &&
        isfinite(num / den)) {
        *out = num / den;
        return 0;
    }
    return -1;
}

int kp_cli_read_scale(void *dest, const char *arg, kp_error *err) {
    double v;
    if (parse_scale(arg, &v))
        return kp_error_set(err, KP_EINVAL, "--scale %s: a non-zero number (or 1/255)", arg);
    if (fabs(v) > KP_CLI_SCALE_MAX || fabs(v) < 1 / KP_CLI_SCALE_MAX)
        return kp_error_set(err, KP_ERANGE, "--scale %s: from %g to %g in size", arg,
                            1 / KP_CLI_SCALE_MAX, KP_CLI_SCALE_MAX);
    *(double *)dest = v;
    return 0;
}

int kp_cli_data_apply(const kp_cli_data *d, kp_dataset_opts *o, kp_error *err) {
    if (d->format && kp_data_format_parse(d->format, &o->format))
        return kp_error_set(err, KP_EINVAL, "--format %s: use npy, npz, idx, csv or onnx-pb",
                            d->format);
    if (d->labels) o->labels = d->labels;
    if (d->label_column) o->label_column = d->label_column;
    if (d->npz_key) o->npz_key = d->npz_key;
    if (d->batch > 0) o->batch = (size_t)d->batch;
    if (d->limit >= 0) o->limit = (size_t)d->limit;
    if (d->scale && kp_cli_read_scale(&o->pre.scale, d->scale, err)) return err->code;
    if (d->mean && kp_preproc_parse_list(d->mean, o->pre.mean, &o->pre.n_mean, err))
        return kp_error_wrap(err, "--mean: ");
    if (d->std && kp_preproc_parse_list(d->std, o->pre.std, &o->pre.n_std, err))
        return kp_error_wrap(err, "--std: ");
    if (d->layout) {
        if (!strcmp(d->layout, "nchw"))
            o->pre.layout = KP_LAYOUT_NCHW;
        else if (!strcmp(d->layout, "nhwc"))
            o->pre.layout = KP_LAYOUT_NHWC;
        else
            return kp_error_set(err, KP_EINVAL, "--layout %s: nchw or nhwc", d->layout);
    }
    return 0;
}
