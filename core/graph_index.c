/* The name index of a graph (value name -> producer, initializer, consumers, output flag) and
 * the lookups built on it, plus outer-scope reads of subgraphs. */
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "core/graph_util.h"

/* Deepest nesting of subgraphs we follow; deeper models are refused by validate. */
#define MAX_DEPTH 64

/* ---- a string set (borrowed keys), used while the graph is not mutated ------------------ */

typedef struct strset {
    size_t cap, n; /* cap is a power of two */
    const char **keys;
} strset;

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int set_grow(strset *s) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    const char **k = calloc(cap, sizeof *k);
    if (!k) return KP_ENOMEM;
    for (size_t i = 0; i < s->cap; i++)
        if (s->keys[i]) {
            size_t j = hash_str(s->keys[i]) & (cap - 1);
            while (k[j]) j = (j + 1) & (cap - 1);
            k[j] = s->keys[i];
        }
    free(s->keys);
    s->keys = k;
    s->cap = cap;
    return 0;
}

static int set_has(const strset *s, const char *key) {
    if (!s->cap || !key) return 0;
    for (size_t j = hash_str(key) & (s->cap - 1); s->keys[j]; j = (j + 1) & (s->cap - 1))
        if (!strcmp(s->keys[j], key)) return 1;
    return 0;
}

/* Adds key; returns 1 if added, 0 if present, negative on no memory. Empty names ignored. */
static int set_add(strset *s, const char *key) {
    if (!key || !*key) return 0;
    if (set_has(s, key)) return 0;
    if ((s->n + 1) * 2 > s->cap && set_grow(s)) return KP_ENOMEM;
    size_t j = hash_str(key) & (s->cap - 1);
    while (s->keys[j]) j = (j + 1) & (s->cap - 1);
    s->keys[j] = key;
    s->n++;
    return 1;
}

static void set_free(strset *s) {
    free(s->keys);
    memset(s, 0, sizeof *s);
}

/* ---- outer-scope reads -------------------------------------------------------------------- */

/* Names defined inside g itself: inputs, initializers, sparse initializers, node outputs. */
static int defined_in(const kp_graph *g, strset *def) {
    for (size_t i = 0; i < g->n_inputs; i++)
        if (set_add(def, g->inputs[i].name) < 0) return KP_ENOMEM;
    for (size_t i = 0; i < g->n_inits; i++)
        if (set_add(def, g->inits[i]->name) < 0) return KP_ENOMEM;
    for (size_t i = 0; i < g->n_sparse_inits; i++)
        if (g->sparse_inits[i]->values && set_add(def, g->sparse_inits[i]->values->name) < 0)
            return KP_ENOMEM;
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t k = 0; k < g->nodes[i]->n_outputs; k++)
            if (set_add(def, g->nodes[i]->outputs[k]) < 0) return KP_ENOMEM;
    return 0;
}

static int free_vars(const kp_graph *g, strset *out, int depth);

/* Adds to `out` the outer-scope names read by the subgraphs of node n. */
static int node_sub_reads(const kp_node *n, strset *out, int depth) {
    for (size_t a = 0; a < n->n_attrs; a++) {
        const kp_attr *at = &n->attrs[a];
        if (at->g) {
            int rc = free_vars(at->g, out, depth + 1);
            if (rc) return rc;
        }
        for (size_t k = 0; at->graphs && k < at->n; k++)
            if (at->graphs[k]) {
                int rc = free_vars(at->graphs[k], out, depth + 1);
                if (rc) return rc;
            }
    }
    return 0;
}

/* Adds to `out` the names g reads without defining them (outer-scope reads), subgraphs
 * included. Keys are borrowed from g. */
static int free_vars(const kp_graph *g, strset *out, int depth) {
    if (depth > MAX_DEPTH) return KP_ERANGE;
    strset def = {0}, sub = {0};
    int rc = defined_in(g, &def);
    for (size_t i = 0; !rc && i < g->n_nodes; i++) {
        const kp_node *n = g->nodes[i];
        for (size_t k = 0; !rc && k < n->n_inputs; k++)
            if (n->inputs[k][0] && !set_has(&def, n->inputs[k]) && set_add(out, n->inputs[k]) < 0)
                rc = KP_ENOMEM;
        if (!rc) rc = node_sub_reads(n, &sub, depth);
    }
    for (size_t i = 0; !rc && i < sub.cap; i++)
        if (sub.keys[i] && !set_has(&def, sub.keys[i]) && set_add(out, sub.keys[i]) < 0)
            rc = KP_ENOMEM;
    for (size_t i = 0; !rc && i < g->n_outputs; i++)
        if (g->outputs[i].name && !set_has(&def, g->outputs[i].name) &&
            set_add(out, g->outputs[i].name) < 0)
            rc = KP_ENOMEM;
    set_free(&def);
    set_free(&sub);
    return rc;
}

