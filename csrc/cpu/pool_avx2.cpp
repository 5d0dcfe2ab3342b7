// pool_avx2.cpp: AVX2 fast paths for the most common pooling layer, 2x2 windows with stride 2 and
// no padding (compiled with -mavx2 -mfma, called only when simd_path() is avx2). One plane at a
// time: rows 2p and 2p + 1 of x give output row p; even and odd columns are separated with
// in-lane shuffles and a cross-lane permute.
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "cpu/pool.h"

namespace {

using axonal::index_t;

// Even / odd elements of the 16 floats a0 | a1, in order: 8 + 8.
inline void deinterleave(__m256 a0, __m256 a1, __m256& even, __m256& odd) {
  const __m256 e = _mm256_shuffle_ps(a0, a1, 0x88), o = _mm256_shuffle_ps(a0, a1, 0xDD);
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8));
}

// Even / odd elements of the 8 doubles a0 | a1: 4 + 4.
inline void deinterleave(__m256d a0, __m256d a1, __m256d& even, __m256d& odd) {
  const __m256d e = _mm256_unpacklo_pd(a0, a1), o = _mm256_unpackhi_pd(a0, a1);
  even = _mm256_permute4x64_pd(e, 0xD8);
  odd = _mm256_permute4x64_pd(o, 0xD8);
}

// One candidate of the window: take it where it beats the maximum or is NaN (PyTorch's rule).
inline void take(__m256 c, __m256i ci, __m256& m, __m256i& idx) {
  const __m256 t = _mm256_or_ps(_mm256_cmp_ps(c, m, _CMP_GT_OQ), _mm256_cmp_ps(c, c, _CMP_UNORD_Q));
  m = _mm256_blendv_ps(m, c, t);
  idx = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(idx), _mm256_castsi256_ps(ci), t));
}

inline void take(__m256d c, __m256i ci, __m256d& m, __m256i& idx) {
  const __m256d t =
      _mm256_or_pd(_mm256_cmp_pd(c, m, _CMP_GT_OQ), _mm256_cmp_pd(c, c, _CMP_UNORD_Q));
  m = _mm256_blendv_pd(m, c, t);
  idx = _mm256_castpd_si256(_mm256_blendv_pd(_mm256_castsi256_pd(idx), _mm256_castsi256_pd(ci), t));
}

// The scalar rule for the columns the vectors leave over.
template <typename T>
inline void max_window_scalar(const T* r0, const T* r1, index_t q, index_t b0, index_t W, T* y,
                              std::int64_t* idx) {
  const T c[4] = {r0[2 * q], r0[2 * q + 1], r1[2 * q], r1[2 * q + 1]};
  const index_t ci[4] = {b0 + 2 * q, b0 + 2 * q + 1, b0 + W + 2 * q, b0 + W + 2 * q + 1};
  T m = c[0];
  index_t id = ci[0];
  for (int k = 1; k < 4; ++k)
    if (c[k] > m || std::isnan(c[k])) m = c[k], id = ci[k];
  *y = m;
  *idx = id;
}

}  // namespace

