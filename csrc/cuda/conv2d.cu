// conv2d.cu: conv2d forward / backward-input / backward-weight as implicit GEMMs
// (conv_tiles.cuh) and the bias gradient as a per-channel block reduction.
#include <algorithm>

#include "cuda/conv2d.cuh"

namespace axonal {
namespace cuda {

namespace {

template <class Blk, class Prob>
__global__ void __launch_bounds__(Blk::NT)
    igemm_kernel(const Prob pb, const typename Blk::Launch L) {
  __shared__ __align__(16) typename Blk::Smem s;
  typename Blk::Regs r;
  const int tid = threadIdx.x;
  Blk::init(pb, L, blockIdx.x, blockIdx.y, blockIdx.z, tid, r);
  const int nt = Blk::tiles(r);
  if (nt > 0) {
    Blk::load_global(pb, 0, tid, r);
    Blk::store_smem(s, 0, tid, r);
  }
  __syncthreads();
  for (int t = 0; t < nt; ++t) {
    const bool more = t + 1 < nt;
    if (more) Blk::load_global(pb, t + 1, tid, r);
    Blk::compute(s, t & 1, tid, r);
    if (more) Blk::store_smem(s, (t + 1) & 1, tid, r);
    __syncthreads();
  }
  Blk::epilogue(pb, L, tid, r);
}

// One block per channel k (grid-stride over k), 256 threads, double accumulation.
// dy: (N, K, L) -> db: (K,)
template <typename T>
__global__ void __launch_bounds__(256)
    bias_grad_kernel(const T* __restrict__ dy, T* __restrict__ db, index_t N, index_t K,
                     index_t L) {
  __shared__ double part[8];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  for (index_t k = blockIdx.x; k < K; k += gridDim.x) {
    double acc = 0.0;
    for (index_t n = 0; n < N; ++n) {
      const T* p = dy + (n * K + k) * L;
      for (index_t i = tid; i < L; i += blockDim.x) acc += static_cast<double>(p[i]);
    }
    for (int off = 16; off > 0; off >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, off);
    if (lane == 0) part[warp] = acc;
    __syncthreads();
    if (tid == 0) {
      double t = 0.0;
      for (int w = 0; w < static_cast<int>(blockDim.x >> 5); ++w) t += part[w];
      db[k] = static_cast<T>(t);
    }
    __syncthreads();  // part[] is rewritten by the next channel
  }
}

template <typename T, int BM, class Prob>
void run_igemm(const Prob& pb, int groups, int splits, int k_chunk, bool atomic, cudaStream_t st,
               const char* op) {
  using Blk = IGemm<T, BM, Prob>;
  const index_t gx = ceil_div(pb.N, Blk::BN), gy = ceil_div(pb.M, Blk::BM);
  AX_CHECK(gy <= kMaxGridYZ, op, ": ", pb.M, " channels per group exceed the kernel's limit of ",
           kMaxGridYZ * Blk::BM);
  if (gx == 0 || gy == 0) return;
  const int per_launch = std::max(1, static_cast<int>(kMaxGridYZ) / splits);
  for (int g0 = 0; g0 < groups; g0 += per_launch) {
    typename Blk::Launch L;
    L.g_base = g0;
    L.splits = splits;
    L.k_chunk = k_chunk;
    L.atomic = atomic;
    const int gc = std::min(per_launch, groups - g0);
    const dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy),
                    static_cast<unsigned>(gc * splits));
    igemm_kernel<Blk, Prob><<<grid, Blk::NT, 0, st>>>(pb, L);
    AX_LAUNCH_CHECK(op, "igemm_kernel launch");
  }
}

// float: 64-row tiles when a group has at most 64 rows (output channels), else 128;
// double: always 64 (fewer registers).
template <typename T, template <typename> class ProbT>
void run_conv_gemm(const ProbT<T>& pb, int groups, int splits, int k_chunk, bool atomic,
                   cudaStream_t st, const char* op) {
  if constexpr (sizeof(T) == 4) {
    if (pb.M > 64) {
      run_igemm<T, 128>(pb, groups, splits, k_chunk, atomic, st, op);
      return;
    }
  }
  run_igemm<T, 64>(pb, groups, splits, k_chunk, atomic, st, op);
}

template <typename T>
void forward_t(const ConvGeom& d, const void* x, const void* w, const void* b, void* y,
               cudaStream_t st, const char* op) {
  ConvFwdProb<T> pb;
  pb.d = d;
  pb.x = static_cast<const T*>(x);
  pb.w = static_cast<const T*>(w);
  pb.bias = static_cast<const T*>(b);
  pb.y = static_cast<T*>(y);
  pb.M = d.Kg;
  pb.N = static_cast<int>(index_t(d.N) * d.PQ());
  pb.Kd = static_cast<int>(d.CRS());
  run_conv_gemm<T, ConvFwdProb>(pb, d.groups, 1, std::max(pb.Kd, 1), false, st, op);
}

template <typename T>
void backward_input_t(const ConvGeom& d, const void* dy, const void* w, void* dx, cudaStream_t st,
                      const char* op) {
  ConvBwdInputProb<T> pb;
  pb.d = d;
  pb.dy = static_cast<const T*>(dy);
  pb.w = static_cast<const T*>(w);
  pb.dx = static_cast<T*>(dx);
  pb.M = d.Cg;
  pb.N = static_cast<int>(index_t(d.N) * d.HW());
  pb.Kd = static_cast<int>(index_t(d.Kg) * d.RS());
  run_conv_gemm<T, ConvBwdInputProb>(pb, d.groups, 1, std::max(pb.Kd, 1), false, st, op);
}

template <typename T>
void backward_weight_t(const ConvGeom& d, const void* dy, const void* x, void* dw, cudaStream_t st,
                       const char* op) {
  ConvBwdWeightProb<T> pb;
  pb.d = d;
  pb.dy = static_cast<const T*>(dy);
  pb.x = static_cast<const T*>(x);
  pb.dw = static_cast<T*>(dw);
  pb.M = d.Kg;
  pb.N = static_cast<int>(d.CRS());
  pb.Kd = static_cast<int>(index_t(d.N) * d.PQ());
  // Split the long N*P*Q reduction (split-K); splits add into a zeroed dw with atomics.
  const int bm = (sizeof(T) == 4 && pb.M > 64) ? 128 : 64;
  int splits = 1, k_chunk = 8;
  conv_split_plan(pb.M, pb.N, pb.Kd, d.groups, bm, current_sm_count(op), splits, k_chunk);
  const bool atomic = splits > 1 || pb.Kd == 0;
  if (atomic) {
    const size_t bytes = static_cast<size_t>(d.K) * d.CRS() * sizeof(T);
    AX_CUDA_CHECK(op, cudaMemsetAsync(dw, 0, bytes, st));
  }
  run_conv_gemm<T, ConvBwdWeightProb>(pb, d.groups, splits, k_chunk, atomic, st, op);
}

}  // namespace

