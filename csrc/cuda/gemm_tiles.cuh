// gemm_tiles.cuh: the tiled GEMM kernels written as per-thread phase functions (AX_HD), so the
// __global__ kernels in gemm.cu and the host emulator in emulate.cu run the same code.
//
//   C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b]     (row-major, b < batch)
//   op(A): (M, K); A is (M, K) with row stride lda, or (K, M) when TA (transposed)
//   op(B): (K, N); B is (K, N) with row stride ldb, or (N, K) when TB
//   C: (M, N) with row stride ldc; batch strides sA, sB, sC in elements (0 broadcasts)
//
// A block runs phases separated by __syncthreads():
//   init -> [load_global(0); store_smem(0)] -> sync ->
//   for kt: [load_global(kt + 1)]; compute(kt & 1); [store_smem((kt + 1) & 1)]; sync ->
//   epilogue
// beta == 0 never reads C (C may hold NaN or garbage).
#pragma once
#include "cuda/common.cuh"

namespace axonal {
namespace cuda {

template <typename T>
struct GemmArgs {
  int M = 0, N = 0, K = 0;
  T alpha = T(1), beta = T(0);
  const T* A = nullptr;
  index_t lda = 0, sA = 0;
  const T* B = nullptr;
  index_t ldb = 0, sB = 0;
  T* C = nullptr;
  index_t ldc = 0, sC = 0;
  bool vec_c = false;  // C rows can be written as float4: ldc % 4 == 0 and C 16-byte aligned
};

// ------------------------------------------------------------------ fp32 SIMT, 128x128x8
// 256 threads; each computes an 8x8 sub-tile as four 4x4 pieces (two row groups 16 apart, two
// column groups 32 apart) inside a 32x64 warp tile; warps form a 4 (M) x 2 (N) grid. Shared tiles
// are stored k-major (As[k][m], Bs[k][n]) so that the compute loop reads float4s; global tiles are
// read as float4 when VEC (leading dimensions % 4 == 0, 16-byte aligned bases), and element by
// element with bounds checks at the edges. Double-buffered: the next tile is fetched into
// registers while the current one is multiplied.
template <bool TA, bool TB, bool VEC>
struct Sgemm {
  static constexpr int BM = 128, BN = 128, BK = 8, NT = 256, LDS = 128 + 4;

  struct Smem {
    float As[2][BK][LDS];
    float Bs[2][BK][LDS];
  };

  struct Regs {
    float acc[8][8];
    float la[4], lb[4];
    const float* pa;  // first element of this thread's A load slot (tile 0)
    const float* pb;
    float* c;  // C of this batch entry
    int m0, n0;
    int am, ak, bn, bk;  // load slot inside the tile
  };

  static AX_HD void init(const GemmArgs<float>& g, int bx, int by, int bz, int tid, Regs& r) {
    r.m0 = by * BM;
    r.n0 = bx * BN;
    for (int i = 0; i < 8; ++i)
      for (int j = 0; j < 8; ++j) r.acc[i][j] = 0.f;
    const float* A = g.A + bz * g.sA;
    const float* B = g.B + bz * g.sB;
    r.c = g.C + bz * g.sC;
    if (!TA) {  // A (M, K): 4 consecutive k of one row
      r.am = tid >> 1;
      r.ak = (tid & 1) * 4;
      const int m = r.m0 + r.am;
      r.pa = m < g.M ? A + static_cast<index_t>(m) * g.lda + r.ak : A;
    } else {  // A (K, M): 4 consecutive m of one k
      r.ak = tid >> 5;
      r.am = (tid & 31) * 4;
      r.pa = r.ak < g.K ? A + static_cast<index_t>(r.ak) * g.lda + r.m0 + r.am : A;
    }
    if (!TB) {  // B (K, N): 4 consecutive n of one k
      r.bk = tid >> 5;
      r.bn = (tid & 31) * 4;
      r.pb = r.bk < g.K ? B + static_cast<index_t>(r.bk) * g.ldb + r.n0 + r.bn : B;
    } else {  // B (N, K): 4 consecutive k of one n
      r.bn = tid >> 1;
      r.bk = (tid & 1) * 4;
      const int n = r.n0 + r.bn;
      r.pb = n < g.N ? B + static_cast<index_t>(n) * g.ldb + r.bk : B;
    }
  }

