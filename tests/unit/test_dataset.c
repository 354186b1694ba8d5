/* core/dataset: every loader with good and malformed inputs, preprocessing, batching, labels,
 * calibration subsets. Fixtures are written into a temp folder by the test itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>

#include "core/dataset.h"
#include "core/onnx_io.h"

static char tmpdir[256];

static const char *tpath(const char *name) {
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

/* .npy v1 into buf (returns length). */
static size_t npy_bytes(uint8_t *buf, const char *descr, const char *shape, const void *data,
                        size_t nbytes) {
    char h[256];
    int len = snprintf(h, sizeof h, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr,
                       shape);
    int total = 10 + len + 1;
    int pad = (64 - total % 64) % 64;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    uint16_t hl = (uint16_t)(len + pad + 1);
    buf[8] = (uint8_t)(hl & 0xff);
    buf[9] = (uint8_t)(hl >> 8);
    memcpy(buf + 10, h, (size_t)len);
    memset(buf + 10 + len, ' ', (size_t)pad);
    buf[10 + len + pad] = '\n';
    memcpy(buf + 10 + hl, data, nbytes);
    return 10 + hl + nbytes;
}

static void write_npy(const char *path, const char *descr, const char *shape, const void *data,
                      size_t nbytes) {
    uint8_t *buf = malloc(nbytes + 512);
    size_t n = npy_bytes(buf, descr, shape, data, nbytes);
    write_bytes(path, buf, n);
    free(buf);
}

/* A zip with the given entries (deflate != 0: raw deflate). */
static void put16(uint8_t **p, uint16_t v) {
    (*p)[0] = (uint8_t)v;
    (*p)[1] = (uint8_t)(v >> 8);
    *p += 2;
}
static void put32(uint8_t **p, uint32_t v) {
    put16(p, (uint16_t)v);
    put16(p, (uint16_t)(v >> 16));
}

static size_t write_zip(const char *path, size_t n, const char *const *names,
                        const uint8_t *const *data, const size_t *lens, int use_deflate) {
    uint8_t *out = malloc(1 << 20), *p = out;
    uint8_t cd[4096], *c = cd;
    for (size_t i = 0; i < n; i++) {
        uint32_t crc = (uint32_t)crc32(0, data[i], (uInt)lens[i]);
        uint8_t *comp = malloc(lens[i] * 2 + 64);
        size_t clen = lens[i];
        if (use_deflate) {
            z_stream z;
            memset(&z, 0, sizeof z);
            assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
            z.next_in = (Bytef *)data[i];
            z.avail_in = (uInt)lens[i];
            z.next_out = comp;
            z.avail_out = (uInt)(lens[i] * 2 + 64);
            assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
            clen = z.total_out;
            deflateEnd(&z);
        } else {
            memcpy(comp, data[i], lens[i]);
        }
        uint32_t off = (uint32_t)(p - out);
        size_t nl = strlen(names[i]);
        put32(&p, 0x04034b50);
        put16(&p, 20);
        put16(&p, 0);
        put16(&p, use_deflate ? 8 : 0);
        put32(&p, 0);
        put32(&p, crc);
        put32(&p, (uint32_t)clen);
        put32(&p, (uint32_t)lens[i]);
        put16(&p, (uint16_t)nl);
        put16(&p, 0);
        memcpy(p, names[i], nl);
        p += nl;
        memcpy(p, comp, clen);
        p += clen;
        put32(&c, 0x02014b50);
        put16(&c, 20);
        put16(&c, 20);
        put16(&c, 0);
        put16(&c, use_deflate ? 8 : 0);
        put32(&c, 0);
        put32(&c, crc);
        put32(&c, (uint32_t)clen);
        put32(&c, (uint32_t)lens[i]);
        put16(&c, (uint16_t)nl);
        put16(&c, 0);
        put16(&c, 0);
        put16(&c, 0);
        put16(&c, 0);
        put32(&c, 0);
        put32(&c, off);
        memcpy(c, names[i], nl);
        c += nl;
        free(comp);
    }
    uint32_t cdoff = (uint32_t)(p - out), cdlen = (uint32_t)(c - cd);
    memcpy(p, cd, cdlen);
    p += cdlen;
    put32(&p, 0x06054b50);
    put16(&p, 0);
    put16(&p, 0);
    put16(&p, (uint16_t)n);
    put16(&p, (uint16_t)n);
    put32(&p, cdlen);
    put32(&p, cdoff);
    put16(&p, 0);
    size_t total = (size_t)(p - out);
    write_bytes(path, out, total);
    free(out);
    return total;
}

/* A model with one input of the given dtype and dims (-1 = symbolic). */
static kp_model *model_with_input(kp_dtype dt, int rank, const int64_t *dims) {
    kp_model *m = kp_model_new();
    kp_graph *g = m->graph;
    g->inputs = calloc(1, sizeof *g->inputs);
    g->n_inputs = 1;
    kp_value_info *vi = &g->inputs[0];
    vi->name = strdup("x");
    vi->type.kind = KP_TYPE_TENSOR;
    vi->type.elem = dt;
    vi->type.rank = rank;
    vi->type.dims = calloc((size_t)rank, sizeof *vi->type.dims);
    for (int i = 0; i < rank; i++) {
        vi->type.dims[i].value = dims[i];
        if (dims[i] < 0) vi->type.dims[i].param = strdup("N");
    }
    return m;
}

static kp_dataset *open_ok(const char *path, const kp_dataset_opts *o) {
    kp_error e;
    kp_dataset *ds = NULL;
    int rc = kp_dataset_open(path, o, &ds, &e);
    if (rc) fail_msg("open %s: %s", path, e.msg);
    return ds;
}

