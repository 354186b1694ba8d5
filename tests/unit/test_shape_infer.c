/* Shape inference on hand-built graphs: symbolic dims, value propagation (Shape -> Gather ->
 * Concat -> Reshape), Reshape 0/-1, conv/pool arithmetic (pads, strides, dilations, auto_pad,
 * ceil_mode, groups), Gemm/MatMul broadcasting, opset-dependent Squeeze/Unsqueeze/Slice/Reduce,
 * If branches, unknown ops keeping declared types, and inconsistent models naming the node. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/model_stats.h"
#include "core/shape_infer.h"

/* dims: values >= 0, or -1 for unknown; sym[i] names dim i when non-NULL */
static void add_input(kp_graph *g, const char *name, kp_dtype dt, int rank, const int64_t *dims,
                      const char *const *sym) {
    g->inputs = realloc(g->inputs, (g->n_inputs + 1) * sizeof *g->inputs);
    kp_value_info *v = &g->inputs[g->n_inputs++];
    memset(v, 0, sizeof *v);
    v->name = strdup(name);
    v->type.rank = -1;
    kp_type_set_tensor(&v->type, dt, rank, dims);
    for (int i = 0; sym && i < rank; i++)
        if (sym[i]) v->type.dims[i].param = strdup(sym[i]);
}

static void add_output(kp_graph *g, const char *name) {
    g->outputs = realloc(g->outputs, (g->n_outputs + 1) * sizeof *g->outputs);
    kp_value_info *v = &g->outputs[g->n_outputs++];
    memset(v, 0, sizeof *v);
    v->name = strdup(name);
    v->type.rank = -1;
}

static void add_ints(kp_graph *g, const char *name, int n, const int64_t *v) {
    int64_t d[1] = {n};
    kp_tensor *t = kp_tensor_new(KP_INT64, 1, d, NULL);
    if (n) memcpy(t->data, v, (size_t)n * sizeof *v);
    kp_tensor_set_name(t, name);
    kp_graph_add_init(g, t);
}

static void add_floats(kp_graph *g, const char *name, int rank, const int64_t *dims) {
    kp_tensor *t = kp_tensor_new(KP_FLOAT, rank, dims, NULL);
    kp_tensor_set_name(t, name);
    kp_graph_add_init(g, t);
}

static kp_node *node(kp_graph *g, const char *op, const char *ins, const char *outs) {
    /* ins/outs: comma-separated, "" entries allowed */
    const char *in[16], *out[8];
    char *a = strdup(ins), *b = strdup(outs);
    size_t ni = 0, no = 0;
    for (char *p = a, *q; *ins && p; p = q) {
        q = strchr(p, ',');
        if (q) *q++ = 0;
        in[ni++] = p;
    }
    for (char *p = b, *q; *outs && p; p = q) {
        q = strchr(p, ',');
        if (q) *q++ = 0;
        out[no++] = p;
    }
    kp_node *n = kp_node_new(op, op, ni, in, no, out);
    free(a);
    free(b);
    kp_graph_add_node(g, n);
    return n;
}

static kp_model *model(int64_t opset) {
    kp_model *m = kp_model_new();
    m->opsets = calloc(1, sizeof *m->opsets);
    m->opsets[0].domain = strdup("");
    m->opsets[0].version = opset;
    m->n_opsets = 1;
    return m;
}

/* "float32 [2,batch,?]" */
static const char *ty(kp_model *m, const char *name) {
    static char buf[256];
    const kp_type *t = kp_graph_value_type(m->graph, name);
    if (!t || t->kind != KP_TYPE_TENSOR) return "none";
    if (t->rank < 0) {
        snprintf(buf, sizeof buf, "%s [?]", kp_dtype_name(t->elem));
        return buf;
    }
    size_t o = (size_t)snprintf(buf, sizeof buf, "%s [", kp_dtype_name(t->elem));
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i].value >= 0)
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%lld", i ? "," : "",
                                  (long long)t->dims[i].value);
        else
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", i ? "," : "",
                                  t->dims[i].param ? t->dims[i].param : "?");
    }
    snprintf(buf + o, sizeof buf - o, "]");
    return buf;
}

static void infer_ok(kp_model *m) {
    kp_error e = {0};
    int rc = kp_infer_shapes(m, &e);
    if (rc) fail_msg("inference failed: %s", e.msg);
}