namespace axonal {

// x: planes (H, W) -> y, idx: planes (H / 2, W / 2), planes [lo, hi)
void max_pool2x2_avx2(index_t lo, index_t hi, index_t H, index_t W, const float* x, float* y,
                      std::int64_t* idx) {
  const index_t P = H / 2, Q = W / 2;
  const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  for (index_t plane = lo; plane < hi; ++plane) {
    const float* xp = x + plane * H * W;
    for (index_t p = 0; p < P; ++p) {
      const float* r0 = xp + 2 * p * W;
      const float* r1 = r0 + W;
      float* yr = y + (plane * P + p) * Q;
      std::int64_t* ir = idx + (plane * P + p) * Q;
      const index_t b0 = 2 * p * W;  // fits int32: H * W < 2^31 is checked by the caller
      index_t q = 0;
      for (; q + 8 <= Q; q += 8) {
        __m256 c0, c1, c2, c3;
        deinterleave(_mm256_loadu_ps(r0 + 2 * q), _mm256_loadu_ps(r0 + 2 * q + 8), c0, c1);
        deinterleave(_mm256_loadu_ps(r1 + 2 * q), _mm256_loadu_ps(r1 + 2 * q + 8), c2, c3);
        const __m256i i0 = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(b0 + 2 * q)), lane2);
        const __m256i one = _mm256_set1_epi32(1), row = _mm256_set1_epi32(static_cast<int>(W));
        __m256 m = c0;
        __m256i id = i0;
        take(c1, _mm256_add_epi32(i0, one), m, id);
        take(c2, _mm256_add_epi32(i0, row), m, id);
        take(c3, _mm256_add_epi32(_mm256_add_epi32(i0, row), one), m, id);
        _mm256_storeu_ps(yr + q, m);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(ir + q),
                            _mm256_cvtepi32_epi64(_mm256_castsi256_si128(id)));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(ir + q + 4),
                            _mm256_cvtepi32_epi64(_mm256_extracti128_si256(id, 1)));
      }
      for (; q < Q; ++q) max_window_scalar(r0, r1, q, b0, W, yr + q, ir + q);
    }
  }
}

void max_pool2x2_avx2(index_t lo, index_t hi, index_t H, index_t W, const double* x, double* y,
                      std::int64_t* idx) {
  const index_t P = H / 2, Q = W / 2;
  const __m256i lane2 = _mm256_setr_epi64x(0, 2, 4, 6);
  for (index_t plane = lo; plane < hi; ++plane) {
    const double* xp = x + plane * H * W;
    for (index_t p = 0; p < P; ++p) {
      const double* r0 = xp + 2 * p * W;
      const double* r1 = r0 + W;
      double* yr = y + (plane * P + p) * Q;
      std::int64_t* ir = idx + (plane * P + p) * Q;
      const index_t b0 = 2 * p * W;
      index_t q = 0;
      for (; q + 4 <= Q; q += 4) {
        __m256d c0, c1, c2, c3;
        deinterleave(_mm256_loadu_pd(r0 + 2 * q), _mm256_loadu_pd(r0 + 2 * q + 4), c0, c1);
        deinterleave(_mm256_loadu_pd(r1 + 2 * q), _mm256_loadu_pd(r1 + 2 * q + 4), c2, c3);
        const __m256i i0 = _mm256_add_epi64(_mm256_set1_epi64x(b0 + 2 * q), lane2);
        const __m256i one = _mm256_set1_epi64x(1), row = _mm256_set1_epi64x(W);
        __m256d m = c0;
        __m256i id = i0;
        take(c1, _mm256_add_epi64(i0, one), m, id);
        take(c2, _mm256_add_epi64(i0, row), m, id);
        take(c3, _mm256_add_epi64(_mm256_add_epi64(i0, row), one), m, id);
        _mm256_storeu_pd(yr + q, m);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(ir + q), id);
      }
      for (; q < Q; ++q) max_window_scalar(r0, r1, q, b0, W, yr + q, ir + q);
    }
  }
}

// y = (sum of the 2x2 window) / divisor
void avg_pool2x2_avx2(index_t lo, index_t hi, index_t H, index_t W, float divisor, const float* x,
                      float* y) {
  const index_t P = H / 2, Q = W / 2;
  const __m256 d = _mm256_set1_ps(divisor);
  for (index_t plane = lo; plane < hi; ++plane) {
    const float* xp = x + plane * H * W;
    for (index_t p = 0; p < P; ++p) {
      const float* r0 = xp + 2 * p * W;
      const float* r1 = r0 + W;
      float* yr = y + (plane * P + p) * Q;
      index_t q = 0;
      for (; q + 8 <= Q; q += 8) {
        const __m256 s0 = _mm256_add_ps(_mm256_loadu_ps(r0 + 2 * q), _mm256_loadu_ps(r1 + 2 * q));
        const __m256 s1 =
            _mm256_add_ps(_mm256_loadu_ps(r0 + 2 * q + 8), _mm256_loadu_ps(r1 + 2 * q + 8));
        // hadd pairs (0+1, 2+3) within 128-bit lanes: [s0 01 23, s1 01 23 | s0 45 67, s1 45 67]
        const __m256 h = _mm256_hadd_ps(s0, s1);
        const __m256 ordered = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(h), 0xD8));
        _mm256_storeu_ps(yr + q, _mm256_div_ps(ordered, d));
      }
      for (; q < Q; ++q)
        yr[q] = ((r0[2 * q] + r1[2 * q]) + (r0[2 * q + 1] + r1[2 * q + 1])) / divisor;
    }
  }
}