static void expect_open_error(const char *path, const kp_dataset_opts *o, const char *needle) {
    kp_error e;
    kp_dataset *ds = NULL;
    int rc = kp_dataset_open(path, o, &ds, &e);
    assert_true(rc < 0);
    assert_null(ds);
    if (!strstr(e.msg, needle)) fail_msg("expected '%s' in: %s", needle, e.msg);
}

static const int64_t nchw_1x2x2[] = {-1, 1, 2, 2};

static void npy_float_batches(void **state) {
    (void)state;
    float x[5 * 4];
    for (int i = 0; i < 20; i++) x[i] = (float)i * 0.5f;
    int64_t y[5] = {3, 1, 4, 1, 5};
    write_npy(tpath("x.npy"), "<f4", "(5, 1, 2, 2)", x, sizeof x);
    write_npy(tpath("y.npy"), "<i8", "(5,)", y, sizeof y);
    kp_dataset_opts o;
    kp_dataset_opts_init(&o);
    o.labels = tpath("y.npy");
    o.batch = 2;
    kp_dataset *ds = open_ok(tpath("x.npy"), &o);
    assert_int_equal(kp_dataset_n_samples(ds), 5);
    assert_true(kp_dataset_has_labels(ds));
    assert_int_equal(kp_dataset_format(ds), KP_DATA_NPY);
    kp_model *m = model_with_input(KP_FLOAT, 4, nchw_1x2x2);
    kp_error e;
    assert_int_equal(kp_dataset_bind(ds, m, &e), 0);
    assert_int_equal(kp_dataset_n_batches(ds), 3);
    kp_batch b;
    /* Out of order on purpose: batches are random access. */
    assert_int_equal(kp_dataset_batch(ds, 2, &b, &e), 0);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.inputs[0]->dims[0], 1);
    assert_true(((const float *)b.inputs[0]->data)[0] == 8.0f);
    assert_int_equal(b.labels[0], 5);
    assert_int_equal(kp_dataset_batch(ds, 0, &b, &e), 0);
    assert_int_equal(b.n, 2);
    assert_int_equal(b.inputs[0]->rank, 4);
    assert_int_equal(b.inputs[0]->dims[0], 2);
    assert_true(((const float *)b.inputs[0]->data)[7] == 3.5f);
    assert_int_equal(b.labels[1], 1);
    assert_int_equal(kp_dataset_batch(ds, 3, &b, &e), KP_ERANGE);
    kp_dataset_free(ds);

    o.limit = 3;
    ds = open_ok(tpath("x.npy"), &o);
    assert_int_equal(kp_dataset_n_samples(ds), 3);
    kp_dataset_free(ds);
    kp_model_free(m);
}

static void npy_uint8_preprocessing(void **state) {
    (void)state;
    uint8_t x[2 * 4] = {0, 51, 102, 255, 255, 0, 0, 0};
    write_npy(tpath("u8.npy"), "|u1", "(2, 2, 2)", x, sizeof x);
    kp_dataset_opts o;
    kp_dataset_opts_init(&o);
    o.pre.scale = 1.0 / 255.0;
    o.pre.n_mean = o.pre.n_std = 1;
    o.pre.mean[0] = 0.5f;
    o.pre.std[0] = 0.25f;
    kp_dataset *ds = open_ok(tpath("u8.npy"), &o);
    kp_model *m = model_with_input(KP_FLOAT, 4, nchw_1x2x2);
    kp_error e;
    assert_int_equal(kp_dataset_bind(ds, m, &e), 0);
    kp_batch b;
    assert_int_equal(kp_dataset_batch(ds, 0, &b, &e), 0);
    const float *v = b.inputs[0]->data;
    assert_float_equal(v[0], -2.0, 1e-6);
    assert_float_equal(v[1], (0.2 - 0.5) / 0.25, 1e-6);
    assert_float_equal(v[3], 2.0, 1e-6);
    assert_null(b.labels);
    kp_dataset_free(ds);
    kp_model_free(m);
}

static void nhwc_transpose_and_channels(void **state) {
    (void)state;
    /* One 2x2 image with 3 channels, HWC: value = 10*c + (h*2+w). */
    float x[12];
    for (int h = 0; h < 2; h++)
        for (int w = 0; w < 2; w++)
            for (int c = 0; c < 3; c++) x[(h * 2 + w) * 3 + c] = (float)(10 * c + h * 2 + w);
    write_npy(tpath("hwc.npy"), "<f4", "(1, 2, 2, 3)", x, sizeof x);
    kp_dataset_opts o;
    kp_dataset_opts_init(&o);
    o.pre.layout = KP_LAYOUT_NHWC;
    o.pre.n_mean = 3;
    o.pre.mean[0] = 0;
    o.pre.mean[1] = 10;
    o.pre.mean[2] = 20;
    kp_dataset *ds = open_ok(tpath("hwc.npy"), &o);
    const int64_t d[] = {-1, 3, 2, 2};
    kp_model *m = model_with_input(KP_FLOAT, 4, d);
    kp_error e;
    assert_int_equal(kp_dataset_bind(ds, m, &e), 0);
    kp_batch b;
    assert_int_equal(kp_dataset_batch(ds, 0, &b, &e), 0);
    const float *v = b.inputs[0]->data;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 4; i++) assert_true(v[c * 4 + i] == (float)i);
    kp_dataset_free(ds);

    /* mean with 2 values for 3 channels is refused at bind. */
    o.pre.n_mean = 2;
    ds = open_ok(tpath("hwc.npy"), &o);
    assert_int_equal(kp_dataset_bind(ds, m, &e), KP_EINVAL);
    assert_non_null(strstr(e.msg, "3 channels"));
    kp_dataset_free(ds);
    kp_model_free(m);
}

