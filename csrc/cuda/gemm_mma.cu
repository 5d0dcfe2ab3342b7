// gemm_mma.cu: the TF32 tensor-core GEMM on mma.sync m16n8k8 (phase functions in mma_tiles.cuh)
// and its launcher; gemm.cu calls launch_tf32_mma for float32 products with TF32 allowed.
#include <atomic>
#include <cstdint>

#include "cuda/gemm.cuh"
#include "cuda/mma_tiles.cuh"

namespace axonal {
namespace cuda {

namespace {

// d += a b for one warp's m16n8k8 TF32 fragments (layout in mma_tiles.cuh).
__device__ __forceinline__ void mma_tf32_m16n8k8(float (&d)[4], const std::uint32_t (&a)[4],
                                                 const std::uint32_t (&b)[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

template <class Blk>
__global__ void __launch_bounds__(Blk::NT) mma_tf32_kernel(const MmaArgs g) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  extern __shared__ __align__(16) float mma_smem[];
  typename Blk::Regs r;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int wm = warp / Blk::WARPS_N, wn = warp % Blk::WARPS_N;
  Blk::init(g, blockIdx.x, blockIdx.y, blockIdx.z, gridDim.x, gridDim.y, r);
  const int kt_n = (g.K + Blk::BK - 1) / Blk::BK;
#pragma unroll
  for (int s = 0; s < Blk::STAGES - 1; ++s) {
    if (s < kt_n) Blk::load_stage(g, mma_smem, s, s, tid, r);
    cp_async_commit();
  }
  for (int kt = 0; kt < kt_n; ++kt) {
    cp_async_wait<Blk::STAGES - 2>();  // this thread's copies of k-tile kt have landed ...
    __syncthreads();                   // ... everybody's, and no warp still reads stage kt - 1
    const int next = kt + Blk::STAGES - 1;
    if (next < kt_n) Blk::load_stage(g, mma_smem, next % Blk::STAGES, next, tid, r);
    cp_async_commit();  // (empty groups at the end keep the wait count uniform)
    const float* as = Blk::stage_a(mma_smem, kt % Blk::STAGES);
    const float* bs = Blk::stage_b(mma_smem, kt % Blk::STAGES);
#pragma unroll
    for (int kk = 0; kk < Blk::BK; kk += 8) {
      std::uint32_t a[Blk::MI][4], b[Blk::NJ][2];
#pragma unroll
      for (int i = 0; i < Blk::MI; ++i) Blk::frag_a(as, wm, i, kk, lane, a[i]);
#pragma unroll
      for (int j = 0; j < Blk::NJ; ++j) Blk::frag_b(bs, wn, j, kk, lane, b[j]);
#pragma unroll
      for (int i = 0; i < Blk::MI; ++i)
#pragma unroll
        for (int j = 0; j < Blk::NJ; ++j) mma_tf32_m16n8k8(r.acc[i][j], a[i], b[j]);
    }
  }
  Blk::epilogue(g, tid, r);  // reads no shared memory: no barrier needed before it
#elif defined(__CUDA_ARCH__)
  __trap();  // the launcher never picks this kernel below sm_80
#endif
}

// Raises the kernel's dynamic shared-memory limit on the current device once; false when the
// device cannot give a block that much (remembered too: devices below 64 only).
template <class Blk>
bool prepare(const char* op) {
  static std::atomic<std::uint64_t> ok{0}, no{0};  // bit d: decided for device d
  int dev = 0, optin = 0;
  AX_CUDA_CHECK(op, cudaGetDevice(&dev));
  const std::uint64_t bit = dev < 64 ? (std::uint64_t{1} << dev) : 0;
  if (bit && (ok.load(std::memory_order_acquire) & bit)) return true;
  if (bit && (no.load(std::memory_order_acquire) & bit)) return false;
  AX_CUDA_CHECK(op, cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  if (optin < Blk::SMEM_BYTES) {
    no.fetch_or(bit, std::memory_order_acq_rel);
    return false;
  }
  AX_CUDA_CHECK(
      op, cudaFuncSetAttribute(mma_tf32_kernel<Blk>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               Blk::SMEM_BYTES));
  AX_CUDA_CHECK(
      op, cudaFuncSetAttribute(mma_tf32_kernel<Blk>, cudaFuncAttributePreferredSharedMemoryCarveout,
                               static_cast<int>(cudaSharedmemCarveoutMaxShared)));
  ok.fetch_or(bit, std::memory_order_acq_rel);
  return true;
}

// The most shared memory any transpose of a shape asks for.
template <int WMS, int WNS, int ST>
constexpr int smem_of() {
  const int a = MmaTf32<false, false, WMS, WNS, ST>::SMEM_BYTES;
  const int b = MmaTf32<false, true, WMS, WNS, ST>::SMEM_BYTES;
  const int c = MmaTf32<true, false, WMS, WNS, ST>::SMEM_BYTES;
  const int d = MmaTf32<true, true, WMS, WNS, ST>::SMEM_BYTES;
  const int ab = a > b ? a : b, cd = c > d ? c : d;
  return ab > cd ? ab : cd;
}

template <class Blk>
bool launch(const GemmCall& c, index_t K, cudaStream_t st, const char* op) {
  if (!prepare<Blk>(op)) return false;
  const bool vec = c.lda % 4 == 0 && c.ldb % 4 == 0 && c.sA % 4 == 0 && c.sB % 4 == 0 &&
                   aligned16(c.A) && aligned16(c.B);
  const bool vec_c = c_pairs_ok(c);
  for_each_gemm_piece(c.M, c.batch, Blk::BM, [&](index_t m, index_t mc, index_t b, index_t bc) {
    MmaArgs g = gemm_piece_args<MmaArgs, float, float>(c, K, m, mc, b);
    g.vec = vec;  // m is a multiple of BM: the shifted A keeps its alignment
    g.vec_c = vec_c;
    const dim3 grid(static_cast<unsigned>(ceil_div(c.N, Blk::BN)),
                    static_cast<unsigned>(ceil_div(mc, Blk::BM)), static_cast<unsigned>(bc));
    mma_tf32_kernel<Blk><<<grid, Blk::NT, Blk::SMEM_BYTES, st>>>(g);
    AX_LAUNCH_CHECK(op, "mma_tf32_kernel launch");
  });
  return true;
}

template <int WMS, int WNS, int ST>
bool launch_tt(const GemmCall& c, index_t K, cudaStream_t st, const char* op) {
  if (!c.ta && !c.tb) return launch<MmaTf32<false, false, WMS, WNS, ST>>(c, K, st, op);
  if (!c.ta && c.tb) return launch<MmaTf32<false, true, WMS, WNS, ST>>(c, K, st, op);
  if (c.ta && !c.tb) return launch<MmaTf32<true, false, WMS, WNS, ST>>(c, K, st, op);
  return launch<MmaTf32<true, true, WMS, WNS, ST>>(c, K, st, op);
}

std::atomic<int> g_tf32_kernel{0};

}  // namespace

void set_tf32_kernel(int which) {
  if (which < 0 || which > 8)
    throw std::invalid_argument(
        str_cat("cuda.set_tf32_kernel: which must be 0 (auto) .. 8 (wgmma with TMA), got ", which));
  g_tf32_kernel.store(which);
}

int tf32_kernel() { return g_tf32_kernel.load(); }

namespace {
std::atomic<int> g_bf16_kernel{0};
}

void set_bf16_kernel(int which) {
  if (which < 0 || which > 1)
    throw std::invalid_argument(
        str_cat("cuda.set_bf16_kernel: which must be 0 (auto) or 1 (WMMA), got ", which));
  g_bf16_kernel.store(which);
}

int bf16_kernel() { return g_bf16_kernel.load(); }

bool tf32_mma_fits(int which) {
  if (which >= 5) return tf32_wgmma_available() || tf32_mma_fits(1);
  const int need = which == 2   ? smem_of<2, 4, 3>()
                   : which == 3 ? smem_of<2, 2, 4>()
                                : smem_of<2, 2, 3>();
  int dev = 0, optin = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess) {
    cudaGetLastError();  // no usable device: name the kernel a capable one would run
    return true;
  }
  return optin >= need;
}

#ifndef AXONAL_HAVE_SM90A
bool launch_tf32_wgmma(int, const GemmCall&, index_t, cudaStream_t, const char*) { return false; }
bool launch_bf16_wgmma(const GemmCall&, index_t, cudaStream_t, const char*) { return false; }
bool tf32_wgmma_available() { return false; }
#endif

const char* tf32_mma_name(int which) {
  switch (which) {
    case 8:
      return "tc_tf32_wgmma_tma_m64n128k8_128x128x32_s6";
    case 7:
      return "tc_tf32_wgmma_tma_m64n256k8_128x256x32_s4";
    case 5:
      return "tc_tf32_wgmma_m64n128k8_128x128x32_s5";
    case 6:
      return "tc_tf32_wgmma_m64n256k8_128x256x32_s4";
    case 2:
      return "tc_tf32_mma_m16n8k8_128x256x32_s3";
    case 3:
      return "tc_tf32_mma_m16n8k8_128x128x32_s4";
    default:
      return "tc_tf32_mma_m16n8k8_128x128x32_s3";
  }
}

bool launch_tf32_mma(int which, const GemmCall& c, index_t K, cudaStream_t st, const char* op) {
  switch (which) {
    case 2:
      return launch_tt<2, 4, 3>(c, K, st, op);
    case 3:
      return launch_tt<2, 2, 4>(c, K, st, op);
    default:
      return launch_tt<2, 2, 3>(c, K, st, op);
  }
}

}  // namespace cuda
}  // namespace axonal
