// wgmma_tiles.cuh: the TF32 GEMM on Hopper's warpgroup MMA (wgmma.mma_async m64nNk8, sm_90a;
// kernel in sm90a/gemm_wgmma.cu) as phase functions (AX_HD) that the kernel and the host
// emulator (emulate.cu) share.
//
// Both operands K-major (what wgmma takes for TF32): A (M, K) with row stride lda, B as (N, K)
// with row stride ldb (the launcher transposes other layouts into a workspace first), rows
// 16-byte aligned. Block tile 128 x BN x 32, two warpgroups of 64 rows each issuing
// m64nBNk8 from shared memory; k-tiles copied STAGES - 2 ahead through cp.async (one stage is
// still read by the wgmma group in flight, one is being read by the group just issued).
//
// Shared layout of a (rows x 32) K-major tile, no swizzle: "core matrices" of 8 rows x 16 bytes
// (8 x 4 TF32), each 128 contiguous bytes; core matrix (row group rg, k group kg) at byte
// (rg * 8 + kg) * 128. In the PTX ISA's canonical K-major form ((8,m),(T,2k)):((1T,SBO),(1,LBO))
// that is LBO = 128 bytes (the next k group) and SBO = 1024 bytes (the next 8 rows). A
// descriptor's start address selects the warpgroup's 64 rows and the k step (2 k groups).
//
// Accumulators of m64nNk8 .f32 (PTX ISA "wgmma register fragments", the same per warp as
// mma.sync m16n8): thread 32 w + 4 g + t of a warpgroup holds d[4 j + 2 h + e] = D[16 w + g +
// 8 h][8 j + 2 t + e] for j < N / 8, h, e in {0, 1}.
#pragma once
#include <cstdint>

#include "cuda/mma_tiles.cuh"

namespace axonal {
namespace cuda {

template <int BN_, int STAGES_>
struct WgmmaTf32 {
  static constexpr int BM = 128, BN = BN_, BK = 32, STAGES = STAGES_, NT = 256;
  static constexpr int ES = 4, KSTEP = 8;  // float elements read as TF32, k8 per wgmma
  static constexpr int KG = BK / 4;        // 16-byte k groups per row
  static constexpr int NACC = BN / 2;      // accumulators per thread (m64nBN, f32)
  static constexpr int LBO = 128, SBO = KG * 128;
  static constexpr int A_BYTES = BM * BK * 4, B_BYTES = BN * BK * 4;
  static constexpr int STAGE_BYTES = A_BYTES + B_BYTES;
  static constexpr int SMEM_BYTES = STAGES * STAGE_BYTES;
  static_assert(BN % 8 == 0 && BN <= 256, "wgmma N is a multiple of 8 up to 256");
  static_assert(STAGES >= 3, "a stage for the group in flight, one being read, one ahead");

  // Byte offset of the 16-byte chunk (row r, k group kg) in a K-major tile.
  static AX_HD int chunk_offset(int r, int kg) { return ((r >> 3) * KG + kg) * 128 + (r & 7) * 16; }

  // The descriptor of a K-major operand starting at shared address addr (no swizzle).
  static AX_HD std::uint64_t desc(std::uint32_t addr) {
    return std::uint64_t((addr & 0x3FFFFu) >> 4) | (std::uint64_t(LBO >> 4) << 16) |
           (std::uint64_t(SBO >> 4) << 32);
  }

  // Shared addresses (relative to the stage's base) of warpgroup wg's A rows and of B at k step
  // ks (k = 8 ks .. 8 ks + 7).
  static AX_HD std::uint32_t a_offset(int wg, int ks) { return chunk_offset(64 * wg, 2 * ks); }
  static AX_HD std::uint32_t b_offset(int ks) { return A_BYTES + chunk_offset(0, 2 * ks); }

  // Copies rows row0 .. row0 + ROWS - 1 (below row_lim), k0 .. k0 + 31 (below k_lim) of a
  // K-major matrix into the tile at dst. Chunk c of thread c % NT: 8 rows of one k group lie
  // next to each other in shared memory (no bank conflicts), 4 k groups of a row next to each
  // other in global memory (64-byte pieces).
  template <int ROWS>
  static AX_HD void copy(unsigned char* dst, const float* base, index_t ld, int row0, int row_lim,
                         int k0, int k_lim, int tid) {
    constexpr int CHUNKS = ROWS * KG;
    static_assert(CHUNKS % NT == 0, "tile must split evenly over the threads");
#pragma unroll
    for (int p = 0; p < CHUNKS / NT; ++p) {
      const int c = tid + p * NT, r = ((c >> 3) / KG) * 8 + (c & 7), kg = (c >> 3) % KG;
      const int gr = row0 + r, gk = k0 + 4 * kg;
      int n = gr < row_lim ? k_lim - gk : 0;
      n = n < 0 ? 0 : (n > 4 ? 4 : n);
      const float* src = n > 0 ? base + static_cast<index_t>(gr) * ld + gk : base;
      cp_async16(reinterpret_cast<float*>(dst + chunk_offset(r, kg)), src, 4 * n);
    }
  }

  static AX_HD void load_stage(const MmaArgs& g, unsigned char* smem, int stage, int kt, int tid,
                               const float* a, const float* b, int m0, int n0) {
    unsigned char* s = smem + stage * STAGE_BYTES;
    copy<BM>(s, a, g.lda, m0, g.M, kt * BK, g.K, tid);
    copy<BN>(s + A_BYTES, b, g.ldb, n0, g.N, kt * BK, g.K, tid);
  }

