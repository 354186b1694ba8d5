/* Saves a project over and over (for the kill -9 test): project.json must stay valid whenever
 * the process dies. Usage: project_save_loop DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/project.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: project_save_loop DIR\n");
        return 2;
    }
    kp_project *p;
    kp_error e = {0};
    if (kp_project_load(argv[1], &p, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    for (unsigned long i = 0;; i++) {
        /* grow and shrink the file so a torn write would show */
        p->max_drop = (double)(i % 100) / 10.0;
        free(p->name);
        size_t len = 8 + (i % 4000);
        p->name = malloc(len + 1);
        if (!p->name) return 1;
        memset(p->name, 'a' + (int)(i % 26), len);
        p->name[len] = 0;
        if (kp_project_save(p, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
    }
}
