"""The autograd engine: topological order, accumulation, retain_graph, grad(), hooks, versions,
grad modes, anomaly detection, custom Functions."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import axonal
from axonal.autograd import Function

torch = pytest.importorskip("torch")


def test_sigmoid_of_affine_known_values():
    W = axonal.tensor([[1.0, -2.0], [-1.0, 1.0]])
    b = axonal.tensor([1.0, 0.0])
    x = axonal.tensor([1.0, -1.0])
    y = axonal.sigmoid(W @ x + b)
    assert [f"{v:.2f}" for v in y.tolist()] == ["0.98", "0.12"]


def test_100k_node_chain_does_not_recurse():
    x = axonal.tensor([0.5, -1.0], requires_grad=True)
    y = x
    for _ in range(50_000):
        y = y * 1.0
        y = y + 0.0
    assert sys.getrecursionlimit() < 100_000
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])
    # and autograd.grad through the same depth
    z = x
    for _ in range(100_000):
        z = z + 1.0
    (g,) = axonal.autograd.grad(z.sum(), x)
    np.testing.assert_array_equal(g.numpy(), [1.0, 1.0])


def test_diamond_graph_and_reuse_sum_gradients(rng):
    a = rng.standard_normal((3, 4))
    xa = axonal.tensor(a, requires_grad=True)
    xt = torch.tensor(a, requires_grad=True)
    for m, x in ((axonal, xa), (torch, xt)):
        h = x.exp()
        out = (h * x + m.sin(h) - h.sum(dim=0) * x).mean()
        out.backward()
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


def test_gradients_accumulate_across_backward_calls(rng):
    a = rng.standard_normal(5)
    x = axonal.tensor(a, requires_grad=True)
    (x * x).sum().backward()
    first = x.grad
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * a + 3)
    assert x.grad is first  # accumulated in place, like torch
    x.grad = None
    x.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(5))


def test_leaf_grads_never_alias(rng):
    x = axonal.tensor(rng.standard_normal(4), requires_grad=True)
    y = axonal.tensor(rng.standard_normal(4), requires_grad=True)
    g = axonal.tensor(rng.standard_normal(4))
    (x + y).backward(g)
    assert not np.shares_memory(x.grad.numpy(), y.grad.numpy())
    assert not np.shares_memory(x.grad.numpy(), g.numpy())
    x.grad.numpy()[:] = 0
    np.testing.assert_array_equal(y.grad.numpy(), g.numpy())
    # a gradient that is a broadcast view is stored as a writeable array
    z = axonal.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    z.sum().backward()
    assert z.grad.numpy().flags.writeable
    z.grad.numpy()[0, 0] = 5.0
    assert z.grad.numpy()[1, 1] == 1.0


def test_backward_needs_gradient_for_non_scalar(rng):
    x = axonal.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        y.backward()
    with pytest.raises(RuntimeError, match="shape"):
        y.backward(axonal.ones(3, 2))
    y.backward(axonal.ones(2, 3))
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0))
    with pytest.raises(RuntimeError, match="does not require grad"):
        axonal.ones(2).sum().backward()


def test_second_backward_through_freed_graph_raises_and_retain_graph_allows(rng):
    x = axonal.tensor(rng.standard_normal(3), requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    g1 = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * g1)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()
    z = (x * 2).sum()
    axonal.autograd.grad(z, x)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        axonal.autograd.grad(z, x)


def test_autograd_grad_basic_and_options(rng):
    a = rng.standard_normal((2, 3))
    x = axonal.tensor(a, requires_grad=True)
    w = axonal.tensor(rng.standard_normal(3), requires_grad=True)
    unused = axonal.tensor(1.0, requires_grad=True)
    h = x * w
    out = h.sum()
    gx, gw = axonal.autograd.grad(out, [x, w], retain_graph=True)
    np.testing.assert_allclose(gx.numpy(), np.broadcast_to(w.numpy(), (2, 3)))
    np.testing.assert_allclose(gw.numpy(), a.sum(0))
    assert x.grad is None and w.grad is None  # grad() does not accumulate
    (gh,) = axonal.autograd.grad(out, h, retain_graph=True)  # a non-leaf input
    np.testing.assert_array_equal(gh.numpy(), np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="allow_unused"):
        axonal.autograd.grad(out, [x, unused], retain_graph=True)
    gx2, gu = axonal.autograd.grad(out, [x, unused], allow_unused=True, retain_graph=True)
    assert gu is None
    go = axonal.tensor(rng.standard_normal((2, 3)))
    (gx3,) = axonal.autograd.grad(h, x, grad_outputs=go)
    np.testing.assert_allclose(gx3.numpy(), go.numpy() * w.numpy())


def test_create_graph_higher_order(rng):
    a = rng.standard_normal(4)
    x = axonal.tensor(a, requires_grad=True)
    y = (x**3).sum()
    (g,) = axonal.autograd.grad(y, x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), 3 * a**2)
    assert g.requires_grad
    (gg,) = axonal.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 6 * a)
    # backward(create_graph=True) fills .grad with a differentiable tensor
    x2 = axonal.tensor(a, requires_grad=True)
    (x2.sin() * x2).sum().backward(create_graph=True)
    first = x2.grad
    x2.grad = None
    first.sum().backward()
    xt = torch.tensor(a, requires_grad=True)
    (gt,) = torch.autograd.grad((xt.sin() * xt).sum(), xt, create_graph=True)
    gt.sum().backward()
    np.testing.assert_allclose(x2.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


def test_create_graph_through_unsupported_op_raises_clearly(rng):
    x = axonal.tensor(rng.standard_normal(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="create_graph=True is not supported"):
        axonal.autograd.grad(axonal.gelu(x).sum(), x, create_graph=True)


def test_no_grad_enable_grad_and_set_grad_enabled(rng):
    x = axonal.tensor(rng.standard_normal(3), requires_grad=True)
    with axonal.no_grad():
        assert not axonal.is_grad_enabled()
        y = x * 2
        with axonal.enable_grad():
            z = x * 2
    assert axonal.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None

    @axonal.no_grad()
    def f(t):
        return t * 3

    assert not f(x).requires_grad

    @axonal.no_grad
    def g(t):
        return t * 3

    assert not g(x).requires_grad

    @axonal.inference_mode
    def h(t):
        return t * 3

    assert not h(x).requires_grad
    with axonal.set_grad_enabled(False):
        assert not (x + 1).requires_grad
    assert (x + 1).requires_grad
    axonal.set_grad_enabled(False)
    assert not axonal.is_grad_enabled()
    axonal.set_grad_enabled(True)
    with axonal.inference_mode():
        assert not (x * 1).requires_grad


def test_detach_requires_grad_and_leaves(rng):
    x = axonal.tensor(rng.standard_normal(3), requires_grad=True)
    assert x.is_leaf and x.grad_fn is None
    y = x * 2
    assert not y.is_leaf and y.requires_grad
    d = y.detach()
    assert d.is_leaf and not d.requires_grad
    assert np.shares_memory(d.numpy(), y.numpy())
    with pytest.raises(RuntimeError, match="floating point"):
        axonal.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)
    c = axonal.tensor([1.0, 2.0])
    assert c.requires_grad_() is c and c.requires_grad
    z = (x * axonal.tensor([1.0, 2.0, 3.0])).sum()  # a constant operand gets no grad
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 2, 3])


def test_tensor_hooks_and_handles(rng):
    x = axonal.tensor(rng.standard_normal(3), requires_grad=True)
    seen = []
    h1 = x.register_hook(lambda g: seen.append(g.numpy().copy()))
    h2 = x.register_hook(lambda g: g * 10)
    (x * 2 + x).sum().backward()  # x used twice: the hook sees the total once
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], [3, 3, 3])
    np.testing.assert_array_equal(x.grad.numpy(), [30, 30, 30])
    h2.remove()
    h1.remove()
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2, 2])
    assert len(seen) == 1
    # hook on a non-leaf changes what flows further up
    y = x * 1
    y.register_hook(lambda g: g * 0)
    x.grad = None
    (y * 5).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 0])
    with pytest.raises(RuntimeError, match="doesn't require"):
        axonal.ones(2).register_hook(lambda g: g)


def test_retain_grad_on_non_leaf(rng):
    x = axonal.tensor(rng.standard_normal(3), requires_grad=True)
    h = x * 3
    h.retain_grad()
    assert h.retains_grad
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.numpy())
    y = x * 2
    (y * 1).sum().backward()
    assert y.grad is None


def test_version_counter_detects_inplace_modification_of_saved_tensors(rng):
    x = axonal.tensor(rng.standard_normal(3), requires_grad=True)
    y = x.exp()  # saves its output
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    h = x * 2
    z = h * h  # saves h
    h.mul_(2)
    with pytest.raises(RuntimeError, match=r"Mul, saved tensor 0 of shape \(3,\)"):
        z.sum().backward()
    h2 = x * 2
    z2 = h2.sin()
    view = h2[1:]  # a view shares the version counter
    with axonal.no_grad():
        view.zero_()
    with pytest.raises(RuntimeError, match="version 1; expected version 0"):
        z2.sum().backward()
    # an op that saved nothing is fine
    h3 = x * 2
    z3 = h3 + 1
    h3.add_(5)
    z3.sum().backward()


def test_inplace_ops_record_autograd_like_torch(rng):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    res = []
    for m in (axonal, torch):
        x = m.tensor(a, requires_grad=True)
        w = m.tensor(b, requires_grad=True)
        h = x * 1
        h.add_(w)
        h.mul_(w)
        h.sub_(x, alpha=2)
        h.div_(2.0)
        h.clamp_(-1.0, 1.0)
        h[0] = w * 3  # setitem records too
        h[1:, 1] = 0.5
        h.sum().backward()
        res.append((h.detach().numpy(), x.grad.numpy(), w.grad.numpy()))
    for got, ref in zip(res[0], res[1]):
        np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_inplace_on_leaf_that_requires_grad(rng):
    x = axonal.tensor(rng.standard_normal(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="leaf"):
        x[0] = 2.0
    with axonal.no_grad():
        v = x._version
        x.add_(1).mul_(2)
        x -= 1
        x[0] = 7.0
        assert x._version == v + 4
    assert x.requires_grad and x.is_leaf
    x.data.zero_()  # .data bypasses autograd
    np.testing.assert_array_equal(x.numpy(), np.zeros(3))


def test_inplace_fill_zero_copy_under_autograd(rng):
    a = rng.standard_normal(3)
    x = axonal.tensor(a, requires_grad=True)
    src = axonal.tensor(rng.standard_normal(3), requires_grad=True)
    h = x * 2
    h.copy_(src * 3)
    h.sum().backward()
    np.testing.assert_array_equal(src.grad.numpy(), [3, 3, 3])
    assert x.grad is None or not x.grad.numpy().any()
    h2 = x * 2
    h2.fill_(1.5)
    np.testing.assert_array_equal(h2.numpy(), [1.5] * 3)
    h2.zero_()
    assert not h2.numpy().any()


def test_detect_anomaly_forward_and_backward(rng):
    x = axonal.tensor([1.0, -1.0], requires_grad=True)
    y = axonal.log(x)  # NaN silently without anomaly mode
    assert np.isnan(y.numpy()[1])
    with axonal.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match=r"forward of Log produced NaN.*\(2,\)"):
            axonal.log(x * 1.0)
        z = axonal.tensor([0.0, 4.0], requires_grad=True)
        s = z.sqrt()  # fine forward, infinite slope at 0
        with pytest.raises(RuntimeError, match=r"(?s)backward of Sqrt .*\(2,\).*created at"):
            s.sum().backward()
    assert not axonal.autograd.is_anomaly_enabled()
    z2 = axonal.tensor([0.0, 4.0], requires_grad=True)
    z2.sqrt().sum().backward()  # no error outside the context
    assert np.isinf(z2.grad.numpy()[0])


def test_error_messages_name_op_and_shapes():
    a, b = axonal.ones(32, 784), axonal.ones(512, 10)
    with pytest.raises(
        ValueError,
        match=r"^matmul: \(32, 784\) @ \(512, 10\): inner dimensions "
        r"784 != 512$",
    ):
        a @ b
    with pytest.raises(ValueError, match=r"add: \(3, 4\) and \(5,\) cannot broadcast"):
        axonal.ones(3, 4) + axonal.ones(5)
    with pytest.raises(ValueError, match=r"mul: \(2,\) and \(3,\) cannot broadcast"):
        axonal.ones(2) * axonal.ones(3)
    with pytest.raises(ValueError, match=r"matmul: \(2, 3, 4\) @ \(5, 4, 2\)"):
        axonal.ones(2, 3, 4) @ axonal.ones(5, 4, 2)
    with pytest.raises(RuntimeError, match=r"reshape: shape \(5,\) is invalid for input of shape"):
        axonal.ones(2, 3).reshape(5)
    with pytest.raises(RuntimeError, match=r"cat: .* got \(2, 3\) and \(3, 3\)"):
        axonal.cat([axonal.ones(2, 3), axonal.ones(3, 3)], dim=1)
    with pytest.raises(IndexError, match="dimension out of range"):
        axonal.ones(2, 3).sum(dim=2)


def test_gradient_dtype_follows_the_leaf(rng):
    x = axonal.tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True)
    d = axonal.tensor(rng.standard_normal(3), dtype=axonal.float64)
    y = (x * d).sum()  # promotes to float64
    assert y.dtype == axonal.float64
    y.backward()
    assert x.grad.dtype == axonal.float32
    np.testing.assert_allclose(x.grad.numpy(), d.numpy(), rtol=1e-6)


class MulAdd(Function):
    """out1 = a * b, out2 = a + b: a custom Function with two outputs."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b, a + b

    @staticmethod
    def backward(ctx, g1, g2):
        a, b = ctx.saved_tensors
        assert ctx.needs_input_grad == (True, False)
        return g1 * b + g2, None


