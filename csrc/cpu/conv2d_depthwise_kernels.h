// conv2d_depthwise_kernels.h: the SIMD kernels of the direct (one input channel per group,
// depthwise) conv2d, written once over a vector type (simd_vec.h) and compiled once per
// instruction set: conv2d_depthwise_avx2.cpp instantiates them with Vec256 (-mavx2 -mfma),
// conv2d_depthwise_avx512.cpp with Vec512 (-mavx512f). Include only from those files.
//
// Every pass is written over "taps": a tap t is a weight wt[t] and an offset off[t] into a
// source buffer that conv2d.cpp prepared (a zero-padded, column-deinterleaved copy of a block of
// input rows, or of dy rows for backward-input), so that for output row m of the block the source
// of tap t is the contiguous run  src + m * step + off[t] + [0, Q). No edge cases are left for the
// inner loops: they run along the output columns q, a vector of W of them at a time.
//   forward:          y[m ldy + q] = bias + sum_t wt[t] src[m step + off[t] + q]
//                     register tile: MR (<= 4) rows x 2 vectors of q, one broadcast per tap
//   backward-weight:  acc[t] += sum_{m, q} dy[m lddy + q] src[m step + off[t] + q]
//                     register tile: up to kMaxTaps taps, one vector accumulator each
#pragma once
#include <algorithm>
#include <cstdint>

#include "cpu/conv2d_depthwise.h"
#include "cpu/simd_vec.h"

namespace axonal {
namespace conv_dw {

// ------------------------------------------------------------------ lane helpers
// Per vector type: load_range(p, a, b): lanes [a, b) of p (0 <= a <= b <= W), the others 0 and
// not read; evens(a0, a1): the even lanes of the 2W values a0 a1; interleave(e, o, lo, hi):
// lo hi = e0 o0 e1 o1 ...
template <class S>
struct Lanes;

#if defined(__AVX2__) && defined(__FMA__)
template <>
struct Lanes<Vec256<float>> {
  using V = __m256;
  static V load_range(const float* p, int a, int b) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m = _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(a - 1)),
                                       _mm256_cmpgt_epi32(_mm256_set1_epi32(b), idx));
    return _mm256_maskload_ps(p, m);
  }
  static V evens(V a0, V a1) {
    const __m256 e = _mm256_shuffle_ps(a0, a1, 0x88);  // x0 x2 x8 x10 | x4 x6 x12 x14
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8));
  }
  static void interleave(V e, V o, V& lo, V& hi) {
    const __m256 t0 = _mm256_unpacklo_ps(e, o), t1 = _mm256_unpackhi_ps(e, o);
    lo = _mm256_permute2f128_ps(t0, t1, 0x20);
    hi = _mm256_permute2f128_ps(t0, t1, 0x31);
  }
};

template <>
struct Lanes<Vec256<double>> {
  using V = __m256d;
  static V load_range(const double* p, int a, int b) {
    const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
    const __m256i m = _mm256_and_si256(_mm256_cmpgt_epi64(idx, _mm256_set1_epi64x(a - 1)),
                                       _mm256_cmpgt_epi64(_mm256_set1_epi64x(b), idx));
    return _mm256_maskload_pd(p, m);
  }
  static V evens(V a0, V a1) {
    return _mm256_permute4x64_pd(_mm256_unpacklo_pd(a0, a1), 0xD8);  // x0 x4 x2 x6 -> x0 x2 x4 x6
  }
  static void interleave(V e, V o, V& lo, V& hi) {
    const __m256d t0 = _mm256_unpacklo_pd(e, o), t1 = _mm256_unpackhi_pd(e, o);
    lo = _mm256_permute2f128_pd(t0, t1, 0x20);
    hi = _mm256_permute2f128_pd(t0, t1, 0x31);
  }
};
#endif

