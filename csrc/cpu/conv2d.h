// conv2d.h: 2-D convolution (cross-correlation, as in PyTorch), NCHW, float32 / float64.
//   x: (N, C, H, W), w: (K, C/groups, R, S), b: (K,) or null -> y: (N, K, P, Q)
//   P = (H + 2 pad_h - dil_h (R - 1) - 1) / stride_h + 1   (Q likewise)
// Forward, backward-input and backward-weight/bias. Every buffer is dense (C-contiguous); the
// arguments are validated by the callers (bindings_conv.cpp). Algorithms (conv2d_algorithm says
// which one a call takes; chosen by the share of useful lanes in each kernel's register tiles):
//   - implicit GEMM (AVX2, conv2d_avx2.cpp): the kernels read a zero-padded copy of a block of
//     input rows where im2col would have copied it, tiles either spatially vectorised (stride 1)
//     or vectorised over output channels (any stride); backward-input is the stride-1
//     correlation of dy with the flipped, transposed kernel; backward-weight is a dot-product
//     kernel or the channel-vectorised one;
//   - im2col + GEMM (axonal::gemm) over column tiles of at most col_tile_bytes per thread
//     (portable path, strided backward-input via col2im, small channel counts); 1x1 / stride 1 /
//     no padding skips im2col entirely;
//   - a direct path for one input channel per group (depthwise), where a GEMM with a reduction of
//     R*S would be mostly overhead: AVX2 kernels (conv2d_depthwise.h) over zero-padded,
//     column-deinterleaved copies of blocks of rows, vectorised along the output columns; scalar
//     loops on the portable path.
// Threads: work items (image, group, row chunk or column tile) are split over the threads, each
// with its own workspace (and gradient accumulators); with fewer items than threads the GEMM
// itself is threaded. The workspace stays bounded (a few MiB) whatever the image size.
#pragma once
#include <cstddef>
#include <cstdint>

