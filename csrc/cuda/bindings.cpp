// bindings.cpp: the _cuda extension module: device queries and the kernel entry points.
// The kernels take raw device pointers (ints: CuPy's `arr.data.ptr`), sizes and the CUDA stream
// (`cupy.cuda.get_current_stream().ptr`); the Python adapters (axonal/backend/cuda.py) allocate
// and validate, these entries check again (ValueError naming the op) and launch with the GIL
// released. CUDA failures become RuntimeError naming the op. Nothing here synchronises the device
// except synchronize().
// The emulate_* entries run the host emulator of the kernels' blocks (emulate.cuh) on NumPy
// arrays: they need no GPU.
#include <cuda_runtime.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "cuda/batchnorm.cuh"
#include "cuda/cells.cuh"
#include "cuda/conv2d.cuh"
#include "cuda/elementwise.cuh"
#include "cuda/emulate.cuh"
#include "cuda/gemm.cuh"
#include "cuda/optim.cuh"
#include "cuda/pool.cuh"
#include "cuda/softmax.cuh"
#include "cuda/xent.cuh"

namespace py = pybind11;
using axonal::str_cat;
using axonal::cuda::DType;
using axonal::cuda::index_t;

namespace {

int device_count() {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error: no driver / no device means zero devices
    return 0;
  }
  return n;
}

py::dict device_properties(int dev) {
  const int n = device_count();
  if (dev < 0 || dev >= n)
    throw std::invalid_argument("cuda.device_properties: device " + std::to_string(dev) +
                                " out of range (" + std::to_string(n) + " devices)");
  cudaDeviceProp p{};
  AX_CUDA_CHECK("cuda.device_properties", cudaGetDeviceProperties(&p, dev));
  py::dict d;
  d["name"] = std::string(p.name);
  d["major"] = p.major;
  d["minor"] = p.minor;
  d["total_memory"] = static_cast<size_t>(p.totalGlobalMem);
  d["multi_processor_count"] = p.multiProcessorCount;
  return d;
}

DType dtype_arg(int code, const char* op) {
  AX_CHECK(code >= 0 && code <= 2, op, ": dtype code must be 0 (float32), 1 (float64) or ",
           "2 (bfloat16), got ", code);
  return static_cast<DType>(code);
}

template <typename P = void>
P* ptr(std::uintptr_t p) {
  return reinterpret_cast<P*>(p);
}

cudaStream_t stream_arg(std::uintptr_t s) { return axonal::cuda::as_stream(s); }

// ----------------------------------------------------------------- GEMM
axonal::cuda::GemmCall gemm_call(int in, int out, bool tf32, bool ta, bool tb, index_t M, index_t N,
                                 index_t K, double alpha, std::uintptr_t a, index_t lda, index_t sa,
                                 std::uintptr_t b, index_t ldb, index_t sb, double beta,
                                 std::uintptr_t c, index_t ldc, index_t sc, index_t batch,
                                 const char* op) {
  axonal::cuda::GemmCall g;
  g.in = dtype_arg(in, op);
  g.out = dtype_arg(out, op);
  g.use_tf32 = tf32;
  g.ta = ta;
  g.tb = tb;
  g.M = M;
  g.N = N;
  g.K = K;
  g.batch = batch;
  g.alpha = alpha;
  g.beta = beta;
  g.A = ptr<const void>(a);
  g.lda = lda;
  g.sA = sa;
  g.B = ptr<const void>(b);
  g.ldb = ldb;
  g.sB = sb;
  g.C = ptr<void>(c);
  g.ldc = ldc;
  g.sC = sc;
  return g;
}

void gemm(int in, int out, bool tf32, bool ta, bool tb, index_t M, index_t N, index_t K,
          double alpha, std::uintptr_t a, index_t lda, index_t sa, std::uintptr_t b, index_t ldb,
          index_t sb, double beta, std::uintptr_t c, index_t ldc, index_t sc, index_t batch,
          std::uintptr_t stream) {
  const char* op = "cuda.gemm";
  const auto g = gemm_call(in, out, tf32, ta, tb, M, N, K, alpha, a, lda, sa, b, ldb, sb, beta, c,
                           ldc, sc, batch, op);
  py::gil_scoped_release rel;
  axonal::cuda::gemm_launch(g, stream_arg(stream), op);
}

// ----------------------------------------------------------------- conv2d
// geom: [N, C, H, W, K, R, S, P, Q, sh, sw, ph, pw, dh, dw, groups]
axonal::cuda::ConvGeom conv_geom(const std::vector<index_t>& v, const char* op) {
  AX_CHECK(v.size() == 16, op, ": geometry must have 16 entries, got ", v.size());
  return axonal::cuda::make_conv_geom(op, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8],
                                      v[9], v[10], v[11], v[12], v[13], v[14], v[15]);
}

// geom: [N, C, H, W, P, Q, kh, kw, sh, sw, ph, pw, dh, dw]
axonal::cuda::PoolGeom pool_geom(const std::vector<index_t>& v, bool include_pad, index_t divisor,
                                 const char* op) {
  AX_CHECK(v.size() == 14, op, ": geometry must have 14 entries, got ", v.size());
  axonal::cuda::PoolGeom g;
  g.N = v[0];
  g.C = v[1];
  g.H = v[2];
  g.W = v[3];
  g.P = v[4];
  g.Q = v[5];
  g.kh = v[6];
  g.kw = v[7];
  g.sh = v[8];
  g.sw = v[9];
  g.ph = v[10];
  g.pw = v[11];
  g.dh = v[12];
  g.dw = v[13];
  g.count_include_pad = include_pad;
  g.divisor = divisor;
  axonal::cuda::check_pool_geom(g, op);
  return g;
}

