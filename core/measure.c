#include "core/measure.h"

#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"
#include "core/onnx_io.h"
#include "core/shape_infer.h"
#include "core/verify.h"

int kp_measure_roofline(const kp_model *m, const kp_target *t, kp_target_estimate *out,
                        kp_error *err) {
    kp_model *c = kp_model_clone(m, err);
    if (!c) return err ? err->code : KP_ENOMEM;
    int rc = kp_infer_shapes(c, err);
    if (!rc) rc = kp_target_estimate_model(t, c, 0, out, err);
    kp_model_free(c);
    return rc;
}

int kp_measure_model(const kp_model *m, const kp_measure_opts *o, kp_metrics_row *out,
                     kp_error *err) {
    memset(out, 0, sizeof *out);
    out->top1 = -1;
    out->fits_ram = out->fits_flash = 1;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = kp_onnx_save_buffer(m, &buf, &len, err);
    if (rc) return rc;
    uint64_t gz = 0;
    rc = kp_buffer_gzip_bytes(buf, len, &gz, err);
    free(buf);
    if (rc) return rc;
    out->file_bytes = (double)len;
    out->gzip_bytes = (double)gz;
    if (o->cancel && *o->cancel) return kp_error_set(err, KP_ECANCELLED, "cancelled");
    double med = 0;
    if ((rc = kp_verify_latency_host(m, o->runs > 0 ? o->runs : 20, o->threads, &med, err)))
        return rc;
    out->host_latency_ms = med * 1e3;
    if (o->target) {
        kp_target_estimate est;
        if ((rc = kp_measure_roofline(m, o->target, &est, err))) return rc;
        double lat = est.latency_s;
        if (!strcmp(o->target->id, "host")) /* this machine: the measurement, not a model */
            lat = out->host_latency_ms * 1e-3;
        out->target_latency_ms = lat * 1e3;
        out->ram_bytes = (double)est.ram_bytes;
        out->flash_bytes = out->file_bytes; /* the real file, not the estimate */
        out->energy_mj = lat * o->target->power_w * 1e3;
        out->fits_ram = est.fits_ram;
        out->fits_flash =
            !o->target->storage_bytes || out->flash_bytes <= (double)o->target->storage_bytes;
    }
    if (o->evalset) {
        if (o->cancel && *o->cancel) return kp_error_set(err, KP_ECANCELLED, "cancelled");
        kp_verify v;
        kp_verify_opts vo = {0};
        vo.cancel = o->cancel;
        vo.threads = o->threads;
        if ((rc = kp_verify_models(NULL, m, o->evalset, &vo, &v, err))) return rc;
        if (v.has_labels) out->top1 = v.acc_cand;
    }
    return 0;
}
