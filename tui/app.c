/* Placeholder until the terminal app lands (issue 7): says so plainly and fails. */
#include <stdio.h>

#include "tui/app.h"

int kp_app_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "kompress: the terminal app is not built yet; use the subcommands "
                    "(kompress --help)\n");
    return 1;
}