  // Four values along a contiguous run: run[j] valid for j < avail (avail <= 0: none).
  static AX_HD void load4(const float* p, int avail, float (&v)[4]) {
    if (VEC && avail >= 4) {
      const float4 t = *reinterpret_cast<const float4*>(p);
      v[0] = t.x;
      v[1] = t.y;
      v[2] = t.z;
      v[3] = t.w;
    } else {
      for (int j = 0; j < 4; ++j) v[j] = j < avail ? p[j] : 0.f;
    }
  }

  static AX_HD void load_global(const GemmArgs<float>& g, int kt, Regs& r) {
    const int k0 = kt * BK;
    if (!TA) {
      const bool ok = r.m0 + r.am < g.M;
      load4(r.pa + k0, ok ? g.K - (k0 + r.ak) : 0, r.la);
    } else {
      const int k = k0 + r.ak;
      load4(r.pa + static_cast<index_t>(k0) * g.lda, k < g.K ? g.M - (r.m0 + r.am) : 0, r.la);
    }
    if (!TB) {
      const int k = k0 + r.bk;
      load4(r.pb + static_cast<index_t>(k0) * g.ldb, k < g.K ? g.N - (r.n0 + r.bn) : 0, r.lb);
    } else {
      const bool ok = r.n0 + r.bn < g.N;
      load4(r.pb + k0, ok ? g.K - (k0 + r.bk) : 0, r.lb);
    }
  }

  static AX_HD void store_smem(Smem& s, int buf, const Regs& r) {
    if (!TA) {
      for (int j = 0; j < 4; ++j) s.As[buf][r.ak + j][r.am] = r.la[j];
    } else {
      for (int j = 0; j < 4; ++j) s.As[buf][r.ak][r.am + j] = r.la[j];
    }
    if (!TB) {
      for (int j = 0; j < 4; ++j) s.Bs[buf][r.bk][r.bn + j] = r.lb[j];
    } else {
      for (int j = 0; j < 4; ++j) s.Bs[buf][r.bk + j][r.bn] = r.lb[j];
    }
  }

  // Row / column of this thread's i-th accumulator row / j-th column inside the tile.
  static AX_HD int row_of(int tid, int i) {
    const int warp = tid >> 5, lane = tid & 31;
    return (warp >> 1) * 32 + (lane >> 3) * 4 + (i & 3) + (i >> 2) * 16;
  }
  static AX_HD int col_of(int tid, int j) {
    const int warp = tid >> 5, lane = tid & 31;
    return (warp & 1) * 64 + (lane & 7) * 4 + (j & 3) + (j >> 2) * 32;
  }

  static AX_HD void compute(const Smem& s, int buf, int tid, Regs& r) {
    const int ra0 = row_of(tid, 0), cb0 = col_of(tid, 0);
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      const float4 a0 = *reinterpret_cast<const float4*>(&s.As[buf][k][ra0]);
      const float4 a1 = *reinterpret_cast<const float4*>(&s.As[buf][k][ra0 + 16]);
      const float4 b0 = *reinterpret_cast<const float4*>(&s.Bs[buf][k][cb0]);
      const float4 b1 = *reinterpret_cast<const float4*>(&s.Bs[buf][k][cb0 + 32]);
      const float a[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
      const float b[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) r.acc[i][j] += a[i] * b[j];
    }
  }

  static AX_HD void epilogue(const GemmArgs<float>& g, int tid, const Regs& r) {
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const int m = r.m0 + row_of(tid, i);
      if (m >= g.M) continue;
      float* crow = r.c + static_cast<index_t>(m) * g.ldc;
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int n = r.n0 + col_of(tid, 4 * h);
        float v[4];
        for (int j = 0; j < 4; ++j) v[j] = g.alpha * r.acc[i][4 * h + j];
        if (g.vec_c && n + 3 < g.N) {
          float4* cp = reinterpret_cast<float4*>(crow + n);
          if (g.beta != 0.f) {
            const float4 old = *cp;
            v[0] += g.beta * old.x;
            v[1] += g.beta * old.y;
            v[2] += g.beta * old.z;
            v[3] += g.beta * old.w;
          }
          *cp = make_float4(v[0], v[1], v[2], v[3]);
        } else {
          for (int j = 0; j < 4; ++j) {
            if (n + j >= g.N) break;
            crow[n + j] = g.beta != 0.f ? v[j] + g.beta * crow[n + j] : v[j];
          }
        }
      }
    }
  }
};

