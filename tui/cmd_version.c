#include <stdio.h>
#include <string.h>

#include "tui/cli.h"

static int run(int argc, char **argv) {
    int json = argc > 1 && !strcmp(argv[1], "--json");
    if (argc > 1 && !json) {
        printf("usage: kompress version [--json]\n");
        return strcmp(argv[1], "--help") ? 2 : 0;
    }
    if (json)
        printf("{\"version\": \"%s\"}\n", KP_VERSION);
    else
        printf("kompress %s\n", KP_VERSION);
    return 0;
}

const kp_cmd kp_cmd_version = {"version", "[--json]", "print the version", run};
