/* Round-trip driver for the ONNX loader and saver.
 *
 *   roundtrip [--save-dir DIR] [--expect-fail] FILE... | -
 *
 * For every .onnx file: load -> save to a buffer -> load again, compare the two IRs field by
 * field (tensor bytes included), save the second IR again and require byte-identical output; the
 * model is also deep-copied (kp_model_clone) and must save to the same bytes, and saved through
 * the atomic file writer, whose bytes must match too. With --save-dir the saved models are kept
 * there as <n>.onnx (for an independent check with python's onnx). Every other file is treated
 * as a serialized TensorProto (.pb) and round-tripped the same way. "-" reads paths from stdin.
 *
 * With --expect-fail every file must be refused with an error message (malformed corpus); the
 * message is printed. Prints "N models round-tripped, N failed" (and the same for tensors).
 * Exit status: 0 all good, 1 otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/onnx_io.h"

typedef struct cmp {
    char where[512];
    int bad;
} cmp;

static void diff(cmp *c, const char *fmt, const char *what) {
    if (c->bad) return;
    c->bad = 1;
    snprintf(c->where, sizeof c->where, fmt, what);
}

static int str_eq(const char *a, const char *b) {
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

static int bytes_eq(const kp_bytes *a, const kp_bytes *b) {
    return a->len == b->len && (!a->len || memcmp(a->data, b->data, a->len) == 0);
}

#define S(field, name)                                                                             \
    do {                                                                                           \
        if (!str_eq(a->field, b->field)) diff(c, "%s differs", name);                              \
    } while (0)
#define N(field, name)                                                                             \
    do {                                                                                           \
        if (a->field != b->field) diff(c, "%s differs", name);                                     \
    } while (0)

static void tensor_cmp(cmp *c, const kp_tensor *a, const kp_tensor *b, const char *what) {
    if (!a || !b) {
        if (a != b) diff(c, "%s: one tensor missing", what);
        return;
    }
    if (!kp_tensor_equal(a, b)) diff(c, "%s: tensor contents differ", what);
    if (!str_eq(a->name, b->name)) diff(c, "%s: tensor name differs", what);
    if (!str_eq(a->doc_string, b->doc_string)) diff(c, "%s: tensor doc_string differs", what);
    if (a->nbytes != b->nbytes) diff(c, "%s: tensor nbytes differ", what);
}

static void sparse_cmp(cmp *c, const kp_sparse_tensor *a, const kp_sparse_tensor *b) {
    if (!a || !b) {
        if (a != b) diff(c, "%s", "sparse tensor missing");
        return;
    }
    N(rank, "sparse rank");
    for (int i = 0; i < a->rank && i < KP_MAX_RANK; i++) N(dims[i], "sparse dims");
    tensor_cmp(c, a->values, b->values, "sparse values");
    tensor_cmp(c, a->indices, b->indices, "sparse indices");
}

static void type_cmp(cmp *c, const kp_type *a, const kp_type *b) {
    N(kind, "type kind");
    N(elem, "type elem");
    N(rank, "type rank");
    S(denotation, "type denotation");
    if (!bytes_eq(&a->raw, &b->raw)) diff(c, "%s", "raw TypeProto differs");
    if (c->bad) return;
    for (int i = 0; i < a->rank; i++) {
        N(dims[i].value, "dim value");
        S(dims[i].param, "dim param");
        S(dims[i].denotation, "dim denotation");
    }
}

static void vi_cmp(cmp *c, const kp_value_info *a, const kp_value_info *b) {
    S(name, "value_info name");
    S(doc_string, "value_info doc_string");
    type_cmp(c, &a->type, &b->type);
}

static void graph_cmp(cmp *c, const kp_graph *a, const kp_graph *b);

static void attr_cmp(cmp *c, const kp_attr *a, const kp_attr *b) {
    S(name, "attribute name");
    S(doc_string, "attribute doc_string");
    S(ref_attr_name, "attribute ref_attr_name");
    N(type, "attribute type");
    if (c->bad) return;
    switch (a->type) {
    case KP_ATTR_FLOAT:
        if (memcmp(&a->f, &b->f, sizeof a->f)) diff(c, "%s", "float attribute differs");
        break;
    case KP_ATTR_INT: N(i, "int attribute"); break;
    case KP_ATTR_STRING:
        if (!bytes_eq(&a->s, &b->s)) diff(c, "%s", "string attribute differs");
        break;
    case KP_ATTR_TENSOR: tensor_cmp(c, a->t, b->t, "tensor attribute"); break;
    case KP_ATTR_GRAPH:
        if (!a->g || !b->g) {
            if (a->g != b->g) diff(c, "%s", "graph attribute missing");
        } else {
            graph_cmp(c, a->g, b->g);
        }
        break;
    case KP_ATTR_SPARSE_TENSOR: sparse_cmp(c, a->sparse, b->sparse); break;
    case KP_ATTR_TYPE_PROTO:
        if (!a->tp || !b->tp) {
            if (a->tp != b->tp) diff(c, "%s", "type attribute missing");
        } else {
            type_cmp(c, a->tp, b->tp);
        }
        break;
    default:
        N(n, "attribute list length");
        if (c->bad) return;
        for (size_t i = 0; i < a->n && !c->bad; i++) {
            switch (a->type) {
            case KP_ATTR_FLOATS:
                if (memcmp(&a->floats[i], &b->floats[i], sizeof(float)))
                    diff(c, "%s", "floats differ");
                break;
            case KP_ATTR_INTS: N(ints[i], "ints"); break;
            case KP_ATTR_STRINGS:
                if (!bytes_eq(&a->strings[i], &b->strings[i])) diff(c, "%s", "strings differ");
                break;
            case KP_ATTR_TENSORS: tensor_cmp(c, a->tensors[i], b->tensors[i], "tensors"); break;
            case KP_ATTR_GRAPHS: graph_cmp(c, a->graphs[i], b->graphs[i]); break;
            case KP_ATTR_SPARSE_TENSORS: sparse_cmp(c, a->sparses[i], b->sparses[i]); break;
            case KP_ATTR_TYPE_PROTOS: type_cmp(c, &a->tps[i], &b->tps[i]); break;
            default: break;
            }
        }
    }
}

static void node_cmp(cmp *c, const kp_node *a, const kp_node *b) {
    S(name, "node name");
    S(op_type, "node op_type");
    S(domain, "node domain");
    S(doc_string, "node doc_string");
    N(n_inputs, "node input count");
    N(n_outputs, "node output count");
    N(n_attrs, "node attribute count");
    if (c->bad) return;
    for (size_t i = 0; i < a->n_inputs; i++) S(inputs[i], "node input");
    for (size_t i = 0; i < a->n_outputs; i++) S(outputs[i], "node output");
    for (size_t i = 0; i < a->n_attrs && !c->bad; i++) attr_cmp(c, &a->attrs[i], &b->attrs[i]);
    if (c->bad) {
        char tmp[sizeof c->where];
        memcpy(tmp, c->where, sizeof tmp);
        snprintf(c->where, sizeof c->where, "node '%.100s' (%.60s): %.300s", a->name ? a->name : "",
                 a->op_type, tmp);
    }
}

static void graph_cmp(cmp *c, const kp_graph *a, const kp_graph *b) {
    if (!a || !b) {
        if (a != b) diff(c, "%s", "graph missing");
        return;
    }
    S(name, "graph name");
    S(doc_string, "graph doc_string");
    N(n_nodes, "node count");
    N(n_inits, "initializer count");
    N(n_sparse_inits, "sparse initializer count");
    N(n_inputs, "graph input count");
    N(n_outputs, "graph output count");
    N(n_value_info, "value_info count");
    N(n_raw_quant_annotations, "quantization annotation count");
    if (c->bad) return;
    for (size_t i = 0; i < a->n_nodes && !c->bad; i++) node_cmp(c, a->nodes[i], b->nodes[i]);
    for (size_t i = 0; i < a->n_inits && !c->bad; i++)
        tensor_cmp(c, a->inits[i], b->inits[i], "initializer");
    for (size_t i = 0; i < a->n_sparse_inits && !c->bad; i++)
        sparse_cmp(c, a->sparse_inits[i], b->sparse_inits[i]);
    for (size_t i = 0; i < a->n_inputs && !c->bad; i++) vi_cmp(c, &a->inputs[i], &b->inputs[i]);
    for (size_t i = 0; i < a->n_outputs && !c->bad; i++) vi_cmp(c, &a->outputs[i], &b->outputs[i]);
    for (size_t i = 0; i < a->n_value_info && !c->bad; i++)
        vi_cmp(c, &a->value_info[i], &b->value_info[i]);
    for (size_t i = 0; i < a->n_raw_quant_annotations && !c->bad; i++)
        if (!bytes_eq(&a->raw_quant_annotations[i], &b->raw_quant_annotations[i]))
            diff(c, "%s", "quantization annotation differs");
}

static void model_cmp(cmp *c, const kp_model *a, const kp_model *b) {
    N(ir_version, "ir_version");
    N(model_version, "model_version");
    S(producer_name, "producer_name");
    S(producer_version, "producer_version");
    S(domain, "domain");
    S(doc_string, "doc_string");
    N(n_opsets, "opset count");
    N(n_props, "metadata_props count");
    N(n_functions, "function count");
    N(n_raw_training_info, "training_info count");
    if (c->bad) return;
    for (size_t i = 0; i < a->n_opsets; i++) {
        S(opsets[i].domain, "opset domain");
        N(opsets[i].version, "opset version");
    }
    for (size_t i = 0; i < a->n_props; i++) {
        S(props[i].key, "metadata key");
        S(props[i].value, "metadata value");
    }
    for (size_t i = 0; i < a->n_raw_training_info; i++)
        if (!bytes_eq(&a->raw_training_info[i], &b->raw_training_info[i]))
            diff(c, "%s", "training_info differs");
    for (size_t i = 0; i < a->n_functions && !c->bad; i++) {
        S(functions[i].name, "function name");
        S(functions[i].domain, "function domain");
        N(functions[i].n_inputs, "function inputs");
        N(functions[i].n_outputs, "function outputs");
        N(functions[i].n_attr_names, "function attributes");
        N(functions[i].n_opsets, "function opsets");
        if (!c->bad) graph_cmp(c, a->functions[i].body, b->functions[i].body);
    }
    if (!c->bad) graph_cmp(c, a->graph, b->graph);
}

static int same_buf(const uint8_t *a, size_t la, const uint8_t *b, size_t lb) {
    return la == lb && (!la || memcmp(a, b, la) == 0);
}

static char *dir_of(const char *path) {
    const char *s = strrchr(path, '/');
    if (!s) return strdup(".");
    return strndup(path, (size_t)(s - path) + (s == path));
}

/* Returns 0 on success, else prints why. */
static int model_roundtrip(const char *path, const char *save_dir, int idx) {
    kp_error err = {0};
    kp_model *m1 = NULL, *m2 = NULL, *mc = NULL;
    uint8_t *b1 = NULL, *b2 = NULL, *bc = NULL, *bf = NULL;
    size_t l1 = 0, l2 = 0, lc = 0, lf = 0;
    char *dir = dir_of(path);
    char out[4096];
    int rc = 1;
    if (kp_onnx_load(path, NULL, &m1, &err)) {
        printf("FAIL %s: load: %s\n", path, err.msg);
        goto done;
    }
    if (kp_onnx_save_buffer(m1, &b1, &l1, &err)) {
        printf("FAIL %s: save: %s\n", path, err.msg);
        goto done;
    }
    if (kp_onnx_load_buffer(b1, l1, dir, &m2, &err)) {
        printf("FAIL %s: reload: %s\n", path, err.msg);
        goto done;
    }
    cmp c = {{0}, 0};
    model_cmp(&c, m1, m2);
    if (c.bad) {
        printf("FAIL %s: reloaded model differs: %s\n", path, c.where);
        goto done;
    }
    if (kp_onnx_save_buffer(m2, &b2, &l2, &err) || !same_buf(b1, l1, b2, l2)) {
        printf("FAIL %s: second save differs (%zu vs %zu bytes) %s\n", path, l1, l2, err.msg);
        goto done;
    }
    if (!(mc = kp_model_clone(m1, &err)) || kp_onnx_save_buffer(mc, &bc, &lc, &err) ||
        !same_buf(b1, l1, bc, lc)) {
        printf("FAIL %s: the deep copy saves differently %s\n", path, err.msg);
        goto done;
    }
    if (save_dir) {
        snprintf(out, sizeof out, "%s/%d.onnx", save_dir, idx);
        if (kp_onnx_save(m1, out, 1, &err) || kp_read_file(out, (size_t)1 << 31, &bf, &lf, &err) ||
            !same_buf(b1, l1, bf, lf)) {
            printf("FAIL %s: file save to %s: %s\n", path, out, err.msg);
            goto done;
        }
    }
    rc = 0;
done:
    kp_model_free(m1);
    kp_model_free(m2);
    kp_model_free(mc);
    free(b1);
    free(b2);
    free(bc);
    free(bf);
    free(dir);
    return rc;
}

