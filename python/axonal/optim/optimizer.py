"""Optimizer base class: parameter groups, per-parameter state, state_dict round trips.

Every concrete optimizer updates ``p._data`` in place with NumPy ufuncs (``out=``), one
vectorised pass per term of its update rule, and never loops over elements in Python.
Temporaries come from a small per-optimizer workspace (a few flat buffers as large as the
largest parameter), so a step allocates nothing after the first one. The update of one
parameter is an elementwise "kernel" function; ``Optimizer._launch`` runs it on the whole
array, or, for large parameters, on contiguous chunks in several threads (bitwise the same).
The same code runs on CuPy arrays (NumPy ufuncs dispatch to CuPy), one thread.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, MutableMapping
from contextlib import nullcontext
from typing import Any, Callable, Optional, Union

import numpy as np

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Sentinel for a hyperparameter that every parameter group must give (e.g. SGD's lr)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

# Group keys that PyTorch writes into its state dicts but which mean nothing here; dropped on
# load so that a torch optimizer state dict can be loaded (its arrays are converted).
_TORCH_ONLY_GROUP_KEYS = ("foreach", "fused", "capturable", "differentiable")


def _is_tensor(x: Any) -> bool:
    return hasattr(x, "_data") and hasattr(x, "grad")


def _array_module(a: Any) -> Any:
    if type(a).__module__.split(".")[0] == "cupy":  # pragma: no cover - needs a GPU
        import cupy

        return cupy
    return np


def _type_name(x: Any) -> str:
    return type(x).__name__


# A parameter update is split over threads only when it is long enough to pay for waking
# them (tens of microseconds): at least _MIN_WORK element-passes and _MIN_CHUNK elements a thread.
_MIN_CHUNK = 1 << 16
_MIN_WORK = 1 << 22
_POOL: Any = None
_POOL_SIZE = 0


def _num_threads() -> int:
    try:
        from .._runtime import get_num_threads

        return get_num_threads()
    except Exception:  # pragma: no cover - extension not built
        return 1


def _pool(parts: int) -> Any:
    global _POOL, _POOL_SIZE
    if _POOL is None or _POOL_SIZE < parts - 1:
        from concurrent.futures import ThreadPoolExecutor

        if _POOL is not None:
            _POOL.shutdown(wait=False)
        _POOL = ThreadPoolExecutor(max_workers=parts - 1, thread_name_prefix="axonal-optim")
        _POOL_SIZE = parts - 1
    return _POOL


def _kernel(scratch: int, passes: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Mark an elementwise update function: the workspace slots it needs and about how many
    passes over the data it makes (to decide whether threads pay off)."""

    def mark(fn: Callable[..., None]) -> Callable[..., None]:
        fn.scratch = scratch  # type: ignore[attr-defined]
        fn.passes = passes  # type: ignore[attr-defined]
        return fn

    return mark


def _effective_grad(d: Any, g: Any, t0: Any, maximize: bool, weight_decay: float) -> Any:
    """-g if maximize, plus weight_decay * d (L2); written into t0 unless it is just g."""
    if weight_decay != 0.0:
        np.multiply(d, weight_decay, out=t0)
        if maximize:
            np.subtract(t0, g, out=t0)
        else:
            np.add(g, t0, out=t0)
        return t0
    if maximize:
        np.negative(g, out=t0)
        return t0
    return g


class _ParamState(MutableMapping):
    """``optimizer.state``: a dict from parameter to its state dict, keyed by identity.

    Like ``collections.defaultdict(dict)``: reading a missing parameter creates its (empty)
    state. Keys are compared by identity, so it works whatever ``Tensor.__eq__`` returns.
    """

    __slots__ = ("_d",)

    def __init__(self) -> None:
        self._d: dict[int, tuple[Any, dict]] = {}

    def __getitem__(self, p: Any) -> dict:
        entry = self._d.get(id(p))
        if entry is None:
            entry = (p, {})
            self._d[id(p)] = entry
        return entry[1]

    def get(self, p: Any, default: Any = None) -> Any:
        entry = self._d.get(id(p))
        return default if entry is None else entry[1]

    def __setitem__(self, p: Any, value: dict) -> None:
        self._d[id(p)] = (p, value)

    def __delitem__(self, p: Any) -> None:
        del self._d[id(p)]

    def __contains__(self, p: object) -> bool:
        return id(p) in self._d

    def __iter__(self) -> Iterator[Any]:
        return (p for p, _ in self._d.values())

    def __len__(self) -> int:
        return len(self._d)

    def items(self):  # type: ignore[override]
        return list(self._d.values())

    def __repr__(self) -> str:
        return f"_ParamState({len(self._d)} parameters)"


