// conv_tiles.cuh: conv2d (NCHW, cross-correlation as in PyTorch) as implicit GEMMs, written as
// per-thread phase functions (AX_HD) shared by the kernels in conv2d.cu and the host emulator.
//
//   x: (N, C, H, W), w: (K, C/groups, R, S), b: (K,) or null -> y: (N, K, P, Q)
//   P = (H + 2 ph - dh (R - 1) - 1) / sh + 1, Q likewise
//
// Per group g, three GEMMs whose operands are gathered on the fly (no im2col buffer):
//   forward          y_g  (Kg x NPQ)  = w_g (Kg x CgRS) . col(x_g) (CgRS x NPQ)
//   backward-input   dx_g (Cg x NHW)  = w_g^T (Cg x KgRS) . gather(dy_g) (KgRS x NHW)
//                    (dy[n, k, p, q] lands on h = p sh - ph + r dh; entries whose h, w are not
//                    reached by a whole output position read as zero)
//   backward-weight  dw_g (Kg x CgRS) = dy_g (Kg x NPQ) . col(x_g)^T (NPQ x CgRS), split over the
//                    NPQ reduction (split-K) with atomic adds into a zeroed dw when split > 1
// Tiles: BM x 128 x 8 with BM = 64 or 128, 2 BM threads, 8x8 outputs per thread, double-buffered
// shared tiles filled from registers. Each thread loads 4 consecutive k of one A row and RB
// consecutive k of one B column, so the (c, r, s) / (n, p, q) decode happens once per tile and
// then steps by one.
#pragma once
#include "cuda/common.cuh"

namespace axonal {
namespace cuda {

struct ConvGeom {
  int N = 0, C = 0, H = 0, W = 0, K = 0, R = 0, S = 0, P = 0, Q = 0;
  int sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
  int Cg = 0, Kg = 0;
  // derived products (elements)
  AX_HD index_t HW() const { return index_t(H) * W; }
  AX_HD index_t PQ() const { return index_t(P) * Q; }
  AX_HD index_t RS() const { return index_t(R) * S; }
  AX_HD index_t CRS() const { return index_t(Cg) * R * S; }
};

template <typename T>
AX_HD void ax_atomic_add(T* p, T v) {
#if defined(__CUDA_ARCH__)
  atomicAdd(p, v);
#else
  *p += v;
#endif
}

// ------------------------------------------------------------------ problems
// Each problem: GEMM sizes M, N, Kd per group; ARow / BCol per-thread load state; a_load (4
// consecutive k of row m), b_load (RB consecutive k of column n), both zero outside
// [0, k_end) and outside the matrix; c_col / c_ld address C (row m, column n) as
// C + c_col(g, n) + m * c_ld.

template <typename T>
struct ConvFwdProb {
  ConvGeom d;
  const T* x = nullptr;
  const T* w = nullptr;
  const T* bias = nullptr;  // may be null
  T* y = nullptr;
  int M = 0, N = 0, Kd = 0;  // Kg, N*P*Q, Cg*R*S

  struct ARow {
    const T* p;
    bool ok;
  };
  struct BCol {
    const T* xb;
    int ih0, iw0;
    bool ok;
  };

