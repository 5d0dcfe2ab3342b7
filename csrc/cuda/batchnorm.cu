// batchnorm.cu: batch norm in training mode, forward and backward, one block per channel: the
// channel's N x L values are read two or three times by the same block (the later passes mostly
// from L2), with block reductions in double in between. Replaces ~15 elementwise and reduction
// launches per layer and step (a small CNN's training step is launch-bound on a GPU).
#include "cuda/batchnorm.cuh"

#include "cuda/block_reduce.cuh"

namespace axonal {
namespace cuda {

namespace {

constexpr int kThreads = 512;

// Element j (0 <= j < N L) of channel c: x[(j / L) C L + c L + j % L], in index type I.
template <typename I>
__device__ __forceinline__ I at(I j, I c, I C, I L) {
  const I n = j / L;
  return (n * C + c) * L + (j - n * L);
}

template <typename T, typename I>
__global__ void __launch_bounds__(kThreads)
    bn_fwd_kernel(I N, I C, I L, const T* __restrict__ x, const T* __restrict__ w,
                  const T* __restrict__ b, double eps, T* __restrict__ y, T* __restrict__ mean_out,
                  T* __restrict__ var_out, T* __restrict__ invstd_out, T* __restrict__ rmean,
                  T* __restrict__ rvar, double momentum) {
  __shared__ double sm[kThreads / 32];
  const I c = blockIdx.x, m = N * L;
  double s = 0.0;
  for (I j = threadIdx.x; j < m; j += kThreads) s += double(x[at(j, c, C, L)]);
  const double mean = block_reduce<kThreads, true>(s, sm) / double(m);
  double q = 0.0;
  for (I j = threadIdx.x; j < m; j += kThreads) {
    const double d = double(x[at(j, c, C, L)]) - mean;
    q += d * d;
  }
  const double var = block_reduce<kThreads, true>(q, sm) / double(m);
  const double invstd = 1.0 / sqrt(var + eps);
  const double scale = w ? double(w[c]) * invstd : invstd;
  const double shift = (b ? double(b[c]) : 0.0) - mean * scale;
  for (I j = threadIdx.x; j < m; j += kThreads) {
    const I k = at(j, c, C, L);
    y[k] = T(double(x[k]) * scale + shift);
  }
  if (threadIdx.x == 0) {
    mean_out[c] = T(mean);
    var_out[c] = T(var);
    invstd_out[c] = T(invstd);
    if (rmean) rmean[c] = T((1.0 - momentum) * double(rmean[c]) + momentum * mean);
    if (rvar && m > 1)
      rvar[c] = T((1.0 - momentum) * double(rvar[c]) + momentum * var * double(m) / double(m - 1));
  }
}

template <typename T, typename I>
__global__ void __launch_bounds__(kThreads)
    bn_bwd_kernel(I N, I C, I L, const T* __restrict__ x, const T* __restrict__ g,
                  const T* __restrict__ mean_in, const T* __restrict__ invstd_in,
                  const T* __restrict__ w, T* __restrict__ gx, T* __restrict__ sgx_out,
                  T* __restrict__ sg_out) {
  __shared__ double sm[kThreads / 32];
  const I c = blockIdx.x, m = N * L;
  const double mean = double(mean_in[c]), invstd = double(invstd_in[c]);
  double s = 0.0, sx = 0.0;
  for (I j = threadIdx.x; j < m; j += kThreads) {
    const I k = at(j, c, C, L);
    const double gv = double(g[k]);
    s += gv;
    sx += gv * (double(x[k]) - mean) * invstd;
  }
  const double sg = block_reduce<kThreads, true>(s, sm), sgx = block_reduce<kThreads, true>(sx, sm);
  if (threadIdx.x == 0) {
    sg_out[c] = T(sg);
    sgx_out[c] = T(sgx);
  }
  if (!gx) return;
  const double scale = w ? double(w[c]) * invstd : invstd;
  const double a = sg / double(m), bb = sgx / double(m);
  for (I j = threadIdx.x; j < m; j += kThreads) {
    const I k = at(j, c, C, L);
    const double xhat = (double(x[k]) - mean) * invstd;
    gx[k] = T((double(g[k]) - a - xhat * bb) * scale);
  }
}

void check(DType dt, index_t N, index_t C, index_t L, const char* op) {
  AX_CHECK(dt == DType::f32 || dt == DType::f64, op, ": dtype must be float32 or float64, got ",
           dtype_name(dt));
  AX_CHECK(N >= 0 && C >= 0 && L >= 0, op, ": negative size (", N, ", ", C, ", ", L, ")");
  AX_CHECK(C <= kMaxGridX, op, ": ", C, " channels are more than a grid holds");
  AX_CHECK(N == 0 || L == 0 || N <= (index_t(1) << 62) / L / (C > 0 ? C : 1), op,
           ": sizes too large");
}

// Calls f(T(), I()): the element type of dt, and int as the index type where every index fits
// (N C L plus a stride's worth of slack below 2^31), else int64.
template <class F>
void with_types(DType dt, index_t N, index_t C, index_t L, F&& f) {
  const bool small = double(N) * double(C) * double(L) + double(L) * 1024.0 < 2.0e9;
  if (dt == DType::f32)
    small ? f(float(), int()) : f(float(), index_t());
  else
    small ? f(double(), int()) : f(double(), index_t());
}

}  // namespace

void batch_norm_forward_launch(DType dt, index_t N, index_t C, index_t L, const void* x,
                               const void* w, const void* b, double eps, void* y, void* mean,
                               void* var, void* invstd, void* running_mean, void* running_var,
                               double momentum, cudaStream_t st, const char* op) {
  check(dt, N, C, L, op);
  AX_CHECK(N * L > 0, op, ": no values per channel");
  if (C == 0) return;
  AX_CHECK(x && y && mean && var && invstd, op, ": null device pointer");
  with_types(dt, N, C, L, [&](auto tag, auto itag) {
    using T = decltype(tag);
    using I = decltype(itag);
    bn_fwd_kernel<T, I><<<static_cast<unsigned>(C), kThreads, 0, st>>>(
        I(N), I(C), I(L), static_cast<const T*>(x), static_cast<const T*>(w),
        static_cast<const T*>(b), eps, static_cast<T*>(y), static_cast<T*>(mean),
        static_cast<T*>(var), static_cast<T*>(invstd), static_cast<T*>(running_mean),
        static_cast<T*>(running_var), momentum);
  });
  AX_LAUNCH_CHECK(op, "batch_norm forward kernel launch");
}

void batch_norm_backward_launch(DType dt, index_t N, index_t C, index_t L, const void* x,
                                const void* g, const void* mean, const void* invstd, const void* w,
                                void* gx, void* sgx, void* sg, cudaStream_t st, const char* op) {
  check(dt, N, C, L, op);
  AX_CHECK(N * L > 0, op, ": no values per channel");
  if (C == 0) return;
  AX_CHECK(x && g && mean && invstd && sgx && sg, op, ": null device pointer");
  with_types(dt, N, C, L, [&](auto tag, auto itag) {
    using T = decltype(tag);
    using I = decltype(itag);
    bn_bwd_kernel<T, I><<<static_cast<unsigned>(C), kThreads, 0, st>>>(
        I(N), I(C), I(L), static_cast<const T*>(x), static_cast<const T*>(g),
        static_cast<const T*>(mean), static_cast<const T*>(invstd), static_cast<const T*>(w),
        static_cast<T*>(gx), static_cast<T*>(sgx), static_cast<T*>(sg));
  });
  AX_LAUNCH_CHECK(op, "batch_norm backward kernel launch");
}

}  // namespace cuda
}  // namespace axonal
