/* Constant, ConstantOfShape, Range, Dropout (inference; the mask output is all true) and
 * Cast/CastLike between every numeric dtype, bool, float16, bfloat16 and string. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops/args.h"
#include "core/ops/einsum.h"
#include "core/ops/elem.h"
#include "core/ops/extra.h"
#include "core/ops/float8.h"
#include "core/ops/ops.h"

#define OUT_OR_FAIL(o, ...)                                                                        \
    kp_tensor *o = kp_op_output(__VA_ARGS__);                                                      \
    if (!o) return ctx->err->code ? ctx->err->code : KP_ENOMEM

/* ---- Cast ------------------------------------------------------------------------------ */

/* Shortest decimal that reads back as the same float32, numpy style ("1.0", "0.039187793"). */
static int f32_to_text(float v, char *buf, size_t cap) {
    if (isnan(v)) return snprintf(buf, cap, "nan");
    if (isinf(v)) return snprintf(buf, cap, v < 0 ? "-inf" : "inf");
    int n = 0;
    for (int p = 1; p <= 9; p++) {
        n = snprintf(buf, cap, "%.*g", p, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    if (!strpbrk(buf, ".e")) n += snprintf(buf + n, cap - (size_t)n, ".0");
    return n;
}

static int set_string(kp_op_ctx *ctx, kp_tensor *o, int64_t i, const char *s, size_t len) {
    uint8_t *p = malloc(len ? len : 1);
    if (!p) return kp_op_fail(ctx, KP_ENOMEM, "out of memory for strings");
    if (len) memcpy(p, s, len);
    free(o->strings[i].data);
    o->strings[i].data = p;
    o->strings[i].len = len;
    return 0;
}

static int cast_strings(kp_op_ctx *ctx, const kp_tensor *x, kp_tensor *o) {
    if (x->dtype == KP_STRING && o->dtype == KP_STRING) return kp_args_copy(ctx, o, x);
    if (o->dtype == KP_STRING) {
        for (int64_t i = 0; i < x->numel; i++) {
            char buf[64];
            int n;
            kp_elem_kind k = kp_elem_kind_of(x->dtype);
            if (x->dtype == KP_FLOAT || x->dtype == KP_FLOAT16 || x->dtype == KP_BFLOAT16)
                n = f32_to_text((float)kp_elem_getd(x->data, x->dtype, i), buf, sizeof buf);
            else if (x->dtype == KP_DOUBLE)
                n = snprintf(buf, sizeof buf, "%.17g", kp_elem_getd(x->data, x->dtype, i));
            else if (k == KP_EK_UINT)
                n = snprintf(buf, sizeof buf, "%llu",
                             (unsigned long long)kp_elem_getu(x->data, x->dtype, i));
            else if (k == KP_EK_BOOL)
                n = snprintf(buf, sizeof buf, "%s",
                             kp_elem_geti(x->data, x->dtype, i) ? "True" : "False");
            else
                n = snprintf(buf, sizeof buf, "%lld",
                             (long long)kp_elem_geti(x->data, x->dtype, i));
            int rc = set_string(ctx, o, i, buf, (size_t)n);
            if (rc) return rc;
        }
        return 0;
    }
    kp_elem_kind ko = kp_elem_kind_of(o->dtype);
    for (int64_t i = 0; i < x->numel; i++) {
        char buf[128];
        size_t len = x->strings ? x->strings[i].len : 0;
        if (len >= sizeof buf)
            return kp_op_fail(ctx, KP_EINVAL, "string %lld is too long to be a number",
                              (long long)i);
        if (len) memcpy(buf, x->strings[i].data, len);
        buf[len] = 0;
        char *end;
        if (ko == KP_EK_FLOAT || ko == KP_EK_BOOL) {
            double v = strtod(buf, &end);
            if (end == buf || *end)
                return kp_op_fail(ctx, KP_EINVAL, "\"%s\" is not a number", buf);
            kp_elem_setd(o->data, o->dtype, i, v);
        } else if (ko == KP_EK_UINT) {
            unsigned long long v = strtoull(buf, &end, 10);
            if (end == buf || *end)
                return kp_op_fail(ctx, KP_EINVAL, "\"%s\" is not an integer", buf);
            kp_elem_setu(o->data, o->dtype, i, v);
        } else {
            long long v = strtoll(buf, &end, 10);
            if (end == buf || *end)
                return kp_op_fail(ctx, KP_EINVAL, "\"%s\" is not an integer", buf);
            kp_elem_seti(o->data, o->dtype, i, v);
        }
    }
    return 0;
}

/* Casts from or to a float8 type, through double; saturate (opset 19, default 1) decides
 * what out-of-range values become. */
static int cast_f8(kp_op_ctx *ctx, const kp_tensor *x, kp_dtype dt) {
    int fin = kp_f8_is(x->dtype), fout = kp_f8_is(dt);
    if ((!fin && (kp_elem_kind_of(x->dtype) == KP_EK_NONE)) ||
        (!fout && kp_elem_kind_of(dt) == KP_EK_NONE))
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "cast from %s to %s is not supported",
                          kp_dtype_name(x->dtype), kp_dtype_name(dt));
    int saturate = (int)kp_node_attr_int(ctx->node, "saturate", 1);
    OUT_OR_FAIL(o, ctx, 0, dt, x->rank, x->dims);
    for (int64_t i = 0; i < x->numel; i++) {
        double v = fin ? kp_f8_to_double(x->dtype, ((const uint8_t *)x->data)[i])
                       : kp_elem_getd(x->data, x->dtype, i);
        if (fout)
            ((uint8_t *)o->data)[i] = kp_f8_from_double(dt, v, saturate);
        else
            kp_elem_setd(o->data, dt, i, v);
    }
    return 0;
}

/* Plain loops for the pairs models cast large tensors between; 1 if handled. Integer targets
 * of float sources are excluded (they need the saturating conversion of kp_elem_setd). */
static int cast_fast(const kp_tensor *x, kp_tensor *o) {
    int64_t n = x->numel;
#define CAST_LOOP(TI, TO)                                                                          \
    do {                                                                                           \
        const TI *in = x->data;                                                                    \
        TO *out = o->data;                                                                         \
        for (int64_t i = 0; i < n; i++) out[i] = (TO)in[i];                                        \
        return 1;                                                                                  \
    } while (0)
    switch (x->dtype * 32 + o->dtype) {
    case KP_INT64 * 32 + KP_FLOAT: CAST_LOOP(int64_t, float);
    case KP_INT32 * 32 + KP_FLOAT: CAST_LOOP(int32_t, float);
    case KP_UINT8 * 32 + KP_FLOAT: CAST_LOOP(uint8_t, float);
    case KP_INT8 * 32 + KP_FLOAT: CAST_LOOP(int8_t, float);
    case KP_BOOL * 32 + KP_FLOAT: CAST_LOOP(uint8_t, float);
    case KP_FLOAT * 32 + KP_DOUBLE: CAST_LOOP(float, double);
    case KP_DOUBLE * 32 + KP_FLOAT: CAST_LOOP(double, float);
    case KP_INT32 * 32 + KP_INT64: CAST_LOOP(int32_t, int64_t);
    case KP_INT64 * 32 + KP_INT32: CAST_LOOP(int64_t, int32_t);
    case KP_UINT8 * 32 + KP_INT64: CAST_LOOP(uint8_t, int64_t);
    case KP_BOOL * 32 + KP_INT64: CAST_LOOP(uint8_t, int64_t);
    case KP_BOOL * 32 + KP_INT32: CAST_LOOP(uint8_t, int32_t);
    default: return 0;
    }
#undef CAST_LOOP
}

static int cast_to(kp_op_ctx *ctx, const kp_tensor *x, int64_t to) {
    if (!kp_dtype_valid((int)to) || to == KP_UNDEFINED)
        return kp_op_fail(ctx, KP_EINVAL, "'to' = %lld is not a tensor element type",
                          (long long)to);
    kp_dtype dt = (kp_dtype)to;
    if (kp_f8_is(x->dtype) || kp_f8_is(dt)) return cast_f8(ctx, x, dt);
    kp_elem_kind ki = kp_elem_kind_of(x->dtype), ko = kp_elem_kind_of(dt);
    if ((ki == KP_EK_NONE && x->dtype != KP_STRING) || (ko == KP_EK_NONE && dt != KP_STRING))
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "cast from %s to %s is not supported",
                          kp_dtype_name(x->dtype), kp_dtype_name(dt));
    OUT_OR_FAIL(o, ctx, 0, dt, x->rank, x->dims);
    int64_t n = x->numel;
    if (n == 0) return 0;
    if (x->dtype == KP_STRING || dt == KP_STRING) return cast_strings(ctx, x, o);
    if (x->dtype == dt) return kp_args_copy(ctx, o, x);
    if (x->dtype == KP_FLOAT && dt == KP_FLOAT16) {
        const float *in = x->data;
        uint16_t *out = o->data;
        for (int64_t i = 0; i < n; i++) out[i] = kp_f32_to_f16(in[i]);
    } else if (x->dtype == KP_FLOAT16 && dt == KP_FLOAT) {
        const uint16_t *in = x->data;
        float *out = o->data;
        for (int64_t i = 0; i < n; i++) out[i] = kp_f16_to_f32(in[i]);
    } else if (dt == KP_BFLOAT16 && ctx->opset < 19) {
        /* Before opset 19 the spec left the rounding open and ONNX's own tests (and older
         * runtimes) truncate float32 to its upper 16 bits; from 19 it is round-to-nearest-even
         * (kp_elem_setd). */
        uint16_t *out = o->data;
        for (int64_t i = 0; i < n; i++) {
            float f = (float)kp_elem_getd(x->data, x->dtype, i);
            uint32_t u;
            memcpy(&u, &f, 4);
            out[i] = isnan(f) ? 0x7fc0 : (uint16_t)(u >> 16);
        }
    } else if (cast_fast(x, o)) {
        /* done: a common pair in a plain loop */
    } else if (ko == KP_EK_FLOAT || ki == KP_EK_FLOAT) {
        for (int64_t i = 0; i < n; i++)
            kp_elem_setd(o->data, dt, i, kp_elem_getd(x->data, x->dtype, i));
    } else if (ki == KP_EK_UINT) {
        for (int64_t i = 0; i < n; i++)
            kp_elem_setu(o->data, dt, i, kp_elem_getu(x->data, x->dtype, i));
    } else {
        for (int64_t i = 0; i < n; i++)
            kp_elem_seti(o->data, dt, i, kp_elem_geti(x->data, x->dtype, i));
    }
    return 0;
}

