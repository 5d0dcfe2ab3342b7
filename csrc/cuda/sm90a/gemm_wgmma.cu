// gemm_wgmma.cu: the TF32 GEMM on Hopper's warpgroup MMA (phase functions in
// ../wgmma_tiles.cuh), built for sm_90a alone (CMakeLists.txt: an object library where 90 is
// among the CUDA architectures). Operands that are not K-major (B as (K, N), A as (K, M)) are
// first transposed into a stream-ordered workspace (cudaMallocAsync).
#include <cuda.h>  // CUtensorMap and its enums (the encoder comes from the driver at run time)

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <type_traits>

#include "cuda/gemm.cuh"
#include "cuda/wgmma_tiles.cuh"

namespace axonal {
namespace cuda {

namespace {

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define AX_WGMMA 1
#endif

#ifdef AX_WGMMA
// d (m64n128, f32) += A (64 x 8, descriptor da) B^T (B: 128 x 8, descriptor db).
__device__ __forceinline__ void wgmma_m64n128k8(float (&d)[64], std::uint64_t da,
                                                std::uint64_t db) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k8.f32.tf32.tf32 {"
      "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
      "}, %64, %65, p, 1, 1;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),
        "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]),
        "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]),
        "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]),
        "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]),
        "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]),
        "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]),
        "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]),
        "+f"(d[63])
      : "l"(da), "l"(db), "r"(1)
      : "memory");
}

// The 128 accumulator registers of an m64n256 wgmma with f32 accumulators, as the asm string's
// operand list and as the operands (d: float[128]).
#define AX_WGMMA_D128                                                                            \
  "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "                       \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "             \
  "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "             \
  "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "             \
  "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "             \
  "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "             \
  "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, " \
  "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, "   \
  "%127"
#define AX_WGMMA_D128_OPERANDS(d)                                                                 \
  "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), \
      "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]),    \
      "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]),  \
      "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]),  \
      "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]),  \
      "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]),  \
      "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]),  \
      "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]),  \
      "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),  \
      "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]),  \
      "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]),  \
      "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]),  \
      "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]),  \
      "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]),  \
      "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]),          \
      "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]),         \
      "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]),         \
      "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]),         \
      "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])

// d (m64n256, f32) += A (64 x 8, descriptor da) B^T (B: 256 x 8, descriptor db).
__device__ __forceinline__ void wgmma_m64n256k8(float (&d)[128], std::uint64_t da,
                                                std::uint64_t db) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n256k8.f32.tf32.tf32 {" AX_WGMMA_D128
      "}, %128, %129, p, 1, 1;\n}\n"
      : AX_WGMMA_D128_OPERANDS(d)
      : "l"(da), "l"(db), "r"(1)
      : "memory");
}
// d (m64n256, f32) += A (64 x 16 bf16, descriptor da) B^T (B: 256 x 16, descriptor db),
// both K-major (no transpose flags).
__device__ __forceinline__ void wgmma_m64n256k16_bf16(float (&d)[128], std::uint64_t da,
                                                      std::uint64_t db) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {" AX_WGMMA_D128
      "}, %128, %129, p, 1, 1, 0, 0;\n}\n"
      : AX_WGMMA_D128_OPERANDS(d)
      : "l"(da), "l"(db), "r"(1)
      : "memory");
}
#else
__device__ __forceinline__ void wgmma_m64n128k8(float (&)[64], std::uint64_t, std::uint64_t) {}
__device__ __forceinline__ void wgmma_m64n256k8(float (&)[128], std::uint64_t, std::uint64_t) {}
__device__ __forceinline__ void wgmma_m64n256k16_bf16(float (&)[128], std::uint64_t,
                                                      std::uint64_t) {}
#endif

