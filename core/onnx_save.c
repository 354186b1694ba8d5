/* IR -> ONNX protobuf. The protobuf-c message tree is built over the IR's own strings and
 * tensor buffers (no copies); every message and array made here is tracked in `sv` and freed
 * together. Tensors are written as raw_data (strings as string_data), so all data is inline. */
#include "core/onnx_io.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/onnx_priv.h"
#include "onnx.pb-c.h"

/* Protobuf messages cannot exceed 2 GiB; ONNX Runtime and onnx refuse larger files. */
#define KP_ONNX_MAX_PACKED ((size_t)INT32_MAX)

typedef struct sv {
    void **allocs;
    size_t n_allocs, cap_allocs;
    ProtobufCMessage **unpacked; /* verbatim bytes re-parsed for saving */
    size_t n_unpacked, cap_unpacked;
    kp_error *err;
} sv;

static int push_ptr(void ***arr, size_t *n, size_t *cap, void *p) {
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        void **na = realloc(*arr, nc * sizeof *na);
        if (!na) return -1;
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = p;
    return 0;
}

static void *sv_alloc(sv *s, size_t size) {
    void *p = calloc(1, size ? size : 1);
    if (p && push_ptr(&s->allocs, &s->n_allocs, &s->cap_allocs, p)) {
        free(p);
        p = NULL;
    }
    if (!p) kp_error_set(s->err, KP_ENOMEM, "out of memory while saving");
    return p;
}

/* Array of n elements of size `size`, n may be 0 (returns NULL without error then). */
static int sv_array(sv *s, size_t n, size_t size, void **out) {
    *out = NULL;
    if (!n) return 0;
    if (n > SIZE_MAX / size) return kp_error_set(s->err, KP_ENOMEM, "out of memory while saving");
    *out = sv_alloc(s, n * size);
    return *out ? 0 : KP_ENOMEM;
}

static void *sv_msg(sv *s, const ProtobufCMessageDescriptor *d) {
    void *m = sv_alloc(s, d->sizeof_message);
    if (m) protobuf_c_message_init(d, m);
    return m;
}

static void sv_free(sv *s) {
    for (size_t i = 0; i < s->n_allocs; i++) free(s->allocs[i]);
    for (size_t i = 0; i < s->n_unpacked; i++)
        protobuf_c_message_free_unpacked(s->unpacked[i], NULL);
    free(s->allocs);
    free(s->unpacked);
}

/* Parses bytes kept verbatim in the IR (TypeProto, TensorAnnotation, TrainingInfoProto). */
static void *sv_unpack(sv *s, const ProtobufCMessageDescriptor *d, const kp_bytes *b,
                       const char *what) {
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, b->len, b->data);
    if (!m) {
        kp_error_set(s->err, KP_EFORMAT, "cannot save: the stored %s bytes are damaged", what);
        return NULL;
    }
    if (push_ptr((void ***)&s->unpacked, &s->n_unpacked, &s->cap_unpacked, m)) {
        protobuf_c_message_free_unpacked(m, NULL);
        kp_error_set(s->err, KP_ENOMEM, "out of memory while saving");
        return NULL;
    }
    return m;
}

#define MSG(s, T, desc) ((T *)sv_msg((s), &(desc)))

/* ---- tensors ------------------------------------------------------------------------------ */

