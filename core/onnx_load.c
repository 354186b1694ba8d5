/* ONNX protobuf -> IR: models, graphs, nodes, attributes, types, functions. The file is
 * untrusted: nesting depth and parse memory are checked on the raw bytes before protobuf-c
 * unpacks them (onnx_scan.c); every copy made here is sized from checked values; tensors are
 * converted in onnx_load_tensor.c (sizes compared with dims x dtype before allocating). */
#include "core/onnx_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/onnx_load_priv.h"

static const char *nz(const char *s) {
    return s ? s : "";
}

static int pack_msg(kp_ld *c, const ProtobufCMessage *msg, kp_bytes *out) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    out->data = malloc(n + 1);
    if (!out->data) return kp_ld_oom(c);
    out->len = protobuf_c_message_pack(msg, out->data);
    out->data[out->len] = 0;
    return 0;
}

/* ---- types -------------------------------------------------------------------------------- */

static int ld_type(kp_ld *c, const Onnx__TypeProto *tp, const char *value, kp_type *out) {
    memset(out, 0, sizeof *out);
    out->kind = KP_TYPE_NONE;
    out->rank = -1;
    if (!tp) return 0;
    if (kp_ld_str(c, tp->denotation, &out->denotation)) return KP_ENOMEM;
    if (tp->value_case == ONNX__TYPE_PROTO__VALUE__NOT_SET) return 0;
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type) {
        out->kind = KP_TYPE_OTHER;
        return pack_msg(c, &tp->base, &out->raw);
    }
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    out->kind = KP_TYPE_TENSOR;
    int et = tt->has_elem_type ? tt->elem_type : 0;
    if (!kp_dtype_valid(et))
        return kp_error_set(c->err, KP_EUNSUPPORTED,
                            "value '%s' has unknown element type %d (newer ONNX or damaged file)",
                            value, et);
    out->elem = (kp_dtype)et;
    if (!tt->shape) return 0;
    size_t n = tt->shape->n_dim;
    if (n > KP_MAX_RANK)
        return kp_error_set(c->err, KP_ERANGE, "value '%s' has rank %zu; at most %d is supported",
                            value, n, KP_MAX_RANK);
    if (n) {
        out->dims = calloc(n, sizeof *out->dims);
        if (!out->dims) return kp_ld_oom(c);
    }
    out->rank = (int)n;
    for (size_t i = 0; i < n; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        kp_dim *o = &out->dims[i];
        o->value = -1;
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            /* Some old exporters write -1 for "unknown"; any negative value means unknown. */
            if (d->dim_value >= 0) o->value = d->dim_value;
        } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM) {
            if (kp_ld_str(c, d->dim_param, &o->param)) return KP_ENOMEM;
        }
        if (kp_ld_str(c, d->denotation, &o->denotation)) return KP_ENOMEM;
    }
    return 0;
}

static int ld_value_info(kp_ld *c, const Onnx__ValueInfoProto *vp, kp_value_info *out) {
    memset(out, 0, sizeof *out);
    out->type.rank = -1;
    if (kp_ld_str(c, vp->name, &out->name) || kp_ld_str(c, vp->doc_string, &out->doc_string))
        return KP_ENOMEM;
    return ld_type(c, vp->type, nz(vp->name), &out->type);
}

/* ---- attributes, nodes, graphs ------------------------------------------------------------ */

static int ld_graph(kp_ld *c, const Onnx__GraphProto *gp, kp_graph *parent, int depth,
                    kp_graph **out);

