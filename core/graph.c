/* Models, graphs and nodes: construction, copies, teardown and the basic node/initializer
 * edits. Lookups live in graph_index.c, constants in graph_const.c, rewrites in
 * graph_rewrite.c. */
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "core/graph_util.h"

char *kp_strdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int kp_strdup_into(char **dst, const char *src) {
    *dst = NULL;
    if (!src) return 0;
    return (*dst = kp_strdup(src)) ? 0 : KP_ENOMEM;
}

/* ---- models --------------------------------------------------------------------------- */

kp_model *kp_model_new(void) {
    kp_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    if (!(m->graph = kp_graph_new(NULL))) {
        free(m);
        return NULL;
    }
    return m;
}

static void function_clear(kp_function *f) {
    free(f->name);
    free(f->domain);
    free(f->doc_string);
    for (size_t i = 0; f->inputs && i < f->n_inputs; i++) free(f->inputs[i]);
    free(f->inputs);
    for (size_t i = 0; f->outputs && i < f->n_outputs; i++) free(f->outputs[i]);
    free(f->outputs);
    for (size_t i = 0; f->attr_names && i < f->n_attr_names; i++) free(f->attr_names[i]);
    free(f->attr_names);
    for (size_t i = 0; f->opsets && i < f->n_opsets; i++) free(f->opsets[i].domain);
    free(f->opsets);
    kp_graph_free(f->body);
    memset(f, 0, sizeof *f);
}

void kp_model_free(kp_model *m) {
    if (!m) return;
    free(m->producer_name);
    free(m->producer_version);
    free(m->domain);
    free(m->doc_string);
    for (size_t i = 0; m->opsets && i < m->n_opsets; i++) free(m->opsets[i].domain);
    free(m->opsets);
    for (size_t i = 0; m->props && i < m->n_props; i++) {
        free(m->props[i].key);
        free(m->props[i].value);
    }
    free(m->props);
    kp_graph_free(m->graph);
    for (size_t i = 0; m->functions && i < m->n_functions; i++) function_clear(&m->functions[i]);
    free(m->functions);
    for (size_t i = 0; m->raw_training_info && i < m->n_raw_training_info; i++)
        free(m->raw_training_info[i].data);
    free(m->raw_training_info);
    free(m->dir);
    free(m);
}

/* Copies an array of n owned strings; entries NULL stay NULL. */
static int strv_copy(char ***dst, char *const *src, size_t n) {
    *dst = NULL;
    if (!n) return 0;
    if (!(*dst = calloc(n, sizeof **dst))) return KP_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (kp_strdup_into(&(*dst)[i], src[i])) return KP_ENOMEM;
    return 0;
}

static int opsets_copy(kp_opset **dst, const kp_opset *src, size_t n) {
    *dst = NULL;
    if (!n) return 0;
    if (!(*dst = calloc(n, sizeof **dst))) return KP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        (*dst)[i].version = src[i].version;
        if (kp_strdup_into(&(*dst)[i].domain, src[i].domain)) return KP_ENOMEM;
    }
    return 0;
}

static int function_copy(kp_function *d, const kp_function *s) {
    memset(d, 0, sizeof *d);
    d->n_inputs = s->n_inputs;
    d->n_outputs = s->n_outputs;
    d->n_attr_names = s->n_attr_names;
    d->n_opsets = s->n_opsets;
    if (kp_strdup_into(&d->name, s->name) || kp_strdup_into(&d->domain, s->domain) ||
        kp_strdup_into(&d->doc_string, s->doc_string) ||
        strv_copy(&d->inputs, s->inputs, s->n_inputs) ||
        strv_copy(&d->outputs, s->outputs, s->n_outputs) ||
        strv_copy(&d->attr_names, s->attr_names, s->n_attr_names) ||
        opsets_copy(&d->opsets, s->opsets, s->n_opsets) ||
        (s->body && !(d->body = kp_graph_clone(s->body, NULL, NULL)))) {
        function_clear(d);
        return KP_ENOMEM;
    }
    return 0;
}

