/* Graph IR rewrites: constants everywhere, rename with shadowing, replace uses, unique names,
 * toposort (order, cycles, dangling inputs), dead code with subgraph reads, validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/graph.h"

static kp_node *mk(const char *op, const char *name, const char *in0, const char *in1,
                   const char *out) {
    const char *in[2] = {in0, in1};
    const char *o[1] = {out};
    return kp_node_new(op, name, in1 ? 2 : (in0 ? 1 : 0), in, out ? 1 : 0, o);
}

static kp_tensor *mkt(const char *name, float v) {
    int64_t d[1] = {2};
    kp_tensor *t = kp_tensor_new(KP_FLOAT, 1, d, NULL);
    ((float *)t->data)[0] = v;
    ((float *)t->data)[1] = -v;
    kp_tensor_set_name(t, name);
    return t;
}

static void add_vi(kp_value_info **arr, size_t *n, const char *name) {
    *arr = realloc(*arr, (*n + 1) * sizeof **arr);
    memset(&(*arr)[*n], 0, sizeof **arr);
    (*arr)[*n].name = strdup(name);
    int64_t d[1] = {2};
    kp_type_set_tensor(&(*arr)[*n].type, KP_FLOAT, 1, d);
    (*n)++;
}

/* x, cond inputs; init w; Constant c (tensor), Constant cf (value_floats), Constant ci
 * (value_int), Constant cs (value_strings); If(cond) whose then-branch reads outer w and has its
 * own Constant k and initializer kw; else-branch outputs x. */
static kp_graph *build(void) {
    kp_graph *g = kp_graph_new(NULL);
    add_vi(&g->inputs, &g->n_inputs, "x");
    add_vi(&g->inputs, &g->n_inputs, "cond");
    add_vi(&g->outputs, &g->n_outputs, "y");
    kp_graph_add_init(g, mkt("w", 1));
    kp_node *c = mk("Constant", "c", NULL, NULL, "c");
    kp_node_set_attr_tensor(c, "value", mkt(NULL, 3));
    kp_graph_add_node(g, c);
    kp_node *cf = mk("Constant", "cf", NULL, NULL, "cf");
    float fv[3] = {1, 2, 3};
    kp_node_set_attr_floats(cf, "value_floats", 3, fv);
    kp_graph_add_node(g, cf);
    kp_node *ci = mk("Constant", "ci", NULL, NULL, "ci");
    kp_node_set_attr_int(ci, "value_int", 42);
    kp_graph_add_node(g, ci);
    kp_graph_add_node(g, mk("Add", "a1", "x", "c", "t1"));
    kp_graph_add_node(g, mk("Mul", "m1", "t1", "cf", "t2"));

    kp_graph *th = kp_graph_new(NULL), *el = kp_graph_new(NULL);
    kp_node *k = mk("Constant", "k", NULL, NULL, "k");
    kp_node_set_attr_float(k, "value_float", 0.5f);
    kp_graph_add_node(th, k);
    kp_graph_add_init(th, mkt("kw", 7));
    kp_graph_add_node(th, mk("Add", "ta", "t2", "w", "u"));
    kp_graph_add_node(th, mk("Mul", "tm", "u", "k", "v"));
    kp_graph_add_node(th, mk("Mul", "tm2", "v", "kw", "tout"));
    add_vi(&th->outputs, &th->n_outputs, "tout");
    add_vi(&el->outputs, &el->n_outputs, "x");
    kp_node *iff = mk("If", "if", "cond", NULL, "y");
    kp_node_set_attr_graph(iff, "then_branch", th);
    kp_node_set_attr_graph(iff, "else_branch", el);
    kp_graph_add_node(g, iff);
    return g;
}

static kp_graph *then_of(kp_graph *g) {
    return kp_node_attr(kp_graph_producer(g, "y", NULL), "then_branch")->g;
}

