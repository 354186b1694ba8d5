/* Cache of packed int8 weights keyed by (node, slot) and validated by content. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops/int8_ops.h"

#define KP_I8_CACHE_MAX 512

typedef struct entry {
    const kp_node *node;
    int slot;
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

static int same(const entry *e, const void *key, size_t bytes, const void *key2, size_t bytes2) {
    return e->bytes == bytes && e->bytes2 == bytes2 && !memcmp(e->key, key, bytes) &&
           (!bytes2 || !memcmp(e->key + bytes, key2, bytes2));
}

const kp_i8_packed *kp_i8_cache_get(const kp_node *node, int slot, const void *key, size_t bytes,
                                    const void *key2, size_t bytes2, kp_i8_pack_fn pack, void *user,
                                    kp_error *err) {
    pthread_mutex_lock(&lock);
    size_t at = n_entries;
    for (size_t i = 0; i < n_entries; i++)
        if (entries[i]->node == node && entries[i]->slot == slot) {
            at = i;
            if (same(entries[i], key, bytes, key2, bytes2)) {
                pthread_mutex_unlock(&lock);
                return &entries[i]->packed;
            }
            break;
        }
    entry *e = calloc(1, sizeof *e);
    if (!e || !(e->key = malloc(bytes + bytes2 + 1))) {
        drop(e);
        pthread_mutex_unlock(&lock);
        kp_error_set(err, KP_ENOMEM, "out of memory caching int8 weights");
        return NULL;
    }
    int rc = pack(user, &e->packed, err);
    if (rc) {
        drop(e);
        pthread_mutex_unlock(&lock);
        return NULL;
    }
    memcpy(e->key, key, bytes);
    if (bytes2) memcpy(e->key + bytes, key2, bytes2);
    e->node = node;
    e->slot = slot;
    e->bytes = bytes;
    e->bytes2 = bytes2;
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