  AX_HD void a_row(int g, int m, ARow& a) const {
    a.ok = m < M;
    a.p = a.ok ? w + (index_t(g) * d.Kg + m) * d.CRS() : w;
  }
  AX_HD void a_load(const ARow& a, int k, int k_end, T (&v)[4]) const {
#pragma unroll
    for (int j = 0; j < 4; ++j) v[j] = (a.ok && k + j < k_end) ? a.p[k + j] : T(0);
  }
  AX_HD void b_col(int g, int n, BCol& b) const {
    b.ok = n < N;
    const int nn = b.ok ? n : 0;
    const int img = nn / (d.P * d.Q), pq = nn % (d.P * d.Q);
    b.ih0 = (pq / d.Q) * d.sh - d.ph;
    b.iw0 = (pq % d.Q) * d.sw - d.pw;
    b.xb = x + (index_t(img) * d.C + index_t(g) * d.Cg) * d.HW();
  }
  template <int RB>
  AX_HD void b_load(const BCol& b, int k, int k_end, T (&v)[RB]) const {
    const int RSi = d.R * d.S;
    int c = k / RSi, rs = k % RSi;
    int r = rs / d.S, s = rs % d.S;
#pragma unroll
    for (int j = 0; j < RB; ++j) {
      T val = T(0);
      if (b.ok && k + j < k_end) {
        const int ih = b.ih0 + r * d.dh, iw = b.iw0 + s * d.dw;
        if (ih >= 0 && ih < d.H && iw >= 0 && iw < d.W)
          val = b.xb[index_t(c) * d.HW() + index_t(ih) * d.W + iw];
      }
      v[j] = val;
      if (++s == d.S) {
        s = 0;
        if (++r == d.R) {
          r = 0;
          ++c;
        }
      }
    }
  }
  AX_HD index_t c_col(int g, int n) const {
    const int img = n / (d.P * d.Q), pq = n % (d.P * d.Q);
    return (index_t(img) * d.K + index_t(g) * d.Kg) * d.PQ() + pq;
  }
  AX_HD index_t c_ld() const { return d.PQ(); }
  AX_HD T* c_ptr() const { return y; }
  AX_HD const T* bias_ptr(int g) const { return bias ? bias + index_t(g) * d.Kg : nullptr; }
};

template <typename T>
struct ConvBwdInputProb {
  ConvGeom d;
  const T* dy = nullptr;
  const T* w = nullptr;
  T* dx = nullptr;
  int M = 0, N = 0, Kd = 0;  // Cg, N*H*W, Kg*R*S

  struct ARow {
    const T* p;
    bool ok;
  };
  struct BCol {
    const T* dyb;
    int th, tw;
    bool ok;
  };

  AX_HD void a_row(int g, int m, ARow& a) const {
    a.ok = m < M;
    a.p = a.ok ? w + index_t(g) * d.Kg * d.CRS() + index_t(m) * d.RS() : w;
  }
  AX_HD void a_load(const ARow& a, int k, int k_end, T (&v)[4]) const {
    const int RSi = d.R * d.S;
    int kk = k / RSi, rs = k % RSi;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      v[j] = (a.ok && k + j < k_end) ? a.p[index_t(kk) * d.CRS() + rs] : T(0);
      if (++rs == RSi) {
        rs = 0;
        ++kk;
      }
    }
  }
  AX_HD void b_col(int g, int n, BCol& b) const {
    b.ok = n < N;
    const int nn = b.ok ? n : 0;
    const int HWi = d.H * d.W;
    const int img = nn / HWi, hw = nn % HWi;
    b.th = hw / d.W + d.ph;
    b.tw = hw % d.W + d.pw;
    b.dyb = dy + (index_t(img) * d.K + index_t(g) * d.Kg) * d.PQ();
  }
  template <int RB>
  AX_HD void b_load(const BCol& b, int k, int k_end, T (&v)[RB]) const {
    const int RSi = d.R * d.S;
    int kk = k / RSi, rs = k % RSi;
    int r = rs / d.S, s = rs % d.S;
#pragma unroll
    for (int j = 0; j < RB; ++j) {
      T val = T(0);
      if (b.ok && k + j < k_end) {
        const int hp = b.th - r * d.dh, wq = b.tw - s * d.dw;
        if (hp >= 0 && wq >= 0 && hp % d.sh == 0 && wq % d.sw == 0) {
          const int p = hp / d.sh, q = wq / d.sw;
          if (p < d.P && q < d.Q) val = b.dyb[index_t(kk) * d.PQ() + index_t(p) * d.Q + q];
        }
      }
      v[j] = val;
      if (++s == d.S) {
        s = 0;
        if (++r == d.R) {
          r = 0;
          ++kk;
        }
      }
    }
  }
  AX_HD index_t c_col(int g, int n) const {
    const int HWi = d.H * d.W;
    const int img = n / HWi, hw = n % HWi;
    return (index_t(img) * d.C + index_t(g) * d.Cg) * d.HW() + hw;
  }
  AX_HD index_t c_ld() const { return d.HW(); }
  AX_HD T* c_ptr() const { return dx; }
  AX_HD const T* bias_ptr(int) const { return nullptr; }
};

template <typename T>
struct ConvBwdWeightProb {
  ConvGeom d;
  const T* dy = nullptr;
  const T* x = nullptr;
  T* dw = nullptr;
  int M = 0, N = 0, Kd = 0;  // Kg, Cg*R*S, N*P*Q