static void cnn(void **state) {
    (void)state;
    kp_model *m = model(13);
    kp_graph *g = m->graph;
    const char *bsym[4] = {"N", NULL, NULL, NULL};
    int64_t xd[4] = {-1, 3, 32, 32};
    add_input(g, "x", KP_FLOAT, 4, xd, bsym);
    int64_t wd[4] = {8, 3, 3, 3}, w2[4] = {8, 1, 3, 3}, fc[2] = {10, 8 * 8 * 8};
    add_floats(g, "w", 4, wd);
    add_floats(g, "wdw", 4, w2);
    add_floats(g, "fc", 2, fc);
    kp_node *c = node(g, "Conv", "x,w", "c");
    int64_t pads[4] = {1, 1, 1, 1};
    kp_node_set_attr_ints(c, "pads", 4, pads);
    kp_node *dw = node(g, "Conv", "c,wdw", "d"); /* depthwise, stride 2, SAME_UPPER */
    kp_node_set_attr_int(dw, "group", 8);
    int64_t s2[2] = {2, 2};
    kp_node_set_attr_ints(dw, "strides", 2, s2);
    kp_node_set_attr_string(dw, "auto_pad", "SAME_UPPER");
    node(g, "BatchNormalization", "d,s,b,mu,var", "bn");
    node(g, "Relu", "bn", "r");
    kp_node *mp = node(g, "MaxPool", "r", "p,idx"); /* 16 -> ceil((16-3)/2)+1 = 8 */
    int64_t k3[2] = {3, 3};
    kp_node_set_attr_ints(mp, "kernel_shape", 2, k3);
    kp_node_set_attr_ints(mp, "strides", 2, s2);
    kp_node_set_attr_int(mp, "ceil_mode", 1);
    node(g, "Flatten", "p", "f");
    kp_node *gm = node(g, "Gemm", "f,fc", "y");
    kp_node_set_attr_int(gm, "transB", 1);
    node(g, "GlobalAveragePool", "r", "gap");
    kp_node *dl = node(g, "Conv", "x,w", "dil"); /* dilation 2, stride 2, no pad: 32 -> 14 */
    kp_node_set_attr_ints(dl, "dilations", 2, s2);
    kp_node_set_attr_ints(dl, "strides", 2, s2);
    add_output(g, "y");
    infer_ok(m);
    assert_string_equal(ty(m, "c"), "float32 [N,8,32,32]");
    assert_string_equal(ty(m, "d"), "float32 [N,8,16,16]");
    assert_string_equal(ty(m, "bn"), "float32 [N,8,16,16]");
    assert_string_equal(ty(m, "p"), "float32 [N,8,8,8]");
    assert_string_equal(ty(m, "idx"), "int64 [N,8,8,8]");
    assert_string_equal(ty(m, "f"), "float32 [N,512]");
    assert_string_equal(ty(m, "y"), "float32 [N,10]");
    assert_string_equal(ty(m, "gap"), "float32 [N,8,1,1]");
    assert_string_equal(ty(m, "dil"), "float32 [N,8,14,14]");
    /* statistics: MACs with N taken as 1 */
    kp_model_stats *st;
    assert_int_equal(kp_model_stats_compute(m, &st, NULL), 0);
    int64_t want = 8LL * 32 * 32 * 3 * 9 + 8LL * 16 * 16 * 1 * 9 + 10LL * 512 + 8LL * 14 * 14 * 27;
    assert_int_equal(st->macs, want);
    assert_true(st->macs_complete);
    assert_true(st->macs_assume_batch1);
    assert_int_equal(st->n_layers, 4);
    assert_string_equal(st->layers[0].op_type, "Conv");
    assert_int_equal(st->layers[0].macs, 8LL * 32 * 32 * 27);
    assert_int_equal(st->params, 8 * 27 + 8 * 9 + 10 * 512);
    assert_int_equal(st->by_dtype[KP_FLOAT].tensors, 3);
    assert_int_equal(st->nodes, 9);
    assert_string_equal(st->ops[0].op, "Conv"); /* 3 Convs: most frequent */
    assert_int_equal(st->ops[0].count, 3);
    kp_model_stats_free(st);
    kp_model_free(m);
}