kp_model *kp_model_clone(const kp_model *m, kp_error *err) {
    if (!m) {
        kp_error_set(err, KP_EINVAL, "no model to copy");
        return NULL;
    }
    kp_model *c = calloc(1, sizeof *c);
    if (!c) goto nomem;
    c->ir_version = m->ir_version;
    c->model_version = m->model_version;
    c->src_dev = m->src_dev; /* a copy still must not be saved over the input file */
    c->src_ino = m->src_ino;
    c->n_unknown_fields = m->n_unknown_fields;
    if (kp_strdup_into(&c->producer_name, m->producer_name) ||
        kp_strdup_into(&c->producer_version, m->producer_version) ||
        kp_strdup_into(&c->domain, m->domain) || kp_strdup_into(&c->doc_string, m->doc_string) ||
        kp_strdup_into(&c->dir, m->dir))
        goto nomem;
    c->n_opsets = m->n_opsets; /* a partly filled copy is still freed correctly */
    if (opsets_copy(&c->opsets, m->opsets, m->n_opsets)) goto nomem;
    if (m->n_props) {
        if (!(c->props = calloc(m->n_props, sizeof *c->props))) goto nomem;
        c->n_props = m->n_props;
        for (size_t i = 0; i < m->n_props; i++)
            if (kp_strdup_into(&c->props[i].key, m->props[i].key) ||
                kp_strdup_into(&c->props[i].value, m->props[i].value))
                goto nomem;
    }
    if (m->graph && !(c->graph = kp_graph_clone(m->graph, NULL, NULL))) goto nomem;
    if (m->n_functions) {
        if (!(c->functions = calloc(m->n_functions, sizeof *c->functions))) goto nomem;
        c->n_functions = m->n_functions;
        for (size_t i = 0; i < m->n_functions; i++)
            if (function_copy(&c->functions[i], &m->functions[i])) goto nomem;
    }
    if (m->n_raw_training_info) {
        c->raw_training_info = calloc(m->n_raw_training_info, sizeof *c->raw_training_info);
        if (!c->raw_training_info) goto nomem;
        c->n_raw_training_info = m->n_raw_training_info;
        for (size_t i = 0; i < m->n_raw_training_info; i++)
            if (kp_bytes_copy(&c->raw_training_info[i], &m->raw_training_info[i])) goto nomem;
    }
    return c;
nomem:
    kp_model_free(c);
    kp_error_set(err, KP_ENOMEM, "out of memory copying the model");
    return NULL;
}

int64_t kp_model_opset(const kp_model *m, const char *domain) {
    if (!m) return 0;
    int dflt = !domain || !*domain || !strcmp(domain, "ai.onnx");
    for (size_t i = 0; i < m->n_opsets; i++) {
        const char *d = m->opsets[i].domain;
        int is_dflt = !d || !*d || !strcmp(d, "ai.onnx");
        if (dflt ? is_dflt : (d && !strcmp(d, domain))) return m->opsets[i].version;
    }
    return 0;
}

/* ---- graphs --------------------------------------------------------------------------- */

kp_graph *kp_graph_new(kp_graph *parent) {
    kp_graph *g = calloc(1, sizeof *g);
    if (g) g->parent = parent;
    return g;
}

static void vi_array_free(kp_value_info *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) kp_value_info_clear(&v[i]);
    free(v);
}

void kp_graph_free(kp_graph *g) {
    if (!g) return;
    free(g->name);
    free(g->doc_string);
    for (size_t i = 0; g->nodes && i < g->n_nodes; i++) kp_node_free(g->nodes[i]);
    free(g->nodes);
    for (size_t i = 0; g->inits && i < g->n_inits; i++) kp_tensor_free(g->inits[i]);
    free(g->inits);
    for (size_t i = 0; g->sparse_inits && i < g->n_sparse_inits; i++)
        kp_sparse_tensor_free(g->sparse_inits[i]);
    free(g->sparse_inits);
    vi_array_free(g->inputs, g->n_inputs);
    vi_array_free(g->outputs, g->n_outputs);
    vi_array_free(g->value_info, g->n_value_info);
    for (size_t i = 0; g->raw_quant_annotations && i < g->n_raw_quant_annotations; i++)
        free(g->raw_quant_annotations[i].data);
    free(g->raw_quant_annotations);
    kp_graph_index_free(g->index);
    free(g->uniq_base);
    free(g);
}

static int vi_array_copy(kp_value_info **dst, size_t *dn, const kp_value_info *src, size_t n) {
    *dst = NULL;
    *dn = 0;
    if (!n) return 0;
    if (!(*dst = calloc(n, sizeof **dst))) return KP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (kp_value_info_copy(&(*dst)[i], &src[i])) return KP_ENOMEM;
        *dn = i + 1;
    }
    return 0;
}

