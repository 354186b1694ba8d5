/* Packed int8 weights: kept per node in the executor's plan when the weights are plan
 * constants, else in a process-wide cache keyed by (node, index, tag) and validated by content
 * (see kp_i8_weights in int8_ops.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops/int8_ops.h"

/* ---- per-plan state: packed once, no check afterwards -------------------------------------- */

typedef struct plan_packs {
    size_t n;
    int64_t tag;
    unsigned char *done; /* n flags */
    kp_i8_packed *p;     /* n packings */
} plan_packs;

static void plan_packs_free(void *data) {
    plan_packs *s = data;
    if (!s) return;
    for (size_t i = 0; i < s->n; i++)
        if (s->done[i]) kp_i8_packed_free(&s->p[i]);
    free(s->done);
    free(s->p);
    free(s);
}

static const kp_i8_packed *from_state(kp_op_ctx *ctx, const kp_i8_want *w) {
    kp_op_state *st = ctx->state;
    plan_packs *s = st->data;
    if (s && (st->free != plan_packs_free || s->n != w->n || s->tag != w->tag)) {
        /* Another layout (cannot happen for constant weights, but never serve a wrong one). */
        if (st->free) st->free(st->data);
        st->data = NULL;
        st->free = NULL;
        s = NULL;
    }
    if (!s) {
        s = calloc(1, sizeof *s);
        if (s) {
            s->done = calloc(w->n + 1, 1);
            s->p = calloc(w->n + 1, sizeof *s->p);
        }
        if (!s || !s->done || !s->p) {
            if (s) free(s->done), free(s->p);
            free(s);
            kp_op_fail(ctx, KP_ENOMEM, "out of memory keeping int8 weights");
            return NULL;
        }
        s->n = w->n;
        s->tag = w->tag;
        st->data = s;
        st->free = plan_packs_free;
    }
    if (!s->done[w->idx]) {
        if (w->pack(w->user, &s->p[w->idx], ctx->err)) return NULL;
        s->done[w->idx] = 1;
    }
    return &s->p[w->idx];
}

/* ---- process-wide cache, revalidated by content ------------------------------------------- */

#define KP_I8_CACHE_MAX 512

typedef struct entry {
    const kp_node *node;
    size_t idx;
    int64_t tag;
    size_t bytes, bytes2;
    uint8_t *key; /* bytes + bytes2: what the packing was made from */
    kp_i8_packed packed;
} entry;

static entry *entries[KP_I8_CACHE_MAX];
static size_t n_entries;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void drop(entry *e) {
    if (!e) return;
    kp_i8_packed_free(&e->packed);
    free(e->key);
    free(e);
}

static int same(const entry *e, const kp_i8_want *w) {
    return e->bytes == w->bytes && e->bytes2 == w->bytes2 && !memcmp(e->key, w->key, w->bytes) &&
           (!w->bytes2 || !memcmp(e->key + w->bytes, w->key2, w->bytes2));
}

static const kp_i8_packed *from_cache(kp_op_ctx *ctx, const kp_i8_want *w) {
    pthread_mutex_lock(&lock);
    size_t at = n_entries;
    for (size_t i = 0; i < n_entries; i++)
        if (entries[i]->node == ctx->node && entries[i]->idx == w->idx &&
            entries[i]->tag == w->tag) {
            at = i;
            if (same(entries[i], w)) {
                pthread_mutex_unlock(&lock);
                return &entries[i]->packed;
            }
            break;
        }
    entry *e = calloc(1, sizeof *e);
    if (!e || !(e->key = malloc(w->bytes + w->bytes2 + 1))) {
        drop(e);
        pthread_mutex_unlock(&lock);
        kp_op_fail(ctx, KP_ENOMEM, "out of memory caching int8 weights");
        return NULL;
    }
    if (w->pack(w->user, &e->packed, ctx->err)) {
        drop(e);
        pthread_mutex_unlock(&lock);
        return NULL;
    }
    if (w->bytes) memcpy(e->key, w->key, w->bytes);
    if (w->bytes2) memcpy(e->key + w->bytes, w->key2, w->bytes2);
    e->node = ctx->node;
    e->idx = w->idx;
    e->tag = w->tag;
    e->bytes = w->bytes;
    e->bytes2 = w->bytes2;
    if (at < n_entries) {
        drop(entries[at]);
        entries[at] = e;
    } else {
        if (n_entries == KP_I8_CACHE_MAX) {
            /* Bounded: start over rather than grow without limit in a long session. */
            for (size_t i = 0; i < n_entries; i++) drop(entries[i]);
            n_entries = 0;
        }
        entries[n_entries++] = e;
    }
    pthread_mutex_unlock(&lock);
    return &e->packed;
}

const kp_i8_packed *kp_i8_weights(kp_op_ctx *ctx, const kp_i8_want *w) {
    if (w->idx >= w->n) {
        kp_op_fail(ctx, KP_EINVAL, "int8 weights: packing %zu of %zu", w->idx, w->n);
        return NULL;
    }
    if (ctx->state && w->inputs && (ctx->const_in & w->inputs) == w->inputs)
        return from_state(ctx, w);
    return from_cache(ctx, w);
}
