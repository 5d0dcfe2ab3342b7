// pool.cuh: host entries of the CUDA pooling kernels (pool.cu), NCHW, float32 / float64.
//   forward:  x: (N, C, H, W) -> y: (N, C, P, Q)  (max also idx: (N, C, P, Q) int64)
//   backward: dy: (N, C, P, Q) -> dx: (N, C, H, W)  (dx overwritten)
// One thread per output (forward) or per input element (avg / adaptive backward, gathered);
// max backward scatters dy at idx with atomic adds into a zeroed dx and skips entries of idx
// outside [0, H*W) (they never touch memory). Grid-stride loops, launches on `stream`.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/common.cuh"
#include "cuda/gemm.cuh"
#include "cuda/pool_elems.cuh"

namespace axonal {
namespace cuda {

// Checks sizes (std::invalid_argument naming `op`): non-negative, windows positive, P, Q > 0
// when the output is not empty.
void check_pool_geom(const PoolGeom& g, const char* op);

void max_pool2d_forward_launch(const PoolGeom& g, DType dt, const void* x, void* y,
                               std::int64_t* idx, cudaStream_t st, const char* op);
void max_pool2d_backward_launch(const PoolGeom& g, DType dt, const void* dy,
                                const std::int64_t* idx, void* dx, cudaStream_t st, const char* op);
void avg_pool2d_forward_launch(const PoolGeom& g, DType dt, const void* x, void* y, cudaStream_t st,
                               const char* op);
void avg_pool2d_backward_launch(const PoolGeom& g, DType dt, const void* dy, void* dx,
                                cudaStream_t st, const char* op);
void adaptive_avg_pool2d_forward_launch(const PoolGeom& g, DType dt, const void* x, void* y,
                                        cudaStream_t st, const char* op);
void adaptive_avg_pool2d_backward_launch(const PoolGeom& g, DType dt, const void* dy, void* dx,
                                         cudaStream_t st, const char* op);

}  // namespace cuda
}  // namespace axonal
