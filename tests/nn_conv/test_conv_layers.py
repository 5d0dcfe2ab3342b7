"""conv1d / conv2d and the Conv1d / Conv2d layers: parity with PyTorch, gradcheck, errors."""

import math

import numpy as np
import pytest
from cnn_helpers import TOL, assert_grads_match, compare, copy_params

import axonal
from axonal import nn
from axonal.autograd import gradcheck
from axonal.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

DTYPES = [np.float32, np.float64]

# (x shape, w shape, bias, kwargs): odd sizes, strides, padding, dilation, groups, depthwise
CONV2D_CASES = [
    ((2, 3, 7, 6), (4, 3, 3, 3), True, {}),
    ((3, 4, 9, 8), (6, 2, 3, 2), True, dict(stride=(2, 1), padding=(1, 2), dilation=2, groups=2)),
    ((2, 4, 5, 5), (8, 1, 3, 3), False, dict(padding=1, groups=4)),  # depthwise, multiplier 2
    ((1, 3, 11, 7), (5, 3, 5, 1), True, dict(stride=3, padding=(2, 0))),
    ((2, 6, 6, 6), (6, 2, 1, 1), True, dict(groups=3)),  # grouped 1x1
    ((2, 3, 6, 7), (2, 3, 4, 2), True, dict(padding="same", dilation=(1, 3))),  # even: asymmetric
    ((2, 3, 6, 7), (2, 3, 3, 3), True, dict(padding="valid")),
    ((1, 1, 1, 1), (3, 1, 1, 1), True, {}),  # size 1
    ((0, 3, 5, 5), (4, 3, 3, 3), True, dict(padding=1)),  # empty batch
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")  # torch: even kernel, extra copy
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("xs, ws, bias, kw", CONV2D_CASES)
def test_conv2d_matches_torch(rng, dtype, xs, ws, bias, kw):
    shapes = [xs, ws] + ([(ws[0],)] if bias else [])

    def ours(x, w, b=None):
        return F.conv2d(x, w, b, **kw)

    def theirs(x, w, b=None):
        return TF.conv2d(x, w, b, **kw)

    compare(rng, ours, theirs, shapes, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv2d_unbatched_input(rng, dtype):
    compare(
        rng,
        lambda x, w: F.conv2d(x, w, padding=1),
        lambda x, w: TF.conv2d(x, w, padding=1),
        [(3, 6, 5), (2, 3, 3, 3)],
        dtype,
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "xs, ws, kw",
    [
        ((2, 3, 11), (5, 3, 3), dict(stride=2, padding=2, dilation=2)),
        ((3, 4, 8), (4, 1, 5), dict(padding="same", groups=4)),
        ((2, 2, 6), (3, 2, 6), {}),  # kernel as long as the input
    ],
)
def test_conv1d_matches_torch(rng, dtype, xs, ws, kw):
    compare(
        rng,
        lambda x, w, b: F.conv1d(x, w, b, **kw),
        lambda x, w, b: TF.conv1d(x, w, b, **kw),
        [xs, ws, (ws[0],)],
        dtype,
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv2d_module_padding_modes(rng, dtype, mode):
    tdt = torch.float32 if dtype is np.float32 else torch.float64
    ours = nn.Conv2d(3, 4, (3, 2), padding=(2, 1), padding_mode=mode, dtype=dtype)
    theirs = torch.nn.Conv2d(3, 4, (3, 2), padding=(2, 1), padding_mode=mode).to(tdt)
    copy_params(ours, theirs)
    compare(rng, ours, theirs, [(2, 3, 5, 6)], dtype)
    assert_grads_match(ours, theirs, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv1d_module_matches_torch(rng, dtype):
    tdt = torch.float32 if dtype is np.float32 else torch.float64
    ours = nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2, dtype=dtype)
    theirs = torch.nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2).to(tdt)
    copy_params(ours, theirs)
    compare(rng, ours, theirs, [(3, 4, 9)], dtype)
    assert_grads_match(ours, theirs, dtype)


def test_conv2d_module_shapes_and_repr():
    m = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
    assert tuple(m.weight.shape) == (8, 3, 3, 3) and m.bias is None
    assert m(axonal.randn(2, 3, 9, 9)).shape == (2, 8, 5, 5)
    assert "stride=(2, 2)" in repr(m) and "bias=False" in repr(m)
    dw = nn.Conv2d(6, 6, 3, padding="same", groups=6)
    assert tuple(dw.weight.shape) == (6, 1, 3, 3)
    assert dw(axonal.randn(1, 6, 4, 7)).shape == (1, 6, 4, 7)
    assert nn.Conv1d(2, 3, 4)(axonal.randn(5, 2, 10)).shape == (5, 3, 7)
    assert [n for n, _ in m.named_parameters()] == ["weight"]


def test_conv2d_default_init_is_torchs_distribution():
    # kaiming_uniform(a=sqrt(5)) == U(-1/sqrt(fan_in), 1/sqrt(fan_in)), bias from the same range
    axonal.manual_seed(0)
    m = nn.Conv2d(16, 64, 3, groups=2)
    fan_in = 8 * 9
    bound = 1 / math.sqrt(fan_in)
    w = m.weight.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    np.testing.assert_allclose(w.std(), bound / math.sqrt(3), rtol=0.05)
    assert abs(w.mean()) < 0.05 * bound
    b = m.bias.numpy()
    assert np.abs(b).max() <= bound and b.std() > 0.3 * bound
    axonal.manual_seed(0)
    np.testing.assert_array_equal(nn.Conv2d(16, 64, 3, groups=2).weight.numpy(), w)


def test_conv2d_float32_on_the_cpu_kernel_matches_float64(rng):
    # a bigger case than the parity tests: the kernel's tiling and threading paths
    x = rng.standard_normal((4, 16, 23, 19))
    w = rng.standard_normal((32, 16, 3, 3))
    y64 = F.conv2d(axonal.tensor(x), axonal.tensor(w), padding=1, stride=2).numpy()
    y32 = F.conv2d(
        axonal.tensor(x.astype(np.float32)),
        axonal.tensor(w.astype(np.float32)),
        padding=1,
        stride=2,
    ).numpy()
    ref = TF.conv2d(torch.tensor(x), torch.tensor(w), padding=1, stride=2).numpy()
    np.testing.assert_allclose(y64, ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(y32, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "xs, ws, kw",
    [
        ((2, 2, 5, 4), (3, 2, 3, 2), dict(stride=(2, 1), padding=1, bias=True)),
        ((1, 4, 5, 5), (4, 2, 2, 3), dict(dilation=(2, 1), groups=2, bias=True)),
        ((1, 2, 4, 5), (2, 2, 2, 2), dict(padding="same", bias=False)),
    ],
)
def test_conv2d_gradcheck(rng, xs, ws, kw):
    kw = dict(kw)
    use_bias = kw.pop("bias")
    x = axonal.tensor(rng.standard_normal(xs), requires_grad=True)
    w = axonal.tensor(rng.standard_normal(ws), requires_grad=True)
    b = axonal.tensor(rng.standard_normal(ws[0]), requires_grad=True) if use_bias else None
    inputs = (x, w, b) if use_bias else (x, w)
    assert gradcheck(lambda *a: F.conv2d(*a, **kw), inputs)


def test_conv1d_gradcheck(rng):
    x = axonal.tensor(rng.standard_normal((2, 2, 7)), requires_grad=True)
    w = axonal.tensor(rng.standard_normal((3, 2, 3)), requires_grad=True)
    b = axonal.tensor(rng.standard_normal(3), requires_grad=True)
    assert gradcheck(lambda *a: F.conv1d(*a, stride=2, padding=1), (x, w, b))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_mode_gradcheck(rng, mode):
    m = nn.Conv2d(2, 2, 3, padding=(2, 1), padding_mode=mode).double()
    x = axonal.tensor(rng.standard_normal((1, 2, 4, 3)), requires_grad=True)
    assert gradcheck(m, (x,))


def test_conv_falls_back_to_the_numpy_reference(rng, monkeypatch):
    # without the C++ entry points (an older extension) the NumPy reference runs instead
    from axonal.backend import cpu

    x = rng.standard_normal((2, 3, 6, 5))
    w = rng.standard_normal((4, 3, 3, 3))
    xt, wt = axonal.tensor(x, requires_grad=True), axonal.tensor(w, requires_grad=True)
    want = F.conv2d(xt, wt, padding=1)
    want.sum().backward()
    gx, gw = xt.grad.numpy().copy(), wt.grad.numpy().copy()
    for name in ("conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight"):
        monkeypatch.delattr(cpu, name)
    xt.grad = wt.grad = None
    got = F.conv2d(xt, wt, padding=1)
    got.sum().backward()
    np.testing.assert_allclose(got.numpy(), want.numpy(), **TOL[np.float64])
    np.testing.assert_allclose(xt.grad.numpy(), gx, **TOL[np.float64])
    np.testing.assert_allclose(wt.grad.numpy(), gw, **TOL[np.float64])


# ---------------------------------------------------------------------------- errors


def test_conv2d_error_kernel_larger_than_input():
    m = nn.Conv2d(3, 4, 7)
    with pytest.raises(ValueError) as e:
        m(axonal.randn(8, 3, 5, 5))
    assert str(e.value) == (
        "Conv2d: input (8, 3, 5, 5) with padding (0, 0) is smaller than the kernel (7, 7)"
    )
    with pytest.raises(ValueError, match=r"conv2d: .* smaller than the dilated kernel \(5, 5\)"):
        F.conv2d(axonal.randn(1, 1, 4, 4), axonal.randn(1, 1, 3, 3), dilation=2)
    with pytest.raises(ValueError, match=r"Conv1d: input \(2, 1, 3\) .* kernel \(4,\)"):
        nn.Conv1d(1, 1, 4)(axonal.randn(2, 1, 3))


def test_conv2d_error_channels_and_groups():
    with pytest.raises(ValueError, match="Conv2d: in_channels=6 must be divisible by groups=4"):
        nn.Conv2d(6, 8, 3, groups=4)
    with pytest.raises(ValueError, match="Conv2d: out_channels=6 must be divisible by groups=4"):
        nn.Conv2d(8, 6, 3, groups=4)
    with pytest.raises(
        ValueError,
        match=r"Conv2d: input \(2, 4, 5, 5\) has 4 channels, but weight \(8, 3, 3, 3\) "
        r"with groups=1 expects 3",
    ):
        nn.Conv2d(3, 8, 3)(axonal.randn(2, 4, 5, 5))


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        (dict(padding=-1), r"Conv2d: padding must be non-negative, got -1"),
        (dict(stride=0), r"Conv2d: stride must be positive, got 0"),
        (dict(padding="full"), r"Conv2d: padding must be 'valid', 'same'"),
        (dict(padding="same", stride=2), r"Conv2d: padding='same' is not supported for strided"),
        (dict(padding_mode="mirror"), r"Conv2d: padding_mode must be one of"),
        (dict(kernel_size=(3, 3, 3)), r"Conv2d: kernel_size must be an int or a tuple of 2 ints"),
    ],
)
def test_conv2d_error_bad_arguments(kwargs, msg):
    args = dict(in_channels=3, out_channels=4, kernel_size=3)
    args.update(kwargs)
    with pytest.raises(ValueError, match=msg):
        nn.Conv2d(**args)


def test_conv2d_error_rank_and_dtype():
    m = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match=r"Conv2d: expected a 4-D input .* got shape \(3, 5\)"):
        m(axonal.randn(3, 5))
    with pytest.raises(
        ValueError, match=r"Conv1d: expected a 3-D input .* got shape \(1, 2, 3, 4\)"
    ):
        nn.Conv1d(2, 2, 1)(axonal.randn(1, 2, 3, 4))
    with pytest.raises(TypeError, match="conv2d: dtypes differ: input float64, weight float32"):
        F.conv2d(axonal.randn(1, 3, 5, 5, dtype=axonal.float64), m.weight)
    with pytest.raises(ValueError, match=r"conv2d: weight must be 4-D"):
        F.conv2d(axonal.randn(1, 3, 5, 5), axonal.randn(3, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: bias shape \(3,\) != \(out_channels,\)"):
        F.conv2d(axonal.randn(1, 3, 5, 5), axonal.randn(4, 3, 3, 3), axonal.randn(3))


def test_conv2d_detects_weight_modified_before_backward():
    m = nn.Conv2d(2, 3, 3)
    y = m(axonal.randn(1, 2, 5, 5)).sum()
    with axonal.no_grad():
        m.weight.mul_(2.0)  # e.g. an optimizer step between forward and backward
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
