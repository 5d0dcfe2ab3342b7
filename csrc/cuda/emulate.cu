// emulate.cu: host emulator of the CUDA kernels' blocks (see emulate.cuh). Host code only: the
// phase functions are AX_HD, so these loops run exactly what the __global__ kernels run, one
// thread after the other between two barriers.
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

#include "cuda/emulate.cuh"
#include "cuda/mma_tiles.cuh"
#include "cuda/pool.cuh"
#include "cuda/softmax_rows.cuh"
#include "cuda/wgmma_tiles.cuh"

namespace axonal {
namespace cuda {

namespace {

template <class Smem>
std::unique_ptr<Smem> poisoned_smem() {
  std::unique_ptr<Smem> s(new Smem);
  std::memset(static_cast<void*>(s.get()), 0xff, sizeof(Smem));  // NaN in every float slot
  return s;
}

// --------------------------------------------------------------- GEMM blocks
template <class Blk>
void sgemm_block(const GemmArgs<float>& g, int bx, int by, int bz) {
  auto s = poisoned_smem<typename Blk::Smem>();
  std::vector<typename Blk::Regs> r(Blk::NT);
  for (int t = 0; t < Blk::NT; ++t) Blk::init(g, bx, by, bz, t, r[t]);
  const int kt_n = (g.K + Blk::BK - 1) / Blk::BK;
  if (kt_n > 0)
    for (int t = 0; t < Blk::NT; ++t) {
      Blk::load_global(g, 0, r[t]);
      Blk::store_smem(*s, 0, r[t]);
    }
  // __syncthreads()
  for (int kt = 0; kt < kt_n; ++kt) {
    const bool more = kt + 1 < kt_n;
    for (int t = 0; t < Blk::NT; ++t) {
      if (more) Blk::load_global(g, kt + 1, r[t]);
      Blk::compute(*s, kt & 1, t, r[t]);
      if (more) Blk::store_smem(*s, (kt + 1) & 1, r[t]);
    }
    // __syncthreads()
  }
  for (int t = 0; t < Blk::NT; ++t) Blk::epilogue(g, t, r[t]);
}

template <class Blk, typename T>
void tiled_block(const GemmArgs<T>& g, int bx, int by, int bz) {
  auto s = poisoned_smem<typename Blk::Smem>();
  std::vector<typename Blk::Regs> r(Blk::NT);
  for (int t = 0; t < Blk::NT; ++t) Blk::init(g, bx, by, bz, t, r[t]);
  const int kt_n = (g.K + Blk::BK - 1) / Blk::BK;
  for (int kt = 0; kt < kt_n; ++kt) {
    for (int t = 0; t < Blk::NT; ++t) Blk::load(g, kt, t, r[t], *s);
    for (int t = 0; t < Blk::NT; ++t) Blk::compute(*s, t, r[t]);
  }
  for (int t = 0; t < Blk::NT; ++t) Blk::epilogue(g, t, r[t]);
}

template <typename T>
GemmArgs<T> args_of(const GemmCall& c, index_t K) {
  GemmArgs<T> g;
  g.M = static_cast<int>(c.M);
  g.N = static_cast<int>(c.N);
  g.K = static_cast<int>(K);
  g.alpha = static_cast<T>(c.alpha);
  g.beta = static_cast<T>(c.beta);
  g.A = static_cast<const T*>(c.A);
  g.lda = c.lda;
  g.sA = c.sA;
  g.B = static_cast<const T*>(c.B);
  g.ldb = c.ldb;
  g.sB = c.sB;
  g.C = static_cast<T*>(c.C);
  g.ldc = c.ldc;
  g.sC = c.sC;
  g.vec_c = c.ldc % 4 == 0 && c.sC % 4 == 0 && aligned16(c.C);
  return g;
}

template <bool TA, bool TB, bool VEC>
void sgemm_all(const GemmArgs<float>& g, index_t batch) {
  using Blk = Sgemm<TA, TB, VEC>;
  for (index_t b = 0; b < batch; ++b)
    for (int by = 0; by < (g.M + Blk::BM - 1) / Blk::BM; ++by)
      for (int bx = 0; bx < (g.N + Blk::BN - 1) / Blk::BN; ++bx)
        sgemm_block<Blk>(g, bx, by, static_cast<int>(b));
}

template <bool TA, bool TB>
void tiled_all(const GemmArgs<double>& g, index_t batch) {
  using Blk = TiledGemm<double, TA, TB>;
  for (index_t b = 0; b < batch; ++b)
    for (int by = 0; by < (g.M + Blk::BM - 1) / Blk::BM; ++by)
      for (int bx = 0; bx < (g.N + Blk::BN - 1) / Blk::BN; ++bx)
        tiled_block<Blk, double>(g, bx, by, static_cast<int>(b));
}

// --------------------------------------------------------------- TF32 mma.sync blocks
// One warp's mma.m16n8k8 .tf32: gathers A (16x8) and B (8x8) from the 32 lanes' fragments in the
// PTX ISA layout (mma_tiles.cuh), multiplies the TF32 values (the low 13 bits ignored, as the
// tensor cores do) and adds into each lane's accumulators in the same layout. Every element of A
// and B must come from exactly one (lane, register): checked.
void warp_mma_tf32(const std::uint32_t (*a)[4], const std::uint32_t (*b)[2], float* const* acc) {
  double A[16][8], Bm[8][8];
  int seen_a[16][8] = {}, seen_b[8][8] = {};
  auto val = [](std::uint32_t u) {
    u &= 0xffffe000u;
    float f;
    std::memcpy(&f, &u, 4);
    return static_cast<double>(f);
  };
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane & 3;
    const int ar[4] = {g, g + 8, g, g + 8}, ac[4] = {t, t, t + 4, t + 4};
    for (int q = 0; q < 4; ++q) {
      A[ar[q]][ac[q]] = val(a[lane][q]);
      ++seen_a[ar[q]][ac[q]];
    }
    for (int q = 0; q < 2; ++q) {
      Bm[t + 4 * q][g] = val(b[lane][q]);
      ++seen_b[t + 4 * q][g];
    }
  }
  for (int r = 0; r < 16; ++r)
    for (int k = 0; k < 8; ++k)
      if (seen_a[r][k] != 1 || (r < 8 && seen_b[r][k] != 1))
        throw std::logic_error("warp_mma_tf32: fragment layout does not cover A / B once");
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane & 3;
    for (int q = 0; q < 4; ++q) {
      const int row = g + 8 * (q >> 1), col = 2 * t + (q & 1);
      double sum = 0.0;
      for (int k = 0; k < 8; ++k) sum += A[row][k] * Bm[k][col];
      acc[lane][q] = static_cast<float>(static_cast<double>(acc[lane][q]) + sum);
    }
  }
}

// A block of the mma_tf32_kernel: the copies of each k-tile complete when issued here, in the
// kernel's order (k-tile kt + STAGES - 1 is copied into its stage before k-tile kt is multiplied,
// so a stage index mix-up shows in the result); shared memory starts as NaN.
template <class Blk>
void mma_block(const MmaArgs& g, int bx, int by, int bz, int gx, int gy) {
  std::vector<float> smem(Blk::SMEM_FLOATS, std::numeric_limits<float>::quiet_NaN());
  std::vector<typename Blk::Regs> r(Blk::NT);
  for (int t = 0; t < Blk::NT; ++t) Blk::init(g, bx, by, bz, gx, gy, r[t]);
  const int kt_n = (g.K + Blk::BK - 1) / Blk::BK;
  for (int s = 0; s < Blk::STAGES - 1 && s < kt_n; ++s)
    for (int t = 0; t < Blk::NT; ++t) Blk::load_stage(g, smem.data(), s, s, t, r[t]);
  std::vector<std::array<std::uint32_t, 4>> fa(32 * Blk::MI);
  std::vector<std::array<std::uint32_t, 2>> fb(32 * Blk::NJ);
  for (int kt = 0; kt < kt_n; ++kt) {
    const int next = kt + Blk::STAGES - 1;
    if (next < kt_n)
      for (int t = 0; t < Blk::NT; ++t)
        Blk::load_stage(g, smem.data(), next % Blk::STAGES, next, t, r[t]);
    const float* as = Blk::stage_a(smem.data(), kt % Blk::STAGES);
    const float* bs = Blk::stage_b(smem.data(), kt % Blk::STAGES);
    for (int w = 0; w < Blk::NT / 32; ++w) {
      const int wm = w / Blk::WARPS_N, wn = w % Blk::WARPS_N;
      for (int kk = 0; kk < Blk::BK; kk += 8) {
        for (int lane = 0; lane < 32; ++lane) {
          for (int i = 0; i < Blk::MI; ++i) {
            std::uint32_t f[4];
            Blk::frag_a(as, wm, i, kk, lane, f);
            std::memcpy(fa[i * 32 + lane].data(), f, sizeof f);
          }
          for (int j = 0; j < Blk::NJ; ++j) {
            std::uint32_t f[2];
            Blk::frag_b(bs, wn, j, kk, lane, f);
            std::memcpy(fb[j * 32 + lane].data(), f, sizeof f);
          }
        }
        for (int i = 0; i < Blk::MI; ++i)
          for (int j = 0; j < Blk::NJ; ++j) {
            std::uint32_t a[32][4], b[32][2];
            float* acc[32];
            for (int lane = 0; lane < 32; ++lane) {
              std::memcpy(a[lane], fa[i * 32 + lane].data(), sizeof a[lane]);
              std::memcpy(b[lane], fb[j * 32 + lane].data(), sizeof b[lane]);
              acc[lane] = r[w * 32 + lane].acc[i][j];
            }
            warp_mma_tf32(a, b, acc);
          }
      }
    }
  }
  for (int t = 0; t < Blk::NT; ++t) Blk::epilogue(g, t, r[t]);
}

template <class Blk>
void mma_all(const MmaArgs& g, index_t batch) {
  const int gx = (g.N + Blk::BN - 1) / Blk::BN, gy = (g.M + Blk::BM - 1) / Blk::BM;
  for (index_t b = 0; b < batch; ++b)
    for (int by = 0; by < gy; ++by)
      for (int bx = 0; bx < gx; ++bx) mma_block<Blk>(g, bx, by, static_cast<int>(b), gx, gy);
}

// --------------------------------------------------------------- wgmma blocks (TF32, BF16)
// One warpgroup's wgmma.mma_async m64nNkK from shared memory: A (64 x K) and B (N x K) read
// through their descriptors as the PTX ISA's canonical K-major layouts define them: without
// swizzle ((8,m),(T,2k)):((1T,SBO),(1,LBO)) (T = 4 TF32 per 16 bytes), or with the 128-byte
// swizzle (rows of 128 bytes, 8-row groups SBO apart, the 16-byte chunk bits of each address
// XORed with its row-within-1024 bits). ES = 4: TF32, K = 8, the inputs' low 13 bits dropped
// (the tensor cores read TF32 from the 32-bit words); ES = 2: bfloat16, K = 16. Products summed
// exactly and added into the 128 threads' accumulators in the wgmma fragment layout.
template <int N, int ES = 4>
void warpgroup_mma(const unsigned char* smem, std::uint64_t da, std::uint64_t db,
                   float* const* acc) {
  constexpr int KI = 32 / ES;  // K of one instruction
  auto field = [](std::uint64_t d, int shift) { return int((d >> shift) & 0x3FFFu) << 4; };
  auto at = [&](std::uint64_t d, int row, int k) {
    const int b = k * ES;  // the element's byte within its 32-byte k step
    int off;
    if (d >> 62 == 0) {  // no swizzle: core matrices of 8 rows x 16 bytes, LBO apart along K
      off = field(d, 0) + (row & 7) * 16 + (row >> 3) * field(d, 32) + (b & 15) +
            (b >> 4) * field(d, 16);
    } else {
      off = field(d, 0) + (row & 7) * 128 + (row >> 3) * field(d, 32) + (b >> 4) * 16 + (b & 15);
      off ^= ((off >> 7) & 7) << 4;
    }
    std::uint32_t u = 0;
    if constexpr (ES == 4) {
      std::memcpy(&u, smem + off, 4);
      u &= 0xffffe000u;
    } else {
      std::uint16_t h;
      std::memcpy(&h, smem + off, 2);
      u = std::uint32_t(h) << 16;
    }
    float f;
    std::memcpy(&f, &u, 4);
    return double(f);
  };
  AX_CHECK((da >> 62) <= 1 && (db >> 62) <= 1, "warpgroup_mma",
           ": only no swizzle or the 128-byte swizzle are emulated");
  AX_CHECK(ES == 4 || (da >> 62) == 1, "warpgroup_mma", ": BF16 is emulated with the swizzle only");
  for (int t = 0; t < 128; ++t) {
    const int w = t >> 5, g = (t & 31) >> 2, q = t & 3;
    for (int j = 0; j < N / 8; ++j)
      for (int h = 0; h < 2; ++h)
        for (int e = 0; e < 2; ++e) {
          const int m = 16 * w + g + 8 * h, n = 8 * j + 2 * q + e;
          double sum = 0.0;
          for (int k = 0; k < KI; ++k) sum += at(da, m, k) * at(db, n, k);
          float& d = acc[t][4 * j + 2 * h + e];
          d = static_cast<float>(static_cast<double>(d) + sum);
        }
  }
}

// A block of wgmma_tf32_kernel (K-major operands), copies complete when issued, in the
// kernel's stage order; shared memory starts as NaN bytes.
template <class Blk>
void wgmma_block(const MmaArgs& g, int bx, int by, int bz, int gx, int gy) {
  std::vector<unsigned char> smem(Blk::SMEM_BYTES, 0xff);
  int mt = 0, nt = 0;
  grouped_tile(bx, by, gx, gy, 8, mt, nt);
  const int m0 = mt * Blk::BM, n0 = nt * Blk::BN;
  const float* a = g.A + bz * g.sA;
  const float* b = g.B + bz * g.sB;
  std::vector<std::array<float, Blk::NACC>> acc(Blk::NT);
  for (auto& r : acc) r.fill(0.f);
  const int kt_n = (g.K + Blk::BK - 1) / Blk::BK;
  constexpr int PREFETCH = Blk::STAGES - 2;  // as the kernel
  for (int s = 0; s < PREFETCH && s < kt_n; ++s)
    for (int t = 0; t < Blk::NT; ++t) Blk::load_stage(g, smem.data(), s, s, t, a, b, m0, n0);
  for (int kt = 0; kt < kt_n; ++kt) {
    const int next = kt + PREFETCH;
    if (next < kt_n)
      for (int t = 0; t < Blk::NT; ++t)
        Blk::load_stage(g, smem.data(), next % Blk::STAGES, next, t, a, b, m0, n0);
    const std::uint32_t st = (kt % Blk::STAGES) * Blk::STAGE_BYTES;  // shared base 0 here
    for (int wg = 0; wg < 2; ++wg) {
      float* rows[128];
      for (int t = 0; t < 128; ++t) rows[t] = acc[128 * wg + t].data();
      for (int ks = 0; ks < Blk::BK / 8; ++ks)
        warpgroup_mma<Blk::BN, Blk::ES>(smem.data(), Blk::desc(st + Blk::a_offset(wg, ks)),
                                        Blk::desc(st + Blk::b_offset(ks)), rows);
    }
  }
  for (int t = 0; t < Blk::NT; ++t) {
    float r[Blk::NACC];
    std::memcpy(r, acc[t].data(), sizeof r);
    Blk::epilogue(g, g.C + bz * g.sC, t, m0, n0, r);
  }
}

// A block of wgmma_tma_tf32_kernel: each k-tile's boxes land (as the TMA writes them: the
// 128-byte swizzle, zeros outside the matrix) before the two consumer warpgroups read them.
template <class Blk>
void tma_block(const MmaArgs& g, int bx, int by, int bz, int gx, int gy) {
  std::vector<unsigned char> smem(Blk::STAGES * Blk::STAGE_BYTES, 0xff);
  int mt = 0, nt = 0;
  grouped_tile(bx, by, gx, gy, 8, mt, nt);
  const int m0 = mt * Blk::BM, n0 = nt * Blk::BN;
  // (MmaArgs carries the operands as float pointers; ES-byte elements here)
  const auto* a = reinterpret_cast<const unsigned char*>(g.A) + bz * g.sA * Blk::ES;
  const auto* b = reinterpret_cast<const unsigned char*>(g.B) + bz * g.sB * Blk::ES;
  auto box = [&](unsigned char* dst, const unsigned char* src, index_t ld, int row0, int rows,
                 int box_rows, int k0) {
    for (int r = 0; r < box_rows; ++r)
      for (int k = 0; k < Blk::BK; ++k) {
        unsigned char* to = dst + Blk::box_offset(r, k);
        if (row0 + r < rows && k0 + k < g.K)
          std::memcpy(to, src + (static_cast<index_t>(row0 + r) * ld + k0 + k) * Blk::ES, Blk::ES);
        else
          std::memset(to, 0, Blk::ES);
      }
  };
  std::vector<std::array<float, Blk::NACC>> acc(256);
  for (auto& r : acc) r.fill(0.f);
  const int kt_n = (g.K + Blk::BK - 1) / Blk::BK;
  for (int kt = 0; kt < kt_n; ++kt) {
    const std::uint32_t st = (kt % Blk::STAGES) * Blk::STAGE_BYTES;  // shared base 0 here
    box(smem.data() + st, a, g.lda, m0, g.M, Blk::BM, kt * Blk::BK);
    box(smem.data() + st + Blk::A_BYTES, b, g.ldb, n0, g.N, Blk::BN, kt * Blk::BK);
    for (int cw = 0; cw < 2; ++cw) {
      float* rows[128];
      for (int t = 0; t < 128; ++t) rows[t] = acc[128 * cw + t].data();
      for (int ks = 0; ks < Blk::BK / Blk::KSTEP; ++ks)
        warpgroup_mma<Blk::BN, Blk::ES>(smem.data(), Blk::desc(st + Blk::a_offset(cw, ks)),
                                        Blk::desc(st + Blk::b_offset(ks)), rows);
    }
  }
  for (int t = 0; t < 256; ++t) {
    float r[Blk::NACC];
    std::memcpy(r, acc[t].data(), sizeof r);
    Blk::epilogue(g, g.C + bz * g.sC, t, m0, n0, r);
  }
}

// The launcher's path: operands not K-major are transposed first (here into host vectors).
template <class Blk, bool TMA = false>
void wgmma_all(const GemmCall& c, index_t K) {
  constexpr int ES = Blk::ES;
  std::vector<unsigned char> at, bt;
  const auto* A = static_cast<const unsigned char*>(c.A);
  const auto* B = static_cast<const unsigned char*>(c.B);
  index_t lda = c.lda, sA = c.sA, ldb = c.ldb, sB = c.sB;
  const index_t kp = (K + 16 / ES - 1) / (16 / ES) * (16 / ES);  // rows of 16-byte multiples
  auto transpose = [&](const unsigned char* src, index_t ld, index_t stride, index_t rows,
                       std::vector<unsigned char>& dst) {  // src (K, rows) -> dst (rows, kp)
    const index_t n = stride == 0 ? 1 : c.batch;
    dst.assign(static_cast<size_t>(n * rows * kp * ES), 0);
    for (index_t b = 0; b < n; ++b)
      for (index_t k = 0; k < K; ++k)
        for (index_t r = 0; r < rows; ++r)
          std::memcpy(&dst[((b * rows + r) * kp + k) * ES], src + (b * stride + k * ld + r) * ES,
                      ES);
  };
  if (c.ta && K > 0) {
    transpose(A, c.lda, c.sA, c.M, at);
    A = at.data();
    lda = kp;
    sA = c.sA == 0 ? 0 : c.M * kp;
  }
  if (!c.tb && K > 0) {
    transpose(B, c.ldb, c.sB, c.N, bt);
    B = bt.data();
    ldb = kp;
    sB = c.sB == 0 ? 0 : c.N * kp;
  }
  MmaArgs g = tf32_args(c, K, reinterpret_cast<const float*>(A), lda, sA,
                        reinterpret_cast<const float*>(B), ldb, sB);
  g.vec = true;
  const int gx = static_cast<int>((c.N + Blk::BN - 1) / Blk::BN);
  const int gy = static_cast<int>((c.M + Blk::BM - 1) / Blk::BM);
  for (index_t b = 0; b < c.batch; ++b)
    for (int by = 0; by < gy; ++by)
      for (int bx = 0; bx < gx; ++bx) {
        if constexpr (TMA)
          tma_block<Blk>(g, bx, by, static_cast<int>(b), gx, gy);
        else
          wgmma_block<Blk>(g, bx, by, static_cast<int>(b), gx, gy);
      }
}

template <int WMS, int WNS, int ST>
void mma_tt(const GemmCall& c, const MmaArgs& g) {
  if (!c.ta && !c.tb) mma_all<MmaTf32<false, false, WMS, WNS, ST>>(g, c.batch);
  if (!c.ta && c.tb) mma_all<MmaTf32<false, true, WMS, WNS, ST>>(g, c.batch);
  if (c.ta && !c.tb) mma_all<MmaTf32<true, false, WMS, WNS, ST>>(g, c.batch);
  if (c.ta && c.tb) mma_all<MmaTf32<true, true, WMS, WNS, ST>>(g, c.batch);
}

// --------------------------------------------------------------- conv blocks
template <class Blk, class Prob>
void igemm_block(const Prob& pb, const typename Blk::Launch& L, int bx, int by, int bz) {
  auto s = poisoned_smem<typename Blk::Smem>();
  std::vector<typename Blk::Regs> r(Blk::NT);
  for (int t = 0; t < Blk::NT; ++t) Blk::init(pb, L, bx, by, bz, t, r[t]);
  const int nt = Blk::tiles(r[0]);
  if (nt > 0)
    for (int t = 0; t < Blk::NT; ++t) {
      Blk::load_global(pb, 0, t, r[t]);
      Blk::store_smem(*s, 0, t, r[t]);
    }
  for (int it = 0; it < nt; ++it) {
    const bool more = it + 1 < nt;
    for (int t = 0; t < Blk::NT; ++t) {
      if (more) Blk::load_global(pb, it + 1, t, r[t]);
      Blk::compute(*s, it & 1, t, r[t]);
      if (more) Blk::store_smem(*s, (it + 1) & 1, t, r[t]);
    }
  }
  for (int t = 0; t < Blk::NT; ++t) Blk::epilogue(pb, L, t, r[t]);
}

template <typename T, int BM, class Prob>
void igemm_all(const Prob& pb, int groups, int splits, int k_chunk, bool atomic) {
  using Blk = IGemm<T, BM, Prob>;
  typename Blk::Launch L;
  L.g_base = 0;
  L.splits = splits;
  L.k_chunk = k_chunk;
  L.atomic = atomic;
  const int gx = (pb.N + Blk::BN - 1) / Blk::BN, gy = (pb.M + BM - 1) / BM;
  for (int z = 0; z < groups * splits; ++z)
    for (int by = 0; by < gy; ++by)
      for (int bx = 0; bx < gx; ++bx) igemm_block<Blk, Prob>(pb, L, bx, by, z);
}

template <typename T, class Prob>
void conv_gemm(const Prob& pb, int groups, int splits, int k_chunk, bool atomic) {
  if constexpr (sizeof(T) == 4) {
    if (pb.M > 64) {
      igemm_all<T, 128>(pb, groups, splits, k_chunk, atomic);
      return;
    }
  }
  igemm_all<T, 64>(pb, groups, splits, k_chunk, atomic);
}

template <typename T>
void conv_t(int pass, const ConvGeom& d, const void* in0, const void* in1, const void* bias,
            void* out, int force_splits) {
  if (pass == 0) {
    if (index_t(d.N) * d.K * d.PQ() == 0) return;
    ConvFwdProb<T> pb;
    pb.d = d;
    pb.x = static_cast<const T*>(in0);
    pb.w = static_cast<const T*>(in1);
    pb.bias = static_cast<const T*>(bias);
    pb.y = static_cast<T*>(out);
    pb.M = d.Kg;
    pb.N = static_cast<int>(index_t(d.N) * d.PQ());
    pb.Kd = static_cast<int>(d.CRS());
    conv_gemm<T>(pb, d.groups, 1, pb.Kd > 1 ? pb.Kd : 1, false);
  } else if (pass == 1) {
    if (index_t(d.N) * d.C * d.HW() == 0) return;
    ConvBwdInputProb<T> pb;
    pb.d = d;
    pb.dy = static_cast<const T*>(in0);
    pb.w = static_cast<const T*>(in1);
    pb.dx = static_cast<T*>(out);
    pb.M = d.Cg;
    pb.N = static_cast<int>(index_t(d.N) * d.HW());
    pb.Kd = static_cast<int>(index_t(d.Kg) * d.RS());
    conv_gemm<T>(pb, d.groups, 1, pb.Kd > 1 ? pb.Kd : 1, false);
  } else {
    if (index_t(d.K) * d.CRS() == 0) return;
    ConvBwdWeightProb<T> pb;
    pb.d = d;
    pb.dy = static_cast<const T*>(in0);
    pb.x = static_cast<const T*>(in1);
    pb.dw = static_cast<T*>(out);
    pb.M = d.Kg;
    pb.N = static_cast<int>(d.CRS());
    pb.Kd = static_cast<int>(index_t(d.N) * d.PQ());
    const int bm = (sizeof(T) == 4 && pb.M > 64) ? 128 : 64;
    int splits = 1, k_chunk = 8;
    conv_split_plan(pb.M, pb.N, pb.Kd, d.groups, bm, 132, splits, k_chunk);
    if (force_splits > 0) {
      k_chunk = static_cast<int>((((pb.Kd + force_splits - 1) / force_splits) + 7) / 8 * 8);
      if (k_chunk < 8) k_chunk = 8;
      splits = (pb.Kd + k_chunk - 1) / k_chunk;
      if (splits < 1) splits = 1;
    }
    const bool atomic = splits > 1 || pb.Kd == 0;
    if (atomic) std::memset(out, 0, static_cast<size_t>(d.K) * d.CRS() * sizeof(T));
    conv_gemm<T>(pb, d.groups, splits, k_chunk, atomic);
  }
}

// As the kernels: in int where pool_fits_int32 holds (every test size), else in int64.
template <typename T, typename I>
void pool_t(int kind, const PoolGeomT<I>& g, const void* in, std::int64_t* idx, void* out) {
  const I nout = g.N * g.C * g.P * g.Q, nin = g.N * g.C * g.H * g.W;
  const T* x = static_cast<const T*>(in);
  T* y = static_cast<T*>(out);
  switch (kind) {
    case 0:
      for (I o = 0; o < nout; ++o) max_pool_fwd_one(g, x, y, idx, o);
      break;
    case 1: {  // as max_bwd_kernel: zero, then scatter-add the valid indices
      const I PQ = g.P * g.Q, HW = g.H * g.W;
      for (I i = 0; i < nin; ++i) y[i] = T(0);
      for (I o = 0; o < nout; ++o) {
        const std::int64_t j = idx[o];
        if (j >= 0 && j < HW) y[(o / PQ) * HW + I(j)] += x[o];
      }
      break;
    }
    case 2:
      for (I o = 0; o < nout; ++o) avg_pool_fwd_one(g, x, y, o);
      break;
    case 3:
      for (I i = 0; i < nin; ++i) avg_pool_bwd_one(g, x, y, i);
      break;
    case 4:
      for (I o = 0; o < nout; ++o) adaptive_avg_fwd_one(g, x, y, o);
      break;
    case 5:
      for (I i = 0; i < nin; ++i) adaptive_avg_bwd_one(g, x, y, i);
      break;
    default:
      break;
  }
}

template <typename T>
void pool_t(int kind, const PoolGeom& g, const void* in, std::int64_t* idx, void* out) {
  if (pool_fits_int32(g))
    pool_t<T, int>(kind, pool_geom_as<int>(g), in, idx, out);
  else
    pool_t<T, index_t>(kind, g, in, idx, out);
}

// --------------------------------------------------------------- softmax rows
// The warp shuffles of the kernels, lane by lane: every lane combines its value with lane ^ off.
template <typename A, class Op>
void butterfly(A (&v)[32], Op op) {
  for (int off = 16; off > 0; off >>= 1) {
    A t[32];
    for (int l = 0; l < 32; ++l) t[l] = op(v[l], v[l ^ off]);
    for (int l = 0; l < 32; ++l) v[l] = t[l];
  }
}

// Block-wide reduction as block_reduce in softmax.cu: a butterfly inside each warp of the NT
// threads, then the warp leaders in warp order.
template <typename A, class Op>
A block_reduce_emu(std::vector<A>& v, Op op) {
  const int nt = static_cast<int>(v.size());
  A total{};
  for (int w = 0; w < nt / 32; ++w) {
    A lanes[32];
    for (int l = 0; l < 32; ++l) lanes[l] = v[w * 32 + l];
    butterfly(lanes, op);
    total = w == 0 ? lanes[0] : op(total, lanes[0]);
  }
  return total;
}

// The row held in registers by NT threads (a warp: NT = 32; or a block), as softmax_warp_kernel /
// softmax_regs_kernel (and their backward kernels) compute it. A warp's butterfly leaves the
// result in every lane, a block's reduction broadcasts it: one value serves all threads.
template <typename T, typename A, int VPT, int PACK, int NT, bool LOG>
void softmax_reg_rows(bool bwd, const T* in0, const T* in1, T* out, index_t rows, int cols) {
  using Regs = std::array<A, VPT>;
  auto arr = [](Regs& a) -> A(&)[VPT] { return *reinterpret_cast<A(*)[VPT]>(a.data()); };
  auto mx = [](A a, A b) { return max_of(a, b); };
  auto sum = [](A a, A b) { return a + b; };
  std::vector<Regs> v(NT), g(NT);
  std::vector<A> red(NT);
  for (index_t row = 0; row < rows; ++row) {
    const index_t base = row * cols;
    if (!bwd) {
      for (int t = 0; t < NT; ++t)
        red[t] = row_load<T, A, VPT, PACK>(in0 + base, cols, t, NT, arr(v[t]));
      const A m = block_reduce_emu(red, mx);
      for (int t = 0; t < NT; ++t)
        red[t] = row_exp_sum<A, VPT, PACK, LOG>(cols, t, NT, arr(v[t]), m);
      const A s = block_reduce_emu(red, sum);
      for (int t = 0; t < NT; ++t)
        row_store<T, A, VPT, PACK, LOG>(out + base, cols, t, NT, arr(v[t]), m, s);
    } else {
      for (int t = 0; t < NT; ++t)
        red[t] = row_bwd_load<T, A, VPT, PACK, LOG>(in0 + base, in1 + base, cols, t, NT, arr(v[t]),
                                                    arr(g[t]));
      const A s = block_reduce_emu(red, sum);
      for (int t = 0; t < NT; ++t)
        row_bwd_store<T, A, VPT, PACK, LOG>(out + base, cols, t, NT, arr(v[t]), arr(g[t]), s);
    }
  }
}

template <typename T, typename A, bool LOG>
void softmax_block_rows(bool bwd, const T* in0, const T* in1, T* out, index_t rows, int cols) {
  constexpr int NT = 256, NW = NT / 32;
  for (index_t row = 0; row < rows; ++row) {
    const index_t base = row * cols;
    if (!bwd) {
      A m[NT], s[NT];
      for (int t = 0; t < NT; ++t) block_online<T, A>(in0 + base, cols, t, NT, m[t], s[t]);
      for (int w = 0; w < NW; ++w) {  // the shuffle merges inside each warp
        for (int off = 16; off > 0; off >>= 1) {
          A mt[32], st[32];
          for (int l = 0; l < 32; ++l) {
            mt[l] = m[w * 32 + l];
            st[l] = s[w * 32 + l];
            merge_ms(mt[l], st[l], m[w * 32 + (l ^ off)], s[w * 32 + (l ^ off)]);
          }
          for (int l = 0; l < 32; ++l) {
            m[w * 32 + l] = mt[l];
            s[w * 32 + l] = st[l];
          }
        }
      }
      A mm = m[0], ss = s[0];  // thread 0 merges the warp leaders
      for (int w = 1; w < NW; ++w) merge_ms(mm, ss, m[w * 32], s[w * 32]);
      for (int t = 0; t < NT; ++t)
        block_store<T, A, LOG>(in0 + base, out + base, cols, t, NT, mm, ss);
    } else {
      A p[32 * NW];
      for (int t = 0; t < NT; ++t)
        p[t] = block_bwd_partial<T, A, LOG>(in0 + base, in1 + base, cols, t, NT);
      A total = A(0);
      for (int w = 0; w < NW; ++w) {
        A lanes[32];
        for (int l = 0; l < 32; ++l) lanes[l] = p[w * 32 + l];
        butterfly(lanes, [](A a, A b) { return a + b; });
        total += lanes[0];
      }
      for (int t = 0; t < NT; ++t)
        block_bwd_store<T, A, LOG>(in0 + base, in1 + base, out + base, cols, t, NT, total);
    }
  }
}

template <typename T, bool LOG>
void softmax_t(bool bwd, const void* a, const void* b, void* o, index_t rows, int cols) {
  const T* in0 = static_cast<const T*>(a);
  const T* in1 = static_cast<const T*>(b);
  T* out = static_cast<T*>(o);
  const RowPlan plan =
      softmax_plan<T>(cols, aligned16(in0) && (!bwd || aligned16(in1)) && aligned16(out));
  if (plan.kind == RowKind::block_online) {
    softmax_block_rows<T, T, LOG>(bwd, in0, in1, out, rows, cols);
    return;
  }
  with_row_plan<T>(plan, [&](auto vpt, auto pack, auto nt) {
    softmax_reg_rows<T, T, decltype(vpt)::value, decltype(pack)::value, decltype(nt)::value, LOG>(
        bwd, in0, in1, out, rows, cols);
  });
}

}  // namespace

