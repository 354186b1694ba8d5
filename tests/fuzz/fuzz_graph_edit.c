/* libFuzzer target for the graph IR on models that load: deep copy, constant discovery (in
 * subgraphs too), topological sort and dead-code removal must not crash on hostile graphs, and
 * the edited model must still save and load again. */
#include <stdint.h>
#include <stdlib.h>

#include "core/onnx_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    kp_error err = {0};
    kp_model *m = NULL, *back = NULL;
    if (kp_onnx_load_buffer(data, size, NULL, &m, &err)) return 0;
    kp_model *c = kp_model_clone(m, &err);
    if (!c) abort(); /* copying what loaded can only fail for lack of memory */
    kp_const_ref *refs = NULL;
    size_t n = 0;
    if (kp_graph_consts(c->graph, 1, &refs, &n, &err) == 0) free(refs);
    if (kp_graph_toposort(c->graph, &err)) abort(); /* validated on load: must sort */
    (void)kp_graph_remove_dead(c->graph);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (kp_onnx_save_buffer(c, &buf, &len, &err)) abort();
    if (kp_onnx_load_buffer(buf, len, NULL, &back, &err)) abort(); /* still a valid model */
    free(buf);
    kp_model_free(back);
    kp_model_free(c);
    kp_model_free(m);
    return 0;
}
