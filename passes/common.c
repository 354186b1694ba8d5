#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/common.h"

int kp_pass_each_graph(kp_graph *g, kp_graph_fn fn, void *user, kp_error *err) {
    int rc = fn(g, user, err);
    if (rc) return rc;
    for (size_t i = 0; i < g->n_nodes; i++) {
        kp_node *n = g->nodes[i];
        for (size_t a = 0; a < n->n_attrs; a++) {
            kp_attr *at = &n->attrs[a];
            if (at->type == KP_ATTR_GRAPH && at->g) {
                rc = kp_pass_each_graph(at->g, fn, user, err);
                if (rc) return rc;
            } else if (at->type == KP_ATTR_GRAPHS) {
                for (size_t k = 0; k < at->n; k++) {
                    if (!at->graphs[k]) continue;
                    rc = kp_pass_each_graph(at->graphs[k], fn, user, err);
                    if (rc) return rc;
                }
            }
        }
    }
    return 0;
}

void kp_pass_notef(const kp_pass_ctx *ctx, const char *fmt, ...) {
    if (!ctx || !ctx->note) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ctx->note(ctx->user, buf);
}

void kp_pass_progress(const kp_pass_ctx *ctx, double fraction, const char *what) {
    if (ctx && ctx->progress) ctx->progress(ctx->user, fraction, what);
}

int kp_pass_check_cancel(const kp_pass_ctx *ctx, kp_error *err) {
    if (ctx && ctx->cancel && *ctx->cancel)
        return kp_error_set(err, KP_ECANCELLED, "cancelled by the user");
    return 0;
}

const char *kp_node_label(const kp_node *n) {
    return (n->name && n->name[0]) ? n->name : n->op_type;
}

size_t kp_graph_node_pos(const kp_graph *g, const kp_node *n) {
    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i] == n) return i;
    return (size_t)-1;
}

kp_tensor *kp_pass_const_input(kp_graph *g, const kp_node *n, size_t i) {
    const char *v = kp_node_input(n, i);
    if (!v) return NULL;
    kp_tensor *t = kp_graph_find_const(g, v);
    if (!t || t->dtype != KP_FLOAT || (t->numel > 0 && !t->data)) return NULL;
    return t;
}

size_t kp_value_n_uses(kp_graph *g, const char *v) {
    return kp_graph_consumers(g, v, NULL, 0) + (kp_graph_is_output(g, v) ? 1 : 0);
}

int kp_pass_set_input_const(kp_graph *g, kp_node *n, size_t i, kp_tensor *t, const char *base,
                            kp_error *err) {
    char *name = kp_graph_unique_name(g, base && base[0] ? base : "w");
    if (!name || kp_tensor_set_name(t, name)) {
        free(name);
        kp_tensor_free(t);
        return kp_error_set(err, KP_ENOMEM, "out of memory naming a new weight");
    }
    int rc = kp_graph_add_init(g, t);
    if (rc) {
        kp_error_set(err, rc, "cannot add initializer %s", name);
        free(name);
        kp_tensor_free(t);
        return rc;
    }
    rc = kp_node_set_input(n, i, name);
    free(name);
    if (rc) return kp_error_set(err, rc, "cannot rewire %s", kp_node_label(n));
    kp_graph_touch(g);
    return 0;
}

static int is_weighted(const kp_node *n) {
    return kp_node_is(n, "Conv") || kp_node_is(n, "ConvTranspose") || kp_node_is(n, "Gemm") ||
           kp_node_is(n, "MatMul");
}

typedef struct wb_acc {
    size_t bytes;
} wb_acc;

static int wb_graph(kp_graph *g, void *user, kp_error *err) {
    (void)err;
    wb_acc *acc = user;
    for (size_t i = 0; i < g->n_nodes; i++) {
        if (!is_weighted(g->nodes[i])) continue;
        kp_tensor *w = kp_pass_const_input(g, g->nodes[i], 1);
        if (w) acc->bytes += w->nbytes;
    }
    return 0;
}

size_t kp_pass_weight_bytes(kp_model *m) {
    wb_acc acc = {0};
    kp_error err;
    kp_pass_each_graph(m->graph, wb_graph, &acc, &err);
    return acc.bytes;
}

typedef struct coll {
    int64_t min_numel;
    kp_wlayer *v;
    size_t n, cap;
} coll;

