// gemm.cpp: GEMM dispatch (SIMD path, thread count, block sizes) and the batched loop.
#include "cpu/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>

#include "cpu/cpu_features.h"
#include "cpu/threads.h"

#ifdef AXONAL_OPENMP
#include <omp.h>
#endif

namespace axonal {

namespace {

index_t env_or(const char* name, index_t dflt) {
  if (const char* v = std::getenv(name)) {
    char* end = nullptr;
    long long x = std::strtoll(v, &end, 10);
    if (end != v && x > 0) return static_cast<index_t>(x);
  }
  return dflt;
}

// Cache blocks: the path's defaults, each overridable by AXONAL_GEMM_{MC,KC,NC} (float32) or
// AXONAL_GEMM_{MC,KC,NC}_F64 (float64), and AXONAL_GEMM_DIRECT_BYTES.
template <typename T>
GemmBlocking blocking_from_env(index_t mc, index_t kc, index_t nc) {
  const std::string sfx = sizeof(T) == 8 ? "_F64" : "";
  return {
      env_or(("AXONAL_GEMM_MC" + sfx).c_str(), mc), env_or(("AXONAL_GEMM_KC" + sfx).c_str(), kc),
      env_or(("AXONAL_GEMM_NC" + sfx).c_str(), nc), env_or("AXONAL_GEMM_DIRECT_BYTES", 2000000)};
}

// AVX2 path (6 x 16 / 6 x 8 tiles), tuned on a 2-core EPYC VM.
template <typename T>
const GemmBlocking& default_blocking() {
  static const GemmBlocking b =
      sizeof(T) == 8 ? blocking_from_env<T>(96, 256, 2040) : blocking_from_env<T>(144, 256, 4080);
  return b;
}

// AVX-512 path (CPUs with 1 MiB+ of L2 per core and large L3s: Skylake-SP and later, Zen 4).
// Measured on a 2-core Zen 4 VM (bench_gemm, 1024^3 and 2048^3): a deep K block, up to 1024,
// halves the passes over C compared with 256 and lifts float64 from ~0.90 to ~1.0x OpenBLAS
// and float32 from ~0.95 to ~1.05x; the A block (MC x KC) then lives in L2/L3.
template <typename T>
const GemmBlocking& avx512_blocking() {
  static const GemmBlocking b = sizeof(T) == 8 ? blocking_from_env<T>(192, 1024, 2048)
                                               : blocking_from_env<T>(144, 1024, 4096);
  return b;
}

// The 12 x 32 (float32; 12 x 16 float64) AVX-512 tile pays off on problems large enough to hide
// its longer C updates and that fill its tiles about as well as the 6 x 16 AVX2 tile; small or
// narrow products (64^3, N = 10) run faster on the AVX2 kernel (measured: bench_gemm).
std::atomic<double> g_avx512_min_flops{4e6};

bool use_avx512_kernel(index_t M, index_t N, index_t K, index_t nr512, index_t nr2) {
  const double min_flops = g_avx512_min_flops.load(std::memory_order_relaxed);
  if (min_flops <= 0) return true;  // tests: the AVX-512 kernel for every shape
  if (2.0 * double(M) * double(N) * double(K) < min_flops) return false;
  // in the better orientation of each (the driver may compute C^T)
  auto best = [&](index_t mr, index_t nr) {
    return std::max(tile_fill(M, N, mr, nr), tile_fill(N, M, mr, nr));
  };
  return best(12, nr512) >= 0.9 * best(6, nr2);
}

double axonal_flops_per_thread() {
  static const double v = double(env_or("AXONAL_GEMM_FLOPS_PER_THREAD", 250000));
  return v;
}

// Threads worth using: below ~1 MFLOP per extra thread the fork/join costs more than it saves.
int choose_threads(index_t M, index_t N, index_t K, int requested) {
  const double flops = 2.0 * double(M) * double(N) * double(K);
  const int by_work = static_cast<int>(flops / axonal_flops_per_thread());
  return std::max(1, std::min(requested, by_work));
}

template <typename T>
void scale_c(index_t M, index_t N, T beta, T* C, index_t ldc) {
  for (index_t i = 0; i < M; ++i) {
    T* ci = C + i * ldc;
    if (beta == T(0))
      std::fill(ci, ci + N, T(0));
    else if (beta != T(1))
      for (index_t j = 0; j < N; ++j) ci[j] *= beta;
  }
}

// The kernel entry points of each SIMD path for one dtype (only the portable one off x86: the
// SIMD sources are compiled for x86 alone, and simd_path() is portable there).
template <typename T>
struct GemmImpls;
#ifdef AXONAL_X86
template <>
struct GemmImpls<float> {
  static constexpr auto avx512 = &gemm_f32_avx512, avx2 = &gemm_f32_avx2,
                        portable = &gemm_f32_portable;
};
template <>
struct GemmImpls<double> {
  static constexpr auto avx512 = &gemm_f64_avx512, avx2 = &gemm_f64_avx2,
                        portable = &gemm_f64_portable;
};
#else
template <>
struct GemmImpls<float> {
  static constexpr auto avx512 = &gemm_f32_portable, avx2 = &gemm_f32_portable,
                        portable = &gemm_f32_portable;
};
template <>
struct GemmImpls<double> {
  static constexpr auto avx512 = &gemm_f64_portable, avx2 = &gemm_f64_portable,
                        portable = &gemm_f64_portable;
};
#endif

template <typename T>
void call_impl(bool ta, bool tb, index_t M, index_t N, index_t K, T alpha, const T* A, index_t lda,
               const T* B, index_t ldb, T beta, T* C, index_t ldc, int nt) {
  using I = GemmImpls<T>;
  const SimdPath path = simd_path();
  // tile widths (columns): 2 zmm for the AVX-512 kernel, 2 ymm for the AVX2 one
  constexpr index_t nr512 = 2 * 64 / sizeof(T), nr2 = 2 * 32 / sizeof(T);
  if (path == SimdPath::avx512 && use_avx512_kernel(M, N, K, nr512, nr2)) {
    I::avx512(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, nt, &avx512_blocking<T>());
    return;
  }
  const auto impl = path != SimdPath::portable ? I::avx2 : I::portable;
  impl(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, nt, &default_blocking<T>());
}

}  // namespace

void set_gemm_avx512_min_flops(double flops) { g_avx512_min_flops.store(flops); }
double gemm_avx512_min_flops() { return g_avx512_min_flops.load(); }

template <typename T>
void gemm(bool trans_a, bool trans_b, index_t M, index_t N, index_t K, T alpha, const T* A,
          index_t lda, const T* B, index_t ldb, T beta, T* C, index_t ldc, int num_threads) {
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == T(0)) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  const int nt = choose_threads(M, N, K, num_threads);
  call_impl<T>(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, nt);
}

