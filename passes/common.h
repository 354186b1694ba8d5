/* Helpers shared by the structural passes (fold, prune, prune-channels, cluster, low-rank,
 * drop-layers, reconstruct): walking every graph of a model, finding float weights wherever
 * they live, replacing a node's weight input with a new initializer, notes and progress. */
#ifndef KP_PASSES_COMMON_H
#define KP_PASSES_COMMON_H

#include <stddef.h>

#include "core/pass.h"

/* Calls fn on g, then on every subgraph below it (If/Loop/Scan bodies, nested), depth first.
 * Stops at the first non-zero return and returns it. */
typedef int (*kp_graph_fn)(kp_graph *g, void *user, kp_error *err);
int kp_pass_each_graph(kp_graph *g, kp_graph_fn fn, void *user, kp_error *err);

/* Formats a note and hands it to ctx->note (no-op when ctx or ctx->note is NULL). */
void kp_pass_notef(const kp_pass_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void kp_pass_progress(const kp_pass_ctx *ctx, double fraction, const char *what);
/* KP_ECANCELLED with a message when ctx->cancel is raised, else 0. */
int kp_pass_check_cancel(const kp_pass_ctx *ctx, kp_error *err);

/* The node's name, or its op type when unnamed. Borrowed. */
const char *kp_node_label(const kp_node *n);
/* Position of n in g->nodes, or (size_t)-1. */
size_t kp_graph_node_pos(const kp_graph *g, const kp_node *n);

/* The float32 constant feeding input i of n (visible from g), or NULL. Borrowed. */
kp_tensor *kp_pass_const_input(kp_graph *g, const kp_node *n, size_t i);
/* Number of readers of value v in g: consumer nodes plus 1 if it is a graph output. */
size_t kp_value_n_uses(kp_graph *g, const char *v);

/* Stores t (takes ownership) as a new initializer of g named after `base` (made unique) and
 * points input i of n at it. The old constant is left for kp_graph_remove_dead(). */
int kp_pass_set_input_const(kp_graph *g, kp_node *n, size_t i, kp_tensor *t, const char *base,
                            kp_error *err);

/* Total bytes of float weights of Conv/ConvTranspose/Gemm/MatMul nodes, for reports. */
size_t kp_pass_weight_bytes(kp_model *m);

#endif

/* ---- weighted layers ---------------------------------------------------------------------- */

typedef enum kp_layer_kind {
    KP_LAYER_CONV = 0,   /* W [Cout, Cin/group, k...] */
    KP_LAYER_CONVT = 1,  /* W [Cin, Cout/group, k...] */
    KP_LAYER_GEMM = 2,   /* W [K,N], or [N,K] with transB */
    KP_LAYER_MATMUL = 3, /* W [K,N] (rank 2 only) */
} kp_layer_kind;

/* One layer with a constant float weight (input 1). Pointers are borrowed and valid until the
 * graph is edited; wname is the weight's value name. A weight shared by several layers is
 * listed once (for its first reader). */
typedef struct kp_wlayer {
    kp_graph *g;
    kp_node *node;
    const char *wname;
    kp_tensor *w;
    kp_layer_kind kind;
} kp_wlayer;

/* Every Conv/ConvTranspose/Gemm/MatMul with a constant float weight of at least min_numel
 * elements, in every graph of m. Returns owned array (free()). */
int kp_pass_collect_layers(kp_model *m, int64_t min_numel, kp_wlayer **out, size_t *n,
                           kp_error *err);
/* 1 when `list` is empty or names the layer (node name, or weight name), comma-separated. */
int kp_pass_layer_selected(const char *list, const kp_wlayer *l);

/* ---- channel maps ------------------------------------------------------------------------- */

/* prune-channels records, per layer output it shrinks, which of the original model's channels
 * are kept (model metadata "kompress:channels:<value>" = "0,3,5,..."), so reconstruct can
 * match the pruned layer's outputs with the original's. Returns owned array (free()) of *n
 * indices, or NULL when the value has no map. */
int64_t *kp_pass_chmap_get(const kp_model *m, const char *value, size_t *n);
/* Stores the map (replacing an older one). */
int kp_pass_chmap_set(kp_model *m, const char *value, const int64_t *idx, size_t n);
