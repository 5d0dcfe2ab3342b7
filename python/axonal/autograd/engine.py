"""The backward engine: an iterative topological walk over the graph of Function nodes.

Leaves (Tensors that require grad and have no grad_fn) appear in the graph as the Tensors
themselves. Every node and leaf is processed exactly once, after all its consumers, with the sum
of the gradients flowing into it; no recursion, so graphs of any depth work.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from ..tensor import Tensor, _new
from . import anomaly as _an
from . import function as _fn
from . import grad_mode as _gm
from .function import _FREED_MSG, Function, _check_versions, _materialize, _MultiGrad

_ndarray = np.ndarray


def _owned(g: Any) -> bool:
    """True when ``g`` is a fresh array (not a view, writeable) that a leaf may keep as its grad."""
    if type(g) is _ndarray:
        return g.base is None and g.flags.writeable
    return getattr(g, "base", 1) is None


def run_backward(
    roots: Sequence[Any],
    grads: Sequence[Any],
    retain_graph: bool = False,
    create_graph: bool = False,
    capture: Optional[dict] = None,
) -> Optional[dict]:
    """Backpropagate ``grads`` (arrays; Tensors when ``create_graph``) from the graph positions
    ``roots`` (Function nodes or leaf Tensors).

    Without ``capture`` the gradients accumulate into the leaves' ``.grad``. With ``capture`` (a
    dict ``id(position) -> slot``) nothing accumulates: the total gradient reaching each captured
    position is returned as ``{slot: grad}``.
    """
    # 1. dependency counts: how many consumers inside this graph each node/leaf has
    deps: dict = {}
    stack = []
    for r in roots:
        k = id(r)
        if k not in deps:
            deps[k] = 0
            stack.append(r)
    pop = stack.pop
    push = stack.append
    while stack:
        n = pop()
        if isinstance(n, Tensor):
            continue
        ps = n._parents
        if ps is None:
            continue
        for p in ps:
            if p is not None:
                k = id(p)
                if k in deps:
                    deps[k] += 1
                else:
                    deps[k] = 1
                    push(p)

    # 2. walk in topological order
    buf: dict = {}
    given: set = set()
    for r, g in zip(roots, grads):
        k = id(r)
        buf[k] = buf[k] + g if k in buf else g
        given.add(id(g))
    ready = []
    seen = set()
    for r in roots:
        if deps[id(r)] == 0 and id(r) not in seen:
            seen.add(id(r))
            ready.append(r)
    result = {} if capture is not None else None
    anomaly = _an.enabled

    prev_graph = _fn._graph_mode
    prev_enabled = _gm.enabled
    _fn._graph_mode = create_graph
    _gm.enabled = create_graph
    try:
        while ready:
            n = ready.pop()
            k = id(n)
            g = buf.pop(k, None)
            if isinstance(n, Tensor):  # a leaf
                if g is not None:
                    _leaf(n, g, given, create_graph, capture, result)
                continue
            if n._freed:
                raise RuntimeError(_FREED_MSG.format(type(n).__name__))
            grads_in = None
            if g is not None:
                if n._hooks:
                    g = _run_hooks(n._hooks, g, create_graph)
                if capture is not None and k in capture:
                    result[capture[k]] = g
                if n._vcheck:
                    _check_versions(n)
                if create_graph and not n.differentiable_backward:
                    raise RuntimeError(
                        f"{type(n).__name__}: create_graph=True is not supported through this op "
                        "(its backward is not differentiable)"
                    )
                if type(g) is _MultiGrad:
                    grads_in = n.backward(n, *_materialize(n, g))
                else:
                    odt = n.__dict__.get("_odt")
                    if odt is not None and not create_graph and g.dtype != odt:
                        # a gradient wider than the output (float32 output used in a float64
                        # op): the output's dtype, as PyTorch, so the kernels see one dtype
                        if g.dtype.kind == "f" and odt.kind == "f":
                            g = g.astype(odt)
                    grads_in = n.backward(n, g)
                if type(grads_in) is not tuple:
                    grads_in = (grads_in,)
                if anomaly:
                    _an.check_backward(n, grads_in)
            ps = n._parents
            if not retain_graph:
                n._saved = None
                n._vcheck = None
                n._freed = True
                if n.__dict__:
                    keep = n.__dict__.get("_out_meta")
                    n.__dict__.clear()
                    if keep is not None:
                        n._out_meta = keep
            if ps is None:
                continue
            if grads_in is not None:
                if len(grads_in) != len(ps):
                    raise RuntimeError(
                        f"{type(n).__name__}.backward returned {len(grads_in)} gradients, "
                        f"expected {len(ps)} (one per forward argument)"
                    )
                for p, pg in zip(ps, grads_in):
                    if p is None:
                        continue
                    kp = id(p)
                    if pg is not None:
                        if kp in buf:
                            buf[kp] = buf[kp] + pg
                        else:
                            buf[kp] = pg
                    d = deps[kp] - 1
                    deps[kp] = d
                    if d == 0:
                        ready.append(p)
            else:
                for p in ps:
                    if p is None:
                        continue
                    kp = id(p)
                    d = deps[kp] - 1
                    deps[kp] = d
                    if d == 0:
                        ready.append(p)
    finally:
        _fn._graph_mode = prev_graph
        _gm.enabled = prev_enabled
    return result


def _run_hooks(hooks: dict, g: Any, create_graph: bool) -> Any:
    for fn in list(hooks.values()):
        r = fn(g if create_graph else _new(g))
        if r is not None:
            if not isinstance(r, Tensor):
                raise TypeError(f"a tensor hook must return a Tensor or None, got {type(r)}")
            g = r if create_graph else r._data
    return g


def _leaf(t: Tensor, g: Any, given: set, create_graph: bool, capture: Any, result: Any) -> None:
    hooks = t._hooks
    if hooks:
        g0 = g
        g = _run_hooks(hooks, g, create_graph)
        if g is not g0:
            given.add(id(g))
    if capture is not None:
        slot = capture.get(id(t))
        if slot is not None:
            result[slot] = g
        return
    if create_graph:
        gt = g if isinstance(g, Tensor) else _new(g)
        if gt.dtype != t._data.dtype:
            gt = gt.to(t._data.dtype)
        t.grad = gt if t.grad is None else t.grad + gt
        return
    data = t._data
    if type(g) is not type(data):  # a 0-d CPU leaf used like a number in a device op
        from ..ops import to_device_array

        g = to_device_array(g, t.device)
    if g.dtype != data.dtype:
        g = g.astype(data.dtype)
    elif g.shape != data.shape:
        raise RuntimeError(
            f"backward: gradient of shape {tuple(g.shape)} for a leaf of shape {tuple(data.shape)}"
        )
    old = t.grad
    if old is None:
        k = id(g)
        if k in given or not _owned(g):
            g = g.copy()
        given.add(id(g))
        t.grad = _new(g)
    else:
        od = old._data
        if old.grad_fn is None and od.shape == g.shape and od.dtype == g.dtype and _owned(od):
            od += g
        else:
            t.grad = _new(od + g)


def _root_grad(t: Tensor, grad: Any, who: str) -> Any:
    if grad is None:
        if t._data.size != 1:
            raise RuntimeError(
                f"{who}: grad can be implicitly created only for scalar outputs "
                f"(got an output of shape {tuple(t.shape)}); pass a gradient"
            )
        xp = np if type(t._data) is _ndarray else _xp_of(t._data)
        return xp.ones(t._data.shape, t._data.dtype)
    if isinstance(grad, Tensor):
        g = grad._data
        if type(g) is not type(t._data):
            from ..tensor import check_same_device

            check_same_device(who, t, grad)
    else:
        xp = np if type(t._data) is _ndarray else _xp_of(t._data)
        g = xp.asarray(grad, dtype=t._data.dtype)
    if g.shape != t._data.shape:
        raise RuntimeError(
            f"{who}: gradient has shape {tuple(g.shape)}, the output has shape {tuple(t.shape)}"
        )
    return g


def _xp_of(x: Any) -> Any:
    import sys

    return sys.modules[type(x).__module__.split(".")[0]]


def _position(t: Tensor) -> Any:
    fn = t.grad_fn
    return t if fn is None else fn


def backward(
    tensors: Any,
    grad_tensors: Any = None,
    retain_graph: Optional[bool] = None,
    create_graph: bool = False,
    inputs: Any = None,
) -> None:
    """Accumulate the gradients of ``tensors`` into the leaves' ``.grad``."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
        if grad_tensors is not None and not isinstance(grad_tensors, (list, tuple)):
            grad_tensors = [grad_tensors]
    tensors = list(tensors)
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    roots, grads = [], []
    for t, g in zip(tensors, grad_tensors):
        if not t.requires_grad:
            raise RuntimeError(
                "backward: element 0 of tensors does not require grad and does not have a grad_fn"
                f" (shape {tuple(t.shape)})"
            )
        gr = _root_grad(t, g, "backward")
        if create_graph:
            gr = g if isinstance(g, Tensor) else _new(gr)
        roots.append(_position(t))
        grads.append(gr)
    if inputs is not None:
        # only accumulate into the given tensors
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        res = grad(tensors, inputs, grad_tensors, retain_graph, create_graph, allow_unused=True)
        for x, gx in zip(inputs, res):
            if gx is None:
                continue
            if x.grad is None:
                x.grad = gx if create_graph else _new(gx._data.copy())
            else:
                x.grad = x.grad + gx
        return
    run_backward(roots, grads, retain_graph, create_graph)


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: Optional[bool] = None,
    create_graph: bool = False,
    allow_unused: bool = False,
    materialize_grads: bool = False,
) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs`` (a tuple, one per input); no
    ``.grad`` is touched. ``create_graph=True`` makes the result differentiable again."""
    single_out = isinstance(outputs, Tensor)
    outputs = [outputs] if single_out else list(outputs)
    single_in = isinstance(inputs, Tensor)
    inputs = [inputs] if single_in else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    else:
        grad_outputs = list(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    if retain_graph is None:
        retain_graph = create_graph
    roots, grads = [], []
    for t, g in zip(outputs, grad_outputs):
        if not t.requires_grad:
            raise RuntimeError(
                "grad: one of the outputs does not require grad and does not have a grad_fn "
                f"(shape {tuple(t.shape)})"
            )
        gr = _root_grad(t, g, "grad")
        if create_graph:
            gr = g if isinstance(g, Tensor) else _new(gr)
        roots.append(_position(t))
        grads.append(gr)
    capture = {}
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"grad: inputs must be Tensors, got {type(x).__name__}")
        if not x.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {tuple(x.shape)}) does not require grad")
        capture.setdefault(id(_position(x)), i)
    res = run_backward(roots, grads, retain_graph, create_graph, capture)
    handed = {id(g) for g in grads}  # never return the caller's grad_outputs storage
    out = []
    for i, x in enumerate(inputs):
        slot = capture[id(_position(x))]
        g = res.get(slot)
        if g is None:
            if materialize_grads:
                xp = np if type(x._data) is _ndarray else _xp_of(x._data)
                out.append(_new(xp.zeros_like(x._data)))
                continue
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {tuple(x.shape)}) was not used in the graph of the "
                    "outputs; pass allow_unused=True to get None for it"
                )
            out.append(None)
            continue
        if isinstance(g, Tensor):
            out.append(g)
        else:
            if id(g) in handed or not _owned(g):
                g = g.copy()
            handed.add(id(g))
            out.append(_new(g))
    return tuple(out)


__all__ = ["Function", "backward", "grad", "run_backward"]
