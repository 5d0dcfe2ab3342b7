"""A NumPy-backed stand-in for CuPy, used only by ``tests/cuda/emulated/fake_gpu.py`` to run the
GPU tests on a machine without a GPU (see there). Never on the path otherwise."""

from types import SimpleNamespace as _NS

import numpy as _np

__version__ = "0.0-numpy-stand-in"


class _Mem:
    def __init__(self, arr):
        self.ptr = arr.__array_interface__["data"][0]

    def copy_from_device_async(self, src, nbytes):
        import ctypes

        ctypes.memmove(self.ptr, src.ptr, nbytes)

    def copy_from_host_async(self, src_ptr, nbytes, stream=None):
        import ctypes

        ctypes.memmove(self.ptr, int(src_ptr), nbytes)
        launches[0] += 1  # a copy on the stream (not a kernel, but a call into the driver)


class _Pinned(bytearray):
    """Page-locked host memory: a bytearray with CuPy's ``.ptr``."""

    @property
    def ptr(self):
        import ctypes

        return ctypes.addressof((ctypes.c_char * len(self)).from_buffer(self))


pinned_allocations = [0]


def _alloc_pinned(nbytes):
    pinned_allocations[0] += 1
    return _Pinned(int(nbytes))


launches = [0]  # array operations so far: what would each be a kernel launch on a GPU
# allocations and views: no kernel on a GPU
_NO_LAUNCH = set(
    "empty empty_like moveaxis reshape transpose swapaxes broadcast_to squeeze expand_dims ravel "
    "atleast_1d atleast_2d shape ndim size result_type can_cast".split()
)


class ndarray(_np.ndarray):  # noqa: N801 - the CuPy name
    """numpy.ndarray with CuPy's ``.data.ptr`` and ``.device.id``; every ufunc call (arithmetic,
    comparisons, reductions) counts one launch in ``launches``."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        launches[0] += 1
        inputs = tuple(x.view(_np.ndarray) if isinstance(x, ndarray) else x for x in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(
                x.view(_np.ndarray) if isinstance(x, ndarray) else x for x in kwargs["out"]
            )
        return _w(getattr(ufunc, method)(*inputs, **kwargs))

    def __array_function__(self, func, types, args, kwargs):
        # numpy.where(a, ...) etc. on CuPy arrays dispatch to CuPy and return device arrays
        if func.__name__ not in _NO_LAUNCH:
            launches[0] += 1
        r = super().__array_function__(func, types, args, kwargs)
        return type(r)(_w(x) for x in r) if isinstance(r, (tuple, list)) else _w(r)

    @property
    def data(self):
        return _Mem(self)

    @property
    def device(self):
        return _NS(id=0)


def _w(x):
    """NumPy results as stand-in device arrays; NumPy scalars as 0-d ones (CuPy's reductions
    return 0-d device arrays)."""
    if isinstance(x, _np.generic):
        x = _np.asarray(x)
    return x.view(ndarray) if isinstance(x, _np.ndarray) else x


def _method(name):
    def run(self, *a, **k):
        launches[0] += 1
        return _w(getattr(self.view(_np.ndarray), name)(*a, **k))

    return run


for _name in "sum mean max min argmax argmin var std prod any all dot".split():
    setattr(ndarray, _name, _method(_name))


float32, float64, int64, int32, int16 = _np.float32, _np.float64, _np.int64, _np.int32, _np.int16
uint8, uint16 = _np.uint8, _np.uint16
nan = _np.nan


def empty(shape, dtype=float):
    a = _np.empty(shape, dtype)
    a.fill(_np.nan if a.dtype.kind == "f" else 99)  # poisoned, as fresh device memory may be
    return _w(a)


def asarray(x, dtype=None):
    if not isinstance(x, ndarray):
        launches[0] += 1  # a host -> device copy
    return _w(_np.array(x, dtype=dtype))  # a copy, as a host -> device transfer


def asnumpy(x):
    return _np.array(x).view(_np.ndarray)


def _wrap(f):
    def run(*a, **k):
        launches[0] += 1
        return _w(f(*a, **k))

    return run


for _name in (
    "asfortranarray ones zeros full full_like ones_like zeros_like arange matmul abs any isnan"
).split():
    globals()[_name] = _wrap(getattr(_np, _name))
moveaxis = lambda *a, **k: _w(_np.moveaxis(*a, **k))  # noqa: E731 - a view, no launch
broadcast_to = lambda *a, **k: _w(_np.broadcast_to(*a, **k))  # noqa: E731 - a view


def ascontiguousarray(a, dtype=None):
    if not (isinstance(a, _np.ndarray) and a.flags.c_contiguous and dtype in (None, a.dtype)):
        launches[0] += 1  # a copy kernel; CuPy returns contiguous arrays as they are
    return _w(_np.ascontiguousarray(a, dtype=dtype))


empty_like = lambda *a, **k: _w(_np.empty_like(*a, **k))  # noqa: E731 - allocates, no launch


class _Pool:
    def malloc(self, n):
        return None

    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_all_blocks(self):
        pass


_pool = _Pool()
_allocator = [_pool.malloc]


def get_default_memory_pool():
    return _pool


class _Event:
    def __init__(self, block=False, disable_timing=False, interprocess=False):
        pass

    def record(self, stream=None):
        import time

        self.t = time.perf_counter()

    def synchronize(self):
        pass

    done = True  # the stand-in's copies complete when issued


class _Generator:
    def __init__(self, seed=None):
        self._g = _np.random.default_rng(seed)

    def standard_normal(self, size, dtype=_np.float64):
        return _w(self._g.standard_normal(size).astype(dtype))


class _Device:
    """The one emulated device: a context manager that changes nothing."""

    def __init__(self, device=0):
        self.id = int(device)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def synchronize(self):
        pass


random = _NS(default_rng=_Generator, seed=lambda s: None)
cuda = _NS(
    Device=_Device,
    get_current_stream=lambda: _NS(ptr=0),
    runtime=_NS(getDevice=lambda: 0, memGetInfo=lambda: (1, 2)),
    set_allocator=lambda f: _allocator.__setitem__(0, f),
    get_allocator=lambda: _allocator[0],
    Event=_Event,
    alloc_pinned_memory=_alloc_pinned,
    get_elapsed_time=lambda a, b: (b.t - a.t) * 1e3,
)


def __getattr__(name):
    """Anything else CuPy has: NumPy's function of that name, its results wrapped."""
    f = getattr(_np, name)
    return _wrap(f) if callable(f) and not isinstance(f, type) else f
