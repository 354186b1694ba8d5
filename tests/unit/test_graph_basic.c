/* Graph IR basics: construction, copies, attributes, node/initializer edits, value types,
 * lookups (index, producers, consumers incl. subgraph outer-scope reads). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/graph.h"

static kp_node *mk(const char *op, const char *name, const char *in0, const char *in1,
                   const char *out) {
    const char *in[2] = {in0, in1};
    const char *o[1] = {out};
    return kp_node_new(op, name, in1 ? 2 : (in0 ? 1 : 0), in, 1, o);
}

static kp_tensor *mkt(const char *name, float v) {
    int64_t d[1] = {2};
    kp_tensor *t = kp_tensor_new(KP_FLOAT, 1, d, NULL);
    ((float *)t->data)[0] = v;
    ((float *)t->data)[1] = -v;
    kp_tensor_set_name(t, name);
    return t;
}

static void add_io(kp_value_info **arr, size_t *n, const char *name) {
    *arr = realloc(*arr, (*n + 1) * sizeof **arr);
    memset(&(*arr)[*n], 0, sizeof **arr);
    (*arr)[*n].name = strdup(name);
    int64_t d[2] = {-1, 2};
    kp_type_set_tensor(&(*arr)[*n].type, KP_FLOAT, 2, d);
    (*arr)[*n].type.dims[0].param = strdup("batch");
    (*n)++;
}

static void model_basics(void **state) {
    (void)state;
    kp_model *m = kp_model_new();
    assert_non_null(m);
    assert_non_null(m->graph);
    m->opsets = calloc(2, sizeof *m->opsets);
    m->opsets[0].domain = strdup("");
    m->opsets[0].version = 13;
    m->opsets[1].domain = strdup("com.microsoft");
    m->opsets[1].version = 1;
    m->n_opsets = 2;
    assert_int_equal(kp_model_opset(m, ""), 13);
    assert_int_equal(kp_model_opset(m, NULL), 13);
    assert_int_equal(kp_model_opset(m, "ai.onnx"), 13);
    assert_int_equal(kp_model_opset(m, "com.microsoft"), 1);
    assert_int_equal(kp_model_opset(m, "ai.onnx.ml"), 0);
    m->producer_name = strdup("test");
    kp_graph *g = m->graph;
    add_io(&g->inputs, &g->n_inputs, "x");
    add_io(&g->outputs, &g->n_outputs, "y");
    assert_int_equal(kp_graph_add_init(g, mkt("w", 1.5f)), 0);
    assert_int_equal(kp_graph_add_node(g, mk("Add", "a", "x", "w", "t")), 0);
    assert_int_equal(kp_graph_add_node(g, mk("Relu", "r", "t", NULL, "y")), 0);

    kp_model *c = kp_model_clone(m, NULL);
    assert_non_null(c);
    assert_string_equal(c->producer_name, "test");
    assert_int_equal(c->graph->n_nodes, 2);
    assert_string_equal(c->graph->nodes[1]->op_type, "Relu");
    assert_string_equal(c->graph->inputs[0].type.dims[0].param, "batch");
    assert_true(kp_tensor_equal(c->graph->inits[0], g->inits[0]));
    assert_ptr_not_equal(c->graph->inits[0], g->inits[0]);
    assert_int_equal(kp_model_opset(c, "com.microsoft"), 1);
    kp_model_free(c);
    kp_model_free(m);
    kp_model_free(NULL);
    kp_graph_free(NULL);
    kp_node_free(NULL);
}

static void node_edits(void **state) {
    (void)state;
    kp_node *n = mk("Conv", "c", "x", "w", "y");
    assert_true(kp_node_is(n, "Conv"));
    assert_false(kp_node_is(n, "Relu"));
    n->domain = strdup("com.microsoft");
    assert_false(kp_node_is(n, "Conv"));
    free(n->domain);
    n->domain = strdup("ai.onnx");
    assert_true(kp_node_is(n, "Conv"));
    assert_string_equal(kp_node_input(n, 1), "w");
    assert_null(kp_node_input(n, 2));
    assert_int_equal(kp_node_set_input(n, 3, "b"), 0);
    assert_int_equal(n->n_inputs, 4);
    assert_null(kp_node_input(n, 2)); /* filled with "" */
    assert_string_equal(n->inputs[2], "");
    assert_string_equal(kp_node_input(n, 3), "b");
    assert_int_equal(kp_node_set_output(n, 0, "z"), 0);
    assert_string_equal(kp_node_output(n, 0), "z");
    assert_null(kp_node_output(n, 1));

    assert_int_equal(kp_node_attr_int(n, "group", 1), 1);
    assert_int_equal(kp_node_set_attr_int(n, "group", 4), 0);
    assert_int_equal(kp_node_attr_int(n, "group", 1), 4);
    assert_int_equal(kp_node_set_attr_int(n, "group", 2), 0); /* replaces */
    assert_int_equal(n->n_attrs, 1);
    assert_int_equal(kp_node_attr_int(n, "group", 1), 2);
    int64_t pads[4] = {1, 1, 1, 1};
    assert_int_equal(kp_node_set_attr_ints(n, "pads", 4, pads), 0);
    const int64_t *p;
    assert_int_equal(kp_node_attr_ints(n, "pads", &p), 4);
    assert_int_equal(p[3], 1);
    assert_int_equal(kp_node_attr_ints(n, "strides", &p), 0);
    assert_null(p);
    assert_int_equal(kp_node_set_attr_float(n, "alpha", 0.25f), 0);
    assert_true(kp_node_attr_float(n, "alpha", 1) == 0.25f);
    assert_true(kp_node_attr_float(n, "group", 0) == 2.0f); /* int read as float */
    assert_int_equal(kp_node_attr_int(n, "alpha", 7), 7);   /* wrong type: default */
    float sc[2] = {0.5f, 2.0f};
    const float *fs;
    assert_int_equal(kp_node_set_attr_floats(n, "scales", 2, sc), 0);
    assert_int_equal(kp_node_attr_floats(n, "scales", &fs), 2);
    assert_true(fs[1] == 2.0f);
    assert_int_equal(kp_node_set_attr_string(n, "auto_pad", "SAME_UPPER"), 0);
    assert_string_equal(kp_node_attr_string(n, "auto_pad", "NOTSET"), "SAME_UPPER");
    assert_string_equal(kp_node_attr_string(n, "mode", "NOTSET"), "NOTSET");
    assert_int_equal(kp_node_set_attr_tensor(n, "value", mkt("v", 3)), 0);
    assert_non_null(kp_node_attr(n, "value")->t);
    kp_graph *sub = kp_graph_new(NULL);
    assert_int_equal(kp_node_set_attr_graph(n, "body", sub), 0);

    kp_graph *owner = kp_graph_new(NULL);
    kp_node *c = kp_node_clone(n, owner);
    assert_non_null(c);
    assert_int_equal(c->n_attrs, n->n_attrs);
    assert_ptr_equal(kp_node_attr(c, "body")->g->parent, owner);
    assert_string_equal(kp_node_attr_string(c, "auto_pad", ""), "SAME_UPPER");
    assert_true(kp_tensor_equal(kp_node_attr(c, "value")->t, kp_node_attr(n, "value")->t));
    assert_string_equal(c->domain, "ai.onnx");
    kp_node_free(c);
    kp_graph_free(owner);

    assert_int_equal(kp_node_remove_attr(n, "pads"), 0);
    assert_int_equal(kp_node_remove_attr(n, "pads"), KP_ENOTFOUND);
    assert_null(kp_node_attr(n, "pads"));
    assert_int_equal(kp_node_attr_int(n, "group", 0), 2);
    kp_node_free(n);
}

