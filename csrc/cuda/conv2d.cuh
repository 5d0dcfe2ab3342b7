// conv2d.cuh: host entries of the CUDA conv2d kernels (conv2d.cu), NCHW, float32 / float64.
//   x: (N, C, H, W), w: (K, C/groups, R, S), b: (K,) or null -> y: (N, K, P, Q)
// All buffers dense (C-contiguous) device memory; everything launches on `stream`.
#pragma once
#include <cuda_runtime.h>

#include "cuda/common.cuh"
#include "cuda/conv_tiles.cuh"
#include "cuda/gemm.cuh"

namespace axonal {
namespace cuda {

// Fills a ConvGeom from the sizes and checks it (std::invalid_argument naming `op`): positive
// strides / dilations, groups dividing C and K, the output size formula, element counts and
// GEMM sizes below 2^31.
ConvGeom make_conv_geom(const char* op, index_t N, index_t C, index_t H, index_t W, index_t K,
                        index_t R, index_t S, index_t P, index_t Q, index_t sh, index_t sw,
                        index_t ph, index_t pw, index_t dh, index_t dw, index_t groups);

// y = conv(x, w) + b                        -> y: (N, K, P, Q)
void conv2d_forward_launch(const ConvGeom& d, DType dt, const void* x, const void* w, const void* b,
                           void* y, cudaStream_t stream, const char* op);
// dx = conv^T(dy, w)                        dy: (N, K, P, Q) -> dx: (N, C, H, W)
void conv2d_backward_input_launch(const ConvGeom& d, DType dt, const void* dy, const void* w,
                                  void* dx, cudaStream_t stream, const char* op);
// dw = sum_n dy_n (x) x_n                   dy: (N, K, P, Q), x: (N, C, H, W) -> dw: (K, C/g, R, S)
void conv2d_backward_weight_launch(const ConvGeom& d, DType dt, const void* dy, const void* x,
                                   void* dw, cudaStream_t stream, const char* op);
// db[k] = sum over n, l of dy[n, k, l]      dy: (N, K, L) -> db: (K,)
void conv2d_backward_bias_launch(DType dt, index_t N, index_t K, index_t L, const void* dy,
                                 void* db, cudaStream_t stream, const char* op);

}  // namespace cuda
}  // namespace axonal