#if defined(__AVX512F__)
template <>
struct Lanes<Vec512<float>> {
  using V = __m512;
  static V load_range(const float* p, int a, int b) {
    const unsigned m = ((1u << b) - 1u) & ~((1u << a) - 1u);
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>(m), p);
  }
  static V evens(V a0, V a1) {
    const __m512i idx =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(a0, idx, a1);
  }
  static void interleave(V e, V o, V& lo, V& hi) {
    const __m512i il = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i ih =
        _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    lo = _mm512_permutex2var_ps(e, il, o);
    hi = _mm512_permutex2var_ps(e, ih, o);
  }
};

template <>
struct Lanes<Vec512<double>> {
  using V = __m512d;
  static V load_range(const double* p, int a, int b) {
    const unsigned m = ((1u << b) - 1u) & ~((1u << a) - 1u);
    return _mm512_maskz_loadu_pd(static_cast<__mmask8>(m), p);
  }
  static V evens(V a0, V a1) {
    return _mm512_permutex2var_pd(a0, _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14), a1);
  }
  static void interleave(V e, V o, V& lo, V& hi) {
    lo = _mm512_permutex2var_pd(e, _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), o);
    hi = _mm512_permutex2var_pd(e, _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15), o);
  }
};
#endif

inline index_t floor_div_any(index_t a, index_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline index_t ceil_div_nonneg(index_t a, index_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

// ------------------------------------------------------------------ source blocks
// dst[i][f][u] (row length sw wd) = row ih0 + i of src (hin x win), padded by `pad` zero columns
// on the left and zeros past its end, column f + u sw; rows outside [0, hin) are zero. Whole
// vectors are stored: up to W - 1 elements past the end of each row are overwritten (the next
// row, written afterwards, or the caller's slack past the last one). sw 1 and 2 vectorised: the
// split of a row into zeros, whole vectors and a masked tail is the same for every row and
// computed once.
template <template <typename> class Vec, typename T>
void copy_rows(const T* src, index_t hin, index_t win, index_t ih0, index_t nrows, index_t pad,
               index_t sw, index_t wd, T* dst) {
  using S = Vec<T>;
  using L = Lanes<S>;
  using V = typename S::V;
  constexpr int W = S::W;
  const index_t rowlen = sw * wd;
  if (sw > 2) {
    for (index_t i = 0; i < nrows; ++i) {
      T* d = dst + i * rowlen;
      const index_t ih = ih0 + i;
      for (index_t f = 0; f < sw; ++f)
        for (index_t u = 0; u < wd; ++u) {
          const index_t c = f + u * sw - pad;
          d[f * wd + u] = ih >= 0 && ih < hin && c >= 0 && c < win ? src[ih * win + c] : T(0);
        }
    }
    return;
  }
  // phase f: elements [lo, lo + n) come from source columns c0 + k sw, k < n
  index_t lo[2] = {0, 0}, n[2] = {0, 0}, c0[2] = {0, 0};
  for (index_t f = 0; f < sw; ++f) {
    lo[f] = std::min(wd, ceil_div_nonneg(pad - f, sw));  // first u with column >= 0
    const index_t hi = std::max(lo[f], std::min(wd, floor_div_any(win - 1 + pad - f, sw) + 1));
    n[f] = hi - lo[f];
    c0[f] = f + lo[f] * sw - pad;
  }
  for (index_t i = 0; i < nrows; ++i) {
    T* d = dst + i * rowlen;
    for (index_t u = 0; u < rowlen; u += W) S::store(d + u, S::zero());
    const index_t ih = ih0 + i;
    if (ih < 0 || ih >= hin) continue;
    const T* sr = src + ih * win;
    for (index_t f = 0; f < sw; ++f) {
      T* df = d + f * wd + lo[f];
      const T* sf = sr + c0[f];
      const index_t nf = n[f];
      index_t k = 0;
      if (sw == 1) {
        for (; k + W <= nf; k += W) S::store(df + k, S::load(sf + k));
        if (k < nf) S::store(df + k, L::load_range(sf + k, 0, static_cast<int>(nf - k)));
      } else {
        // whole vectors while the 2W values read stay inside the row's data
        for (; k + W < nf; k += W)
          S::store(df + k, L::evens(S::load(sf + 2 * k), S::load(sf + 2 * k + W)));
        if (k < nf) {
          const index_t left = 2 * (nf - k) - 1;  // source values still needed
          const V a0 = L::load_range(sf + 2 * k, 0, static_cast<int>(std::min<index_t>(W, left)));
          const V a1 =
              left > W ? L::load_range(sf + 2 * k + W, 0, static_cast<int>(left - W)) : S::zero();
          S::store(df + k, L::evens(a0, a1));
        }
      }
    }
  }
}

// dst[2 u] = even[u], dst[2 u + 1] = odd[u] for the positions < n (reads up to a vector past
// the ends of even and odd; writes nothing at dst + n or past it).
template <template <typename> class Vec, typename T>
void interleave2(const T* even, const T* odd, index_t n, T* dst) {
  using S = Vec<T>;
  constexpr int W = S::W;
  index_t c = 0;
  for (; c < n; c += 2 * W) {
    typename S::V lo, hi;
    Lanes<S>::interleave(S::load(even + c / 2), S::load(odd + c / 2), lo, hi);
    if (c + 2 * W <= n) {
      S::store(dst + c, lo);
      S::store(dst + c + W, hi);
    } else if (c + W <= n) {
      S::store(dst + c, lo);
      if (c + W < n) S::store_n(dst + c + W, hi, static_cast<int>(n - c - W));
    } else {
      S::store_n(dst + c, lo, static_cast<int>(n - c));
    }
  }
}

// ------------------------------------------------------------------ forward
// Rows [0, MR) x NV vectors of the output: vector v of row m reads rp[m] + off[t] + col[v].
template <template <typename> class Vec, typename T, int MR, int NV>
inline void fwd_tile(index_t ntaps, const T* __restrict wt, const index_t* __restrict off,
                     const T* const* rp, const index_t* col, T bias,
                     typename Vec<T>::V (&acc)[MR][NV]) {
  using S = Vec<T>;
  for (int m = 0; m < MR; ++m)
    for (int v = 0; v < NV; ++v) acc[m][v] = S::set1(bias);
  const T* p[MR][NV];
  for (int m = 0; m < MR; ++m)
    for (int v = 0; v < NV; ++v) p[m][v] = rp[m] + col[v];
  for (index_t t = 0; t < ntaps; ++t) {
    const typename S::V w = S::bcast(wt + t);
    const index_t o = off[t];
    for (int m = 0; m < MR; ++m)
      for (int v = 0; v < NV; ++v) acc[m][v] = S::fma(w, S::load(p[m][v] + o), acc[m][v]);
  }
}

// MR output rows, all Q columns, in tiles of NV vectors. A row longer than one vector ends with a
// full vector at Q - W (overlapping the one before: the same values are written twice), a
// shorter one with a masked store. Reads src[m step + off[t] + [0, max(Q, W))].
template <template <typename> class Vec, typename T, int MR, int NV>
inline void fwd_rows(index_t ntaps, const T* wt, const index_t* off, const T* src, index_t step,
                     index_t Q, T bias, T* y, index_t ldy) {
  using S = Vec<T>;
  using V = typename S::V;
  constexpr int W = S::W;
  const T* rp[MR];
  for (int m = 0; m < MR; ++m) rp[m] = src + m * step;
  if (Q < W) {
    const index_t col[1] = {0};
    V acc[MR][1];
    fwd_tile<Vec, T, MR, 1>(ntaps, wt, off, rp, col, bias, acc);
    for (int m = 0; m < MR; ++m) S::store_n(y + m * ldy, acc[m][0], static_cast<int>(Q));
    return;
  }
  const index_t nv = (Q + W - 1) / W;  // vector j at column min(j W, Q - W)
  index_t j = 0;
  for (; j + NV <= nv; j += NV) {
    index_t col[NV];
    for (int v = 0; v < NV; ++v) col[v] = std::min<index_t>((j + v) * W, Q - W);
    V acc[MR][NV];
    fwd_tile<Vec, T, MR, NV>(ntaps, wt, off, rp, col, bias, acc);
    for (int m = 0; m < MR; ++m)
      for (int v = 0; v < NV; ++v) S::store(y + m * ldy + col[v], acc[m][v]);
  }
  for (; j < nv; ++j) {
    const index_t col[1] = {std::min<index_t>(j * W, Q - W)};
    V acc[MR][1];
    fwd_tile<Vec, T, MR, 1>(ntaps, wt, off, rp, col, bias, acc);
    for (int m = 0; m < MR; ++m) S::store(y + m * ldy + col[0], acc[m][0]);
  }
}

// Rows per register tile: enough independent accumulators to hide the FMA latency (12 at most:
// 16 ymm registers on AVX2), the row blocks of near-equal size.
template <template <typename> class Vec, typename T, int NV>
void fwd_blocks(index_t ntaps, const T* wt, const index_t* off, const T* src, index_t step,
                index_t rows, index_t Q, T bias, T* y, index_t ldy) {
  constexpr int kMaxRows = 12 / NV;
  const index_t blocks = (rows + kMaxRows - 1) / kMaxRows;
  index_t m = 0;
  for (index_t b = 0; b < blocks; ++b) {
    const index_t mr = (rows - m) / (blocks - b);
    const T* s = src + m * step;
    T* yb = y + m * ldy;
    switch (mr) {
#define AXONAL_DW_FWD_CASE(K)                                             \
  case K:                                                                 \
    if constexpr (K <= kMaxRows)                                          \
      fwd_rows<Vec, T, K, NV>(ntaps, wt, off, s, step, Q, bias, yb, ldy); \
    break;
      AXONAL_DW_FWD_CASE(1)
      AXONAL_DW_FWD_CASE(2)
      AXONAL_DW_FWD_CASE(3)
      AXONAL_DW_FWD_CASE(4)
      AXONAL_DW_FWD_CASE(5)
      AXONAL_DW_FWD_CASE(6)
      AXONAL_DW_FWD_CASE(7)
      AXONAL_DW_FWD_CASE(8)
      AXONAL_DW_FWD_CASE(9)
      AXONAL_DW_FWD_CASE(10)
      AXONAL_DW_FWD_CASE(11)
      AXONAL_DW_FWD_CASE(12)
#undef AXONAL_DW_FWD_CASE
      default:
        break;
    }
    m += mr;
  }
}

template <template <typename> class Vec, typename T>
void forward(index_t ntaps, const T* wt, const index_t* off, const T* src, index_t step,
             index_t rows, index_t Q, T bias, T* y, index_t ldy) {
  constexpr int W = Vec<T>::W;
  if (Q <= W)  // one vector per row: tiles of up to 12 rows
    fwd_blocks<Vec, T, 1>(ntaps, wt, off, src, step, rows, Q, bias, y, ldy);
  else
    fwd_blocks<Vec, T, 2>(ntaps, wt, off, src, step, rows, Q, bias, y, ldy);
}

// ------------------------------------------------------------------ forward, row-shared form
// The same sum for a kernel of R rows and KS columns with vertical stride 1 and dilation 1:
// tap (r, s) reads src + (m + r) ld + co[s] for output row m. Input row i of a tile of MR output
// rows feeds rows m = i - r, so it is loaded once for the R of them: per kernel column s, R
// weights in registers, (MR + R - 1) NV loads for MR R NV FMAs (against MR R NV + R of the tap
// form). w: (R, KS) row-major.
template <template <typename> class Vec, typename T, int R, int MR, int NV>
inline void grid_tile(index_t KS, const T* __restrict w, const index_t* __restrict co, const T* src,
                      index_t ld, const index_t* col, T bias, T* y, index_t ldy, int nstore) {
  using S = Vec<T>;
  using V = typename S::V;
  V acc[MR][NV];
  for (int m = 0; m < MR; ++m)
    for (int v = 0; v < NV; ++v) acc[m][v] = S::set1(bias);
  for (index_t s = 0; s < KS; ++s) {
    V wr[R];
    for (int r = 0; r < R; ++r) wr[r] = S::bcast(w + r * KS + s);
    const T* base = src + co[s];
#pragma GCC unroll 16
    for (int i = 0; i < MR + R - 1; ++i) {
      V x[NV];
      for (int v = 0; v < NV; ++v) x[v] = S::load(base + i * ld + col[v]);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        const int m = i - r;
        if (m >= 0 && m < MR)
          for (int v = 0; v < NV; ++v) acc[m][v] = S::fma(wr[r], x[v], acc[m][v]);
      }
    }
  }
  for (int m = 0; m < MR; ++m)
    for (int v = 0; v < NV; ++v) {
      if (nstore < S::W)
        S::store_n(y + m * ldy + col[v], acc[m][v], nstore);
      else
        S::store(y + m * ldy + col[v], acc[m][v]);
    }
}

// Rows [0, rows - rows % MR) in tiles of MR rows; the columns as in fwd_rows (full vectors, the
// last one ending at Q, or one masked vector when Q < W). Returns the rows done.
template <template <typename> class Vec, typename T, int R, int MR, int NV>
index_t grid_rows(index_t KS, const T* w, const index_t* co, const T* src, index_t ld, index_t rows,
                  index_t Q, T bias, T* y, index_t ldy) {
  constexpr int W = Vec<T>::W;
  const index_t done = rows - rows % MR;
  for (index_t m = 0; m < done; m += MR) {
    const T* s = src + m * ld;
    T* yb = y + m * ldy;
    if (Q < W) {
      const index_t col[1] = {0};
      grid_tile<Vec, T, R, MR, 1>(KS, w, co, s, ld, col, bias, yb, ldy, static_cast<int>(Q));
      continue;
    }
    const index_t nv = (Q + W - 1) / W;
    index_t j = 0;
    for (; j + NV <= nv; j += NV) {
      index_t col[NV];
      for (int v = 0; v < NV; ++v) col[v] = std::min<index_t>((j + v) * W, Q - W);
      grid_tile<Vec, T, R, MR, NV>(KS, w, co, s, ld, col, bias, yb, ldy, W);
    }
    for (; j < nv; ++j) {
      const index_t col[1] = {std::min<index_t>(j * W, Q - W)};
      grid_tile<Vec, T, R, MR, 1>(KS, w, co, s, ld, col, bias, yb, ldy, W);
    }
  }
  return done;
}

constexpr int kMaxGridTaps = 64;

// y[m ldy + q] = bias + sum_{r < R, s < KS} w[r KS + s] src[(m + r) ld + co[s] + q]; R in 1..5
// (else, and for the rows left over by the tiles, the tap form). Tiles: ymm / zmm registers for
// MR NV accumulators, R weights and NV inputs (16 on AVX2).
template <template <typename> class Vec, typename T>
void forward_grid(index_t R, index_t KS, const T* w, const index_t* co, const T* src, index_t ld,
                  index_t rows, index_t Q, T bias, T* y, index_t ldy) {
  constexpr int W = Vec<T>::W;
  const bool one = Q <= W;
  index_t done = 0;
  switch (R) {
    case 2:
      done = one ? grid_rows<Vec, T, 2, 8, 1>(KS, w, co, src, ld, rows, Q, bias, y, ldy)
                 : grid_rows<Vec, T, 2, 5, 2>(KS, w, co, src, ld, rows, Q, bias, y, ldy);
      break;
    case 3:
      done = one ? grid_rows<Vec, T, 3, 8, 1>(KS, w, co, src, ld, rows, Q, bias, y, ldy)
                 : grid_rows<Vec, T, 3, 5, 2>(KS, w, co, src, ld, rows, Q, bias, y, ldy);
      break;
    case 4:
      done = one ? grid_rows<Vec, T, 4, 8, 1>(KS, w, co, src, ld, rows, Q, bias, y, ldy)
                 : grid_rows<Vec, T, 4, 4, 2>(KS, w, co, src, ld, rows, Q, bias, y, ldy);
      break;
    case 5:
      done = one ? grid_rows<Vec, T, 5, 8, 1>(KS, w, co, src, ld, rows, Q, bias, y, ldy)
                 : grid_rows<Vec, T, 5, 4, 2>(KS, w, co, src, ld, rows, Q, bias, y, ldy);
      break;
    default:
      break;
  }
  if (done == rows) return;
  // the rows left over: the tap form (R KS <= kMaxGridTaps: the caller's condition)
  index_t off[kMaxGridTaps];
  for (index_t r = 0; r < R; ++r)
    for (index_t s = 0; s < KS; ++s) off[r * KS + s] = r * ld + co[s];
  forward<Vec, T>(R * KS, w, off, src + done * ld, ld, rows - done, Q, bias, y + done * ldy, ldy);
}

// ------------------------------------------------------------------ backward weight
// NT taps at once: acc[t] += sum over rows m < rows and columns q < Q of
// dy[m lddy + q] * src[m step + off[t] + q]. The last vector of a row is a masked load of both
// operands: nothing past column Q is read, so a non-finite value there never meets a zero.
template <template <typename> class Vec, typename T, int NT>
inline void bwdw_taps(const index_t* __restrict off, const T* src, index_t step, index_t rows,
                      index_t Q, const T* dy, index_t lddy, T* acc) {
  using S = Vec<T>;
  using V = typename S::V;
  constexpr int W = S::W;
  V a[NT];
  index_t o[NT];
  for (int t = 0; t < NT; ++t) {
    a[t] = S::zero();
    o[t] = off[t];
  }
  const index_t qfull = (Q / W) * W;
  const int tail = static_cast<int>(Q - qfull);
  for (index_t m = 0; m < rows; ++m) {
    const T* d = dy + m * lddy;
    const T* s = src + m * step;
    for (index_t q = 0; q < qfull; q += W) {
      const V dv = S::load(d + q);
      for (int t = 0; t < NT; ++t) a[t] = S::fma(dv, S::load(s + o[t] + q), a[t]);
    }
    if (tail) {
      const V dv = S::load_n(d + qfull, tail);
      for (int t = 0; t < NT; ++t) a[t] = S::fma(dv, S::load_n(s + o[t] + qfull, tail), a[t]);
    }
  }
  for (int t = 0; t < NT; ++t) acc[t] += S::hsum(a[t]);
}

constexpr int kMaxTaps = 9;  // accumulators held at once (a 3x3 kernel in one pass)

template <template <typename> class Vec, typename T>
void backward_weight(index_t ntaps, const index_t* off, const T* src, index_t step, index_t rows,
                     index_t Q, const T* dy, index_t lddy, T* acc) {
  // near-equal groups of at most kMaxTaps taps (25 -> 9 + 8 + 8): no group is left with a
  // single latency-bound accumulator
  const index_t groups = (ntaps + kMaxTaps - 1) / kMaxTaps;
  index_t t0 = 0;
  for (index_t g = 0; g < groups; ++g) {
    const index_t n = (ntaps - t0) / (groups - g);
    const index_t* o = off + t0;
    T* a = acc + t0;
    switch (n) {
#define AXONAL_DW_BWDW_CASE(K)                                \
  case K:                                                     \
    bwdw_taps<Vec, T, K>(o, src, step, rows, Q, dy, lddy, a); \
    break;
      AXONAL_DW_BWDW_CASE(1)
      AXONAL_DW_BWDW_CASE(2)
      AXONAL_DW_BWDW_CASE(3)
      AXONAL_DW_BWDW_CASE(4)
      AXONAL_DW_BWDW_CASE(5)
      AXONAL_DW_BWDW_CASE(6)
      AXONAL_DW_BWDW_CASE(7)
      AXONAL_DW_BWDW_CASE(8)
      AXONAL_DW_BWDW_CASE(9)
#undef AXONAL_DW_BWDW_CASE
      default:
        break;
    }
    t0 += n;
  }
}

}  // namespace conv_dw
}  // namespace axonal