static void shape_chain_symbolic(void **state) {
    (void)state;
    /* y = Reshape(x, Concat(Shape(x)[0], [-1])) : [B,4,5] -> [B,20] */
    kp_model *m = model(13);
    kp_graph *g = m->graph;
    const char *sym[3] = {"B", NULL, NULL};
    int64_t xd[3] = {-1, 4, 5};
    add_input(g, "x", KP_FLOAT, 3, xd, sym);
    int64_t zero = 0, minus1 = -1;
    add_ints(g, "i0", 1, &zero);
    add_ints(g, "m1", 1, &minus1);
    node(g, "Shape", "x", "s");
    node(g, "Gather", "s,i0", "b");
    node(g, "Concat", "b,m1", "shape");
    kp_node_set_attr_int(g->nodes[2], "axis", 0);
    node(g, "Reshape", "x,shape", "y");
    /* Reshape with 0 (copy) and -1 resolved from known dims */
    int64_t s2[3] = {0, -1, 2};
    add_ints(g, "s2", 3, s2);
    node(g, "Reshape", "x,s2", "z");   /* [B, 10, 2] */
    node(g, "Unsqueeze", "y,i0", "u"); /* opset 13: axes input */
    node(g, "Squeeze", "u,i0", "q");
    infer_ok(m);
    assert_string_equal(ty(m, "s"), "int64 [3]");
    assert_string_equal(ty(m, "b"), "int64 [1]");
    assert_string_equal(ty(m, "y"), "float32 [B,20]");
    assert_string_equal(ty(m, "z"), "float32 [B,10,2]");
    assert_string_equal(ty(m, "u"), "float32 [1,B,20]");
    assert_string_equal(ty(m, "q"), "float32 [B,20]");
    kp_model_free(m);
}

static void opset_forms(void **state) {
    (void)state;
    /* opset 11: Squeeze/Unsqueeze/ReduceSum take attributes; Slice takes inputs */
    kp_model *m = model(11);
    kp_graph *g = m->graph;
    int64_t xd[3] = {1, 6, 8};
    add_input(g, "x", KP_FLOAT, 3, xd, NULL);
    int64_t ax0 = 0, ax2[1] = {2};
    kp_node *sq = node(g, "Squeeze", "x", "a");
    kp_node_set_attr_ints(sq, "axes", 1, &ax0);
    kp_node *us = node(g, "Unsqueeze", "a", "b");
    kp_node_set_attr_ints(us, "axes", 1, ax2); /* [6,8] -> [6,8,1] */
    kp_node *rs = node(g, "ReduceSum", "x", "c");
    int64_t ax1 = 1;
    kp_node_set_attr_ints(rs, "axes", 1, &ax1);
    kp_node_set_attr_int(rs, "keepdims", 0);
    int64_t st[2] = {1, -1}, en[2] = {INT64_MAX, -7}, axs[2] = {1, 2}, stp[2] = {2, -2};
    add_ints(g, "st", 2, st);
    add_ints(g, "en", 2, en);
    add_ints(g, "axs", 2, axs);
    add_ints(g, "stp", 2, stp);
    node(g, "Slice", "x,st,en,axs,stp",
         "d"); /* axis1: 1..6 step 2 -> 3; axis2: 7 down to -7(=1) step -2 -> 3 */
    node(g, "ReduceMean", "x", "e"); /* no axes: all, keepdims */
    kp_node *tr = node(g, "Transpose", "x", "t");
    int64_t perm[3] = {2, 0, 1};
    kp_node_set_attr_ints(tr, "perm", 3, perm);
    kp_node *sp = node(g, "Split", "x", "s1,s2");
    kp_node_set_attr_int(sp, "axis", 2);
    infer_ok(m);
    assert_string_equal(ty(m, "a"), "float32 [6,8]");
    assert_string_equal(ty(m, "b"), "float32 [6,8,1]");
    assert_string_equal(ty(m, "c"), "float32 [1,8]");
    assert_string_equal(ty(m, "d"), "float32 [1,3,3]");
    assert_string_equal(ty(m, "e"), "float32 [1,1,1]");
    assert_string_equal(ty(m, "t"), "float32 [8,1,6]");
    assert_string_equal(ty(m, "s2"), "float32 [1,6,4]");
    kp_model_free(m);
}