static int set_to_strv(const strset *s, char ***names, size_t *n) {
    *names = NULL;
    *n = 0;
    if (!s->n) return 0;
    char **v = calloc(s->n, sizeof *v);
    if (!v) return KP_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < s->cap; i++)
        if (s->keys[i]) {
            if (!(v[k] = kp_strdup(s->keys[i]))) {
                for (size_t j = 0; j < k; j++) free(v[j]);
                free(v);
                return KP_ENOMEM;
            }
            k++;
        }
    *names = v;
    *n = k;
    return 0;
}

int kp_graph_outer_reads(const kp_graph *g, char ***names, size_t *n, kp_error *err) {
    strset s = {0};
    int rc = free_vars(g, &s, 0);
    if (!rc) rc = set_to_strv(&s, names, n);
    set_free(&s);
    if (rc == KP_ERANGE)
        return kp_error_set(err, rc, "subgraphs are nested more than %d deep", MAX_DEPTH);
    if (rc) return kp_error_set(err, rc, "out of memory listing outer-scope reads");
    return 0;
}

int kp_node_outer_reads(const kp_node *n, char ***names, size_t *count, kp_error *err) {
    strset s = {0};
    int rc = node_sub_reads(n, &s, 0);
    if (!rc) rc = set_to_strv(&s, names, count);
    set_free(&s);
    if (rc == KP_ERANGE)
        return kp_error_set(err, rc, "subgraphs of node %s are nested more than %d deep",
                            n->name ? n->name : n->op_type, MAX_DEPTH);
    if (rc) return kp_error_set(err, rc, "out of memory listing outer-scope reads");
    return 0;
}

/* ---- the index ---------------------------------------------------------------------------- */

typedef struct entry {
    char *name;              /* owned copy */
    kp_node *producer;       /* first producer in g */
    size_t prod_pos;         /* its position */
    kp_tensor *init;         /* initializer of that name */
    size_t n_cons, cap_cons; /* consumer node positions, ascending, unique */
    size_t *cons;
    kp_type *init_type; /* made on demand */
    int is_output;
    size_t init_pos;                   /* position of init */
    size_t vi_pos1, in_pos1, out_pos1; /* 1 + position in value_info / inputs / outputs, 0 none */
    int node_name;                     /* some node of g has this name */
} entry;

typedef struct kp_index {
    /* to notice direct array edits that forgot kp_graph_touch */
    size_t n_nodes, n_inits, n_value_info, n_inputs, n_outputs;
    kp_node **nodes;
    kp_tensor **inits;
    kp_value_info *value_info, *inputs, *outputs;
    size_t n, cap; /* entries */
    entry *ent;
    size_t tcap; /* table: entry index + 1, 0 = empty; power of two */
    size_t *table;
    kp_graph **subs; /* subgraphs held by the nodes' attributes */
    size_t n_subs, cap_subs;
} kp_index;

void kp_graph_index_free(void *p) {
    kp_index *x = p;
    if (!x) return;
    for (size_t i = 0; i < x->n; i++) {
        free(x->ent[i].name);
        free(x->ent[i].cons);
        if (x->ent[i].init_type) {
            kp_type_clear(x->ent[i].init_type);
            free(x->ent[i].init_type);
        }
    }
    free(x->ent);
    free(x->table);
    free(x->subs);
    free(x);
}

void kp_graph_touch(kp_graph *g) {
    for (; g; g = g->parent) {
        kp_graph_index_free(g->index);
        g->index = NULL;
    }
}

static entry *idx_find(const kp_index *x, const char *name) {
    if (!x->tcap || !name) return NULL;
    for (size_t j = hash_str(name) & (x->tcap - 1); x->table[j]; j = (j + 1) & (x->tcap - 1))
        if (!strcmp(x->ent[x->table[j] - 1].name, name)) return &x->ent[x->table[j] - 1];
    return NULL;
}

static int idx_rehash(kp_index *x) {
    size_t cap = x->tcap ? x->tcap * 2 : 64;
    size_t *t = calloc(cap, sizeof *t);
    if (!t) return KP_ENOMEM;
    for (size_t i = 0; i < x->n; i++) {
        size_t j = hash_str(x->ent[i].name) & (cap - 1);
        while (t[j]) j = (j + 1) & (cap - 1);
        t[j] = i + 1;
    }
    free(x->table);
    x->table = t;
    x->tcap = cap;
    return 0;
}