static int infer_attr_type(const Onnx__AttributeProto *a) {
    if (a->has_f) return KP_ATTR_FLOAT;
    if (a->has_i) return KP_ATTR_INT;
    if (a->has_s) return KP_ATTR_STRING;
    if (a->t) return KP_ATTR_TENSOR;
    if (a->g) return KP_ATTR_GRAPH;
    if (a->sparse_tensor) return KP_ATTR_SPARSE_TENSOR;
    if (a->tp) return KP_ATTR_TYPE_PROTO;
    if (a->n_floats) return KP_ATTR_FLOATS;
    if (a->n_ints) return KP_ATTR_INTS;
    if (a->n_strings) return KP_ATTR_STRINGS;
    if (a->n_tensors) return KP_ATTR_TENSORS;
    if (a->n_graphs) return KP_ATTR_GRAPHS;
    if (a->n_sparse_tensors) return KP_ATTR_SPARSE_TENSORS;
    if (a->n_type_protos) return KP_ATTR_TYPE_PROTOS;
    return KP_ATTR_UNDEFINED;
}

static int ld_attr(kp_ld *c, const Onnx__AttributeProto *ap, const char *node, kp_graph *g,
                   int depth, kp_attr *a) {
    memset(a, 0, sizeof *a);
    if (!ap->name || !*ap->name)
        return kp_error_set(c->err, KP_EFORMAT, "node '%s' has an attribute without a name", node);
    const char *an = ap->name;
    if (kp_ld_str(c, ap->name, &a->name) || kp_ld_str(c, ap->doc_string, &a->doc_string) ||
        kp_ld_str(c, ap->ref_attr_name, &a->ref_attr_name))
        return KP_ENOMEM;
    int type = ap->has_type ? (int)ap->type : infer_attr_type(ap);
    /* A reference to a function's attribute carries a type but no value. */
    if (type == KP_ATTR_UNDEFINED && !ap->ref_attr_name)
        return kp_error_set(c->err, KP_EFORMAT,
                            "node '%s': attribute '%s' has no type and no value", node, an);
    a->type = (kp_attr_type)type;
    /* Singular tensor/graph values are pointers that every consumer dereferences: require them
     * unless the attribute only refers to a function's attribute. */
    int missing = (type == KP_ATTR_TENSOR && !ap->t) || (type == KP_ATTR_GRAPH && !ap->g) ||
                  (type == KP_ATTR_SPARSE_TENSOR && !ap->sparse_tensor) ||
                  (type == KP_ATTR_TYPE_PROTO && !ap->tp);
    if (missing && !ap->ref_attr_name)
        return kp_error_set(c->err, KP_EFORMAT,
                            "node '%s': attribute '%s' is declared as a %s but holds none", node,
                            an,
                            type == KP_ATTR_TENSOR       ? "tensor"
                            : type == KP_ATTR_GRAPH      ? "graph"
                            : type == KP_ATTR_TYPE_PROTO ? "type"
                                                         : "sparse tensor");
    int rc = 0;
    size_t n = 0;
    switch (type) {
    case KP_ATTR_UNDEFINED: break;
    case KP_ATTR_FLOAT: a->f = ap->f; break;
    case KP_ATTR_INT: a->i = ap->i; break;
    case KP_ATTR_STRING: rc = kp_ld_bytes(c, &ap->s, &a->s); break;
    case KP_ATTR_TENSOR:
        if (ap->t) rc = kp_ld_tensor(c, ap->t, &a->t);
        break;
    case KP_ATTR_GRAPH:
        if (ap->g) rc = ld_graph(c, ap->g, g, depth + 1, &a->g);
        break;
    case KP_ATTR_SPARSE_TENSOR:
        if (ap->sparse_tensor) rc = kp_ld_sparse(c, ap->sparse_tensor, &a->sparse);
        break;
    case KP_ATTR_TYPE_PROTO:
        if (ap->tp) {
            a->tp = calloc(1, sizeof *a->tp);
            rc = a->tp ? ld_type(c, ap->tp, an, a->tp) : kp_ld_oom(c);
        }
        break;
    case KP_ATTR_FLOATS:
        if ((n = ap->n_floats)) {
            if (!(a->floats = malloc(n * sizeof(float)))) return kp_ld_oom(c);
            memcpy(a->floats, ap->floats, n * sizeof(float));
        }
        a->n = n;
        break;
    case KP_ATTR_INTS:
        if ((n = ap->n_ints)) {
            if (!(a->ints = malloc(n * sizeof(int64_t)))) return kp_ld_oom(c);
            memcpy(a->ints, ap->ints, n * sizeof(int64_t));
        }
        a->n = n;
        break;
    case KP_ATTR_STRINGS:
        if ((n = ap->n_strings) && !(a->strings = calloc(n, sizeof *a->strings)))
            return kp_ld_oom(c);
        for (size_t i = 0; i < n && !rc; i++, a->n++)
            rc = kp_ld_bytes(c, &ap->strings[i], &a->strings[i]);
        break;
    case KP_ATTR_TENSORS:
        if ((n = ap->n_tensors) && !(a->tensors = calloc(n, sizeof *a->tensors)))
            return kp_ld_oom(c);
        for (size_t i = 0; i < n && !rc; i++, a->n++)
            rc = kp_ld_tensor(c, ap->tensors[i], &a->tensors[i]);
        break;
    case KP_ATTR_GRAPHS:
        if ((n = ap->n_graphs) && !(a->graphs = calloc(n, sizeof *a->graphs))) return kp_ld_oom(c);
        for (size_t i = 0; i < n && !rc; i++, a->n++)
            rc = ld_graph(c, ap->graphs[i], g, depth + 1, &a->graphs[i]);
        break;
    case KP_ATTR_SPARSE_TENSORS:
        if ((n = ap->n_sparse_tensors) && !(a->sparses = calloc(n, sizeof *a->sparses)))
            return kp_ld_oom(c);
        for (size_t i = 0; i < n && !rc; i++, a->n++)
            rc = kp_ld_sparse(c, ap->sparse_tensors[i], &a->sparses[i]);
        break;
    case KP_ATTR_TYPE_PROTOS:
        if ((n = ap->n_type_protos) && !(a->tps = calloc(n, sizeof *a->tps))) return kp_ld_oom(c);
        for (size_t i = 0; i < n && !rc; i++, a->n++)
            rc = ld_type(c, ap->type_protos[i], an, &a->tps[i]);
        break;
    default:
        return kp_error_set(c->err, KP_EFORMAT, "node '%s': attribute '%s' has unknown type %d",
                            node, an, type);
    }
    if (rc && !c->too_deep) kp_error_wrap(c->err, "node '%s', attribute '%s': ", node, an);
    return rc;
}

