"""nn.ParameterList / nn.ParameterDict: registration (parameters(), named_parameters(),
state_dict, .double()), Tensors wrapped as Parameters, list and dict operations, training."""

import numpy as np
import pytest

import axonal
import axonal.nn as nn


class Mixture(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.means = nn.ParameterList([nn.Parameter(axonal.zeros(2)) for _ in range(k)])
        self.scales = nn.ParameterDict({"a": axonal.ones(1), "b": nn.Parameter(axonal.ones(1))})

    def forward(self, x):
        return sum(((x - m) ** 2).sum() for m in self.means) * self.scales["a"] * self.scales["b"]


def test_registration_and_state_dict():
    m = Mixture(3)
    names = [n for n, _ in m.named_parameters()]
    assert names == ["means.0", "means.1", "means.2", "scales.a", "scales.b"]
    assert isinstance(m.scales["a"], nn.Parameter) and m.scales["a"].requires_grad
    assert set(m.state_dict()) == set(names)
    m.double()
    assert all(p.dtype == np.float64 for p in m.parameters())


def test_list_and_dict_operations():
    pl = nn.ParameterList()
    pl.append(axonal.zeros(1))
    pl += [axonal.ones(2), axonal.ones(3)]
    assert len(pl) == 3 and tuple(pl[-1].shape) == (3,) and len(pl[1:]) == 2
    pl[0] = axonal.full((4,), 2.0)
    assert pl[0].numpy().tolist() == [2.0] * 4 and isinstance(pl[0], nn.Parameter)
    with pytest.raises(IndexError):
        pl[3]
    with pytest.raises(TypeError, match="ParameterList: values must be Parameters or Tensors"):
        pl.append(3.0)
    pd = nn.ParameterDict()
    pd.update([("x", axonal.zeros(1)), ("y", axonal.zeros(2))])
    assert list(pd) == ["x", "y"] and "y" in pd and len(pd) == 2
    del pd["x"]
    assert list(pd.keys()) == ["y"] and pd.get("x") is None
    with pytest.raises(KeyError, match="ParameterDict: no parameter named 'z'"):
        pd["z"]


def test_an_optimizer_trains_the_registered_parameters():
    m = Mixture(2)
    opt = axonal.optim.SGD(m.means.parameters(), lr=0.1)  # the list's own parameters
    x = axonal.tensor([1.0, -2.0])
    for _ in range(100):
        opt.zero_grad()
        loss = m(x)
        loss.backward()
        opt.step()
    for p in m.means:
        np.testing.assert_allclose(p.detach().numpy(), [1.0, -2.0], atol=1e-3)