static void npy_malformed(void **state) {
    (void)state;
    float x[8] = {0};
    uint8_t buf[1024];
    size_t n = npy_bytes(buf, "<f4", "(2, 1, 2, 2)", x, sizeof x);
    write_bytes(tpath("trunc.npy"), buf, n - 5);
    kp_dataset_opts o;
    kp_dataset_opts_init(&o);
    expect_open_error(tpath("trunc.npy"), &o, "truncated");
    write_bytes(tpath("magic.npy"), "hello world, not numpy", 22);
    expect_open_error(tpath("magic.npy"), &o, "not a .npy");
    write_npy(tpath("be.npy"), ">f4", "(2, 4)", x, sizeof x);
    expect_open_error(tpath("be.npy"), &o, "not supported");
    n = npy_bytes(buf, "<f4", "(2, 4)", x, sizeof x);
    char *fo = strstr((char *)buf + 10, "False");
    memcpy(fo, "True ", 5);
    write_bytes(tpath("fortran.npy"), buf, n);
    expect_open_error(tpath("fortran.npy"), &o, "Fortran");
    n = npy_bytes(buf, "<f4", "(2, x)", x, sizeof x);
    write_bytes(tpath("shape.npy"), buf, n);
    expect_open_error(tpath("shape.npy"), &o, "bad shape");
    write_bytes(tpath("short.npy"), "\x93NUMPY\x01", 7);
    expect_open_error(tpath("short.npy"), &o, "not a .npy");
    expect_open_error(tpath("missing.npy"), &o, "missing.npy");
}

static void shape_dtype_and_label_errors(void **state) {
    (void)state;
    float x[15] = {0};
    write_npy(tpath("x53.npy"), "<f4", "(5, 3)", x, sizeof x);
    kp_dataset_opts o;
    kp_dataset_opts_init(&o);
    kp_dataset *ds = open_ok(tpath("x53.npy"), &o);
    kp_model *m = model_with_input(KP_FLOAT, 4, nchw_1x2x2);
    kp_error e;
    assert_int_equal(kp_dataset_bind(ds, m, &e), KP_EINVAL);
    assert_non_null(strstr(e.msg, "wrong shape"));
    assert_non_null(strstr(e.msg, "'x'"));
    kp_dataset_free(ds);
    kp_model_free(m);

    const int64_t d2[] = {-1, 3};
    m = model_with_input(KP_INT64, 2, d2);
    ds = open_ok(tpath("x53.npy"), &o);
    assert_int_equal(kp_dataset_bind(ds, m, &e), KP_EINVAL);
    assert_non_null(strstr(e.msg, "wrong dtype"));
    kp_dataset_free(ds);
    kp_model_free(m);

    int64_t y4[4] = {0, 1, 2, 3};
    write_npy(tpath("y4.npy"), "<i8", "(4,)", y4, sizeof y4);
    o.labels = tpath("y4.npy");
    expect_open_error(tpath("x53.npy"), &o, "has 5 samples but");

    float yf[5] = {0, 1, 2.5f, 3, 4};
    write_npy(tpath("yf.npy"), "<f4", "(5,)", yf, sizeof yf);
    o.labels = tpath("yf.npy");
    ds = open_ok(tpath("x53.npy"), &o);
    m = model_with_input(KP_FLOAT, 2, d2);
    assert_int_equal(kp_dataset_bind(ds, m, &e), 0);
    kp_batch b;
    assert_int_equal(kp_dataset_batch(ds, 0, &b, &e), KP_EFORMAT);
    assert_non_null(strstr(e.msg, "not a class index"));
    kp_dataset_free(ds);

    /* One-hot labels: the arg max is the class. */
    float oh[5 * 3] = {0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0};
    write_npy(tpath("oh.npy"), "<f4", "(5, 3)", oh, sizeof oh);
    o.labels = tpath("oh.npy");
    ds = open_ok(tpath("x53.npy"), &o);
    assert_int_equal(kp_dataset_bind(ds, m, &e), 0);
    assert_int_equal(kp_dataset_batch(ds, 0, &b, &e), 0);
    assert_int_equal(b.labels[0], 2);
    assert_int_equal(b.labels[2], 1);
    assert_int_equal(b.labels[4], 0);
    kp_dataset_free(ds);
    kp_model_free(m);

    /* Fixed batch dimension: batches padded to it, n tells the real count. */
    const int64_t d3[] = {2, 3};
    m = model_with_input(KP_FLOAT, 2, d3);
    o.labels = NULL;
    o.batch = 64;
    ds = open_ok(tpath("x53.npy"), &o);
    assert_int_equal(kp_dataset_bind(ds, m, &e), 0);
    assert_int_equal(kp_dataset_n_batches(ds), 3);
    assert_int_equal(kp_dataset_batch(ds, 2, &b, &e), 0);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.inputs[0]->dims[0], 2);
    kp_dataset_free(ds);
    kp_model_free(m);
}

