// softmax.h: softmax and log-softmax along one axis, forward and backward, on the CPU.
// The array is C-contiguous and seen as (outer, D, inner): the axis has length D and its
// consecutive entries lie `inner` elements apart (inner == 1: the last axis, rows).
//   softmax:      y = exp(x - max) / sum(exp(x - max))
//   log_softmax:  y = (x - max) - log(sum(exp(x - max)))
//   backward from the output y:  softmax  dx = y * (dy - sum(dy * y))
//                                log      dx = dy - exp(y) * sum(dy)
// As in PyTorch: a NaN anywhere on a line, or a line of -inf, gives NaN on the whole line.
#pragma once
#include <cstdint>

namespace axonal {

using index_t = std::int64_t;

// x: (outer, D, inner) -> y: (outer, D, inner)
template <typename T>
void softmax_forward(index_t outer, index_t D, index_t inner, const T* x, T* y, bool log,
                     int num_threads);

// dy, y: (outer, D, inner) -> dx: (outer, D, inner)
template <typename T>
void softmax_backward(index_t outer, index_t D, index_t inner, const T* dy, const T* y, T* dx,
                      bool log, int num_threads);

// AVX2/FMA float32 kernels (softmax_avx2.cpp): lines [c0, c1) of one (D, inner) block, where a
// line is a row (inner == 1, c indexes rows of the whole array) or a column of the block.
void softmax_forward_rows_f32_avx2(index_t r0, index_t r1, index_t D, const float* x, float* y,
                                   bool log);
void softmax_forward_cols_f32_avx2(index_t D, index_t inner, index_t c0, index_t c1, const float* x,
                                   float* y, bool log);
void softmax_backward_rows_f32_avx2(index_t r0, index_t r1, index_t D, const float* dy,
                                    const float* y, float* dx, bool log);
void softmax_backward_cols_f32_avx2(index_t D, index_t inner, index_t c0, index_t c1,
                                    const float* dy, const float* y, float* dx, bool log);

}  // namespace axonal
