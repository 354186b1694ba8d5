/* The graph IR: an ONNX model in plain C structs that the loader fills, the executor runs and
 * the passes rewrite. Values are referred to by name (as in ONNX), so outer-scope references
 * from If/Loop/Scan bodies and round-tripping stay simple; kp_graph_index() gives O(1) lookups.
 *
 * Ownership: a kp_model owns its graph; a graph owns its nodes, initializers and value infos; a
 * node owns its strings and attributes; an attribute owns its tensors and subgraphs. Every
 * `char *` below is owned by the struct that holds it and may be NULL unless said otherwise.
 * Arrays are (pointer, count) pairs allocated with malloc/realloc.
 * kp_bytes held by attributes (kp_attr.s, kp_attr.strings[i]) keep one hidden NUL byte at
 * data[len] (not counted in len), so kp_node_attr_string can hand out C strings. Whoever fills
 * them (loader, passes) must allocate len + 1 and write that NUL. */
#ifndef KP_GRAPH_H
#define KP_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/tensor.h"

/* ---- types -------------------------------------------------------------------------------- */

typedef struct kp_dim {
    int64_t value; /* >= 0 when known, -1 when symbolic or unknown */
    char *param;   /* symbolic name ("batch", "N"), or NULL */
    char *denotation;
} kp_dim;

typedef enum kp_type_kind {
    KP_TYPE_NONE = 0,   /* no type given */
    KP_TYPE_TENSOR = 1, /* elem + shape below */
    KP_TYPE_OTHER = 2,  /* sequence/map/optional/sparse: kept as serialized TypeProto bytes */
} kp_type_kind;

typedef struct kp_type {
    kp_type_kind kind;
    kp_dtype elem;
    int rank;     /* -1: shape unknown (no shape field); 0: scalar */
    kp_dim *dims; /* rank entries */
    char *denotation;
    kp_bytes raw; /* KP_TYPE_OTHER: packed onnx.TypeProto, saved back verbatim */
} kp_type;

typedef struct kp_value_info {
    char *name;
    kp_type type;
    char *doc_string;
} kp_value_info;

typedef struct kp_sparse_tensor {
    kp_tensor *values;  /* 1-D, NNZ entries; its name is the sparse tensor's name */
    kp_tensor *indices; /* int64, [NNZ] linearized or [NNZ, rank] */
    int rank;
    int64_t dims[KP_MAX_RANK];
} kp_sparse_tensor;

typedef struct kp_kv {
    char *key, *value;
} kp_kv;

/* ---- attributes --------------------------------------------------------------------------- */

/* Values equal ONNX AttributeProto.AttributeType. */
typedef enum kp_attr_type {
    KP_ATTR_UNDEFINED = 0,
    KP_ATTR_FLOAT = 1,
    KP_ATTR_INT = 2,
    KP_ATTR_STRING = 3,
    KP_ATTR_TENSOR = 4,
    KP_ATTR_GRAPH = 5,
    KP_ATTR_FLOATS = 6,
    KP_ATTR_INTS = 7,
    KP_ATTR_STRINGS = 8,
    KP_ATTR_TENSORS = 9,
    KP_ATTR_GRAPHS = 10,
    KP_ATTR_SPARSE_TENSOR = 11,
    KP_ATTR_SPARSE_TENSORS = 12,
    KP_ATTR_TYPE_PROTO = 13,
    KP_ATTR_TYPE_PROTOS = 14,
} kp_attr_type;

struct kp_graph;

typedef struct kp_attr {
    char *name;
    kp_attr_type type;
    char *doc_string;
    char *ref_attr_name; /* inside functions: refers to the caller's attribute */
    /* singular values (by type) */
    float f;
    int64_t i;
    kp_bytes s;
    kp_tensor *t;
    struct kp_graph *g;
    kp_sparse_tensor *sparse;
    kp_type *tp;
    /* list values: n entries in the array matching type */
    size_t n;
    float *floats;
    int64_t *ints;
    kp_bytes *strings;
    kp_tensor **tensors;
    struct kp_graph **graphs;
    kp_sparse_tensor **sparses;
    kp_type *tps;
} kp_attr;

/* ---- nodes, graphs, models ---------------------------------------------------------------- */