static void npz_stored_and_deflated(void **state) {
    (void)state;
    float x[6 * 4];
    for (int i = 0; i < 24; i++) x[i] = (float)i;
    int64_t y[6] = {0, 1, 2, 3, 4, 5};
    uint8_t xb[1024], yb[512];
    size_t xl = npy_bytes(xb, "<f4", "(6, 1, 2, 2)", x, sizeof x);
    size_t yl = npy_bytes(yb, "<i8", "(6,)", y, sizeof y);
    const char *names[] = {"x.npy", "labels.npy"};
    const uint8_t *data[] = {xb, yb};
    const size_t lens[] = {xl, yl};
    kp_model *m = model_with_input(KP_FLOAT, 4, nchw_1x2x2);
    for (int defl = 0; defl < 2; defl++) {
        const char *p = tpath(defl ? "d.npz" : "s.npz");
        size_t total = write_zip(p, 2, names, data, lens, defl);
        kp_dataset_opts o;
        kp_dataset_opts_init(&o);
        o.batch = 4;
        kp_dataset *ds = open_ok(p, &o);
        assert_true(kp_dataset_has_labels(ds));
        kp_error e;
        assert_int_equal(kp_dataset_bind(ds, m, &e), 0);
        kp_batch b;
        assert_int_equal(kp_dataset_batch(ds, 1, &b, &e), 0);
        assert_int_equal(b.n, 2);
        assert_true(((const float *)b.inputs[0]->data)[0] == 16.0f);
        assert_int_equal(b.labels[1], 5);
        assert_int_equal(kp_dataset_batch(ds, 0, &b, &e), 0); /* backwards: re-inflates */
        assert_true(((const float *)b.inputs[0]->data)[5] == 5.0f);
        assert_int_equal(b.labels[3], 3);
        kp_dataset_free(ds);

        o.npz_key = "nope";
        expect_open_error(p, &o, "no entry 'nope'");
        o.npz_key = NULL;
        /* Truncated archive: the end record is gone. */
        FILE *f = fopen(p, "rb");
        uint8_t *all = malloc(total);
        assert_int_equal(fread(all, 1, total, f), total);
        fclose(f);
        write_bytes(tpath("cut.npz"), all, total - 30);
        expect_open_error(tpath("cut.npz"), &o, "not a valid .npz");
        /* Corrupt the stored x array's data length: cut inside the entry's data. */
        free(all);
    }
    kp_model_free(m);
}

static void write_idx_gz(const char *path, int nd, const uint32_t *dims, const uint8_t *data,
                         size_t n, size_t cut) {
    gzFile g = gzopen(path, "wb");
    assert_non_null(g);
    uint8_t h[4 + 4 * 4] = {0, 0, 0x08, (uint8_t)nd};
    for (int i = 0; i < nd; i++) {
        h[4 + 4 * i] = (uint8_t)(dims[i] >> 24);
        h[5 + 4 * i] = (uint8_t)(dims[i] >> 16);
        h[6 + 4 * i] = (uint8_t)(dims[i] >> 8);
        h[7 + 4 * i] = (uint8_t)dims[i];
    }
    gzwrite(g, h, (unsigned)(4 + 4 * nd));
    gzwrite(g, data, (unsigned)(n - cut));
    gzclose(g);
}

static void idx_gzip(void **state) {
    (void)state;
    uint8_t img[3 * 4] = {0, 255, 0, 255, 1, 2, 3, 4, 9, 9, 9, 9};
    uint8_t lab[3] = {7, 8, 9};
    const uint32_t di[] = {3, 2, 2}, dl[] = {3};
    write_idx_gz(tpath("img.gz"), 3, di, img, sizeof img, 0);
    write_idx_gz(tpath("lab.gz"), 1, dl, lab, sizeof lab, 0);
    kp_dataset_opts o;
    kp_dataset_opts_init(&o);
    o.labels = tpath("lab.gz");
    o.pre.scale = 1.0 / 255.0;
    kp_dataset *ds = open_ok(tpath("img.gz"), &o);
    assert_int_equal(kp_dataset_format(ds), KP_DATA_IDX);
    char shape[64];
    assert_string_equal(kp_dataset_sample_shape(ds, shape, sizeof shape), "2x2");
    kp_model *m = model_with_input(KP_FLOAT, 4, nchw_1x2x2);
    kp_error e;
    assert_int_equal(kp_dataset_bind(ds, m, &e), 0);
    kp_batch b;
    assert_int_equal(kp_dataset_batch(ds, 0, &b, &e), 0);
    assert_int_equal(b.n, 3);
    assert_true(((const float *)b.inputs[0]->data)[1] == 1.0f);
    assert_int_equal(b.labels[2], 9);
    kp_dataset_free(ds);
    kp_model_free(m);

    write_idx_gz(tpath("imgcut.gz"), 3, di, img, sizeof img, 3);
    o.labels = NULL;
    expect_open_error(tpath("imgcut.gz"), &o, "truncated");
    /* A gzip file cut mid-stream. */
    FILE *f = fopen(tpath("img.gz"), "rb");
    uint8_t buf[256];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    write_bytes(tpath("half.gz"), buf, n / 2);
    expect_open_error(tpath("half.gz"), &o, "half.gz");
    write_bytes(tpath("bad.idx"), "\x01\x02\x08\x01", 4);
    expect_open_error(tpath("bad.idx"), &o, "not an IDX");
    const uint32_t dl4[] = {4};
    uint8_t lab4[4] = {0};
    write_idx_gz(tpath("lab4.gz"), 1, dl4, lab4, 4, 0);
    o.labels = tpath("lab4.gz");
    expect_open_error(tpath("img.gz"), &o, "has 3 samples but");
}

