// conv2d_avx2.cpp: implicit-GEMM conv2d kernels for stride 1 (compiled with -mavx2 -mfma, called
// only when simd_path() is avx2). The input is a zero-padded copy xp (Cg, Hp, Wp) of the rows a
// block of output rows needs, so that row k = (c, r, s) of the im2col matrix, restricted to
// output row p, is the contiguous run xp + off[k] + p * Wp, off[k] = c Hp Wp + r dh Wp + s dw:
// the kernels read the image where it lies instead of materialising im2col.
//   forward:          y[k, p, q] = bias[k] + sum_kk w[k, kk] xp[off[kk] + p Wp + q]
//                     register tile: 6 output channels x 2 vectors of q (broadcast w, load x)
//   backward-weight:  dw[k, kk] += sum_{p, q} dy[k, p, q] xp[off[kk] + p Wp + q]
//                     register tile: 3 output channels x 4 rows kk, vectors along q (dot products)
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "cpu/conv2d.h"

namespace {

using axonal::index_t;

template <typename T>
struct Vec;

template <>
struct Vec<float> {
  using V = __m256;
  static constexpr int W = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V bcast(const float* p) { return _mm256_broadcast_ss(p); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  // lanes [0, n) of p, the rest 0 (nothing past p + n is read)
  static V load_n(const float* p, int n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
    return _mm256_maskload_ps(p, m);
  }
  static float hsum(V v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  // r[0..8) (rows) -> r[k] = column k, i.e. r[k][i] = old r[i][k]
  static void transpose(V* r) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
  }
  // A full 6 positions x 16 channels tile acc[2 i + v] to y[k * ldy + i] (+ bias[k]).
  static void store_tile_t(const V* acc, const float* bias, float* y, index_t ldy) {
    for (int v = 0; v < 2; ++v) {
      V r[8] = {acc[v],     acc[2 + v],  acc[4 + v], acc[6 + v],
                acc[8 + v], acc[10 + v], zero(),     zero()};
      transpose(r);
      for (int k = 0; k < 8; ++k) {
        const V c = bias ? add(r[k], set1(bias[8 * v + k])) : r[k];
        float* dst = y + (8 * v + k) * ldy;
        _mm_storeu_ps(dst, _mm256_castps256_ps128(c));
        _mm_storel_pi(reinterpret_cast<__m64*>(dst + 4), _mm256_extractf128_ps(c, 1));
      }
    }
  }
  // dst[j] += hsum(v[j]) for j < 4
  static void hsum4_add(const V* v, float* dst) {
    const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(v[0], v[1]), _mm256_hadd_ps(v[2], v[3]));
    const __m128 r = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    _mm_storeu_ps(dst, _mm_add_ps(_mm_loadu_ps(dst), r));
  }
};

template <>
struct Vec<double> {
  using V = __m256d;
  static constexpr int W = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V load(const double* p) { return _mm256_loadu_pd(p); }
  static V bcast(const double* p) { return _mm256_broadcast_sd(p); }
  static V set1(double x) { return _mm256_set1_pd(x); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  static V load_n(const double* p, int n) {
    const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
    const __m256i m = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), idx);
    return _mm256_maskload_pd(p, m);
  }
  static double hsum(V v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
  }
  static void transpose(V* r) {  // 4 x 4
    const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
  }
  // A full 6 positions x 8 channels tile acc[2 i + v] to y[k * ldy + i] (+ bias[k]).
  static void store_tile_t(const V* acc, const double* bias, double* y, index_t ldy) {
    for (int v = 0; v < 2; ++v) {
      V a[4] = {acc[v], acc[2 + v], acc[4 + v], acc[6 + v]};
      V b[4] = {acc[8 + v], acc[10 + v], zero(), zero()};
      transpose(a);
      transpose(b);
      for (int k = 0; k < 4; ++k) {
        const V bk = set1(bias ? bias[4 * v + k] : 0.0);
        double* dst = y + (4 * v + k) * ldy;
        _mm256_storeu_pd(dst, add(a[k], bk));
        _mm_storeu_pd(dst + 4, _mm256_castpd256_pd128(add(b[k], bk)));
      }
    }
  }
  static void hsum4_add(const V* v, double* dst) {
    const __m256d h01 = _mm256_hadd_pd(v[0], v[1]), h23 = _mm256_hadd_pd(v[2], v[3]);
    const __m256d r = _mm256_add_pd(_mm256_permute2f128_pd(h01, h23, 0x20),
                                    _mm256_permute2f128_pd(h01, h23, 0x31));
    _mm256_storeu_pd(dst, _mm256_add_pd(_mm256_loadu_pd(dst), r));
  }
};