// ------------------------------------------------------------------ simple tiled (fp64)
// 64x64x16 tiles, 256 threads, each a 4x4 sub-tile (rows ty + 16 i, columns tx + 16 j);
// single-buffered, element loads with bounds checks. Used for float64 (and as a reference path).
template <typename T, bool TA, bool TB>
struct TiledGemm {
  static constexpr int BM = 64, BN = 64, BK = 16, NT = 256;

  struct Smem {
    T As[BK][BM + 1];
    T Bs[BK][BN + 1];
  };

  struct Regs {
    T acc[4][4];
    const T* A;
    const T* B;
    T* c;
    int m0, n0;
  };

  static AX_HD void init(const GemmArgs<T>& g, int bx, int by, int bz, int, Regs& r) {
    r.m0 = by * BM;
    r.n0 = bx * BN;
    r.A = g.A + bz * g.sA;
    r.B = g.B + bz * g.sB;
    r.c = g.C + bz * g.sC;
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) r.acc[i][j] = T(0);
  }

  // Global tile kt -> shared memory (4 elements of A and 4 of B per thread).
  static AX_HD void load(const GemmArgs<T>& g, int kt, int tid, const Regs& r, Smem& s) {
    const int k0 = kt * BK;
    for (int q = 0; q < 4; ++q) {
      const int e = tid + q * NT;
      int m, k;
      if (!TA) {
        k = e % BK;
        m = e / BK;
      } else {
        m = e % BM;
        k = e / BM;
      }
      const int gm = r.m0 + m, gk = k0 + k;
      T v = T(0);
      if (gm < g.M && gk < g.K)
        v = !TA ? r.A[static_cast<index_t>(gm) * g.lda + gk]
                : r.A[static_cast<index_t>(gk) * g.lda + gm];
      s.As[k][m] = v;
    }
    for (int q = 0; q < 4; ++q) {
      const int e = tid + q * NT;
      int n, k;
      if (!TB) {
        n = e % BN;
        k = e / BN;
      } else {
        k = e % BK;
        n = e / BK;
      }
      const int gn = r.n0 + n, gk = k0 + k;
      T v = T(0);
      if (gn < g.N && gk < g.K)
        v = !TB ? r.B[static_cast<index_t>(gk) * g.ldb + gn]
                : r.B[static_cast<index_t>(gn) * g.ldb + gk];
      s.Bs[k][n] = v;
    }
  }

  static AX_HD void compute(const Smem& s, int tid, Regs& r) {
    const int tx = tid % 16, ty = tid / 16;
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      T a[4], b[4];
      for (int i = 0; i < 4; ++i) a[i] = s.As[k][ty + 16 * i];
      for (int j = 0; j < 4; ++j) b[j] = s.Bs[k][tx + 16 * j];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) r.acc[i][j] += a[i] * b[j];
    }
  }

  static AX_HD void epilogue(const GemmArgs<T>& g, int tid, const Regs& r) {
    const int tx = tid % 16, ty = tid / 16;
    for (int i = 0; i < 4; ++i) {
      const int m = r.m0 + ty + 16 * i;
      if (m >= g.M) continue;
      for (int j = 0; j < 4; ++j) {
        const int n = r.n0 + tx + 16 * j;
        if (n >= g.N) continue;
        T* cp = r.c + static_cast<index_t>(m) * g.ldc + n;
        const T v = g.alpha * r.acc[i][j];
        *cp = g.beta != T(0) ? v + g.beta * *cp : v;
      }
    }
  }
};

}  // namespace cuda
}  // namespace axonal
