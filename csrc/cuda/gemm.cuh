// gemm.cuh: host entry of the CUDA GEMM kernels (gemm.cu).
//   C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b]   for b < batch, row-major operands
//   op(A): (M, K), A stored (M, K) or, when ta, (K, M), row stride lda; op(B): (K, N) likewise
//   C: (M, N), row stride ldc; sA, sB, sC: batch strides in elements (0 broadcasts an operand)
// Kernels by dtype: float32 -> SIMT 128x128x8 (or TF32 tensor cores when use_tf32),
// float64 -> simple 64x64x16 tiles, bfloat16 -> tensor cores with float32 accumulation and a
// float32 or bfloat16 C. Everything launches on `stream`; nothing synchronises the device.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>

#include "cuda/common.cuh"

namespace axonal {
namespace cuda {

enum class DType : int { f32 = 0, f64 = 1, bf16 = 2 };

inline const char* dtype_name(DType d) {
  switch (d) {
    case DType::f32:
      return "float32";
    case DType::f64:
      return "float64";
    case DType::bf16:
      return "bfloat16";
  }
  return "?";
}

inline int dtype_size(DType d) { return d == DType::f64 ? 8 : d == DType::f32 ? 4 : 2; }

struct GemmCall {
  DType in = DType::f32, out = DType::f32;
  bool use_tf32 = false, ta = false, tb = false;
  index_t M = 0, N = 0, K = 0, batch = 1;
  double alpha = 1.0, beta = 0.0;
  const void* A = nullptr;
  index_t lda = 0, sA = 0;
  const void* B = nullptr;
  index_t ldb = 0, sB = 0;
  void* C = nullptr;
  index_t ldc = 0, sC = 0;
};

// Splits a launch so that grid.y (M tiles of bm rows) and grid.z (batch) stay within 65535:
// fn(m_first, m_count, b_first, b_count) launches one piece (the caller shifts the pointers).
template <class Fn>
void for_each_gemm_piece(index_t M, index_t batch, int bm, Fn&& fn) {
  const index_t m_step = kMaxGridYZ * bm;
  for (index_t b = 0; b < batch; b += kMaxGridYZ)
    for (index_t m = 0; m < M; m += m_step)
      fn(m, std::min(m_step, M - m), b, std::min(kMaxGridYZ, batch - b));
}

// TF32 kernels: 0 lets gemm_launch pick (the TMA-fed wgmma kernel 7 on compute 9.0 with the
// sm_90a build, else the mma.sync kernel 1 where the device gives a block enough shared memory,
// else the WMMA kernel; unaligned operands or K = 0 take mma.sync 1 from 5 .. 8); 1, 2, 3 force the
// mma.sync kernel with 128x128 tiles and 3 stages, 128x256 tiles and 3 stages, 128x128 tiles and 4
// stages; 4 forces WMMA; 5, 6 the Hopper wgmma kernel fed by cp.async with 128x128 tiles and 5
// stages, 128x256 tiles and 4 stages; 7, 8 the wgmma kernel fed by the TMA (warp-specialised,
// mbarriers, 128-byte swizzle) with 128x256 tiles and 4 stages, 128x128 tiles and 6 stages (5 .. 8:
// compute 9.0 and an sm_90a build only, else as 1; gemm_kernel_name names it for 16-byte aligned
// operands, the launcher takes mma.sync 1 for others). For benchmarks and tests; not thread-safe
// against concurrent launches.
void set_tf32_kernel(int which);
int tf32_kernel();

// Launches mma.sync variant `which` (1..3) for a float32 GemmCall with use_tf32; returns false,
// launching nothing, when the current device cannot give a block its shared memory.
bool launch_tf32_mma(int which, const GemmCall& c, index_t K, cudaStream_t stream, const char* op);
const char* tf32_mma_name(int which);
// The wgmma kernel `which` (5 .. 8): false, launching nothing, unless the build has sm_90a code,
// the device is compute 9.0 and the operands fit (K-major ones 16-byte aligned).
bool launch_tf32_wgmma(int which, const GemmCall& c, index_t K, cudaStream_t stream,
                       const char* op);
// The BF16 GEMM (bfloat16 in, float32 out) on the TMA-fed wgmma kernel: false, launching
// nothing, where launch_tf32_wgmma's conditions fail (K-major rows 16-byte aligned here), for
// bfloat16 output, or K = 0; gemm_launch then runs WMMA.
bool launch_bf16_wgmma(const GemmCall& c, index_t K, cudaStream_t stream, const char* op);
// BF16 kernels: 0 lets gemm_launch pick (the wgmma kernel where it applies, else WMMA), 1 forces
// WMMA. For benchmarks and tests; not thread-safe against concurrent launches.
void set_bf16_kernel(int which);
int bf16_kernel();
// Whether the wgmma kernels are in this build (an sm_90a object) and the device is compute 9.0.
bool tf32_wgmma_available();
// Whether the current device gives a block the shared memory of mma.sync kernel `which` (true
// where no device can be asked).
bool tf32_mma_fits(int which);

// Validates the call (std::invalid_argument naming `op`) and launches the kernels on `stream`;
// CUDA failures throw std::runtime_error naming `op`.
void gemm_launch(const GemmCall& c, cudaStream_t stream, const char* op);

// Which kernel gemm_launch picks for these arguments ("simt_128x128x8", "tc_tf32_wmma", ...).
const char* gemm_kernel_name(const GemmCall& c);

}  // namespace cuda
}  // namespace axonal