class Optimizer:
    """Base class of all optimizers (``torch.optim.Optimizer`` semantics).

    Args:
        params: an iterable of parameters (Tensors), of ``(name, Tensor)`` pairs, or of dicts
            that each define a parameter group (``{"params": [...], "lr": 0.1, ...}``).
        defaults: default hyperparameters, used for every key a group does not give.

    Subclasses set ``_state_keys`` (the per-parameter state entries they keep; scalars among
    them in ``_scalar_state``), implement ``step`` and may override ``_validate_group``.
    """

    _state_keys: tuple[str, ...] = ()
    _scalar_state: dict[str, type] = {}

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        self.defaults: dict[str, Any] = dict(defaults)
        self._validate_group(
            {k: v for k, v in self.defaults.items() if v is not required}, partial=True
        )
        self.state: _ParamState = _ParamState()
        self.param_groups: list[dict[str, Any]] = []
        self._ws: dict[tuple, Any] = {}
        self._ws_views: dict[tuple, Any] = {}
        if _is_tensor(params):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts (parameter groups), "
                f"but got a single Tensor; pass [tensor] or model.parameters()"
            )
        if isinstance(params, dict):
            params = [params]
        if isinstance(params, (str, bytes)) or not isinstance(params, Iterable):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts, "
                f"got {_type_name(params)}"
            )
        groups = list(params)
        if len(groups) == 0:
            raise ValueError(f"{name}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    # ------------------------------------------------------------------ step bookkeeping
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fn = cls.__dict__.get("step")
        if fn is not None and not getattr(fn, "_axonal_marks_step", False):

            @functools.wraps(fn)
            def step(self, *args: Any, **kw: Any) -> Any:
                self._opt_called = True  # lets LR schedulers warn about a wrong call order
                res = fn(self, *args, **kw)
                # the parameters changed in place: a new version of each, as PyTorch counts it,
                # so a backward through a graph that saved them before the step raises instead
                # of using the updated values
                for group in self.param_groups:
                    for p in group["params"]:
                        if p.grad is not None:
                            p._vc[0] += 1
                return res

            step._axonal_marks_step = True  # type: ignore[attr-defined]
            cls.step = step  # type: ignore[method-assign]

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Perform one optimization step; ``closure`` re-evaluates the model, returns the loss."""
        raise NotImplementedError(f"{type(self).__name__}.step is not implemented")

    @staticmethod
    def _run_closure(closure: Optional[Callable[[], Any]]) -> Any:
        if closure is None:
            return None
        try:
            from .. import enable_grad  # type: ignore[attr-defined]

            ctx = enable_grad()
        except ImportError:
            ctx = nullcontext()
        with ctx:
            return closure()

    # ------------------------------------------------------------------ validation
    def _validate_group(self, group: dict[str, Any], partial: bool = False) -> None:
        """Raise ValueError for a bad hyperparameter in ``group`` (subclasses extend)."""
        _check_nonneg(self, group, "lr", "learning rate")

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group (a dict with a ``"params"`` key) to ``param_groups``."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: param_group must be a dict, got {_type_name(param_group)}")
        if "params" not in param_group:
            raise ValueError(f"{name}: a parameter group needs a 'params' entry")
        group = dict(param_group)
        params = group["params"]
        if _is_tensor(params):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{name}: parameters must be given in an ordered collection (list, tuple), "
                "not a set: the order of a set changes between runs"
            )
        elif isinstance(params, dict) or not isinstance(params, Iterable):
            raise TypeError(
                f"{name}: 'params' must be a Tensor or an iterable of Tensors, "
                f"got {_type_name(params)}"
            )
        else:
            params = list(params)
        names = []
        tensors = []
        for item in params:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                names.append(item[0])
                tensors.append(item[1])
            else:
                tensors.append(item)
        if names and len(names) != len(tensors):
            raise ValueError(f"{name}: either all parameters are named or none is")
        for i, p in enumerate(tensors):
            if not _is_tensor(p):
                raise TypeError(
                    f"{name}: can only optimize Tensors, but parameter {i} is a {_type_name(p)}"
                )
            kind = np.dtype(p._data.dtype).kind
            if kind != "f":
                raise TypeError(
                    f"{name}: can only optimize floating-point Tensors, parameter {i} has "
                    f"dtype {p._data.dtype} and shape {tuple(p._data.shape)}"
                )
            if not getattr(p, "is_leaf", True):
                raise ValueError(
                    f"{name}: can't optimize a non-leaf Tensor (parameter {i}, shape "
                    f"{tuple(p._data.shape)}); optimize the leaf it was computed from"
                )
        if len({id(p) for p in tensors}) != len(tensors):
            raise ValueError(f"{name}: a parameter group contains the same parameter twice")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in tensors):
            raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        group["params"] = tensors
        if names:
            group["param_names"] = names
        for key, default in self.defaults.items():
            if key not in group:
                if default is required:
                    raise ValueError(
                        f"{name}: parameter group didn't specify a value of required "
                        f"optimization parameter {key}"
                    )
                group[key] = default
        self._validate_group(group)
        self.param_groups.append(group)

    # ------------------------------------------------------------------ grads
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: set them to None (default) or fill them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if getattr(g, "requires_grad", False):
                        try:
                            g.requires_grad = False
                        except (AttributeError, RuntimeError, ValueError):  # pragma: no cover
                            pass
                    arr = g._data
                    if getattr(arr, "flags", None) is not None and not arr.flags.writeable:
                        g._data = _array_module(arr).zeros(arr.shape, dtype=arr.dtype)
                    else:
                        arr.fill(0)

    # ------------------------------------------------------------------ workspace
    def _scratch(self, like: Any, count: int) -> tuple:
        """``count`` scratch arrays shaped and typed like ``like`` (contents are garbage).

        They are views into a few flat buffers (one per slot and dtype) sized for the largest
        parameter, so the workspace costs ``count`` times the largest parameter, not the model.
        """
        key = (like.shape, like.dtype, count)
        views = self._ws_views.get(key)
        if views is not None:
            return views
        xp = _array_module(like)
        n = like.size
        out = []
        for k in range(count):
            bkey = (k, like.dtype, xp.__name__)
            buf = self._ws.get(bkey)
            if buf is None or buf.size < n:
                biggest = max(
                    (
                        p._data.size
                        for g in self.param_groups
                        for p in g["params"]
                        if p._data.dtype == like.dtype
                    ),
                    default=0,
                )
                buf = xp.empty(max(n, biggest), dtype=like.dtype)
                self._ws[bkey] = buf
                self._ws_views.clear()  # views into the old buffer must not be handed out
            out.append(buf[:n].reshape(like.shape))
        views = tuple(out)
        self._ws_views[key] = views
        return views

    def _check_grad(self, d: Any, g: Any) -> None:
        if g.shape != d.shape:
            raise ValueError(
                f"{type(self).__name__}: gradient shape {tuple(g.shape)} does not match "
                f"parameter shape {tuple(d.shape)}"
            )

    def _check_grads(self, group: dict[str, Any]) -> None:
        """Check every gradient of ``group`` (before any state changes)."""
        for p in group["params"]:
            if p.grad is not None:
                self._check_grad(p._data, p.grad._data)

    def _launch(self, kernel: Callable[..., None], arrays: tuple, scalars: tuple) -> None:
        """Run an elementwise update ``kernel(*arrays, *scratch, *scalars)``.

        ``arrays`` starts with the parameter data and its gradient; ``kernel.scratch`` slots of
        workspace (shaped like the parameter) follow. Large parameters are cut into contiguous
        chunks updated by several threads (NumPy releases the GIL); because every update is
        elementwise, the result is bitwise the same as one call on the whole array.
        """
        d = arrays[0]
        scratch = self._ws_views.get((d.shape, d.dtype, kernel.scratch))  # type: ignore[attr-defined]
        if scratch is None:
            scratch = self._scratch(d, kernel.scratch)  # type: ignore[attr-defined]
        n = d.size
        if n < 2 * _MIN_CHUNK:
            kernel(*arrays, *scratch, *scalars)
            return
        everything = arrays + scratch
        if n * kernel.passes >= _MIN_WORK:  # type: ignore[attr-defined]
            threads = _num_threads()
            if threads > 1 and all(
                a is None or (type(a) is np.ndarray and a.flags.c_contiguous) for a in everything
            ):
                parts = min(threads, n // _MIN_CHUNK)
                flat = [None if a is None else a.reshape(-1) for a in everything]
                cuts = [0] + [(n * i // parts) & ~63 for i in range(1, parts)] + [n]
                pool = _pool(parts)
                futures = [
                    pool.submit(
                        kernel,
                        *[None if a is None else a[lo:hi] for a in flat],
                        *scalars,
                    )
                    for lo, hi in zip(cuts[1:-1], cuts[2:])
                ]
                try:
                    kernel(*[None if a is None else a[: cuts[1]] for a in flat], *scalars)
                finally:
                    for f in futures:
                        f.result()
                return
        kernel(*everything, *scalars)

    # ------------------------------------------------------------------ state dicts
    def state_dict(self) -> dict[str, Any]:
        """A snapshot of the optimizer: ``{"state": {index: {...}}, "param_groups": [...]}``.

        Parameters are replaced by their index (counted over all groups in order); state
        arrays are copied, so the snapshot does not change when training goes on.
        """
        index: dict[int, int] = {}
        groups = []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            if "param_names" in packed:
                packed["param_names"] = list(packed["param_names"])
            ids = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {}
        for p, st in self.state.items():
            if id(p) not in index or not st:
                continue
            state[index[id(p)]] = {
                k: (v.copy() if hasattr(v, "shape") and hasattr(v, "copy") else v)
                for k, v in st.items()
            }
        state = dict(sorted(state.items()))
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a snapshot made by :meth:`state_dict` (of an optimizer of the same kind).

        Everything is checked before anything changes: the number and sizes of the groups,
        the parameter indices, the state entry names and the array shapes.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict):
            raise TypeError(
                f"{name}.load_state_dict: expected a dict, got {_type_name(state_dict)}"
            )
        for key in ("state", "param_groups"):
            if key not in state_dict:
                raise KeyError(f"{name}.load_state_dict: the state dict has no '{key}' entry")
        unknown = set(state_dict) - {"state", "param_groups"}
        if unknown:
            raise KeyError(f"{name}.load_state_dict: unknown entries {sorted(unknown)}")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the state dict has {len(saved_groups)} parameter "
                f"groups, the optimizer has {len(self.param_groups)}"
            )
        id_map: dict[Any, Any] = {}
        new_groups = []
        for gi, (saved, cur) in enumerate(zip(saved_groups, self.param_groups)):
            if not isinstance(saved, dict) or "params" not in saved:
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {gi} is not a dict with 'params'"
                )
            if len(saved["params"]) != len(cur["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {gi} has "
                    f"{len(saved['params'])} parameters in the state dict but "
                    f"{len(cur['params'])} in the optimizer"
                )
            for idx, p in zip(saved["params"], cur["params"]):
                if idx in id_map:
                    raise ValueError(f"{name}.load_state_dict: parameter index {idx} appears twice")
                id_map[idx] = p
            group = {
                k: v
                for k, v in saved.items()
                if k not in ("params", "param_names") and k not in _TORCH_ONLY_GROUP_KEYS
            }
            missing = [k for k in self.defaults if k not in group]
            if missing:
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {gi} lacks the hyperparameters "
                    f"{missing}; was the state dict saved from a different optimizer?"
                )
            for k, v in group.items():
                if isinstance(v, list) and isinstance(self.defaults.get(k), tuple):
                    group[k] = tuple(v)
            self._validate_group(group)
            group["params"] = cur["params"]
            if "param_names" in cur:
                group["param_names"] = cur["param_names"]
            elif "param_names" in saved:
                group["param_names"] = list(saved["param_names"])
            new_groups.append(group)

        new_state = _ParamState()
        for idx, st in state_dict["state"].items():
            if idx not in id_map and isinstance(idx, str) and idx.lstrip("-").isdigit():
                idx = int(idx)  # indices that went through JSON come back as strings
            if idx not in id_map:
                raise KeyError(
                    f"{name}.load_state_dict: state for unknown parameter index {idx!r}; "
                    f"the parameter groups hold indices {sorted(id_map, key=str)}"
                )
            p = id_map[idx]
            if not isinstance(st, dict):
                raise TypeError(
                    f"{name}.load_state_dict: state of parameter {idx} must be a dict, "
                    f"got {_type_name(st)}"
                )
            new_state[p] = {k: self._load_state_value(idx, p, k, v) for k, v in st.items()}
        self.param_groups = new_groups
        self.state = new_state

    def _load_state_value(self, idx: Any, p: Any, key: str, value: Any) -> Any:
        name = type(self).__name__
        if key not in self._state_keys:
            raise KeyError(
                f"{name}.load_state_dict: unknown state entry {key!r} for parameter {idx} "
                f"({name} keeps {list(self._state_keys)})"
            )
        if key in self._scalar_state:
            kind = self._scalar_state[key]
            return kind(value.item() if hasattr(value, "item") else value)
        if value is None:
            return None
        if hasattr(value, "_data"):  # an axonal Tensor
            value = value._data
        xp = _array_module(p._data)
        if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
            value = value.detach().cpu().numpy()
        arr = xp.asarray(value)
        if tuple(arr.shape) != tuple(p._data.shape):
            raise ValueError(
                f"{name}.load_state_dict: state entry {key!r} of parameter {idx} has shape "
                f"{tuple(arr.shape)}, the parameter has shape {tuple(p._data.shape)}"
            )
        return xp.array(arr, dtype=p._data.dtype, copy=True)

    # ------------------------------------------------------------------ misc
    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key not in ("params", "param_names"):
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    def __getstate__(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["_ws"] = {}
        d["_ws_views"] = {}
        return d


# ---------------------------------------------------------------------- shared checks
def _is_number(x: Any) -> bool:
    """A real number (Python or NumPy), not a bool."""
    return not isinstance(x, bool) and isinstance(x, (int, float, np.floating, np.integer))


def _check_nonneg(opt: Any, group: dict[str, Any], key: str, what: str) -> None:
    if key in group:
        v = group[key]
        if not _is_number(v):
            raise TypeError(f"{type(opt).__name__}: {what} ({key}) must be a number, got {v!r}")
        if not v >= 0.0:  # catches NaN too
            raise ValueError(f"{type(opt).__name__}: invalid {what} ({key}={v}); must be >= 0")


def _check_betas(opt: Any, group: dict[str, Any]) -> None:
    if "betas" not in group:
        return
    betas = group["betas"]
    name = type(opt).__name__
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
    for i, b in enumerate(betas):
        if not _is_number(b):
            raise TypeError(f"{name}: betas[{i}] must be a number, got {b!r}")
        if not 0.0 <= b < 1.0:
            raise ValueError(f"{name}: invalid beta parameter at index {i}: {b}; must be in [0, 1)")


def _lerp_(a: Any, end: Any, w: float, tmp: Any) -> None:
    """a += w * (end - a), in place, with torch's two-sided formula for accuracy."""
    np.subtract(end, a, out=tmp)
    if abs(w) < 0.5:
        np.multiply(tmp, w, out=tmp)
        np.add(a, tmp, out=a)
    else:
        np.multiply(tmp, 1.0 - w, out=tmp)
        np.subtract(end, tmp, out=a)


ParamsT = Union[Iterable[Any], Iterable[dict[str, Any]]]
