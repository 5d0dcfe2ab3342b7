// bindings_conv.cpp: the _cpu entry points of the convolution, pooling, softmax, LSTM-cell and
// attention kernels.
// Every entry validates its arguments and raises ValueError / TypeError naming the op and the
// shapes; inputs of any layout are accepted (copied to a dense C-contiguous array when needed),
// outputs are allocated here, and the kernels run with the GIL released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "common/check.h"
#include "cpu/attention.h"
#include "cpu/conv2d.h"
#include "cpu/lstm_cell.h"
#include "cpu/pool.h"
#include "cpu/softmax.h"
#include "cpu/threads.h"

namespace py = pybind11;
using axonal::index_t;
using axonal::str_cat;

namespace {

using Pair = std::array<index_t, 2>;
using Shape4 = std::array<index_t, 4>;

std::string shape_str(const py::array& a) {
  std::ostringstream os;
  os << "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) os << (i ? ", " : "") << a.shape(i);
  if (a.ndim() == 1) os << ",";
  os << ")";
  return os.str();
}

std::string shape_str(const Shape4& s) {
  return str_cat("(", s[0], ", ", s[1], ", ", s[2], ", ", s[3], ")");
}

std::string pair_str(const Pair& p) { return str_cat("(", p[0], ", ", p[1], ")"); }

enum class DType { f32, f64 };

py::array as_array(const py::handle& h, const char* op, const char* name) {
  if (!py::isinstance<py::array>(h))
    throw py::type_error(str_cat(op, ": ", name, " must be a numpy.ndarray, got ",
                                 std::string(py::str(py::type::of(h).attr("__name__")))));
  return py::reinterpret_borrow<py::array>(h);
}

DType dtype_of(const py::array& a, const char* op, const char* name) {
  const py::dtype d = a.dtype();
  if (d.byteorder() != '>') {
    if (d.num() == py::dtype::of<float>().num()) return DType::f32;
    if (d.num() == py::dtype::of<double>().num()) return DType::f64;
  }
  throw py::type_error(str_cat(op, ": ", name,
                               " must be float32 or float64 (native byte order), got ",
                               std::string(py::str(d))));
}

void same_dtype(const py::array& a, const char* an, const py::array& b, const char* bn,
                const char* op) {
  if (dtype_of(b, op, bn) != dtype_of(a, op, an))
    throw py::type_error(str_cat(op, ": dtypes differ: ", an, " is ",
                                 std::string(py::str(a.dtype())), ", ", bn, " is ",
                                 std::string(py::str(b.dtype()))));
}

void check_rank(const py::array& a, int nd, const char* op, const char* name, const char* layout) {
  if (a.ndim() != nd)
    throw std::invalid_argument(
        str_cat(op, ": expected a ", nd, "-D ", name, " ", layout, ", got shape ", shape_str(a)));
}

// A dense, aligned, C-contiguous view of `a` (a copy when its layout is anything else).
py::array dense(const py::array& a) {
  const bool aligned = reinterpret_cast<std::uintptr_t>(a.data()) % a.itemsize() == 0;
  if ((a.flags() & py::array::c_style) && aligned) return a;
  py::array c = py::module_::import("numpy").attr("array")(a, py::arg("order") = "C");
  return c;
}

Shape4 shape4(const py::array& a) { return {a.shape(0), a.shape(1), a.shape(2), a.shape(3)}; }

Shape4 shape_arg(const py::object& o, const char* op, const char* name) {
  std::vector<index_t> v;
  try {
    v = o.cast<std::vector<index_t>>();
  } catch (const py::cast_error&) {
    throw py::type_error(
        str_cat(op, ": ", name, " must be a sequence of 4 ints, got ", std::string(py::str(o))));
  }
  if (v.size() != 4)
    throw std::invalid_argument(str_cat(op, ": ", name, " must have 4 entries (N, C, H, W), got ",
                                        std::string(py::str(o))));
  for (index_t d : v)
    AX_CHECK(d >= 0, op, ": ", name, " ", std::string(py::str(o)), " has a negative size");
  return {v[0], v[1], v[2], v[3]};
}

// An integer (Python int or NumPy integer, not bool) into v; false for anything else. One that
// does not fit in 64 bits raises ValueError naming the op and the argument.
bool int_value(const py::handle& h, index_t& v, const char* op, const char* name) {
  if (PyBool_Check(h.ptr()) || !PyIndex_Check(h.ptr())) return false;
  py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(h.ptr()));
  if (!i) throw py::error_already_set();
  int overflow = 0;
  const long long x = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
  if (x == -1 && PyErr_Occurred()) throw py::error_already_set();
  AX_CHECK(!overflow, op, ": ", name, " value ", std::string(py::str(i)),
           " does not fit in a 64-bit integer");
  v = static_cast<index_t>(x);
  return true;
}

// a * b + c, false when it wraps or reaches 2^62. Padded sizes and dilated kernel extents stay
// below 2^62 (PyTorch's padding limit), so every index the kernels form from them fits in 64 bits.
constexpr index_t kMaxExtent = index_t(1) << 62;
bool checked_extent(index_t a, index_t b, index_t c, index_t& out) {
  return !__builtin_mul_overflow(a, b, &out) && !__builtin_add_overflow(out, c, &out) &&
         out < kMaxExtent;
}

// An int or a sequence of two ints.
Pair pair_arg(const py::handle& o, const char* op, const char* name) {
  index_t a = 0, b = 0;
  if (int_value(o, a, op, name)) return {a, a};
  if (py::isinstance<py::sequence>(o) && !py::isinstance<py::str>(o)) {
    py::sequence s = py::reinterpret_borrow<py::sequence>(o);
    if (s.size() == 2 && int_value(s[0], a, op, name) && int_value(s[1], b, op, name))
      return {a, b};
    if (s.size() == 1 && int_value(s[0], a, op, name)) return {a, a};
  }
  throw py::type_error(
      str_cat(op, ": ", name, " must be an int or a pair of ints, got ", std::string(py::str(o))));
}

void check_positive(const Pair& v, const char* op, const char* name) {
  AX_CHECK(v[0] > 0 && v[1] > 0, op, ": ", name, " must be positive, got ", pair_str(v));
}
void check_non_negative(const Pair& v, const char* op, const char* name) {
  AX_CHECK(v[0] >= 0 && v[1] >= 0, op, ": ", name, " must be non-negative, got ", pair_str(v));
}

template <typename T>
py::array_t<T> new_array(const Shape4& s) {
  return py::array_t<T>(std::vector<py::ssize_t>{s[0], s[1], s[2], s[3]});
}

template <typename T>
const T* cptr(const py::array& a) {
  return static_cast<const T*>(a.data());
}

// ------------------------------------------------------------------ conv2d
struct ConvArgs {
  Pair stride, padding, dilation;
  index_t groups;
};

ConvArgs conv_args(const char* op, const py::object& stride, const py::object& padding,
                   const py::object& dilation, index_t groups) {
  ConvArgs a{pair_arg(stride, op, "stride"), pair_arg(padding, op, "padding"),
             pair_arg(dilation, op, "dilation"), groups};
  check_positive(a.stride, op, "stride");
  check_non_negative(a.padding, op, "padding");
  check_positive(a.dilation, op, "dilation");
  AX_CHECK(groups > 0, op, ": groups must be positive, got ", groups);
  return a;
}

