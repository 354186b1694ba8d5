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

/* Sparse forms: a bitmask of kept positions expands to gather indices in-graph,
 *   bits = Reshape(Mod(Div(Cast<int32>(mask uint8[B,1]), [1,2,4..128]), 2), [-1]) (Slice to n)
 *   idx  = CumSum(bits) * bits          (0 for zeros, rank of the kept weight otherwise)
 *   W    = Reshape(Gather(values[nnz+1], idx), shape)   values[0] = 0
 *   or, clustered, W = Reshape(Gather(cb, Gather(Cast<int32>(codes[nnz+1]), idx)), shape).
 * Returns owned output name (== wname) or NULL with b->rc set. */
static char *add_sparse(builder *b, const kp_tensor *w, int64_t nnz, int clustered, float *cbnz,
                        size_t knz, const char *wname) {
    const float *W = w->data;
    int64_t n = w->numel, B = (n + 7) / 8;
    int64_t md[2] = {B, 1}, pd[2] = {1, 8};
    kp_tensor *mask = kp_tensor_new(KP_UINT8, 2, md, b->err);
    kp_tensor *pw = kp_tensor_new(KP_INT32, 2, pd, b->err);
    kp_tensor *two = kp_tensor_new(KP_INT32, 0, NULL, b->err);
    if (mask)
        for (int64_t i = 0; i < n; i++)
            if (W[i] != 0.0f) ((uint8_t *)mask->data)[i / 8] |= (uint8_t)(1u << (i % 8));
    if (pw)
        for (int j = 0; j < 8; j++) ((int32_t *)pw->data)[j] = 1 << j;
    if (two) *(int32_t *)two->data = 2;
    int64_t minus1 = -1, zero = 0;
    char *mn = add_init(b, mask, "mask"), *pn = add_init(b, pw, "bitval");
    char *tn = add_init(b, two, "two"), *fn = add_init(b, i64s(1, &minus1, b->err), "flat");
    char *m1 = mn ? add_cast(b, mn, KP_INT32, "mask32") : NULL;
    const char *din[2] = {m1, pn};
    char *m2 = add_node(b, "Div", 2, din, NULL, "shift", NULL);
    const char *modin[2] = {m2, tn};
    char *m3 = add_node(b, "Mod", 2, modin, NULL, "bit", NULL);
    const char *rin[2] = {m3, fn};
    char *m4 = add_node(b, "Reshape", 2, rin, NULL, "bits", NULL);
    char *m5 = m4, *sn = NULL, *en = NULL, *an = NULL;
    if (B * 8 != n) {
        sn = add_init(b, i64s(1, &zero, b->err), "start");
        en = add_init(b, i64s(1, &n, b->err), "end");
        an = add_init(b, i64s(1, &zero, b->err), "axes");
        const char *slin[4] = {m4, sn, en, an};
        m5 = add_node(b, "Slice", 4, slin, NULL, "kept", NULL);
    }
    char *axn = add_init(b, kp_tensor_new(KP_INT64, 0, NULL, b->err), "axis");
    const char *cin[2] = {m5, axn};
    char *cs = add_node(b, "CumSum", 2, cin, NULL, "rank", NULL);
    const char *muin[2] = {cs, m5};
    char *idx = add_node(b, "Mul", 2, muin, NULL, "idx", NULL);
    char *wf = NULL, *vn = NULL, *cn = NULL, *c32 = NULL, *code = NULL, *cbn = NULL;
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
        kp_tensor *codes = tensor1(KP_UINT8, nnz + 1, b->err);
        if (codes) {
            uint8_t *C = codes->data;
            int64_t j = 1;
            C[0] = (uint8_t)z;
            for (int64_t i = 0; i < n; i++)
                if (W[i] != 0.0f) C[j++] = code_of(cbnz, kv, W[i]);
        }
        kp_tensor *cbt = tensor1(KP_FLOAT, (int64_t)kv, b->err);
        if (cbt) memcpy(cbt->data, cbnz, kv * sizeof *cbnz);
        cn = add_init(b, codes, "codes");
        cbn = add_init(b, cbt, "cb");
        c32 = cn ? add_cast(b, cn, KP_INT32, "codes32") : NULL;
        const char *g1[2] = {c32, idx};
        code = add_node(b, "Gather", 2, g1, NULL, "code", NULL);
        const char *g2[2] = {cbn, code};
        wf = add_node(b, "Gather", 2, g2, NULL, "flatw", NULL);
    }
    char *shn = add_init(b, i64s(w->rank, w->dims, b->err), "shape");
    const char *rin2[2] = {wf, shn};
    char *o = add_node(b, "Reshape", 2, rin2, wname, "dense", NULL);
    char *all[] = {mn,  pn, tn,  fn, m1, m2, m3,  m4,   sn,  en, an,
                   axn, cs, idx, wf, vn, cn, c32, code, cbn, shn};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) free(all[i]);
    if (m5 != m4) free(m5);
    if (!o && !b->rc) b->rc = kp_error_set(b->err, KP_ENOMEM, "out of memory");
    return o;
}

