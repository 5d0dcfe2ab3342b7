"""``Function``: one autograd op, its forward and backward side by side.

A Function works on raw arrays (NumPy on "cpu", CuPy on "cuda")::

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):            # x: the array inside the input Tensor
            y = np.exp(x)
            ctx.save_for_backward(y)    # saved arrays are version-checked before backward
            return y                    # one array (or a tuple of arrays: several outputs)

        @staticmethod
        def backward(ctx, g):           # g: gradient of the output, same shape as y
            (y,) = ctx.saved_tensors
            return g * y                # one gradient per forward argument (None: no gradient)

    y = Exp.apply(x)                    # Tensors in, Tensor out; non-Tensor arguments pass through

Rules: ``forward`` receives every Tensor argument as its array and every other argument as is; it
returns new arrays or views and never writes into its inputs. ``backward`` returns one gradient per
forward argument (a tuple when there are several), each with the shape of that input (reduce
broadcast dimensions), or None; it must not modify ``g`` in place. ``ctx.needs_input_grad[i]``
tells whether input ``i`` needs a gradient (skip the work when not). The ctx object *is* the graph
node (``tensor.grad_fn``). Extra state goes on ctx as attributes (``ctx.shape = x.shape``).

Ops whose backward is written only with operators, NumPy ufuncs and the helpers in
``axonal.ops._util`` (so that it also runs on Tensors) set ``differentiable_backward = True``; they
support ``create_graph=True`` (higher-order gradients).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor, _new
from . import anomaly as _an
from . import grad_mode as _gm

_ndarray = np.ndarray
_generic = np.generic
_object_new = object.__new__

# True while the engine runs a create_graph=True backward: saved_tensors then returns Tensors.
_graph_mode = False


class Function:
    """Base class of every autograd op. Subclass it with static ``forward``/``backward``."""

    __slots__ = ("_parents", "_saved", "_vcheck", "_hooks", "_freed", "__dict__", "__weakref__")

    differentiable_backward = False

    # -- user API -------------------------------------------------------------------------
    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("Function subclasses must implement a static forward(ctx, ...)")

    @staticmethod
    def backward(ctx: Any, *grads: Any) -> Any:
        raise NotImplementedError("Function subclasses must implement a static backward(ctx, g)")

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays for backward; the inputs' and output's version counters are checked."""
        self._saved = arrays

    @property
    def saved_tensors(self) -> tuple:
        if self._freed:
            raise RuntimeError(_FREED_MSG.format(type(self).__name__))
        saved = self._saved
        if saved is None:
            return ()
        if _graph_mode:
            return _saved_as_tensors(self)
        return saved

    @property
    def needs_input_grad(self) -> tuple:
        p = self._parents
        if p is None:
            return ()
        return tuple(x is not None for x in p)

    @property
    def next_functions(self) -> tuple:
        """``(node, 0)`` per input: the input's grad_fn, its leaf Tensor, or None."""
        return tuple((p, 0) for p in (self._parents or ()))

    def name(self) -> str:
        return type(self).__name__

    def register_hook(self, fn: Any) -> Any:
        """Hook on this node's output gradient: ``fn(grad) -> Tensor or None``."""
        return _add_hook(self, fn)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}Backward>"

    # -- the hot path -----------------------------------------------------------------------
    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        ctx = _object_new(cls)
        ctx._saved = None
        rg = False
        if _gm.enabled:
            arrays = []
            parents = []
            for a in args:
                if isinstance(a, Tensor):
                    arrays.append(a._data)
                    if a.requires_grad:
                        fn = a.grad_fn
                        parents.append(a if fn is None else fn)
                        rg = True
                        continue
                else:
                    arrays.append(a)
                parents.append(None)
            ctx._parents = tuple(parents) if rg else None
        else:
            arrays = [a._data if isinstance(a, Tensor) else a for a in args]
            ctx._parents = None
        ctx._freed = False
        try:
            out = cls.forward(ctx, *arrays, **kwargs)
        except TypeError:
            # CuPy refuses NumPy operands (and NumPy refuses CuPy ones) with a TypeError: name
            # the op and the devices instead; 0-d CPU tensors mix with device ones like numbers
            arrays = _mixed_devices(cls, args, arrays)
            out = cls.forward(ctx, *arrays, **kwargs)
        if _an.enabled:
            _an.check_forward(ctx, arrays, out)
        if type(out) is not _ndarray:
            if type(out) is tuple:
                return _wrap_multi(ctx, out, rg, args)
            if isinstance(out, _generic):
                out = np.asarray(out)
        if not rg:
            return _new(out)
        t = _new(out, True, ctx)
        ctx._odt = out.dtype  # the engine casts this node's incoming gradient to it
        ctx._hooks = None
        s = ctx._saved
        ctx._vcheck = _versions(s, args, out, t) if s is not None else None
        return t


def _mixed_devices(cls: type, args: tuple, arrays: list) -> list:
    """After a forward raised TypeError: RuntimeError when its Tensor arguments live on different
    devices; the arrays with 0-d CPU ones moved to the device when that is the only mix; else
    re-raise the original error."""
    from ..tensor import check_same_device

    check_same_device(type_name(cls), *args)
    dev = [a for a in arrays if hasattr(a, "shape") and type(a) is not _ndarray]
    zero_d = [a for a in arrays if type(a) is _ndarray and a.ndim == 0]
    if not dev or not zero_d:
        raise  # noqa: PLE0704 - re-raise the TypeError being handled
    return [a[()] if type(a) is _ndarray and a.ndim == 0 else a for a in arrays]


