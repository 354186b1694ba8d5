#!/bin/sh
# The Conv paths other CPUs take (ARM and pre-AVX-512 x86 run the portable/AVX2 code): runs the
# Conv and Gemm kernel unit tests with the ISA capped by KOMPRESS_ISA (core/cpu.h), so the im2col +
# sgemm path, its fused MaxPool and the AVX2 direct 3x3 kernel are checked on this machine too.
BUILD=${BUILD:-build}
for t in test_conv_fusion test_conv3x3 test_conv3x3_oc test_gemm_packed test_dw3x3; do
  [ -x "$BUILD/tests/$t" ] || { echo "$BUILD/tests/$t is not built (make unit)"; exit 1; }
done
for isa in c avx2; do
  for t in test_conv_fusion test_conv3x3 test_conv3x3_oc test_gemm_packed test_dw3x3; do
    out=$(KOMPRESS_ISA=$isa "$BUILD/tests/$t" 2>&1) || {
      echo "$out" | tail -n 20
      echo "KOMPRESS_ISA=$isa $t failed"
      exit 1
    }
    echo "KOMPRESS_ISA=$isa $t: ok"
  done
done