static int ld_node(kp_ld *c, const Onnx__NodeProto *np, size_t idx, kp_graph *g, int depth,
                   kp_node **out) {
    *out = NULL;
    char label[96];
    snprintf(label, sizeof label, "%s", np->name && *np->name ? np->name : "");
    if (!*label) snprintf(label, sizeof label, "#%zu", idx);
    if (!np->op_type || !*np->op_type)
        return kp_error_set(c->err, KP_EFORMAT, "node '%s' has no op_type", label);
    kp_node *n = kp_node_new(np->op_type, np->name, np->n_input, (const char *const *)np->input,
                             np->n_output, (const char *const *)np->output);
    if (!n) return kp_ld_oom(c);
    int rc = 0;
    if (kp_ld_str(c, np->domain, &n->domain) || kp_ld_str(c, np->doc_string, &n->doc_string)) {
        rc = KP_ENOMEM;
        goto fail;
    }
    if (np->n_attribute) {
        n->attrs = calloc(np->n_attribute, sizeof *n->attrs);
        if (!n->attrs) {
            rc = kp_ld_oom(c);
            goto fail;
        }
    }
    for (size_t i = 0; i < np->n_attribute; i++) {
        n->n_attrs++;
        rc = ld_attr(c, np->attribute[i], label, g, depth, &n->attrs[i]);
        if (rc) goto fail;
    }
    *out = n;
    return 0;
fail:
    kp_node_free(n);
    return rc;
}

