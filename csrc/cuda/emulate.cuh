// emulate.cuh: a host emulator of the CUDA kernels' blocks (emulate.cu). It runs the very phase
// functions the kernels run (gemm_tiles.cuh, conv_tiles.cuh, pool_elems.cuh), thread by thread
// between the barriers, on host memory, with shared memory pre-filled with NaN so that a read of
// a slot no thread wrote shows up in the result. This checks the tiling, index and edge logic on
// machines without a GPU; it says nothing about timing, WMMA, or memory-model races (the cp.async
// pipeline's waits and barriers are not checked, only the order in which stages are used).
#pragma once
#include <cstdint>

#include "cuda/conv_tiles.cuh"
#include "cuda/gemm.cuh"
#include "cuda/gemm_tiles.cuh"
#include "cuda/pool_elems.cuh"

namespace axonal {
namespace cuda {

// Same contract as gemm_launch (host pointers); f32 and f64. allow_vec = false forces the
// element-wise load paths. With c.use_tf32 it runs mma.sync TF32 kernel tf32_kernel (1 .. 3, as
// set_tf32_kernel numbers them), its warp-level mma played out from the lanes' fragments.
void emulate_gemm(const GemmCall& c, bool allow_vec, int tf32_kernel, const char* op);

// pass: 0 forward (in0 = x, in1 = w, bias, out = y), 1 backward-input (in0 = dy, in1 = w,
// out = dx), 2 backward-weight (in0 = dy, in1 = x, out = dw; splits > 0 forces the split-K
// count, 0 picks as the launcher would for a 132-SM GPU).
void emulate_conv2d(int pass, const ConvGeom& d, DType dt, const void* in0, const void* in1,
                    const void* bias, void* out, int splits, const char* op);

// kind: 0 max fwd (in = x, out = y, idx), 1 max bwd (in = dy, idx, out = dx), 2 avg fwd,
// 3 avg bwd, 4 adaptive fwd, 5 adaptive bwd.
void emulate_pool2d(int kind, const PoolGeom& g, DType dt, const void* in, std::int64_t* idx,
                    void* out, const char* op);

// Softmax rows as the kernels do them (warp per row for cols <= 1024 with the shuffles played out
// lane by lane, else 256 threads per row with the online (max, sum) merge). backward = false:
// in0 = x, out = y; backward = true: in0 = y, in1 = dy, out = dx.
void emulate_softmax(bool backward, bool log, DType dt, const void* in0, const void* in1, void* out,
                     index_t rows, index_t cols, const char* op);

}  // namespace cuda
}  // namespace axonal