kp_graph *kp_graph_clone(const kp_graph *g, kp_graph *parent, kp_error *err) {
    if (!g) {
        kp_error_set(err, KP_EINVAL, "no graph to copy");
        return NULL;
    }
    kp_graph *c = kp_graph_new(parent);
    if (!c) goto nomem;
    if (kp_strdup_into(&c->name, g->name) || kp_strdup_into(&c->doc_string, g->doc_string))
        goto nomem;
    if (g->n_nodes) {
        if (!(c->nodes = calloc(g->n_nodes, sizeof *c->nodes))) goto nomem;
        c->cap_nodes = g->n_nodes;
        for (size_t i = 0; i < g->n_nodes; i++) {
            if (!(c->nodes[i] = kp_node_clone(g->nodes[i], c))) goto nomem;
            c->n_nodes = i + 1;
        }
    }
    if (g->n_inits) {
        if (!(c->inits = calloc(g->n_inits, sizeof *c->inits))) goto nomem;
        for (size_t i = 0; i < g->n_inits; i++) {
            if (!(c->inits[i] = kp_tensor_clone(g->inits[i], NULL))) goto nomem;
            c->n_inits = i + 1;
        }
    }
    if (g->n_sparse_inits) {
        if (!(c->sparse_inits = calloc(g->n_sparse_inits, sizeof *c->sparse_inits))) goto nomem;
        for (size_t i = 0; i < g->n_sparse_inits; i++) {
            if (!(c->sparse_inits[i] = kp_sparse_tensor_clone(g->sparse_inits[i], NULL)))
                goto nomem;
            c->n_sparse_inits = i + 1;
        }
    }
    if (vi_array_copy(&c->inputs, &c->n_inputs, g->inputs, g->n_inputs) ||
        vi_array_copy(&c->outputs, &c->n_outputs, g->outputs, g->n_outputs) ||
        vi_array_copy(&c->value_info, &c->n_value_info, g->value_info, g->n_value_info))
        goto nomem;
    if (g->n_raw_quant_annotations) {
        c->raw_quant_annotations =
            calloc(g->n_raw_quant_annotations, sizeof *c->raw_quant_annotations);
        if (!c->raw_quant_annotations) goto nomem;
        c->n_raw_quant_annotations = g->n_raw_quant_annotations;
        for (size_t i = 0; i < g->n_raw_quant_annotations; i++)
            if (kp_bytes_copy(&c->raw_quant_annotations[i], &g->raw_quant_annotations[i]))
                goto nomem;
    }
    return c;
nomem:
    kp_graph_free(c);
    kp_error_set(err, KP_ENOMEM, "out of memory copying graph %s", g->name ? g->name : "");
    return NULL;
}

/* ---- nodes ---------------------------------------------------------------------------- */

kp_node *kp_node_new(const char *op_type, const char *name, size_t n_in, const char *const *in,
                     size_t n_out, const char *const *out) {
    if (!op_type) return NULL;
    kp_node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    if (!(n->op_type = kp_strdup(op_type)) || kp_strdup_into(&n->name, name)) goto fail;
    if (n_in) {
        if (!(n->inputs = calloc(n_in, sizeof *n->inputs))) goto fail;
        for (size_t i = 0; i < n_in; i++) {
            if (!(n->inputs[i] = kp_strdup(in && in[i] ? in[i] : ""))) goto fail;
            n->n_inputs = i + 1;
        }
    }
    if (n_out) {
        if (!(n->outputs = calloc(n_out, sizeof *n->outputs))) goto fail;
        for (size_t i = 0; i < n_out; i++) {
            if (!(n->outputs[i] = kp_strdup(out && out[i] ? out[i] : ""))) goto fail;
            n->n_outputs = i + 1;
        }
    }
    return n;
fail:
    kp_node_free(n);
    return NULL;
}

void kp_node_touch(kp_node *n) {
    if (!n) return;
    kp_tensor_free(n->const_cache);
    n->const_cache = NULL;
}

void kp_node_free(kp_node *n) {
    if (!n) return;
    free(n->name);
    free(n->op_type);
    free(n->domain);
    free(n->doc_string);
    for (size_t i = 0; n->inputs && i < n->n_inputs; i++) free(n->inputs[i]);
    free(n->inputs);
    for (size_t i = 0; n->outputs && i < n->n_outputs; i++) free(n->outputs[i]);
    free(n->outputs);
    for (size_t i = 0; n->attrs && i < n->n_attrs; i++) kp_attr_clear(&n->attrs[i]);
    free(n->attrs);
    kp_tensor_free(n->const_cache);
    free(n);
}