typedef struct kp_node {
    char *name;
    char *op_type; /* never NULL */
    char *domain;  /* NULL or "" = default ONNX domain ("ai.onnx") */
    char *doc_string;
    size_t n_inputs;
    char **inputs; /* "" (never NULL) marks an omitted optional input */
    size_t n_outputs;
    char **outputs; /* "" marks an omitted optional output */
    size_t n_attrs;
    kp_attr *attrs;
    /* private: tensor view made by kp_graph_consts for a Constant node with value_float(s)/
     * value_int(s)/value_string(s); freed with the node and whenever its attributes change
     * through the API. */
    kp_tensor *const_cache;
} kp_node;

typedef struct kp_graph {
    char *name;
    char *doc_string;
    size_t n_nodes, cap_nodes;
    kp_node **nodes; /* pointers, so rewrites keep node addresses stable */
    size_t n_inits;
    kp_tensor **inits; /* initializers; tensor->name is the value name */
    size_t n_sparse_inits;
    kp_sparse_tensor **sparse_inits;
    size_t n_inputs;
    kp_value_info *inputs; /* may also list initializers (IR < 4 style) */
    size_t n_outputs;
    kp_value_info *outputs;
    size_t n_value_info;
    kp_value_info *value_info;
    size_t n_raw_quant_annotations;
    kp_bytes *raw_quant_annotations; /* packed onnx.TensorAnnotation, kept verbatim */
    struct kp_graph *parent; /* enclosing graph for If/Loop/Scan bodies; NULL at top level */
    void *index;             /* private lookup cache, see kp_graph_index(); NULL when stale */
    char *uniq_base;         /* private: kp_graph_unique_name's last base and next suffix */
    uint64_t uniq_next;
    /* private: kp_graph_set_value_type grows value_info geometrically; cap_value_info is the
     * allocated length while value_info is still vi_buf (anything else: exactly n_value_info) */
    kp_value_info *vi_buf;
    size_t cap_value_info;
} kp_graph;

typedef struct kp_opset {
    char *domain; /* "" = ai.onnx */
    int64_t version;
} kp_opset;

typedef struct kp_function {
    char *name, *domain, *doc_string;
    size_t n_inputs;
    char **inputs;
    size_t n_outputs;
    char **outputs;
    size_t n_attr_names;
    char **attr_names;
    size_t n_opsets;
    kp_opset *opsets;
    kp_graph *body; /* nodes only; inputs/outputs above */
} kp_function;

typedef struct kp_model {
    int64_t ir_version;
    char *producer_name, *producer_version, *domain, *doc_string;
    int64_t model_version;
    size_t n_opsets;
    kp_opset *opsets;
    size_t n_props;
    kp_kv *props; /* metadata_props */
    kp_graph *graph;
    size_t n_functions;
    kp_function *functions;
    size_t n_raw_training_info;
    kp_bytes *raw_training_info; /* packed onnx.TrainingInfoProto, kept verbatim */
    char *dir;                   /* folder the model was loaded from (external data base) */
    /* Identity (st_dev, st_ino) of the file the model was loaded from, both 0 when loaded from
     * memory; kp_onnx_save refuses to write over that file. Plain values, nothing to free. */
    uint64_t src_dev, src_ino;
    /* Fields found in the file that this build's onnx.proto does not know (a newer ONNX): they
     * are dropped on load, so a saved copy lacks them. 0 for models of onnx.proto's version. */
    size_t n_unknown_fields;
} kp_model;

/* ---- construction and teardown ------------------------------------------------------------ */

kp_model *kp_model_new(void); /* returns owned empty model with an empty graph */
void kp_model_free(kp_model *m);
kp_model *kp_model_clone(const kp_model *m, kp_error *err); /* returns owned deep copy */
/* Opset version of `domain` ("" or "ai.onnx" = default) imported by the model; 0 if none. */
int64_t kp_model_opset(const kp_model *m, const char *domain);

kp_graph *kp_graph_new(kp_graph *parent);
void kp_graph_free(kp_graph *g);

/* Returns owned node. inputs/outputs are copied; NULL entries become "". */
kp_node *kp_node_new(const char *op_type, const char *name, size_t n_in, const char *const *in,
                     size_t n_out, const char *const *out);
void kp_node_free(kp_node *n);
kp_node *kp_node_clone(const kp_node *n, kp_graph *new_parent);
int kp_node_is(const kp_node *n, const char *op_type); /* default domain and op_type equal */
int kp_node_set_input(kp_node *n, size_t i, const char *value);  /* grows with "" as needed */
int kp_node_set_output(kp_node *n, size_t i, const char *value); /* grows with "" as needed */
const char *kp_node_input(const kp_node *n, size_t i);  /* NULL if absent or omitted ("") */
const char *kp_node_output(const kp_node *n, size_t i); /* NULL if absent or omitted ("") */

