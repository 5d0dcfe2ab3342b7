// attention.h: scaled dot-product attention, forward and backward, on the CPU, without storing
// the (L, S) attention matrix: queries go in blocks of up to 64 rows, each block's scores
// S = scale * Q K^T (+ mask) live in a per-thread workspace, are turned into probabilities P by
// the softmax row kernel and multiplied into O = P V. The backward recomputes P block by block
// (the same kernels, hence the same P) and forms
//   dV += P^T dO,  dP = dO V^T,  dS = P * (dP - rowsum(dO * O)),  dQ = scale dS K,
//   dK += scale dS^T Q.
// A query that may attend to no key (its whole row masked, or S = 0) gets output 0 and no gradient,
// as PyTorch's scaled_dot_product_attention.
#pragma once
#include <cstdint>

namespace axonal {

using index_t = std::int64_t;

struct AttentionShape {
  index_t B = 0;            // independent (batch x head) items
  index_t L = 0, S = 0;     // queries, keys
  index_t E = 0, Ev = 0;    // query/key width, value width
  index_t mask_stride = 0;  // elements between items' (L, S) masks: 0 = one mask for all
  bool causal = false;      // key j is hidden from query i when j > i
};

// q: (B, L, E), k: (B, S, E), v: (B, S, Ev), mask: additive (L, S) per item or null -> o: (B, L,
// Ev)
template <typename T>
void attention_forward(const AttentionShape& s, T scale, const T* q, const T* k, const T* v,
                       const T* mask, T* o, int num_threads);

// dout, o: (B, L, Ev) and the forward's inputs -> dq: (B, L, E), dk: (B, S, E), dv: (B, S, Ev)
template <typename T>
void attention_backward(const AttentionShape& s, T scale, const T* dout, const T* q, const T* k,
                        const T* v, const T* mask, const T* o, T* dq, T* dk, T* dv,
                        int num_threads);

}  // namespace axonal
