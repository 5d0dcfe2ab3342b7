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

struct PoolGeom {
  index_t N = 0, C = 0, H = 0, W = 0, P = 0, Q = 0;
  index_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  bool count_include_pad = true;
  index_t divisor = 0;  // 0: none
};

AX_HD index_t floor_div_i(index_t a, index_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
AX_HD index_t ceil_div_i(index_t a, index_t b) { return -floor_div_i(-a, b); }
AX_HD index_t min_i(index_t a, index_t b) { return a < b ? a : b; }
AX_HD index_t max_i(index_t a, index_t b) { return a > b ? a : b; }

// First in-image coordinate of a window starting at `start` and stepping by `dil`.
AX_HD index_t first_valid(index_t start, index_t dil) {
  return start >= 0 ? start : start + ceil_div_i(-start, dil) * dil;
}

// y, idx at output o (flat over N, C, P, Q).        x: (N, C, H, W) -> y, idx: (N, C, P, Q)
template <typename T>
AX_HD void max_pool_fwd_one(const PoolGeom& g, const T* x, T* y, std::int64_t* idx, index_t o) {
  const index_t q = o % g.Q, t = o / g.Q, p = t % g.P, plane = t / g.P;
  const T* xp = x + plane * g.H * g.W;
  const index_t ih0 = p * g.sh - g.ph, iw0 = q * g.sw - g.pw;
  T m = -std::numeric_limits<T>::infinity();
  index_t best = first_valid(ih0, g.dh) * g.W + first_valid(iw0, g.dw);
  for (index_t r = 0; r < g.kh; ++r) {
    const index_t ih = ih0 + r * g.dh;
    if (ih < 0 || ih >= g.H) continue;
    for (index_t s = 0; s < g.kw; ++s) {
      const index_t iw = iw0 + s * g.dw;
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
AX_HD void avg_extent(index_t o, index_t n, index_t k, index_t stride, index_t pad,
                      bool include_pad, index_t& a, index_t& e, index_t& count) {
  const index_t start = o * stride - pad;
  const index_t end_pad = min_i(start + k, n + pad);
  a = max_i(start, 0);
  e = min_i(end_pad, n);
  if (e < a) e = a;
  count = include_pad ? end_pad - start : e - a;
}

template <typename T>
AX_HD void avg_pool_fwd_one(const PoolGeom& g, const T* x, T* y, index_t o) {
  const index_t q = o % g.Q, t = o / g.Q, p = t % g.P, plane = t / g.P;
  index_t r0, r1, rc, c0, c1, cc;
  avg_extent(p, g.H, g.kh, g.sh, g.ph, g.count_include_pad, r0, r1, rc);
  avg_extent(q, g.W, g.kw, g.sw, g.pw, g.count_include_pad, c0, c1, cc);
  if (r1 <= r0 || c1 <= c0) {
    y[o] = T(0);
    return;
  }
  const T* xp = x + plane * g.H * g.W;
  T s = T(0);
  for (index_t ih = r0; ih < r1; ++ih)
    for (index_t iw = c0; iw < c1; ++iw) s += xp[ih * g.W + iw];
  const T div = g.divisor > 0 ? T(g.divisor) : T(rc) * T(cc);
  y[o] = s / div;
}

// dx at input element i (flat over N, C, H, W): the sum of dy / divisor over the windows that
// hold it.                                              dy: (N, C, P, Q) -> dx: (N, C, H, W)
template <typename T>
AX_HD void avg_pool_bwd_one(const PoolGeom& g, const T* dy, T* dx, index_t i) {
  const index_t iw = i % g.W, t = i / g.W, ih = t % g.H, plane = t / g.H;
  // windows p with p sh - ph <= ih < p sh - ph + kh
  const index_t p_lo = max_i(0, ceil_div_i(ih + g.ph - g.kh + 1, g.sh));
  const index_t p_hi = min_i(g.P - 1, floor_div_i(ih + g.ph, g.sh));
  const index_t q_lo = max_i(0, ceil_div_i(iw + g.pw - g.kw + 1, g.sw));
  const index_t q_hi = min_i(g.Q - 1, floor_div_i(iw + g.pw, g.sw));
  const T* dp = dy + plane * g.P * g.Q;
  T s = T(0);
  for (index_t p = p_lo; p <= p_hi; ++p) {
    index_t r0, r1, rc;
    avg_extent(p, g.H, g.kh, g.sh, g.ph, g.count_include_pad, r0, r1, rc);
    if (ih < r0 || ih >= r1) continue;
    for (index_t q = q_lo; q <= q_hi; ++q) {
      index_t c0, c1, cc;
      avg_extent(q, g.W, g.kw, g.sw, g.pw, g.count_include_pad, c0, c1, cc);
      if (iw < c0 || iw >= c1) continue;
      const T div = g.divisor > 0 ? T(g.divisor) : T(rc) * T(cc);
      s += dp[p * g.Q + q] / div;
    }
  }
  dx[i] = s;
}

AX_HD index_t adaptive_start(index_t o, index_t in, index_t out) { return (o * in) / out; }
AX_HD index_t adaptive_end(index_t o, index_t in, index_t out) {
  return ((o + 1) * in + out - 1) / out;
}

template <typename T>
AX_HD void adaptive_avg_fwd_one(const PoolGeom& g, const T* x, T* y, index_t o) {
  const index_t q = o % g.Q, t = o / g.Q, p = t % g.P, plane = t / g.P;
  const index_t r0 = adaptive_start(p, g.H, g.P), r1 = adaptive_end(p, g.H, g.P);
  const index_t c0 = adaptive_start(q, g.W, g.Q), c1 = adaptive_end(q, g.W, g.Q);
  const T* xp = x + plane * g.H * g.W;
  T s = T(0);
  for (index_t ih = r0; ih < r1; ++ih)
    for (index_t iw = c0; iw < c1; ++iw) s += xp[ih * g.W + iw];
  y[o] = s / T((r1 - r0) * (c1 - c0));
}

template <typename T>
AX_HD void adaptive_avg_bwd_one(const PoolGeom& g, const T* dy, T* dx, index_t i) {
  const index_t iw = i % g.W, t = i / g.W, ih = t % g.H, plane = t / g.H;
  // outputs whose window holds ih: floor(ih P / H) <= p <= ceil((ih + 1) P / H) - 1; one more
  // on each side, filtered by the exact test, guards the integer arithmetic
  const index_t p_lo = max_i(0, (ih * g.P) / g.H - 1);
  const index_t p_hi = min_i(g.P - 1, ((ih + 1) * g.P + g.H - 1) / g.H);
  const index_t q_lo = max_i(0, (iw * g.Q) / g.W - 1);
  const index_t q_hi = min_i(g.Q - 1, ((iw + 1) * g.Q + g.W - 1) / g.W);
  const T* dp = dy + plane * g.P * g.Q;
  T s = T(0);
  for (index_t p = p_lo; p <= p_hi; ++p) {
    const index_t r0 = adaptive_start(p, g.H, g.P), r1 = adaptive_end(p, g.H, g.P);
    if (ih < r0 || ih >= r1) continue;
    for (index_t q = q_lo; q <= q_hi; ++q) {
      const index_t c0 = adaptive_start(q, g.W, g.Q), c1 = adaptive_end(q, g.W, g.Q);
      if (iw < c0 || iw >= c1) continue;
      s += dp[p * g.Q + q] / T((r1 - r0) * (c1 - c0));
    }
  }
  dx[i] = s;
}

}  // namespace cuda
}  // namespace axonal
