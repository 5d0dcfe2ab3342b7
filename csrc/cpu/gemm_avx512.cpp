// gemm_avx512.cpp: AVX-512F micro-kernels (compiled with -mavx512f -mfma, called only when the CPU
// and OS support AVX-512). The 32 vector registers allow a 12 x (2 vectors) tile: float32 12 x 32,
// float64 12 x 16; 24 zmm accumulators, 2 for the row of B, the element of A broadcast straight
// from memory into the FMA. Per k step that is 24 FMAs for 14 loads (the AVX2 6 x 2 tile: 12 for
// 8), and half the instructions per flop, which is what lets a core run at its FMA peak.
#include <immintrin.h>

#include "cpu/gemm_driver.h"
#include "cpu/simd_vec.h"

namespace {

template <typename T>
struct KernelAvx512 {
  using S = Vec512<T>;
  using V = typename S::V;
  static constexpr int MR = 12, NR = 2 * S::W;

  // The k loop. UNIT: rows of a are adjacent (ars == 1, the packed layout), so every broadcast
  // is base + constant; otherwise four row bases and two row offsets address the 12 rows.
  template <bool UNIT>
  static inline void loop(index_t kc, const T* __restrict a, index_t ars, index_t acs,
                          const T* __restrict b, index_t brs, V (&c0)[MR], V (&c1)[MR]) {
    const T* a0 = a;
    const T* a3 = a + 3 * ars;
    const T* a6 = a + 6 * ars;
    const T* a9 = a + 9 * ars;
    const index_t o1 = ars, o2 = 2 * ars;
#pragma GCC unroll 2
    for (index_t k = 0; k < kc; ++k) {
      const V b0 = S::load(b), b1 = S::load(b + S::W);
#pragma GCC unroll 12
      for (int i = 0; i < MR; ++i) {
        const T* p;
        if (UNIT) {
          p = a0 + i;
        } else {
          const T* base = i < 3 ? a0 : i < 6 ? a3 : i < 9 ? a6 : a9;
          const int r = i % 3;
          p = r == 0 ? base : r == 1 ? base + o1 : base + o2;
        }
        const V x = S::set1(*p);
        c0[i] = S::fma(x, b0, c0[i]);
        c1[i] = S::fma(x, b1, c1[i]);
      }
      a0 += acs;
      if (!UNIT) {
        a3 += acs;
        a6 += acs;
        a9 += acs;
      }
      b += brs;
    }
  }

  // a: element (i, k) at a[i*ars + k*acs]; b: element (k, j) at b[k*brs + j] (j < NR readable)
  // -> C[i*rs + j*cs] for i < mr, j < nr
  static void run(index_t kc, const T* __restrict a, index_t ars, index_t acs,
                  const T* __restrict b, index_t brs, T* c, index_t rs, index_t cs, T alpha, T beta,
                  int mr, int nr) {
    prefetch_c_tile<T, NR>(c, rs, cs, mr);
    V c0[MR], c1[MR];
    for (int i = 0; i < MR; ++i) c0[i] = c1[i] = S::zero();
    if (ars == 1)
      loop<true>(kc, a, ars, acs, b, brs, c0, c1);
    else
      loop<false>(kc, a, ars, acs, b, brs, c0, c1);
    store_c_tile<S, MR>(c0, c1, c, rs, cs, alpha, beta, mr, nr);
  }
};

}  // namespace

namespace axonal {

AXONAL_DECLARE_GEMM_IMPL(gemm_f32_avx512, float) {
  gemm_blocked<float, KernelAvx512<float>>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta,
                                           C, ldc, num_threads, *blocking);
}

AXONAL_DECLARE_GEMM_IMPL(gemm_f64_avx512, double) {
  gemm_blocked<double, KernelAvx512<double>>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta,
                                             C, ldc, num_threads, *blocking);
}

}  // namespace axonal