void emulate_gemm(const GemmCall& c, bool allow_vec, int tf32_kernel, const char* op) {
  if (c.in == DType::bf16) {  // bfloat16 in, float32 out: the TMA-fed wgmma kernel
    AX_CHECK(c.out == DType::f32 && tf32_kernel == 0, op,
             ": bfloat16 runs the wgmma kernel (float32 out, no TF32 kernel choice)");
    AX_CHECK(c.M >= 0 && c.N >= 0 && c.K >= 0 && c.batch >= 0, op, ": negative size");
    if (c.M == 0 || c.N == 0 || c.batch == 0) return;
    AX_CHECK((c.ta || (c.lda % 8 == 0 && c.sA % 8 == 0 && aligned16(c.A))) &&
                 (!c.tb || (c.ldb % 8 == 0 && c.sB % 8 == 0 && aligned16(c.B))),
             op, ": the wgmma kernels read K-major rows 16-byte aligned");
    wgmma_all<TmaBf16N256, true>(c, c.alpha == 0.0 ? 0 : c.K);
    return;
  }
  AX_CHECK(c.in == c.out && (c.in == DType::f32 || c.in == DType::f64), op,
           ": the emulator runs the float32 and float64 kernels only");
  AX_CHECK(!c.use_tf32 ||
               (c.in == DType::f32 && tf32_kernel >= 1 && tf32_kernel <= 8 && tf32_kernel != 4),
           op,
           ": TF32 runs the mma.sync kernels 1 .. 3 and the wgmma kernels 5 .. 8 on float32, got ",
           "kernel ", tf32_kernel);
  AX_CHECK(c.M >= 0 && c.N >= 0 && c.K >= 0 && c.batch >= 0, op, ": negative size");
  if (c.M == 0 || c.N == 0 || c.batch == 0) return;
  const index_t K = c.alpha == 0.0 ? 0 : c.K;
  if (c.use_tf32 && tf32_kernel >= 5) {
    AX_CHECK((c.ta || (c.lda % 4 == 0 && c.sA % 4 == 0 && aligned16(c.A))) &&
                 (!c.tb || (c.ldb % 4 == 0 && c.sB % 4 == 0 && aligned16(c.B))),
             op, ": the wgmma kernels read K-major rows 16-byte aligned");
    if (tf32_kernel == 8)
      wgmma_all<TmaTf32N128, true>(c, K);
    else if (tf32_kernel == 7)
      wgmma_all<TmaTf32N256, true>(c, K);
    else if (tf32_kernel == 6)
      wgmma_all<WgmmaTf32N256>(c, K);
    else
      wgmma_all<WgmmaTf32N128>(c, K);
    return;
  }
  if (c.use_tf32) {
    MmaArgs g = gemm_piece_args<MmaArgs, float, float>(c, K, 0, c.M, 0);
    g.vec = allow_vec && c.lda % 4 == 0 && c.ldb % 4 == 0 && c.sA % 4 == 0 && c.sB % 4 == 0 &&
            aligned16(c.A) && aligned16(c.B);
    g.vec_c = c_pairs_ok(c);
    if (tf32_kernel == 2)
      mma_tt<2, 4, 3>(c, g);
    else if (tf32_kernel == 3)
      mma_tt<2, 2, 4>(c, g);
    else
      mma_tt<2, 2, 3>(c, g);
    return;
  }
  if (c.in == DType::f64) {
    const GemmArgs<double> g = args_of<double>(c, K);
    if (!c.ta && !c.tb) tiled_all<false, false>(g, c.batch);
    if (!c.ta && c.tb) tiled_all<false, true>(g, c.batch);
    if (c.ta && !c.tb) tiled_all<true, false>(g, c.batch);
    if (c.ta && c.tb) tiled_all<true, true>(g, c.batch);
    return;
  }
  const bool vec = allow_vec && c.lda % 4 == 0 && c.ldb % 4 == 0 && c.sA % 4 == 0 &&
                   c.sB % 4 == 0 && aligned16(c.A) && aligned16(c.B);
  const GemmArgs<float> g = args_of<float>(c, K);
  if (vec) {
    if (!c.ta && !c.tb) sgemm_all<false, false, true>(g, c.batch);
    if (!c.ta && c.tb) sgemm_all<false, true, true>(g, c.batch);
    if (c.ta && !c.tb) sgemm_all<true, false, true>(g, c.batch);
    if (c.ta && c.tb) sgemm_all<true, true, true>(g, c.batch);
  } else {
    if (!c.ta && !c.tb) sgemm_all<false, false, false>(g, c.batch);
    if (!c.ta && c.tb) sgemm_all<false, true, false>(g, c.batch);
    if (c.ta && !c.tb) sgemm_all<true, false, false>(g, c.batch);
    if (c.ta && c.tb) sgemm_all<true, true, false>(g, c.batch);
  }
}

