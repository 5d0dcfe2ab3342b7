// gemm.cu: GEMM kernels and their launcher (see gemm.cuh for the contract).
//   SIMT fp32     Sgemm<TA, TB, VEC> (gemm_tiles.cuh), 128x128x8 tiles, 256 threads, 8x8 per thread
//   fp64          TiledGemm<double, TA, TB> (gemm_tiles.cuh), 64x64x16 tiles
//   TF32          mma.sync m16n8k8 kernel of gemm_mma.cu (mma_tiles.cuh), 64x64 warp tiles and a
//                 cp.async pipeline; the WMMA kernel below where a device lacks its shared memory
//   tensor cores  tc_gemm_kernel below: WMMA m16n16k8 TF32 (fp32 in, fp32 out) or m16n16k16 BF16
//                 (bf16 in, fp32 or bf16 out), fp32 accumulation, 128x128 block tile, 8 warps with
//                 64x32 warp tiles, double-buffered shared tiles kept in the operands' memory order
//                 (row- or column-major fragments), edges zero-filled; sm_80+ only.
#include <cuda_bf16.h>
#include <mma.h>

#include <type_traits>

#include "cuda/gemm.cuh"
#include "cuda/gemm_tiles.cuh"
#include "cuda/mma_tiles.cuh"

namespace axonal {
namespace cuda {

namespace {

// ------------------------------------------------------------------ phase-structured kernels
template <class Blk>
__global__ void __launch_bounds__(256, 2) sgemm_kernel(const GemmArgs<float> g) {
  __shared__ __align__(16) typename Blk::Smem s;
  typename Blk::Regs r;
  const int tid = threadIdx.x;
  Blk::init(g, blockIdx.x, blockIdx.y, blockIdx.z, tid, r);
  const int kt_n = (g.K + Blk::BK - 1) / Blk::BK;
  if (kt_n > 0) {
    Blk::load_global(g, 0, r);
    Blk::store_smem(s, 0, r);
  }
  __syncthreads();
  for (int kt = 0; kt < kt_n; ++kt) {
    const bool more = kt + 1 < kt_n;
    if (more) Blk::load_global(g, kt + 1, r);
    Blk::compute(s, kt & 1, tid, r);
    if (more) Blk::store_smem(s, (kt + 1) & 1, r);
    __syncthreads();
  }
  Blk::epilogue(g, tid, r);
}

template <class Blk, typename T>
__global__ void __launch_bounds__(256) tiled_gemm_kernel(const GemmArgs<T> g) {
  __shared__ typename Blk::Smem s;
  typename Blk::Regs r;
  const int tid = threadIdx.x;
  Blk::init(g, blockIdx.x, blockIdx.y, blockIdx.z, tid, r);
  const int kt_n = (g.K + Blk::BK - 1) / Blk::BK;
  for (int kt = 0; kt < kt_n; ++kt) {
    Blk::load(g, kt, tid, r, s);
    __syncthreads();
    Blk::compute(s, tid, r);
    __syncthreads();
  }
  Blk::epilogue(g, tid, r);
}

// ------------------------------------------------------------------ tensor cores (WMMA)
// Storage types: TF32 operands are floats; BF16 operands travel as their 16-bit patterns.
template <typename In>
struct TcTraits;
template <>
struct TcTraits<float> {
  using S = float;
  static constexpr int BK = 16, WK = 8, VW = 4;  // VW: elements per 16-byte chunk
};
template <>
struct TcTraits<__nv_bfloat16> {
  using S = unsigned short;
  static constexpr int BK = 32, WK = 16, VW = 8;
};

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
template <typename Out>
__device__ __forceinline__ Out from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// A ROWS x COLS tile in memory order (COLS contiguous), copied in 16-byte chunks: chunk p of
// thread tid is chunk tid + 256 p. Elements outside [row_lim) x [col_lim) read as zero.
template <typename S, int ROWS, int COLS, int VW>
struct TileCopy {
  static constexpr int CPR = COLS / VW, CHUNKS = ROWS * CPR, PER = CHUNKS / 256;
  static_assert(CHUNKS % 256 == 0, "tile must split evenly over 256 threads");
  union Chunk {
    uint4 v;
    S s[VW];
  };