static void matmul_and_broadcast(void **state) {
    (void)state;
    kp_model *m = model(17);
    kp_graph *g = m->graph;
    const char *sym[3] = {"B", "T", NULL};
    int64_t ad[3] = {-1, -1, 16}, bd[2] = {16, 32}, vd[1] = {16}, cd[4] = {2, 1, 1, 32};
    add_input(g, "a", KP_FLOAT, 3, ad, sym);
    add_input(g, "w", KP_FLOAT, 2, bd, NULL);
    add_input(g, "v", KP_FLOAT, 1, vd, NULL);
    add_input(g, "c", KP_FLOAT, 4, cd, NULL);
    node(g, "MatMul", "a,w", "y"); /* [B,T,32] */
    node(g, "MatMul", "a,v", "z"); /* [B,T] */
    node(g, "Add", "y,c", "s");    /* [2,B,T,32] broadcast */
    node(g, "Equal", "y,y", "eq"); /* bool */
    node(g, "Where", "eq,y,c", "wh");
    node(g, "Cast", "z", "zi");
    kp_node_set_attr_int(g->nodes[5], "to", KP_INT32);
    infer_ok(m);
    assert_string_equal(ty(m, "y"), "float32 [B,T,32]");
    assert_string_equal(ty(m, "z"), "float32 [B,T]");
    assert_string_equal(ty(m, "s"), "float32 [2,B,T,32]");
    assert_string_equal(ty(m, "eq"), "bool [B,T,32]");
    assert_string_equal(ty(m, "wh"), "float32 [2,B,T,32]");
    assert_string_equal(ty(m, "zi"), "int32 [B,T]");
    kp_model_free(m);
}

static void unknown_ops_and_errors(void **state) {
    (void)state;
    kp_model *m = model(13);
    kp_graph *g = m->graph;
    int64_t xd[2] = {3, 4}, yd[2] = {5, 6};
    add_input(g, "x", KP_FLOAT, 2, xd, NULL);
    kp_node *cu = node(g, "MyCustomOp", "x", "u");
    cu->domain = strdup("com.example");
    /* declared value_info for the custom op's output survives */
    kp_type t = {.rank = -1};
    kp_type_set_tensor(&t, KP_FLOAT16, 2, yd);
    kp_graph_set_value_type(g, "u", &t);
    kp_type_clear(&t);
    node(g, "Relu", "u", "r");
    node(g, "Relu", "nowhere_declared", "r2");
    infer_ok(m);
    assert_string_equal(ty(m, "u"), "float16 [5,6]");
    assert_string_equal(ty(m, "r"), "float16 [5,6]");
    assert_string_equal(ty(m, "r2"), "none"); /* nothing to go on: nothing invented */
    /* inconsistent: Add of [3,4] and [5,6] */
    node(g, "Add", "x,u", "bad");
    kp_error e = {0};
    assert_int_equal(kp_infer_shapes(m, &e), KP_EFORMAT);
    assert_non_null(strstr(e.msg, "Add"));
    assert_non_null(strstr(e.msg, "[3,4]"));
    kp_model_free(m);

    m = model(13);
    g = m->graph;
    int64_t x4[4] = {1, 3, 8, 8}, w4[4] = {4, 2, 3, 3};
    add_input(g, "x", KP_FLOAT, 4, x4, NULL);
    add_floats(g, "w", 4, w4);
    node(g, "Conv", "x,w", "c"); /* 3 channels but weight wants 2 x group 1 */
    assert_int_equal(kp_infer_shapes(m, &e), KP_EFORMAT);
    assert_non_null(strstr(e.msg, "channels"));
    kp_model_free(m);

    m = model(13);
    g = m->graph;
    add_input(g, "x", KP_FLOAT, 2, xd, NULL);
    int64_t bad[2] = {5, -1};
    add_ints(g, "shp", 2, bad);
    node(g, "Reshape", "x,shp", "r"); /* 12 elements are not a multiple of 5 */
    assert_int_equal(kp_infer_shapes(m, &e), KP_EFORMAT);
    assert_non_null(strstr(e.msg, "Reshape"));
    kp_model_free(m);
}

static void if_branches(void **state) {
    (void)state;
    kp_model *m = model(13);
    kp_graph *g = m->graph;
    int64_t xd[2] = {2, 3}, cd[1] = {1};
    add_input(g, "x", KP_FLOAT, 2, xd, NULL);
    add_input(g, "cond", KP_BOOL, 1, cd, NULL);
    kp_graph *th = kp_graph_new(NULL), *el = kp_graph_new(NULL);
    node(th, "Relu", "x", "tr");
    add_output(th, "tr");
    kp_node *tp = node(el, "Transpose", "x", "et"); /* [3,2]: shapes disagree -> rank kept */
    (void)tp;
    add_output(el, "et");
    kp_node *iff = node(g, "If", "cond", "y");
    kp_node_set_attr_graph(iff, "then_branch", th);
    kp_node_set_attr_graph(iff, "else_branch", el);
    th->parent = el->parent = g;
    infer_ok(m);
    assert_string_equal(ty(m, "y"), "float32 [?,?]");
    assert_string_equal(kp_infer_op_name(0), "Abs");
    for (size_t i = 1; kp_infer_op_name(i); i++)
        assert_true(strcmp(kp_infer_op_name(i - 1), kp_infer_op_name(i)) < 0);
    kp_model_free(m);
}

