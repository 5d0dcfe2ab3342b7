// optim.cu: the fused Adam / AdamW update (optim.cuh): one kernel instead of ~14 elementwise
// launches per parameter. Compiled without FMA contraction (CMakeLists.txt): with IEEE sqrt and
// division (nvcc's defaults) every element equals the CPU's fused update bit for bit.
#include "cuda/optim.cuh"

namespace axonal {
namespace cuda {

namespace {

constexpr int kThreads = 256;

template <typename T>
struct AdamArgs {
  T w, one_minus_w, beta2, c2, eps, step_size, bc2, wd, shrink;
  bool low_weight, maximize, decay;
};

template <typename T>
__global__ void __launch_bounds__(kThreads)
    adam_kernel(index_t n, T* __restrict__ p, const T* __restrict__ g, T* __restrict__ m,
                T* __restrict__ v, T* __restrict__ vmax, const AdamArgs<T> a) {
  for (index_t i = blockIdx.x * index_t(blockDim.x) + threadIdx.x; i < n;
       i += index_t(gridDim.x) * blockDim.x) {
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
    p[i] = pi - mi / (sqrt(u) / a.bc2 + a.eps) * a.step_size;
  }
}

template <typename T>
void launch(index_t n, void* p, const void* g, void* m, void* v, void* vmax, double beta1,
            double beta2, double eps, double step_size, double bc2_sqrt, double wd, bool maximize,
            double shrink, cudaStream_t st) {
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
  adam_kernel<T><<<grid_for(n, kThreads), kThreads, 0, st>>>(
      n, static_cast<T*>(p), static_cast<const T*>(g), static_cast<T*>(m), static_cast<T*>(v),
      static_cast<T*>(vmax), a);
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
