// conv2d_kernels.h: the implicit-GEMM conv2d kernels, written once over a vector type and
// compiled once per instruction set: conv2d_avx2.cpp instantiates them with Vec256 (simd_vec.h)
// (-mavx2 -mfma), conv2d_avx512.cpp with a 512-bit one (-mavx512f). Include only from those
// files. A Vec<T> provides V, W (lanes), zero, load, bcast, set1, fma, add, store; some kernels
// need more (load_n, hsum, hsum4_add: the dot-product kernels; store_tile_t: kvec_forward).
// The input is a zero-padded copy xp (Cg, Hp, Wp) of the rows a block of output rows needs, so
// that row k = (c, r, s) of the im2col matrix, restricted to output row p, is the contiguous run
// xp + off[k] + p * Wp, off[k] = c Hp Wp + r dh Wp + s dw: the kernels read the image where it
// lies instead of materialising im2col.
//   forward:          y[k, p, q] = bias[k] + sum_kk w[k, kk] xp[off[kk] + p Wp + q]
//                     register tile: 6 output channels x 2 vectors of q (broadcast w, load x)
//   backward-weight:  dw[k, kk] += sum_{p, q} dy[k, p, q] xp[off[kk] + p Wp + q]
//                     register tile: 3 output channels x 4 rows kk, vectors along q (dot products)
#pragma once
#include <algorithm>
#include <cstdint>

#include "cpu/conv2d.h"

