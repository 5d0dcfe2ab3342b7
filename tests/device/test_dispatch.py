"""Kernel dispatch: on CuPy arrays with the CUDA build, the autograd ops call
``axonal.backend.cuda`` (our kernels); without it they take the generic CuPy code; on NumPy arrays
never. A recording stand-in replaces backend.cuda here: it logs (function, argument shapes) and
computes with the CPU kernels on the fake arrays' host memory (no counted transfers)."""

import types

import fake_cupy
import numpy as np
import pytest

import axonal
import axonal.backend
import axonal.nn as nn
import axonal.nn.functional as F
from axonal.backend import cpu as cpu_backend

NAMES = [
    "matmul",
    "gemm",
    "conv2d_forward",
    "conv2d_backward_input",
    "conv2d_backward_weight",
    "conv2d_backward_bias",
    "max_pool2d_forward",
    "max_pool2d_backward",
    "avg_pool2d_forward",
    "avg_pool2d_backward",
    "adaptive_avg_pool2d_forward",
    "adaptive_avg_pool2d_backward",
    "softmax_forward",
    "softmax_backward",
    "log_softmax_forward",
    "log_softmax_backward",
    "cross_entropy_forward",
    "cross_entropy_backward",
    "relu_backward",
]


def _softmax_ref(x, dim, log):
    m = x.max(axis=dim, keepdims=True)
    s = x - m
    lse = np.log(np.exp(s).sum(axis=dim, keepdims=True))
    return s - lse if log else np.exp(s - lse)


def _xent_q(logp, t, w, ignore, eps):
    """Cross entropy's smoothed, weighted target distribution q (loss_i = -sum_j q_ij logp_ij)
    and the target weights."""
    c = logp.shape[1]
    valid = t != ignore
    wv = np.ones(c) if w is None else w
    wt = np.where(valid, wv[np.where(valid, t, 0)], 0.0)
    onehot = np.eye(c)[np.where(valid, t, 0)]
    return (1 - eps) * wt[:, None] * onehot + (eps / c) * valid[:, None] * wv, wt, wv


def _xent_forward(logp, t, w, ignore, eps, reduction):
    q, wt, wv = _xent_q(logp, t, w, ignore, eps)
    l = -(q * logp).sum(axis=1)
    loss = {"none": l, "mean": l.sum() / wt.sum(), "sum": l.sum()}[reduction]
    return np.asarray(loss, logp.dtype), np.array([wt.sum(), wv.sum()])


def _xent_backward(g, logp, t, w, ignore, eps, reduction, aux):
    q, _, _ = _xent_q(logp, t, w, ignore, eps)
    ge = g if reduction == "none" else np.full(len(t), g / (aux[0] if reduction == "mean" else 1))
    ge = np.where(t != ignore, ge, 0.0)
    return ((np.exp(logp) * q.sum(axis=1, keepdims=True) - q) * ge[:, None]).astype(logp.dtype)


HOST = {
    "relu_backward": lambda g, y: np.where(y > 0, g, 0).astype(g.dtype),
    "cross_entropy_forward": _xent_forward,
    "cross_entropy_backward": _xent_backward,
    "matmul": np.matmul,
    "gemm": lambda a, b, trans_a=False, trans_b=False: (
        (a.T if trans_a else a) @ (b.T if trans_b else b)
    ),
    "softmax_forward": lambda x, dim=-1: _softmax_ref(x, dim, False),
    "log_softmax_forward": lambda x, dim=-1: _softmax_ref(x, dim, True),
    "softmax_backward": lambda g, y, dim=-1: y * (g - (g * y).sum(axis=dim, keepdims=True)),
    "log_softmax_backward": lambda g, y, dim=-1: g - np.exp(y) * g.sum(axis=dim, keepdims=True),
}


class Recorder(types.SimpleNamespace):
    pass


def make_recorder():
    calls = []
    rec = Recorder(calls=calls)

    def entry(name):
        host_fn = HOST.get(name) or getattr(cpu_backend, name)

        def fn(*args, **kwargs):
            for a in args:
                if isinstance(a, np.ndarray):
                    raise AssertionError(f"{name}: got a NumPy array; kernels take device arrays")
            calls.append((name, tuple(a.shape for a in args if type(a) is fake_cupy.ndarray)))
            host = [np.ascontiguousarray(a._a) if type(a) is fake_cupy.ndarray else a for a in args]
            out = host_fn(*host, **kwargs)
            if isinstance(out, tuple):
                return tuple(fake_cupy._w(np.asarray(o)) for o in out)
            return fake_cupy._w(np.asarray(out))

        return fn

    for n in NAMES:
        setattr(rec, n, entry(n))
    return rec


@pytest.fixture
def rec(monkeypatch):
    r = make_recorder()
    monkeypatch.setattr(axonal.backend, "_KERNELS", (fake_cupy.ndarray, r))
    return r