  static __device__ __forceinline__ void load(const S* base, index_t ld, int row0, int row_lim,
                                              int col0, int col_lim, bool vec, int tid,
                                              Chunk (&c)[PER]) {
#pragma unroll
    for (int p = 0; p < PER; ++p) {
      const int ch = tid + p * 256;
      const int gr = row0 + ch / CPR, gc = col0 + (ch % CPR) * VW;
      c[p].v = make_uint4(0u, 0u, 0u, 0u);
      if (gr < row_lim && gc < col_lim) {
        const S* src = base + static_cast<index_t>(gr) * ld + gc;
        if (vec && gc + VW <= col_lim) {
          c[p].v = *reinterpret_cast<const uint4*>(src);
        } else {
#pragma unroll
          for (int j = 0; j < VW; ++j)
            if (gc + j < col_lim) c[p].s[j] = src[j];
        }
      }
    }
  }

  static __device__ __forceinline__ void store(S* smem, int ld_s, int tid, const Chunk (&c)[PER]) {
#pragma unroll
    for (int p = 0; p < PER; ++p) {
      const int ch = tid + p * 256;
      const int r = ch / CPR, cc = (ch % CPR) * VW;
      *reinterpret_cast<uint4*>(smem + r * ld_s + cc) = c[p].v;
    }
  }
};

template <typename In, typename Out, bool TA, bool TB>
__global__ void __launch_bounds__(256, 2) tc_gemm_kernel(const TcArgs<In, Out> g) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  namespace wmma = nvcuda::wmma;
  using Tr = TcTraits<In>;
  using S = typename Tr::S;
  constexpr int BM = 128, BN = 128, BK = Tr::BK, WK = Tr::WK, VW = Tr::VW, PAD = 8;
  // Shared tiles in the operands' memory order: A is (m, k) or, when TA, (k, m); B is (k, n)
  // or, when TB, (n, k).
  constexpr int A_ROWS = TA ? BK : BM, A_COLS = TA ? BM : BK;
  constexpr int B_ROWS = TB ? BN : BK, B_COLS = TB ? BK : BN;
  constexpr int A_LD = A_COLS + PAD, B_LD = B_COLS + PAD;
  constexpr int A_ELEMS = A_ROWS * A_LD, B_ELEMS = B_ROWS * B_LD;
  constexpr int TILE_BYTES = 2 * (A_ELEMS + B_ELEMS) * static_cast<int>(sizeof(S));
  constexpr int SCRATCH_BYTES = 8 * 256 * static_cast<int>(sizeof(float));
  constexpr int SMEM_BYTES = TILE_BYTES > SCRATCH_BYTES ? TILE_BYTES : SCRATCH_BYTES;
  static_assert(SMEM_BYTES <= 48 * 1024, "static shared memory limit");
  __shared__ __align__(128) unsigned char smem_raw[SMEM_BYTES];
  S* As = reinterpret_cast<S*>(smem_raw);  // [2][A_ELEMS]
  S* Bs = As + 2 * A_ELEMS;                // [2][B_ELEMS]

  using ACopy = TileCopy<S, A_ROWS, A_COLS, VW>;
  using BCopy = TileCopy<S, B_ROWS, B_COLS, VW>;
  typename ACopy::Chunk ra[ACopy::PER];
  typename BCopy::Chunk rb[BCopy::PER];

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int wm = warp >> 2, wn = warp & 3;  // warp tile: rows wm*64 .. +63, cols wn*32 .. +31
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const S* Ab = reinterpret_cast<const S*>(g.A + blockIdx.z * g.sA);
  const S* Bb = reinterpret_cast<const S*>(g.B + blockIdx.z * g.sB);
  Out* Cb = g.C + blockIdx.z * g.sC;

