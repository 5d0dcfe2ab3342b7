// softmax.cu: softmax / log_softmax along the last axis, forward and backward.
//   forward:  x: (rows, cols) -> y: (rows, cols)
//             softmax y = exp(x - m) / s, log_softmax y = x - m - log(s),
//             m = max over the row, s = sum exp(x - m)
//   backward: y, dy: (rows, cols) -> dx: (rows, cols)
//             softmax dx = y (dy - sum(dy y)), log_softmax dx = dy - exp(y) sum(dy)
// cols <= 1024: one warp per row, the row held in registers (VPT values per lane, one read of
// x), warp-shuffle reductions. cols > 1024: one block of 256 threads per row, a single online
// pass for (max, sum) (each thread rescales its running sum when its maximum grows; partial
// results merge the same way), then the write pass. Accumulation in float for float32, double
// for float64. A row that is all -inf gives NaN, as in PyTorch.
#include "cuda/softmax.cuh"
#include "cuda/softmax_rows.cuh"

namespace axonal {
namespace cuda {

namespace {

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

constexpr int kWarpThreads = 128;  // 4 rows per block in the warp kernels
constexpr int kBlockThreads = 256;

// x: (rows, cols) -> y: (rows, cols), cols <= 32 VPT; one warp per row
template <typename T, typename A, int VPT, bool LOG>
__global__ void __launch_bounds__(kWarpThreads)
    softmax_warp_kernel(const T* __restrict__ x, T* __restrict__ y, index_t rows, int cols) {
  const int lane = threadIdx.x & 31;
  const index_t warps = index_t(gridDim.x) * (kWarpThreads / 32);
  for (index_t row = index_t(blockIdx.x) * (kWarpThreads / 32) + (threadIdx.x >> 5); row < rows;
       row += warps) {  // warp-uniform: every lane takes part in the shuffles
    A v[VPT];
    const A m = warp_max(warp_load<T, A, VPT>(x + row * cols, cols, lane, v));
    const A s = warp_sum(warp_exp_sum<A, VPT, LOG>(cols, lane, v, m));
    warp_store<T, A, VPT, LOG>(y + row * cols, cols, lane, v, m, s);
  }
}

// Block-wide merge of the threads' (m, s); every thread gets the row's result.
template <typename A>
__device__ __forceinline__ void block_merge_ms(A& m, A& s, A* sm_m, A* sm_s) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) {
    const A m2 = __shfl_xor_sync(0xffffffffu, m, off);
    const A s2 = __shfl_xor_sync(0xffffffffu, s, off);
    merge_ms(m, s, m2, s2);
  }
  if (lane == 0) {
    sm_m[warp] = m;
    sm_s[warp] = s;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    A mm = sm_m[0], ss = sm_s[0];
    for (int w = 1; w < kBlockThreads / 32; ++w) merge_ms(mm, ss, sm_m[w], sm_s[w]);
    sm_m[0] = mm;
    sm_s[0] = ss;
  }
  __syncthreads();
  m = sm_m[0];
  s = sm_s[0];
  __syncthreads();  // sm_* are rewritten by the next row
}

template <typename A>
__device__ __forceinline__ A block_sum(A v, A* sm) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = warp_sum(v);
  if (lane == 0) sm[warp] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    A t = A(0);
    for (int w = 0; w < kBlockThreads / 32; ++w) t += sm[w];
    sm[0] = t;
  }
  __syncthreads();
  const A r = sm[0];
  __syncthreads();
  return r;
}

