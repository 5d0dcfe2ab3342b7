// conv2d_avx512.cpp: the implicit-GEMM conv2d kernels (conv2d_kernels.h) with 512-bit vectors
// (compiled with -mavx512f -mavx2 -mfma, called only when simd_path() is avx512). The 32 vector
// registers hold a 14 positions x 2 vectors tile of the channel-vectorised forward form: 28
// accumulators, 2 weight vectors, the x value broadcast straight from memory
// into the FMA (tiles run along output rows: one base register, constant offsets).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "cpu/conv2d.h"
#include "cpu/conv2d_kernels.h"
#include "cpu/simd_vec.h"

namespace {

using axonal::index_t;

// Positions per tile: 14 x 2 vectors = 28 accumulators + 2 weight vectors of the 32 registers
// (14 against 12: 14x14 images in one tile per row; no measured loss elsewhere).
constexpr int kRowTile = 14;

}  // namespace

namespace axonal {

template <typename T>
void conv_kvec_forward_avx512(index_t Kg, index_t crs, const T* wt, const index_t* off, const T* xp,
                              index_t Wp, index_t sh, index_t sw, index_t P, index_t Q,
                              const T* bias, T* y, index_t ldy) {
  conv_simd::kvec_forward_rows<Vec512, T, kRowTile>(Kg, crs, wt, off, xp, Wp, sh, sw, P, Q, bias, y,
                                                    ldy);
}

template void conv_kvec_forward_avx512<float>(index_t, index_t, const float*, const index_t*,
                                              const float*, index_t, index_t, index_t, index_t,
                                              index_t, const float*, float*, index_t);
template void conv_kvec_forward_avx512<double>(index_t, index_t, const double*, const index_t*,
                                               const double*, index_t, index_t, index_t, index_t,
                                               index_t, const double*, double*, index_t);

}  // namespace axonal
