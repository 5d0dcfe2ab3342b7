"""A float32 output used in a float64 op receives a float64 gradient; the engine casts it back to
the output's dtype before that output's backward runs (as PyTorch), so the C++ kernels of the
layers below (GEMM, conv, LSTM cell, attention) see one dtype."""

import numpy as np
import pytest

import axonal
import axonal.nn as nn


@pytest.mark.parametrize(
    "make, shape",
    [
        (lambda: nn.Linear(3, 2), (4, 3)),
        (lambda: nn.Conv2d(1, 2, 3), (1, 1, 5, 5)),
        (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.Flatten()), (2, 1, 6, 6)),
        (lambda: nn.LSTM(3, 4), (5, 2, 3)),
        (lambda: nn.MultiheadAttention(4, 2), (3, 2, 4)),
    ],
)
def test_float64_gradient_into_float32_layers(make, shape):
    torch = pytest.importorskip("torch")
    axonal.manual_seed(0)
    m = make()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)

    def run(model, inp, w):
        out = model(inp, inp, inp) if isinstance(model, nn.MultiheadAttention) else model(inp)
        out = out[0] if isinstance(out, tuple) else out
        return out, (out * w).sum()

    out = run(m, axonal.tensor(x), 1.0)[0]
    w = rng.standard_normal(tuple(out.shape))  # float64
    out, loss = run(m, axonal.tensor(x), axonal.tensor(w))
    assert loss.dtype == np.float64
    loss.backward()
    # reference: the same product in float64 with the float32 output cast up first
    m64 = make()
    m64.load_state_dict(m.state_dict())
    m64 = m64.double()
    out64, loss64 = run(m64, axonal.tensor(x.astype(np.float64)), axonal.tensor(w))
    loss64.backward()
    for (name, p), q in zip(m.named_parameters(), m64.parameters()):
        assert p.grad.dtype == np.float32, name
        np.testing.assert_allclose(
            p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name
        )
    t = torch.nn.Linear(3, 2)  # the rule itself is PyTorch's
    (t(torch.ones(1, 3)) * torch.ones(1, 2, dtype=torch.float64)).sum().backward()
    assert t.weight.grad.dtype == torch.float32
