/* libFuzzer target for TensorProto files (input_0.pb etc.): load or refuse with a message; a
 * tensor that loads must save and reload to an equal tensor and the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/onnx_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    kp_error err = {0};
    kp_tensor *t = NULL, *t2 = NULL;
    uint8_t *b1 = NULL, *b2 = NULL;
    size_t l1 = 0, l2 = 0;
    int rc = kp_onnx_load_tensor_buffer(data, size, &t, &err);
    if (rc) {
        if (!err.msg[0] || rc >= 0) abort();
        return 0;
    }
    if (kp_onnx_save_tensor_buffer(t, &b1, &l1, &err)) abort();
    if (kp_onnx_load_tensor_buffer(b1, l1, &t2, &err)) abort();
    if (!kp_tensor_equal(t, t2)) abort();
    if (kp_onnx_save_tensor_buffer(t2, &b2, &l2, &err)) abort();
    if (l1 != l2 || memcmp(b1, b2, l1)) abort();
    kp_tensor_free(t);
    kp_tensor_free(t2);
    free(b1);
    free(b2);
    return 0;
}
