/* Attributes, types, value infos and sparse tensors: copy, clear, get, set. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "core/graph_util.h"

/* ---- types and value infos ------------------------------------------------------------ */

void kp_type_clear(kp_type *t) {
    if (!t) return;
    for (int i = 0; t->dims && i < t->rank; i++) {
        free(t->dims[i].param);
        free(t->dims[i].denotation);
    }
    free(t->dims);
    free(t->denotation);
    free(t->raw.data);
    memset(t, 0, sizeof *t);
    t->rank = -1;
}

int kp_bytes_copy(kp_bytes *dst, const kp_bytes *src) {
    dst->len = 0;
    dst->data = NULL;
    if (!src || !src->len) return 0;
    if (src->len == SIZE_MAX || !(dst->data = malloc(src->len + 1))) return KP_ENOMEM;
    memcpy(dst->data, src->data, src->len);
    dst->data[src->len] = 0;
    dst->len = src->len;
    return 0;
}

int kp_type_copy(kp_type *dst, const kp_type *src) {
    memset(dst, 0, sizeof *dst);
    dst->rank = -1;
    if (!src) return 0;
    dst->kind = src->kind;
    dst->elem = src->elem;
    dst->rank = src->rank;
    if (src->rank > 0) {
        dst->dims = calloc((size_t)src->rank, sizeof *dst->dims);
        if (!dst->dims) goto nomem;
        for (int i = 0; i < src->rank; i++) {
            dst->dims[i].value = src->dims[i].value;
            if (kp_strdup_into(&dst->dims[i].param, src->dims[i].param) ||
                kp_strdup_into(&dst->dims[i].denotation, src->dims[i].denotation))
                goto nomem;
        }
    }
    if (kp_strdup_into(&dst->denotation, src->denotation) || kp_bytes_copy(&dst->raw, &src->raw))
        goto nomem;
    return 0;
nomem:
    kp_type_clear(dst);
    return KP_ENOMEM;
}

void kp_value_info_clear(kp_value_info *v) {
    if (!v) return;
    free(v->name);
    free(v->doc_string);
    kp_type_clear(&v->type);
    v->name = v->doc_string = NULL;
}

int kp_value_info_copy(kp_value_info *dst, const kp_value_info *src) {
    memset(dst, 0, sizeof *dst);
    dst->type.rank = -1;
    if (kp_strdup_into(&dst->name, src->name) ||
        kp_strdup_into(&dst->doc_string, src->doc_string) || kp_type_copy(&dst->type, &src->type)) {
        kp_value_info_clear(dst);
        return KP_ENOMEM;
    }
    return 0;
}

/* ---- sparse tensors ------------------------------------------------------------------- */

void kp_sparse_tensor_free(kp_sparse_tensor *s) {
    if (!s) return;
    kp_tensor_free(s->values);
    kp_tensor_free(s->indices);
    free(s);
}

kp_sparse_tensor *kp_sparse_tensor_clone(const kp_sparse_tensor *s, kp_error *err) {
    kp_sparse_tensor *c = calloc(1, sizeof *c);
    if (!c) {
        kp_error_set(err, KP_ENOMEM, "out of memory copying a sparse tensor");
        return NULL;
    }
    c->rank = s->rank;
    memcpy(c->dims, s->dims, sizeof c->dims);
    if ((s->values && !(c->values = kp_tensor_clone(s->values, err))) ||
        (s->indices && !(c->indices = kp_tensor_clone(s->indices, err)))) {
        kp_sparse_tensor_free(c);
        return NULL;
    }
    return c;
}

/* ---- attributes ----------------------------------------------------------------------- */

void kp_attr_clear(kp_attr *a) {
    if (!a) return;
    free(a->name);
    free(a->doc_string);
    free(a->ref_attr_name);
    free(a->s.data);
    kp_tensor_free(a->t);
    kp_graph_free(a->g);
    kp_sparse_tensor_free(a->sparse);
    if (a->tp) {
        kp_type_clear(a->tp);
        free(a->tp);
    }
    free(a->floats);
    free(a->ints);
    if (a->strings)
        for (size_t i = 0; i < a->n; i++) free(a->strings[i].data);
    free(a->strings);
    if (a->tensors)
        for (size_t i = 0; i < a->n; i++) kp_tensor_free(a->tensors[i]);
    free(a->tensors);
    if (a->graphs)
        for (size_t i = 0; i < a->n; i++) kp_graph_free(a->graphs[i]);
    free(a->graphs);
    if (a->sparses)
        for (size_t i = 0; i < a->n; i++) kp_sparse_tensor_free(a->sparses[i]);
    free(a->sparses);
    if (a->tps)
        for (size_t i = 0; i < a->n; i++) kp_type_clear(&a->tps[i]);
    free(a->tps);
    memset(a, 0, sizeof *a);
}