static void consts_everywhere(void **state) {
    (void)state;
    kp_graph *g = build();
    kp_const_ref *refs;
    size_t n;
    kp_error e;
    assert_int_equal(kp_graph_consts(g, 0, &refs, &n, &e), 0);
    assert_int_equal(n, 4); /* w, c, cf, ci */
    free(refs);
    assert_int_equal(kp_graph_consts(g, 1, &refs, &n, &e), 0);
    assert_int_equal(n, 6); /* + kw, k in the then-branch */
    int seen_attr = 0, seen_sub = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(refs[i].name, "cf")) {
            assert_int_equal(refs[i].kind, KP_CONST_NODE_ATTR);
            assert_int_equal(refs[i].tensor->numel, 3);
            assert_true(kp_tensor_get(refs[i].tensor, 2) == 3.0);
            seen_attr = 1;
        }
        if (!strcmp(refs[i].name, "c")) assert_int_equal(refs[i].kind, KP_CONST_NODE);
        if (!strcmp(refs[i].name, "w")) assert_int_equal(refs[i].kind, KP_CONST_INIT);
        if (!strcmp(refs[i].name, "k")) {
            assert_ptr_equal(refs[i].graph, then_of(g));
            assert_int_equal(refs[i].tensor->rank, 0);
            assert_true(kp_tensor_get(refs[i].tensor, 0) == 0.5);
            seen_sub = 1;
        }
    }
    assert_true(seen_attr && seen_sub);
    free(refs);

    /* find: from inside the subgraph we see the outer w and c; x is no constant */
    kp_graph *th = then_of(g);
    assert_non_null(kp_graph_find_const(th, "w"));
    assert_non_null(kp_graph_find_const(th, "kw"));
    assert_non_null(kp_graph_find_const(th, "c"));
    assert_null(kp_graph_find_const(g, "kw")); /* inner constants are not visible outside */
    assert_null(kp_graph_find_const(g, "x"));
    assert_null(kp_graph_find_const(g, "t1"));
    kp_tensor *ci = kp_graph_find_const(g, "ci");
    assert_int_equal(ci->dtype, KP_INT64);
    assert_true(kp_tensor_get(ci, 0) == 42.0);

    /* replace: initializer stays initializer, Constant keeps its node, value_* becomes value */
    assert_int_equal(kp_graph_replace_const(th, mkt("w", 9), &e), 0);
    assert_true(kp_tensor_get(kp_graph_init(g, "w"), 0) == 9.0);
    assert_int_equal(g->n_inits, 1);
    assert_int_equal(kp_graph_replace_const(g, mkt("c", 5), &e), 0);
    assert_true(kp_tensor_get(kp_graph_find_const(g, "c"), 1) == -5.0);
    assert_string_equal(g->nodes[0]->op_type, "Constant");
    assert_int_equal(kp_graph_replace_const(g, mkt("cf", 6), &e), 0);
    kp_node *cf = kp_graph_producer(g, "cf", NULL);
    assert_null(kp_node_attr(cf, "value_floats"));
    assert_non_null(kp_node_attr(cf, "value")->t);
    assert_int_equal(kp_graph_find_const(g, "cf")->numel, 2);
    assert_int_equal(kp_graph_replace_const(th, mkt("k", 2), &e), 0);
    assert_true(kp_tensor_get(kp_graph_find_const(th, "k"), 0) == 2.0);
    assert_int_equal(kp_graph_replace_const(g, mkt("t1", 1), &e), KP_ENOTFOUND);
    assert_non_null(strstr(e.msg, "t1"));
    kp_graph_free(g);
}

