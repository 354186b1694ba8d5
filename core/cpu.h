/* Run-time CPU feature detection (x86 cpuid + xgetbv; everything 0 elsewhere). Kernels pick
 * their SIMD path from kp_cpu(); targets use it to describe the host. KOMPRESS_ISA=c|avx2|
 * avx512 in the environment caps the path (for tests and benchmarks of slower paths). */
#ifndef KP_CPU_H
#define KP_CPU_H

typedef struct kp_cpu_features {
    int avx2, fma;
    int avx512f, avx512bw, avx512vl, avx512vnni;
    int avxvnni; /* VEX-encoded VNNI (Alder Lake and later) */
    int f16c;
} kp_cpu_features;

/* Detected once (thread-safe), then capped by KOMPRESS_ISA. Borrowed, never NULL. */
const kp_cpu_features *kp_cpu(void);
/* "avx512-vnni", "avx-vnni", "avx2", "c": the int8 GEMM path kp_cpu() selects. */
const char *kp_cpu_int8_path(void);
/* 1 when int8 u8*s8 dot products go through vpmaddubsw (AVX2 without VNNI), whose int16
 * pair sums saturate unless one operand uses 7 bits (reduce_range). */
int kp_cpu_u8s8_saturates(void);

#endif