static int sv_tensor(sv *s, const kp_tensor *t, Onnx__TensorProto **out) {
    const char *name = t->name ? t->name : "";
    if (t->dtype == KP_UNDEFINED || !kp_dtype_valid(t->dtype))
        return kp_error_set(s->err, KP_EINVAL, "cannot save tensor '%s': invalid dtype %d", name,
                            (int)t->dtype);
    if (t->rank < 0 || t->rank > KP_MAX_RANK)
        return kp_error_set(s->err, KP_EINVAL, "cannot save tensor '%s': invalid rank %d", name,
                            t->rank);
    int64_t numel;
    int rc = kp_shape_numel(t->rank, t->dims, &numel, s->err);
    if (rc) return kp_error_wrap(s->err, "cannot save tensor '%s': ", name);
    if (numel != t->numel)
        return kp_error_set(s->err, KP_EINVAL,
                            "cannot save tensor '%s': numel %lld does not match its dims", name,
                            (long long)t->numel);
    Onnx__TensorProto *tp = MSG(s, Onnx__TensorProto, onnx__tensor_proto__descriptor);
    if (!tp) return KP_ENOMEM;
    tp->n_dims = (size_t)t->rank;
    tp->dims = (int64_t *)t->dims;
    tp->has_data_type = 1;
    tp->data_type = (int32_t)t->dtype;
    tp->name = t->name;
    tp->doc_string = t->doc_string;
    if (t->dtype == KP_STRING) {
        if (numel > 0 && !t->strings)
            return kp_error_set(s->err, KP_EINVAL, "cannot save string tensor '%s': no strings",
                                name);
        if ((rc = sv_array(s, (size_t)numel, sizeof(ProtobufCBinaryData),
                           (void **)&tp->string_data)))
            return rc;
        tp->n_string_data = (size_t)numel;
        for (int64_t i = 0; i < numel; i++) {
            tp->string_data[i].len = t->strings[i].len;
            tp->string_data[i].data = t->strings[i].data;
        }
    } else {
        int ok = 1;
        size_t nb = kp_dtype_bytes(t->dtype, numel, &ok);
        if (!ok || nb != t->nbytes || (nb && !t->data))
            return kp_error_set(s->err, KP_EINVAL,
                                "cannot save tensor '%s': it holds %zu bytes, its shape and "
                                "type need %zu",
                                name, t->data ? t->nbytes : 0, nb);
        tp->has_raw_data = 1;
        tp->raw_data.len = nb;
        tp->raw_data.data = t->data;
    }
    *out = tp;
    return 0;
}

static int sv_sparse(sv *s, const kp_sparse_tensor *sp, Onnx__SparseTensorProto **out) {
    Onnx__SparseTensorProto *p =
        MSG(s, Onnx__SparseTensorProto, onnx__sparse_tensor_proto__descriptor);
    if (!p) return KP_ENOMEM;
    if (!sp->values || !sp->indices || sp->rank < 0 || sp->rank > KP_MAX_RANK)
        return kp_error_set(s->err, KP_EINVAL, "cannot save an incomplete sparse tensor");
    int rc = sv_tensor(s, sp->values, &p->values);
    if (!rc) rc = sv_tensor(s, sp->indices, &p->indices);
    if (rc) return rc;
    p->n_dims = (size_t)sp->rank;
    p->dims = (int64_t *)sp->dims;
    *out = p;
    return 0;
}

/* ---- types -------------------------------------------------------------------------------- */

static int sv_type(sv *s, const kp_type *t, Onnx__TypeProto **out) {
    *out = NULL;
    if (t->kind == KP_TYPE_OTHER) {
        *out = sv_unpack(s, &onnx__type_proto__descriptor, &t->raw, "TypeProto");
        return *out ? 0 : s->err ? s->err->code : KP_EFORMAT;
    }
    if (t->kind == KP_TYPE_NONE && !t->denotation) return 0;
    Onnx__TypeProto *tp = MSG(s, Onnx__TypeProto, onnx__type_proto__descriptor);
    if (!tp) return KP_ENOMEM;
    tp->denotation = t->denotation;
    *out = tp;
    if (t->kind != KP_TYPE_TENSOR) return 0;
    Onnx__TypeProto__Tensor *tt =
        MSG(s, Onnx__TypeProto__Tensor, onnx__type_proto__tensor__descriptor);
    if (!tt) return KP_ENOMEM;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    if (t->elem != KP_UNDEFINED) {
        tt->has_elem_type = 1;
        tt->elem_type = (int32_t)t->elem;
    }
    if (t->rank < 0) return 0;
    if (t->rank > 0 && !t->dims)
        return kp_error_set(s->err, KP_EINVAL, "cannot save a type of rank %d without dims",
                            t->rank);
    Onnx__TensorShapeProto *sh =
        MSG(s, Onnx__TensorShapeProto, onnx__tensor_shape_proto__descriptor);
    if (!sh) return KP_ENOMEM;
    tt->shape = sh;
    int rc = sv_array(s, (size_t)t->rank, sizeof *sh->dim, (void **)&sh->dim);
    if (rc) return rc;
    sh->n_dim = (size_t)t->rank;
    for (int i = 0; i < t->rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = MSG(s, Onnx__TensorShapeProto__Dimension,
                                                   onnx__tensor_shape_proto__dimension__descriptor);
        if (!d) return KP_ENOMEM;
        const kp_dim *kd = &t->dims[i];
        d->denotation = kd->denotation;
        if (kd->value >= 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = kd->value;
        } else if (kd->param) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = kd->param;
        }
        sh->dim[i] = d;
    }
    return 0;
}