int kp_attr_copy(kp_attr *dst, const kp_attr *src, kp_graph *parent) {
    memset(dst, 0, sizeof *dst);
    dst->type = src->type;
    dst->f = src->f;
    dst->i = src->i;
    if (kp_strdup_into(&dst->name, src->name) ||
        kp_strdup_into(&dst->doc_string, src->doc_string) ||
        kp_strdup_into(&dst->ref_attr_name, src->ref_attr_name) || kp_bytes_copy(&dst->s, &src->s))
        goto nomem;
    if (src->t && !(dst->t = kp_tensor_clone(src->t, NULL))) goto nomem;
    if (src->g && !(dst->g = kp_graph_clone(src->g, parent, NULL))) goto nomem;
    if (src->sparse && !(dst->sparse = kp_sparse_tensor_clone(src->sparse, NULL))) goto nomem;
    if (src->tp) {
        dst->tp = malloc(sizeof *dst->tp);
        if (!dst->tp) goto nomem;
        if (kp_type_copy(dst->tp, src->tp)) {
            free(dst->tp);
            dst->tp = NULL;
            goto nomem;
        }
    }
    size_t n = src->n;
    if (n) {
        /* The list arrays are filled element by element so a failure part-way leaves only
         * fully initialized entries (n is set first; the rest are zeroed by calloc). */
        dst->n = n;
        if (src->floats) {
            if (!(dst->floats = malloc(n * sizeof *dst->floats))) goto nomem;
            memcpy(dst->floats, src->floats, n * sizeof *dst->floats);
        }
        if (src->ints) {
            if (!(dst->ints = malloc(n * sizeof *dst->ints))) goto nomem;
            memcpy(dst->ints, src->ints, n * sizeof *dst->ints);
        }
        if (src->strings) {
            if (!(dst->strings = calloc(n, sizeof *dst->strings))) goto nomem;
            for (size_t i = 0; i < n; i++)
                if (kp_bytes_copy(&dst->strings[i], &src->strings[i])) goto nomem;
        }
        if (src->tensors) {
            if (!(dst->tensors = calloc(n, sizeof *dst->tensors))) goto nomem;
            for (size_t i = 0; i < n; i++)
                if (src->tensors[i] && !(dst->tensors[i] = kp_tensor_clone(src->tensors[i], NULL)))
                    goto nomem;
        }
        if (src->graphs) {
            if (!(dst->graphs = calloc(n, sizeof *dst->graphs))) goto nomem;
            for (size_t i = 0; i < n; i++)
                if (src->graphs[i] &&
                    !(dst->graphs[i] = kp_graph_clone(src->graphs[i], parent, NULL)))
                    goto nomem;
        }
        if (src->sparses) {
            if (!(dst->sparses = calloc(n, sizeof *dst->sparses))) goto nomem;
            for (size_t i = 0; i < n; i++)
                if (src->sparses[i] &&
                    !(dst->sparses[i] = kp_sparse_tensor_clone(src->sparses[i], NULL)))
                    goto nomem;
        }
        if (src->tps) {
            if (!(dst->tps = calloc(n, sizeof *dst->tps))) goto nomem;
            for (size_t i = 0; i < n; i++) dst->tps[i].rank = -1;
            for (size_t i = 0; i < n; i++)
                if (kp_type_copy(&dst->tps[i], &src->tps[i])) goto nomem;
        }
    }
    return 0;
nomem:
    kp_attr_clear(dst);
    return KP_ENOMEM;
}

/* ---- node attribute access ------------------------------------------------------------ */

const kp_attr *kp_node_attr(const kp_node *n, const char *name) {
    if (!n || !name) return NULL;
    for (size_t i = 0; i < n->n_attrs; i++)
        if (n->attrs[i].name && !strcmp(n->attrs[i].name, name)) return &n->attrs[i];
    return NULL;
}

int64_t kp_node_attr_int(const kp_node *n, const char *name, int64_t dflt) {
    const kp_attr *a = kp_node_attr(n, name);
    return a && a->type == KP_ATTR_INT ? a->i : dflt;
}

float kp_node_attr_float(const kp_node *n, const char *name, float dflt) {
    const kp_attr *a = kp_node_attr(n, name);
    if (!a) return dflt;
    if (a->type == KP_ATTR_FLOAT) return a->f;
    if (a->type == KP_ATTR_INT) return (float)a->i;
    return dflt;
}

const char *kp_node_attr_string(const kp_node *n, const char *name, const char *dflt) {
    const kp_attr *a = kp_node_attr(n, name);
    if (!a || a->type != KP_ATTR_STRING) return dflt;
    if (!a->s.len) return "";
    /* Strings are stored with one hidden NUL byte after len (see kp_node_set_attr_string and the
     * loader); refuse strings holding a NUL so callers never see a truncated value. */
    if (memchr(a->s.data, 0, a->s.len)) return dflt;
    return (const char *)a->s.data;
}

size_t kp_node_attr_ints(const kp_node *n, const char *name, const int64_t **out) {
    const kp_attr *a = kp_node_attr(n, name);
    if (!a || a->type != KP_ATTR_INTS || !a->n) {
        if (out) *out = NULL;
        return 0;
    }
    if (out) *out = a->ints;
    return a->n;
}

