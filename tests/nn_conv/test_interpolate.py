"""F.interpolate and nn.Upsample: PyTorch's sampling rules for 'nearest', 'nearest-exact',
'linear' and 'bilinear' (align_corners both ways, size or scale_factor, recompute_scale_factor),
values and gradients against torch, dtype kept, float64 gradcheck, errors naming the op."""

import numpy as np
import pytest

import axonal
import axonal.nn as nn
import axonal.nn.functional as F
from axonal.autograd import gradcheck

CASES_2D = [
    dict(size=(9, 4), mode="nearest"),
    dict(scale_factor=2, mode="nearest"),
    dict(scale_factor=1.7, mode="nearest"),
    dict(scale_factor=(0.5, 3), mode="nearest"),
    dict(size=(3, 11), mode="nearest-exact"),
    dict(size=(9, 13), mode="bilinear", align_corners=False),
    dict(size=(9, 13), mode="bilinear", align_corners=True),
    dict(size=(2, 3), mode="bilinear"),  # down-sampling
    dict(scale_factor=(2.5, 0.6), mode="bilinear"),
    dict(scale_factor=1.5, mode="bilinear", recompute_scale_factor=True),
    dict(size=(1, 1), mode="bilinear", align_corners=True),
]
CASES_1D = [
    dict(size=10, mode="linear"),
    dict(scale_factor=3, mode="linear", align_corners=True),
    dict(scale_factor=0.5, mode="linear"),
    dict(size=4, mode="nearest"),
    dict(size=13, mode="nearest-exact"),
]


@pytest.mark.parametrize("kw", CASES_2D + CASES_1D, ids=lambda kw: str(sorted(kw.items())))
def test_matches_torch(kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(len(str(kw)))
    one_d = kw["mode"] == "linear" or isinstance(kw.get("size"), int) and "scale_factor" not in kw
    x = rng.standard_normal((2, 3, 6) if one_d else (2, 3, 5, 7))
    xa, xt = axonal.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yt = F.interpolate(xa, **kw), torch.nn.functional.interpolate(xt, **kw)
    assert tuple(ya.shape) == tuple(yt.shape)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    up = rng.standard_normal(tuple(yt.shape))
    (ya * axonal.tensor(up)).sum().backward()
    (yt * torch.tensor(up)).sum().backward()
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_nearest_doubling_by_hand_and_dtype_kept():
    x = axonal.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    y = F.interpolate(x, scale_factor=2)
    assert y.dtype == np.float32
    assert y.numpy()[0, 0].tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    # bilinear with align_corners=True keeps the corners and interpolates between them
    z = F.interpolate(x, size=(3, 3), mode="bilinear", align_corners=True).numpy()[0, 0]
    np.testing.assert_allclose(z, [[1, 1.5, 2], [2, 2.5, 3], [3, 3.5, 4]])


def test_modules():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 5)).astype(np.float32)
    for ours, theirs in [
        (nn.Upsample(scale_factor=2, mode="bilinear"),
         torch.nn.Upsample(scale_factor=2, mode="bilinear")),
        (nn.UpsamplingNearest2d(size=(7, 3)), torch.nn.UpsamplingNearest2d(size=(7, 3))),
        (nn.UpsamplingBilinear2d(scale_factor=3), torch.nn.UpsamplingBilinear2d(scale_factor=3)),
    ]:  # fmt: skip
        np.testing.assert_allclose(
            ours(axonal.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-6, atol=1e-6
        )
    assert repr(nn.Upsample(scale_factor=2.0)) == "Upsample(scale_factor=2.0, mode='nearest')"


def test_gradcheck_float64():
    x = axonal.tensor(np.random.default_rng(1).standard_normal((1, 2, 3, 4)), requires_grad=True)
    assert gradcheck(lambda a: F.interpolate(a, size=(5, 7), mode="bilinear"), (x,))
    assert gradcheck(lambda a: F.interpolate(a, scale_factor=2), (x,))


def test_errors():
    x = axonal.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="mode must be one of"):
        F.interpolate(x, size=3, mode="trilinear")
    with pytest.raises(ValueError, match=r"mode 'linear' expects a 3-D \(N, C, L\) input"):
        F.interpolate(x, size=3, mode="linear")
    with pytest.raises(ValueError, match="align_corners only applies to the linear modes"):
        F.interpolate(x, size=3, align_corners=True)
    with pytest.raises(ValueError, match="size must be a positive int or 2 of them"):
        F.interpolate(x, size=(3, 0))
    with pytest.raises(ValueError, match="scaled by 0.1 is empty"):
        F.interpolate(x, scale_factor=0.1)
    with pytest.raises(NotImplementedError, match="bicubic"):
        F.interpolate(x, size=3, mode="bicubic")
    with pytest.raises(TypeError, match="interpolate: input must be floating point"):
        F.interpolate(axonal.zeros(1, 1, 2, 2, dtype=axonal.int64), size=3)
