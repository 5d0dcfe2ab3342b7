// mma_tiles.cuh: the TF32 tensor-core GEMM (mma.sync m16n8k8, sm_80+) written as phase functions
// (AX_HD) so that the __global__ kernel in gemm.cu and the host emulator in emulate.cu run the
// same tiling, copy, fragment and epilogue code. Same contract as gemm_tiles.cuh:
//
//   C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b]     (row-major, b < batch; beta == 0 never
//   reads C)
//
// Block tile (64 WARPS_M) x (64 WARPS_N) x 32, one 64x64 tile per warp (4 x 8 mma tiles of 16x8,
// 128 accumulators per thread). Shared memory holds STAGES k-tiles of A and B, each in its
// operand's memory order, filled by cp.async (16-byte copies, zero-filled past the matrix edges;
// 4-byte copies when rows are not 16-byte aligned) STAGES - 1 tiles ahead of the multiply:
//
//   prologue: copy k-tiles 0 .. STAGES-2, one commit group each
//   for kt: wait until k-tile kt has landed (cp.async.wait_group STAGES-2); __syncthreads();
//           copy k-tile kt+STAGES-1 into the stage k-tile kt-1 used; commit; multiply stage kt
//
// The barrier at the top of iteration kt is what makes the refill of stage (kt-1) % STAGES safe:
// every warp has finished multiplying it. Rows are padded so that the fragment loads hit 32
// distinct banks: a row along k is 32 + 4 floats (bank 4 g + t for lane 4 g + t), a row along m
// or n is (64 WARPS) + 8 floats (bank 8 t + g).
//
// Fragment layout of mma.m16n8k8 .tf32 (PTX ISA, "Matrix fragments for mma.m16n8k8"), lane =
// 4 g + t: a0 = A[g][t], a1 = A[g+8][t], a2 = A[g][t+4], a3 = A[g+8][t+4]; b0 = B[t][g],
// b1 = B[t+4][g]; c_q = C[g + 8 (q / 2)][2 t + q % 2]. Inputs are rounded to TF32 by
// cvt.rna (nearest, ties away from zero), as to_tf32 below does on the host.
#pragma once
#include <cstdint>
#include <cstring>

#include "cuda/common.cuh"
#include "cuda/gemm.cuh"

namespace axonal {
namespace cuda {

// Arguments of the tensor-core GEMM kernels (In: float or bf16 storage, Out: float or bf16).
template <typename In, typename Out>
struct TcArgs {
  int M = 0, N = 0, K = 0;
  float alpha = 1.f, beta = 0.f;
  const In* A = nullptr;
  index_t lda = 0, sA = 0;
  const In* B = nullptr;
  index_t ldb = 0, sB = 0;
  Out* C = nullptr;
  index_t ldc = 0, sC = 0;
  bool vec = false;    // A and B rows start 16-byte aligned (lda, ldb, sA, sB in 16-byte units)
  bool vec_c = false;  // C can be written as pairs (ldc, sC even, C 8-byte aligned)
};
using MmaArgs = TcArgs<float, float>;

// The arguments of one launch piece (gemm_launch splits M and the batch so that grid.y and
// grid.z stay in range): rows m .. m + mc of C for batch entries b .., pointers shifted.
template <class Args, typename In, typename Out>
Args gemm_piece_args(const GemmCall& c, index_t K, index_t m, index_t mc, index_t b) {
  Args g;
  g.M = static_cast<int>(mc);
  g.N = static_cast<int>(c.N);
  g.K = static_cast<int>(K);
  g.alpha = static_cast<float>(c.alpha);
  g.beta = static_cast<float>(c.beta);
  g.A = static_cast<const In*>(c.A) + b * c.sA + (c.ta ? m : m * c.lda);
  g.lda = c.lda;
  g.sA = c.sA;
  g.B = static_cast<const In*>(c.B) + b * c.sB;
  g.ldb = c.ldb;
  g.sB = c.sB;
  g.C = static_cast<Out*>(c.C) + b * c.sC + m * c.ldc;
  g.ldc = c.ldc;
  g.sC = c.sC;
  return g;
}

// float -> TF32 bit pattern, rounded to nearest with ties away from zero (cvt.rna.tf32.f32).
AX_HD std::uint32_t to_tf32(float x) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  std::uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
  return r;
#else
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) return (u + 0x1000u) & 0xffffe000u;  // finite
  return (u & 0x007fffffu) ? 0x7fffffffu : u;  // NaN stays NaN, infinities stay
#endif
}

