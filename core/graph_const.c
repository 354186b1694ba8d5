/* Uniform access to constant tensors wherever they live: initializers, Constant nodes (value
 * tensor or value_float(s)/value_int(s)/value_string(s)/sparse_value) and, recursively, the
 * same inside If/Loop/Scan bodies. */
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "core/graph_util.h"

/* Constant-node attributes that hold the value, besides "value". */
static const char *const attr_kinds[] = {"value_float",  "value_floats", "value_int",
                                         "value_ints",   "value_string", "value_strings",
                                         "sparse_value", "value_sparse"};

static int is_constant(const kp_node *n) {
    return kp_node_is(n, "Constant") && n->n_outputs >= 1 && n->outputs[0][0];
}

static const kp_attr *value_attr(const kp_node *n, int *is_tensor) {
    const kp_attr *a = kp_node_attr(n, "value");
    if (a && a->type == KP_ATTR_TENSOR && a->t) {
        *is_tensor = 1;
        return a;
    }
    *is_tensor = 0;
    for (size_t i = 0; i < sizeof attr_kinds / sizeof *attr_kinds; i++)
        if ((a = kp_node_attr(n, attr_kinds[i]))) return a;
    return NULL;
}

static int copy_strings(kp_tensor *t, const kp_bytes *src, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (kp_bytes_copy(&t->strings[i], &src[i])) return KP_ENOMEM;
    return 0;
}

/* Dense tensor from a sparse one; indices are checked against the dense shape. */
static kp_tensor *densify(const kp_sparse_tensor *s, kp_error *err) {
    if (!s || !s->values || !s->indices) {
        kp_error_set(err, KP_EFORMAT, "sparse constant without values or indices");
        return NULL;
    }
    const kp_tensor *v = s->values, *ix = s->indices;
    if (v->dtype == KP_STRING || v->dtype == KP_INT4 || v->dtype == KP_UINT4 || v->rank != 1 ||
        ix->dtype != KP_INT64) {
        kp_error_set(err, KP_EUNSUPPORTED, "sparse constant of this layout is not supported");
        return NULL;
    }
    kp_tensor *t = kp_tensor_new(v->dtype, s->rank, s->dims, err);
    if (!t) return NULL;
    int64_t nnz = v->numel;
    size_t es = kp_dtype_size(v->dtype);
    int linear = ix->rank == 1 && ix->dims[0] == nnz;
    int coords = ix->rank == 2 && ix->dims[0] == nnz && ix->dims[1] == s->rank;
    if (!linear && !coords) goto bad;
    for (int64_t k = 0; k < nnz; k++) {
        int64_t off = 0;
        if (linear) {
            off = ((const int64_t *)ix->data)[k];
        } else {
            for (int d = 0; d < s->rank; d++) {
                int64_t c = ((const int64_t *)ix->data)[k * s->rank + d];
                if (c < 0 || c >= s->dims[d]) goto bad;
                off = off * s->dims[d] + c;
            }
        }
        if (off < 0 || off >= t->numel) goto bad;
        memcpy((char *)t->data + (size_t)off * es, (const char *)v->data + (size_t)k * es, es);
    }
    return t;
bad:
    kp_tensor_free(t);
    kp_error_set(err, KP_EFORMAT, "sparse constant has indices outside its shape");
    return NULL;
}