// Checks x: (N, C, H, W) against w: (K, C / groups, R, S) and fills the parameters.
axonal::Conv2dParams conv_params(const char* op, const Shape4& x, const Shape4& w,
                                 const ConvArgs& a) {
  const std::string xs = shape_str(x), wsh = shape_str(w);
  AX_CHECK(x[1] % a.groups == 0, op, ": input ", xs, ": ", x[1],
           " input channels are not divisible by groups = ", a.groups);
  AX_CHECK(w[0] % a.groups == 0, op, ": weight ", wsh, ": ", w[0],
           " output channels are not divisible by groups = ", a.groups);
  AX_CHECK(w[1] * a.groups == x[1], op, ": input ", xs, " and weight ", wsh, ": weight expects ",
           w[1] * a.groups, " input channels (", w[1], " per group x ", a.groups,
           " groups), the input has ", x[1]);
  AX_CHECK(w[2] > 0 && w[3] > 0, op, ": weight ", wsh, " has an empty kernel");
  axonal::Conv2dParams p;
  p.N = x[0];
  p.C = x[1];
  p.H = x[2];
  p.W = x[3];
  p.K = w[0];
  p.R = w[2];
  p.S = w[3];
  p.stride_h = a.stride[0];
  p.stride_w = a.stride[1];
  p.pad_h = a.padding[0];
  p.pad_w = a.padding[1];
  p.dil_h = a.dilation[0];
  p.dil_w = a.dilation[1];
  p.groups = a.groups;
  index_t eh = 0, ew = 0, ph = 0, pw = 0;
  AX_CHECK(checked_extent(a.dilation[0], w[2] - 1, 1, eh) &&
               checked_extent(a.dilation[1], w[3] - 1, 1, ew),
           op, ": weight ", wsh, " with dilation ", pair_str(a.dilation),
           ": the dilated kernel extent does not fit below 2^62");
  AX_CHECK(checked_extent(a.padding[0], 2, x[2], ph) && checked_extent(a.padding[1], 2, x[3], pw),
           op, ": input ", xs, " with padding ", pair_str(a.padding),
           ": the padded size does not fit below 2^62");
  AX_CHECK(eh <= ph && ew <= pw, op, ": input ", xs, " padded to (", ph, ", ", pw,
           ") is smaller than the ", (a.dilation[0] > 1 || a.dilation[1] > 1 ? "dilated " : ""),
           "kernel (", eh, ", ", ew, ") of weight ", wsh);
  p.P = axonal::conv_out_size(p.H, p.R, p.stride_h, p.pad_h, p.dil_h);
  p.Q = axonal::conv_out_size(p.W, p.S, p.stride_w, p.pad_w, p.dil_w);
  return p;
}

py::array conv2d_forward(const py::object& x_obj, const py::object& w_obj, const py::object& b_obj,
                         const py::object& stride, const py::object& padding,
                         const py::object& dilation, index_t groups) {
  const char* op = "conv2d";
  py::array x = as_array(x_obj, op, "input"), w = as_array(w_obj, op, "weight");
  const DType dt = dtype_of(x, op, "input");
  same_dtype(x, "input", w, "weight", op);
  check_rank(x, 4, op, "input", "(N, C, H, W)");
  check_rank(w, 4, op, "weight", "(K, C / groups, R, S)");
  const ConvArgs a = conv_args(op, stride, padding, dilation, groups);
  const axonal::Conv2dParams p = conv_params(op, shape4(x), shape4(w), a);
  py::array b;
  const bool has_bias = !b_obj.is_none();
  if (has_bias) {
    b = as_array(b_obj, op, "bias");
    same_dtype(x, "input", b, "bias", op);
    AX_CHECK(b.ndim() == 1 && b.shape(0) == p.K, op, ": bias has shape ", shape_str(b),
             ", expected (", p.K, ",) for weight ", shape_str(w));
    b = dense(b);
  }
  x = dense(x);
  w = dense(w);
  const Shape4 ys{p.N, p.K, p.P, p.Q};
  const int nt = axonal::get_num_threads();
  auto run = [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array_t<T> y = new_array<T>(ys);
    const T* bp = has_bias ? cptr<T>(b) : nullptr;
    const T* xp = cptr<T>(x);
    const T* wp = cptr<T>(w);
    T* yp = y.mutable_data();
    py::gil_scoped_release rel;
    axonal::conv2d_forward<T>(p, xp, wp, bp, yp, nt);
    return std::move(y);
  };
  return dt == DType::f32 ? run(float{}) : run(double{});
}

py::array conv2d_backward_input(const py::object& dy_obj, const py::object& w_obj,
                                const py::object& input_shape, const py::object& stride,
                                const py::object& padding, const py::object& dilation,
                                index_t groups) {
  const char* op = "conv2d_backward_input";
  py::array dy = as_array(dy_obj, op, "grad_output"), w = as_array(w_obj, op, "weight");
  const DType dt = dtype_of(dy, op, "grad_output");
  same_dtype(dy, "grad_output", w, "weight", op);
  check_rank(dy, 4, op, "grad_output", "(N, K, P, Q)");
  check_rank(w, 4, op, "weight", "(K, C / groups, R, S)");
  const Shape4 xs = shape_arg(input_shape, op, "input_shape");
  const ConvArgs a = conv_args(op, stride, padding, dilation, groups);
  const axonal::Conv2dParams p = conv_params(op, xs, shape4(w), a);
  const Shape4 want{p.N, p.K, p.P, p.Q};
  AX_CHECK(shape4(dy) == want, op, ": grad_output has shape ", shape_str(dy), ", the output of ",
           "input ", shape_str(xs), " and weight ", shape_str(w), " is ", shape_str(want));
  dy = dense(dy);
  w = dense(w);
  const int nt = axonal::get_num_threads();
  auto run = [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array_t<T> dx = new_array<T>(xs);
    const T* dyp = cptr<T>(dy);
    const T* wp = cptr<T>(w);
    T* dxp = dx.mutable_data();
    py::gil_scoped_release rel;
    axonal::conv2d_backward_input<T>(p, dyp, wp, dxp, nt);
    return std::move(dx);
  };
  return dt == DType::f32 ? run(float{}) : run(double{});
}

py::array conv2d_backward_weight(const py::object& dy_obj, const py::object& x_obj,
                                 const py::object& weight_shape, const py::object& stride,
                                 const py::object& padding, const py::object& dilation,
                                 index_t groups) {
  const char* op = "conv2d_backward_weight";
  py::array dy = as_array(dy_obj, op, "grad_output"), x = as_array(x_obj, op, "input");
  const DType dt = dtype_of(dy, op, "grad_output");
  same_dtype(dy, "grad_output", x, "input", op);
  check_rank(dy, 4, op, "grad_output", "(N, K, P, Q)");
  check_rank(x, 4, op, "input", "(N, C, H, W)");
  const Shape4 ws = shape_arg(weight_shape, op, "weight_shape");
  const ConvArgs a = conv_args(op, stride, padding, dilation, groups);
  const axonal::Conv2dParams p = conv_params(op, shape4(x), ws, a);
  const Shape4 want{p.N, p.K, p.P, p.Q};
  AX_CHECK(shape4(dy) == want, op, ": grad_output has shape ", shape_str(dy), ", the output of ",
           "input ", shape_str(x), " and weight ", shape_str(ws), " is ", shape_str(want));
  dy = dense(dy);
  x = dense(x);
  const int nt = axonal::get_num_threads();
  auto run = [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array_t<T> dw = new_array<T>(ws);
    const T* dyp = cptr<T>(dy);
    const T* xp = cptr<T>(x);
    T* dwp = dw.mutable_data();
    py::gil_scoped_release rel;
    axonal::conv2d_backward_weight<T>(p, dyp, xp, dwp, nt);
    return std::move(dw);
  };
  return dt == DType::f32 ? run(float{}) : run(double{});
}

// db[k] = sum of grad_output over every axis but 1: (N, K, ...) -> (K,)
py::array conv2d_backward_bias(const py::object& dy_obj) {
  const char* op = "conv2d_backward_bias";
  py::array dy = as_array(dy_obj, op, "grad_output");
  const DType dt = dtype_of(dy, op, "grad_output");
  AX_CHECK(dy.ndim() >= 2, op, ": expected grad_output (N, K, ...), got shape ", shape_str(dy));
  dy = dense(dy);
  const index_t N = dy.shape(0), K = dy.shape(1);
  index_t L = 1;
  for (py::ssize_t i = 2; i < dy.ndim(); ++i) L *= dy.shape(i);
  const int nt = axonal::get_num_threads();
  auto run = [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array_t<T> db(std::vector<py::ssize_t>{K});
    const T* dyp = cptr<T>(dy);
    T* dbp = db.mutable_data();
    py::gil_scoped_release rel;
    axonal::conv2d_backward_bias<T>(N, K, L, dyp, dbp, nt);
    return std::move(db);
  };
  return dt == DType::f32 ? run(float{}) : run(double{});
}

