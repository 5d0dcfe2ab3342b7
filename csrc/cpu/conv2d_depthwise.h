// conv2d_depthwise.h: internal entry points of the SIMD kernels of the direct (one input channel
// per group) conv2d; conv2d.cpp prepares the source buffers and calls them (see
// conv2d_depthwise_kernels.h for the tap formulation).
//   _avx2: 256-bit vectors (conv2d_depthwise_avx2.cpp; AVX2/FMA CPUs only; both SIMD paths)
#pragma once
#include "cpu/conv2d.h"

namespace axonal {

// y[m ldy + q] = bias + sum_{t < ntaps} wt[t] src[m step + off[t] + q]     m < rows, q < Q
// src: the source block, read at src[m step + off[t] + [0, max(Q, 16))] (the caller's slack);
// y: (rows, Q) with row stride ldy. Nothing outside those rows' [0, Q) is written.
template <typename T>
void conv_dw_forward_avx2(index_t ntaps, const T* wt, const index_t* off, const T* src,
                          index_t step, index_t rows, index_t Q, T bias, T* y, index_t ldy);

// The same for a dense R x S kernel read with vertical stride 1 and dilation 1 (R <= 5):
// y[m ldy + q] = bias + sum_{r, s} w[r S + s] src[(m + r) ld + co[s] + q].
template <typename T>
void conv_dw_forward_grid_avx2(index_t R, index_t S, const T* w, const index_t* co, const T* src,
                               index_t ld, index_t rows, index_t Q, T bias, T* y, index_t ldy);

// The same for a dense R x S kernel read with vertical stride 1 and dilation 1 (R <= 5):
// acc[r S + s] += sum_{m < rows, q < Q} dy[m lddy + q] src[(m + r) ld + co[s] + q]
template <typename T>
void conv_dw_backward_weight_grid_avx2(index_t R, index_t S, const index_t* co, const T* src,
                                       index_t ld, index_t rows, index_t Q, const T* dy,
                                       index_t lddy, T* acc);

// acc[t] += sum_{m < rows, q < Q} dy[m lddy + q] src[m step + off[t] + q]      t < ntaps
// (reads nothing past column Q of either operand)
template <typename T>
void conv_dw_backward_weight_avx2(index_t ntaps, const index_t* off, const T* src, index_t step,
                                  index_t rows, index_t Q, const T* dy, index_t lddy, T* acc);

// dst[i][f][u] (rows of sw wd) = row ih0 + i of src (hin x win) padded by `pad` zero columns on
// the left (zeros past its end, zero rows outside [0, hin)), column f + u sw; i < nrows, f < sw,
// u < wd. Writes up to 16 elements past dst + nrows sw wd (the caller's slack).
template <typename T>
void conv_dw_copy_rows_avx2(const T* src, index_t hin, index_t win, index_t ih0, index_t nrows,
                            index_t pad, index_t sw, index_t wd, T* dst);

// dst[2 u] = even[u], dst[2 u + 1] = odd[u] for positions < n; reads up to 16 elements past
// even + n / 2 and odd + n / 2.
template <typename T>
void conv_dw_interleave2_avx2(const T* even, const T* odd, index_t n, T* dst);

}  // namespace axonal