__device__ __forceinline__ void wgmma_fence() {
#ifdef AX_WGMMA
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void wgmma_commit() {
#ifdef AX_WGMMA
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}
// Waits until at most N of this warpgroup's committed wgmma groups are pending.
template <int N>
__device__ __forceinline__ void wgmma_wait() {
#ifdef AX_WGMMA
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
#endif
}
// Orders this thread's generic-proxy writes to shared memory (cp.async included) before the
// async proxy (wgmma) reads them; the barrier after it makes that hold for the whole block.
__device__ __forceinline__ void fence_proxy_async() {
#ifdef AX_WGMMA
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}

template <class Blk>
__device__ __forceinline__ void wgmma_step(float (&acc)[Blk::NACC], std::uint64_t da,
                                           std::uint64_t db) {
  if constexpr (Blk::ES == 2) {
    static_assert(Blk::BN == 256, "the BF16 kernel has 128 x 256 tiles");
    wgmma_m64n256k16_bf16(acc, da, db);
  } else if constexpr (Blk::BN == 128) {
    wgmma_m64n128k8(acc, da, db);
  } else {
    wgmma_m64n256k8(acc, da, db);
  }
}

template <class Blk>
__global__ void __launch_bounds__(Blk::NT, 1) wgmma_tf32_kernel(const MmaArgs g) {
#ifdef AX_WGMMA
  extern __shared__ __align__(128) unsigned char wg_smem[];
  const int tid = threadIdx.x, wg = tid >> 7;
  int mt = 0, nt = 0;
  grouped_tile(blockIdx.x, blockIdx.y, gridDim.x, gridDim.y, 8, mt, nt);
  const int m0 = mt * Blk::BM, n0 = nt * Blk::BN;
  const float* a = g.A + blockIdx.z * g.sA;
  const float* b = g.B + blockIdx.z * g.sB;
  float acc[Blk::NACC];
#pragma unroll
  for (int i = 0; i < Blk::NACC; ++i) acc[i] = 0.f;
  const std::uint32_t base = static_cast<std::uint32_t>(__cvta_generic_to_shared(wg_smem));
  // k-tiles are copied PREFETCH = STAGES - 2 ahead, so that one group of wgmma can still be
  // reading stage kt - 1 while stage kt - 2 is refilled
  constexpr int PREFETCH = Blk::STAGES - 2;
  const int kt_n = (g.K + Blk::BK - 1) / Blk::BK;
#pragma unroll
  for (int s = 0; s < PREFETCH; ++s) {
    if (s < kt_n) Blk::load_stage(g, wg_smem, s, s, tid, a, b, m0, n0);
    cp_async_commit();
  }
  for (int kt = 0; kt < kt_n; ++kt) {
    cp_async_wait<PREFETCH - 1>();  // this thread's copies of k-tile kt have landed,
    fence_proxy_async();            // are visible to the tensor cores' proxy,
    __syncthreads();                // everybody's; and every wgmma group up to kt - 2 is done
    const int next = kt + PREFETCH;
    if (next < kt_n) Blk::load_stage(g, wg_smem, next % Blk::STAGES, next, tid, a, b, m0, n0);
    cp_async_commit();
    const std::uint32_t st = base + (kt % Blk::STAGES) * Blk::STAGE_BYTES;
    wgmma_fence();
#pragma unroll
    for (int ks = 0; ks < Blk::BK / 8; ++ks)
      wgmma_step<Blk>(acc, Blk::desc(st + Blk::a_offset(wg, ks)),
                      Blk::desc(st + Blk::b_offset(ks)));
    wgmma_commit();
    wgmma_wait<1>();  // group kt - 1 is done (its stage is refilled next iteration)
  }
  wgmma_wait<0>();  // the accumulators are read only after the last group
  Blk::epilogue(g, g.C + blockIdx.z * g.sC, tid, m0, n0, acc);
#elif defined(__CUDA_ARCH__)
  __trap();  // only the sm_90a build has this kernel; the launcher asks for compute 9.0
#endif
}

// ---------------------------------------------------------------- mbarrier and TMA
__device__ __forceinline__ std::uint32_t smem_addr(const void* p) {
  return static_cast<std::uint32_t>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void mbar_init(std::uint32_t bar, unsigned count) {
#ifdef AX_WGMMA
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
#endif
}
// This thread's arrival, announcing `bytes` more to come from the TMA before the phase ends.
__device__ __forceinline__ void mbar_expect_tx(std::uint32_t bar, unsigned bytes) {
#ifdef AX_WGMMA
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes)
               : "memory");
#endif
}
__device__ __forceinline__ void mbar_arrive(std::uint32_t bar) {
#ifdef AX_WGMMA
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
#endif
}
// Waits until the barrier's phase of parity `parity` has completed.
__device__ __forceinline__ void mbar_wait(std::uint32_t bar, unsigned parity) {
#ifdef AX_WGMMA
  unsigned done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        "selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
#endif
}
// Box (c0 = k, c1 = row, c2 = batch) of the tensor map into shared dst; completes on bar.
__device__ __forceinline__ void tma_load_3d(std::uint32_t dst, const CUtensorMap* map, int c0,
                                            int c1, int c2, std::uint32_t bar) {
#ifdef AX_WGMMA
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%2, %3, %4}], [%5];\n" ::"r"(dst),
      "l"(reinterpret_cast<std::uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(bar)
      : "memory");
