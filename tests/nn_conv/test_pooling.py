"""max_pool2d / avg_pool2d / adaptive_avg_pool2d and their layers: PyTorch parity, gradcheck,
the classic worked example, errors."""

import numpy as np
import pytest
from cnn_helpers import compare

import axonal
from axonal import nn
from axonal.autograd import gradcheck
from axonal.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

DTYPES = [np.float32, np.float64]

MAX_CASES = [
    ((2, 3, 8, 7), dict(kernel_size=2)),
    ((2, 3, 8, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 2, 9, 10), dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), dilation=2)),
    ((2, 2, 5, 5), dict(kernel_size=2, stride=2, ceil_mode=True)),  # odd size: a partial window
    ((1, 1, 1, 1), dict(kernel_size=1)),
    ((0, 3, 4, 4), dict(kernel_size=2)),  # empty batch
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, kw", MAX_CASES)
def test_max_pool2d_matches_torch(rng, dtype, shape, kw):
    y, yt = compare(
        rng,
        lambda x: F.max_pool2d(x, **kw, return_indices=True),
        lambda x: TF.max_pool2d(x, **kw, return_indices=True),
        [shape],
        dtype,
        out_index=0,
    )
    # the indices (same inputs again: compare consumed the gradient only)
    x = rng.standard_normal(shape).astype(dtype)
    _, idx = F.max_pool2d(axonal.tensor(x), **kw, return_indices=True)
    _, idx_t = TF.max_pool2d(torch.tensor(x), **kw, return_indices=True)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx.numpy(), idx_t.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape, kw",
    [
        ((2, 3, 8, 7), dict(kernel_size=2)),
        ((2, 3, 8, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
        (
            (2, 3, 8, 7),
            dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
        ),
        ((1, 2, 6, 9), dict(kernel_size=(2, 4), stride=(3, 1), padding=(1, 2))),
        ((1, 2, 5, 5), dict(kernel_size=2, divisor_override=3)),
    ],
)
def test_avg_pool2d_matches_torch(rng, dtype, shape, kw):
    compare(rng, lambda x: F.avg_pool2d(x, **kw), lambda x: TF.avg_pool2d(x, **kw), [shape], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape, size", [((2, 3, 8, 7), 1), ((2, 3, 8, 7), (3, None)), ((1, 2, 5, 3), (4, 7))]
)
def test_adaptive_avg_pool2d_matches_torch(rng, dtype, shape, size):
    compare(
        rng,
        lambda x: F.adaptive_avg_pool2d(x, size),
        lambda x: TF.adaptive_avg_pool2d(x, size),
        [shape],
        dtype,
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_pool_layers_match_torch_unbatched(rng, dtype):
    for ours, theirs in [
        (nn.MaxPool2d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
        (nn.AvgPool2d(2, count_include_pad=False), torch.nn.AvgPool2d(2, count_include_pad=False)),
        (nn.AdaptiveAvgPool2d((2, 3)), torch.nn.AdaptiveAvgPool2d((2, 3))),
    ]:
        compare(rng, ours, theirs, [(3, 7, 6)], dtype)


def test_max_pool_worked_example():
    x = axonal.tensor(
        [[1, 3, 5, 3], [4, 2, 3, 1], [3, 1, 1, 3], [0, 1, 0, 4]], dtype=axonal.float32
    )
    x = x.reshape(1, 1, 4, 4).requires_grad_()
    y = nn.MaxPool2d(2, 2)(x)
    np.testing.assert_array_equal(y.numpy()[0, 0], [[4, 5], [3, 4]])
    y.sum().backward()
    want = np.zeros((4, 4))
    want[1, 0] = want[0, 2] = want[2, 0] = want[3, 3] = 1  # the gradient goes to each maximum
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], want)
    _, idx = nn.MaxPool2d(2, return_indices=True)(x)
    np.testing.assert_array_equal(idx.numpy()[0, 0], [[4, 2], [8, 15]])


def test_max_pool_stride_defaults_to_kernel_and_ceil_mode_shape():
    x = axonal.randn(2, 3, 7, 7)
    assert nn.MaxPool2d(2)(x).shape == (2, 3, 3, 3)
    assert nn.MaxPool2d(2, ceil_mode=True)(x).shape == (2, 3, 4, 4)
    assert nn.AvgPool2d(3, 2, ceil_mode=True)(x).shape == (2, 3, 3, 3)
    assert nn.AdaptiveAvgPool2d(1)(x).shape == (2, 3, 1, 1)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True),
        lambda x: F.max_pool2d(x, 2, 1, dilation=2),
        lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True),
        lambda x: F.avg_pool2d(x, 2, 1, 1, count_include_pad=False),
        lambda x: F.adaptive_avg_pool2d(x, (3, 2)),
    ],
)
def test_pool_gradcheck(rng, fn):
    # distinct values: max pooling is differentiable away from ties
    x = rng.permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) / 7.0
    assert gradcheck(fn, (axonal.tensor(x, requires_grad=True),))


def test_pool_errors():
    with pytest.raises(ValueError, match=r"MaxPool2d: padding \(2, 2\) must be at most half"):
        nn.MaxPool2d(3, padding=2)
    with pytest.raises(ValueError, match=r"MaxPool2d: input \(1, 1, 2, 2\) with padding \(0, 0\)"):
        nn.MaxPool2d(3)(axonal.randn(1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"AvgPool2d: expected a 4-D input .* got shape \(4, 4\)"):
        nn.AvgPool2d(2)(axonal.randn(4, 4))
    with pytest.raises(ValueError, match=r"AvgPool2d: stride must be positive"):
        nn.AvgPool2d(2, stride=0)
    with pytest.raises(ValueError, match=r"AdaptiveAvgPool2d: output_size must be positive"):
        nn.AdaptiveAvgPool2d((0, 2))(axonal.randn(1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"max_pool2d: kernel_size must be positive"):
        F.max_pool2d(axonal.randn(1, 1, 4, 4), 0)
