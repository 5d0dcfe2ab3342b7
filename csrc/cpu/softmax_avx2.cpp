// softmax_avx2.cpp: float32 softmax / log-softmax kernels with AVX2 + FMA (see softmax.h).
// Compiled with -mavx2 -mfma and called only where the CPU has them (softmax.cpp dispatches).
// exp and log come from vec_math_avx2.h.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "cpu/softmax.h"
#include "cpu/vec_math_avx2.h"

namespace axonal {

namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// ------------------------------------------------------------------ rows (inner == 1)
template <bool LOG>
void forward_rows(index_t r0, index_t r1, index_t D, const float* x, float* y) {
  const index_t D32 = D / 32 * 32, D8 = D / 8 * 8;
  const int rem = static_cast<int>(D - D8);
  for (index_t r = r0; r < r1; ++r) {
    const float* xr = x + r * D;
    float* yr = y + r * D;
    __m256 m0 = _mm256_set1_ps(kNegInf), m1 = m0, m2 = m0, m3 = m0;
    index_t j = 0;
    for (; j < D32; j += 32) {
      m0 = _mm256_max_ps(m0, _mm256_loadu_ps(xr + j));
      m1 = _mm256_max_ps(m1, _mm256_loadu_ps(xr + j + 8));
      m2 = _mm256_max_ps(m2, _mm256_loadu_ps(xr + j + 16));
      m3 = _mm256_max_ps(m3, _mm256_loadu_ps(xr + j + 24));
    }
    for (; j < D8; j += 8) m0 = _mm256_max_ps(m0, _mm256_loadu_ps(xr + j));
    if (rem) m1 = _mm256_max_ps(m1, load_part(xr + j, rem, kNegInf));
    const __m256 vm =
        _mm256_set1_ps(hmax(_mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3))));
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    j = 0;
    for (; j < D32; j += 32) {
      const __m256 e0 = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j), vm));
      const __m256 e1 = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j + 8), vm));
      const __m256 e2 = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j + 16), vm));
      const __m256 e3 = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j + 24), vm));
      if (!LOG) {
        _mm256_storeu_ps(yr + j, e0);
        _mm256_storeu_ps(yr + j + 8, e1);
        _mm256_storeu_ps(yr + j + 16, e2);
        _mm256_storeu_ps(yr + j + 24, e3);
      }
      s0 = _mm256_add_ps(s0, e0);
      s1 = _mm256_add_ps(s1, e1);
      s2 = _mm256_add_ps(s2, e2);
      s3 = _mm256_add_ps(s3, e3);
    }
    for (; j < D8; j += 8) {
      const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j), vm));
      if (!LOG) _mm256_storeu_ps(yr + j, e);
      s0 = _mm256_add_ps(s0, e);
    }
    __m256 et = _mm256_setzero_ps();
    if (rem) {  // the padding lanes hold -inf: e^-inf = 0 adds nothing
      et = exp_ps(_mm256_sub_ps(load_part(xr + j, rem, kNegInf), vm));
      s1 = _mm256_add_ps(s1, et);
    }
    const float sum = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    if (!LOG) {
      const __m256 inv = _mm256_set1_ps(1.0f / sum);
      for (j = 0; j < D8; j += 8)
        _mm256_storeu_ps(yr + j, _mm256_mul_ps(_mm256_loadu_ps(yr + j), inv));
      if (rem) store_part(yr + j, _mm256_mul_ps(et, inv), rem);
    } else {
      const __m256 ls = _mm256_set1_ps(std::log(sum));
      for (j = 0; j < D8; j += 8)
        _mm256_storeu_ps(yr + j, _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j), vm), ls));
      if (rem)
        store_part(yr + j, _mm256_sub_ps(_mm256_sub_ps(load_part(xr + j, rem, 0.0f), vm), ls), rem);
    }
  }
}

