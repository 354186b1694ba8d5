/* NonMaxSuppression (opsets 10-11): per batch and class, boxes scoring above score_threshold
 * are taken greedily by descending score (ties: lower index first); a box is dropped when its
 * IoU with an already selected one exceeds iou_threshold; at most max_output_boxes_per_class
 * per class. Output [selected, 3] int64 (batch, class, box). */
#include <stdlib.h>
#include <string.h>

#include "core/ops/args.h"
#include "core/ops/elem.h"
#include "core/ops/extra.h"

typedef struct cand {
    float score;
    int64_t i;
} cand;

static int cmp_cand(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Box i as (y1, x1, y2, x2) with y1 <= y2, x1 <= x2. */
static void corners(const float *b, int center, float *c) {
    if (center) {
        c[0] = b[1] - b[3] / 2;
        c[1] = b[0] - b[2] / 2;
        c[2] = b[1] + b[3] / 2;
        c[3] = b[0] + b[2] / 2;
    } else {
        c[0] = b[0] < b[2] ? b[0] : b[2];
        c[2] = b[0] < b[2] ? b[2] : b[0];
        c[1] = b[1] < b[3] ? b[1] : b[3];
        c[3] = b[1] < b[3] ? b[3] : b[1];
    }
}

static float iou(const float *a, const float *b) {
    float y1 = a[0] > b[0] ? a[0] : b[0], x1 = a[1] > b[1] ? a[1] : b[1];
    float y2 = a[2] < b[2] ? a[2] : b[2], x2 = a[3] < b[3] ? a[3] : b[3];
    float ih = y2 - y1, iw = x2 - x1;
    if (ih <= 0 || iw <= 0) return 0;
    float inter = ih * iw;
    float ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    return ua > 0 ? inter / ua : 0;
}

int kp_op_nms(kp_op_ctx *ctx) {
    const kp_tensor *boxes = kp_op_input(ctx, 0), *scores = kp_op_input(ctx, 1);
    if (!boxes || !scores || boxes->dtype != KP_FLOAT || scores->dtype != KP_FLOAT)
        return kp_op_fail(ctx, KP_EINVAL, "needs float32 boxes and scores");
    if (boxes->rank != 3 || boxes->dims[2] != 4 || scores->rank != 3 ||
        scores->dims[0] != boxes->dims[0] || scores->dims[2] != boxes->dims[1])
        return kp_op_fail(ctx, KP_EINVAL, "boxes must be [B, N, 4] and scores [B, C, N]");
    int64_t max_out = 0;
    double iou_t = 0, score_t = 0;
    int has_score_t = 0, rc;
    if (kp_op_input(ctx, 2) &&
        (rc = kp_args_scalar_i(ctx, kp_op_input(ctx, 2), "max_output_boxes_per_class", &max_out)))
        return rc;
    if (kp_op_input(ctx, 3) &&
        (rc = kp_args_scalar_d(ctx, kp_op_input(ctx, 3), "iou_threshold", &iou_t)))
        return rc;
    if (kp_op_input(ctx, 4)) {
        if ((rc = kp_args_scalar_d(ctx, kp_op_input(ctx, 4), "score_threshold", &score_t)))
            return rc;
        has_score_t = 1;
    }
    int center = (int)kp_node_attr_int(ctx->node, "center_point_box", 0);
    int64_t B = boxes->dims[0], N = boxes->dims[1], C = scores->dims[1];
    if (max_out < 0) max_out = 0;
    if (max_out > N) max_out = N;
    size_t cap = (size_t)(B * C * max_out);
    int64_t *sel = malloc((cap ? cap : 1) * 3 * sizeof *sel);
    cand *cs = malloc((size_t)(N ? N : 1) * sizeof *cs);
    float *cb = malloc((size_t)(N ? N : 1) * 4 * sizeof *cb);
    int64_t *picked = malloc((size_t)(max_out ? max_out : 1) * sizeof *picked);
    if (!sel || !cs || !cb || !picked) {
        free(sel), free(cs), free(cb), free(picked);
        return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
    }
    const float *bx = boxes->data, *sc = scores->data;
    int64_t ns = 0;
    for (int64_t b = 0; b < B; b++) {
        for (int64_t i = 0; i < N; i++) corners(bx + (b * N + i) * 4, center, cb + i * 4);
        for (int64_t c = 0; c < C && max_out > 0; c++) {
            int64_t nc = 0;
            for (int64_t i = 0; i < N; i++) {
                float s = sc[(b * C + c) * N + i];
                if (has_score_t && !(s > score_t)) continue;
                cs[nc].score = s;
                cs[nc].i = i;
                nc++;
            }
            qsort(cs, (size_t)nc, sizeof *cs, cmp_cand);
            int64_t np = 0;
            for (int64_t k = 0; k < nc && np < max_out; k++) {
                int keep = 1;
                for (int64_t q = 0; q < np && keep; q++)
                    if (iou(cb + cs[k].i * 4, cb + picked[q] * 4) > iou_t) keep = 0;
                if (!keep) continue;
                picked[np++] = cs[k].i;
                sel[ns * 3] = b;
                sel[ns * 3 + 1] = c;
                sel[ns * 3 + 2] = cs[k].i;
                ns++;
            }
        }
    }
    int64_t od[2] = {ns, 3};
    kp_tensor *o = kp_op_output(ctx, 0, KP_INT64, 2, od);
    if (o && ns) memcpy(o->data, sel, (size_t)ns * 3 * sizeof *sel);
    free(sel), free(cs), free(cb), free(picked);
    return o ? 0 : (ctx->err->code ? ctx->err->code : KP_ENOMEM);
}