  // C = alpha acc + beta C for thread tid's accumulators (block origin m0, n0), inside C only.
  static AX_HD void epilogue(const MmaArgs& g, float* c, int tid, int m0, int n0,
                             const float (&acc)[NACC]) {
    const int wg = tid >> 7, w = (tid >> 5) & 3, lane = tid & 31, g4 = lane >> 2, t = lane & 3;
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int m = m0 + 64 * wg + 16 * w + g4 + 8 * h;
      if (m >= g.M) continue;
      float* crow = c + static_cast<index_t>(m) * g.ldc;
#pragma unroll
      for (int j = 0; j < BN / 8; ++j) {
        store_pair(g, crow, n0 + 8 * j + 2 * t, acc[4 * j + 2 * h], acc[4 * j + 2 * h + 1]);
      }
    }
  }
};

// The TMA-fed wgmma kernel (TF32: set_tf32_kernel 7, 8; BF16: the automatic choice on
// Hopper; wgmma_tma_kernel in sm90a/gemm_wgmma.cu): three warpgroups, one thread of the first
// issuing the tensor-memory-accelerator copies (cp.async.bulk.tensor) of each k-tile, the other
// two computing 64 rows each; full / empty mbarriers per stage instead of block-wide barriers.
// The TMA writes a box of 128-byte rows (BK = 32 TF32 or 64 BF16 elements of K) with the
// 128-byte swizzle: 16-byte chunk c of row r lands at chunk c ^ (r % 8) of that row (stage bases
// 1024-byte aligned), the layout wgmma reads through a SWIZZLE_128B descriptor (SBO = 1024 bytes
// between 8-row groups; each wgmma takes 32 bytes of K (k8 TF32, k16 BF16) and the k step moves
// the start address by 32 bytes, the swizzle being applied to the address bits). ES: the
// element's bytes (4: float read as TF32, 2: bfloat16).
template <int ES_, int BN_, int STAGES_>
struct TmaGemm {
  static constexpr int ES = ES_, BM = 128, BN = BN_, BK = 128 / ES, STAGES = STAGES_;
  static constexpr int KSTEP = 32 / ES;  // K of one wgmma
  static constexpr int CONSUMERS = 2, NT = 128 * (CONSUMERS + 1);
  static constexpr int NACC = BN / 2;
  static constexpr int SBO = 1024;
  static constexpr int A_BYTES = BM * 128, B_BYTES = BN * 128;
  static constexpr int STAGE_BYTES = A_BYTES + B_BYTES;
  static constexpr int SMEM_BYTES = STAGES * STAGE_BYTES + 1024;  // + room to align to 1024
  static_assert(ES == 4 || ES == 2, "TF32 (4-byte) or BF16 (2-byte) elements");
  static_assert(BN % 8 == 0 && BN <= 256,
                "wgmma N is a multiple of 8 up to 256; a TMA box row "
                "count up to 256");
  static_assert(A_BYTES % 1024 == 0 && B_BYTES % 1024 == 0, "1024-byte aligned tiles");

  // Byte offset where the TMA's 128-byte swizzle puts element (row r, k) of a box.
  static AX_HD int box_offset(int r, int k) {
    const int b = k * ES;
    return r * 128 + ((((b >> 4) ^ (r & 7)) << 4) | (b & 15));
  }
  // The SWIZZLE_128B descriptor of a K-major operand at shared address addr.
  static AX_HD std::uint64_t desc(std::uint32_t addr) {
    return std::uint64_t((addr & 0x3FFFFu) >> 4) | (std::uint64_t(1) << 16) |
           (std::uint64_t(SBO >> 4) << 32) | (std::uint64_t(1) << 62);
  }
  // Shared addresses (from the stage's base) of consumer warpgroup cw's A rows and of B at k
  // step ks (k = KSTEP ks .. KSTEP (ks + 1) - 1).
  static AX_HD std::uint32_t a_offset(int cw, int ks) { return 64 * 128 * cw + 32 * ks; }
  static AX_HD std::uint32_t b_offset(int ks) { return A_BYTES + 32 * ks; }

  // C = alpha acc + beta C for consumer thread ctid (0 .. 255), as the cp.async kernel's.
  static AX_HD void epilogue(const MmaArgs& g, float* c, int ctid, int m0, int n0,
                             const float (&acc)[NACC]) {
    WgmmaTf32<BN, 3>::epilogue(g, c, ctid, m0, n0, acc);
  }
};

// The wgmma kernels the launcher knows (set_tf32_kernel 5, 6): 128 x 128 x 32 with 5 stages
// (copies 3 k-tiles ahead), 128 x 256 x 32 with 4 stages (2 ahead); one wgmma group stays in
// flight while the next k-tile's copies are issued.
using WgmmaTf32N128 = WgmmaTf32<128, 5>;
using WgmmaTf32N256 = WgmmaTf32<256, 4>;
// set_tf32_kernel 7: TMA, 128 x 256 x 32, 4 stages; 8: TMA, 128 x 128 x 32, 6 stages; BF16:
// TMA, 128 x 256 x 64, 4 stages.
using TmaTf32N256 = TmaGemm<4, 256, 4>;
using TmaTf32N128 = TmaGemm<4, 128, 6>;
using TmaBf16N256 = TmaGemm<2, 256, 4>;

}  // namespace cuda
}  // namespace axonal