// Copies `bytes` (0, 4, 8, 12 or 16) from global src to shared dst and zero-fills the rest of the
// 16 bytes; src must be a valid 16-byte aligned address even when bytes == 0.
AX_HD void cp_async16(float* dst, const float* src, int bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(src), "r"(bytes));
#elif defined(__CUDA_ARCH__)
  __trap();
#else
  std::memset(dst, 0, 16);
  if (bytes > 0) std::memcpy(dst, src, static_cast<size_t>(bytes));
#endif
}

// One float: copied when `copy`, else zero (src must still be a valid address).
AX_HD void cp_async4(float* dst, const float* src, bool copy) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(s), "l"(src),
               "r"(copy ? 4 : 0));
#elif defined(__CUDA_ARCH__)
  __trap();
#else
  *dst = copy ? *src : 0.f;
#endif
}

AX_HD void cp_async_commit() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;\n" ::);
#endif
}

// Waits until at most N of this thread's committed copy groups are still in flight.
template <int N>
AX_HD void cp_async_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
#endif
}

// C[n], C[n + 1] of a row (those inside the matrix) = alpha (v0, v1) + beta C; one float2
// store where g.vec_c allows. beta == 0 never reads C.
AX_HD void store_pair(const MmaArgs& g, float* crow, int n, float v0, float v1) {
  v0 *= g.alpha;
  v1 *= g.alpha;
  if (n + 1 < g.N && g.vec_c) {
    float2* p = reinterpret_cast<float2*>(crow + n);
    if (g.beta != 0.f) {
      const float2 old = *p;
      v0 += g.beta * old.x;
      v1 += g.beta * old.y;
    }
    *p = make_float2(v0, v1);
  } else {
    if (n < g.N) crow[n] = g.beta != 0.f ? v0 + g.beta * crow[n] : v0;
    if (n + 1 < g.N) crow[n + 1] = g.beta != 0.f ? v1 + g.beta * crow[n + 1] : v1;
  }
}

// Whether C's rows can be written as float2 pairs (MmaArgs::vec_c).
inline bool c_pairs_ok(const GemmCall& c) {
  return c.ldc % 2 == 0 && c.sC % 2 == 0 && reinterpret_cast<std::uintptr_t>(c.C) % 8 == 0;
}

// The arguments of a TF32 kernel over whole K-major-or-not operands already placed (pointers,
// row and batch strides), C and the scalars from the call.
inline MmaArgs tf32_args(const GemmCall& c, index_t K, const float* A, index_t lda, index_t sA,
                         const float* B, index_t ldb, index_t sB) {
  MmaArgs g = gemm_piece_args<MmaArgs, float, float>(c, K, 0, c.M, 0);
  g.A = A;
  g.lda = lda;
  g.sA = sA;
  g.B = B;
  g.ldb = ldb;
  g.sB = sB;
  g.vec_c = c_pairs_ok(c);
  return g;
}

// Block (bx, by) of a (gx, gy) grid -> its tile (mt, nt): blocks are numbered row by row and
// handed out in column-major order within bands of `group` tile rows (neighbouring blocks share
// A rows and B columns in L2).
AX_HD void grouped_tile(int bx, int by, int gx, int gy, int group, int& mt, int& nt) {
  const int id = by * gx + bx, band = group * gx;
  const int first = (id / band) * group;
  const int rows = gy - first < group ? gy - first : group;
  mt = first + (id % band) % rows;
  nt = (id % band) / rows;
}