static int run_cast(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x) return kp_op_fail(ctx, KP_EINVAL, "input is missing");
    if (!kp_node_attr(ctx->node, "to"))
        return kp_op_fail(ctx, KP_EINVAL, "attribute 'to' is required");
    return cast_to(ctx, x, kp_node_attr_int(ctx->node, "to", 0));
}

static int run_castlike(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0), *like = kp_op_input(ctx, 1);
    if (!x || !like) return kp_op_fail(ctx, KP_EINVAL, "needs input and target_type");
    return cast_to(ctx, x, like->dtype);
}

/* ---- Constant -------------------------------------------------------------------------- */

static int run_constant(kp_op_ctx *ctx) {
    const kp_node *n = ctx->node;
    const kp_attr *a;
    if ((a = kp_node_attr(n, "value")) && a->t) {
        const kp_tensor *t = a->t;
        OUT_OR_FAIL(o, ctx, 0, t->dtype, t->rank, t->dims);
        return kp_args_copy(ctx, o, t);
    }
    if ((a = kp_node_attr(n, "value_float"))) {
        OUT_OR_FAIL(o, ctx, 0, KP_FLOAT, 0, NULL);
        *(float *)o->data = a->f;
        return 0;
    }
    if ((a = kp_node_attr(n, "value_int"))) {
        OUT_OR_FAIL(o, ctx, 0, KP_INT64, 0, NULL);
        *(int64_t *)o->data = a->i;
        return 0;
    }
    if ((a = kp_node_attr(n, "value_floats"))) {
        int64_t d = (int64_t)a->n;
        OUT_OR_FAIL(o, ctx, 0, KP_FLOAT, 1, &d);
        if (a->n) memcpy(o->data, a->floats, a->n * sizeof(float));
        return 0;
    }
    if ((a = kp_node_attr(n, "value_ints"))) {
        int64_t d = (int64_t)a->n;
        OUT_OR_FAIL(o, ctx, 0, KP_INT64, 1, &d);
        if (a->n) memcpy(o->data, a->ints, a->n * sizeof(int64_t));
        return 0;
    }
    if ((a = kp_node_attr(n, "value_string"))) {
        OUT_OR_FAIL(o, ctx, 0, KP_STRING, 0, NULL);
        return set_string(ctx, o, 0, (const char *)a->s.data, a->s.len);
    }
    if ((a = kp_node_attr(n, "value_strings"))) {
        int64_t d = (int64_t)a->n;
        OUT_OR_FAIL(o, ctx, 0, KP_STRING, 1, &d);
        for (size_t i = 0; i < a->n; i++) {
            int rc =
                set_string(ctx, o, (int64_t)i, (const char *)a->strings[i].data, a->strings[i].len);
            if (rc) return rc;
        }
        return 0;
    }
    if (kp_node_attr(n, "sparse_value"))
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "sparse_value constants are not supported");
    return kp_op_fail(ctx, KP_EINVAL, "has no value attribute");
}

