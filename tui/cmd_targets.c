/* kompress targets [--json] [--dir DIR]: the hardware profiles, built-in and user. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/target.h"
#include "tui/cli.h"
#include "tui/cli_opts.h"

static void usage(FILE *f) {
    fprintf(f, "usage: kompress targets [--json] [--dir DIR]\n\n"
               "Lists hardware profiles: this machine, the built-ins, and user profiles\n"
               "(JSON files in $XDG_CONFIG_HOME/kompress/targets/, or DIR).\n"
               "A user profile: {\"id\", \"name\", \"class\": cpu|gpu|mcu|edge, \"fp32_gflops\",\n"
               "  \"mem_bw_gbs\", \"power_w\", optional \"fp16_gflops\", \"int8_gops\",\n"
               "  \"ram_mb\", \"storage_mb\", \"precisions\": [\"fp32\",\"fp16\",\"int8\"],\n"
               "  \"isa\", \"u8s8_saturates\": 0|1, \"source\"}\n");
}

static void human_bytes(uint64_t b, char *buf, size_t cap) {
    if (!b)
        snprintf(buf, cap, "-");
    else if (b >= 1ull << 30)
        snprintf(buf, cap, "%.0f GB", (double)b / (1ull << 30));
    else if (b >= 1ull << 20)
        snprintf(buf, cap, "%.0f MB", (double)b / (1ull << 20));
    else
        snprintf(buf, cap, "%.0f KB", (double)b / 1024);
}

static void precisions(unsigned p, char *buf, size_t cap) {
    snprintf(buf, cap, "%s%s%s", p & KP_PREC_FP32 ? "fp32 " : "", p & KP_PREC_FP16 ? "fp16 " : "",
             p & KP_PREC_INT8 ? "int8" : "");
}

static int run(int argc, char **argv) {
    int json = 0;
    const char *dir = NULL;
    const kp_opt opts[] = {{"json", 'j', KP_OPT_FLAG, &json, 0, 0, NULL},
                           {"dir", 'd', KP_OPT_STR, &dir, 0, 0, NULL},
                           KP_OPT_END};
    size_t n_pos;
    int st = kp_cli_parse("targets", argc, argv, opts, usage, NULL, 0, 0, NULL, &n_pos);
    if (st >= 0) return st;
    kp_target *t;
    size_t n;
    kp_error err = {0};
    if (kp_targets_load(dir, &t, &n, &err)) return kp_cli_fail("targets", &err);
    if (json) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < n; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "id", t[i].id);
            cJSON_AddStringToObject(o, "name", t[i].name);
            cJSON_AddStringToObject(o, "class", kp_target_class_name(t[i].cls));
            cJSON_AddNumberToObject(o, "fp32_gflops", t[i].fp32_gflops);
            cJSON_AddNumberToObject(o, "fp16_gflops", t[i].fp16_gflops);
            cJSON_AddNumberToObject(o, "int8_gops", t[i].int8_gops);
            cJSON_AddNumberToObject(o, "mem_bw_gbs", t[i].mem_bw_gbs);
            cJSON_AddNumberToObject(o, "ram_bytes", (double)t[i].ram_bytes);
            cJSON_AddNumberToObject(o, "storage_bytes", (double)t[i].storage_bytes);
            cJSON_AddNumberToObject(o, "power_w", t[i].power_w);
            cJSON *pr = cJSON_AddArrayToObject(o, "precisions");
            if (t[i].precisions & KP_PREC_FP32)
                cJSON_AddItemToArray(pr, cJSON_CreateString("fp32"));
            if (t[i].precisions & KP_PREC_FP16)
                cJSON_AddItemToArray(pr, cJSON_CreateString("fp16"));
            if (t[i].precisions & KP_PREC_INT8)
                cJSON_AddItemToArray(pr, cJSON_CreateString("int8"));
            cJSON_AddStringToObject(o, "isa", t[i].isa);
            cJSON_AddBoolToObject(o, "u8s8_saturates", t[i].u8s8_saturates);
            cJSON_AddStringToObject(o, "source", t[i].source);
            if (t[i].path[0]) cJSON_AddStringToObject(o, "path", t[i].path);
            cJSON_AddItemToArray(arr, o);
        }
        char *s = cJSON_Print(arr);
        if (s) puts(s);
        free(s);
        cJSON_Delete(arr);
    } else {
        printf("%-17s %-5s %9s %9s %9s %8s %8s %7s  %s\n", "ID", "CLASS", "FP32 GF", "INT8 GOP",
               "BW GB/s", "RAM", "FLASH", "POWER", "PRECISIONS");
        for (size_t i = 0; i < n; i++) {
            char ram[16], fl[16], pr[32];
            human_bytes(t[i].ram_bytes, ram, sizeof ram);
            human_bytes(t[i].storage_bytes, fl, sizeof fl);
            precisions(t[i].precisions, pr, sizeof pr);
            printf("%-17s %-5s %9.1f %9.1f %9.1f %8s %8s %6.2fW  %s\n", t[i].id,
                   kp_target_class_name(t[i].cls), t[i].fp32_gflops, t[i].int8_gops,
                   t[i].mem_bw_gbs, ram, fl, t[i].power_w, pr);
        }
    }
    free(t);
    return 0;
}

const kp_cmd kp_cmd_targets = {"targets", "[--json] [--dir DIR]",
                               "list hardware profiles (built-in and user)", run};