void avg_pool2x2_avx2(index_t lo, index_t hi, index_t H, index_t W, double divisor, const double* x,
                      double* y) {
  const index_t P = H / 2, Q = W / 2;
  const __m256d d = _mm256_set1_pd(divisor);
  for (index_t plane = lo; plane < hi; ++plane) {
    const double* xp = x + plane * H * W;
    for (index_t p = 0; p < P; ++p) {
      const double* r0 = xp + 2 * p * W;
      const double* r1 = r0 + W;
      double* yr = y + (plane * P + p) * Q;
      index_t q = 0;
      for (; q + 4 <= Q; q += 4) {
        const __m256d s0 = _mm256_add_pd(_mm256_loadu_pd(r0 + 2 * q), _mm256_loadu_pd(r1 + 2 * q));
        const __m256d s1 =
            _mm256_add_pd(_mm256_loadu_pd(r0 + 2 * q + 4), _mm256_loadu_pd(r1 + 2 * q + 4));
        const __m256d h = _mm256_hadd_pd(s0, s1);  // [s0 01, s1 01, s0 23, s1 23]
        _mm256_storeu_pd(yr + q, _mm256_div_pd(_mm256_permute4x64_pd(h, 0xD8), d));
      }
      for (; q < Q; ++q)
        yr[q] = ((r0[2 * q] + r1[2 * q]) + (r0[2 * q + 1] + r1[2 * q + 1])) / divisor;
    }
  }
}

// Global average pooling: y[plane] = mean of the plane's n values, planes [lo, hi).
void global_avg_pool_avx2(index_t lo, index_t hi, index_t n, const float* x, float* y) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const index_t nfull = n / 8 * 8;
  const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n - nfull)), idx);
  const float count = static_cast<float>(n);
  for (index_t plane = lo; plane < hi; ++plane) {
    const float* a = x + plane * n;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    index_t i = 0;
    for (; i + 16 <= nfull; i += 16) {
      s0 = _mm256_add_ps(s0, _mm256_loadu_ps(a + i));
      s1 = _mm256_add_ps(s1, _mm256_loadu_ps(a + i + 8));
    }
    if (i < nfull) s0 = _mm256_add_ps(s0, _mm256_loadu_ps(a + i));
    if (n > nfull) s1 = _mm256_add_ps(s1, _mm256_maskload_ps(a + nfull, tail));
    const __m256 s = _mm256_add_ps(s0, s1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    y[plane] = _mm_cvtss_f32(h) / count;
  }
}

void global_avg_pool_avx2(index_t lo, index_t hi, index_t n, const double* x, double* y) {
  const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
  const index_t nfull = n / 4 * 4;
  const __m256i tail = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n - nfull), idx);
  const double count = static_cast<double>(n);
  for (index_t plane = lo; plane < hi; ++plane) {
    const double* a = x + plane * n;
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    index_t i = 0;
    for (; i + 8 <= nfull; i += 8) {
      s0 = _mm256_add_pd(s0, _mm256_loadu_pd(a + i));
      s1 = _mm256_add_pd(s1, _mm256_loadu_pd(a + i + 4));
    }
    if (i < nfull) s0 = _mm256_add_pd(s0, _mm256_loadu_pd(a + i));
    if (n > nfull) s1 = _mm256_add_pd(s1, _mm256_maskload_pd(a + nfull, tail));
    const __m256d s = _mm256_add_pd(s0, s1);
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    h = _mm_add_sd(h, _mm_unpackhi_pd(h, h));
    y[plane] = _mm_cvtsd_f64(h) / count;
  }
}