static void csv_loader(void **state) {
    (void)state;
    const char *good = "a,b,c,d,label\n0,1,2,3,1\n4,5,6,7,0\n\n8,9,10,11,2\n";
    write_bytes(tpath("g.csv"), good, strlen(good));
    kp_dataset_opts o;
    kp_dataset_opts_init(&o);
    kp_dataset *ds = open_ok(tpath("g.csv"), &o);
    assert_int_equal(kp_dataset_n_samples(ds), 3);
    assert_true(kp_dataset_has_labels(ds));
    const int64_t d[] = {-1, 4};
    kp_model *m = model_with_input(KP_FLOAT, 2, d);
    kp_error e;
    assert_int_equal(kp_dataset_bind(ds, m, &e), 0);
    kp_batch b;
    assert_int_equal(kp_dataset_batch(ds, 0, &b, &e), 0);
    assert_true(((const float *)b.inputs[0]->data)[11] == 11.0f);
    assert_int_equal(b.labels[0], 1);
    assert_int_equal(b.labels[2], 2);
    kp_dataset_free(ds);

    /* A UTF-8 byte-order mark (spreadsheet exports) before the header or the first row. */
    const char *bom = "\xEF\xBB\xBFlabel,a,b,c,d\n1,0,1,2,3\n";
    write_bytes(tpath("bom.csv"), bom, strlen(bom));
    ds = open_ok(tpath("bom.csv"), &o);
    assert_true(kp_dataset_has_labels(ds));
    kp_dataset_free(ds);
    const char *bom2 = "\xEF\xBB\xBF"
                       "1,0,1,2\n";
    write_bytes(tpath("bom2.csv"), bom2, strlen(bom2));
    ds = open_ok(tpath("bom2.csv"), &o);
    assert_int_equal(kp_dataset_bind(ds, m, &e), 0);
    assert_int_equal(kp_dataset_batch(ds, 0, &b, &e), 0);
    assert_true(((const float *)b.inputs[0]->data)[0] == 1.0f);
    kp_dataset_free(ds);

    /* Label column by index, no header, CRLF line ends. */
    const char *nh = "1,0,1,2,3\r\n0,4,5,6,7\r\n";
    write_bytes(tpath("nh.csv"), nh, strlen(nh));
    o.label_column = "0";
    ds = open_ok(tpath("nh.csv"), &o);
    assert_int_equal(kp_dataset_bind(ds, m, &e), 0);
    assert_int_equal(kp_dataset_batch(ds, 0, &b, &e), 0);
    assert_true(((const float *)b.inputs[0]->data)[4] == 4.0f);
    assert_int_equal(b.labels[0], 1);
    kp_dataset_free(ds);
    o.label_column = NULL;

    const char *stray = "a,b,c,d,label\n0,1,2,3,1\n4,oops,6,7,0\n";
    write_bytes(tpath("stray.csv"), stray, strlen(stray));
    expect_open_error(tpath("stray.csv"), &o, "row 3, column 2 (b): 'oops' is not a number");
    const char *ragged = "0,1,2\n3,4\n";
    write_bytes(tpath("ragged.csv"), ragged, strlen(ragged));
    expect_open_error(tpath("ragged.csv"), &o, "row 2 has 2 columns, expected 3");
    const char *first = "0,x,2\n3,4,5\n";
    write_bytes(tpath("first.csv"), first, strlen(first));
    expect_open_error(tpath("first.csv"), &o, "row 1, column 2: 'x' is not a number");
    o.label_column = "species";
    expect_open_error(tpath("g.csv"), &o, "no column named 'species'");
    o.label_column = NULL;
    write_bytes(tpath("empty.csv"), "a,b\n", 4);
    expect_open_error(tpath("empty.csv"), &o, "no data rows");

    /* Labels from a text file, one per line. */
    const char *feat = "0,1,2,3\n4,5,6,7\n";
    write_bytes(tpath("f.csv"), feat, strlen(feat));
    write_bytes(tpath("l.txt"), "2\n1\n", 4);
    o.labels = tpath("l.txt");
    ds = open_ok(tpath("f.csv"), &o);
    assert_int_equal(kp_dataset_bind(ds, m, &e), 0);
    assert_int_equal(kp_dataset_batch(ds, 0, &b, &e), 0);
    assert_int_equal(b.labels[1], 1);
    kp_dataset_free(ds);
    write_bytes(tpath("l3.txt"), "2\n1\n0\n", 6);
    o.labels = tpath("l3.txt");
    expect_open_error(tpath("f.csv"), &o, "has 2 samples but");
    kp_model_free(m);
}

static void onnx_test_folders(void **state) {
    (void)state;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/suite", tmpdir);
    mkdir(dir, 0755);
    kp_error e;
    for (int s = 0; s < 2; s++) {
        char sub[600];
        snprintf(sub, sizeof sub, "%s/test_data_set_%d", dir, s);
        mkdir(sub, 0755);
        const int64_t dims[] = {1, 1, 2, 2};
        kp_tensor *t = kp_tensor_new(KP_FLOAT, 4, dims, &e);
        for (int i = 0; i < 4; i++) ((float *)t->data)[i] = (float)(s * 10 + i);
        char f[700];
        snprintf(f, sizeof f, "%s/input_0.pb", sub);
        assert_int_equal(kp_onnx_save_tensor(t, f, &e), 0);
        snprintf(f, sizeof f, "%s/output_0.pb", sub);
        assert_int_equal(kp_onnx_save_tensor(t, f, &e), 0);
        kp_tensor_free(t);
    }
    kp_dataset_opts o;
    kp_dataset_opts_init(&o);
    kp_dataset *ds = open_ok(dir, &o);
    assert_int_equal(kp_dataset_format(ds), KP_DATA_ONNX_TEST);
    assert_int_equal(kp_dataset_n_samples(ds), 2);
    assert_true(kp_dataset_has_reference(ds));
    kp_model *m = model_with_input(KP_FLOAT, 4, nchw_1x2x2);
    assert_int_equal(kp_dataset_bind(ds, m, &e), 0);
    kp_batch b;
    assert_int_equal(kp_dataset_batch(ds, 1, &b, &e), 0);
    assert_int_equal(b.n_inputs, 1);
    assert_int_equal(b.n_refs, 1);
    assert_true(((const float *)b.inputs[0]->data)[3] == 13.0f);
    kp_dataset_free(ds);
    kp_model_free(m);
    char empty[512];
    snprintf(empty, sizeof empty, "%s/emptydir", tmpdir);
    mkdir(empty, 0755);
    expect_open_error(empty, &o, "no test_data_set_N");
}

