"""axonal.nn.init: bounds and spreads on large tensors, seeding, errors; Linear's default init."""

import math

import numpy as np
import pytest

import axonal
from axonal import nn
from axonal.nn import init


def test_calculate_gain_matches_torch():
    torch = pytest.importorskip("torch")
    for name in ["linear", "conv2d", "sigmoid", "tanh", "relu", "selu"]:
        assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    for slope in [None, 0.2, math.sqrt(5)]:
        assert init.calculate_gain("leaky_relu", slope) == pytest.approx(
            torch.nn.init.calculate_gain("leaky_relu", slope)
        )
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swishy")


def test_uniform_normal_constant():
    t = axonal.empty((200, 300))
    init.uniform_(t, -2.0, 3.0)
    a = t.numpy()
    assert a.min() >= -2.0 and a.max() <= 3.0
    assert abs(a.mean() - 0.5) < 0.05 and abs(a.std() - 5 / math.sqrt(12)) < 0.03
    init.normal_(t, 1.0, 0.5)
    a = t.numpy()
    assert abs(a.mean() - 1.0) < 0.01 and abs(a.std() - 0.5) < 0.01
    init.constant_(t, 0.25)
    assert np.all(t.numpy() == 0.25)
    init.ones_(t)
    assert np.all(t.numpy() == 1)
    init.zeros_(t)
    assert not t.numpy().any()
    e = axonal.empty((3, 5))
    init.eye_(e)
    np.testing.assert_array_equal(e.numpy(), np.eye(3, 5))
    with pytest.raises(ValueError, match="2-D"):
        init.eye_(axonal.empty((2, 2, 2)))
    with pytest.raises(TypeError, match="floating-point"):
        init.normal_(axonal.zeros(3, dtype=axonal.int64))


def test_trunc_normal():
    t = axonal.empty((100, 200), dtype=axonal.float64)
    init.trunc_normal_(t, mean=0.5, std=1.0, a=-1.0, b=1.5)
    a = t.numpy()
    assert a.min() >= -1.0 and a.max() <= 1.5
    # mean of N(0.5, 1) truncated at -1.5 and +1 standard units:
    # 0.5 + (phi(-1.5) - phi(1)) / (Phi(1) - Phi(-1.5))
    phi = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    Phi = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    expected = 0.5 + (phi(-1.5) - phi(1.0)) / (Phi(1.0) - Phi(-1.5))
    assert abs(a.mean() - expected) < 0.02
    with pytest.raises(ValueError, match="a < b"):
        init.trunc_normal_(t, a=1.0, b=0.0)


@pytest.mark.parametrize("shape", [(300, 500), (64, 16, 3, 3)])
def test_xavier(shape):
    fan_in = shape[1] * int(np.prod(shape[2:]))
    fan_out = shape[0] * int(np.prod(shape[2:]))
    t = axonal.empty(shape)
    init.xavier_uniform_(t, gain=2.0)
    bound = 2.0 * math.sqrt(6.0 / (fan_in + fan_out))
    a = t.numpy()
    assert np.abs(a).max() <= bound + 1e-6 and np.abs(a).max() > 0.98 * bound
    assert abs(a.std() - bound / math.sqrt(3)) < 0.02 * bound
    init.xavier_normal_(t)
    std = math.sqrt(2.0 / (fan_in + fan_out))
    assert abs(t.numpy().std() - std) < 0.02 * std and abs(t.numpy().mean()) < 0.02 * std


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming(mode):
    t = axonal.empty((400, 250))
    fan = 250 if mode == "fan_in" else 400
    init.kaiming_uniform_(t, mode=mode, nonlinearity="relu")
    bound = math.sqrt(2.0) * math.sqrt(3.0 / fan)
    a = t.numpy()
    assert np.abs(a).max() <= bound + 1e-6 and np.abs(a).max() > 0.98 * bound
    init.kaiming_normal_(t, a=0.1, mode=mode)
    std = math.sqrt(2.0 / (1 + 0.01)) / math.sqrt(fan)
    assert abs(t.numpy().std() - std) < 0.02 * std
    with pytest.raises(ValueError, match="fan_in"):
        init.kaiming_uniform_(t, mode="fan_avg")
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.kaiming_uniform_(axonal.empty(5))


@pytest.mark.parametrize("shape", [(6, 10), (10, 6), (4, 2, 3)])
def test_orthogonal(shape):
    t = axonal.empty(shape, dtype=axonal.float64)
    init.orthogonal_(t, gain=1.5)
    m = t.numpy().reshape(shape[0], -1)
    if m.shape[0] <= m.shape[1]:
        np.testing.assert_allclose(m @ m.T, 2.25 * np.eye(m.shape[0]), atol=1e-10)
    else:
        np.testing.assert_allclose(m.T @ m, 2.25 * np.eye(m.shape[1]), atol=1e-10)


def test_seeded_repeatability_and_generator():
    axonal.manual_seed(123)
    a = init.normal_(axonal.empty((4, 5))).numpy().copy()
    lin_a = nn.Linear(5, 3)
    axonal.manual_seed(123)
    b = init.normal_(axonal.empty((4, 5))).numpy().copy()
    lin_b = nn.Linear(5, 3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(lin_a.weight.numpy(), lin_b.weight.numpy())
    np.testing.assert_array_equal(lin_a.bias.numpy(), lin_b.bias.numpy())
    g1 = np.random.default_rng(5)
    g2 = np.random.default_rng(5)
    x = init.uniform_(axonal.empty(7), generator=g1).numpy().copy()
    y = init.uniform_(axonal.empty(7), generator=g2).numpy()
    np.testing.assert_array_equal(x, y)


def test_init_records_no_history():
    p = nn.Parameter(axonal.zeros((3, 3)))
    init.xavier_uniform_(p)
    assert p.is_leaf and p.grad_fn is None and p.requires_grad


def test_linear_default_init_bounds():
    lin = nn.Linear(400, 300)
    assert lin.weight.shape == (300, 400) and lin.bias.shape == (300,)
    bound = 1.0 / math.sqrt(400)
    w, b = lin.weight.numpy(), lin.bias.numpy()
    assert w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.98 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert np.abs(b).max() <= bound and b.std() > 0.4 * bound
