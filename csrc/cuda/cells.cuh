// cells.cuh: the pointwise half of one LSTM / GRU step as one kernel each way (cells.cu), the
// equations of python/axonal/ops/recurrent.py (PyTorch's gate order). Each element (row n,
// unit j) is one call of an AX_HD function below, which the kernels and the host emulator
// (rnn_cell_emulate, cells.cu) share. All arrays dense, row-major:
//   LSTM  gates (N, 4H) = [i | f | g | o] pre-activations, c (N, H)
//         forward  -> h2 = o tanh(c2), c2 = f c + i g (N, H), act (N, 4H) = activated gates
//         backward (dh, dc, act, c, c2) -> dgates (N, 4H), dc_prev (N, H)
//   GRU   gi, gh (N, 3H) = [r | z | n] input and hidden projections, h (N, H)
//         forward  -> h2 = (1 - z) n + z h (N, H), act (N, 3H) = [r | z | n] activated
//         backward (dh, act, gh, h) -> dgi, dgh (N, 3H), dh_prev (N, H)
#pragma once
#include <cuda_runtime.h>

#include <cmath>

#include "cuda/common.cuh"
#include "cuda/gemm.cuh"

namespace axonal {
namespace cuda {

AX_HD float cell_exp(float x) { return expf(x); }
AX_HD double cell_exp(double x) { return exp(x); }
AX_HD float cell_tanh(float x) { return tanhf(x); }
AX_HD double cell_tanh(double x) { return tanh(x); }
template <typename T>
AX_HD T cell_sigmoid(T x) {
  return T(1) / (T(1) + cell_exp(-x));
}

template <typename T>
AX_HD void lstm_fwd_elem(index_t n, index_t j, index_t H, const T* gates, const T* c, T* h2, T* c2,
                         T* act) {
  const T* g = gates + n * 4 * H;
  T* a = act + n * 4 * H;
  const T i = cell_sigmoid(g[j]), f = cell_sigmoid(g[H + j]), gg = cell_tanh(g[2 * H + j]),
          o = cell_sigmoid(g[3 * H + j]);
  const index_t e = n * H + j;
  const T cn = f * c[e] + i * gg;
  c2[e] = cn;
  h2[e] = o * cell_tanh(cn);
  a[j] = i;
  a[H + j] = f;
  a[2 * H + j] = gg;
  a[3 * H + j] = o;
}

template <typename T>
AX_HD void lstm_bwd_elem(index_t n, index_t j, index_t H, const T* dh, const T* dc, const T* act,
                         const T* c, const T* c2, T* dgates, T* dc_prev) {
  const T* a = act + n * 4 * H;
  T* d = dgates + n * 4 * H;
  const index_t e = n * H + j;
  const T i = a[j], f = a[H + j], gg = a[2 * H + j], o = a[3 * H + j];
  const T tc = cell_tanh(c2[e]), dhv = dh[e];
  const T dct = dc[e] + dhv * o * (T(1) - tc * tc);  // through c' and through h' = o tanh(c')
  d[j] = dct * gg * i * (T(1) - i);
  d[H + j] = dct * c[e] * f * (T(1) - f);
  d[2 * H + j] = dct * i * (T(1) - gg * gg);
  d[3 * H + j] = dhv * tc * o * (T(1) - o);
  dc_prev[e] = dct * f;
}

template <typename T>
AX_HD void gru_fwd_elem(index_t n, index_t j, index_t H, const T* gi, const T* gh, const T* h,
                        T* h2, T* act) {
  const T* x = gi + n * 3 * H;
  const T* y = gh + n * 3 * H;
  T* a = act + n * 3 * H;
  const T r = cell_sigmoid(x[j] + y[j]), z = cell_sigmoid(x[H + j] + y[H + j]);
  const T nn = cell_tanh(x[2 * H + j] + r * y[2 * H + j]);
  const index_t e = n * H + j;
  h2[e] = (T(1) - z) * nn + z * h[e];
  a[j] = r;
  a[H + j] = z;
  a[2 * H + j] = nn;
}

template <typename T>
AX_HD void gru_bwd_elem(index_t n, index_t j, index_t H, const T* dh, const T* act, const T* gh,
                        const T* h, T* dgi, T* dgh, T* dh_prev) {
  const T* a = act + n * 3 * H;
  const index_t e = n * H + j, row = n * 3 * H;
  const T r = a[j], z = a[H + j], nn = a[2 * H + j], dhv = dh[e];
  const T dn = dhv * (T(1) - z) * (T(1) - nn * nn);  // n's pre-activation
  const T dr = dn * gh[row + 2 * H + j] * r * (T(1) - r);
  const T dz = dhv * (h[e] - nn) * z * (T(1) - z);
  dgi[row + j] = dr;
  dgi[row + H + j] = dz;
  dgi[row + 2 * H + j] = dn;
  dgh[row + j] = dr;
  dgh[row + H + j] = dz;
  dgh[row + 2 * H + j] = dn * r;
  dh_prev[e] = dhv * z;
}

// Which cell pass a launch (or the emulator) runs, and its pointers in order:
//   0 LSTM forward:  gates, c, h2, c2, act
//   1 LSTM backward: dh, dc, act, c, c2, dgates, dc_prev
//   2 GRU forward:   gi, gh, h, h2, act
//   3 GRU backward:  dh, act, gh, h, dgi, dgh, dh_prev
enum class CellPass { lstm_fwd = 0, lstm_bwd = 1, gru_fwd = 2, gru_bwd = 3 };
constexpr int kCellPointers = 7;

// Runs pass `pass` over N rows of H units (float32 / float64) on the stream; p holds the
// pointers above (unused ones null).
void rnn_cell_launch(CellPass pass, DType dt, index_t N, index_t H, void* const* p,
                     cudaStream_t stream, const char* op);

// The same on host memory, element by element (the emulator).
void rnn_cell_emulate(CellPass pass, DType dt, index_t N, index_t H, void* const* p,
                      const char* op);

// How many pointers pass `pass` takes; checks N, H and the dtype (std::invalid_argument).
int rnn_cell_check(CellPass pass, DType dt, index_t N, index_t H, void* const* p, const char* op);

}  // namespace cuda
}  // namespace axonal