static void graph_edits_and_lookups(void **state) {
    (void)state;
    kp_graph *g = kp_graph_new(NULL);
    add_io(&g->inputs, &g->n_inputs, "x");
    add_io(&g->outputs, &g->n_outputs, "y");
    kp_graph_add_init(g, mkt("w", 1));
    kp_graph_add_node(g, mk("Mul", "m", "x", "w", "t"));
    kp_graph_add_node(g, mk("Relu", "r", "t", NULL, "y"));
    kp_graph_insert_node(g, 1, mk("Neg", "n", "t", NULL, "u"));
    assert_int_equal(g->n_nodes, 3);
    assert_string_equal(g->nodes[1]->name, "n");

    size_t pos = 99;
    assert_ptr_equal(kp_graph_producer(g, "t", &pos), g->nodes[0]);
    assert_int_equal(pos, 0);
    assert_null(kp_graph_producer(g, "x", NULL));
    kp_node *cons[4];
    assert_int_equal(kp_graph_consumers(g, "t", cons, 4), 2);
    assert_ptr_equal(cons[0], g->nodes[1]);
    assert_ptr_equal(cons[1], g->nodes[2]);
    assert_int_equal(kp_graph_consumers(g, "t", cons, 1), 2); /* total even when cap small */
    assert_int_equal(kp_graph_consumers(g, "nothing", cons, 4), 0);
    assert_true(kp_graph_is_output(g, "y"));
    assert_false(kp_graph_is_output(g, "t"));
    assert_non_null(kp_graph_init(g, "w"));
    assert_null(kp_graph_init(g, "x"));

    /* value types: declared input, initializer, value_info set by us */
    const kp_type *tx = kp_graph_value_type(g, "x");
    assert_non_null(tx);
    assert_int_equal(tx->rank, 2);
    const kp_type *tw = kp_graph_value_type(g, "w");
    assert_non_null(tw);
    assert_int_equal(tw->elem, KP_FLOAT);
    assert_int_equal(tw->dims[0].value, 2);
    assert_int_equal(g->n_value_info, 0); /* looking up does not add value_info */
    assert_null(kp_graph_value_type(g, "t"));
    kp_type tt = {.rank = -1};
    int64_t d[2] = {-1, 2};
    kp_type_set_tensor(&tt, KP_FLOAT, 2, d);
    assert_int_equal(kp_graph_set_value_type(g, "t", &tt), 0);
    assert_int_equal(kp_graph_set_value_type(g, "t", &tt), 0); /* replaces, not appends */
    assert_int_equal(g->n_value_info, 1);
    kp_type_clear(&tt);
    assert_int_equal(kp_graph_value_type(g, "t")->dims[1].value, 2);

    /* removal invalidates the index */
    kp_graph_remove_node(g, 1);
    assert_int_equal(kp_graph_consumers(g, "t", cons, 4), 1);
    assert_null(kp_graph_producer(g, "u", NULL));
    kp_graph_replace_node(g, 1, mk("Sigmoid", "s", "t", NULL, "y"));
    assert_string_equal(kp_graph_producer(g, "y", NULL)->op_type, "Sigmoid");
    assert_int_equal(kp_graph_remove_init(g, "w"), 0);
    assert_int_equal(kp_graph_remove_init(g, "w"), KP_ENOTFOUND);
    assert_null(kp_graph_init(g, "w"));
    /* init without name is refused (and freed) */
    kp_tensor *noname = mkt(NULL, 1);
    assert_int_equal(kp_graph_add_init(g, noname), KP_EINVAL);
    kp_graph_free(g);
}

