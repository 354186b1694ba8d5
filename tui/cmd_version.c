/* `kompress version [--json]` */
#include <stdio.h>

#include "tui/cli.h"
#include "tui/cli_opts.h"

static void usage(FILE *f) {
    fprintf(f, "usage: kompress version [--json]\nPrints the version of kompress.\n");
}

static int run(int argc, char **argv) {
    int json = 0;
    const kp_opt opts[] = {{"json", 'j', KP_OPT_FLAG, &json, 0, 0, NULL}, KP_OPT_END};
    size_t n_pos;
    int st = kp_cli_parse("version", argc, argv, opts, usage, NULL, 0, 0, NULL, &n_pos);
    if (st >= 0) return st;
    if (json)
        printf("{\"version\": \"%s\"}\n", KP_VERSION);
    else
        printf("kompress %s\n", KP_VERSION);
    return 0;
}

const kp_cmd kp_cmd_version = {"version", "[--json]", "print the version", run};