// ------------------------------------------------------------------ forward
// One 6 x (2 vectors) tile: rows k0..k0+mr of y (row stride ldy), columns q0..q0+nq of output
// row p. ap: packed weights [kk][6]; b: xp + p Wp + q0. Reads b + off[kk] + [0, 2W) for every kk.
template <typename T>
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
template <typename T, int MR, int NR>
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

template <typename T, int MR>
inline void bwdw_row_block(int nr, index_t P, index_t Q, index_t ldr, index_t Wp, const T* dy,
                           index_t lddy, const T* const* xr, T* dw, index_t lddw) {
  switch (nr) {
    case 4:
      bwdw_block<T, MR, 4>(P, Q, ldr, Wp, dy, lddy, xr, dw, lddw);
      break;
    case 3:
      bwdw_block<T, MR, 3>(P, Q, ldr, Wp, dy, lddy, xr, dw, lddw);
      break;
    case 2:
      bwdw_block<T, MR, 2>(P, Q, ldr, Wp, dy, lddy, xr, dw, lddw);
      break;
    default:
      bwdw_block<T, MR, 1>(P, Q, ldr, Wp, dy, lddy, xr, dw, lddw);
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
template <typename T>
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

}  // namespace

namespace axonal {

template <typename T>
void conv_implicit_forward_avx2(index_t Kg, index_t crs, const T* wpacked, const index_t* off,
                                const T* xp, index_t Wp, index_t P, index_t Q, const T* bias, T* y,
                                index_t ldy) {
  constexpr int NR = 2 * Vec<T>::W;
  const index_t panels = (Kg + 5) / 6;
  for (index_t p = 0; p < P; ++p) {
    const T* brow = xp + p * Wp;
    for (index_t q0 = 0; q0 < Q; q0 += NR) {
      const int nq = static_cast<int>(std::min<index_t>(NR, Q - q0));
      for (index_t ip = 0; ip < panels; ++ip) {
        const index_t k0 = ip * 6;
        fwd_tile<T>(crs, wpacked + ip * 6 * crs, off, brow + q0, y + k0 * ldy + p * Q + q0, ldy,
                    bias ? bias + k0 : nullptr, static_cast<int>(std::min<index_t>(6, Kg - k0)),
                    nq);
      }
    }
  }
}

template <typename T>
void conv_implicit_backward_weight_avx2(index_t Kg, index_t crs, const T* dy, index_t lddy,
                                        index_t ldr, const index_t* off, const T* xp, index_t Wp,
                                        index_t P, index_t Q, T* dw) {
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
        bwdw_row_block<T, 3>(nr, P, Q, ldr, Wp, d, lddy, xr, o, crs);
      else if (mr == 2)
        bwdw_row_block<T, 2>(nr, P, Q, ldr, Wp, d, lddy, xr, o, crs);
      else
        bwdw_row_block<T, 1>(nr, P, Q, ldr, Wp, d, lddy, xr, o, crs);
    }
  }
}

template <typename T>
void conv_kvec_forward_avx2(index_t Kg, index_t crs, const T* wt, const index_t* off, const T* xp,
                            index_t Wp, index_t sh, index_t sw, index_t P, index_t Q, const T* bias,
                            T* y, index_t ldy) {
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
      kvec_tile<T>(crs, bp, off, 1, 0, 0, vp, acc);
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

template <typename T>
void conv_kvec_backward_weight_avx2(index_t Kg, index_t crs, const T* dyt, const index_t* off,
                                    const T* xp, index_t Wp, index_t sh, index_t sw, index_t P,
                                    index_t Q, T* dwt) {
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
      kvec_tile<T>(PQ, bp, nullptr, sw, Q, sh * Wp - Q * sw, vp, acc);
      for (int i = 0; i < nt; ++i) {
        T* o = out + (t0 + i) * NR;
        S::store(o, S::add(S::load(o), acc[2 * i]));
        S::store(o + W, S::add(S::load(o + W), acc[2 * i + 1]));
      }
    }
  }
}

