/* ONNX I/O: tensors of every dtype, typed-field decoding, atomic save and its refusals,
 * external data confinement, file helpers. Protobuf bytes for the cases the saver never writes
 * (typed fields, external data) are built by hand with a tiny wire encoder below. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/onnx_io.h"
#include "core/onnx_priv.h"

/* ---- wire encoder ------------------------------------------------------------------------- */

typedef struct wb {
    uint8_t *p;
    size_t n, cap;
} wb;

static void wb_put(wb *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void wb_varint(wb *b, uint64_t v) {
    do {
        uint8_t c = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) c |= 0x80;
        wb_put(b, &c, 1);
    } while (v);
}
static void f_varint(wb *b, int field, uint64_t v) {
    wb_varint(b, (uint64_t)field << 3);
    wb_varint(b, v);
}
static void f_bytes(wb *b, int field, const void *d, size_t n) {
    wb_varint(b, ((uint64_t)field << 3) | 2);
    wb_varint(b, n);
    wb_put(b, d, n);
}
static void f_str(wb *b, int field, const char *s) {
    f_bytes(b, field, s, strlen(s));
}
static void f_msg(wb *b, int field, wb *m) {
    f_bytes(b, field, m->p, m->n);
    free(m->p);
    memset(m, 0, sizeof *m);
}

/* ValueInfo "name" of float [1, n]. */
static void vi_float(wb *g, int field, const char *name, int64_t n) {
    wb d0 = {0}, d1 = {0}, sh = {0}, tt = {0}, tp = {0}, vi = {0};
    f_varint(&d0, 1, 1);
    f_varint(&d1, 1, (uint64_t)n);
    f_msg(&sh, 1, &d0);
    f_msg(&sh, 1, &d1);
    f_varint(&tt, 1, KP_FLOAT);
    f_msg(&tt, 2, &sh);
    f_msg(&tp, 1, &tt);
    f_str(&vi, 1, name);
    f_msg(&vi, 2, &tp);
    f_msg(g, field, &vi);
}

/* Model: y = Add(x, w) with initializer bytes `init` (a TensorProto named w, float [1,4]). */
static void model_with_init(wb *out, wb *init) {
    wb node = {0}, g = {0}, op = {0};
    f_str(&node, 1, "x");
    f_str(&node, 1, "w");
    f_str(&node, 2, "y");
    f_str(&node, 4, "Add");
    f_msg(&g, 1, &node);
    f_str(&g, 2, "g");
    f_msg(&g, 5, init);
    vi_float(&g, 11, "x", 4);
    vi_float(&g, 12, "y", 4);
    f_varint(out, 1, 8);
    f_str(&op, 1, "");
    f_varint(&op, 2, 13);
    f_msg(out, 8, &op);
    f_msg(out, 7, &g);
}

/* ---- helpers ------------------------------------------------------------------------------ */

static char tmpdir[256];

static int setup_dir(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kp-onnx-io-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}
static int teardown_dir(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const void *d, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(d, 1, n, f), n);
    fclose(f);
}

static kp_model *tiny_model(void) {
    kp_model *m = kp_model_new();
    assert_non_null(m);
    m->ir_version = 8;
    m->opsets = calloc(1, sizeof *m->opsets);
    m->opsets[0].domain = strdup("");
    m->opsets[0].version = 13;
    m->n_opsets = 1;
    const char *in[] = {"x"}, *out[] = {"y"};
    assert_int_equal(kp_graph_add_node(m->graph, kp_node_new("Relu", "r", 1, in, 1, out)), 0);
    kp_graph *g = m->graph;
    g->inputs = calloc(1, sizeof *g->inputs);
    g->outputs = calloc(1, sizeof *g->outputs);
    g->n_inputs = g->n_outputs = 1;
    g->inputs[0].name = strdup("x");
    g->outputs[0].name = strdup("y");
    int64_t dims[] = {1, 4};
    assert_int_equal(kp_type_set_tensor(&g->inputs[0].type, KP_FLOAT, 2, dims), 0);
    assert_int_equal(kp_type_set_tensor(&g->outputs[0].type, KP_FLOAT, 2, dims), 0);
    return m;
}

