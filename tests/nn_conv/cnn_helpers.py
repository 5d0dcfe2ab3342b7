"""Helpers for the convolutional-network tests: run one function in axonal and in torch on the
same random inputs and compare the outputs and every input gradient."""

import numpy as np
import pytest

import axonal

TOL = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-10, atol=1e-10)}


def _torch():
    return pytest.importorskip("torch")


def compare(rng, ours, theirs, shapes, dtype, *, no_grad=(), out_index=None, grad_tol=None):
    """``ours(*axonal tensors)`` vs ``theirs(*torch tensors)`` on standard-normal inputs of
    ``shapes``: output values, then the gradient of every input (indices in ``no_grad`` are
    constants) for a random upstream gradient. Returns the two outputs."""
    torch = _torch()
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    xs = [axonal.tensor(a, requires_grad=i not in no_grad) for i, a in enumerate(arrays)]
    ts = [torch.tensor(a, requires_grad=i not in no_grad) for i, a in enumerate(arrays)]
    y, yt = ours(*xs), theirs(*ts)
    if out_index is not None:
        y, yt = y[out_index], yt[out_index]
    assert y.shape == tuple(yt.shape), (y.shape, tuple(yt.shape))
    assert y.dtype == np.dtype(dtype)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), **TOL[dtype])
    g = rng.standard_normal(y.shape).astype(dtype)
    y.backward(axonal.tensor(g))
    yt.backward(torch.tensor(g))
    for i, (x, t) in enumerate(zip(xs, ts)):
        if i in no_grad:
            continue
        assert x.grad is not None, f"input {i} got no gradient"
        np.testing.assert_allclose(
            x.grad.numpy(),
            t.grad.numpy(),
            err_msg=f"gradient of input {i}",
            **(grad_tol or TOL[dtype]),
        )
    return y, yt


def copy_params(ours, theirs):
    """Copy the parameters and buffers of an axonal module into the same-named torch ones."""
    torch = _torch()
    sd = {k: torch.from_numpy(np.array(v.numpy())) for k, v in ours.state_dict().items()}
    theirs.load_state_dict(sd)


def assert_grads_match(ours, theirs, dtype):
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(
            p.grad.numpy(), tp[name].grad.numpy(), err_msg=name, **TOL[dtype]
        )
