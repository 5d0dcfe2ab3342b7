"""``axonal.cuda``: is the CUDA backend built, is a GPU usable, and a few device utilities.

``is_built`` / ``is_available`` / ``device_count`` are safe to call anywhere (no GPU, no CuPy).
The utilities follow ``torch.cuda``: ``synchronize``, ``manual_seed`` / ``manual_seed_all``
(CuPy's random generator; silently ignored without a GPU, as in PyTorch), and the memory
figures of CuPy's default memory pool, which allocates every GPU array axonal creates:
``memory_allocated``, ``max_memory_allocated``, ``reset_peak_memory_stats``, ``memory_reserved``,
``empty_cache``, ``mem_get_info`` (free and total bytes of the device, from the driver).
Peak tracking puts a small Python allocator in front of CuPy's pool; it is installed by the first
``reset_peak_memory_stats`` / ``max_memory_allocated`` call only.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

try:  # the _cuda extension exists only in CUDA builds
    from . import _cuda  # type: ignore[attr-defined]
except ImportError:  # CPU-only build, or the CUDA runtime library is missing
    _cuda = None


def is_built() -> bool:
    """True when this package was compiled with the CUDA extension."""
    return _cuda is not None


def device_count() -> int:
    """Number of CUDA devices visible (0 without a build, a driver or a GPU)."""
    if _cuda is None:
        return 0
    try:
        return int(_cuda.device_count())
    except RuntimeError:
        return 0


def is_available() -> bool:
    """True when the CUDA extension is built and at least one GPU can be used."""
    return device_count() > 0


def _require(op: str) -> None:
    if not is_available():
        raise RuntimeError(f"axonal.cuda.{op}: no CUDA device is available")


def get_device_name(device: int = 0) -> str:
    _require("get_device_name")
    return str(_cuda.device_properties(device)["name"])


def get_device_properties(device: int = 0) -> dict:
    _require("get_device_properties")
    return dict(_cuda.device_properties(device))


def _cupy(op: str) -> Any:
    try:
        import cupy
    except ImportError:
        raise RuntimeError(
            f"axonal.cuda.{op}: CuPy is not installed (pip install cupy-cuda13x, or "
            "cupy-cuda12x for a CUDA 12 driver)"
        ) from None
    return cupy


def _device_id(device: Optional[int]) -> int:
    if device is None:
        import cupy

        return int(cupy.cuda.runtime.getDevice())
    if isinstance(device, bool) or not isinstance(device, int):
        index = getattr(device, "index", getattr(device, "id", None))
        if isinstance(index, int):
            return index
        if isinstance(device, str) and device.startswith("cuda"):
            return int(device.split(":")[1]) if ":" in device else 0
        raise TypeError(f"axonal.cuda: device must be an int or 'cuda:N', got {device!r}")
    if device < 0 or device >= device_count():
        raise ValueError(f"axonal.cuda: device {device} out of range ({device_count()} devices)")
    return device


def current_device() -> int:
    """Index of the current CUDA device."""
    _require("current_device")
    return _device_id(None)


def synchronize(device: Optional[int] = None) -> None:
    """Wait until every kernel queued on ``device`` (default: the current one) has finished."""
    _require("synchronize")
    try:
        import cupy
    except ImportError:
        _cuda.synchronize()
        return
    cupy.cuda.Device(_device_id(device)).synchronize()


def manual_seed(seed: int) -> None:
    """Seed CuPy's random generator on the current device (ignored without a GPU)."""
    if not is_available():
        return
    try:
        import cupy
    except ImportError:
        return
    cupy.random.seed(int(seed) % (2**63))


def manual_seed_all(seed: int) -> None:
    """Seed CuPy's random generator on every device (ignored without a GPU)."""
    if not is_available():
        return
    try:
        import cupy
    except ImportError:
        return
    for d in range(device_count()):
        with cupy.cuda.Device(d):
            cupy.random.seed(int(seed) % (2**63))


# ------------------------------------------------------------------ memory
class _PeakTracker:
    """An allocator in front of CuPy's default pool that records the peak of used bytes per
    device. Installed by the first ``reset_peak_memory_stats`` / ``max_memory_allocated`` call
    (so that programs that never ask pay nothing per allocation), and only while CuPy still uses
    its default pool allocator."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.peak: Dict[int, int] = {}

    def malloc(self, size: int) -> Any:
        mem = self.pool.malloc(size)
        dev = int(getattr(mem, "device_id", 0))
        used = int(self.pool.used_bytes())
        if used > self.peak.get(dev, 0):
            self.peak[dev] = used
        return mem


_tracker: Optional[_PeakTracker] = None


def _install_tracker() -> Optional[_PeakTracker]:
    global _tracker
    if _tracker is not None:
        return _tracker
    try:
        import cupy
    except ImportError:
        return None
    pool = cupy.get_default_memory_pool()
    get_alloc = getattr(cupy.cuda, "get_allocator", None)
    if get_alloc is not None:
        try:
            current = get_alloc()
        except Exception:  # noqa: BLE001 - an old CuPy without the query: assume the default
            current = pool.malloc
        if current != pool.malloc:
            return None  # the user installed an allocator of their own: leave it alone
    tracker = _PeakTracker(pool)
    cupy.cuda.set_allocator(tracker.malloc)
    _tracker = tracker
    return tracker


def memory_allocated(device: Optional[int] = None) -> int:
    """Bytes held by live GPU arrays on ``device`` (CuPy's default memory pool)."""
    _require("memory_allocated")
    cupy = _cupy("memory_allocated")
    with cupy.cuda.Device(_device_id(device)):
        return int(cupy.get_default_memory_pool().used_bytes())


def memory_reserved(device: Optional[int] = None) -> int:
    """Bytes the pool holds from the driver on ``device`` (live arrays plus cached blocks)."""
    _require("memory_reserved")
    cupy = _cupy("memory_reserved")
    with cupy.cuda.Device(_device_id(device)):
        return int(cupy.get_default_memory_pool().total_bytes())


def max_memory_allocated(device: Optional[int] = None) -> int:
    """Peak of ``memory_allocated`` since the last ``reset_peak_memory_stats`` (tracking starts
    with the first call of either; call ``reset_peak_memory_stats()`` before the code to measure).
    """
    _require("max_memory_allocated")
    dev = _device_id(device)
    now = memory_allocated(dev)
    tracker = _install_tracker()
    if tracker is None:
        return now
    peak = max(tracker.peak.get(dev, 0), now)
    tracker.peak[dev] = peak
    return peak


def reset_peak_memory_stats(device: Optional[int] = None) -> None:
    """Start the peak of ``max_memory_allocated`` again from the current usage."""
    _require("reset_peak_memory_stats")
    dev = _device_id(device)
    tracker = _install_tracker()
    if tracker is not None:
        tracker.peak[dev] = memory_allocated(dev)


def empty_cache() -> None:
    """Return the pool's cached (unused) blocks to the driver."""
    if not is_available():
        return
    try:
        import cupy
    except ImportError:
        return
    cupy.get_default_memory_pool().free_all_blocks()


def mem_get_info(device: Optional[int] = None) -> Tuple[int, int]:
    """(free, total) bytes of ``device`` as the driver reports them."""
    _require("mem_get_info")
    cupy = _cupy("mem_get_info")
    with cupy.cuda.Device(_device_id(device)):
        free, total = cupy.cuda.runtime.memGetInfo()
    return int(free), int(total)