template void conv_kvec_forward_avx2<float>(index_t, index_t, const float*, const index_t*,
                                            const float*, index_t, index_t, index_t, index_t,
                                            index_t, const float*, float*, index_t);
template void conv_kvec_forward_avx2<double>(index_t, index_t, const double*, const index_t*,
                                             const double*, index_t, index_t, index_t, index_t,
                                             index_t, const double*, double*, index_t);
template void conv_kvec_backward_weight_avx2<float>(index_t, index_t, const float*, const index_t*,
                                                    const float*, index_t, index_t, index_t,
                                                    index_t, index_t, float*);
template void conv_kvec_backward_weight_avx2<double>(index_t, index_t, const double*,
                                                     const index_t*, const double*, index_t,
                                                     index_t, index_t, index_t, index_t, double*);
template <typename T>
void conv_pack_dyt_avx2(index_t Kg, index_t L, const T* d, index_t ldd, T* dst) {
  using S = Vec<T>;
  using V = typename S::V;
  constexpr int W = S::W, NR = 2 * W;
  for (index_t k0 = 0; k0 < Kg; k0 += NR) {
    T* out = dst + k0 * L;
    for (index_t kb = 0; kb < NR; kb += W) {
      const index_t ks = k0 + kb, nk = std::max<index_t>(0, std::min<index_t>(W, Kg - ks));
      index_t j0 = 0;
      if (nk == W)
        for (; j0 + W <= L; j0 += W) {
          V r[W];
          for (int k = 0; k < W; ++k) r[k] = S::load(d + (ks + k) * ldd + j0);
          S::transpose(r);
          for (int j = 0; j < W; ++j) S::store(out + (j0 + j) * NR + kb, r[j]);
        }
      for (index_t j = j0; j < L; ++j)
        for (index_t k = 0; k < W; ++k)
          out[j * NR + kb + k] = k < nk ? d[(ks + k) * ldd + j] : T(0);
    }
  }
}

// dst[t] = src[2 t] for t < n (the stride-2 rows of im2col); reads nothing past src[2 n - 2].
void conv_copy_stride2_avx2(const float* src, index_t n, float* dst) {
  index_t t = 0;
  for (; t + 9 <= n; t += 8) {  // reads src[2t, 2t + 16), inside [0, 2n - 1)
    const __m256 a0 = _mm256_loadu_ps(src + 2 * t), a1 = _mm256_loadu_ps(src + 2 * t + 8);
    const __m256 e = _mm256_shuffle_ps(a0, a1, 0x88);
    _mm256_storeu_ps(dst + t, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8)));
  }
  for (; t < n; ++t) dst[t] = src[2 * t];
}

void conv_copy_stride2_avx2(const double* src, index_t n, double* dst) {
  index_t t = 0;
  for (; t + 5 <= n; t += 4) {  // reads src[2t, 2t + 8), inside [0, 2n - 1)
    const __m256d a0 = _mm256_loadu_pd(src + 2 * t), a1 = _mm256_loadu_pd(src + 2 * t + 4);
    _mm256_storeu_pd(dst + t, _mm256_permute4x64_pd(_mm256_unpacklo_pd(a0, a1), 0xD8));
  }
  for (; t < n; ++t) dst[t] = src[2 * t];
}

template void conv_pack_dyt_avx2<float>(index_t, index_t, const float*, index_t, float*);
template void conv_pack_dyt_avx2<double>(index_t, index_t, const double*, index_t, double*);
template void conv_implicit_forward_avx2<float>(index_t, index_t, const float*, const index_t*,
                                                const float*, index_t, index_t, index_t,
                                                const float*, float*, index_t);
template void conv_implicit_forward_avx2<double>(index_t, index_t, const double*, const index_t*,
                                                 const double*, index_t, index_t, index_t,
                                                 const double*, double*, index_t);
template void conv_implicit_backward_weight_avx2<float>(index_t, index_t, const float*, index_t,
                                                        index_t, const index_t*, const float*,
                                                        index_t, index_t, index_t, float*);
template void conv_implicit_backward_weight_avx2<double>(index_t, index_t, const double*, index_t,
                                                         index_t, const index_t*, const double*,
                                                         index_t, index_t, index_t, double*);

}  // namespace axonal
