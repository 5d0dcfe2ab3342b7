// gemm_driver.h: the blocked GEMM loop nest (BLIS/Goto style) shared by every SIMD path.
// Included by exactly one .cpp per SIMD path; everything here has internal linkage so that
// code compiled with -mavx2 never leaks into the portable path through the linker.
//
//   packed path (any layout, large problems):
//   for jc in N step NC:            B block (KC x NC) packed into NR-wide panels (shared)
//     for pc in K step KC:
//       for ic in M step MC:        A block (MC x KC) packed into MR-tall panels (shared)
//         for (jr, ir) tiles:       micro-kernel MR x NR, split over the threads
//   direct path (op(B) = B row-major, operands small enough to stay in cache): the micro-kernel
//   reads A and B where they lie; only the ragged edge rows / columns are packed (zero-padded).
#pragma once
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "cpu/gemm.h"
#include "cpu/simd_vec.h"
#include "cpu/spin_pool.h"

#ifdef AXONAL_OPENMP
#include <omp.h>
#endif

namespace {

using axonal::index_t;

template <typename T>
struct AlignedBuffer {
  T* ptr = nullptr;
  explicit AlignedBuffer(size_t n) {
    size_t bytes = ((n * sizeof(T) + 63) / 64) * 64;
    if (bytes == 0) bytes = 64;
    ptr = static_cast<T*>(std::aligned_alloc(64, bytes));
    if (!ptr) throw std::bad_alloc();
  }
  ~AlignedBuffer() { std::free(ptr); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
};

// Pack rows [i0, i0+mr) x cols [p0, p0+kc) of op(A) into ap[k*MR + i], zero-padded to MR rows.
template <typename T, int MR>
inline void pack_a_panel(bool trans_a, const T* A, index_t lda, index_t i0, index_t mr, index_t p0,
                         index_t kc, T* ap) {
  if (!trans_a) {
    if (mr < MR) std::memset(ap, 0, sizeof(T) * MR * kc);
    for (index_t i = 0; i < mr; ++i) {
      const T* src = A + (i0 + i) * lda + p0;
      for (index_t k = 0; k < kc; ++k) ap[k * MR + i] = src[k];
    }
  } else {  // A stored (K, M): op(A)[i, k] = A[k, i]
    for (index_t k = 0; k < kc; ++k) {
      const T* src = A + (p0 + k) * lda + i0;
      T* dst = ap + k * MR;
      index_t i = 0;
      for (; i < mr; ++i) dst[i] = src[i];
      for (; i < MR; ++i) dst[i] = T(0);
    }
  }
}

#if defined(__AVX2__) && defined(__FMA__)
// dst[t * ldd + i] = src[i * lds + t] for a W x W block (W = lanes of a 256-bit vector),
// transposed in registers.
template <typename T>
inline void transpose_block(const T* src, index_t lds, T* dst, index_t ldd) {
  using S = Vec256<T>;
  typename S::V r[S::W];
  for (int i = 0; i < S::W; ++i) r[i] = S::load(src + i * lds);
  S::transpose(r);
  for (int t = 0; t < S::W; ++t) S::store(dst + t * ldd, r[t]);
}

// A full panel of op(B) = B^T (B stored (N, K)): W x W blocks transposed in registers (a scalar
// gather of one element at a time cost more than the product itself for a Linear layer's
// x @ W^T at small batch sizes).
template <typename T, int NR>
inline void pack_b_trans_full(const T* B, index_t ldb, index_t p0, index_t kc, index_t j0, T* bp) {
  constexpr int W = Vec256<T>::W;
  static_assert(NR % W == 0, "panel width must be whole vectors");
  index_t k = 0;
  for (; k + W <= kc; k += W)
    for (int jg = 0; jg < NR; jg += W)
      transpose_block(B + (j0 + jg) * ldb + p0 + k, ldb, bp + k * NR + jg, NR);
  for (; k < kc; ++k)
    for (int j = 0; j < NR; ++j) bp[k * NR + j] = B[(j0 + j) * ldb + p0 + k];
}
#endif

// Pack rows [p0, p0+kc) x cols [j0, j0+nr) of op(B) into bp[k*NR + j], zero-padded to NR columns.
template <typename T, int NR>
inline void pack_b_panel(bool trans_b, const T* B, index_t ldb, index_t p0, index_t kc, index_t j0,
                         index_t nr, T* bp) {
#if defined(__AVX2__) && defined(__FMA__)
  if (trans_b && nr == NR) return pack_b_trans_full<T, NR>(B, ldb, p0, kc, j0, bp);
#endif
  if (!trans_b) {
    for (index_t k = 0; k < kc; ++k) {
      const T* src = B + (p0 + k) * ldb + j0;
      T* dst = bp + k * NR;
      index_t j = 0;
      for (; j < nr; ++j) dst[j] = src[j];
      for (; j < NR; ++j) dst[j] = T(0);
    }
  } else {  // B stored (N, K): op(B)[k, j] = B[j, k]
    if (nr < NR) std::memset(bp, 0, sizeof(T) * NR * kc);
    for (index_t j = 0; j < nr; ++j) {
      const T* src = B + (j0 + j) * ldb + p0;
      for (index_t k = 0; k < kc; ++k) bp[k * NR + j] = src[k];
    }
  }
}

// Micro-kernel contract (Kernel::MR, Kernel::NR, Kernel::run): run(kc, a, ars, acs, b, brs, c,
// rs, cs, alpha, beta, mr, nr) computes, with a(i, k) = a[i*ars + k*acs], b(k, j) = b[k*brs + j],
//   C[i*rs + j*cs] = alpha * sum_k a(i, k) b(k, j) + beta * C[...]   for i < mr, j < nr
// (beta == 0: C is not read). All MR rows of a and NR columns of b must be readable.

// A block size <= max_block that splits n into equal parts (784 with 256 -> 196, not 256 + 16):
// a short last block would run the micro-kernel with too few k steps to hide its C traffic.
inline index_t balanced_block(index_t n, index_t max_block) {
  max_block = std::max<index_t>(1, max_block);
  if (n <= max_block) return std::max<index_t>(1, n);
  const index_t blocks = (n + max_block - 1) / max_block;
  return (n + blocks - 1) / blocks;
}

// Split n items over nth threads in contiguous chunks: [lo, hi) for thread tid.
inline void thread_chunk(index_t n, int tid, int nth, index_t& lo, index_t& hi) {
  const index_t q = n / nth, r = n % nth;
  lo = tid * q + std::min<index_t>(tid, r);
  hi = lo + q + (tid < r ? 1 : 0);
}

// Run body(tid, nth) on nt threads (or directly on this one). Work inside is split by hand rather
// than with `omp for`, so that a one-thread call nested in another parallel region (the batched
// GEMM) stays entirely its own.
template <class F>
inline void run_threads(int nt, F&& body) {
#ifdef AXONAL_OPENMP
  if (nt > 1) {
#pragma omp parallel num_threads(nt)
    body(omp_get_thread_num(), omp_get_num_threads());
    return;
  }
#endif
  (void)nt;
  body(0, 1);
}

template <typename T, class Kernel>
void gemm_packed(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha, const T* A,
                 index_t lda, const T* B, index_t ldb, T beta, T* C, index_t rs_c, index_t cs_c,
                 int nt, index_t MC, index_t KC, index_t NC) {
  constexpr int MR = Kernel::MR, NR = Kernel::NR;
  // Equal blocks rounded up to whole micro-panels (N = 2048 with NC 2040 -> 2 x 1024, not
  // 2040 + 8: a sliver of a last block would repack all of A for a few columns).
  auto panels_block = [](index_t n, index_t max_block, index_t r) {
    const index_t max_panels = std::max<index_t>(1, max_block / r);
    return balanced_block((n + r - 1) / r, max_panels) * r;
  };
  NC = panels_block(N, NC, NR);
  KC = balanced_block(K, KC);
  // Row split: each thread owns a contiguous range of MR-panels of rows and packs its own A
  // blocks (kept in its core's L2), sharing only the packed B block: two barriers per K block.
  // Tile split (too few rows to share out): A blocks are shared too, and the MR x NR tiles split.
  const index_t panels_m = (M + MR - 1) / MR;
  const bool row_split = nt > 1 && panels_m >= 2 * nt;
  // MC: equal blocks of each thread's rows (row split) or of all rows
  MC = panels_block(row_split ? ((panels_m + nt - 1) / nt) * MR : M, MC, MR);
  const index_t kc_max = std::min(KC, K);
  const index_t nc_max = std::min(NC, ((N + NR - 1) / NR) * NR);
  const index_t mc_max = std::min(MC, ((M + MR - 1) / MR) * MR);
  const int a_bufs = row_split ? nt : 1;
  AlignedBuffer<T> bbuf(static_cast<size_t>(kc_max * nc_max));
  AlignedBuffer<T> abuf(static_cast<size_t>(kc_max * mc_max * a_bufs));
  T* bp = bbuf.ptr;
  run_threads(nt, [&](int tid, int nth) {
    auto barrier = [nth]() {
#ifdef AXONAL_OPENMP
      if (nth > 1) {
#pragma omp barrier
      }
#endif
    };
    const bool split_rows = row_split && nth == nt;
    T* ap = abuf.ptr + (split_rows ? tid * kc_max * mc_max : 0);
    index_t row_lo = 0, row_hi = M;
    if (split_rows) {
      index_t plo, phi;
      thread_chunk(panels_m, tid, nth, plo, phi);
      row_lo = plo * MR;
      row_hi = std::min(M, phi * MR);
    }
    index_t lo, hi;
    for (index_t jc = 0; jc < N; jc += NC) {
      const index_t nc = std::min(NC, N - jc);
      const index_t npanel_b = (nc + NR - 1) / NR;
      for (index_t pc = 0; pc < K; pc += KC) {
        const index_t kc = std::min(KC, K - pc);
        const T beta_eff = pc == 0 ? beta : T(1);
        barrier();  // everyone is done reading the previous B block
        thread_chunk(npanel_b, tid, nth, lo, hi);
        for (index_t p = lo; p < hi; ++p) {
          const index_t j0 = p * NR;
          pack_b_panel<T, NR>(trans_b, B, ldb, pc, kc, jc + j0, std::min<index_t>(NR, nc - j0),
                              bp + p * NR * kc);
        }
        if (split_rows) barrier();  // B packed
        for (index_t ic = row_lo; ic < row_hi; ic += MC) {
          const index_t mc = std::min(MC, row_hi - ic);
          const index_t npanel_a = (mc + MR - 1) / MR;
          if (split_rows) {
            lo = 0, hi = npanel_a;
          } else {
            barrier();  // B packed; everyone is done reading the previous A block
            thread_chunk(npanel_a, tid, nth, lo, hi);
          }
          for (index_t p = lo; p < hi; ++p) {
            const index_t i0 = p * MR;
            pack_a_panel<T, MR>(trans_a, A, lda, ic + i0, std::min<index_t>(MR, mc - i0), pc, kc,
                                ap + p * MR * kc);
          }
          if (split_rows) {
            lo = 0, hi = npanel_a * npanel_b;
          } else {
            barrier();  // A packed
            thread_chunk(npanel_a * npanel_b, tid, nth, lo, hi);
          }
          for (index_t t = lo; t < hi; ++t) {
            const index_t jr = t / npanel_a, ir = t % npanel_a;
            const index_t j0 = jr * NR, i0 = ir * MR;
            Kernel::run(kc, ap + ir * MR * kc, 1, MR, bp + jr * NR * kc, NR,
                        C + (ic + i0) * rs_c + (jc + j0) * cs_c, rs_c, cs_c, alpha, beta_eff,
                        static_cast<int>(std::min<index_t>(MR, mc - i0)),
                        static_cast<int>(std::min<index_t>(NR, nc - j0)));
          }
        }
      }
    }
  });
}

// Direct path: op(B) = B stored row-major (ldb); op(A) any (strides). No packing except the
// ragged edges; threads take disjoint tiles, so no barriers. The tiles (ir fastest, so that
// consecutive tiles share a panel of B) are cut into items that the spin pool hands out: these
// products take microseconds, and the caller must not wait for a worker that wakes late.
template <typename T, class Kernel>
struct DirectJob {
  index_t M, N, K, ars, acs, ldb, ldc, KC, ti, tiles, chunk;
  T alpha, beta;
  bool trans_b;  // B stored (N, K): each work item packs the panels of B^T its tiles use
  const T* A;
  const T* B;
  const T* aedge;
  const T* bedge;
  T* C;