/* ---- tests -------------------------------------------------------------------------------- */

/* Every fixed-size dtype (and odd-length 4-bit ones, and strings) saves and reloads with the
 * same bytes, as an initializer and as a TensorProto file. */
static void every_dtype_roundtrips(void **state) {
    (void)state;
    kp_model *m = tiny_model();
    int count = 0;
    for (int dt = 1; dt < KP_DTYPE_COUNT; dt++) {
        int64_t dims[] = {3};
        kp_error err = {0};
        kp_tensor *t = kp_tensor_new((kp_dtype)dt, 1, dims, &err);
        assert_non_null(t);
        if (dt == KP_STRING) {
            for (int i = 0; i < 3; i++) {
                free(t->strings[i].data);
                t->strings[i].data = (uint8_t *)strdup(i == 1 ? "" : "héllo\0x");
                t->strings[i].len = i == 1 ? 0 : 6;
            }
        } else {
            for (size_t i = 0; i < t->nbytes; i++) ((uint8_t *)t->data)[i] = (uint8_t)(i * 37 + dt);
        }
        char name[32];
        snprintf(name, sizeof name, "t%d", dt);
        assert_int_equal(kp_tensor_set_name(t, name), 0);
        /* TensorProto file */
        char path[512];
        snprintf(path, sizeof path, "%s/%s.pb", tmpdir, name);
        assert_int_equal(kp_onnx_save_tensor(t, path, &err), 0);
        kp_tensor *back = NULL;
        assert_int_equal(kp_onnx_load_tensor(path, &back, &err), 0);
        assert_true(kp_tensor_equal(t, back));
        assert_string_equal(back->name, name);
        kp_tensor_free(back);
        assert_int_equal(kp_graph_add_init(m->graph, t), 0);
        count++;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    kp_error err = {0};
    assert_int_equal(kp_onnx_save_buffer(m, &buf, &len, &err), 0);
    kp_model *m2 = NULL;
    assert_int_equal(kp_onnx_load_buffer(buf, len, NULL, &m2, &err), 0);
    assert_int_equal(m2->graph->n_inits, (size_t)count);
    for (size_t i = 0; i < m->graph->n_inits; i++)
        assert_true(kp_tensor_equal(m->graph->inits[i], m2->graph->inits[i]));
    free(buf);
    kp_model_free(m);
    kp_model_free(m2);
}

/* Typed fields (what most exporters write) decode to the right bytes per dtype. */
static void typed_fields_decode(void **state) {
    (void)state;
    kp_error err = {0};
    kp_tensor *t = NULL;
    /* float16 in int32_data: bit patterns of 1.0 and -2.0 */
    wb b = {0};
    f_varint(&b, 1, 2);
    f_varint(&b, 2, KP_FLOAT16);
    wb packed = {0};
    wb_varint(&packed, 0x3c00);
    wb_varint(&packed, 0xc000);
    f_bytes(&b, 5, packed.p, packed.n);
    assert_int_equal(kp_onnx_load_tensor_buffer(b.p, b.n, &t, &err), 0);
    assert_int_equal(t->dtype, KP_FLOAT16);
    assert_true(kp_tensor_get(t, 0) == 1.0 && kp_tensor_get(t, 1) == -2.0);
    kp_tensor_free(t);
    free(b.p);
    free(packed.p);
    memset(&b, 0, sizeof b);
    memset(&packed, 0, sizeof packed);
    /* int8 in int32_data: -5 is a 10-byte varint of the sign-extended value */
    f_varint(&b, 1, 2);
    f_varint(&b, 2, KP_INT8);
    wb_varint(&packed, (uint64_t)(int64_t)-5);
    wb_varint(&packed, 7);
    f_bytes(&b, 5, packed.p, packed.n);
    assert_int_equal(kp_onnx_load_tensor_buffer(b.p, b.n, &t, &err), 0);
    assert_int_equal(((int8_t *)t->data)[0], -5);
    assert_int_equal(((int8_t *)t->data)[1], 7);
    kp_tensor_free(t);
    free(b.p);
    free(packed.p);
    memset(&b, 0, sizeof b);
    memset(&packed, 0, sizeof packed);
    /* uint32 in uint64_data */
    f_varint(&b, 1, 1);
    f_varint(&b, 2, KP_UINT32);
    wb_varint(&packed, 4000000000u);
    f_bytes(&b, 11, packed.p, packed.n);
    assert_int_equal(kp_onnx_load_tensor_buffer(b.p, b.n, &t, &err), 0);
    assert_int_equal(((uint32_t *)t->data)[0], 4000000000u);
    kp_tensor_free(t);
    free(b.p);
    free(packed.p);
    memset(&b, 0, sizeof b);
    /* strings */
    f_varint(&b, 1, 2);
    f_varint(&b, 2, KP_STRING);
    f_str(&b, 6, "ab");
    f_str(&b, 6, "");
    f_str(&b, 8, "s");
    assert_int_equal(kp_onnx_load_tensor_buffer(b.p, b.n, &t, &err), 0);
    assert_int_equal(t->strings[0].len, 2);
    assert_memory_equal(t->strings[0].data, "ab", 2);
    assert_int_equal(t->strings[1].len, 0);
    assert_string_equal(t->name, "s");
    kp_tensor_free(t);
    free(b.p);
    memset(&b, 0, sizeof b);
    /* wrong count is refused with a message */
    f_varint(&b, 1, 3);
    f_varint(&b, 2, KP_FLOAT);
    float two[2] = {1, 2};
    f_bytes(&b, 4, two, sizeof two);
    assert_int_equal(kp_onnx_load_tensor_buffer(b.p, b.n, &t, &err), KP_EFORMAT);
    assert_null(t);
    assert_non_null(strstr(err.msg, "needs 3 values"));
    free(b.p);
}

/* Saving is atomic, refuses existing files unless asked, and never overwrites the input. */
static void save_refusals(void **state) {
    (void)state;
    kp_error err = {0};
    kp_model *m = tiny_model();
    char a[512], b[512], link[512];
    snprintf(a, sizeof a, "%s/a.onnx", tmpdir);
    snprintf(b, sizeof b, "%s/b.onnx", tmpdir);
    snprintf(link, sizeof link, "%s/link.onnx", tmpdir);
    assert_int_equal(kp_onnx_save(m, a, 0, &err), 0);
    assert_int_equal(kp_onnx_save(m, a, 0, &err), KP_EEXIST);
    assert_non_null(strstr(err.msg, "already exists"));
    assert_int_equal(kp_onnx_save(m, a, 1, &err), 0);
    kp_model_free(m);
    m = NULL;
    assert_int_equal(kp_onnx_load(a, NULL, &m, &err), 0);
    assert_non_null(m->dir);
    assert_true(m->dir[0] == '/');
    /* its own file: refused even with overwrite, also through a symlink */
    assert_int_equal(kp_onnx_save(m, a, 1, &err), KP_EEXIST);
    assert_non_null(strstr(err.msg, "input model"));
    assert_int_equal(symlink(a, link), 0);
    assert_int_equal(kp_onnx_save(m, link, 1, &err), KP_EEXIST);
    kp_model *copy = kp_model_clone(m, &err); /* a copy of the input is still the input */
    assert_non_null(copy);
    assert_int_equal(kp_onnx_save(copy, a, 1, &err), KP_EEXIST);
    kp_model_free(copy);
    assert_int_equal(kp_onnx_save(m, b, 0, &err), 0);
    /* a folder is not a file */
    assert_int_not_equal(kp_onnx_save(m, tmpdir, 1, &err), 0);
    /* missing folder: error, and no temp file is left anywhere */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.onnx", tmpdir);
    assert_int_not_equal(kp_onnx_save(m, bad, 1, &err), 0);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q tmp-", tmpdir);
    assert_int_not_equal(system(cmd), 0);
    kp_model_free(m);
}

static void read_file_limits(void **state) {
    (void)state;
    kp_error err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    char p[512];
    snprintf(p, sizeof p, "%s/ten.bin", tmpdir);
    write_file(p, "0123456789", 10);
    assert_int_equal(kp_read_file(p, 9, &buf, &len, &err), KP_ERANGE);
    assert_int_equal(kp_read_file(p, 10, &buf, &len, &err), 0);
    assert_int_equal(len, 10);
    free(buf);
    assert_int_equal(kp_read_file(tmpdir, 100, &buf, &len, &err), KP_EIO);
    assert_non_null(strstr(err.msg, "folder"));
    snprintf(p, sizeof p, "%s/fifo.onnx", tmpdir);
    assert_int_equal(mkfifo(p, 0600), 0); /* must be refused, not block waiting for a writer */
    assert_int_equal(kp_read_file(p, 100, &buf, &len, &err), KP_EIO);
    assert_non_null(strstr(err.msg, "regular"));
    snprintf(p, sizeof p, "%s/missing.onnx", tmpdir);
    assert_int_equal(kp_read_file(p, 100, &buf, &len, &err), KP_ENOTFOUND);
    kp_model *m = NULL;
    assert_int_equal(kp_onnx_load(p, NULL, &m, &err), KP_ENOTFOUND);
    assert_null(m);
}

/* External data in the model's folder (direct, at an offset, through a symlink that stays
 * inside) loads; from memory it is refused. */
static void external_data_inside_folder(void **state) {
    (void)state;
    char dir[400], p[600];
    snprintf(dir, sizeof dir, "%s/ext", tmpdir);
    assert_int_equal(mkdir(dir, 0755), 0);
    float w[8] = {9, 9, 1, 2, 3, 4, 9, 9};
    snprintf(p, sizeof p, "%s/weights.bin", dir);
    write_file(p, w, sizeof w);
    snprintf(p, sizeof p, "%s/sub", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/sub/alias.bin", dir);
    assert_int_equal(symlink("../weights.bin", p), 0);
    const char *locs[] = {"weights.bin", "./sub/alias.bin"};
    for (int i = 0; i < 2; i++) {
        wb init = {0}, kv = {0}, model = {0};
        f_varint(&init, 1, 1);
        f_varint(&init, 1, 4);
        f_varint(&init, 2, KP_FLOAT);
        f_str(&init, 8, "w");
        f_str(&kv, 1, "location");
        f_str(&kv, 2, locs[i]);
        f_msg(&init, 13, &kv);
        f_str(&kv, 1, "offset");
        f_str(&kv, 2, "8");
        f_msg(&init, 13, &kv);
        f_str(&kv, 1, "length");
        f_str(&kv, 2, "16");
        f_msg(&init, 13, &kv);
        f_varint(&init, 14, 1);
        model_with_init(&model, &init);
        snprintf(p, sizeof p, "%s/model%d.onnx", dir, i);
        write_file(p, model.p, model.n);
        kp_error err = {0};
        kp_model *m = NULL;
        assert_int_equal(kp_onnx_load(p, NULL, &m, &err), 0);
        kp_tensor *t = kp_graph_init(m->graph, "w");
        assert_non_null(t);
        assert_memory_equal(t->data, w + 2, 16);
        kp_model_free(m);
        m = NULL;
        assert_int_equal(kp_onnx_load_buffer(model.p, model.n, NULL, &m, &err), KP_EUNSUPPORTED);
        assert_non_null(strstr(err.msg, "external"));
        free(model.p);
    }
}

/* Subgraph bodies know their enclosing graph; attributes of every list kind survive. */
static void subgraph_parent_and_attrs(void **state) {
    (void)state;
    kp_model *m = tiny_model();
    kp_node *n = m->graph->nodes[0];
    int64_t ints[] = {1, -2, 3};
    float fl[] = {0.5f, -1.5f};
    assert_int_equal(kp_node_set_attr_ints(n, "is", 3, ints), 0);
    assert_int_equal(kp_node_set_attr_floats(n, "fs", 2, fl), 0);
    assert_int_equal(kp_node_set_attr_string(n, "s", "text"), 0);
    kp_graph *body = kp_graph_new(NULL);
    const char *in[] = {"x"}, *out[] = {"z"};
    assert_int_equal(kp_graph_add_node(body, kp_node_new("Neg", NULL, 1, in, 1, out)), 0);
    assert_int_equal(kp_node_set_attr_graph(n, "body", body), 0);
    uint8_t *buf = NULL;
    size_t len = 0;
    kp_error err = {0};
    assert_int_equal(kp_onnx_save_buffer(m, &buf, &len, &err), 0);
    kp_model *m2 = NULL;
    assert_int_equal(kp_onnx_load_buffer(buf, len, NULL, &m2, &err), 0);
    const kp_node *n2 = m2->graph->nodes[0];
    const int64_t *gi = NULL;
    assert_int_equal(kp_node_attr_ints(n2, "is", &gi), 3);
    assert_int_equal(gi[1], -2);
    const float *gf = NULL;
    assert_int_equal(kp_node_attr_floats(n2, "fs", &gf), 2);
    assert_true(gf[1] == -1.5f);
    assert_string_equal(kp_node_attr_string(n2, "s", ""), "text");
    const kp_attr *ga = kp_node_attr(n2, "body");
    assert_non_null(ga);
    assert_int_equal(ga->type, KP_ATTR_GRAPH);
    assert_ptr_equal(ga->g->parent, m2->graph);
    assert_string_equal(ga->g->nodes[0]->op_type, "Neg");
    free(buf);
    kp_model_free(m);
    kp_model_free(m2);
}

/* Fields of a newer ONNX (here NodeProto field 8, "overload" in IR 10, and an unknown
 * ModelProto field) are counted so tools can say they are dropped. */
static void unknown_fields_counted(void **state) {
    (void)state;
    wb init = {0}, model = {0};
    float w[4] = {1, 2, 3, 4};
    f_varint(&init, 1, 1);
    f_varint(&init, 1, 4);
    f_varint(&init, 2, KP_FLOAT);
    f_str(&init, 8, "w");
    f_bytes(&init, 9, w, sizeof w);
    model_with_init(&model, &init);
    kp_error err = {0};
    kp_model *m = NULL;
    assert_int_equal(kp_onnx_load_buffer(model.p, model.n, NULL, &m, &err), 0);
    assert_int_equal(m->n_unknown_fields, 0);
    kp_model_free(m);
    m = NULL;
    f_str(&model, 99, "from the future");
    assert_int_equal(kp_onnx_load_buffer(model.p, model.n, NULL, &m, &err), 0);
    assert_int_equal(m->n_unknown_fields, 1);
    kp_model_free(m);
    free(model.p);
}

/* An IR broken by a buggy pass is refused with a message, not written or crashed on. */
static void save_refuses_broken_ir(void **state) {
    (void)state;
    kp_error err = {0};
    uint8_t *buf = NULL;
    size_t len = 0;
    kp_model *m = tiny_model();
    char *keep = m->graph->nodes[0]->inputs[0];
    m->graph->nodes[0]->inputs[0] = NULL;
    assert_int_equal(kp_onnx_save_buffer(m, &buf, &len, &err), KP_EINVAL);
    assert_null(buf);
    m->graph->nodes[0]->inputs[0] = keep;
    int64_t dims[] = {2, 2};
    kp_tensor *t = kp_tensor_new(KP_FLOAT, 2, dims, &err);
    assert_non_null(t);
    assert_int_equal(kp_tensor_set_name(t, "w"), 0);
    assert_int_equal(kp_graph_add_init(m->graph, t), 0);
    t->nbytes = 8; /* inconsistent with 2x2 float32 */
    assert_int_equal(kp_onnx_save_buffer(m, &buf, &len, &err), KP_EINVAL);
    assert_non_null(strstr(err.msg, "'w'"));
    t->nbytes = 16;
    assert_int_equal(kp_onnx_save_buffer(m, &buf, &len, &err), 0);
    free(buf);
    kp_model_free(m);
}

/* An attribute whose TypeProto says nothing (found by fuzz_graph_edit) saves as an empty
 * TypeProto and loads again, instead of becoming an attribute with no value. */
static void empty_type_attr_roundtrips(void **state) {
    (void)state;
    wb model = {0}, node = {0}, attr = {0}, g = {0}, op = {0};
    f_str(&attr, 1, "t");
    f_varint(&attr, 20, KP_ATTR_TYPE_PROTO);
    f_bytes(&attr, 14, "", 0);
    f_str(&node, 1, "x");
    f_str(&node, 2, "y");
    f_str(&node, 4, "Identity");
    f_msg(&node, 5, &attr);
    f_msg(&g, 1, &node);
    vi_float(&g, 11, "x", 4);
    vi_float(&g, 12, "y", 4);
    f_varint(&model, 1, 8);
    f_str(&op, 1, "");
    f_varint(&op, 2, 13);
    f_msg(&model, 8, &op);
    f_msg(&model, 7, &g);
    kp_error err = {0};
    kp_model *m = NULL, *m2 = NULL;
    assert_int_equal(kp_onnx_load_buffer(model.p, model.n, NULL, &m, &err), 0);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(kp_onnx_save_buffer(m, &buf, &len, &err), 0);
    assert_int_equal(kp_onnx_load_buffer(buf, len, NULL, &m2, &err), 0);
    const kp_attr *a = kp_node_attr(m2->graph->nodes[0], "t");
    assert_non_null(a);
    assert_int_equal(a->type, KP_ATTR_TYPE_PROTO);
    assert_non_null(a->tp);
    free(buf);
    free(model.p);
    kp_model_free(m);
    kp_model_free(m2);
}

static int write_half_then_fail(int fd, void *ctx, kp_error *err) {
    (void)ctx;
    if (write(fd, "NEW", 2) != 2) return kp_error_set(err, KP_EIO, "write");
    return kp_error_set(err, KP_EIO, "simulated failure halfway");
}

/* A write that fails halfway leaves the old file exactly as it was and no temp file behind. */
static void atomic_write_keeps_old_file(void **state) {
    (void)state;
    kp_error err = {0};
    char p[512];
    snprintf(p, sizeof p, "%s/keep.txt", tmpdir);
    assert_int_equal(kp_write_file_atomic(p, "old contents", 12, &err), 0);
    assert_int_equal(kp_write_atomic_fn(p, write_half_then_fail, NULL, &err), KP_EIO);
    uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal(kp_read_file(p, 100, &buf, &len, &err), 0);
    assert_int_equal(len, 12);
    assert_memory_equal(buf, "old contents", 12);
    free(buf);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q 'keep.txt.tmp'", tmpdir);
    assert_int_not_equal(system(cmd), 0);
    assert_int_equal(kp_write_file_atomic(p, "new", 3, &err), 0);
    assert_int_equal(kp_read_file(p, 100, &buf, &len, &err), 0);
    assert_int_equal(len, 3);
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_dtype_roundtrips),
        cmocka_unit_test(typed_fields_decode),
        cmocka_unit_test(save_refusals),
        cmocka_unit_test(read_file_limits),
        cmocka_unit_test(external_data_inside_folder),
        cmocka_unit_test(subgraph_parent_and_attrs),
        cmocka_unit_test(unknown_fields_counted),
        cmocka_unit_test(save_refuses_broken_ir),
        cmocka_unit_test(atomic_write_keeps_old_file),
        cmocka_unit_test(empty_type_attr_roundtrips),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
