// conv2d_avx2.cpp: the implicit-GEMM conv2d kernels (conv2d_kernels.h) with 256-bit vectors
// (compiled with -mavx2 -mfma, called only when simd_path() is avx2 or avx512), the packing of dy
// for the channel-vectorised weight form, and the stride-2 row copy of im2col.
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
  using V = __m256;
  static constexpr int W = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V bcast(const float* p) { return _mm256_broadcast_ss(p); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  // lanes [0, n) of p, the rest 0 (nothing past p + n is read)
  static V load_n(const float* p, int n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
    return _mm256_maskload_ps(p, m);
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
struct Vec<double> {
  using V = __m256d;
  static constexpr int W = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V load(const double* p) { return _mm256_loadu_pd(p); }
  static V bcast(const double* p) { return _mm256_broadcast_sd(p); }
  static V set1(double x) { return _mm256_set1_pd(x); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  static V load_n(const double* p, int n) {
    const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
    const __m256i m = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), idx);
    return _mm256_maskload_pd(p, m);
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

}  // namespace

namespace axonal {

template <typename T>
void conv_implicit_forward_avx2(index_t Kg, index_t crs, const T* wpacked, const index_t* off,
                                const T* xp, index_t Wp, index_t P, index_t Q, const T* bias, T* y,
                                index_t ldy) {
  conv_simd::implicit_forward<Vec, T>(Kg, crs, wpacked, off, xp, Wp, P, Q, bias, y, ldy);
}

template <typename T>
void conv_implicit_backward_weight_avx2(index_t Kg, index_t crs, const T* dy, index_t lddy,
                                        index_t ldr, const index_t* off, const T* xp, index_t Wp,
                                        index_t P, index_t Q, T* dw) {
  conv_simd::implicit_backward_weight<Vec, T>(Kg, crs, dy, lddy, ldr, off, xp, Wp, P, Q, dw);
}

template <typename T>
void conv_kvec_forward_avx2(index_t Kg, index_t crs, const T* wt, const index_t* off, const T* xp,
                            index_t Wp, index_t sh, index_t sw, index_t P, index_t Q, const T* bias,
                            T* y, index_t ldy) {
  conv_simd::kvec_forward<Vec, T>(Kg, crs, wt, off, xp, Wp, sh, sw, P, Q, bias, y, ldy);
}

template <typename T>
void conv_kvec_backward_weight_avx2(index_t Kg, index_t crs, const T* dyt, const index_t* off,
                                    const T* xp, index_t Wp, index_t sh, index_t sw, index_t P,
                                    index_t Q, T* dwt) {
  conv_simd::kvec_backward_weight<Vec, T>(Kg, crs, dyt, off, xp, Wp, sh, sw, P, Q, dwt);
}

template void conv_kvec_forward_avx2<float>(index_t, index_t, const float*, const index_t*,
                                            const float*, index_t, index_t, index_t, index_t,
                                            index_t, const float*, float*, index_t);
template void conv_kvec_forward_avx2<double>(index_t, index_t, const double*, const index_t*,
                                             const double*, index_t, index_t, index_t, index_t,
                                             index_t, const double*, double*, index_t);
template void conv_kvec_backward_weight_avx2<float>(index_t, index_t, const float*, const index_t*,
                                                    const float*, index_t, index_t, index_t,
                                                    index_t, index_t, float*);
template void conv_kvec_backward_weight_avx2<double>(index_t, index_t, const double*,
                                                     const index_t*, const double*, index_t,
                                                     index_t, index_t, index_t, index_t, double*);
template <typename T>
void conv_pack_dyt_avx2(index_t Kg, index_t L, const T* d, index_t ldd, T* dst) {
  using S = Vec<T>;
  using V = typename S::V;
  constexpr int W = S::W, NR = 2 * W;
  for (index_t k0 = 0; k0 < Kg; k0 += NR) {
    T* out = dst + k0 * L;
    for (index_t kb = 0; kb < NR; kb += W) {
      const index_t ks = k0 + kb, nk = std::max<index_t>(0, std::min<index_t>(W, Kg - ks));
      index_t j0 = 0;
      if (nk == W)
        for (; j0 + W <= L; j0 += W) {
          V r[W];
          for (int k = 0; k < W; ++k) r[k] = S::load(d + (ks + k) * ldd + j0);
          S::transpose(r);
          for (int j = 0; j < W; ++j) S::store(out + (j0 + j) * NR + kb, r[j]);
        }
      for (index_t j = j0; j < L; ++j)
        for (index_t k = 0; k < W; ++k)
          out[j * NR + kb + k] = k < nk ? d[(ks + k) * ldd + j] : T(0);
    }
  }
}

// dst[t] = src[2 t] for t < n (the stride-2 rows of im2col); reads nothing past src[2 n - 2].
void conv_copy_stride2_avx2(const float* src, index_t n, float* dst) {
  index_t t = 0;
  for (; t + 9 <= n; t += 8) {  // reads src[2t, 2t + 16), inside [0, 2n - 1)
    const __m256 a0 = _mm256_loadu_ps(src + 2 * t), a1 = _mm256_loadu_ps(src + 2 * t + 8);
    const __m256 e = _mm256_shuffle_ps(a0, a1, 0x88);
    _mm256_storeu_ps(dst + t, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8)));
  }
  for (; t < n; ++t) dst[t] = src[2 * t];
}

void conv_copy_stride2_avx2(const double* src, index_t n, double* dst) {
  index_t t = 0;
  for (; t + 5 <= n; t += 4) {  // reads src[2t, 2t + 8), inside [0, 2n - 1)
    const __m256d a0 = _mm256_loadu_pd(src + 2 * t), a1 = _mm256_loadu_pd(src + 2 * t + 4);
    _mm256_storeu_pd(dst + t, _mm256_permute4x64_pd(_mm256_unpacklo_pd(a0, a1), 0xD8));
  }
  for (; t < n; ++t) dst[t] = src[2 * t];
}

template void conv_pack_dyt_avx2<float>(index_t, index_t, const float*, index_t, float*);
template void conv_pack_dyt_avx2<double>(index_t, index_t, const double*, index_t, double*);
template void conv_implicit_forward_avx2<float>(index_t, index_t, const float*, const index_t*,
                                                const float*, index_t, index_t, index_t,
                                                const float*, float*, index_t);
template void conv_implicit_forward_avx2<double>(index_t, index_t, const double*, const index_t*,
                                                 const double*, index_t, index_t, index_t,
                                                 const double*, double*, index_t);
template void conv_implicit_backward_weight_avx2<float>(index_t, index_t, const float*, index_t,
                                                        index_t, const index_t*, const float*,
                                                        index_t, index_t, index_t, float*);
template void conv_implicit_backward_weight_avx2<double>(index_t, index_t, const double*, index_t,
                                                         index_t, const index_t*, const double*,
                                                         index_t, index_t, index_t, double*);

}  // namespace axonal
