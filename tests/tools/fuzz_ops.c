/* Random-input robustness check for kernels: calls ops with random ranks, dims, dtypes,
 * values, attributes and opsets through kp_op_call and requires every call to return 0 or a
 * negative code with a message (memory errors are caught when built with ASan/UBSan).
 * usage: fuzz_ops [iterations] [seed] [op-substring|-] [comma-separated ops to skip] [wide]
 * (wide: ranks up to 6, dims up to 7, attribute values -10..10).
 * Exit 1 on a contract violation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/graph.h"
#include "core/ops/ops.h"
#include "core/tensor.h"

static uint64_t rng = 88172645463325252ull;
static int wide;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static int64_t rnd(int64_t lo, int64_t hi) { /* inclusive */
    return lo + (int64_t)(next() % (uint64_t)(hi - lo + 1));
}

static const kp_dtype dtypes[] = {KP_FLOAT, KP_FLOAT, KP_FLOAT, KP_INT64,  KP_INT64,  KP_INT32,
                                  KP_BOOL,  KP_UINT8, KP_INT8,  KP_DOUBLE, KP_FLOAT16};

static kp_tensor *rand_tensor(void) {
    int rank = (int)rnd(0, wide ? 6 : 4);
    int64_t dims[KP_MAX_RANK];
    for (int d = 0; d < rank; d++) dims[d] = rnd(0, 10) < 1 ? 0 : rnd(1, wide ? 7 : 4);
    kp_dtype dt = dtypes[rnd(0, sizeof dtypes / sizeof *dtypes - 1)];
    kp_error e;
    kp_tensor *t = kp_tensor_new(dt, rank, dims, &e);
    if (!t) return NULL;
    uint8_t *p = t->data;
    size_t es = kp_dtype_size(dt);
    for (int64_t i = 0; i < t->numel; i++) {
        int64_t v = rnd(-4, 4);
        switch (dt) {
        case KP_FLOAT: ((float *)p)[i] = (float)v * 0.75f; break;
        case KP_DOUBLE: ((double *)p)[i] = (double)v * 0.75; break;
        case KP_INT64: ((int64_t *)p)[i] = rnd(0, 30) == 0 ? INT64_MAX - rnd(0, 2) : v; break;
        case KP_INT32: ((int32_t *)p)[i] = (int32_t)v; break;
        case KP_BOOL: p[i] = v > 0; break;
        case KP_FLOAT16: ((uint16_t *)p)[i] = kp_f32_to_f16((float)v); break;
        default: memcpy(p + (size_t)i * es, &v, es); break;
        }
    }
    return t;
}

static const char *int_attrs[] = {"axis",
                                  "keepdims",
                                  "select_last_index",
                                  "exclusive",
                                  "reverse",
                                  "allowzero",
                                  "start",
                                  "end",
                                  "to",
                                  "fmod",
                                  "blocksize",
                                  "largest",
                                  "sorted",
                                  "k",
                                  "upper",
                                  "batch_dims",
                                  "noop_with_empty_axes",
                                  "num_outputs",
                                  "center_point_box",
                                  "inverse",
                                  "onesided",
                                  "periodic",
                                  "ignore_index",
                                  "depth"};
static const char *ints_attrs[] = {"axes", "perm", "pads", "split", "starts", "ends", "shape"};
static const char *str_attrs[][2] = {
    {"mode", "reflect"},       {"mode", "edge"},        {"mode", "wrap"},
    {"mode", "CRD"},           {"reduction", "add"},    {"direction", "LEFT"},
    {"equation", "ij,jk->ik"}, {"equation", "...i->i"}, {"approximate", "tanh"}};

int main(int argc, char **argv) {
    long iters = argc > 1 ? atol(argv[1]) : 20000;
    if (argc > 2) rng = (uint64_t)atoll(argv[2]) * 2654435761u + 1;
    const char *filter = argc > 3 && strcmp(argv[3], "-") ? argv[3] : NULL;
    const char *skip = argc > 4 ? argv[4] : "";
    wide = argc > 5 && !strcmp(argv[5], "wide");
    int64_t alo = wide ? -10 : -3, ahi = wide ? 10 : 4;
    size_t n_ops;
    const kp_op_def *const *all = kp_ops_all(&n_ops);
    const kp_op_def *ops[512];
    size_t n = 0;
    for (size_t i = 0; i < n_ops && n < 512; i++) {
        const char *t = all[i]->op_type;
        if (all[i]->domain && all[i]->domain[0]) continue;
        /* subgraph hosts and the other engineers' heavy kernels are out of scope here */
        if (!strcmp(t, "If") || !strcmp(t, "Loop") || !strcmp(t, "Scan")) continue;
        if (filter && !strstr(t, filter)) continue;
        size_t tl = strlen(t);
        int skipped = 0;
        for (const char *hit = strstr(skip, t); hit && !skipped; hit = strstr(hit + 1, t))
            skipped = (hit == skip || hit[-1] == ',') && (hit[tl] == ',' || !hit[tl]);
        if (skipped) continue;
        ops[n++] = all[i];
    }
    if (n == 0) {
        fprintf(stderr, "fuzz_ops: no op matches\n");
        return 2;
    }
    long ok = 0, refused = 0;
    for (long it = 0; it < iters; it++) {
        const kp_op_def *def = ops[rnd(0, (int64_t)n - 1)];
        size_t n_in = (size_t)rnd(0, 4), n_out = (size_t)rnd(1, 3);
        kp_tensor *in[4] = {0};
        for (size_t i = 0; i < n_in; i++)
            if (rnd(0, 8)) in[i] = rand_tensor();
        const char *names[4] = {"a", "b", "c", "d"}, *onames[3] = {"x", "y", "z"};
        for (size_t i = 0; i < n_in; i++)
            if (!in[i]) names[i] = "";
        kp_node *node = kp_node_new(def->op_type, "f", n_in, names, n_out, onames);
        int na = (int)rnd(0, 3);
        for (int a = 0; a < na; a++) {
            int kind = (int)rnd(0, 2);
            if (kind == 0) { /* draws in sequence: argument evaluation order is unspecified */
                const char *name = int_attrs[rnd(0, sizeof int_attrs / sizeof *int_attrs - 1)];
                kp_node_set_attr_int(node, name, rnd(alo, ahi));
            } else if (kind == 1) {
                int64_t v[8];
                size_t c = (size_t)rnd(0, 8);
                for (size_t k = 0; k < c; k++) v[k] = rnd(alo, ahi);
                kp_node_set_attr_ints(
                    node, ints_attrs[rnd(0, sizeof ints_attrs / sizeof *ints_attrs - 1)], c, v);
            } else {
                int k = (int)rnd(0, sizeof str_attrs / sizeof *str_attrs - 1);
                kp_node_set_attr_string(node, str_attrs[k][0], str_attrs[k][1]);
            }
        }
        kp_tensor *out[3];
        kp_error err;
        int rc = kp_op_call(node, rnd(6, 21), n_in, (const kp_tensor *const *)in, n_out, out, &err);
        if (rc > 0 || (rc < 0 && !err.msg[0])) {
            fprintf(stderr, "%s: return %d without a message\n", def->op_type, rc);
            return 1;
        }
        if (rc == 0) {
            ok++;
            for (size_t i = 0; i < n_out; i++) kp_tensor_free(out[i]);
        } else
            refused++;
        kp_node_free(node);
        for (size_t i = 0; i < n_in; i++) kp_tensor_free(in[i]);
    }
    printf("fuzz_ops: %ld calls over %zu ops: %ld ran, %ld refused with an error\n", iters, n, ok,
           refused);
    return 0;
}