/* Attributes. Lookups borrow; setters copy (tensor/graph setters take ownership). */
const kp_attr *kp_node_attr(const kp_node *n, const char *name);
int64_t kp_node_attr_int(const kp_node *n, const char *name, int64_t dflt);
float kp_node_attr_float(const kp_node *n, const char *name, float dflt);
/* Borrowed NUL-terminated copy kept in the attribute, or dflt. */
const char *kp_node_attr_string(const kp_node *n, const char *name, const char *dflt);
/* Number of ints, *out borrowed; 0 and *out = NULL if absent. */
size_t kp_node_attr_ints(const kp_node *n, const char *name, const int64_t **out);
size_t kp_node_attr_floats(const kp_node *n, const char *name, const float **out);
int kp_node_set_attr_int(kp_node *n, const char *name, int64_t v);
int kp_node_set_attr_float(kp_node *n, const char *name, float v);
int kp_node_set_attr_string(kp_node *n, const char *name, const char *v);
int kp_node_set_attr_ints(kp_node *n, const char *name, size_t count, const int64_t *v);
int kp_node_set_attr_floats(kp_node *n, const char *name, size_t count, const float *v);
int kp_node_set_attr_tensor(kp_node *n, const char *name, kp_tensor *t /* takes */);
int kp_node_remove_attr(kp_node *n, const char *name); /* 0 if removed, KP_ENOTFOUND */
void kp_attr_clear(kp_attr *a);                        /* frees contents, keeps struct */

void kp_value_info_clear(kp_value_info *v);
void kp_type_clear(kp_type *t); /* frees contents; leaves kind NONE, rank -1 */
int kp_type_copy(kp_type *dst, const kp_type *src);
void kp_sparse_tensor_free(kp_sparse_tensor *s);

/* Deep copies. dst is overwritten (not freed first); on failure it is left cleared. */
int kp_value_info_copy(kp_value_info *dst, const kp_value_info *src);
/* Subgraphs of the copy get `parent` as their enclosing graph. */
int kp_attr_copy(kp_attr *dst, const kp_attr *src, kp_graph *parent);
kp_sparse_tensor *kp_sparse_tensor_clone(const kp_sparse_tensor *s, kp_error *err);
/* Returns owned deep copy of g whose parent is `parent`. */
kp_graph *kp_graph_clone(const kp_graph *g, kp_graph *parent, kp_error *err);
/* Subgraph attribute (If then/else_branch, Loop/Scan body); takes g. kp_graph_add_node,
 * insert_node and replace_node set the parent of a node's subgraphs to the graph it joins. */
int kp_node_set_attr_graph(kp_node *n, const char *name, kp_graph *g /* takes */);
/* Type helpers: a tensor type of elem with rank dims (values; -1 = unknown). */
int kp_type_set_tensor(kp_type *t, kp_dtype elem, int rank, const int64_t *dims);

/* ---- lookups ------------------------------------------------------------------------------ */

/* Builds (or reuses) the name index of g. Any mutation through the kp_graph_* API invalidates
 * it (and the indexes of enclosing graphs); code that edits the arrays directly, or edits a node
 * already in g through kp_node_* (which do not know their graph), must call kp_graph_touch(g).
 * Lookups below build the index on demand. */
int kp_graph_index(kp_graph *g, kp_error *err);
void kp_graph_touch(kp_graph *g); /* marks g and its enclosing graphs stale */
/* Drops the constant view kp_graph_consts cached on node n; call it after editing a Constant
 * node's attributes directly (the kp_node_* setters do it themselves). */
void kp_node_touch(kp_node *n);

/* Node producing `value` in g itself (not in parents), and its position; NULL if none. */
kp_node *kp_graph_producer(kp_graph *g, const char *value, size_t *pos);
/* Nodes of g that read `value`, counting a node once if a subgraph of it reads the value from
 * the outer scope. Fills up to cap pointers, returns the total count. */
size_t kp_graph_consumers(kp_graph *g, const char *value, kp_node **out, size_t cap);
/* Names a graph reads without defining them (values from enclosing scopes), its nested
 * subgraphs included; or those the subgraphs of node n read from n's graph and beyond.
 * Returns owned array of owned strings (free with kp_strv_free from core/exec.h or by hand). */
