"""A NumPy-backed test double of CuPy, installed as ``cupy`` only by ``tests/device/conftest.py``.

What it keeps of CuPy, because axonal's device path depends on it:

- ``ndarray`` is its own class (not a ``numpy.ndarray`` subclass), so every CPU fast path
  ``type(a) is np.ndarray`` is skipped, as with real CuPy; ``type(a).__module__`` is "cupy".
- No implicit conversion to NumPy: ``np.asarray(x)`` / ``x.__array__()`` raise TypeError;
  ``x.get()`` and ``cupy.asnumpy(x)`` are the explicit routes. NumPy arrays as operands of
  ufuncs and array functions raise TypeError ("Unsupported type"), as CuPy does; Python and
  NumPy scalars are fine.
  NumPy arrays are accepted where CuPy accepts them: ``cupy.asarray`` / ``cupy.array`` (an upload)
  and index arrays (``x[np_idx]``).
- Reductions and scalar indexing give 0-d arrays, not NumPy scalars.
- ``cuda.Device`` / ``Stream`` / ``get_current_stream`` / ``runtime``, ``random``,
  ``cupyx.scatter_add``, ``cupyx.scipy.special.erf``, a memory pool (no byte counts).

Every device -> host transfer (``get``, ``item``, ``tolist``, ``float()``, ``bool()`` ...) adds one
to ``transfers``: tests use it to check that a training step does not synchronise with the device.
The arithmetic itself is NumPy's, on the wrapped array ``x._a``.
"""

from __future__ import annotations

import sys
import types
from typing import Any

import numpy as np

__version__ = "0.0-fake"
transfers = 0  # device -> host copies so far (each one synchronises on real hardware)


def _count() -> None:
    global transfers
    transfers += 1


def _w(a: Any) -> ndarray:
    o = object.__new__(ndarray)
    o._a = a
    return o


def _out(r: Any) -> Any:
    """Wrap results: arrays and NumPy scalars become (0-d) fake arrays."""
    if isinstance(r, np.ndarray):
        return _w(r)
    if isinstance(r, np.generic):
        return _w(np.asarray(r))
    if isinstance(r, tuple):
        return tuple(_out(x) for x in r)
    if isinstance(r, list):
        return [_out(x) for x in r]
    return r


def _unsupported(x: Any) -> TypeError:
    return TypeError(f"Unsupported type {type(x)}")


def _in(x: Any) -> Any:
    """Unwrap operands; NumPy arrays are refused as CuPy refuses them."""
    if type(x) is ndarray:
        return x._a
    if isinstance(x, np.ndarray):
        raise _unsupported(x)
    if isinstance(x, (list, tuple)):
        return type(x)(_in(v) for v in x)
    if hasattr(x, "_data") and hasattr(x, "grad_fn"):  # an axonal Tensor
        raise _unsupported(x)
    return x


def _index(i: Any) -> Any:
    """Unwrap an index: fake arrays, NumPy arrays and lists are allowed (CuPy uploads them)."""
    if type(i) is ndarray:
        return i._a
    if isinstance(i, tuple):
        return tuple(_index(v) for v in i)
    if hasattr(i, "_data") and hasattr(i, "grad_fn"):
        raise _unsupported(i)
    return i


class _Mem:
    __slots__ = ("ptr",)

    def __init__(self, a: np.ndarray) -> None:
        self.ptr = int(a.__array_interface__["data"][0])