static void calibration_subset(void **state) {
    (void)state;
    float x[10 * 4];
    for (int i = 0; i < 40; i++) x[i] = (float)(i / 4);
    write_npy(tpath("c.npy"), "<f4", "(10, 1, 2, 2)", x, sizeof x);
    kp_dataset_opts o;
    kp_dataset_opts_init(&o);
    o.batch = 2;
    kp_dataset *ds = open_ok(tpath("c.npy"), &o);
    kp_model *m = model_with_input(KP_FLOAT, 4, nchw_1x2x2);
    kp_error e;
    kp_calib *c = NULL;
    assert_int_equal(kp_dataset_calib_new(ds, 3, 0, &c, &e), KP_EINVAL); /* not bound */
    assert_int_equal(kp_dataset_bind(ds, m, &e), 0);
    assert_int_equal(kp_dataset_calib_new(ds, 3, 0, &c, &e), 0);
    assert_int_equal(c->n_samples, 3);
    assert_int_equal(c->n_batches, 2);
    const kp_tensor *const *in;
    const int64_t *lab;
    size_t bs;
    assert_int_equal(c->get(c, 1, &in, &lab, &bs, &e), 0);
    assert_int_equal(bs, 1);
    assert_true(((const float *)in[0]->data)[0] == 2.0f);
    uint64_t h_first = kp_dataset_calib_hash(c);
    kp_dataset_calib_free(c);

    kp_calib *c1 = NULL, *c2 = NULL;
    assert_int_equal(kp_dataset_calib_new(ds, 4, 42, &c1, &e), 0);
    assert_int_equal(kp_dataset_calib_new(ds, 4, 42, &c2, &e), 0);
    assert_true(kp_dataset_calib_hash(c1) == kp_dataset_calib_hash(c2));
    assert_true(kp_dataset_calib_hash(c1) != h_first);
    float seen[4];
    for (size_t b = 0; b < 2; b++) {
        assert_int_equal(c1->get(c1, b, &in, &lab, &bs, &e), 0);
        assert_int_equal(bs, 2);
        for (size_t k = 0; k < 2; k++) seen[b * 2 + k] = ((const float *)in[0]->data)[k * 4];
    }
    for (int k = 1; k < 4; k++) assert_true(seen[k] > seen[k - 1]); /* ascending, distinct */
    assert_int_equal(c1->get(c1, 2, &in, &lab, &bs, &e), KP_ERANGE);
    /* The holdout is exactly the other 6 samples, ascending. */
    kp_calib *h = NULL;
    assert_int_equal(kp_dataset_holdout_new(ds, c1, &h, &e), 0);
    assert_int_equal(h->n_samples, 6);
    assert_int_equal(h->n_batches, 3);
    float rest[6];
    for (size_t b = 0; b < 3; b++) {
        assert_int_equal(h->get(h, b, &in, &lab, &bs, &e), 0);
        for (size_t k = 0; k < bs; k++) rest[b * 2 + k] = ((const float *)in[0]->data)[k * 4];
    }
    for (int k = 0; k < 6; k++) {
        if (k) assert_true(rest[k] > rest[k - 1]);
        for (int q = 0; q < 4; q++) assert_true(rest[k] != seen[q]); /* disjoint from c1 */
    }
    kp_dataset_calib_free(h);
    kp_calib *everything = NULL;
    assert_int_equal(kp_dataset_calib_new(ds, 0, 0, &everything, &e), 0);
    assert_int_equal(kp_dataset_holdout_new(ds, everything, &h, &e), KP_ERANGE);
    assert_non_null(strstr(e.msg, "calibration"));
    kp_dataset_calib_free(everything);
    kp_dataset_calib_free(c1);
    kp_dataset_calib_free(c2);
    kp_dataset_calib_free(NULL);
    kp_dataset_free(ds);
    kp_dataset_free(NULL);
    kp_model_free(m);
}

static void options_parsing(void **state) {
    (void)state;
    float v[KP_DATA_MAX_CHANNELS];
    size_t n;
    kp_error e;
    assert_int_equal(kp_preproc_parse_list("0.5,0.25,1", v, &n, &e), 0);
    assert_int_equal(n, 3);
    assert_true(v[1] == 0.25f);
    assert_int_equal(kp_preproc_parse_list("0.5,,x", v, &n, &e), KP_EINVAL);
    assert_int_equal(kp_preproc_parse_list("", v, &n, &e), KP_EINVAL);
    kp_data_format f;
    assert_int_equal(kp_data_format_parse("onnx-test", &f), 0);
    assert_int_equal(f, KP_DATA_ONNX_TEST);
    assert_int_equal(kp_data_format_parse("onnx-pb", &f), 0);
    assert_int_equal(f, KP_DATA_ONNX_TEST);
    assert_int_equal(kp_data_format_parse("parquet", &f), KP_EINVAL);
    assert_string_equal(kp_data_format_name(KP_DATA_CSV), "csv");
    kp_dataset_opts o;
    kp_dataset_opts_init(&o);
    o.pre.scale = 0;
    expect_open_error(tpath("x.npy"), &o, "scale");
    kp_dataset_opts_init(&o);
    write_bytes(tpath("what.bin"), "xx", 2);
    expect_open_error(tpath("what.bin"), &o, "cannot tell the data format");
}

static void npy_tensor_roundtrip(void **state) {
    (void)state;
    kp_error e;
    const int64_t d[3] = {2, 3, 1};
    kp_tensor *t = kp_tensor_new(KP_INT64, 3, d, &e);
    for (int i = 0; i < 6; i++) ((int64_t *)t->data)[i] = (int64_t)i * -1000000007LL;
    assert_int_equal(kp_npy_save(t, tpath("rt.npy"), &e), 0);
    kp_tensor *u = NULL;
    assert_int_equal(kp_npy_load(tpath("rt.npy"), &u, &e), 0);
    assert_true(kp_tensor_equal(t, u));
    kp_tensor_free(u);
    kp_tensor *f16 = kp_tensor_new(KP_FLOAT16, 1, d, &e);
    assert_int_equal(kp_npy_save(f16, tpath("f16.npy"), &e), KP_EUNSUPPORTED);
    kp_tensor_free(f16);
    kp_tensor_free(t);
    assert_int_equal(kp_npy_load(tpath("nothere.npy"), &u, &e), KP_EIO);
}

