// gemm_portable.cpp: the micro-kernel for CPUs without AVX2/FMA (and for aarch64): plain C++ that
// the compiler vectorises with the baseline instruction set. Same packing and blocking as AVX2.
#include "cpu/gemm_driver.h"

namespace {

template <typename T, int MR, int NR>
struct KernelPortable {
  // ap: (kc, MR) packed, bp: (kc, NR) packed -> C tile (mr <= MR, nr <= NR)
  static void run(index_t kc, const T* __restrict ap, const T* __restrict bp, T* c, index_t ldc,
                  index_t cs, T alpha, T beta, int mr, int nr) {
    T acc[MR * NR] = {};
    for (index_t k = 0; k < kc; ++k) {
      const T* a = ap + k * MR;
      const T* b = bp + k * NR;
      for (int i = 0; i < MR; ++i) {
        const T ai = a[i];
        for (int j = 0; j < NR; ++j) acc[i * NR + j] += ai * b[j];
      }
    }
    store_tile_scalar<T, NR>(acc, c, ldc, cs, alpha, beta, mr, nr);
  }
};

}  // namespace

namespace axonal {

AXONAL_DECLARE_GEMM_IMPL(gemm_f32_portable, float) {
  gemm_blocked<float, 4, 8, KernelPortable<float, 4, 8>>(trans_a, trans_b, M, N, K, alpha, A, lda,
                                                         B, ldb, beta, C, ldc, num_threads,
                                                         blocking->mc, blocking->kc, blocking->nc);
}

AXONAL_DECLARE_GEMM_IMPL(gemm_f64_portable, double) {
  gemm_blocked<double, 4, 4, KernelPortable<double, 4, 4>>(trans_a, trans_b, M, N, K, alpha, A,
                                                           lda, B, ldb, beta, C, ldc, num_threads,
                                                           blocking->mc, blocking->kc, blocking->nc);
}

}  // namespace axonal