class ndarray:  # noqa: N801 - the CuPy name
    """A "device" array: a NumPy array that refuses to be used as one implicitly."""

    __slots__ = ("_a",)
    __array_priority__ = 100.0

    def __init__(self, shape: Any, dtype: Any = float) -> None:
        self._a = np.empty(shape, dtype)

    # -- no implicit host conversion
    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to "
            "construct a NumPy array explicitly."
        )

    def get(self, stream: Any = None, order: str = "C", out: Any = None) -> np.ndarray:
        _count()
        return self._a.copy()

    def item(self) -> Any:
        _count()
        return self._a.item()

    def tolist(self) -> Any:
        _count()
        return self._a.tolist()

    def __float__(self) -> float:
        _count()
        return float(self._a)

    def __int__(self) -> int:
        _count()
        return int(self._a)

    def __index__(self) -> int:
        _count()
        return self._a.__index__()

    def __bool__(self) -> bool:
        _count()
        return bool(self._a)

    def __complex__(self) -> complex:
        _count()
        return complex(self._a)

    # -- CuPy-only attributes
    @property
    def device(self) -> Device:
        return Device(0)

    @property
    def data(self) -> _Mem:
        return _Mem(self._a)

    @property
    def base(self) -> Any:
        return None if self._a.base is None else _w(np.asarray(self._a.base))

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self) -> Any:
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (_w(np.asarray(r)) for r in self._a)

    def __repr__(self) -> str:
        return "fake_cupy." + repr(self._a)

    __str__ = __repr__
    __hash__ = None  # type: ignore[assignment]

    def __getitem__(self, idx: Any) -> Any:
        return _out(self._a[_index(idx)])

    def __setitem__(self, idx: Any, value: Any) -> None:
        self._a[_index(idx)] = _in(value)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # no __array_interface__ & co: NumPy must not see the memory
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if callable(attr):

            def method(*args: Any, **kwargs: Any) -> Any:
                kw = {k: _in(v) for k, v in kwargs.items()}
                return _out(attr(*_in(args), **kw))

            method.__name__ = name
            return method
        return _out(attr) if isinstance(attr, np.ndarray) else attr

    # -- NumPy protocol: ufuncs and array functions run on the wrapped arrays
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        for x in inputs:
            if type(x) is not ndarray and hasattr(x, "__array_ufunc__"):
                if not isinstance(x, (np.ndarray, np.generic)):
                    return NotImplemented  # e.g. an axonal Tensor: let it handle the op
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = tuple(_in(o) for o in out)
        res = getattr(ufunc, method)(*_in(inputs), **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _out(res)

    def __array_function__(self, func: Any, types_: Any, args: Any, kwargs: Any) -> Any:
        mine = getattr(sys.modules[__name__], func.__name__, None)
        if mine is not None and getattr(mine, "_special", False):
            return mine(*args, **kwargs)
        kw = {k: _in(v) for k, v in kwargs.items()}
        return _out(func(*_in(args), **kw))


def _binop(ufunc: Any, reflected: bool = False) -> Any:
    if reflected:
        return lambda self, other: ufunc(other, self)
    return lambda self, other: ufunc(self, other)


def _inplace(ufunc: Any) -> Any:
    def op(self: ndarray, other: Any) -> ndarray:
        ufunc(self, other, out=(self,))
        return self

    return op


for _n, _u in {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "truediv": np.true_divide,
    "floordiv": np.floor_divide,
    "mod": np.remainder,
    "pow": np.power,
    "matmul": np.matmul,
    "and": np.bitwise_and,
    "or": np.bitwise_or,
    "xor": np.bitwise_xor,
}.items():
    setattr(ndarray, f"__{_n}__", _binop(_u))
    setattr(ndarray, f"__r{_n}__", _binop(_u, True))
    setattr(ndarray, f"__i{_n}__", _inplace(_u))
for _n, _u in {
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
}.items():
    setattr(ndarray, f"__{_n}__", _binop(_u))
ndarray.__neg__ = lambda self: np.negative(self)  # type: ignore[attr-defined]
ndarray.__pos__ = lambda self: np.positive(self)  # type: ignore[attr-defined]
ndarray.__abs__ = lambda self: np.absolute(self)  # type: ignore[attr-defined]
ndarray.__invert__ = lambda self: np.invert(self)  # type: ignore[attr-defined]
ndarray.__module__ = "cupy"


# ------------------------------------------------------------------ module functions
def _special(f: Any) -> Any:
    f._special = True
    return f


@_special
def asarray(a: Any, dtype: Any = None, order: Any = None, **kw: Any) -> ndarray:
    """Upload (NumPy arrays, lists, scalars are copied to the "device")."""
    if type(a) is ndarray:
        return a if dtype is None or a._a.dtype == np.dtype(dtype) else _w(a._a.astype(dtype))
    if hasattr(a, "_data") and hasattr(a, "grad_fn"):
        raise _unsupported(a)
    return _w(np.array(a, dtype=dtype, order=order or "K"))


@_special
def array(a: Any, dtype: Any = None, copy: bool = True, order: Any = "K", **kw: Any) -> ndarray:
    if type(a) is ndarray:
        return _w(np.array(a._a, dtype=dtype, copy=copy, order=order))
    return asarray(a, dtype=dtype)


@_special
def ascontiguousarray(a: Any, dtype: Any = None) -> ndarray:
    return _w(np.ascontiguousarray(_in(a), dtype=dtype))


def asnumpy(a: Any, stream: Any = None, out: Any = None) -> np.ndarray:
    if type(a) is ndarray:
        return a.get()
    return np.asarray(a)


def get_array_module(*args: Any) -> Any:
    return sys.modules[__name__] if any(type(a) is ndarray for a in args) else np


def from_dlpack(obj: Any) -> ndarray:
    raise TypeError("fake_cupy: DLPack is not supported")


def __getattr__(name: str) -> Any:
    """Everything else: NumPy's function of that name, on unwrapped operands, wrapped results."""
    obj = getattr(np, name)
    if isinstance(obj, type) or not callable(obj):
        return obj

    def f(*args: Any, **kwargs: Any) -> Any:
        kw = {k: _in(v) for k, v in kwargs.items()}
        return _out(obj(*_in(args), **kw))

    f.__name__ = name
    return f


# ------------------------------------------------------------------ cupy.random
class _RandomState:
    def __init__(self, seed: Any = None) -> None:
        self.gen = np.random.default_rng(seed)

    def standard_normal(self, size: Any = None, dtype: Any = float) -> ndarray:
        return _w(np.asarray(self.gen.standard_normal(size, dtype=dtype)))

    def random_sample(self, size: Any = None, dtype: Any = float) -> ndarray:
        return _w(np.asarray(self.gen.random(size, dtype=dtype)))

    def normal(self, loc: float = 0.0, scale: float = 1.0, size: Any = None, dtype: Any = float):
        return _w(np.asarray(self.gen.normal(loc, scale, size).astype(dtype)))

    def uniform(self, low: float = 0.0, high: float = 1.0, size: Any = None, dtype: Any = float):
        return _w(np.asarray(self.gen.uniform(low, high, size).astype(dtype)))

    def randint(self, low: int, high: Any = None, size: Any = None, dtype: Any = int):
        return _w(np.asarray(self.gen.integers(low, high, size, dtype=dtype)))


random = types.ModuleType("cupy.random")
_state = [_RandomState(0)]
random.seed = lambda seed=None: _state.__setitem__(0, _RandomState(seed))
random.get_random_state = lambda: _state[0]
random.RandomState = _RandomState
random.standard_normal = lambda size=None, dtype=float: _state[0].standard_normal(size, dtype)
random.random = lambda size=None, dtype=float: _state[0].random_sample(size, dtype)
random.rand = lambda *size, dtype=float: _state[0].random_sample(size, dtype)
random.randn = lambda *size, dtype=float: _state[0].standard_normal(size, dtype)
random.normal = lambda loc=0.0, scale=1.0, size=None, dtype=float: _state[0].normal(
    loc, scale, size, dtype
)
random.uniform = lambda low=0.0, high=1.0, size=None, dtype=float: _state[0].uniform(
    low, high, size, dtype
)
random.randint = lambda low, high=None, size=None, dtype=int: _state[0].randint(
    low, high, size, dtype
)


# ------------------------------------------------------------------ cupy.cuda
class Device:
    """``with cupy.cuda.Device(0):`` (one device, id 0)."""

    def __init__(self, device: Any = None) -> None:
        self.id = 0 if device is None else int(device)
        if self.id != 0:
            raise RuntimeError(f"fake_cupy: invalid device ordinal {self.id} (one device)")
        self.compute_capability = "90"

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def use(self) -> None:
        pass

    def synchronize(self) -> None:
        pass

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self) -> int:
        return self.id


