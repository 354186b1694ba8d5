/* Private to the executor (core/exec*.c): the per-graph run plan and the buffer pool. */
#ifndef KP_EXEC_INTERNAL_H
#define KP_EXEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/exec.h"
#include "core/ops/ops.h"

/* String -> int map (open addressing); keys are borrowed. */
typedef struct kp_smap {
    const char **keys;
    int *vals;
    size_t cap, n;
} kp_smap;

int kp_smap_put(kp_smap *m, const char *key, int val); /* 0 or KP_ENOMEM; replaces */
int kp_smap_get(const kp_smap *m, const char *key);    /* -1 if absent */
void kp_smap_clear(kp_smap *m);

/* Free buffers kept between runs, best-fit reuse. */
typedef struct kp_pool_block {
    void *p;
    size_t cap;
} kp_pool_block;

typedef struct kp_pool {
    kp_pool_block *free;
    size_t n_free, cap_free;
    size_t live, peak; /* bytes of live activations */
} kp_pool;

void *kp_pool_get(kp_pool *p, size_t bytes, size_t *cap); /* NULL on no memory */
void kp_pool_put(kp_pool *p, void *block, size_t cap);    /* block NULL: no-op */
void kp_pool_clear(kp_pool *p);

/* Bump arena for kernel scratch; reset after every kernel. */
typedef struct kp_arena {
    void **chunks;
    size_t *sizes;
    size_t n, cap;
    size_t used;      /* in the last chunk */
    size_t total_hwm; /* most bytes handed out within one kernel call */
    size_t cur_total;
} kp_arena;

void *kp_arena_get(kp_arena *a, size_t bytes);
void kp_arena_reset(kp_arena *a);
void kp_arena_clear(kp_arena *a);

/* Free names: values that g (and graphs nested in it) read but do not define. Adds them to
 * out (val 0). */
int kp_graph_free_names(const kp_graph *g, kp_smap *out);

#endif
