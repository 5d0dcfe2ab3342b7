// gemm_driver.h: the blocked GEMM loop nest (BLIS/Goto style) shared by every SIMD path.
// Included by exactly one .cpp per SIMD path; everything here has internal linkage so that
// code compiled with -mavx2 never leaks into the portable path through the linker.
//
//   for jc in N step NC:            B block (KC x NC) packed into NR-wide panels (shared)
//     for pc in K step KC:
//       for ic in M step MC:        A block (MC x KC) packed into MR-tall panels (shared)
//         for (jr, ir) tiles:       micro-kernel MR x NR, split over the threads
#pragma once
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "cpu/gemm.h"

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

// Pack rows [p0, p0+kc) x cols [j0, j0+nr) of op(B) into bp[k*NR + j], zero-padded to NR columns.
template <typename T, int NR>
inline void pack_b_panel(bool trans_b, const T* B, index_t ldb, index_t p0, index_t kc, index_t j0,
                         index_t nr, T* bp) {
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

// Micro-kernel contract: Kernel::run(kc, ap, bp, c, ldc, alpha, beta, mr, nr) computes
// C[0:mr, 0:nr] = alpha * (ap panel @ bp panel) + beta * C (beta == 0: C not read).
template <typename T, int MR, int NR, class Kernel>
void gemm_blocked(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha, const T* A,
                  index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc, int nt,
                  index_t MC, index_t KC, index_t NC) {
  MC = std::max<index_t>(MR, (MC / MR) * MR);
  NC = std::max<index_t>(NR, (NC / NR) * NR);
  KC = std::max<index_t>(1, KC);
  const index_t kc_max = std::min(KC, K);
  const index_t nc_max = std::min(NC, ((N + NR - 1) / NR) * NR);
  const index_t mc_max = std::min(MC, ((M + MR - 1) / MR) * MR);
  AlignedBuffer<T> bbuf(static_cast<size_t>(kc_max * nc_max));
  AlignedBuffer<T> abuf(static_cast<size_t>(kc_max * mc_max));
  T* bp = bbuf.ptr;
  T* ap = abuf.ptr;

#ifdef AXONAL_OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
  {
    for (index_t jc = 0; jc < N; jc += NC) {
      const index_t nc = std::min(NC, N - jc);
      const index_t npanel_b = (nc + NR - 1) / NR;
      for (index_t pc = 0; pc < K; pc += KC) {
        const index_t kc = std::min(KC, K - pc);
        const T beta_eff = pc == 0 ? beta : T(1);
#ifdef AXONAL_OPENMP
#pragma omp for schedule(static)
#endif
        for (index_t p = 0; p < npanel_b; ++p) {
          const index_t j0 = p * NR;
          pack_b_panel<T, NR>(trans_b, B, ldb, pc, kc, jc + j0, std::min<index_t>(NR, nc - j0),
                              bp + p * NR * kc);
        }
        for (index_t ic = 0; ic < M; ic += MC) {
          const index_t mc = std::min(MC, M - ic);
          const index_t npanel_a = (mc + MR - 1) / MR;
#ifdef AXONAL_OPENMP
#pragma omp for schedule(static)
#endif
          for (index_t p = 0; p < npanel_a; ++p) {
            const index_t i0 = p * MR;
            pack_a_panel<T, MR>(trans_a, A, lda, ic + i0, std::min<index_t>(MR, mc - i0), pc, kc,
                                ap + p * MR * kc);
          }
          const index_t ntiles = npanel_a * npanel_b;
#ifdef AXONAL_OPENMP
#pragma omp for schedule(static)
#endif
          for (index_t t = 0; t < ntiles; ++t) {
            const index_t jr = t / npanel_a, ir = t % npanel_a;
            const index_t j0 = jr * NR, i0 = ir * MR;
            Kernel::run(kc, ap + ir * MR * kc, bp + jr * NR * kc, C + (ic + i0) * ldc + jc + j0, ldc,
                        alpha, beta_eff, static_cast<int>(std::min<index_t>(MR, mc - i0)),
                        static_cast<int>(std::min<index_t>(NR, nc - j0)));
          }
        }
      }
    }
  }
}

// Write a finished MR x NR accumulator tile held in `acc` (row-major, NR wide) to C.
template <typename T, int NR>
inline void store_tile_scalar(const T* acc, T* c, index_t ldc, T alpha, T beta, int mr, int nr) {
  for (int i = 0; i < mr; ++i) {
    T* ci = c + i * ldc;
    const T* ai = acc + i * NR;
    if (beta == T(0)) {
      for (int j = 0; j < nr; ++j) ci[j] = alpha * ai[j];
    } else {
      for (int j = 0; j < nr; ++j) ci[j] = alpha * ai[j] + beta * ci[j];
    }
  }
}

}  // namespace