// ----------------------------------------------------------------- emulator (host arrays)
DType np_dtype(const py::array& a, const char* op, const char* name) {
  const py::dtype d = a.dtype();
  if (d.byteorder() != '>') {
    if (d.num() == py::dtype::of<float>().num()) return DType::f32;
    if (d.num() == py::dtype::of<double>().num()) return DType::f64;
  }
  throw py::type_error(
      str_cat(op, ": ", name, " must be float32 or float64, got ", std::string(py::str(d))));
}

void need(const py::array& a, index_t n, const char* op, const char* name, bool writable) {
  AX_CHECK(a.flags() & py::array::c_style, op, ": ", name, " must be C-contiguous");
  AX_CHECK(static_cast<index_t>(a.size()) >= n, op, ": ", name, " has ", a.size(),
           " elements, the call reads or writes ", n);
  AX_CHECK(!writable || a.writeable(), op, ": ", name, " is read-only");
}

// Elements a strided (batch, rows, cols) operand spans, in checked arithmetic: a wrapped product
// would pass the buffer-size check and let the kernel address memory outside the buffer.
index_t span(index_t batch, index_t rows, index_t cols, index_t ld, index_t bs, const char* op,
             const char* name) {
  if (batch == 0 || rows == 0 || cols == 0) return 0;
  index_t b = 0, r = 0, n = 0;
  AX_CHECK(!__builtin_mul_overflow(batch - 1, bs, &b) &&
               !__builtin_mul_overflow(rows - 1, ld, &r) && !__builtin_add_overflow(b, r, &n) &&
               !__builtin_add_overflow(n, cols, &n),
           op, ": ", name, " (", batch, ", ", rows, ", ", cols, ") with ld = ", ld,
           " and batch stride ", bs, " spans more elements than a 64-bit index can count");
  return n;
}

void emulate_gemm(const py::array& a, const py::array& b, py::array& c, bool ta, bool tb, index_t M,
                  index_t N, index_t K, double alpha, index_t lda, index_t sa, index_t ldb,
                  index_t sb, double beta, index_t ldc, index_t sc, index_t batch, bool allow_vec,
                  int tf32_kernel) {
  const char* op = "cuda.emulate_gemm";
  // bfloat16 operands as uint16 bit patterns (with a float32 c) run the BF16 wgmma kernel
  const bool bits = a.dtype().is(py::dtype::of<std::uint16_t>());
  const DType dt = bits ? DType::f32 : np_dtype(a, op, "a");
  AX_CHECK(bits ? b.dtype().is(py::dtype::of<std::uint16_t>()) : np_dtype(b, op, "b") == dt, op,
           ": a and b must share one dtype");
  AX_CHECK(np_dtype(c, op, "c") == dt, op, ": c must be ",
           bits ? "float32 (bfloat16 a, b)" : "a's dtype");
  AX_CHECK(M >= 0 && N >= 0 && K >= 0 && batch >= 0 && sa >= 0 && sb >= 0 && sc >= 0, op,
           ": negative size or stride");
  AX_CHECK(lda >= std::max<index_t>(1, ta ? M : K) && ldb >= std::max<index_t>(1, tb ? K : N) &&
               ldc >= std::max<index_t>(1, N),
           op, ": leading dimension too small");
  const bool reads = M > 0 && N > 0 && K > 0;
  need(a, reads ? span(batch, ta ? K : M, ta ? M : K, lda, sa, op, "a") : 0, op, "a", false);
  need(b, reads ? span(batch, tb ? N : K, tb ? K : N, ldb, sb, op, "b") : 0, op, "b", false);
  need(c, span(batch, M, N, ldc, sc, op, "c"), op, "c", true);
  axonal::cuda::GemmCall g;
  g.in = bits ? DType::bf16 : dt;
  g.out = dt;
  g.use_tf32 = tf32_kernel != 0;
  g.ta = ta;
  g.tb = tb;
  g.M = M;
  g.N = N;
  g.K = K;
  g.batch = batch;
  g.alpha = alpha;
  g.beta = beta;
  g.A = a.data();
  g.lda = lda;
  g.sA = sa;
  g.B = b.data();
  g.ldb = ldb;
  g.sB = sb;
  g.C = c.mutable_data();
  g.ldc = ldc;
  g.sC = sc;
  py::gil_scoped_release rel;
  axonal::cuda::emulate_gemm(g, allow_vec, tf32_kernel, op);
}

