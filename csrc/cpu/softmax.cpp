// softmax.cpp: softmax / log-softmax forward and backward (see softmax.h): the portable kernels
// (any T), the dispatch to the AVX2 float32 kernels, and the split over threads.
#include "cpu/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "cpu/cpu_features.h"
#include "cpu/threads.h"

namespace axonal {

namespace {

constexpr index_t kColBlock = 64;           // columns per work item (inner > 1)
constexpr index_t kElemsPerThread = 16384;  // below this much data per thread, use fewer threads

// Portable kernels: columns [c0, c1) of one (D, inner) block (a row when inner == 1), in groups
// of up to kColBlock columns held in small arrays so that the loops over d stay contiguous.
template <typename T>
void forward_lines(index_t D, index_t inner, index_t c0, index_t c1, const T* x, T* y, bool log) {
  T m[kColBlock], s[kColBlock];
  for (index_t j0 = c0; j0 < c1; j0 += kColBlock) {
    const index_t nb = std::min(kColBlock, c1 - j0);
    std::fill(m, m + nb, -std::numeric_limits<T>::infinity());
    std::fill(s, s + nb, T(0));
    for (index_t d = 0; d < D; ++d) {
      const T* xr = x + d * inner + j0;
      for (index_t j = 0; j < nb; ++j) m[j] = xr[j] > m[j] ? xr[j] : m[j];
    }
    for (index_t d = 0; d < D; ++d) {
      const T* xr = x + d * inner + j0;
      T* yr = y + d * inner + j0;
      for (index_t j = 0; j < nb; ++j) {
        const T e = std::exp(xr[j] - m[j]);  // a NaN in the line makes the sum NaN
        if (!log) yr[j] = e;
        s[j] += e;
      }
    }
    if (!log) {
      for (index_t j = 0; j < nb; ++j) s[j] = T(1) / s[j];
      for (index_t d = 0; d < D; ++d) {
        T* yr = y + d * inner + j0;
        for (index_t j = 0; j < nb; ++j) yr[j] *= s[j];
      }
    } else {
      for (index_t j = 0; j < nb; ++j) s[j] = std::log(s[j]);
      for (index_t d = 0; d < D; ++d) {
        const T* xr = x + d * inner + j0;
        T* yr = y + d * inner + j0;
        for (index_t j = 0; j < nb; ++j) yr[j] = (xr[j] - m[j]) - s[j];
      }
    }
  }
}

template <typename T>
void backward_lines(index_t D, index_t inner, index_t c0, index_t c1, const T* dy, const T* y,
                    T* dx, bool log) {
  T s[kColBlock];
  for (index_t j0 = c0; j0 < c1; j0 += kColBlock) {
    const index_t nb = std::min(kColBlock, c1 - j0);
    std::fill(s, s + nb, T(0));
    for (index_t d = 0; d < D; ++d) {
      const T* g = dy + d * inner + j0;
      const T* o = y + d * inner + j0;
      for (index_t j = 0; j < nb; ++j) s[j] += log ? g[j] : g[j] * o[j];
    }
    for (index_t d = 0; d < D; ++d) {
      const T* g = dy + d * inner + j0;
      const T* o = y + d * inner + j0;
      T* r = dx + d * inner + j0;
      for (index_t j = 0; j < nb; ++j)
        r[j] = log ? g[j] - std::exp(o[j]) * s[j] : o[j] * (g[j] - s[j]);
    }
  }
}

// Threads for a pass over total_elems elements: one per kElemsPerThread, at most nt.
inline int threads_for(index_t total_elems, int nt) {
  return static_cast<int>(
      std::min<index_t>(nt, std::max<index_t>(1, total_elems / kElemsPerThread)));
}

template <typename T>
constexpr bool kAvx2Float = std::is_same<T, float>::value;

}  // namespace

template <typename T>
void softmax_forward(index_t outer, index_t D, index_t inner, const T* x, T* y, bool log,
                     int num_threads) {
  if (outer <= 0 || D <= 0 || inner <= 0) return;
  bool avx2 = false;
#ifdef AXONAL_X86
  avx2 = kAvx2Float<T> && simd_avx2();
#endif
  const index_t total = outer * D * inner;
  if (inner == 1) {
    parallel_chunks(outer, threads_for(total, num_threads), [&](index_t lo, index_t hi) {
#ifdef AXONAL_X86
      if constexpr (kAvx2Float<T>)
        if (avx2) return softmax_forward_rows_f32_avx2(lo, hi, D, x, y, log);
#endif
      for (index_t r = lo; r < hi; ++r) forward_lines(D, 1, 0, 1, x + r * D, y + r * D, log);
    });
    return;
  }
  const index_t nblk = (inner + kColBlock - 1) / kColBlock;
  parallel_chunks(outer * nblk, threads_for(total, num_threads), [&](index_t lo, index_t hi) {
    for (index_t it = lo; it < hi; ++it) {
      const index_t o = it / nblk, c0 = (it % nblk) * kColBlock;
      const index_t c1 = std::min(inner, c0 + kColBlock);
      const T* xb = x + o * D * inner;
      T* yb = y + o * D * inner;
#ifdef AXONAL_X86
      if constexpr (kAvx2Float<T>)
        if (avx2) {
          softmax_forward_cols_f32_avx2(D, inner, c0, c1, xb, yb, log);
          continue;
        }
#endif
      forward_lines(D, inner, c0, c1, xb, yb, log);
    }
  });
  (void)avx2;
}

template <typename T>
void softmax_backward(index_t outer, index_t D, index_t inner, const T* dy, const T* y, T* dx,
                      bool log, int num_threads) {
  if (outer <= 0 || D <= 0 || inner <= 0) return;
  bool avx2 = false;
#ifdef AXONAL_X86
  avx2 = kAvx2Float<T> && simd_avx2();
#endif
  const index_t total = outer * D * inner;
  if (inner == 1) {
    parallel_chunks(outer, threads_for(total, num_threads), [&](index_t lo, index_t hi) {
#ifdef AXONAL_X86
      if constexpr (kAvx2Float<T>)
        if (avx2) return softmax_backward_rows_f32_avx2(lo, hi, D, dy, y, dx, log);
#endif
      for (index_t r = lo; r < hi; ++r)
        backward_lines(D, 1, 0, 1, dy + r * D, y + r * D, dx + r * D, log);
    });
    return;
  }
  const index_t nblk = (inner + kColBlock - 1) / kColBlock;
  parallel_chunks(outer * nblk, threads_for(total, num_threads), [&](index_t lo, index_t hi) {
    for (index_t it = lo; it < hi; ++it) {
      const index_t o = it / nblk, c0 = (it % nblk) * kColBlock;
      const index_t c1 = std::min(inner, c0 + kColBlock);
      const index_t off = o * D * inner;
#ifdef AXONAL_X86
      if constexpr (kAvx2Float<T>)
        if (avx2) {
          softmax_backward_cols_f32_avx2(D, inner, c0, c1, dy + off, y + off, dx + off, log);
          continue;
        }
#endif
      backward_lines(D, inner, c0, c1, dy + off, y + off, dx + off, log);
    }
  });
  (void)avx2;
}

template void softmax_forward<float>(index_t, index_t, index_t, const float*, float*, bool, int);
template void softmax_forward<double>(index_t, index_t, index_t, const double*, double*, bool, int);
template void softmax_backward<float>(index_t, index_t, index_t, const float*, const float*, float*,
                                      bool, int);
template void softmax_backward<double>(index_t, index_t, index_t, const double*, const double*,
                                       double*, bool, int);

}  // namespace axonal