#endif
}

// The TMA-fed kernel (TmaGemm in wgmma_tiles.cuh): warpgroup 0's first thread copies k-tiles
// into the STAGES-deep ring (waiting on `empty` before refilling a stage), warpgroups 1 and 2
// wait on `full`, issue their wgmma and, one group later, release the stage.
template <class Blk>
__global__ void __launch_bounds__(Blk::NT, 1)
    wgmma_tma_kernel(const __grid_constant__ CUtensorMap map_a,
                     const __grid_constant__ CUtensorMap map_b, const MmaArgs g) {
#ifdef AX_WGMMA
  extern __shared__ __align__(1024) unsigned char tma_smem[];
  __shared__ __align__(8) std::uint64_t full[Blk::STAGES], empty[Blk::STAGES];
  const int tid = threadIdx.x, wg = tid >> 7;
  int mt = 0, nt = 0;
  grouped_tile(blockIdx.x, blockIdx.y, gridDim.x, gridDim.y, 8, mt, nt);
  const int m0 = mt * Blk::BM, n0 = nt * Blk::BN;
  const std::uint32_t base = (smem_addr(tma_smem) + 1023u) & ~1023u;  // the swizzle's alignment
  const int kt_n = (g.K + Blk::BK - 1) / Blk::BK;
  if (tid == 0) {
    for (int s = 0; s < Blk::STAGES; ++s) {
      mbar_init(smem_addr(&full[s]), 1);                    // the producer's expect_tx
      mbar_init(smem_addr(&empty[s]), Blk::CONSUMERS * 4);  // each consumer warp once
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();
  if (wg == 0) {  // producer
    if (tid == 0) {
      const int za = g.sA != 0 ? blockIdx.z : 0, zb = g.sB != 0 ? blockIdx.z : 0;
      for (int kt = 0; kt < kt_n; ++kt) {
        const int s = kt % Blk::STAGES;
        if (kt >= Blk::STAGES) mbar_wait(smem_addr(&empty[s]), ((kt / Blk::STAGES) - 1) & 1);
        const std::uint32_t st = base + s * Blk::STAGE_BYTES, bar = smem_addr(&full[s]);
        mbar_expect_tx(bar, Blk::STAGE_BYTES);
        tma_load_3d(st, &map_a, kt * Blk::BK, m0, za, bar);
        tma_load_3d(st + Blk::A_BYTES, &map_b, kt * Blk::BK, n0, zb, bar);
      }
    }
    return;
  }
  const int ctid = tid - 128, cw = ctid >> 7, lane = tid & 31;
  float acc[Blk::NACC];
#pragma unroll
  for (int i = 0; i < Blk::NACC; ++i) acc[i] = 0.f;
  for (int kt = 0; kt < kt_n; ++kt) {
    const int s = kt % Blk::STAGES;
    mbar_wait(smem_addr(&full[s]), (kt / Blk::STAGES) & 1);
    const std::uint32_t st = base + s * Blk::STAGE_BYTES;
    wgmma_fence();
#pragma unroll
    for (int ks = 0; ks < Blk::BK / Blk::KSTEP; ++ks)
      wgmma_step<Blk>(acc, Blk::desc(st + Blk::a_offset(cw, ks)),
                      Blk::desc(st + Blk::b_offset(ks)));
    wgmma_commit();
    wgmma_wait<1>();  // group kt - 1 has read its stage: hand it back to the producer
    if (kt > 0 && lane == 0) mbar_arrive(smem_addr(&empty[(kt - 1) % Blk::STAGES]));
  }
  wgmma_wait<0>();
  Blk::epilogue(g, g.C + blockIdx.z * g.sC, ctid, m0, n0, acc);
#elif defined(__CUDA_ARCH__)
  __trap();  // only the sm_90a build has this kernel; the launcher asks for compute 9.0
#endif
}

// dst[b][c][r] = src[b][r][c] for rows x cols matrices (ld_src, ld_dst: row strides).
template <typename T>
__global__ void transpose_kernel(const T* __restrict__ src, index_t ld_src, index_t s_src,
                                 T* __restrict__ dst, index_t ld_dst, index_t s_dst, int rows,
                                 int cols) {
  __shared__ T tile[32][33];
  const T* sb = src + blockIdx.z * s_src;
  T* db = dst + blockIdx.z * s_dst;
  const int c0 = blockIdx.x * 32;
  for (int r0 = blockIdx.y * 32; r0 < rows; r0 += gridDim.y * 32) {  // grid.y is capped
    for (int i = threadIdx.y; i < 32; i += 8) {
      const int r = r0 + i, c = c0 + threadIdx.x;
      tile[i][threadIdx.x] = r < rows && c < cols ? sb[index_t(r) * ld_src + c] : T(0);
    }
    __syncthreads();
    for (int i = threadIdx.y; i < 32; i += 8) {
      const int c = c0 + i, r = r0 + threadIdx.x;
      if (c < cols && r < rows) db[index_t(c) * ld_dst + r] = tile[threadIdx.x][i];
    }
    __syncthreads();  // the tile is rewritten next round
  }
}

// Raises the kernel's dynamic shared-memory limit once per device (devices below 64).
template <class Blk, class Kernel>
void prepare(Kernel kernel, const char* op) {
  static std::atomic<std::uint64_t> done{0};
  int dev = 0;
  AX_CUDA_CHECK(op, cudaGetDevice(&dev));
  const std::uint64_t bit = dev < 64 ? (std::uint64_t{1} << dev) : 0;
  if (bit && (done.load(std::memory_order_acquire) & bit)) return;
  AX_CUDA_CHECK(op, cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                         Blk::SMEM_BYTES));
  done.fetch_or(bit, std::memory_order_acq_rel);
}

// A (rows, cols) operand in K-major form: itself where it already is, else a transposed copy
// in `ws` (row stride rounded up to 16 bytes); `distinct` matrices (1 when broadcast). p, ld and
// stride count elements of ES bytes.
struct Operand {
  const void* p;
  index_t ld, stride;
};

template <typename T>
Operand k_major(const void* p, index_t ld, index_t stride, bool transposed, int rows, int k,
                index_t distinct, void* ws, cudaStream_t st, const char* op) {
  if (!transposed) return {p, ld, stride};
  constexpr index_t per16 = 16 / sizeof(T);
  const index_t ldt = (k + per16 - 1) / per16 * per16;  // (rows, k) rows, 16-byte aligned
  const dim3 grid(static_cast<unsigned>(ceil_div(rows, 32)),
                  static_cast<unsigned>(std::min<index_t>(ceil_div(k, 32), 32768)),
                  static_cast<unsigned>(distinct));
  // the source is (k, rows) with row stride ld
  transpose_kernel<T><<<grid, dim3(32, 8), 0, st>>>(
      static_cast<const T*>(p), ld, stride, static_cast<T*>(ws), ldt, index_t(rows) * ldt, k, rows);
  AX_LAUNCH_CHECK(op, "transpose_kernel launch");
  return {ws, ldt, stride == 0 ? 0 : index_t(rows) * ldt};
}

// Frees the stream-ordered workspace when the launch is done with it, also on an exception.
struct Workspace {
  unsigned char* p = nullptr;
  cudaStream_t st = nullptr;
  ~Workspace() {
    if (p) cudaFreeAsync(p, st);  // (an error here would surface at the next checked call)
  }
};

// Both operands in K-major form, 16-byte aligned rows: the caller's where they already are,
// else transposed copies in `ws`. False (nothing launched) where the rows are unaligned, the
// grid too tall or the workspace cannot be had: another kernel then runs instead.
template <class Blk>
bool k_major_operands(const GemmCall& c, index_t K, cudaStream_t st, const char* op, Workspace& ws,
                      Operand& A, Operand& B) {
  using T = std::conditional_t<Blk::ES == 4, float, std::uint16_t>;
  constexpr index_t per16 = 16 / Blk::ES;
  const bool a_t = c.ta, b_t = !c.tb;  // what has to be transposed into K-major form
  if ((!a_t && (c.lda % per16 || c.sA % per16 || !aligned16(c.A))) ||
      (!b_t && (c.ldb % per16 || c.sB % per16 || !aligned16(c.B))))
    return false;  // unaligned rows: kernels that copy element by element take them
  if (c.batch > kMaxGridYZ || ceil_div(c.M, Blk::BM) > kMaxGridYZ) return false;
  const index_t kp = (K + per16 - 1) / per16 * per16;
  const index_t na = a_t ? (c.sA == 0 ? 1 : c.batch) : 0, nb = b_t ? (c.sB == 0 ? 1 : c.batch) : 0;
  const index_t ws_elems = K > 0 ? na * c.M * kp + nb * c.N * kp : 0;
  ws.st = st;
  if (ws_elems > 0 && cudaMallocAsync(reinterpret_cast<void**>(&ws.p),
                                      static_cast<size_t>(ws_elems) * Blk::ES, st) != cudaSuccess) {
    cudaGetLastError();  // no room for the transposed copies: the other kernels need none
    ws.p = nullptr;
    return false;
  }
  A = {c.A, c.lda, c.sA};
  B = {c.B, c.ldb, c.sB};
  if (K > 0) {
    A = k_major<T>(A.p, c.lda, c.sA, a_t, static_cast<int>(c.M), static_cast<int>(K), na, ws.p, st,
                   op);
    B = k_major<T>(B.p, c.ldb, c.sB, b_t, static_cast<int>(c.N), static_cast<int>(K), nb,
                   ws.p + na * c.M * kp * Blk::ES, st, op);
  }
  return true;
}

// The TMA-fed kernels' arguments: C and the scalars (A and B go through the tensor maps).
MmaArgs tma_args(const GemmCall& c, index_t K, const Operand& A, const Operand& B) {
  return tf32_args(c, K, static_cast<const float*>(A.p), A.ld, A.stride,
                   static_cast<const float*>(B.p), B.ld, B.stride);
}

dim3 grid_of(const GemmCall& c, int bm, int bn) {
  return dim3(static_cast<unsigned>(ceil_div(c.N, bn)), static_cast<unsigned>(ceil_div(c.M, bm)),
              static_cast<unsigned>(c.batch));
}

template <class Blk>
bool launch(const GemmCall& c, index_t K, cudaStream_t st, const char* op) {
  Workspace ws;
  Operand A, B;
  if (!k_major_operands<Blk>(c, K, st, op, ws, A, B)) return false;
  prepare<Blk>(wgmma_tf32_kernel<Blk>, op);
  MmaArgs g = tma_args(c, K, A, B);  // (float operands: the pointers are the floats)
  g.vec = true;
  wgmma_tf32_kernel<Blk><<<grid_of(c, Blk::BM, Blk::BN), Blk::NT, Blk::SMEM_BYTES, st>>>(g);
  AX_LAUNCH_CHECK(op, "wgmma_tf32_kernel launch");
  return true;
}

// cuTensorMapEncodeTiled, from the driver at run time (the extension does not link libcuda).
using EncodeTiled = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*,
                                 const cuuint64_t*, const cuuint64_t*, const cuuint32_t*,
                                 const cuuint32_t*, CUtensorMapInterleave, CUtensorMapSwizzle,
                                 CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

EncodeTiled tensor_map_encoder() {
  static const EncodeTiled fn = [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult q{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault,
                                         &q) != cudaSuccess ||
        q != cudaDriverEntryPointSuccess) {
      cudaGetLastError();
      p = nullptr;
    }
    return reinterpret_cast<EncodeTiled>(p);
  }();
  return fn;
}

