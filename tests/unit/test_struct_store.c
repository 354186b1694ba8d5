/* Structural passes without the executor: k-means, the compact weight store (encode/decode
 * round trips, every form, long gaps), prune and cluster on a hand-built model, bad params. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/graph.h"
#include "core/pass.h"
#include "passes/cluster_kmeans.h"
#include "passes/wstore.h"

extern const kp_pass kp_pass_prune, kp_pass_cluster;

static uint64_t rng = 88172645463325252ull;
static float frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}

/* x[N,K] -> Gemm(W[K,N2]) -> y; W filled by fill(). opset 13. */
static kp_model *gemm_model(int64_t k, int64_t n) {
    kp_model *m = kp_model_new();
    assert_non_null(m);
    m->ir_version = 8;
    m->opsets = calloc(1, sizeof *m->opsets);
    m->opsets[0].domain = strdup("");
    m->opsets[0].version = 13;
    m->n_opsets = 1;
    kp_graph *g = m->graph;
    int64_t d[2] = {k, n};
    kp_tensor *w = kp_tensor_new(KP_FLOAT, 2, d, NULL);
    assert_non_null(w);
    kp_tensor_set_name(w, "W");
    for (int64_t i = 0; i < w->numel; i++) ((float *)w->data)[i] = frand();
    assert_int_equal(kp_graph_add_init(g, w), 0);
    const char *in[2] = {"x", "W"}, *out[1] = {"y"};
    assert_int_equal(kp_graph_add_node(g, kp_node_new("Gemm", "fc", 2, in, 1, out)), 0);
    g->inputs = calloc(1, sizeof *g->inputs);
    g->inputs[0].name = strdup("x");
    g->n_inputs = 1;
    g->outputs = calloc(1, sizeof *g->outputs);
    g->outputs[0].name = strdup("y");
    g->n_outputs = 1;
    return m;
}

static void kmeans_is_deterministic_and_keeps_zeros(void **state) {
    (void)state;
    enum { N = 5000 };
    float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    for (int i = 0; i < N; i++) a[i] = (i % 3 == 0) ? 0.0f : frand();
    memcpy(b, a, N * sizeof *a);
    float cb[16];
    double sse = -1;
    assert_int_equal(kp_kmeans_1d(a, N, 16, 0, 1, cb, &sse, NULL), 0);
    assert_int_equal(kp_kmeans_1d(b, N, 16, 0, 1, NULL, NULL, NULL), 0);
    assert_memory_equal(a, b, N * sizeof *a);
    assert_true(sse > 0 && sse < N * 0.01);
    for (int i = 0; i < N; i++) {
        if (i % 3 == 0)
            assert_true(a[i] == 0.0f);
        else {
            int found = 0;
            for (int j = 0; j < 16; j++) found |= a[i] == cb[j];
            assert_true(found);
            assert_true(a[i] != 0.0f);
        }
    }
    for (int j = 1; j < 16; j++) assert_true(cb[j] > cb[j - 1]);
    free(a);
    free(b);
}

static kp_tensor *weight_copy(kp_model *m) {
    kp_tensor *t = kp_graph_find_const(m->graph, "W");
    return t ? kp_tensor_clone(t, NULL) : NULL;
}

static size_t count_kpw(const kp_model *m) {
    size_t c = 0;
    for (size_t i = 0; i < m->graph->n_nodes; i++)
        c += m->graph->nodes[i]->name && !strncmp(m->graph->nodes[i]->name, "kpw_", 4);
    return c;
}

/* Encodes, checks the form chosen, decodes, checks the weight is bit-identical. */
static void roundtrip(kp_model *m, size_t want_nodes, const char *form) {
    kp_tensor *orig = weight_copy(m);
    assert_non_null(orig);
    kp_wstore_stats st = {0};
    kp_error err;
    kp_error_clear(&err);
    assert_int_equal(kp_wstore_encode_model(m, 0, &st, &err), 0);
    if (!strcmp(form, "dense")) assert_int_equal(st.n_dense, 1);
    if (!strcmp(form, "cluster")) assert_int_equal(st.n_cluster, 1);
    if (!strcmp(form, "sparse")) assert_int_equal(st.n_sparse, 1);
    if (!strcmp(form, "sparse_cluster")) assert_int_equal(st.n_sparse_cluster, 1);
    assert_int_equal(count_kpw(m), want_nodes);
    if (want_nodes) {
        assert_null(kp_graph_init(m->graph, "W"));
        assert_true(st.bytes_after < st.bytes_before);
    }
    assert_int_equal(kp_graph_validate(m->graph, &err), 0);
    size_t nd = 0;
    assert_int_equal(kp_wstore_decode_model(m, &nd, &err), 0);
    assert_int_equal(nd, want_nodes ? 1 : 0);
    assert_int_equal(count_kpw(m), 0);
    kp_tensor *back = kp_graph_init(m->graph, "W");
    assert_non_null(back);
    assert_true(kp_tensor_equal(orig, back));
    assert_int_equal(m->graph->n_inits, 1);
    kp_tensor_free(orig);
}

