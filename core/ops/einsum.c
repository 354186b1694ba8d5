/* Einsum (opset 12): explicit and implicit output, ellipsis with broadcasting, repeated labels
 * (diagonals), any number of operands. A direct loop over the output and summed index spaces,
 * accumulating in double: exact for the small contractions models use it for; large matrix
 * products should be expressed as MatMul. */
#include <stdlib.h>
#include <string.h>

#include "core/ops/args.h"
#include "core/ops/elem.h"
#include "core/ops/einsum.h"

#define N_LETTERS    52
#define MAX_LABELS   (N_LETTERS + KP_MAX_RANK)
#define MAX_OPERANDS 8

typedef struct term {
    int n;                  /* axes */
    int label[KP_MAX_RANK]; /* label per axis */
} term;

static int letter_id(char c) {
    if (c >= 'a' && c <= 'z') return c - 'a';
    if (c >= 'A' && c <= 'Z') return 26 + c - 'A';
    return -1;
}

/* Parses one term of `len` chars for an operand of `rank` (or -1 for the output, where the
 * ellipsis takes `ell` dims). Ellipsis dims get labels N_LETTERS + (ell - k) counted from the
 * right so operands with fewer ellipsis dims broadcast. */
static int parse_term(kp_op_ctx *ctx, const char *s, size_t len, int rank, int ell_out, term *t,
                      int *ell) {
    int letters = 0, has_ell = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (has_ell || i + 2 >= len || s[i + 1] != '.' || s[i + 2] != '.')
                return kp_op_fail(ctx, KP_EINVAL, "malformed ellipsis in equation");
            has_ell = 1;
            i += 2;
        } else if (letter_id(s[i]) >= 0)
            letters++;
        else
            return kp_op_fail(ctx, KP_EINVAL, "unexpected '%c' in equation", s[i]);
    }
    int e = has_ell ? (rank >= 0 ? rank - letters : ell_out) : 0;
    if (rank >= 0 && (e < 0 || (!has_ell && letters != rank)))
        return kp_op_fail(ctx, KP_EINVAL, "equation term has %d labels for an operand of rank %d",
                          letters, rank);
    if (letters + e > KP_MAX_RANK) return kp_op_fail(ctx, KP_ERANGE, "too many labels");
    t->n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.') {
            for (int k = 0; k < e; k++) t->label[t->n++] = N_LETTERS + (e - 1 - k);
            i += 2;
        } else
            t->label[t->n++] = letter_id(s[i]);
    }
    *ell = e;
    return 0;
}