// {"algorithm": name, "workspace_bytes": n}: what one call with these arguments would do.
py::dict conv2d_plan(const py::object& input_shape, const py::object& weight_shape,
                     const py::object& stride, const py::object& padding,
                     const py::object& dilation, index_t groups, const std::string& pass,
                     const py::object& dtype, int threads) {
  const char* op = "conv2d_plan";
  const ConvArgs a = conv_args(op, stride, padding, dilation, groups);
  const axonal::Conv2dParams p = conv_params(op, shape_arg(input_shape, op, "input_shape"),
                                             shape_arg(weight_shape, op, "weight_shape"), a);
  axonal::ConvPass cp;
  if (pass == "forward")
    cp = axonal::ConvPass::forward;
  else if (pass == "backward_input")
    cp = axonal::ConvPass::backward_input;
  else if (pass == "backward_weight")
    cp = axonal::ConvPass::backward_weight;
  else
    throw std::invalid_argument(str_cat(op, ": pass must be 'forward', 'backward_input' or ",
                                        "'backward_weight', got '", pass, "'"));
  const py::dtype d = py::dtype::from_args(dtype);
  if (d.num() != py::dtype::of<float>().num() && d.num() != py::dtype::of<double>().num())
    throw py::type_error(str_cat(op, ": dtype must be float32 or float64"));
  if (threads <= 0) threads = axonal::get_num_threads();
  const std::size_t elem = static_cast<std::size_t>(d.itemsize());
  py::dict out;
  out["algorithm"] = axonal::conv2d_algorithm(p, cp, elem, threads);
  out["workspace_bytes"] = axonal::conv2d_workspace_bytes(p, cp, elem, threads);
  return out;
}

// ------------------------------------------------------------------ pooling
constexpr index_t kMaxPoolArg = 2147483647;  // 2^31 - 1

struct PoolArgs {
  Pair kernel, stride, padding, dilation;
  bool ceil_mode;
};

PoolArgs pool_args(const char* op, const py::object& kernel, const py::object& stride,
                   const py::object& padding, const py::object& dilation, bool ceil_mode) {
  PoolArgs a;
  a.kernel = pair_arg(kernel, op, "kernel_size");
  // stride None (or an empty sequence): the kernel size, as in PyTorch.
  bool stride_default = stride.is_none();
  if (!stride_default && py::isinstance<py::sequence>(stride) && !py::isinstance<py::str>(stride))
    stride_default = py::len(stride) == 0;
  a.stride = stride_default ? a.kernel : pair_arg(stride, op, "stride");
  a.padding = pair_arg(padding, op, "padding");
  a.dilation = pair_arg(dilation, op, "dilation");
  a.ceil_mode = ceil_mode;
  check_positive(a.kernel, op, "kernel_size");
  check_positive(a.stride, op, "stride");
  check_non_negative(a.padding, op, "padding");
  check_positive(a.dilation, op, "dilation");
  // PyTorch's pooling takes these as 32-bit ints; the bound also keeps the window arithmetic
  // (dilation * (kernel - 1), size + 2 * padding) far from 64-bit overflow.
  auto check_limit = [&](const Pair& v, const char* name) {
    AX_CHECK(v[0] <= kMaxPoolArg && v[1] <= kMaxPoolArg, op, ": ", name, " ", pair_str(v),
             " is too large (at most 2^31 - 1, as in PyTorch)");
  };
  check_limit(a.kernel, "kernel_size");
  check_limit(a.stride, "stride");
  check_limit(a.padding, "padding");
  check_limit(a.dilation, "dilation");
  AX_CHECK(a.padding[0] <= a.kernel[0] / 2 && a.padding[1] <= a.kernel[1] / 2, op, ": padding ",
           pair_str(a.padding), " must be at most half of kernel_size ", pair_str(a.kernel));
  return a;
}

axonal::Pool2dParams pool_params(const char* op, const Shape4& x, const PoolArgs& a) {
  axonal::Pool2dParams p;
  p.N = x[0];
  p.C = x[1];
  p.H = x[2];
  p.W = x[3];
  p.kh = a.kernel[0];
  p.kw = a.kernel[1];
  p.sh = a.stride[0];
  p.sw = a.stride[1];
  p.ph = a.padding[0];
  p.pw = a.padding[1];
  p.dh = a.dilation[0];
  p.dw = a.dilation[1];
  p.P = axonal::pool_out_size(p.H, p.kh, p.sh, p.ph, p.dh, a.ceil_mode);
  p.Q = axonal::pool_out_size(p.W, p.kw, p.sw, p.pw, p.dw, a.ceil_mode);
  AX_CHECK(p.H > 0 && p.W > 0, op, ": input ", shape_str(x), " has an empty spatial size");
  AX_CHECK(p.P >= 1 && p.Q >= 1, op, ": input ", shape_str(x), " padded by ", pair_str(a.padding),
           " is smaller than the ", (p.dh > 1 || p.dw > 1 ? "dilated " : ""), "kernel (",
           p.dh * (p.kh - 1) + 1, ", ", p.dw * (p.kw - 1) + 1, "): output size (", p.P, ", ", p.Q,
           ") is too small");
  return p;
}

// Every max-pool window must hold at least one input element (only dilation can break that).
void check_windows(const char* op, const Shape4& x, const axonal::Pool2dParams& p) {
  auto axis_ok = [](index_t n, index_t out, index_t k, index_t s, index_t pad, index_t d,
                    index_t& bad) {
    for (index_t o = 0; o < out; ++o) {
      // The window's first tap at or after 0 (O(1), not a walk over the kernel's k taps).
      const index_t start = o * s - pad;
      const index_t t = start >= 0 ? 0 : (-start + d - 1) / d;
      const bool any = t < k && start + t * d < n;
      if (!any) {
        bad = o;
        return false;
      }
    }
    return true;
  };
  index_t bad = 0;
  AX_CHECK(axis_ok(p.H, p.P, p.kh, p.sh, p.ph, p.dh, bad), op, ": input ", shape_str(x),
           ": the window of output row ", bad, " lies entirely in the padding");
  AX_CHECK(axis_ok(p.W, p.Q, p.kw, p.sw, p.pw, p.dw, bad), op, ": input ", shape_str(x),
           ": the window of output column ", bad, " lies entirely in the padding");
}

py::tuple max_pool2d_forward(const py::object& x_obj, const py::object& kernel,
                             const py::object& stride, const py::object& padding,
                             const py::object& dilation, bool ceil_mode) {
  const char* op = "max_pool2d";
  py::array x = as_array(x_obj, op, "input");
  const DType dt = dtype_of(x, op, "input");
  check_rank(x, 4, op, "input", "(N, C, H, W)");
  const PoolArgs a = pool_args(op, kernel, stride, padding, dilation, ceil_mode);
  const axonal::Pool2dParams p = pool_params(op, shape4(x), a);
  check_windows(op, shape4(x), p);
  x = dense(x);
  const Shape4 ys{p.N, p.C, p.P, p.Q};
  const int nt = axonal::get_num_threads();
  py::array_t<std::int64_t> idx = new_array<std::int64_t>(ys);
  auto run = [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array_t<T> y = new_array<T>(ys);
    const T* xp = cptr<T>(x);
    T* yp = y.mutable_data();
    std::int64_t* ip = idx.mutable_data();
    py::gil_scoped_release rel;
    axonal::max_pool2d_forward<T>(p, xp, yp, ip, nt);
    return std::move(y);
  };
  py::array y = dt == DType::f32 ? run(float{}) : run(double{});
  return py::make_tuple(y, idx);
}

// Output shape check shared by the backward entries: grad_output (N, C, P, Q) vs input_shape.
void check_grad_shape(const char* op, const py::array& dy, const Shape4& xs, index_t P, index_t Q) {
  const Shape4 want{xs[0], xs[1], P, Q};
  AX_CHECK(shape4(dy) == want, op, ": grad_output has shape ", shape_str(dy),
           ", the pooled output of input ", shape_str(xs), " is ", shape_str(want));
}