static int run_constant_of_shape(kp_op_ctx *ctx) {
    int64_t d[KP_MAX_RANK];
    size_t n;
    int rc = kp_args_ints(ctx, kp_op_input(ctx, 0), "input", d, KP_MAX_RANK, &n);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++)
        if (d[i] < 0) return kp_op_fail(ctx, KP_EINVAL, "shape[%zu] is negative", i);
    const kp_attr *a = kp_node_attr(ctx->node, "value");
    const kp_tensor *v = a ? a->t : NULL;
    if (v && v->numel != 1)
        return kp_op_fail(ctx, KP_EINVAL, "value must hold one element, has %lld",
                          (long long)v->numel);
    kp_dtype dt = v ? v->dtype : KP_FLOAT;
    size_t es = kp_dtype_size(dt);
    if (!es) return kp_op_fail(ctx, KP_EUNSUPPORTED, "value dtype %s", kp_dtype_name(dt));
    OUT_OR_FAIL(o, ctx, 0, dt, (int)n, d);
    if (!v || o->numel == 0) {
        if (o->nbytes) memset(o->data, 0, o->nbytes);
        return 0;
    }
    uint8_t *p = o->data;
    for (int64_t i = 0; i < o->numel; i++) memcpy(p + (size_t)i * es, v->data, es);
    return 0;
}

