// simd_vec.h: the vector types the SIMD kernels are written over (GEMM micro-kernels, conv2d
// kernels): Vec256<T> (AVX2/FMA) and Vec512<T> (AVX-512F) for float and double, each with
// V, W (lanes), zero, load, bcast, set1, fma, mul, add, store and the extras the conv kernels use
// (masked loads and stores, horizontal sums, transposes, transposed tile stores). Each part exists
// only where the including source is compiled for it (-mavx2 -mfma / -mavx512f), and everything has
// internal linkage: code built for one instruction set never reaches another through the linker.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "cpu/gemm.h"

namespace {

using axonal::index_t;

#if defined(__AVX2__) && defined(__FMA__)
template <typename T>
struct Vec256;

template <>
struct Vec256<float> {
  using V = __m256;
  static constexpr int W = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V bcast(const float* p) { return _mm256_broadcast_ss(p); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  // lanes [0, n) of p, the rest 0 (nothing past p + n is read)
  static V load_n(const float* p, int n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
    return _mm256_maskload_ps(p, m);
  }
  // lanes [0, n) of v to p (nothing at p + n or past it is written)
  static void store_n(float* p, V v, int n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx), v);
  }
  static float hsum(V v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  // r[0..8) (rows) -> r[k] = column k, i.e. r[k][i] = old r[i][k]
  static void transpose(V* r) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
  }
  // A full 6 positions x 16 channels tile acc[2 i + v] to y[k * ldy + i] (+ bias[k]).
  static void store_tile_t(const V* acc, const float* bias, float* y, index_t ldy) {
    for (int v = 0; v < 2; ++v) {
      V r[8] = {acc[v],     acc[2 + v],  acc[4 + v], acc[6 + v],
                acc[8 + v], acc[10 + v], zero(),     zero()};
      transpose(r);
      for (int k = 0; k < 8; ++k) {
        const V c = bias ? add(r[k], set1(bias[8 * v + k])) : r[k];
        float* dst = y + (8 * v + k) * ldy;
        _mm_storeu_ps(dst, _mm256_castps256_ps128(c));
        _mm_storel_pi(reinterpret_cast<__m64*>(dst + 4), _mm256_extractf128_ps(c, 1));
      }
    }
  }
  // dst[j] += hsum(v[j]) for j < 4
  static void hsum4_add(const V* v, float* dst) {
    const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
    const __m128 r = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    _mm_storeu_ps(dst, _mm_add_ps(_mm_loadu_ps(dst), r));
  }
};

template <>
struct Vec256<double> {
  using V = __m256d;
  static constexpr int W = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V load(const double* p) { return _mm256_loadu_pd(p); }
  static V bcast(const double* p) { return _mm256_broadcast_sd(p); }
  static V set1(double x) { return _mm256_set1_pd(x); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  static V load_n(const double* p, int n) {
    const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
    const __m256i m = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), idx);
    return _mm256_maskload_pd(p, m);
  }
  static void store_n(double* p, V v, int n) {
    const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
    _mm256_maskstore_pd(p, _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), idx), v);
  }
  static double hsum(V v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
  }
  static void transpose(V* r) {  // 4 x 4
    const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
  }
  // A full 6 positions x 8 channels tile acc[2 i + v] to y[k * ldy + i] (+ bias[k]).
  static void store_tile_t(const V* acc, const double* bias, double* y, index_t ldy) {
    for (int v = 0; v < 2; ++v) {
      V a[4] = {acc[v], acc[2 + v], acc[4 + v], acc[6 + v]};
      V b[4] = {acc[8 + v], acc[10 + v], zero(), zero()};
      transpose(a);
      transpose(b);
      for (int k = 0; k < 4; ++k) {
        const V bk = set1(bias ? bias[4 * v + k] : 0.0);
        double* dst = y + (4 * v + k) * ldy;
        _mm256_storeu_pd(dst, add(a[k], bk));
        _mm_storeu_pd(dst + 4, _mm256_castpd256_pd128(add(b[k], bk)));
      }
    }
  }
  static void hsum4_add(const V* v, double* dst) {
    const __m256d h01 = _mm256_hadd_pd(v[0], v[1]), h23 = _mm256_hadd_pd(v[2], v[3]);
    const __m256d r = _mm256_add_pd(_mm256_permute2f128_pd(h01, h23, 0x20),
                                    _mm256_permute2f128_pd(h01, h23, 0x31));
    _mm256_storeu_pd(dst, _mm256_add_pd(_mm256_loadu_pd(dst), r));
  }
};
#endif  // __AVX2__ && __FMA__

#if defined(__AVX512F__)
template <typename T>
struct Vec512;

template <>
struct Vec512<float> {
  using V = __m512;
  static constexpr int W = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V bcast(const float* p) { return _mm512_set1_ps(*p); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
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
struct Vec512<double> {
  using V = __m512d;
  static constexpr int W = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V load(const double* p) { return _mm512_loadu_pd(p); }
  static V bcast(const double* p) { return _mm512_set1_pd(*p); }
  static V set1(double x) { return _mm512_set1_pd(x); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
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
#endif  // __AVX512F__

}  // namespace
