/* The op table: every family's table, merged once into one array sorted by (domain, op_type).
 * Adding a family: declare it here and add it to `families`. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops/ops.h"

// clang-format off
#define FAMILIES(X) \
    X(elementwise) X(unary) X(reduce) X(shape) X(index) X(conv) X(gemm) X(pool) X(norm) \
    X(rnn) X(resize) X(control) X(quant) X(misc)
// clang-format on

#define DECLARE(f) extern const kp_op_def kp_ops_##f[];
FAMILIES(DECLARE)
#undef DECLARE

#define LIST(f) kp_ops_##f,
static const kp_op_def *const families[] = {FAMILIES(LIST)};
#undef LIST

static const kp_op_def **sorted;
static size_t n_sorted;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static const char *dom(const char *d) {
    return (!d || !strcmp(d, "ai.onnx")) ? "" : d;
}

static int cmp_def(const void *a, const void *b) {
    const kp_op_def *x = *(const kp_op_def *const *)a, *y = *(const kp_op_def *const *)b;
    int c = strcmp(dom(x->domain), dom(y->domain));
    return c ? c : strcmp(x->op_type, y->op_type);
}

static void build(void) {
    size_t n = 0;
    for (size_t f = 0; f < sizeof families / sizeof *families; f++)
        for (const kp_op_def *d = families[f]; d->op_type; d++) n++;
    sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted) return;
    for (size_t f = 0; f < sizeof families / sizeof *families; f++)
        for (const kp_op_def *d = families[f]; d->op_type; d++) sorted[n_sorted++] = d;
    qsort(sorted, n_sorted, sizeof *sorted, cmp_def);
}

const kp_op_def *const *kp_ops_all(size_t *n) {
    pthread_once(&once, build);
    *n = n_sorted;
    return (const kp_op_def *const *)sorted;
}

const kp_op_def *kp_ops_find(const char *domain, const char *op_type) {
    size_t n;
    const kp_op_def *const *all = kp_ops_all(&n);
    kp_op_def key = {dom(domain), op_type, NULL};
    const kp_op_def *kp = &key;
    const kp_op_def *const *hit = bsearch(&kp, all, n, sizeof *all, cmp_def);
    return hit ? *hit : NULL;
}
