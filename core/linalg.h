/* Dense linear algebra for the structural passes, over LAPACKE (row-major). */
#ifndef KP_LINALG_H
#define KP_LINALG_H

#include "core/error.h"

/* Thin SVD of the m x n row-major matrix a: a = U diag(s) Vt with r = min(m, n).
 * u: m x r, s: r (descending), vt: r x n, all caller-allocated. a is not modified. */
int kp_linalg_svd(const float *a, int m, int n, float *u, float *s, float *vt, kp_error *err);

/* Solves (A + ridge * trace(A)/n * I) X = B for symmetric positive semi-definite A (n x n) and
 * B (n x k), both row-major doubles; X overwrites B. A is overwritten (factorization).
 * KP_EINVAL when the system stays singular. */
int kp_linalg_solve_spd(double *a, int n, double *b, int k, double ridge, kp_error *err);

#endif
