"""Sequential, ModuleList, ModuleDict, Identity, Flatten, Unflatten."""

from collections import OrderedDict

import numpy as np
import pytest

import axonal
from axonal import nn


def _x(rng, *shape):
    return axonal.tensor(rng.standard_normal(shape).astype(np.float32))


def test_sequential_indexing_slicing(rng):
    a, b, c = nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c
    assert list(seq) == [a, b, c]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[1] is b
    x = _x(rng, 5, 3)
    np.testing.assert_allclose(seq(x).numpy(), c(head(x)).numpy(), rtol=1e-6)
    with pytest.raises(IndexError, match="out of range for length 3"):
        seq[3]
    d = nn.Sigmoid()
    seq.append(d)
    assert len(seq) == 4 and seq[3] is d and list(seq.state_dict())[-1] == "2.bias"
    seq.insert(1, nn.Identity())
    assert isinstance(seq[1], nn.Identity) and seq[2] is b
    del seq[1]
    assert seq[1] is b and [n for n, _ in seq.named_children()] == ["0", "1", "2", "3"]
    seq[3] = nn.Tanh()
    assert isinstance(seq[3], nn.Tanh)
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.ReLU(), 3)


def test_sequential_ordered_dict(rng):
    seq = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3)), ("act", nn.Tanh())]))
    assert list(seq.state_dict()) == ["fc.weight", "fc.bias"]
    assert seq.fc is seq[0]
    y = seq(_x(rng, 4, 2))
    assert y.shape == (4, 3) and np.abs(y.numpy()).max() < 1


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3
    assert len(list(layers.parameters())) == 6
    layers.append(nn.Linear(2, 1))
    layers += [nn.ReLU()]
    assert len(layers) == 5 and isinstance(layers[-1], nn.ReLU)
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    layers.insert(0, nn.Identity())
    assert isinstance(layers[0], nn.Identity) and [n for n, _ in layers.named_children()][-1] == "5"
    del layers[0]
    assert isinstance(layers[-1], nn.ReLU) and len(layers) == 5
    assert repr(nn.ModuleList()) == "ModuleList()"
    with pytest.raises(NotImplementedError, match="forward"):
        layers(1)


def test_module_dict():
    d = nn.ModuleDict({"enc": nn.Linear(3, 2), "dec": nn.Linear(2, 3)})
    assert list(d.keys()) == ["enc", "dec"] and "enc" in d and len(d) == 2
    assert list(d.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    d["act"] = nn.ReLU()
    d.update([("out", nn.Sigmoid())])
    assert list(d) == ["enc", "dec", "act", "out"]
    assert isinstance(d.pop("act"), nn.ReLU) and "act" not in d
    with pytest.raises(KeyError, match="no module named 'zzz'"):
        d["zzz"]


def test_flatten_unflatten(rng):
    x = _x(rng, 2, 3, 4, 5)
    x.requires_grad_()
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Flatten(1, 2)(x).shape == (2, 12, 5)
    assert nn.Flatten(-2)(x).shape == (2, 3, 20)
    y = nn.Unflatten(1, (3, 4, 5))(nn.Flatten()(x))
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 1)
    assert nn.Unflatten(-1, (-1, 5))(_x(rng, 2, 10)).shape == (2, 2, 5)
    with pytest.raises(ValueError, match="cannot split dimension 1 of size 60"):
        nn.Unflatten(1, (7, 8))(nn.Flatten()(x))
    with pytest.raises(ValueError, match="start_dim"):
        nn.Flatten(2, 1)(x)
    with pytest.raises(TypeError, match="tuple of ints"):
        nn.Unflatten(1, 12)
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"


def test_identity(rng):
    x = _x(rng, 3)
    assert nn.Identity(54, unused="x")(x) is x