ConvGeom make_conv_geom(const char* op, index_t N, index_t C, index_t H, index_t W, index_t K,
                        index_t R, index_t S, index_t P, index_t Q, index_t sh, index_t sw,
                        index_t ph, index_t pw, index_t dh, index_t dw, index_t groups) {
  AX_CHECK(N >= 0 && C >= 0 && H >= 0 && W >= 0 && K >= 0, op, ": negative size in input (", N,
           ", ", C, ", ", H, ", ", W, ") or ", K, " output channels");
  AX_CHECK(R > 0 && S > 0, op, ": empty kernel (", R, ", ", S, ")");
  AX_CHECK(sh > 0 && sw > 0 && dh > 0 && dw > 0, op, ": stride and dilation must be positive");
  AX_CHECK(ph >= 0 && pw >= 0, op, ": padding must be non-negative");
  AX_CHECK(groups > 0 && C % groups == 0 && K % groups == 0, op, ": groups = ", groups,
           " must divide the ", C, " input and ", K, " output channels");
  AX_CHECK(N <= kInt32Max && C <= kInt32Max && H <= kInt32Max && W <= kInt32Max && K <= kInt32Max &&
               R <= kInt32Max && S <= kInt32Max && sh <= kInt32Max && sw <= kInt32Max &&
               ph <= kInt32Max && pw <= kInt32Max && dh <= kInt32Max && dw <= kInt32Max,
           op, ": sizes must be below 2^31");
  const index_t eh = dh * (R - 1) + 1, ew = dw * (S - 1) + 1;
  AX_CHECK(H + 2 * ph >= eh && W + 2 * pw >= ew, op, ": input (", H, ", ", W, ") padded by (", ph,
           ", ", pw, ") is smaller than the kernel extent (", eh, ", ", ew, ")");
  const index_t P_ = (H + 2 * ph - eh) / sh + 1, Q_ = (W + 2 * pw - ew) / sw + 1;
  AX_CHECK(P == P_ && Q == Q_, op, ": output size (", P, ", ", Q, ") differs from the expected (",
           P_, ", ", Q_, ")");
  const double lim = static_cast<double>(kInt32Max);
  const double nx = double(N) * C * H * W, ny = double(N) * K * P * Q,
               nw = double(K) * double(C / groups) * R * S;
  AX_CHECK(nx <= lim && ny <= lim && nw <= lim, op,
           ": tensors with 2^31 or more elements are not supported by the CUDA conv2d kernels");
  AX_CHECK(double(sh) * P <= lim && double(sw) * Q <= lim && double(H) + 2.0 * ph <= lim &&
               double(W) + 2.0 * pw <= lim && double(dh) * R <= lim && double(dw) * S <= lim,
           op, ": sizes too large for the CUDA conv2d kernels");
  ConvGeom d;
  d.N = static_cast<int>(N);
  d.C = static_cast<int>(C);
  d.H = static_cast<int>(H);
  d.W = static_cast<int>(W);
  d.K = static_cast<int>(K);
  d.R = static_cast<int>(R);
  d.S = static_cast<int>(S);
  d.P = static_cast<int>(P);
  d.Q = static_cast<int>(Q);
  d.sh = static_cast<int>(sh);
  d.sw = static_cast<int>(sw);
  d.ph = static_cast<int>(ph);
  d.pw = static_cast<int>(pw);
  d.dh = static_cast<int>(dh);
  d.dw = static_cast<int>(dw);
  d.groups = static_cast<int>(groups);
  d.Cg = static_cast<int>(C / groups);
  d.Kg = static_cast<int>(K / groups);
  return d;
}