static entry *idx_get(kp_index *x, const char *name) {
    entry *e = idx_find(x, name);
    if (e) return e;
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 64;
        entry *ne = realloc(x->ent, cap * sizeof *ne);
        if (!ne) return NULL;
        x->ent = ne;
        x->cap = cap;
    }
    if ((x->n + 1) * 2 > x->tcap && idx_rehash(x)) return NULL;
    e = &x->ent[x->n];
    memset(e, 0, sizeof *e);
    if (!(e->name = kp_strdup(name))) return NULL;
    size_t j = hash_str(name) & (x->tcap - 1);
    while (x->table[j]) j = (j + 1) & (x->tcap - 1);
    x->table[j] = ++x->n;
    return e;
}

static int add_consumer(entry *e, size_t pos) {
    if (e->n_cons && e->cons[e->n_cons - 1] == pos) return 0;
    if (e->n_cons == e->cap_cons) {
        size_t cap = e->cap_cons ? e->cap_cons * 2 : 4;
        size_t *nc = realloc(e->cons, cap * sizeof *nc);
        if (!nc) return KP_ENOMEM;
        e->cons = nc;
        e->cap_cons = cap;
    }
    e->cons[e->n_cons++] = pos;
    return 0;
}

static int index_build(kp_graph *g, kp_index **out) {
    kp_index *x = calloc(1, sizeof *x);
    if (!x) return KP_ENOMEM;
    x->n_nodes = g->n_nodes;
    x->n_inits = g->n_inits;
    x->nodes = g->nodes;
    x->inits = g->inits;
    x->n_value_info = g->n_value_info;
    x->value_info = g->value_info;
    x->n_inputs = g->n_inputs;
    x->inputs = g->inputs;
    x->n_outputs = g->n_outputs;
    x->outputs = g->outputs;
    entry *e;
    for (size_t i = 0; i < g->n_inits; i++) {
        if (!g->inits[i]->name) continue;
        if (!(e = idx_get(x, g->inits[i]->name))) goto nomem;
        if (!e->init) {
            e->init = g->inits[i];
            e->init_pos = i;
        }
    }
    for (size_t i = 0; i < g->n_sparse_inits; i++) { /* known names, for unique names */
        const kp_tensor *v = g->sparse_inits[i]->values;
        if (v && v->name && !idx_get(x, v->name)) goto nomem;
    }
    for (size_t i = 0; i < g->n_value_info; i++) {
        if (!g->value_info[i].name) continue;
        if (!(e = idx_get(x, g->value_info[i].name))) goto nomem;
        if (!e->vi_pos1) e->vi_pos1 = i + 1;
    }
    for (size_t i = 0; i < g->n_inputs; i++) {
        if (!g->inputs[i].name) continue;
        if (!(e = idx_get(x, g->inputs[i].name))) goto nomem;
        if (!e->in_pos1) e->in_pos1 = i + 1;
    }
    for (size_t p = 0; p < g->n_nodes; p++) {
        kp_node *n = g->nodes[p];
        if (n->name && n->name[0]) {
            if (!(e = idx_get(x, n->name))) goto nomem;
            e->node_name = 1;
        }
        for (size_t a = 0; a < n->n_attrs; a++) {
            const kp_attr *at = &n->attrs[a];
            size_t cnt = (at->g ? 1 : 0) + (at->graphs ? at->n : 0);
            if (x->n_subs + cnt > x->cap_subs) {
                size_t cap = (x->cap_subs + cnt) * 2;
                kp_graph **ns = realloc(x->subs, cap * sizeof *ns);
                if (!ns) goto nomem;
                x->subs = ns;
                x->cap_subs = cap;
            }
            if (at->g) x->subs[x->n_subs++] = at->g;
            for (size_t k = 0; at->graphs && k < at->n; k++)
                if (at->graphs[k]) x->subs[x->n_subs++] = at->graphs[k];
        }
        for (size_t k = 0; k < n->n_outputs; k++) {
            if (!n->outputs[k][0]) continue;
            if (!(e = idx_get(x, n->outputs[k]))) goto nomem;
            if (!e->producer) {
                e->producer = n;
                e->prod_pos = p;
            }
        }
    }
    for (size_t p = 0; p < g->n_nodes; p++) {
        kp_node *n = g->nodes[p];
        for (size_t k = 0; k < n->n_inputs; k++) {
            if (!n->inputs[k][0]) continue;
            if (!(e = idx_get(x, n->inputs[k])) || add_consumer(e, p)) goto nomem;
        }
        strset sub = {0};
        int rc = node_sub_reads(n, &sub, 0);
        for (size_t i = 0; !rc && i < sub.cap; i++)
            if (sub.keys[i] && (!(e = idx_get(x, sub.keys[i])) || add_consumer(e, p)))
                rc = KP_ENOMEM;
        set_free(&sub);
        if (rc == KP_ENOMEM) goto nomem;
        /* too deep nesting: lookups stay best effort; validate reports it */
    }
    for (size_t i = 0; i < g->n_outputs; i++) {
        if (!g->outputs[i].name) continue;
        if (!(e = idx_get(x, g->outputs[i].name))) goto nomem;
        e->is_output = 1;
        if (!e->out_pos1) e->out_pos1 = i + 1;
    }
    *out = x;
    return 0;
nomem:
    kp_graph_index_free(x);
    return KP_ENOMEM;
}

