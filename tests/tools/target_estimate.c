/* Prints the roofline estimate of a model on every target as JSON lines:
 * {"target": id, "latency_ms": x, "ram_bytes": n, "flash_bytes": n, "fits_ram": b, "fits_flash": b}
 * Usage: target_estimate MODEL */
#include <stdio.h>
#include <stdlib.h>

#include "core/measure.h"
#include "core/onnx_io.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: target_estimate MODEL\n");
        return 2;
    }
    kp_model *m;
    kp_error e = {0};
    kp_target *t;
    size_t n;
    if (kp_onnx_load(argv[1], NULL, &m, &e) || kp_targets_load(NULL, &t, &n, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        kp_target_estimate est;
        if (kp_measure_roofline(m, &t[i], &est, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        printf("{\"target\": \"%s\", \"latency_ms\": %.6f, \"ram_bytes\": %llu, \"flash_bytes\": "
               "%llu, \"fits_ram\": %d, \"fits_flash\": %d}\n",
               t[i].id, est.latency_s * 1e3, (unsigned long long)est.ram_bytes,
               (unsigned long long)est.flash_bytes, est.fits_ram, est.fits_flash);
    }
    free(t);
    kp_model_free(m);
    return 0;
}