/* In ONNX test folders (model.onnx, test_data_set_N/input_K.pb), input_K/output_K hold the
 * K-th graph input (initializers excluded) or output. Returns 1 when that value is declared as
 * something other than a tensor (sequence, optional, map): such files are not TensorProtos. */
static int declared_non_tensor(const char *path) {
    const char *base = strrchr(path, '/');
    if (!base || base == path) return 0;
    base++;
    int k, is_in = !strncmp(base, "input_", 6);
    if (!is_in && strncmp(base, "output_", 7)) return 0;
    if (sscanf(base + (is_in ? 6 : 7), "%d", &k) != 1 || k < 0) return 0;
    const char *set = base - 1;
    while (set > path && set[-1] != '/') set--;
    char model[4096];
    snprintf(model, sizeof model, "%.*smodel.onnx", (int)(set - path), path);
    kp_model *m = NULL;
    kp_error err = {0};
    if (kp_onnx_load(model, NULL, &m, &err)) return 0;
    const kp_type *t = NULL;
    int seen = 0;
    if (is_in) {
        for (size_t i = 0; i < m->graph->n_inputs && !t; i++) {
            const char *nm = m->graph->inputs[i].name;
            if (nm && kp_graph_init(m->graph, nm)) continue;
            if (seen++ == k) t = &m->graph->inputs[i].type;
        }
    } else if ((size_t)k < m->graph->n_outputs) {
        t = &m->graph->outputs[k].type;
    }
    int other = t && t->kind == KP_TYPE_OTHER;
    kp_model_free(m);
    return other;
}

