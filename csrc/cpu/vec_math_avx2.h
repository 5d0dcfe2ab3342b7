// vec_math_avx2.h: float32 exp, log, sigmoid and tanh on 8-lane AVX2 vectors, and loads / stores
// of partial vectors, for the kernels compiled with -mavx2 -mfma (softmax, LSTM cell). Internal
// linkage: nothing built for AVX2 reaches the portable code through the linker.
//   exp: x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in a short high part and a correction so
//        that n ln2 is exact), e^r by its degree-7 Taylor polynomial (truncation error below 6e-9
//        relative, under the float rounding), 2^n put into the exponent bits.
#pragma once
#include <immintrin.h>

#include <cstring>

namespace {

// e^x for x <= 88.37 (the kernels only need x <= 0: x - max, or a log-probability); below
// ln(FLT_MIN) = -87.34 the result is flushed to 0 (so e^-inf = 0), NaN stays NaN.
inline __m256 exp_ps(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.336544f);
  const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  // min/max return their second operand when one is NaN: written this way round, NaN passes
  x = _mm256_max_ps(lo, _mm256_min_ps(_mm256_set1_ps(88.37626f), x));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i e =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

// log(s) for s >= 1 (a sum of exponentials that includes e^0) or NaN: s = 2^e m with m in
// [sqrt(1/2), sqrt(2)), log m = 2 atanh(t) with t = (m - 1) / (m + 1), |t| <= 0.172, by its series
// to t^9 (truncation below 1e-9 relative).
inline __m256 log_ps(__m256 s) {
  const __m256i bits = _mm256_castps_si256(s);
  __m256i e = _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127));
  __m256 m =
      _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)),
                                          _mm256_set1_epi32(0x3f800000)));  // [1, 2)
  const __m256 big = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
  m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
  e = _mm256_sub_epi32(e, _mm256_castps_si256(big));  // big lanes are -1: e + 1
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 t = _mm256_div_ps(_mm256_sub_ps(m, one), _mm256_add_ps(m, one));
  const __m256 t2 = _mm256_mul_ps(t, t);
  __m256 p = _mm256_set1_ps(1.0f / 9.0f);
  p = _mm256_fmadd_ps(p, t2, _mm256_set1_ps(1.0f / 7.0f));
  p = _mm256_fmadd_ps(p, t2, _mm256_set1_ps(1.0f / 5.0f));
  p = _mm256_fmadd_ps(p, t2, _mm256_set1_ps(1.0f / 3.0f));
  p = _mm256_fmadd_ps(p, t2, one);
  const __m256 lm = _mm256_mul_ps(_mm256_add_ps(t, t), p);
  const __m256 r = _mm256_fmadd_ps(_mm256_cvtepi32_ps(e), _mm256_set1_ps(0.693147181f), lm);
  return _mm256_blendv_ps(r, s, _mm256_cmp_ps(s, s, _CMP_UNORD_Q));
}

// 1 / (1 + e^-x), for any x (e^-x saturates at 2.4e38 for x < -88.4: the result is then ~0).
inline __m256 sigmoid_ps(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

// tanh x: an odd series to x^9 for |x| < 0.25 (relative error ~1e-9, where 1 - e^-2|x| would
// cancel), else sign(x) (1 - e) / (1 + e) with e = e^(-2|x|); NaN stays NaN.
inline __m256 tanh_ps(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 ax = _mm256_andnot_ps(sign, x);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 e = exp_ps(_mm256_mul_ps(ax, _mm256_set1_ps(-2.0f)));
  const __m256 big = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
  const __m256 x2 = _mm256_mul_ps(x, x);
  // tanh x = x - x^3 p(x^2),  p(u) = 1/3 - 2/15 u + 17/315 u^2 - 62/2835 u^3
  __m256 p = _mm256_set1_ps(-62.0f / 2835.0f);
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(17.0f / 315.0f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-2.0f / 15.0f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(1.0f / 3.0f));
  const __m256 small = _mm256_fnmadd_ps(_mm256_mul_ps(x2, x), p, x);
  const __m256 r = _mm256_or_ps(_mm256_and_ps(sign, x), big);
  const __m256 use_small = _mm256_cmp_ps(ax, _mm256_set1_ps(0.25f), _CMP_LT_OQ);
  return _mm256_blendv_ps(r, small, use_small);
}

// The first n < 8 floats of p in a vector, the other lanes `fill` (nothing past p + n is read).
inline __m256 load_part(const float* p, int n, float fill) {
  alignas(32) float buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = fill;
  std::memcpy(buf, p, sizeof(float) * n);
  return _mm256_load_ps(buf);
}

inline void store_part(float* p, __m256 v, int n) {
  alignas(32) float buf[8];
  _mm256_store_ps(buf, v);
  std::memcpy(p, buf, sizeof(float) * n);
}

}  // namespace