static int coll_graph(kp_graph *g, void *user, kp_error *err) {
    coll *c = user;
    for (size_t i = 0; i < g->n_nodes; i++) {
        kp_node *n = g->nodes[i];
        kp_layer_kind kind;
        if (kp_node_is(n, "Conv"))
            kind = KP_LAYER_CONV;
        else if (kp_node_is(n, "ConvTranspose"))
            kind = KP_LAYER_CONVT;
        else if (kp_node_is(n, "Gemm"))
            kind = KP_LAYER_GEMM;
        else if (kp_node_is(n, "MatMul"))
            kind = KP_LAYER_MATMUL;
        else
            continue;
        kp_tensor *w = kp_pass_const_input(g, n, 1);
        if (!w || w->numel < c->min_numel || w->numel == 0) continue;
        if (kind == KP_LAYER_MATMUL && w->rank != 2) continue;
        if (kind == KP_LAYER_GEMM && w->rank != 2) continue;
        if ((kind == KP_LAYER_CONV || kind == KP_LAYER_CONVT) && w->rank < 3) continue;
        int dup = 0;
        for (size_t k = 0; k < c->n; k++)
            if (c->v[k].w == w) dup = 1;
        if (dup) continue;
        if (c->n == c->cap) {
            size_t nc = c->cap ? 2 * c->cap : 16;
            kp_wlayer *nv = realloc(c->v, nc * sizeof *nv);
            if (!nv) return kp_error_set(err, KP_ENOMEM, "out of memory");
            c->v = nv;
            c->cap = nc;
        }
        c->v[c->n++] = (kp_wlayer){g, n, kp_node_input(n, 1), w, kind};
    }
    return 0;
}

int kp_pass_collect_layers(kp_model *m, int64_t min_numel, kp_wlayer **out, size_t *n,
                           kp_error *err) {
    coll c = {.min_numel = min_numel};
    int rc = kp_pass_each_graph(m->graph, coll_graph, &c, err);
    if (rc) {
        free(c.v);
        return rc;
    }
    *out = c.v;
    *n = c.n;
    return 0;
}

static int list_has(const char *list, const char *name) {
    if (!name || !name[0]) return 0;
    size_t ln = strlen(name);
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == ln && !strncmp(p, name, ln)) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

int kp_pass_layer_selected(const char *list, const kp_wlayer *l) {
    if (!list || !list[0]) return 1;
    return list_has(list, l->node->name) || list_has(list, l->wname);
}

#define CHMAP_PREFIX "kompress:channels:"

static kp_kv *chmap_find(const kp_model *m, const char *value) {
    size_t lp = strlen(CHMAP_PREFIX);
    for (size_t i = 0; i < m->n_props; i++) {
        const char *k = m->props[i].key;
        if (k && !strncmp(k, CHMAP_PREFIX, lp) && !strcmp(k + lp, value)) return &m->props[i];
    }
    return NULL;
}

int64_t *kp_pass_chmap_get(const kp_model *m, const char *value, size_t *n) {
    kp_kv *kv = chmap_find(m, value);
    *n = 0;
    if (!kv || !kv->value) return NULL;
    size_t cap = 1;
    for (const char *p = kv->value; *p; p++) cap += *p == ',';
    int64_t *v = malloc(cap * sizeof *v);
    if (!v) return NULL;
    const char *p = kv->value;
    while (*p) {
        char *e;
        long long x = strtoll(p, &e, 10);
        if (e == p || x < 0 || *n >= cap) {
            free(v);
            *n = 0;
            return NULL;
        }
        v[(*n)++] = x;
        p = *e == ',' ? e + 1 : e;
    }
    return v;
}

int kp_pass_chmap_set(kp_model *m, const char *value, const int64_t *idx, size_t n) {
    size_t len = 1;
    for (size_t i = 0; i < n; i++) len += 21;
    char *s = malloc(len), *key = malloc(strlen(CHMAP_PREFIX) + strlen(value) + 1);
    if (!s || !key) {
        free(s);
        free(key);
        return KP_ENOMEM;
    }
    size_t o = 0;
    s[0] = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(s + o, len - o, i ? ",%lld" : "%lld", (long long)idx[i]);
    sprintf(key, "%s%s", CHMAP_PREFIX, value);
    kp_kv *kv = chmap_find(m, value);
    if (kv) {
        free(kv->value);
        kv->value = s;
        free(key);
        return 0;
    }
    kp_kv *np = realloc(m->props, (m->n_props + 1) * sizeof *np);
    if (!np) {
        free(s);
        free(key);
        return KP_ENOMEM;
    }
    m->props = np;
    m->props[m->n_props].key = key;
    m->props[m->n_props].value = s;
    m->n_props++;
    return 0;
}
