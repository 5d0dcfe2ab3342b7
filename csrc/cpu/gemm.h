// gemm.h: C = alpha * op(A) @ op(B) + beta * C, row-major with leading dimensions (BLAS order:
// inputs first, output last). op(X) = X or X^T.
//   op(A): (M, K)   A stored (M, K) with row stride lda, or (K, M) when trans_a
//   op(B): (K, N)   B stored (K, N) with row stride ldb, or (N, K) when trans_b
//   C:     (M, N)   row stride ldc
// beta == 0 never reads C (it may hold NaN). Arguments are validated by the callers in gemm.cpp.
#pragma once
#include <cstdint>

namespace axonal {

using index_t = std::int64_t;

// Fraction of an MR x NR micro-tile grid that does useful work for an M x N output.
inline double tile_fill(index_t M, index_t N, index_t MR, index_t NR) {
  return double(M) * double(N) / (double((M + MR - 1) / MR * MR) * double((N + NR - 1) / NR * NR));
}

struct GemmBlocking {
  index_t mc, kc, nc;    // cache blocks of the packed path
  index_t direct_bytes;  // op(A) + B up to this size (and B not transposed): unpacked path
};

template <typename T>
void gemm(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha, const T* A,
          index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc, int num_threads);

// On the AVX-512 path, products below this many flops (or that fill the 12-row tile badly) use
// the AVX2 kernel; 0 forces the AVX-512 kernel everywhere (tests).
void set_gemm_avx512_min_flops(double flops);
double gemm_avx512_min_flops();

// Kernel entry points, one per SIMD path (gemm_avx512.cpp / gemm_avx2.cpp / gemm_portable.cpp).
#define AXONAL_DECLARE_GEMM_IMPL(NAME, T)                                                     \
  void NAME(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha, const T* A, \
            index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc, int num_threads, \
            const GemmBlocking* blocking)
AXONAL_DECLARE_GEMM_IMPL(gemm_f32_avx2, float);
AXONAL_DECLARE_GEMM_IMPL(gemm_f64_avx2, double);
AXONAL_DECLARE_GEMM_IMPL(gemm_f32_avx512, float);
AXONAL_DECLARE_GEMM_IMPL(gemm_f64_avx512, double);
AXONAL_DECLARE_GEMM_IMPL(gemm_f32_portable, float);
AXONAL_DECLARE_GEMM_IMPL(gemm_f64_portable, double);

}  // namespace axonal

namespace axonal {
// A batch of independent GEMMs; operand b starts at X + b * stride_x (stride 0 broadcasts).
template <typename T>
void gemm_batched(index_t batch, bool trans_a, bool trans_b, index_t M, index_t N, index_t K,
                  T alpha, const T* A, index_t lda, index_t stride_a, const T* B, index_t ldb,
                  index_t stride_b, T beta, T* C, index_t ldc, index_t stride_c, int num_threads);
}  // namespace axonal