static int sv_value_infos(sv *s, size_t n, const kp_value_info *vi, Onnx__ValueInfoProto ***out,
                          size_t *count) {
    int rc = sv_array(s, n, sizeof **out, (void **)out);
    if (rc) return rc;
    *count = n;
    for (size_t i = 0; i < n; i++) {
        Onnx__ValueInfoProto *v = MSG(s, Onnx__ValueInfoProto, onnx__value_info_proto__descriptor);
        if (!v) return KP_ENOMEM;
        v->name = vi[i].name;
        v->doc_string = vi[i].doc_string;
        if ((rc = sv_type(s, &vi[i].type, &v->type))) return rc;
        (*out)[i] = v;
    }
    return 0;
}

/* ---- attributes, nodes, graphs ------------------------------------------------------------ */

static int sv_graph(sv *s, const kp_graph *g, Onnx__GraphProto **out);

static int sv_attr(sv *s, const kp_attr *a, Onnx__AttributeProto **out) {
    Onnx__AttributeProto *p = MSG(s, Onnx__AttributeProto, onnx__attribute_proto__descriptor);
    if (!p) return KP_ENOMEM;
    p->name = a->name;
    p->doc_string = a->doc_string;
    p->ref_attr_name = a->ref_attr_name;
    if (a->type != KP_ATTR_UNDEFINED) {
        p->has_type = 1;
        p->type = (Onnx__AttributeProto__AttributeType)a->type;
    }
    int rc = 0;
    size_t n = a->n;
    switch (a->type) {
    case KP_ATTR_UNDEFINED: break;
    case KP_ATTR_FLOAT:
        p->has_f = 1;
        p->f = a->f;
        break;
    case KP_ATTR_INT:
        p->has_i = 1;
        p->i = a->i;
        break;
    case KP_ATTR_STRING:
        p->has_s = 1;
        p->s.len = a->s.len;
        p->s.data = a->s.data;
        break;
    case KP_ATTR_TENSOR:
        if (a->t) rc = sv_tensor(s, a->t, &p->t);
        break;
    case KP_ATTR_GRAPH:
        if (a->g) rc = sv_graph(s, a->g, &p->g);
        break;
    case KP_ATTR_SPARSE_TENSOR:
        if (a->sparse) rc = sv_sparse(s, a->sparse, &p->sparse_tensor);
        break;
    case KP_ATTR_TYPE_PROTO:
        if (a->tp) rc = sv_type(s, a->tp, &p->tp);
        /* A type that says nothing is still a value here: write it as an empty TypeProto. */
        if (!rc && a->tp && !p->tp) {
            p->tp = MSG(s, Onnx__TypeProto, onnx__type_proto__descriptor);
            if (!p->tp) rc = KP_ENOMEM;
        }
        break;
    case KP_ATTR_FLOATS:
        p->n_floats = n;
        p->floats = a->floats;
        break;
    case KP_ATTR_INTS:
        p->n_ints = n;
        p->ints = a->ints;
        break;
    case KP_ATTR_STRINGS:
        if ((rc = sv_array(s, n, sizeof *p->strings, (void **)&p->strings))) break;
        p->n_strings = n;
        for (size_t i = 0; i < n; i++) {
            p->strings[i].len = a->strings[i].len;
            p->strings[i].data = a->strings[i].data;
        }
        break;
    case KP_ATTR_TENSORS:
        if ((rc = sv_array(s, n, sizeof *p->tensors, (void **)&p->tensors))) break;
        p->n_tensors = n;
        for (size_t i = 0; i < n && !rc; i++) rc = sv_tensor(s, a->tensors[i], &p->tensors[i]);
        break;
    case KP_ATTR_GRAPHS:
        if ((rc = sv_array(s, n, sizeof *p->graphs, (void **)&p->graphs))) break;
        p->n_graphs = n;
        for (size_t i = 0; i < n && !rc; i++) rc = sv_graph(s, a->graphs[i], &p->graphs[i]);
        break;
    case KP_ATTR_SPARSE_TENSORS:
        if ((rc = sv_array(s, n, sizeof *p->sparse_tensors, (void **)&p->sparse_tensors))) break;
        p->n_sparse_tensors = n;
        for (size_t i = 0; i < n && !rc; i++)
            rc = sv_sparse(s, a->sparses[i], &p->sparse_tensors[i]);
        break;
    case KP_ATTR_TYPE_PROTOS:
        if ((rc = sv_array(s, n, sizeof *p->type_protos, (void **)&p->type_protos))) break;
        p->n_type_protos = n;
        for (size_t i = 0; i < n && !rc; i++) {
            rc = sv_type(s, &a->tps[i], &p->type_protos[i]);
            /* An absent type in a list still needs an (empty) element to keep the count. */
            if (!rc && !p->type_protos[i]) {
                p->type_protos[i] = MSG(s, Onnx__TypeProto, onnx__type_proto__descriptor);
                if (!p->type_protos[i]) rc = KP_ENOMEM;
            }
        }
        break;
    default:
        rc = kp_error_set(s->err, KP_EINVAL, "cannot save attribute '%s': unknown type %d",
                          a->name ? a->name : "", (int)a->type);
    }
    if (rc) return rc;
    *out = p;
    return 0;
}

