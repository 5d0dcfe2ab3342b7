// block_reduce.cuh: warp and block reductions of the row kernels (softmax.cu, batchnorm.cu).
#pragma once
#include "cuda/softmax_rows.cuh"

namespace axonal {
namespace cuda {

template <typename A>
__device__ __forceinline__ A warp_max(A v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v = max_of(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}

template <typename A>
__device__ __forceinline__ A warp_sum(A v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

// Sum (SUM) or maximum of v over a block of NT threads; every thread gets the result. The warps'
// partials are combined in warp order by thread 0 (the host emulator does the same). sm holds
// NT / 32 values; every thread of the block must call it.
template <int NT, bool SUM, typename A>
__device__ __forceinline__ A block_reduce(A v, A* sm) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = SUM ? warp_sum(v) : warp_max(v);
  if (lane == 0) sm[warp] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    A t = sm[0];
    for (int w = 1; w < NT / 32; ++w) t = SUM ? t + sm[w] : max_of(t, sm[w]);
    sm[0] = t;
  }
  __syncthreads();
  const A r = sm[0];
  __syncthreads();  // sm is rewritten by the next reduction
  return r;
}

}  // namespace cuda
}  // namespace axonal