kp_node *kp_node_clone(const kp_node *n, kp_graph *new_parent) {
    if (!n) return NULL;
    kp_node *c = kp_node_new(n->op_type, n->name, n->n_inputs, (const char *const *)n->inputs,
                             n->n_outputs, (const char *const *)n->outputs);
    if (!c) return NULL;
    if (kp_strdup_into(&c->domain, n->domain) || kp_strdup_into(&c->doc_string, n->doc_string))
        goto fail;
    if (n->n_attrs) {
        if (!(c->attrs = calloc(n->n_attrs, sizeof *c->attrs))) goto fail;
        for (size_t i = 0; i < n->n_attrs; i++) {
            if (kp_attr_copy(&c->attrs[i], &n->attrs[i], new_parent)) goto fail;
            c->n_attrs = i + 1;
        }
    }
    return c;
fail:
    kp_node_free(c);
    return NULL;
}

int kp_node_is(const kp_node *n, const char *op_type) {
    if (!n || !n->op_type || !op_type) return 0;
    if (n->domain && *n->domain && strcmp(n->domain, "ai.onnx")) return 0;
    return !strcmp(n->op_type, op_type);
}

static int strv_set(char ***v, size_t *n, size_t i, const char *value) {
    if (i >= *n) {
        if (i >= SIZE_MAX / sizeof **v - 1) return KP_ERANGE;
        char **nv = realloc(*v, (i + 1) * sizeof *nv);
        if (!nv) return KP_ENOMEM;
        *v = nv;
        for (size_t k = *n; k <= i; k++) nv[k] = NULL;
        for (size_t k = *n; k <= i; k++) {
            if (!(nv[k] = kp_strdup(""))) {
                for (size_t j = *n; j < k; j++) free(nv[j]);
                return KP_ENOMEM;
            }
        }
        *n = i + 1;
    }
    char *d = kp_strdup(value ? value : "");
    if (!d) return KP_ENOMEM;
    free((*v)[i]);
    (*v)[i] = d;
    return 0;
}

int kp_node_set_input(kp_node *n, size_t i, const char *value) {
    if (!n) return KP_EINVAL;
    return strv_set(&n->inputs, &n->n_inputs, i, value);
}

int kp_node_set_output(kp_node *n, size_t i, const char *value) {
    if (!n) return KP_EINVAL;
    return strv_set(&n->outputs, &n->n_outputs, i, value);
}

const char *kp_node_input(const kp_node *n, size_t i) {
    if (!n || i >= n->n_inputs || !n->inputs[i] || !n->inputs[i][0]) return NULL;
    return n->inputs[i];
}

const char *kp_node_output(const kp_node *n, size_t i) {
    if (!n || i >= n->n_outputs || !n->outputs[i] || !n->outputs[i][0]) return NULL;
    return n->outputs[i];
}

/* ---- graph edits ---------------------------------------------------------------------- */

static void adopt_subgraphs(kp_node *n, kp_graph *g) {
    for (size_t i = 0; i < n->n_attrs; i++) {
        kp_attr *a = &n->attrs[i];
        if (a->g) a->g->parent = g;
        for (size_t k = 0; a->graphs && k < a->n; k++)
            if (a->graphs[k]) a->graphs[k]->parent = g;
    }
}

int kp_graph_insert_node(kp_graph *g, size_t pos, kp_node *n) {
    if (!g || !n || pos > g->n_nodes) {
        kp_node_free(n);
        return KP_EINVAL;
    }
    if (g->n_nodes == g->cap_nodes) {
        size_t cap = g->cap_nodes ? g->cap_nodes * 2 : 16;
        kp_node **nn = realloc(g->nodes, cap * sizeof *nn);
        if (!nn) {
            kp_node_free(n);
            return KP_ENOMEM;
        }
        g->nodes = nn;
        g->cap_nodes = cap;
    }
    memmove(&g->nodes[pos + 1], &g->nodes[pos], (g->n_nodes - pos) * sizeof *g->nodes);
    g->nodes[pos] = n;
    g->n_nodes++;
    adopt_subgraphs(n, g);
    kp_graph_touch(g);
    return 0;
}

int kp_graph_add_node(kp_graph *g, kp_node *n) {
    if (!g) {
        kp_node_free(n);
        return KP_EINVAL;
    }
    return kp_graph_insert_node(g, g->n_nodes, n);
}

void kp_graph_remove_node(kp_graph *g, size_t pos) {
    if (!g || pos >= g->n_nodes) return;
    kp_node_free(g->nodes[pos]);
    memmove(&g->nodes[pos], &g->nodes[pos + 1], (g->n_nodes - pos - 1) * sizeof *g->nodes);
    g->n_nodes--;
    kp_graph_touch(g);
}

void kp_graph_replace_node(kp_graph *g, size_t pos, kp_node *n) {
    if (!g || pos >= g->n_nodes || !n) {
        kp_node_free(n);
        return;
    }
    kp_node_free(g->nodes[pos]);
    g->nodes[pos] = n;
    adopt_subgraphs(n, g);
    kp_graph_touch(g);
}