def type_name(cls: type) -> str:
    """``MulScalar`` -> ``mul_scalar``: an op's name for error messages."""
    name = cls.__name__.lstrip("_")
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


_FREED_MSG = (
    "{}: trying to backward through the graph a second time (or to use saved tensors after they "
    "were freed). The saved intermediate values are freed by the first backward(); pass "
    "retain_graph=True to the first backward() (or autograd.grad()) to backward twice."
)


def _versions(saved: tuple, args: tuple, out: Any, t: Tensor) -> Any:
    """(index, version counter, version, tensor) for every saved array that belongs to a Tensor."""
    res = []
    for i, s in enumerate(saved):
        if s is out:
            res.append((i, t._vc, 0, None))
            continue
        for a in args:
            if isinstance(a, Tensor) and a._data is s:
                vc = a._vc
                res.append((i, vc, vc[0], a))
                break
    return res or None


def _saved_as_tensors(ctx: Function) -> tuple:
    saved = list(ctx._saved)
    known = {}
    for i, _vc, _v, tensor in ctx._vcheck or ():
        known[i] = tensor
    for i, s in enumerate(saved):
        if isinstance(s, Tensor) or not hasattr(s, "shape"):
            continue
        if i in known:
            tensor = known[i]
            # the output itself: a Tensor whose grad_fn is this node (differentiable again)
            saved[i] = _new(s, True, ctx) if tensor is None else tensor
        else:
            saved[i] = _new(s)
    return tuple(saved)


def _check_versions(node: Function) -> None:
    for i, vc, v, _ in node._vcheck:
        if vc[0] != v:
            shape = tuple(getattr(node._saved[i], "shape", ()))
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [{type(node).__name__}, saved tensor {i} of shape {shape}] "
                f"is at version {vc[0]}; expected version {v} instead."
            )


class _MultiGrad(list):
    """The gradients of a several-output node, one slot per output (None: no gradient yet)."""

    __slots__ = ()

    def __add__(self, other: Any) -> _MultiGrad:
        res = _MultiGrad(self)
        for i, g in enumerate(other):
            if g is not None:
                res[i] = g if res[i] is None else res[i] + g
        return res


class _Select(Function):
    """Output ``i`` of a several-output node: routes its gradient into the node's slot ``i``."""

    differentiable_backward = True

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        slots = _MultiGrad([None] * ctx.n)
        slots[ctx.i] = g
        return (slots,)


def _wrap_multi(ctx: Function, outs: tuple, rg: bool, args: tuple) -> tuple:
    outs = tuple(np.asarray(o) if isinstance(o, _generic) else o for o in outs)
    if not rg:
        return tuple(_new(o) for o in outs)
    ctx._hooks = None
    ctx._out_meta = [(o.shape, o.dtype) for o in outs]
    res = []
    n = len(outs)
    for i, o in enumerate(outs):
        if o.dtype.kind not in "fc":
            res.append(_new(o))
            continue
        sel = _object_new(_Select)
        sel._parents = (ctx,)
        sel._saved = None
        sel._vcheck = None
        sel._hooks = None
        sel._freed = False
        sel.i = i
        sel.n = n
        res.append(_new(o, True, sel))
    s = ctx._saved
    ctx._vcheck = None
    if s is not None:
        vcs = []
        for j, a in enumerate(s):
            for t in res:
                if t._data is a:
                    vcs.append((j, t._vc, 0, None))
                    break
            else:
                more = _versions((a,), args, None, None)
                if more:
                    vcs.append((j,) + more[0][1:])
        ctx._vcheck = vcs or None
    return tuple(res)


def _materialize(node: Function, slots: list) -> list:
    """Zero-fill the output slots of a several-output node that received no gradient, on the
    device of the slots that did (at least one did, or the node would not run)."""
    from ..ops._util import xp_of

    xp = xp_of(next(g for g in slots if g is not None))
    out = []
    for g, (shape, dtype) in zip(slots, node._out_meta):
        if g is None:
            g = xp.zeros(shape, dtype)
            if _graph_mode:
                g = _new(g)
        elif not _graph_mode and g.dtype != dtype and g.dtype.kind == "f":
            g = g.astype(dtype)  # a wider gradient (float64 from a mixed op): the output's dtype
        out.append(g)
    return out


class RemovableHandle:
    """Returned by ``register_hook``: ``handle.remove()`` unregisters the hook."""

    __slots__ = ("_hooks", "_key")
    _next = 0

    def __init__(self, hooks: dict) -> None:
        self._hooks = hooks
        RemovableHandle._next += 1
        self._key = RemovableHandle._next

    def remove(self) -> None:
        self._hooks.pop(self._key, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def _add_hook(owner: Any, fn: Any) -> RemovableHandle:
    if not callable(fn):
        raise TypeError(f"register_hook: expected a callable, got {type(fn).__name__}")
    hooks = owner._hooks
    if hooks is None:
        hooks = owner._hooks = {}
    h = RemovableHandle(hooks)
    hooks[h._key] = fn
    return h


def once_differentiable(fn: Any) -> Any:
    """Kept for PyTorch compatibility: array-level backward functions already are."""
    return fn