/* Makes (or reuses) the tensor view of a Constant node given by a value_* attribute. */
static kp_tensor *attr_view(kp_node *n, const kp_attr *a, kp_error *err) {
    if (n->const_cache) return n->const_cache;
    kp_tensor *t = NULL;
    int64_t len = (int64_t)a->n;
    const char *an = a->name;
    if (!strcmp(an, "value_float") && a->type == KP_ATTR_FLOAT) {
        if (!(t = kp_tensor_new(KP_FLOAT, 0, NULL, err))) return NULL;
        free(t->data);
        t->data = (void *)&a->f;
        t->borrowed = 1;
    } else if (!strcmp(an, "value_int") && a->type == KP_ATTR_INT) {
        if (!(t = kp_tensor_new(KP_INT64, 0, NULL, err))) return NULL;
        free(t->data);
        t->data = (void *)&a->i;
        t->borrowed = 1;
    } else if (!strcmp(an, "value_floats") && a->type == KP_ATTR_FLOATS) {
        if (!(t = kp_tensor_new(KP_FLOAT, 1, &len, err))) return NULL;
        free(t->data);
        t->data = len ? (void *)a->floats : NULL;
        t->borrowed = 1;
    } else if (!strcmp(an, "value_ints") && a->type == KP_ATTR_INTS) {
        if (!(t = kp_tensor_new(KP_INT64, 1, &len, err))) return NULL;
        free(t->data);
        t->data = len ? (void *)a->ints : NULL;
        t->borrowed = 1;
    } else if (!strcmp(an, "value_string") && a->type == KP_ATTR_STRING) {
        if (!(t = kp_tensor_new(KP_STRING, 0, NULL, err))) return NULL;
        if (copy_strings(t, &a->s, 1)) goto nomem;
    } else if (!strcmp(an, "value_strings") && a->type == KP_ATTR_STRINGS) {
        if (!(t = kp_tensor_new(KP_STRING, 1, &len, err))) return NULL;
        if (copy_strings(t, a->strings, a->n)) goto nomem;
    } else if (a->type == KP_ATTR_SPARSE_TENSOR) {
        if (!(t = densify(a->sparse, err))) return NULL;
    } else {
        kp_error_set(err, KP_EFORMAT, "Constant node %s: attribute %s has the wrong type",
                     n->name ? n->name : n->outputs[0], an);
        return NULL;
    }
    if (kp_tensor_set_name(t, n->outputs[0])) goto nomem;
    n->const_cache = t;
    return t;
nomem:
    kp_tensor_free(t);
    kp_error_set(err, KP_ENOMEM, "out of memory viewing a constant");
    return NULL;
}

/* The constant tensor of Constant node n, with its kind; NULL when n holds none. */
static kp_tensor *node_const(kp_node *n, kp_const_kind *kind, kp_error *err) {
    int is_tensor;
    const kp_attr *a = value_attr(n, &is_tensor);
    if (!a) {
        kp_error_set(err, KP_EFORMAT, "Constant node %s has no value attribute",
                     n->name ? n->name : n->outputs[0]);
        return NULL;
    }
    *kind = is_tensor ? KP_CONST_NODE : KP_CONST_NODE_ATTR;
    return is_tensor ? a->t : attr_view(n, a, err);
}

typedef struct refs {
    kp_const_ref *v;
    size_t n, cap;
} refs;

static int push(refs *r, kp_graph *g, kp_const_kind kind, size_t index, const char *name,
                kp_tensor *t) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        kp_const_ref *nv = realloc(r->v, cap * sizeof *nv);
        if (!nv) return KP_ENOMEM;
        r->v = nv;
        r->cap = cap;
    }
    r->v[r->n++] = (kp_const_ref){g, kind, index, name, t};
    return 0;
}

static int collect(kp_graph *g, int recurse, refs *r, int depth, kp_error *err) {
    if (depth > 64) return kp_error_set(err, KP_ERANGE, "subgraphs nested more than 64 deep");
    for (size_t i = 0; i < g->n_inits; i++)
        if (push(r, g, KP_CONST_INIT, i, g->inits[i]->name, g->inits[i])) goto nomem;
    for (size_t i = 0; i < g->n_nodes; i++) {
        kp_node *n = g->nodes[i];
        if (!is_constant(n)) continue;
        kp_const_kind kind;
        kp_tensor *t = node_const(n, &kind, err);
        if (!t) return err ? err->code : KP_EFORMAT;
        if (push(r, g, kind, i, n->outputs[0], t)) goto nomem;
    }
    if (!recurse) return 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        kp_node *n = g->nodes[i];
        for (size_t a = 0; a < n->n_attrs; a++) {
            kp_attr *at = &n->attrs[a];
            int rc = 0;
            if (at->g) rc = collect(at->g, 1, r, depth + 1, err);
            for (size_t k = 0; !rc && at->graphs && k < at->n; k++)
                if (at->graphs[k]) rc = collect(at->graphs[k], 1, r, depth + 1, err);
            if (rc) return rc;
        }
    }
    return 0;
