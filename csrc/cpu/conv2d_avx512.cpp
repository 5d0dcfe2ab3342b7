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

namespace {

using axonal::index_t;

template <typename T>
struct Vec;

template <>
struct Vec<float> {
  using V = __m512;
  static constexpr int W = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V bcast(const float* p) { return _mm512_set1_ps(*p); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  // acc[2 i + v] = channels [v W, v W + W) of position i < mr; y[k * ldy + i] = acc(i, k) +
  // bias[k] for k < nk (bias may be null). Columns go out as masked gathers from a staging tile.
  static void store_cols(const V* acc, int mr, const float* bias, int nk, float* y, index_t ldy) {
    alignas(64) float tmp[16 * 2 * W];
    V bv[2] = {zero(), zero()};
    if (bias)
      for (int v = 0; v < 2; ++v) {
        const int n = std::clamp(nk - v * W, 0, W);
        bv[v] = _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1u), bias + v * W);
      }
    for (int i = 0; i < mr; ++i) {
      _mm512_store_ps(tmp + i * 2 * W, add(acc[2 * i], bv[0]));
      _mm512_store_ps(tmp + i * 2 * W + W, add(acc[2 * i + 1], bv[1]));
    }
    const __mmask16 m = static_cast<__mmask16>((1u << mr) - 1u);
    const __m512i idx =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32(2 * W));
    for (int k = 0; k < nk; ++k) {
      const V c = _mm512_mask_i32gather_ps(zero(), m, idx, tmp + k, 4);
      _mm512_mask_storeu_ps(y + k * ldy, m, c);
    }
  }
};

template <>
struct Vec<double> {
  using V = __m512d;
  static constexpr int W = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V load(const double* p) { return _mm512_loadu_pd(p); }
  static V bcast(const double* p) { return _mm512_set1_pd(*p); }
  static V set1(double x) { return _mm512_set1_pd(x); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static void store(double* p, V v) { _mm512_storeu_pd(p, v); }
  static void store_cols(const V* acc, int mr, const double* bias, int nk, double* y, index_t ldy) {
    alignas(64) double tmp[16 * 2 * W];
    V bv[2] = {zero(), zero()};
    if (bias)
      for (int v = 0; v < 2; ++v) {
        const int n = std::clamp(nk - v * W, 0, W);
        bv[v] = _mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << n) - 1u), bias + v * W);
      }
    for (int i = 0; i < mr; ++i) {
      _mm512_store_pd(tmp + i * 2 * W, add(acc[2 * i], bv[0]));
      _mm512_store_pd(tmp + i * 2 * W + W, add(acc[2 * i + 1], bv[1]));
    }
    // positions [0, 8) and [8, mr) as two gathers of up to 8
    const __mmask8 m0 = static_cast<__mmask8>((1u << std::min(mr, W)) - 1u);
    const __mmask8 m1 = static_cast<__mmask8>((1u << std::max(mr - W, 0)) - 1u);
    const __m256i idx =
        _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(2 * W));
    for (int k = 0; k < nk; ++k) {
      double* dst = y + k * ldy;
      _mm512_mask_storeu_pd(dst, m0, _mm512_mask_i32gather_pd(zero(), m0, idx, tmp + k, 8));
      if (m1)
        _mm512_mask_storeu_pd(dst + W, m1,
                              _mm512_mask_i32gather_pd(zero(), m1, idx, tmp + W * 2 * W + k, 8));
    }
  }
};

// Positions per tile: 14 x 2 vectors = 28 accumulators + 2 weight vectors of the 32 registers
// (14 against 12: 14x14 images in one tile per row; no measured loss elsewhere).
constexpr int kRowTile = 14;

}  // namespace

namespace axonal {

template <typename T>
void conv_kvec_forward_avx512(index_t Kg, index_t crs, const T* wt, const index_t* off, const T* xp,
                              index_t Wp, index_t sh, index_t sw, index_t P, index_t Q,
                              const T* bias, T* y, index_t ldy) {
  conv_simd::kvec_forward_rows<Vec, T, kRowTile>(Kg, crs, wt, off, xp, Wp, sh, sw, P, Q, bias, y,
                                                 ldy);
}

template void conv_kvec_forward_avx512<float>(index_t, index_t, const float*, const index_t*,
                                              const float*, index_t, index_t, index_t, index_t,
                                              index_t, const float*, float*, index_t);
template void conv_kvec_forward_avx512<double>(index_t, index_t, const double*, const index_t*,
                                               const double*, index_t, index_t, index_t, index_t,
                                               index_t, const double*, double*, index_t);

}  // namespace axonal
