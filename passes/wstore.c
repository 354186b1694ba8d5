#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/common.h"
#include "passes/wstore.h"

#define NODE_OVERHEAD   64 /* rough protobuf bytes of one small node */
#define TENSOR_OVERHEAD 32

/* ---- analysis ----------------------------------------------------------------------------- */

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Distinct values of w (optionally nonzero only) sorted into cb (cap 256); returns count, or
 * 257 when more than 256. */
static size_t distinct(const float *w, int64_t n, int nonzero_only, float *cb, float *tmp) {
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (!nonzero_only || w[i] != 0.0f) tmp[m++] = w[i];
    qsort(tmp, (size_t)m, sizeof *tmp, cmp_float);
    size_t k = 0;
    for (int64_t i = 0; i < m; i++) {
        if (k && tmp[i] == cb[k - 1]) continue;
        if (k == 256) return 257;
        cb[k++] = tmp[i];
    }
    return k;
}

static uint8_t code_of(const float *cb, size_t k, float v) {
    size_t lo = 0, hi = k;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cb[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (uint8_t)lo;
}

/* ---- building nodes ----------------------------------------------------------------------- */

typedef struct builder {
    kp_graph *g;
    const char *w;
    size_t pos; /* insertion point */
    int rc;
    kp_error *err;
} builder;

static char *mkname(builder *b, const char *suffix) {
    char base[512];
    snprintf(base, sizeof base, "%s_%s", b->w, suffix);
    char *s = kp_graph_unique_name(b->g, base);
    if (!s && !b->rc) b->rc = kp_error_set(b->err, KP_ENOMEM, "out of memory");
    return s;
}

/* Adds initializer t (takes) under a fresh name derived from suffix; returns owned name. */
static char *add_init(builder *b, kp_tensor *t, const char *suffix) {
    if (b->rc || !t) {
        kp_tensor_free(t);
        if (!b->rc) b->rc = KP_ENOMEM;
        return NULL;
    }
    char *nm = mkname(b, suffix);
    if (!nm || kp_tensor_set_name(t, nm) || kp_graph_add_init(b->g, t)) {
        kp_tensor_free(t);
        free(nm);
        if (!b->rc) b->rc = kp_error_set(b->err, KP_ENOMEM, "out of memory");
        return NULL;
    }
    return nm;
}

/* Adds node op(in...) -> out (out NULL: fresh name from suffix); returns owned output name. */
static char *add_node(builder *b, const char *op, size_t nin, const char *const *in,
                      const char *out, const char *suffix, kp_node **made) {
    if (b->rc) return NULL;
    for (size_t i = 0; i < nin; i++)
        if (!in[i]) return NULL;
    char *o = out ? strdup(out) : mkname(b, suffix);
    char nname[512];
    snprintf(nname, sizeof nname, "kpw_%s_%s", b->w, suffix);
    const char *outs[1] = {o};
    kp_node *n = o ? kp_node_new(op, nname, nin, in, 1, outs) : NULL;
    if (!n || kp_graph_insert_node(b->g, b->pos, n)) {
        kp_node_free(n);
        free(o);
        b->rc = kp_error_set(b->err, KP_ENOMEM, "out of memory");
        return NULL;
    }
    b->pos++;
    if (made) *made = n;
    return o;
}

static kp_tensor *tensor1(kp_dtype dt, int64_t n, kp_error *err) {
    int64_t d[1] = {n};
    return kp_tensor_new(dt, 1, d, err);
}

/* Cast(x) to dtype `to`; returns owned name. */
static char *add_cast(builder *b, const char *x, kp_dtype to, const char *suffix) {
    kp_node *n = NULL;
    const char *in[1] = {x};
    char *o = add_node(b, "Cast", 1, in, NULL, suffix, &n);
    if (o && kp_node_set_attr_int(n, "to", to)) b->rc = KP_ENOMEM;
    return o;
}

/* Gather(codebook, Cast<int32>(idx)) -> out (NULL: fresh). Returns owned output name. */
static char *add_lookup(builder *b, const float *cb, size_t k, kp_tensor *idx, const char *out,
                        const char *tag) {
    char s1[32], s2[32], s3[32];
    snprintf(s1, sizeof s1, "%scb", tag);
    snprintf(s2, sizeof s2, "%sidx", tag);
    snprintf(s3, sizeof s3, "%sidx32", tag);
    kp_tensor *c = tensor1(KP_FLOAT, (int64_t)k, b->err);
    if (c) memcpy(c->data, cb, k * sizeof *cb);
    char *cbn = add_init(b, c, s1);
    char *idn = add_init(b, idx, s2);
    char *i32 = idn ? add_cast(b, idn, KP_INT32, s3) : NULL;
    const char *in[2] = {cbn, i32};
    char s4[32];
    snprintf(s4, sizeof s4, "%sval", tag);
    char *o = (cbn && i32) ? add_node(b, "Gather", 2, in, out, s4, NULL) : NULL;
    free(cbn);
    free(idn);
    free(i32);
    return o;
}

static kp_tensor *i64s(int n, const int64_t *v, kp_error *err) {
    kp_tensor *t = tensor1(KP_INT64, n, err);
    if (t) memcpy(t->data, v, (size_t)n * sizeof *v);
    return t;
}

/* In-graph unpacking of small integers stored `bits` (1, 4 or 8) per value:
 *   8: Cast<int32>(v uint8[n])
 *   1/4: Reshape(Mod(Div(Cast<int32>(packed uint8[B,1]), [1, 2^bits, ...]), 2^bits), [-1]),
 *        then Slice to n when B * (8 / bits) > n. Value i is in byte i / per, lowest bits first.
 * Returns the owned name of the int32 [n] result. */
static char *add_unpack(builder *b, const uint8_t *v, int64_t n, int bits, const char *tag) {
    char s1[48], s2[48];
    if (bits == 8) {
        kp_tensor *t = tensor1(KP_UINT8, n, b->err);
        if (t) memcpy(t->data, v, (size_t)n);
        char *tn = add_init(b, t, tag);
        snprintf(s1, sizeof s1, "%s32", tag);
        char *o = tn ? add_cast(b, tn, KP_INT32, s1) : NULL;
        free(tn);
        return o;
    }
    int per = 8 / bits;
    int64_t B = (n + per - 1) / per;
    int64_t md[2] = {B, 1}, pd[2] = {1, per}, minus1 = -1, zero = 0;
    kp_tensor *pk = kp_tensor_new(KP_UINT8, 2, md, b->err);
    kp_tensor *dv = kp_tensor_new(KP_INT32, 2, pd, b->err);
    kp_tensor *md_t = kp_tensor_new(KP_INT32, 0, NULL, b->err);
    if (pk)
        for (int64_t i = 0; i < n; i++)
            ((uint8_t *)pk->data)[i / per] |= (uint8_t)(v[i] << (bits * (i % per)));
    if (dv)
        for (int j = 0; j < per; j++) ((int32_t *)dv->data)[j] = 1 << (bits * j);
    if (md_t) *(int32_t *)md_t->data = 1 << bits;
    snprintf(s1, sizeof s1, "%s_packed", tag);
    char *pn = add_init(b, pk, s1);
    snprintf(s1, sizeof s1, "%s_div", tag);
    char *dn = add_init(b, dv, s1);
    snprintf(s1, sizeof s1, "%s_mod", tag);
    char *mn = add_init(b, md_t, s1);
    snprintf(s1, sizeof s1, "%s_flat", tag);
    char *fn = add_init(b, i64s(1, &minus1, b->err), s1);
    snprintf(s1, sizeof s1, "%s_i32", tag);
    char *c = pn ? add_cast(b, pn, KP_INT32, s1) : NULL;
    const char *din[2] = {c, dn};
    snprintf(s1, sizeof s1, "%s_shift", tag);
    char *d = add_node(b, "Div", 2, din, NULL, s1, NULL);
    const char *modin[2] = {d, mn};
    snprintf(s1, sizeof s1, "%s_field", tag);
    char *f = add_node(b, "Mod", 2, modin, NULL, s1, NULL);
    const char *rin[2] = {f, fn};
    snprintf(s1, sizeof s1, "%s_all", tag);
    char *r = add_node(b, "Reshape", 2, rin, NULL, s1, NULL);
    char *o = r;
    if (B * per != n) {
        snprintf(s1, sizeof s1, "%s_start", tag);
        char *sn = add_init(b, i64s(1, &zero, b->err), s1);
        snprintf(s1, sizeof s1, "%s_end", tag);
        char *en = add_init(b, i64s(1, &n, b->err), s1);
        snprintf(s1, sizeof s1, "%s_axes", tag);
        char *an = add_init(b, i64s(1, &zero, b->err), s1);
        const char *slin[4] = {r, sn, en, an};
        snprintf(s2, sizeof s2, "%s_vals", tag);
        o = add_node(b, "Slice", 4, slin, NULL, s2, NULL);
        free(sn);
        free(en);
        free(an);
        free(r);
    }
    free(pn);
    free(dn);
    free(mn);
    free(fn);
    free(c);
    free(d);
    free(f);
    return o;
}

/* Dense codebook form with k <= 16: W = Reshape(Gather(cb, unpack4(idx)), shape). */
static char *add_cluster4(builder *b, const kp_tensor *w, const float *cb, size_t k,
                          const char *wname) {
    const float *W = w->data;
    uint8_t *codes = malloc((size_t)w->numel);
    if (!codes) {
        b->rc = kp_error_set(b->err, KP_ENOMEM, "out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < w->numel; i++) codes[i] = code_of(cb, k, W[i]);
    char *idx = add_unpack(b, codes, w->numel, 4, "idx");
    free(codes);
    kp_tensor *cbt = tensor1(KP_FLOAT, (int64_t)k, b->err);
    if (cbt) memcpy(cbt->data, cb, k * sizeof *cb);
    char *cbn = add_init(b, cbt, "cb");
    const char *gin[2] = {cbn, idx};
    char *wf = add_node(b, "Gather", 2, gin, NULL, "flatw", NULL);
    char *shn = add_init(b, i64s(w->rank, w->dims, b->err), "shape");
    const char *rin[2] = {wf, shn};
    char *o = add_node(b, "Reshape", 2, rin, wname, "dense", NULL);
    free(idx);
    free(cbn);
    free(wf);
    free(shn);
    if (!o && !b->rc) b->rc = kp_error_set(b->err, KP_ENOMEM, "out of memory");
    return o;
}

/* Sparse forms: a bitmask of kept positions expands to gather indices in-graph,
 *   bits = unpack1(mask)               (see add_unpack)
 *   idx  = CumSum(bits) * bits          (0 for zeros, rank of the kept weight otherwise)
 *   W    = Reshape(Gather(values[nnz+1], idx), shape)   values[0] = 0
 *   or, clustered, W = Reshape(Gather(cb, Gather(unpack(codes[nnz+1]), idx)), shape), codes
 *   stored 4 bits each when the codebook has at most 16 entries, else 8.
 * Returns owned output name (== wname) or NULL with b->rc set. */
static char *add_sparse(builder *b, const kp_tensor *w, int64_t nnz, int clustered, float *cbnz,
                        size_t knz, const char *wname) {
    const float *W = w->data;
    int64_t n = w->numel;
    uint8_t *bitv = malloc((size_t)(n > nnz + 1 ? n : nnz + 1));
    if (!bitv) {
        b->rc = kp_error_set(b->err, KP_ENOMEM, "out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) bitv[i] = W[i] != 0.0f;
    char *m5 = add_unpack(b, bitv, n, 1, "mask");
    char *axn = add_init(b, kp_tensor_new(KP_INT64, 0, NULL, b->err), "axis");
    const char *cin[2] = {m5, axn};
    char *cs = add_node(b, "CumSum", 2, cin, NULL, "rank", NULL);
    const char *muin[2] = {cs, m5};
    char *idx = add_node(b, "Mul", 2, muin, NULL, "idx", NULL);
    char *wf = NULL, *vn = NULL, *c32 = NULL, *code = NULL, *cbn = NULL;
    if (!clustered) {
        kp_tensor *vals = tensor1(KP_FLOAT, nnz + 1, b->err);
        if (vals) {
            float *V = vals->data;
            int64_t j = 1;
            for (int64_t i = 0; i < n; i++)
                if (W[i] != 0.0f) V[j++] = W[i];
        }
        vn = add_init(b, vals, "values");
        const char *gin[2] = {vn, idx};
        wf = add_node(b, "Gather", 2, gin, NULL, "flatw", NULL);
    } else {
        size_t z = code_of(cbnz, knz, 0.0f); /* codebook of nonzeros plus 0.0, sorted */
        memmove(cbnz + z + 1, cbnz + z, (knz - z) * sizeof *cbnz);
        cbnz[z] = 0.0f;
        size_t kv = knz + 1;
        uint8_t *C = bitv;
        int64_t j = 1;
        C[0] = (uint8_t)z;
        for (int64_t i = 0; i < n; i++)
            if (W[i] != 0.0f) C[j++] = code_of(cbnz, kv, W[i]);
        c32 = add_unpack(b, C, nnz + 1, kv <= 16 ? 4 : 8, "codes");
        kp_tensor *cbt = tensor1(KP_FLOAT, (int64_t)kv, b->err);
        if (cbt) memcpy(cbt->data, cbnz, kv * sizeof *cbnz);
        cbn = add_init(b, cbt, "cb");
        const char *g1[2] = {c32, idx};
        code = add_node(b, "Gather", 2, g1, NULL, "code", NULL);
        const char *g2[2] = {cbn, code};
        wf = add_node(b, "Gather", 2, g2, NULL, "flatw", NULL);
    }
    free(bitv);
    char *shn = add_init(b, i64s(w->rank, w->dims, b->err), "shape");
    const char *rin2[2] = {wf, shn};
    char *o = add_node(b, "Reshape", 2, rin2, wname, "dense", NULL);
    char *all[] = {m5, axn, cs, idx, wf, vn, c32, code, cbn, shn};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) free(all[i]);
    if (!o && !b->rc) b->rc = kp_error_set(b->err, KP_ENOMEM, "out of memory");
    return o;
}

/* ---- encoding ----------------------------------------------------------------------------- */

enum { FORM_DENSE, FORM_CLUSTER, FORM_CLUSTER4, FORM_SPARSE, FORM_SPARSE_CLUSTER };

static int encode_one(kp_graph *g, size_t init_idx, int allow_sparse, kp_wstore_stats *st,
                      kp_error *err) {
    kp_tensor *w = g->inits[init_idx];
    const float *W = w->data;
    int64_t n = w->numel;
    float *cb = malloc(256 * sizeof *cb), *cbnz = malloc(256 * sizeof *cbnz);
    float *tmp = malloc((size_t)n * sizeof *tmp);
    if (!cb || !cbnz || !tmp) {
        free(cb);
        free(cbnz);
        free(tmp);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    size_t k = distinct(W, n, 0, cb, tmp);
    size_t knz = distinct(W, n, 1, cbnz, tmp);
    free(tmp);
    int64_t nnz = 0;
    for (int64_t i = 0; i < n; i++) nnz += W[i] != 0.0f;
    size_t mbytes = (size_t)(n + 7) / 8;
    size_t dense = (size_t)n * 4;
    size_t best = dense;
    int form = FORM_DENSE;
    if (k <= 256) {
        size_t c = (size_t)n + 4 * k + 2 * TENSOR_OVERHEAD + 2 * NODE_OVERHEAD;
        if (c < best) best = c, form = FORM_CLUSTER;
    }
    if (k <= 16 && allow_sparse) { /* two codes per byte; Mod needs opset 10 */
        size_t c = (size_t)(n + 1) / 2 + 4 * k + 6 * TENSOR_OVERHEAD + 7 * NODE_OVERHEAD;
        if (c < best) best = c, form = FORM_CLUSTER4;
    }
    if (allow_sparse) {
        size_t s = mbytes + 4 * (size_t)(nnz + 1) + 8 * TENSOR_OVERHEAD + 11 * NODE_OVERHEAD;
        if (s < best) best = s, form = FORM_SPARSE;
        if (knz <= 255) { /* the zero entry takes one code */
            size_t cb_bytes = knz + 1 <= 16 ? (size_t)(nnz + 2) / 2 : (size_t)(nnz + 1);
            size_t sc =
                mbytes + cb_bytes + 4 * (knz + 1) + 12 * TENSOR_OVERHEAD + 17 * NODE_OVERHEAD;
            if (sc < best) best = sc, form = FORM_SPARSE_CLUSTER;
        }
    }
    if (form == FORM_DENSE || dense - best < 256) {
        free(cb);
        free(cbnz);
        if (st) st->n_dense++;
        return 0;
    }
    /* Detach the dense initializer; nodes will produce its name instead. */
    char *wname = strdup(w->name);
    if (!wname) {
        free(cb);
        free(cbnz);
        return kp_error_set(err, KP_ENOMEM, "out of memory");
    }
    g->inits[init_idx] = NULL;
    memmove(&g->inits[init_idx], &g->inits[init_idx + 1],
            (g->n_inits - init_idx - 1) * sizeof *g->inits);
    g->n_inits--;
    kp_graph_touch(g);
    builder b = {.g = g, .w = wname, .pos = 0, .rc = 0, .err = err};
    char *o = NULL;
    if (form == FORM_CLUSTER) {
        kp_tensor *idx = kp_tensor_new(KP_UINT8, w->rank, w->dims, err);
        if (idx) {
            uint8_t *I = idx->data;
            for (int64_t i = 0; i < n; i++) I[i] = code_of(cb, k, W[i]);
        }
        o = add_lookup(&b, cb, k, idx, wname, "");
    } else if (form == FORM_CLUSTER4) {
        o = add_cluster4(&b, w, cb, k, wname);
    } else {
        o = add_sparse(&b, w, nnz, form == FORM_SPARSE_CLUSTER, cbnz, knz, wname);
    }
    free(cb);
    free(cbnz);
    if (b.rc || !o) {
        free(o);
        free(wname);
        kp_tensor_free(w);
        return b.rc ? b.rc : kp_error_set(err, KP_ENOMEM, "out of memory encoding a weight");
    }
    if (st) {
        st->bytes_before += dense;
        st->bytes_after += best;
        if (form == FORM_CLUSTER || form == FORM_CLUSTER4)
            st->n_cluster++;
        else if (form == FORM_SPARSE)
            st->n_sparse++;
        else
            st->n_sparse_cluster++;
    }
    free(o);
    free(wname);
    kp_tensor_free(w);
    return 0;
}

typedef struct enc_state {
    size_t min_numel;
    int allow_sparse;
    kp_wstore_stats *st;
} enc_state;

static int listed_as_input(const kp_graph *g, const char *name) {
    for (size_t i = 0; i < g->n_inputs; i++)
        if (g->inputs[i].name && !strcmp(g->inputs[i].name, name)) return 1;
    return 0;
}

static int encode_graph(kp_graph *g, void *user, kp_error *err) {
    enc_state *es = user;
    /* Encoding removes inits[i] and appends the new (small or already compact) tensors at the
     * end: sweep only the initializers that existed before. */
    size_t n0 = g->n_inits;
    for (size_t i = 0; i < n0;) {
        kp_tensor *t = g->inits[i];
        if (t->dtype != KP_FLOAT || t->numel < (int64_t)es->min_numel || !t->data || !t->name ||
            listed_as_input(g, t->name) || kp_graph_is_output(g, t->name)) {
            i++;
            continue;
        }
        int rc = encode_one(g, i, es->allow_sparse, es->st, err);
        if (rc) return rc;
        if (g->n_inits && i < g->n_inits && g->inits[i] == t)
            i++;
        else
            n0--;
    }
    return 0;
}

int kp_wstore_encode_model(kp_model *m, size_t min_numel, kp_wstore_stats *stats, kp_error *err) {
    kp_wstore_stats local = {0};
    enc_state es = {.min_numel = min_numel ? min_numel : 1024,
                    .allow_sparse = kp_model_opset(m, "") >= 11,
                    .st = stats ? stats : &local};
    /* Encoded tensors are appended after the originals; limit each graph's sweep to the
     * initializers that existed before (new ones are uint8/small). */
    return kp_pass_each_graph(m->graph, encode_graph, &es, err);
}

/* ---- decoding ----------------------------------------------------------------------------- */

static kp_node *producer_of(kp_graph *g, const char *v, const char *op) {
    size_t pos;
    kp_node *n = v ? kp_graph_producer(g, v, &pos) : NULL;
    return (n && kp_node_is(n, op)) ? n : NULL;
}

/* Gather(cb, Cast(idx)) -> float values (owned, n entries in *n). */
static float *decode_lookup(kp_graph *g, kp_node *ga, int64_t *n, int *rank, int64_t *dims) {
    kp_tensor *cb = kp_pass_const_input(g, ga, 0);
    kp_node *cast = producer_of(g, kp_node_input(ga, 1), "Cast");
    kp_tensor *idx = cast ? kp_graph_find_const(g, kp_node_input(cast, 0)) : NULL;
    if (!cb || !idx || idx->dtype != KP_UINT8 || cb->rank != 1 || kp_node_attr_int(ga, "axis", 0))
        return NULL;
    float *out = malloc((size_t)(idx->numel ? idx->numel : 1) * sizeof *out);
    if (!out) return NULL;
    const uint8_t *I = idx->data;
    const float *C = cb->data;
    for (int64_t i = 0; i < idx->numel; i++) {
        if (I[i] >= cb->numel) {
            free(out);
            return NULL;
        }
        out[i] = C[I[i]];
    }
    *n = idx->numel;
    if (rank) *rank = idx->rank;
    if (dims) memcpy(dims, idx->dims, sizeof(int64_t) * KP_MAX_RANK);
    return out;
}

/* Inverse of add_unpack: the int32 values named v, computed from constants. Returns owned
 * array and its length, or NULL when v is not such a pattern. */
static int32_t *unpack_decode(kp_graph *g, const char *v, int64_t *n) {
    kp_node *sl = producer_of(g, v, "Slice");
    int64_t limit = -1;
    if (sl) {
        kp_tensor *e = kp_graph_find_const(g, kp_node_input(sl, 2) ? kp_node_input(sl, 2) : "");
        if (!e || e->dtype != KP_INT64 || e->numel != 1) return NULL;
        limit = ((const int64_t *)e->data)[0];
        v = kp_node_input(sl, 0);
    }
    kp_node *cast = producer_of(g, v, "Cast");
    if (cast && !sl) { /* 8 bits: Cast<int32>(uint8) */
        kp_tensor *c = kp_graph_find_const(g, kp_node_input(cast, 0) ? kp_node_input(cast, 0) : "");
        if (!c || c->dtype != KP_UINT8) return NULL;
        int32_t *o = malloc((size_t)(c->numel ? c->numel : 1) * sizeof *o);
        if (!o) return NULL;
        for (int64_t i = 0; i < c->numel; i++) o[i] = ((const uint8_t *)c->data)[i];
        *n = c->numel;
        return o;
    }
    kp_node *rs = producer_of(g, v, "Reshape");
    kp_node *md = rs ? producer_of(g, kp_node_input(rs, 0), "Mod") : NULL;
    kp_node *dv = md ? producer_of(g, kp_node_input(md, 0), "Div") : NULL;
    cast = dv ? producer_of(g, kp_node_input(dv, 0), "Cast") : NULL;
    kp_tensor *pk = cast ? kp_graph_find_const(g, kp_node_input(cast, 0)) : NULL;
    kp_tensor *dt =
        dv ? kp_graph_find_const(g, kp_node_input(dv, 1) ? kp_node_input(dv, 1) : "") : NULL;
    kp_tensor *mt =
        md ? kp_graph_find_const(g, kp_node_input(md, 1) ? kp_node_input(md, 1) : "") : NULL;
    if (!pk || !dt || !mt || pk->dtype != KP_UINT8 || dt->dtype != KP_INT32 ||
        mt->dtype != KP_INT32 || mt->numel != 1 || dt->numel < 1 || dt->numel > 8)
        return NULL;
    int64_t per = dt->numel, total = pk->numel * per;
    int32_t mod = ((const int32_t *)mt->data)[0];
    const int32_t *D = dt->data;
    if (mod <= 0) return NULL;
    for (int64_t j = 0; j < per; j++)
        if (D[j] <= 0) return NULL;
    if (limit < 0) limit = total;
    if (limit > total) return NULL;
    int32_t *o = malloc((size_t)(limit ? limit : 1) * sizeof *o);
    if (!o) return NULL;
    const uint8_t *P = pk->data;
    for (int64_t i = 0; i < limit; i++) o[i] = (P[i / per] / D[i % per]) % mod;
    *n = limit;
    return o;
}

static kp_tensor *decode_root(kp_graph *g, kp_node *root) {
    int64_t dims[KP_MAX_RANK];
    int rank = 0;
    if (kp_node_is(root, "Gather")) {
        int64_t n;
        float *v = decode_lookup(g, root, &n, &rank, dims);
        if (!v) return NULL;
        kp_tensor *t = kp_tensor_new(KP_FLOAT, rank, dims, NULL);
        if (t && t->numel == n) memcpy(t->data, v, (size_t)n * sizeof *v);
        free(v);
        return t;
    }
    /* Reshape(Gather(table, X), shape), X one of
     *   unpack4(idx)                               dense codebook, 4 bits per weight
     *   Mul(CumSum(bits), bits)                    sparse, table = values
     *   Gather(unpack(codes), Mul(CumSum(bits), bits))  sparse + codebook */
    kp_tensor *sh = kp_graph_find_const(g, kp_node_input(root, 1) ? kp_node_input(root, 1) : "");
    kp_node *ga = producer_of(g, kp_node_input(root, 0), "Gather");
    if (!sh || sh->dtype != KP_INT64 || sh->rank != 1 || sh->numel > KP_MAX_RANK || !ga)
        return NULL;
    kp_tensor *tab = kp_pass_const_input(g, ga, 0);
    if (!tab || tab->rank != 1 || kp_node_attr_int(ga, "axis", 0)) return NULL;
    rank = (int)sh->numel;
    for (int i = 0; i < rank; i++) dims[i] = ((const int64_t *)sh->data)[i];
    kp_tensor *t = kp_tensor_new(KP_FLOAT, rank, dims, NULL);
    if (!t) return NULL;
    float *W = t->data;
    const float *T = tab->data;
    kp_node *inner = producer_of(g, kp_node_input(ga, 1), "Gather");
    kp_node *mul = producer_of(g, kp_node_input(inner ? inner : ga, 1), "Mul");
    int32_t *codes = NULL, *bits = NULL;
    int64_t ncodes = 0, nbits = 0;
    int ok = 1;
    if (!mul && !inner) { /* dense codebook */
        codes = unpack_decode(g, kp_node_input(ga, 1), &ncodes);
        ok = codes && ncodes == t->numel;
        for (int64_t i = 0; ok && i < t->numel; i++) {
            ok = codes[i] >= 0 && codes[i] < tab->numel;
            if (ok) W[i] = T[codes[i]];
        }
    } else if (mul) {
        bits = unpack_decode(g, kp_node_input(mul, 1), &nbits);
        if (inner) codes = unpack_decode(g, kp_node_input(inner, 0), &ncodes);
        ok = bits && nbits == t->numel && (!inner || codes);
        int64_t r = 0;
        for (int64_t i = 0; ok && i < t->numel; i++) {
            if (bits[i] != 1) {
                ok = bits[i] == 0;
                continue;
            }
            r++;
            int64_t vi = r;
            if (inner) vi = r < ncodes ? codes[r] : -1;
            ok = vi >= 0 && vi < tab->numel;
            if (ok) W[i] = T[vi];
        }
    } else {
        ok = 0;
    }
    free(codes);
    free(bits);
    if (!ok) {
        kp_tensor_free(t);
        return NULL;
    }
    return t;
}

typedef struct dec_state {
    size_t n;
} dec_state;

static int decode_graph(kp_graph *g, void *user, kp_error *err) {
    dec_state *ds = user;
    for (size_t i = 0; i < g->n_nodes; i++) {
        kp_node *n = g->nodes[i];
        if (!n->name || strncmp(n->name, "kpw_", 4) || n->n_outputs != 1) continue;
        if (!kp_node_is(n, "Reshape") && !kp_node_is(n, "Gather")) continue;
        /* Only roots: the output is not itself part of another kpw pattern's values. */
        kp_node *c = NULL;
        if (kp_node_is(n, "Gather") && kp_graph_consumers(g, n->outputs[0], &c, 1) == 1 && c &&
            c->name && !strncmp(c->name, "kpw_", 4))
            continue;
        kp_tensor *t = decode_root(g, n);
        if (!t) continue;
        if (kp_tensor_set_name(t, n->outputs[0])) {
            kp_tensor_free(t);
            return kp_error_set(err, KP_ENOMEM, "out of memory");
        }
        kp_graph_remove_node(g, i);
        if (kp_graph_add_init(g, t)) {
            kp_tensor_free(t);
            return kp_error_set(err, KP_ENOMEM, "out of memory");
        }
        kp_graph_touch(g);
        ds->n++;
        i--;
    }
    return 0;
}

static int prune_dead(kp_graph *g, void *user, kp_error *err) {
    (void)user;
    (void)err;
    if (g->parent) kp_graph_remove_dead(g);
    return 0;
}

int kp_wstore_decode_model(kp_model *m, size_t *n_decoded, kp_error *err) {
    dec_state ds = {0};
    int rc = kp_pass_each_graph(m->graph, decode_graph, &ds, err);
    if (rc) return rc;
    if (ds.n) kp_graph_remove_dead(m->graph);
    if (ds.n) kp_pass_each_graph(m->graph, prune_dead, NULL, err);
    if (n_decoded) *n_decoded = ds.n;
    return 0;
}
