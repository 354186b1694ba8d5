/* Det: determinant of [..., M, M] by LU decomposition with partial pivoting, in double. */
#include <math.h>
#include <stdlib.h>

#include "core/ops/elem.h"
#include "core/ops/extra.h"

int kp_op_det(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x || kp_elem_kind_of(x->dtype) != KP_EK_FLOAT)
        return kp_op_fail(ctx, KP_EINVAL, "needs one floating-point input");
    if (x->rank < 2 || x->dims[x->rank - 1] != x->dims[x->rank - 2])
        return kp_op_fail(ctx, KP_EINVAL, "input must be [..., M, M]");
    int64_t m = x->dims[x->rank - 1];
    if (m > 4096) return kp_op_fail(ctx, KP_ERANGE, "matrix of %lld is too large", (long long)m);
    kp_tensor *o = kp_op_output(ctx, 0, x->dtype, x->rank - 2, x->dims);
    if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    double *a = malloc((size_t)(m > 0 ? m * m : 1) * sizeof *a);
    if (!a) return kp_op_fail(ctx, KP_ENOMEM, "out of memory");
    for (int64_t k = 0; k < o->numel; k++) {
        for (int64_t i = 0; i < m * m; i++) a[i] = kp_elem_getd(x->data, x->dtype, k * m * m + i);
        double det = 1;
        for (int64_t c = 0; c < m; c++) {
            int64_t p = c;
            for (int64_t r = c + 1; r < m; r++)
                if (fabs(a[r * m + c]) > fabs(a[p * m + c])) p = r;
            if (a[p * m + c] == 0) {
                det = 0;
                break;
            }
            if (p != c) {
                for (int64_t j = 0; j < m; j++) {
                    double t = a[c * m + j];
                    a[c * m + j] = a[p * m + j];
                    a[p * m + j] = t;
                }
                det = -det;
            }
            det *= a[c * m + c];
            for (int64_t r = c + 1; r < m; r++) {
                double f = a[r * m + c] / a[c * m + c];
                for (int64_t j = c; j < m; j++) a[r * m + j] -= f * a[c * m + j];
            }
        }
        kp_elem_setd(o->data, o->dtype, k, det);
    }
    free(a);
    return 0;
}
