/* float8 conversions (see float8.h). Computed with double arithmetic: exact for every value a
 * float8 can hold, and rint() gives round-half-to-even under the default rounding mode. */
#include "core/ops/float8.h"

#include <math.h>

typedef struct f8fmt {
    int mbits, bias;
    int fnuz;    /* no negative zero, NaN = 0x80, no infinity */
    int has_inf; /* E5M2: IEEE-style infinities and NaNs in the top exponent */
    double max;  /* largest finite value */
} f8fmt;

static const f8fmt *fmt(kp_dtype dt) {
    static const f8fmt e4m3fn = {3, 7, 0, 0, 448.0}, e4m3fnuz = {3, 8, 1, 0, 240.0},
                       e5m2 = {2, 15, 0, 1, 57344.0}, e5m2fnuz = {2, 16, 1, 0, 57344.0};
    switch (dt) {
    case KP_FLOAT8E4M3FN: return &e4m3fn;
    case KP_FLOAT8E4M3FNUZ: return &e4m3fnuz;
    case KP_FLOAT8E5M2: return &e5m2;
    case KP_FLOAT8E5M2FNUZ: return &e5m2fnuz;
    default: return 0;
    }
}

int kp_f8_is(kp_dtype dt) {
    return fmt(dt) != 0;
}

static uint8_t nan_bits(const f8fmt *f, int sign) {
    if (f->fnuz) return 0x80;
    return (uint8_t)((sign ? 0x80 : 0) | 0x7f);
}

uint8_t kp_f8_from_double(kp_dtype dt, double v, int saturate) {
    const f8fmt *f = fmt(dt);
    if (!f) return 0;
    int sign = signbit(v) != 0;
    uint8_t s = sign ? 0x80 : 0;
    if (isnan(v)) return nan_bits(f, sign);
    double a = fabs(v);
    if (isinf(a)) {
        if (f->has_inf && !saturate) return (uint8_t)(s | 0x7c);
        if (f->fnuz || !saturate) return nan_bits(f, sign);
        a = f->max;
    }
    int emin = 1 - f->bias;
    /* round a to the format's grid at its binade */
    int e;
    frexp(a, &e); /* a = m * 2^e, m in [0.5, 1) */
    e -= 1;       /* a in [2^e, 2^(e+1)) */
    if (a == 0 || e < emin) e = emin;
    double q = ldexp(1.0, e - f->mbits), r = rint(a / q) * q;
    if (r > f->max) {
        if (saturate)
            r = f->max;
        else if (f->has_inf)
            return (uint8_t)(s | 0x7c);
        else
            return nan_bits(f, sign);
    }
    if (r == 0) return f->fnuz ? 0 : s;
    int er;
    frexp(r, &er);
    er -= 1;
    uint32_t ef, mf;
    if (er < emin) { /* subnormal */
        ef = 0;
        mf = (uint32_t)(r / ldexp(1.0, emin - f->mbits));
    } else {
        ef = (uint32_t)(er + f->bias);
        mf = (uint32_t)(r / ldexp(1.0, er - f->mbits)) - (1u << f->mbits);
    }
    return (uint8_t)(s | (ef << f->mbits) | mf);
}

double kp_f8_to_double(kp_dtype dt, uint8_t b) {
    const f8fmt *f = fmt(dt);
    if (!f) return 0;
    if (f->fnuz && b == 0x80) return NAN;
    int sign = b >> 7, ebits = 7 - f->mbits;
    uint32_t ef = (b >> f->mbits) & ((1u << ebits) - 1), mf = b & ((1u << f->mbits) - 1);
    if (!f->fnuz && !f->has_inf && (b & 0x7f) == 0x7f) return NAN; /* E4M3FN */
    if (f->has_inf && ef == (1u << ebits) - 1) return mf ? NAN : (sign ? -INFINITY : INFINITY);
    double v = ef == 0 ? ldexp((double)mf, 1 - f->bias - f->mbits)
                       : ldexp(1.0 + (double)mf / (double)(1u << f->mbits), (int)ef - f->bias);
    return sign ? -v : v;
}
