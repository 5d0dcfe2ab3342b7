// softmax.cu: softmax / log_softmax along the last axis, forward and backward.
//   forward:  x: (rows, cols) -> y: (rows, cols)
//             softmax y = exp(x - m) / s, log_softmax y = x - m - log(s),
//             m = max over the row, s = sum exp(x - m)
//   backward: y, dy: (rows, cols) -> dx: (rows, cols)
//             softmax dx = y (dy - sum(dy y)), log_softmax dx = dy - exp(y) sum(dy)
// The kernel per width (softmax_plan in softmax_rows.cuh): cols <= 1024 one warp per row (short
// rows 2 or 4 at a time, their loads in flight together), the
// row held in registers (one read of x), warp-shuffle reductions; wider rows of 16-byte packs one
// block per row, still in registers (up to 16384 float32 columns); anything else one block of 256
// threads per row with a single online pass for (max, sum) (each thread rescales its running sum
// when its maximum grows; partial results merge the same way), then the write pass. Rows move
// as 16-byte loads and stores where cols and the pointers allow. The grids are sized from the
// occupancy (a grid-stride loop over the rows): short rows do not pay a block launch each.
// Accumulation in float for float32, double for float64. A row that is all -inf gives NaN, as
// in PyTorch.
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>

#include "cuda/block_reduce.cuh"
#include "cuda/softmax.cuh"
#include "cuda/softmax_rows.cuh"

