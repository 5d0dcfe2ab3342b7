// bindings.cpp: the _cpu extension module. Every entry point validates its arguments and raises
// ValueError / TypeError naming the op and the shapes; kernels run with the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "common/check.h"
#include "cpu/cpu_features.h"
#include "cpu/gemm.h"
#include "cpu/optim.h"
#include "cpu/threads.h"

namespace py = pybind11;
using axonal::index_t;

namespace {

std::string shape_str(const py::array& a) {
  std::ostringstream os;
  os << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) os << (i ? ", " : "") << a.shape(i);
  if (a.ndim() == 1) os << ",";
  os << ")";
  return os.str();
}

std::string pair_str(index_t r, index_t c) { return axonal::str_cat("(", r, ", ", c, ")"); }

enum class DType { f32, f64 };

DType dtype_of(const py::array& a, const char* op, const char* name) {
  // Compare by type number, not identity: unpickled arrays carry equal but distinct dtypes.
  const py::dtype d = a.dtype();
  if (d.byteorder() != '>') {
    if (d.num() == py::dtype::of<float>().num()) return DType::f32;
    if (d.num() == py::dtype::of<double>().num()) return DType::f64;
  }
  throw py::type_error(axonal::str_cat(op, ": ", name,
                                       " must be float32 or float64 (native byte order), got ",
                                       std::string(py::str(d))));
}

py::array as_array(const py::handle& h, const char* op, const char* name) {
  if (!py::isinstance<py::array>(h))
    throw py::type_error(axonal::str_cat(op, ": ", name, " must be a numpy.ndarray, got ",
                                         std::string(py::str(py::type::of(h).attr("__name__")))));
  return py::reinterpret_borrow<py::array>(h);
}

// A matrix operand (the last two axes of a 2-D or 3-D array) as the kernels see it.
struct Operand {
  py::array keep;  // the array whose memory is used (a copy when the layout needed one)
  index_t batch = 1, rows = 0, cols = 0;
  index_t ld = 1, bstride = 0;  // in elements
  bool colmajor = false;        // memory holds the transpose, row-major with row stride ld
  const void* data() const { return keep.data(); }
};

bool try_layout(const py::array& a, Operand& op) {
  const py::ssize_t nd = a.ndim();
  const index_t isz = a.itemsize();
  const index_t r = a.shape(nd - 2), c = a.shape(nd - 1);
  const index_t sr = a.strides(nd - 2), sc = a.strides(nd - 1);
  op.rows = r;
  op.cols = c;
  op.batch = nd == 3 ? a.shape(0) : 1;
  if (nd == 3) {
    const index_t sb = a.strides(0);
    if (op.batch > 1 && (sb < 0 || sb % isz)) return false;
    op.bstride = op.batch > 1 ? sb / isz : 0;
  }
  if (a.size() == 0) {  // no element is read or written; strides may be anything
    op.ld = std::max<index_t>(1, c);
    op.bstride = 0;
    op.colmajor = false;
    return true;
  }
  if ((sc == isz || c == 1) && (r == 1 || (sr > 0 && sr % isz == 0 && sr / isz >= c))) {
    op.colmajor = false;
    op.ld = r == 1 ? c : sr / isz;
    return true;
  }
  if ((sr == isz || r == 1) && (c == 1 || (sc > 0 && sc % isz == 0 && sc / isz >= r))) {
    op.colmajor = true;
    op.ld = c == 1 ? r : sc / isz;
    return true;
  }
  return false;
}

Operand make_operand(const py::array& a, const char* op_name, const char* name) {
  Operand op;
  op.keep = a;
  if (!try_layout(a, op)) {
    // Strides the kernels cannot address (negative, zero, not a whole element): copy.
    op.keep = py::module_::import("numpy").attr("ascontiguousarray")(a).cast<py::array>();
    if (!try_layout(op.keep, op))
      throw std::invalid_argument(axonal::str_cat(op_name, ": cannot lay out ", name, " ",
                                                  shape_str(a), " for the kernel"));
  }
  return op;
}

