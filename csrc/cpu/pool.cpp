// pool.cpp: max / avg / adaptive-avg pooling on the CPU (see pool.h for the shapes).
// Each plane (n, c) is independent: threads split the N*C planes. Inside a plane, one output row
// at a time, the kernel offsets (r, s) form the outer loops and the output columns q the inner
// one, over a precomputed range of q whose input column is inside the image: branch-free inner
// loops that the compiler vectorises (for stride 1 as plain vector loads).
#include "cpu/pool.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <new>
#include <type_traits>
#include <vector>

#include "cpu/cpu_features.h"

#ifdef AXONAL_OPENMP
#include <omp.h>
#endif

namespace axonal {

namespace {

template <typename T>
struct Buffer {
  T* ptr = nullptr;
  explicit Buffer(std::size_t n) {
    if (n == 0) return;
    const std::size_t bytes = ((n * sizeof(T) + 63) / 64) * 64;
    ptr = static_cast<T*>(std::aligned_alloc(64, bytes));
    if (!ptr) throw std::bad_alloc();
  }
  ~Buffer() { std::free(ptr); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
};

inline void chunk(index_t n, int tid, int nth, index_t& lo, index_t& hi) {
  const index_t q = n / nth, r = n % nth;
  lo = tid * q + std::min<index_t>(tid, r);
  hi = lo + q + (tid < r ? 1 : 0);
}

// Per-thread scratch rows are padded to whole cache lines (16 elements), so that two threads never
// write into the same line.
inline index_t line_pad(index_t n) { return (n + 15) / 16 * 16; }

// Threads for a memory-bound pass over `elems` elements: one per ~64 K elements.
int pool_threads(int requested, double elems) {
  return std::max(1, std::min<int>(requested, static_cast<int>(elems / 65536.0)));
}

// body(tid, nth, plane_lo, plane_hi) over the planes split between the threads.
template <class F>
void over_planes(int nt, index_t planes, F&& body) {
  auto run = [&](int tid, int nth) {
    index_t lo, hi;
    chunk(planes, tid, nth, lo, hi);
    if (hi > lo) body(tid, lo, hi);
  };
#ifdef AXONAL_OPENMP
  if (nt > 1 && planes > 1) {
#pragma omp parallel num_threads(static_cast<int>(std::min<index_t>(nt, planes)))
    run(omp_get_thread_num(), omp_get_num_threads());
    return;
  }
#endif
  (void)nt;
  run(0, 1);
}

inline index_t floor_div(index_t a, index_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
inline index_t ceil_div(index_t a, index_t b) { return -floor_div(-a, b); }

// Output positions o in [lo, hi) whose input coordinate o * stride - pad + t * dil lies in [0, n).
inline void valid_range(index_t n, index_t out, index_t stride, index_t pad, index_t t, index_t dil,
                        index_t& lo, index_t& hi) {
  const index_t off = t * dil - pad;
  lo = std::max<index_t>(0, ceil_div(-off, stride));
  hi = std::min<index_t>(out, floor_div(n - 1 - off, stride) + 1);
  if (hi < lo) hi = lo;
}

struct ColRanges {
  std::vector<index_t> lo, hi;
  ColRanges(index_t n, index_t out, index_t k, index_t stride, index_t pad, index_t dil)
      : lo(k), hi(k) {
    for (index_t t = 0; t < k; ++t) valid_range(n, out, stride, pad, t, dil, lo[t], hi[t]);
  }
};

// First in-image coordinate of the window starting at `start` (stepping by dil), as PyTorch.
inline index_t first_valid(index_t start, index_t dil) {
  return start >= 0 ? start : start + ceil_div(-start, dil) * dil;
}

// ------------------------------------------------------------------ max pool
// I: an integer as wide as T, so that the value / index selects vectorise together.
template <typename T, typename I>
void max_pool_planes(const Pool2dParams& p, const T* x, T* y, std::int64_t* idx, int nt) {
  const index_t HW = p.H * p.W, PQ = p.P * p.Q, Q = p.Q, sw = p.sw;
  const ColRanges cr(p.W, p.Q, p.kw, p.sw, p.pw, p.dw);
  std::vector<I> iw_first(Q);
  for (index_t q = 0; q < Q; ++q) iw_first[q] = static_cast<I>(first_valid(q * sw - p.pw, p.dw));
  constexpr bool same = std::is_same<I, std::int64_t>::value;
  const index_t ld = line_pad(Q);
  Buffer<I> ibuf(same ? 0 : static_cast<std::size_t>(nt) * ld);
  over_planes(nt, p.N * p.C, [&](int tid, index_t lo, index_t hi) {
    for (index_t plane = lo; plane < hi; ++plane) {
      const T* xp = x + plane * HW;
      for (index_t pp = 0; pp < p.P; ++pp) {
        T* m = y + plane * PQ + pp * Q;
        std::int64_t* out_idx = idx + plane * PQ + pp * Q;
        I* id = same ? reinterpret_cast<I*>(out_idx) : ibuf.ptr + tid * ld;
        const index_t ih_start = pp * p.sh - p.ph;
        const I row0 = static_cast<I>(first_valid(ih_start, p.dh) * p.W);
        for (index_t q = 0; q < Q; ++q) {
          m[q] = -std::numeric_limits<T>::infinity();
          id[q] = row0 + iw_first[q];
        }
        for (index_t r = 0; r < p.kh; ++r) {
          const index_t ih = ih_start + r * p.dh;
          if (ih < 0 || ih >= p.H) continue;
          const T* xr = xp + ih * p.W;
          for (index_t s = 0; s < p.kw; ++s) {
            const index_t off = s * p.dw - p.pw, a = cr.lo[s], e = cr.hi[s];
            const I base = static_cast<I>(ih * p.W + off);
            if (sw == 1) {
              const T* xs = xr + off;
              for (index_t q = a; q < e; ++q) {
                const T v = xs[q];
                const bool take = (v > m[q]) | (v != v);
                m[q] = take ? v : m[q];
                id[q] = take ? base + static_cast<I>(q) : id[q];
              }
            } else {
              for (index_t q = a; q < e; ++q) {
                const T v = xr[q * sw + off];
                const bool take = (v > m[q]) | (v != v);
                m[q] = take ? v : m[q];
                id[q] = take ? base + static_cast<I>(q * sw) : id[q];
              }
            }
          }
        }
        if (!same)
          for (index_t q = 0; q < Q; ++q) out_idx[q] = id[q];
      }
    }
  });
}

// The 2x2 / stride 2 / no padding window (every output has a full window) on an AVX2 CPU.
inline bool fast_2x2(const Pool2dParams& p) {
#ifdef AXONAL_X86
  return p.kh == 2 && p.kw == 2 && p.sh == 2 && p.sw == 2 && p.ph == 0 && p.pw == 0 && p.dh == 1 &&
         p.dw == 1 && p.P == p.H / 2 && p.Q == p.W / 2 && p.H * p.W < (index_t(1) << 31) &&
         simd_avx2();
#else
  (void)p;
  return false;
#endif
}

// ------------------------------------------------------------------ avg pool helpers
// Divisor factors (PyTorch): the window [start, start + k) clipped to the padded input
// [-pad, n + pad) counts for count_include_pad, clipped to [0, n) otherwise.
inline void avg_extent(index_t o, index_t n, index_t k, index_t stride, index_t pad,
                       bool include_pad, index_t& a, index_t& e, index_t& count) {
  const index_t start = o * stride - pad;
  const index_t end_pad = std::min(start + k, n + pad);
  a = std::max<index_t>(start, 0);
  e = std::min(end_pad, n);
  if (e < a) e = a;
  count = include_pad ? end_pad - start : e - a;
}

}  // namespace

// ------------------------------------------------------------------ public: max pool
template <typename T>
void max_pool2d_forward(const Pool2dParams& p, const T* x, T* y, std::int64_t* idx,
                        int num_threads) {
  if (p.N * p.C * p.P * p.Q == 0) return;
  const int nt = pool_threads(num_threads, double(p.N * p.C) * double(p.P * p.Q * p.kh * p.kw));
#ifdef AXONAL_X86
  if (fast_2x2(p)) {
    over_planes(nt, p.N * p.C, [&](int, index_t lo, index_t hi) {
      max_pool2x2_avx2(lo, hi, p.H, p.W, x, y, idx);
    });
    return;
  }
#endif
  using Narrow = typename std::conditional<sizeof(T) == 4, std::int32_t, std::int64_t>::type;
  if (p.H * p.W < (index_t(1) << 31))
    max_pool_planes<T, Narrow>(p, x, y, idx, nt);
  else
    max_pool_planes<T, std::int64_t>(p, x, y, idx, nt);
}

template <typename T>
index_t max_pool2d_backward(const Pool2dParams& p, const T* dy, const std::int64_t* idx, T* dx,
                            int num_threads) {
  const index_t HW = p.H * p.W, PQ = p.P * p.Q, planes = p.N * p.C;
  if (planes * HW == 0) return 0;
  const int nt = pool_threads(num_threads, double(planes) * double(HW + PQ));
  std::vector<index_t> bad(static_cast<std::size_t>(std::max(1, nt)), 0);
  over_planes(nt, planes, [&](int tid, index_t lo, index_t hi) {
    index_t nbad = 0;
    for (index_t plane = lo; plane < hi; ++plane) {
      T* d = dx + plane * HW;
      std::fill(d, d + HW, T(0));
      const T* g = dy + plane * PQ;
      const std::int64_t* id = idx + plane * PQ;
      for (index_t i = 0; i < PQ; ++i) {
        const std::int64_t j = id[i];
        if (j >= 0 && j < HW)
          d[j] += g[i];
        else
          ++nbad;
      }
    }
    bad[tid] = nbad;
  });
  index_t total = 0;
  for (index_t b : bad) total += b;
  return total;
}

// ------------------------------------------------------------------ public: avg pool
// Per output row: vertical sum of the window's rows (vector adds over W), then horizontal window
// sums (one strided pass per kernel column), then the divisor.
template <typename T>
void avg_pool2d_forward(const Pool2dParams& p, const T* x, T* y, int num_threads) {
  const index_t HW = p.H * p.W, PQ = p.P * p.Q, Q = p.Q, W = p.W, sw = p.sw;
  if (p.N * p.C * PQ == 0) return;
  const int nt = pool_threads(num_threads, double(p.N * p.C) * double(HW + PQ * p.kw));
#ifdef AXONAL_X86
  if (fast_2x2(p)) {
    const T d = T(p.divisor > 0 ? p.divisor : 4);
    over_planes(nt, p.N * p.C,
                [&](int, index_t lo, index_t hi) { avg_pool2x2_avx2(lo, hi, p.H, p.W, d, x, y); });
    return;
  }
#endif
  const ColRanges cr(p.W, p.Q, p.kw, p.sw, p.pw, 1);
  std::vector<T> colcount(Q);
  std::vector<char> colempty(Q);
  for (index_t q = 0; q < Q; ++q) {
    index_t a, e, cnt;
    avg_extent(q, p.W, p.kw, p.sw, p.pw, p.count_include_pad, a, e, cnt);
    colcount[q] = T(cnt);
    colempty[q] = e <= a;
  }
  const index_t ld = line_pad(W + 2 * Q);
  Buffer<T> ws(static_cast<std::size_t>(nt) * ld);
  over_planes(nt, p.N * p.C, [&](int tid, index_t lo, index_t hi) {
    T* rowsum = ws.ptr + tid * ld;
    T* div = rowsum + W;
    T* acc = div + Q;
    for (index_t plane = lo; plane < hi; ++plane) {
      const T* xp = x + plane * HW;
      for (index_t pp = 0; pp < p.P; ++pp) {
        T* yr = y + plane * PQ + pp * Q;
        index_t r0, r1, rcount;
        avg_extent(pp, p.H, p.kh, p.sh, p.ph, p.count_include_pad, r0, r1, rcount);
        if (r1 <= r0) {
          std::fill(yr, yr + Q, T(0));
          continue;
        }
        const T* first = xp + r0 * W;
        std::copy(first, first + W, rowsum);
        for (index_t ih = r0 + 1; ih < r1; ++ih) {
          const T* xr = xp + ih * W;
          for (index_t i = 0; i < W; ++i) rowsum[i] += xr[i];
        }
        std::fill(acc, acc + Q, T(0));
        for (index_t s = 0; s < p.kw; ++s) {
          const index_t off = s - p.pw, a = cr.lo[s], e = cr.hi[s];
          if (sw == 1) {
            const T* rs = rowsum + off;
            for (index_t q = a; q < e; ++q) acc[q] += rs[q];
          } else {
            for (index_t q = a; q < e; ++q) acc[q] += rowsum[q * sw + off];
          }
        }
        if (p.divisor > 0) {
          const T d = T(p.divisor);
          for (index_t q = 0; q < Q; ++q) yr[q] = colempty[q] ? T(0) : acc[q] / d;
        } else {
          const T rc = T(rcount);
          for (index_t q = 0; q < Q; ++q) div[q] = rc * colcount[q];
          for (index_t q = 0; q < Q; ++q) yr[q] = colempty[q] ? T(0) : acc[q] / div[q];
        }
      }
    }
  });
}

template <typename T>
void avg_pool2d_backward(const Pool2dParams& p, const T* dy, T* dx, int num_threads) {
  const index_t HW = p.H * p.W, PQ = p.P * p.Q, Q = p.Q, W = p.W, sw = p.sw;
  if (p.N * p.C * HW == 0) return;
  const int nt = pool_threads(num_threads, double(p.N * p.C) * double(HW * p.kh + PQ * p.kw));
#ifdef AXONAL_X86
  if (fast_2x2(p)) {
    const T d = T(p.divisor > 0 ? p.divisor : 4);
    over_planes(nt, p.N * p.C, [&](int, index_t lo, index_t hi) {
      avg_pool2x2_backward_avx2(lo, hi, p.H, p.W, d, dy, dx);
    });
    return;
  }
#endif
  const ColRanges cr(p.W, p.Q, p.kw, p.sw, p.pw, 1);
  std::vector<T> colcount(Q);
  std::vector<char> colempty(Q);
  for (index_t q = 0; q < Q; ++q) {
    index_t a, e, cnt;
    avg_extent(q, p.W, p.kw, p.sw, p.pw, p.count_include_pad, a, e, cnt);
    colcount[q] = T(cnt);
    colempty[q] = e <= a;
  }
  const index_t ld = line_pad(W + Q);
  Buffer<T> ws(static_cast<std::size_t>(nt) * ld);
  over_planes(nt, p.N * p.C, [&](int tid, index_t lo, index_t hi) {
    T* hrow = ws.ptr + tid * ld;
    T* g = hrow + W;
    for (index_t plane = lo; plane < hi; ++plane) {
      T* dp = dx + plane * HW;
      std::fill(dp, dp + HW, T(0));
      for (index_t pp = 0; pp < p.P; ++pp) {
        const T* dr = dy + plane * PQ + pp * Q;
        index_t r0, r1, rcount;
        avg_extent(pp, p.H, p.kh, p.sh, p.ph, p.count_include_pad, r0, r1, rcount);
        if (r1 <= r0) continue;
        if (p.divisor > 0) {
          const T d = T(p.divisor);
          for (index_t q = 0; q < Q; ++q) g[q] = colempty[q] ? T(0) : dr[q] / d;
        } else {
          const T rc = T(rcount);
          for (index_t q = 0; q < Q; ++q) g[q] = colempty[q] ? T(0) : dr[q] / (rc * colcount[q]);
        }
        std::fill(hrow, hrow + W, T(0));
        for (index_t s = 0; s < p.kw; ++s) {
          const index_t off = s - p.pw, a = cr.lo[s], e = cr.hi[s];
          if (sw == 1) {
            T* hs = hrow + off;
            for (index_t q = a; q < e; ++q) hs[q] += g[q];
          } else {
            for (index_t q = a; q < e; ++q) hrow[q * sw + off] += g[q];
          }
        }
        for (index_t ih = r0; ih < r1; ++ih) {
          T* xr = dp + ih * W;
          for (index_t i = 0; i < W; ++i) xr[i] += hrow[i];
        }
      }
    }
  });
}

// ------------------------------------------------------------------ public: adaptive avg pool
namespace {
inline index_t adaptive_start(index_t o, index_t in, index_t out) { return (o * in) / out; }
inline index_t adaptive_end(index_t o, index_t in, index_t out) {
  return ((o + 1) * in + out - 1) / out;
}

template <typename T>
T plane_sum(const T* a, index_t n) {
  T acc[8] = {};
  index_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int u = 0; u < 8; ++u) acc[u] += a[i + u];
  T tail = 0;
  for (; i < n; ++i) tail += a[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail;
}
}  // namespace

template <typename T>
void adaptive_avg_pool2d_forward(const Pool2dParams& p, const T* x, T* y, int num_threads) {
  const index_t HW = p.H * p.W, PQ = p.P * p.Q, Q = p.Q, W = p.W;
  const index_t planes = p.N * p.C;
  if (planes * PQ == 0) return;
  const int nt = pool_threads(num_threads, double(planes) * double(HW + PQ));
  if (PQ == 1) {  // global average pooling
#ifdef AXONAL_X86
    if (simd_avx2()) {
      over_planes(nt, planes,
                  [&](int, index_t lo, index_t hi) { global_avg_pool_avx2(lo, hi, HW, x, y); });
      return;
    }
#endif
    const T inv_count = T(HW);
    over_planes(nt, planes, [&](int, index_t lo, index_t hi) {
      for (index_t plane = lo; plane < hi; ++plane)
        y[plane] = plane_sum(x + plane * HW, HW) / inv_count;
    });
    return;
  }
  std::vector<index_t> ca(Q), ce(Q);
  for (index_t q = 0; q < Q; ++q) {
    ca[q] = adaptive_start(q, W, Q);
    ce[q] = adaptive_end(q, W, Q);
  }
  const index_t ld = line_pad(W);
  Buffer<T> ws(static_cast<std::size_t>(nt) * ld);
  over_planes(nt, planes, [&](int tid, index_t lo, index_t hi) {
    T* rowsum = ws.ptr + tid * ld;
    for (index_t plane = lo; plane < hi; ++plane) {
      const T* xp = x + plane * HW;
      for (index_t pp = 0; pp < p.P; ++pp) {
        const index_t r0 = adaptive_start(pp, p.H, p.P), r1 = adaptive_end(pp, p.H, p.P);
        std::copy(xp + r0 * W, xp + (r0 + 1) * W, rowsum);
        for (index_t ih = r0 + 1; ih < r1; ++ih) {
          const T* xr = xp + ih * W;
          for (index_t i = 0; i < W; ++i) rowsum[i] += xr[i];
        }
        T* yr = y + plane * PQ + pp * Q;
        const index_t rc = r1 - r0;
        for (index_t q = 0; q < Q; ++q) {
          T s = 0;
          for (index_t i = ca[q]; i < ce[q]; ++i) s += rowsum[i];
          yr[q] = s / T(rc * (ce[q] - ca[q]));
        }
      }
    }
  });
}

template <typename T>
void adaptive_avg_pool2d_backward(const Pool2dParams& p, const T* dy, T* dx, int num_threads) {
  const index_t HW = p.H * p.W, PQ = p.P * p.Q, Q = p.Q, W = p.W;
  const index_t planes = p.N * p.C;
  if (planes * HW == 0) return;
  const int nt = pool_threads(num_threads, double(planes) * double(HW + PQ));
  if (PQ == 1) {
    const T count = T(HW);
    over_planes(nt, planes, [&](int, index_t lo, index_t hi) {
      for (index_t plane = lo; plane < hi; ++plane) {
        const T v = dy[plane] / count;
        std::fill(dx + plane * HW, dx + (plane + 1) * HW, v);
      }
    });
    return;
  }
  std::vector<index_t> ca(Q), ce(Q);
  for (index_t q = 0; q < Q; ++q) {
    ca[q] = adaptive_start(q, W, Q);
    ce[q] = adaptive_end(q, W, Q);
  }
  const index_t ld = line_pad(W);
  Buffer<T> ws(static_cast<std::size_t>(nt) * ld);
  over_planes(nt, planes, [&](int tid, index_t lo, index_t hi) {
    T* hrow = ws.ptr + tid * ld;
    for (index_t plane = lo; plane < hi; ++plane) {
      T* dp = dx + plane * HW;
      std::fill(dp, dp + HW, T(0));
      for (index_t pp = 0; pp < p.P; ++pp) {
        const index_t r0 = adaptive_start(pp, p.H, p.P), r1 = adaptive_end(pp, p.H, p.P);
        const T* dr = dy + plane * PQ + pp * Q;
        const index_t rc = r1 - r0;
        std::fill(hrow, hrow + W, T(0));
        for (index_t q = 0; q < Q; ++q) {
          const T g = dr[q] / T(rc * (ce[q] - ca[q]));
          for (index_t i = ca[q]; i < ce[q]; ++i) hrow[i] += g;
        }
        for (index_t ih = r0; ih < r1; ++ih) {
          T* xr = dp + ih * W;
          for (index_t i = 0; i < W; ++i) xr[i] += hrow[i];
        }
      }
    }
  });
}

#define AXONAL_INSTANTIATE_POOL(T)                                                                \
  template void max_pool2d_forward<T>(const Pool2dParams&, const T*, T*, std::int64_t*, int);     \
  template index_t max_pool2d_backward<T>(const Pool2dParams&, const T*, const std::int64_t*, T*, \
                                          int);                                                   \
  template void avg_pool2d_forward<T>(const Pool2dParams&, const T*, T*, int);                    \
  template void avg_pool2d_backward<T>(const Pool2dParams&, const T*, T*, int);                   \
  template void adaptive_avg_pool2d_forward<T>(const Pool2dParams&, const T*, T*, int);           \
  template void adaptive_avg_pool2d_backward<T>(const Pool2dParams&, const T*, T*, int);
AXONAL_INSTANTIATE_POOL(float)
AXONAL_INSTANTIATE_POOL(double)
#undef AXONAL_INSTANTIATE_POOL

}  // namespace axonal
