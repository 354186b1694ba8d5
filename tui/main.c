/* Entry point: `kompress CMD ...` runs a headless command; no command (or --open DIR) on a
 * terminal opens the full-screen app. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tui/app.h"
#include "tui/cli.h"

static void usage(FILE *f) {
    size_t n;
    const kp_cmd *const *cmds = kp_commands(&n);
    fprintf(f,
            "Kompress %s - compress ONNX models for the hardware that runs them\n\n"
            "usage: kompress                 open the terminal app\n"
            "       kompress --open DIR      open the app on a project folder\n"
            "                [--theme NAME] [--ascii]  colour theme; ASCII-only drawing\n"
            "       kompress COMMAND [ARGS]  run headless (COMMAND --help for details)\n\n"
            "commands:\n",
            KP_VERSION);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %-9s %-40s %s\n", cmds[i]->name, cmds[i]->args, cmds[i]->summary);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--open") || !strncmp(argv[1], "--theme", 7) ||
        !strcmp(argv[1], "--ascii")) {
        if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
            fprintf(stderr, "kompress: the app needs a terminal; for scripts use a command:\n\n");
            usage(stderr);
            return 2;
        }
        return kp_app_main(argc, argv);
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) argv[1] = "version";
    const kp_cmd *c = kp_command_find(argv[1]);
    if (!c) {
        fprintf(stderr, "kompress: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    return c->run(argc - 1, argv + 1);
}
