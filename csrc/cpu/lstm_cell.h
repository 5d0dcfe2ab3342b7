// lstm_cell.h: the pointwise part of one LSTM step (PyTorch's gate order i, f, g, o), forward and
// backward, on the CPU. The two matrix products of a step stay GEMMs; this fuses what is left.
//   forward:  act = [sigmoid(i) | sigmoid(f) | tanh(g) | sigmoid(o)] of gates (N, 4H)
//             c' = f c + i g,   h' = o tanh(c')
//   backward: from dh', dc' (dc' may be null: zero) and the saved act, c, c':
//             dc_t = dc' + dh' o (1 - tanh(c')^2)
//             dgates = [dc_t g i (1-i) | dc_t c f (1-f) | dc_t i (1-g^2) | dh' tanh(c') o (1-o)]
//             dc = dc_t f
#pragma once
#include <cstdint>

namespace axonal {

using index_t = std::int64_t;

// gates: (N, 4H), c: (N, H) -> act: (N, 4H), c2: (N, H), h2: (N, H)
template <typename T>
void lstm_cell_forward(index_t N, index_t H, const T* gates, const T* c, T* act, T* c2, T* h2,
                       int num_threads);

// dh, dc (or null), c, c2: (N, H), act: (N, 4H) -> dgates: (N, 4H), dc_prev: (N, H)
template <typename T>
void lstm_cell_backward(index_t N, index_t H, const T* dh, const T* dc, const T* act, const T* c,
                        const T* c2, T* dgates, T* dc_prev, int num_threads);

// One layer and direction over a whole sequence (steps in processing order s = 0 .. L-1, time
// t = s, or L-1-s when reverse): gates = xproj[t] + h_s wt (wt = W_hh^T, (H, 4H)), then the cell.
//   xproj: (L, N, 4H), hs: (L+1, N, H) and cs: (L+1, N, H) with hs[0], cs[0] the initial state
//   -> hs[1..L], cs[1..L], acts: (L, N, 4H)
// With lengths (N, non-increasing, each 1 .. L): row n runs its first lengths[n] steps only
// (reverse: from time lengths[n] - 1 down to 0), its state carried unchanged through the
// remaining steps (hs[L], cs[L] its final state; acts zero there), and out (L, N, H) receives
// each row's h in time order (untouched at t >= lengths[n]).
template <typename T>
void lstm_sequence_forward(index_t L, index_t N, index_t H, const T* xproj, const T* wt,
                           bool reverse, T* hs, T* cs, T* acts, int num_threads,
                           const index_t* lengths = nullptr, T* out = nullptr);

// Backpropagation through time from dout: (L, N, H) (time order), dh_n, dc_n: (N, H) and the
// forward's hs, cs, acts; w = W_hh (4H, H) -> dxproj: (L, N, 4H) (time order), dh0, dc0: (N, H),
// dw: (4H, H) (the gradient of W_hh, one GEMM over all steps).
// (lengths as the forward's: dout read and dxproj written at each row's own steps only,
// dxproj zero elsewhere.)
template <typename T>
void lstm_sequence_backward(index_t L, index_t N, index_t H, const T* dout, const T* dhn,
                            const T* dcn, const T* hs, const T* cs, const T* acts, const T* w,
                            bool reverse, T* dxproj, T* dh0, T* dc0, T* dw, int num_threads,
                            const index_t* lengths = nullptr);

// One GRU layer and direction over a whole sequence (PyTorch's gate order r, z, n; steps in
// processing order as above): gh = h_s wt + b_hh (wt = W_hh^T, (H, 3H); b_hh (3H) or null),
// gi = xproj[t] (b_ih included):
//   r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z), n = tanh(gi_n + r gh_n),
//   h' = (1 - z) n + z h
//   xproj: (L, N, 3H), hs: (L+1, N, H) with hs[0] the initial state -> hs[1..L],
//   rz: (L, N, 2H), ns: (L, N, H), ghn: (L, N, H) (gh_n: the backward needs it)
template <typename T>
// (lengths, out: as lstm_sequence_forward's; finished rows carry h, their rz / ns / ghn zero.)
void gru_sequence_forward(index_t L, index_t N, index_t H, const T* xproj, const T* wt,
                          const T* bhh, bool reverse, T* hs, T* rz, T* ns, T* ghn, int num_threads,
                          const index_t* lengths = nullptr, T* out = nullptr);

// Backpropagation through time of gru_sequence_forward from dout: (L, N, H) (time order), dh_n:
// (N, H) and the forward's hs, rz, ns, ghn; w = W_hh (3H, H) -> dxproj: (L, N, 3H) (time order),
// dh0: (N, H), dw: (3H, H) (one GEMM over all steps), db (3H) (the gradient of b_hh; may be null)
template <typename T>
void gru_sequence_backward(index_t L, index_t N, index_t H, const T* dout, const T* dhn,
                           const T* hs, const T* rz, const T* ns, const T* ghn, const T* w,
                           bool reverse, T* dxproj, T* dh0, T* dw, T* db, int num_threads,
                           const index_t* lengths = nullptr);

// AVX2/FMA float32 GRU cell over m rows (lstm_cell_avx2.cpp): gi, gh (m, 3H), h (m, H)
// -> rz (m, 2H), n, ghn, h2 (m, H)
void gru_cell_forward_f32_avx2(index_t m, index_t H, const float* gi, const float* gh,
                               const float* h, float* rz, float* n, float* ghn, float* h2);

// AVX2/FMA float32 rows [r0, r1) (lstm_cell_avx2.cpp)
void lstm_cell_forward_f32_avx2(index_t r0, index_t r1, index_t H, const float* gates,
                                const float* c, float* act, float* c2, float* h2);
void lstm_cell_backward_f32_avx2(index_t r0, index_t r1, index_t H, const float* dh,
                                 const float* dc, const float* act, const float* c, const float* c2,
                                 float* dgates, float* dc_prev);

}  // namespace axonal