template <bool TA, bool TB, int WARPS_M_, int WARPS_N_, int STAGES_>
struct MmaTf32 {
  static constexpr int WARPS_M = WARPS_M_, WARPS_N = WARPS_N_, STAGES = STAGES_;
  static constexpr bool TRANS_A = TA, TRANS_B = TB;
  static_assert(STAGES >= 2, "a pipeline needs two stages at least");
  static constexpr int WM = 64, WN = 64, MI = WM / 16, NJ = WN / 8;
  static constexpr int BM = WM * WARPS_M, BN = WN * WARPS_N, BK = 32;
  static constexpr int NT = 32 * WARPS_M * WARPS_N;
  // Stage layout: A as (m, k) rows [BM][BK + 4] or, when TA, (k, m) rows [BK][BM + 8]; B as
  // (k, n) rows [BK][BN + 8] or, when TB, (n, k) rows [BN][BK + 4].
  static constexpr int A_ROWS = TA ? BK : BM, A_COLS = TA ? BM : BK, A_LD = A_COLS + (TA ? 8 : 4);
  static constexpr int B_ROWS = TB ? BN : BK, B_COLS = TB ? BK : BN, B_LD = B_COLS + (TB ? 4 : 8);
  static constexpr int A_STAGE = A_ROWS * A_LD, B_STAGE = B_ROWS * B_LD;
  static constexpr int SMEM_FLOATS = STAGES * (A_STAGE + B_STAGE);
  static constexpr int SMEM_BYTES = SMEM_FLOATS * 4;
  static constexpr int GROUP_M = 8;  // blocks walk 8 M-tiles down before moving right (L2 reuse)

  struct Regs {
    float acc[MI][NJ][4];
    const float* a;  // A, B and C of this batch entry
    const float* b;
    float* c;
    int m0, n0;
  };

  static AX_HD void tile_of(int bx, int by, int gx, int gy, int& mt, int& nt) {
    grouped_tile(bx, by, gx, gy, GROUP_M, mt, nt);
  }

  static AX_HD void init(const MmaArgs& g, int bx, int by, int bz, int gx, int gy, Regs& r) {
    int mt = 0, nt = 0;
    tile_of(bx, by, gx, gy, mt, nt);
    r.m0 = mt * BM;
    r.n0 = nt * BN;
    r.a = g.A + bz * g.sA;
    r.b = g.B + bz * g.sB;
    r.c = g.C + bz * g.sC;
#pragma unroll
    for (int i = 0; i < MI; ++i)
#pragma unroll
      for (int j = 0; j < NJ; ++j)
#pragma unroll
        for (int q = 0; q < 4; ++q) r.acc[i][j][q] = 0.f;
  }

  // A ROWS x COLS window of a row-major matrix (row stride ld, rows < row_lim, columns <
  // col_lim) starting at (row0, col0) into a shared tile with row stride LD; chunk ch of 4 floats
  // is copied by thread ch % NT.
  template <int ROWS, int COLS, int LD>
  static AX_HD void copy_tile(float* dst, const float* base, index_t ld, int row0, int row_lim,
                              int col0, int col_lim, bool vec, int tid) {
    constexpr int CPR = COLS / 4, CHUNKS = ROWS * CPR;
    static_assert(CHUNKS % NT == 0, "tile must split evenly over the threads");
#pragma unroll
    for (int p = 0; p < CHUNKS / NT; ++p) {
      const int ch = tid + p * NT, r = ch / CPR, c = (ch % CPR) * 4;
      const int gr = row0 + r, gc = col0 + c;
      int n = gr < row_lim ? col_lim - gc : 0;
      n = n < 0 ? 0 : (n > 4 ? 4 : n);
      const float* src = n > 0 ? base + static_cast<index_t>(gr) * ld + gc : base;
      float* d = dst + r * LD + c;
      if (vec) {
        cp_async16(d, src, 4 * n);
      } else {
#pragma unroll
        for (int e = 0; e < 4; ++e) cp_async4(d + e, e < n ? src + e : base, e < n);
      }
    }
  }

