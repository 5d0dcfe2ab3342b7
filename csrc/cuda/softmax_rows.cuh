// softmax_rows.cuh: the per-lane / per-thread pieces of the softmax kernels (softmax.cu), AX_HD
// so that the host emulator (emulate.cu) runs them too; the cross-lane reductions (warp
// shuffles, shared memory) sit between these calls in the kernels and in the emulator.
//   forward:  y = exp(x - m) / s  or  y = x - m - log(s),  m = max(x), s = sum exp(x - m)
//   backward: softmax dx = y (dy - sum(dy y)),  log_softmax dx = dy - exp(y) sum(dy)
// Register-row pieces (a warp or a block holds the row in registers, row_*): see below. Online
// block-per-row pieces (block_*): thread t of nt handles columns t, t + nt, ...
#pragma once
#include <cmath>
#include <limits>
#include <type_traits>

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

// ------------------------------------------------------------------ row held in registers
// Thread t of nt threads sharing a row (a warp: nt = 32, t = lane; or a block) holds VPT values:
// value k = i PACK + j sits at column (i nt + t) PACK + j. With PACK > 1 (cols a multiple of
// PACK, 16-byte aligned rows) each group of PACK values moves as one 16-byte load / store.
template <typename T, int PACK>
struct alignas(sizeof(T) * PACK) Pack {
  T v[PACK];
};

template <int PACK>
AX_HD int row_col(int t, int nt, int k) {
  return ((k / PACK) * nt + t) * PACK + k % PACK;
}

// Loads the thread's values (-inf past the row end); returns their maximum.
template <typename T, typename A, int VPT, int PACK = 1>
AX_HD A row_load(const T* xr, int cols, int t, int nt, A (&v)[VPT]) {
  static_assert(VPT % PACK == 0, "VPT must be a multiple of PACK");
  A m = neg_inf<A>();
#pragma unroll
  for (int i = 0; i < VPT / PACK; ++i) {
    const int c = (i * nt + t) * PACK;
    if (c < cols) {
      const Pack<T, PACK> p = *reinterpret_cast<const Pack<T, PACK>*>(xr + c);
#pragma unroll
      for (int j = 0; j < PACK; ++j) v[i * PACK + j] = static_cast<A>(p.v[j]);
    } else {
#pragma unroll
      for (int j = 0; j < PACK; ++j) v[i * PACK + j] = neg_inf<A>();
    }
#pragma unroll
    for (int j = 0; j < PACK; ++j) m = max_of(m, v[i * PACK + j]);
  }
  return m;
}

// Sum of exp(v - m) over the thread's columns; softmax keeps exp(v - m) in v.
template <typename A, int VPT, int PACK, bool LOG>
AX_HD A row_exp_sum(int cols, int t, int nt, A (&v)[VPT], A m) {
  A s = A(0);
#pragma unroll
  for (int k = 0; k < VPT; ++k) {
    if (row_col<PACK>(t, nt, k) < cols) {
      const A e = ax_exp(v[k] - m);
      s += e;
      if (!LOG) v[k] = e;
    }
  }
  return s;
}

template <typename T, typename A, int VPT, int PACK, bool LOG>
AX_HD void row_store(T* yr, int cols, int t, int nt, const A (&v)[VPT], A m, A s) {
  const A scale = LOG ? ax_log(s) : A(1) / s;
#pragma unroll
  for (int i = 0; i < VPT / PACK; ++i) {
    const int c = (i * nt + t) * PACK;
    if (c < cols) {
      Pack<T, PACK> p;
#pragma unroll
      for (int j = 0; j < PACK; ++j) {
        const A u = v[i * PACK + j];
        p.v[j] = static_cast<T>(LOG ? u - m - scale : u * scale);
      }
      *reinterpret_cast<Pack<T, PACK>*>(yr + c) = p;
    }
  }
}

// Backward: loads y and dy (0 past the row end); returns the thread's part of sum(dy y)
// (softmax) or sum(dy) (log_softmax).
template <typename T, typename A, int VPT, int PACK, bool LOG>
AX_HD A row_bwd_load(const T* yr, const T* gr, int cols, int t, int nt, A (&yv)[VPT],
                     A (&gv)[VPT]) {
  A s = A(0);
#pragma unroll
  for (int i = 0; i < VPT / PACK; ++i) {
    const int c = (i * nt + t) * PACK;
    if (c < cols) {
      const Pack<T, PACK> py = *reinterpret_cast<const Pack<T, PACK>*>(yr + c);
      const Pack<T, PACK> pg = *reinterpret_cast<const Pack<T, PACK>*>(gr + c);
#pragma unroll
      for (int j = 0; j < PACK; ++j) {
        yv[i * PACK + j] = static_cast<A>(py.v[j]);
        gv[i * PACK + j] = static_cast<A>(pg.v[j]);
      }
    } else {
#pragma unroll
      for (int j = 0; j < PACK; ++j) yv[i * PACK + j] = gv[i * PACK + j] = A(0);
    }
#pragma unroll
    for (int j = 0; j < PACK; ++j) {
      const int k = i * PACK + j;
      s += LOG ? gv[k] : gv[k] * yv[k];
    }
  }
  return s;
}