// The output: row-major in its last axis, writable, right shape and dtype, not overlapping inputs.
Operand make_output(const py::array& c, const char* op_name, index_t batch, index_t M, index_t N,
                    int want_nd, DType dt) {
  if (dtype_of(c, op_name, "out") != dt)
    throw py::type_error(axonal::str_cat(op_name, ": out has dtype ",
                                         std::string(py::str(c.dtype())), ", the inputs are ",
                                         dt == DType::f32 ? "float32" : "float64"));
  if (!c.writeable()) throw std::invalid_argument(axonal::str_cat(op_name, ": out is read-only"));
  bool shape_ok = c.ndim() == want_nd && c.shape(want_nd - 2) == M && c.shape(want_nd - 1) == N &&
                  (want_nd == 2 || c.shape(0) == batch);
  if (!shape_ok)
    throw std::invalid_argument(axonal::str_cat(
        op_name, ": out has shape ", shape_str(c), ", expected ",
        want_nd == 3 ? axonal::str_cat("(", batch, ", ", M, ", ", N, ")") : pair_str(M, N)));
  Operand op;
  op.keep = c;
  const bool empty = M == 0 || N == 0;
  if (!try_layout(c, op) || (op.colmajor && M > 1 && N > 1) ||
      (!empty && batch > 1 &&
       op.bstride < (M - 1) * (op.colmajor ? std::max<index_t>(1, N) : op.ld) + N))
    throw std::invalid_argument(axonal::str_cat(op_name, ": out ", shape_str(c),
                                                " must be row-major in its last axis with "
                                                "positive strides"));
  if (op.colmajor) {  // a single row or column: any layout is row-major too
    op.colmajor = false;
    op.ld = std::max<index_t>(1, N);
    if (M > 1) op.ld = c.strides(want_nd - 2) / c.itemsize();
  }
  return op;
}

std::pair<const char*, const char*> byte_range(const py::array& a) {
  const char* lo = static_cast<const char*>(a.data());
  const char* hi = lo;
  if (a.size() == 0) return {lo, lo};
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    const index_t ext = (a.shape(i) - 1) * a.strides(i);
    if (ext < 0)
      lo += ext;
    else
      hi += ext;
  }
  return {lo, hi + a.itemsize()};
}

void check_no_overlap(const py::array& out, const py::array& in, const char* op_name,
                      const char* name) {
  auto o = byte_range(out), i = byte_range(in);
  if (o.first < i.second && i.first < o.second)
    throw std::invalid_argument(axonal::str_cat(op_name, ": out overlaps the memory of ", name));
}

template <typename T>
void run_gemm(const Operand& a, const Operand& b, Operand& c, bool ta, bool tb, bool batched,
              index_t batch, index_t M, index_t N, index_t K, double alpha, double beta) {
  const bool ka = ta != a.colmajor, kb = tb != b.colmajor;
  const T* pa = static_cast<const T*>(a.data());
  const T* pb = static_cast<const T*>(b.data());
  T* pc = static_cast<T*>(c.keep.mutable_data());
  const int nt = axonal::get_num_threads();
  py::gil_scoped_release release;
  if (!batched)
    axonal::gemm<T>(ka, kb, M, N, K, T(alpha), pa, a.ld, pb, b.ld, T(beta), pc, c.ld, nt);
  else
    axonal::gemm_batched<T>(batch, ka, kb, M, N, K, T(alpha), pa, a.ld, a.bstride, pb, b.ld,
                            b.bstride, T(beta), pc, c.ld, c.bstride, nt);
}

