/* Executor building blocks: a string map, the buffer pool, the scratch arena, free names. */
#include <stdlib.h>
#include <string.h>

#include "core/exec_internal.h"

/* ---- string map ---------------------------------------------------------------------------- */

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int smap_grow(kp_smap *m) {
    size_t nc = m->cap ? m->cap * 2 : 64;
    const char **nk = calloc(nc, sizeof *nk);
    int *nv = malloc(nc * sizeof *nv);
    if (!nk || !nv) {
        free(nk);
        free(nv);
        return KP_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t j = hash_str(m->keys[i]) & (nc - 1);
        while (nk[j]) j = (j + 1) & (nc - 1);
        nk[j] = m->keys[i];
        nv[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = nk;
    m->vals = nv;
    m->cap = nc;
    return 0;
}

int kp_smap_put(kp_smap *m, const char *key, int val) {
    if ((m->n + 1) * 2 > m->cap && smap_grow(m) < 0) return KP_ENOMEM;
    size_t j = hash_str(key) & (m->cap - 1);
    while (m->keys[j]) {
        if (!strcmp(m->keys[j], key)) {
            m->vals[j] = val;
            return 0;
        }
        j = (j + 1) & (m->cap - 1);
    }
    m->keys[j] = key;
    m->vals[j] = val;
    m->n++;
    return 0;
}

int kp_smap_get(const kp_smap *m, const char *key) {
    if (!m->cap || !key) return -1;
    size_t j = hash_str(key) & (m->cap - 1);
    while (m->keys[j]) {
        if (!strcmp(m->keys[j], key)) return m->vals[j];
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

void kp_smap_clear(kp_smap *m) {
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ---- pool ---------------------------------------------------------------------------------- */

#define ALIGN 64

static size_t round_up(size_t n) {
    return (n + ALIGN - 1) / ALIGN * ALIGN;
}

void *kp_pool_get(kp_pool *p, size_t bytes, size_t *cap) {
    size_t need = round_up(bytes ? bytes : 1);
    size_t best = (size_t)-1;
    /* Best fit, but never a block more than twice too large: a small value holding a big
     * block would force the next big value to allocate fresh (cold) memory. */
    size_t limit = need > SIZE_MAX / 2 ? SIZE_MAX : 2 * need + 4096;
    for (size_t i = 0; i < p->n_free; i++)
        if (p->free[i].cap >= need && p->free[i].cap <= limit &&
            (best == (size_t)-1 || p->free[i].cap < p->free[best].cap))
            best = i;
    if (best != (size_t)-1) {
        void *b = p->free[best].p;
        *cap = p->free[best].cap;
        p->free[best] = p->free[--p->n_free];
        return b;
    }
    void *b = aligned_alloc(ALIGN, need);
    if (!b) {
        /* Give the cached blocks back to the system and try once more. */
        kp_pool_clear(p);
        b = aligned_alloc(ALIGN, need);
        if (!b) return NULL;
    }
    *cap = need;
    return b;
}

void kp_pool_put(kp_pool *p, void *block, size_t cap) {
    if (!block) return;
    if (p->n_free == p->cap_free) {
        size_t nc = p->cap_free ? p->cap_free * 2 : 32;
        kp_pool_block *nf = realloc(p->free, nc * sizeof *nf);
        if (!nf) {
            free(block);
            return;
        }
        p->free = nf;
        p->cap_free = nc;
    }
    p->free[p->n_free].p = block;
    p->free[p->n_free].cap = cap;
    p->n_free++;
}

void kp_pool_clear(kp_pool *p) {
    for (size_t i = 0; i < p->n_free; i++) free(p->free[i].p);
    p->n_free = 0;
}

/* ---- arena --------------------------------------------------------------------------------- */

void *kp_arena_get(kp_arena *a, size_t bytes) {
    size_t need = round_up(bytes ? bytes : 1);
    if (a->n && a->used + need <= a->sizes[a->n - 1]) {
        void *r = (char *)a->chunks[a->n - 1] + a->used;
        a->used += need;
        a->cur_total += need;
        return r;
    }
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 4;
        void **nch = realloc(a->chunks, nc * sizeof *nch);
        if (!nch) return NULL;
        a->chunks = nch;
        size_t *ns = realloc(a->sizes, nc * sizeof *ns);
        if (!ns) return NULL;
        a->sizes = ns;
        a->cap = nc;
    }
    size_t sz = need < ((size_t)1 << 16) ? ((size_t)1 << 16) : need;
    void *c = aligned_alloc(ALIGN, sz);
    if (!c) return NULL;
    a->chunks[a->n] = c;
    a->sizes[a->n] = sz;
    a->n++;
    a->used = need;
    a->cur_total += need;
    return c;
}

void kp_arena_reset(kp_arena *a) {
    if (a->cur_total > a->total_hwm) a->total_hwm = a->cur_total;
    a->cur_total = 0;
    if (a->n > 1) {
        /* Several chunks were needed: replace them by one that fits next time. */
        for (size_t i = 0; i < a->n; i++) free(a->chunks[i]);
        a->n = 0;
        size_t sz = round_up(a->total_hwm);
        void *c = aligned_alloc(ALIGN, sz);
        if (c) {
            a->chunks[0] = c;
            a->sizes[0] = sz;
            a->n = 1;
        }
    }
    a->used = 0;
}

void kp_arena_clear(kp_arena *a) {
    for (size_t i = 0; i < a->n; i++) free(a->chunks[i]);
    free(a->chunks);
    free(a->sizes);
    memset(a, 0, sizeof *a);
}

/* ---- free names ---------------------------------------------------------------------------- */

int kp_graph_free_names(const kp_graph *g, kp_smap *out) {
    kp_smap def = {0};
    int rc = 0;
    for (size_t i = 0; i < g->n_inputs && !rc; i++)
        if (g->inputs[i].name) rc = kp_smap_put(&def, g->inputs[i].name, 1);
    for (size_t i = 0; i < g->n_inits && !rc; i++)
        if (g->inits[i]->name) rc = kp_smap_put(&def, g->inits[i]->name, 1);
    for (size_t i = 0; i < g->n_sparse_inits && !rc; i++)
        if (g->sparse_inits[i]->values && g->sparse_inits[i]->values->name)
            rc = kp_smap_put(&def, g->sparse_inits[i]->values->name, 1);
    for (size_t k = 0; k < g->n_nodes && !rc; k++)
        for (size_t o = 0; o < g->nodes[k]->n_outputs && !rc; o++)
            if (g->nodes[k]->outputs[o][0]) rc = kp_smap_put(&def, g->nodes[k]->outputs[o], 1);
    for (size_t k = 0; k < g->n_nodes && !rc; k++) {
        const kp_node *n = g->nodes[k];
        for (size_t i = 0; i < n->n_inputs && !rc; i++)
            if (n->inputs[i][0] && kp_smap_get(&def, n->inputs[i]) < 0)
                rc = kp_smap_put(out, n->inputs[i], 0);
        for (size_t a = 0; a < n->n_attrs && !rc; a++) {
            const kp_attr *at = &n->attrs[a];
            kp_smap sub = {0};
            if (at->type == KP_ATTR_GRAPH && at->g) rc = kp_graph_free_names(at->g, &sub);
            if (at->type == KP_ATTR_GRAPHS)
                for (size_t j = 0; j < at->n && !rc; j++)
                    if (at->graphs[j]) rc = kp_graph_free_names(at->graphs[j], &sub);
            for (size_t j = 0; j < sub.cap && !rc; j++)
                if (sub.keys[j] && kp_smap_get(&def, sub.keys[j]) < 0)
                    rc = kp_smap_put(out, sub.keys[j], 0);
            kp_smap_clear(&sub);
        }
    }
    for (size_t i = 0; i < g->n_outputs && !rc; i++)
        if (g->outputs[i].name && g->outputs[i].name[0] &&
            kp_smap_get(&def, g->outputs[i].name) < 0)
            rc = kp_smap_put(out, g->outputs[i].name, 0);
    kp_smap_clear(&def);
    return rc;
}