static int tensor_roundtrip(const char *path) {
    kp_error err = {0};
    kp_tensor *t1 = NULL, *t2 = NULL;
    uint8_t *b1 = NULL, *b2 = NULL;
    size_t l1 = 0, l2 = 0;
    int rc = 1;
    if (kp_onnx_load_tensor(path, &t1, &err)) {
        if (declared_non_tensor(path)) {
            rc = -1; /* a sequence/optional value, refused with a message as it should be */
            goto done;
        }
        printf("FAIL %s: load: %s\n", path, err.msg);
        goto done;
    }
    if (kp_onnx_save_tensor_buffer(t1, &b1, &l1, &err) ||
        kp_onnx_load_tensor_buffer(b1, l1, &t2, &err)) {
        printf("FAIL %s: save/reload: %s\n", path, err.msg);
        goto done;
    }
    cmp c = {{0}, 0};
    tensor_cmp(&c, t1, t2, "tensor");
    if (c.bad) {
        printf("FAIL %s: %s\n", path, c.where);
        goto done;
    }
    if (kp_onnx_save_tensor_buffer(t2, &b2, &l2, &err) || !same_buf(b1, l1, b2, l2)) {
        printf("FAIL %s: second save differs %s\n", path, err.msg);
        goto done;
    }
    rc = 0;
done:
    kp_tensor_free(t1);
    kp_tensor_free(t2);
    free(b1);
    free(b2);
    return rc;
}