nomem:
    return kp_error_set(err, KP_ENOMEM, "out of memory listing constants");
}

int kp_graph_consts(kp_graph *g, int recurse, kp_const_ref **out, size_t *n, kp_error *err) {
    *out = NULL;
    *n = 0;
    if (!g) return kp_error_set(err, KP_EINVAL, "no graph");
    refs r = {0};
    int rc = collect(g, recurse, &r, 0, err);
    if (rc) {
        free(r.v);
        return rc;
    }
    *out = r.v;
    *n = r.n;
    return 0;
}

/* Finds where the constant `name` visible from g lives. Returns 1 and fills *ref when found,
 * 0 when name is not a constant (or is shadowed by a non-constant). */
static int locate(kp_graph *g, const char *name, kp_const_ref *ref) {
    for (kp_graph *s = g; s; s = s->parent) {
        size_t pos;
        if (kp_graph_init_pos(s, name, &pos)) {
            *ref = (kp_const_ref){s, KP_CONST_INIT, pos, s->inits[pos]->name, s->inits[pos]};
            return 1;
        }
        kp_node *p = kp_graph_producer(s, name, &pos);
        if (p) {
            if (!is_constant(p) || strcmp(p->outputs[0], name)) return 0;
            kp_const_kind kind;
            kp_tensor *t = node_const(p, &kind, NULL);
            if (!t) return 0;
            *ref = (kp_const_ref){s, kind, pos, p->outputs[0], t};
            return 1;
        }
        if (kp_graph_index_vi(s, name, 1)) return 0;
    }
    return 0;
}

kp_tensor *kp_graph_find_const(kp_graph *g, const char *name) {
    kp_const_ref r;
    if (!g || !name || !*name || !locate(g, name, &r)) return NULL;
    return r.tensor;
}

int kp_graph_replace_const(kp_graph *g, kp_tensor *t, kp_error *err) {
    if (!g || !t || !t->name) {
        kp_tensor_free(t);
        return kp_error_set(err, KP_EINVAL, "replace_const needs a graph and a named tensor");
    }
    kp_const_ref r;
    if (!locate(g, t->name, &r)) {
        int rc = kp_error_set(err, KP_ENOTFOUND, "no constant named %s", t->name);
        kp_tensor_free(t);
        return rc;
    }
    if (r.kind == KP_CONST_INIT) {
        kp_tensor_free(r.graph->inits[r.index]);
        r.graph->inits[r.index] = t;
        kp_graph_touch(r.graph);
        return 0;
    }
    kp_node *n = r.graph->nodes[r.index];
    /* Constant's attribute tensor keeps the name it had (often none). */
    char *old_name = NULL;
    const kp_attr *va = kp_node_attr(n, "value");
    if (r.kind == KP_CONST_NODE && va && va->t && va->t->name &&
        !(old_name = kp_strdup(va->t->name))) {
        kp_tensor_free(t);
        return kp_error_set(err, KP_ENOMEM, "out of memory replacing constant");
    }
    free(t->name);
    t->name = old_name;
    for (size_t i = 0; i < sizeof attr_kinds / sizeof *attr_kinds; i++)
        kp_node_remove_attr(n, attr_kinds[i]);
    if (kp_node_set_attr_tensor(n, "value", t))
        return kp_error_set(err, KP_ENOMEM, "out of memory replacing constant");
    kp_node_touch(n);
    kp_graph_touch(r.graph);
    return 0;
}