void emulate_conv2d(int pass, const std::vector<index_t>& geom, const py::array& in0,
                    const py::array& in1, const py::object& bias, py::array& out, int splits) {
  const char* op = "cuda.emulate_conv2d";
  const auto d = conv_geom(geom, op);
  const DType dt = np_dtype(in0, op, "in0");
  AX_CHECK(np_dtype(in1, op, "in1") == dt && np_dtype(out, op, "out") == dt, op,
           ": arrays must share one dtype");
  const index_t nx = index_t(d.N) * d.C * d.HW(), ny = index_t(d.N) * d.K * d.PQ(),
                nw = index_t(d.K) * d.CRS();
  const void* bp = nullptr;
  py::array barr;
  if (pass == 0) {
    need(in0, nx, op, "x", false);
    need(in1, nw, op, "w", false);
    need(out, ny, op, "y", true);
    if (!bias.is_none()) {
      barr = bias.cast<py::array>();
      AX_CHECK(np_dtype(barr, op, "bias") == dt, op, ": bias dtype differs");
      need(barr, d.K, op, "bias", false);
      bp = barr.data();
    }
  } else if (pass == 1) {
    need(in0, ny, op, "dy", false);
    need(in1, nw, op, "w", false);
    need(out, nx, op, "dx", true);
  } else {
    AX_CHECK(pass == 2, op, ": pass must be 0, 1 or 2");
    need(in0, ny, op, "dy", false);
    need(in1, nx, op, "x", false);
    need(out, nw, op, "dw", true);
  }
  const void* p0 = in0.data();
  const void* p1 = in1.data();
  void* po = out.mutable_data();
  py::gil_scoped_release rel;
  axonal::cuda::emulate_conv2d(pass, d, dt, p0, p1, bp, po, splits, op);
}

void emulate_pool2d(int kind, const std::vector<index_t>& geom, bool include_pad, index_t divisor,
                    const py::array& in, const py::object& idx_obj, py::array& out) {
  const char* op = "cuda.emulate_pool2d";
  const auto g = pool_geom(geom, include_pad, divisor, op);
  const DType dt = np_dtype(in, op, "in");
  AX_CHECK(np_dtype(out, op, "out") == dt, op, ": arrays must share one dtype");
  AX_CHECK(kind >= 0 && kind <= 5, op, ": kind must be 0..5");
  const index_t nin = g.N * g.C * g.H * g.W, nout = g.N * g.C * g.P * g.Q;
  const bool fwd = kind % 2 == 0;
  need(in, fwd ? nin : nout, op, "in", false);
  need(out, fwd ? nout : nin, op, "out", true);
  std::int64_t* ip = nullptr;
  py::array idx;
  if (kind <= 1) {
    AX_CHECK(!idx_obj.is_none(), op, ": max pooling needs idx");
    idx = idx_obj.cast<py::array>();
    AX_CHECK(idx.dtype().num() == py::dtype::of<std::int64_t>().num(), op, ": idx must be int64");
    need(idx, nout, op, "idx", kind == 0);
    ip = static_cast<std::int64_t*>(idx.mutable_data());
  }
  if (fwd && nout > 0) AX_CHECK(g.H > 0 && g.W > 0, op, ": empty input plane");
  const void* pi = in.data();
  void* po = out.mutable_data();
  py::gil_scoped_release rel;
  axonal::cuda::emulate_pool2d(kind, g, dt, pi, ip, po, op);
}

// The pointers of a cell pass (cells.cuh) from Python's list of addresses; the rest null.
struct CellPointers {
  void* p[axonal::cuda::kCellPointers] = {};
  CellPointers(const std::vector<std::uintptr_t>& ptrs, const char* op) {
    AX_CHECK(ptrs.size() <= axonal::cuda::kCellPointers, op, ": at most ",
             axonal::cuda::kCellPointers, " pointers, got ", ptrs.size());
    for (size_t k = 0; k < ptrs.size(); ++k) p[k] = ptr<void>(ptrs[k]);
  }
};

// Cross entropy on host arrays (xent.cuh): forward writes out (loss) and aux; backward reads g
// and aux, writes out (dx).
void emulate_cross_entropy(bool backward, const py::array& logp, const py::array& target,
                           const py::object& weight_obj, std::int64_t ignore, double eps,
                           int reduction, const py::object& g_obj, py::array& aux, py::array& out) {
  const char* op = "cuda.emulate_cross_entropy";
  const DType dt = np_dtype(logp, op, "logp");
  AX_CHECK(logp.ndim() == 2, op, ": logp must be (rows, classes)");
  const index_t R = logp.shape(0), C = logp.shape(1);
  AX_CHECK(np_dtype(out, op, "out") == dt, op, ": logp and out must share one dtype");
  AX_CHECK(target.dtype().is(py::dtype::of<std::int64_t>()), op, ": target must be int64");
  AX_CHECK(aux.dtype().is(py::dtype::of<double>()), op, ": aux must be float64");
  need(logp, R * C, op, "logp", false);
  need(target, R, op, "target", false);
  need(aux, 2, op, "aux", !backward);
  need(out, backward ? R * C : (reduction == 0 ? R : 1), op, "out", true);
  for (index_t i = 0; i < R; ++i) {
    const std::int64_t t = static_cast<const std::int64_t*>(target.data())[i];
    AX_CHECK(t == ignore || (t >= 0 && t < C), op, ": target ", t, " out of range");
  }
  py::array weight, g;
  const void* wp = nullptr;
  const void* gp = nullptr;
  if (!weight_obj.is_none()) {
    weight = py::cast<py::array>(weight_obj);
    AX_CHECK(np_dtype(weight, op, "weight") == dt, op, ": weight must share logp's dtype");
    need(weight, C, op, "weight", false);
    wp = weight.data();
  }
  if (backward) {
    g = py::cast<py::array>(g_obj);
    AX_CHECK(np_dtype(g, op, "g") == dt, op, ": g must share logp's dtype");
    need(g, reduction == 0 ? R : 1, op, "g", false);
    gp = g.data();
  }
  axonal::cuda::emulate_xent(
      backward, dt, logp.data(), static_cast<const std::int64_t*>(target.data()), wp, ignore, eps,
      reduction, R, C, gp, static_cast<double*>(aux.mutable_data()), out.mutable_data(), op);
}