def _t(shape, device="cuda", dtype=np.float32, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return axonal.tensor(a, device=device, requires_grad=True)


def test_without_the_cuda_build_cupy_arrays_take_the_generic_path():
    assert not axonal.cuda.is_built()  # hidden by the fake (conftest.py) even where it is built
    x = axonal.zeros(2, 3, device="cuda")
    assert axonal.backend.kernels_for(x._data) is None
    assert axonal.backend.kernels_for(np.zeros(3)) is None


def test_numpy_arrays_never_reach_the_cuda_kernels(rec):
    a, b = _t((5, 3), "cpu"), _t((3, 4), "cpu")
    (a @ b).softmax(1).sum().backward()
    F.conv2d(_t((1, 2, 5, 5), "cpu"), _t((3, 2, 3, 3), "cpu")).sum().backward()
    assert rec.calls == []
    assert axonal.backend.kernels_for(a._data) is None


def test_matmul_forward_and_backward(rec, host):
    a, b = _t((5, 3)), _t((3, 4), seed=1)
    y = a @ b
    assert rec.calls == [("matmul", ((5, 3), (3, 4)))]
    y.backward(axonal.ones(5, 4, device="cuda"))
    assert sorted(rec.calls[1:]) == [("matmul", ((3, 5), (5, 4))), ("matmul", ((5, 4), (4, 3)))]
    a0, b0 = host(a), host(b)
    np.testing.assert_allclose(host(y), a0 @ b0, rtol=1e-6)
    np.testing.assert_allclose(host(a.grad), np.ones((5, 4)) @ b0.T, rtol=1e-6)
    np.testing.assert_allclose(host(b.grad), a0.T @ np.ones((5, 4)), rtol=1e-6)


def test_batched_matmul(rec):
    (_t((2, 5, 3)) @ _t((2, 3, 4))).sum().backward()
    assert [c[0] for c in rec.calls] == ["matmul"] * 3
    assert rec.calls[0][1] == ((2, 5, 3), (2, 3, 4))


def test_linear_uses_gemm_with_transposes(rec):
    lin = nn.Linear(3, 4).to("cuda")
    lin(_t((5, 3))).sum().backward()
    names = [c for c in rec.calls]
    assert names[0] == ("gemm", ((5, 3), (4, 3)))  # x @ w.T without a transposed copy
    assert ("gemm", ((5, 4), (4, 3))) in names  # grad input
    assert ("gemm", ((5, 4), (5, 3))) in names  # grad weight


def test_conv2d_forward_and_backward(rec):
    x, w, b = _t((2, 3, 6, 6)), _t((4, 3, 3, 3), seed=1), _t((4,), seed=2)
    y = F.conv2d(x, w, b, padding=1)
    assert rec.calls == [("conv2d_forward", ((2, 3, 6, 6), (4, 3, 3, 3), (4,)))]
    y.sum().backward()
    assert sorted(rec.calls[1:]) == [
        ("conv2d_backward_bias", ((2, 4, 6, 6),)),
        ("conv2d_backward_input", ((2, 4, 6, 6), (4, 3, 3, 3))),
        ("conv2d_backward_weight", ((2, 4, 6, 6), (2, 3, 6, 6))),
    ]
    assert type(x.grad._data) is fake_cupy.ndarray and x.grad.shape == x.shape


def test_conv1d_runs_on_the_conv2d_kernels(rec):
    F.conv1d(_t((2, 3, 9)), _t((5, 3, 3), seed=1)).sum().backward()
    assert [c[0] for c in rec.calls] == [
        "conv2d_forward",
        "conv2d_backward_input",
        "conv2d_backward_weight",
    ]
    assert rec.calls[0][1] == ((2, 3, 1, 9), (5, 3, 1, 3))


def test_pools(rec):
    x = _t((2, 3, 6, 6))
    F.max_pool2d(x, 2).sum().backward()
    assert rec.calls == [
        ("max_pool2d_forward", ((2, 3, 6, 6),)),
        ("max_pool2d_backward", ((2, 3, 3, 3), (2, 3, 3, 3))),
    ]
    rec.calls.clear()
    (F.avg_pool2d(x, 3, 2, 1).sum() + F.adaptive_avg_pool2d(x, 2).sum()).backward()
    assert sorted(c[0] for c in rec.calls) == [
        "adaptive_avg_pool2d_backward",
        "adaptive_avg_pool2d_forward",
        "avg_pool2d_backward",
        "avg_pool2d_forward",
    ]


def test_softmax_and_log_softmax(rec, host):
    x = _t((4, 5))
    y = x.softmax(1)
    (y * axonal.arange(5, device="cuda").float()).sum().backward()
    assert rec.calls == [
        ("softmax_forward", ((4, 5),)),
        ("softmax_backward", ((4, 5), (4, 5))),
    ]
    rec.calls.clear()
    x.log_softmax(0).sum().backward()
    assert rec.calls == [
        ("log_softmax_forward", ((4, 5),)),
        ("log_softmax_backward", ((4, 5), (4, 5))),
    ]
    rec.calls.clear()
    F.cross_entropy(x, axonal.tensor([0, 1, 2, 3], device="cuda")).backward()
    assert rec.calls == [  # log-softmax, then the fused loss kernels
        ("log_softmax_forward", ((4, 5),)),
        ("cross_entropy_forward", ((4, 5), (4,))),
        ("cross_entropy_backward", ((), (4, 5), (4,), (2,))),
    ]


def test_dispatched_results_equal_cpu(rec, host):
    axonal.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 3)
    )
    x = np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32)
    t = np.array([0, 2])
    ref = F.cross_entropy(net(axonal.tensor(x)), axonal.tensor(t))
    ref.backward()
    ref_grads = [p.grad.numpy().copy() for p in net.parameters()]
    net.zero_grad()
    net.to("cuda")
    loss = F.cross_entropy(net(axonal.tensor(x, device="cuda")), axonal.tensor(t, device="cuda"))
    loss.backward()
    assert {c[0] for c in rec.calls} >= {"conv2d_forward", "gemm", "max_pool2d_forward"}
    np.testing.assert_allclose(host(loss), ref.numpy(), rtol=1e-5)
    for p, g in zip(net.parameters(), ref_grads):
        np.testing.assert_allclose(host(p.grad), g, rtol=1e-4, atol=1e-6)
