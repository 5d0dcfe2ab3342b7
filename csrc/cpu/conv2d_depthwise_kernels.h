// conv2d_depthwise_kernels.h: the SIMD kernels of the direct (one input channel per group,
// depthwise) conv2d, written over a vector type (simd_vec.h) and a lane-helper type (Lanes,
// below); conv2d_depthwise_avx2.cpp instantiates them with Vec256 (-mavx2 -mfma). Include only
// from such files. Both SIMD paths use them: 512-bit versions measured 5-20% slower on a Zen 4
// on most shapes and passes (512-bit FMAs double-pumped, narrow planes in more masked tails).
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
#include <type_traits>

#include "cpu/conv2d_depthwise.h"
#include "cpu/simd_vec.h"

namespace axonal {
namespace conv_dw {

// ------------------------------------------------------------------ lane helpers
// Per vector type: Mask (a set of lanes), make_mask(a, b) (lanes [a, b), 0 <= a <= b <= W),
// load_masked / load_keep (the lanes of a mask, the others 0), evens(a0, a1): the even lanes of
// the 2W values a0 a1; interleave(e, o, lo, hi): lo hi = e0 o0 e1 o1 ...
template <class S>
struct Lanes;

#if defined(__AVX2__) && defined(__FMA__)
template <>
struct Lanes<Vec256<float>> {
  using V = __m256;
  using Mask = __m256i;
  static Mask make_mask(int a, int b) {  // lanes [a, b)
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(a - 1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32(b), idx));
  }
  // the lanes of m, the others 0: load_masked reads nothing outside them, load_keep may read the
  // whole vector (cheaper where it is readable: masked loads are slow on some CPUs)
  static V load_masked(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static V load_keep(const float* p, Mask m) {
    return _mm256_and_ps(_mm256_loadu_ps(p), _mm256_castsi256_ps(m));
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
  using Mask = __m256i;
  static Mask make_mask(int a, int b) {
    const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
    return _mm256_and_si256(_mm256_cmpgt_epi64(idx, _mm256_set1_epi64x(a - 1)),
                            _mm256_cmpgt_epi64(_mm256_set1_epi64x(b), idx));
  }
  static V load_masked(const double* p, Mask m) { return _mm256_maskload_pd(p, m); }
  static V load_keep(const double* p, Mask m) {
    return _mm256_and_pd(_mm256_loadu_pd(p), _mm256_castsi256_pd(m));
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
  // phase f: elements [lo, lo + n) come from source columns c0 + k sw, k < n; the vectors past
  // the whole ones read the source lanes of m0 and m1
  index_t lo[2] = {0, 0}, n[2] = {0, 0}, c0[2] = {0, 0}, kt[2] = {0, 0};
  typename L::Mask m0[2], m1[2];
  for (index_t f = 0; f < sw; ++f) {
    lo[f] = std::min(wd, ceil_div_nonneg(pad - f, sw));  // first u with column >= 0
    const index_t hi = std::max(lo[f], std::min(wd, floor_div_any(win - 1 + pad - f, sw) + 1));
    n[f] = hi - lo[f];
    c0[f] = f + lo[f] * sw - pad;
    if (sw == 1) {
      kt[f] = n[f] / W * W;
      m0[f] = m1[f] = L::make_mask(0, static_cast<int>(n[f] - kt[f]));
    } else {
      // whole vectors while the 2W values read stay inside the row's data; then the 2 (n - k)
      // - 1 values left
      kt[f] = n[f] > 0 ? (n[f] - 1) / W * W : 0;
      const index_t left = n[f] > 0 ? 2 * (n[f] - kt[f]) - 1 : 0;
      m0[f] = L::make_mask(0, static_cast<int>(std::min<index_t>(W, left)));
      m1[f] = L::make_mask(0, static_cast<int>(std::max<index_t>(0, left - W)));
    }
  }
  for (index_t i = 0; i < nrows; ++i) {
    T* d = dst + i * rowlen;
    const index_t ih = ih0 + i;
    if (ih < 0 || ih >= hin) {
      for (index_t u = 0; u < rowlen; u += W) S::store(d + u, S::zero());
      continue;
    }
    const T* sr = src + ih * win;
    for (index_t f = 0; f < sw; ++f) {
      T* df = d + f * wd;
      const T* sf = sr + c0[f];
      const index_t l = lo[f], nf = n[f];
      // zeros before the data, the data (whole vectors, then a tail whose lanes past the data
      // are 0), zeros after it
      for (index_t u = 0; u < l; u += W) S::store(df + u, S::zero());
      df += l;
      index_t k = 0;
      if (sw == 1) {
        for (; k < kt[f]; k += W) S::store(df + k, S::load(sf + k));
        if (k < nf) {
          S::store(df + k, L::load_masked(sf + k, m0[f]));
          k += W;
        }
      } else {
        for (; k < kt[f]; k += W)
          S::store(df + k, L::evens(S::load(sf + 2 * k), S::load(sf + 2 * k + W)));
        if (k < nf) {
          const V a0 = L::load_masked(sf + 2 * k, m0[f]);
          const V a1 = 2 * (nf - k) - 1 > W ? L::load_masked(sf + 2 * k + W, m1[f]) : S::zero();
          S::store(df + k, L::evens(a0, a1));
          k += W;
        }
      }
      for (; l + k < wd; k += W) S::store(df + k, S::zero());
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

// MR output rows (one tile of rows), all Q columns as in fwd_rows (full vectors, the last one
// ending at Q, or one masked vector when Q < W).
template <template <typename> class Vec, typename T, int R, int MR, int NV>
void grid_block(index_t KS, const T* w, const index_t* co, const T* src, index_t ld, index_t Q,
                T bias, T* y, index_t ldy) {
  constexpr int W = Vec<T>::W;
  if (Q < W) {
    const index_t col[1] = {0};
    grid_tile<Vec, T, R, MR, 1>(KS, w, co, src, ld, col, bias, y, ldy, static_cast<int>(Q));
    return;
  }
  const index_t nv = (Q + W - 1) / W;
  index_t j = 0;
  for (; j + NV <= nv; j += NV) {
    index_t col[NV];
    for (int v = 0; v < NV; ++v) col[v] = std::min<index_t>((j + v) * W, Q - W);
    grid_tile<Vec, T, R, MR, NV>(KS, w, co, src, ld, col, bias, y, ldy, W);
  }
  for (; j < nv; ++j) {
    const index_t col[1] = {std::min<index_t>(j * W, Q - W)};
    grid_tile<Vec, T, R, MR, 1>(KS, w, co, src, ld, col, bias, y, ldy, W);
  }
}

// A block of mr <= MR rows.
template <template <typename> class Vec, typename T, int R, int MR, int NV>
void grid_block_n(index_t mr, index_t KS, const T* w, const index_t* co, const T* src, index_t ld,
                  index_t Q, T bias, T* y, index_t ldy) {
  if constexpr (MR > 1) {
    if (mr < MR)
      return grid_block_n<Vec, T, R, MR - 1, NV>(mr, KS, w, co, src, ld, Q, bias, y, ldy);
  }
  grid_block<Vec, T, R, MR, NV>(KS, w, co, src, ld, Q, bias, y, ldy);
}

// All rows, in blocks of near-equal size (at most MR rows: the register budget).
template <template <typename> class Vec, typename T, int R, int MR, int NV>
void grid_rows(index_t KS, const T* w, const index_t* co, const T* src, index_t ld, index_t rows,
               index_t Q, T bias, T* y, index_t ldy) {
  const index_t blocks = (rows + MR - 1) / MR;
  index_t m = 0;
  for (index_t b = 0; b < blocks; ++b) {
    const index_t mr = (rows - m) / (blocks - b);
    grid_block_n<Vec, T, R, MR, NV>(mr, KS, w, co, src + m * ld, ld, Q, bias, y + m * ldy, ldy);
    m += mr;
  }
}

// y[m ldy + q] = bias + sum_{r < R, s < KS} w[r KS + s] src[(m + r) ld + co[s] + q], R in 1..5.
// Tiles: MR NV accumulators, R weights and NV inputs within the 16 ymm registers of AVX2.
template <template <typename> class Vec, typename T>
void forward_grid(index_t R, index_t KS, const T* w, const index_t* co, const T* src, index_t ld,
                  index_t rows, index_t Q, T bias, T* y, index_t ldy) {
  constexpr int W = Vec<T>::W;
  const bool one = Q <= W;
#define AXONAL_DW_GRID_CASE(RR, MR1, MR2)                                       \
  case RR:                                                                      \
    if (one)                                                                    \
      grid_rows<Vec, T, RR, MR1, 1>(KS, w, co, src, ld, rows, Q, bias, y, ldy); \
    else                                                                        \
      grid_rows<Vec, T, RR, MR2, 2>(KS, w, co, src, ld, rows, Q, bias, y, ldy); \
    break;
  switch (R) {
    AXONAL_DW_GRID_CASE(1, 8, 6)
    AXONAL_DW_GRID_CASE(2, 8, 5)
    AXONAL_DW_GRID_CASE(3, 8, 5)
    AXONAL_DW_GRID_CASE(4, 8, 4)
    AXONAL_DW_GRID_CASE(5, 8, 4)
    default:
      break;
  }
#undef AXONAL_DW_GRID_CASE
}

// ------------------------------------------------------------------ backward weight, row-shared
// acc[r KS + s] += sum_{m < rows, q < Q} dy[m lddy + q] src[(m + r) ld + co[s] + q] for kernel
// columns [s0, s0 + SC) of a dense R x KS kernel read with vertical stride 1 and dilation 1.
// Input rows i outer (in memory order), column vectors inner: each input vector (row i, kernel
// column s) is loaded once for the R dy rows i - r that meet it (R + SC loads for R SC FMAs;
// R SC accumulators, SC inputs and one dy vector in registers). The last vector of a row ends at Q
// with the lanes counted before masked off (Q < W: lanes [0, Q)); a product is formed only where
// its dy row exists, so a non-finite x never meets a zero.
template <template <typename> class Vec, typename T, int R, int SC, bool kChecked>
inline void bwdw_grid_row(index_t i, const T* const* xs, index_t ld, index_t rows, index_t Q,
                          const T* dy, index_t lddy, typename Lanes<Vec<T>>::Mask tail,
                          typename Vec<T>::V (&a)[R][SC]) {
  using S = Vec<T>;
  using L = Lanes<S>;
  using V = typename S::V;
  constexpr int W = S::W;
  // masked: the tail vector (Q < W: dy is read through the mask, it may end at Q)
  auto fmas = [&](index_t q, auto masked) {
    constexpr bool kMasked = decltype(masked)::value;
    V x[SC];
    for (int j = 0; j < SC; ++j) {
      const T* p = xs[j] + i * ld + q;
      x[j] = kMasked ? L::load_keep(p, tail) : S::load(p);
    }
    for (int r = 0; r < R; ++r) {
      if (kChecked && (i - r < 0 || i - r >= rows)) continue;
      const T* p = dy + (i - r) * lddy + q;
      const V d = !kMasked ? S::load(p) : Q < W ? L::load_masked(p, tail) : L::load_keep(p, tail);
      for (int j = 0; j < SC; ++j) a[r][j] = S::fma(d, x[j], a[r][j]);
    }
  };
  if (Q < W) return fmas(0, std::true_type());
  index_t q = 0;
  for (; q + W <= Q; q += W) fmas(q, std::false_type());
  if (q < Q) fmas(Q - W, std::true_type());  // lanes [W - Q % W, W) are new
}

template <template <typename> class Vec, typename T, int R, int SC>
void bwdw_grid_group(index_t KS, index_t s0, const index_t* co, const T* src, index_t ld,
                     index_t rows, index_t Q, const T* dy, index_t lddy, T* acc) {
  using S = Vec<T>;
  using L = Lanes<S>;
  using V = typename S::V;
  constexpr int W = S::W;
  V a[R][SC];
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < SC; ++j) a[r][j] = S::zero();
  const T* xs[SC];
  for (int j = 0; j < SC; ++j) xs[j] = src + co[s0 + j];
  const typename L::Mask tail =
      Q < W ? L::make_mask(0, static_cast<int>(Q)) : L::make_mask(W - static_cast<int>(Q % W), W);
  index_t i = 0;
  for (; i < R - 1; ++i)  // dy rows i - r < 0 for some r
    bwdw_grid_row<Vec, T, R, SC, true>(i, xs, ld, rows, Q, dy, lddy, tail, a);
  for (; i < rows; ++i) bwdw_grid_row<Vec, T, R, SC, false>(i, xs, ld, rows, Q, dy, lddy, tail, a);
  for (; i < rows + R - 1; ++i)  // dy rows i - r >= rows for some r
    bwdw_grid_row<Vec, T, R, SC, true>(i, xs, ld, rows, Q, dy, lddy, tail, a);
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < SC; ++j) acc[r * KS + s0 + j] += S::hsum(a[r][j]);
}

template <template <typename> class Vec, typename T, int R, int SCMAX>
void bwdw_grid_r(index_t KS, const index_t* co, const T* src, index_t ld, index_t rows, index_t Q,
                 const T* dy, index_t lddy, T* acc) {
  index_t s0 = 0;
  for (; s0 + SCMAX <= KS; s0 += SCMAX)
    bwdw_grid_group<Vec, T, R, SCMAX>(KS, s0, co, src, ld, rows, Q, dy, lddy, acc);
  if constexpr (SCMAX > 1) {
    if (KS - s0 == 2)
      bwdw_grid_group<Vec, T, R, 2>(KS, s0, co, src, ld, rows, Q, dy, lddy, acc);
    else if (KS - s0 == 1)
      bwdw_grid_group<Vec, T, R, 1>(KS, s0, co, src, ld, rows, Q, dy, lddy, acc);
  }
}

// acc[r KS + s] += sum_{m < rows, q < Q} dy[m lddy + q] src[(m + r) ld + co[s] + q], R in 1..5.
template <template <typename> class Vec, typename T>
void backward_weight_grid(index_t R, index_t KS, const index_t* co, const T* src, index_t ld,
                          index_t rows, index_t Q, const T* dy, index_t lddy, T* acc) {
  switch (R) {  // columns per group: R SC + SC + 1 <= 16 registers
    case 1:
      return bwdw_grid_r<Vec, T, 1, 3>(KS, co, src, ld, rows, Q, dy, lddy, acc);
    case 2:
      return bwdw_grid_r<Vec, T, 2, 3>(KS, co, src, ld, rows, Q, dy, lddy, acc);
    case 3:
      return bwdw_grid_r<Vec, T, 3, 3>(KS, co, src, ld, rows, Q, dy, lddy, acc);
    case 4:
      return bwdw_grid_r<Vec, T, 4, 2>(KS, co, src, ld, rows, Q, dy, lddy, acc);
    case 5:
      return bwdw_grid_r<Vec, T, 5, 2>(KS, co, src, ld, rows, Q, dy, lddy, acc);
    default:
      return;
  }
}

// ------------------------------------------------------------------ backward weight
// NT taps at once: acc[t] += sum over rows m < rows and columns q < Q of
// dy[m lddy + q] * src[m step + off[t] + q]. A row's last vector ends at Q with the lanes
// counted before masked off in both operands (Q < W: dy read through the mask): nothing past
// column Q is used, so a non-finite value there never meets a zero.
template <template <typename> class Vec, typename T, int NT>
inline void bwdw_taps(const index_t* __restrict off, const T* src, index_t step, index_t rows,
                      index_t Q, const T* dy, index_t lddy, T* acc) {
  using S = Vec<T>;
  using L = Lanes<S>;
  using V = typename S::V;
  constexpr int W = S::W;
  V a[NT];
  index_t o[NT];
  for (int t = 0; t < NT; ++t) {
    a[t] = S::zero();
    o[t] = off[t];
  }
  const index_t qfull = (Q / W) * W;
  const bool narrow = Q < W, tail = Q % W != 0;
  const index_t qt = narrow ? 0 : Q - W;  // the tail vector
  const typename L::Mask mask =
      narrow ? L::make_mask(0, static_cast<int>(Q)) : L::make_mask(W - static_cast<int>(Q % W), W);
  for (index_t m = 0; m < rows; ++m) {
    const T* d = dy + m * lddy;
    const T* s = src + m * step;
    for (index_t q = 0; q < qfull; q += W) {
      const V dv = S::load(d + q);
      for (int t = 0; t < NT; ++t) a[t] = S::fma(dv, S::load(s + o[t] + q), a[t]);
    }
    if (tail) {
      const V dv = narrow ? L::load_masked(d + qt, mask) : L::load_keep(d + qt, mask);
      for (int t = 0; t < NT; ++t) a[t] = S::fma(dv, L::load_keep(s + o[t] + qt, mask), a[t]);
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