  auto load_tiles = [&](int kt) {
    const int k0 = kt * BK;
    if (!TA)
      ACopy::load(Ab, g.lda, m0, g.M, k0, g.K, g.vec, tid, ra);
    else
      ACopy::load(Ab, g.lda, k0, g.K, m0, g.M, g.vec, tid, ra);
    if (!TB)
      BCopy::load(Bb, g.ldb, k0, g.K, n0, g.N, g.vec, tid, rb);
    else
      BCopy::load(Bb, g.ldb, n0, g.N, k0, g.K, g.vec, tid, rb);
  };
  auto store_tiles = [&](int buf) {
    ACopy::store(As + buf * A_ELEMS, A_LD, tid, ra);
    BCopy::store(Bs + buf * B_ELEMS, B_LD, tid, rb);
  };

  using Prec = typename std::conditional<std::is_same<In, float>::value, wmma::precision::tf32,
                                         __nv_bfloat16>::type;
  using LayA = typename std::conditional<TA, wmma::col_major, wmma::row_major>::type;
  using LayB = typename std::conditional<TB, wmma::col_major, wmma::row_major>::type;
  using FragA = wmma::fragment<wmma::matrix_a, 16, 16, WK, Prec, LayA>;
  using FragB = wmma::fragment<wmma::matrix_b, 16, 16, WK, Prec, LayB>;
  using FragC = wmma::fragment<wmma::accumulator, 16, 16, WK, float>;
  using Elem =
      typename std::conditional<std::is_same<In, float>::value, float, __nv_bfloat16>::type;
  FragC acc[4][2];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.f);

  const int kt_n = (g.K + BK - 1) / BK;
  if (kt_n > 0) {
    load_tiles(0);
    store_tiles(0);
  }
  __syncthreads();
  for (int kt = 0; kt < kt_n; ++kt) {
    const bool more = kt + 1 < kt_n;
    if (more) load_tiles(kt + 1);
    const Elem* as = reinterpret_cast<const Elem*>(As + (kt & 1) * A_ELEMS);
    const Elem* bs = reinterpret_cast<const Elem*>(Bs + (kt & 1) * B_ELEMS);
#pragma unroll
    for (int kk = 0; kk < BK; kk += WK) {
      FragA fa[4];
      FragB fb[2];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int m = wm * 64 + i * 16;
        wmma::load_matrix_sync(fa[i], TA ? as + kk * A_LD + m : as + m * A_LD + kk, A_LD);
        if (std::is_same<In, float>::value) {
#pragma unroll
          for (int t = 0; t < fa[i].num_elements; ++t)
            fa[i].x[t] = wmma::__float_to_tf32(fa[i].x[t]);
        }
      }
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        const int n = wn * 32 + j * 16;
        wmma::load_matrix_sync(fb[j], TB ? bs + n * B_LD + kk : bs + kk * B_LD + n, B_LD);
        if (std::is_same<In, float>::value) {
#pragma unroll
          for (int t = 0; t < fb[j].num_elements; ++t)
            fb[j].x[t] = wmma::__float_to_tf32(fb[j].x[t]);
        }
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
    if (more) store_tiles((kt + 1) & 1);
    __syncthreads();
  }

  // Epilogue through a per-warp 16x16 scratch (the tiles are no longer read: the loop ended
  // with a barrier): bounds checks, alpha / beta, conversion to Out.
  float* scratch = reinterpret_cast<float*>(smem_raw) + warp * 256;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      wmma::store_matrix_sync(scratch, acc[i][j], 16, wmma::mem_row_major);
      __syncwarp();
      for (int e = lane; e < 256; e += 32) {
        const int m = m0 + wm * 64 + i * 16 + e / 16, n = n0 + wn * 32 + j * 16 + e % 16;
        if (m < g.M && n < g.N) {
          Out* cp = Cb + static_cast<index_t>(m) * g.ldc + n;
          float v = g.alpha * scratch[e];
          if (g.beta != 0.f) v += g.beta * to_float(*cp);
          *cp = from_float<Out>(v);
        }
      }
      __syncwarp();
    }
  }