static int sv_nodes(sv *s, size_t n, kp_node *const *nodes, Onnx__NodeProto ***out, size_t *count) {
    int rc = sv_array(s, n, sizeof **out, (void **)out);
    if (rc) return rc;
    *count = n;
    for (size_t i = 0; i < n; i++) {
        const kp_node *kn = nodes[i];
        Onnx__NodeProto *p = MSG(s, Onnx__NodeProto, onnx__node_proto__descriptor);
        if (!p) return KP_ENOMEM;
        if (!kn->op_type)
            return kp_error_set(s->err, KP_EINVAL, "cannot save node %zu: it has no op_type", i);
        for (size_t j = 0; j < kn->n_inputs; j++)
            if (!kn->inputs[j])
                return kp_error_set(s->err, KP_EINVAL, "cannot save node '%s': input %zu is NULL",
                                    kn->name ? kn->name : kn->op_type, j);
        for (size_t j = 0; j < kn->n_outputs; j++)
            if (!kn->outputs[j])
                return kp_error_set(s->err, KP_EINVAL, "cannot save node '%s': output %zu is NULL",
                                    kn->name ? kn->name : kn->op_type, j);
        p->name = kn->name;
        p->op_type = kn->op_type;
        p->domain = kn->domain;
        p->doc_string = kn->doc_string;
        p->n_input = kn->n_inputs;
        p->input = kn->inputs;
        p->n_output = kn->n_outputs;
        p->output = kn->outputs;
        if ((rc = sv_array(s, kn->n_attrs, sizeof *p->attribute, (void **)&p->attribute)))
            return rc;
        p->n_attribute = kn->n_attrs;
        for (size_t j = 0; j < kn->n_attrs; j++)
            if ((rc = sv_attr(s, &kn->attrs[j], &p->attribute[j]))) return rc;
        (*out)[i] = p;
    }
    return 0;
}

