// gemm_portable.cpp: the micro-kernel for CPUs without AVX2/FMA (and for aarch64): plain C++ that
// the compiler vectorises with the baseline instruction set. Same driver as the AVX2 path.
#include "cpu/gemm_driver.h"

namespace {

template <typename T, int MR_, int NR_>
struct KernelPortable {
  static constexpr int MR = MR_, NR = NR_;
  // a: element (i, k) at a[i*ars + k*acs]; b: element (k, j) at b[k*brs + j] (j < NR readable)
  static void run(index_t kc, const T* __restrict a, index_t ars, index_t acs,
                  const T* __restrict b, index_t brs, T* c, index_t rs, index_t cs, T alpha, T beta,
                  int mr, int nr) {
    T acc[MR * NR] = {};
    for (index_t k = 0; k < kc; ++k) {
      const T* ak = a + k * acs;
      const T* bk = b + k * brs;
      for (int i = 0; i < MR; ++i) {
        const T ai = ak[i * ars];
        for (int j = 0; j < NR; ++j) acc[i * NR + j] += ai * bk[j];
      }
    }
    store_tile_scalar<T, NR>(acc, c, rs, cs, alpha, beta, mr, nr);
  }
};

}  // namespace

namespace axonal {

AXONAL_DECLARE_GEMM_IMPL(gemm_f32_portable, float) {
  gemm_blocked<float, KernelPortable<float, 4, 8>>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb,
                                                   beta, C, ldc, num_threads, *blocking);
}

AXONAL_DECLARE_GEMM_IMPL(gemm_f64_portable, double) {
  gemm_blocked<double, KernelPortable<double, 4, 4>>(trans_a, trans_b, M, N, K, alpha, A, lda, B,
                                                     ldb, beta, C, ldc, num_threads, *blocking);
}

}  // namespace axonal