  void run(index_t lo, index_t hi) const {
    constexpr int MR = Kernel::MR, NR = Kernel::NR;
    AlignedBuffer<T> bpanel(static_cast<size_t>(trans_b ? std::min(KC, K) * NR : 0));
    for (index_t pc = 0; pc < K; pc += KC) {
      const index_t kc = std::min(KC, K - pc);
      const T beta_eff = pc == 0 ? beta : T(1);
      index_t packed = -1;  // the column panel in bpanel (tiles run ir fastest: few repacks)
      for (index_t t = lo; t < hi; ++t) {
        const index_t jr = t / ti, ir = t % ti;
        const index_t i0 = ir * MR, j0 = jr * NR;
        const bool a_in = i0 + MR <= M, b_in = j0 + NR <= N;
        const T* a = a_in ? A + i0 * ars + pc * acs : aedge + pc * MR;
        const T* b = b_in ? B + pc * ldb + j0 : bedge + pc * NR;
        index_t brs = b_in ? ldb : NR;
        if (trans_b) {
          if (packed != jr)
            pack_b_panel<T, NR>(true, B, ldb, pc, kc, j0, std::min<index_t>(NR, N - j0),
                                bpanel.ptr);
          packed = jr;
          b = bpanel.ptr;
          brs = NR;
        }
        Kernel::run(kc, a, a_in ? ars : 1, a_in ? acs : MR, b, brs, C + i0 * ldc + j0, ldc, 1,
                    alpha, beta_eff, static_cast<int>(std::min<index_t>(MR, M - i0)),
                    static_cast<int>(std::min<index_t>(NR, N - j0)));
      }
    }
  }
  static void item(void* self, std::int64_t i) {
    const auto& j = *static_cast<const DirectJob*>(self);
    j.run(i * j.chunk, std::min(j.tiles, (i + 1) * j.chunk));
  }
};

template <typename T, class Kernel>
void gemm_direct(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha, const T* A,
                 index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc, int nt,
                 index_t KC) {
  constexpr int MR = Kernel::MR, NR = Kernel::NR;
  const index_t m_full = (M / MR) * MR, n_full = (N / NR) * NR;
  const index_t m_edge = M - m_full, n_edge = N - n_full;
  // Edge panels over the whole K: A rows [m_full, M) as (K, MR), B columns [n_full, N) as (K, NR).
  AlignedBuffer<T> aedge(static_cast<size_t>(m_edge ? K * MR : 0));
  AlignedBuffer<T> bedge(static_cast<size_t>(n_edge && !trans_b ? K * NR : 0));
  if (m_edge) pack_a_panel<T, MR>(trans_a, A, lda, m_full, m_edge, 0, K, aedge.ptr);
  if (n_edge && !trans_b) pack_b_panel<T, NR>(false, B, ldb, 0, K, n_full, n_edge, bedge.ptr);
  DirectJob<T, Kernel> job;
  job.M = M, job.N = N, job.K = K, job.ldb = ldb, job.ldc = ldc;
  job.ars = trans_a ? 1 : lda, job.acs = trans_a ? lda : 1;
  job.KC = balanced_block(K, KC);
  job.ti = (M + MR - 1) / MR;
  job.tiles = job.ti * ((N + NR - 1) / NR);
  job.alpha = alpha, job.beta = beta, job.trans_b = trans_b;
  job.A = A, job.B = B, job.aedge = aedge.ptr, job.bedge = bedge.ptr, job.C = C;
  // Products under ~8 MFLOP (tens of microseconds) through the spin pool; above that OpenMP's
  // fork/join is noise and contiguous halves keep each thread on its own panels of B
  // (measured: 64^3 1.15 -> 1.28x NumPy with the pool, 128x784x256 1.22 -> 1.18x).
  if (nt > 1 && 2.0 * double(M) * double(N) * double(K) < 8e6) {
    // about four items per thread: small enough to even out a late start, large enough that
    // claiming one (an atomic compare-and-swap) stays negligible
    job.chunk = std::max<index_t>(1, job.tiles / (4 * nt));
    const index_t items = (job.tiles + job.chunk - 1) / job.chunk;
    if (axonal::spin_pool_run(items, nt - 1, &DirectJob<T, Kernel>::item, &job)) return;
  }
  // one thread, or the pool is taken (another thread's GEMM): OpenMP, contiguous tile ranges
  job.chunk = job.tiles;
  run_threads(nt, [&](int tid, int nth) {
    index_t lo, hi;
    thread_chunk(job.tiles, tid, nth, lo, hi);
    job.run(lo, hi);
  });
}

// C (row-major, ldc) = alpha op(A) op(B) + beta C.
template <typename T, class Kernel>
void gemm_blocked(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha, const T* A,
                  index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc, int nt,
                  const axonal::GemmBlocking& blk) {
  constexpr int MR = Kernel::MR, NR = Kernel::NR;
  const double bytes = double(M * K + K * N) * sizeof(T);
  // Small products with B transposed (a Linear layer's x @ W^T) take the direct path too, each
  // work item packing its own panels of B^T: no barriers. The packed path's OpenMP barriers each
  // wait for every thread, and where another process holds a core that cost milliseconds per
  // call (measured: 32 x 128 x 512, an LSTM step, on a loaded 2-core VM: ~14 ms, not ~35 us).
  const bool small = 2.0 * double(M) * double(N) * double(K) < 8e6;
  if ((!trans_b || small) && bytes <= double(blk.direct_bytes)) {
    gemm_direct<T, Kernel>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, nt,
                           blk.kc);
    return;
  }
  // A narrow output (N well below the tile width NR): compute C^T = op(B)^T op(A)^T instead, so
  // the wide dimension fills the vector tiles; C^T is written through (rs, cs) = (1, ldc).
  if (axonal::tile_fill(N, M, MR, NR) > 1.15 * axonal::tile_fill(M, N, MR, NR)) {
    gemm_packed<T, Kernel>(!trans_b, !trans_a, N, M, K, alpha, B, ldb, A, lda, beta, C, 1, ldc, nt,
                           blk.mc, blk.kc, blk.nc);
  } else {
    gemm_packed<T, Kernel>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, 1, nt,
                           blk.mc, blk.kc, blk.nc);
  }
}