int kp_graph_index(kp_graph *g, kp_error *err) {
    if (!g) return kp_error_set(err, KP_EINVAL, "no graph");
    kp_index *x = g->index;
    if (x && !kp_graph_index_current(g)) {
        kp_graph_index_free(x);
        g->index = x = NULL;
    }
    if (x) return 0;
    if (index_build(g, &x)) return kp_error_set(err, KP_ENOMEM, "out of memory indexing graph");
    g->index = x;
    return 0;
}

static entry *lookup(kp_graph *g, const char *name) {
    if (!g || !name || !*name || kp_graph_index(g, NULL)) return NULL;
    return idx_find(g->index, name);
}

kp_node *kp_graph_producer(kp_graph *g, const char *value, size_t *pos) {
    entry *e = lookup(g, value);
    if (!e || !e->producer) return NULL;
    if (pos) *pos = e->prod_pos;
    return e->producer;
}

size_t kp_graph_consumers(kp_graph *g, const char *value, kp_node **out, size_t cap) {
    entry *e = lookup(g, value);
    if (!e) return 0;
    for (size_t i = 0; out && i < e->n_cons && i < cap; i++) out[i] = g->nodes[e->cons[i]];
    return e->n_cons;
}

int kp_graph_is_output(const kp_graph *g, const char *value) {
    if (!g || !value) return 0;
    for (size_t i = 0; i < g->n_outputs; i++)
        if (g->outputs[i].name && !strcmp(g->outputs[i].name, value)) return 1;
    return 0;
}

kp_tensor *kp_graph_init(kp_graph *g, const char *name) {
    entry *e = lookup(g, name);
    return e ? e->init : NULL;
}

size_t kp_graph_consumer_pos(kp_graph *g, const char *value, const size_t **pos) {
    entry *e = lookup(g, value);
    *pos = e ? e->cons : NULL;
    return e ? e->n_cons : 0;
}

const kp_type *kp_graph_index_init_type(kp_graph *g, const char *name) {
    entry *e = lookup(g, name);
    if (!e || !e->init) return NULL;
    if (!e->init_type) {
        kp_type *t = calloc(1, sizeof *t);
        if (!t) return NULL;
        t->rank = -1;
        if (kp_type_set_tensor(t, e->init->dtype, e->init->rank, e->init->dims)) {
            free(t);
            return NULL;
        }
        e->init_type = t;
    }
    return e->init_type;
}

int kp_graph_init_pos(kp_graph *g, const char *name, size_t *pos) {
    entry *e = lookup(g, name);
    if (!e || !e->init) return 0;
    *pos = e->init_pos;
    return 1;
}

kp_value_info *kp_graph_index_vi(kp_graph *g, const char *name, int which) {
    entry *e = lookup(g, name);
    if (!e) return NULL;
    size_t p = which == 0 ? e->vi_pos1 : which == 1 ? e->in_pos1 : e->out_pos1;
    if (!p) return NULL;
    kp_value_info *arr = which == 0 ? g->value_info : which == 1 ? g->inputs : g->outputs;
    return &arr[p - 1];
}

int kp_graph_index_current(const kp_graph *g) {
    const kp_index *x = g->index;
    return x && x->n_nodes == g->n_nodes && x->n_inits == g->n_inits && x->nodes == g->nodes &&
           x->inits == g->inits && x->n_value_info == g->n_value_info &&
           x->value_info == g->value_info && x->n_inputs == g->n_inputs && x->inputs == g->inputs &&
           x->n_outputs == g->n_outputs && x->outputs == g->outputs;
}

void kp_graph_index_vi_appended(kp_graph *g, int was_current, size_t old_n) {
    kp_index *x = g->index;
    if (!x) return;
    entry *e = NULL;
    if (was_current && g->n_value_info == old_n + 1 && g->value_info[old_n].name)
        e = idx_get(x, g->value_info[old_n].name);
    if (!e) {
        kp_graph_touch(g);
        return;
    }
    x->value_info = g->value_info;
    x->n_value_info = g->n_value_info;
    if (!e->vi_pos1) e->vi_pos1 = old_n + 1;
}

int kp_graph_index_knows(kp_graph *g, const char *name) {
    return lookup(g, name) != NULL;
}

size_t kp_graph_index_subgraphs(kp_graph *g, kp_graph *const **subs) {
    if (!g || kp_graph_index(g, NULL)) {
        *subs = NULL;
        return 0;
    }
    kp_index *x = g->index;
    *subs = x->subs;
    return x->n_subs;
}
