// batchnorm.cuh: host entries of the fused batch-norm training kernels (batchnorm.cu), over a
// dense (N, C, L) float32 / float64 device buffer, statistics per channel c over N and L.
#pragma once
#include <cuda_runtime.h>

#include "cuda/common.cuh"
#include "cuda/gemm.cuh"

namespace axonal {
namespace cuda {

// mean = sum x / m, var = sum (x - mean)^2 / m (biased), invstd = 1 / sqrt(var + eps),
// y = (x - mean) invstd w + b (w, b may be null: 1 and 0), m = N L; accumulation in double.
// running_mean / running_var (may be null): r = (1 - momentum) r + momentum stat, with the
// unbiased variance var m / (m - 1) (m > 1). mean, var, invstd: (C).
void batch_norm_forward_launch(DType dt, index_t N, index_t C, index_t L, const void* x,
                               const void* w, const void* b, double eps, void* y, void* mean,
                               void* var, void* invstd, void* running_mean, void* running_var,
                               double momentum, cudaStream_t stream, const char* op);

// From x, mean, invstd and the output gradient g: sg = sum g, sgx = sum g xhat per channel
// (xhat = (x - mean) invstd) and, where gx is not null,
// gx = (g - sg / m - xhat sgx / m) invstd w (w may be null: 1). sg, sgx: (C).
void batch_norm_backward_launch(DType dt, index_t N, index_t C, index_t L, const void* x,
                                const void* g, const void* mean, const void* invstd, const void* w,
                                void* gx, void* sgx, void* sg, cudaStream_t stream, const char* op);

}  // namespace cuda
}  // namespace axonal