py::array max_pool2d_backward(const py::object& dy_obj, const py::object& idx_obj,
                              const py::object& input_shape) {
  const char* op = "max_pool2d_backward";
  py::array dy = as_array(dy_obj, op, "grad_output"), idx = as_array(idx_obj, op, "indices");
  const DType dt = dtype_of(dy, op, "grad_output");
  if (idx.dtype().num() != py::dtype::of<std::int64_t>().num() || idx.dtype().byteorder() == '>')
    throw py::type_error(
        str_cat(op, ": indices must be int64, got ", std::string(py::str(idx.dtype()))));
  check_rank(dy, 4, op, "grad_output", "(N, C, P, Q)");
  check_rank(idx, 4, op, "indices", "(N, C, P, Q)");
  AX_CHECK(shape4(dy) == shape4(idx), op, ": grad_output ", shape_str(dy), " and indices ",
           shape_str(idx), " differ in shape");
  const Shape4 xs = shape_arg(input_shape, op, "input_shape");
  AX_CHECK(xs[0] == dy.shape(0) && xs[1] == dy.shape(1), op, ": grad_output ", shape_str(dy),
           " does not match input_shape ", shape_str(xs), " in (N, C)");
  axonal::Pool2dParams p;
  p.N = xs[0];
  p.C = xs[1];
  p.H = xs[2];
  p.W = xs[3];
  p.P = dy.shape(2);
  p.Q = dy.shape(3);
  AX_CHECK(p.H * p.W > 0 || p.N * p.C * p.P * p.Q == 0, op, ": input_shape ", shape_str(xs),
           " has an empty plane but grad_output ", shape_str(dy), " does not");
  dy = dense(dy);
  idx = dense(idx);
  const int nt = axonal::get_num_threads();
  index_t bad = 0;
  auto run = [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array_t<T> dx = new_array<T>(xs);
    const T* dyp = cptr<T>(dy);
    const std::int64_t* ip = cptr<std::int64_t>(idx);
    T* dxp = dx.mutable_data();
    py::gil_scoped_release rel;
    bad = axonal::max_pool2d_backward<T>(p, dyp, ip, dxp, nt);
    return std::move(dx);
  };
  py::array dx = dt == DType::f32 ? run(float{}) : run(double{});
  AX_CHECK(bad == 0, op, ": ", bad, " entries of indices ", shape_str(idx),
           " lie outside [0, H*W) = [0, ", p.H * p.W, ") for input_shape ", shape_str(xs));
  return dx;
}

axonal::Pool2dParams avg_params(const char* op, const Shape4& xs, const py::object& kernel,
                                const py::object& stride, const py::object& padding, bool ceil_mode,
                                bool count_include_pad, const py::object& divisor_override) {
  const PoolArgs a = pool_args(op, kernel, stride, padding, py::int_(1), ceil_mode);
  axonal::Pool2dParams p = pool_params(op, xs, a);
  p.count_include_pad = count_include_pad;
  p.divisor = 0;
  if (!divisor_override.is_none()) {
    if (!int_value(divisor_override, p.divisor, op, "divisor_override"))
      throw py::type_error(str_cat(op, ": divisor_override must be an int or None, got ",
                                   std::string(py::str(divisor_override))));
    AX_CHECK(p.divisor > 0, op, ": divisor_override must be positive, got ", p.divisor);
  }
  return p;
}

py::array avg_pool2d_forward(const py::object& x_obj, const py::object& kernel,
                             const py::object& stride, const py::object& padding, bool ceil_mode,
                             bool count_include_pad, const py::object& divisor_override) {
  const char* op = "avg_pool2d";
  py::array x = as_array(x_obj, op, "input");
  const DType dt = dtype_of(x, op, "input");
  check_rank(x, 4, op, "input", "(N, C, H, W)");
  const axonal::Pool2dParams p = avg_params(op, shape4(x), kernel, stride, padding, ceil_mode,
                                            count_include_pad, divisor_override);
  x = dense(x);
  const int nt = axonal::get_num_threads();
  auto run = [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array_t<T> y = new_array<T>({p.N, p.C, p.P, p.Q});
    const T* xp = cptr<T>(x);
    T* yp = y.mutable_data();
    py::gil_scoped_release rel;
    axonal::avg_pool2d_forward<T>(p, xp, yp, nt);
    return std::move(y);
  };
  return dt == DType::f32 ? run(float{}) : run(double{});
}

py::array avg_pool2d_backward(const py::object& dy_obj, const py::object& input_shape,
                              const py::object& kernel, const py::object& stride,
                              const py::object& padding, bool ceil_mode, bool count_include_pad,
                              const py::object& divisor_override) {
  const char* op = "avg_pool2d_backward";
  py::array dy = as_array(dy_obj, op, "grad_output");
  const DType dt = dtype_of(dy, op, "grad_output");
  check_rank(dy, 4, op, "grad_output", "(N, C, P, Q)");
  const Shape4 xs = shape_arg(input_shape, op, "input_shape");
  const axonal::Pool2dParams p =
      avg_params(op, xs, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override);
  check_grad_shape(op, dy, xs, p.P, p.Q);
  dy = dense(dy);
  const int nt = axonal::get_num_threads();
  auto run = [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array_t<T> dx = new_array<T>(xs);
    const T* dyp = cptr<T>(dy);
    T* dxp = dx.mutable_data();
    py::gil_scoped_release rel;
    axonal::avg_pool2d_backward<T>(p, dyp, dxp, nt);
    return std::move(dx);
  };
  return dt == DType::f32 ? run(float{}) : run(double{});
}

// output_size: an int, or a pair whose entries are ints or None (None: the input's size).
Pair adaptive_size(const char* op, const py::object& o, const Shape4& xs) {
  Pair out{0, 0};
  index_t v = 0;
  if (int_value(o, v, op, "output_size")) {
    out = {v, v};
  } else if (py::isinstance<py::sequence>(o) && !py::isinstance<py::str>(o) && py::len(o) == 2) {
    py::sequence s = py::reinterpret_borrow<py::sequence>(o);
    for (int i = 0; i < 2; ++i) {
      if (s[i].is_none())
        out[i] = xs[2 + i];
      else if (int_value(s[i], v, op, "output_size"))
        out[i] = v;
      else
        throw py::type_error(str_cat(op, ": output_size must be an int or a pair of ints / None, ",
                                     "got ", std::string(py::str(o))));
    }
  } else {
    throw py::type_error(str_cat(op, ": output_size must be an int or a pair of ints / None, got ",
                                 std::string(py::str(o))));
  }
  AX_CHECK(out[0] > 0 && out[1] > 0, op, ": output_size must be positive, got ", pair_str(out));
  AX_CHECK(xs[2] > 0 && xs[3] > 0, op, ": input ", shape_str(xs), " has an empty spatial size");
  return out;
}

py::array adaptive_avg_pool2d_forward(const py::object& x_obj, const py::object& output_size) {
  const char* op = "adaptive_avg_pool2d";
  py::array x = as_array(x_obj, op, "input");
  const DType dt = dtype_of(x, op, "input");
  check_rank(x, 4, op, "input", "(N, C, H, W)");
  const Shape4 xs = shape4(x);
  const Pair os = adaptive_size(op, output_size, xs);
  axonal::Pool2dParams p;
  p.N = xs[0];
  p.C = xs[1];
  p.H = xs[2];
  p.W = xs[3];
  p.P = os[0];
  p.Q = os[1];
  x = dense(x);
  const int nt = axonal::get_num_threads();
  auto run = [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array_t<T> y = new_array<T>({p.N, p.C, p.P, p.Q});
    const T* xp = cptr<T>(x);
    T* yp = y.mutable_data();
    py::gil_scoped_release rel;
    axonal::adaptive_avg_pool2d_forward<T>(p, xp, yp, nt);
    return std::move(y);
  };
  return dt == DType::f32 ? run(float{}) : run(double{});
}

py::array adaptive_avg_pool2d_backward(const py::object& dy_obj, const py::object& input_shape) {
  const char* op = "adaptive_avg_pool2d_backward";
  py::array dy = as_array(dy_obj, op, "grad_output");
  const DType dt = dtype_of(dy, op, "grad_output");
  check_rank(dy, 4, op, "grad_output", "(N, C, P, Q)");
  const Shape4 xs = shape_arg(input_shape, op, "input_shape");
  AX_CHECK(xs[2] > 0 && xs[3] > 0, op, ": input_shape ", shape_str(xs),
           " has an empty spatial size");
  AX_CHECK(dy.shape(0) == xs[0] && dy.shape(1) == xs[1] && dy.shape(2) > 0 && dy.shape(3) > 0, op,
           ": grad_output ", shape_str(dy), " does not match input_shape ", shape_str(xs));
  axonal::Pool2dParams p;
  p.N = xs[0];
  p.C = xs[1];
  p.H = xs[2];
  p.W = xs[3];
  p.P = dy.shape(2);
  p.Q = dy.shape(3);
  dy = dense(dy);
  const int nt = axonal::get_num_threads();
  auto run = [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array_t<T> dx = new_array<T>(xs);
    const T* dyp = cptr<T>(dy);
    T* dxp = dx.mutable_data();
    py::gil_scoped_release rel;
    axonal::adaptive_avg_pool2d_backward<T>(p, dyp, dxp, nt);
    return std::move(dx);
  };
  return dt == DType::f32 ? run(float{}) : run(double{});
}