// The TMA's view of a K-major operand: (distinct, rows, K) elements of es bytes (float32 or
// bfloat16), boxes of box_rows x 128 bytes with the 128-byte swizzle, zeros outside the matrix.
bool tensor_map(CUtensorMap& map, const Operand& o, int es, index_t K, index_t rows,
                index_t distinct, int box_rows) {
  const EncodeTiled encode = tensor_map_encoder();
  if (!encode) return false;
  const cuuint64_t dims[3] = {cuuint64_t(K), cuuint64_t(rows), cuuint64_t(distinct)};
  const cuuint64_t strides[2] = {cuuint64_t(o.ld) * es,
                                 cuuint64_t(distinct > 1 ? o.stride : rows * o.ld) * es};
  const cuuint32_t box[3] = {cuuint32_t(128 / es), cuuint32_t(box_rows), 1}, step[3] = {1, 1, 1};
  return encode(&map, es == 4 ? CU_TENSOR_MAP_DATA_TYPE_FLOAT32 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16,
                3, const_cast<void*>(o.p), dims, strides, box, step, CU_TENSOR_MAP_INTERLEAVE_NONE,
                CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

template <class Blk>
bool launch_tma(const GemmCall& c, index_t K, cudaStream_t st, const char* op) {
  if (K == 0 || !tensor_map_encoder()) return false;
  Workspace ws;
  Operand A, B;
  if (!k_major_operands<Blk>(c, K, st, op, ws, A, B)) return false;
  CUtensorMap map_a, map_b;
  if (!tensor_map(map_a, A, Blk::ES, K, c.M, A.stride == 0 ? 1 : c.batch, Blk::BM) ||
      !tensor_map(map_b, B, Blk::ES, K, c.N, B.stride == 0 ? 1 : c.batch, Blk::BN))
    return false;  // (the transposed copies, if any, are freed in stream order)
  prepare<Blk>(wgmma_tma_kernel<Blk>, op);
  const MmaArgs g = tma_args(c, K, A, B);
  wgmma_tma_kernel<Blk>
      <<<grid_of(c, Blk::BM, Blk::BN), Blk::NT, Blk::SMEM_BYTES, st>>>(map_a, map_b, g);
  AX_LAUNCH_CHECK(op, "wgmma_tma_kernel launch");
  return true;
}

}  // namespace

bool tf32_wgmma_available() {
  int dev = 0, major = 0, minor = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return major == 9 && minor == 0;  // sm_90a code runs on compute 9.0 only
}

bool launch_bf16_wgmma(const GemmCall& c, index_t K, cudaStream_t st, const char* op) {
  if (!tf32_wgmma_available() || c.out != DType::f32) return false;
  return launch_tma<TmaBf16N256>(c, K, st, op);
}

bool launch_tf32_wgmma(int which, const GemmCall& c, index_t K, cudaStream_t st, const char* op) {
  if (!tf32_wgmma_available()) return false;
  switch (which) {
    case 8:
      return launch_tma<TmaTf32N128>(c, K, st, op);
    case 7:
      return launch_tma<TmaTf32N256>(c, K, st, op);
    case 6:
      return launch<WgmmaTf32N256>(c, K, st, op);
    default:
      return launch<WgmmaTf32N128>(c, K, st, op);
  }
}

}  // namespace cuda
}  // namespace axonal