#elif defined(__CUDA_ARCH__)
  __trap();  // built for an architecture without TF32/BF16 tensor cores; the launcher refuses
#endif
}

// ------------------------------------------------------------------ launch helpers
template <bool TA, bool TB, bool VEC>
void launch_sgemm(const GemmCall& c, index_t K, cudaStream_t st, const char* op) {
  using Blk = Sgemm<TA, TB, VEC>;
  const float* A = static_cast<const float*>(c.A);
  const float* B = static_cast<const float*>(c.B);
  float* C = static_cast<float*>(c.C);
  for_each_gemm_piece(c.M, c.batch, Blk::BM, [&](index_t m, index_t mc, index_t b, index_t bc) {
    GemmArgs<float> g;
    g.M = static_cast<int>(mc);
    g.N = static_cast<int>(c.N);
    g.K = static_cast<int>(K);
    g.alpha = static_cast<float>(c.alpha);
    g.beta = static_cast<float>(c.beta);
    g.A = A + b * c.sA + (TA ? m : m * c.lda);
    g.lda = c.lda;
    g.sA = c.sA;
    g.B = B + b * c.sB;
    g.ldb = c.ldb;
    g.sB = c.sB;
    g.C = C + b * c.sC + m * c.ldc;
    g.ldc = c.ldc;
    g.sC = c.sC;
    g.vec_c = c.ldc % 4 == 0 && c.sC % 4 == 0 && aligned16(c.C);
    const dim3 grid(static_cast<unsigned>(ceil_div(c.N, Blk::BN)),
                    static_cast<unsigned>(ceil_div(mc, Blk::BM)), static_cast<unsigned>(bc));
    sgemm_kernel<Blk><<<grid, Blk::NT, 0, st>>>(g);
    AX_LAUNCH_CHECK(op, "sgemm_kernel launch");
  });
}

template <bool TA, bool TB>
void launch_f64(const GemmCall& c, index_t K, cudaStream_t st, const char* op) {
  using Blk = TiledGemm<double, TA, TB>;
  const double* A = static_cast<const double*>(c.A);
  const double* B = static_cast<const double*>(c.B);
  double* C = static_cast<double*>(c.C);
  for_each_gemm_piece(c.M, c.batch, Blk::BM, [&](index_t m, index_t mc, index_t b, index_t bc) {
    GemmArgs<double> g;
    g.M = static_cast<int>(mc);
    g.N = static_cast<int>(c.N);
    g.K = static_cast<int>(K);
    g.alpha = c.alpha;
    g.beta = c.beta;
    g.A = A + b * c.sA + (TA ? m : m * c.lda);
    g.lda = c.lda;
    g.sA = c.sA;
    g.B = B + b * c.sB;
    g.ldb = c.ldb;
    g.sB = c.sB;
    g.C = C + b * c.sC + m * c.ldc;
    g.ldc = c.ldc;
    g.sC = c.sC;
    const dim3 grid(static_cast<unsigned>(ceil_div(c.N, Blk::BN)),
                    static_cast<unsigned>(ceil_div(mc, Blk::BM)), static_cast<unsigned>(bc));
    tiled_gemm_kernel<Blk, double><<<grid, Blk::NT, 0, st>>>(g);
    AX_LAUNCH_CHECK(op, "tiled_gemm_kernel launch");
  });
}

template <typename In, typename Out, bool TA, bool TB>
void launch_tc(const GemmCall& c, index_t K, cudaStream_t st, const char* op) {
  constexpr int VW = TcTraits<In>::VW;
  const bool vec = c.lda % VW == 0 && c.ldb % VW == 0 && c.sA % VW == 0 && c.sB % VW == 0 &&
                   aligned16(c.A) && aligned16(c.B);
  for_each_gemm_piece(c.M, c.batch, 128, [&](index_t m, index_t mc, index_t b, index_t bc) {
    TcArgs<In, Out> g = gemm_piece_args<TcArgs<In, Out>, In, Out>(c, K, m, mc, b);
    g.vec = vec;  // m is a multiple of 128, so shifting A keeps the chunk alignment
    const dim3 grid(static_cast<unsigned>(ceil_div(c.N, 128)),
                    static_cast<unsigned>(ceil_div(mc, 128)), static_cast<unsigned>(bc));
    tc_gemm_kernel<In, Out, TA, TB><<<grid, 256, 0, st>>>(g);
    AX_LAUNCH_CHECK(op, "tc_gemm_kernel launch");
  });
}

