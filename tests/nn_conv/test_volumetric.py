"""Volumetric layers for CT / MRI: Conv3d, BatchNorm3d, MaxPool3d, AvgPool3d, AdaptiveAvgPool3d
and their functional forms against torch (values and gradients over strides, paddings including
'same', dilations, groups, ceil_mode, count_include_pad; unbatched volumes), module parameters
and init, float64 gradcheck, a small 3-D CNN that trains, and errors naming the op."""

import numpy as np
import pytest

import axonal
import axonal.nn as nn
import axonal.nn.functional as F
from axonal.autograd import gradcheck

CONV = [
    (dict(), (3, 4, 3, 3, 3)),
    (dict(stride=2, padding=1), (6, 4, 3, 2, 3)),
    (dict(stride=(1, 2, 1), padding=(2, 0, 1), dilation=(2, 1, 1), groups=2), (4, 2, 3, 3, 2)),
    (dict(padding="same"), (3, 4, 2, 3, 4)),
    (dict(groups=4), (8, 1, 1, 3, 3)),  # depthwise, a 1-deep kernel
]


@pytest.mark.parametrize("kw,wshape", CONV, ids=[str(c[0]) for c in CONV])
@pytest.mark.parametrize("batched", [True, False])
def test_conv3d_matches_torch(kw, wshape, batched):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(str(kw)))
    x = rng.standard_normal((2, 4, 7, 6, 5) if batched else (4, 7, 6, 5))
    w, b = rng.standard_normal(wshape), rng.standard_normal(wshape[0])
    ta = [axonal.tensor(v, requires_grad=True) for v in (x, w, b)]
    tt = [torch.tensor(v, requires_grad=True) for v in (x, w, b)]
    ya, yt = F.conv3d(*ta, **kw), torch.nn.functional.conv3d(*tt, **kw)
    assert tuple(ya.shape) == tuple(yt.shape)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), atol=1e-12)
    up = rng.standard_normal(tuple(yt.shape))
    (ya * axonal.tensor(up)).sum().backward()
    (yt * torch.tensor(up)).sum().backward()
    for a, t in zip(ta, tt):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), atol=1e-11)


POOLS = [
    ("max_pool3d", dict(kernel_size=3, stride=2, padding=1)),
    ("max_pool3d", dict(kernel_size=(2, 3, 2), ceil_mode=True, dilation=(2, 1, 1))),
    ("max_pool3d", dict(kernel_size=2)),
    ("avg_pool3d", dict(kernel_size=3, stride=2, padding=1)),
    ("avg_pool3d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False,
                        ceil_mode=True)),
    ("avg_pool3d", dict(kernel_size=(2, 2, 2), ceil_mode=True)),
    ("adaptive_avg_pool3d", dict(output_size=(3, 4, 2))),
    ("adaptive_avg_pool3d", dict(output_size=(None, 1, 2))),
    ("adaptive_avg_pool3d", dict(output_size=1)),
]  # fmt: skip


@pytest.mark.parametrize("name,kw", POOLS, ids=[f"{p[0]}{p[1]}" for p in POOLS])
def test_pools_match_torch(name, kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(str(kw)))
    x = rng.standard_normal((2, 3, 7, 6, 5))
    xa, xt = axonal.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yt = getattr(F, name)(xa, **kw), getattr(torch.nn.functional, name)(xt, **kw)
    assert tuple(ya.shape) == tuple(yt.shape)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), atol=1e-12)
    up = rng.standard_normal(tuple(yt.shape))
    (ya * axonal.tensor(up)).sum().backward()
    (yt * torch.tensor(up)).sum().backward()
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), atol=1e-12)


