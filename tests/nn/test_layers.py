"""Linear, activations and Dropout: parity with PyTorch (forward and backward), statistics."""

import numpy as np
import pytest

import axonal
from axonal import nn
from axonal.nn import functional as F

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-10)}


def _pair(arr, requires_grad=True):
    return (
        axonal.tensor(arr, requires_grad=requires_grad),
        torch.tensor(arr, requires_grad=requires_grad),
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch", [(7,), (2, 3), (), (0,)])
def test_linear_matches_torch(rng, dtype, bias, batch):
    ours = nn.Linear(5, 3, bias=bias)
    theirs = torch.nn.Linear(5, 3, bias=bias)
    if dtype is np.float64:
        ours.double()
        theirs.double()
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.numpy()))
        if bias:
            theirs.bias.copy_(torch.from_numpy(ours.bias.numpy()))
    x, xt = _pair(rng.standard_normal((*batch, 5)).astype(dtype))
    y, yt = ours(x), theirs(xt)
    assert y.shape == tuple(yt.shape) and y.dtype == np.dtype(dtype)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), **TOL[dtype])
    g = rng.standard_normal(yt.shape).astype(dtype)
    y.backward(axonal.tensor(g))
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), **TOL[dtype])
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), **TOL[dtype])
    if bias:
        np.testing.assert_allclose(ours.bias.grad.numpy(), theirs.bias.grad.numpy(), **TOL[dtype])


def test_linear_gradcheck(rng):
    x = axonal.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    w = axonal.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = axonal.tensor(rng.standard_normal(2), requires_grad=True)
    assert axonal.autograd.gradcheck(F.linear, (x, w, b))
    x3 = axonal.tensor(rng.standard_normal((2, 2, 3)), requires_grad=True)
    assert axonal.autograd.gradcheck(lambda a, c: F.linear(a, c), (x3, w))


def test_linear_errors(rng):
    lin = nn.Linear(4, 2)
    with pytest.raises(
        ValueError,
        match=r"linear: input \(3, 5\) @ weight.T \(2, 4\): "
        r"in_features 5 != 4",
    ):
        lin(axonal.zeros((3, 5)))
    with pytest.raises(TypeError, match="dtypes differ: input float64, weight float32"):
        lin(axonal.zeros((3, 4), dtype=axonal.float64))
    with pytest.raises(ValueError, match="non-negative int"):
        nn.Linear(-1, 2)
    assert nn.Linear(0, 3)(axonal.zeros((2, 0))).shape == (2, 3)


ACTS = [
    (lambda: nn.Sigmoid(), lambda: torch.nn.Sigmoid()),
    (lambda: nn.Tanh(), lambda: torch.nn.Tanh()),
    (lambda: nn.ReLU(), lambda: torch.nn.ReLU()),
    (lambda: nn.LeakyReLU(0.2), lambda: torch.nn.LeakyReLU(0.2)),
    (lambda: nn.ELU(0.7), lambda: torch.nn.ELU(0.7)),
    (lambda: nn.GELU(), lambda: torch.nn.GELU()),
    (lambda: nn.GELU("tanh"), lambda: torch.nn.GELU("tanh")),
    (lambda: nn.SiLU(), lambda: torch.nn.SiLU()),
    (lambda: nn.Softplus(), lambda: torch.nn.Softplus()),
    (lambda: nn.Softplus(beta=2.0, threshold=3.0), lambda: torch.nn.Softplus(2.0, 3.0)),
    (lambda: nn.Softmax(dim=1), lambda: torch.nn.Softmax(dim=1)),
    (lambda: nn.Softmax(dim=-1), lambda: torch.nn.Softmax(dim=-1)),
    (lambda: nn.LogSoftmax(dim=1), lambda: torch.nn.LogSoftmax(dim=1)),
    (lambda: nn.LogSoftmax(dim=0), lambda: torch.nn.LogSoftmax(dim=0)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make", ACTS, ids=lambda m: repr(m[0]()))
def test_activation_modules_match_torch(rng, dtype, make):
    ours, theirs = make[0](), make[1]()
    a = (rng.standard_normal((4, 5, 3)) * 3).astype(dtype)
    x, xt = _pair(a)
    y, yt = ours(x), theirs(xt)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), **TOL[dtype])
    g = rng.standard_normal(a.shape).astype(dtype)
    y.backward(axonal.tensor(g))
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), **TOL[dtype])


