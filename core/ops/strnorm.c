/* StringNormalizer (opset 10): drops stopwords (case-sensitive or ASCII case-insensitive) from
 * a [C] or [1, C] string tensor, then changes case (LOWER, UPPER, NONE; ASCII). When every
 * string is dropped the output holds one empty string ([1] or [1, 1]). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops/extra.h"

static int same(const kp_bytes *a, const kp_bytes *b, int case_sensitive) {
    if (a->len != b->len) return 0;
    for (size_t i = 0; i < a->len; i++) {
        int x = a->data[i], y = b->data[i];
        if (!case_sensitive) x = tolower(x), y = tolower(y);
        if (x != y) return 0;
    }
    return 1;
}

int kp_op_string_normalizer(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x || x->dtype != KP_STRING)
        return kp_op_fail(ctx, KP_EINVAL, "input must be a string tensor");
    if (!(x->rank == 1 || (x->rank == 2 && x->dims[0] == 1)))
        return kp_op_fail(ctx, KP_EINVAL, "input must be [C] or [1, C]");
    const char *act = kp_node_attr_string(ctx->node, "case_change_action", "NONE");
    int mode = !strcmp(act, "LOWER") ? 1 : !strcmp(act, "UPPER") ? 2 : 0;
    if (!mode && strcmp(act, "NONE"))
        return kp_op_fail(ctx, KP_EINVAL, "unknown case_change_action \"%s\"", act);
    int cs = (int)kp_node_attr_int(ctx->node, "is_case_sensitive", 0);
    const kp_attr *sw = kp_node_attr(ctx->node, "stopwords");
    size_t nsw = sw && sw->type == KP_ATTR_STRINGS ? sw->n : 0;
    int64_t c = x->numel, kept = 0;
    unsigned char *keep = malloc((size_t)(c ? c : 1));
    if (!keep) return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
    for (int64_t i = 0; i < c; i++) {
        keep[i] = 1;
        for (size_t k = 0; k < nsw && keep[i]; k++)
            if (same(&x->strings[i], &sw->strings[k], cs)) keep[i] = 0;
        kept += keep[i];
    }
    int64_t od[2];
    if (x->rank == 1)
        od[0] = kept ? kept : 1;
    else
        od[0] = 1, od[1] = kept ? kept : 1;
    kp_tensor *o = kp_op_output(ctx, 0, KP_STRING, x->rank, od);
    if (!o) {
        free(keep);
        return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    }
    if (!kept) { /* the single empty string gets a buffer too: consumers may memcmp it */
        uint8_t *p = malloc(1);
        if (!p) {
            free(keep);
            return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
        }
        free(o->strings[0].data);
        o->strings[0].data = p;
        o->strings[0].len = 0;
    }
    int64_t j = 0;
    for (int64_t i = 0; i < c; i++) {
        if (!keep[i]) continue;
        size_t len = x->strings[i].len;
        uint8_t *p = malloc(len ? len : 1);
        if (!p) {
            free(keep);
            return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
        }
        for (size_t k = 0; k < len; k++) {
            int ch = x->strings[i].data[k];
            p[k] = (uint8_t)(mode == 1 ? tolower(ch) : mode == 2 ? toupper(ch) : ch);
        }
        free(o->strings[j].data);
        o->strings[j].data = p;
        o->strings[j].len = len;
        j++;
    }
    free(keep);
    return 0;
}
