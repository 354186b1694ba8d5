/* kompress info MODEL [--json]: what a model is made of. Producer, IR and opset versions,
 * inputs and outputs with shapes (symbolic dims by name), parameters and bytes per dtype
 * (initializers, Constant nodes and subgraph weights alike), file size, MACs in total and for
 * the largest layers (rules in core/model_stats.h), op histogram, ops the executor lacks. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/exec.h"
#include "core/model_stats.h"
#include "core/onnx_io.h"
#include "core/shape_infer.h"
#include "tui/cli.h"
#include "tui/cli_opts.h"

#define TOP_LAYERS 10

static void usage(FILE *f) {
    fprintf(f,
            "usage: kompress info MODEL [--json]\n\n"
            "Summarizes an ONNX model: producer, IR and opset versions, inputs and outputs\n"
            "with shapes, parameter count and bytes per data type (initializers, Constant\n"
            "nodes and weights inside If/Loop/Scan bodies), file size, multiply-accumulates\n"
            "(MACs) in total and for the %d largest layers, the op histogram, and ops the\n"
            "executor cannot run.\n\n"
            "MACs: Conv N*Cout*Hout*Wout*Cin/group*kh*kw, ConvTranspose N*Cin*Hin*Win*\n"
            "Cout/group*kh*kw, Gemm/MatMul M*N*K (times batch dims), LSTM/GRU/RNN\n"
            "seq*batch*(|W|+|R|); a symbolic batch counts as 1.\n\n"
            "  --json   the same as one JSON object (adds \"values\": every inferred shape)\n"
            "  --help   this text\n",
            TOP_LAYERS);
}

static const char *human(double v, const char *const *units, double step, char *buf, size_t cap) {
    int u = 0;
    while (v >= step && units[u + 1]) {
        v /= step;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%.0f%s", v, units[0]);
    else
        snprintf(buf, cap, "%.2f %s", v, units[u]);
    return buf;
}

static const char *fmt_bytes(double b, char *buf, size_t cap) {
    static const char *const u[] = {" B", "KiB", "MiB", "GiB", "TiB", NULL};
    return human(b, u, 1024, buf, cap);
}

static const char *fmt_count(double n, char *buf, size_t cap) {
    static const char *const u[] = {"", "K", "M", "G", "T", NULL};
    return human(n, u, 1000, buf, cap);
}

static void shape_text(const kp_type *t, char *buf, size_t cap) {
    if (!t || t->kind != KP_TYPE_TENSOR) {
        snprintf(buf, cap, "%s", t && t->kind == KP_TYPE_OTHER ? "(non-tensor)" : "?");
        return;
    }
    if (t->rank < 0) {
        snprintf(buf, cap, "%s [?]", kp_dtype_name(t->elem));
        return;
    }
    size_t o = (size_t)snprintf(buf, cap, "%s [", kp_dtype_name(t->elem));
    for (int i = 0; i < t->rank && o < cap; i++) {
        const kp_dim *d = &t->dims[i];
        if (d->value >= 0)
            o += (size_t)snprintf(buf + o, cap - o, "%s%lld", i ? "," : "", (long long)d->value);
        else
            o +=
                (size_t)snprintf(buf + o, cap - o, "%s%s", i ? "," : "", d->param ? d->param : "?");
    }
    if (o < cap) snprintf(buf + o, cap - o, "]");
}

static cJSON *shape_json(const kp_type *t) {
    if (!t || t->kind != KP_TYPE_TENSOR || t->rank < 0) return cJSON_CreateNull();
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < t->rank; i++) {
        const kp_dim *d = &t->dims[i];
        if (d->value >= 0)
            cJSON_AddItemToArray(a, cJSON_CreateNumber((double)d->value));
        else if (d->param)
            cJSON_AddItemToArray(a, cJSON_CreateString(d->param));
        else
            cJSON_AddItemToArray(a, cJSON_CreateNull());
    }
    return a;
}

static cJSON *value_json(const char *name, const kp_type *t) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name ? name : "");
    if (t && t->kind == KP_TYPE_TENSOR)
        cJSON_AddStringToObject(o, "dtype", kp_dtype_name(t->elem));
    else
        cJSON_AddNullToObject(o, "dtype");
    cJSON_AddItemToObject(o, "shape", shape_json(t));
    return o;
}

/* Inputs that are initializers (IR < 4 style) are weights, not model inputs. */
static int is_real_input(kp_graph *g, const char *name) {
    return !kp_graph_init(g, name);
}

