"""The one place where ``axonal.utils.data`` meets the Tensor class and the library RNG.

Everything else in this package works on plain NumPy arrays and calls :func:`to_tensor` at the
very end, so the data pipeline does not depend on how the Tensor is built.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

_from_numpy = None  # cached ``axonal.from_numpy`` once it exists
_tensor_cls = None  # cached ``axonal.Tensor`` once it exists
_fallback_rng = None  # used only while the library has no default generator


def _axonal() -> Any:
    return importlib.import_module("axonal")


def _tensor_class() -> Any:
    global _tensor_cls
    if _tensor_cls is None:
        _tensor_cls = getattr(_axonal(), "Tensor", None)
    return _tensor_cls


def is_tensor(x: Any) -> bool:
    """True for an ``axonal.Tensor``."""
    cls = _tensor_class()
    return cls is not None and isinstance(x, cls)


def to_tensor(array: np.ndarray) -> Any:
    """Wrap a NumPy array in an ``axonal.Tensor`` sharing its memory (``axonal.from_numpy``).

    While the Tensor class is not available the array itself is returned.
    """
    global _from_numpy
    if _from_numpy is None:
        fn = getattr(_axonal(), "from_numpy", None)
        if fn is None:
            return array
        _from_numpy = fn
    return _from_numpy(array)


def to_numpy(x: Any) -> np.ndarray:
    """The NumPy array behind a Tensor (no copy), or ``np.asarray(x)`` for anything else."""
    if isinstance(x, np.ndarray):
        return x
    if is_tensor(x):
        data = x._data
        if not isinstance(data, np.ndarray):  # a CuPy array on "cuda"
            get = getattr(data, "get", None)
            data = get() if get is not None else np.asarray(data)
        return data
    return np.asarray(x)


def like_input(array: np.ndarray, template: Any) -> Any:
    """Return ``array`` as a Tensor when ``template`` was a Tensor, else as a NumPy array."""
    return to_tensor(array) if is_tensor(template) else array


def _random_module() -> Any:
    try:
        return importlib.import_module("axonal.random")
    except ImportError:
        return None


def default_numpy_generator() -> np.random.Generator:
    """The NumPy generator inside axonal's default generator (seeded by ``axonal.manual_seed``)."""
    for holder in (_random_module(), _axonal()):
        if holder is None:
            continue
        gen = getattr(holder, "default_generator", None)
        if gen is None:
            continue
        if callable(gen) and not hasattr(gen, "np"):
            gen = gen()
        inner = getattr(gen, "np", None)
        if isinstance(inner, np.random.Generator):
            return inner
    global _fallback_rng
    if _fallback_rng is None:
        _fallback_rng = np.random.default_rng()
    return _fallback_rng


def resolve_generator(generator: Any, where: str = "sampler") -> np.random.Generator:
    """Turn ``generator`` into a ``numpy.random.Generator``.

    Accepted: ``None`` (axonal's default generator, looked up now so that a later
    ``axonal.manual_seed`` still applies), an ``axonal.Generator`` (anything with a NumPy
    ``Generator`` in ``.np``), a ``numpy.random.Generator``, or an int seed.
    """
    if generator is None:
        return default_numpy_generator()
    if isinstance(generator, np.random.Generator):
        return generator
    inner = getattr(generator, "np", None)
    if isinstance(inner, np.random.Generator):
        return inner
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return np.random.default_rng(int(generator))
    raise TypeError(
        f"{where}: generator must be an axonal.Generator, a numpy.random.Generator, an int seed "
        f"or None; got {type(generator).__name__}"
    )
