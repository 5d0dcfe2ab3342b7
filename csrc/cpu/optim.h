// optim.h: fused optimizer updates (one pass over the parameter and its state per step).
#pragma once
#include "cpu/gemm.h"

namespace axonal {

// One Adam / AdamW step over n elements, in place, with PyTorch's formulas and order:
//   p *= shrink                                   (AdamW: shrink = 1 - lr * weight_decay)
//   g' = (maximize ? -g : g) + wd * p             (Adam's L2 weight decay; wd = 0 for AdamW)
//   m  = lerp(m, g', 1 - beta1)
//   v  = v * beta2 + (1 - beta2) * g' * g'
//   vmax = max(vmax, v) (amsgrad, vmax != nullptr); u = vmax or v
//   p -= step_size * m / (sqrt(u) / bc2_sqrt + eps)
// The scalars arrive in double and are rounded to T the way NumPy rounds a Python float operand
// (1 - beta1, 1 - beta2 formed in double first), so the NumPy fallback gives the same bits.
template <typename T>
void adam_update(index_t n, T* p, const T* g, T* m, T* v, T* vmax, double beta1, double beta2,
                 double eps, double step_size, double bc2_sqrt, double wd, bool maximize,
                 double shrink, int num_threads);

}  // namespace axonal
