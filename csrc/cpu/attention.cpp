// attention.cpp: scaled dot-product attention on the CPU (see attention.h): one-thread GEMMs and
// the softmax row kernel per block of queries, threads over (item, query block) in the forward and
// over items in the backward (whose key/value gradients accumulate over the query blocks).
#include "cpu/attention.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <new>
#include <vector>

#include "cpu/gemm.h"
#include "cpu/softmax.h"
#include "cpu/threads.h"

namespace axonal {

namespace {

constexpr index_t kQueryBlock = 64;

// Keys a block of queries [q0, q0 + nq) can see: all S, or with the causal mask (query i sees
// keys j <= i) the first q0 + nq; the block's products and softmax stop there.
inline index_t keys_seen(const AttentionShape& s, index_t q0, index_t nq) {
  return s.causal ? std::min(s.S, q0 + nq) : s.S;
}

// Probabilities of the query rows [q0, q0 + nq) of item b in p (nq x sk, row stride sk, sk =
// keys_seen): scores, mask, causal mask, row softmax.
template <typename T>
void block_probabilities(const AttentionShape& s, T scale, const T* qb, const T* kb, const T* maskb,
                         index_t q0, index_t nq, index_t sk, T* p) {
  gemm<T>(false, true, nq, sk, s.E, scale, qb + q0 * s.E, s.E, kb, s.E, T(0), p, sk, 1);
  if (maskb)
    for (index_t i = 0; i < nq; ++i) {
      const T* m = maskb + (q0 + i) * s.S;
      T* row = p + i * sk;
      for (index_t j = 0; j < sk; ++j) row[j] += m[j];
    }
  constexpr T ninf = -std::numeric_limits<T>::infinity();
  if (s.causal)
    for (index_t i = 0; i < nq; ++i)
      std::fill(p + i * sk + std::min(sk, q0 + i + 1), p + (i + 1) * sk, ninf);
  // A query that may attend to no key (its whole row at -inf) gets probabilities 0, so output 0
  // and no gradient, as PyTorch's scaled_dot_product_attention (the softmax would give NaN).
  bool blocked[kQueryBlock];
  bool any = false;
  for (index_t i = 0; i < nq; ++i) {
    const T* row = p + i * sk;
    index_t j = 0;
    while (j < sk && row[j] == ninf) ++j;  // stops at the first key it may see
    blocked[i] = j == sk;
    any = any || blocked[i];
  }
  softmax_forward<T>(nq, sk, 1, p, p, false, 1);
  if (any)
    for (index_t i = 0; i < nq; ++i)
      if (blocked[i]) std::fill(p + i * sk, p + (i + 1) * sk, T(0));
}

}  // namespace

template <typename T>
void attention_forward(const AttentionShape& s, T scale, const T* q, const T* k, const T* v,
                       const T* mask, T* o, int num_threads) {
  if (s.B <= 0 || s.L <= 0 || s.Ev <= 0) return;
  if (s.S == 0) {  // nothing to attend to: 0, as in PyTorch
    std::fill(o, o + s.B * s.L * s.Ev, T(0));
    return;
  }
  const index_t nblk = (s.L + kQueryBlock - 1) / kQueryBlock;
  parallel_chunks(s.B * nblk, num_threads, [&](index_t lo, index_t hi) {
    std::vector<T> p(static_cast<std::size_t>(std::min(kQueryBlock, s.L) * s.S));
    for (index_t it = lo; it < hi; ++it) {
      const index_t b = it / nblk, q0 = (it % nblk) * kQueryBlock;
      const index_t nq = std::min(kQueryBlock, s.L - q0);
      const T* maskb = mask ? mask + b * s.mask_stride : nullptr;
      const index_t sk = keys_seen(s, q0, nq);
      block_probabilities(s, scale, q + b * s.L * s.E, k + b * s.S * s.E, maskb, q0, nq, sk,
                          p.data());
      gemm<T>(false, false, nq, s.Ev, sk, T(1), p.data(), sk, v + b * s.S * s.Ev, s.Ev, T(0),
              o + (b * s.L + q0) * s.Ev, s.Ev, 1);
    }
  });
}

template <typename T>
void attention_backward(const AttentionShape& s, T scale, const T* dout, const T* q, const T* k,
                        const T* v, const T* mask, const T* o, T* dq, T* dk, T* dv,
                        int num_threads) {
  if (s.B <= 0) return;
  std::fill(dk, dk + s.B * s.S * s.E, T(0));
  std::fill(dv, dv + s.B * s.S * s.Ev, T(0));
  if (s.L == 0) return;
  if (s.S == 0) {  // the output did not depend on the queries
    std::fill(dq, dq + s.B * s.L * s.E, T(0));
    return;
  }
  parallel_chunks(s.B, num_threads, [&](index_t lo, index_t hi) {
    const index_t bq = std::min(kQueryBlock, s.L);
    std::vector<T> p(static_cast<std::size_t>(bq * s.S)), dp(p.size());
    std::vector<T> rs(static_cast<std::size_t>(bq));
    for (index_t b = lo; b < hi; ++b) {
      const T *qb = q + b * s.L * s.E, *kb = k + b * s.S * s.E, *vb = v + b * s.S * s.Ev;
      const T* maskb = mask ? mask + b * s.mask_stride : nullptr;
      for (index_t q0 = 0; q0 < s.L; q0 += kQueryBlock) {
        const index_t nq = std::min(kQueryBlock, s.L - q0);
        const T* dob = dout + (b * s.L + q0) * s.Ev;
        const T* ob = o + (b * s.L + q0) * s.Ev;
        const index_t sk = keys_seen(s, q0, nq);  // the keys past it get no gradient here
        block_probabilities(s, scale, qb, kb, maskb, q0, nq, sk, p.data());
        // dV += P^T dO
        gemm<T>(true, false, sk, s.Ev, nq, T(1), p.data(), sk, dob, s.Ev, T(1), dv + b * s.S * s.Ev,
                s.Ev, 1);
        // dP = dO V^T; dS = P * (dP - rowsum(dO * O))
        gemm<T>(false, true, nq, sk, s.Ev, T(1), dob, s.Ev, vb, s.Ev, T(0), dp.data(), sk, 1);
        for (index_t i = 0; i < nq; ++i) {
          T acc = 0;
          for (index_t j = 0; j < s.Ev; ++j) acc += dob[i * s.Ev + j] * ob[i * s.Ev + j];
          rs[i] = acc;
        }
        for (index_t i = 0; i < nq; ++i) {
          T* d = dp.data() + i * sk;
          const T* pr = p.data() + i * sk;
          const T r = rs[i];
          for (index_t j = 0; j < sk; ++j) d[j] = pr[j] * (d[j] - r);
        }
        // dQ = scale dS K; dK += scale dS^T Q
        gemm<T>(false, false, nq, s.E, sk, scale, dp.data(), sk, kb, s.E, T(0),
                dq + (b * s.L + q0) * s.E, s.E, 1);
        gemm<T>(true, false, sk, s.E, nq, scale, dp.data(), sk, qb + q0 * s.E, s.E, T(1),
                dk + b * s.S * s.E, s.E, 1);
      }
    }
  });
}

template void attention_forward<float>(const AttentionShape&, float, const float*, const float*,
                                       const float*, const float*, float*, int);
template void attention_forward<double>(const AttentionShape&, double, const double*, const double*,
                                        const double*, const double*, double*, int);
template void attention_backward<float>(const AttentionShape&, float, const float*, const float*,
                                        const float*, const float*, const float*, const float*,
                                        float*, float*, float*, int);
template void attention_backward<double>(const AttentionShape&, double, const double*,
                                         const double*, const double*, const double*, const double*,
                                         const double*, double*, double*, double*, int);

}  // namespace axonal
