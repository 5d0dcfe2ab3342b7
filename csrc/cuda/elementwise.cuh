// elementwise.cuh: small fused elementwise kernels (elementwise.cu) that replace two or more CuPy
// launches on the training step's path.
#pragma once
#include <cuda_runtime.h>

#include "cuda/common.cuh"
#include "cuda/gemm.cuh"

namespace axonal {
namespace cuda {

// ReLU's gradient from its output: dx = y > 0 ? g : 0 (a NaN output gives 0, as
// numpy.where(y > 0, g, 0)), n dense float32 / float64 elements; dx may alias g.
void relu_backward_launch(DType dt, index_t n, const void* y, const void* g, void* dx,
                          cudaStream_t stream, const char* op);

}  // namespace cuda
}  // namespace axonal