int kp_op_einsum(kp_op_ctx *ctx) {
    const char *eq = kp_node_attr_string(ctx->node, "equation", NULL);
    if (!eq) return kp_op_fail(ctx, KP_EINVAL, "attribute 'equation' is required");
    size_t n = ctx->n_in;
    if (n == 0 || n > MAX_OPERANDS)
        return kp_op_fail(ctx, KP_EINVAL, "needs 1 to %d inputs", MAX_OPERANDS);
    char buf[256];
    size_t bl = 0;
    for (const char *p = eq; *p; p++)
        if (*p != ' ') {
            if (bl + 1 >= sizeof buf) return kp_op_fail(ctx, KP_ERANGE, "equation too long");
            buf[bl++] = *p;
        }
    buf[bl] = 0;
    char *arrow = strstr(buf, "->");
    size_t lhs_len = arrow ? (size_t)(arrow - buf) : bl;
    const kp_tensor *in[MAX_OPERANDS];
    kp_dtype dt = KP_UNDEFINED;
    for (size_t k = 0; k < n; k++) {
        in[k] = kp_op_input(ctx, k);
        if (!in[k]) return kp_op_fail(ctx, KP_EINVAL, "input %zu is missing", k);
        if (k == 0) dt = in[k]->dtype;
        if (in[k]->dtype != dt || kp_elem_kind_of(dt) == KP_EK_NONE || dt == KP_BOOL)
            return kp_op_fail(ctx, KP_EUNSUPPORTED, "inputs must share a numeric dtype");
    }
    term t[MAX_OPERANDS], out;
    int max_ell = 0, rc;
    size_t start = 0, k = 0;
    for (size_t i = 0; i <= lhs_len; i++) {
        if (i < lhs_len && buf[i] != ',') continue;
        if (k >= n) return kp_op_fail(ctx, KP_EINVAL, "equation has more terms than inputs");
        int ell;
        if ((rc = parse_term(ctx, buf + start, i - start, in[k]->rank, 0, &t[k], &ell))) return rc;
        if (ell > max_ell) max_ell = ell;
        k++;
        start = i + 1;
    }
    if (k != n) return kp_op_fail(ctx, KP_EINVAL, "equation has %zu terms for %zu inputs", k, n);
    int64_t size[MAX_LABELS];
    int count[MAX_LABELS] = {0};
    for (int l = 0; l < MAX_LABELS; l++) size[l] = -1;
    for (k = 0; k < n; k++)
        for (int a = 0; a < t[k].n; a++) {
            int l = t[k].label[a];
            int64_t d = in[k]->dims[a];
            count[l]++;
            if (size[l] < 0 || size[l] == 1)
                size[l] = d;
            else if (d != size[l] && !(l >= N_LETTERS && d == 1))
                return kp_op_fail(ctx, KP_EINVAL, "label size mismatch: %lld vs %lld", (long long)d,
                                  (long long)size[l]);
        }
    if (arrow) {
        int ell;
        if ((rc = parse_term(ctx, arrow + 2, strlen(arrow + 2), -1, max_ell, &out, &ell)))
            return rc;
        for (int a = 0; a < out.n; a++)
            if (size[out.label[a]] < 0)
                return kp_op_fail(ctx, KP_EINVAL, "output label not in any input");
    } else { /* implicit: ellipsis dims, then labels seen once, alphabetically */
        out.n = 0;
        for (int e = max_ell - 1; e >= 0; e--) out.label[out.n++] = N_LETTERS + e;
        for (int l = 0; l < N_LETTERS; l++)
            if (count[l] == 1) {
                if (out.n >= KP_MAX_RANK) return kp_op_fail(ctx, KP_ERANGE, "too many labels");
                out.label[out.n++] = l;
            }
    }
    int in_out[MAX_LABELS] = {0};
    int64_t od[KP_MAX_RANK];
    for (int a = 0; a < out.n; a++) {
        in_out[out.label[a]] = 1;
        od[a] = size[out.label[a]];
    }
    int sum_l[MAX_LABELS], ns = 0;
    for (int l = 0; l < MAX_LABELS; l++)
        if (size[l] >= 0 && !in_out[l]) sum_l[ns++] = l;
    kp_tensor *o = kp_op_output(ctx, 0, dt, out.n, od);
    if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
    /* per-operand distinct labels and their strides (0 where broadcast; a repeated label's
     * strides add up, which walks the diagonal) */
    int64_t lst[MAX_OPERANDS][MAX_LABELS];
    int dl[MAX_OPERANDS][KP_MAX_RANK], ndl[MAX_OPERANDS];
    memset(lst, 0, sizeof lst);
    for (k = 0; k < n; k++) {
        int64_t st[KP_MAX_RANK];
        kp_args_strides(in[k]->rank, in[k]->dims, st);
        ndl[k] = 0;
        for (int a = 0; a < t[k].n; a++) {
            int l = t[k].label[a], seen = 0;
            for (int b = 0; b < ndl[k]; b++) seen |= dl[k][b] == l;
            if (!seen) dl[k][ndl[k]++] = l;
            if (in[k]->dims[a] != 1 || size[l] == 1) lst[k][l] += st[a];
        }
    }
    int64_t sum_total = 1;
    for (int i = 0; i < ns; i++) sum_total *= size[sum_l[i]];
    int64_t idx[MAX_LABELS] = {0};
    int fl = kp_elem_kind_of(dt) == KP_EK_FLOAT;
    for (int64_t j = 0; j < o->numel; j++) {
        int64_t rem = j;
        for (int a = out.n - 1; a >= 0; a--) {
            idx[out.label[a]] = rem % od[a];
            rem /= od[a];
        }
        double acc = 0;
        int64_t iacc = 0;
        for (int64_t s = 0; s < sum_total; s++) {
            int64_t r2 = s;
            for (int i = ns - 1; i >= 0; i--) {
                idx[sum_l[i]] = r2 % size[sum_l[i]];
                r2 /= size[sum_l[i]];
            }
            double prod = 1;
            int64_t iprod = 1;
            for (k = 0; k < n; k++) {
                int64_t off = 0;
                for (int b = 0; b < ndl[k]; b++) off += idx[dl[k][b]] * lst[k][dl[k][b]];
                if (fl)
                    prod *= kp_elem_getd(in[k]->data, dt, off);
                else
                    iprod =
                        (int64_t)((uint64_t)iprod * (uint64_t)kp_elem_geti(in[k]->data, dt, off));
            }
            if (fl)
                acc += prod;
            else
                iacc = (int64_t)((uint64_t)iacc + (uint64_t)iprod);
        }
        if (fl)
            kp_elem_setd(o->data, dt, j, acc);
        else
            kp_elem_seti(o->data, dt, j, iacc);
    }
    return 0;
}