int kp_graph_outer_reads(const kp_graph *g, char ***names, size_t *n, kp_error *err);
int kp_node_outer_reads(const kp_node *n, char ***names, size_t *count, kp_error *err);
/* 1 if `value` is a graph output of g. */
int kp_graph_is_output(const kp_graph *g, const char *value);
kp_tensor *kp_graph_init(kp_graph *g, const char *name); /* initializer of g only */
/* Declared or inferred type of value in g or its parents (value_info, inputs, outputs,
 * initializers; a value produced in g hides the parents'); NULL if unknown. Borrowed: valid
 * until the next kp_graph_set_value_type or edit of g. */
const kp_type *kp_graph_value_type(kp_graph *g, const char *name);
/* Stores the type of name in g (copies t): replaces the value_info entry, or the declared
 * type of a graph input/output of that name, or appends a value_info entry. */
int kp_graph_set_value_type(kp_graph *g, const char *name, const kp_type *t);

/* ---- constant tensors, wherever they live ------------------------------------------------- */

typedef enum kp_const_kind {
    KP_CONST_INIT = 0,     /* graph->inits[index] */
    KP_CONST_NODE = 1,     /* Constant node graph->nodes[index], attribute "value" (tensor) */
    KP_CONST_NODE_ATTR = 2 /* Constant node with value_float(s)/value_int(s)/... */
} kp_const_kind;

typedef struct kp_const_ref {
    kp_graph *graph; /* where it lives (top level or a subgraph) */
    kp_const_kind kind;
    size_t index;
    const char *name;  /* value name, borrowed */
    kp_tensor *tensor; /* borrowed view; for NODE_ATTR a tensor made and cached on the node */
} kp_const_ref;

/* Every constant tensor in g and, when recurse, in every subgraph below it (If/Loop/Scan
 * bodies, nested). Returns owned array in *out (free with free()) and its length in *n. */
int kp_graph_consts(kp_graph *g, int recurse, kp_const_ref **out, size_t *n, kp_error *err);
/* The constant value named `name` visible from g (g first, then enclosing graphs), or NULL. */
kp_tensor *kp_graph_find_const(kp_graph *g, const char *name);
/* Replaces the constant named t->name visible from g with t (takes ownership; name kept). An
 * initializer stays an initializer, a Constant node keeps its node with a new value. */
int kp_graph_replace_const(kp_graph *g, kp_tensor *t, kp_error *err);

/* ---- rewriting ---------------------------------------------------------------------------- */

int kp_graph_add_node(kp_graph *g, kp_node *n /* takes */);
int kp_graph_insert_node(kp_graph *g, size_t pos, kp_node *n /* takes */);
/* Removes and frees the node at pos. */
void kp_graph_remove_node(kp_graph *g, size_t pos);
/* Replaces node at pos with n (takes n, frees the old one). */
void kp_graph_replace_node(kp_graph *g, size_t pos, kp_node *n);
int kp_graph_add_init(kp_graph *g, kp_tensor *t /* takes; t->name required */);
int kp_graph_remove_init(kp_graph *g, const char *name); /* frees it; KP_ENOTFOUND */
/* Renames every use of `from` to `to` in g and in subgraphs that see it through the outer scope
 * (stops where a subgraph defines its own value of that name); producers and graph outputs of
 * g itself included. */
int kp_graph_rename_value(kp_graph *g, const char *from, const char *to);
/* Replaces every *use* (node inputs, graph outputs) of `from` with `to`; producers untouched. */
int kp_graph_replace_uses(kp_graph *g, const char *from, const char *to);
/* Returns owned fresh name "<base>", "<base>_1", ... unused in g and everything it encloses. */
char *kp_graph_unique_name(kp_graph *g, const char *base);
/* Orders nodes so every producer precedes its consumers. KP_EFORMAT naming a node on a cycle, or
 * an input that nothing defines (dangling), in which case g is left unchanged. */
int kp_graph_toposort(kp_graph *g, kp_error *err);
/* Removes nodes none of whose outputs reach a graph output (directly or via subgraphs), then
 * unused initializers and value_info. Returns number of removed nodes + initializers. */
size_t kp_graph_remove_dead(kp_graph *g);

/* Checks structure: unique producers, no dangling inputs (outer scope counted), no cycles,
 * nodes with op_type. KP_EFORMAT with a message naming the node and value. */
int kp_graph_validate(kp_graph *g, kp_error *err);

#endif
