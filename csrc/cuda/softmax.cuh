// softmax.cuh: host entries of the CUDA softmax / log_softmax kernels (softmax.cu), along the
// last axis of dense (rows, cols) float32 / float64 device buffers, launched on `stream`.
#pragma once
#include <cuda_runtime.h>

#include "cuda/common.cuh"
#include "cuda/gemm.cuh"

namespace axonal {
namespace cuda {

// y = softmax(x) or log_softmax(x) (log = true)          x: (rows, cols) -> y: (rows, cols)
void softmax_forward_launch(DType dt, bool log, const void* x, void* y, index_t rows, index_t cols,
                            cudaStream_t stream, const char* op);
// dx from the forward output y and dy                     y, dy: (rows, cols) -> dx: (rows, cols)
void softmax_backward_launch(DType dt, bool log, const void* y, const void* dy, void* dx,
                             index_t rows, index_t cols, cudaStream_t stream, const char* op);
// "warp_per_row" (cols <= 1024) or "block_per_row"
const char* softmax_kernel_name(index_t cols);

}  // namespace cuda
}  // namespace axonal