void conv2d_forward_launch(const ConvGeom& d, DType dt, const void* x, const void* w, const void* b,
                           void* y, cudaStream_t st, const char* op) {
  AX_CHECK(dt == DType::f32 || dt == DType::f64, op, ": dtype must be float32 or float64");
  if (index_t(d.N) * d.K * d.PQ() == 0) return;
  AX_CHECK(x && w && y, op, ": null device pointer");
  if (dt == DType::f32)
    forward_t<float>(d, x, w, b, y, st, op);
  else
    forward_t<double>(d, x, w, b, y, st, op);
}

void conv2d_backward_input_launch(const ConvGeom& d, DType dt, const void* dy, const void* w,
                                  void* dx, cudaStream_t st, const char* op) {
  AX_CHECK(dt == DType::f32 || dt == DType::f64, op, ": dtype must be float32 or float64");
  if (index_t(d.N) * d.C * d.HW() == 0) return;
  AX_CHECK(dy && w && dx, op, ": null device pointer");
  if (dt == DType::f32)
    backward_input_t<float>(d, dy, w, dx, st, op);
  else
    backward_input_t<double>(d, dy, w, dx, st, op);
}

void conv2d_backward_weight_launch(const ConvGeom& d, DType dt, const void* dy, const void* x,
                                   void* dw, cudaStream_t st, const char* op) {
  AX_CHECK(dt == DType::f32 || dt == DType::f64, op, ": dtype must be float32 or float64");
  if (index_t(d.K) * d.CRS() == 0) return;
  AX_CHECK(dw, op, ": null device pointer");
  AX_CHECK(index_t(d.N) * d.PQ() == 0 || (dy && x), op, ": null device pointer");
  if (dt == DType::f32)
    backward_weight_t<float>(d, dy, x, dw, st, op);
  else
    backward_weight_t<double>(d, dy, x, dw, st, op);
}

void conv2d_backward_bias_launch(DType dt, index_t N, index_t K, index_t L, const void* dy,
                                 void* db, cudaStream_t st, const char* op) {
  AX_CHECK(dt == DType::f32 || dt == DType::f64, op, ": dtype must be float32 or float64");
  AX_CHECK(N >= 0 && K >= 0 && L >= 0, op, ": negative size");
  if (K == 0) return;
  AX_CHECK(db && (N * L == 0 || dy), op, ": null device pointer");
  const unsigned grid = static_cast<unsigned>(std::min<index_t>(K, 65535LL * 16));
  if (dt == DType::f32)
    bias_grad_kernel<float>
        <<<grid, 256, 0, st>>>(static_cast<const float*>(dy), static_cast<float*>(db), N, K, L);
  else
    bias_grad_kernel<double>
        <<<grid, 256, 0, st>>>(static_cast<const double*>(dy), static_cast<double*>(db), N, K, L);
  AX_LAUNCH_CHECK(op, "bias_grad_kernel launch");
}

}  // namespace cuda
}  // namespace axonal
