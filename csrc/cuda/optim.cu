// optim.cu: the fused Adam / AdamW update (optim.cuh): one kernel instead of ~14 elementwise
// launches per parameter. Compiled without FMA contraction (CMakeLists.txt): with IEEE sqrt and
// division (nvcc's defaults) every element equals the CPU's fused update bit for bit.
#include "cuda/optim.cuh"

#include <algorithm>

namespace axonal {
namespace cuda {

namespace {

constexpr int kThreads = 256;

template <typename T>
struct AdamArgs {
  T w, one_minus_w, beta2, c2, eps, step_size, bc2, wd, shrink;
  bool low_weight, maximize, decay;
};

// Element i of one tensor; step_size and bc2 are the tensor's own (its step count).
template <typename T>
__device__ __forceinline__ void adam_elem(index_t i, T* __restrict__ p, const T* __restrict__ g,
                                          T* __restrict__ m, T* __restrict__ v,
                                          T* __restrict__ vmax, const AdamArgs<T>& a, T step_size,
                                          T bc2) {
  {
    const T pi = p[i] * a.shrink;
    T gi = a.maximize ? -g[i] : g[i];
    if (a.decay) gi = gi + pi * a.wd;
    const T diff = gi - m[i];
    // torch's lerp: start + (end - start) * w for |w| < 0.5, else end - (end - start) * (1 - w)
    const T mi = a.low_weight ? m[i] + diff * a.w : gi - diff * a.one_minus_w;
    const T vi = v[i] * a.beta2 + gi * a.c2 * gi;
    m[i] = mi;
    v[i] = vi;
    T u = vi;
    if (vmax != nullptr) {
      u = (vmax[i] < vi || vi != vi) ? vi : vmax[i];  // as the CPU: a NaN on either side wins
      vmax[i] = u;
    }
    p[i] = pi - mi / (sqrt(u) / bc2 + a.eps) * step_size;
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    adam_kernel(index_t n, T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m,
                T* __restrict__ v, T* __restrict__ vmax, const AdamArgs<T> a) {
  for (index_t i = blockIdx.x * index_t(blockDim.x) + threadIdx.x; i < n;
       i += index_t(gridDim.x) * blockDim.x)
    adam_elem(i, p, g, m, v, vmax, a, a.step_size, a.bc2);
}

// Up to kMaxAdamTensors tensors in one launch, passed by value: block row y updates tensor y.
template <typename T>
struct AdamMulti {
  T* p[kMaxAdamTensors];
  const T* g[kMaxAdamTensors];
  T* m[kMaxAdamTensors];
  T* v[kMaxAdamTensors];
  T* vmax[kMaxAdamTensors];
  index_t n[kMaxAdamTensors];
  T step_size[kMaxAdamTensors], bc2[kMaxAdamTensors];
};

template <typename T>
__global__ void __launch_bounds__(kThreads)
    adam_multi_kernel(const AdamMulti<T> t, const AdamArgs<T> a) {
  const int k = blockIdx.y;
  const index_t n = t.n[k];
  for (index_t i = blockIdx.x * index_t(blockDim.x) + threadIdx.x; i < n;
       i += index_t(gridDim.x) * blockDim.x)
    adam_elem(i, t.p[k], t.g[k], t.m[k], t.v[k], t.vmax[k], a, t.step_size[k], t.bc2[k]);
}

template <typename T>
AdamArgs<T> args_of(double beta1, double beta2, double eps, double step_size, double bc2_sqrt,
                    double wd, bool maximize, double shrink) {
  const double w = 1.0 - beta1;
  AdamArgs<T> a;
  a.w = T(w);
  a.one_minus_w = T(1.0 - w);
  a.beta2 = T(beta2);
  a.c2 = T(1.0 - beta2);
  a.eps = T(eps);
  a.step_size = T(step_size);
  a.bc2 = T(bc2_sqrt);
  a.wd = T(wd);
  a.shrink = T(shrink);
  a.low_weight = w < 0.5 && w > -0.5;
  a.maximize = maximize;
  a.decay = wd != 0.0;
  return a;
}

template <typename T>
void launch(index_t n, void* p, const void* g, void* m, void* v, void* vmax, double beta1,
            double beta2, double eps, double step_size, double bc2_sqrt, double wd, bool maximize,
            double shrink, cudaStream_t st) {
  const AdamArgs<T> a = args_of<T>(beta1, beta2, eps, step_size, bc2_sqrt, wd, maximize, shrink);
  adam_kernel<T><<<grid_for(n, kThreads), kThreads, 0, st>>>(
      n, static_cast<T*>(p), static_cast<const T*>(g), static_cast<T*>(m), static_cast<T*>(v),
      static_cast<T*>(vmax), a);
}

template <typename T>
void launch_multi(const AdamTensor* ts, int count, double beta1, double beta2, double eps,
                  double wd, bool maximize, double shrink, cudaStream_t st) {
  const AdamArgs<T> a = args_of<T>(beta1, beta2, eps, 0.0, 1.0, wd, maximize, shrink);
  AdamMulti<T> t{};
  index_t most = 0;
  for (int k = 0; k < count; ++k) {
    t.p[k] = static_cast<T*>(ts[k].p);
    t.g[k] = static_cast<const T*>(ts[k].g);
    t.m[k] = static_cast<T*>(ts[k].m);
    t.v[k] = static_cast<T*>(ts[k].v);
    t.vmax[k] = static_cast<T*>(ts[k].vmax);
    t.n[k] = ts[k].n;
    t.step_size[k] = T(ts[k].step_size);
    t.bc2[k] = T(ts[k].bc2_sqrt);
    most = std::max(most, ts[k].n);
  }
  const dim3 grid(std::min<unsigned>(grid_for(most, kThreads), 1024u),
                  static_cast<unsigned>(count));
  adam_multi_kernel<T><<<grid, kThreads, 0, st>>>(t, a);
}

}  // namespace

void adam_update_launch(DType dt, index_t n, void* p, const void* g, void* m, void* v, void* vmax,
                        double beta1, double beta2, double eps, double step_size, double bc2_sqrt,
                        double wd, bool maximize, double shrink, cudaStream_t st, const char* op) {
  AX_CHECK(dt == DType::f32 || dt == DType::f64, op, ": dtype must be float32 or float64, got ",
           dtype_name(dt));
  AX_CHECK(n >= 0, op, ": negative size ", n);
  if (n == 0) return;
  AX_CHECK(p && g && m && v, op, ": null device pointer");
  if (dt == DType::f32)
    launch<float>(n, p, g, m, v, vmax, beta1, beta2, eps, step_size, bc2_sqrt, wd, maximize, shrink,
                  st);
  else
    launch<double>(n, p, g, m, v, vmax, beta1, beta2, eps, step_size, bc2_sqrt, wd, maximize,
                   shrink, st);
  AX_LAUNCH_CHECK(op, "adam update kernel launch");
}

}  // namespace cuda
}  // namespace axonal

namespace axonal {
namespace cuda {

void adam_update_multi_launch(DType dt, const AdamTensor* tensors, int count, double beta1,
                              double beta2, double eps, double wd, bool maximize, double shrink,
                              cudaStream_t st, const char* op) {
  AX_CHECK(dt == DType::f32 || dt == DType::f64, op, ": dtype must be float32 or float64, got ",
           dtype_name(dt));
  AX_CHECK(count >= 0 && count <= kMaxAdamTensors, op, ": 0 .. ", kMaxAdamTensors,
           " tensors per launch, got ", count);
  for (int k = 0; k < count; ++k) {
    AX_CHECK(tensors[k].n >= 0, op, ": negative size ", tensors[k].n);
    AX_CHECK(tensors[k].n == 0 || (tensors[k].p && tensors[k].g && tensors[k].m && tensors[k].v),
             op, ": null device pointer");
  }
  if (count == 0) return;
  if (dt == DType::f32)
    launch_multi<float>(tensors, count, beta1, beta2, eps, wd, maximize, shrink, st);
  else
    launch_multi<double>(tensors, count, beta1, beta2, eps, wd, maximize, shrink, st);
  AX_LAUNCH_CHECK(op, "multi-tensor adam update kernel launch");
}

}  // namespace cuda
}  // namespace axonal