typedef struct info {
    const char *path;
    kp_model *m;
    kp_model_stats *st;
    long long file_bytes;
    char **missing;
    size_t n_missing;
    int missing_known;
    char shape_err[1024];
} info;

static void print_text(const info *in) {
    const kp_model *m = in->m;
    kp_graph *g = m->graph;
    const kp_model_stats *st = in->st;
    char b1[64], b2[64], sh[512];
    printf("model      %s (%s)\n", in->path, fmt_bytes((double)in->file_bytes, b1, sizeof b1));
    printf("producer   %s%s%s\n", m->producer_name && *m->producer_name ? m->producer_name : "?",
           m->producer_version && *m->producer_version ? " " : "",
           m->producer_version ? m->producer_version : "");
    printf("versions   IR %lld, opsets", (long long)m->ir_version);
    for (size_t i = 0; i < m->n_opsets; i++)
        printf("%s %s %lld", i ? "," : "",
               m->opsets[i].domain && *m->opsets[i].domain ? m->opsets[i].domain : "ai.onnx",
               (long long)m->opsets[i].version);
    printf("%s\n", m->n_opsets ? "" : " none");
    for (size_t i = 0; i < g->n_inputs; i++) {
        if (!is_real_input(g, g->inputs[i].name)) continue;
        shape_text(&g->inputs[i].type, sh, sizeof sh);
        printf("input      %s  %s\n", g->inputs[i].name, sh);
    }
    for (size_t i = 0; i < g->n_outputs; i++) {
        shape_text(kp_graph_value_type(g, g->outputs[i].name), sh, sizeof sh);
        printf("output     %s  %s\n", g->outputs[i].name, sh);
    }
    printf("params     %lld (%s) in %lld tensors", (long long)st->params,
           fmt_bytes((double)st->param_bytes, b1, sizeof b1), (long long)st->const_tensors);
    if (st->in_subgraphs) printf(", %lld inside subgraphs", (long long)st->in_subgraphs);
    printf("\n");
    for (int d = 0; d < KP_DTYPE_COUNT; d++) {
        const kp_dtype_stats *ds = &st->by_dtype[d];
        if (!ds->tensors) continue;
        printf("  %-9s %14lld  %10s  %lld tensors\n", kp_dtype_name((kp_dtype)d),
               (long long)ds->params, fmt_bytes((double)ds->bytes, b1, sizeof b1),
               (long long)ds->tensors);
    }
    printf("MACs       %lld (%s)%s%s\n", (long long)st->macs,
           fmt_count((double)st->macs, b1, sizeof b1),
           st->macs_assume_batch1 ? ", batch taken as 1" : "",
           st->macs_complete ? "" : ", incomplete: some layer shapes are unknown");
    size_t top = st->n_layers < TOP_LAYERS ? st->n_layers : TOP_LAYERS;
    if (top) printf("largest layers by MACs\n");
    for (size_t i = 0; i < top; i++) {
        const kp_layer_stats *l = &st->layers[i];
        printf("  %-32s %-14s %10s  %5.1f%%  params %s\n", l->name, l->op_type,
               fmt_count((double)l->macs, b1, sizeof b1),
               st->macs ? 100.0 * (double)l->macs / (double)st->macs : 0.0,
               fmt_count((double)l->params, b2, sizeof b2));
    }
    printf("ops        %lld nodes, %zu kinds\n ", (long long)st->nodes, st->n_ops);
    int col = 1;
    for (size_t i = 0; i < st->n_ops; i++) {
        char item[160];
        int w = snprintf(item, sizeof item, " %s %lld", st->ops[i].op, (long long)st->ops[i].count);
        if (col + w > 96) {
            printf("\n ");
            col = 1;
        }
        printf("%s", item);
        col += w;
    }
    printf("\n");
    if (!in->missing_known) {
        printf("executor   unsupported ops: unknown\n");
    } else if (!in->n_missing) {
        printf("executor   runs every op of this model\n");
    } else {
        printf("executor   unsupported ops:");
        for (size_t i = 0; i < in->n_missing; i++) printf(" %s", in->missing[i]);
        printf("\n");
    }
    if (in->shape_err[0]) printf("warning    shape inference stopped: %s\n", in->shape_err);
}

