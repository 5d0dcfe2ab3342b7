// optim.cuh: host entry of the fused Adam / AdamW update on the GPU (optim.cu).
#pragma once
#include <cuda_runtime.h>

#include "cuda/common.cuh"
#include "cuda/gemm.cuh"

namespace axonal {
namespace cuda {

// One pass over n elements of dense float32 / float64 device buffers, PyTorch's formula and
// operation order (the CPU's fused update, csrc/cpu/optim.cpp, element for element):
//   p *= shrink; g' = (maximize ? -g : g) + wd p; m = lerp(m, g', 1 - beta1);
//   v = beta2 v + (1 - beta2) g' g'; u = amsgrad ? (vmax = max(vmax, v)) : v;
//   p -= m / (sqrt(u) / bc2_sqrt + eps) * step_size
// vmax may be null (no amsgrad). Launched on `stream`.
void adam_update_launch(DType dt, index_t n, void* p, const void* g, void* m, void* v, void* vmax,
                        double beta1, double beta2, double eps, double step_size, double bc2_sqrt,
                        double wd, bool maximize, double shrink, cudaStream_t stream,
                        const char* op);

// The same update for up to kMaxAdamTensors tensors of one dtype in one launch (their pointers
// travel as kernel arguments), each with its own size, step_size and bc2_sqrt.
constexpr int kMaxAdamTensors = 24;
struct AdamTensor {
  void* p = nullptr;
  const void* g = nullptr;
  void* m = nullptr;
  void* v = nullptr;
  void* vmax = nullptr;
  index_t n = 0;
  double step_size = 0.0, bc2_sqrt = 1.0;
};
void adam_update_multi_launch(DType dt, const AdamTensor* tensors, int count, double beta1,
                              double beta2, double eps, double wd, bool maximize, double shrink,
                              cudaStream_t stream, const char* op);

}  // namespace cuda
}  // namespace axonal