// x: (rows, cols) -> y: (rows, cols); one block of 256 threads per row (block-uniform loop)
template <typename T, typename A, bool LOG>
__global__ void __launch_bounds__(kBlockThreads)
    softmax_block_kernel(const T* __restrict__ x, T* __restrict__ y, index_t rows, int cols) {
  __shared__ A sm_m[kBlockThreads / 32], sm_s[kBlockThreads / 32];
  for (index_t row = blockIdx.x; row < rows; row += gridDim.x) {
    A m, s;
    block_online<T, A>(x + row * cols, cols, threadIdx.x, kBlockThreads, m, s);
    block_merge_ms(m, s, sm_m, sm_s);
    block_store<T, A, LOG>(x + row * cols, y + row * cols, cols, threadIdx.x, kBlockThreads, m, s);
  }
}

// y, dy: (rows, cols) -> dx: (rows, cols), cols <= 32 VPT; one warp per row
template <typename T, typename A, int VPT, bool LOG>
__global__ void __launch_bounds__(kWarpThreads)
    softmax_bwd_warp_kernel(const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx,
                            index_t rows, int cols) {
  const int lane = threadIdx.x & 31;
  const index_t warps = index_t(gridDim.x) * (kWarpThreads / 32);
  for (index_t row = index_t(blockIdx.x) * (kWarpThreads / 32) + (threadIdx.x >> 5); row < rows;
       row += warps) {
    const index_t base = row * cols;
    A yv[VPT], gv[VPT];
    const A s = warp_sum(warp_bwd_load<T, A, VPT, LOG>(y + base, dy + base, cols, lane, yv, gv));
    warp_bwd_store<T, A, VPT, LOG>(dx + base, cols, lane, yv, gv, s);
  }
}

template <typename T, typename A, bool LOG>
__global__ void __launch_bounds__(kBlockThreads)
    softmax_bwd_block_kernel(const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx,
                             index_t rows, int cols) {
  __shared__ A sm[kBlockThreads / 32];
  for (index_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const index_t base = row * cols;
    const A s = block_sum(
        block_bwd_partial<T, A, LOG>(y + base, dy + base, cols, threadIdx.x, kBlockThreads), sm);
    block_bwd_store<T, A, LOG>(y + base, dy + base, dx + base, cols, threadIdx.x, kBlockThreads, s);
  }
}

// 4 rows per 128-thread block: ceil(rows / 4) blocks, capped (the kernels loop over the rest).
unsigned warp_rows_grid(index_t rows) {
  const index_t b = (rows + 3) / 4, cap = 65535LL * 32;
  return static_cast<unsigned>(b < cap ? b : cap);
}
unsigned block_grid(index_t rows) {
  return static_cast<unsigned>(rows < 65535LL * 16 ? rows : 65535LL * 16);
}

template <typename T, typename A, bool LOG>
void fwd_t(const void* xv, void* yv, index_t rows, int cols, cudaStream_t st) {
  const T* x = static_cast<const T*>(xv);
  T* y = static_cast<T*>(yv);
  const unsigned wg = warp_rows_grid(rows);
  if (cols <= 32)
    softmax_warp_kernel<T, A, 1, LOG><<<wg, kWarpThreads, 0, st>>>(x, y, rows, cols);
  else if (cols <= 64)
    softmax_warp_kernel<T, A, 2, LOG><<<wg, kWarpThreads, 0, st>>>(x, y, rows, cols);
  else if (cols <= 128)
    softmax_warp_kernel<T, A, 4, LOG><<<wg, kWarpThreads, 0, st>>>(x, y, rows, cols);
  else if (cols <= 256)
    softmax_warp_kernel<T, A, 8, LOG><<<wg, kWarpThreads, 0, st>>>(x, y, rows, cols);
  else if (cols <= 512)
    softmax_warp_kernel<T, A, 16, LOG><<<wg, kWarpThreads, 0, st>>>(x, y, rows, cols);
  else if (cols <= 1024)
    softmax_warp_kernel<T, A, 32, LOG><<<wg, kWarpThreads, 0, st>>>(x, y, rows, cols);
  else
    softmax_block_kernel<T, A, LOG><<<block_grid(rows), kBlockThreads, 0, st>>>(x, y, rows, cols);
}