static void resize_pad_expand(void **state) {
    (void)state;
    kp_model *m = model(13);
    kp_graph *g = m->graph;
    int64_t xd[4] = {1, 3, 10, 20};
    add_input(g, "x", KP_FLOAT, 4, xd, NULL);
    int64_t sc_d[1] = {4};
    kp_tensor *sc = kp_tensor_new(KP_FLOAT, 1, sc_d, NULL);
    float sv[4] = {1, 1, 2, 0.5f};
    memcpy(sc->data, sv, sizeof sv);
    kp_tensor_set_name(sc, "scales");
    kp_graph_add_init(g, sc);
    node(g, "Resize", "x,,scales", "r");
    int64_t pads[8] = {0, 0, 1, 2, 0, 0, 3, 4};
    add_ints(g, "pads", 8, pads);
    node(g, "Pad", "x,pads", "p");
    int64_t ex[4] = {2, 1, 1, 1};
    add_ints(g, "ex", 4, ex);
    node(g, "Expand", "x,ex", "e");
    int64_t rep[4] = {1, 2, 1, 3};
    add_ints(g, "rep", 4, rep);
    node(g, "Tile", "x,rep", "t");
    infer_ok(m);
    assert_string_equal(ty(m, "r"), "float32 [1,3,20,10]");
    assert_string_equal(ty(m, "p"), "float32 [1,3,14,26]");
    assert_string_equal(ty(m, "e"), "float32 [2,3,10,20]");
    assert_string_equal(ty(m, "t"), "float32 [1,6,10,60]");
    kp_model_free(m);
}

/* Sizes from hostile constants overflow int64: a clear error, never undefined behaviour. */
static void overflowing_sizes(void **state) {
    (void)state;
    const char *ops[] = {"Tile", "Pad", "Reshape", "ConvTranspose", "MaxPool", "Mul"};
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
        kp_model *m = model(13);
        kp_graph *g = m->graph;
        int64_t xd[4] = {1, 1, 4, 4};
        add_input(g, "x", KP_FLOAT, 4, xd, NULL);
        int64_t huge[8];
        for (int i = 0; i < 8; i++) huge[i] = INT64_C(1) << 62;
        add_ints(g, "h", !strcmp(ops[k], "Pad") ? 8 : 4, huge);
        int64_t wd[4] = {1, 1, 3, 3};
        add_floats(g, "w", 4, wd);
        kp_node *n;
        if (!strcmp(ops[k], "ConvTranspose")) {
            n = node(g, "ConvTranspose", "x,w", "y");
            int64_t st[2] = {INT64_C(1) << 62, 1};
            kp_node_set_attr_ints(n, "strides", 2, st);
        } else if (!strcmp(ops[k], "MaxPool")) {
            n = node(g, "MaxPool", "x", "y");
            int64_t ks[2] = {3, 3}, dil[2] = {INT64_C(1) << 62, 1};
            kp_node_set_attr_ints(n, "kernel_shape", 2, ks);
            kp_node_set_attr_ints(n, "dilations", 2, dil);
        } else if (!strcmp(ops[k], "Mul")) { /* values: Shape * huge feeds Reshape */
            node(g, "Shape", "x", "s");
            node(g, "Mul", "s,h", "s2");
            node(g, "Reshape", "x,s2", "y");
        } else {
            node(g, ops[k], "x,h", "y");
        }
        kp_error e = {0};
        int rc = kp_infer_shapes(m, &e);
        /* the Mul's overflowing values become unknown; the Reshape then cannot fit 16 elements */
        const char *culprit = strcmp(ops[k], "Mul") ? ops[k] : "Reshape";
        if (rc != KP_EFORMAT) fail_msg("%s: rc %d, y is %s", ops[k], rc, ty(m, "y"));
        assert_non_null(strstr(e.msg, culprit));
        kp_model_free(m);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cnn),
        cmocka_unit_test(shape_chain_symbolic),
        cmocka_unit_test(opset_forms),
        cmocka_unit_test(matmul_and_broadcast),
        cmocka_unit_test(unknown_ops_and_errors),
        cmocka_unit_test(if_branches),
        cmocka_unit_test(resize_pad_expand),
        cmocka_unit_test(overflowing_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