static void rename_and_uses(void **state) {
    (void)state;
    kp_graph *g = build();
    kp_graph *th = then_of(g);
    /* rename t2 (produced outside, read inside the then-branch) */
    assert_int_equal(kp_graph_rename_value(g, "t2", "prod"), 0);
    assert_string_equal(g->nodes[4]->outputs[0], "prod");
    assert_string_equal(th->nodes[1]->inputs[0], "prod");
    /* rename w: the initializer, the outer use inside then-branch */
    assert_int_equal(kp_graph_rename_value(g, "w", "weight"), 0);
    assert_non_null(kp_graph_init(g, "weight"));
    assert_string_equal(th->nodes[1]->inputs[1], "weight");
    /* shadowing: a branch that defines its own "x" keeps it */
    kp_graph *el = kp_node_attr(g->nodes[g->n_nodes - 1], "else_branch")->g;
    kp_graph_add_init(el, mkt("x", 1));
    assert_int_equal(kp_graph_rename_value(g, "x", "input"), 0);
    assert_string_equal(g->inputs[0].name, "input");
    assert_string_equal(g->nodes[3]->inputs[0], "input");
    assert_string_equal(el->outputs[0].name, "x"); /* its own x */
    /* graph outputs are renamed too */
    assert_int_equal(kp_graph_rename_value(g, "y", "out"), 0);
    assert_string_equal(g->outputs[0].name, "out");
    assert_string_equal(g->nodes[g->n_nodes - 1]->outputs[0], "out");
    assert_int_equal(kp_graph_validate(g, NULL), 0);

    /* replace uses: producer stays, readers move */
    assert_int_equal(kp_graph_replace_uses(g, "t1", "input"), 0);
    assert_string_equal(g->nodes[3]->outputs[0], "t1");
    assert_string_equal(g->nodes[4]->inputs[0], "input");
    kp_node *cons[4];
    assert_int_equal(kp_graph_consumers(g, "t1", cons, 4), 0);
    assert_int_equal(kp_graph_rename_value(g, "a", ""), KP_EINVAL);
    kp_graph_free(g);
}

static void unique_names(void **state) {
    (void)state;
    kp_graph *g = build();
    char *u = kp_graph_unique_name(g, "fresh");
    assert_string_equal(u, "fresh");
    free(u);
    u = kp_graph_unique_name(g, "w");
    assert_string_equal(u, "w_1");
    free(u);
    /* names used only inside a subgraph are taken too, also when asked from the subgraph */
    u = kp_graph_unique_name(g, "kw");
    assert_string_equal(u, "kw_1");
    free(u);
    kp_graph_add_init(g, mkt("kw_1", 0));
    u = kp_graph_unique_name(then_of(g), "kw");
    assert_string_equal(u, "kw_2");
    free(u);
    u = kp_graph_unique_name(g, "ta"); /* node names count */
    assert_string_equal(u, "ta_1");
    free(u);
    /* many names from one base, with edits in between (index stale): all distinct and fresh */
    for (int i = 0; i < 50; i++) {
        u = kp_graph_unique_name(g, "q");
        assert_false(kp_graph_producer(g, u, NULL));
        const char *o[1] = {u};
        kp_graph_add_node(g, kp_node_new("Relu", NULL, 0, NULL, 1, o));
        free(u);
    }
    u = kp_graph_unique_name(g, "q");
    assert_string_equal(u, "q_50");
    free(u);
    kp_graph_free(g);
}

static void index_notices_direct_edits(void **state) {
    (void)state;
    kp_graph *g = build();
    assert_int_equal(kp_graph_index(g, NULL), 0);
    assert_int_equal(kp_graph_index(g, NULL), 0); /* reused */
    assert_non_null(g->index);
    /* appending a node by hand without kp_graph_touch: the count changed, lookups rebuild */
    const char *in[1] = {"t1"}, *out[1] = {"extra"};
    kp_node *n = kp_node_new("Neg", "neg", 1, in, 1, out);
    g->nodes = realloc(g->nodes, (g->n_nodes + 1) * sizeof *g->nodes);
    g->cap_nodes = g->n_nodes + 1;
    g->nodes[g->n_nodes++] = n;
    assert_ptr_equal(kp_graph_producer(g, "extra", NULL), n);
    /* editing a node in place needs kp_graph_touch */
    kp_node_set_output(n, 0, "renamed");
    kp_graph_touch(g);
    assert_null(kp_graph_producer(g, "extra", NULL));
    assert_ptr_equal(kp_graph_producer(g, "renamed", NULL), n);
    /* value types set through the API stay visible through the index */
    kp_type t = {.rank = -1};
    int64_t d[1] = {7};
    kp_type_set_tensor(&t, KP_INT8, 1, d);
    for (int i = 0; i < 20; i++) {
        char name[16];
        snprintf(name, sizeof name, "v%d", i);
        assert_int_equal(kp_graph_set_value_type(g, name, &t), 0);
        assert_int_equal(kp_graph_value_type(g, name)->elem, KP_INT8);
    }
    kp_type_clear(&t);
    assert_int_equal(kp_graph_value_type(g, "v3")->dims[0].value, 7);
    kp_graph_free(g);
}