template <bool LOG>
void backward_rows(index_t r0, index_t r1, index_t D, const float* dy, const float* y, float* dx) {
  const index_t D16 = D / 16 * 16, D8 = D / 8 * 8;
  const int rem = static_cast<int>(D - D8);
  // the reduced term: dy (log) or dy * y (softmax)
  auto term = [](__m256 g, __m256 o) { return LOG ? g : _mm256_mul_ps(g, o); };
  auto grad = [](__m256 g, __m256 o, __m256 s) {
    return LOG ? _mm256_fnmadd_ps(exp_ps(o), s, g) : _mm256_mul_ps(o, _mm256_sub_ps(g, s));
  };
  for (index_t r = r0; r < r1; ++r) {
    const float* gr = dy + r * D;
    const float* yr = y + r * D;
    float* dr = dx + r * D;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    index_t j = 0;
    for (; j < D16; j += 16) {
      s0 = _mm256_add_ps(s0, term(_mm256_loadu_ps(gr + j), _mm256_loadu_ps(yr + j)));
      s1 = _mm256_add_ps(s1, term(_mm256_loadu_ps(gr + j + 8), _mm256_loadu_ps(yr + j + 8)));
    }
    for (; j < D8; j += 8)
      s0 = _mm256_add_ps(s0, term(_mm256_loadu_ps(gr + j), _mm256_loadu_ps(yr + j)));
    if (rem)  // zero padding: adds nothing
      s1 = _mm256_add_ps(s1, term(load_part(gr + j, rem, 0.0f), load_part(yr + j, rem, 0.0f)));
    const __m256 vs = _mm256_set1_ps(hsum(_mm256_add_ps(s0, s1)));
    for (j = 0; j < D8; j += 8)
      _mm256_storeu_ps(dr + j, grad(_mm256_loadu_ps(gr + j), _mm256_loadu_ps(yr + j), vs));
    if (rem)
      store_part(dr + j, grad(load_part(gr + j, rem, 0.0f), load_part(yr + j, rem, 0.0f), vs), rem);
  }
}

// ------------------------------------------------------------------ columns (inner > 1)
// NV vectors of columns (8 NV columns, or `part` < 8 columns when part > 0) of a (D, inner) block.
template <int NV, bool LOG>
void forward_col_group(index_t D, index_t inner, const float* x, float* y, int part) {
  auto ld = [&](const float* p, int v, float fill) {
    return part ? load_part(p, part, fill) : _mm256_loadu_ps(p + 8 * v);
  };
  auto st = [&](float* p, int v, __m256 val) {
    if (part)
      store_part(p, val, part);
    else
      _mm256_storeu_ps(p + 8 * v, val);
  };
  __m256 m[NV], s[NV];
  for (int v = 0; v < NV; ++v) m[v] = _mm256_set1_ps(kNegInf), s[v] = _mm256_setzero_ps();
  for (index_t d = 0; d < D; ++d)
    for (int v = 0; v < NV; ++v) m[v] = _mm256_max_ps(m[v], ld(x + d * inner, v, kNegInf));
  for (index_t d = 0; d < D; ++d)
    for (int v = 0; v < NV; ++v) {
      const __m256 e = exp_ps(_mm256_sub_ps(ld(x + d * inner, v, kNegInf), m[v]));
      if (!LOG) st(y + d * inner, v, e);
      s[v] = _mm256_add_ps(s[v], e);
    }
  if (!LOG) {
    for (int v = 0; v < NV; ++v) s[v] = _mm256_div_ps(_mm256_set1_ps(1.0f), s[v]);
    for (index_t d = 0; d < D; ++d)
      for (int v = 0; v < NV; ++v)
        st(y + d * inner, v, _mm256_mul_ps(ld(y + d * inner, v, 0.0f), s[v]));
  } else {
    for (int v = 0; v < NV; ++v) s[v] = log_ps(s[v]);
    for (index_t d = 0; d < D; ++d)
      for (int v = 0; v < NV; ++v)
        st(y + d * inner, v, _mm256_sub_ps(_mm256_sub_ps(ld(x + d * inner, v, 0.0f), m[v]), s[v]));
  }
}

template <int NV, bool LOG>
void backward_col_group(index_t D, index_t inner, const float* dy, const float* y, float* dx,
                        int part) {
  auto ld = [&](const float* p, int v) {
    return part ? load_part(p, part, 0.0f) : _mm256_loadu_ps(p + 8 * v);
  };
  __m256 s[NV];
  for (int v = 0; v < NV; ++v) s[v] = _mm256_setzero_ps();
  for (index_t d = 0; d < D; ++d)
    for (int v = 0; v < NV; ++v) {
      const __m256 g = ld(dy + d * inner, v);
      s[v] = _mm256_add_ps(s[v], LOG ? g : _mm256_mul_ps(g, ld(y + d * inner, v)));
    }
  for (index_t d = 0; d < D; ++d)
    for (int v = 0; v < NV; ++v) {
      const __m256 g = ld(dy + d * inner, v), o = ld(y + d * inner, v);
      const __m256 r =
          LOG ? _mm256_fnmadd_ps(exp_ps(o), s[v], g) : _mm256_mul_ps(o, _mm256_sub_ps(g, s[v]));
      if (part)
        store_part(dx + d * inner, r, part);
      else
        _mm256_storeu_ps(dx + d * inner + 8 * v, r);
    }
}