// ------------------------------------------------------------------ softmax / log_softmax
// An array of any rank seen as (outer, D, inner) around axis `dim` (negative: from the end; a
// 0-d array is one line of length 1, as in PyTorch).
struct Lines {
  index_t outer = 1, D = 1, inner = 1;
};

Lines lines_of(const py::array& a, index_t dim, const char* op, const char* name) {
  const index_t nd = a.ndim(), lim = std::max<index_t>(nd, 1);
  AX_CHECK(dim >= -lim && dim < lim, op, ": dim ", dim, " is out of range for ", name, " of shape ",
           shape_str(a), " (expected [", -lim, ", ", lim - 1, "])");
  if (dim < 0) dim += lim;
  Lines l;
  for (index_t i = 0; i < nd; ++i) {
    if (i < dim) l.outer *= a.shape(i);
    if (i == dim) l.D = a.shape(i);
    if (i > dim) l.inner *= a.shape(i);
  }
  return l;
}

template <typename T>
py::array_t<T> new_like(const py::array& a) {
  return py::array_t<T>(std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()));
}

py::array softmax_forward_py(const py::object& x_obj, index_t dim, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  py::array x = as_array(x_obj, op, "input");
  const DType dt = dtype_of(x, op, "input");
  const Lines l = lines_of(x, dim, op, "input");
  x = dense(x);
  const int nt = axonal::get_num_threads();
  auto run = [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array_t<T> y = new_like<T>(x);
    const T* xp = cptr<T>(x);
    T* yp = y.mutable_data();
    py::gil_scoped_release rel;
    axonal::softmax_forward<T>(l.outer, l.D, l.inner, xp, yp, log, nt);
    return std::move(y);
  };
  return dt == DType::f32 ? run(float{}) : run(double{});
}

py::array softmax_backward_py(const py::object& dy_obj, const py::object& y_obj, index_t dim,
                              bool log) {
  const char* op = log ? "log_softmax_backward" : "softmax_backward";
  py::array dy = as_array(dy_obj, op, "grad_output");
  py::array y = as_array(y_obj, op, "output");
  const DType dt = dtype_of(dy, op, "grad_output");
  same_dtype(dy, "grad_output", y, "output", op);
  AX_CHECK(dy.ndim() == y.ndim() && std::equal(dy.shape(), dy.shape() + dy.ndim(), y.shape()), op,
           ": grad_output ", shape_str(dy), " and output ", shape_str(y), " differ in shape");
  const Lines l = lines_of(y, dim, op, "output");
  dy = dense(dy);
  y = dense(y);
  const int nt = axonal::get_num_threads();
  auto run = [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array_t<T> dx = new_like<T>(y);
    const T* dyp = cptr<T>(dy);
    const T* yp = cptr<T>(y);
    T* dxp = dx.mutable_data();
    py::gil_scoped_release rel;
    axonal::softmax_backward<T>(l.outer, l.D, l.inner, dyp, yp, dxp, log, nt);
    return std::move(dx);
  };
  return dt == DType::f32 ? run(float{}) : run(double{});
}

// ------------------------------------------------------------------ LSTM cell (pointwise part)
// A 2-D array of `what`'s dtype with `rows` x `cols` (checked), made dense.
py::array matrix_arg(const py::object& o, const char* op, const char* name, DType dt, index_t rows,
                     index_t cols) {
  py::array a = as_array(o, op, name);
  if (dtype_of(a, op, name) != dt)
    throw py::type_error(str_cat(op, ": ", name, " has dtype ", std::string(py::str(a.dtype())),
                                 ", expected ", dt == DType::f32 ? "float32" : "float64"));
  AX_CHECK(a.ndim() == 2 && a.shape(0) == rows && a.shape(1) == cols, op, ": ", name,
           " must have shape (", rows, ", ", cols, "), got ", shape_str(a));
  return dense(a);
}

py::tuple lstm_cell_forward_py(const py::object& gates_obj, const py::object& c_obj) {
  const char* op = "lstm_cell";
  py::array c = as_array(c_obj, op, "c");
  const DType dt = dtype_of(c, op, "c");
  AX_CHECK(c.ndim() == 2, op, ": c must be 2-D (N, H), got shape ", shape_str(c));
  const index_t N = c.shape(0), H = c.shape(1);
  py::array gates = matrix_arg(gates_obj, op, "gates", dt, N, 4 * H);
  c = dense(c);
  const int nt = axonal::get_num_threads();
  auto run = [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    py::array_t<T> act(std::vector<py::ssize_t>{N, 4 * H});
    py::array_t<T> c2(std::vector<py::ssize_t>{N, H}), h2(std::vector<py::ssize_t>{N, H});
    const T* gp = cptr<T>(gates);
    const T* cp = cptr<T>(c);
    T *ap = act.mutable_data(), *c2p = c2.mutable_data(), *h2p = h2.mutable_data();
    {
      py::gil_scoped_release rel;
      axonal::lstm_cell_forward<T>(N, H, gp, cp, ap, c2p, h2p, nt);
    }
    return py::make_tuple(h2, c2, act);
  };
  return dt == DType::f32 ? run(float{}) : run(double{});
}

py::tuple lstm_cell_backward_py(const py::object& dh_obj, const py::object& dc_obj,
                                const py::object& act_obj, const py::object& c_obj,
                                const py::object& c2_obj) {
  const char* op = "lstm_cell_backward";
  py::array c = as_array(c_obj, op, "c");
  const DType dt = dtype_of(c, op, "c");
  AX_CHECK(c.ndim() == 2, op, ": c must be 2-D (N, H), got shape ", shape_str(c));
  const index_t N = c.shape(0), H = c.shape(1);
  c = dense(c);
  py::array dh = matrix_arg(dh_obj, op, "grad_h", dt, N, H);
  py::array act = matrix_arg(act_obj, op, "act", dt, N, 4 * H);
  py::array c2 = matrix_arg(c2_obj, op, "c_next", dt, N, H);
  const bool has_dc = !dc_obj.is_none();
  py::array dc = has_dc ? matrix_arg(dc_obj, op, "grad_c", dt, N, H) : py::array();
  const int nt = axonal::get_num_threads();
  auto run = [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    py::array_t<T> dg(std::vector<py::ssize_t>{N, 4 * H}), dcp(std::vector<py::ssize_t>{N, H});
    const T* dhp = cptr<T>(dh);
    const T* dcq = has_dc ? cptr<T>(dc) : nullptr;
    const T *ap = cptr<T>(act), *cp = cptr<T>(c), *c2p = cptr<T>(c2);
    T *dgp = dg.mutable_data(), *dcpp = dcp.mutable_data();
    {
      py::gil_scoped_release rel;
      axonal::lstm_cell_backward<T>(N, H, dhp, dcq, ap, cp, c2p, dgp, dcpp, nt);
    }
    return py::make_tuple(dg, dcp);
  };
  return dt == DType::f32 ? run(float{}) : run(double{});
}

// A 3-D array of dtype dt with shape (a, b, c) (checked), made dense.
py::array matrix_like_3d(const py::object& o, const char* op, const char* name, DType dt, index_t a,
                         index_t b, index_t c) {
  py::array x = as_array(o, op, name);
  if (dtype_of(x, op, name) != dt)
    throw py::type_error(str_cat(op, ": ", name, " has dtype ", std::string(py::str(x.dtype())),
                                 ", expected ", dt == DType::f32 ? "float32" : "float64"));
  AX_CHECK(x.ndim() == 3 && x.shape(0) == a && x.shape(1) == b && x.shape(2) == c, op, ": ", name,
           " must have shape (", a, ", ", b, ", ", c, "), got ", shape_str(x));
  return dense(x);
}