static void from_project(void **state) {
    (void)state;
    float x[3 * 4] = {0};
    write_npy(tpath("p_x.npy"), "<f4", "(3, 1, 2, 2)", x, sizeof x);
    int64_t y[3] = {0, 1, 0};
    write_npy(tpath("p_y.npy"), "<i8", "(3,)", y, sizeof y);
    kp_project p;
    memset(&p, 0, sizeof p);
    p.dir = tmpdir;
    p.data.path = "p_x.npy"; /* relative: resolved against the project folder */
    p.data.labels = "p_y.npy";
    p.data.scale = 0.5;
    p.data.n_mean = 1;
    p.data.mean[0] = 0.25;
    p.data.eval_limit = 2;
    snprintf(p.data.layout, sizeof p.data.layout, "nchw");
    kp_dataset *ds = NULL;
    kp_error e;
    if (kp_dataset_open_project(&p, 0, &ds, &e)) fail_msg("%s", e.msg);
    assert_int_equal(kp_dataset_n_samples(ds), 2);
    assert_true(kp_dataset_has_labels(ds));
    kp_model *m = model_with_input(KP_FLOAT, 4, nchw_1x2x2);
    assert_int_equal(kp_dataset_bind(ds, m, &e), 0);
    kp_batch b;
    assert_int_equal(kp_dataset_batch(ds, 0, &b, &e), 0);
    assert_true(((const float *)b.inputs[0]->data)[0] == -0.25f);
    kp_dataset_free(ds);
    p.data.format = "parquet";
    assert_int_equal(kp_dataset_open_project(&p, 0, &ds, &e), KP_EINVAL);
    assert_non_null(strstr(e.msg, "parquet"));
    p.data.format = NULL;
    p.data.path = NULL;
    assert_int_equal(kp_dataset_open_project(&p, 0, &ds, &e), KP_EINVAL);
    kp_model_free(m);
}

static void npz_multi_input(void **state) {
    (void)state;
    float a[3 * 2] = {1, 2, 3, 4, 5, 6};
    int64_t b[3] = {7, 8, 9}, y[3] = {2, 1, 0};
    float other[5] = {0};
    uint8_t ab[512], bb[512], yb[512], ob[512];
    size_t al = npy_bytes(ab, "<f4", "(3, 2)", a, sizeof a);
    size_t bl = npy_bytes(bb, "<i8", "(3,)", b, sizeof b);
    size_t yl = npy_bytes(yb, "<i8", "(3,)", y, sizeof y);
    size_t ol = npy_bytes(ob, "<f4", "(5,)", other, sizeof other);
    const char *names[] = {"ids.npy", "labels.npy", "feat.npy", "other.npy"};
    const uint8_t *data[] = {bb, yb, ab, ob};
    const size_t lens[] = {bl, yl, al, ol};
    write_zip(tpath("multi.npz"), 4, names, data, lens, 1);
    /* Model inputs feat [N,2] float and ids [N] int64. */
    kp_model *m = kp_model_new();
    kp_graph *g = m->graph;
    g->inputs = calloc(2, sizeof *g->inputs);
    g->n_inputs = 2;
    const char *in_names[2] = {"feat", "ids"};
    for (int i = 0; i < 2; i++) {
        kp_value_info *vi = &g->inputs[i];
        vi->name = strdup(in_names[i]);
        vi->type.kind = KP_TYPE_TENSOR;
        vi->type.elem = i ? KP_INT64 : KP_FLOAT;
        vi->type.rank = i ? 1 : 2;
        vi->type.dims = calloc(2, sizeof *vi->type.dims);
        vi->type.dims[0].value = -1;
        vi->type.dims[1].value = 2;
    }
    kp_dataset_opts o;
    kp_dataset_opts_init(&o);
    o.batch = 2;
    kp_dataset *ds = open_ok(tpath("multi.npz"), &o);
    kp_error e;
    if (kp_dataset_bind(ds, m, &e)) fail_msg("%s", e.msg);
    kp_batch bt;
    assert_int_equal(kp_dataset_batch(ds, 1, &bt, &e), 0);
    assert_int_equal(bt.n, 1);
    assert_int_equal(bt.n_inputs, 2);
    assert_string_equal(bt.inputs[0]->name, "feat");
    assert_true(((const float *)bt.inputs[0]->data)[1] == 6.0f);
    assert_int_equal(((const int64_t *)bt.inputs[1]->data)[0], 9);
    assert_int_equal(bt.labels[0], 0);
    kp_dataset_free(ds);
    /* Preprocessing is refused for several inputs; a missing array is named. */
    o.pre.scale = 0.5;
    ds = open_ok(tpath("multi.npz"), &o);
    assert_int_equal(kp_dataset_bind(ds, m, &e), KP_EUNSUPPORTED);
    kp_dataset_free(ds);
    o.pre.scale = 1;
    free(g->inputs[1].name);
    g->inputs[1].name = strdup("mask");
    ds = open_ok(tpath("multi.npz"), &o);
    assert_int_equal(kp_dataset_bind(ds, m, &e), KP_EINVAL);
    assert_non_null(strstr(e.msg, "mask"));
    assert_non_null(strstr(e.msg, "ids, feat, other"));
    kp_dataset_free(ds);
    kp_model_free(m);
    /* A single-input model takes the array named after its input, wherever it is. */
    const int64_t d[] = {-1, 2};
    kp_model *m1 = model_with_input(KP_FLOAT, 2, d);
    free(m1->graph->inputs[0].name);
    m1->graph->inputs[0].name = strdup("feat");
    ds = open_ok(tpath("multi.npz"), &o);
    assert_int_equal(kp_dataset_bind(ds, m1, &e), 0);
    assert_int_equal(kp_dataset_batch(ds, 0, &bt, &e), 0);
    assert_true(((const float *)bt.inputs[0]->data)[3] == 4.0f);
    kp_dataset_free(ds);
    kp_model_free(m1);
}

