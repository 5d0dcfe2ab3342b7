// cells.cu: the LSTM / GRU cell kernels of cells.cuh, their launcher and host emulation.
#include "cuda/cells.cuh"

namespace axonal {
namespace cuda {

namespace {

constexpr int kThreads = 256;

// Element (n, j) of pass P with the pointers of p (types as cells.cuh lists them).
template <CellPass P, typename T>
AX_HD void cell_elem(index_t n, index_t j, index_t H, void* const* p) {
  auto in = [&](int k) { return static_cast<const T*>(p[k]); };
  auto out = [&](int k) { return static_cast<T*>(p[k]); };
  if constexpr (P == CellPass::lstm_fwd)
    lstm_fwd_elem<T>(n, j, H, in(0), in(1), out(2), out(3), out(4));
  else if constexpr (P == CellPass::lstm_bwd)
    lstm_bwd_elem<T>(n, j, H, in(0), in(1), in(2), in(3), in(4), out(5), out(6));
  else if constexpr (P == CellPass::gru_fwd)
    gru_fwd_elem<T>(n, j, H, in(0), in(1), in(2), out(3), out(4));
  else
    gru_bwd_elem<T>(n, j, H, in(0), in(1), in(2), in(3), out(4), out(5), out(6));
}

struct CellPtrs {
  void* p[kCellPointers];
};

template <CellPass P, typename T>
__global__ void __launch_bounds__(kThreads) cell_kernel(index_t N, index_t H, CellPtrs ptrs) {
  const index_t total = N * H;
  for (index_t e = blockIdx.x * index_t(kThreads) + threadIdx.x; e < total;
       e += index_t(gridDim.x) * kThreads)
    cell_elem<P, T>(e / H, e % H, H, ptrs.p);
}

template <CellPass P, typename T>
void launch_pass(index_t N, index_t H, void* const* p, cudaStream_t st) {
  CellPtrs ptrs{};
  for (int k = 0; k < kCellPointers; ++k) ptrs.p[k] = p[k];
  cell_kernel<P, T><<<grid_for(N * H, kThreads), kThreads, 0, st>>>(N, H, ptrs);
}

template <CellPass P, typename T>
void emulate_pass(index_t N, index_t H, void* const* p) {
  for (index_t n = 0; n < N; ++n)
    for (index_t j = 0; j < H; ++j) cell_elem<P, T>(n, j, H, p);
}

// Runs F<P, T>(N, H, p, extra...) for the run-time pass and dtype.
template <template <CellPass, typename> class F, typename... A>
void dispatch(CellPass pass, DType dt, A&&... a) {
  auto go = [&](auto tag) {
    using T = decltype(tag);
    switch (pass) {
      case CellPass::lstm_fwd:
        return F<CellPass::lstm_fwd, T>::run(a...);
      case CellPass::lstm_bwd:
        return F<CellPass::lstm_bwd, T>::run(a...);
      case CellPass::gru_fwd:
        return F<CellPass::gru_fwd, T>::run(a...);
      default:
        return F<CellPass::gru_bwd, T>::run(a...);
    }
  };
  if (dt == DType::f32)
    go(float{});
  else
    go(double{});
}

template <CellPass P, typename T>
struct Launch {
  static void run(index_t N, index_t H, void* const* p, cudaStream_t st) {
    launch_pass<P, T>(N, H, p, st);
  }
};
template <CellPass P, typename T>
struct Emulate {
  static void run(index_t N, index_t H, void* const* p) { emulate_pass<P, T>(N, H, p); }
};

}  // namespace

int rnn_cell_check(CellPass pass, DType dt, index_t N, index_t H, void* const* p, const char* op) {
  AX_CHECK(static_cast<int>(pass) >= 0 && static_cast<int>(pass) <= 3, op, ": unknown cell pass ",
           static_cast<int>(pass));
  AX_CHECK(dt == DType::f32 || dt == DType::f64, op, ": float32 or float64 only, got ",
           dtype_name(dt));
  AX_CHECK(N >= 0 && H >= 0, op, ": negative size (N ", N, ", H ", H, ")");
  const int count = pass == CellPass::lstm_fwd || pass == CellPass::gru_fwd ? 5 : 7;
  if (N > 0 && H > 0)
    for (int k = 0; k < count; ++k)
      AX_CHECK(p[k] != nullptr, op, ": null pointer (argument ", k, ")");
  return count;
}

void rnn_cell_launch(CellPass pass, DType dt, index_t N, index_t H, void* const* p, cudaStream_t st,
                     const char* op) {
  rnn_cell_check(pass, dt, N, H, p, op);
  if (N == 0 || H == 0) return;
  dispatch<Launch>(pass, dt, N, H, p, st);
  AX_LAUNCH_CHECK(op, "rnn cell kernel launch");
}

void rnn_cell_emulate(CellPass pass, DType dt, index_t N, index_t H, void* const* p,
                      const char* op) {
  rnn_cell_check(pass, dt, N, H, p, op);
  if (N == 0 || H == 0) return;
  dispatch<Emulate>(pass, dt, N, H, p);
}

}  // namespace cuda
}  // namespace axonal