/* ---- Range ----------------------------------------------------------------------------- */

static int run_range(kp_op_ctx *ctx) {
    const kp_tensor *s = kp_op_input(ctx, 0), *l = kp_op_input(ctx, 1), *d = kp_op_input(ctx, 2);
    if (!s || !l || !d) return kp_op_fail(ctx, KP_EINVAL, "needs start, limit and delta");
    if (s->dtype != l->dtype || s->dtype != d->dtype)
        return kp_op_fail(ctx, KP_EINVAL, "start, limit and delta dtypes differ");
    kp_elem_kind k = kp_elem_kind_of(s->dtype);
    if (k != KP_EK_FLOAT && k != KP_EK_INT)
        return kp_op_fail(ctx, KP_EUNSUPPORTED, "dtype %s", kp_dtype_name(s->dtype));
    int64_t n;
    int rc;
    if (k == KP_EK_FLOAT) {
        double a, b, c;
        if ((rc = kp_args_scalar_d(ctx, s, "start", &a)) ||
            (rc = kp_args_scalar_d(ctx, l, "limit", &b)) ||
            (rc = kp_args_scalar_d(ctx, d, "delta", &c)))
            return rc;
        if (c == 0 || !isfinite(a) || !isfinite(b) || !isfinite(c))
            return kp_op_fail(ctx, KP_EINVAL, "delta must be non-zero and bounds finite");
        double cnt = ceil((b - a) / c);
        if (cnt > (double)KP_MAX_NUMEL) return kp_op_fail(ctx, KP_ERANGE, "range too long");
        n = cnt > 0 ? (int64_t)cnt : 0;
        OUT_OR_FAIL(o, ctx, 0, s->dtype, 1, &n);
        for (int64_t i = 0; i < n; i++) kp_elem_setd(o->data, s->dtype, i, a + (double)i * c);
        return 0;
    }
    int64_t a, b, c;
    if ((rc = kp_args_scalar_i(ctx, s, "start", &a)) ||
        (rc = kp_args_scalar_i(ctx, l, "limit", &b)) ||
        (rc = kp_args_scalar_i(ctx, d, "delta", &c)))
        return rc;
    if (c == 0) return kp_op_fail(ctx, KP_EINVAL, "delta must be non-zero");
    double cnt = ceil(((double)b - (double)a) / (double)c);
    if (cnt > (double)KP_MAX_NUMEL) return kp_op_fail(ctx, KP_ERANGE, "range too long");
    n = cnt > 0 ? (int64_t)cnt : 0;
    OUT_OR_FAIL(o, ctx, 0, s->dtype, 1, &n);
    for (int64_t i = 0; i < n; i++) kp_elem_seti(o->data, s->dtype, i, a + i * c);
    return 0;
}

