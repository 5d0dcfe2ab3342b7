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

// AVX2/FMA float32 rows [r0, r1) (lstm_cell_avx2.cpp)
void lstm_cell_forward_f32_avx2(index_t r0, index_t r1, index_t H, const float* gates,
                                const float* c, float* act, float* c2, float* h2);
void lstm_cell_backward_f32_avx2(index_t r0, index_t r1, index_t H, const float* dh,
                                 const float* dc, const float* act, const float* c, const float* c2,
                                 float* dgates, float* dc_prev);

}  // namespace axonal
