// softmax_rows.cuh: the per-lane / per-thread pieces of the softmax kernels (softmax.cu), AX_HD
// so that the host emulator (emulate.cu) runs them too; the cross-lane reductions (warp
// shuffles, shared memory) sit between these calls in the kernels and in the emulator.
//   forward:  y = exp(x - m) / s  or  y = x - m - log(s),  m = max(x), s = sum exp(x - m)
//   backward: softmax dx = y (dy - sum(dy y)),  log_softmax dx = dy - exp(y) sum(dy)
// Warp-per-row pieces: lane l holds columns l + 32 i, i < VPT. Block-per-row pieces: thread t
// of nt handles columns t, t + nt, ...
#pragma once
#include <cmath>
#include <limits>

#include "cuda/common.cuh"

namespace axonal {
namespace cuda {

AX_HD float ax_exp(float v) { return expf(v); }
AX_HD double ax_exp(double v) { return exp(v); }
AX_HD float ax_log(float v) { return logf(v); }
AX_HD double ax_log(double v) { return log(v); }

template <typename A>
AX_HD A neg_inf() {
  return -std::numeric_limits<A>::infinity();
}

template <typename A>
AX_HD A max_of(A a, A b) {
  return b > a ? b : a;
}

// (m1, s1) <- merge with (m2, s2): running maximum and the sum of exp(x - maximum).
template <typename A>
AX_HD void merge_ms(A& m1, A& s1, A m2, A s2) {
  const A m = m2 > m1 ? m2 : m1;
  const A a = m1 == neg_inf<A>() ? A(0) : s1 * ax_exp(m1 - m);
  const A b = m2 == neg_inf<A>() ? A(0) : s2 * ax_exp(m2 - m);
  m1 = m;
  s1 = a + b;
}

// ------------------------------------------------------------------ warp per row (cols <= 32 VPT)
// Loads the lane's values (-inf past the row end); returns their maximum.
template <typename T, typename A, int VPT>
AX_HD A warp_load(const T* xr, int cols, int lane, A (&v)[VPT]) {
  A m = neg_inf<A>();
#pragma unroll
  for (int i = 0; i < VPT; ++i) {
    const int c = lane + 32 * i;
    v[i] = c < cols ? static_cast<A>(xr[c]) : neg_inf<A>();
    m = max_of(m, v[i]);
  }
  return m;
}

// Sum of exp(v - m) over the lane's columns; softmax keeps exp(v - m) in v.
template <typename A, int VPT, bool LOG>
AX_HD A warp_exp_sum(int cols, int lane, A (&v)[VPT], A m) {
  A s = A(0);
#pragma unroll
  for (int i = 0; i < VPT; ++i) {
    if (lane + 32 * i < cols) {
      const A e = ax_exp(v[i] - m);
      s += e;
      if (!LOG) v[i] = e;
    }
  }
  return s;
}

template <typename T, typename A, int VPT, bool LOG>
AX_HD void warp_store(T* yr, int cols, int lane, const A (&v)[VPT], A m, A s) {
  const A scale = LOG ? ax_log(s) : A(1) / s;
#pragma unroll
  for (int i = 0; i < VPT; ++i) {
    const int c = lane + 32 * i;
    if (c < cols) yr[c] = static_cast<T>(LOG ? v[i] - m - scale : v[i] * scale);
  }
}

// Backward: loads y and dy (0 past the row end); returns the lane's part of sum(dy y) (softmax)
// or sum(dy) (log_softmax).
template <typename T, typename A, int VPT, bool LOG>
AX_HD A warp_bwd_load(const T* yr, const T* gr, int cols, int lane, A (&yv)[VPT], A (&gv)[VPT]) {
  A s = A(0);
#pragma unroll
  for (int i = 0; i < VPT; ++i) {
    const int c = lane + 32 * i;
    yv[i] = c < cols ? static_cast<A>(yr[c]) : A(0);
    gv[i] = c < cols ? static_cast<A>(gr[c]) : A(0);
    s += LOG ? gv[i] : gv[i] * yv[i];
  }
  return s;
}

template <typename T, typename A, int VPT, bool LOG>
AX_HD void warp_bwd_store(T* dxr, int cols, int lane, const A (&yv)[VPT], const A (&gv)[VPT], A s) {
#pragma unroll
  for (int i = 0; i < VPT; ++i) {
    const int c = lane + 32 * i;
    if (c < cols) dxr[c] = static_cast<T>(LOG ? gv[i] - ax_exp(yv[i]) * s : yv[i] * (gv[i] - s));
  }
}

// ------------------------------------------------------------------ block per row
// One online pass over the thread's columns: running maximum m and sum s of exp(x - m).
template <typename T, typename A>
AX_HD void block_online(const T* xr, int cols, int t, int nt, A& m, A& s) {
  m = neg_inf<A>();
  s = A(0);
  for (int c = t; c < cols; c += nt) {
    const A v = static_cast<A>(xr[c]);
    if (v > m) {
      s = (m == neg_inf<A>() ? A(0) : s * ax_exp(m - v)) + A(1);
      m = v;
    } else if (v != neg_inf<A>()) {
      s += ax_exp(v - m);  // a NaN v (or m) makes s NaN, as it should
    }
  }
}

template <typename T, typename A, bool LOG>
AX_HD void block_store(const T* xr, T* yr, int cols, int t, int nt, A m, A s) {
  const A ls = ax_log(s), inv = A(1) / s;
  for (int c = t; c < cols; c += nt) {
    const A v = static_cast<A>(xr[c]);
    yr[c] = static_cast<T>(LOG ? v - m - ls : ax_exp(v - m) * inv);
  }
}

template <typename T, typename A, bool LOG>
AX_HD A block_bwd_partial(const T* yr, const T* gr, int cols, int t, int nt) {
  A s = A(0);
  for (int c = t; c < cols; c += nt) {
    const A g = static_cast<A>(gr[c]);
    s += LOG ? g : g * static_cast<A>(yr[c]);
  }
  return s;
}

template <typename T, typename A, bool LOG>
AX_HD void block_bwd_store(const T* yr, const T* gr, T* dxr, int cols, int t, int nt, A s) {
  for (int c = t; c < cols; c += nt) {
    const A g = static_cast<A>(gr[c]), yy = static_cast<A>(yr[c]);
    dxr[c] = static_cast<T>(LOG ? g - ax_exp(yy) * s : yy * (g - s));
  }
}

}  // namespace cuda
}  // namespace axonal
