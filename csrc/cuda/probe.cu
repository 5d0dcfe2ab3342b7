// probe.cu: a trivial kernel so the CUDA toolchain (nvcc, architectures, linking) is exercised by
// every CUDA build. x: (n,) -> x[i] += 1
#include <cuda_runtime.h>

__global__ void axonal_probe_kernel(float* x, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] += 1.0f;
}

extern "C" cudaError_t axonal_probe_launch(float* x, int n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  axonal_probe_kernel<<<(n + 255) / 256, 256, 0, stream>>>(x, n);
  return cudaGetLastError();
}