/* outer: x -> If(cond) { then: Add(x, w_outer) -> a ; else: Identity(x) -> b } -> y */
static void subgraph_reads(void **state) {
    (void)state;
    kp_graph *g = kp_graph_new(NULL);
    add_io(&g->inputs, &g->n_inputs, "x");
    add_io(&g->inputs, &g->n_inputs, "cond");
    add_io(&g->outputs, &g->n_outputs, "y");
    kp_graph_add_init(g, mkt("w", 2));
    kp_graph *then_g = kp_graph_new(NULL), *else_g = kp_graph_new(NULL);
    kp_graph_add_node(then_g, mk("Add", "ta", "x", "w", "a"));
    add_io(&then_g->outputs, &then_g->n_outputs, "a");
    /* the else branch defines its own "w" (shadowing) and outputs outer "x" directly */
    kp_graph_add_init(else_g, mkt("w", 5));
    kp_graph_add_node(else_g, mk("Mul", "em", "w", "w", "unused"));
    add_io(&else_g->outputs, &else_g->n_outputs, "x");
    kp_node *iff = mk("If", "if", "cond", NULL, "y");
    kp_node_set_attr_graph(iff, "then_branch", then_g);
    kp_node_set_attr_graph(iff, "else_branch", else_g);
    kp_graph_add_node(g, iff);
    assert_ptr_equal(then_g->parent, g);

    kp_node *cons[4];
    assert_int_equal(kp_graph_consumers(g, "x", cons, 4), 1);
    assert_ptr_equal(cons[0], iff);
    assert_int_equal(kp_graph_consumers(g, "w", cons, 4), 1);
    assert_int_equal(kp_graph_consumers(g, "cond", cons, 4), 1);

    char **names;
    size_t n;
    assert_int_equal(kp_graph_outer_reads(else_g, &names, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "x");
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    assert_int_equal(kp_node_outer_reads(iff, &names, &n, NULL), 0);
    assert_int_equal(n, 2); /* x and w */
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);

    /* value type lookup sees the enclosing graph, but not through shadowing */
    assert_non_null(kp_graph_value_type(then_g, "x"));
    assert_int_equal(kp_graph_value_type(else_g, "w")->dims[0].value, 2);

    /* editing a subgraph invalidates the parent's index */
    kp_graph_remove_node(then_g, 0);
    assert_int_equal(kp_graph_consumers(g, "w", cons, 4), 0);

    kp_graph *c = kp_graph_clone(g, NULL, NULL);
    assert_non_null(c);
    const kp_attr *eb = kp_node_attr(c->nodes[0], "else_branch");
    assert_ptr_equal(eb->g->parent, c);
    kp_graph_free(c);
    kp_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(model_basics),
        cmocka_unit_test(node_edits),
        cmocka_unit_test(graph_edits_and_lookups),
        cmocka_unit_test(subgraph_reads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
