// optim.cpp: see optim.h. Memory-bound: five streams per element; the loop body is branch-free
// for the compiler's vectoriser (the lerp form and the optional parts are chosen outside it).
#include "cpu/optim.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#ifdef AXONAL_OPENMP
#include <omp.h>
#endif

namespace axonal {

namespace {

struct AdamScalars {
  double w, one_minus_w, beta2, c2, eps, step_size, bc2_sqrt, wd, shrink;
};

template <typename T, bool kLowWeight, bool kAms, bool kDecay, bool kNeg>
void adam_range(index_t lo, index_t hi, T* __restrict p, const T* __restrict g, T* __restrict m,
                T* __restrict v, T* __restrict vmax, const AdamScalars& s) {
  const T w = T(s.w), omw = T(s.one_minus_w), beta2 = T(s.beta2), c2 = T(s.c2), eps = T(s.eps);
  const T step_size = T(s.step_size), bc2 = T(s.bc2_sqrt), wd = T(s.wd), shrink = T(s.shrink);
  for (index_t i = lo; i < hi; ++i) {
    const T pi = p[i] * shrink;
    T gi = kNeg ? -g[i] : g[i];
    if (kDecay) gi = gi + pi * wd;
    const T diff = gi - m[i];
    // torch's lerp: start + (end - start) * w for |w| < 0.5, else end - (end - start) * (1 - w)
    const T mi = kLowWeight ? m[i] + diff * w : gi - diff * omw;
    const T vi = v[i] * beta2 + gi * c2 * gi;
    m[i] = mi;
    v[i] = vi;
    T u = vi;
    if (kAms) {
      u = (vmax[i] < vi || vi != vi) ? vi : vmax[i];  // torch.maximum: a NaN on either side wins
      vmax[i] = u;
    }
    p[i] = pi - mi / (std::sqrt(u) / bc2 + eps) * step_size;
  }
}

}  // namespace

template <typename T>
void adam_update(index_t n, T* p, const T* g, T* m, T* v, T* vmax, double beta1, double beta2,
                 double eps, double step_size, double bc2_sqrt, double wd, bool maximize,
                 double shrink, int num_threads) {
  const double w = 1.0 - beta1;
  const AdamScalars s{w, 1.0 - w, beta2, 1.0 - beta2, eps, step_size, bc2_sqrt, wd, shrink};
  const bool low = std::abs(w) < 0.5, ams = vmax != nullptr, decay = wd != 0.0;
  auto run = [&](index_t lo, index_t hi) {
    // the 16 forms of the loop, each without branches inside
    auto go = [&](auto low_c, auto ams_c, auto decay_c, auto neg_c) {
      adam_range<T, decltype(low_c)::value, decltype(ams_c)::value, decltype(decay_c)::value,
                 decltype(neg_c)::value>(lo, hi, p, g, m, v, vmax, s);
    };
    auto b = [](bool x, auto f) {
      if (x)
        f(std::true_type{});
      else
        f(std::false_type{});
    };
    b(low, [&](auto l) {
      b(ams,
        [&](auto a) { b(decay, [&](auto d) { b(maximize, [&](auto ng) { go(l, a, d, ng); }); }); });
    });
  };
  // below ~64k elements per thread the fork/join costs more than the second core saves
  const int nt = static_cast<int>(
      std::max<index_t>(1, std::min<index_t>(num_threads, n / (index_t(1) << 16))));
#ifdef AXONAL_OPENMP
  if (nt > 1) {
#pragma omp parallel num_threads(nt)
    {
      const index_t t = omp_get_thread_num(), k = omp_get_num_threads();
      // 16-element aligned cuts: no two threads write one cache line
      const index_t lo = (n * t / k) & ~index_t(15),
                    hi = t + 1 == k ? n : (n * (t + 1) / k) & ~index_t(15);
      run(lo, hi);
    }
    return;
  }
#endif
  run(0, n);
}

template void adam_update<float>(index_t, float*, const float*, float*, float*, float*, double,
                                 double, double, double, double, double, bool, double, int);
template void adam_update<double>(index_t, double*, const double*, double*, double*, double*,
                                  double, double, double, double, double, double, bool, double,
                                  int);

}  // namespace axonal