int kp_graph_add_init(kp_graph *g, kp_tensor *t) {
    if (!g || !t || !t->name || !t->name[0]) {
        kp_tensor_free(t);
        return KP_EINVAL;
    }
    kp_tensor **ni = realloc(g->inits, (g->n_inits + 1) * sizeof *ni);
    if (!ni) {
        kp_tensor_free(t);
        return KP_ENOMEM;
    }
    g->inits = ni;
    ni[g->n_inits++] = t;
    kp_graph_touch(g);
    return 0;
}

int kp_graph_remove_init(kp_graph *g, const char *name) {
    if (!g || !name) return KP_EINVAL;
    for (size_t i = 0; i < g->n_inits; i++)
        if (g->inits[i]->name && !strcmp(g->inits[i]->name, name)) {
            kp_tensor_free(g->inits[i]);
            memmove(&g->inits[i], &g->inits[i + 1], (g->n_inits - i - 1) * sizeof *g->inits);
            g->n_inits--;
            kp_graph_touch(g);
            return 0;
        }
    return KP_ENOTFOUND;
}

/* ---- value types ---------------------------------------------------------------------- */

int kp_type_set_tensor(kp_type *t, kp_dtype elem, int rank, const int64_t *dims) {
    if (!t || rank < -1 || rank > KP_MAX_RANK) return KP_EINVAL;
    kp_dim *d = NULL;
    if (rank > 0 && !(d = calloc((size_t)rank, sizeof *d))) return KP_ENOMEM;
    for (int i = 0; i < rank; i++) d[i].value = dims && dims[i] >= 0 ? dims[i] : -1;
    kp_type_clear(t);
    t->kind = KP_TYPE_TENSOR;
    t->elem = elem;
    t->rank = rank;
    t->dims = d;
    return 0;
}

/* Type of a value declared in g itself (value_info first, then inputs, outputs). */
static const kp_type *declared_type(kp_graph *g, const char *name) {
    for (int which = 0; which < 3; which++) {
        kp_value_info *v = kp_graph_index_vi(g, name, which);
        if (v && v->type.kind != KP_TYPE_NONE) return &v->type;
    }
    return NULL;
}

const kp_type *kp_graph_value_type(kp_graph *g, const char *name) {
    if (!name || !*name) return NULL;
    for (kp_graph *s = g; s; s = s->parent) {
        const kp_type *t = declared_type(s, name);
        if (t) return t;
        if (kp_graph_init(s, name)) return kp_graph_index_init_type(s, name);
        /* A value produced in s shadows any of the same name further out. */
        if (kp_graph_producer(s, name, NULL)) return NULL;
    }
    return NULL;
}

int kp_graph_set_value_type(kp_graph *g, const char *name, const kp_type *t) {
    if (!g || !name || !t) return KP_EINVAL;
    kp_type copy;
    if (kp_type_copy(&copy, t)) return KP_ENOMEM;
    kp_value_info *v = kp_graph_index_vi(g, name, 0);
    if (v) {
        kp_type_clear(&v->type);
        v->type = copy;
        return 0;
    }
    /* Inputs and outputs keep their declared types in place. */
    kp_value_info *io = kp_graph_index_vi(g, name, 1);
    if (!io) io = kp_graph_index_vi(g, name, 2);
    if (io) {
        kp_type_clear(&io->type);
        io->type = copy;
        return 0;
    }
    char *nm = kp_strdup(name);
    int was_current = kp_graph_index_current(g);
    size_t old_n = g->n_value_info;
    /* Doubling, not one more each time: inference appends one per value, and a realloc that
     * copies every time (sanitizers) made a 600,000-node model's inference quadratic. */
    size_t cap = g->value_info && g->value_info == g->vi_buf && g->cap_value_info > old_n
                     ? g->cap_value_info
                     : old_n;
    kp_value_info *nv = g->value_info;
    if (old_n + 1 > cap) {
        cap = cap < 8 ? 8 : cap * 2;
        nv = nm && cap <= SIZE_MAX / sizeof *nv ? realloc(g->value_info, cap * sizeof *nv) : NULL;
    }
    if (!nm || !nv) {
        free(nm);
        kp_type_clear(&copy);
        return KP_ENOMEM;
    }
    g->value_info = g->vi_buf = nv;
    g->cap_value_info = cap;
    memset(&nv[old_n], 0, sizeof *nv);
    nv[old_n].name = nm;
    nv[old_n].type = copy;
    g->n_value_info = old_n + 1;
    kp_graph_index_vi_appended(g, was_current, old_n);
    return 0;
}