// Calls F<TA, TB>::run(...) for the runtime transposes.
#define AX_DISPATCH_TT(ta, tb, CALL) \
  do {                               \
    if (!(ta) && !(tb)) {            \
      constexpr bool TA_ = false;    \
      constexpr bool TB_ = false;    \
      CALL;                          \
    } else if (!(ta) && (tb)) {      \
      constexpr bool TA_ = false;    \
      constexpr bool TB_ = true;     \
      CALL;                          \
    } else if ((ta) && !(tb)) {      \
      constexpr bool TA_ = true;     \
      constexpr bool TB_ = false;    \
      CALL;                          \
    } else {                         \
      constexpr bool TA_ = true;     \
      constexpr bool TB_ = true;     \
      CALL;                          \
    }                                \
  } while (0)

void validate(const GemmCall& c, const char* op) {
  AX_CHECK(c.M >= 0 && c.N >= 0 && c.K >= 0 && c.batch >= 0, op,
           ": sizes must be >= 0, got M=", c.M, " N=", c.N, " K=", c.K, " batch=", c.batch);
  AX_CHECK(c.M <= kInt32Max && c.N <= kInt32Max && c.K <= kInt32Max, op,
           ": M, N and K must be below 2^31, got M=", c.M, " N=", c.N, " K=", c.K);
  const bool pair_ok = (c.in == DType::f32 && c.out == DType::f32) ||
                       (c.in == DType::f64 && c.out == DType::f64) ||
                       (c.in == DType::bf16 && (c.out == DType::f32 || c.out == DType::bf16));
  AX_CHECK(pair_ok, op, ": unsupported dtypes: inputs ", dtype_name(c.in), ", output ",
           dtype_name(c.out));
  AX_CHECK(!c.use_tf32 || c.in == DType::f32, op, ": TF32 applies to float32 inputs only, got ",
           dtype_name(c.in));
  const index_t a_cols = c.ta ? c.M : c.K, b_cols = c.tb ? c.K : c.N;
  AX_CHECK(c.lda >= std::max<index_t>(1, a_cols), op, ": lda = ", c.lda, " < ",
           std::max<index_t>(1, a_cols), " columns of A");
  AX_CHECK(c.ldb >= std::max<index_t>(1, b_cols), op, ": ldb = ", c.ldb, " < ",
           std::max<index_t>(1, b_cols), " columns of B");
  AX_CHECK(c.ldc >= std::max<index_t>(1, c.N), op, ": ldc = ", c.ldc, " < ",
           std::max<index_t>(1, c.N), " columns of C");
  AX_CHECK(c.sA >= 0 && c.sB >= 0 && c.sC >= 0, op, ": batch strides must be >= 0, got ", c.sA,
           ", ", c.sB, ", ", c.sC);
  if (c.batch > 1 && c.M > 0 && c.N > 0)
    AX_CHECK(c.sC >= (c.M - 1) * c.ldc + c.N, op, ": batch stride of C (", c.sC,
             ") makes the outputs of different batch entries overlap");
  const bool reads_ab = c.M > 0 && c.N > 0 && c.K > 0 && c.alpha != 0.0 && c.batch > 0;
  AX_CHECK(!reads_ab || (c.A != nullptr && c.B != nullptr), op, ": null A or B pointer");
  AX_CHECK(c.M == 0 || c.N == 0 || c.batch == 0 || c.C != nullptr, op, ": null C pointer");
}

}  // namespace