/* Opens, binds and reads every batch; any outcome but a crash is fine, errors need a message. */
static void try_all(const char *path, const char *labels, kp_model *m) {
    kp_dataset_opts o;
    kp_dataset_opts_init(&o);
    o.labels = labels;
    o.batch = 3;
    kp_dataset *ds = NULL;
    kp_error e;
    kp_error_clear(&e);
    int rc = kp_dataset_open(path, &o, &ds, &e);
    if (rc) {
        assert_true(rc < 0 && e.msg[0]);
        return;
    }
    if (kp_dataset_bind(ds, m, &e) == 0) {
        kp_batch b;
        for (size_t i = 0; i < kp_dataset_n_batches(ds); i++)
            if (kp_dataset_batch(ds, i, &b, &e)) assert_true(e.msg[0] != 0);
        kp_calib *c = NULL;
        if (kp_dataset_calib_new(ds, 4, 7, &c, &e) == 0) {
            const kp_tensor *const *in;
            for (size_t i = 0; i < c->n_batches; i++) c->get(c, i, &in, NULL, NULL, &e);
            kp_dataset_calib_free(c);
        }
    }
    kp_dataset_free(ds);
}

static uint64_t rng_state = 0x1234;
static uint32_t rnd(void) {
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

/* Every truncation and a few hundred random byte changes of valid files of each format. */
static void mutations(void **state) {
    (void)state;
    float x[6 * 4];
    for (int i = 0; i < 24; i++) x[i] = (float)i;
    int64_t y[6] = {0, 1, 2, 3, 4, 5};
    uint8_t xb[1024], yb[512];
    size_t xl = npy_bytes(xb, "<f4", "(6, 1, 2, 2)", x, sizeof x);
    size_t yl = npy_bytes(yb, "<i8", "(6,)", y, sizeof y);
    const char *names[] = {"x.npy", "labels.npy"};
    const uint8_t *data[] = {xb, yb};
    const size_t lens[] = {xl, yl};
    write_zip(tpath("m_s.npz"), 2, names, data, lens, 0);
    write_zip(tpath("m_d.npz"), 2, names, data, lens, 1);
    write_bytes(tpath("m.npy"), xb, xl);
    uint8_t img[6 * 4];
    for (int i = 0; i < 24; i++) img[i] = (uint8_t)(i * 10);
    const uint32_t di[] = {6, 2, 2};
    write_idx_gz(tpath("m.gz"), 3, di, img, sizeof img, 0);
    const char *csv = "a,b,c,d,label\n0,1,2,3,1\n4,5,6,7,0\n8,9,10,11,2\n1,1,1,1,1\n";
    write_bytes(tpath("m.csv"), csv, strlen(csv));
    kp_model *m = model_with_input(KP_FLOAT, 4, nchw_1x2x2);
    const char *files[] = {"m.npy", "m_s.npz", "m_d.npz", "m.gz", "m.csv"};
    const char *exts[] = {".npy", ".npz", ".npz", ".gz", ".csv"};
    for (size_t f = 0; f < sizeof files / sizeof *files; f++) {
        FILE *fp = fopen(tpath(files[f]), "rb");
        assert_non_null(fp);
        uint8_t orig[4096];
        size_t n = fread(orig, 1, sizeof orig, fp);
        fclose(fp);
        char mut[64];
        snprintf(mut, sizeof mut, "mut%s", exts[f]);
        for (size_t cut = 0; cut < n; cut++) {
            write_bytes(tpath(mut), orig, cut);
            try_all(tpath(mut), NULL, m);
        }
        uint8_t buf[4096];
        for (int k = 0; k < 300; k++) {
            memcpy(buf, orig, n);
            int flips = 1 + (int)(rnd() % 4);
            for (int j = 0; j < flips; j++) {
                uint32_t r = rnd();
                buf[r % n] = (uint8_t)(rnd() & 1 ? rnd() : buf[r % n] ^ (1u << (r % 8)));
            }
            write_bytes(tpath(mut), buf, n);
            try_all(tpath(mut), NULL, m);
        }
    }
    /* A mutated labels file next to a good data file. */
    for (size_t cut = 0; cut < yl; cut++) {
        write_bytes(tpath("mlab.npy"), yb, cut);
        try_all(tpath("m.npy"), tpath("mlab.npy"), m);
    }
    kp_model_free(m);
}

static int setup(void **state) {
    (void)state;
    /* tmpfs when there is one: the ONNX tensor saves fsync, slow on a busy disk. */
    struct stat st;
    const char *base =
        stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0
            ? "/dev/shm"
            : "/tmp";
    snprintf(tmpdir, sizeof tmpdir, "%s/kp_test_dataset_XXXXXX", base);
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(npy_float_batches),
        cmocka_unit_test(npy_uint8_preprocessing),
        cmocka_unit_test(nhwc_transpose_and_channels),
        cmocka_unit_test(npy_malformed),
        cmocka_unit_test(shape_dtype_and_label_errors),
        cmocka_unit_test(npz_stored_and_deflated),
        cmocka_unit_test(idx_gzip),
        cmocka_unit_test(csv_loader),
        cmocka_unit_test(onnx_test_folders),
        cmocka_unit_test(calibration_subset),
        cmocka_unit_test(options_parsing),
        cmocka_unit_test(mutations),
        cmocka_unit_test(npy_tensor_roundtrip),
        cmocka_unit_test(from_project),
        cmocka_unit_test(npz_multi_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