// gemm / gemm_batched: C = alpha * op(A) @ op(B) + beta * C on ndarrays.
py::array gemm_arrays(const char* op_name, int nd, const py::object& a_obj, const py::object& b_obj,
                      const py::object& c_obj, double alpha, double beta, bool ta, bool tb) {
  py::array a = as_array(a_obj, op_name, "a"), b = as_array(b_obj, op_name, "b");
  const DType dt = dtype_of(a, op_name, "a");
  if (dtype_of(b, op_name, "b") != dt)
    throw py::type_error(axonal::str_cat(op_name, ": dtypes differ: a is ",
                                         std::string(py::str(a.dtype())), ", b is ",
                                         std::string(py::str(b.dtype()))));
  auto rank_ok = [&](const py::array& x) {
    return nd == 2 ? x.ndim() == 2 : (x.ndim() == 2 || x.ndim() == 3);
  };
  if (!rank_ok(a) || !rank_ok(b))
    throw std::invalid_argument(axonal::str_cat(
        op_name, ": ", shape_str(a), " @ ", shape_str(b), ": expected ",
        nd == 2 ? "2-D matrices" : "3-D batches of matrices (or 2-D, broadcast over the batch)"));
  Operand A = make_operand(a, op_name, "a"), B = make_operand(b, op_name, "b");
  const index_t M = ta ? A.cols : A.rows, Ka = ta ? A.rows : A.cols;
  const index_t Kb = tb ? B.cols : B.rows, N = tb ? B.rows : B.cols;
  if (Ka != Kb)
    throw std::invalid_argument(axonal::str_cat(op_name, ": ", ta ? "op(a) " : "", pair_str(M, Ka),
                                                " @ ", tb ? "op(b) " : "", pair_str(Kb, N),
                                                ": inner dimensions ", Ka, " != ", Kb));
  index_t batch = 1;
  if (nd == 3) {
    const index_t ba = a.ndim() == 3 ? A.batch : -1, bb = b.ndim() == 3 ? B.batch : -1;
    if (ba >= 0 && bb >= 0 && ba != bb && ba != 1 && bb != 1)
      throw std::invalid_argument(axonal::str_cat(op_name, ": ", shape_str(a), " @ ", shape_str(b),
                                                  ": batch sizes ", ba, " and ", bb, " differ"));
    batch = std::max<index_t>({ba, bb, 1});
    if (ba == 0 || bb == 0) batch = 0;
    // A 2-D operand or a batch of one is broadcast over the batch (stride 0).
    if (a.ndim() == 2 || A.batch == 1) A.bstride = 0;
    if (b.ndim() == 2 || B.batch == 1) B.bstride = 0;
  }
  py::array c;
  if (c_obj.is_none()) {
    if (beta != 0.0)
      throw std::invalid_argument(
          axonal::str_cat(op_name, ": beta = ", beta, " needs an out array to read C from"));
    std::vector<py::ssize_t> shape;
    if (nd == 3) shape.push_back(batch);
    shape.push_back(M);
    shape.push_back(N);
    c = dt == DType::f32 ? py::array(py::dtype::of<float>(), shape)
                         : py::array(py::dtype::of<double>(), shape);
  } else {
    c = as_array(c_obj, op_name, "out");
  }
  Operand C = make_output(c, op_name, batch, M, N, nd, dt);
  check_no_overlap(c, A.keep, op_name, "a");
  check_no_overlap(c, B.keep, op_name, "b");
  if (dt == DType::f32)
    run_gemm<float>(A, B, C, ta, tb, nd == 3, batch, M, N, Ka, alpha, beta);
  else
    run_gemm<double>(A, B, C, ta, tb, nd == 3, batch, M, N, Ka, alpha, beta);
  return c;
}

// BLAS-style entry: flat C-contiguous buffers with explicit sizes and leading dimensions.
void gemm_raw(bool ta, bool tb, index_t M, index_t N, index_t K, double alpha,
              const py::object& a_obj, index_t lda, const py::object& b_obj, index_t ldb,
              double beta, const py::object& c_obj, index_t ldc) {
  const char* op = "gemm_raw";
  AX_CHECK(M >= 0 && N >= 0 && K >= 0, op, ": sizes must be >= 0, got M=", M, " N=", N, " K=", K);
  py::array a = as_array(a_obj, op, "A"), b = as_array(b_obj, op, "B"),
            c = as_array(c_obj, op, "C");
  const DType dt = dtype_of(a, op, "A");
  if (dtype_of(b, op, "B") != dt || dtype_of(c, op, "C") != dt)
    throw py::type_error(axonal::str_cat(op, ": A, B and C must share one dtype"));
  if (!c.writeable()) throw std::invalid_argument(axonal::str_cat(op, ": C is read-only"));
  auto check_buf = [&](const py::array& x, const char* name, index_t rows, index_t cols,
                       index_t ld) {
    if (!(x.flags() & py::array::c_style))
      throw std::invalid_argument(axonal::str_cat(op, ": ", name, " must be C-contiguous"));
    AX_CHECK(ld >= std::max<index_t>(1, cols), op, ": ld", name, " = ", ld, " is less than the ",
             cols, " columns of ", name, " ", pair_str(rows, cols));
    // (rows - 1) * ld + cols in checked arithmetic: a wrapped product would pass the size check
    // and let the kernel address memory outside the buffer.
    index_t need = 0;
    if (rows > 0 && cols > 0)
      AX_CHECK(!__builtin_mul_overflow(rows - 1, ld, &need) &&
                   !__builtin_add_overflow(need, cols, &need),
               op, ": ", name, " ", pair_str(rows, cols), " with ld", name, " = ", ld,
               " spans more elements than a 64-bit index can count");
    AX_CHECK(static_cast<index_t>(x.size()) >= need, op, ": ", name, " ", pair_str(rows, cols),
             " with ld", name, " = ", ld, " needs ", need, " elements, the buffer has ", x.size());
  };
  check_buf(a, "a", ta ? K : M, ta ? M : K, lda);
  check_buf(b, "b", tb ? N : K, tb ? K : N, ldb);
  check_buf(c, "c", M, N, ldc);
  check_no_overlap(c, a, op, "A");
  check_no_overlap(c, b, op, "B");
  const int nt = axonal::get_num_threads();
  if (dt == DType::f32) {
    const float* pa = static_cast<const float*>(a.data());
    const float* pb = static_cast<const float*>(b.data());
    float* pc = static_cast<float*>(c.mutable_data());
    py::gil_scoped_release rel;
    axonal::gemm<float>(ta, tb, M, N, K, float(alpha), pa, lda, pb, ldb, float(beta), pc, ldc, nt);
  } else {
    const double* pa = static_cast<const double*>(a.data());
    const double* pb = static_cast<const double*>(b.data());
    double* pc = static_cast<double*>(c.mutable_data());
    py::gil_scoped_release rel;
    axonal::gemm<double>(ta, tb, M, N, K, alpha, pa, lda, pb, ldb, beta, pc, ldc, nt);
  }
}