  // Issues the copies of k-tile kt into `stage`.
  static AX_HD void load_stage(const MmaArgs& g, float* smem, int stage, int kt, int tid,
                               const Regs& r) {
    float* as = smem + stage * (A_STAGE + B_STAGE);
    float* bs = as + A_STAGE;
    const int k0 = kt * BK;
    if (!TA)
      copy_tile<A_ROWS, A_COLS, A_LD>(as, r.a, g.lda, r.m0, g.M, k0, g.K, g.vec, tid);
    else
      copy_tile<A_ROWS, A_COLS, A_LD>(as, r.a, g.lda, k0, g.K, r.m0, g.M, g.vec, tid);
    if (!TB)
      copy_tile<B_ROWS, B_COLS, B_LD>(bs, r.b, g.ldb, k0, g.K, r.n0, g.N, g.vec, tid);
    else
      copy_tile<B_ROWS, B_COLS, B_LD>(bs, r.b, g.ldb, r.n0, g.N, k0, g.K, g.vec, tid);
  }

  static AX_HD const float* stage_a(const float* smem, int stage) {
    return smem + stage * (A_STAGE + B_STAGE);
  }
  static AX_HD const float* stage_b(const float* smem, int stage) {
    return smem + stage * (A_STAGE + B_STAGE) + A_STAGE;
  }

  // Fragment of the 16x8 A piece i of warp row wm at k offset kk (0, 8, 16, 24) for `lane`.
  static AX_HD void frag_a(const float* as, int wm, int i, int kk, int lane,
                           std::uint32_t (&a)[4]) {
    const int g = lane >> 2, t = lane & 3, m = wm * WM + i * 16 + g, k = kk + t;
    a[0] = to_tf32(TA ? as[k * A_LD + m] : as[m * A_LD + k]);
    a[1] = to_tf32(TA ? as[k * A_LD + m + 8] : as[(m + 8) * A_LD + k]);
    a[2] = to_tf32(TA ? as[(k + 4) * A_LD + m] : as[m * A_LD + k + 4]);
    a[3] = to_tf32(TA ? as[(k + 4) * A_LD + m + 8] : as[(m + 8) * A_LD + k + 4]);
  }

  // Fragment of the 8x8 B piece j of warp column wn at k offset kk for `lane`.
  static AX_HD void frag_b(const float* bs, int wn, int j, int kk, int lane,
                           std::uint32_t (&b)[2]) {
    const int g = lane >> 2, t = lane & 3, n = wn * WN + j * 8 + g, k = kk + t;
    b[0] = to_tf32(TB ? bs[n * B_LD + k] : bs[k * B_LD + n]);
    b[1] = to_tf32(TB ? bs[n * B_LD + k + 4] : bs[(k + 4) * B_LD + n]);
  }

  // C = alpha acc + beta C for this thread's accumulators, inside the matrix only.
  static AX_HD void epilogue(const MmaArgs& g, int tid, const Regs& r) {
    const int warp = tid >> 5, lane = tid & 31, g4 = lane >> 2, t = lane & 3;
    const int wm = warp / WARPS_N, wn = warp % WARPS_N;
#pragma unroll
    for (int i = 0; i < MI; ++i)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int m = r.m0 + wm * WM + i * 16 + g4 + 8 * h;
        if (m >= g.M) continue;
        float* crow = r.c + static_cast<index_t>(m) * g.ldc;
#pragma unroll
        for (int j = 0; j < NJ; ++j) {
          const int n = r.n0 + wn * WN + j * 8 + 2 * t;
          store_pair(g, crow, n, r.acc[i][j][2 * h], r.acc[i][j][2 * h + 1]);
        }
      }
  }
};

}  // namespace cuda
}  // namespace axonal