namespace axonal {

using index_t = std::int64_t;

struct Conv2dParams {
  index_t N = 0, C = 0, H = 0, W = 0;  // input
  index_t K = 0, R = 0, S = 0;         // weight (K, C / groups, R, S)
  index_t P = 0, Q = 0;                // output
  index_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1;
  index_t groups = 1;
};

// Output length of one spatial axis, or a value < 1 when the (dilated) kernel does not fit.
inline index_t conv_out_size(index_t in, index_t k, index_t stride, index_t pad, index_t dil) {
  const index_t span = dil * (k - 1) + 1;
  if (in + 2 * pad < span) return 0;
  return (in + 2 * pad - span) / stride + 1;
}

enum class ConvPass { forward = 0, backward_input = 1, backward_weight = 2 };

// The extra memory (bytes) one call of `pass` allocates for these parameters: the exact figure the
// kernels use to size their workspace (threads = the thread count the call runs with).
std::size_t conv2d_workspace_bytes(const Conv2dParams& p, ConvPass pass, std::size_t elem_size,
                                   int threads);
// The algorithm that call would use: "direct", "pointwise", "im2col_gemm", "implicit_spatial",
// "implicit_channel" or (backward-weight) "implicit_dot".
const char* conv2d_algorithm(const Conv2dParams& p, ConvPass pass, std::size_t elem_size,
                             int threads);

// y = conv(x, w) + b            x: (N, C, H, W), w: (K, C/g, R, S), b: (K,) or null -> y: (N, K, P,
// Q)
template <typename T>
void conv2d_forward(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y,
                    int num_threads);

// dx = conv^T(dy, w)            dy: (N, K, P, Q), w: (K, C/g, R, S) -> dx: (N, C, H, W)
template <typename T>
void conv2d_backward_input(const Conv2dParams& p, const T* dy, const T* w, T* dx, int num_threads);

// dw = sum_n dy_n (x) x_n       dy: (N, K, P, Q), x: (N, C, H, W) -> dw: (K, C/g, R, S)
template <typename T>
void conv2d_backward_weight(const Conv2dParams& p, const T* dy, const T* x, T* dw, int num_threads);

// db = sum over n, p, q of dy   dy: (N, K, L) -> db: (K,)   (L = P * Q)
template <typename T>
void conv2d_backward_bias(index_t N, index_t K, index_t L, const T* dy, T* db, int num_threads);

// ---- internal: implicit-GEMM kernels for stride 1 (conv2d_avx2.cpp; AVX2/FMA CPUs only) ----
// xp: a zero-padded block of input rows, (Cin_g, Hc, Wp); row kk = (c, r, s) of the im2col matrix
// restricted to output row p is xp + off[kk] + p * Wp (contiguous along q).
// y[k * ldy + p * Q + q] = bias[k] + sum_kk w[k, kk] * xp[off[kk] + p * Wp + q]  for p < P, q < Q
// wpacked: panels of 6 output channels, [panel][kk][6], zero rows past Kg.
template <typename T>
void conv_implicit_forward_avx2(index_t Kg, index_t crs, const T* wpacked, const index_t* off,
                                const T* xp, index_t Wp, index_t P, index_t Q, const T* bias, T* y,
                                index_t ldy);
// dw[k * crs + kk] += sum_{p < P, q < Q} dy[k * lddy + p * ldr + q] * xp[off[kk] + p * Wp + q]
// (every element read is inside [0, Q) of its row: no over-read)
template <typename T>
void conv_implicit_backward_weight_avx2(index_t Kg, index_t crs, const T* dy, index_t lddy,
                                        index_t ldr, const index_t* off, const T* xp, index_t Wp,
                                        index_t P, index_t Q, T* dw);

// Channel-vectorised variants (tiles of 6 positions x 2 vectors of output channels, no spatial
// waste). wt: [panel][kk][NR] with NR = 16 (float) or 8 (double) output channels per panel, zeros
// past Kg; dyt: [panel][j][NR], j = p * Q + q. The weight form accumulates the transposed
// gradient: dwt[panel][kk][NR] += sum_j x(kk, j) dyt[panel][j][:].
// Any stride (sh, sw): x(kk, j) = xp[off[kk] + (j / Q) sh Wp + (j % Q) sw].
template <typename T>
void conv_kvec_forward_avx2(index_t Kg, index_t crs, const T* wt, const index_t* off, const T* xp,
                            index_t Wp, index_t sh, index_t sw, index_t P, index_t Q, const T* bias,
                            T* y, index_t ldy);
// The forward form with 512-bit vectors (conv2d_avx512.cpp; AVX-512F CPUs only): wt in panels of
// NR = 32 (float) or 16 (double) output channels, tiles of up to 14 consecutive positions of one
// output row.
template <typename T>
void conv_kvec_forward_avx512(index_t Kg, index_t crs, const T* wt, const index_t* off, const T* xp,
                              index_t Wp, index_t sh, index_t sw, index_t P, index_t Q,
                              const T* bias, T* y, index_t ldy);
template <typename T>
void conv_kvec_backward_weight_avx2(index_t Kg, index_t crs, const T* dyt, const index_t* off,
                                    const T* xp, index_t Wp, index_t sh, index_t sw, index_t P,
                                    index_t Q, T* dwt);

// dst[panel][j][NR] = d[(panel NR + k) * ldd + j] (0 for k past Kg), j < L: dy transposed into
// panels of output channels for the weight form.
template <typename T>
void conv_pack_dyt_avx2(index_t Kg, index_t L, const T* d, index_t ldd, T* dst);

// dst[t] = src[2 t] for t < n (reads nothing past src[2 n - 2]).
void conv_copy_stride2_avx2(const float* src, index_t n, float* dst);
void conv_copy_stride2_avx2(const double* src, index_t n, double* dst);

}  // namespace axonal