  struct ARow {
    const T* p;
    bool ok;
  };
  struct BCol {
    const T* xb;
    int roff, soff;
    bool ok;
  };

  AX_HD void a_row(int g, int m, ARow& a) const {
    a.ok = m < M;
    a.p = a.ok ? dy + (index_t(g) * d.Kg + m) * d.PQ() : dy;
  }
  AX_HD void a_load(const ARow& a, int k, int k_end, T (&v)[4]) const {
    const int PQi = d.P * d.Q;
    int img = k / PQi, pq = k % PQi;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      v[j] = (a.ok && k + j < k_end) ? a.p[index_t(img) * d.K * d.PQ() + pq] : T(0);
      if (++pq == PQi) {
        pq = 0;
        ++img;
      }
    }
  }
  AX_HD void b_col(int g, int n, BCol& b) const {
    b.ok = n < N;
    const int nn = b.ok ? n : 0;
    const int RSi = d.R * d.S;
    const int c = nn / RSi, rs = nn % RSi;
    b.roff = (rs / d.S) * d.dh - d.ph;
    b.soff = (rs % d.S) * d.dw - d.pw;
    b.xb = x + (index_t(g) * d.Cg + c) * d.HW();
  }
  template <int RB>
  AX_HD void b_load(const BCol& b, int k, int k_end, T (&v)[RB]) const {
    const int PQi = d.P * d.Q;
    int img = k / PQi, pq = k % PQi;
    int p = pq / d.Q, q = pq % d.Q;
#pragma unroll
    for (int j = 0; j < RB; ++j) {
      T val = T(0);
      if (b.ok && k + j < k_end) {
        const int ih = p * d.sh + b.roff, iw = q * d.sw + b.soff;
        if (ih >= 0 && ih < d.H && iw >= 0 && iw < d.W)
          val = b.xb[index_t(img) * d.C * d.HW() + index_t(ih) * d.W + iw];
      }
      v[j] = val;
      if (++q == d.Q) {
        q = 0;
        if (++p == d.P) {
          p = 0;
          ++img;
        }
      }
    }
  }
  AX_HD index_t c_col(int g, int n) const { return index_t(g) * d.Kg * d.CRS() + n; }
  AX_HD index_t c_ld() const { return d.CRS(); }
  AX_HD T* c_ptr() const { return dw; }
  AX_HD const T* bias_ptr(int) const { return nullptr; }
};

// Split-K plan of the backward-weight GEMM (M x N per group, reduction Kd): about 4 blocks per
// SM, each split at least 16 tiles (128 k) long, k_chunk a multiple of 8.
inline void conv_split_plan(index_t M, index_t N, index_t Kd, index_t groups, int bm, int sm_count,
                            int& splits, int& k_chunk) {
  const index_t blocks_mn = ((M + bm - 1) / bm) * ((N + 127) / 128) * groups;
  const index_t bmn = blocks_mn > 0 ? blocks_mn : 1;
  index_t want = (4 * index_t(sm_count) + bmn - 1) / bmn;
  const index_t max_splits = (Kd + 127) / 128;
  if (want > max_splits) want = max_splits;
  if (want > 65535) want = 65535;
  if (want < 1) want = 1;
  index_t chunk = (((Kd + want - 1) / want) + 7) / 8 * 8;
  if (chunk < 8) chunk = 8;
  index_t sp = (Kd + chunk - 1) / chunk;
  if (sp < 1) sp = 1;
  splits = static_cast<int>(sp);
  k_chunk = static_cast<int>(chunk);
}

// ------------------------------------------------------------------ the block
// Grid: x over N tiles, y over M tiles, z over (group, split) pairs: g = g_base + z / splits.
template <typename T, int BM_, class Prob>
struct IGemm {
  static constexpr int BM = BM_, BN = 128, BK = 8, NT = 2 * BM, RB = BK * BN / NT;
  static constexpr int LDA = BM + 4, LDB = BN + 4;
  static_assert(BM == 64 || BM == 128, "BM is 64 or 128");

