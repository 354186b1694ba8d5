/* Deep copies of every IR piece: types with symbolic dims, value infos, sparse tensors, list
 * attributes (strings, tensors, graphs, type protos), models with functions and metadata; and
 * constants held by Constant value_ints/value_strings/sparse_value and inside Loop bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/graph.h"

static kp_bytes bytes(const char *s) {
    kp_bytes b = {strlen(s), (uint8_t *)malloc(strlen(s) + 1)};
    memcpy(b.data, s, b.len + 1);
    return b;
}

static kp_tensor *ints(const char *name, int64_t n, int64_t base) {
    kp_tensor *t = kp_tensor_new(KP_INT64, 1, &n, NULL);
    for (int64_t i = 0; i < n; i++) ((int64_t *)t->data)[i] = base + i;
    kp_tensor_set_name(t, name);
    return t;
}

static void types_and_value_infos(void **state) {
    (void)state;
    kp_value_info v = {0};
    v.name = strdup("x");
    v.doc_string = strdup("input");
    int64_t d[3] = {-1, 3, 224};
    assert_int_equal(kp_type_set_tensor(&v.type, KP_FLOAT, 3, d), 0);
    v.type.dims[0].param = strdup("batch");
    v.type.dims[1].denotation = strdup("DATA_CHANNEL");
    v.type.denotation = strdup("IMAGE");
    kp_value_info c;
    assert_int_equal(kp_value_info_copy(&c, &v), 0);
    assert_string_equal(c.name, "x");
    assert_string_equal(c.doc_string, "input");
    assert_int_equal(c.type.rank, 3);
    assert_int_equal(c.type.dims[0].value, -1);
    assert_string_equal(c.type.dims[0].param, "batch");
    assert_string_equal(c.type.dims[1].denotation, "DATA_CHANNEL");
    assert_string_equal(c.type.denotation, "IMAGE");
    assert_ptr_not_equal(c.type.dims, v.type.dims);
    kp_value_info_clear(&c);
    kp_value_info_clear(&v);
    /* opaque (sequence/map) types keep their bytes */
    kp_type o = {.kind = KP_TYPE_OTHER, .rank = -1, .raw = bytes("\x12\x02\x08\x01")};
    kp_type oc;
    assert_int_equal(kp_type_copy(&oc, &o), 0);
    assert_int_equal(oc.kind, KP_TYPE_OTHER);
    assert_int_equal(oc.raw.len, 4);
    assert_memory_equal(oc.raw.data, o.raw.data, 4);
    kp_type_clear(&oc);
    kp_type_clear(&o);
    assert_int_equal(o.rank, -1);
    kp_type_clear(NULL);
    kp_value_info_clear(NULL);
}