static void add_values(cJSON *arr, kp_graph *g) {
    for (size_t i = 0; i < g->n_inputs; i++)
        cJSON_AddItemToArray(arr, value_json(g->inputs[i].name, &g->inputs[i].type));
    for (size_t i = 0; i < g->n_value_info; i++)
        cJSON_AddItemToArray(arr, value_json(g->value_info[i].name, &g->value_info[i].type));
    for (size_t i = 0; i < g->n_outputs; i++)
        cJSON_AddItemToArray(arr, value_json(g->outputs[i].name, &g->outputs[i].type));
}

static int print_json(const info *in) {
    const kp_model *m = in->m;
    kp_graph *g = m->graph;
    const kp_model_stats *st = in->st;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "file", in->path);
    cJSON_AddNumberToObject(o, "file_bytes", (double)in->file_bytes);
    cJSON *p = cJSON_AddObjectToObject(o, "producer");
    cJSON_AddStringToObject(p, "name", m->producer_name ? m->producer_name : "");
    cJSON_AddStringToObject(p, "version", m->producer_version ? m->producer_version : "");
    cJSON_AddNumberToObject(o, "ir_version", (double)m->ir_version);
    cJSON *ops = cJSON_AddArrayToObject(o, "opsets");
    for (size_t i = 0; i < m->n_opsets; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "domain", m->opsets[i].domain ? m->opsets[i].domain : "");
        cJSON_AddNumberToObject(e, "version", (double)m->opsets[i].version);
        cJSON_AddItemToArray(ops, e);
    }
    cJSON *ins = cJSON_AddArrayToObject(o, "inputs");
    for (size_t i = 0; i < g->n_inputs; i++)
        if (is_real_input(g, g->inputs[i].name))
            cJSON_AddItemToArray(ins, value_json(g->inputs[i].name, &g->inputs[i].type));
    cJSON *outs = cJSON_AddArrayToObject(o, "outputs");
    for (size_t i = 0; i < g->n_outputs; i++)
        cJSON_AddItemToArray(
            outs, value_json(g->outputs[i].name, kp_graph_value_type(g, g->outputs[i].name)));
    cJSON *pa = cJSON_AddObjectToObject(o, "params");
    cJSON_AddNumberToObject(pa, "total", (double)st->params);
    cJSON_AddNumberToObject(pa, "bytes", (double)st->param_bytes);
    cJSON_AddNumberToObject(pa, "tensors", (double)st->const_tensors);
    cJSON_AddNumberToObject(pa, "in_subgraphs", (double)st->in_subgraphs);
    cJSON *bd = cJSON_AddObjectToObject(pa, "by_dtype");
    for (int d = 0; d < KP_DTYPE_COUNT; d++) {
        const kp_dtype_stats *ds = &st->by_dtype[d];
        if (!ds->tensors) continue;
        cJSON *e = cJSON_AddObjectToObject(bd, kp_dtype_name((kp_dtype)d));
        cJSON_AddNumberToObject(e, "count", (double)ds->params);
        cJSON_AddNumberToObject(e, "bytes", (double)ds->bytes);
        cJSON_AddNumberToObject(e, "tensors", (double)ds->tensors);
    }
    cJSON *mc = cJSON_AddObjectToObject(o, "macs");
    cJSON_AddNumberToObject(mc, "total", (double)st->macs);
    cJSON_AddBoolToObject(mc, "complete", st->macs_complete);
    cJSON_AddBoolToObject(mc, "batch_taken_as_1", st->macs_assume_batch1);
    cJSON *ls = cJSON_AddArrayToObject(mc, "layers");
    for (size_t i = 0; i < st->n_layers && i < TOP_LAYERS; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", st->layers[i].name);
        cJSON_AddStringToObject(e, "op", st->layers[i].op_type);
        cJSON_AddNumberToObject(e, "macs", (double)st->layers[i].macs);
        cJSON_AddNumberToObject(e, "params", (double)st->layers[i].params);
        cJSON_AddItemToArray(ls, e);
    }
    cJSON_AddNumberToObject(o, "nodes", (double)st->nodes);
    cJSON *h = cJSON_AddObjectToObject(o, "ops");
    for (size_t i = 0; i < st->n_ops; i++)
        cJSON_AddNumberToObject(h, st->ops[i].op, (double)st->ops[i].count);
    if (!in->missing_known) {
        cJSON_AddNullToObject(o, "unsupported_ops");
    } else {
        cJSON *u = cJSON_AddArrayToObject(o, "unsupported_ops");
        for (size_t i = 0; i < in->n_missing; i++)
            cJSON_AddItemToArray(u, cJSON_CreateString(in->missing[i]));
    }
    if (in->shape_err[0])
        cJSON_AddStringToObject(o, "shape_error", in->shape_err);
    else
        cJSON_AddNullToObject(o, "shape_error");
    add_values(cJSON_AddArrayToObject(o, "values"), g);
    char *txt = cJSON_Print(o);
    cJSON_Delete(o);
    if (!txt) return kp_cli_failf("info", 1, "out of memory writing JSON");
    puts(txt);
    free(txt);
    return 0;
}