namespace axonal {
namespace cuda {

namespace {

constexpr int kWarpThreads = 128;  // 4 rows at a time per block in the warp kernels
constexpr int kOnlineThreads = 256;

// x: (rows, cols) -> y: (rows, cols), cols <= 32 VPT; one warp per row, ROWS rows at a time (the
// loads of all ROWS rows in flight together: short rows alone leave the warp waiting on one
// load at a time)
template <typename T, typename A, int VPT, int PACK, int ROWS, bool LOG>
__global__ void __launch_bounds__(kWarpThreads)
    softmax_warp_kernel(const T* __restrict__ x, T* __restrict__ y, index_t rows, int cols) {
  const int lane = threadIdx.x & 31;
  const index_t step = index_t(gridDim.x) * (kWarpThreads / 32) * ROWS;
  for (index_t row0 = (index_t(blockIdx.x) * (kWarpThreads / 32) + (threadIdx.x >> 5)) * ROWS;
       row0 < rows; row0 += step) {  // warp-uniform: every lane takes part in the shuffles
    A v[ROWS][VPT], m[ROWS], s[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; ++r)
      m[r] = row0 + r < rows
                 ? row_load<T, A, VPT, PACK>(x + (row0 + r) * cols, cols, lane, 32, v[r])
                 : A(0);
#pragma unroll
    for (int r = 0; r < ROWS; ++r) m[r] = warp_max(m[r]);
#pragma unroll
    for (int r = 0; r < ROWS; ++r)
      s[r] = row0 + r < rows ? row_exp_sum<A, VPT, PACK, LOG>(cols, lane, 32, v[r], m[r]) : A(1);
#pragma unroll
    for (int r = 0; r < ROWS; ++r) s[r] = warp_sum(s[r]);
#pragma unroll
    for (int r = 0; r < ROWS; ++r)
      if (row0 + r < rows)
        row_store<T, A, VPT, PACK, LOG>(y + (row0 + r) * cols, cols, lane, 32, v[r], m[r], s[r]);
  }
}

// x: (rows, cols) -> y: (rows, cols), cols <= NT VPT; one block of NT threads per row, the row
// in registers
template <typename T, typename A, int VPT, int PACK, int NT, bool LOG>
__global__ void __launch_bounds__(NT)
    softmax_regs_kernel(const T* __restrict__ x, T* __restrict__ y, index_t rows, int cols) {
  __shared__ A sm[NT / 32];
  for (index_t row = blockIdx.x; row < rows; row += gridDim.x) {
    A v[VPT];
    const A m = block_reduce<NT, false>(
        row_load<T, A, VPT, PACK>(x + row * cols, cols, threadIdx.x, NT, v), sm);
    const A s =
        block_reduce<NT, true>(row_exp_sum<A, VPT, PACK, LOG>(cols, threadIdx.x, NT, v, m), sm);
    row_store<T, A, VPT, PACK, LOG>(y + row * cols, cols, threadIdx.x, NT, v, m, s);
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
    for (int w = 1; w < kOnlineThreads / 32; ++w) merge_ms(mm, ss, sm_m[w], sm_s[w]);
    sm_m[0] = mm;
    sm_s[0] = ss;
  }
  __syncthreads();
  m = sm_m[0];
  s = sm_s[0];
  __syncthreads();  // sm_* are rewritten by the next row
}

// x: (rows, cols) -> y: (rows, cols); one block of 256 threads per row (block-uniform loop)
template <typename T, typename A, bool LOG>
__global__ void __launch_bounds__(kOnlineThreads)
    softmax_online_kernel(const T* __restrict__ x, T* __restrict__ y, index_t rows, int cols) {
  __shared__ A sm_m[kOnlineThreads / 32], sm_s[kOnlineThreads / 32];
  for (index_t row = blockIdx.x; row < rows; row += gridDim.x) {
    A m, s;
    block_online<T, A>(x + row * cols, cols, threadIdx.x, kOnlineThreads, m, s);
    block_merge_ms(m, s, sm_m, sm_s);
    block_store<T, A, LOG>(x + row * cols, y + row * cols, cols, threadIdx.x, kOnlineThreads, m, s);
  }
}

// y, dy: (rows, cols) -> dx: (rows, cols), cols <= 32 VPT; one warp per row, ROWS at a time
template <typename T, typename A, int VPT, int PACK, int ROWS, bool LOG>
__global__ void __launch_bounds__(kWarpThreads)
    softmax_bwd_warp_kernel(const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx,
                            index_t rows, int cols) {
  const int lane = threadIdx.x & 31;
  const index_t step = index_t(gridDim.x) * (kWarpThreads / 32) * ROWS;
  for (index_t row0 = (index_t(blockIdx.x) * (kWarpThreads / 32) + (threadIdx.x >> 5)) * ROWS;
       row0 < rows; row0 += step) {
    A yv[ROWS][VPT], gv[ROWS][VPT], s[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; ++r) {
      const index_t base = (row0 + r) * cols;
      s[r] = row0 + r < rows ? row_bwd_load<T, A, VPT, PACK, LOG>(y + base, dy + base, cols, lane,
                                                                  32, yv[r], gv[r])
                             : A(0);
    }
#pragma unroll
    for (int r = 0; r < ROWS; ++r) s[r] = warp_sum(s[r]);
#pragma unroll
    for (int r = 0; r < ROWS; ++r)
      if (row0 + r < rows)
        row_bwd_store<T, A, VPT, PACK, LOG>(dx + (row0 + r) * cols, cols, lane, 32, yv[r], gv[r],
                                            s[r]);
  }
}

template <typename T, typename A, int VPT, int PACK, int NT, bool LOG>
__global__ void __launch_bounds__(NT)
    softmax_bwd_regs_kernel(const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx,
                            index_t rows, int cols) {
  __shared__ A sm[NT / 32];
  for (index_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const index_t base = row * cols;
    A yv[VPT], gv[VPT];
    const A s = block_reduce<NT, true>(
        row_bwd_load<T, A, VPT, PACK, LOG>(y + base, dy + base, cols, threadIdx.x, NT, yv, gv), sm);
    row_bwd_store<T, A, VPT, PACK, LOG>(dx + base, cols, threadIdx.x, NT, yv, gv, s);
  }
}

template <typename T, typename A, bool LOG>
__global__ void __launch_bounds__(kOnlineThreads)
    softmax_bwd_online_kernel(const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx,
                              index_t rows, int cols) {
  __shared__ A sm[kOnlineThreads / 32];
  for (index_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const index_t base = row * cols;
    const A s = block_reduce<kOnlineThreads, true>(
        block_bwd_partial<T, A, LOG>(y + base, dy + base, cols, threadIdx.x, kOnlineThreads), sm);
    block_bwd_store<T, A, LOG>(y + base, dy + base, dx + base, cols, threadIdx.x, kOnlineThreads,
                               s);
  }
}

// Blocks for a grid-stride loop over `items` (rows, or groups of rows): as many as can be
// resident at once on the device (the kernel's occupancy x the SMs, cached per kernel and
// device), never more than the items.
template <typename Kernel>
unsigned resident_grid(Kernel kernel, int threads, index_t items, const char* op) {
  static std::mutex mu;
  static std::map<std::pair<const void*, int>, int> per_sm_of;
  int dev = 0;
  check_cuda(cudaGetDevice(&dev), op, "cudaGetDevice");
  const auto key = std::make_pair(reinterpret_cast<const void*>(kernel), dev);
  int per_sm = 0;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = per_sm_of.find(key);
    if (it != per_sm_of.end()) per_sm = it->second;
  }
  if (per_sm == 0) {
    check_cuda(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, threads, 0), op,
               "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
    if (per_sm < 1) per_sm = 1;
    std::lock_guard<std::mutex> lock(mu);
    per_sm_of[key] = per_sm;
  }
  const index_t cap = index_t(per_sm) * current_sm_count(op);
  const index_t b = items < cap ? items : cap;
  return static_cast<unsigned>(b < 1 ? 1 : b);
}

// Rows per warp iteration: up to 4 rows of <= 4 values per lane (<= 128 columns), 2 of 8.
constexpr int warp_rows_at_once(int vpt) { return vpt <= 4 ? 4 : vpt <= 8 ? 2 : 1; }

// Launches the kernel of the row plan for cols: the forward kernels on (x, y) or, BWD, the
// backward ones on (y, dy, dx); ptrs are the buffers, in that order.
template <typename T, typename A, bool LOG, bool BWD, typename... Ptrs>
void launch_rows(index_t rows, int cols, cudaStream_t st, const char* op, Ptrs... ptrs) {
  const RowPlan plan = softmax_plan<T>(cols, (aligned16(ptrs) && ...));
  auto go = [&](auto kernel, int threads, index_t items) {
    kernel<<<resident_grid(kernel, threads, items, op), threads, 0, st>>>(ptrs..., rows, cols);
  };
  if (plan.kind == RowKind::block_online) {
    if constexpr (BWD)
      go(softmax_bwd_online_kernel<T, A, LOG>, kOnlineThreads, rows);
    else
      go(softmax_online_kernel<T, A, LOG>, kOnlineThreads, rows);
    return;
  }
  with_row_plan<T>(plan, [&](auto vpt, auto pack, auto nt) {
    constexpr int V = decltype(vpt)::value, P = decltype(pack)::value, NT = decltype(nt)::value;
    if constexpr (NT == 32) {
      constexpr int R = warp_rows_at_once(V);  // rows per warp at a time
      const index_t groups = (rows + kWarpThreads / 32 * R - 1) / (kWarpThreads / 32 * R);
      if constexpr (BWD)
        go(softmax_bwd_warp_kernel<T, A, V, P, R, LOG>, kWarpThreads, groups);
      else
        go(softmax_warp_kernel<T, A, V, P, R, LOG>, kWarpThreads, groups);
    } else if constexpr (BWD) {
      go(softmax_bwd_regs_kernel<T, A, V, P, NT, LOG>, NT, rows);
    } else {
      go(softmax_regs_kernel<T, A, V, P, NT, LOG>, NT, rows);
    }
  });
}

template <typename T, typename A, bool LOG>
void fwd_t(const void* x, void* y, index_t rows, int cols, cudaStream_t st, const char* op) {
  launch_rows<T, A, LOG, false>(rows, cols, st, op, static_cast<const T*>(x), static_cast<T*>(y));
}

template <typename T, typename A, bool LOG>
void bwd_t(const void* y, const void* dy, void* dx, index_t rows, int cols, cudaStream_t st,
           const char* op) {
  launch_rows<T, A, LOG, true>(rows, cols, st, op, static_cast<const T*>(y),
                               static_cast<const T*>(dy), static_cast<T*>(dx));
}

void check_args(DType dt, index_t rows, index_t cols, const char* op) {
  AX_CHECK(dt == DType::f32 || dt == DType::f64, op, ": dtype must be float32 or float64, got ",
           dtype_name(dt));
  AX_CHECK(rows >= 0 && cols >= 0, op, ": negative size (", rows, ", ", cols, ")");
  AX_CHECK(cols <= kInt32Max, op, ": rows of 2^31 or more elements are not supported");
}

}  // namespace

const char* softmax_kernel_name(index_t cols) {
  switch (softmax_plan<float>(cols, true).kind) {
    case RowKind::warp:
      return "warp_per_row";
    case RowKind::block_regs:
      return "block_per_row_in_registers";
    default:
      return "block_per_row";
  }
}

void softmax_forward_launch(DType dt, bool log, const void* x, void* y, index_t rows, index_t cols,
                            cudaStream_t st, const char* op) {
  check_args(dt, rows, cols, op);
  if (rows == 0 || cols == 0) return;
  AX_CHECK(x && y, op, ": null device pointer");
  const int c = static_cast<int>(cols);
  if (dt == DType::f32)
    log ? fwd_t<float, float, true>(x, y, rows, c, st, op)
        : fwd_t<float, float, false>(x, y, rows, c, st, op);
  else
    log ? fwd_t<double, double, true>(x, y, rows, c, st, op)
        : fwd_t<double, double, false>(x, y, rows, c, st, op);
  AX_LAUNCH_CHECK(op, "softmax forward kernel launch");
}

void softmax_backward_launch(DType dt, bool log, const void* y, const void* dy, void* dx,
                             index_t rows, index_t cols, cudaStream_t st, const char* op) {
  check_args(dt, rows, cols, op);
  if (rows == 0 || cols == 0) return;
  AX_CHECK(y && dy && dx, op, ": null device pointer");
  const int c = static_cast<int>(cols);
  if (dt == DType::f32)
    log ? bwd_t<float, float, true>(y, dy, dx, rows, c, st, op)
        : bwd_t<float, float, false>(y, dy, dx, rows, c, st, op);
  else
    log ? bwd_t<double, double, true>(y, dy, dx, rows, c, st, op)
        : bwd_t<double, double, false>(y, dy, dx, rows, c, st, op);
  AX_LAUNCH_CHECK(op, "softmax backward kernel launch");
}

}  // namespace cuda
}  // namespace axonal
