"""InstanceNorm1d / InstanceNorm2d and F.instance_norm against torch: outputs, input and affine
gradients, running statistics over several steps and their use in eval mode, unbatched inputs;
float64 gradcheck; errors and the channel-count warning."""

import numpy as np
import pytest

import axonal
import axonal.nn as nn
import axonal.nn.functional as F
from axonal.autograd import gradcheck

OPTIONS = [{}, {"affine": True}, {"track_running_stats": True},
           {"affine": True, "track_running_stats": True, "momentum": 0.3}]  # fmt: skip


@pytest.mark.parametrize("kw", OPTIONS, ids=str)
@pytest.mark.parametrize(
    "name,shape",
    [("InstanceNorm2d", (3, 4, 5, 6)), ("InstanceNorm1d", (3, 4, 7)), ("InstanceNorm2d", (4, 5, 6)),
     ("InstanceNorm1d", (2, 4, 2))],
)  # fmt: skip
def test_matches_torch(name, shape, kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(shape) + len(kw))
    m, t = getattr(nn, name)(4, **kw).double(), getattr(torch.nn, name)(4, **kw).double()
    if kw.get("affine"):
        w, b = rng.standard_normal(4), rng.standard_normal(4)
        m.weight._data[...], m.bias._data[...] = w, b
        with torch.no_grad():
            t.weight.copy_(torch.tensor(w))
            t.bias.copy_(torch.tensor(b))
    for _ in range(3):
        x = rng.standard_normal(shape) * 2 + 1
        xa, xt = axonal.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ya, yt = m(xa), t(xt)
        np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), atol=1e-12)
        up = rng.standard_normal(shape)
        (ya * axonal.tensor(up)).sum().backward()
        (yt * torch.tensor(up)).sum().backward()
        np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), atol=1e-11)
    if kw.get("affine"):
        np.testing.assert_allclose(m.weight.grad.numpy(), t.weight.grad.numpy(), atol=1e-11)
        np.testing.assert_allclose(m.bias.grad.numpy(), t.bias.grad.numpy(), atol=1e-11)
    if kw.get("track_running_stats"):
        np.testing.assert_allclose(m.running_mean.numpy(), t.running_mean.numpy(), atol=1e-12)
        np.testing.assert_allclose(m.running_var.numpy(), t.running_var.numpy(), atol=1e-12)
        m.eval()
        t.eval()
        x = rng.standard_normal(shape)
        np.testing.assert_allclose(
            m(axonal.tensor(x)).numpy(), t(torch.tensor(x)).detach().numpy(), atol=1e-12
        )


def test_each_instance_is_standardised():
    x = axonal.tensor(np.random.default_rng(0).standard_normal((2, 3, 8, 8)) * 5 + 3)
    y = F.instance_norm(x).numpy()
    np.testing.assert_allclose(y.mean(axis=(2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(2, 3)), 1, atol=1e-4)  # eps = 1e-5


def test_gradcheck_float64():
    rng = np.random.default_rng(2)
    x = axonal.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    w = axonal.tensor(rng.standard_normal(3), requires_grad=True)
    b = axonal.tensor(rng.standard_normal(3), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), (x, w, b))


def test_errors_and_warning():
    with pytest.raises(ValueError, match=r"InstanceNorm2d: expected a 4-D input \(N, C, H, W\)"):
        nn.InstanceNorm2d(3)(axonal.zeros(3, 4))
    with pytest.raises(ValueError, match="InstanceNorm1d: expected 3 channels"):
        nn.InstanceNorm1d(3, affine=True)(axonal.zeros(2, 4, 5))
    with pytest.warns(UserWarning, match="has 4 channels, num_features is 3"):
        nn.InstanceNorm1d(3)(axonal.zeros(2, 4, 5))
    with pytest.raises(ValueError, match="instance_norm: expected an input .* with positions"):
        F.instance_norm(axonal.zeros(2, 4))
    with pytest.raises(ValueError, match="use_input_stats=False needs running_mean"):
        F.instance_norm(axonal.zeros(2, 4, 3), use_input_stats=False)
    with pytest.raises(ValueError, match="expected more than 1 spatial element"):
        nn.InstanceNorm1d(4)(axonal.zeros(2, 4, 1))  # as torch in training
    with pytest.raises(ValueError, match="num_features must be a positive int"):
        nn.InstanceNorm2d(0)
