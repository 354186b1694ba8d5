/* TfIdfVectorizer (opset 9): counts the pool's n-grams (lengths min..max_gram_length, tokens
 * taken every skip + 1 positions for skip 0..max_skip_count; unigrams once) in each row of an
 * int32/int64/string input [C] or [N, C]; mode TF (counts), IDF (weight if present) or TFIDF
 * (count * weight). Output float [num] or [N, num], num = max(ngram_indexes) + 1. */
#include <stdlib.h>
#include <string.h>

#include "core/ops/elem.h"
#include "core/ops/extra.h"

typedef struct tfidf {
    const kp_tensor *x;
    const int64_t *pool_i;  /* integer pool, or */
    const kp_bytes *pool_s; /* string pool */
    size_t pool_n;
} tfidf;

/* Token k of the input equals pool item p. */
static int tok_eq(const tfidf *t, int64_t k, size_t p) {
    if (t->pool_s) {
        const kp_bytes *a = &t->x->strings[k], *b = &t->pool_s[p];
        return a->len == b->len && (!a->len || !memcmp(a->data, b->data, a->len));
    }
    return kp_elem_geti(t->x->data, t->x->dtype, k) == t->pool_i[p];
}

int kp_op_tfidf(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x || (x->dtype != KP_INT32 && x->dtype != KP_INT64 && x->dtype != KP_STRING))
        return kp_op_fail(ctx, KP_EINVAL, "input must be int32, int64 or string");
    if (x->rank != 1 && x->rank != 2) return kp_op_fail(ctx, KP_EINVAL, "input must be 1-D or 2-D");
    const kp_node *nd = ctx->node;
    int64_t minn = kp_node_attr_int(nd, "min_gram_length", 0),
            maxn = kp_node_attr_int(nd, "max_gram_length", 0),
            maxskip = kp_node_attr_int(nd, "max_skip_count", 0);
    const char *ms = kp_node_attr_string(nd, "mode", "");
    int mode = !strcmp(ms, "TF") ? 0 : !strcmp(ms, "IDF") ? 1 : !strcmp(ms, "TFIDF") ? 2 : -1;
    const int64_t *counts, *indexes;
    size_t ncounts = kp_node_attr_ints(nd, "ngram_counts", &counts);
    size_t nidx = kp_node_attr_ints(nd, "ngram_indexes", &indexes);
    const float *weights;
    size_t nw = kp_node_attr_floats(nd, "weights", &weights);
    tfidf t = {x, NULL, NULL, 0};
    const kp_attr *ps = kp_node_attr(nd, "pool_strings");
    if (ps && ps->type == KP_ATTR_STRINGS) {
        t.pool_s = ps->strings;
        t.pool_n = ps->n;
    } else
        t.pool_n = kp_node_attr_ints(nd, "pool_int64s", &t.pool_i);
    if ((x->dtype == KP_STRING) != (t.pool_s != NULL))
        return kp_op_fail(ctx, KP_EINVAL, "pool type does not match the input type");
    if (mode < 0 || minn < 1 || maxn < minn || maxn > 64 || maxskip < 0 || maxskip > 1 << 20 ||
        ncounts < (size_t)maxn || (nw && nw != nidx))
        return kp_op_fail(ctx, KP_EINVAL, "invalid n-gram attributes");
    int64_t num = 0;
    for (size_t i = 0; i < nidx; i++) {
        if (indexes[i] < 0 || indexes[i] > KP_MAX_NUMEL)
            return kp_op_fail(ctx, KP_EINVAL, "ngram_indexes entry %lld", (long long)indexes[i]);
        if (indexes[i] + 1 > num) num = indexes[i] + 1;
    }
    int64_t rows = x->rank == 2 ? x->dims[0] : 1, c = x->dims[x->rank - 1];
    int64_t od[2] = {rows, num};
    kp_tensor *o = x->rank == 2 ? kp_op_output(ctx, 0, KP_FLOAT, 2, od)
                                : kp_op_output(ctx, 0, KP_FLOAT, 1, &num);
    if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    float *out = o->data;
    for (int64_t i = 0; i < o->numel; i++) out[i] = 0;
    for (int64_t n = minn; n <= maxn; n++) {
        /* pool items [start, end) hold n-grams of length n, n items each; gram g is entry
         * (start / n ... ) of ngram_indexes counted over all lengths in pool order */
        size_t start = (size_t)counts[n - 1],
               end = (size_t)n < ncounts ? (size_t)counts[n] : t.pool_n;
        if (start > end || end > t.pool_n || (end - start) % (size_t)n)
            return kp_op_fail(ctx, KP_EINVAL, "ngram_counts do not fit the pool");
        size_t gram0 = 0; /* index of the first gram of length n among all grams */
        for (int64_t k = 1; k < n; k++) {
            size_t s0 = (size_t)counts[k - 1], e0 = (size_t)counts[k];
            if (e0 < s0) return kp_op_fail(ctx, KP_EINVAL, "ngram_counts must not decrease");
            gram0 += (e0 - s0) / (size_t)k;
        }
        size_t ngr = (end - start) / (size_t)n;
        if (gram0 + ngr > nidx) return kp_op_fail(ctx, KP_EINVAL, "ngram_indexes too short");
        for (int64_t r = 0; r < rows; r++)
            for (int64_t skip = 0; skip <= (n == 1 ? 0 : maxskip); skip++)
                for (int64_t p = 0; p + (n - 1) * (skip + 1) < c; p++)
                    for (size_t g = 0; g < ngr; g++) {
                        int hit = 1;
                        for (int64_t q = 0; q < n && hit; q++)
                            hit = tok_eq(&t, r * c + p + q * (skip + 1),
                                         start + g * (size_t)n + (size_t)q);
                        if (hit) out[r * num + indexes[gram0 + g]] += 1;
                    }
        if (mode)
            for (int64_t r = 0; r < rows; r++)
                for (size_t g = 0; g < ngr; g++) {
                    float *v = &out[r * num + indexes[gram0 + g]];
                    float w = nw ? weights[gram0 + g] : 1.0f;
                    if (mode == 1)
                        *v = *v > 0 ? w : 0;
                    else
                        *v *= w;
                }
    }
    return 0;
}