class Stream:
    _current: list = []

    def __init__(self, null: bool = False, non_blocking: bool = False) -> None:
        self.ptr = 0 if null else id(self)

    def __enter__(self) -> Stream:
        Stream._current.append(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        Stream._current.pop()

    def use(self) -> Stream:
        Stream._current[:] = [self]
        return self

    def synchronize(self) -> None:
        pass


Stream.null = Stream(null=True)


def _current_stream() -> Stream:
    return Stream._current[-1] if Stream._current else Stream.null


class _Pool:
    def malloc(self, size: int) -> Any:
        return None

    def used_bytes(self) -> int:
        return 0

    def total_bytes(self) -> int:
        return 0

    def free_all_blocks(self) -> None:
        pass


_pool = _Pool()
get_default_memory_pool = lambda: _pool  # noqa: E731

cuda = types.ModuleType("cupy.cuda")
cuda.Device = Device
cuda.Stream = Stream
cuda.get_current_stream = _current_stream
cuda.runtime = types.SimpleNamespace(
    getDevice=lambda: 0,
    getDeviceCount=lambda: 1,
    memGetInfo=lambda: (8 << 30, 16 << 30),
    deviceSynchronize=lambda: None,
)
cuda.get_allocator = lambda: _pool.malloc
cuda.set_allocator = lambda f=None: None
cuda.is_available = lambda: True


# ------------------------------------------------------------------ cupyx
def _scatter_add(a: ndarray, slices: Any, value: Any) -> None:
    np.add.at(a._a, _index(slices), _in(value))


def _erf(x: Any) -> Any:
    from scipy.special import erf

    return _out(erf(_in(x)))


cupyx = types.ModuleType("cupyx")
cupyx.scatter_add = _scatter_add
cupyx_scipy = types.ModuleType("cupyx.scipy")
cupyx_special = types.ModuleType("cupyx.scipy.special")
cupyx_special.erf = _erf
cupyx_scipy.special = cupyx_special
cupyx.scipy = cupyx_scipy

MODULES = {
    "cupy": sys.modules[__name__],
    "cupy.cuda": cuda,
    "cupy.random": random,
    "cupyx": cupyx,
    "cupyx.scipy": cupyx_scipy,
    "cupyx.scipy.special": cupyx_special,
}