static void sparse_and_attr_lists(void **state) {
    (void)state;
    kp_sparse_tensor *s = calloc(1, sizeof *s);
    int64_t nnz = 2;
    s->values = kp_tensor_new(KP_FLOAT, 1, &nnz, NULL);
    ((float *)s->values->data)[1] = 7;
    kp_tensor_set_name(s->values, "sp");
    s->indices = ints(NULL, 2, 3);
    s->rank = 2;
    s->dims[0] = 2;
    s->dims[1] = 3;
    kp_sparse_tensor *sc = kp_sparse_tensor_clone(s, NULL);
    assert_non_null(sc);
    assert_true(kp_tensor_equal(sc->values, s->values));
    assert_true(kp_tensor_equal(sc->indices, s->indices));
    assert_int_equal(sc->dims[1], 3);
    assert_string_equal(sc->values->name, "sp");
    kp_sparse_tensor_free(sc);
    kp_sparse_tensor_free(NULL);

    kp_attr a = {0};
    a.name = strdup("lists");
    a.type = KP_ATTR_STRINGS;
    a.n = 2;
    a.strings = calloc(2, sizeof *a.strings);
    a.strings[0] = bytes("alpha");
    a.strings[1] = bytes("");
    kp_attr c;
    assert_int_equal(kp_attr_copy(&c, &a, NULL), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal((char *)c.strings[0].data, "alpha");
    assert_int_equal(c.strings[1].len, 0);
    kp_attr_clear(&c);
    kp_attr_clear(&a);

    kp_attr t = {0};
    t.name = strdup("many");
    t.type = KP_ATTR_GRAPHS;
    t.n = 2;
    t.graphs = calloc(2, sizeof *t.graphs);
    t.graphs[0] = kp_graph_new(NULL);
    t.graphs[1] = kp_graph_new(NULL);
    t.graphs[1]->name = strdup("second");
    t.tensors = calloc(2, sizeof *t.tensors); /* tensors list alongside: both copied */
    t.tensors[0] = ints("a", 3, 0);
    t.sparse = s;
    t.tp = calloc(1, sizeof *t.tp);
    int64_t d1[1] = {4};
    kp_type_set_tensor(t.tp, KP_INT8, 1, d1);
    kp_graph *owner = kp_graph_new(NULL);
    assert_int_equal(kp_attr_copy(&c, &t, owner), 0);
    assert_string_equal(c.graphs[1]->name, "second");
    assert_ptr_equal(c.graphs[0]->parent, owner);
    assert_true(kp_tensor_equal(c.tensors[0], t.tensors[0]));
    assert_null(c.tensors[1]);
    assert_true(kp_tensor_equal(c.sparse->values, s->values));
    assert_int_equal(c.tp->elem, KP_INT8);
    assert_int_equal(c.tp->dims[0].value, 4);
    kp_attr_clear(&c);
    kp_attr_clear(&t);
    kp_graph_free(owner);
}

static void model_with_everything(void **state) {
    (void)state;
    kp_model *m = kp_model_new();
    m->ir_version = 8;
    m->model_version = 3;
    m->domain = strdup("org.test");
    m->doc_string = strdup("doc");
    m->dir = strdup("/tmp");
    m->props = calloc(1, sizeof *m->props);
    m->props[0].key = strdup("author");
    m->props[0].value = strdup("me");
    m->n_props = 1;
    m->functions = calloc(1, sizeof *m->functions);
    kp_function *f = &m->functions[0];
    f->name = strdup("F");
    f->domain = strdup("local");
    f->n_inputs = 1;
    f->inputs = calloc(1, sizeof(char *));
    f->inputs[0] = strdup("a");
    f->n_outputs = 1;
    f->outputs = calloc(1, sizeof(char *));
    f->outputs[0] = strdup("b");
    f->n_attr_names = 1;
    f->attr_names = calloc(1, sizeof(char *));
    f->attr_names[0] = strdup("alpha");
    f->n_opsets = 1;
    f->opsets = calloc(1, sizeof *f->opsets);
    f->opsets[0].domain = strdup("");
    f->opsets[0].version = 18;
    f->body = kp_graph_new(NULL);
    const char *in[1] = {"a"}, *out[1] = {"b"};
    kp_graph_add_node(f->body, kp_node_new("Relu", "r", 1, in, 1, out));
    m->n_functions = 1;
    m->raw_training_info = calloc(1, sizeof *m->raw_training_info);
    m->raw_training_info[0] = bytes("\x0a\x01");
    m->n_raw_training_info = 1;
    m->graph->raw_quant_annotations = calloc(1, sizeof(kp_bytes));
    m->graph->raw_quant_annotations[0] = bytes("q");
    m->graph->n_raw_quant_annotations = 1;
    m->graph->sparse_inits = calloc(1, sizeof(kp_sparse_tensor *));
    m->graph->sparse_inits[0] = calloc(1, sizeof(kp_sparse_tensor));
    m->graph->sparse_inits[0]->values = ints("sv", 2, 9);
    m->graph->n_sparse_inits = 1;

    kp_model *c = kp_model_clone(m, NULL);
    assert_non_null(c);
    assert_int_equal(c->ir_version, 8);
    assert_int_equal(c->model_version, 3);
    assert_string_equal(c->domain, "org.test");
    assert_string_equal(c->dir, "/tmp");
    assert_string_equal(c->props[0].value, "me");
    assert_string_equal(c->functions[0].attr_names[0], "alpha");
    assert_int_equal(c->functions[0].opsets[0].version, 18);
    assert_string_equal(c->functions[0].body->nodes[0]->op_type, "Relu");
    assert_int_equal(c->raw_training_info[0].len, 2);
    assert_string_equal((char *)c->graph->raw_quant_annotations[0].data, "q");
    assert_true(
        kp_tensor_equal(c->graph->sparse_inits[0]->values, m->graph->sparse_inits[0]->values));
    kp_model_free(c);
    kp_model_free(m);
    assert_null(kp_model_clone(NULL, NULL));
}

/* Constant value_ints / value_strings / sparse_value, and constants inside a Loop body and a
 * graphs-list attribute. */
static void more_constants(void **state) {
    (void)state;
    kp_graph *g = kp_graph_new(NULL);
    const char *o1[1] = {"vi"}, *o2[1] = {"vs"}, *o3[1] = {"sp"};
    kp_node *a = kp_node_new("Constant", NULL, 0, NULL, 1, o1);
    int64_t iv[3] = {4, 5, 6};
    kp_node_set_attr_ints(a, "value_ints", 3, iv);
    kp_graph_add_node(g, a);
    kp_node *b = kp_node_new("Constant", NULL, 0, NULL, 1, o2);
    kp_attr *at = &(b->attrs = calloc(1, sizeof *b->attrs))[0];
    b->n_attrs = 1;
    at->name = strdup("value_strings");
    at->type = KP_ATTR_STRINGS;
    at->n = 2;
    at->strings = calloc(2, sizeof *at->strings);
    at->strings[0] = bytes("x");
    at->strings[1] = bytes("yz");
    kp_graph_add_node(g, b);
    kp_node *s = kp_node_new("Constant", NULL, 0, NULL, 1, o3);
    s->attrs = calloc(1, sizeof *s->attrs);
    s->n_attrs = 1;
    s->attrs[0].name = strdup("sparse_value");
    s->attrs[0].type = KP_ATTR_SPARSE_TENSOR;
    kp_sparse_tensor *sp = s->attrs[0].sparse = calloc(1, sizeof *sp);
    int64_t nnz = 2;
    sp->values = kp_tensor_new(KP_FLOAT, 1, &nnz, NULL);
    ((float *)sp->values->data)[0] = 1.5f;
    ((float *)sp->values->data)[1] = -2.5f;
    int64_t ix[2] = {1, 4};
    sp->indices = kp_tensor_new(KP_INT64, 1, &nnz, NULL);
    memcpy(sp->indices->data, ix, sizeof ix);
    sp->rank = 2;
    sp->dims[0] = 2;
    sp->dims[1] = 3;
    kp_graph_add_node(g, s);

    kp_graph *body = kp_graph_new(NULL);
    kp_graph_add_init(body, ints("in_body", 5, 0));
    const char *lo[1] = {"out"}, *li[2] = {"", ""};
    kp_node *loop = kp_node_new("Loop", "loop", 2, li, 1, lo);
    kp_node_set_attr_graph(loop, "body", body);
    kp_graph_add_node(g, loop);

    kp_const_ref *refs;
    size_t n;
    assert_int_equal(kp_graph_consts(g, 1, &refs, &n, NULL), 0);
    assert_int_equal(n, 4);
    free(refs);
    kp_tensor *t = kp_graph_find_const(g, "vi");
    assert_int_equal(t->dtype, KP_INT64);
    assert_true(kp_tensor_get(t, 2) == 6.0);
    /* the view reads through to the attribute */
    ((int64_t *)t->data)[0] = 40;
    assert_int_equal(kp_node_attr(a, "value_ints")->ints[0], 40);
    t = kp_graph_find_const(g, "vs");
    assert_int_equal(t->dtype, KP_STRING);
    assert_int_equal(t->numel, 2);
    assert_memory_equal(t->strings[1].data, "yz", 2);
    t = kp_graph_find_const(g, "sp");
    assert_int_equal(t->numel, 6);
    assert_true(kp_tensor_get(t, 1) == 1.5);
    assert_true(kp_tensor_get(t, 4) == -2.5);
    assert_true(kp_tensor_get(t, 0) == 0.0);
    assert_non_null(kp_graph_find_const(body, "in_body"));
    assert_null(kp_graph_find_const(g, "in_body"));
    /* out-of-range sparse indices are refused, not written */
    ((int64_t *)sp->indices->data)[1] = 6;
    kp_node_touch(s);
    kp_error e;
    assert_int_equal(kp_graph_consts(g, 0, &refs, &n, &e), KP_EFORMAT);
    assert_non_null(strstr(e.msg, "outside"));
    kp_graph_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(types_and_value_infos),
        cmocka_unit_test(sparse_and_attr_lists),
        cmocka_unit_test(model_with_everything),
        cmocka_unit_test(more_constants),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