// The TF32 kernel a call runs: the set one, or for 0 (auto) the TMA-fed wgmma kernel 7 where
// it is available (H100, gpu_check run 2 of 2026-11-26: 266-303 TFLOP/s, 0.72-0.79x cuBLAS TF32
// at 4096^3 / 8192^3, against 107-119 for the best mma.sync kernel), else 0 (mma.sync 1).
static int tf32_choice() {
  const int which = tf32_kernel();
  return which == 0 && tf32_wgmma_available() ? 7 : which;
}

// What a wgmma request runs where the wgmma kernels are not available: mma.sync 1 or WMMA.
const char* tf32_kernel_name_fallback() {
  return tf32_mma_fits(1) ? tf32_mma_name(1) : "tc_tf32_wmma_m16n16k8";
}

const char* gemm_kernel_name(const GemmCall& c) {
  if (c.in == DType::f64) return "tiled_f64_64x64x16";
  if (c.in == DType::bf16)
    return c.out == DType::f32 && bf16_kernel() == 0 && tf32_wgmma_available()
               ? "tc_bf16_wgmma_tma_m64n256k16_128x256x64_s4"
               : "tc_bf16_wmma_m16n16k16";
  if (c.use_tf32) {  // the WMMA kernel also where the device lacks the shared memory of mma
    const int which = tf32_choice();
    if (which >= 5 && !tf32_wgmma_available()) return tf32_kernel_name_fallback();
    return which == 4 || !tf32_mma_fits(which) ? "tc_tf32_wmma_m16n16k8" : tf32_mma_name(which);
  }
  return "simt_f32_128x128x8";
}

void gemm_launch(const GemmCall& c, cudaStream_t st, const char* op) {
  validate(c, op);
  if (c.M == 0 || c.N == 0 || c.batch == 0) return;
  const index_t K = c.alpha == 0.0 ? 0 : c.K;  // alpha = 0: C = beta C, A and B are not read
  if (c.in == DType::f64) {
    AX_DISPATCH_TT(c.ta, c.tb, (launch_f64<TA_, TB_>(c, K, st, op)));
    return;
  }
  if (c.in == DType::bf16 || c.use_tf32) {
    const int major = current_cc_major(op);
    if (major < 8)
      throw std::runtime_error(str_cat(op, ": ", c.in == DType::f32 ? "TF32" : "bfloat16",
                                       " tensor-core GEMM needs compute capability 8.0 or newer, ",
                                       "this device has ", major, ".x"));
    if (c.in == DType::f32) {
      const int which = tf32_choice();
      if (which >= 5 && launch_tf32_wgmma(which, c, K, st, op)) return;
      if (which != 4 && launch_tf32_mma(which >= 5 ? 1 : which, c, K, st, op)) return;
      AX_DISPATCH_TT(c.ta, c.tb, (launch_tc<float, float, TA_, TB_>(c, K, st, op)));
    } else if (c.out == DType::f32) {
      if (bf16_kernel() == 0 && launch_bf16_wgmma(c, K, st, op)) return;
      AX_DISPATCH_TT(c.ta, c.tb, (launch_tc<__nv_bfloat16, float, TA_, TB_>(c, K, st, op)));
    } else {
      AX_DISPATCH_TT(c.ta, c.tb, (launch_tc<__nv_bfloat16, __nv_bfloat16, TA_, TB_>(c, K, st, op)));
    }
    return;
  }
  const bool vec = c.lda % 4 == 0 && c.ldb % 4 == 0 && c.sA % 4 == 0 && c.sB % 4 == 0 &&
                   aligned16(c.A) && aligned16(c.B);
  if (vec)
    AX_DISPATCH_TT(c.ta, c.tb, (launch_sgemm<TA_, TB_, true>(c, K, st, op)));
  else
    AX_DISPATCH_TT(c.ta, c.tb, (launch_sgemm<TA_, TB_, false>(c, K, st, op)));
}

}  // namespace cuda
}  // namespace axonal
