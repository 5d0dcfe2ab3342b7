"""Weight initialisation, in place, with the library's seeded generator (PyTorch names).

Every function writes into ``tensor._data`` (no autograd history is recorded) and returns the
tensor. Random draws come from ``axonal.random.default_generator()`` unless ``generator`` is given
(an axonal Generator, or a ``numpy.random.Generator``), so ``axonal.manual_seed(s)`` makes every
initialisation repeatable.
"""

from __future__ import annotations

import math
import sys
from typing import Any, Optional, Tuple

import numpy as np

from ..tensor import Tensor

__all__ = [
    "calculate_gain",
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
    "eye_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
]

_LINEAR_LIKE = (
    "linear",
    "identity",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
)


def calculate_gain(nonlinearity: str, param: Optional[float] = None) -> float:
    """Recommended gain for ``nonlinearity`` (PyTorch's values).

    linear / conv / sigmoid: 1, tanh: 5/3, relu: sqrt(2), leaky_relu: sqrt(2 / (1 + slope^2))
    (``param`` is the slope, default 0.01), selu: 3/4.
    """
    if nonlinearity in _LINEAR_LIKE:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1.0 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _np_generator(generator: Any = None) -> np.random.Generator:
    if generator is None:
        from .. import random as _random

        generator = _random.default_generator()
    if isinstance(generator, np.random.Generator):
        return generator
    gen = getattr(generator, "np", None)
    if isinstance(gen, np.random.Generator):
        return gen
    raise TypeError(
        f"init: generator must be an axonal Generator or numpy.random.Generator, "
        f"got {type(generator).__name__}"
    )


def _check(fn: str, tensor: Any) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fn}: expected an axonal.Tensor, got {type(tensor).__name__}")


def _write(tensor: Tensor, values: np.ndarray) -> Tensor:
    """Copy host ``values`` into the tensor's storage in place (works for cupy storage too)."""
    data = tensor._data
    if isinstance(data, np.ndarray):
        data[...] = values
    else:  # device array (cupy): upload
        mod = sys.modules[type(data).__module__.split(".")[0]]
        data[...] = mod.asarray(values.astype(data.dtype, copy=False))
    tensor._vc[0] += 1
    return tensor


def _float_dtype(fn: str, tensor: Tensor) -> np.dtype:
    dt = np.dtype(tensor.dtype)
    if dt.kind not in "fc":
        raise TypeError(f"{fn}: needs a floating-point tensor, got dtype {dt}")
    return dt


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> Tuple[int, int]:
    shape = tuple(tensor.shape)
    if len(shape) < 2:
        raise ValueError(
            f"fan in and fan out can not be computed for a tensor with fewer than 2 dimensions "
            f"(shape {shape})"
        )
    receptive = 1
    for s in shape[2:]:
        receptive *= s
    return shape[1] * receptive, shape[0] * receptive


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode {mode!r} not supported, use 'fan_in' or 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
    """Fill with U(a, b)."""
    _check("uniform_", tensor)
    _float_dtype("uniform_", tensor)
    if not a <= b:
        raise ValueError(f"uniform_: lower bound a={a} must be <= upper bound b={b}")
    gen = _np_generator(generator)
    return _write(tensor, gen.uniform(a, b, size=tuple(tensor.shape)))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
    """Fill with N(mean, std^2)."""
    _check("normal_", tensor)
    _float_dtype("normal_", tensor)
    if std < 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    gen = _np_generator(generator)
    return _write(tensor, gen.normal(mean, std, size=tuple(tensor.shape)))


def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: Any = None,
) -> Tensor:
    """Fill with N(mean, std^2) truncated to ``[a, b]`` (absolute bounds, as in PyTorch).

    Out-of-range draws are redrawn (rejection sampling); if the interval is so far in a tail that
    this does not converge, the rest is drawn uniformly on ``[a, b]``.
    """
    _check("trunc_normal_", tensor)
    _float_dtype("trunc_normal_", tensor)
    if not a < b:
        raise ValueError(f"trunc_normal_: need a < b, got a={a}, b={b}")
    if std < 0:
        raise ValueError(f"trunc_normal_: std must be non-negative, got {std}")
    gen = _np_generator(generator)
    shape = tuple(tensor.shape)
    n = int(np.prod(shape))
    out = np.empty(n, dtype=np.float64)
    if std == 0:
        out[:] = min(max(mean, a), b)
        return _write(tensor, out.reshape(shape))
    todo = np.arange(n)
    for _ in range(100):
        if todo.size == 0:
            break
        draw = gen.normal(mean, std, size=todo.size)
        ok = (draw >= a) & (draw <= b)
        out[todo[ok]] = draw[ok]
        todo = todo[~ok]
    if todo.size:
        out[todo] = gen.uniform(a, b, size=todo.size)
    return _write(tensor, out.reshape(shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with the scalar ``val``."""
    _check("constant_", tensor)
    tensor._data[...] = val
    tensor._vc[0] += 1
    return tensor


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1)


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity (ones on the main diagonal)."""
    _check("eye_", tensor)
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {tuple(tensor.shape)}")
    return _write(tensor, np.eye(*tensor.shape))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot uniform: U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    _check("xavier_uniform_", tensor)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out)) if fan_in + fan_out else 0.0
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot normal: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    _check("xavier_normal_", tensor)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out)) if fan_in + fan_out else 0.0
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Tensor:
    """He uniform: U(-bound, bound), bound = gain * sqrt(3 / fan); gain from nonlinearity, a."""
    _check("kaiming_uniform_", tensor)
    if 0 in tuple(tensor.shape):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Tensor:
    """He normal: N(0, std^2), std = gain / sqrt(fan)."""
    _check("kaiming_normal_", tensor)
    if 0 in tuple(tensor.shape):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """(Semi-)orthogonal matrix from the QR of a Gaussian matrix; dims after the first flattened."""
    _check("orthogonal_", tensor)
    _float_dtype("orthogonal_", tensor)
    if tensor.ndim < 2:
        raise ValueError(
            f"orthogonal_: only tensors with 2 or more dimensions are supported, "
            f"got shape {tuple(tensor.shape)}"
        )
    if 0 in tuple(tensor.shape):
        return tensor
    rows = tensor.shape[0]
    cols = int(np.prod(tensor.shape[1:]))
    gen = _np_generator(generator)
    flat = gen.normal(0.0, 1.0, size=(rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    d = np.sign(np.diag(r))
    d[d == 0] = 1.0
    q = q * d[None, :]
    if rows < cols:
        q = q.T
    return _write(tensor, (gain * q).reshape(tuple(tensor.shape)))


# PyTorch's deprecated aliases without the trailing underscore are not provided on purpose.
