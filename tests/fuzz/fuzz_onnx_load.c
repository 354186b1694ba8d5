/* libFuzzer target for the model loader: any byte string must either load or be refused with a
 * message. A model that loads must also save, reload, and save again to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/onnx_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    kp_error err = {0};
    kp_model *m = NULL, *m2 = NULL;
    uint8_t *b1 = NULL, *b2 = NULL;
    size_t l1 = 0, l2 = 0;
    int rc = kp_onnx_load_buffer(data, size, NULL, &m, &err);
    if (rc) {
        if (!err.msg[0] || rc >= 0) abort(); /* every refusal carries a message */
        return 0;
    }
    if (kp_onnx_save_buffer(m, &b1, &l1, &err)) abort();       /* what loads must save */
    if (kp_onnx_load_buffer(b1, l1, NULL, &m2, &err)) abort(); /* ... and reload */
    if (kp_onnx_save_buffer(m2, &b2, &l2, &err)) abort();
    if (l1 != l2 || memcmp(b1, b2, l1)) abort(); /* ... to the same bytes */
    kp_model_free(m);
    kp_model_free(m2);
    free(b1);
    free(b2);
    return 0;
}
