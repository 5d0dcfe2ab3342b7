"""Preprocessing that is fitted on the training split only and then applied everywhere.

    scaler = Standardize().fit(X_train)      # statistics of the training data only
    X_train, X_test = scaler(X_train), scaler(X_test)
    torch_like_state = scaler.state_dict()   # save with the model; load_state_dict() to restore

Every transform takes an ``axonal.Tensor`` or a NumPy array and returns the same kind. ``fit``
returns the transform itself, so ``Standardize().fit(X)`` chains. Statistics are computed in
float64; floating inputs keep their dtype and integer inputs come out as float32.

``ToTensor`` converts images like torchvision: uint8 pixels are divided by 255 into float32; a 3-D
image is read as HWC and returned as CHW; a 2-D image (H, W) gets a channel axis -> (1, H, W).
With ``batched=True`` the first axis indexes images: (N, H, W) -> (N, 1, H, W) and
(N, H, W, C) -> (N, C, H, W).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from ._compat import like_input, to_numpy, to_tensor

__all__ = [
    "Compose",
    "Lambda",
    "MinMaxScale",
    "Normalize",
    "Standardize",
    "ToTensor",
    "Transform",
]

Axis = Union[int, Sequence[int]]


def _float_dtype(a: np.ndarray) -> np.dtype:
    return a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)


def _state_value(x: Any) -> np.ndarray:
    return np.array(to_numpy(x), copy=True)


class Transform:
    """Base class. Stateless transforms only implement ``transform``; fitted ones also ``fit``
    and keep their statistics in ``state_dict()``."""

    def fit(self, x: Any) -> Transform:
        """Learn statistics from ``x`` (the training data). Stateless transforms do nothing."""
        return self

    def transform(self, x: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement transform")

    def __call__(self, x: Any) -> Any:
        return self.transform(x)

    def fit_transform(self, x: Any) -> Any:
        return self.fit(x).transform(x)

    def inverse_transform(self, x: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no inverse_transform")

    def state_dict(self) -> Dict[str, Any]:
        """Fitted statistics as tensors (empty for stateless transforms)."""
        return {}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        if state:
            raise KeyError(f"{type(self).__name__}: unexpected keys {sorted(state)}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _normalize_axes(axis: Axis, ndim: int, name: str) -> Tuple[int, ...]:
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for ax in axes:
        if isinstance(ax, bool) or not isinstance(ax, (int, np.integer)):
            raise TypeError(f"{name}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= ax < ndim:
            raise ValueError(f"{name}: axis {ax} out of range for a {ndim}-D input")
        out.append(int(ax) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: repeated axis in {axis!r}")
    return tuple(sorted(out))


class _FittedScaler(Transform):
    """Shared machinery: per-feature statistics reduced over ``axis`` (default 0: the samples)."""

    _stat_names: Tuple[str, ...] = ()

    def __init__(self, axis: Axis = 0) -> None:
        self.axis = axis
        self._axes: Optional[Tuple[int, ...]] = None
        self._ndim: Optional[int] = None
        self._stats: Dict[str, np.ndarray] = {}
        self._cast: Dict[Tuple[str, np.dtype], np.ndarray] = {}

    @property
    def fitted(self) -> bool:
        return bool(self._stats)

    def _prepare_fit(self, x: Any) -> np.ndarray:
        a = to_numpy(x)
        name = type(self).__name__
        if a.ndim == 0:
            raise ValueError(f"{name}.fit: expected at least a 1-D input, got shape ()")
        axes = _normalize_axes(self.axis, a.ndim, f"{name}.fit")
        if any(a.shape[ax] == 0 for ax in axes):
            raise ValueError(f"{name}.fit: cannot fit on an empty input of shape {a.shape}")
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{name}.fit: expected numeric data, got dtype {a.dtype}")
        self._axes, self._ndim = axes, a.ndim
        self._cast = {}
        return a.astype(np.float64, copy=False)

    def _stat(self, key: str, dtype: np.dtype) -> np.ndarray:
        cached = self._cast.get((key, dtype))
        if cached is None:
            cached = self._stats[key].astype(dtype)
            self._cast[(key, dtype)] = cached
        return cached

    def _check_input(self, x: Any, op: str) -> np.ndarray:
        name = type(self).__name__
        if not self.fitted:
            raise RuntimeError(f"{name}.{op}: not fitted; call fit() on the training data first")
        a = to_numpy(x)
        ref = next(iter(self._stats.values()))
        bad = a.ndim != ref.ndim or any(
            a.shape[d] != ref.shape[d] for d in range(a.ndim) if d not in self._axes
        )
        if bad:
            want = tuple("*" if d in self._axes else ref.shape[d] for d in range(ref.ndim))
            raise ValueError(
                f"{name}.{op}: input shape {tuple(a.shape)} does not match the fitted feature "
                f"shape {want} ('*' = any size)"
            )
        return a

    def feature_stat(self, key: str) -> np.ndarray:
        """A statistic with the reduced axes squeezed out (e.g. ``mean`` of shape (F,))."""
        return np.squeeze(self._stats[key], axis=self._axes)

    def state_dict(self) -> Dict[str, Any]:
        if not self.fitted:
            return {}
        state = {k: to_tensor(v.copy()) for k, v in self._stats.items()}
        state["axis"] = to_tensor(np.asarray(self._axes, dtype=np.int64))
        return state

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        name = type(self).__name__
        missing = [k for k in (*self._stat_names, "axis") if k not in state]
        extra = [k for k in state if k not in (*self._stat_names, "axis")]
        if missing or extra:
            raise KeyError(f"{name}.load_state_dict: missing keys {missing}, unexpected {extra}")
        stats = {k: _state_value(state[k]).astype(np.float64) for k in self._stat_names}
        axes = tuple(int(a) for a in _state_value(state["axis"]).reshape(-1))
        ndim = stats[self._stat_names[0]].ndim
        self._stats, self._axes, self._ndim, self.axis = stats, axes, ndim, axes
        self._cast = {}


class Standardize(_FittedScaler):
    """``(x - mean) / std`` with per-feature mean and std of the training data.

    ``axis`` names the axes reduced by ``fit`` (0: one statistic per feature column; for NCHW
    images ``axis=(0, 2, 3)`` gives per-channel statistics). ``std`` is the population standard
    deviation (``ddof=0``, like scikit-learn's StandardScaler); a feature that is constant in the
    training data gets ``std = 1`` so it maps to 0 instead of dividing by zero.
    """

    _stat_names = ("mean", "std")

    def __init__(self, axis: Axis = 0, ddof: int = 0) -> None:
        super().__init__(axis)
        self.ddof = ddof

    def fit(self, x: Any) -> Standardize:
        a = self._prepare_fit(x)
        mean = a.mean(axis=self._axes, keepdims=True)
        count = int(np.prod([a.shape[ax] for ax in self._axes]))
        if count - self.ddof <= 0:
            raise ValueError(f"Standardize.fit: {count} samples are too few for ddof={self.ddof}")
        std = a.std(axis=self._axes, ddof=self.ddof, keepdims=True)
        tiny = 10 * np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1.0)
        std = np.where(std <= tiny, 1.0, std)
        self._stats = {"mean": mean, "std": std}
        return self

    @property
    def mean(self) -> np.ndarray:
        return self.feature_stat("mean")

    @property
    def std(self) -> np.ndarray:
        return self.feature_stat("std")

    def transform(self, x: Any) -> Any:
        a = self._check_input(x, "transform")
        dt = _float_dtype(a)
        out = (a - self._stat("mean", dt)) / self._stat("std", dt)
        return like_input(out.astype(dt, copy=False), x)

    def inverse_transform(self, x: Any) -> Any:
        a = self._check_input(x, "inverse_transform")
        dt = _float_dtype(a)
        out = a * self._stat("std", dt) + self._stat("mean", dt)
        return like_input(out.astype(dt, copy=False), x)

    def __repr__(self) -> str:
        return f"Standardize(axis={self.axis!r}, fitted={self.fitted})"


class MinMaxScale(_FittedScaler):
    """Map each feature's training range ``[min, max]`` linearly onto ``feature_range``
    (``(0, 1)`` by default, or e.g. ``(-1, 1)``).

    A feature that is constant in the training data maps to ``feature_range[0]`` (its range is
    taken as 1). Test values outside the training range land outside ``feature_range`` unless
    ``clip=True``.
    """

    _stat_names = ("data_min", "data_max", "scale")

    def __init__(
        self, feature_range: Tuple[float, float] = (0.0, 1.0), axis: Axis = 0, clip: bool = False
    ) -> None:
        super().__init__(axis)
        lo, hi = (float(v) for v in feature_range)
        if not lo < hi:
            raise ValueError(
                f"MinMaxScale: feature_range must be (low, high) with low < high, "
                f"got {tuple(feature_range)}"
            )
        self.feature_range = (lo, hi)
        self.clip = clip

    def fit(self, x: Any) -> MinMaxScale:
        a = self._prepare_fit(x)
        dmin = a.min(axis=self._axes, keepdims=True)
        dmax = a.max(axis=self._axes, keepdims=True)
        span = dmax - dmin
        tiny = 10 * np.finfo(np.float64).eps * np.maximum(np.abs(dmax), 1.0)
        span = np.where(span <= tiny, 1.0, span)
        lo, hi = self.feature_range
        self._stats = {"data_min": dmin, "data_max": dmax, "scale": (hi - lo) / span}
        return self

    @property
    def data_min(self) -> np.ndarray:
        return self.feature_stat("data_min")

    @property
    def data_max(self) -> np.ndarray:
        return self.feature_stat("data_max")

    @property
    def scale(self) -> np.ndarray:
        return self.feature_stat("scale")

    def state_dict(self) -> Dict[str, Any]:
        state = super().state_dict()
        if state:
            state["feature_range"] = to_tensor(np.asarray(self.feature_range, dtype=np.float64))
        return state

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        state = dict(state)
        if "feature_range" not in state:
            raise KeyError("MinMaxScale.load_state_dict: missing key 'feature_range'")
        fr = _state_value(state.pop("feature_range")).reshape(-1)
        super().load_state_dict(state)
        self.feature_range = (float(fr[0]), float(fr[1]))

    def transform(self, x: Any) -> Any:
        a = self._check_input(x, "transform")
        dt = _float_dtype(a)
        lo, hi = self.feature_range
        out = (a - self._stat("data_min", dt)) * self._stat("scale", dt) + dt.type(lo)
        out = out.astype(dt, copy=False)
        if self.clip:
            np.clip(out, lo, hi, out=out)
        return like_input(out, x)

    def inverse_transform(self, x: Any) -> Any:
        a = self._check_input(x, "inverse_transform")
        dt = _float_dtype(a)
        lo = self.feature_range[0]
        out = (a - dt.type(lo)) / self._stat("scale", dt) + self._stat("data_min", dt)
        return like_input(out.astype(dt, copy=False), x)

    def __repr__(self) -> str:
        return (
            f"MinMaxScale(feature_range={self.feature_range}, axis={self.axis!r}, "
            f"fitted={self.fitted})"
        )


class Normalize(Transform):
    """Fixed per-channel ``(x - mean) / std`` on channel-first images, like torchvision:
    the channel axis is ``-3`` (works for (C, H, W) and (N, C, H, W)). Nothing to fit; use
    ``Standardize(axis=(0, 2, 3))`` to learn the statistics from the training images."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        m = np.asarray(mean, dtype=np.float64).reshape(-1)
        s = np.asarray(std, dtype=np.float64).reshape(-1)
        if m.size == 0 or m.shape != s.shape:
            raise ValueError(
                f"Normalize: mean and std need the same non-zero length, got {m.size} and {s.size}"
            )
        if np.any(s == 0):
            raise ValueError(f"Normalize: std has a zero entry: {s.tolist()}")
        self.mean, self.std = m, s

    def _params(self, a: np.ndarray, op: str) -> Tuple[np.ndarray, np.ndarray, np.dtype]:
        if a.ndim < 3:
            raise ValueError(
                f"Normalize.{op}: expected a (C, H, W) or (N, C, H, W) input, got shape {a.shape}"
            )
        c = a.shape[-3]
        if self.mean.size not in (1, c):
            raise ValueError(
                f"Normalize.{op}: {self.mean.size} channel statistics for an input with {c} "
                f"channels (shape {a.shape})"
            )
        dt = _float_dtype(a)
        shape = (-1, 1, 1)
        return self.mean.astype(dt).reshape(shape), self.std.astype(dt).reshape(shape), dt

    def transform(self, x: Any) -> Any:
        a = to_numpy(x)
        m, s, dt = self._params(a, "transform")
        return like_input(((a - m) / s).astype(dt, copy=False), x)

    def inverse_transform(self, x: Any) -> Any:
        a = to_numpy(x)
        m, s, dt = self._params(a, "inverse_transform")
        return like_input((a * s + m).astype(dt, copy=False), x)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class ToTensor(Transform):
    """Image array -> float tensor, channel first (see the module docstring).

    uint8 pixels are scaled to ``[0, 1]`` float32; other dtypes keep their values (float inputs
    keep their dtype, other integer types become float32). Always returns an ``axonal.Tensor``.
    ``inverse_transform`` goes back to uint8 channel-last images (2-D for a single channel).
    """

    def __init__(self, batched: bool = False) -> None:
        self.batched = batched

    def transform(self, x: Any) -> Any:
        a = to_numpy(x)
        lead = 1 if self.batched else 0
        if a.ndim == 2 + lead:
            a = np.expand_dims(a, lead)
        elif a.ndim == 3 + lead:
            a = np.moveaxis(a, -1, lead)
        else:
            want = "(N, H, W) or (N, H, W, C)" if self.batched else "(H, W) or (H, W, C)"
            raise ValueError(f"ToTensor: expected an image of shape {want}, got shape {a.shape}")
        if a.dtype == np.uint8:
            out = a.astype(np.float32) / np.float32(255.0)
        else:
            out = a.astype(_float_dtype(a))
        return to_tensor(np.ascontiguousarray(out))

    def inverse_transform(self, x: Any) -> Any:
        a = to_numpy(x)
        lead = 1 if self.batched else 0
        if a.ndim != 3 + lead:
            raise ValueError(f"ToTensor.inverse_transform: expected CHW images, got {a.shape}")
        a = np.moveaxis(a, lead, -1)
        if a.shape[-1] == 1:
            a = a[..., 0]
        return np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)

    def __repr__(self) -> str:
        return f"ToTensor(batched={self.batched})"


