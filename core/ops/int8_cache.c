/* Cache of packed int8 weights keyed by (node, slot) and validated by content. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops/int8_ops.h"

#define KP_I8_CACHE_MAX 512

typedef struct entry {
    const kp_node *node;
    int slot, b_signed, trans_b;
    int64_t K, N, ldb;
    size_t bytes, n_zb;
    void *copy;  /* the weight bytes the packing was made from */
    uint8_t *zb; /* n_zb zero-point bytes */
    kp_i8_packed packed;
} entry;

static entry *entries[KP_I8_CACHE_MAX];
static size_t n_entries;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void drop(entry *e) {
    if (!e) return;
    kp_i8_packed_free(&e->packed);
    free(e->copy);
    free(e->zb);
    free(e);
}

static int same(const entry *e, const void *B, size_t bytes, int b_signed, int trans_b, int64_t K,
                int64_t N, int64_t ldb, const void *zb, size_t n_zb) {
    return e->bytes == bytes && e->b_signed == b_signed && e->trans_b == trans_b && e->K == K &&
           e->N == N && e->ldb == ldb && e->n_zb == n_zb && (!n_zb || !memcmp(e->zb, zb, n_zb)) &&
           !memcmp(e->copy, B, bytes);
}

const kp_i8_packed *kp_i8_cache_get(const kp_node *node, int slot, const void *B, size_t bytes,
                                    int b_signed, int trans_b, int64_t K, int64_t N, int64_t ldb,
                                    const void *zb, size_t n_zb, kp_error *err) {
    pthread_mutex_lock(&lock);
    entry *hit = NULL;
    size_t at = n_entries;
    for (size_t i = 0; i < n_entries; i++)
        if (entries[i]->node == node && entries[i]->slot == slot) {
            at = i;
            if (same(entries[i], B, bytes, b_signed, trans_b, K, N, ldb, zb, n_zb))
                hit = entries[i];
            break;
        }
    if (hit) {
        pthread_mutex_unlock(&lock);
        return &hit->packed;
    }
    entry *e = calloc(1, sizeof *e);
    if (!e || !(e->copy = malloc(bytes ? bytes : 1)) || !(e->zb = malloc(n_zb ? n_zb : 1))) {
        drop(e);
        pthread_mutex_unlock(&lock);
        kp_error_set(err, KP_ENOMEM, "out of memory caching int8 weights");
        return NULL;
    }
    int rc = kp_i8_pack(B, b_signed, trans_b, K, N, ldb, zb, n_zb, &e->packed, err);
    if (rc) {
        drop(e);
        pthread_mutex_unlock(&lock);
        return NULL;
    }
    memcpy(e->copy, B, bytes);
    if (n_zb) memcpy(e->zb, zb, n_zb);
    e->node = node;
    e->slot = slot;
    e->b_signed = b_signed;
    e->trans_b = trans_b;
    e->K = K;
    e->N = N;
    e->ldb = ldb;
    e->bytes = bytes;
    e->n_zb = n_zb;
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