static void toposort(void **state) {
    (void)state;
    kp_graph *g = kp_graph_new(NULL);
    add_vi(&g->inputs, &g->n_inputs, "x");
    add_vi(&g->outputs, &g->n_outputs, "z");
    kp_graph_add_node(g, mk("Relu", "r3", "b", NULL, "z"));
    kp_graph_add_node(g, mk("Relu", "r2", "a", NULL, "b"));
    kp_graph_add_node(g, mk("Relu", "r1", "x", NULL, "a"));
    kp_graph_add_node(g, mk("Neg", "n", "x", NULL, "q")); /* independent: keeps relative order */
    kp_error e;
    assert_int_equal(kp_graph_validate(g, &e), 0); /* order is not checked by validate */
    assert_int_equal(kp_graph_toposort(g, &e), 0);
    assert_string_equal(g->nodes[0]->name, "r1");
    assert_string_equal(g->nodes[1]->name, "r2");
    assert_string_equal(g->nodes[2]->name, "r3");
    assert_string_equal(g->nodes[3]->name, "n");
    size_t pos;
    assert_non_null(kp_graph_producer(g, "b", &pos));
    assert_int_equal(pos, 1);

    /* cycle: r1 reads z */
    kp_node_set_input(g->nodes[0], 0, "z");
    kp_graph_touch(g);
    kp_node *before[4];
    memcpy(before, g->nodes, sizeof before);
    assert_int_equal(kp_graph_toposort(g, &e), KP_EFORMAT);
    assert_non_null(strstr(e.msg, "cycle"));
    assert_memory_equal(before, g->nodes, sizeof before); /* unchanged */
    assert_int_equal(kp_graph_validate(g, &e), KP_EFORMAT);

    /* dangling */
    kp_node_set_input(g->nodes[0], 0, "ghost");
    kp_graph_touch(g);
    assert_int_equal(kp_graph_toposort(g, &e), KP_EFORMAT);
    assert_non_null(strstr(e.msg, "ghost"));
    assert_non_null(strstr(e.msg, "r1"));
    kp_graph_free(g);

    /* subgraph reads are dependencies: the If must come after the producer of t2 */
    g = build();
    kp_node *iff = g->nodes[g->n_nodes - 1];
    memmove(&g->nodes[1], &g->nodes[0], (g->n_nodes - 1) * sizeof *g->nodes);
    g->nodes[0] = iff;
    kp_graph_touch(g);
    assert_int_equal(kp_graph_toposort(g, &e), 0);
    assert_ptr_equal(g->nodes[g->n_nodes - 1], iff);
    /* a dangling read inside a subgraph is reported */
    kp_node_set_input(then_of(g)->nodes[1], 0, "nowhere");
    kp_graph_touch(then_of(g));
    assert_int_equal(kp_graph_toposort(g, &e), KP_EFORMAT);
    assert_non_null(strstr(e.msg, "nowhere"));
    assert_int_equal(kp_graph_validate(g, &e), KP_EFORMAT);
    kp_graph_free(g);
}