// Fused Adam / AdamW step on C-contiguous arrays of one float dtype and size (vmax may be None).
void adam_update_py(const py::handle& p_h, const py::handle& g_h, const py::handle& m_h,
                    const py::handle& v_h, const py::handle& vmax_h, double beta1, double beta2,
                    double eps, double step_size, double bc2_sqrt, double wd, bool maximize,
                    double shrink) {
  const char* op = "adam_update";
  const char* names[5] = {"param", "grad", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  const py::handle hs[5] = {p_h, g_h, m_h, v_h, vmax_h};
  const int count = vmax_h.is_none() ? 4 : 5;
  std::vector<py::array> a;
  for (int i = 0; i < count; ++i) {
    a.push_back(as_array(hs[i], op, names[i]));
    if (!(a[i].flags() & py::array::c_style))
      throw py::value_error(axonal::str_cat(op, ": ", names[i], " must be C-contiguous"));
    if (i != 1 && !a[i].writeable())
      throw py::value_error(axonal::str_cat(op, ": ", names[i], " is read-only"));
    bool same_shape = a[i].ndim() == a[0].ndim();
    for (py::ssize_t d = 0; same_shape && d < a[0].ndim(); ++d)
      same_shape = a[i].shape(d) == a[0].shape(d);
    if (!same_shape)  // torch's step needs equal shapes, not just equal sizes
      throw py::value_error(axonal::str_cat(op, ": ", names[i], " has shape ", shape_str(a[i]),
                                            ", param has shape ", shape_str(a[0])));
  }
  const DType dt = dtype_of(a[0], op, names[0]);
  for (int i = 1; i < count; ++i)
    if (dtype_of(a[i], op, names[i]) != dt)
      throw py::type_error(axonal::str_cat(op, ": ", names[i], " has dtype ",
                                           std::string(py::str(a[i].dtype())), ", param has ",
                                           std::string(py::str(a[0].dtype()))));
  const index_t n = static_cast<index_t>(a[0].size());
  const int nt = axonal::get_num_threads();
  auto run = [&](auto zero) {
    using T = decltype(zero);
    auto ptr = [&](int i) { return i < count ? static_cast<T*>(a[i].mutable_data()) : nullptr; };
    T* p = ptr(0);
    const T* g = static_cast<const T*>(a[1].data());
    T *m = ptr(2), *v = ptr(3), *vmax = ptr(4);
    py::gil_scoped_release release;
    axonal::adam_update<T>(n, p, g, m, v, vmax, beta1, beta2, eps, step_size, bc2_sqrt, wd,
                           maximize, shrink, nt);
  };
  if (dt == DType::f32)
    run(0.0f);
  else
    run(0.0);
}

}  // namespace

void register_conv_bindings(pybind11::module_& m);

