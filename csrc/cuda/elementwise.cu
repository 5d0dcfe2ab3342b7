// elementwise.cu: the fused elementwise kernels of elementwise.cuh.
#include "cuda/elementwise.cuh"

namespace axonal {
namespace cuda {

namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void __launch_bounds__(kThreads)
    relu_bwd_kernel(index_t n, const T* __restrict__ y, const T* g, T* dx) {
  for (index_t i = blockIdx.x * index_t(kThreads) + threadIdx.x; i < n;
       i += index_t(gridDim.x) * kThreads)
    dx[i] = y[i] > T(0) ? g[i] : T(0);
}

}  // namespace

void relu_backward_launch(DType dt, index_t n, const void* y, const void* g, void* dx,
                          cudaStream_t st, const char* op) {
  AX_CHECK(dt == DType::f32 || dt == DType::f64, op, ": float32 or float64 only, got ",
           dtype_name(dt));
  AX_CHECK(n >= 0, op, ": negative size ", n);
  if (n == 0) return;
  AX_CHECK(y && g && dx, op, ": null device pointer");
  if (dt == DType::f32)
    relu_bwd_kernel<float><<<grid_for(n, kThreads), kThreads, 0, st>>>(
        n, static_cast<const float*>(y), static_cast<const float*>(g), static_cast<float*>(dx));
  else
    relu_bwd_kernel<double><<<grid_for(n, kThreads), kThreads, 0, st>>>(
        n, static_cast<const double*>(y), static_cast<const double*>(g), static_cast<double*>(dx));
  AX_LAUNCH_CHECK(op, "relu backward kernel launch");
}

}  // namespace cuda
}  // namespace axonal