static int sv_graph(sv *s, const kp_graph *g, Onnx__GraphProto **out) {
    Onnx__GraphProto *p = MSG(s, Onnx__GraphProto, onnx__graph_proto__descriptor);
    if (!p) return KP_ENOMEM;
    p->name = g->name;
    p->doc_string = g->doc_string;
    int rc = sv_nodes(s, g->n_nodes, g->nodes, &p->node, &p->n_node);
    if (rc) return rc;
    if ((rc = sv_array(s, g->n_inits, sizeof *p->initializer, (void **)&p->initializer))) return rc;
    p->n_initializer = g->n_inits;
    for (size_t i = 0; i < g->n_inits; i++)
        if ((rc = sv_tensor(s, g->inits[i], &p->initializer[i]))) return rc;
    if ((rc = sv_array(s, g->n_sparse_inits, sizeof *p->sparse_initializer,
                       (void **)&p->sparse_initializer)))
        return rc;
    p->n_sparse_initializer = g->n_sparse_inits;
    for (size_t i = 0; i < g->n_sparse_inits; i++)
        if ((rc = sv_sparse(s, g->sparse_inits[i], &p->sparse_initializer[i]))) return rc;
    if ((rc = sv_value_infos(s, g->n_inputs, g->inputs, &p->input, &p->n_input)) ||
        (rc = sv_value_infos(s, g->n_outputs, g->outputs, &p->output, &p->n_output)) ||
        (rc = sv_value_infos(s, g->n_value_info, g->value_info, &p->value_info, &p->n_value_info)))
        return rc;
    if ((rc = sv_array(s, g->n_raw_quant_annotations, sizeof *p->quantization_annotation,
                       (void **)&p->quantization_annotation)))
        return rc;
    p->n_quantization_annotation = g->n_raw_quant_annotations;
    for (size_t i = 0; i < g->n_raw_quant_annotations; i++) {
        p->quantization_annotation[i] = sv_unpack(s, &onnx__tensor_annotation__descriptor,
                                                  &g->raw_quant_annotations[i], "TensorAnnotation");
        if (!p->quantization_annotation[i]) return s->err ? s->err->code : KP_EFORMAT;
    }
    *out = p;
    return 0;
}

/* ---- model -------------------------------------------------------------------------------- */

static int sv_opsets(sv *s, size_t n, const kp_opset *o, Onnx__OperatorSetIdProto ***out,
                     size_t *count) {
    int rc = sv_array(s, n, sizeof **out, (void **)out);
    if (rc) return rc;
    *count = n;
    for (size_t i = 0; i < n; i++) {
        Onnx__OperatorSetIdProto *p =
            MSG(s, Onnx__OperatorSetIdProto, onnx__operator_set_id_proto__descriptor);
        if (!p) return KP_ENOMEM;
        p->domain = o[i].domain;
        p->has_version = 1;
        p->version = o[i].version;
        (*out)[i] = p;
    }
    return 0;
}

static int sv_function(sv *s, const kp_function *f, Onnx__FunctionProto **out) {
    Onnx__FunctionProto *p = MSG(s, Onnx__FunctionProto, onnx__function_proto__descriptor);
    if (!p) return KP_ENOMEM;
    p->name = f->name;
    p->domain = f->domain;
    p->doc_string = f->doc_string;
    p->n_input = f->n_inputs;
    p->input = f->inputs;
    p->n_output = f->n_outputs;
    p->output = f->outputs;
    p->n_attribute = f->n_attr_names;
    p->attribute = f->attr_names;
    int rc = sv_opsets(s, f->n_opsets, f->opsets, &p->opset_import, &p->n_opset_import);
    if (!rc && f->body) rc = sv_nodes(s, f->body->n_nodes, f->body->nodes, &p->node, &p->n_node);
    if (rc) return rc;
    *out = p;
    return 0;
}