/* --expect-fail: the file must be refused with a message; a crash is caught by the caller. */
static int expect_fail(const char *path) {
    kp_error err = {0};
    kp_model *m = NULL;
    int rc = kp_onnx_load(path, NULL, &m, &err);
    if (rc == 0) {
        printf("FAIL %s: loaded without error\n", path);
        kp_model_free(m);
        return 1;
    }
    if (!err.msg[0]) {
        printf("FAIL %s: error %d without a message\n", path, rc);
        return 1;
    }
    printf("ok   %s: %s\n", path, err.msg);
    return 0;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

typedef struct counts {
    int models, models_failed, tensors, tensors_failed, tensors_skipped;
} counts;

static void one(const char *path, const char *save_dir, int fail_mode, counts *k) {
    if (fail_mode || ends_with(path, ".onnx")) {
        int bad = fail_mode ? expect_fail(path) : model_roundtrip(path, save_dir, k->models);
        k->models++;
        k->models_failed += bad;
    } else {
        int r = tensor_roundtrip(path);
        if (r < 0) {
            k->tensors_skipped++;
        } else {
            k->tensors++;
            k->tensors_failed += r;
        }
    }
}

int main(int argc, char **argv) {
    const char *save_dir = NULL;
    int fail_mode = 0;
    counts k = {0};
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--save-dir") && i + 1 < argc) {
            save_dir = argv[++i];
        } else if (!strcmp(argv[i], "--expect-fail")) {
            fail_mode = 1;
        } else {
            break;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "usage: roundtrip [--save-dir DIR] [--expect-fail] FILE... | -\n");
        return 2;
    }
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "-")) {
            char line[4096];
            while (fgets(line, sizeof line, stdin)) {
                line[strcspn(line, "\r\n")] = 0;
                if (*line) one(line, save_dir, fail_mode, &k);
            }
        } else {
            one(argv[i], save_dir, fail_mode, &k);
        }
    }
    if (fail_mode) {
        printf("%d files refused, %d loaded or failed without a message\n",
               k.models - k.models_failed, k.models_failed);
    } else {
        if (k.models || !k.tensors)
            printf("%d models round-tripped, %d failed\n", k.models - k.models_failed,
                   k.models_failed);
        if (k.tensors || k.tensors_skipped)
            printf("%d tensors round-tripped, %d failed, %d skipped (declared as sequence or "
                   "optional values, not tensors)\n",
                   k.tensors - k.tensors_failed, k.tensors_failed, k.tensors_skipped);
    }
    return k.models_failed || k.tensors_failed ? 1 : 0;
}