size_t kp_node_attr_floats(const kp_node *n, const char *name, const float **out) {
    const kp_attr *a = kp_node_attr(n, name);
    if (!a || a->type != KP_ATTR_FLOATS || !a->n) {
        if (out) *out = NULL;
        return 0;
    }
    if (out) *out = a->floats;
    return a->n;
}

/* Returns the attribute slot for name, clearing an existing one or appending a new one. */
static kp_attr *attr_slot(kp_node *n, const char *name) {
    kp_node_touch(n);
    for (size_t i = 0; i < n->n_attrs; i++)
        if (n->attrs[i].name && !strcmp(n->attrs[i].name, name)) {
            kp_attr_clear(&n->attrs[i]);
            if (!(n->attrs[i].name = kp_strdup(name))) {
                /* drop the emptied slot so the node never holds an unnamed attribute */
                memmove(&n->attrs[i], &n->attrs[i + 1], (n->n_attrs - i - 1) * sizeof *n->attrs);
                n->n_attrs--;
                return NULL;
            }
            return &n->attrs[i];
        }
    kp_attr *na = realloc(n->attrs, (n->n_attrs + 1) * sizeof *na);
    if (!na) return NULL;
    n->attrs = na;
    kp_attr *a = &na[n->n_attrs];
    memset(a, 0, sizeof *a);
    if (!(a->name = kp_strdup(name))) return NULL;
    n->n_attrs++;
    return a;
}

int kp_node_set_attr_int(kp_node *n, const char *name, int64_t v) {
    if (!n || !name) return KP_EINVAL;
    kp_attr *a = attr_slot(n, name);
    if (!a) return KP_ENOMEM;
    a->type = KP_ATTR_INT;
    a->i = v;
    return 0;
}

int kp_node_set_attr_float(kp_node *n, const char *name, float v) {
    if (!n || !name) return KP_EINVAL;
    kp_attr *a = attr_slot(n, name);
    if (!a) return KP_ENOMEM;
    a->type = KP_ATTR_FLOAT;
    a->f = v;
    return 0;
}

int kp_node_set_attr_string(kp_node *n, const char *name, const char *v) {
    if (!n || !name || !v) return KP_EINVAL;
    size_t len = strlen(v);
    uint8_t *d = malloc(len + 1);
    if (!d) return KP_ENOMEM;
    memcpy(d, v, len + 1);
    kp_attr *a = attr_slot(n, name);
    if (!a) {
        free(d);
        return KP_ENOMEM;
    }
    a->type = KP_ATTR_STRING;
    a->s.data = d;
    a->s.len = len;
    return 0;
}

int kp_node_set_attr_ints(kp_node *n, const char *name, size_t count, const int64_t *v) {
    if (!n || !name || (count && !v)) return KP_EINVAL;
    int64_t *d = malloc(count ? count * sizeof *d : 1);
    if (!d) return KP_ENOMEM;
    if (count) memcpy(d, v, count * sizeof *d);
    kp_attr *a = attr_slot(n, name);
    if (!a) {
        free(d);
        return KP_ENOMEM;
    }
    a->type = KP_ATTR_INTS;
    a->ints = d;
    a->n = count;
    return 0;
}

int kp_node_set_attr_floats(kp_node *n, const char *name, size_t count, const float *v) {
    if (!n || !name || (count && !v)) return KP_EINVAL;
    float *d = malloc(count ? count * sizeof *d : 1);
    if (!d) return KP_ENOMEM;
    if (count) memcpy(d, v, count * sizeof *d);
    kp_attr *a = attr_slot(n, name);
    if (!a) {
        free(d);
        return KP_ENOMEM;
    }
    a->type = KP_ATTR_FLOATS;
    a->floats = d;
    a->n = count;
    return 0;
}

int kp_node_set_attr_tensor(kp_node *n, const char *name, kp_tensor *t) {
    if (!n || !name || !t) {
        kp_tensor_free(t);
        return KP_EINVAL;
    }
    kp_attr *a = attr_slot(n, name);
    if (!a) {
        kp_tensor_free(t);
        return KP_ENOMEM;
    }
    a->type = KP_ATTR_TENSOR;
    a->t = t;
    return 0;
}

int kp_node_set_attr_graph(kp_node *n, const char *name, kp_graph *g) {
    if (!n || !name || !g) {
        kp_graph_free(g);
        return KP_EINVAL;
    }
    kp_attr *a = attr_slot(n, name);
    if (!a) {
        kp_graph_free(g);
        return KP_ENOMEM;
    }
    a->type = KP_ATTR_GRAPH;
    a->g = g;
    return 0;
}

int kp_node_remove_attr(kp_node *n, const char *name) {
    if (!n || !name) return KP_EINVAL;
    for (size_t i = 0; i < n->n_attrs; i++)
        if (n->attrs[i].name && !strcmp(n->attrs[i].name, name)) {
            kp_node_touch(n);
            kp_attr_clear(&n->attrs[i]);
            memmove(&n->attrs[i], &n->attrs[i + 1], (n->n_attrs - i - 1) * sizeof *n->attrs);
            n->n_attrs--;
            return 0;
        }
    return KP_ENOTFOUND;
}