static int ld_value_infos(kp_ld *c, size_t n, Onnx__ValueInfoProto **src, kp_value_info **dst,
                          size_t *count) {
    *dst = NULL;
    *count = 0;
    if (!n) return 0;
    *dst = calloc(n, sizeof **dst);
    if (!*dst) return kp_ld_oom(c);
    for (size_t i = 0; i < n; i++) {
        (*count)++;
        int rc = ld_value_info(c, src[i], &(*dst)[i]);
        if (rc) return rc;
    }
    return 0;
}

static int ld_graph_body(kp_ld *c, const Onnx__GraphProto *gp, kp_graph *g, int depth) {
    if (kp_ld_str(c, gp->name, &g->name) || kp_ld_str(c, gp->doc_string, &g->doc_string))
        return KP_ENOMEM;
    int rc;
    if (gp->n_node) {
        g->nodes = calloc(gp->n_node, sizeof *g->nodes);
        if (!g->nodes) return kp_ld_oom(c);
        g->cap_nodes = gp->n_node;
    }
    for (size_t i = 0; i < gp->n_node; i++) {
        if (!(i & 4095) && (rc = kp_ld_cancelled(c))) return rc;
        if ((rc = ld_node(c, gp->node[i], i, g, depth, &g->nodes[i]))) return rc;
        g->n_nodes++;
    }
    if (gp->n_initializer) {
        g->inits = calloc(gp->n_initializer, sizeof *g->inits);
        if (!g->inits) return kp_ld_oom(c);
    }
    for (size_t i = 0; i < gp->n_initializer; i++) {
        if (!(i & 1023) && (rc = kp_ld_cancelled(c))) return rc;
        if ((rc = kp_ld_tensor(c, gp->initializer[i], &g->inits[i]))) return rc;
        g->n_inits++;
    }
    if (gp->n_sparse_initializer) {
        g->sparse_inits = calloc(gp->n_sparse_initializer, sizeof *g->sparse_inits);
        if (!g->sparse_inits) return kp_ld_oom(c);
    }
    for (size_t i = 0; i < gp->n_sparse_initializer; i++) {
        if ((rc = kp_ld_sparse(c, gp->sparse_initializer[i], &g->sparse_inits[i]))) return rc;
        g->n_sparse_inits++;
    }
    if ((rc = ld_value_infos(c, gp->n_input, gp->input, &g->inputs, &g->n_inputs)) ||
        (rc = ld_value_infos(c, gp->n_output, gp->output, &g->outputs, &g->n_outputs)) ||
        (rc =
             ld_value_infos(c, gp->n_value_info, gp->value_info, &g->value_info, &g->n_value_info)))
        return rc;
    if (gp->n_quantization_annotation) {
        g->raw_quant_annotations =
            calloc(gp->n_quantization_annotation, sizeof *g->raw_quant_annotations);
        if (!g->raw_quant_annotations) return kp_ld_oom(c);
    }
    for (size_t i = 0; i < gp->n_quantization_annotation; i++) {
        if ((rc = pack_msg(c, &gp->quantization_annotation[i]->base, &g->raw_quant_annotations[i])))
            return rc;
        g->n_raw_quant_annotations++;
    }
    return 0;
}