/* ---- Dropout --------------------------------------------------------------------------- */

static int run_dropout(kp_op_ctx *ctx) {
    const kp_tensor *x = kp_op_input(ctx, 0);
    if (!x) return kp_op_fail(ctx, KP_EINVAL, "input is missing");
    double ratio = 0.5;
    int64_t training = 0;
    int rc;
    if (ctx->opset >= 12) {
        if (kp_op_input(ctx, 1) &&
            (rc = kp_args_scalar_d(ctx, kp_op_input(ctx, 1), "ratio", &ratio)))
            return rc;
        if (kp_op_input(ctx, 2) &&
            (rc = kp_args_scalar_i(ctx, kp_op_input(ctx, 2), "training_mode", &training)))
            return rc;
    } else {
        ratio = kp_node_attr_float(ctx->node, "ratio", 0.5f);
        training = ctx->opset < 7 && !kp_node_attr_int(ctx->node, "is_test", 0);
    }
    if (training && ratio > 0)
        return kp_op_fail(ctx, KP_EUNSUPPORTED,
                          "training-mode dropout (ratio %g) is random and "
                          "not supported by an inference engine",
                          ratio);
    OUT_OR_FAIL(o, ctx, 0, x->dtype, x->rank, x->dims);
    if ((rc = kp_args_copy(ctx, o, x))) return rc;
    if (ctx->n_out > 1 && kp_op_wants(ctx, 1)) {
        /* mask: bool from opset 10, the input's type before */
        kp_dtype mdt = ctx->opset >= 10 ? KP_BOOL : x->dtype;
        kp_tensor *m = kp_op_output(ctx, 1, mdt, x->rank, x->dims);
        if (!m) return ctx->err->code ? ctx->err->code : KP_ENOMEM;
        for (int64_t i = 0; i < m->numel; i++) kp_elem_seti(m->data, mdt, i, 1);
    }
    return 0;
}

const kp_op_def kp_ops_misc[] = {
    {"", "Cast", run_cast},
    {"", "CastLike", run_castlike},
    {"", "Constant", run_constant},
    {"", "ConstantOfShape", run_constant_of_shape},
    {"", "BlackmanWindow", kp_op_blackman_window},
    {"", "DFT", kp_op_dft},
    {"", "Det", kp_op_det},
    {"", "Dropout", run_dropout},
    {"", "Einsum", kp_op_einsum},
    {"", "GridSample", kp_op_grid_sample},
    {"", "HammingWindow", kp_op_hamming_window},
    {"", "HannWindow", kp_op_hann_window},
    {"", "MaxUnpool", kp_op_max_unpool},
    {"", "MelWeightMatrix", kp_op_mel_weight_matrix},
    {"", "NonMaxSuppression", kp_op_nms},
    {"", "Range", run_range},
    {"", "RoiAlign", kp_op_roi_align},
    {"", "STFT", kp_op_stft},
    {"", "StringNormalizer", kp_op_string_normalizer},
    {"", "TfIdfVectorizer", kp_op_tfidf},
    {"", "Unique", kp_op_unique},
    {"ai.onnx.preview.training", "Adagrad", kp_op_adagrad},
    {"ai.onnx.preview.training", "Adam", kp_op_adam},
    {"ai.onnx.preview.training", "Momentum", kp_op_momentum},
    {0},
};