static void dead_code(void **state) {
    (void)state;
    kp_graph *g = build();
    /* ci is unused; dead chain d1 -> d2; unused initializer; stale value_info */
    kp_graph_add_node(g, mk("Relu", "d1", "x", NULL, "dd1"));
    kp_graph_add_node(g, mk("Relu", "d2", "dd1", NULL, "dd2"));
    kp_graph_add_init(g, mkt("unused", 1));
    add_vi(&g->value_info, &g->n_value_info, "dd2");
    add_vi(&g->value_info, &g->n_value_info, "t1");
    /* inside the then-branch: a dead node too */
    kp_graph *th = then_of(g);
    kp_graph_add_node(th, mk("Neg", "tdead", "u", NULL, "nn"));
    size_t nodes_before = g->n_nodes;
    size_t removed = kp_graph_remove_dead(g);
    /* removed: tdead (sub), ci, d1, d2 (nodes) + unused (init) */
    assert_int_equal(removed, 5);
    assert_int_equal(g->n_nodes, nodes_before - 3);
    assert_null(kp_graph_producer(g, "ci", NULL));
    assert_null(kp_graph_init(g, "unused"));
    /* t2 only feeds the subgraph's outer-scope read: kept */
    assert_non_null(kp_graph_producer(g, "t2", NULL));
    assert_non_null(kp_graph_init(g, "w"));
    assert_int_equal(th->n_nodes, 4);
    assert_int_equal(g->n_value_info, 1);
    assert_string_equal(g->value_info[0].name, "t1");
    assert_int_equal(kp_graph_remove_dead(g), 0);
    assert_int_equal(kp_graph_validate(g, NULL), 0);
    kp_graph_free(g);
}

static void validation(void **state) {
    (void)state;
    kp_error e;
    kp_graph *g = build();
    assert_int_equal(kp_graph_validate(g, &e), 0);
    kp_graph_add_node(g, mk("Relu", "dup", "x", NULL, "t1"));
    assert_int_equal(kp_graph_validate(g, &e), KP_EFORMAT);
    assert_non_null(strstr(e.msg, "t1"));
    assert_non_null(strstr(e.msg, "dup"));
    kp_graph_remove_node(g, g->n_nodes - 1);
    kp_graph_add_node(g, mk("Relu", "overwrite", "x", NULL, "w"));
    assert_int_equal(kp_graph_validate(g, &e), KP_EFORMAT);
    assert_non_null(strstr(e.msg, "initializer"));
    kp_graph_remove_node(g, g->n_nodes - 1);
    free(g->outputs[0].name);
    g->outputs[0].name = strdup("nope");
    assert_int_equal(kp_graph_validate(g, &e), KP_EFORMAT);
    assert_non_null(strstr(e.msg, "nope"));
    free(g->outputs[0].name);
    g->outputs[0].name = strdup("y");
    kp_graph_add_init(g, mkt("w", 2));
    assert_int_equal(kp_graph_validate(g, &e), KP_EFORMAT);
    assert_non_null(strstr(e.msg, "twice"));
    kp_graph_remove_init(g, "w"); /* removes the first one; the second remains */
    assert_int_equal(kp_graph_validate(g, &e), 0);
    /* error inside a subgraph names the path */
    kp_graph *th = then_of(g);
    free(th->outputs[0].name);
    th->outputs[0].name = strdup("missing");
    assert_int_equal(kp_graph_validate(g, &e), KP_EFORMAT);
    assert_non_null(strstr(e.msg, "If"));
    assert_non_null(strstr(e.msg, "missing"));
    free(th->outputs[0].name);
    th->outputs[0].name = strdup("tout");
    kp_graph_add_node(th, mk("Relu", "inner_dup", "x", NULL, "u"));
    assert_int_equal(kp_graph_validate(g, &e), KP_EFORMAT);
    assert_non_null(strstr(e.msg, "then_branch"));
    assert_non_null(strstr(e.msg, "inner_dup"));
    kp_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(consts_everywhere),
        cmocka_unit_test(rename_and_uses),
        cmocka_unit_test(unique_names),
        cmocka_unit_test(toposort),
        cmocka_unit_test(dead_code),
        cmocka_unit_test(validation),
        cmocka_unit_test(index_notices_direct_edits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
