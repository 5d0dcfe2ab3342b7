"""1-D pooling (MaxPool1d, AvgPool1d, AdaptiveAvgPool1d and their functional forms) for (N, C, L)
signals: against a NumPy loop, against torch (values, gradients, indices) on random geometries,
unbatched inputs, float64 gradcheck, and errors naming the op."""

import numpy as np
import pytest

import axonal
import axonal.nn as nn
import axonal.nn.functional as F
from axonal.autograd import gradcheck


def np_max_pool1d(x, k, s, p, d):
    n, c, L = x.shape
    xp = np.full((n, c, L + 2 * p), -np.inf)
    xp[:, :, p : p + L] = x
    out = (L + 2 * p - d * (k - 1) - 1) // s + 1
    return np.stack([xp[:, :, i * s : i * s + d * (k - 1) + 1 : d].max(-1) for i in range(out)], -1)


def test_max_pool1d_matches_a_numpy_loop():
    rng = np.random.default_rng(0)
    for L, k, s, p, d in [(1, 1, 1, 0, 1), (13, 3, 2, 1, 1), (20, 4, 3, 2, 2), (7, 7, 1, 3, 1)]:
        x = rng.standard_normal((2, 3, L))
        got = F.max_pool1d(axonal.tensor(x), k, s, p, d).numpy()
        np.testing.assert_array_equal(got, np_max_pool1d(x, k, s, p, d))


def test_seed_example_in_1d():
    x = axonal.tensor([[[1.0, 3.0, 5.0, 3.0, 4.0, 2.0]]])
    assert F.max_pool1d(x, 2).numpy().tolist() == [[[3.0, 5.0, 4.0]]]
    assert F.avg_pool1d(x, 2).numpy().tolist() == [[[2.0, 4.0, 3.0]]]
    assert F.adaptive_avg_pool1d(x, 1).numpy().tolist() == [[[3.0]]]


CASES = [
    ("max", dict(kernel_size=3, stride=2, padding=1)),
    ("max", dict(kernel_size=4, stride=1, dilation=2, ceil_mode=True)),
    ("max", dict(kernel_size=5, stride=3, padding=2, ceil_mode=True)),
    ("avg", dict(kernel_size=3)),
    ("avg", dict(kernel_size=4, stride=3, padding=2, ceil_mode=True, count_include_pad=False)),
    ("avg", dict(kernel_size=2, stride=1, padding=1)),
    ("adaptive", dict(output_size=1)),
    ("adaptive", dict(output_size=5)),
    ("adaptive", dict(output_size=19)),
]


@pytest.mark.parametrize("kind,kw", CASES)
@pytest.mark.parametrize("batched", [True, False])
def test_matches_torch(kind, kw, batched):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(kw))
    shape = (3, 4, 19) if batched else (4, 19)
    x = rng.standard_normal(shape).astype(np.float32)
    mod = {"max": nn.MaxPool1d, "avg": nn.AvgPool1d, "adaptive": nn.AdaptiveAvgPool1d}[kind]
    tmod = getattr(torch.nn, mod.__name__)
    xa = axonal.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    ya, yt = mod(**kw)(xa), tmod(**kw)(xt)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-6, atol=1e-6)
    up = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
    (ya * axonal.tensor(up)).sum().backward()
    (yt * torch.tensor(up)).sum().backward()
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_max_pool1d_indices_match_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((2, 3, 17)).astype(np.float32)
    y, i = F.max_pool1d(axonal.tensor(x), 3, 2, 1, return_indices=True)
    ty, ti = torch.nn.functional.max_pool1d(torch.tensor(x), 3, 2, 1, return_indices=True)
    assert i.dtype == np.int64
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    y1, i1 = nn.MaxPool1d(3, 2, 1, return_indices=True)(axonal.tensor(x[0]))  # unbatched
    np.testing.assert_array_equal(i1.numpy(), ti.numpy()[0])


def test_gradcheck_float64():
    x = axonal.tensor(np.random.default_rng(2).standard_normal((2, 2, 9)), requires_grad=True)
    assert gradcheck(lambda a: F.avg_pool1d(a, 3, 2, 1, count_include_pad=False), (x,))
    assert gradcheck(lambda a: F.max_pool1d(a, 2, 1), (x,))
    assert gradcheck(lambda a: F.adaptive_avg_pool1d(a, 4), (x,))


def test_a_1d_cnn_for_signals_trains():
    # ECG-like: Conv1d -> BatchNorm1d -> ReLU -> MaxPool1d -> ... -> AdaptiveAvgPool1d(1)
    axonal.manual_seed(0)
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 64)
    x = np.stack([np.sin(2 * np.pi * (3 if c else 7) * t + rng.uniform(0, 6)) for c in [0, 1] * 16])
    x = (x + 0.3 * rng.standard_normal(x.shape))[:, None, :].astype(np.float32)
    y = np.array([0, 1] * 16)
    model = nn.Sequential(
        nn.Conv1d(1, 8, 5, padding=2), nn.BatchNorm1d(8), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(8, 8, 5, padding=2), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(),
        nn.Linear(8, 2),
    )  # fmt: skip
    opt = axonal.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(40):
        opt.zero_grad()
        loss = F.cross_entropy(model(axonal.tensor(x)), axonal.tensor(y))
        loss.backward()
        opt.step()
    model.eval()
    assert (model(axonal.tensor(x)).argmax(1).numpy() == y).mean() == 1.0


def test_errors_name_the_op():
    x = axonal.zeros(2, 3, 8)
    with pytest.raises(ValueError, match="max_pool1d: padding 2 must be at most half of kernel"):
        F.max_pool1d(x, 3, padding=2)
    with pytest.raises(ValueError, match="MaxPool1d: padding"):
        nn.MaxPool1d(2, padding=2)
    with pytest.raises(
        ValueError, match="avg_pool1d: input of length 8 .* smaller than the kernel"
    ):
        F.avg_pool1d(x, 9)
    with pytest.raises(ValueError, match=r"max_pool1d: expected a 3-D input \(N, C, L\)"):
        F.max_pool1d(axonal.zeros(2, 3, 8, 8), 2)
    with pytest.raises(ValueError, match="adaptive_avg_pool1d: output_size must be"):
        F.adaptive_avg_pool1d(x, 0)
    with pytest.raises(ValueError, match="kernel_size must be an int or a tuple of 1 ints"):
        F.max_pool1d(x, (2, 2))
