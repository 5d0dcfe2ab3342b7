"""An optimizer step changes its parameters in place: like PyTorch, a backward through a graph
that saved a parameter before the step raises instead of silently using the updated values;
the usual order (backward, then step) is unaffected."""

import numpy as np
import pytest

import axonal
import axonal.optim as optim


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_step_between_forward_and_backward_raises(name):
    w = axonal.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    opt = getattr(optim, name)([w], lr=0.1)
    v0 = w._version
    y = (w * w).sum()  # saves w
    w.grad = axonal.ones(3, dtype=w.dtype)
    opt.step()
    assert w._version == v0 + 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_parameters_without_gradient_keep_their_version():
    a = axonal.tensor(np.ones(2), requires_grad=True)
    b = axonal.tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1)
    a.grad = axonal.ones(2, dtype=a.dtype)
    va, vb = a._version, b._version
    opt.step()
    assert (a._version, b._version) == (va + 1, vb)


def test_usual_order_unaffected_and_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((4, 3))
    w0 = np.random.default_rng(1).standard_normal((3, 2))
    w = axonal.tensor(w0, requires_grad=True)
    tw = torch.tensor(w0, requires_grad=True)
    opt, topt = optim.Adam([w], lr=0.01), torch.optim.Adam([tw], lr=0.01)
    for _ in range(3):
        opt.zero_grad()
        topt.zero_grad()
        (axonal.tensor(x) @ w).tanh().sum().backward()
        (torch.tensor(x) @ tw).tanh().sum().backward()
        opt.step()
        topt.step()
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-12, atol=1e-12)
    # and PyTorch raises in the same situation as the first test
    y = (tw * tw).sum()
    tw.grad = torch.ones_like(tw)
    topt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
