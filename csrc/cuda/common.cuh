// common.cuh: shared pieces of the CUDA kernels: error checks that become Python exceptions,
// the host/device attribute used by the kernel phase functions (so the host emulator in
// emulate.cu runs the very same code on the CPU), launch-size helpers.
//
// Error policy: every CUDA runtime call and every launch is checked; a failure throws
// std::runtime_error("<op>: <what> failed: <cudaErrorName>: <message>"), which pybind11 turns
// into a Python RuntimeError naming the op. Argument errors throw std::invalid_argument
// (ValueError) through AX_CHECK (common/check.h).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "common/check.h"

#if defined(__CUDACC__)
#define AX_HD __host__ __device__ __forceinline__
#else
#define AX_HD inline
#endif

namespace axonal {
namespace cuda {

using index_t = std::int64_t;

// Throws std::runtime_error naming the op when err is not cudaSuccess.
inline void check_cuda(cudaError_t err, const char* op, const char* what) {
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear a non-sticky error so that the next call starts clean
    throw std::runtime_error(
        str_cat(op, ": ", what, " failed: ", cudaGetErrorName(err), ": ", cudaGetErrorString(err)));
  }
}

inline cudaStream_t as_stream(std::uintptr_t s) { return reinterpret_cast<cudaStream_t>(s); }

// Compute capability major of the current device (8 for A100, 9 for H100/H200).
inline int current_cc_major(const char* op) {
  int dev = 0, major = 0;
  check_cuda(cudaGetDevice(&dev), op, "cudaGetDevice");
  check_cuda(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev), op,
             "cudaDeviceGetAttribute(ComputeCapabilityMajor)");
  return major;
}

inline int current_sm_count(const char* op) {
  int dev = 0, n = 0;
  check_cuda(cudaGetDevice(&dev), op, "cudaGetDevice");
  check_cuda(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev), op,
             "cudaDeviceGetAttribute(MultiProcessorCount)");
  return n > 0 ? n : 1;
}

constexpr index_t kMaxGridYZ = 65535;
constexpr index_t kMaxGridX = 2147483647;
constexpr index_t kInt32Max = 2147483647;

inline index_t ceil_div(index_t a, index_t b) { return (a + b - 1) / b; }

// Whether a 16-byte vector load or store may start at p.
inline bool aligned16(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % 16 == 0; }

// Blocks for a grid-stride loop over n items: enough to fill the GPU, never above the limit.
inline unsigned grid_for(index_t n, int threads) {
  index_t b = ceil_div(n, threads);
  const index_t cap = 65535LL * 32;
  if (b > cap) b = cap;
  if (b < 1) b = 1;
  return static_cast<unsigned>(b);
}

}  // namespace cuda
}  // namespace axonal

#define AX_CUDA_CHECK(op, call) ::axonal::cuda::check_cuda((call), (op), #call)
#define AX_LAUNCH_CHECK(op, name) ::axonal::cuda::check_cuda(cudaGetLastError(), (op), name)