static void store_forms_roundtrip(void **state) {
    (void)state;
    kp_model *m = gemm_model(64, 64); /* random: stays dense */
    roundtrip(m, 0, "dense");
    kp_model_free(m);

    m = gemm_model(64, 64); /* 16 values: codebook */
    float *W = kp_graph_init(m->graph, "W")->data;
    for (int i = 0; i < 64 * 64; i++) W[i] = (float)(i % 16) * 0.25f - 1.0f;
    roundtrip(m, 6, "cluster"); /* 16 values: 4-bit codes unpacked in-graph */
    kp_model_free(m);

    m = gemm_model(64, 64); /* 100 values: 8-bit codes */
    W = kp_graph_init(m->graph, "W")->data;
    for (int i = 0; i < 64 * 64; i++) W[i] = (float)(i % 100) * 0.01f - 0.5f;
    roundtrip(m, 2, "cluster");
    kp_model_free(m);

    m = gemm_model(64, 64); /* 90% zeros, random values: sparse */
    W = kp_graph_init(m->graph, "W")->data;
    for (int i = 0; i < 64 * 64; i++)
        if (i % 10) W[i] = 0.0f;
    roundtrip(m, 8, "sparse");
    kp_model_free(m);

    m = gemm_model(64, 64); /* 80% zeros, 16 values: sparse + codebook */
    W = kp_graph_init(m->graph, "W")->data;
    for (int i = 0; i < 64 * 64; i++) W[i] = (i % 5) ? 0.0f : (float)(i % 7) - 3.5f;
    roundtrip(m, 14, "sparse_cluster"); /* 821 4-bit codes: odd count, sliced */
    kp_model_free(m);

    m = gemm_model(64, 64); /* 80% zeros, 50 values: sparse + 8-bit codes */
    W = kp_graph_init(m->graph, "W")->data;
    for (int i = 0; i < 64 * 64; i++) W[i] = (i % 5) ? 0.0f : (float)(i % 250) - 25.5f;
    roundtrip(m, 10, "sparse_cluster");
    kp_model_free(m);

    m = gemm_model(61, 33); /* 2013 weights: not a multiple of 8, the bit stream is sliced */
    W = kp_graph_init(m->graph, "W")->data;
    for (int i = 0; i < 61 * 33; i++)
        if (i % 9) W[i] = 0.0f;
    W[61 * 33 - 1] = 0.5f;
    roundtrip(m, 9, "sparse");
    kp_model_free(m);

    m = gemm_model(100, 100); /* long zero runs, first kept position far away */
    W = kp_graph_init(m->graph, "W")->data;
    for (int i = 0; i < 100 * 100; i++) W[i] = 0.0f;
    W[700] = 1.5f;
    W[1900] = -2.0f;
    W[9999] = 3.0f;
    roundtrip(m, 8, "sparse"); /* few entries: a codebook costs more than it saves */
    kp_model_free(m);
}

static double zero_frac(kp_model *m) {
    kp_tensor *w = kp_graph_find_const(m->graph, "W");
    assert_non_null(w);
    int64_t z = 0;
    for (int64_t i = 0; i < w->numel; i++) z += ((float *)w->data)[i] == 0.0f;
    return (double)z / (double)w->numel;
}

static void prune_then_cluster(void **state) {
    (void)state;
    kp_model *m = gemm_model(128, 64);
    kp_params p;
    kp_error err;
    kp_error_clear(&err);
    assert_int_equal(kp_params_parse(&kp_pass_prune, "sparsity=0.8", &p, &err), 0);
    assert_int_equal(kp_pass_prune.apply(m, &p, NULL, &err), 0);
    kp_params_free(&p);
    assert_null(kp_graph_init(m->graph, "W")); /* stored sparse */
    assert_int_equal(kp_graph_validate(m->graph, &err), 0);
    assert_int_equal(kp_wstore_decode_model(m, NULL, &err), 0);
    double z = zero_frac(m);
    assert_true(z > 0.79 && z < 0.81);

    assert_int_equal(kp_params_parse(&kp_pass_cluster, "k=16", &p, &err), 0);
    assert_int_equal(kp_pass_cluster.apply(m, &p, NULL, &err), 0);
    kp_params_free(&p);
    assert_int_equal(kp_wstore_decode_model(m, NULL, &err), 0);
    assert_true(zero_frac(m) == z); /* zeros stay zero */
    kp_tensor *w = kp_graph_init(m->graph, "W");
    float seen[32];
    int ns = 0;
    for (int64_t i = 0; i < w->numel; i++) {
        float v = ((float *)w->data)[i];
        int f = 0;
        for (int j = 0; j < ns; j++) f |= seen[j] == v;
        if (!f) {
            assert_true(ns < 17);
            seen[ns++] = v;
        }
    }
    assert_int_equal(ns, 16); /* 16 shared values, zero among them */
    kp_model_free(m);
}

static void bad_params_are_errors(void **state) {
    (void)state;
    kp_params p;
    kp_error err;
    kp_error_clear(&err);
    assert_int_not_equal(kp_params_parse(&kp_pass_prune, "sparsity=1.5", &p, &err), 0);
    assert_non_null(strstr(err.msg, "sparsity"));
    assert_int_not_equal(kp_params_parse(&kp_pass_cluster, "k=1", &p, &err), 0);
    assert_int_not_equal(kp_params_parse(&kp_pass_prune, "bogus=1", &p, &err), 0);
    /* A layer list naming nothing: clear error, model untouched by the caller's copy. */
    kp_model *m = gemm_model(64, 64);
    assert_int_equal(kp_params_parse(&kp_pass_prune, "layers=nope", &p, &err), 0);
    assert_int_equal(kp_pass_prune.apply(m, &p, NULL, &err), KP_EINVAL);
    assert_non_null(strstr(err.msg, "no layer"));
    kp_params_free(&p);
    kp_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kmeans_is_deterministic_and_keeps_zeros),
        cmocka_unit_test(store_forms_roundtrip),
        cmocka_unit_test(prune_then_cluster),
        cmocka_unit_test(bad_params_are_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