template <typename T, typename A, bool LOG>
void bwd_t(const void* yv, const void* dyv, void* dxv, index_t rows, int cols, cudaStream_t st) {
  const T* y = static_cast<const T*>(yv);
  const T* dy = static_cast<const T*>(dyv);
  T* dx = static_cast<T*>(dxv);
  const unsigned wg = warp_rows_grid(rows);
  if (cols <= 32)
    softmax_bwd_warp_kernel<T, A, 1, LOG><<<wg, kWarpThreads, 0, st>>>(y, dy, dx, rows, cols);
  else if (cols <= 64)
    softmax_bwd_warp_kernel<T, A, 2, LOG><<<wg, kWarpThreads, 0, st>>>(y, dy, dx, rows, cols);
  else if (cols <= 128)
    softmax_bwd_warp_kernel<T, A, 4, LOG><<<wg, kWarpThreads, 0, st>>>(y, dy, dx, rows, cols);
  else if (cols <= 256)
    softmax_bwd_warp_kernel<T, A, 8, LOG><<<wg, kWarpThreads, 0, st>>>(y, dy, dx, rows, cols);
  else if (cols <= 512)
    softmax_bwd_warp_kernel<T, A, 16, LOG><<<wg, kWarpThreads, 0, st>>>(y, dy, dx, rows, cols);
  else if (cols <= 1024)
    softmax_bwd_warp_kernel<T, A, 32, LOG><<<wg, kWarpThreads, 0, st>>>(y, dy, dx, rows, cols);
  else
    softmax_bwd_block_kernel<T, A, LOG>
        <<<block_grid(rows), kBlockThreads, 0, st>>>(y, dy, dx, rows, cols);
}

void check_args(DType dt, index_t rows, index_t cols, const char* op) {
  AX_CHECK(dt == DType::f32 || dt == DType::f64, op, ": dtype must be float32 or float64, got ",
           dtype_name(dt));
  AX_CHECK(rows >= 0 && cols >= 0, op, ": negative size (", rows, ", ", cols, ")");
  AX_CHECK(cols <= kInt32Max, op, ": rows of 2^31 or more elements are not supported");
}

}  // namespace

const char* softmax_kernel_name(index_t cols) {
  return cols <= 1024 ? "warp_per_row" : "block_per_row";
}

void softmax_forward_launch(DType dt, bool log, const void* x, void* y, index_t rows, index_t cols,
                            cudaStream_t st, const char* op) {
  check_args(dt, rows, cols, op);
  if (rows == 0 || cols == 0) return;
  AX_CHECK(x && y, op, ": null device pointer");
  const int c = static_cast<int>(cols);
  if (dt == DType::f32)
    log ? fwd_t<float, float, true>(x, y, rows, c, st)
        : fwd_t<float, float, false>(x, y, rows, c, st);
  else
    log ? fwd_t<double, double, true>(x, y, rows, c, st)
        : fwd_t<double, double, false>(x, y, rows, c, st);
  AX_LAUNCH_CHECK(op, "softmax forward kernel launch");
}

void softmax_backward_launch(DType dt, bool log, const void* y, const void* dy, void* dx,
                             index_t rows, index_t cols, cudaStream_t st, const char* op) {
  check_args(dt, rows, cols, op);
  if (rows == 0 || cols == 0) return;
  AX_CHECK(y && dy && dx, op, ": null device pointer");
  const int c = static_cast<int>(cols);
  if (dt == DType::f32)
    log ? bwd_t<float, float, true>(y, dy, dx, rows, c, st)
        : bwd_t<float, float, false>(y, dy, dx, rows, c, st);
  else
    log ? bwd_t<double, double, true>(y, dy, dx, rows, c, st)
        : bwd_t<double, double, false>(y, dy, dx, rows, c, st);
  AX_LAUNCH_CHECK(op, "softmax backward kernel launch");
}

}  // namespace cuda
}  // namespace axonal