template <typename T, typename A, int VPT, int PACK, bool LOG>
AX_HD void row_bwd_store(T* dxr, int cols, int t, int nt, const A (&yv)[VPT], const A (&gv)[VPT],
                         A s) {
#pragma unroll
  for (int i = 0; i < VPT / PACK; ++i) {
    const int c = (i * nt + t) * PACK;
    if (c < cols) {
      Pack<T, PACK> p;
#pragma unroll
      for (int j = 0; j < PACK; ++j) {
        const int k = i * PACK + j;
        p.v[j] = static_cast<T>(LOG ? gv[k] - ax_exp(yv[k]) * s : yv[k] * (gv[k] - s));
      }
      *reinterpret_cast<Pack<T, PACK>*>(dxr + c) = p;
    }
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

// ------------------------------------------------------------------ which kernel for a row width
// The kernels (softmax.cu) and the host emulator (emulate.cu) share this choice:
//   warp:         cols <= 1024: one warp per row in registers, VPT = 1..32 values per lane,
//                 16-byte packs where the row allows them;
//   block_regs:   wider rows of 16-byte packs up to 4 packs x 1024 threads (16384 float32,
//                 8192 float64 columns): a block of nt threads per row in registers;
//   block_online: anything else: one online (max, sum) pass, then a second read for the output.
enum class RowKind { warp, block_regs, block_online };
struct RowPlan {
  RowKind kind;
  int vpt, pack, nt;
};

template <typename T>
inline RowPlan softmax_plan(index_t cols, bool aligned) {
  const int P = 16 / int(sizeof(T));
  const bool packable = aligned && cols % P == 0;
  if (cols <= 1024) {
    const int vpt = cols <= 32    ? 1
                    : cols <= 64  ? 2
                    : cols <= 128 ? 4
                    : cols <= 256 ? 8
                    : cols <= 512 ? 16
                                  : 32;
    return {RowKind::warp, vpt, packable && vpt % P == 0 ? P : 1, 32};
  }
  const int vpt = 4 * P;
  for (int nt = 128; nt <= 1024; nt *= 2)
    if (packable && cols <= index_t(nt) * vpt) return {RowKind::block_regs, vpt, P, nt};
  return {RowKind::block_online, 1, 1, 256};
}

// Calls f(integral_constant VPT, PACK, NT) with the plan's compile-time configuration (the warp
// and block_regs kinds; block_online has none).
template <typename T, class F>
inline void with_row_plan(const RowPlan& p, F&& f) {
  using std::integral_constant;
  constexpr int P = 16 / int(sizeof(T));
  if (p.kind == RowKind::block_regs) {
    constexpr int V = 4 * P;
    switch (p.nt) {
      case 128:
        return f(integral_constant<int, V>(), integral_constant<int, P>(),
                 integral_constant<int, 128>());
      case 256:
        return f(integral_constant<int, V>(), integral_constant<int, P>(),
                 integral_constant<int, 256>());
      case 512:
        return f(integral_constant<int, V>(), integral_constant<int, P>(),
                 integral_constant<int, 512>());
      default:
        return f(integral_constant<int, V>(), integral_constant<int, P>(),
                 integral_constant<int, 1024>());
    }
  }
  auto warp = [&](auto vpt) {
    constexpr int V = decltype(vpt)::value;
    if constexpr (V % P == 0) {
      if (p.pack != 1) return f(vpt, integral_constant<int, P>(), integral_constant<int, 32>());
    }
    return f(vpt, integral_constant<int, 1>(), integral_constant<int, 32>());
  };
  switch (p.vpt) {
    case 1:
      return warp(integral_constant<int, 1>());
    case 2:
      return warp(integral_constant<int, 2>());
    case 4:
      return warp(integral_constant<int, 4>());
    case 8:
      return warp(integral_constant<int, 8>());
    case 16:
      return warp(integral_constant<int, 16>());
    default:
      return warp(integral_constant<int, 32>());
  }
}

}  // namespace cuda
}  // namespace axonal