// Write a finished MR x NR accumulator tile held in `acc` (row-major, NR wide) to C[i*rs + j*cs].
template <typename T, int NR>
inline void store_tile_scalar(const T* acc, T* c, index_t rs, index_t cs, T alpha, T beta, int mr,
                              int nr) {
  for (int i = 0; i < mr; ++i) {
    T* ci = c + i * rs;
    const T* ai = acc + i * NR;
    if (beta == T(0)) {
      for (int j = 0; j < nr; ++j) ci[j * cs] = alpha * ai[j];
    } else {
      for (int j = 0; j < nr; ++j) ci[j * cs] = alpha * ai[j] + beta * ci[j * cs];
    }
  }
}

// Prefetch rows [0, mr) of a C tile (cs == 1) before the k loop: the kernel reads C (beta != 0,
// every K block after the first) only after it, and at large ldc the rows often come from L3.
template <typename T, int NR>
__attribute__((always_inline)) inline void prefetch_c_tile(const T* c, index_t rs, index_t cs,
                                                           int mr) {
  if (cs != 1) return;
  for (int i = 0; i < mr; ++i) {
    __builtin_prefetch(c + i * rs, 0, 3);
    __builtin_prefetch(c + i * rs + NR - 1, 0, 3);
  }
}

// C = alpha * acc + beta * C (beta == 0: C not read) for a micro-tile of up to MR rows whose row i
// is held as lo[i] (columns [0, W)) and hi[i] (columns [W, 2W)), S the vector type: vector stores
// for full-width rows (the last row panel may have mr < MR), a staging tile otherwise.
template <class S, int MR, typename T>
__attribute__((always_inline)) inline void store_c_tile(const typename S::V* lo,
                                                        const typename S::V* hi, T* c, index_t rs,
                                                        index_t cs, T alpha, T beta, int mr,
                                                        int nr) {
  using V = typename S::V;
  constexpr int W = S::W, NR = 2 * W;
  const V va = S::set1(alpha);
  if (nr == NR && cs == 1) {
    auto rows = [&](int m) {
      if (beta == T(0)) {
        for (int i = 0; i < m; ++i) {
          S::store(c + i * rs, S::mul(va, lo[i]));
          S::store(c + i * rs + W, S::mul(va, hi[i]));
        }
      } else {
        const V vb = S::set1(beta);
        for (int i = 0; i < m; ++i) {
          T* ci = c + i * rs;
          S::store(ci, S::fma(va, lo[i], S::mul(vb, S::load(ci))));
          S::store(ci + W, S::fma(va, hi[i], S::mul(vb, S::load(ci + W))));
        }
      }
    };
    if (mr == MR)
      rows(MR);  // constant trip count: the accumulators stay in registers
    else
      rows(mr);
    return;
  }
  alignas(64) T tmp[MR * NR];
  for (int i = 0; i < MR; ++i) {
    S::store(tmp + i * NR, lo[i]);
    S::store(tmp + i * NR + W, hi[i]);
  }
  store_tile_scalar<T, NR>(tmp, c, rs, cs, alpha, beta, mr, nr);
}

}  // namespace