def test_modules_match_torch():
    torch = pytest.importorskip("torch")
    axonal.manual_seed(0)
    conv = nn.Conv3d(2, 3, (3, 1, 3), stride=(2, 1, 1), padding=1, bias=True)
    tconv = torch.nn.Conv3d(2, 3, (3, 1, 3), stride=(2, 1, 1), padding=1)
    assert [tuple(p.shape) for p in conv.parameters()] == [(3, 2, 3, 1, 3), (3,)]
    assert np.abs(conv.weight.numpy()).max() <= 1 / np.sqrt(2 * 9)
    with torch.no_grad():
        tconv.weight.copy_(torch.tensor(conv.weight.numpy()))
        tconv.bias.copy_(torch.tensor(conv.bias.numpy()))
    x = np.random.default_rng(1).standard_normal((2, 2, 5, 4, 6)).astype(np.float32)
    bn, tbn = nn.BatchNorm3d(3), torch.nn.BatchNorm3d(3)
    for m in (nn.MaxPool3d(2, ceil_mode=True), nn.AvgPool3d(3, 1, 1), nn.AdaptiveAvgPool3d(2)):
        tm = getattr(torch.nn, type(m).__name__)(*{
            "MaxPool3d": (2, None, 0, 1, False, True), "AvgPool3d": (3, 1, 1),
            "AdaptiveAvgPool3d": (2,)}[type(m).__name__])  # fmt: skip
        ya = m(bn(conv(axonal.tensor(x))))
        yt = tm(tbn(tconv(torch.tensor(x))))
        np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(bn.running_var.numpy(), tbn.running_var.numpy(), rtol=1e-5)


def test_gradcheck_float64():
    rng = np.random.default_rng(2)
    x = axonal.tensor(rng.standard_normal((1, 2, 4, 3, 3)), requires_grad=True)
    w = axonal.tensor(rng.standard_normal((2, 2, 2, 2, 2)), requires_grad=True)
    assert gradcheck(lambda x, w: F.conv3d(x, w, stride=(2, 1, 1), padding=1), (x, w))
    assert gradcheck(lambda x: F.avg_pool3d(x, 2, 1, 1, count_include_pad=False), (x,))
    assert gradcheck(lambda x: F.max_pool3d(x, 2, 1), (x,))


def test_a_3d_cnn_trains_on_synthetic_volumes():
    # bright blob in the upper or lower half of an 8^3 volume: a tiny 3-D CNN separates them
    axonal.manual_seed(0)
    rng = np.random.default_rng(0)
    z = np.arange(8)[:, None, None]
    vols, labels = [], []
    for i in range(24):
        up = i % 2
        centre = rng.uniform(1, 3) if up else rng.uniform(5, 7)
        vols.append(np.exp(-((z - centre) ** 2) / 2.0) * np.ones((8, 8, 8)))
        labels.append(up)
    x = axonal.tensor(np.stack(vols)[:, None] + 0.1 * rng.standard_normal((24, 1, 8, 8, 8)))
    x = x.float()
    y = axonal.tensor(np.array(labels))
    model = nn.Sequential(
        nn.Conv3d(1, 4, 3, padding=1), nn.BatchNorm3d(4), nn.ReLU(), nn.MaxPool3d(2),
        nn.Conv3d(4, 4, 3, padding=1), nn.ReLU(), nn.AvgPool3d(2), nn.Flatten(),
        nn.Linear(4 * 8, 2),
    )  # fmt: skip
    opt = axonal.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(30):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    model.eval()
    assert (model(x).argmax(1).numpy() == y.numpy()).mean() == 1.0


def test_errors_name_the_op():
    x = axonal.zeros(1, 2, 4, 4, 4)
    with pytest.raises(ValueError, match=r"conv3d: input \(1, 2, 4, 4, 4\) has 2 channels"):
        F.conv3d(x, axonal.zeros(3, 3, 2, 2, 2))
    with pytest.raises(ValueError, match="conv3d: weight must be 5-D"):
        F.conv3d(x, axonal.zeros(3, 2, 2, 2))
    with pytest.raises(ValueError, match="is smaller than the kernel"):
        F.conv3d(x, axonal.zeros(3, 2, 5, 2, 2))
    with pytest.raises(ValueError, match=r"conv3d: expected a 5-D input"):
        F.conv3d(axonal.zeros(2, 4, 4), axonal.zeros(3, 2, 2, 2, 2))
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        F.conv3d(x, axonal.zeros(3, 2, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="max_pool3d: padding .* at most half of kernel_size"):
        F.max_pool3d(x, 2, padding=2)
    with pytest.raises(ValueError, match="avg_pool3d: input .* is smaller than the kernel"):
        F.avg_pool3d(x, 5)
    with pytest.raises(NotImplementedError, match="return_indices"):
        nn.MaxPool3d(2, return_indices=True)
    with pytest.raises(ValueError, match=r"BatchNorm3d: expected a 5-D input \(N, C, D, H, W\)"):
        nn.BatchNorm3d(2)(axonal.zeros(2, 2, 4, 4))
    with pytest.raises(ValueError, match="Conv3d: only padding_mode='zeros'"):
        nn.Conv3d(2, 2, 3, padding_mode="reflect")