void emulate_softmax(bool backward, bool log, const py::array& in0, const py::object& in1_obj,
                     py::array& out, index_t rows, index_t cols) {
  const char* op = "cuda.emulate_softmax";
  const DType dt = np_dtype(in0, op, backward ? "y" : "x");
  AX_CHECK(np_dtype(out, op, "out") == dt, op, ": arrays must share one dtype");
  AX_CHECK(rows >= 0 && cols >= 0, op, ": negative size");
  const index_t n = rows * cols;
  need(in0, n, op, backward ? "y" : "x", false);
  need(out, n, op, "out", true);
  const void* p1 = nullptr;
  py::array in1;
  if (backward) {
    AX_CHECK(!in1_obj.is_none(), op, ": the backward needs dy");
    in1 = in1_obj.cast<py::array>();
    AX_CHECK(np_dtype(in1, op, "dy") == dt, op, ": arrays must share one dtype");
    need(in1, n, op, "dy", false);
    p1 = in1.data();
  }
  const void* p0 = in0.data();
  void* po = out.mutable_data();
  py::gil_scoped_release rel;
  axonal::cuda::emulate_softmax(backward, log, dt, p0, p1, po, rows, cols, op);
}

}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "axonal CUDA kernels (GEMM, conv2d, pooling, softmax) on raw device pointers";
  m.def("device_count", &device_count);
  m.def("device_properties", &device_properties, py::arg("device") = 0);
  m.def("runtime_version", [] {
    int v = 0;
    if (cudaRuntimeGetVersion(&v) != cudaSuccess) {
      cudaGetLastError();
      return 0;
    }
    return v;
  });
  m.def("compiled_version", [] { return CUDART_VERSION; });
  m.def(
      "synchronize",
      [] {
        py::gil_scoped_release rel;
        AX_CUDA_CHECK("cuda.synchronize", cudaDeviceSynchronize());
      },
      "Wait for all work on the current device (cudaDeviceSynchronize).");

  m.def("gemm", &gemm, py::arg("in_dtype"), py::arg("out_dtype"), py::arg("use_tf32"),
        py::arg("trans_a"), py::arg("trans_b"), py::arg("M"), py::arg("N"), py::arg("K"),
        py::arg("alpha"), py::arg("a"), py::arg("lda"), py::arg("stride_a"), py::arg("b"),
        py::arg("ldb"), py::arg("stride_b"), py::arg("beta"), py::arg("c"), py::arg("ldc"),
        py::arg("stride_c"), py::arg("batch"), py::arg("stream"),
        "C[i] = alpha op(A[i]) op(B[i]) + beta C[i] on device pointers (dtype codes: 0 float32, "
        "1 float64, 2 bfloat16).");
  m.def(
      "gemm_kernel_name",
      [](int in, bool tf32) {
        axonal::cuda::GemmCall g;
        g.in = dtype_arg(in, "cuda.gemm_kernel_name");
        g.use_tf32 = tf32;
        return std::string(axonal::cuda::gemm_kernel_name(g));
      },
      py::arg("in_dtype"), py::arg("use_tf32") = false);

  m.def(
      "conv2d_forward",
      [](int dt, const std::vector<index_t>& geom, std::uintptr_t x, std::uintptr_t w,
         std::uintptr_t b, std::uintptr_t y, std::uintptr_t stream) {
        const char* op = "cuda.conv2d_forward";
        const auto d = conv_geom(geom, op);
        const DType t = dtype_arg(dt, op);
        py::gil_scoped_release rel;
        axonal::cuda::conv2d_forward_launch(d, t, ptr<const void>(x), ptr<const void>(w),
                                            ptr<const void>(b), ptr<void>(y), stream_arg(stream),
                                            op);
      },
      py::arg("dtype"), py::arg("geom"), py::arg("x"), py::arg("w"), py::arg("b"), py::arg("y"),
      py::arg("stream"));
  m.def(
      "conv2d_backward_input",
      [](int dt, const std::vector<index_t>& geom, std::uintptr_t dy, std::uintptr_t w,
         std::uintptr_t dx, std::uintptr_t stream) {
        const char* op = "cuda.conv2d_backward_input";
        const auto d = conv_geom(geom, op);
        const DType t = dtype_arg(dt, op);
        py::gil_scoped_release rel;
        axonal::cuda::conv2d_backward_input_launch(d, t, ptr<const void>(dy), ptr<const void>(w),
                                                   ptr<void>(dx), stream_arg(stream), op);
      },
      py::arg("dtype"), py::arg("geom"), py::arg("dy"), py::arg("w"), py::arg("dx"),
      py::arg("stream"));
  m.def(
      "conv2d_backward_weight",
      [](int dt, const std::vector<index_t>& geom, std::uintptr_t dy, std::uintptr_t x,
         std::uintptr_t dw, std::uintptr_t stream) {
        const char* op = "cuda.conv2d_backward_weight";
        const auto d = conv_geom(geom, op);
        const DType t = dtype_arg(dt, op);
        py::gil_scoped_release rel;
        axonal::cuda::conv2d_backward_weight_launch(d, t, ptr<const void>(dy), ptr<const void>(x),
                                                    ptr<void>(dw), stream_arg(stream), op);
      },
      py::arg("dtype"), py::arg("geom"), py::arg("dy"), py::arg("x"), py::arg("dw"),
      py::arg("stream"));
  m.def(
      "conv2d_backward_bias",
      [](int dt, index_t N, index_t K, index_t L, std::uintptr_t dy, std::uintptr_t db,
         std::uintptr_t stream) {
        const char* op = "cuda.conv2d_backward_bias";
        const DType t = dtype_arg(dt, op);
        py::gil_scoped_release rel;
        axonal::cuda::conv2d_backward_bias_launch(t, N, K, L, ptr<const void>(dy), ptr<void>(db),
                                                  stream_arg(stream), op);
      },
      py::arg("dtype"), py::arg("N"), py::arg("K"), py::arg("L"), py::arg("dy"), py::arg("db"),
      py::arg("stream"));

  m.def(
      "max_pool2d_forward",
      [](int dt, const std::vector<index_t>& geom, std::uintptr_t x, std::uintptr_t y,
         std::uintptr_t idx, std::uintptr_t stream) {
        const char* op = "cuda.max_pool2d_forward";
        const auto g = pool_geom(geom, true, 0, op);
        const DType t = dtype_arg(dt, op);
        py::gil_scoped_release rel;
        axonal::cuda::max_pool2d_forward_launch(g, t, ptr<const void>(x), ptr<void>(y),
                                                ptr<std::int64_t>(idx), stream_arg(stream), op);
      },
      py::arg("dtype"), py::arg("geom"), py::arg("x"), py::arg("y"), py::arg("idx"),
      py::arg("stream"));
  m.def(
      "max_pool2d_backward",
      [](int dt, const std::vector<index_t>& geom, std::uintptr_t dy, std::uintptr_t idx,
         std::uintptr_t dx, std::uintptr_t stream) {
        const char* op = "cuda.max_pool2d_backward";
        const auto g = pool_geom(geom, true, 0, op);
        const DType t = dtype_arg(dt, op);
        py::gil_scoped_release rel;
        axonal::cuda::max_pool2d_backward_launch(g, t, ptr<const void>(dy),
                                                 ptr<const std::int64_t>(idx), ptr<void>(dx),
                                                 stream_arg(stream), op);
      },
      py::arg("dtype"), py::arg("geom"), py::arg("dy"), py::arg("idx"), py::arg("dx"),
      py::arg("stream"));
  m.def(
      "avg_pool2d_forward",
      [](int dt, const std::vector<index_t>& geom, bool include_pad, index_t divisor,
         std::uintptr_t x, std::uintptr_t y, std::uintptr_t stream) {
        const char* op = "cuda.avg_pool2d_forward";
        const auto g = pool_geom(geom, include_pad, divisor, op);
        const DType t = dtype_arg(dt, op);
        py::gil_scoped_release rel;
        axonal::cuda::avg_pool2d_forward_launch(g, t, ptr<const void>(x), ptr<void>(y),
                                                stream_arg(stream), op);
      },
      py::arg("dtype"), py::arg("geom"), py::arg("count_include_pad"), py::arg("divisor"),
      py::arg("x"), py::arg("y"), py::arg("stream"));
  m.def(
      "avg_pool2d_backward",
      [](int dt, const std::vector<index_t>& geom, bool include_pad, index_t divisor,
         std::uintptr_t dy, std::uintptr_t dx, std::uintptr_t stream) {
        const char* op = "cuda.avg_pool2d_backward";
        const auto g = pool_geom(geom, include_pad, divisor, op);
        const DType t = dtype_arg(dt, op);
        py::gil_scoped_release rel;
        axonal::cuda::avg_pool2d_backward_launch(g, t, ptr<const void>(dy), ptr<void>(dx),
                                                 stream_arg(stream), op);
      },
      py::arg("dtype"), py::arg("geom"), py::arg("count_include_pad"), py::arg("divisor"),
      py::arg("dy"), py::arg("dx"), py::arg("stream"));
  m.def(
      "adaptive_avg_pool2d_forward",
      [](int dt, const std::vector<index_t>& geom, std::uintptr_t x, std::uintptr_t y,
         std::uintptr_t stream) {
        const char* op = "cuda.adaptive_avg_pool2d_forward";
        const auto g = pool_geom(geom, true, 0, op);
        const DType t = dtype_arg(dt, op);
        py::gil_scoped_release rel;
        axonal::cuda::adaptive_avg_pool2d_forward_launch(g, t, ptr<const void>(x), ptr<void>(y),
                                                         stream_arg(stream), op);
      },
      py::arg("dtype"), py::arg("geom"), py::arg("x"), py::arg("y"), py::arg("stream"));
  m.def(
      "adaptive_avg_pool2d_backward",
      [](int dt, const std::vector<index_t>& geom, std::uintptr_t dy, std::uintptr_t dx,
         std::uintptr_t stream) {
        const char* op = "cuda.adaptive_avg_pool2d_backward";
        const auto g = pool_geom(geom, true, 0, op);
        const DType t = dtype_arg(dt, op);
        py::gil_scoped_release rel;
        axonal::cuda::adaptive_avg_pool2d_backward_launch(g, t, ptr<const void>(dy), ptr<void>(dx),
                                                          stream_arg(stream), op);
      },
      py::arg("dtype"), py::arg("geom"), py::arg("dy"), py::arg("dx"), py::arg("stream"));

  m.def(
      "softmax_forward",
      [](int dt, bool log, std::uintptr_t x, std::uintptr_t y, index_t rows, index_t cols,
         std::uintptr_t stream) {
        const char* op = log ? "cuda.log_softmax" : "cuda.softmax";
        const DType t = dtype_arg(dt, op);
        py::gil_scoped_release rel;
        axonal::cuda::softmax_forward_launch(t, log, ptr<const void>(x), ptr<void>(y), rows, cols,
                                             stream_arg(stream), op);
      },
      py::arg("dtype"), py::arg("log"), py::arg("x"), py::arg("y"), py::arg("rows"),
      py::arg("cols"), py::arg("stream"));
  m.def(
      "softmax_backward",
      [](int dt, bool log, std::uintptr_t y, std::uintptr_t dy, std::uintptr_t dx, index_t rows,
         index_t cols, std::uintptr_t stream) {
        const char* op = log ? "cuda.log_softmax_backward" : "cuda.softmax_backward";
        const DType t = dtype_arg(dt, op);
        py::gil_scoped_release rel;
        axonal::cuda::softmax_backward_launch(t, log, ptr<const void>(y), ptr<const void>(dy),
                                              ptr<void>(dx), rows, cols, stream_arg(stream), op);
      },
      py::arg("dtype"), py::arg("log"), py::arg("y"), py::arg("dy"), py::arg("dx"), py::arg("rows"),
      py::arg("cols"), py::arg("stream"));
  m.def(
      "batch_norm_forward",
      [](int dt, index_t N, index_t C, index_t L, std::uintptr_t x, std::uintptr_t w,
         std::uintptr_t b, double eps, std::uintptr_t y, std::uintptr_t mean, std::uintptr_t var,
         std::uintptr_t invstd, std::uintptr_t rmean, std::uintptr_t rvar, double momentum,
         std::uintptr_t stream) {
        const char* op = "cuda.batch_norm";
        const DType t = dtype_arg(dt, op);
        py::gil_scoped_release rel;
        axonal::cuda::batch_norm_forward_launch(
            t, N, C, L, ptr<const void>(x), ptr<const void>(w), ptr<const void>(b), eps,
            ptr<void>(y), ptr<void>(mean), ptr<void>(var), ptr<void>(invstd), ptr<void>(rmean),
            ptr<void>(rvar), momentum, stream_arg(stream), op);
      },
      py::arg("dtype"), py::arg("N"), py::arg("C"), py::arg("L"), py::arg("x"), py::arg("weight"),
      py::arg("bias"), py::arg("eps"), py::arg("y"), py::arg("mean"), py::arg("var"),
      py::arg("invstd"), py::arg("running_mean"), py::arg("running_var"), py::arg("momentum"),
      py::arg("stream"),
      "Batch norm (training) over a dense (N, C, L) buffer; null (0) weight / bias / running "
      "statistics are absent.");
  m.def(
      "batch_norm_backward",
      [](int dt, index_t N, index_t C, index_t L, std::uintptr_t x, std::uintptr_t g,
         std::uintptr_t mean, std::uintptr_t invstd, std::uintptr_t w, std::uintptr_t gx,
         std::uintptr_t sgx, std::uintptr_t sg, std::uintptr_t stream) {
        const char* op = "cuda.batch_norm_backward";
        const DType t = dtype_arg(dt, op);
        py::gil_scoped_release rel;
        axonal::cuda::batch_norm_backward_launch(t, N, C, L, ptr<const void>(x), ptr<const void>(g),
                                                 ptr<const void>(mean), ptr<const void>(invstd),
                                                 ptr<const void>(w), ptr<void>(gx), ptr<void>(sgx),
                                                 ptr<void>(sg), stream_arg(stream), op);
      },
      py::arg("dtype"), py::arg("N"), py::arg("C"), py::arg("L"), py::arg("x"), py::arg("grad"),
      py::arg("mean"), py::arg("invstd"), py::arg("weight"), py::arg("grad_input"),
      py::arg("sum_grad_xhat"), py::arg("sum_grad"), py::arg("stream"));
  m.def(
      "adam_update",
      [](int dt, index_t n, std::uintptr_t p, std::uintptr_t g, std::uintptr_t m_, std::uintptr_t v,
         std::uintptr_t vmax, double beta1, double beta2, double eps, double step_size,
         double bc2_sqrt, double wd, bool maximize, double shrink, std::uintptr_t stream) {
        const char* op = "cuda.adam_update";
        const DType t = dtype_arg(dt, op);
        py::gil_scoped_release rel;
        axonal::cuda::adam_update_launch(
            t, n, ptr<void>(p), ptr<const void>(g), ptr<void>(m_), ptr<void>(v), ptr<void>(vmax),
            beta1, beta2, eps, step_size, bc2_sqrt, wd, maximize, shrink, stream_arg(stream), op);
      },
      py::arg("dtype"), py::arg("n"), py::arg("param"), py::arg("grad"), py::arg("exp_avg"),
      py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq"), py::arg("beta1"), py::arg("beta2"),
      py::arg("eps"), py::arg("step_size"), py::arg("bias_correction2_sqrt"),
      py::arg("weight_decay"), py::arg("maximize"), py::arg("shrink"), py::arg("stream"),
      "Fused Adam / AdamW step on dense device buffers of n elements (max_exp_avg_sq 0: none).");
  m.def(
      "adam_update_multi",
      [](int dt,
         const std::vector<std::tuple<std::uintptr_t, std::uintptr_t, std::uintptr_t,
                                      std::uintptr_t, std::uintptr_t, index_t, double, double>>&
             tensors,
         double beta1, double beta2, double eps, double wd, bool maximize, double shrink,
         std::uintptr_t stream) {
        const char* op = "cuda.adam_update_multi";
        const DType t = dtype_arg(dt, op);
        std::vector<axonal::cuda::AdamTensor> ts(tensors.size());
        for (size_t k = 0; k < tensors.size(); ++k) {
          const auto& e = tensors[k];
          ts[k].p = ptr<void>(std::get<0>(e));
          ts[k].g = ptr<const void>(std::get<1>(e));
          ts[k].m = ptr<void>(std::get<2>(e));
          ts[k].v = ptr<void>(std::get<3>(e));
          ts[k].vmax = ptr<void>(std::get<4>(e));
          ts[k].n = std::get<5>(e);
          ts[k].step_size = std::get<6>(e);
          ts[k].bc2_sqrt = std::get<7>(e);
        }
        py::gil_scoped_release rel;
        axonal::cuda::adam_update_multi_launch(t, ts.data(), static_cast<int>(ts.size()), beta1,
                                               beta2, eps, wd, maximize, shrink, stream_arg(stream),
                                               op);
      },
      py::arg("dtype"), py::arg("tensors"), py::arg("beta1"), py::arg("beta2"), py::arg("eps"),
      py::arg("weight_decay"), py::arg("maximize"), py::arg("shrink"), py::arg("stream"),
      "adam_update for up to 24 tensors of one dtype in one launch: tensors = [(param, grad, "
      "exp_avg, exp_avg_sq, max_exp_avg_sq or 0, n, step_size, bias_correction2_sqrt)].");
  m.def(
      "relu_backward",
      [](int dt, index_t n, std::uintptr_t y, std::uintptr_t g, std::uintptr_t dx,
         std::uintptr_t stream) {
        const char* op = "cuda.relu_backward";
        const DType t = dtype_arg(dt, op);
        py::gil_scoped_release rel;
        axonal::cuda::relu_backward_launch(t, n, ptr<const void>(y), ptr<const void>(g),
                                           ptr<void>(dx), stream_arg(stream), op);
      },
      py::arg("dtype"), py::arg("n"), py::arg("output"), py::arg("grad"), py::arg("dx"),
      py::arg("stream"), "dx = output > 0 ? grad : 0 over n dense elements (dx may alias grad).");
  m.def(
      "rnn_cell",
      [](int pass, int dt, index_t N, index_t H, const std::vector<std::uintptr_t>& ptrs,
         std::uintptr_t stream) {
        const char* op = "cuda.rnn_cell";
        const DType t = dtype_arg(dt, op);
        const CellPointers p(ptrs, op);
        py::gil_scoped_release rel;
        axonal::cuda::rnn_cell_launch(static_cast<axonal::cuda::CellPass>(pass), t, N, H, p.p,
                                      stream_arg(stream), op);
      },
      py::arg("pass_"), py::arg("dtype"), py::arg("N"), py::arg("H"), py::arg("pointers"),
      py::arg("stream"),
      "The pointwise half of an LSTM / GRU step (cells.cuh): pass 0 LSTM forward (gates, c, h2, "
      "c2, act), 1 LSTM backward (dh, dc, act, c, c2, dgates, dc_prev), 2 GRU forward (gi, gh, h, "
      "h2, act), 3 GRU backward (dh, act, gh, h, dgi, dgh, dh_prev); dense arrays.");
  m.def(
      "emulate_rnn_cell",
      [](int pass, int dt, index_t N, index_t H, const std::vector<std::uintptr_t>& ptrs) {
        const char* op = "cuda.emulate_rnn_cell";
        const DType t = dtype_arg(dt, op);
        const CellPointers p(ptrs, op);
        py::gil_scoped_release rel;
        axonal::cuda::rnn_cell_emulate(static_cast<axonal::cuda::CellPass>(pass), t, N, H, p.p, op);
      },
      py::arg("pass_"), py::arg("dtype"), py::arg("N"), py::arg("H"), py::arg("pointers"),
      "rnn_cell's element function run on host memory (addresses of NumPy buffers), for tests "
      "without a GPU.");
  m.def("softmax_kernel_name",
        [](index_t cols) { return std::string(axonal::cuda::softmax_kernel_name(cols)); });

  m.def("emulate_gemm", &emulate_gemm, py::arg("a"), py::arg("b"), py::arg("c"), py::arg("trans_a"),
        py::arg("trans_b"), py::arg("M"), py::arg("N"), py::arg("K"), py::arg("alpha"),
        py::arg("lda"), py::arg("stride_a"), py::arg("ldb"), py::arg("stride_b"), py::arg("beta"),
        py::arg("ldc"), py::arg("stride_c"), py::arg("batch"), py::arg("allow_vec") = true,
        py::arg("tf32_kernel") = 0,
        "Host emulation of the float32 SIMT / float64 GEMM kernels on NumPy buffers; "
        "tf32_kernel 1 .. 3 (mma.sync), 5 .. 8 (wgmma) runs that TF32 kernel instead (float32).");
  m.def("set_tf32_kernel", &axonal::cuda::set_tf32_kernel, py::arg("which"),
        "TF32 GEMM kernel: 0 auto (7 on compute 9.0 with the sm_90a build, else mma.sync 1 where "
        "the device's shared memory allows, else WMMA), 1 mma.sync 128x128x32 3 stages, 2 "
        "128x256x32 3 stages, 3 128x128x32 4 stages, "
        "4 WMMA, 5 wgmma (Hopper, sm_90a build) 128x128x32 5 stages, 6 wgmma 128x256x32 4 "
        "stages, 7 wgmma fed by the TMA 128x256x32 4 stages, 8 TMA 128x128x32 6 stages. For "
        "benchmarks and tests.");
  m.def("tf32_wgmma_available", &axonal::cuda::tf32_wgmma_available,
        "Whether the wgmma TF32 kernels are built (sm_90a) and the device is compute 9.0.");
  m.def("tf32_kernel", &axonal::cuda::tf32_kernel);
  m.def("set_bf16_kernel", &axonal::cuda::set_bf16_kernel, py::arg("which"),
        "BF16 GEMM kernel (bfloat16 in, float32 out): 0 auto (the TMA-fed wgmma kernel on compute "
        "9.0 with the sm_90a build, else WMMA), 1 WMMA. For benchmarks and tests.");
  m.def("bf16_kernel", &axonal::cuda::bf16_kernel);
  m.def("emulate_conv2d", &emulate_conv2d, py::arg("pass_"), py::arg("geom"), py::arg("in0"),
        py::arg("in1"), py::arg("bias"), py::arg("out"), py::arg("splits") = 0,
        "Host emulation of the conv2d implicit-GEMM kernels (pass_ 0 fwd, 1 bwd-input, "
        "2 bwd-weight).");
  m.def("emulate_pool2d", &emulate_pool2d, py::arg("kind"), py::arg("geom"),
        py::arg("count_include_pad"), py::arg("divisor"), py::arg("inp"), py::arg("idx"),
        py::arg("out"),
        "Host emulation of the pooling kernels (kind 0 max fwd, 1 max bwd, 2 avg fwd, 3 avg bwd, "
        "4 adaptive fwd, 5 adaptive bwd).");
  m.def(
      "cross_entropy_forward",
      [](int dt, std::uintptr_t logp, std::uintptr_t target, std::uintptr_t weight,
         std::int64_t ignore, double eps, int reduction, index_t R, index_t C, std::uintptr_t loss,
         std::uintptr_t aux, std::uintptr_t stream) {
        const char* op = "cuda.cross_entropy";
        const DType t = dtype_arg(dt, op);
        py::gil_scoped_release rel;
        axonal::cuda::xent_forward_launch(t, ptr<const void>(logp), ptr<const std::int64_t>(target),
                                          ptr<const void>(weight), ignore, eps, reduction, R, C,
                                          ptr<void>(loss), ptr<double>(aux), stream_arg(stream),
                                          op);
      },
      py::arg("dtype"), py::arg("logp"), py::arg("target"), py::arg("weight"),
      py::arg("ignore_index"), py::arg("eps"), py::arg("reduction"), py::arg("rows"),
      py::arg("classes"), py::arg("loss"), py::arg("aux"), py::arg("stream"),
      "Cross entropy of log-probabilities (rows, classes) and int64 class targets: loss (rows "
      "values for reduction 0 none, else one: 1 mean, 2 sum) and aux = (sum of target weights, "
      "sum of class weights) as float64 (weight 0: none).");
  m.def(
      "cross_entropy_backward",
      [](int dt, std::uintptr_t logp, std::uintptr_t target, std::uintptr_t weight,
         std::int64_t ignore, double eps, int reduction, index_t R, index_t C, std::uintptr_t g,
         std::uintptr_t aux, std::uintptr_t dx, std::uintptr_t stream) {
        const char* op = "cuda.cross_entropy_backward";
        const DType t = dtype_arg(dt, op);
        py::gil_scoped_release rel;
        axonal::cuda::xent_backward_launch(
            t, ptr<const void>(logp), ptr<const std::int64_t>(target), ptr<const void>(weight),
            ignore, eps, reduction, R, C, ptr<const void>(g), ptr<const double>(aux), ptr<void>(dx),
            stream_arg(stream), op);
      },
      py::arg("dtype"), py::arg("logp"), py::arg("target"), py::arg("weight"),
      py::arg("ignore_index"), py::arg("eps"), py::arg("reduction"), py::arg("rows"),
      py::arg("classes"), py::arg("grad"), py::arg("aux"), py::arg("dx"), py::arg("stream"),
      "Gradient of cross_entropy_forward with respect to the logits (rows, classes).");
  m.def("emulate_cross_entropy", &emulate_cross_entropy, py::arg("backward"), py::arg("logp"),
        py::arg("target"), py::arg("weight"), py::arg("ignore_index"), py::arg("eps"),
        py::arg("reduction"), py::arg("grad"), py::arg("aux"), py::arg("out"),
        "Host emulation of the cross-entropy kernels (forward: out = loss, aux written; "
        "backward: out = dx).");
  m.def("emulate_softmax", &emulate_softmax, py::arg("backward"), py::arg("log"), py::arg("in0"),
        py::arg("in1"), py::arg("out"), py::arg("rows"), py::arg("cols"),
        "Host emulation of the softmax kernels (forward: in0 = x; backward: in0 = y, in1 = dy).");
}