// One LSTM layer and direction over a sequence (the recurrence in C++; see lstm_cell.h).
// lengths (None or N int64, non-increasing, 1 .. L) -> row n runs its own steps only (see
// lstm_cell.h); the result then has a 4th entry, the time-ordered output (zero past each length).
std::vector<index_t> lengths_arg(const py::object& obj, index_t L, index_t N, const char* op) {
  std::vector<index_t> v;
  if (obj.is_none()) return v;
  py::array_t<std::int64_t, py::array::c_style | py::array::forcecast> a(obj);
  AX_CHECK(a.ndim() == 1 && a.shape(0) == N, op, ": lengths must have shape (", N, ",), got ",
           shape_str(a));
  v.assign(a.data(), a.data() + N);
  for (index_t n = 0; n < N; ++n) {
    AX_CHECK(v[n] >= 1 && v[n] <= L, op, ": lengths must be in 1 .. ", L, ", got ", v[n]);
    AX_CHECK(n == 0 || v[n] <= v[n - 1], op, ": lengths must be non-increasing");
  }
  return v;
}

py::tuple lstm_sequence_forward_py(const py::object& xproj_obj, const py::object& h0_obj,
                                   const py::object& c0_obj, const py::object& wt_obj, bool reverse,
                                   const py::object& lengths_obj) {
  const char* op = "lstm_sequence";
  py::array xproj = as_array(xproj_obj, op, "xproj");
  const DType dt = dtype_of(xproj, op, "xproj");
  AX_CHECK(xproj.ndim() == 3 && xproj.shape(2) % 4 == 0, op,
           ": xproj must be (L, N, 4H), got shape ", shape_str(xproj));
  const index_t L = xproj.shape(0), N = xproj.shape(1), H = xproj.shape(2) / 4;
  xproj = dense(xproj);
  py::array h0 = matrix_arg(h0_obj, op, "h0", dt, N, H);
  py::array c0 = matrix_arg(c0_obj, op, "c0", dt, N, H);
  py::array wt = matrix_arg(wt_obj, op, "w_hh^T", dt, H, 4 * H);
  const std::vector<index_t> lens = lengths_arg(lengths_obj, L, N, op);
  const int nt = axonal::get_num_threads();
  auto run = [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    py::array_t<T> hs(std::vector<py::ssize_t>{L + 1, N, H}),
        cs(std::vector<py::ssize_t>{L + 1, N, H});
    py::array_t<T> acts(std::vector<py::ssize_t>{L, N, 4 * H});
    T *hp = hs.mutable_data(), *cp = cs.mutable_data(), *ap = acts.mutable_data();
    std::copy(cptr<T>(h0), cptr<T>(h0) + N * H, hp);
    std::copy(cptr<T>(c0), cptr<T>(c0) + N * H, cp);
    const T *xp = cptr<T>(xproj), *wp = cptr<T>(wt);
    py::array_t<T> out(std::vector<py::ssize_t>{lens.empty() ? 0 : L, N, H});
    T* op_ = lens.empty() ? nullptr : out.mutable_data();
    if (op_) std::fill(op_, op_ + L * N * H, T(0));
    {
      py::gil_scoped_release rel;
      axonal::lstm_sequence_forward<T>(L, N, H, xp, wp, reverse, hp, cp, ap, nt,
                                       lens.empty() ? nullptr : lens.data(), op_);
    }
    if (lens.empty()) return py::make_tuple(hs, cs, acts);
    return py::make_tuple(hs, cs, acts, out);
  };
  return dt == DType::f32 ? run(float{}) : run(double{});
}

// One GRU layer and direction over a sequence (the recurrence in C++; see lstm_cell.h).
py::tuple gru_sequence_forward_py(const py::object& xproj_obj, const py::object& h0_obj,
                                  const py::object& wt_obj, const py::object& bhh_obj, bool reverse,
                                  const py::object& lengths_obj) {
  const char* op = "gru_sequence";
  py::array xproj = as_array(xproj_obj, op, "xproj");
  const DType dt = dtype_of(xproj, op, "xproj");
  AX_CHECK(xproj.ndim() == 3 && xproj.shape(2) % 3 == 0, op,
           ": xproj must be (L, N, 3H), got shape ", shape_str(xproj));
  const index_t L = xproj.shape(0), N = xproj.shape(1), H = xproj.shape(2) / 3;
  xproj = dense(xproj);
  py::array h0 = matrix_arg(h0_obj, op, "h0", dt, N, H);
  py::array wt = matrix_arg(wt_obj, op, "w_hh^T", dt, H, 3 * H);
  py::array bhh;
  if (!bhh_obj.is_none()) {
    bhh = as_array(bhh_obj, op, "b_hh");
    if (dtype_of(bhh, op, "b_hh") != dt)
      throw py::type_error(str_cat(op, ": b_hh has dtype ", std::string(py::str(bhh.dtype())),
                                   ", expected ", dt == DType::f32 ? "float32" : "float64"));
    AX_CHECK(bhh.ndim() == 1 && bhh.shape(0) == 3 * H, op, ": b_hh must have shape (", 3 * H,
             ",), got ", shape_str(bhh));
    bhh = dense(bhh);
  }
  const std::vector<index_t> lens = lengths_arg(lengths_obj, L, N, op);
  const int nt = axonal::get_num_threads();
  auto run = [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    py::array_t<T> hs(std::vector<py::ssize_t>{L + 1, N, H});
    py::array_t<T> out(std::vector<py::ssize_t>{lens.empty() ? 0 : L, N, H});
    T* op_ = lens.empty() ? nullptr : out.mutable_data();
    if (op_) std::fill(op_, op_ + L * N * H, T(0));
    py::array_t<T> rz(std::vector<py::ssize_t>{L, N, 2 * H});
    py::array_t<T> ns(std::vector<py::ssize_t>{L, N, H}), ghn(std::vector<py::ssize_t>{L, N, H});
    T* hp = hs.mutable_data();
    std::copy(cptr<T>(h0), cptr<T>(h0) + N * H, hp);
    const T *xp = cptr<T>(xproj), *wp = cptr<T>(wt);
    const T* bp = bhh_obj.is_none() ? nullptr : cptr<T>(bhh);
    T *rzp = rz.mutable_data(), *np_ = ns.mutable_data(), *gp = ghn.mutable_data();
    {
      py::gil_scoped_release rel;
      axonal::gru_sequence_forward<T>(L, N, H, xp, wp, bp, reverse, hp, rzp, np_, gp, nt,
                                      lens.empty() ? nullptr : lens.data(), op_);
    }
    if (lens.empty()) return py::make_tuple(hs, rz, ns, ghn);
    return py::make_tuple(hs, rz, ns, ghn, out);
  };
  return dt == DType::f32 ? run(float{}) : run(double{});
}

py::tuple gru_sequence_backward_py(const py::object& dout_obj, const py::object& dhn_obj,
                                   const py::object& hs_obj, const py::object& rz_obj,
                                   const py::object& ns_obj, const py::object& ghn_obj,
                                   const py::object& w_obj, bool reverse, bool bias,
                                   const py::object& lengths_obj) {
  const char* op = "gru_sequence_backward";
  py::array ns = as_array(ns_obj, op, "ns");
  const DType dt = dtype_of(ns, op, "ns");
  AX_CHECK(ns.ndim() == 3, op, ": ns must be (L, N, H), got ", shape_str(ns));
  const index_t L = ns.shape(0), N = ns.shape(1), H = ns.shape(2);
  ns = dense(ns);
  py::array dout = matrix_like_3d(dout_obj, op, "grad_output", dt, L, N, H);
  py::array hs = matrix_like_3d(hs_obj, op, "hs", dt, L + 1, N, H);
  py::array rz = matrix_like_3d(rz_obj, op, "rz", dt, L, N, 2 * H);
  py::array ghn = matrix_like_3d(ghn_obj, op, "ghn", dt, L, N, H);
  py::array dhn = matrix_arg(dhn_obj, op, "grad_h_n", dt, N, H);
  py::array w = matrix_arg(w_obj, op, "w_hh", dt, 3 * H, H);
  const std::vector<index_t> lens = lengths_arg(lengths_obj, L, N, op);
  const int nt = axonal::get_num_threads();
  auto run = [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    py::array_t<T> dx(std::vector<py::ssize_t>{L, N, 3 * H});
    py::array_t<T> dh0(std::vector<py::ssize_t>{N, H}), dw(std::vector<py::ssize_t>{3 * H, H});
    py::array_t<T> db(std::vector<py::ssize_t>{3 * H});
    const T *dop = cptr<T>(dout), *dhp = cptr<T>(dhn), *hp = cptr<T>(hs), *rp = cptr<T>(rz);
    const T *np_ = cptr<T>(ns), *gp = cptr<T>(ghn), *wp = cptr<T>(w);
    T *dxp = dx.mutable_data(), *dh0p = dh0.mutable_data(), *dwp = dw.mutable_data();
    T* dbp = bias ? db.mutable_data() : nullptr;
    {
      py::gil_scoped_release rel;
      axonal::gru_sequence_backward<T>(L, N, H, dop, dhp, hp, rp, np_, gp, wp, reverse, dxp, dh0p,
                                       dwp, dbp, nt, lens.empty() ? nullptr : lens.data());
    }
    return py::make_tuple(dx, dh0, dw, bias ? py::object(db) : py::object(py::none()));
  };
  return dt == DType::f32 ? run(float{}) : run(double{});
}