def test_activation_reprs_and_errors():
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")


def test_dropout_statistics_and_modes(rng):
    x = axonal.ones((200, 500))
    drop = nn.Dropout(0.3)
    axonal.manual_seed(7)
    y = drop(x).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.02  # inverted dropout preserves the mean
    # seeded repeatability
    axonal.manual_seed(7)
    np.testing.assert_array_equal(drop(x).numpy(), y)
    # eval: identity
    drop.eval()
    assert drop(x) is x
    assert F.dropout(x, 0.5, training=False) is x
    assert nn.Dropout(0.0)(x) is x
    assert not nn.Dropout(1.0)(x).numpy().any()


def test_dropout_backward_uses_mask(rng):
    x = axonal.tensor(rng.standard_normal((50, 40)), requires_grad=True)
    y = F.dropout(x, 0.5)
    g = rng.standard_normal((50, 40))
    y.backward(axonal.tensor(g))
    mask = y.numpy() / x.numpy()
    np.testing.assert_allclose(x.grad.numpy(), g * mask, rtol=1e-12)
    assert set(np.round(np.unique(mask), 8)) <= {0.0, 2.0}


@pytest.mark.parametrize("p", [-0.1, 1.5, "a", True])
def test_dropout_validates_p(p):
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(p)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(axonal.ones(3), p)


def test_one_hot():
    t = axonal.tensor([[0, 2], [1, 1]])
    oh = F.one_hot(t, 4)
    assert oh.shape == (2, 2, 4) and oh.dtype == axonal.int64
    ref = torch.nn.functional.one_hot(torch.tensor([[0, 2], [1, 1]]), 4)
    np.testing.assert_array_equal(oh.numpy(), ref.numpy())
    assert F.one_hot(t).shape == (2, 2, 3)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        F.one_hot(t, 2)
    with pytest.raises(TypeError, match="integers"):
        F.one_hot(axonal.zeros(3), 3)


def test_mlp_end_to_end_matches_torch(rng):
    ours = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    theirs.double()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in ours.state_dict().items()})
    x, xt = _pair(rng.standard_normal((10, 6)), requires_grad=False)
    target = rng.integers(0, 3, 10)
    loss = nn.CrossEntropyLoss()(ours(x), axonal.tensor(target))
    loss_t = torch.nn.CrossEntropyLoss()(theirs(xt), torch.tensor(target))
    loss.backward()
    loss_t.backward()
    assert loss.item() == pytest.approx(loss_t.item(), rel=1e-12)
    for (name, p), pt in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(
            p.grad.numpy(), pt.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name
        )


def test_linear_non_contiguous_input_and_broadcast_grad(rng):
    lin = nn.Linear(4, 3).double()
    base = rng.standard_normal((4, 6))
    x = axonal.tensor(base).T  # (6, 4), a transposed view
    y = lin(x)
    np.testing.assert_allclose(
        y.numpy(), base.T @ lin.weight.numpy().T + lin.bias.numpy(), rtol=1e-12
    )
    xr = axonal.tensor(base.T.copy(), requires_grad=True)
    lin(xr).sum().backward()  # upstream gradient is a broadcast of ones
    np.testing.assert_allclose(xr.grad.numpy(), np.tile(lin.weight.numpy().sum(0), (6, 1)))
    np.testing.assert_allclose(lin.bias.grad.numpy(), np.full(3, 6.0))


def test_linear_dtype_argument():
    lin = nn.Linear(2, 2, dtype=axonal.float64)
    assert lin.weight.dtype == axonal.float64 and lin.bias.dtype == axonal.float64
