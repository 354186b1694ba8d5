/* Included first by the elementwise/unary/reduce/shape kernel files: their loops are the hot
 * path of real models and must become SIMD code. GCC's -O2 uses a "very cheap" vectorizer
 * cost model that skips most loops with a remainder, and if-conversion of float selects needs
 * -fno-trapping-math (we never rely on floating-point exceptions). Clang vectorizes at -O2. */
#ifndef KP_OPS_VECTORIZE_H
#define KP_OPS_VECTORIZE_H

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-trapping-math")
#endif

#endif
