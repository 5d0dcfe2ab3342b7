"""ConvTranspose1d / ConvTranspose2d and F.conv_transpose1d / 2d: PyTorch's sizes, values and
gradients (input, weight, bias) over random geometries (stride, padding, output_padding beyond the
stride where dilation allows it, dilation, groups, unbatched inputs), forward(output_size), float64
gradcheck, parameter shapes and initialisation range, errors naming the layer and the shapes."""

import math

import numpy as np
import pytest

import axonal
import axonal.nn as nn
import axonal.nn.functional as F
from axonal.autograd import gradcheck

GEOMS = [
    # (cin, cout, groups, k, stride, padding, output_padding, dilation, H, W)
    (4, 6, 1, 3, 2, 1, 1, 1, 5, 6),
    (4, 6, 2, 3, 2, 0, 0, 1, 4, 4),
    (3, 3, 3, 2, 2, 0, 1, 1, 3, 5),  # depthwise
    (2, 4, 1, 3, 1, 1, 0, 2, 6, 6),
    (2, 2, 1, 3, 2, 1, 2, 3, 4, 4),  # output_padding 2 >= stride 2 (dilation 3 allows it)
    (1, 1, 1, 1, 1, 0, 0, 1, 1, 1),
    (5, 2, 1, 4, 3, 2, 2, 1, 3, 2),
]


@pytest.mark.parametrize("geom", GEOMS)
@pytest.mark.parametrize("nd", [2, 1])
def test_matches_torch(geom, nd):
    torch = pytest.importorskip("torch")
    cin, cout, g, k, s, p, op, d, H, W = geom
    rng = np.random.default_rng(sum(geom))
    xs = (2, cin, H, W) if nd == 2 else (2, cin, W)
    x = rng.standard_normal(xs)
    w = rng.standard_normal((cin, cout // g) + (k,) * nd)
    b = rng.standard_normal(cout)
    fa = F.conv_transpose2d if nd == 2 else F.conv_transpose1d
    ft = getattr(torch.nn.functional, fa.__name__)
    ta = [axonal.tensor(v, requires_grad=True) for v in (x, w, b)]
    tt = [torch.tensor(v, requires_grad=True) for v in (x, w, b)]
    ya, yt = fa(*ta, s, p, op, g, d), ft(*tt, s, p, op, g, d)
    assert tuple(ya.shape) == tuple(yt.shape)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    up = rng.standard_normal(tuple(yt.shape))
    (ya * axonal.tensor(up)).sum().backward()
    (yt * torch.tensor(up)).sum().backward()
    for a, t in zip(ta, tt):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-10)


def test_float32_unbatched_and_module_match_torch():
    torch = pytest.importorskip("torch")
    axonal.manual_seed(0)
    m = nn.ConvTranspose2d(3, 5, 3, stride=2, padding=1, output_padding=1, bias=True)
    t = torch.nn.ConvTranspose2d(3, 5, 3, stride=2, padding=1, output_padding=1)
    assert [tuple(p.shape) for p in m.parameters()] == [tuple(p.shape) for p in t.parameters()]
    with torch.no_grad():
        t.weight.copy_(torch.tensor(m.weight.numpy()))
        t.bias.copy_(torch.tensor(m.bias.numpy()))
    x = np.random.default_rng(1).standard_normal((3, 7, 6)).astype(np.float32)  # unbatched
    ya, yt = m(axonal.tensor(x)), t(torch.tensor(x))
    assert ya.dtype == np.float32 and tuple(ya.shape) == tuple(yt.shape) == (5, 14, 12)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-5)


def test_output_size_picks_the_output_padding():
    m = nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1)
    x = axonal.randn(1, 2, 5, 5)
    assert tuple(m(x).shape) == (1, 2, 9, 9)
    assert tuple(m(x, output_size=(10, 9)).shape) == (1, 2, 10, 9)
    assert tuple(m(x, output_size=[1, 2, 10, 10]).shape) == (1, 2, 10, 10)
    with pytest.raises(ValueError, match=r"requested output size \(12, 9\) is not between"):
        m(x, output_size=(12, 9))


def test_initialisation_range_as_torch():
    axonal.manual_seed(3)
    m = nn.ConvTranspose2d(16, 8, 4, groups=2)  # fan_in = 8 / 2 * 16 = 64
    bound = 1 / math.sqrt(64)
    w, b = m.weight.numpy(), m.bias.numpy()
    assert w.shape == (16, 4, 4, 4) and np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(b).max() <= bound


def test_gradcheck_float64():
    rng = np.random.default_rng(5)
    x = axonal.tensor(rng.standard_normal((1, 2, 3, 3)), requires_grad=True)
    w = axonal.tensor(rng.standard_normal((2, 2, 2, 3)), requires_grad=True)
    b = axonal.tensor(rng.standard_normal(2), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, (2, 1), (0, 1), (1, 0)), (x, w, b))


def test_upsampling_decoder_trains():
    # a conv / transposed-conv autoencoder learns to reproduce 8x8 blobs
    axonal.manual_seed(0)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:8, :8]
    imgs = np.stack(
        [np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 4.0) for cy, cx in rng.uniform(1, 6, (32, 2))]
    )[:, None].astype(np.float32)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(8, 8, 2, stride=2), nn.ReLU(), nn.Conv2d(8, 1, 3, padding=1),
    )  # fmt: skip
    opt = axonal.optim.Adam(model.parameters(), lr=0.01)
    x = axonal.tensor(imgs)
    first = None
    for _ in range(150):
        opt.zero_grad()
        loss = F.mse_loss(model(x), x)
        loss.backward()
        opt.step()
        first = first if first is not None else float(loss.item())
    assert float(loss.item()) < 0.1 * first


def test_errors_name_the_op_and_shapes():
    x = axonal.randn(1, 4, 5, 5)
    with pytest.raises(ValueError, match=r"conv_transpose2d: input \(1, 4, 5, 5\) has 4 channels"):
        F.conv_transpose2d(x, axonal.randn(3, 2, 3, 3))
    with pytest.raises(ValueError, match="output_padding .* must be smaller than either stride"):
        F.conv_transpose2d(x, axonal.randn(4, 2, 3, 3), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="in_channels 4 is not divisible by groups=3"):
        F.conv_transpose2d(x, axonal.randn(4, 2, 3, 3), groups=3)
    with pytest.raises(ValueError, match=r"bias shape \(3,\) != \(out_channels,\) = \(2,\)"):
        F.conv_transpose2d(x, axonal.randn(4, 2, 3, 3), axonal.randn(3))
    with pytest.raises(ValueError, match="gives an empty output"):
        F.conv_transpose2d(axonal.randn(1, 4, 1, 1), axonal.randn(4, 2, 1, 1), padding=1)
    with pytest.raises(ValueError, match="weight must be 4-D"):
        F.conv_transpose2d(x, axonal.randn(4, 2, 3))
    with pytest.raises(ValueError, match="ConvTranspose2d: out_channels=3 must be divisible"):
        nn.ConvTranspose2d(4, 3, 2, groups=2)
    with pytest.raises(ValueError, match="ConvTranspose1d: output_padding"):
        nn.ConvTranspose1d(4, 4, 2, stride=1, output_padding=1)