template <bool LOG>
void forward_cols(index_t D, index_t inner, index_t c0, index_t c1, const float* x, float* y) {
  index_t j = c0;
  for (; j + 32 <= c1; j += 32) forward_col_group<4, LOG>(D, inner, x + j, y + j, 0);
  for (; j + 8 <= c1; j += 8) forward_col_group<1, LOG>(D, inner, x + j, y + j, 0);
  if (j < c1) forward_col_group<1, LOG>(D, inner, x + j, y + j, static_cast<int>(c1 - j));
}

template <bool LOG>
void backward_cols(index_t D, index_t inner, index_t c0, index_t c1, const float* dy,
                   const float* y, float* dx) {
  index_t j = c0;
  for (; j + 32 <= c1; j += 32) backward_col_group<4, LOG>(D, inner, dy + j, y + j, dx + j, 0);
  for (; j + 8 <= c1; j += 8) backward_col_group<1, LOG>(D, inner, dy + j, y + j, dx + j, 0);
  if (j < c1) backward_col_group<1, LOG>(D, inner, dy + j, y + j, dx + j, static_cast<int>(c1 - j));
}

// Rows shorter than kSmallD: blocks of kSmallRows rows are transposed into a (D, kSmallRows)
// scratch where the column kernels vectorise across rows (a row of 2 to 15 floats would leave
// most vector lanes idle), then transposed back.
constexpr index_t kSmallD = 16, kSmallRows = 64;

inline void rows_to_cols(const float* src, index_t nb, index_t D, float* buf) {
  for (index_t i = 0; i < nb; ++i)
    for (index_t d = 0; d < D; ++d) buf[d * kSmallRows + i] = src[i * D + d];
}

inline void cols_to_rows(const float* buf, index_t nb, index_t D, float* dst) {
  for (index_t i = 0; i < nb; ++i)
    for (index_t d = 0; d < D; ++d) dst[i * D + d] = buf[d * kSmallRows + i];
}

template <bool LOG>
void forward_rows_small(index_t r0, index_t r1, index_t D, const float* x, float* y) {
  alignas(32) float buf[kSmallD * kSmallRows];
  for (index_t b0 = r0; b0 < r1; b0 += kSmallRows) {
    const index_t nb = std::min(kSmallRows, r1 - b0);
    rows_to_cols(x + b0 * D, nb, D, buf);
    forward_cols<LOG>(D, kSmallRows, 0, nb, buf, buf);  // in place: each pass reads, then writes
    cols_to_rows(buf, nb, D, y + b0 * D);
  }
}

template <bool LOG>
void backward_rows_small(index_t r0, index_t r1, index_t D, const float* dy, const float* y,
                         float* dx) {
  alignas(32) float gb[kSmallD * kSmallRows], yb[kSmallD * kSmallRows];
  for (index_t b0 = r0; b0 < r1; b0 += kSmallRows) {
    const index_t nb = std::min(kSmallRows, r1 - b0);
    rows_to_cols(dy + b0 * D, nb, D, gb);
    rows_to_cols(y + b0 * D, nb, D, yb);
    backward_cols<LOG>(D, kSmallRows, 0, nb, gb, yb, gb);  // dx over dy, element by element
    cols_to_rows(gb, nb, D, dx + b0 * D);
  }
}

}  // namespace

void softmax_forward_rows_f32_avx2(index_t r0, index_t r1, index_t D, const float* x, float* y,
                                   bool log) {
  if (D < kSmallD)
    log ? forward_rows_small<true>(r0, r1, D, x, y) : forward_rows_small<false>(r0, r1, D, x, y);
  else
    log ? forward_rows<true>(r0, r1, D, x, y) : forward_rows<false>(r0, r1, D, x, y);
}

void softmax_forward_cols_f32_avx2(index_t D, index_t inner, index_t c0, index_t c1, const float* x,
                                   float* y, bool log) {
  if (log)
    forward_cols<true>(D, inner, c0, c1, x, y);
  else
    forward_cols<false>(D, inner, c0, c1, x, y);
}

void softmax_backward_rows_f32_avx2(index_t r0, index_t r1, index_t D, const float* dy,
                                    const float* y, float* dx, bool log) {
  if (D < kSmallD)
    log ? backward_rows_small<true>(r0, r1, D, dy, y, dx)
        : backward_rows_small<false>(r0, r1, D, dy, y, dx);
  else
    log ? backward_rows<true>(r0, r1, D, dy, y, dx) : backward_rows<false>(r0, r1, D, dy, y, dx);
}

void softmax_backward_cols_f32_avx2(index_t D, index_t inner, index_t c0, index_t c1,
                                    const float* dy, const float* y, float* dx, bool log) {
  if (log)
    backward_cols<true>(D, inner, c0, c1, dy, y, dx);
  else
    backward_cols<false>(D, inner, c0, c1, dy, y, dx);
}

}  // namespace axonal
