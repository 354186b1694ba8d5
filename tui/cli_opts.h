/* Option parsing for the headless commands from a table (the idea of tmux's args templates):
 * each entry names a long option, an optional short letter, how its argument is read and where
 * it goes. One parser does getopt_long, --help, value checks with messages that name the
 * option, and the positional arguments; the data-set options shared by `eval` and `compress`
 * are one table block and one function that applies them. */
#ifndef KP_CLI_OPTS_H
#define KP_CLI_OPTS_H

#include <stddef.h>
#include <stdio.h>

#include "core/dataset.h"
#include "core/error.h"

typedef enum kp_opt_type {
    KP_OPT_FLAG = 0, /* no argument; dest is int *, set to 1 */
    KP_OPT_STR,      /* dest is const char **: the argument (borrowed from argv) */
    KP_OPT_LONG,     /* dest is long long *: a whole number in [min, max] */
    KP_OPT_DOUBLE,   /* dest is double *: a finite number in [min, max] */
    KP_OPT_FN,       /* fn(dest, arg, err) reads it; nonzero = a usage error (exit 2) */
    KP_OPT_TYPE_COUNT
} kp_opt_type;

typedef struct kp_opt {
    const char *name; /* long name without "--"; NULL ends a table */
    int letter;       /* short option letter, 0 = none */
    kp_opt_type type;
    void *dest;
    double min, max; /* KP_OPT_LONG / KP_OPT_DOUBLE range, inclusive */
    int (*fn)(void *dest, const char *arg, kp_error *err);
} kp_opt;

#define KP_OPT_END                                                                                 \
    { NULL, 0, KP_OPT_FLAG, NULL, 0, 0, NULL }

/* Parses argv (argv[0] is the command name) against opts (ended by a NULL name; --help/-h is
 * added). Positional arguments go to pos (at most max_pos; pos_name, e.g. "MODEL", names them
 * in messages). Returns -1 when the command should go on; otherwise the exit status to return:
 * 0 after --help (usage on stdout), 2 after a bad option, value or argument count (message as
 * "kompress CMD: ...", usage on stderr where it helps). */
int kp_cli_parse(const char *cmd, int argc, char **argv, const kp_opt *opts, void (*usage)(FILE *),
                 const char *pos_name, size_t min_pos, size_t max_pos, const char **pos,
                 size_t *n_pos);

/* The data-set options of `eval` and `compress` as given (NULL / -1 = not given). */
typedef struct kp_cli_data {
    const char *data, *labels, *format, *label_column, *npz_key;
    const char *scale, *mean, *std, *layout;
    long long batch, limit;
} kp_cli_data;

void kp_cli_data_init(kp_cli_data *d);
/* Writes the table entries for d's options (--data, --labels, --format, --label-column,
 * --npz-key, --batch, --limit, --scale, --mean, --std, --layout) into out (room for
 * KP_CLI_DATA_N_OPTS); returns how many. with_letters: eval's short letters (-d -l -f -b -n -s
 * -m -S -L). */
#define KP_CLI_DATA_N_OPTS 11
size_t kp_cli_data_opts(kp_cli_data *d, int with_letters, kp_opt *out);
/* Applies what was given onto o (o->labels etc. borrow d's strings). Errors name the option. */
int kp_cli_data_apply(const kp_cli_data *d, kp_dataset_opts *o, kp_error *err);

/* A KP_OPT_FN reader for --scale (dest is double *): a number or a fraction such as "1/255",
 * non-zero and from 1/KP_CLI_SCALE_MAX to KP_CLI_SCALE_MAX in size (what project.json holds). */
#define KP_CLI_SCALE_MAX 1e9
int kp_cli_read_scale(void *dest, const char *arg, kp_error *err);

#endif