py::tuple lstm_sequence_backward_py(const py::object& dout_obj, const py::object& dhn_obj,
                                    const py::object& dcn_obj, const py::object& hs_obj,
                                    const py::object& cs_obj, const py::object& acts_obj,
                                    const py::object& w_obj, bool reverse,
                                    const py::object& lengths_obj) {
  const char* op = "lstm_sequence_backward";
  py::array acts = as_array(acts_obj, op, "acts");
  const DType dt = dtype_of(acts, op, "acts");
  AX_CHECK(acts.ndim() == 3 && acts.shape(2) % 4 == 0, op, ": acts must be (L, N, 4H), got ",
           shape_str(acts));
  const index_t L = acts.shape(0), N = acts.shape(1), H = acts.shape(2) / 4;
  acts = dense(acts);
  py::array dout = matrix_like_3d(dout_obj, op, "grad_output", dt, L, N, H);
  py::array hs = matrix_like_3d(hs_obj, op, "hs", dt, L + 1, N, H);
  py::array cs = matrix_like_3d(cs_obj, op, "cs", dt, L + 1, N, H);
  py::array dhn = matrix_arg(dhn_obj, op, "grad_h_n", dt, N, H);
  py::array dcn = matrix_arg(dcn_obj, op, "grad_c_n", dt, N, H);
  py::array w = matrix_arg(w_obj, op, "w_hh", dt, 4 * H, H);
  const std::vector<index_t> lens = lengths_arg(lengths_obj, L, N, op);
  const int nt = axonal::get_num_threads();
  auto run = [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    py::array_t<T> dx(std::vector<py::ssize_t>{L, N, 4 * H});
    py::array_t<T> dh0(std::vector<py::ssize_t>{N, H}), dc0(std::vector<py::ssize_t>{N, H});
    py::array_t<T> dw(std::vector<py::ssize_t>{4 * H, H});
    const T *dop = cptr<T>(dout), *dhp = cptr<T>(dhn), *dcp = cptr<T>(dcn);
    const T *hp = cptr<T>(hs), *cp = cptr<T>(cs), *ap = cptr<T>(acts), *wp = cptr<T>(w);
    T *dxp = dx.mutable_data(), *dh0p = dh0.mutable_data(), *dc0p = dc0.mutable_data();
    T* dwp = dw.mutable_data();
    {
      py::gil_scoped_release rel;
      axonal::lstm_sequence_backward<T>(L, N, H, dop, dhp, dcp, hp, cp, ap, wp, reverse, dxp, dh0p,
                                        dc0p, dwp, nt, lens.empty() ? nullptr : lens.data());
    }
    return py::make_tuple(dx, dh0, dc0, dw);
  };
  return dt == DType::f32 ? run(float{}) : run(double{});
}

// ------------------------------------------------------------------ scaled dot-product attention
// q (B, L, E), k (B, S, E), v (B, S, Ev), mask None / (L, S) / (B, L, S) additive, all one dtype.
struct AttentionArgs {
  py::array q, k, v, mask;
  axonal::AttentionShape s;
  DType dt;
  bool has_mask = false;
};

AttentionArgs attention_args(const char* op, const py::object& q_obj, const py::object& k_obj,
                             const py::object& v_obj, const py::object& mask_obj, bool causal) {
  AttentionArgs a;
  a.q = as_array(q_obj, op, "query");
  a.dt = dtype_of(a.q, op, "query");
  a.k = as_array(k_obj, op, "key");
  a.v = as_array(v_obj, op, "value");
  same_dtype(a.q, "query", a.k, "key", op);
  same_dtype(a.q, "query", a.v, "value", op);
  AX_CHECK(a.q.ndim() == 3 && a.k.ndim() == 3 && a.v.ndim() == 3, op,
           ": query, key and value must be 3-D (B, L, E), got ", shape_str(a.q), ", ",
           shape_str(a.k), ", ", shape_str(a.v));
  auto& s = a.s;
  s.B = a.q.shape(0), s.L = a.q.shape(1), s.E = a.q.shape(2);
  s.S = a.k.shape(1), s.Ev = a.v.shape(2);
  s.causal = causal;
  AX_CHECK(a.k.shape(0) == s.B && a.v.shape(0) == s.B && a.k.shape(2) == s.E && a.v.shape(1) == s.S,
           op, ": query ", shape_str(a.q), ", key ", shape_str(a.k), ", value ", shape_str(a.v),
           " do not fit (B, L, E), (B, S, E), (B, S, Ev)");
  a.q = dense(a.q), a.k = dense(a.k), a.v = dense(a.v);
  if (!mask_obj.is_none()) {
    a.has_mask = true;
    a.mask = as_array(mask_obj, op, "mask");
    same_dtype(a.q, "query", a.mask, "mask", op);
    const bool shared = a.mask.ndim() == 2 && a.mask.shape(0) == s.L && a.mask.shape(1) == s.S;
    const bool per_item = a.mask.ndim() == 3 && a.mask.shape(0) == s.B && a.mask.shape(1) == s.L &&
                          a.mask.shape(2) == s.S;
    AX_CHECK(shared || per_item, op, ": mask must have shape (", s.L, ", ", s.S, ") or (", s.B,
             ", ", s.L, ", ", s.S, "), got ", shape_str(a.mask));
    a.mask = dense(a.mask);
    s.mask_stride = per_item ? s.L * s.S : 0;
  }
  return a;
}

py::array attention_forward_py(const py::object& q, const py::object& k, const py::object& v,
                               const py::object& mask, bool causal, double scale) {
  AttentionArgs a = attention_args("scaled_dot_product_attention", q, k, v, mask, causal);
  const int nt = axonal::get_num_threads();
  auto run = [&](auto tag) -> py::array {
    using T = decltype(tag);
    py::array_t<T> o(std::vector<py::ssize_t>{a.s.B, a.s.L, a.s.Ev});
    const T *qp = cptr<T>(a.q), *kp = cptr<T>(a.k), *vp = cptr<T>(a.v);
    const T* mp = a.has_mask ? cptr<T>(a.mask) : nullptr;
    T* op = o.mutable_data();
    py::gil_scoped_release rel;
    axonal::attention_forward<T>(a.s, static_cast<T>(scale), qp, kp, vp, mp, op, nt);
    return std::move(o);
  };
  return a.dt == DType::f32 ? run(float{}) : run(double{});
}

