// lstm_cell.cpp: the LSTM cell's pointwise forward and backward (see lstm_cell.h): the portable
// kernel (any T), the dispatch to the AVX2 float32 one, and the split over threads by rows.
#include "cpu/lstm_cell.h"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "cpu/cpu_features.h"
#include "cpu/gemm.h"
#include "cpu/threads.h"

namespace axonal {

namespace {

// Packed sequences (lengths non-increasing): how many of rows n0 .. n0 + m - 1 still run at
// processing step s (a prefix of them), and the time index of row n's step s.
inline index_t running_rows(const index_t* lengths, index_t n0, index_t m, index_t s) {
  index_t ms = 0;
  while (ms < m && lengths[n0 + ms] > s) ++ms;
  return ms;
}
inline index_t step_time(const index_t* lengths, index_t n, index_t s, bool reverse) {
  return reverse ? lengths[n] - 1 - s : s;
}

// The inputs (width W) of the ms running rows from n0 at step s, each at its own time, into buf.
template <typename T>
void packed_inputs(const index_t* lengths, index_t n0, index_t ms, index_t s, bool reverse,
                   index_t N, index_t W, const T* x, T* buf) {
  for (index_t r = 0; r < ms; ++r) {
    const T* xp = x + step_time(lengths, n0 + r, s, reverse) * N * W + (n0 + r) * W;
    std::copy(xp, xp + W, buf + r * W);
  }
}

// Their new h (hs[s + 1]) into the time-ordered output.
template <typename T>
void packed_outputs(const index_t* lengths, index_t n0, index_t ms, index_t s, bool reverse,
                    index_t N, index_t H, const T* hs, T* out) {
  for (index_t r = 0; r < ms; ++r) {
    const T* h = hs + (s + 1) * N * H + (n0 + r) * H;
    std::copy(h, h + H, out + step_time(lengths, n0 + r, s, reverse) * N * H + (n0 + r) * H);
  }
}

constexpr index_t kElemsPerThread = 8192;  // below this much work per thread, use fewer threads

template <typename T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

template <typename T>
void forward_rows(index_t r0, index_t r1, index_t H, const T* gates, const T* c, T* act, T* c2,
                  T* h2) {
  for (index_t r = r0; r < r1; ++r) {
    const T* g = gates + r * 4 * H;
    T* a = act + r * 4 * H;
    for (index_t j = 0; j < H; ++j) {
      const T i = sigmoid(g[j]), f = sigmoid(g[H + j]), gg = std::tanh(g[2 * H + j]);
      const T o = sigmoid(g[3 * H + j]);
      a[j] = i, a[H + j] = f, a[2 * H + j] = gg, a[3 * H + j] = o;
      const T cn = f * c[r * H + j] + i * gg;
      c2[r * H + j] = cn;
      h2[r * H + j] = o * std::tanh(cn);
    }
  }
}

template <typename T>
void backward_rows(index_t r0, index_t r1, index_t H, const T* dh, const T* dc, const T* act,
                   const T* c, const T* c2, T* dgates, T* dc_prev) {
  for (index_t r = r0; r < r1; ++r) {
    const T* a = act + r * 4 * H;
    T* d = dgates + r * 4 * H;
    for (index_t j = 0; j < H; ++j) {
      const index_t k = r * H + j;
      const T i = a[j], f = a[H + j], g = a[2 * H + j], o = a[3 * H + j];
      const T tc = std::tanh(c2[k]);
      const T dct = (dc ? dc[k] : T(0)) + dh[k] * o * (T(1) - tc * tc);
      d[j] = dct * g * i * (T(1) - i);
      d[H + j] = dct * c[k] * f * (T(1) - f);
      d[2 * H + j] = dct * i * (T(1) - g * g);
      d[3 * H + j] = dh[k] * tc * o * (T(1) - o);
      dc_prev[k] = dct * f;
    }
  }
}

// Threads for a pass over N rows of H units: one per kElemsPerThread units, at most nt.
inline int threads_for(index_t N, index_t H, int nt) {
  return static_cast<int>(std::min<index_t>(nt, std::max<index_t>(1, N * H / kElemsPerThread)));
}

}  // namespace

template <typename T>
void lstm_cell_forward(index_t N, index_t H, const T* gates, const T* c, T* act, T* c2, T* h2,
                       int num_threads) {
  if (N <= 0 || H <= 0) return;
  parallel_chunks(N, threads_for(N, H, num_threads), [&](index_t lo, index_t hi) {
#ifdef AXONAL_X86
    if constexpr (std::is_same<T, float>::value)
      if (simd_avx2()) return lstm_cell_forward_f32_avx2(lo, hi, H, gates, c, act, c2, h2);
#endif
    forward_rows(lo, hi, H, gates, c, act, c2, h2);
  });
}

template <typename T>
void lstm_cell_backward(index_t N, index_t H, const T* dh, const T* dc, const T* act, const T* c,
                        const T* c2, T* dgates, T* dc_prev, int num_threads) {
  if (N <= 0 || H <= 0) return;
  parallel_chunks(N, threads_for(N, H, num_threads), [&](index_t lo, index_t hi) {
#ifdef AXONAL_X86
    if constexpr (std::is_same<T, float>::value)
      if (simd_avx2())
        return lstm_cell_backward_f32_avx2(lo, hi, H, dh, dc, act, c, c2, dgates, dc_prev);
#endif
    backward_rows(lo, hi, H, dh, dc, act, c, c2, dgates, dc_prev);
  });
}

// Threads for the recurrences: batch rows never depend on each other, so each thread runs the
// whole sequence for its own slab of rows (a GEMM of its rows and the cell per step, both on one
// thread) and no thread waits for another between steps. Up to 8 rows per slab per thread.
inline int sequence_threads(index_t N, int num_threads) {
  return static_cast<int>(std::max<index_t>(1, std::min<index_t>(num_threads, N / 8)));
}

template <typename T>
void lstm_sequence_forward(index_t L, index_t N, index_t H, const T* xproj, const T* wt,
                           bool reverse, T* hs, T* cs, T* acts, int num_threads,
                           const index_t* lengths, T* out) {
  const index_t G = 4 * H, NH = N * H, NG = N * G;
  if (lengths) {  // row n runs lens[n] steps (non-increasing lengths: the running rows of a
                  // slab are a prefix of it); finished rows carry their state forward
    parallel_chunks(N, sequence_threads(N, num_threads), [&](index_t n0, index_t n1) {
      const index_t m = n1 - n0;
      std::vector<T> gates(static_cast<std::size_t>(m * G));
      for (index_t s = 0; s < L; ++s) {
        const index_t ms = running_rows(lengths, n0, m, s);
        packed_inputs(lengths, n0, ms, s, reverse, N, G, xproj, gates.data());
        if (ms > 0) {
          gemm<T>(false, false, ms, G, H, T(1), hs + s * NH + n0 * H, H, wt, G, T(1), gates.data(),
                  G, 1);
          lstm_cell_forward<T>(ms, H, gates.data(), cs + s * NH + n0 * H, acts + s * NG + n0 * G,
                               cs + (s + 1) * NH + n0 * H, hs + (s + 1) * NH + n0 * H, 1);
        }
        for (index_t r = ms; r < m; ++r) {  // finished: same state, no activations
          const index_t o = (n0 + r) * H;
          std::copy(hs + s * NH + o, hs + s * NH + o + H, hs + (s + 1) * NH + o);
          std::copy(cs + s * NH + o, cs + s * NH + o + H, cs + (s + 1) * NH + o);
          std::fill(acts + s * NG + (n0 + r) * G, acts + s * NG + (n0 + r + 1) * G, T(0));
        }
        packed_outputs(lengths, n0, ms, s, reverse, N, H, hs, out);
      }
    });
    return;
  }
  parallel_chunks(N, sequence_threads(N, num_threads), [&](index_t n0, index_t n1) {
    const index_t m = n1 - n0;
    std::vector<T> gates(static_cast<std::size_t>(m * G));
    for (index_t s = 0; s < L; ++s) {
      const index_t t = reverse ? L - 1 - s : s;
      const T* xp = xproj + t * NG + n0 * G;
      std::copy(xp, xp + m * G, gates.begin());
      gemm<T>(false, false, m, G, H, T(1), hs + s * NH + n0 * H, H, wt, G, T(1), gates.data(), G,
              1);
      lstm_cell_forward<T>(m, H, gates.data(), cs + s * NH + n0 * H, acts + s * NG + n0 * G,
                           cs + (s + 1) * NH + n0 * H, hs + (s + 1) * NH + n0 * H, 1);
    }
  });
}

template <typename T>
void lstm_sequence_backward(index_t L, index_t N, index_t H, const T* dout, const T* dhn,
                            const T* dcn, const T* hs, const T* cs, const T* acts, const T* w,
                            bool reverse, T* dxproj, T* dh0, T* dc0, T* dw, int num_threads,
                            const index_t* lengths) {
  const index_t G = 4 * H, NH = N * H, NG = N * G;
  std::vector<T> dgs(static_cast<std::size_t>(L * NG));  // processing order (zeros)
  if (lengths) {  // as the forward: row n's steps only; finished rows pass dh, dc through
    std::fill(dxproj, dxproj + L * NG, T(0));
    parallel_chunks(N, sequence_threads(N, num_threads), [&](index_t n0, index_t n1) {
      const index_t m = n1 - n0;
      std::vector<T> dh(dhn + n0 * H, dhn + n1 * H), dc(dcn + n0 * H, dcn + n1 * H);
      std::vector<T> dct(static_cast<std::size_t>(m * H));
      for (index_t s = L - 1; s >= 0; --s) {
        const index_t ms = running_rows(lengths, n0, m, s);
        if (ms == 0) continue;
        for (index_t r = 0; r < ms; ++r) {
          const index_t t = step_time(lengths, n0 + r, s, reverse);
          const T* dt = dout + t * NH + (n0 + r) * H;
          for (index_t j = 0; j < H; ++j) dh[r * H + j] += dt[j];
        }
        T* dg = dgs.data() + s * NG + n0 * G;
        lstm_cell_backward<T>(ms, H, dh.data(), dc.data(), acts + s * NG + n0 * G,
                              cs + s * NH + n0 * H, cs + (s + 1) * NH + n0 * H, dg, dct.data(), 1);
        std::copy(dct.begin(), dct.begin() + ms * H, dc.begin());
        gemm<T>(false, false, ms, H, G, T(1), dg, G, w, H, T(0), dh.data(), H, 1);
        for (index_t r = 0; r < ms; ++r) {
          const index_t t = step_time(lengths, n0 + r, s, reverse);
          std::copy(dg + r * G, dg + (r + 1) * G, dxproj + t * NG + (n0 + r) * G);
        }
      }
      std::copy(dh.begin(), dh.end(), dh0 + n0 * H);
      std::copy(dc.begin(), dc.end(), dc0 + n0 * H);
    });
    gemm<T>(true, false, G, H, L * N, T(1), dgs.data(), G, hs, H, T(0), dw, H, num_threads);
    return;
  }
  parallel_chunks(N, sequence_threads(N, num_threads), [&](index_t n0, index_t n1) {
    const index_t m = n1 - n0, mh = m * H, mg = m * G;
    std::vector<T> dh(dhn + n0 * H, dhn + n1 * H), dc(dcn + n0 * H, dcn + n1 * H);
    std::vector<T> dct(static_cast<std::size_t>(mh));
    for (index_t s = L - 1; s >= 0; --s) {
      const index_t t = reverse ? L - 1 - s : s;
      const T* dt = dout + t * NH + n0 * H;
      for (index_t i = 0; i < mh; ++i) dh[i] += dt[i];
      T* dg = dgs.data() + s * NG + n0 * G;
      lstm_cell_backward<T>(m, H, dh.data(), dc.data(), acts + s * NG + n0 * G,
                            cs + s * NH + n0 * H, cs + (s + 1) * NH + n0 * H, dg, dct.data(), 1);
      std::swap(dc, dct);
      gemm<T>(false, false, m, H, G, T(1), dg, G, w, H, T(0), dh.data(), H, 1);
      std::copy(dg, dg + mg, dxproj + t * NG + n0 * G);
    }
    std::copy(dh.begin(), dh.end(), dh0 + n0 * H);
    std::copy(dc.begin(), dc.end(), dc0 + n0 * H);
  });
  // dW_hh = sum_s dgates_s^T h_s: (4H, L N) @ (L N, H)
  gemm<T>(true, false, G, H, L * N, T(1), dgs.data(), G, hs, H, T(0), dw, H, num_threads);
}

namespace {

// The GRU cell over m rows (see gru_sequence_forward), portable; float32 takes the AVX2 kernel.
template <typename T>
void gru_cell_rows(index_t m, index_t H, const T* gi, const T* gh, const T* h, T* rz, T* n, T* ghn,
                   T* h2) {
#ifdef AXONAL_X86
  if constexpr (std::is_same<T, float>::value)
    if (simd_avx2()) return gru_cell_forward_f32_avx2(m, H, gi, gh, h, rz, n, ghn, h2);
#endif
  for (index_t r = 0; r < m; ++r) {
    const T *gir = gi + r * 3 * H, *ghr = gh + r * 3 * H;
    for (index_t j = 0; j < H; ++j) {
      const T rr = sigmoid(gir[j] + ghr[j]), z = sigmoid(gir[H + j] + ghr[H + j]);
      const T gn = ghr[2 * H + j], nn = std::tanh(gir[2 * H + j] + rr * gn);
      rz[r * 2 * H + j] = rr;
      rz[r * 2 * H + H + j] = z;
      n[r * H + j] = nn;
      ghn[r * H + j] = gn;
      h2[r * H + j] = (T(1) - z) * nn + z * h[r * H + j];
    }
  }
}

}  // namespace

template <typename T>
void gru_sequence_forward(index_t L, index_t N, index_t H, const T* xproj, const T* wt,
                          const T* bhh, bool reverse, T* hs, T* rz, T* ns, T* ghn, int num_threads,
                          const index_t* lengths, T* out) {
  const index_t G = 3 * H, NH = N * H, NG = N * G;
  if (lengths) {  // as lstm_sequence_forward: each row its own steps (a prefix of the slab runs)
    parallel_chunks(N, sequence_threads(N, num_threads), [&](index_t n0, index_t n1) {
      const index_t m = n1 - n0;
      std::vector<T> gh(static_cast<std::size_t>(m * G), T(0)), gi(gh.size());
      for (index_t s = 0; s < L; ++s) {
        const index_t ms = running_rows(lengths, n0, m, s);
        packed_inputs(lengths, n0, ms, s, reverse, N, G, xproj, gi.data());
        if (bhh)
          for (index_t r = 0; r < ms; ++r) std::copy(bhh, bhh + G, gh.begin() + r * G);
        if (ms > 0) {
          gemm<T>(false, false, ms, G, H, T(1), hs + s * NH + n0 * H, H, wt, G, bhh ? T(1) : T(0),
                  gh.data(), G, 1);
          gru_cell_rows<T>(ms, H, gi.data(), gh.data(), hs + s * NH + n0 * H,
                           rz + s * 2 * NH + n0 * 2 * H, ns + s * NH + n0 * H,
                           ghn + s * NH + n0 * H, hs + (s + 1) * NH + n0 * H);
        }
        for (index_t r = ms; r < m; ++r) {  // finished: same state, no activations
          const index_t o = (n0 + r) * H;
          std::copy(hs + s * NH + o, hs + s * NH + o + H, hs + (s + 1) * NH + o);
          std::fill(rz + s * 2 * NH + 2 * o, rz + s * 2 * NH + 2 * o + 2 * H, T(0));
          std::fill(ns + s * NH + o, ns + s * NH + o + H, T(0));
          std::fill(ghn + s * NH + o, ghn + s * NH + o + H, T(0));
        }
        packed_outputs(lengths, n0, ms, s, reverse, N, H, hs, out);
      }
    });
    return;
  }
  parallel_chunks(N, sequence_threads(N, num_threads), [&](index_t n0, index_t n1) {
    const index_t m = n1 - n0;
    std::vector<T> gh(static_cast<std::size_t>(m * G), T(0));
    for (index_t s = 0; s < L; ++s) {
      const index_t t = reverse ? L - 1 - s : s;
      if (bhh)
        for (index_t r = 0; r < m; ++r) std::copy(bhh, bhh + G, gh.begin() + r * G);
      gemm<T>(false, false, m, G, H, T(1), hs + s * NH + n0 * H, H, wt, G, bhh ? T(1) : T(0),
              gh.data(), G, 1);
      gru_cell_rows<T>(m, H, xproj + t * NG + n0 * G, gh.data(), hs + s * NH + n0 * H,
                       rz + s * 2 * NH + n0 * 2 * H, ns + s * NH + n0 * H, ghn + s * NH + n0 * H,
                       hs + (s + 1) * NH + n0 * H);
    }
  });
}

template <typename T>
void gru_sequence_backward(index_t L, index_t N, index_t H, const T* dout, const T* dhn,
                           const T* hs, const T* rz, const T* ns, const T* ghn, const T* w,
                           bool reverse, T* dxproj, T* dh0, T* dw, T* db, int num_threads,
                           const index_t* lengths) {
  const index_t G = 3 * H, NH = N * H, NG = N * G;
  std::vector<T> dgh(static_cast<std::size_t>(L * NG));  // processing order (zeros)
  if (lengths) std::fill(dxproj, dxproj + L * NG, T(0));
  parallel_chunks(N, sequence_threads(N, num_threads), [&](index_t n0, index_t n1) {
    const index_t m = n1 - n0;
    std::vector<T> dh(dhn + n0 * H, dhn + n1 * H), gz(static_cast<std::size_t>(m * H));
    for (index_t s = L - 1; s >= 0; --s) {
      // rows still running at step s (all without lengths); the others pass dh through
      const index_t ms = lengths ? running_rows(lengths, n0, m, s) : m;
      if (ms == 0) continue;
      T* dg = dgh.data() + s * NG + n0 * G;
      for (index_t r = 0; r < ms; ++r) {
        const index_t t =
            lengths ? step_time(lengths, n0 + r, s, reverse) : (reverse ? L - 1 - s : s);
        const T* dtr = dout + t * NH + (n0 + r) * H;
        const T* rzr = rz + s * 2 * NH + (n0 + r) * 2 * H;
        const T* nr = ns + s * NH + (n0 + r) * H;
        const T* gnr = ghn + s * NH + (n0 + r) * H;
        const T* hr = hs + s * NH + (n0 + r) * H;
        T *dgr = dg + r * G, *dxr = dxproj + t * NG + (n0 + r) * G;
        for (index_t j = 0; j < H; ++j) {
          const T g = dh[r * H + j] + dtr[j];
          const T rr = rzr[j], z = rzr[H + j], n = nr[j];
          const T dn = g * (T(1) - z) * (T(1) - n * n);
          const T dr = dn * gnr[j] * rr * (T(1) - rr);
          const T dz = g * (hr[j] - n) * z * (T(1) - z);
          dxr[j] = dr, dxr[H + j] = dz, dxr[2 * H + j] = dn;
          dgr[j] = dr, dgr[H + j] = dz, dgr[2 * H + j] = dn * rr;
          gz[r * H + j] = g * z;
        }
      }
      // dh = g z + dgh_s W_hh (the running rows)
      gemm<T>(false, false, ms, H, G, T(1), dg, G, w, H, T(0), dh.data(), H, 1);
      for (index_t i = 0; i < ms * H; ++i) dh[i] += gz[i];
    }
    std::copy(dh.begin(), dh.end(), dh0 + n0 * H);
  });
  // dW_hh = sum_s dgh_s^T h_s: (3H, L N) @ (L N, H); db_hh = the column sums of dgh
  gemm<T>(true, false, G, H, L * N, T(1), dgh.data(), G, hs, H, T(0), dw, H, num_threads);
  if (db) {
    std::fill(db, db + G, T(0));
    for (index_t i = 0; i < L * N; ++i)
      for (index_t j = 0; j < G; ++j) db[j] += dgh[i * G + j];
  }
}

template void gru_sequence_backward<float>(index_t, index_t, index_t, const float*, const float*,
                                           const float*, const float*, const float*, const float*,
                                           const float*, bool, float*, float*, float*, float*, int,
                                           const index_t*);
template void gru_sequence_backward<double>(index_t, index_t, index_t, const double*, const double*,
                                            const double*, const double*, const double*,
                                            const double*, const double*, bool, double*, double*,
                                            double*, double*, int, const index_t*);

template void gru_sequence_forward<float>(index_t, index_t, index_t, const float*, const float*,
                                          const float*, bool, float*, float*, float*, float*, int,
                                          const index_t*, float*);
template void gru_sequence_forward<double>(index_t, index_t, index_t, const double*, const double*,
                                           const double*, bool, double*, double*, double*, double*,
                                           int, const index_t*, double*);

template void lstm_sequence_forward<float>(index_t, index_t, index_t, const float*, const float*,
                                           bool, float*, float*, float*, int, const index_t*,
                                           float*);
template void lstm_sequence_forward<double>(index_t, index_t, index_t, const double*, const double*,
                                            bool, double*, double*, double*, int, const index_t*,
                                            double*);
template void lstm_sequence_backward<float>(index_t, index_t, index_t, const float*, const float*,
                                            const float*, const float*, const float*, const float*,
                                            const float*, bool, float*, float*, float*, float*, int,
                                            const index_t*);
template void lstm_sequence_backward<double>(index_t, index_t, index_t, const double*,
                                             const double*, const double*, const double*,
                                             const double*, const double*, const double*, bool,
                                             double*, double*, double*, double*, int,
                                             const index_t*);

template void lstm_cell_forward<float>(index_t, index_t, const float*, const float*, float*, float*,
                                       float*, int);
template void lstm_cell_forward<double>(index_t, index_t, const double*, const double*, double*,
                                        double*, double*, int);
template void lstm_cell_backward<float>(index_t, index_t, const float*, const float*, const float*,
                                        const float*, const float*, float*, float*, int);
template void lstm_cell_backward<double>(index_t, index_t, const double*, const double*,
                                         const double*, const double*, const double*, double*,
                                         double*, int);

}  // namespace axonal
