// conv2d_depthwise_avx2.cpp: the depthwise conv2d kernels (conv2d_depthwise_kernels.h) with
// Vec256 vectors (compiled with -mavx2 -mfma; called only where simd_path() allows it).
#include <immintrin.h>

#include "cpu/conv2d_depthwise.h"
#include "cpu/conv2d_depthwise_kernels.h"
#include "cpu/simd_vec.h"

namespace axonal {

template <typename T>
void conv_dw_forward_avx2(index_t ntaps, const T* wt, const index_t* off, const T* src,
                          index_t step, index_t rows, index_t Q, T bias, T* y, index_t ldy) {
  conv_dw::forward<Vec256, T>(ntaps, wt, off, src, step, rows, Q, bias, y, ldy);
}

template <typename T>
void conv_dw_backward_weight_avx2(index_t ntaps, const index_t* off, const T* src, index_t step,
                                  index_t rows, index_t Q, const T* dy, index_t lddy, T* acc) {
  conv_dw::backward_weight<Vec256, T>(ntaps, off, src, step, rows, Q, dy, lddy, acc);
}

template <typename T>
void conv_dw_forward_grid_avx2(index_t R, index_t S, const T* w, const index_t* co, const T* src,
                               index_t ld, index_t rows, index_t Q, T bias, T* y, index_t ldy) {
  conv_dw::forward_grid<Vec256, T>(R, S, w, co, src, ld, rows, Q, bias, y, ldy);
}

template <typename T>
void conv_dw_backward_weight_grid_avx2(index_t R, index_t S, const index_t* co, const T* src,
                                       index_t ld, index_t rows, index_t Q, const T* dy,
                                       index_t lddy, T* acc) {
  conv_dw::backward_weight_grid<Vec256, T>(R, S, co, src, ld, rows, Q, dy, lddy, acc);
}

template <typename T>
void conv_dw_copy_rows_avx2(const T* src, index_t hin, index_t win, index_t ih0, index_t nrows,
                            index_t pad, index_t sw, index_t wd, T* dst) {
  conv_dw::copy_rows<Vec256, T>(src, hin, win, ih0, nrows, pad, sw, wd, dst);
}

template <typename T>
void conv_dw_interleave2_avx2(const T* even, const T* odd, index_t n, T* dst) {
  conv_dw::interleave2<Vec256, T>(even, odd, n, dst);
}

#define AXONAL_INSTANTIATE_DW(T)                                                                   \
  template void conv_dw_forward_avx2<T>(index_t, const T*, const index_t*, const T*, index_t,      \
                                        index_t, index_t, T, T*, index_t);                         \
  template void conv_dw_backward_weight_avx2<T>(index_t, const index_t*, const T*, index_t,        \
                                                index_t, index_t, const T*, index_t, T*);          \
  template void conv_dw_copy_rows_avx2<T>(const T*, index_t, index_t, index_t, index_t, index_t,   \
                                          index_t, index_t, T*);                                   \
  template void conv_dw_forward_grid_avx2<T>(index_t, index_t, const T*, const index_t*, const T*, \
                                             index_t, index_t, index_t, T, T*, index_t);           \
  template void conv_dw_backward_weight_grid_avx2<T>(index_t, index_t, const index_t*, const T*,   \
                                                     index_t, index_t, index_t, const T*, index_t, \
                                                     T*);                                          \
  template void conv_dw_interleave2_avx2<T>(const T*, const T*, index_t, T*);
AXONAL_INSTANTIATE_DW(float)
AXONAL_INSTANTIATE_DW(double)
#undef AXONAL_INSTANTIATE_DW

}  // namespace axonal
