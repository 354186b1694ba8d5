/* Headless commands, one file each (tui/cmd_<name>.c), listed in tui/commands.c.
 * Each command parses its own options (getopt_long), supports --help and --json, prints
 * results to stdout and errors to stderr as "kompress <cmd>: <message>", and returns the
 * process exit status: 0 ok, 1 failure (bad input, error), 2 usage error. */
#ifndef KP_CLI_H
#define KP_CLI_H

#include "core/error.h"

typedef struct kp_cmd {
    const char *name;
    const char *args;                  /* "MODEL [--json]" for the usage line */
    const char *summary;               /* one line */
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
} kp_cmd;

const kp_cmd *const *kp_commands(size_t *n);
const kp_cmd *kp_command_find(const char *name);

/* Prints "kompress <cmd>: <msg>" to stderr and returns 1. */
int kp_cli_fail(const char *cmd, const kp_error *err);
/* Prints "kompress <cmd>: <printf message>" to stderr and returns `status`. */
int kp_cli_failf(const char *cmd, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define KP_VERSION "0.1.0"

#endif