def test_custom_function_with_two_outputs(rng):
    a = axonal.tensor(rng.standard_normal(3), requires_grad=True)
    b = axonal.tensor(rng.standard_normal(3))
    p, s = MulAdd.apply(a, b)
    assert p.requires_grad and s.requires_grad
    (p.sum() + 2 * s.sum()).backward()
    np.testing.assert_allclose(a.grad.numpy(), b.numpy() + 2)
    a.grad = None
    p, s = MulAdd.apply(a, b)
    s.sum().backward()  # the other output's gradient is materialised as zeros
    np.testing.assert_array_equal(a.grad.numpy(), np.ones(3))


def test_custom_function_returning_wrong_number_of_grads(rng):
    class Bad(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g

    a = axonal.tensor(rng.standard_normal(2), requires_grad=True)
    with pytest.raises(RuntimeError, match="returned 1 gradients, expected 2"):
        Bad.apply(a, a).sum().backward()


def test_grad_fn_and_next_functions(rng):
    x = axonal.tensor(rng.standard_normal(2), requires_grad=True)
    y = (x * 2).exp()
    assert type(y.grad_fn).__name__ == "Exp"
    ((node, _),) = y.grad_fn.next_functions
    assert type(node).__name__ == "MulScalar"
    assert node.next_functions[0][0] is x


def test_grad_results_do_not_alias_each_other_or_grad_outputs(rng):
    x = axonal.tensor(rng.standard_normal(3), requires_grad=True)
    y = axonal.tensor(rng.standard_normal(3), requires_grad=True)
    go = axonal.tensor(rng.standard_normal(3))
    gx, gy = axonal.autograd.grad(x + y, [x, y], grad_outputs=go)
    arrays = [gx.numpy(), gy.numpy(), go.numpy()]
    for i in range(3):
        for j in range(i + 1, 3):
            assert not np.shares_memory(arrays[i], arrays[j])
    np.testing.assert_array_equal(gx.numpy(), go.numpy())


def test_pickle_and_deepcopy_of_tensors(rng):
    import copy
    import pickle

    a = axonal.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    b = pickle.loads(pickle.dumps(a))
    assert b.requires_grad and b.dtype == axonal.float32 and b.is_leaf
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    w = pickle.loads(pickle.dumps(axonal.randn(4, 2)))
    out = b @ w  # unpickled float32 storage still runs on the GEMM kernel
    out.sum().backward()
    assert b.grad.shape == (3, 4)
    c = copy.deepcopy(a)
    assert c is not a and c.requires_grad and not np.shares_memory(c.numpy(), a.numpy())
    with pytest.raises(RuntimeError, match="deepcopy"):
        copy.deepcopy(a * 2)
