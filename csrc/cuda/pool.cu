// pool.cu: pooling kernels: grid-stride loops over the per-element functions of pool_elems.cuh,
// in 32-bit index arithmetic wherever the sizes allow it (pool_fits_int32).
#include "cuda/pool.cuh"

#include <type_traits>

namespace axonal {
namespace cuda {

namespace {

constexpr int kThreads = 256;

// Grid-stride loops in index type I (int where pool_fits_int32 holds, else int64): o / i run
// below n < 2^30 and the stride below 2^29 (grid_for caps the blocks), so o + stride fits.
template <typename T, typename I, int KH, int KW>
__global__ void __launch_bounds__(kThreads)
    max_fwd_kernel(const PoolGeomT<I> g, const T* __restrict__ x, T* __restrict__ y,
                   std::int64_t* __restrict__ idx, I n) {
  for (I o = blockIdx.x * I(blockDim.x) + threadIdx.x; o < n; o += I(gridDim.x) * blockDim.x)
    max_pool_fwd_one<T, I, KH, KW>(g, x, y, idx, o);
}

// dy, idx: (planes, PQ) -> dx: (planes, HW), dx zeroed beforehand
template <typename T, typename I>
__global__ void __launch_bounds__(kThreads)
    max_bwd_kernel(const T* __restrict__ dy, const std::int64_t* __restrict__ idx,
                   T* __restrict__ dx, I PQ, I HW, I n) {
  for (I o = blockIdx.x * I(blockDim.x) + threadIdx.x; o < n; o += I(gridDim.x) * blockDim.x) {
    const std::int64_t j = idx[o];
    if (j >= 0 && j < HW) atomicAdd(dx + (o / PQ) * HW + I(j), dy[o]);
  }
}

template <typename T, typename I>
__global__ void __launch_bounds__(kThreads)
    avg_fwd_kernel(const PoolGeomT<I> g, const T* __restrict__ x, T* __restrict__ y, I n) {
  for (I o = blockIdx.x * I(blockDim.x) + threadIdx.x; o < n; o += I(gridDim.x) * blockDim.x)
    avg_pool_fwd_one(g, x, y, o);
}

template <typename T, typename I>
__global__ void __launch_bounds__(kThreads)
    avg_bwd_kernel(const PoolGeomT<I> g, const T* __restrict__ dy, T* __restrict__ dx, I n) {
  for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < n; i += I(gridDim.x) * blockDim.x)
    avg_pool_bwd_one(g, dy, dx, i);
}

template <typename T, typename I>
__global__ void __launch_bounds__(kThreads)
    adaptive_fwd_kernel(const PoolGeomT<I> g, const T* __restrict__ x, T* __restrict__ y, I n) {
  for (I o = blockIdx.x * I(blockDim.x) + threadIdx.x; o < n; o += I(gridDim.x) * blockDim.x)
    adaptive_avg_fwd_one(g, x, y, o);
}

template <typename T, typename I>
__global__ void __launch_bounds__(kThreads)
    adaptive_bwd_kernel(const PoolGeomT<I> g, const T* __restrict__ dy, T* __restrict__ dx, I n) {
  for (I i = blockIdx.x * I(blockDim.x) + threadIdx.x; i < n; i += I(gridDim.x) * blockDim.x)
    adaptive_avg_bwd_one(g, dy, dx, i);
}

// Calls f(geometry, T tag) with the geometry in int where it fits, else in int64, and the
// element type of dt.
template <class F>
void dispatch(const PoolGeom& g, DType dt, F&& f) {
  auto by_type = [&](const auto& gi) {
    if (dt == DType::f32)
      f(gi, float());
    else
      f(gi, double());
  };
  if (pool_fits_int32(g))
    by_type(pool_geom_as<int>(g));
  else
    by_type(g);
}

void check_dtype(DType dt, const char* op) {
  AX_CHECK(dt == DType::f32 || dt == DType::f64, op, ": dtype must be float32 or float64, got ",
           dtype_name(dt));
}

index_t outputs(const PoolGeom& g) { return g.N * g.C * g.P * g.Q; }
index_t inputs(const PoolGeom& g) { return g.N * g.C * g.H * g.W; }

}  // namespace

void check_pool_geom(const PoolGeom& g, const char* op) {
  AX_CHECK(g.N >= 0 && g.C >= 0 && g.H >= 0 && g.W >= 0 && g.P >= 0 && g.Q >= 0, op,
           ": negative size");
  AX_CHECK(g.kh > 0 && g.kw > 0 && g.sh > 0 && g.sw > 0 && g.dh > 0 && g.dw > 0, op,
           ": kernel size, stride and dilation must be positive");
  AX_CHECK(g.ph >= 0 && g.pw >= 0 && g.divisor >= 0, op, ": negative padding or divisor");
  const double lim = 1.0e18;  // products must stay well inside int64
  const double planes = double(g.N) * double(g.C);
  AX_CHECK(planes * double(g.H) * double(g.W) < lim && planes * double(g.P) * double(g.Q) < lim &&
               double(g.P) * double(g.H) < lim && double(g.Q) * double(g.W) < lim &&
               double(g.kh) * double(g.dh) < lim && double(g.kw) * double(g.dw) < lim &&
               double(g.P) * double(g.sh) < lim && double(g.Q) * double(g.sw) < lim,
           op, ": sizes too large");
}

void max_pool2d_forward_launch(const PoolGeom& g, DType dt, const void* x, void* y,
                               std::int64_t* idx, cudaStream_t st, const char* op) {
  check_dtype(dt, op);
  check_pool_geom(g, op);
  const index_t n = outputs(g);
  if (n == 0) return;
  AX_CHECK(g.H > 0 && g.W > 0, op, ": empty input plane");
  AX_CHECK(x && y && idx, op, ": null device pointer");
  dispatch(g, dt, [&](const auto& gi, auto tag) {
    using T = decltype(tag);
    using I = std::decay_t<decltype(gi.N)>;
    const unsigned blocks = grid_for(n, kThreads);
    const T* xt = static_cast<const T*>(x);
    T* yt = static_cast<T*>(y);
    if (g.kh == 2 && g.kw == 2)  // the common windows with compile-time loops
      max_fwd_kernel<T, I, 2, 2><<<blocks, kThreads, 0, st>>>(gi, xt, yt, idx, I(n));
    else if (g.kh == 3 && g.kw == 3)
      max_fwd_kernel<T, I, 3, 3><<<blocks, kThreads, 0, st>>>(gi, xt, yt, idx, I(n));
    else
      max_fwd_kernel<T, I, 0, 0><<<blocks, kThreads, 0, st>>>(gi, xt, yt, idx, I(n));
  });
  AX_LAUNCH_CHECK(op, "max_pool2d forward kernel launch");
}

void max_pool2d_backward_launch(const PoolGeom& g, DType dt, const void* dy,
                                const std::int64_t* idx, void* dx, cudaStream_t st,
                                const char* op) {
  check_dtype(dt, op);
  check_pool_geom(g, op);
  const index_t nin = inputs(g), n = outputs(g);
  if (nin == 0) return;
  AX_CHECK(dx, op, ": null device pointer");
  AX_CUDA_CHECK(op, cudaMemsetAsync(dx, 0, static_cast<size_t>(nin) * dtype_size(dt), st));
  if (n == 0) return;
  AX_CHECK(dy && idx, op, ": null device pointer");
  dispatch(g, dt, [&](const auto& gi, auto tag) {
    using T = decltype(tag);
    using I = std::decay_t<decltype(gi.N)>;
    max_bwd_kernel<T, I><<<grid_for(n, kThreads), kThreads, 0, st>>>(
        static_cast<const T*>(dy), idx, static_cast<T*>(dx), gi.P * gi.Q, gi.H * gi.W, I(n));
  });
  AX_LAUNCH_CHECK(op, "max_pool2d backward kernel launch");
}

void avg_pool2d_forward_launch(const PoolGeom& g, DType dt, const void* x, void* y, cudaStream_t st,
                               const char* op) {
  check_dtype(dt, op);
  check_pool_geom(g, op);
  const index_t n = outputs(g);
  if (n == 0) return;
  AX_CHECK(x && y, op, ": null device pointer");
  dispatch(g, dt, [&](const auto& gi, auto tag) {
    using T = decltype(tag);
    using I = std::decay_t<decltype(gi.N)>;
    avg_fwd_kernel<T, I><<<grid_for(n, kThreads), kThreads, 0, st>>>(gi, static_cast<const T*>(x),
                                                                     static_cast<T*>(y), I(n));
  });
  AX_LAUNCH_CHECK(op, "avg_pool2d forward kernel launch");
}

void avg_pool2d_backward_launch(const PoolGeom& g, DType dt, const void* dy, void* dx,
                                cudaStream_t st, const char* op) {
  check_dtype(dt, op);
  check_pool_geom(g, op);
  const index_t n = inputs(g);
  if (n == 0) return;
  AX_CHECK(dx && (outputs(g) == 0 || dy), op, ": null device pointer");
  dispatch(g, dt, [&](const auto& gi, auto tag) {
    using T = decltype(tag);
    using I = std::decay_t<decltype(gi.N)>;
    avg_bwd_kernel<T, I><<<grid_for(n, kThreads), kThreads, 0, st>>>(gi, static_cast<const T*>(dy),
                                                                     static_cast<T*>(dx), I(n));
  });
  AX_LAUNCH_CHECK(op, "avg_pool2d backward kernel launch");
}

void adaptive_avg_pool2d_forward_launch(const PoolGeom& g, DType dt, const void* x, void* y,
                                        cudaStream_t st, const char* op) {
  check_dtype(dt, op);
  check_pool_geom(g, op);
  const index_t n = outputs(g);
  if (n == 0) return;
  AX_CHECK(g.H > 0 && g.W > 0, op, ": empty input plane");
  AX_CHECK(x && y, op, ": null device pointer");
  dispatch(g, dt, [&](const auto& gi, auto tag) {
    using T = decltype(tag);
    using I = std::decay_t<decltype(gi.N)>;
    adaptive_fwd_kernel<T, I><<<grid_for(n, kThreads), kThreads, 0, st>>>(
        gi, static_cast<const T*>(x), static_cast<T*>(y), I(n));
  });
  AX_LAUNCH_CHECK(op, "adaptive_avg_pool2d forward kernel launch");
}

void adaptive_avg_pool2d_backward_launch(const PoolGeom& g, DType dt, const void* dy, void* dx,
                                         cudaStream_t st, const char* op) {
  check_dtype(dt, op);
  check_pool_geom(g, op);
  const index_t n = inputs(g);
  if (n == 0) return;
  AX_CHECK(g.P > 0 && g.Q > 0, op, ": empty output size");
  AX_CHECK(dx && dy, op, ": null device pointer");
  dispatch(g, dt, [&](const auto& gi, auto tag) {
    using T = decltype(tag);
    using I = std::decay_t<decltype(gi.N)>;
    adaptive_bwd_kernel<T, I><<<grid_for(n, kThreads), kThreads, 0, st>>>(
        gi, static_cast<const T*>(dy), static_cast<T*>(dx), I(n));
  });
  AX_LAUNCH_CHECK(op, "adaptive_avg_pool2d backward kernel launch");
}

}  // namespace cuda
}  // namespace axonal
