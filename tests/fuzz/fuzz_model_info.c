/* libFuzzer target for what `kompress info` does with a model that loads: shape inference and
 * model statistics (parameters, MACs, op histogram) over untrusted graphs. Failing with an
 * error is fine; crashing, reading out of bounds or leaking is not. */
#include <stdint.h>
#include <stdlib.h>

#include "core/model_stats.h"
#include "core/onnx_io.h"
#include "core/shape_infer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    kp_error err = {0};
    kp_model *m = NULL;
    if (kp_onnx_load_buffer(data, size, NULL, &m, &err)) return 0;
    (void)kp_infer_shapes(m, &err);
    kp_model_stats *st = NULL;
    if (kp_model_stats_compute(m, &st, &err) == 0) kp_model_stats_free(st);
    kp_model_free(m);
    return 0;
}