template void gemm<float>(bool, bool, index_t, index_t, index_t, float, const float*, index_t,
                          const float*, index_t, float, float*, index_t, int);
template void gemm<double>(bool, bool, index_t, index_t, index_t, double, const double*, index_t,
                           const double*, index_t, double, double*, index_t, int);

template <typename T>
void gemm_batched(index_t batch, bool trans_a, bool trans_b, index_t M, index_t N, index_t K,
                  T alpha, const T* A, index_t lda, index_t stride_a, const T* B, index_t ldb,
                  index_t stride_b, T beta, T* C, index_t ldc, index_t stride_c, int num_threads) {
  if (batch == 0) return;
  const int per_gemm = choose_threads(M, N, K, num_threads);
  // Small matrices: one thread per GEMM, threads over the batch. Large ones: threads inside each.
  if (per_gemm < num_threads && batch > 1) {
    const int nt = std::min<index_t>(num_threads, batch);
#ifdef AXONAL_OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
#endif
    for (index_t b = 0; b < batch; ++b)
      gemm<T>(trans_a, trans_b, M, N, K, alpha, A + b * stride_a, lda, B + b * stride_b, ldb, beta,
              C + b * stride_c, ldc, 1);
    (void)nt;
  } else {
    for (index_t b = 0; b < batch; ++b)
      gemm<T>(trans_a, trans_b, M, N, K, alpha, A + b * stride_a, lda, B + b * stride_b, ldb, beta,
              C + b * stride_c, ldc, num_threads);
  }
}

template void gemm_batched<float>(index_t, bool, bool, index_t, index_t, index_t, float,
                                  const float*, index_t, index_t, const float*, index_t, index_t,
                                  float, float*, index_t, index_t, int);
template void gemm_batched<double>(index_t, bool, bool, index_t, index_t, index_t, double,
                                   const double*, index_t, index_t, const double*, index_t, index_t,
                                   double, double*, index_t, index_t, int);

}  // namespace axonal