static int sv_model(sv *s, const kp_model *m, Onnx__ModelProto **out) {
    if (!m->graph) return kp_error_set(s->err, KP_EINVAL, "cannot save a model without a graph");
    Onnx__ModelProto *p = MSG(s, Onnx__ModelProto, onnx__model_proto__descriptor);
    if (!p) return KP_ENOMEM;
    p->has_ir_version = 1;
    p->ir_version = m->ir_version;
    p->producer_name = m->producer_name;
    p->producer_version = m->producer_version;
    p->domain = m->domain;
    p->doc_string = m->doc_string;
    if (m->model_version) {
        p->has_model_version = 1;
        p->model_version = m->model_version;
    }
    int rc = sv_opsets(s, m->n_opsets, m->opsets, &p->opset_import, &p->n_opset_import);
    if (rc) return rc;
    if ((rc = sv_array(s, m->n_props, sizeof *p->metadata_props, (void **)&p->metadata_props)))
        return rc;
    p->n_metadata_props = m->n_props;
    for (size_t i = 0; i < m->n_props; i++) {
        Onnx__StringStringEntryProto *kv =
            MSG(s, Onnx__StringStringEntryProto, onnx__string_string_entry_proto__descriptor);
        if (!kv) return KP_ENOMEM;
        kv->key = m->props[i].key;
        kv->value = m->props[i].value;
        p->metadata_props[i] = kv;
    }
    if ((rc = sv_array(s, m->n_raw_training_info, sizeof *p->training_info,
                       (void **)&p->training_info)))
        return rc;
    p->n_training_info = m->n_raw_training_info;
    for (size_t i = 0; i < m->n_raw_training_info; i++) {
        p->training_info[i] = sv_unpack(s, &onnx__training_info_proto__descriptor,
                                        &m->raw_training_info[i], "TrainingInfoProto");
        if (!p->training_info[i]) return s->err ? s->err->code : KP_EFORMAT;
    }
    if ((rc = sv_array(s, m->n_functions, sizeof *p->functions, (void **)&p->functions))) return rc;
    p->n_functions = m->n_functions;
    for (size_t i = 0; i < m->n_functions; i++)
        if ((rc = sv_function(s, &m->functions[i], &p->functions[i]))) return rc;
    if ((rc = sv_graph(s, m->graph, &p->graph))) return rc;
    *out = p;
    return 0;
}

/* ---- packing ------------------------------------------------------------------------------ */

static int check_size(size_t n, const char *what, kp_error *err) {
    if (n > KP_ONNX_MAX_PACKED)
        return kp_error_set(err, KP_EUNSUPPORTED,
                            "the %s would be %zu bytes, over protobuf's 2 GiB limit (saving "
                            "weights as external data is not supported)",
                            what, n);
    return 0;
}

static int pack_buffer(const ProtobufCMessage *msg, const char *what, uint8_t **buf, size_t *len,
                       kp_error *err) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    int rc = check_size(n, what, err);
    if (rc) return rc;
    uint8_t *b = malloc(n ? n : 1);
    if (!b) return kp_error_set(err, KP_ENOMEM, "out of memory: %s needs %zu bytes", what, n);
    size_t got = protobuf_c_message_pack(msg, b);
    if (got != n) {
        free(b);
        return kp_error_set(err, KP_EINVAL, "internal error: packed %zu of %zu bytes", got, n);
    }
    *buf = b;
    *len = n;
    return 0;
}

int kp_onnx_save_buffer(const kp_model *m, uint8_t **buf, size_t *len, kp_error *err) {
    if (!m || !buf || !len) return kp_error_set(err, KP_EINVAL, "kp_onnx_save_buffer: NULL");
    *buf = NULL;
    *len = 0;
    sv s = {.err = err};
    Onnx__ModelProto *p = NULL;
    int rc = sv_model(&s, m, &p);
    if (!rc) rc = pack_buffer(&p->base, "model", buf, len, err);
    sv_free(&s);
    return rc;
}