/* ---- encoding ----------------------------------------------------------------------------- */

enum { FORM_DENSE, FORM_CLUSTER, FORM_SPARSE, FORM_SPARSE_CLUSTER };

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
    if (allow_sparse) {
        size_t s = mbytes + 4 * (size_t)(nnz + 1) + 8 * TENSOR_OVERHEAD + 11 * NODE_OVERHEAD;
        if (s < best) best = s, form = FORM_SPARSE;
        if (knz <= 255) { /* the zero entry takes one code */
            size_t sc = mbytes + (size_t)(nnz + 1) + 4 * (knz + 1) + 9 * TENSOR_OVERHEAD +
                        13 * NODE_OVERHEAD;
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
        if (form == FORM_CLUSTER)
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
    /* Reshape(Gather(values | cb, idx | Gather(Cast(codes), idx)), shape) */
    kp_tensor *sh = kp_graph_find_const(g, kp_node_input(root, 1) ? kp_node_input(root, 1) : "");
    kp_node *ga = producer_of(g, kp_node_input(root, 0), "Gather");
    if (!sh || sh->dtype != KP_INT64 || sh->rank != 1 || sh->numel > KP_MAX_RANK || !ga)
        return NULL;
    kp_tensor *vals = kp_pass_const_input(g, ga, 0);
    kp_node *inner = producer_of(g, kp_node_input(ga, 1), "Gather");
    kp_node *mul = producer_of(g, kp_node_input(inner ? inner : ga, 1), "Mul");
    kp_node *cc = inner ? producer_of(g, kp_node_input(inner, 0), "Cast") : NULL;
    kp_tensor *codes = cc ? kp_graph_find_const(g, kp_node_input(cc, 0)) : NULL;
    if (!vals || vals->rank != 1 || !mul || (inner && (!codes || codes->dtype != KP_UINT8)))
        return NULL;
    /* bits: Mul's second input <- [Slice <-] Reshape <- Mod <- Div <- Cast <- mask */
    kp_node *x = producer_of(g, kp_node_input(mul, 1), "Slice");
    x = x ? producer_of(g, kp_node_input(x, 0), "Reshape")
          : producer_of(g, kp_node_input(mul, 1), "Reshape");
    x = x ? producer_of(g, kp_node_input(x, 0), "Mod") : NULL;
    x = x ? producer_of(g, kp_node_input(x, 0), "Div") : NULL;
    x = x ? producer_of(g, kp_node_input(x, 0), "Cast") : NULL;
    kp_tensor *mask = x ? kp_graph_find_const(g, kp_node_input(x, 0)) : NULL;
    if (!mask || mask->dtype != KP_UINT8) return NULL;
    rank = (int)sh->numel;
    for (int i = 0; i < rank; i++) dims[i] = ((const int64_t *)sh->data)[i];
    kp_tensor *t = kp_tensor_new(KP_FLOAT, rank, dims, NULL);
    if (!t || t->numel > mask->numel * 8) {
        kp_tensor_free(t);
        return NULL;
    }
    const uint8_t *M = mask->data;
    const float *V = vals->data;
    float *W = t->data;
    int64_t r = 0;
    for (int64_t i = 0; i < t->numel; i++) {
        if (!((M[i / 8] >> (i % 8)) & 1)) continue;
        r++;
        int64_t vi = r;
        if (inner) vi = r < codes->numel ? ((const uint8_t *)codes->data)[r] : -1;
        if (vi < 0 || vi >= vals->numel || (!inner && r >= vals->numel)) {
            kp_tensor_free(t);
            return NULL;
        }
        W[i] = V[vi];
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