// dx (planes H x W, overwritten) = dy / divisor spread over each 2x2 window; the odd last row /
// column (no window) gets 0.
void avg_pool2x2_backward_avx2(index_t lo, index_t hi, index_t H, index_t W, float divisor,
                               const float* dy, float* dx) {
  const index_t P = H / 2, Q = W / 2;
  const __m256 d = _mm256_set1_ps(divisor);
  for (index_t plane = lo; plane < hi; ++plane) {
    float* xp = dx + plane * H * W;
    for (index_t p = 0; p < P; ++p) {
      const float* g = dy + (plane * P + p) * Q;
      float* r0 = xp + 2 * p * W;
      float* r1 = r0 + W;
      index_t q = 0;
      for (; q + 8 <= Q; q += 8) {
        const __m256 v = _mm256_div_ps(_mm256_loadu_ps(g + q), d);
        const __m256 a = _mm256_unpacklo_ps(v, v), b = _mm256_unpackhi_ps(v, v);
        const __m256 lo8 = _mm256_permute2f128_ps(a, b, 0x20),
                     hi8 = _mm256_permute2f128_ps(a, b, 0x31);
        _mm256_storeu_ps(r0 + 2 * q, lo8);
        _mm256_storeu_ps(r0 + 2 * q + 8, hi8);
        _mm256_storeu_ps(r1 + 2 * q, lo8);
        _mm256_storeu_ps(r1 + 2 * q + 8, hi8);
      }
      for (; q < Q; ++q) {
        const float v = g[q] / divisor;
        r0[2 * q] = r0[2 * q + 1] = r1[2 * q] = r1[2 * q + 1] = v;
      }
      if (W % 2) r0[W - 1] = r1[W - 1] = 0.0f;
    }
    if (H % 2)
      for (index_t i = 0; i < W; ++i) xp[(H - 1) * W + i] = 0.0f;
  }
}

void avg_pool2x2_backward_avx2(index_t lo, index_t hi, index_t H, index_t W, double divisor,
                               const double* dy, double* dx) {
  const index_t P = H / 2, Q = W / 2;
  const __m256d d = _mm256_set1_pd(divisor);
  for (index_t plane = lo; plane < hi; ++plane) {
    double* xp = dx + plane * H * W;
    for (index_t p = 0; p < P; ++p) {
      const double* g = dy + (plane * P + p) * Q;
      double* r0 = xp + 2 * p * W;
      double* r1 = r0 + W;
      index_t q = 0;
      for (; q + 4 <= Q; q += 4) {
        const __m256d v = _mm256_div_pd(_mm256_loadu_pd(g + q), d);
        const __m256d a = _mm256_unpacklo_pd(v, v), b = _mm256_unpackhi_pd(v, v);
        const __m256d lo4 = _mm256_permute2f128_pd(a, b, 0x20),
                      hi4 = _mm256_permute2f128_pd(a, b, 0x31);
        _mm256_storeu_pd(r0 + 2 * q, lo4);
        _mm256_storeu_pd(r0 + 2 * q + 4, hi4);
        _mm256_storeu_pd(r1 + 2 * q, lo4);
        _mm256_storeu_pd(r1 + 2 * q + 4, hi4);
      }
      for (; q < Q; ++q) {
        const double v = g[q] / divisor;
        r0[2 * q] = r0[2 * q + 1] = r1[2 * q] = r1[2 * q + 1] = v;
      }
      if (W % 2) r0[W - 1] = r1[W - 1] = 0.0;
    }
    if (H % 2)
      for (index_t i = 0; i < W; ++i) xp[(H - 1) * W + i] = 0.0;
  }
}

}  // namespace axonal
