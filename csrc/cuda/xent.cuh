// xent.cuh: cross entropy with class-index targets after the log-softmax kernel (xent.cu), as
// phase functions (AX_HD) that the kernels and the host emulator (emulate.cu) share.
//
// logp: (R, C) dense log-probabilities; target: (R) int64; weight: (C) or null (all 1);
// a row is valid when target != ignore_index. With eps the label smoothing:
//   wt_i = valid ? w[t_i] : 0
//   l_i  = valid ? -(1 - eps) wt_i logp[i, t_i] - (eps / C) sum_j w_j logp[i, j] : 0
//   reduction 0 none: l (R); 1 mean: sum l / sum wt; 2 sum: sum l
// The forward writes the loss (l, or one value) and aux = {sum wt, sum w} (sums in double). The
// backward, given the loss gradient g (R
// values for none, one otherwise):
//   ge_i = valid ? (none ? g_i : mean ? g / aux[0] : g) : 0, coef_i = (1 - eps) wt_i,
//   rowq_i = coef_i + (eps / C) aux[1] valid,
//   dx[i, j] = exp(logp[i, j]) rowq_i ge_i - [j == t_i] coef_i ge_i - (eps / C) valid ge_i w_j
// (the operation order of the NumPy formulation in axonal.nn.functional).
#pragma once
#include <cmath>
#include <cstdint>

#include "cuda/common.cuh"
#include "cuda/gemm.cuh"

namespace axonal {
namespace cuda {

template <typename T>
struct XentArgs {
  const T* logp = nullptr;
  const std::int64_t* target = nullptr;
  const T* weight = nullptr;
  std::int64_t ignore = -100;
  T eps = T(0);
  T one_minus_eps = T(1), eps_over_c = T(0);  // 1 - eps and eps / C rounded once from double
  int reduction = 1;
  index_t R = 0, C = 0;
};

// Row i's loss term l_i and weight wt_i. An ignored row is 0 without reading its values (a -inf
// or NaN logit there must not turn into NaN, as in PyTorch).
template <typename T>
AX_HD void xent_row(const XentArgs<T>& a, index_t i, T& l, T& wt) {
  const std::int64_t t = a.target[i];
  if (t == a.ignore) {
    l = T(0);
    wt = T(0);
    return;
  }
  wt = a.weight ? a.weight[t] : T(1);
  const T* row = a.logp + i * a.C;
  l = -(a.one_minus_eps * wt) * row[t];
  if (a.eps > T(0)) {
    double smooth = 0.0;  // a row of C values: summed in double
    for (index_t j = 0; j < a.C; ++j)
      smooth += a.weight ? double(row[j]) * double(a.weight[j]) : double(row[j]);
    l = l - a.eps_over_c * T(smooth);
  }
}

// dx at flat element e = i C + j; g0: the loss gradient of row i (none) or the scalar one.
template <typename T>
AX_HD T xent_grad(const XentArgs<T>& a, index_t e, const T* g, const double* aux) {
  const index_t i = e / a.C, j = e - i * a.C;
  const std::int64_t t = a.target[i];
  const bool valid = t != a.ignore;
  const index_t ts = valid ? t : 0;
  const T wt = valid ? (a.weight ? a.weight[ts] : T(1)) : T(0);
  T ge = a.reduction == 0 ? g[i] : a.reduction == 1 ? g[0] / T(aux[0]) : g[0];
  ge = valid ? ge : T(0);
  const T coef = a.one_minus_eps * wt;
  const T c_over_n = a.eps_over_c;
  const T rowq = a.eps > T(0) ? coef + c_over_n * T(aux[1]) * T(valid ? 1 : 0) : coef;
  T v = std::exp(a.logp[e]) * (rowq * ge);
  if (j == ts) v -= coef * ge;
  if (a.eps > T(0)) v -= (c_over_n * T(valid ? 1 : 0) * ge) * (a.weight ? a.weight[j] : T(1));
  return v;
}

// Host entries (xent.cu): one block for the forward (loss: R values for none, else 1; aux: 2
// doubles), a grid-stride kernel for the backward (dx: R C). dt: f32 or f64.
void xent_forward_launch(DType dt, const void* logp, const std::int64_t* target, const void* weight,
                         std::int64_t ignore, double eps, int reduction, index_t R, index_t C,
                         void* loss, double* aux, cudaStream_t st, const char* op);
void xent_backward_launch(DType dt, const void* logp, const std::int64_t* target,
                          const void* weight, std::int64_t ignore, double eps, int reduction,
                          index_t R, index_t C, const void* g, const double* aux, void* dx,
                          cudaStream_t st, const char* op);

// The same on host memory, row by row and element by element (backward: g and aux as inputs,
// out = dx; forward: out = loss, aux written).
void emulate_xent(bool backward, DType dt, const void* logp, const std::int64_t* target,
                  const void* weight, std::int64_t ignore, double eps, int reduction, index_t R,
                  index_t C, const void* g, double* aux, void* out, const char* op);

}  // namespace cuda
}  // namespace axonal
