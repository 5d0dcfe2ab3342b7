"""Tensor creation: tensor, as_tensor, from_numpy, zeros, ones, full, empty, eye, arange,
linspace, rand, randn, randint, randperm, normal, bernoulli, *_like, from_dlpack."""

from __future__ import annotations

import operator
from typing import Any, Optional

import numpy as np

from .. import dtypes as _dt
from .. import random as _random
from ..tensor import Tensor, _new, device
from ._util import as_shape

_ndarray = np.ndarray


# ------------------------------------------------------------------------- devices
def cupy_module() -> Any:
    from .. import cuda

    if not cuda.is_available():
        why = (
            "no CUDA device is visible"
            if cuda.is_built()
            else "this axonal build has no CUDA extension (install a CUDA build)"
        )
        raise RuntimeError(f"CUDA is not available: {why}; use device='cpu'")
    try:
        import cupy
    except ImportError:
        raise RuntimeError(
            "CUDA tensors need CuPy: pip install cupy-cuda13x (cupy-cuda12x for CUDA 12)"
        ) from None
    return cupy


def xp_for(dev: Any) -> Any:
    if dev is None:
        return np
    d = device(dev)
    if d == "cpu":
        return np
    return cupy_module()


def to_device_array(arr: Any, dev: Any) -> Any:
    d = device(dev)
    if d == "cpu":
        if type(arr) is _ndarray:
            return arr
        get = getattr(arr, "get", None)
        return get() if get is not None else np.asarray(arr)
    cp = cupy_module()
    idx = d.index or 0
    with cp.cuda.Device(idx):
        if (
            type(arr) is _ndarray
            and arr.dtype.kind in "biuf"
            and arr.dtype.isnative
            and hasattr(cp.cuda, "alloc_pinned_memory")  # (a test stand-in may lack it)
        ):
            from ..backend._staging import upload  # pinned buffers, asynchronous copies

            return upload(cp, arr)
        return cp.asarray(arr)


def _default_dtype_for(arr: np.ndarray, data: Any) -> np.ndarray:
    """Python floats become the default float dtype (float32), Python ints int64."""
    if isinstance(data, (np.ndarray, np.generic)):
        return arr
    k = arr.dtype.kind
    if k == "f" and arr.dtype != _dt.get_default_dtype():
        return arr.astype(_dt.get_default_dtype())
    if k in "iu" and arr.dtype != _dt.int64:
        return arr.astype(_dt.int64)
    return arr


def to_array(data: Any, dtype: Any = None, dev: Any = None, copy: bool = True) -> Any:
    """Any array-like (nested lists, scalars, arrays, Tensors, DLPack objects) as an array."""
    if isinstance(data, Tensor):
        arr = data._data
        if copy:
            arr = arr.copy()
    elif isinstance(data, (list, tuple)) and data and _has_tensor(data):
        arr = np.asarray(_nested_tensors_to_lists(data))
        arr = _default_dtype_for(arr, data)
    elif type(data) is _ndarray:
        arr = data.copy() if copy else data
    elif isinstance(data, np.generic):
        arr = np.asarray(data)
    elif hasattr(data, "__cuda_array_interface__") or (
        type(data).__module__.startswith("cupy") and hasattr(data, "get")
    ):
        arr = data.copy() if copy else data
    elif type(data).__module__.startswith("torch"):
        t = data.detach().cpu() if hasattr(data, "detach") else data
        arr = np.from_dlpack(t) if not copy else t.numpy().copy()
    else:
        try:
            arr = np.asarray(data)
        except ValueError as e:
            raise ValueError(f"tensor: cannot build a tensor from this data ({e})") from None
        if arr.dtype == object:
            raise TypeError(f"tensor: cannot build a tensor from {type(data).__name__} data")
        arr = _default_dtype_for(arr, data)
    if dtype is not None:
        dt = _dt.as_dtype(dtype)
        if arr.dtype != dt:
            arr = arr.astype(dt)
    _check_kind(arr, "tensor")
    if dev is not None:
        arr = to_device_array(arr, dev)
    elif type(arr) is not _ndarray and isinstance(arr, np.generic):
        arr = np.asarray(arr)
    return arr


def _has_tensor(seq: Any) -> bool:
    for x in seq:
        if isinstance(x, Tensor):
            return True
        if isinstance(x, (list, tuple)) and x and _has_tensor(x):
            return True
    return False


