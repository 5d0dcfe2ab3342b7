"""F.pad in every mode and the padding layers against torch: values and gradients (reflect,
replicate, circular over 1-3 trailing dimensions, batched and unbatched; constant with negative
amounts cropping), module forms, float64 gradcheck, and torch's rules for bad sizes."""

import numpy as np
import pytest

import axonal
import axonal.nn as nn
import axonal.nn.functional as F
from axonal.autograd import gradcheck

CASES = [
    ((2, 3, 7), (1, 2)), ((2, 3, 7), (0, 3)), ((3, 7), (2, 6)),
    ((2, 3, 5, 6), (2, 1, 3, 0)), ((2, 3, 5, 6), (0, 0, 4, 4)), ((3, 5, 6), (2, 2, 1, 0)),
    ((1, 2, 3, 4, 5), (1, 1, 1, 2, 0, 2)),
]  # fmt: skip


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular", "constant"])
@pytest.mark.parametrize("shape,pad", CASES)
def test_matches_torch(shape, pad, mode):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal(shape)
    xa, xt = axonal.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    try:
        yt = torch.nn.functional.pad(xt, pad, mode)
    except (RuntimeError, NotImplementedError, ValueError):
        with pytest.raises(ValueError, match="pad: "):
            F.pad(xa, pad, mode)
        return
    ya = F.pad(xa, pad, mode)
    np.testing.assert_array_equal(ya.detach().numpy(), yt.detach().numpy())
    up = rng.standard_normal(tuple(yt.shape))
    (ya * axonal.tensor(up)).sum().backward()
    (yt * torch.tensor(up)).sum().backward()
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), atol=1e-12)


def test_reflect_by_hand_and_constant_crop():
    x = axonal.tensor([[[1.0, 2.0, 3.0, 4.0]]])
    assert F.pad(x, (2, 1), "reflect").numpy().tolist() == [[[3, 2, 1, 2, 3, 4, 3]]]
    assert F.pad(x, (2, 1), "replicate").numpy().tolist() == [[[1, 1, 1, 2, 3, 4, 4]]]
    assert F.pad(x, (2, 1), "circular").numpy().tolist() == [[[3, 4, 1, 2, 3, 4, 1]]]
    assert F.pad(x, (-1, 1), value=9.0).numpy().tolist() == [[[2, 3, 4, 9]]]


def test_modules_match_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 6)).astype(np.float32)
    x1 = x[:, :, 0]
    pairs = [
        ("ZeroPad2d", (1, 2, 0, 3), x), ("ConstantPad2d", 2, x),
        ("ReflectionPad2d", (1, 2, 3, 4), x),
        ("ReplicationPad2d", 3, x), ("CircularPad2d", (1, 0, 2, 5), x), ("ZeroPad1d", 2, x1),
        ("ConstantPad1d", (1, 3), x1), ("ReflectionPad1d", 4, x1), ("ReplicationPad1d", (0, 2), x1),
        ("CircularPad1d", 6, x1),
    ]  # fmt: skip
    for name, padding, inp in pairs:
        args = (padding, 2.5) if name.startswith("Constant") else (padding,)
        ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
        got = ours(axonal.tensor(inp))
        assert got.dtype == np.float32, name
        np.testing.assert_array_equal(got.numpy(), theirs(torch.tensor(inp)).numpy(), err_msg=name)


def test_gradcheck_float64():
    x = axonal.tensor(np.random.default_rng(1).standard_normal((1, 2, 3, 4)), requires_grad=True)
    for mode in ("reflect", "replicate", "circular"):
        assert gradcheck(lambda a, m=mode: F.pad(a, (2, 1, 1, 2), m) ** 2, (x,))


def test_errors():
    x = axonal.zeros(1, 2, 4, 4)
    with pytest.raises(ValueError, match="must be smaller than its size 4 for mode 'reflect'"):
        F.pad(x, (4, 0, 0, 0), "reflect")
    with pytest.raises(ValueError, match="must be at most its size 4 for mode 'circular'"):
        F.pad(x, (0, 0, 5, 0), "circular")
    with pytest.raises(ValueError, match="pads the last 1 dimension"):
        F.pad(x, (1, 1), "replicate")
    with pytest.raises(ValueError, match="takes no negative padding"):
        F.pad(x, (-1, 1, 0, 0), "replicate")
    with pytest.raises(ValueError, match="does not take a value"):
        F.pad(x, (1, 1, 1, 1), "reflect", value=1.0)
    with pytest.raises(ValueError, match="mode must be 'constant', 'reflect'"):
        F.pad(x, (1, 1), "mirror")
    with pytest.raises(ValueError, match="ReflectionPad2d: padding must be an int or a tuple of 4"):
        nn.ReflectionPad2d((1, 2))
    with pytest.raises(ValueError, match=r"ReplicationPad1d: expected a 2-D or 3-D input"):
        nn.ReplicationPad1d(1)(x)
