// xent.cu: the cross-entropy kernels of xent.cuh (class-index targets, after the log-softmax
// kernel): the loss of all rows and its reduction in one block, the gradient in one grid-stride
// pass. Together with log-softmax they replace ~25 CuPy launches per training step.
#include "cuda/xent.cuh"

#include "cuda/block_reduce.cuh"

namespace axonal {
namespace cuda {

namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void __launch_bounds__(kThreads)
    xent_fwd_kernel(const XentArgs<T> a, T* __restrict__ loss, double* __restrict__ aux) {
  __shared__ double sm[kThreads / 32];
  double sl = 0.0, sw = 0.0, ws = 0.0;
  for (index_t i = threadIdx.x; i < a.R; i += kThreads) {
    T l, wt;
    xent_row(a, i, l, wt);
    if (a.reduction == 0) loss[i] = l;
    sl += double(l);
    sw += double(wt);
  }
  for (index_t j = threadIdx.x; j < a.C; j += kThreads) ws += a.weight ? double(a.weight[j]) : 1.0;
  sl = block_reduce<kThreads, true>(sl, sm);
  sw = block_reduce<kThreads, true>(sw, sm);
  ws = block_reduce<kThreads, true>(ws, sm);
  if (threadIdx.x == 0) {
    if (a.reduction != 0) loss[0] = T(a.reduction == 1 ? sl / sw : sl);
    aux[0] = sw;
    aux[1] = ws;
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    xent_bwd_kernel(const XentArgs<T> a, const T* __restrict__ g, const double* __restrict__ aux,
                    T* __restrict__ dx) {
  const index_t n = a.R * a.C, step = index_t(gridDim.x) * kThreads;
  for (index_t e = index_t(blockIdx.x) * kThreads + threadIdx.x; e < n; e += step)
    dx[e] = xent_grad(a, e, g, aux);
}

template <typename T>
XentArgs<T> args_of(const void* logp, const std::int64_t* target, const void* weight,
                    std::int64_t ignore, double eps, int reduction, index_t R, index_t C) {
  XentArgs<T> a;
  a.logp = static_cast<const T*>(logp);
  a.target = target;
  a.weight = static_cast<const T*>(weight);
  a.ignore = ignore;
  a.eps = T(eps);
  a.one_minus_eps = T(1.0 - eps);
  a.eps_over_c = T(C > 0 ? eps / double(C) : 0.0);
  a.reduction = reduction;
  a.R = R;
  a.C = C;
  return a;
}

void check(DType dt, int reduction, index_t R, index_t C, const char* op) {
  AX_CHECK(dt == DType::f32 || dt == DType::f64, op, ": float32 or float64 only, got ",
           dtype_name(dt));
  AX_CHECK(reduction >= 0 && reduction <= 2, op, ": reduction code must be 0, 1 or 2, got ",
           reduction);
  AX_CHECK(R >= 0 && C > 0, op, ": need rows >= 0 and classes > 0, got ", R, " x ", C);
}

}  // namespace

void xent_forward_launch(DType dt, const void* logp, const std::int64_t* target, const void* weight,
                         std::int64_t ignore, double eps, int reduction, index_t R, index_t C,
                         void* loss, double* aux, cudaStream_t st, const char* op) {
  check(dt, reduction, R, C, op);
  if (dt == DType::f32)
    xent_fwd_kernel<float>
        <<<1, kThreads, 0, st>>>(args_of<float>(logp, target, weight, ignore, eps, reduction, R, C),
                                 static_cast<float*>(loss), aux);
  else
    xent_fwd_kernel<double><<<1, kThreads, 0, st>>>(
        args_of<double>(logp, target, weight, ignore, eps, reduction, R, C),
        static_cast<double*>(loss), aux);
  AX_LAUNCH_CHECK(op, "cross-entropy forward kernel launch");
}

void xent_backward_launch(DType dt, const void* logp, const std::int64_t* target,
                          const void* weight, std::int64_t ignore, double eps, int reduction,
                          index_t R, index_t C, const void* g, const double* aux, void* dx,
                          cudaStream_t st, const char* op) {
  check(dt, reduction, R, C, op);
  if (R == 0) return;
  const unsigned blocks = grid_for(R * C, kThreads);
  if (dt == DType::f32)
    xent_bwd_kernel<float><<<blocks, kThreads, 0, st>>>(
        args_of<float>(logp, target, weight, ignore, eps, reduction, R, C),
        static_cast<const float*>(g), aux, static_cast<float*>(dx));
  else
    xent_bwd_kernel<double><<<blocks, kThreads, 0, st>>>(
        args_of<double>(logp, target, weight, ignore, eps, reduction, R, C),
        static_cast<const double*>(g), aux, static_cast<double*>(dx));
  AX_LAUNCH_CHECK(op, "cross-entropy backward kernel launch");
}

namespace {

template <typename T>
void emulate_t(bool backward, const XentArgs<T>& a, const void* g, double* aux, void* out) {
  if (backward) {
    for (index_t e = 0; e < a.R * a.C; ++e)
      static_cast<T*>(out)[e] = xent_grad(a, e, static_cast<const T*>(g), aux);
    return;
  }
  double sl = 0.0, sw = 0.0, ws = 0.0;
  for (index_t i = 0; i < a.R; ++i) {
    T l, wt;
    xent_row(a, i, l, wt);
    if (a.reduction == 0) static_cast<T*>(out)[i] = l;
    sl += double(l);
    sw += double(wt);
  }
  for (index_t j = 0; j < a.C; ++j) ws += a.weight ? double(a.weight[j]) : 1.0;
  if (a.reduction != 0) static_cast<T*>(out)[0] = T(a.reduction == 1 ? sl / sw : sl);
  aux[0] = sw;
  aux[1] = ws;
}

}  // namespace

void emulate_xent(bool backward, DType dt, const void* logp, const std::int64_t* target,
                  const void* weight, std::int64_t ignore, double eps, int reduction, index_t R,
                  index_t C, const void* g, double* aux, void* out, const char* op) {
  check(dt, reduction, R, C, op);
  if (dt == DType::f32)
    emulate_t(backward, args_of<float>(logp, target, weight, ignore, eps, reduction, R, C), g, aux,
              out);
  else
    emulate_t(backward, args_of<double>(logp, target, weight, ignore, eps, reduction, R, C), g, aux,
              out);
}

}  // namespace cuda
}  // namespace axonal
