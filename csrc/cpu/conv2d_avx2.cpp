// conv2d_avx2.cpp: the implicit-GEMM conv2d kernels (conv2d_kernels.h) with 256-bit vectors
// (compiled with -mavx2 -mfma, called only when simd_path() is avx2 or avx512), the packing of dy
// for the channel-vectorised weight form, and the stride-2 row copy of im2col.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "cpu/conv2d.h"
#include "cpu/conv2d_kernels.h"
#include "cpu/simd_vec.h"

namespace axonal {

template <typename T>
void conv_implicit_forward_avx2(index_t Kg, index_t crs, const T* wpacked, const index_t* off,
                                const T* xp, index_t Wp, index_t P, index_t Q, const T* bias, T* y,
                                index_t ldy) {
  conv_simd::implicit_forward<Vec256, T>(Kg, crs, wpacked, off, xp, Wp, P, Q, bias, y, ldy);
}

template <typename T>
void conv_implicit_backward_weight_avx2(index_t Kg, index_t crs, const T* dy, index_t lddy,
                                        index_t ldr, const index_t* off, const T* xp, index_t Wp,
                                        index_t P, index_t Q, T* dw) {
  conv_simd::implicit_backward_weight<Vec256, T>(Kg, crs, dy, lddy, ldr, off, xp, Wp, P, Q, dw);
}

template <typename T>
void conv_kvec_forward_avx2(index_t Kg, index_t crs, const T* wt, const index_t* off, const T* xp,
                            index_t Wp, index_t sh, index_t sw, index_t P, index_t Q, const T* bias,
                            T* y, index_t ldy) {
  conv_simd::kvec_forward<Vec256, T>(Kg, crs, wt, off, xp, Wp, sh, sw, P, Q, bias, y, ldy);
}

template <typename T>
void conv_kvec_backward_weight_avx2(index_t Kg, index_t crs, const T* dyt, const index_t* off,
                                    const T* xp, index_t Wp, index_t sh, index_t sw, index_t P,
                                    index_t Q, T* dwt) {
  conv_simd::kvec_backward_weight<Vec256, T>(Kg, crs, dyt, off, xp, Wp, sh, sw, P, Q, dwt);
}

template void conv_kvec_forward_avx2<float>(index_t, index_t, const float*, const index_t*,
                                            const float*, index_t, index_t, index_t, index_t,
                                            index_t, const float*, float*, index_t);
template void conv_kvec_forward_avx2<double>(index_t, index_t, const double*, const index_t*,
                                             const double*, index_t, index_t, index_t, index_t,
                                             index_t, const double*, double*, index_t);
template void conv_kvec_backward_weight_avx2<float>(index_t, index_t, const float*, const index_t*,
                                                    const float*, index_t, index_t, index_t,
                                                    index_t, index_t, float*);
template void conv_kvec_backward_weight_avx2<double>(index_t, index_t, const double*,
                                                     const index_t*, const double*, index_t,
                                                     index_t, index_t, index_t, index_t, double*);
template <typename T>
void conv_pack_dyt_avx2(index_t Kg, index_t L, const T* d, index_t ldd, T* dst) {
  using S = Vec256<T>;
  using V = typename S::V;
  constexpr int W = S::W, NR = 2 * W;
  for (index_t k0 = 0; k0 < Kg; k0 += NR) {
    T* out = dst + k0 * L;
    for (index_t kb = 0; kb < NR; kb += W) {
      const index_t ks = k0 + kb, nk = std::max<index_t>(0, std::min<index_t>(W, Kg - ks));
      index_t j0 = 0;
      if (nk == W)
        for (; j0 + W <= L; j0 += W) {
          V r[W];
          for (int k = 0; k < W; ++k) r[k] = S::load(d + (ks + k) * ldd + j0);
          S::transpose(r);
          for (int j = 0; j < W; ++j) S::store(out + (j0 + j) * NR + kb, r[j]);
        }
      for (index_t j = j0; j < L; ++j)
        for (index_t k = 0; k < W; ++k)
          out[j * NR + kb + k] = k < nk ? d[(ks + k) * ldd + j] : T(0);
    }
  }
}

// dst[t] = src[2 t] for t < n (the stride-2 rows of im2col); reads nothing past src[2 n - 2].
void conv_copy_stride2_avx2(const float* src, index_t n, float* dst) {
  index_t t = 0;
  for (; t + 9 <= n; t += 8) {  // reads src[2t, 2t + 16), inside [0, 2n - 1)
    const __m256 a0 = _mm256_loadu_ps(src + 2 * t), a1 = _mm256_loadu_ps(src + 2 * t + 8);
    const __m256 e = _mm256_shuffle_ps(a0, a1, 0x88);
    _mm256_storeu_ps(dst + t, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8)));
  }
  for (; t < n; ++t) dst[t] = src[2 * t];
}

void conv_copy_stride2_avx2(const double* src, index_t n, double* dst) {
  index_t t = 0;
  for (; t + 5 <= n; t += 4) {  // reads src[2t, 2t + 8), inside [0, 2n - 1)
    const __m256d a0 = _mm256_loadu_pd(src + 2 * t), a1 = _mm256_loadu_pd(src + 2 * t + 4);
    _mm256_storeu_pd(dst + t, _mm256_permute4x64_pd(_mm256_unpacklo_pd(a0, a1), 0xD8));
  }
  for (; t < n; ++t) dst[t] = src[2 * t];
}

template void conv_pack_dyt_avx2<float>(index_t, index_t, const float*, index_t, float*);
template void conv_pack_dyt_avx2<double>(index_t, index_t, const double*, index_t, double*);
template void conv_implicit_forward_avx2<float>(index_t, index_t, const float*, const index_t*,
                                                const float*, index_t, index_t, index_t,
                                                const float*, float*, index_t);
template void conv_implicit_forward_avx2<double>(index_t, index_t, const double*, const index_t*,
                                                 const double*, index_t, index_t, index_t,
                                                 const double*, double*, index_t);
template void conv_implicit_backward_weight_avx2<float>(index_t, index_t, const float*, index_t,
                                                        index_t, const index_t*, const float*,
                                                        index_t, index_t, index_t, float*);
template void conv_implicit_backward_weight_avx2<double>(index_t, index_t, const double*, index_t,
                                                         index_t, const index_t*, const double*,
                                                         index_t, index_t, index_t, double*);

}  // namespace axonal