int kp_onnx_save_tensor_buffer(const kp_tensor *t, uint8_t **buf, size_t *len, kp_error *err) {
    if (!t || !buf || !len) return kp_error_set(err, KP_EINVAL, "kp_onnx_save_tensor_buffer: NULL");
    *buf = NULL;
    *len = 0;
    sv s = {.err = err};
    Onnx__TensorProto *p = NULL;
    int rc = sv_tensor(&s, t, &p);
    if (!rc) rc = pack_buffer(&p->base, "tensor", buf, len, err);
    sv_free(&s);
    return rc;
}

/* Streams a packed message into fd through a staging buffer, so saving needs no second copy of
 * the model in memory. */
typedef struct fd_sink {
    ProtobufCBuffer base;
    int fd;
    const char *path;
    kp_error *err;
    int rc;
    size_t used;
    uint8_t stage[1 << 16];
} fd_sink;

static void sink_flush(fd_sink *k) {
    if (!k->rc && k->used) k->rc = kp_write_all(k->fd, k->stage, k->used, k->path, k->err);
    k->used = 0;
}

static void sink_append(ProtobufCBuffer *b, size_t len, const uint8_t *data) {
    fd_sink *k = (fd_sink *)b;
    if (k->rc || !len) return; /* protobuf-c appends empty byte fields with data NULL */
    if (len > sizeof k->stage - k->used) sink_flush(k);
    if (len >= sizeof k->stage) {
        if (!k->rc) k->rc = kp_write_all(k->fd, data, len, k->path, k->err);
        return;
    }
    memcpy(k->stage + k->used, data, len);
    k->used += len;
}

typedef struct pack_job {
    const ProtobufCMessage *msg;
    const char *path;
} pack_job;

static int write_packed(int fd, void *ctx, kp_error *err) {
    pack_job *j = ctx;
    fd_sink *k = calloc(1, sizeof *k);
    if (!k) return kp_error_set(err, KP_ENOMEM, "out of memory while saving");
    k->base.append = sink_append;
    k->fd = fd;
    k->path = j->path;
    k->err = err;
    protobuf_c_message_pack_to_buffer(j->msg, &k->base);
    sink_flush(k);
    int rc = k->rc;
    free(k);
    return rc;
}

int kp_onnx_save(const kp_model *m, const char *path, int overwrite, kp_error *err) {
    if (!m || !path || !*path)
        return kp_error_set(err, KP_EINVAL, "kp_onnx_save: no model or path");
    struct stat st;
    if (stat(path, &st) == 0) {
        if (m->src_ino && (uint64_t)st.st_dev == m->src_dev && (uint64_t)st.st_ino == m->src_ino)
            return kp_error_set(err, KP_EEXIST,
                                "refusing to overwrite the input model '%s'; save to another file",
                                path);
        if (S_ISDIR(st.st_mode))
            return kp_error_set(err, KP_EIO, "cannot save to '%s': it is a folder", path);
        if (!overwrite)
            return kp_error_set(err, KP_EEXIST, "'%s' already exists; refusing to overwrite it",
                                path);
    }
    sv s = {.err = err};
    Onnx__ModelProto *p = NULL;
    int rc = sv_model(&s, m, &p);
    if (!rc) rc = check_size(protobuf_c_message_get_packed_size(&p->base), "model", err);
    if (!rc) {
        pack_job j = {.msg = &p->base, .path = path};
        rc = kp_write_atomic_fn(path, write_packed, &j, err);
    }
    sv_free(&s);
    return rc;
}

int kp_onnx_save_tensor(const kp_tensor *t, const char *path, kp_error *err) {
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = kp_onnx_save_tensor_buffer(t, &buf, &len, err);
    if (!rc) rc = kp_write_file_atomic(path, buf, len, err);
    free(buf);
    return rc;
}
