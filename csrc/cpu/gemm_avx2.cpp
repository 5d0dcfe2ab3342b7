// gemm_avx2.cpp: AVX2/FMA micro-kernels (compiled with -mavx2 -mfma, called only when the CPU has
// them). float32: 6 x 16 tile, float64: 6 x 8 tile; 12 ymm accumulators, 2 for B, 1 broadcast of A.
#include <immintrin.h>

#include "cpu/gemm_driver.h"

namespace {

struct KernelF32x6x16 {
  // ap: (kc, 6) packed, bp: (kc, 16) packed -> C tile (mr <= 6, nr <= 16)
  static void run(index_t kc, const float* __restrict ap, const float* __restrict bp, float* c,
                  index_t ldc, index_t cs, float alpha, float beta, int mr, int nr) {
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
#define AX_STEP(off_a, off_b)                                    \
  {                                                              \
    const __m256 b0 = _mm256_load_ps(bp + (off_b));              \
    const __m256 b1 = _mm256_load_ps(bp + (off_b) + 8);          \
    __m256 a = _mm256_broadcast_ss(ap + (off_a) + 0);            \
    c00 = _mm256_fmadd_ps(a, b0, c00);                           \
    c01 = _mm256_fmadd_ps(a, b1, c01);                           \
    a = _mm256_broadcast_ss(ap + (off_a) + 1);                   \
    c10 = _mm256_fmadd_ps(a, b0, c10);                           \
    c11 = _mm256_fmadd_ps(a, b1, c11);                           \
    a = _mm256_broadcast_ss(ap + (off_a) + 2);                   \
    c20 = _mm256_fmadd_ps(a, b0, c20);                           \
    c21 = _mm256_fmadd_ps(a, b1, c21);                           \
    a = _mm256_broadcast_ss(ap + (off_a) + 3);                   \
    c30 = _mm256_fmadd_ps(a, b0, c30);                           \
    c31 = _mm256_fmadd_ps(a, b1, c31);                           \
    a = _mm256_broadcast_ss(ap + (off_a) + 4);                   \
    c40 = _mm256_fmadd_ps(a, b0, c40);                           \
    c41 = _mm256_fmadd_ps(a, b1, c41);                           \
    a = _mm256_broadcast_ss(ap + (off_a) + 5);                   \
    c50 = _mm256_fmadd_ps(a, b0, c50);                           \
    c51 = _mm256_fmadd_ps(a, b1, c51);                           \
  }
    index_t k = 0;
    for (; k + 4 <= kc; k += 4) {
      _mm_prefetch(reinterpret_cast<const char*>(bp + 16 * 8), _MM_HINT_T0);
      AX_STEP(0, 0);
      AX_STEP(6, 16);
      AX_STEP(12, 32);
      AX_STEP(18, 48);
      ap += 24;
      bp += 64;
    }
    for (; k < kc; ++k) {
      AX_STEP(0, 0);
      ap += 6;
      bp += 16;
    }
#undef AX_STEP
    const __m256 va = _mm256_set1_ps(alpha);
    if (mr == 6 && nr == 16 && cs == 1) {
      __m256 acc[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
      if (beta == 0.0f) {
        for (int i = 0; i < 6; ++i) {
          _mm256_storeu_ps(c + i * ldc, _mm256_mul_ps(va, acc[2 * i]));
          _mm256_storeu_ps(c + i * ldc + 8, _mm256_mul_ps(va, acc[2 * i + 1]));
        }
      } else {
        const __m256 vb = _mm256_set1_ps(beta);
        for (int i = 0; i < 6; ++i) {
          float* ci = c + i * ldc;
          _mm256_storeu_ps(ci, _mm256_fmadd_ps(va, acc[2 * i], _mm256_mul_ps(vb, _mm256_loadu_ps(ci))));
          _mm256_storeu_ps(ci + 8, _mm256_fmadd_ps(va, acc[2 * i + 1],
                                                   _mm256_mul_ps(vb, _mm256_loadu_ps(ci + 8))));
        }
      }
      return;
    }
    alignas(32) float tmp[6 * 16];
    _mm256_store_ps(tmp + 0, c00);
    _mm256_store_ps(tmp + 8, c01);
    _mm256_store_ps(tmp + 16, c10);
    _mm256_store_ps(tmp + 24, c11);
    _mm256_store_ps(tmp + 32, c20);
    _mm256_store_ps(tmp + 40, c21);
    _mm256_store_ps(tmp + 48, c30);
    _mm256_store_ps(tmp + 56, c31);
    _mm256_store_ps(tmp + 64, c40);
    _mm256_store_ps(tmp + 72, c41);
    _mm256_store_ps(tmp + 80, c50);
    _mm256_store_ps(tmp + 88, c51);
    store_tile_scalar<float, 16>(tmp, c, ldc, cs, alpha, beta, mr, nr);
  }
};

struct KernelF64x6x8 {
  // ap: (kc, 6) packed, bp: (kc, 8) packed -> C tile (mr <= 6, nr <= 8)
  static void run(index_t kc, const double* __restrict ap, const double* __restrict bp, double* c,
                  index_t ldc, index_t cs, double alpha, double beta, int mr, int nr) {
    __m256d c00 = _mm256_setzero_pd(), c01 = _mm256_setzero_pd();
    __m256d c10 = _mm256_setzero_pd(), c11 = _mm256_setzero_pd();
    __m256d c20 = _mm256_setzero_pd(), c21 = _mm256_setzero_pd();
    __m256d c30 = _mm256_setzero_pd(), c31 = _mm256_setzero_pd();
    __m256d c40 = _mm256_setzero_pd(), c41 = _mm256_setzero_pd();
    __m256d c50 = _mm256_setzero_pd(), c51 = _mm256_setzero_pd();
#define AX_STEP(off_a, off_b)                                   \
  {                                                             \
    const __m256d b0 = _mm256_load_pd(bp + (off_b));            \
    const __m256d b1 = _mm256_load_pd(bp + (off_b) + 4);        \
    __m256d a = _mm256_broadcast_sd(ap + (off_a) + 0);          \
    c00 = _mm256_fmadd_pd(a, b0, c00);                          \
    c01 = _mm256_fmadd_pd(a, b1, c01);                          \
    a = _mm256_broadcast_sd(ap + (off_a) + 1);                  \
    c10 = _mm256_fmadd_pd(a, b0, c10);                          \
    c11 = _mm256_fmadd_pd(a, b1, c11);                          \
    a = _mm256_broadcast_sd(ap + (off_a) + 2);                  \
    c20 = _mm256_fmadd_pd(a, b0, c20);                          \
    c21 = _mm256_fmadd_pd(a, b1, c21);                          \
    a = _mm256_broadcast_sd(ap + (off_a) + 3);                  \
    c30 = _mm256_fmadd_pd(a, b0, c30);                          \
    c31 = _mm256_fmadd_pd(a, b1, c31);                          \
    a = _mm256_broadcast_sd(ap + (off_a) + 4);                  \
    c40 = _mm256_fmadd_pd(a, b0, c40);                          \
    c41 = _mm256_fmadd_pd(a, b1, c41);                          \
    a = _mm256_broadcast_sd(ap + (off_a) + 5);                  \
    c50 = _mm256_fmadd_pd(a, b0, c50);                          \
    c51 = _mm256_fmadd_pd(a, b1, c51);                          \
  }
    index_t k = 0;
    for (; k + 4 <= kc; k += 4) {
      _mm_prefetch(reinterpret_cast<const char*>(bp + 8 * 8), _MM_HINT_T0);
      AX_STEP(0, 0);
      AX_STEP(6, 8);
      AX_STEP(12, 16);
      AX_STEP(18, 24);
      ap += 24;
      bp += 32;
    }
    for (; k < kc; ++k) {
      AX_STEP(0, 0);
      ap += 6;
      bp += 8;
    }
#undef AX_STEP
    const __m256d va = _mm256_set1_pd(alpha);
    if (mr == 6 && nr == 8 && cs == 1) {
      __m256d acc[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
      if (beta == 0.0) {
        for (int i = 0; i < 6; ++i) {
          _mm256_storeu_pd(c + i * ldc, _mm256_mul_pd(va, acc[2 * i]));
          _mm256_storeu_pd(c + i * ldc + 4, _mm256_mul_pd(va, acc[2 * i + 1]));
        }
      } else {
        const __m256d vb = _mm256_set1_pd(beta);
        for (int i = 0; i < 6; ++i) {
          double* ci = c + i * ldc;
          _mm256_storeu_pd(ci, _mm256_fmadd_pd(va, acc[2 * i], _mm256_mul_pd(vb, _mm256_loadu_pd(ci))));
          _mm256_storeu_pd(ci + 4, _mm256_fmadd_pd(va, acc[2 * i + 1],
                                                   _mm256_mul_pd(vb, _mm256_loadu_pd(ci + 4))));
        }
      }
      return;
    }
    alignas(32) double tmp[6 * 8];
    _mm256_store_pd(tmp + 0, c00);
    _mm256_store_pd(tmp + 4, c01);
    _mm256_store_pd(tmp + 8, c10);
    _mm256_store_pd(tmp + 12, c11);
    _mm256_store_pd(tmp + 16, c20);
    _mm256_store_pd(tmp + 20, c21);
    _mm256_store_pd(tmp + 24, c30);
    _mm256_store_pd(tmp + 28, c31);
    _mm256_store_pd(tmp + 32, c40);
    _mm256_store_pd(tmp + 36, c41);
    _mm256_store_pd(tmp + 40, c50);
    _mm256_store_pd(tmp + 44, c51);
    store_tile_scalar<double, 8>(tmp, c, ldc, cs, alpha, beta, mr, nr);
  }
};

}  // namespace

namespace axonal {

AXONAL_DECLARE_GEMM_IMPL(gemm_f32_avx2, float) {
  gemm_blocked<float, 6, 16, KernelF32x6x16>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb,
                                             beta, C, ldc, num_threads, blocking->mc, blocking->kc,
                                             blocking->nc);
}

AXONAL_DECLARE_GEMM_IMPL(gemm_f64_avx2, double) {
  gemm_blocked<double, 6, 8, KernelF64x6x8>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta,
                                            C, ldc, num_threads, blocking->mc, blocking->kc,
                                            blocking->nc);
}

}  // namespace axonal
