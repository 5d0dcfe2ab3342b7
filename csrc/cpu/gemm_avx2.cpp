// gemm_avx2.cpp: AVX2/FMA micro-kernels (compiled with -mavx2 -mfma, called only when the CPU has
// them). One 6 x (2 vectors) register tile for both dtypes: float32 6 x 16, float64 6 x 8;
// 12 ymm accumulators, 2 ymm for the row of B, 1 for the broadcast element of A.
#include <immintrin.h>

#include "cpu/gemm_driver.h"
#include "cpu/simd_vec.h"

namespace {

template <typename T>
struct KernelAvx2 {
  using S = Vec256<T>;
  using V = typename S::V;
  static constexpr int MR = 6, NR = 2 * S::W;

  // a: element (i, k) at a[i*ars + k*acs]; b: element (k, j) at b[k*brs + j] (j < NR readable)
  // -> C[i*rs + j*cs] for i < mr, j < nr
  static void run(index_t kc, const T* __restrict a, index_t ars, index_t acs,
                  const T* __restrict b, index_t brs, T* c, index_t rs, index_t cs, T alpha, T beta,
                  int mr, int nr) {
    prefetch_c_tile<T, NR>(c, rs, cs, mr);
    V c00 = S::zero(), c01 = S::zero(), c10 = S::zero(), c11 = S::zero();
    V c20 = S::zero(), c21 = S::zero(), c30 = S::zero(), c31 = S::zero();
    V c40 = S::zero(), c41 = S::zero(), c50 = S::zero(), c51 = S::zero();
    const T* a0 = a;
    const T* a3 = a + 3 * ars;
    const index_t o1 = ars, o2 = 2 * ars;
#pragma GCC unroll 4
    for (index_t k = 0; k < kc; ++k) {
      const V b0 = S::load(b), b1 = S::load(b + S::W);
      V x = S::bcast(a0);
      c00 = S::fma(x, b0, c00);
      c01 = S::fma(x, b1, c01);
      x = S::bcast(a0 + o1);
      c10 = S::fma(x, b0, c10);
      c11 = S::fma(x, b1, c11);
      x = S::bcast(a0 + o2);
      c20 = S::fma(x, b0, c20);
      c21 = S::fma(x, b1, c21);
      x = S::bcast(a3);
      c30 = S::fma(x, b0, c30);
      c31 = S::fma(x, b1, c31);
      x = S::bcast(a3 + o1);
      c40 = S::fma(x, b0, c40);
      c41 = S::fma(x, b1, c41);
      x = S::bcast(a3 + o2);
      c50 = S::fma(x, b0, c50);
      c51 = S::fma(x, b1, c51);
      a0 += acs;
      a3 += acs;
      b += brs;
    }
    const V lo[MR] = {c00, c10, c20, c30, c40, c50}, hi[MR] = {c01, c11, c21, c31, c41, c51};
    store_c_tile<S, MR>(lo, hi, c, rs, cs, alpha, beta, mr, nr);
  }
};

}  // namespace

namespace axonal {

AXONAL_DECLARE_GEMM_IMPL(gemm_f32_avx2, float) {
  gemm_blocked<float, KernelAvx2<float>>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C,
                                         ldc, num_threads, *blocking);
}

AXONAL_DECLARE_GEMM_IMPL(gemm_f64_avx2, double) {
  gemm_blocked<double, KernelAvx2<double>>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta,
                                           C, ldc, num_threads, *blocking);
}

}  // namespace axonal
