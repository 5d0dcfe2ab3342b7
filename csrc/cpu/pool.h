// pool.h: 2-D pooling, NCHW, float32 / float64; every buffer dense (C-contiguous), arguments
// validated by the callers (bindings_conv.cpp). Threads over the N*C planes.
//   max_pool2d:          x: (N, C, H, W) -> y: (N, C, P, Q), idx: (N, C, P, Q) int64, the flat
//                        index ih * W + iw of the maximum inside its plane (PyTorch's convention)
//   avg_pool2d:          x: (N, C, H, W) -> y: (N, C, P, Q)
//   adaptive_avg_pool2d: x: (N, C, H, W) -> y: (N, C, P, Q), window of output i along an axis of
//                        length n: [floor(i n / P), ceil((i + 1) n / P))
#pragma once
#include <cstdint>

namespace axonal {

using index_t = std::int64_t;

struct Pool2dParams {
  index_t N = 0, C = 0, H = 0, W = 0;  // input
  index_t P = 0, Q = 0;                // output
  index_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  bool count_include_pad = true;  // avg only
  index_t divisor = 0;            // avg only: divisor_override, 0 = none
};

// PyTorch's output length: floor (or ceil) of (in + 2 pad - dil (k - 1) - 1) / stride + 1, and
// in ceil mode the last window must start inside the input or the left padding. May be < 1.
inline index_t pool_out_size(index_t in, index_t k, index_t stride, index_t pad, index_t dil,
                             bool ceil_mode) {
  const index_t num = in + 2 * pad - dil * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  index_t out = (num >= 0 ? num / stride : -((-num + stride - 1) / stride)) + 1;
  if (ceil_mode && out > 0 && (out - 1) * stride >= in + pad) --out;
  return out;
}

// Forward max pooling; NaN wins (the last NaN of a window, as in PyTorch), ties keep the first.
template <typename T>
void max_pool2d_forward(const Pool2dParams& p, const T* x, T* y, std::int64_t* idx,
                        int num_threads);

// dx = scatter-add of dy at idx (dx is overwritten). Returns the number of entries of idx outside
// [0, H*W) (those are skipped); the caller raises when it is not 0.
template <typename T>
index_t max_pool2d_backward(const Pool2dParams& p, const T* dy, const std::int64_t* idx, T* dx,
                            int num_threads);

template <typename T>
void avg_pool2d_forward(const Pool2dParams& p, const T* x, T* y, int num_threads);

// dx (overwritten) = transpose of avg_pool2d_forward applied to dy.
template <typename T>
void avg_pool2d_backward(const Pool2dParams& p, const T* dy, T* dx, int num_threads);

template <typename T>
void adaptive_avg_pool2d_forward(const Pool2dParams& p, const T* x, T* y, int num_threads);

template <typename T>
void adaptive_avg_pool2d_backward(const Pool2dParams& p, const T* dy, T* dx, int num_threads);

// ---- internal: AVX2 fast paths (pool_avx2.cpp) for 2x2 windows, stride 2, no padding, planes
// [lo, hi) of H x W -> (H / 2) x (W / 2); max: H * W < 2^31.
void max_pool2x2_avx2(index_t lo, index_t hi, index_t H, index_t W, const float* x, float* y,
                      std::int64_t* idx);
void max_pool2x2_avx2(index_t lo, index_t hi, index_t H, index_t W, const double* x, double* y,
                      std::int64_t* idx);
void avg_pool2x2_avx2(index_t lo, index_t hi, index_t H, index_t W, float divisor, const float* x,
                      float* y);
void avg_pool2x2_avx2(index_t lo, index_t hi, index_t H, index_t W, double divisor, const double* x,
                      double* y);
void avg_pool2x2_backward_avx2(index_t lo, index_t hi, index_t H, index_t W, float divisor,
                               const float* dy, float* dx);
// y[plane] = mean of x[plane * n, (plane + 1) * n) for planes [lo, hi)
void global_avg_pool_avx2(index_t lo, index_t hi, index_t n, const float* x, float* y);
void global_avg_pool_avx2(index_t lo, index_t hi, index_t n, const double* x, double* y);
void avg_pool2x2_backward_avx2(index_t lo, index_t hi, index_t H, index_t W, double divisor,
                               const double* dy, double* dx);

}  // namespace axonal