class Lambda(Transform):
    """Wrap a function as a (stateless, non-invertible) transform."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        if not callable(fn):
            raise TypeError(f"Lambda: expected a callable, got {type(fn).__name__}")
        self.fn = fn

    def transform(self, x: Any) -> Any:
        return self.fn(x)

    def __repr__(self) -> str:
        return f"Lambda({getattr(self.fn, '__name__', self.fn)!r})"


class Compose(Transform):
    """Apply transforms in order. ``fit`` fits each one on the output of the ones before it;
    ``inverse_transform`` undoes them in reverse order; ``state_dict`` keys are prefixed by the
    position (``"0.mean"``). Plain callables are allowed (they are applied, never fitted)."""

    def __init__(self, transforms: Iterable[Callable[[Any], Any]]) -> None:
        self.transforms: List[Callable[[Any], Any]] = list(transforms)
        for i, t in enumerate(self.transforms):
            if not callable(t):
                raise TypeError(f"Compose: item {i} ({type(t).__name__}) is not callable")

    def fit(self, x: Any) -> Compose:
        last = len(self.transforms) - 1
        for i, t in enumerate(self.transforms):
            if hasattr(t, "fit"):
                t.fit(x)
            if i < last:
                x = t.transform(x) if hasattr(t, "transform") else t(x)
        return self

    def transform(self, x: Any) -> Any:
        for t in self.transforms:
            x = t.transform(x) if hasattr(t, "transform") else t(x)
        return x

    def inverse_transform(self, x: Any) -> Any:
        for t in reversed(self.transforms):
            inv = getattr(t, "inverse_transform", None)
            if inv is None:
                raise NotImplementedError(
                    f"Compose.inverse_transform: {type(t).__name__} has no inverse_transform"
                )
            x = inv(x)
        return x

    def state_dict(self) -> Dict[str, Any]:
        state: Dict[str, Any] = {}
        for i, t in enumerate(self.transforms):
            sd = getattr(t, "state_dict", None)
            if sd is not None:
                for k, v in sd().items():
                    state[f"{i}.{k}"] = v
        return state

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        parts: Dict[int, Dict[str, Any]] = {}
        for key, v in state.items():
            head, _, rest = key.partition(".")
            if not head.isdigit() or not rest or int(head) >= len(self.transforms):
                raise KeyError(f"Compose.load_state_dict: unexpected key {key!r}")
            parts.setdefault(int(head), {})[rest] = v
        for i, t in enumerate(self.transforms):
            if i in parts:
                t.load_state_dict(parts[i])

    def __len__(self) -> int:
        return len(self.transforms)

    def __getitem__(self, i: int) -> Callable[[Any], Any]:
        return self.transforms[i]

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"Compose([{inner}])"