namespace axonal {
namespace conv_simd {

// ------------------------------------------------------------------ forward
// One 6 x (2 vectors) tile: rows k0..k0+mr of y (row stride ldy), columns q0..q0+nq of output
// row p. ap: packed weights [kk][6]; b: xp + p Wp + q0. Reads b + off[kk] + [0, 2W) for every kk.
template <template <typename> class Vec, typename T>
inline void fwd_tile(index_t crs, const T* __restrict ap, const index_t* __restrict off,
                     const T* __restrict b, T* y, index_t ldy, const T* bias, int mr, int nq) {
  using S = Vec<T>;
  using V = typename S::V;
  constexpr int W = S::W;
  V c00 = S::zero(), c01 = S::zero(), c10 = S::zero(), c11 = S::zero();
  V c20 = S::zero(), c21 = S::zero(), c30 = S::zero(), c31 = S::zero();
  V c40 = S::zero(), c41 = S::zero(), c50 = S::zero(), c51 = S::zero();
#pragma GCC unroll 2
  for (index_t k = 0; k < crs; ++k) {
    const T* bk = b + off[k];
    const V b0 = S::load(bk), b1 = S::load(bk + W);
    const T* a = ap + 6 * k;
    V x = S::bcast(a);
    c00 = S::fma(x, b0, c00);
    c01 = S::fma(x, b1, c01);
    x = S::bcast(a + 1);
    c10 = S::fma(x, b0, c10);
    c11 = S::fma(x, b1, c11);
    x = S::bcast(a + 2);
    c20 = S::fma(x, b0, c20);
    c21 = S::fma(x, b1, c21);
    x = S::bcast(a + 3);
    c30 = S::fma(x, b0, c30);
    c31 = S::fma(x, b1, c31);
    x = S::bcast(a + 4);
    c40 = S::fma(x, b0, c40);
    c41 = S::fma(x, b1, c41);
    x = S::bcast(a + 5);
    c50 = S::fma(x, b0, c50);
    c51 = S::fma(x, b1, c51);
  }
  V acc[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
  if (nq == 2 * W) {
    for (int i = 0; i < mr; ++i) {
      const V bv = S::set1(bias ? bias[i] : T(0));
      S::store(y + i * ldy, S::add(acc[2 * i], bv));
      S::store(y + i * ldy + W, S::add(acc[2 * i + 1], bv));
    }
    return;
  }
  alignas(32) T tmp[2 * W];
  for (int i = 0; i < mr; ++i) {
    const T bi = bias ? bias[i] : T(0);
    S::store(tmp, acc[2 * i]);
    S::store(tmp + W, acc[2 * i + 1]);
    for (int j = 0; j < nq; ++j) y[i * ldy + j] = tmp[j] + bi;
  }
}

// ------------------------------------------------------------------ backward weight
// acc[i][j] = sum over rows p < P and columns q < Q of dy_i[p ldr + q] * x_j[p Wp + q];
// dw[i, j] += acc. Row mode (ldr = Q): a masked tail per row. Flat mode (P == 1, Q = the whole
// block): dy was laid out with row stride Wp and zeros past column Q, so that one dot product
// of length P Wp runs over both arrays without row breaks.
template <template <typename> class Vec, typename T, int MR, int NR>
inline void bwdw_block(index_t P, index_t Q, index_t ldr, index_t Wp, const T* dy, index_t lddy,
                       const T* const* xr, T* dw, index_t lddw) {
  using S = Vec<T>;
  using V = typename S::V;
  constexpr int W = S::W;
  V acc[MR][NR];
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) acc[i][j] = S::zero();
  const index_t qfull = (Q / W) * W;
  const int tail = static_cast<int>(Q - qfull);
  for (index_t p = 0; p < P; ++p) {
    const T* d[MR];
    const T* x[NR];
    for (int i = 0; i < MR; ++i) d[i] = dy + i * lddy + p * ldr;
    for (int j = 0; j < NR; ++j) x[j] = xr[j] + p * Wp;
    for (index_t q = 0; q < qfull; q += W) {
      V av[MR];
      for (int i = 0; i < MR; ++i) av[i] = S::load(d[i] + q);
      for (int j = 0; j < NR; ++j) {
        const V bv = S::load(x[j] + q);
        for (int i = 0; i < MR; ++i) acc[i][j] = S::fma(av[i], bv, acc[i][j]);
      }
    }
    if (tail) {
      V av[MR];
      for (int i = 0; i < MR; ++i) av[i] = S::load_n(d[i] + qfull, tail);
      for (int j = 0; j < NR; ++j) {
        const V bv = S::load_n(x[j] + qfull, tail);
        for (int i = 0; i < MR; ++i) acc[i][j] = S::fma(av[i], bv, acc[i][j]);
      }
    }
  }
  for (int i = 0; i < MR; ++i) {
    if (NR == 4) {
      S::hsum4_add(acc[i], dw + i * lddw);
    } else {
      for (int j = 0; j < NR; ++j) dw[i * lddw + j] += S::hsum(acc[i][j]);
    }
  }
}

template <template <typename> class Vec, typename T, int MR>
inline void bwdw_row_block(int nr, index_t P, index_t Q, index_t ldr, index_t Wp, const T* dy,
                           index_t lddy, const T* const* xr, T* dw, index_t lddw) {
  switch (nr) {
    case 4:
      bwdw_block<Vec, T, MR, 4>(P, Q, ldr, Wp, dy, lddy, xr, dw, lddw);
      break;
    case 3:
      bwdw_block<Vec, T, MR, 3>(P, Q, ldr, Wp, dy, lddy, xr, dw, lddw);
      break;
    case 2:
      bwdw_block<Vec, T, MR, 2>(P, Q, ldr, Wp, dy, lddy, xr, dw, lddw);
      break;
    default:
      bwdw_block<Vec, T, MR, 1>(P, Q, ldr, Wp, dy, lddy, xr, dw, lddw);
      break;
  }
}

// ------------------------------------------------------------------ channel-vectorised kernels
// The same products with the output channels along the vectors: a tile is 6 positions (or 6 rows
// kk) x 2 vectors of output channels, the x values are broadcast. No spatial waste (tiles run
// over the real output positions j = p Q + q), at the price of a transposed store.
//   forward form:   y[k][j]  = bias[k] + sum_kk x(kk, j) wt[kk][k]
//   weight form:    dw[k][kk] += sum_j x(kk, j) dyt[j][k]
// with x(kk, j) = xp[off[kk] + (j / Q) sh Wp + (j % Q) sw] (any stride).
template <template <typename> class Vec, typename T>
inline void kvec_tile(index_t n, const T* const* bp, const index_t* off, index_t off_step,
                      index_t q_left, index_t row_jump, const T* __restrict vp,
                      typename Vec<T>::V* acc) {
  // acc[2 i + v] += sum_t bcast(bp[i] + off(t)) * vp[t * 2W + v W]
  //   forward form: t = kk, off(t) = off[kk], no row jumps (off_step unused)
  //   weight form:  t = j, the x address advances by off_step (the stride) and by row_jump at
  //                 a row end
  using S = Vec<T>;
  using V = typename S::V;
  constexpr int W = S::W;
  V c00 = acc[0], c01 = acc[1], c10 = acc[2], c11 = acc[3], c20 = acc[4], c21 = acc[5];
  V c30 = acc[6], c31 = acc[7], c40 = acc[8], c41 = acc[9], c50 = acc[10], c51 = acc[11];
  const T *b0 = bp[0], *b1 = bp[1], *b2 = bp[2], *b3 = bp[3], *b4 = bp[4], *b5 = bp[5];
  if (off) {
#pragma GCC unroll 2
    for (index_t t = 0; t < n; ++t) {
      const index_t o = off[t];
      const V v0 = S::load(vp + t * 2 * W), v1 = S::load(vp + t * 2 * W + W);
      V x = S::bcast(b0 + o);
      c00 = S::fma(x, v0, c00);
      c01 = S::fma(x, v1, c01);
      x = S::bcast(b1 + o);
      c10 = S::fma(x, v0, c10);
      c11 = S::fma(x, v1, c11);
      x = S::bcast(b2 + o);
      c20 = S::fma(x, v0, c20);
      c21 = S::fma(x, v1, c21);
      x = S::bcast(b3 + o);
      c30 = S::fma(x, v0, c30);
      c31 = S::fma(x, v1, c31);
      x = S::bcast(b4 + o);
      c40 = S::fma(x, v0, c40);
      c41 = S::fma(x, v1, c41);
      x = S::bcast(b5 + o);
      c50 = S::fma(x, v0, c50);
      c51 = S::fma(x, v1, c51);
    }
  } else {
    index_t left = q_left;
    index_t o = 0;
    for (index_t t = 0; t < n; ++t) {
      const V v0 = S::load(vp + t * 2 * W), v1 = S::load(vp + t * 2 * W + W);
      V x = S::bcast(b0 + o);
      c00 = S::fma(x, v0, c00);
      c01 = S::fma(x, v1, c01);
      x = S::bcast(b1 + o);
      c10 = S::fma(x, v0, c10);
      c11 = S::fma(x, v1, c11);
      x = S::bcast(b2 + o);
      c20 = S::fma(x, v0, c20);
      c21 = S::fma(x, v1, c21);
      x = S::bcast(b3 + o);
      c30 = S::fma(x, v0, c30);
      c31 = S::fma(x, v1, c31);
      x = S::bcast(b4 + o);
      c40 = S::fma(x, v0, c40);
      c41 = S::fma(x, v1, c41);
      x = S::bcast(b5 + o);
      c50 = S::fma(x, v0, c50);
      c51 = S::fma(x, v1, c51);
      o += off_step;
      if (--left == 0) {
        o += row_jump;
        left = q_left;
      }
    }
  }
  acc[0] = c00, acc[1] = c01, acc[2] = c10, acc[3] = c11, acc[4] = c20, acc[5] = c21;
  acc[6] = c30, acc[7] = c31, acc[8] = c40, acc[9] = c41, acc[10] = c50, acc[11] = c51;
}

// ------------------------------------------------------------------ channel-vectorised, by rows
// The forward form over MR consecutive positions q of one output row (no row breaks inside a
// tile): x(kk, i) = b[off[kk] + i SW], so every broadcast is one base register plus a constant
// (SW = 0: the stride sw at run time). acc[2 i + v] = sum_kk x(kk, i) vp[kk * 2W + v W].
template <template <typename> class Vec, typename T, int MR, int SW>
inline void kvec_row_tile(index_t n, const T* __restrict b, index_t sw,
                          const index_t* __restrict off, const T* __restrict vp,
                          typename Vec<T>::V* acc) {
  using S = Vec<T>;
  using V = typename S::V;
  constexpr int W = S::W;
  const index_t step = SW > 0 ? SW : sw;
  V c[2 * MR];
#pragma GCC unroll 32
  for (int i = 0; i < 2 * MR; ++i) c[i] = S::zero();
#pragma GCC unroll 2
  for (index_t t = 0; t < n; ++t) {
    const T* bt = b + off[t];
    const V v0 = S::load(vp + t * 2 * W), v1 = S::load(vp + t * 2 * W + W);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const V x = S::bcast(bt + i * step);
      c[2 * i] = S::fma(x, v0, c[2 * i]);
      c[2 * i + 1] = S::fma(x, v1, c[2 * i + 1]);
    }
  }
#pragma GCC unroll 32
  for (int i = 0; i < 2 * MR; ++i) acc[i] = c[i];
}

// One tile of mr <= MR positions (MR, MR - 1, ... chosen at compile time), stored transposed:
// y[k * ldy + i] = bias[k] + acc(i, k) for k < nk, i < mr.
template <template <typename> class Vec, typename T, int SW, int MR>
inline void kvec_row_tile_store(int mr, index_t n, const T* b, index_t sw, const index_t* off,
                                const T* vp, const T* bias, int nk, T* y, index_t ldy) {
  if constexpr (MR > 1) {
    if (mr < MR)
      return kvec_row_tile_store<Vec, T, SW, MR - 1>(mr, n, b, sw, off, vp, bias, nk, y, ldy);
  }
  using S = Vec<T>;
  constexpr int W = S::W, NR = 2 * W;
  typename S::V acc[2 * MR];
  kvec_row_tile<Vec, T, MR, SW>(n, b, sw, off, vp, acc);
  S::store_cols(acc, MR, bias, nk, y, ldy);
  (void)NR;
}

// The forward form (see kvec_forward) with tiles along output rows: each row of Q positions is
// split into ceil(Q / MRMAX) tiles of nearly equal length.
template <template <typename> class Vec, typename T, int MRMAX>
void kvec_forward_rows(index_t Kg, index_t crs, const T* wt, const index_t* off, const T* xp,
                       index_t Wp, index_t sh, index_t sw, index_t P, index_t Q, const T* bias,
                       T* y, index_t ldy) {
  constexpr int NR = 2 * Vec<T>::W;
  const index_t kpanels = (Kg + NR - 1) / NR;
  const index_t ntile = (Q + MRMAX - 1) / MRMAX, base = Q / ntile, extra = Q % ntile;
  for (index_t kp = 0; kp < kpanels; ++kp) {
    const T* vp = wt + kp * crs * NR;
    const index_t k0 = kp * NR;
    const int nk = static_cast<int>(std::min<index_t>(NR, Kg - k0));
    const T* bk = bias ? bias + k0 : nullptr;
    for (index_t p = 0; p < P; ++p) {
      const T* brow = xp + p * sh * Wp;
      T* yrow = y + k0 * ldy + p * Q;
      index_t q = 0;
      for (index_t it = 0; it < ntile; ++it) {
        const int mr = static_cast<int>(base + (it < extra ? 1 : 0));
        const T* b = brow + q * sw;
        if (sw == 1)
          kvec_row_tile_store<Vec, T, 1, MRMAX>(mr, crs, b, sw, off, vp, bk, nk, yrow + q, ldy);
        else if (sw == 2)
          kvec_row_tile_store<Vec, T, 2, MRMAX>(mr, crs, b, sw, off, vp, bk, nk, yrow + q, ldy);
        else
          kvec_row_tile_store<Vec, T, 0, MRMAX>(mr, crs, b, sw, off, vp, bk, nk, yrow + q, ldy);
        q += mr;
      }
    }
  }
}

template <template <typename> class Vec, typename T>
void implicit_forward(index_t Kg, index_t crs, const T* wpacked, const index_t* off, const T* xp,
                      index_t Wp, index_t P, index_t Q, const T* bias, T* y, index_t ldy) {
  constexpr int NR = 2 * Vec<T>::W;
  const index_t panels = (Kg + 5) / 6;
  for (index_t p = 0; p < P; ++p) {
    const T* brow = xp + p * Wp;
    for (index_t q0 = 0; q0 < Q; q0 += NR) {
      const int nq = static_cast<int>(std::min<index_t>(NR, Q - q0));
      for (index_t ip = 0; ip < panels; ++ip) {
        const index_t k0 = ip * 6;
        fwd_tile<Vec, T>(crs, wpacked + ip * 6 * crs, off, brow + q0, y + k0 * ldy + p * Q + q0,
                         ldy, bias ? bias + k0 : nullptr,
                         static_cast<int>(std::min<index_t>(6, Kg - k0)), nq);
      }
    }
  }
}

template <template <typename> class Vec, typename T>
void implicit_backward_weight(index_t Kg, index_t crs, const T* dy, index_t lddy, index_t ldr,
                              const index_t* off, const T* xp, index_t Wp, index_t P, index_t Q,
                              T* dw) {
  constexpr int MR = 3, NR = 4;
  for (index_t j0 = 0; j0 < crs; j0 += NR) {
    const int nr = static_cast<int>(std::min<index_t>(NR, crs - j0));
    const T* xr[NR];
    for (int j = 0; j < nr; ++j) xr[j] = xp + off[j0 + j];
    for (index_t i0 = 0; i0 < Kg; i0 += MR) {
      const int mr = static_cast<int>(std::min<index_t>(MR, Kg - i0));
      const T* d = dy + i0 * lddy;
      T* o = dw + i0 * crs + j0;
      if (mr == 3)
        bwdw_row_block<Vec, T, 3>(nr, P, Q, ldr, Wp, d, lddy, xr, o, crs);
      else if (mr == 2)
        bwdw_row_block<Vec, T, 2>(nr, P, Q, ldr, Wp, d, lddy, xr, o, crs);
      else
        bwdw_row_block<Vec, T, 1>(nr, P, Q, ldr, Wp, d, lddy, xr, o, crs);
    }
  }
}

template <template <typename> class Vec, typename T>
void kvec_forward(index_t Kg, index_t crs, const T* wt, const index_t* off, const T* xp, index_t Wp,
                  index_t sh, index_t sw, index_t P, index_t Q, const T* bias, T* y, index_t ldy) {
  using S = Vec<T>;
  using V = typename S::V;
  constexpr int NR = 2 * S::W, MR = 6;
  const index_t PQ = P * Q, kpanels = (Kg + NR - 1) / NR;
  alignas(32) T tmp[MR * NR];
  for (index_t kp = 0; kp < kpanels; ++kp) {
    const T* vp = wt + kp * crs * NR;
    const index_t k0 = kp * NR;
    const int nk = static_cast<int>(std::min<index_t>(NR, Kg - k0));
    for (index_t j0 = 0; j0 < PQ; j0 += MR) {
      const int nj = static_cast<int>(std::min<index_t>(MR, PQ - j0));
      const T* bp[MR];
      for (int i = 0; i < MR; ++i) {
        const index_t j = j0 + std::min(i, nj - 1);
        bp[i] = xp + (j / Q) * sh * Wp + (j % Q) * sw;
      }
      V acc[2 * MR];
      for (int i = 0; i < 2 * MR; ++i) acc[i] = S::zero();
      kvec_tile<Vec, T>(crs, bp, off, 1, 0, 0, vp, acc);
      if (nk == NR && nj == MR) {
        S::store_tile_t(acc, bias ? bias + k0 : nullptr, y + k0 * ldy + j0, ldy);
        continue;
      }
      for (int i = 0; i < 2 * MR; ++i) S::store(tmp + i * S::W, acc[i]);
      for (int k = 0; k < nk; ++k) {
        T* yk = y + (k0 + k) * ldy + j0;
        const T bk = bias ? bias[k0 + k] : T(0);
        for (int i = 0; i < nj; ++i) yk[i] = tmp[i * NR + k] + bk;
      }
    }
  }
}

template <template <typename> class Vec, typename T>
void kvec_backward_weight(index_t Kg, index_t crs, const T* dyt, const index_t* off, const T* xp,
                          index_t Wp, index_t sh, index_t sw, index_t P, index_t Q, T* dwt) {
  using S = Vec<T>;
  using V = typename S::V;
  constexpr int W = S::W, NR = 2 * W, MR = 6;
  const index_t PQ = P * Q, kpanels = (Kg + NR - 1) / NR;
  for (index_t kp = 0; kp < kpanels; ++kp) {
    const T* vp = dyt + kp * PQ * NR;
    T* out = dwt + kp * crs * NR;
    for (index_t t0 = 0; t0 < crs; t0 += MR) {
      const int nt = static_cast<int>(std::min<index_t>(MR, crs - t0));
      const T* bp[MR];
      for (int i = 0; i < MR; ++i) bp[i] = xp + off[t0 + std::min(i, nt - 1)];
      V acc[2 * MR];
      for (int i = 0; i < 2 * MR; ++i) acc[i] = S::zero();
      kvec_tile<Vec, T>(PQ, bp, nullptr, sw, Q, sh * Wp - Q * sw, vp, acc);
      for (int i = 0; i < nt; ++i) {
        T* o = out + (t0 + i) * NR;
        S::store(o, S::add(S::load(o), acc[2 * i]));
        S::store(o + W, S::add(S::load(o + W), acc[2 * i + 1]));
      }
    }
  }
}

}  // namespace conv_simd
}  // namespace axonal
