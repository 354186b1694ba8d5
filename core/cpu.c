/* CPU feature detection: cpuid leaves 1 and 7 plus xgetbv, so a feature counts only when the
 * OS saves the registers it needs (YMM for AVX2, ZMM/opmask for AVX-512). */
#include "core/cpu.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static void detect(kp_cpu_features *f) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    f->fma = (c >> 12) & 1;
    f->f16c = (c >> 29) & 1;
    if (!osxsave || !avx) return;
    unsigned long long xcr0 = xgetbv0();
    int ymm = (xcr0 & 0x6) == 0x6, zmm = (xcr0 & 0xe6) == 0xe6;
    if (!ymm) return;
    unsigned max = __get_cpuid_max(0, NULL);
    if (max < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    f->avx2 = (b >> 5) & 1;
    if (zmm) {
        f->avx512f = (b >> 16) & 1;
        f->avx512bw = (b >> 30) & 1;
        f->avx512vl = (b >> 31) & 1;
        f->avx512vnni = (c >> 11) & 1;
    }
    __cpuid_count(7, 1, a, b, c, d);
    f->avxvnni = (a >> 4) & 1;
}
#else
static void detect(kp_cpu_features *f) {
    (void)f;
}
#endif

static kp_cpu_features feats;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void) {
    detect(&feats);
    const char *cap = getenv("KOMPRESS_ISA");
    if (!cap || !*cap) return;
    if (!strcmp(cap, "c")) {
        memset(&feats, 0, sizeof feats);
    } else if (!strcmp(cap, "avx2")) {
        feats.avx512f = feats.avx512bw = feats.avx512vl = feats.avx512vnni = 0;
        feats.avxvnni = 0;
    } else if (!strcmp(cap, "avx-vnni")) {
        feats.avx512f = feats.avx512bw = feats.avx512vl = feats.avx512vnni = 0;
    }
}

const kp_cpu_features *kp_cpu(void) {
    pthread_once(&once, init);
    return &feats;
}

const char *kp_cpu_int8_path(void) {
    const kp_cpu_features *f = kp_cpu();
    if (f->avx512f && f->avx512bw && f->avx512vnni) return "avx512-vnni";
    if (f->avx2 && f->avxvnni) return "avx-vnni";
    if (f->avx2) return "avx2";
    return "c";
}

int kp_cpu_u8s8_saturates(void) {
    return !strcmp(kp_cpu_int8_path(), "avx2");
}