namespace {

// The layers allocate and free large NumPy temporaries on every call (activations, gate arrays,
// im2col and packing buffers). glibc serves a block over its mmap threshold (128 KiB at first,
// raised only as such blocks are freed) with a fresh mapping: zero pages, a fault per 4 KiB on
// first touch, unmapped again on free; and it hands the heap's free top back to the system past
// its trim threshold. Measured here (2-core VM), an LSTM layer's forward (L50 N32 64->128) in a
// plain process: 5.3-5.5 ms with glibc's defaults, 2.6-3.0 ms with blocks up to 32 MiB from the
// heap and up to 128 MiB of free heap kept; training runs (rnn-mnist, cnn-mnist) were unchanged
// and held ~10 MB more. AXONAL_MALLOC_TUNE=0 keeps glibc's defaults.
bool tune_malloc() {
#if defined(__GLIBC__)
  const char* env = std::getenv("AXONAL_MALLOC_TUNE");
  if (env && (std::strcmp(env, "0") == 0 || std::strcmp(env, "off") == 0)) return false;
  const int a = mallopt(M_MMAP_THRESHOLD, 32 << 20);
  const int b = mallopt(M_TRIM_THRESHOLD, 128 << 20);
  return a == 1 && b == 1;
#else
  return false;
#endif
}

}  // namespace

PYBIND11_MODULE(_cpu, m) {
  m.doc() = "axonal CPU kernels (C++17, OpenMP, AVX2/FMA dispatched at run time)";
  m.attr("malloc_tuned") = tune_malloc();
  m.def(
      "gemm",
      [](const py::object& a, const py::object& b, const py::object& out, double alpha, double beta,
         bool trans_a,
         bool trans_b) { return gemm_arrays("gemm", 2, a, b, out, alpha, beta, trans_a, trans_b); },
      py::arg("a"), py::arg("b"), py::arg("out") = py::none(), py::kw_only(),
      py::arg("alpha") = 1.0, py::arg("beta") = 0.0, py::arg("trans_a") = false,
      py::arg("trans_b") = false,
      "out = alpha * op(a) @ op(b) + beta * out for 2-D float32/float64 arrays.");
  m.def(
      "gemm_batched",
      [](const py::object& a, const py::object& b, const py::object& out, double alpha, double beta,
         bool trans_a, bool trans_b) {
        return gemm_arrays("gemm_batched", 3, a, b, out, alpha, beta, trans_a, trans_b);
      },
      py::arg("a"), py::arg("b"), py::arg("out") = py::none(), py::kw_only(),
      py::arg("alpha") = 1.0, py::arg("beta") = 0.0, py::arg("trans_a") = false,
      py::arg("trans_b") = false,
      "Batched GEMM over 3-D arrays (a 2-D operand or a batch of 1 is broadcast).");
  m.def("gemm_raw", &gemm_raw, py::arg("trans_a"), py::arg("trans_b"), py::arg("M"), py::arg("N"),
        py::arg("K"), py::arg("alpha"), py::arg("A"), py::arg("lda"), py::arg("B"), py::arg("ldb"),
        py::arg("beta"), py::arg("C"), py::arg("ldc"),
        "BLAS-style GEMM on flat C-contiguous buffers with explicit leading dimensions.");
  m.def("adam_update", &adam_update_py, py::arg("param"), py::arg("grad"), py::arg("exp_avg"),
        py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq"), py::arg("beta1"), py::arg("beta2"),
        py::arg("eps"), py::arg("step_size"), py::arg("bc2_sqrt"), py::arg("weight_decay"),
        py::arg("maximize"), py::arg("shrink"),
        "One fused Adam/AdamW step in place (PyTorch's formulas); max_exp_avg_sq may be None.");
  m.def("get_num_threads", &axonal::get_num_threads);
  m.def("set_num_threads", &axonal::set_num_threads, py::arg("n"));
  m.def("hardware_threads", &axonal::hardware_threads);
  m.def("built_with_openmp", &axonal::built_with_openmp);
  m.def("has_avx2_fma", &axonal::cpu_has_avx2_fma);
  m.def("has_avx512f", &axonal::cpu_has_avx512f);
  m.def("_set_gemm_avx512_min_flops", &axonal::set_gemm_avx512_min_flops, py::arg("flops"),
        "On the AVX-512 path, GEMMs below this many flops use the AVX2 kernel (0: never).");
  m.def("_gemm_avx512_min_flops", &axonal::gemm_avx512_min_flops);
  m.def("simd_path", &axonal::simd_path_name);
  m.def(
      "set_simd_path",
      [](const std::string& name) {
        if (name == "avx512" || name == "avx512f+avx2+fma")
          axonal::set_simd_path(axonal::SimdPath::avx512);
        else if (name == "avx2" || name == "avx2+fma")
          axonal::set_simd_path(axonal::SimdPath::avx2);
        else if (name == "portable")
          axonal::set_simd_path(axonal::SimdPath::portable);
        else
          throw std::invalid_argument(
              "set_simd_path: expected 'avx512', 'avx2' or 'portable', got '" + name + "'");
      },
      py::arg("name"));
  register_conv_bindings(m);
}
