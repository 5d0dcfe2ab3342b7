// pool_elems.cuh: 2-D pooling (NCHW) as one function per output (forward) or per input element
// (backward, gathered: deterministic, no atomics) -- AX_HD so that the host emulator runs them.
// Semantics follow PyTorch and the CPU kernels (csrc/cpu/pool.cpp):
//   max_pool2d:          NaN wins (the last NaN of a window), ties keep the first maximum; idx is
//                        the flat ih * W + iw inside the plane
//   avg_pool2d:          window [o s - pad, o s - pad + k) clipped to [-pad, n + pad) counts with
//                        count_include_pad, clipped to [0, n) otherwise; divisor_override wins;
//                        a window without any input element gives 0
//   adaptive_avg_pool2d: window of output o along an axis of n inputs, P outputs:
//                        [floor(o n / P), ceil((o + 1) n / P))
#pragma once
#include <limits>

#include "cuda/common.cuh"

namespace axonal {
namespace cuda {

// The geometry in index type I: index_t (int64) always works; the kernels run in int where every
// index they form fits (pool_fits_int32), as 64-bit division costs tens of instructions.
template <typename I>
struct PoolGeomT {
  I N = 0, C = 0, H = 0, W = 0, P = 0, Q = 0;
  I kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  bool count_include_pad = true;
  I divisor = 0;  // 0: none
};
using PoolGeom = PoolGeomT<index_t>;

// Whether every index the per-element functions below form stays under 2^31 (each term is
// bounded by 2^30, and no expression adds more than two of them).
inline bool pool_fits_int32(const PoolGeom& g) {
  const double lim = double(1 << 30);
  const double planes = double(g.N) * double(g.C);
  const double hk = double(g.H) + double(g.ph) + double(g.kh) * double(g.dh) + 1.0;
  const double wk = double(g.W) + double(g.pw) + double(g.kw) * double(g.dw) + 1.0;
  return planes * double(g.H) * double(g.W) < lim && planes * double(g.P) * double(g.Q) < lim &&
         (double(g.P) + 1.0) * (double(g.H) + 1.0) < lim &&
         (double(g.Q) + 1.0) * (double(g.W) + 1.0) < lim && hk * wk < lim &&
         (double(g.P) + 1.0) * double(g.sh) + hk < lim &&
         (double(g.Q) + 1.0) * double(g.sw) + wk < lim && double(g.divisor) < lim;
}

template <typename I>
inline PoolGeomT<I> pool_geom_as(const PoolGeom& g) {
  PoolGeomT<I> r;
  r.N = I(g.N), r.C = I(g.C), r.H = I(g.H), r.W = I(g.W), r.P = I(g.P), r.Q = I(g.Q);
  r.kh = I(g.kh), r.kw = I(g.kw), r.sh = I(g.sh), r.sw = I(g.sw), r.ph = I(g.ph), r.pw = I(g.pw);
  r.dh = I(g.dh), r.dw = I(g.dw);
  r.count_include_pad = g.count_include_pad;
  r.divisor = I(g.divisor);
  return r;
}

template <typename I>
AX_HD I floor_div_i(I a, I b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}
template <typename I>
AX_HD I ceil_div_i(I a, I b) {
  return -floor_div_i(-a, b);
}
template <typename I>
AX_HD I min_i(I a, I b) {
  return a < b ? a : b;
}
template <typename I>
AX_HD I max_i(I a, I b) {
  return a > b ? a : b;
}

// First in-image coordinate of a window starting at `start` and stepping by `dil`.
template <typename I>
AX_HD I first_valid(I start, I dil) {
  return start >= 0 ? start : start + ceil_div_i(-start, dil) * dil;
}

// y, idx at output o (flat over N, C, P, Q).        x: (N, C, H, W) -> y, idx: (N, C, P, Q)
// KH, KW > 0: the window size known at compile time (g.kh == KH, g.kw == KW; the kernels use it
// for 2x2 and 3x3 windows): the loops unroll and the window's loads issue together.
template <typename T, typename I, int KH = 0, int KW = 0>
AX_HD void max_pool_fwd_one(const PoolGeomT<I>& g, const T* x, T* y, std::int64_t* idx, I o) {
  const I q = o % g.Q, t = o / g.Q, p = t % g.P, plane = t / g.P;
  const T* xp = x + plane * g.H * g.W;
  const I ih0 = p * g.sh - g.ph, iw0 = q * g.sw - g.pw;
  const I kh = KH > 0 ? I(KH) : g.kh, kw = KW > 0 ? I(KW) : g.kw;
  T m = -std::numeric_limits<T>::infinity();
  I best = first_valid(ih0, g.dh) * g.W + first_valid(iw0, g.dw);
#pragma unroll
  for (I r = 0; r < kh; ++r) {
    const I ih = ih0 + r * g.dh;
    if (ih < 0 || ih >= g.H) continue;
#pragma unroll
    for (I s = 0; s < kw; ++s) {
      const I iw = iw0 + s * g.dw;
      if (iw < 0 || iw >= g.W) continue;
      const T v = xp[ih * g.W + iw];
      if (v > m || v != v) {
        m = v;
        best = ih * g.W + iw;
      }
    }
  }
  y[o] = m;
  idx[o] = best;
}

// Rows [a, e) of the window of output o along one axis and its divisor factor.
template <typename I>
AX_HD void avg_extent(I o, I n, I k, I stride, I pad, bool include_pad, I& a, I& e, I& count) {
  const I start = o * stride - pad;
  const I end_pad = min_i(start + k, n + pad);
  a = max_i(start, I(0));
  e = min_i(end_pad, n);
  if (e < a) e = a;
  count = include_pad ? end_pad - start : e - a;
}

template <typename T, typename I>
AX_HD void avg_pool_fwd_one(const PoolGeomT<I>& g, const T* x, T* y, I o) {
  const I q = o % g.Q, t = o / g.Q, p = t % g.P, plane = t / g.P;
  I r0, r1, rc, c0, c1, cc;
  avg_extent(p, g.H, g.kh, g.sh, g.ph, g.count_include_pad, r0, r1, rc);
  avg_extent(q, g.W, g.kw, g.sw, g.pw, g.count_include_pad, c0, c1, cc);
  if (r1 <= r0 || c1 <= c0) {
    y[o] = T(0);
    return;
  }
  const T* xp = x + plane * g.H * g.W;
  T s = T(0);
  for (I ih = r0; ih < r1; ++ih)
    for (I iw = c0; iw < c1; ++iw) s += xp[ih * g.W + iw];
  const T div = g.divisor > 0 ? T(g.divisor) : T(rc) * T(cc);
  y[o] = s / div;
}

// dx at input element i (flat over N, C, H, W): the sum of dy / divisor over the windows that
// hold it.                                              dy: (N, C, P, Q) -> dx: (N, C, H, W)
template <typename T, typename I>
AX_HD void avg_pool_bwd_one(const PoolGeomT<I>& g, const T* dy, T* dx, I i) {
  const I iw = i % g.W, t = i / g.W, ih = t % g.H, plane = t / g.H;
  // windows p with p sh - ph <= ih < p sh - ph + kh
  const I p_lo = max_i(I(0), ceil_div_i(ih + g.ph - g.kh + 1, g.sh));
  const I p_hi = min_i(g.P - 1, floor_div_i(ih + g.ph, g.sh));
  const I q_lo = max_i(I(0), ceil_div_i(iw + g.pw - g.kw + 1, g.sw));
  const I q_hi = min_i(g.Q - 1, floor_div_i(iw + g.pw, g.sw));
  const T* dp = dy + plane * g.P * g.Q;
  T s = T(0);
  for (I p = p_lo; p <= p_hi; ++p) {
    I r0, r1, rc;
    avg_extent(p, g.H, g.kh, g.sh, g.ph, g.count_include_pad, r0, r1, rc);
    if (ih < r0 || ih >= r1) continue;
    for (I q = q_lo; q <= q_hi; ++q) {
      I c0, c1, cc;
      avg_extent(q, g.W, g.kw, g.sw, g.pw, g.count_include_pad, c0, c1, cc);
      if (iw < c0 || iw >= c1) continue;
      const T div = g.divisor > 0 ? T(g.divisor) : T(rc) * T(cc);
      s += dp[p * g.Q + q] / div;
    }
  }
  dx[i] = s;
}

template <typename I>
AX_HD I adaptive_start(I o, I in, I out) {
  return (o * in) / out;
}
template <typename I>
AX_HD I adaptive_end(I o, I in, I out) {
  return ((o + 1) * in + out - 1) / out;
}

template <typename T, typename I>
AX_HD void adaptive_avg_fwd_one(const PoolGeomT<I>& g, const T* x, T* y, I o) {
  const I q = o % g.Q, t = o / g.Q, p = t % g.P, plane = t / g.P;
  const I r0 = adaptive_start(p, g.H, g.P), r1 = adaptive_end(p, g.H, g.P);
  const I c0 = adaptive_start(q, g.W, g.Q), c1 = adaptive_end(q, g.W, g.Q);
  const T* xp = x + plane * g.H * g.W;
  T s = T(0);
  for (I ih = r0; ih < r1; ++ih)
    for (I iw = c0; iw < c1; ++iw) s += xp[ih * g.W + iw];
  y[o] = s / T((r1 - r0) * (c1 - c0));
}

template <typename T, typename I>
AX_HD void adaptive_avg_bwd_one(const PoolGeomT<I>& g, const T* dy, T* dx, I i) {
  const I iw = i % g.W, t = i / g.W, ih = t % g.H, plane = t / g.H;
  // outputs whose window holds ih: floor(ih P / H) <= p <= ceil((ih + 1) P / H) - 1; one more
  // on each side, filtered by the exact test, guards the integer arithmetic
  const I p_lo = max_i(I(0), (ih * g.P) / g.H - 1);
  const I p_hi = min_i(g.P - 1, ((ih + 1) * g.P + g.H - 1) / g.H);
  const I q_lo = max_i(I(0), (iw * g.Q) / g.W - 1);
  const I q_hi = min_i(g.Q - 1, ((iw + 1) * g.Q + g.W - 1) / g.W);
  const T* dp = dy + plane * g.P * g.Q;
  T s = T(0);
  for (I p = p_lo; p <= p_hi; ++p) {
    const I r0 = adaptive_start(p, g.H, g.P), r1 = adaptive_end(p, g.H, g.P);
    if (ih < r0 || ih >= r1) continue;
    for (I q = q_lo; q <= q_hi; ++q) {
      const I c0 = adaptive_start(q, g.W, g.Q), c1 = adaptive_end(q, g.W, g.Q);
      if (iw < c0 || iw >= c1) continue;
      s += dp[p * g.Q + q] / T((r1 - r0) * (c1 - c0));
    }
  }
  dx[i] = s;
}

}  // namespace cuda
}  // namespace axonal