static int run(int argc, char **argv) {
    int json = 0;
    const kp_opt opts[] = {{"json", 'j', KP_OPT_FLAG, &json, 0, 0, NULL}, KP_OPT_END};
    info in = {0};
    size_t n_pos;
    int st = kp_cli_parse("info", argc, argv, opts, usage, "MODEL", 1, 1, &in.path, &n_pos);
    if (st >= 0) return st;
    struct stat sb;
    if (stat(in.path, &sb)) return kp_cli_failf("info", 1, "cannot open %s: no such file", in.path);
    if (!S_ISREG(sb.st_mode)) return kp_cli_failf("info", 1, "%s is not a regular file", in.path);
    in.file_bytes = (long long)sb.st_size;
    kp_error err = {0};
    if (kp_onnx_load(in.path, NULL, &in.m, &err)) return kp_cli_fail("info", &err);
    int rc = 1;
    if (kp_graph_validate(in.m->graph, &err)) {
        kp_error_wrap(&err, "%s is not a valid model: ", in.path);
        kp_cli_fail("info", &err);
        goto done;
    }
    if (kp_infer_shapes(in.m, &err)) snprintf(in.shape_err, sizeof in.shape_err, "%s", err.msg);
    kp_error_clear(&err);
    if (kp_model_stats_compute(in.m, &in.st, &err)) {
        kp_cli_fail("info", &err);
        goto done;
    }
    kp_error_clear(&err);
    in.missing_known = kp_exec_missing_ops(in.m, &in.missing, &in.n_missing, &err) == 0;
    if (json)
        rc = print_json(&in);
    else {
        print_text(&in);
        rc = 0;
    }
done:
    if (in.missing) kp_strv_free(in.missing, in.n_missing);
    kp_model_stats_free(in.st);
    kp_model_free(in.m);
    return rc;
}

const kp_cmd kp_cmd_info = {"info", "MODEL [--json]", "summarize an ONNX model", run};
