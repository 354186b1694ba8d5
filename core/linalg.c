#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

#include "core/linalg.h"

int kp_linalg_svd(const float *a, int m, int n, float *u, float *s, float *vt, kp_error *err) {
    if (m <= 0 || n <= 0) return kp_error_set(err, KP_EINVAL, "svd: empty %dx%d matrix", m, n);
    float *work = malloc((size_t)m * (size_t)n * sizeof *work);
    if (!work) return kp_error_set(err, KP_ENOMEM, "svd: out of memory for %dx%d", m, n);
    memcpy(work, a, (size_t)m * (size_t)n * sizeof *work);
    int r = m < n ? m : n;
    lapack_int info = LAPACKE_sgesdd(LAPACK_ROW_MAJOR, 'S', m, n, work, n, s, u, r, vt, n);
    free(work);
    if (info != 0)
        return kp_error_set(err, KP_EINVAL, "svd of a %dx%d matrix did not converge (info %d)", m,
                            n, (int)info);
    return 0;
}

int kp_linalg_solve_spd(double *a, int n, double *b, int k, double ridge, kp_error *err) {
    if (n <= 0 || k <= 0) return kp_error_set(err, KP_EINVAL, "solve: empty system");
    double tr = 0;
    for (int i = 0; i < n; i++) tr += a[(size_t)i * n + i];
    double lam = ridge * (tr > 0 ? tr / n : 1.0);
    if (lam <= 0) lam = 1e-12;
    for (int i = 0; i < n; i++) a[(size_t)i * n + i] += lam;
    lapack_int info = LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', n, k, a, n, b, k);
    if (info != 0)
        return kp_error_set(err, KP_EINVAL,
                            "least squares: %dx%d system is singular (info %d); more "
                            "calibration data or a larger ridge is needed",
                            n, n, (int)info);
    return 0;
}