  struct Smem {
    T As[2][BK][LDA];
    T Bs[2][BK][LDB];
  };

  struct Regs {
    T acc[8][8];
    T la[4];
    T lb[RB];
    typename Prob::ARow arow;
    typename Prob::BCol bcol;
    int m0, n0, g, k_begin, k_end;
  };

  struct Launch {
    int g_base = 0, splits = 1, k_chunk = 0;
    bool atomic = false;
  };

  static AX_HD int a_m(int tid) { return tid >> 1; }
  static AX_HD int a_k(int tid) { return (tid & 1) * 4; }
  static AX_HD int b_n(int tid) { return tid % BN; }
  static AX_HD int b_k(int tid) { return (tid / BN) * RB; }
  static AX_HD int row_of(int tid, int i) { return (tid / 16) * 4 + (i & 3) + (i >> 2) * (BM / 2); }
  static AX_HD int col_of(int tid, int j) { return (tid % 16) * 4 + (j & 3) + (j >> 2) * 64; }

  // Number of BK tiles this block multiplies.
  static AX_HD int tiles(const Regs& r) { return (r.k_end - r.k_begin + BK - 1) / BK; }

  static AX_HD void init(const Prob& pb, const Launch& L, int bx, int by, int bz, int tid,
                         Regs& r) {
    r.m0 = by * BM;
    r.n0 = bx * BN;
    r.g = L.g_base + bz / L.splits;
    const int split = bz % L.splits;
    r.k_begin = split * L.k_chunk;
    const index_t k_stop = index_t(r.k_begin) + L.k_chunk;
    r.k_end = k_stop < pb.Kd ? static_cast<int>(k_stop) : pb.Kd;
    if (r.k_end < r.k_begin) r.k_end = r.k_begin;
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 8; ++j) r.acc[i][j] = T(0);
    pb.a_row(r.g, r.m0 + a_m(tid), r.arow);
    pb.b_col(r.g, r.n0 + b_n(tid), r.bcol);
  }

  static AX_HD void load_global(const Prob& pb, int t, int tid, Regs& r) {
    const int k0 = r.k_begin + t * BK;
    pb.a_load(r.arow, k0 + a_k(tid), r.k_end, r.la);
    pb.template b_load<RB>(r.bcol, k0 + b_k(tid), r.k_end, r.lb);
  }

  static AX_HD void store_smem(Smem& s, int buf, int tid, const Regs& r) {
    const int am = a_m(tid), ak = a_k(tid), bn = b_n(tid), bk = b_k(tid);
#pragma unroll
    for (int j = 0; j < 4; ++j) s.As[buf][ak + j][am] = r.la[j];
#pragma unroll
    for (int j = 0; j < RB; ++j) s.Bs[buf][bk + j][bn] = r.lb[j];
  }

  static AX_HD void compute(const Smem& s, int buf, int tid, Regs& r) {
    const int ra0 = row_of(tid, 0), cb0 = col_of(tid, 0);
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      T a[8], b[8];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        a[i] = s.As[buf][k][ra0 + i];
        a[4 + i] = s.As[buf][k][ra0 + BM / 2 + i];
        b[i] = s.Bs[buf][k][cb0 + i];
        b[4 + i] = s.Bs[buf][k][cb0 + 64 + i];
      }
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) r.acc[i][j] += a[i] * b[j];
    }
  }

  static AX_HD void epilogue(const Prob& pb, const Launch& L, int tid, const Regs& r) {
    index_t coff[8];
    bool nok[8];
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const int n = r.n0 + col_of(tid, j);
      nok[j] = n < pb.N;
      coff[j] = nok[j] ? pb.c_col(r.g, n) : 0;
    }
    T* C = pb.c_ptr();
    const T* bias = pb.bias_ptr(r.g);
    const index_t ld = pb.c_ld();
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int m = r.m0 + row_of(tid, i);
      if (m >= pb.M) continue;
      const T add = bias ? bias[m] : T(0);
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        if (!nok[j]) continue;
        T* cp = C + coff[j] + index_t(m) * ld;
        if (L.atomic)
          ax_atomic_add(cp, r.acc[i][j]);
        else
          *cp = r.acc[i][j] + add;
      }
    }
  }
};

}  // namespace cuda
}  // namespace axonal
