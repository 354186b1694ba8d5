/* The command table. Adding a command: write tui/cmd_<name>.c exporting
 * `const kp_cmd kp_cmd_<name>` and add it to COMMANDS below. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tui/cli.h"

// clang-format off
/* One command per line, so parallel additions merge cleanly. */
#define COMMANDS(X) \
    X(version)      \
    X(info)         \
    X(passes)       \
    X(compress)     \
    X(targets)      \
    X(new)          \
    X(plan)         \
    X(run)          \
    X(report)       \
    X(eval)         \
    /* end */
// clang-format on

#define DECLARE(c) extern const kp_cmd kp_cmd_##c;
COMMANDS(DECLARE)
#undef DECLARE

#define LIST(c) &kp_cmd_##c,
static const kp_cmd *const all[] = {COMMANDS(LIST)};
#undef LIST

const kp_cmd *const *kp_commands(size_t *n) {
    *n = sizeof all / sizeof *all;
    return all;
}

const kp_cmd *kp_command_find(const char *name) {
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (!strcmp(all[i]->name, name)) return all[i];
    return NULL;
}

int kp_cli_fail(const char *cmd, const kp_error *err) {
    fprintf(stderr, "kompress %s: %s\n", cmd, err && err->msg[0] ? err->msg : "failed");
    return 1;
}

int kp_cli_failf(const char *cmd, int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "kompress %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return status;
}