py::tuple attention_backward_py(const py::object& dout_obj, const py::object& q,
                                const py::object& k, const py::object& v, const py::object& mask,
                                const py::object& o_obj, bool causal, double scale) {
  const char* op = "scaled_dot_product_attention_backward";
  AttentionArgs a = attention_args(op, q, k, v, mask, causal);
  py::array dout = matrix_like_3d(dout_obj, op, "grad_output", a.dt, a.s.B, a.s.L, a.s.Ev);
  py::array o = matrix_like_3d(o_obj, op, "output", a.dt, a.s.B, a.s.L, a.s.Ev);
  const int nt = axonal::get_num_threads();
  auto run = [&](auto tag) -> py::tuple {
    using T = decltype(tag);
    py::array_t<T> dq(std::vector<py::ssize_t>{a.s.B, a.s.L, a.s.E});
    py::array_t<T> dk(std::vector<py::ssize_t>{a.s.B, a.s.S, a.s.E});
    py::array_t<T> dv(std::vector<py::ssize_t>{a.s.B, a.s.S, a.s.Ev});
    const T *qp = cptr<T>(a.q), *kp = cptr<T>(a.k), *vp = cptr<T>(a.v);
    const T* mp = a.has_mask ? cptr<T>(a.mask) : nullptr;
    const T *dop = cptr<T>(dout), *outp = cptr<T>(o);
    T *dqp = dq.mutable_data(), *dkp = dk.mutable_data(), *dvp = dv.mutable_data();
    {
      py::gil_scoped_release rel;
      axonal::attention_backward<T>(a.s, static_cast<T>(scale), dop, qp, kp, vp, mp, outp, dqp, dkp,
                                    dvp, nt);
    }
    return py::make_tuple(dq, dk, dv);
  };
  return a.dt == DType::f32 ? run(float{}) : run(double{});
}

}  // namespace

void register_conv_bindings(py::module_& m) {
  m.def("conv2d_forward", &conv2d_forward, py::arg("x"), py::arg("w"), py::arg("b") = py::none(),
        py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1,
        py::arg("groups") = 1,
        "conv2d (cross-correlation): x (N, C, H, W), w (K, C/groups, R, S), b (K,) or None "
        "-> y (N, K, P, Q).");
  m.def("conv2d_backward_input", &conv2d_backward_input, py::arg("grad_output"), py::arg("w"),
        py::arg("input_shape"), py::arg("stride") = 1, py::arg("padding") = 0,
        py::arg("dilation") = 1, py::arg("groups") = 1,
        "Gradient of conv2d with respect to its input: -> dx with shape input_shape.");
  m.def("conv2d_backward_weight", &conv2d_backward_weight, py::arg("grad_output"), py::arg("x"),
        py::arg("weight_shape"), py::arg("stride") = 1, py::arg("padding") = 0,
        py::arg("dilation") = 1, py::arg("groups") = 1,
        "Gradient of conv2d with respect to its weight: -> dw with shape weight_shape.");
  m.def("conv2d_backward_bias", &conv2d_backward_bias, py::arg("grad_output"),
        "Gradient of conv2d with respect to its bias: grad_output summed over all axes but 1.");
  m.def("conv2d_plan", &conv2d_plan, py::arg("input_shape"), py::arg("weight_shape"),
        py::arg("stride") = 1, py::arg("padding") = 0, py::arg("dilation") = 1,
        py::arg("groups") = 1, py::arg("pass_") = "forward", py::arg("dtype") = py::str("float32"),
        py::arg("threads") = 0,
        "What one conv2d kernel call would do: {'algorithm': name, 'workspace_bytes': bytes "
        "allocated}. pass_: 'forward', 'backward_input' or 'backward_weight'; threads 0: the "
        "current thread count.");
  m.def("max_pool2d_forward", &max_pool2d_forward, py::arg("x"), py::arg("kernel_size"),
        py::arg("stride") = py::none(), py::arg("padding") = 0, py::arg("dilation") = 1,
        py::arg("ceil_mode") = false,
        "max_pool2d: x (N, C, H, W) -> (y, indices), indices int64 flat in each H*W plane.");
  m.def("max_pool2d_backward", &max_pool2d_backward, py::arg("grad_output"), py::arg("indices"),
        py::arg("input_shape"), "Gradient of max_pool2d: grad_output scattered at indices.");
  m.def("avg_pool2d_forward", &avg_pool2d_forward, py::arg("x"), py::arg("kernel_size"),
        py::arg("stride") = py::none(), py::arg("padding") = 0, py::arg("ceil_mode") = false,
        py::arg("count_include_pad") = true, py::arg("divisor_override") = py::none(),
        "avg_pool2d: x (N, C, H, W) -> y (N, C, P, Q).");
  m.def("avg_pool2d_backward", &avg_pool2d_backward, py::arg("grad_output"), py::arg("input_shape"),
        py::arg("kernel_size"), py::arg("stride") = py::none(), py::arg("padding") = 0,
        py::arg("ceil_mode") = false, py::arg("count_include_pad") = true,
        py::arg("divisor_override") = py::none(), "Gradient of avg_pool2d.");
  m.def("adaptive_avg_pool2d_forward", &adaptive_avg_pool2d_forward, py::arg("x"),
        py::arg("output_size"), "adaptive_avg_pool2d: x (N, C, H, W) -> y (N, C, *output_size).");
  m.def("adaptive_avg_pool2d_backward", &adaptive_avg_pool2d_backward, py::arg("grad_output"),
        py::arg("input_shape"), "Gradient of adaptive_avg_pool2d.");
  m.def(
      "softmax_forward", &softmax_forward_py, py::arg("x"), py::arg("dim") = -1,
      py::arg("log") = false,
      "softmax (log=False) or log_softmax (log=True) of x along dim (float32/float64, any rank).");
  m.def("softmax_backward", &softmax_backward_py, py::arg("grad_output"), py::arg("output"),
        py::arg("dim") = -1, py::arg("log") = false,
        "Gradient of softmax / log_softmax along dim from the forward's output.");
  m.def("lstm_cell_forward", &lstm_cell_forward_py, py::arg("gates"), py::arg("c"),
        "LSTM cell pointwise step: gates (N, 4H) [i|f|g|o], c (N, H) -> (h', c', act).");
  m.def(
      "lstm_cell_backward", &lstm_cell_backward_py, py::arg("grad_h"), py::arg("grad_c"),
      py::arg("act"), py::arg("c"), py::arg("c_next"),
      "Gradient of lstm_cell_forward -> (grad_gates (N, 4H), grad_c (N, H)); grad_c may be None.");
  m.def("attention_forward", &attention_forward_py, py::arg("q"), py::arg("k"), py::arg("v"),
        py::arg("mask") = py::none(), py::arg("causal") = false, py::arg("scale") = 1.0,
        "softmax(scale q k^T + mask) v without storing the attention matrix: q (B, L, E), k (B, S, "
        "E), v (B, S, Ev), mask additive (L, S) or (B, L, S) -> (B, L, Ev).");
  m.def("attention_backward", &attention_backward_py, py::arg("grad_output"), py::arg("q"),
        py::arg("k"), py::arg("v"), py::arg("mask"), py::arg("output"), py::arg("causal") = false,
        py::arg("scale") = 1.0, "Gradient of attention_forward -> (dq, dk, dv).");
  m.def("lstm_sequence_forward", &lstm_sequence_forward_py, py::arg("xproj"), py::arg("h0"),
        py::arg("c0"), py::arg("w_hh_t"), py::arg("reverse") = false,
        py::arg("lengths") = py::none(),
        "One LSTM layer and direction over a sequence -> (hs (L+1, N, H), cs, acts (L, N, 4H)); "
        "with lengths (non-increasing) each row runs its own steps and a 4th entry is the "
        "time-ordered output.");
  m.def("gru_sequence_forward", &gru_sequence_forward_py, py::arg("xproj"), py::arg("h0"),
        py::arg("w_hh_t"), py::arg("b_hh") = py::none(), py::arg("reverse") = false,
        py::arg("lengths") = py::none(),
        "One GRU layer and direction over a sequence -> (hs (L+1, N, H), rz (L, N, 2H), n, gh_n); "
        "with lengths (non-increasing) each row runs its own steps and a 5th entry is the "
        "time-ordered output.");
  m.def("gru_sequence_backward", &gru_sequence_backward_py, py::arg("grad_output"),
        py::arg("grad_h_n"), py::arg("hs"), py::arg("rz"), py::arg("ns"), py::arg("ghn"),
        py::arg("w_hh"), py::arg("reverse") = false, py::arg("bias") = true,
        py::arg("lengths") = py::none(),
        "Backpropagation through time of gru_sequence_forward -> (dxproj, dh0, dw_hh, db_hh).");
  m.def("lstm_sequence_backward", &lstm_sequence_backward_py, py::arg("grad_output"),
        py::arg("grad_h_n"), py::arg("grad_c_n"), py::arg("hs"), py::arg("cs"), py::arg("acts"),
        py::arg("w_hh"), py::arg("reverse") = false, py::arg("lengths") = py::none(),
        "Backpropagation through time of lstm_sequence_forward -> (dxproj, dh0, dc0, dw_hh).");
}