void emulate_conv2d(int pass, const ConvGeom& d, DType dt, const void* in0, const void* in1,
                    const void* bias, void* out, int splits, const char* op) {
  AX_CHECK(pass >= 0 && pass <= 2, op, ": pass must be 0, 1 or 2");
  AX_CHECK(dt == DType::f32 || dt == DType::f64, op, ": dtype must be float32 or float64");
  if (dt == DType::f32)
    conv_t<float>(pass, d, in0, in1, bias, out, splits);
  else
    conv_t<double>(pass, d, in0, in1, bias, out, splits);
}

void emulate_pool2d(int kind, const PoolGeom& g, DType dt, const void* in, std::int64_t* idx,
                    void* out, const char* op) {
  AX_CHECK(kind >= 0 && kind <= 5, op, ": kind must be 0..5");
  AX_CHECK(dt == DType::f32 || dt == DType::f64, op, ": dtype must be float32 or float64");
  check_pool_geom(g, op);
  if (dt == DType::f32)
    pool_t<float>(kind, g, in, idx, out);
  else
    pool_t<double>(kind, g, in, idx, out);
}

void emulate_softmax(bool backward, bool log, DType dt, const void* in0, const void* in1, void* out,
                     index_t rows, index_t cols, const char* op) {
  AX_CHECK(dt == DType::f32 || dt == DType::f64, op, ": dtype must be float32 or float64");
  AX_CHECK(rows >= 0 && cols >= 0 && cols <= kInt32Max, op, ": bad size");
  if (rows == 0 || cols == 0) return;
  const int c = static_cast<int>(cols);
  if (dt == DType::f32)
    log ? softmax_t<float, true>(backward, in0, in1, out, rows, c)
        : softmax_t<float, false>(backward, in0, in1, out, rows, c);
  else
    log ? softmax_t<double, true>(backward, in0, in1, out, rows, c)
        : softmax_t<double, false>(backward, in0, in1, out, rows, c);
}

}  // namespace cuda
}  // namespace axonal