def _nested_tensors_to_lists(seq: Any) -> Any:
    if isinstance(seq, Tensor):
        return seq.numpy() if type(seq._data) is _ndarray else seq._data.get()
    if isinstance(seq, (list, tuple)):
        return [_nested_tensors_to_lists(x) for x in seq]
    return seq


def _finish(arr: Any, requires_grad: bool) -> Tensor:
    t = _new(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


# ------------------------------------------------------------------------- creators
def _steps(steps: Any, op: str) -> int:
    steps = operator.index(steps)
    if steps < 0:
        raise RuntimeError(f"{op}: number of steps must be non-negative, got {steps}")
    return steps


def _check_kind(arr: Any, op: str) -> Any:
    # strings, bytes, objects, records and datetimes are not numbers: every op on them fails later
    # with an unrelated message (or computes nonsense), so refuse them at creation, as PyTorch does
    if arr.dtype.kind not in "biufc":
        raise TypeError(
            f"{op}: cannot build a tensor of dtype {arr.dtype} (axonal tensors hold bool, "
            "integer, floating-point or complex numbers)"
        )
    return arr


def tensor(
    data: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> Tensor:
    """A new tensor holding a copy of ``data``. Python floats give float32, ints int64."""
    return _finish(to_array(data, dtype, device, copy=True), requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Like :func:`tensor` but shares memory with a NumPy array / Tensor when it can."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    return _new(to_array(data, dtype, device, copy=False))


def from_numpy(arr: np.ndarray) -> Tensor:
    """A tensor sharing memory with the NumPy array ``arr``."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(arr).__name__}")
    return _new(_check_kind(arr, "from_numpy"))


def from_dlpack(obj: Any) -> Tensor:
    """Zero-copy import of any DLPack producer (NumPy, CuPy, PyTorch, JAX ...)."""
    if isinstance(obj, Tensor):
        return obj
    if type(obj).__module__.startswith("torch") and getattr(obj, "requires_grad", False):
        obj = obj.detach()
    dev_type = obj.__dlpack_device__()[0] if hasattr(obj, "__dlpack_device__") else 1
    if int(dev_type) in (1, 3):  # kDLCPU, kDLCUDAHost
        arr = np.from_dlpack(obj)
    elif int(dev_type) in (2, 13):  # kDLCUDA, kDLCUDAManaged
        arr = cupy_module().from_dlpack(obj)
    else:
        raise RuntimeError(f"from_dlpack: unsupported DLPack device type {dev_type}")
    return _new(arr)


def _size_dtype(size: Any, dtype: Any, op: str) -> tuple:
    shape = as_shape(size, op)
    if any(s < 0 for s in shape):
        raise RuntimeError(f"{op}: negative dimension in size {shape}")
    dt = _dt.get_default_dtype() if dtype is None else _dt.as_dtype(dtype)
    return shape, dt


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dt = _size_dtype(size, dtype, "zeros")
    return _finish(xp_for(device).zeros(shape, dt), requires_grad)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dt = _size_dtype(size, dtype, "ones")
    return _finish(xp_for(device).ones(shape, dt), requires_grad)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dt = _size_dtype(size, dtype, "empty")
    return _finish(xp_for(device).empty(shape, dt), requires_grad)


def full(
    size: Any, fill_value: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:
        if isinstance(fill_value, bool):
            dtype = _dt.bool_
        elif isinstance(fill_value, (int, np.integer)):
            dtype = _dt.int64
    shape, dt = _size_dtype((size,) if isinstance(size, int) else size, dtype, "full")
    return _finish(xp_for(device).full(shape, fill_value, dt), requires_grad)


def eye(
    n: int,
    m: Optional[int] = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    dt = _dt.get_default_dtype() if dtype is None else _dt.as_dtype(dtype)
    n, m = operator.index(n), None if m is None else operator.index(m)
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"eye: n and m must be non-negative, got n={n}, m={m}")
    return _finish(xp_for(device).eye(n, m, dtype=dt), requires_grad)


def arange(
    start: Any,
    end: Any = None,
    step: Any = 1,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``arange(end)`` or ``arange(start, end, step)``: int64 for int arguments, else float32."""
    if end is None:
        start, end = 0, start
    vals = [start, end, step]
    vals = [v.item() if isinstance(v, (Tensor, np.generic)) else v for v in vals]
    start, end, step = vals
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        is_int = all(isinstance(v, (int, np.integer)) for v in vals)
        dt = _dt.int64 if is_int else _dt.get_default_dtype()
    else:
        dt = _dt.as_dtype(dtype)
    if dt.kind == "f":
        n = max(int(np.ceil((end - start) / step)), 0)
        arr = (start + np.arange(n, dtype=np.float64) * step).astype(dt)
    else:
        arr = np.arange(start, end, step).astype(dt)
    if device is not None:
        arr = to_device_array(arr, device)
    return _finish(arr, requires_grad)


def linspace(
    start: float,
    end: float,
    steps: int,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    dt = _dt.get_default_dtype() if dtype is None else _dt.as_dtype(dtype)
    arr = np.linspace(float(start), float(end), _steps(steps, "linspace"), dtype=np.float64)
    arr = arr.astype(dt)
    if device is not None:
        arr = to_device_array(arr, device)
    return _finish(arr, requires_grad)


def logspace(
    start: float,
    end: float,
    steps: int,
    base: float = 10.0,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    dt = _dt.get_default_dtype() if dtype is None else _dt.as_dtype(dtype)
    arr = np.logspace(float(start), float(end), _steps(steps, "logspace"), base=base).astype(dt)
    if device is not None:
        arr = to_device_array(arr, device)
    return _finish(arr, requires_grad)


# ------------------------------------------------------------------------- random
def _float_dt(dtype: Any, op: str) -> np.dtype:
    dt = _dt.get_default_dtype() if dtype is None else _dt.as_dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"{op}: needs a floating-point dtype, got {dt}")
    return dt


def _rand_array(shape: tuple, dt: np.dtype, gen: np.random.Generator, normal: bool) -> np.ndarray:
    if dt in (_dt.float32, _dt.float64):
        if normal:
            return gen.standard_normal(shape, dtype=dt)
        return gen.random(shape, dtype=dt)
    draw = (
        gen.standard_normal(shape, dtype=np.float32)
        if normal
        else gen.random(shape, dtype=np.float32)
    )
    return draw.astype(dt)


def rand(
    *size: Any,
    generator: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Uniform samples in [0, 1) from the library generator (``axonal.manual_seed``)."""
    shape = as_shape(size, "rand")
    arr = _rand_array(shape, _float_dt(dtype, "rand"), _random._np_gen(generator), False)
    if device is not None:
        arr = to_device_array(arr, device)
    return _finish(arr, requires_grad)


def randn(
    *size: Any,
    generator: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Standard normal samples from the library generator (``axonal.manual_seed``)."""
    shape = as_shape(size, "randn")
    arr = _rand_array(shape, _float_dt(dtype, "randn"), _random._np_gen(generator), True)
    if device is not None:
        arr = to_device_array(arr, device)
    return _finish(arr, requires_grad)


def randint(
    *args: Any,
    size: Any = None,
    generator: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``randint(high, size)`` or ``randint(low, high, size)``: integers in [low, high)."""
    args = list(args)
    if size is None:
        if not args:
            raise TypeError("randint: missing the size argument")
        size = args.pop()
    if len(args) == 1:
        low, high = 0, args[0]
    elif len(args) == 2:
        low, high = args
    else:
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size)")
    if high <= low:
        raise RuntimeError(f"randint: expected low < high, got low={low}, high={high}")
    shape = as_shape((size,), "randint")
    dt = _dt.int64 if dtype is None else _dt.as_dtype(dtype)
    arr = _random._np_gen(generator).integers(int(low), int(high), shape, dtype=np.int64)
    arr = arr.astype(dt, copy=False)
    if device is not None:
        arr = to_device_array(arr, device)
    return _finish(arr, requires_grad)


def randperm(
    n: int,
    generator: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """A random permutation of ``0 .. n-1`` (int64)."""
    n = operator.index(n)
    if n < 0:  # NumPy's permutation(-1) is an empty array
        raise RuntimeError(f"randperm: n must be non-negative, got {n}")
    arr = _random._np_gen(generator).permutation(n)
    arr = arr.astype(_dt.int64 if dtype is None else _dt.as_dtype(dtype), copy=False)
    if device is not None:
        arr = to_device_array(arr, device)
    return _finish(arr, requires_grad)


def normal(
    mean: Any = 0.0,
    std: Any = 1.0,
    size: Any = None,
    generator: Any = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Normal samples: ``normal(mean, std, size)`` with numbers, or Tensor ``mean``/``std``
    (broadcast together)."""
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    if size is None:
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
    else:
        shape = as_shape((size,), "normal")
    like = m if isinstance(m, np.ndarray) else (s if isinstance(s, np.ndarray) else None)
    dt = _float_dt(
        dtype if dtype is not None else (like.dtype if like is not None else None), "normal"
    )
    z = _rand_array(shape, dt, _random._np_gen(generator), True)
    arr = (z * s + m).astype(dt, copy=False)
    if device is not None:
        arr = to_device_array(arr, device)
    return _finish(arr, requires_grad)


def bernoulli(input: Any, p: Any = None, generator: Any = None) -> Tensor:
    """0/1 samples: ``bernoulli(probs)`` (a Tensor of probabilities), same dtype as ``probs``."""
    probs = input._data if isinstance(input, Tensor) else np.asarray(input)
    if p is not None:
        probs = np.full(probs.shape, p, dtype=probs.dtype)
    host = probs if type(probs) is _ndarray else probs.get()
    u = _random._np_gen(generator).random(host.shape, dtype=np.float64)
    out = (u < host).astype(host.dtype if host.dtype.kind == "f" else _dt.get_default_dtype())
    if type(probs) is not _ndarray:
        out = to_device_array(out, "cuda")
    return _new(out)


def multinomial(
    input: Any, num_samples: int, replacement: bool = False, generator: Any = None
) -> Tensor:
    """Indices sampled from the rows of ``input`` (non-negative weights), like torch."""
    w = input._data if isinstance(input, Tensor) else np.asarray(input)
    host = np.asarray(w if type(w) is _ndarray else w.get(), dtype=np.float64)
    gen = _random._np_gen(generator)
    rows = host.reshape(-1, host.shape[-1]) if host.ndim > 1 else host[None]
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError("multinomial: cannot sample more than n without replacement")
    out = np.empty((rows.shape[0], num_samples), dtype=np.int64)
    for i, r in enumerate(rows):
        total = r.sum()
        if total <= 0 or (r < 0).any() or not np.isfinite(total):
            raise RuntimeError("multinomial: invalid probability distribution")
        out[i] = gen.choice(r.size, size=num_samples, replace=replacement, p=r / total)
    if host.ndim == 1:
        out = out[0]
    return _new(out)


# ------------------------------------------------------------------------- *_like
def _like(t: Any, dtype: Any, device: Any) -> tuple:
    arr = t._data if isinstance(t, Tensor) else np.asarray(t)
    dt = arr.dtype if dtype is None else _dt.as_dtype(dtype)
    dev = (
        device
        if device is not None
        else ("cpu" if type(arr) is _ndarray else t.device if isinstance(t, Tensor) else "cpu")
    )
    return tuple(arr.shape), dt, dev


def zeros_like(
    t: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    shape, dt, dev = _like(t, dtype, device)
    return zeros(shape, dtype=dt, device=dev, requires_grad=requires_grad)


def ones_like(t: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    shape, dt, dev = _like(t, dtype, device)
    return ones(shape, dtype=dt, device=dev, requires_grad=requires_grad)


def empty_like(
    t: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    shape, dt, dev = _like(t, dtype, device)
    return empty(shape, dtype=dt, device=dev, requires_grad=requires_grad)


def full_like(
    t: Any, fill_value: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    shape, dt, dev = _like(t, dtype, device)
    return full(shape, fill_value, dtype=dt, device=dev, requires_grad=requires_grad)


def rand_like(
    t: Any,
    dtype: Any = None,
    device: Any = None,
    generator: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    shape, dt, dev = _like(t, dtype, device)
    return rand(shape, dtype=dt, device=dev, generator=generator, requires_grad=requires_grad)


def randn_like(
    t: Any,
    dtype: Any = None,
    device: Any = None,
    generator: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    shape, dt, dev = _like(t, dtype, device)
    return randn(shape, dtype=dt, device=dev, generator=generator, requires_grad=requires_grad)


def randint_like(
    t: Any,
    low: int = 0,
    high: Optional[int] = None,
    dtype: Any = None,
    device: Any = None,
    generator: Any = None,
) -> Tensor:
    shape, dt, dev = _like(t, dtype, device)
    if high is None:
        low, high = 0, low
    return randint(low, high, shape, dtype=dt, device=dev, generator=generator)
