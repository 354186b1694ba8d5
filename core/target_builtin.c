/* Built-in target profiles. Numbers are peak figures from the vendors' spec sheets (sources
 * inline); sustained throughput of real kernels is lower, which is why host estimates are
 * calibrated against measured latency and every estimate carries a confidence. */
#include "core/target_builtin.h"

#define GB (1024ull * 1024ull * 1024ull)
#define MB (1024ull * 1024ull)
#define KB 1024ull

const kp_target kp_target_builtins[] = {
    /* Intel Core i7-8565U (Whiskey Lake, 4C, 1.8 GHz base, AVX2 + 2 FMA units, no VNNI):
     * 4 x 1.8e9 x 32 FLOP = 230 GFLOPS fp32; int8 via vpmaddubsw ~2x fp32. LPDDR3-2133 dual
     * channel 34 GB/s, 15 W TDP (Intel ARK, product 149091). */
    {.id = "laptop-avx2",
     .name = "x86 laptop CPU (AVX2, 4 cores)",
     .cls = KP_TARGET_CPU,
     .fp32_gflops = 230,
     .fp16_gflops = 0,
     .int8_gops = 460,
     .mem_bw_gbs = 34,
     .ram_bytes = 16 * GB,
     .storage_bytes = 0,
     .power_w = 15,
     .precisions = KP_PREC_FP32 | KP_PREC_INT8,
     .isa = "avx2",
     .u8s8_saturates = 1,
     .source = "Intel ARK: Core i7-8565U"},
    /* Intel Xeon Gold 6230 (Cascade Lake, 20C, 2.1 GHz, AVX-512 + VNNI, 2 FMA units):
     * 20 x 2.1e9 x 64 = 2688 GFLOPS fp32; VNNI int8 4x = 10752 GOPS; 6ch DDR4-2933 141 GB/s;
     * 125 W TDP (Intel ARK, product 192437). */
    {.id = "server-vnni",
     .name = "x86 server CPU (AVX-512 VNNI, 20 cores)",
     .cls = KP_TARGET_CPU,
     .fp32_gflops = 2688,
     .fp16_gflops = 0,
     .int8_gops = 10752,
     .mem_bw_gbs = 141,
     .ram_bytes = 192 * GB,
     .storage_bytes = 0,
     .power_w = 125,
     .precisions = KP_PREC_FP32 | KP_PREC_INT8,
     .isa = "avx512-vnni",
     .u8s8_saturates = 0,
     .source = "Intel ARK: Xeon Gold 6230"},
    /* Raspberry Pi 4 Model B: 4x Cortex-A72 @ 1.5 GHz, 2x128-bit NEON FMA: 4 x 1.5e9 x 16 =
     * 96 GFLOPS fp32; no dot-product instructions, int8 via smlal ~2x; LPDDR4-3200 32-bit
     * 12.8 GB/s; 4 GB; ~6.4 W under load (RPi 4 product brief; Arm Cortex-A72 TRM). */
    {.id = "rpi4",
     .name = "Raspberry Pi 4 (Cortex-A72)",
     .cls = KP_TARGET_EDGE,
     .fp32_gflops = 96,
     .fp16_gflops = 0,
     .int8_gops = 192,
     .mem_bw_gbs = 12.8,
     .ram_bytes = 4 * GB,
     .storage_bytes = 32 * GB,
     .power_w = 6.4,
     .precisions = KP_PREC_FP32 | KP_PREC_INT8,
     .isa = "neon",
     .u8s8_saturates = 0,
     .source = "Raspberry Pi 4 product brief; Arm Cortex-A72 TRM"},
    /* Raspberry Pi 5: 4x Cortex-A76 @ 2.4 GHz, 2x128-bit NEON: 153.6 GFLOPS fp32, fp16
     * arithmetic 2x, sdot int8 4x; LPDDR4X-4267 32-bit 17 GB/s; 8 GB; ~10 W (RPi 5 product
     * brief; Arm Cortex-A76 TRM). */
    {.id = "rpi5",
     .name = "Raspberry Pi 5 (Cortex-A76)",
     .cls = KP_TARGET_EDGE,
     .fp32_gflops = 153.6,
     .fp16_gflops = 307,
     .int8_gops = 614,
     .mem_bw_gbs = 17,
     .ram_bytes = 8 * GB,
     .storage_bytes = 32 * GB,
     .power_w = 10,
     .precisions = KP_PREC_FP32 | KP_PREC_FP16 | KP_PREC_INT8,
     .isa = "neon-dotprod",
     .u8s8_saturates = 0,
     .source = "Raspberry Pi 5 product brief; Arm Cortex-A76 TRM"},
    /* Jetson Nano: 128-core Maxwell @ 921 MHz: 236 GFLOPS fp32, 472 GFLOPS fp16, no dp4a
     * (int8 not accelerated); 4 GB LPDDR4 25.6 GB/s; 10 W mode (NVIDIA Jetson Nano datasheet
     * DA-09366-001). */
    {.id = "jetson-nano",
     .name = "Jetson Nano (Maxwell GPU)",
     .cls = KP_TARGET_EDGE,
     .fp32_gflops = 236,
     .fp16_gflops = 472,
     .int8_gops = 0,
     .mem_bw_gbs = 25.6,
     .ram_bytes = 4 * GB,
     .storage_bytes = 16 * GB,
     .power_w = 10,
     .precisions = KP_PREC_FP32 | KP_PREC_FP16,
     .isa = "cuda-sm53",
     .u8s8_saturates = 0,
     .source = "NVIDIA Jetson Nano module datasheet"},
    /* Jetson Orin Nano 8GB: 1024-core Ampere @ 625 MHz = 1.28 TFLOPS fp32, tensor cores
     * ~10 TFLOPS fp16 dense, 20 TOPS int8 dense (40 sparse); LPDDR5 68 GB/s; 15 W (NVIDIA
     * Jetson Orin Nano series datasheet DS-11105-001). */
    {.id = "jetson-orin-nano",
     .name = "Jetson Orin Nano 8GB (Ampere GPU)",
     .cls = KP_TARGET_EDGE,
     .fp32_gflops = 1280,
     .fp16_gflops = 10000,
     .int8_gops = 20000,
     .mem_bw_gbs = 68,
     .ram_bytes = 8 * GB,
     .storage_bytes = 64 * GB,
     .power_w = 15,
     .precisions = KP_PREC_FP32 | KP_PREC_FP16 | KP_PREC_INT8,
     .isa = "cuda-sm87",
     .u8s8_saturates = 0,
     .source = "NVIDIA Jetson Orin Nano series datasheet"},
    /* NVIDIA GeForce RTX 3060: 12.7 TFLOPS fp32, 25.5 TFLOPS fp16 tensor (fp32 acc, dense),
     * 101 TOPS int8 tensor dense; 360 GB/s; 12 GB; 170 W (NVIDIA Ampere GA102 whitepaper,
     * RTX 3060 specifications). */
    {.id = "rtx3060",
     .name = "Desktop NVIDIA GPU (RTX 3060)",
     .cls = KP_TARGET_GPU,
     .fp32_gflops = 12700,
     .fp16_gflops = 25500,
     .int8_gops = 101000,
     .mem_bw_gbs = 360,
     .ram_bytes = 12 * GB,
     .storage_bytes = 0,
     .power_w = 170,
     .precisions = KP_PREC_FP32 | KP_PREC_FP16 | KP_PREC_INT8,
     .isa = "cuda-sm86",
     .u8s8_saturates = 0,
     .source = "NVIDIA Ampere GA102 whitepaper; RTX 3060 specifications"},
    /* STM32H743: Cortex-M7 @ 480 MHz, FPU with VFMA: ~0.96 GFLOPS fp32 peak; int8 through
     * SMLAD (2 MAC/cycle) 1.92 GOPS; 1 MB SRAM, 2 MB flash; ~278 uA/MHz at 3.3 V = 0.44 W
     * (ST DS12110 datasheet). */
    {.id = "stm32h7",
     .name = "STM32H7 (Cortex-M7, 1 MB SRAM, 2 MB flash)",
     .cls = KP_TARGET_MCU,
     .fp32_gflops = 0.96,
     .fp16_gflops = 0,
     .int8_gops = 1.92,
     .mem_bw_gbs = 1.9,
     .ram_bytes = 1 * MB,
     .storage_bytes = 2 * MB,
     .power_w = 0.44,
     .precisions = KP_PREC_FP32 | KP_PREC_INT8,
     .isa = "armv7e-m-dsp",
     .u8s8_saturates = 0,
     .source = "ST DS12110 (STM32H742/743/750/753) datasheet"},
    /* nRF52840: Cortex-M4F @ 64 MHz: ~0.128 GFLOPS fp32 (FMA), int8 SMLAD 0.256 GOPS; 256 KB
     * RAM, 1 MB flash; 3.3 mA run current at 3 V = 0.01 W (Nordic nRF52840 product
     * specification v1.7). */
    {.id = "nrf52840",
     .name = "nRF52840 (Cortex-M4F, 256 KB RAM, 1 MB flash)",
     .cls = KP_TARGET_MCU,
     .fp32_gflops = 0.128,
     .fp16_gflops = 0,
     .int8_gops = 0.256,
     .mem_bw_gbs = 0.25,
     .ram_bytes = 256 * KB,
     .storage_bytes = 1 * MB,
     .power_w = 0.01,
     .precisions = KP_PREC_FP32 | KP_PREC_INT8,
     .isa = "armv7e-m-dsp",
     .u8s8_saturates = 0,
     .source = "Nordic nRF52840 product specification v1.7"},
    /* ESP32-S3: 2x Xtensa LX7 @ 240 MHz, single-precision FPU ~0.96 GFLOPS, 128-bit PIE SIMD
     * int8 ~15 GOPS peak (ESP-NN); 512 KB SRAM (+ optional 8 MB PSRAM, not counted), 8 MB
     * flash; ~100 mA at 3.3 V = 0.33 W (Espressif ESP32-S3 datasheet v1.9, TRM ch. PIE). */
    {.id = "esp32s3",
     .name = "ESP32-S3 (Xtensa LX7, 512 KB SRAM)",
     .cls = KP_TARGET_MCU,
     .fp32_gflops = 0.96,
     .fp16_gflops = 0,
     .int8_gops = 15,
     .mem_bw_gbs = 0.96,
     .ram_bytes = 512 * KB,
     .storage_bytes = 8 * MB,
     .power_w = 0.33,
     .precisions = KP_PREC_FP32 | KP_PREC_INT8,
     .isa = "xtensa-pie",
     .u8s8_saturates = 0,
     .source = "Espressif ESP32-S3 datasheet v1.9"},
};

const size_t kp_target_builtins_count = sizeof kp_target_builtins / sizeof *kp_target_builtins;
