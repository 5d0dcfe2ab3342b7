"""``axonal.Tensor``: an n-dimensional array with autograd.

A Tensor wraps one array in ``t._data``: a ``numpy.ndarray`` on device "cpu" (a ``cupy.ndarray``
on "cuda"). Ops record a graph of :class:`axonal.autograd.Function` nodes when an input requires
grad; ``backward()`` walks it. Fast paths keep the per-op Python cost small: ``__slots__``, no
re-wrapping of arrays, grad mode read from one module global.
"""

from __future__ import annotations

import operator as _operator
import weakref
from typing import Any, Optional, Tuple

import numpy as np

from . import dtypes as _dt

_ndarray = np.ndarray
_object_new = object.__new__


class device(str):
    """A device name: ``device("cpu")``, ``device("cuda")``, ``device("cuda:1")``.

    It is a ``str`` (``t.device == "cpu"`` is True) with ``.type`` and ``.index``.
    """

    __slots__ = ()

    def __new__(cls, spec: Any = "cpu", index: Optional[int] = None) -> device:
        if isinstance(spec, device) and index is None:
            return spec
        s = str(spec)
        if s.startswith("torch."):
            s = s[6:]
        if index is not None:
            s = f"{s}:{int(index)}"
        kind = s.split(":")[0]
        if kind not in ("cpu", "cuda"):
            raise RuntimeError(f"device: expected 'cpu' or 'cuda[:index]', got {spec!r}")
        if kind == "cpu":
            s = "cpu"
        return str.__new__(cls, s)

    @property
    def type(self) -> str:
        return self.split(":")[0]

    @property
    def index(self) -> Optional[int]:
        parts = self.split(":")
        return int(parts[1]) if len(parts) > 1 else None

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, str):
            if str.__eq__(self, other):
                return True
            pair = {str(self), str(other)}
            return pair == {"cuda", "cuda:0"}  # "cuda" means the (first) current device
        return False

    def __ne__(self, other: Any) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return str.__hash__(self)

    def __repr__(self) -> str:
        return f"device(type='{self.type}'" + (
            f", index={self.index})" if self.index is not None else ")"
        )


_CPU = device("cpu")
_CUDA0 = device("cuda:0")


def _new(arr: Any, rg: bool = False, fn: Any = None) -> Tensor:
    """Wrap an array (no copy, no checks): the internal constructor of every op output."""
    t = _object_new(Tensor)
    t._data = arr
    t.requires_grad = rg
    t.grad = None
    t.grad_fn = fn
    t._vc = [0]
    t._hooks = None
    return t


def _scalar(x: Any) -> Any:
    """``x`` as a Python number when it is a scalar (int, float, bool, NumPy scalar), else None."""
    tx = type(x)
    if tx is float or tx is int:
        return x
    if tx is bool:
        return int(x)
    if isinstance(x, np.generic) and x.dtype.kind in "biuf":
        return x.item() if x.dtype.kind != "b" else int(x)
    return None


def _xp(arr: Any) -> Any:
    if type(arr) is _ndarray:
        return np
    import sys

    return sys.modules[type(arr).__module__.split(".")[0]]


