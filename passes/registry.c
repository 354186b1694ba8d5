/* Adding a pass: write passes/<id>.c exporting `const kp_pass kp_pass_<name>`, then add one
 * line here. Order is the canonical pipeline order (lossless clean-up first, quantization last). */
#include "passes/registry.h"

extern const kp_pass kp_pass_fold, kp_pass_drop_layers, kp_pass_prune_channels, kp_pass_low_rank,
    kp_pass_prune, kp_pass_cluster, kp_pass_reconstruct;
extern const kp_pass kp_pass_quant_dynamic;
extern const kp_pass kp_pass_quant_static;
extern const kp_pass kp_pass_fp16;
extern const kp_pass kp_pass_mixed_precision;

// clang-format off
static const kp_pass *const all[] = {
    NULL, /* placeholder so the array is never empty; skipped below */
    &kp_pass_fold,
    &kp_pass_drop_layers,
    &kp_pass_prune_channels,
    &kp_pass_low_rank,
    &kp_pass_prune,
    &kp_pass_cluster,
    &kp_pass_reconstruct,
    &kp_pass_quant_dynamic,
    &kp_pass_quant_static,
    &kp_pass_fp16,
    &kp_pass_mixed_precision,
};
// clang-format on

const kp_pass *const *kp_passes(size_t *n) {
    *n = sizeof all / sizeof *all - 1;
    return all + 1;
}