static int ld_graph(kp_ld *c, const Onnx__GraphProto *gp, kp_graph *parent, int depth,
                    kp_graph **out) {
    *out = NULL;
    if (depth > KP_ONNX_MAX_GRAPH_DEPTH) {
        c->too_deep = 1;
        return kp_error_set(c->err, KP_ERANGE,
                            "subgraphs (If/Loop/Scan bodies) are nested more than %d levels "
                            "deep; refusing a model this deep",
                            KP_ONNX_MAX_GRAPH_DEPTH);
    }
    kp_graph *g = kp_graph_new(parent);
    if (!g) return kp_ld_oom(c);
    int rc = ld_graph_body(c, gp, g, depth);
    if (rc) {
        if (depth > 0 && gp->name && !c->too_deep)
            kp_error_wrap(c->err, "subgraph '%s': ", gp->name);
        kp_graph_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

/* ---- model -------------------------------------------------------------------------------- */

static int ld_opsets(kp_ld *c, size_t n, Onnx__OperatorSetIdProto **src, kp_opset **dst,
                     size_t *count) {
    *dst = NULL;
    *count = 0;
    if (!n) return 0;
    if (!(*dst = calloc(n, sizeof **dst))) return kp_ld_oom(c);
    for (size_t i = 0; i < n; i++) {
        (*count)++;
        if (kp_ld_str(c, src[i]->domain, &(*dst)[i].domain)) return KP_ENOMEM;
        (*dst)[i].version = src[i]->has_version ? src[i]->version : 0;
    }
    return 0;
}

static int dup_strv(kp_ld *c, size_t n, char **src, char ***dst, size_t *count) {
    *dst = NULL;
    *count = 0;
    if (!n) return 0;
    if (!(*dst = calloc(n, sizeof **dst))) return kp_ld_oom(c);
    for (size_t i = 0; i < n; i++) {
        (*count)++;
        if (kp_ld_str(c, src[i] ? src[i] : "", &(*dst)[i])) return KP_ENOMEM;
    }
    return 0;
}

static int ld_function(kp_ld *c, const Onnx__FunctionProto *fp, kp_function *f) {
    memset(f, 0, sizeof *f);
    int rc;
    if (kp_ld_str(c, fp->name, &f->name) || kp_ld_str(c, fp->domain, &f->domain) ||
        kp_ld_str(c, fp->doc_string, &f->doc_string))
        return KP_ENOMEM;
    if ((rc = dup_strv(c, fp->n_input, fp->input, &f->inputs, &f->n_inputs)) ||
        (rc = dup_strv(c, fp->n_output, fp->output, &f->outputs, &f->n_outputs)) ||
        (rc = dup_strv(c, fp->n_attribute, fp->attribute, &f->attr_names, &f->n_attr_names)) ||
        (rc = ld_opsets(c, fp->n_opset_import, fp->opset_import, &f->opsets, &f->n_opsets)))
        return rc;
    if (!(f->body = kp_graph_new(NULL))) return kp_ld_oom(c);
    kp_graph *g = f->body;
    if (fp->n_node) {
        if (!(g->nodes = calloc(fp->n_node, sizeof *g->nodes))) return kp_ld_oom(c);
        g->cap_nodes = fp->n_node;
    }
    for (size_t i = 0; i < fp->n_node; i++) {
        if ((rc = ld_node(c, fp->node[i], i, g, 0, &g->nodes[i]))) {
            return kp_error_wrap(c->err, "function '%s': ", nz(fp->name));
        }
        g->n_nodes++;
    }
    return 0;
}

static int ld_model(kp_ld *c, const Onnx__ModelProto *mp, kp_model *m) {
    int rc;
    m->ir_version = mp->has_ir_version ? mp->ir_version : 0;
    m->model_version = mp->has_model_version ? mp->model_version : 0;
    if (kp_ld_str(c, mp->producer_name, &m->producer_name) ||
        kp_ld_str(c, mp->producer_version, &m->producer_version) ||
        kp_ld_str(c, mp->domain, &m->domain) || kp_ld_str(c, mp->doc_string, &m->doc_string))
        return KP_ENOMEM;
    if ((rc = ld_opsets(c, mp->n_opset_import, mp->opset_import, &m->opsets, &m->n_opsets)))
        return rc;
    if (mp->n_metadata_props && !(m->props = calloc(mp->n_metadata_props, sizeof *m->props)))
        return kp_ld_oom(c);
    for (size_t i = 0; i < mp->n_metadata_props; i++) {
        m->n_props++;
        if (kp_ld_str(c, mp->metadata_props[i]->key, &m->props[i].key) ||
            kp_ld_str(c, mp->metadata_props[i]->value, &m->props[i].value))
            return KP_ENOMEM;
    }
    if (mp->n_training_info &&
        !(m->raw_training_info = calloc(mp->n_training_info, sizeof *m->raw_training_info)))
        return kp_ld_oom(c);
    for (size_t i = 0; i < mp->n_training_info; i++) {
        if ((rc = pack_msg(c, &mp->training_info[i]->base, &m->raw_training_info[i]))) return rc;
        m->n_raw_training_info++;
    }
    if (mp->n_functions && !(m->functions = calloc(mp->n_functions, sizeof *m->functions)))
        return kp_ld_oom(c);
    for (size_t i = 0; i < mp->n_functions; i++) {
        m->n_functions++;
        if ((rc = ld_function(c, mp->functions[i], &m->functions[i]))) return rc;
    }
    kp_graph *g = NULL;
    if ((rc = ld_graph(c, mp->graph, NULL, 0, &g))) return rc;
    kp_graph_free(m->graph);
    m->graph = g;
    return 0;
}

int kp_onnx_load_buffer(const uint8_t *buf, size_t len, const char *dir, kp_model **out,
                        kp_error *err) {
    return kp_onnx_load_owned(buf, len, NULL, dir, NULL, out, err);
}

int kp_onnx_load_owned(const uint8_t *buf, size_t len, uint8_t *owned, const char *dir,
                       const volatile int *cancel, kp_model **out, kp_error *err) {
    if (!out) {
        free(owned);
        return kp_error_set(err, KP_EINVAL, "kp_onnx_load_buffer: out is NULL");
    }
    *out = NULL;
    if (!buf && len) {
        free(owned);
        return kp_error_set(err, KP_EINVAL, "kp_onnx_load_buffer: buffer is NULL");
    }
    if (len == 0) {
        free(owned);
        return kp_error_set(err, KP_EFORMAT, "the file is empty, not an ONNX model");
    }
    kp_ld c = {.dir = dir, .err = err, .cancel = cancel};
    int rc = kp_onnx_scan(buf, len, &onnx__model_proto__descriptor, err);
    if (!rc) rc = kp_ld_cancelled(&c);
    if (rc) {
        free(owned);
        return rc;
    }
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    free(owned); /* everything needed is in the unpacked tree now */
    if (!mp)
        return kp_error_set(err, KP_EFORMAT,
                            "not an ONNX model: the protobuf data is damaged or of another kind");
    if (!mp->graph) {
        onnx__model_proto__free_unpacked(mp, NULL);
        return kp_error_set(err, KP_EFORMAT,
                            "not an ONNX model: it has no graph (damaged file, or not a model)");
    }
    if ((rc = kp_ld_cancelled(&c))) {
        onnx__model_proto__free_unpacked(mp, NULL);
        return rc;
    }
    kp_model *m = kp_model_new();
    if (!m) {
        onnx__model_proto__free_unpacked(mp, NULL);
        return kp_error_set(err, KP_ENOMEM, "out of memory while loading");
    }
    m->n_unknown_fields = kp_onnx_count_unknown(&mp->base);
    rc = ld_model(&c, mp, m);
    onnx__model_proto__free_unpacked(mp, NULL);
    if (!rc && dir && !(m->dir = strdup(dir))) rc = kp_error_set(err, KP_ENOMEM, "out of memory");
    if (!rc) rc = kp_ld_cancelled(&c);
    if (!rc) {
        rc = kp_graph_validate(m->graph, err);
        if (rc) kp_error_wrap(err, "invalid graph: ");
    }
    if (!rc) rc = kp_ld_cancelled(&c);
    if (rc) {
        kp_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