class Tensor:
    """An n-dimensional array with autograd (PyTorch semantics).

    Create tensors with :func:`axonal.tensor`, :func:`axonal.zeros`, :func:`axonal.randn`, ...
    ``Tensor(data)`` wraps an array without copying (any other data is converted like
    ``axonal.tensor``).
    """

    # _host_range (set by .to() only; read with getattr): (version, min, max) of an integer
    # tensor copied from host memory, so that checks of its values (class targets) need no
    # device synchronisation while the tensor is unchanged
    __slots__ = (
        "_data",
        "requires_grad",
        "grad",
        "grad_fn",
        "_vc",
        "_hooks",
        "_host_range",
        "__weakref__",
    )
    __array_priority__ = 1000

    def __init__(
        self,
        data: Any = None,
        *,
        dtype: Any = None,
        device: Any = None,
        requires_grad: bool = False,
    ) -> None:
        if type(data) is _ndarray and dtype is None and device is None:
            arr = data
            dt = arr.dtype
            if dt.isnative and dt.kind in "fiub" and dt is not np.dtype(dt.type):
                arr = arr.view(np.dtype(dt.type))  # e.g. unpickled: an equal, distinct dtype
        elif isinstance(data, Tensor) and dtype is None and device is None:
            arr = data._data
        elif data is None:
            arr = np.empty((0,), dtype=_dt.float32 if dtype is None else _dt.as_dtype(dtype))
        else:
            if dtype is None and not hasattr(data, "dtype"):
                dtype = _dt.get_default_dtype()  # Tensor([1, 2]) is float, like torch.Tensor
            arr = _to_array(data, dtype, device)
        self._data = arr
        self.grad = None
        self.grad_fn = None
        self._vc = [0]
        self._hooks = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ------------------------------------------------------------------ attributes
    @property
    def data(self) -> Tensor:
        """A detached Tensor sharing this tensor's storage; assigning replaces the storage."""
        # writes through it do not count as this tensor's (its own version counter, as in
        # PyTorch): a value range known from the host no longer holds
        self._host_range = None
        return _new(self._data)

    @data.setter
    def data(self, value: Any) -> None:
        self._host_range = None
        if isinstance(value, Tensor):
            self._data = value._data
        else:
            self._data = _to_array(value, None, None)

    @property
    def shape(self) -> Tuple[int, ...]:
        return self._data.shape

    def size(self, dim: Optional[int] = None) -> Any:
        if dim is None:
            return self._data.shape
        return self._data.shape[_norm_dim(dim, self._data.ndim, "size")]

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def device(self) -> device:
        if type(self._data) is _ndarray:
            return _CPU
        dev = getattr(self._data, "device", None)
        return device("cuda", getattr(dev, "id", 0))

    @property
    def is_cuda(self) -> bool:
        return type(self._data) is not _ndarray

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def _version(self) -> int:
        return self._vc[0]

    @property
    def T(self) -> Tensor:
        nd = self._data.ndim
        if nd < 2:
            return self
        return self.permute(*range(nd - 1, -1, -1))

    @property
    def mT(self) -> Tensor:
        return self.transpose(-2, -1)

    def t(self) -> Tensor:
        if self._data.ndim > 2:
            raise RuntimeError(f"t: expects a tensor with <= 2 dimensions, got {self.shape}")
        return self.T

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return int(self._data.itemsize)

    @property
    def itemsize(self) -> int:
        return int(self._data.itemsize)

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def is_contiguous(self) -> bool:
        return bool(self._data.flags.c_contiguous)

    def stride(self, dim: Optional[int] = None) -> Any:
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[_norm_dim(dim, self._data.ndim, "stride")]

    def data_ptr(self) -> int:
        d = self._data
        if type(d) is _ndarray:
            return int(d.__array_interface__["data"][0])
        return int(d.data.ptr)

    # ------------------------------------------------------------------ autograd API
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self._data.dtype.kind not in "fc":
            raise RuntimeError(
                "only Tensors of floating point dtype can require gradients "
                f"(this one is {self._data.dtype})"
            )
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError(
                "requires_grad_(False): you can only change requires_grad flags of leaf "
                "variables; use detach() to get a tensor that doesn't require grad"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """A new leaf sharing storage (and the version counter) that doesn't require grad."""
        t = _new(self._data)
        t._vc = self._vc
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self.requires_grad = False
        return self

    def backward(
        self,
        gradient: Any = None,
        retain_graph: Optional[bool] = None,
        create_graph: bool = False,
        inputs: Any = None,
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (``gradient`` defaults to 1 for
        a one-element tensor). The graph is freed unless ``retain_graph=True``."""
        if gradient is None and inputs is None and not create_graph and self.requires_grad:
            d = self._data
            if d.size == 1:
                fn = self.grad_fn
                _engine.run_backward(
                    (self if fn is None else fn,),
                    (_xp(d).ones(d.shape, d.dtype),),
                    bool(retain_graph),
                )
                return
        _engine.backward(self, gradient, retain_graph, create_graph, inputs)

    def register_hook(self, hook: Any) -> Any:
        """``hook(grad) -> Tensor or None`` runs when this tensor's gradient is computed; a
        returned Tensor replaces the gradient. Returns a handle with ``.remove()``."""
        if not self.requires_grad:
            raise RuntimeError(
                "register_hook: cannot register a hook on a tensor that doesn't require gradient"
            )
        owner = self if self.grad_fn is None else self.grad_fn
        return _fn_mod._add_hook(owner, hook)

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: the tensor doesn't require grad")
        node = self.grad_fn
        if node is None:
            return
        hooks = node._hooks
        if hooks and any(getattr(h, "_retains", None) is not None for h in hooks.values()):
            return
        ref = weakref.ref(self)

        def _retain(g: Tensor) -> None:
            t = ref()
            if t is None:
                return
            if t.grad is None:
                t.grad = _new(g._data.copy()) if g.grad_fn is None else g
            else:
                t.grad = _new(t.grad._data + g._data) if g.grad_fn is None else t.grad + g

        _retain._retains = ref  # type: ignore[attr-defined]
        _fn_mod._add_hook(node, _retain)

    @property
    def retains_grad(self) -> bool:
        node = self.grad_fn
        if node is None or not node._hooks:
            return False
        return any(getattr(h, "_retains", None) is not None for h in node._hooks.values())

    # ------------------------------------------------------------------ conversion
    def numpy(self, force: bool = False) -> np.ndarray:
        """The NumPy array sharing this tensor's memory (device "cpu"). A "cuda" tensor raises
        TypeError, as in PyTorch: copy it with ``.cpu()`` first (or pass ``force=True``)."""
        d = self._data
        if type(d) is _ndarray:
            return d
        if force:
            return d.get()
        raise TypeError(
            f"numpy: can't convert a {self.device} device type tensor to numpy. Use "
            "Tensor.cpu() to copy the tensor to host memory first (or numpy(force=True))."
        )

    def item(self) -> Any:
        d = self._data
        if d.size != 1:
            raise RuntimeError(
                f"item: a Tensor with {d.size} elements cannot be converted to a Python scalar"
            )
        return d.item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if type(self._data) is not _ndarray:
            raise TypeError(
                f"can't convert a {self.device} device type tensor to a NumPy array implicitly; "
                "use Tensor.cpu() to copy the tensor to host memory first"
            )
        d = self._data
        if dtype is not None and d.dtype != dtype:
            return d.astype(dtype)
        if copy:
            return d.copy()
        return d

    def __dlpack__(self, **kwargs: Any) -> Any:
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        return self._data.__dlpack__(**kwargs)

    def __dlpack_device__(self) -> Tuple[int, int]:
        return self._data.__dlpack_device__()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with {self._data.size} elements is ambiguous"
            )
        return bool(self._data.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Any:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        if not self.requires_grad or not _gm.enabled:
            return iter([_new(x) for x in self._data])
        return iter(self.unbind(0))

    def __hash__(self) -> int:
        return id(self)

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (_rebuild, (self._data, self.requires_grad))

    def __deepcopy__(self, memo: dict) -> Tensor:
        if self.grad_fn is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support deepcopy"
            )
        t = type(self).__new__(type(self))
        Tensor.__init__(t, self._data.copy(), requires_grad=False)
        t.requires_grad = self.requires_grad
        if hasattr(t, "__dict__") and hasattr(self, "__dict__"):
            import copy as _copy

            for k, v in self.__dict__.items():
                t.__dict__[k] = _copy.deepcopy(v, memo)
        if self.grad is not None:
            t.grad = _new(self.grad._data.copy())
        memo[id(self)] = t
        return t

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``, keywords too."""
        dev = kwargs.pop("device", None)
        dt = kwargs.pop("dtype", None)
        copy = kwargs.pop("copy", False)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to: unexpected keyword arguments {list(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dev, dt = a.device, a.dtype
            elif isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda"):
                dev = a
            elif type(a).__name__ == "device" and type(a).__module__.startswith("torch"):
                dev = str(a)
            else:
                dt = a
        out = self
        if dt is not None:
            dt = _dt.as_dtype(dt)
            if dt != out._data.dtype:
                out = _ops.Cast.apply(out, dt)
        if dev is not None:
            dev = device(dev)
            if dev != out.device:
                src = out._data
                out = _ops.ToDevice.apply(out, dev)
                if type(src) is _ndarray and src.dtype.kind in "iu" and src.size:
                    out._host_range = (out._vc[0], int(src.min()), int(src.max()))
        if copy and out is self:
            out = self.clone()
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device_index: Optional[int] = None) -> Tensor:
        return self.to("cuda" if device_index is None else f"cuda:{device_index}")

    def float(self) -> Tensor:
        return self.to(_dt.float32)

    def double(self) -> Tensor:
        return self.to(_dt.float64)

    def half(self) -> Tensor:
        return self.to(_dt.float16)

    def long(self) -> Tensor:
        return self.to(_dt.int64)

    def int(self) -> Tensor:
        return self.to(_dt.int32)

    def bool(self) -> Tensor:
        return self.to(_dt.bool_)

    def type(self, dtype: Any = None) -> Any:
        if dtype is None:
            return f"axonal.{self._data.dtype.name}"
        return self.to(dtype)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def clone(self, memory_format: Any = None) -> Tensor:
        return _ops.Clone.apply(self)

    def contiguous(self, memory_format: Any = None) -> Tensor:
        if self._data.flags.c_contiguous:
            return self
        return _ops.Clone.apply(self)

    def new_tensor(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        return _ops.tensor(
            data, dtype=dtype or self.dtype, device=self.device, requires_grad=requires_grad
        )

    def new_zeros(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        return _ops.zeros(
            *size, dtype=dtype or self.dtype, device=self.device, requires_grad=requires_grad
        )

    def new_ones(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        return _ops.ones(
            *size, dtype=dtype or self.dtype, device=self.device, requires_grad=requires_grad
        )

    def new_empty(self, *size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
        return _ops.empty(
            *size, dtype=dtype or self.dtype, device=self.device, requires_grad=requires_grad
        )

    def new_full(
        self, size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False
    ) -> Tensor:
        return _ops.full(
            size,
            fill_value,
            dtype=dtype or self.dtype,
            device=self.device,
            requires_grad=requires_grad,
        )

    # ------------------------------------------------------------------ printing
    def __repr__(self) -> str:
        return _format(self)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0 and spec:
            return self._data.item().__format__(spec)
        return repr(self)

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other: Any) -> Tensor:
        if isinstance(other, Tensor):
            return _ops.Add.apply(self, other)
        s = _scalar(other)
        if s is not None:
            return _ops.AddScalar.apply(self, s)
        return _ops.Add.apply(self, _const(other, self))

    __radd__ = __add__

    def __sub__(self, other: Any) -> Tensor:
        if isinstance(other, Tensor):
            return _ops.Sub.apply(self, other)
        s = _scalar(other)
        if s is not None:
            return _ops.AddScalar.apply(self, -s)
        return _ops.Sub.apply(self, _const(other, self))

    def __rsub__(self, other: Any) -> Tensor:
        s = _scalar(other)
        if s is not None:
            return _ops.RSubScalar.apply(self, s)
        return _ops.Sub.apply(_const(other, self), self)

    def __mul__(self, other: Any) -> Tensor:
        if isinstance(other, Tensor):
            return _ops.Mul.apply(self, other)
        s = _scalar(other)
        if s is not None:
            return _ops.MulScalar.apply(self, s)
        return _ops.Mul.apply(self, _const(other, self))

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Tensor:
        if isinstance(other, Tensor):
            return _ops.Div.apply(self, other)
        s = _scalar(other)
        if s is not None:
            return _ops.DivScalar.apply(self, s)
        return _ops.Div.apply(self, _const(other, self))

    def __rtruediv__(self, other: Any) -> Tensor:
        s = _scalar(other)
        if s is not None:
            return _ops.RDivScalar.apply(self, s)
        return _ops.Div.apply(_const(other, self), self)

    def __pow__(self, other: Any) -> Tensor:
        if isinstance(other, Tensor):
            return _ops.Pow.apply(self, other)
        s = _scalar(other)
        if s is not None:
            return _ops.PowScalar.apply(self, s)
        return _ops.Pow.apply(self, _const(other, self))

    def __rpow__(self, other: Any) -> Tensor:
        s = _scalar(other)
        if s is not None:
            return _ops.RPowScalar.apply(self, s)
        return _ops.Pow.apply(_const(other, self), self)

    def __matmul__(self, other: Any) -> Tensor:
        if not isinstance(other, Tensor):
            other = _const(other, self)
        return _ops.Matmul.apply(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.Matmul.apply(_const(other, self), self)

    def __neg__(self) -> Tensor:
        return _ops.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.Abs.apply(self)

    def __floordiv__(self, other: Any) -> Tensor:
        return _binary_nograd("floor_divide", self, other, _operator.floordiv)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return _binary_nograd("floor_divide", self, other, _rfloordiv)

    def __mod__(self, other: Any) -> Tensor:
        return _binary_nograd("remainder", self, other, _operator.mod)

    # comparisons and logic: no gradient, bool results
    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        if other is None:
            return False
        return _binary_nograd("eq", self, other, _operator.eq)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        if other is None:
            return True
        return _binary_nograd("ne", self, other, _operator.ne)

    def __lt__(self, other: Any) -> Tensor:
        return _binary_nograd("lt", self, other, _operator.lt)

    def __le__(self, other: Any) -> Tensor:
        return _binary_nograd("le", self, other, _operator.le)

    def __gt__(self, other: Any) -> Tensor:
        return _binary_nograd("gt", self, other, _operator.gt)

    def __ge__(self, other: Any) -> Tensor:
        return _binary_nograd("ge", self, other, _operator.ge)

    def __invert__(self) -> Tensor:
        d = self._data
        return _wrap(~d if d.dtype.kind in "biu" else np.logical_not(d))

    def __and__(self, other: Any) -> Tensor:
        return _binary_nograd("bitwise_and", self, other, _operator.and_)

    __rand__ = __and__

    def __or__(self, other: Any) -> Tensor:
        return _binary_nograd("bitwise_or", self, other, _operator.or_)

    __ror__ = __or__

    def __xor__(self, other: Any) -> Tensor:
        return _binary_nograd("bitwise_xor", self, other, _operator.xor)

    __rxor__ = __xor__

    eq = __eq__
    ne = __ne__
    lt = __lt__
    le = __le__
    gt = __gt__
    ge = __ge__
    greater = __gt__
    less = __lt__

    def logical_not(self) -> Tensor:
        return _wrap(np.logical_not(self._data))

    def logical_and(self, other: Any) -> Tensor:
        return _binary_nograd("logical_and", self, other, np.logical_and)

    def logical_or(self, other: Any) -> Tensor:
        return _binary_nograd("logical_or", self, other, np.logical_or)

    def isnan(self) -> Tensor:
        return _wrap(_xp(self._data).isnan(self._data))

    def isinf(self) -> Tensor:
        return _wrap(_xp(self._data).isinf(self._data))

    def isfinite(self) -> Tensor:
        return _wrap(_xp(self._data).isfinite(self._data))

    def equal(self, other: Tensor) -> bool:
        o = _raw(other)
        return self._data.shape == np.shape(o) and bool((self._data == o).all())

    def allclose(
        self, other: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False
    ) -> bool:
        return bool(_xp(self._data).allclose(self._data, _raw(other), rtol, atol, equal_nan))

    # in-place arithmetic (x += y): like PyTorch, these modify the tensor
    def __iadd__(self, other: Any) -> Tensor:
        return self.add_(other)

    def __isub__(self, other: Any) -> Tensor:
        return self.sub_(other)

    def __imul__(self, other: Any) -> Tensor:
        return self.mul_(other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self.div_(other)

    # ------------------------------------------------------------------ NumPy interop
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """NumPy ufuncs on Tensors: differentiable ones map to axonal ops, others run on the
        arrays (``np.exp(t)`` is a Tensor with autograd; ``np.ndarray + Tensor`` is a Tensor)."""
        if method == "__call__" and not kwargs:
            op = _UFUNC_OPS.get(ufunc.__name__)
            if op is not None:
                args = [x if isinstance(x, Tensor) else _const(x, None) for x in inputs]
                if len(args) == 1 or any(a.requires_grad for a in args):
                    return op(*args)
        raw = [x._data if isinstance(x, Tensor) else x for x in inputs]
        if "out" in kwargs:
            outs = kwargs["out"] if isinstance(kwargs["out"], tuple) else (kwargs["out"],)
            for x in outs:  # written in place: a new version
                if isinstance(x, Tensor):
                    x._vc[0] += 1
            kwargs["out"] = tuple(x._data if isinstance(x, Tensor) else x for x in outs)
        res = getattr(ufunc, method)(*raw, **kwargs)
        if isinstance(res, tuple):
            return tuple(_wrap(r) for r in res)
        return _wrap(res) if res is not None else None

    # ------------------------------------------------------------------ in-place ops
    def _check_inplace(self, *others: Any) -> bool:
        """True when the in-place op must be recorded by autograd."""
        if not _gm.enabled:
            return False
        rg = self.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in others)
        if rg and self.requires_grad and self.grad_fn is None:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation "
                f"(shape {self.shape}); wrap it in axonal.no_grad() or use an out-of-place op"
            )
        return rg

    def _commit(self, res: Tensor) -> Tensor:
        """Write an out-of-place result into this tensor's storage and take over its graph."""
        d = self._data
        r = res._data
        if r.shape != d.shape:
            raise RuntimeError(
                f"in-place op: result of shape {r.shape} doesn't match the tensor's {d.shape}"
            )
        d[...] = r
        self._vc[0] += 1
        self.grad_fn = res.grad_fn
        self.requires_grad = res.requires_grad
        return self

    def add_(self, other: Any, alpha: Any = 1) -> Tensor:
        if self._check_inplace(other):
            o = other if alpha == 1 else other * alpha
            return self._commit(self + o)
        d = self._data
        o = _raw(other)
        try:
            if alpha == 1:
                np.add(d, o, out=d) if type(d) is _ndarray else d.__iadd__(o)
            else:
                d += alpha * o
        except ValueError:
            raise _ops.broadcast_error("add_", d, o) from None
        self._vc[0] += 1
        return self

    def sub_(self, other: Any, alpha: Any = 1) -> Tensor:
        if self._check_inplace(other):
            o = other if alpha == 1 else other * alpha
            return self._commit(self - o)
        d = self._data
        o = _raw(other)
        try:
            if alpha == 1:
                d -= o
            else:
                d -= alpha * o
        except ValueError:
            raise _ops.broadcast_error("sub_", d, o) from None
        self._vc[0] += 1
        return self

    def mul_(self, other: Any) -> Tensor:
        if self._check_inplace(other):
            return self._commit(self.clone() * other)
        d = self._data
        o = _raw(other)
        try:
            d *= o
        except ValueError:
            raise _ops.broadcast_error("mul_", d, o) from None
        self._vc[0] += 1
        return self

    def div_(self, other: Any) -> Tensor:
        if self._check_inplace(other):
            return self._commit(self.clone() / other)
        d = self._data
        o = _raw(other)
        try:
            d /= o
        except ValueError:
            raise _ops.broadcast_error("div_", d, o) from None
        self._vc[0] += 1
        return self

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        if self._check_inplace(min, max):
            return self._commit(self.clone().clamp(min, max))
        d = self._data
        lo, hi = _raw(min), _raw(max)
        if lo is not None:
            np.maximum(d, lo, out=d)
        if hi is not None:
            np.minimum(d, hi, out=d)
        self._vc[0] += 1
        return self

    clip_ = clamp_

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def fill_(self, value: Any) -> Tensor:
        if self._check_inplace(value):
            return self._commit(_ops.Filled.apply(self, value))
        self._data.fill(_raw(value) if not isinstance(value, Tensor) else value.item())
        self._vc[0] += 1
        return self

    def copy_(self, src: Any, non_blocking: bool = False) -> Tensor:
        if self._check_inplace(src):
            return self._commit(_ops.CopyFrom.apply(self, src))
        d = self._data
        s = src._data if isinstance(src, Tensor) else src
        if type(s) is not type(d):
            s = _ops.to_device_array(s, self.device)
        try:
            d[...] = s
        except ValueError:
            raise _ops.broadcast_error("copy_", d, s) from None
        self._vc[0] += 1
        return self

    def masked_fill_(self, mask: Any, value: Any) -> Tensor:
        m = _ops.bool_mask(self, mask, "masked_fill_")
        if self._check_inplace(value):
            return self._commit(self.masked_fill(m, value))
        self._data[m] = _raw(value)
        self._vc[0] += 1
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
        with _gm.no_grad():
            self.copy_(_ops.rand(self.shape, dtype=self.dtype, generator=generator) * (b - a) + a)
        return self

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
        with _gm.no_grad():
            self.copy_(_ops.randn(self.shape, dtype=self.dtype, generator=generator) * std + mean)
        return self

    def __setitem__(self, idx: Any, value: Any) -> None:
        idx = _ops.index_arg(idx)
        if self._check_inplace(value):
            self._commit(_ops.IndexPut.apply(self, value, idx))
            return
        v = value._data if isinstance(value, Tensor) else value
        self._data[idx] = v
        self._vc[0] += 1

    def __getitem__(self, idx: Any) -> Tensor:
        return _ops.getitem(self, idx)

    # ------------------------------------------------------------------ op methods
    # (defined in axonal.ops; attached below)


def _rebuild(arr: Any, requires_grad: bool) -> Tensor:
    t = Tensor(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _raw(x: Any) -> Any:
    """The array behind a Tensor; a scalar/array argument as is."""
    if isinstance(x, Tensor):
        return x._data
    s = _scalar(x)
    return s if s is not None else x


def _const(x: Any, like: Optional[Tensor]) -> Tensor:
    """A non-Tensor operand (array, list, NumPy scalar) as a Tensor that needs no grad."""
    if isinstance(x, Tensor):
        return x
    if like is not None and type(like._data) is not _ndarray:
        return _new(_xp(like._data).asarray(x))
    if type(x) is _ndarray:
        return _new(x)
    arr = np.asarray(x)
    if arr.dtype == np.float64 and like is not None and like._data.dtype.kind == "f":
        if not isinstance(x, (np.ndarray, np.generic)):
            arr = arr.astype(like._data.dtype)
    return _new(arr)


def _wrap(r: Any) -> Tensor:
    """A result array as a Tensor: a NumPy scalar (what NumPy gives for 0-d results) becomes a
    0-d array; NumPy and device arrays are wrapped as they are."""
    if type(r) is _ndarray:
        return _new(r)
    if isinstance(r, (np.generic, bool, int, float)):
        return _new(np.asarray(r))
    return _new(r)


def _rfloordiv(a: Any, b: Any) -> Any:
    return b // a


def _binary_nograd(op: str, t: Tensor, other: Any, fn: Any) -> Tensor:
    """A binary op without gradient (comparisons, logic, integer division) on the arrays."""
    b = _raw(other)
    try:
        return _wrap(fn(t._data, b))
    except TypeError:
        if not isinstance(other, Tensor):
            raise
        check_same_device(op, t, other)
        if type(b) is _ndarray and b.ndim == 0:  # a 0-d CPU tensor mixes like a number
            return _wrap(fn(t._data, b[()]))
        raise


def _device_of(a: Any) -> device:
    if type(a) is _ndarray:
        return _CPU
    dev = getattr(a, "device", None)
    return device("cuda", getattr(dev, "id", 0))


def check_same_device(op: str, *args: Any) -> None:
    """Raise RuntimeError (PyTorch's message, naming ``op``) when the Tensor / array arguments
    live on different devices. 0-d CPU tensors and Python numbers mix with any device."""
    seen = None
    for a in args:
        d = a._data if isinstance(a, Tensor) else a
        if not hasattr(d, "shape") or not hasattr(d, "dtype"):
            continue
        if type(d) is _ndarray and d.ndim == 0:
            continue
        dev = _device_of(d)
        if seen is None:
            seen = dev
        elif dev != seen:
            raise RuntimeError(
                f"{op}: Expected all tensors to be on the same device, but found at least two "
                f"devices, {seen} and {dev}! (move them with .to(device), .cuda() or .cpu())"
            )


def _to_array(data: Any, dtype: Any, dev: Any) -> Any:
    return _ops.to_array(data, dtype, dev)


def _norm_dim(dim: int, ndim: int, op: str) -> int:
    n = ndim if ndim > 0 else 1
    if not -n <= dim < n:
        raise IndexError(
            f"{op}: dimension out of range (expected to be in range of [{-n}, {n - 1}], "
            f"but got {dim})"
        )
    return dim + n if dim < 0 else dim


# ---------------------------------------------------------------------- printing
def _fmt_floats(arr: np.ndarray) -> Any:
    finite = arr[np.isfinite(arr)] if arr.size else arr
    if finite.size == 0:
        return lambda v: f"{v}"
    amax = float(np.abs(finite).max())
    nz = np.abs(finite[finite != 0])
    amin = float(nz.min()) if nz.size else 0.0
    ints = bool(np.all(finite == np.round(finite)))
    if ints and amax < 1e8:
        body = [f"{v:.0f}." for v in finite.ravel()[:2000]]
        width = max(len(s) for s in body)

        def f(v: float) -> str:
            s = f"{v:.0f}." if np.isfinite(v) else str(v).replace("inf", "inf")
            return s.rjust(width)

        return f
    sci = amax >= 1e8 or (amin > 0 and (amin < 1e-4 or amax / amin > 1000.0 and amax > 1e3))
    fmt = "{:.4e}" if sci else "{:.4f}"
    width = max(len(fmt.format(v)) for v in finite.ravel()[:2000])

    def g(v: float) -> str:
        return (fmt.format(v) if np.isfinite(v) else str(v)).rjust(width)

    return g


def _format(t: Tensor) -> str:
    arr = t.numpy() if type(t._data) is _ndarray else t._data.get()
    kind = arr.dtype.kind
    formatter = None
    if kind == "f":
        f = _fmt_floats(arr.astype(np.float64))
        formatter = {"float_kind": f}
    elif kind == "b":
        w = 5 if (~arr).any() else 4
        formatter = {"bool": lambda v: ("True" if v else "False").rjust(w)}
    prefix = "tensor("
    if arr.size == 0:
        body = "[]"
    else:
        body = np.array2string(
            arr,
            separator=", ",
            prefix=prefix,
            formatter=formatter,
            threshold=1000,
            edgeitems=3,
            max_line_width=80,
        )
    extras = []
    if arr.size == 0 and arr.ndim != 1:
        extras.append(f"size={tuple(arr.shape)}")
    if t.device != "cpu":
        extras.append(f"device='{t.device}'")
    if arr.dtype not in (_dt.get_default_dtype(), _dt.int64, _dt.bool_):
        extras.append(f"dtype=axonal.{arr.dtype.name}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{type(t.grad_fn).__name__}Backward>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return prefix + body + "".join(", " + e for e in extras) + ")"


# ---------------------------------------------------------------------- wiring
from . import ops as _ops  # noqa: E402
from .autograd import engine as _engine  # noqa: E402
from .autograd import function as _fn_mod  # noqa: E402
from .autograd import grad_mode as _gm  # noqa: E402

_ops._attach_methods(Tensor)
_UFUNC_OPS = _ops.UFUNC_OPS
