"""Tensor creation and shape ops on bad sizes: an exception naming the op (PyTorch's type), never a
silently clipped, truncated or reinterpreted result."""

from __future__ import annotations

import numpy as np
import pytest

import axonal


@pytest.fixture
def a():
    return axonal.arange(12, dtype=axonal.float32).reshape(3, 4)


@pytest.mark.parametrize(
    "dim, start, length, exc",
    [
        (0, 2, 5, RuntimeError),  # sliced to rows 2..2: a (1, 4) tensor came back
        (1, 3, 2, RuntimeError),
        (0, 4, 0, IndexError),  # start past the end: an empty tensor came back
        (0, -4, 1, IndexError),  # start before the beginning: an empty tensor came back
        (0, 1, -1, RuntimeError),  # negative length: an empty tensor came back
    ],
)
def test_narrow_outside_the_dimension(a, dim, start, length, exc):
    with pytest.raises(exc, match="narrow: "):
        axonal.narrow(a, dim, start, length)


def test_narrow_valid_windows_unchanged(a):
    np.testing.assert_array_equal(axonal.narrow(a, 0, -1, 1).numpy(), a.numpy()[2:3])
    np.testing.assert_array_equal(a.narrow(1, 1, 3).numpy(), a.numpy()[:, 1:4])
    assert axonal.narrow(a, 0, 3, 0).shape == (0, 4)


@pytest.mark.parametrize("shape", [(-2, 6), (6, -3), (-3, 2, 2)])
def test_reshape_rejects_negative_sizes_other_than_minus_one(a, shape):
    # NumPy took any negative size as "infer": reshape(-2, 6) gave a (2, 6) tensor
    with pytest.raises(RuntimeError, match=r"reshape: .*\(3, 4\)"):
        a.reshape(*shape)
    with pytest.raises(RuntimeError, match="reshape: "):
        a.view(shape)


@pytest.mark.parametrize(
    "make",
    [
        lambda: axonal.zeros(2.5),  # int(2.5): a (2,) tensor
        lambda: axonal.ones((2, 3.7)),  # a (2, 3) tensor
        lambda: axonal.arange(6).reshape(2.0, 3),
        lambda: axonal.randn(2, 3).expand(2, 3.0),
    ],
)
def test_float_sizes_are_type_errors(make):
    with pytest.raises(TypeError, match="expected a shape of ints"):
        make()


def test_integer_like_sizes_still_work():
    assert axonal.zeros(np.int64(3)).shape == (3,)
    assert axonal.zeros(axonal.tensor(2), 3).shape == (2, 3)


@pytest.mark.parametrize(
    "make, op",
    [
        (lambda: axonal.randperm(-1), "randperm"),  # an empty permutation came back
        (lambda: axonal.eye(-1), "eye"),  # NumPy's "negative dimensions are not allowed"
        (lambda: axonal.eye(2, -1), "eye"),
        (lambda: axonal.linspace(0, 1, -1), "linspace"),  # NumPy's message, no op
        (lambda: axonal.logspace(0, 1, -2), "logspace"),
    ],
)
def test_negative_counts(make, op):
    with pytest.raises(RuntimeError, match=f"{op}: .*-"):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda: axonal.tensor(["a", "b"]),  # a tensor of dtype <U1 came back
        lambda: axonal.tensor(np.array([1, 2], dtype=object)),
        lambda: axonal.as_tensor(np.array([b"x"])),
        lambda: axonal.tensor(np.array(["2020-01-01"], dtype="datetime64[D]")),
    ],
)
def test_non_numeric_data_is_refused(make):
    with pytest.raises(TypeError, match=r"tensor: cannot build a tensor of dtype"):
        make()


def test_from_numpy_object_array_is_refused():
    with pytest.raises(TypeError, match=r"from_numpy: cannot build a tensor of dtype object"):
        axonal.from_numpy(np.array([object(), None]))


def test_numeric_strings_convert_with_an_explicit_dtype():
    assert axonal.tensor(["1.5", "2"], dtype=axonal.float32).tolist() == [1.5, 2.0]


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("dtype", [axonal.int64, axonal.float32, axonal.uint8])
def test_masked_fill_needs_a_boolean_mask(a, inplace, dtype):
    # out of place a nonzero entry counted as True; in place an int mask was an *index array*:
    # masked_fill_(tensor([[0, 1], [1, 0]]), v) overwrote whole rows 0 and 1
    mask = axonal.tensor([[0, 1, 1, 0]] * 3).to(dtype)
    fn = a.clone().masked_fill_ if inplace else a.masked_fill
    with pytest.raises(RuntimeError, match=r"masked_fill_?: only boolean masks"):
        fn(mask, -1.0)


def test_masked_fill_inplace_broadcasts_the_mask(a):
    # NumPy's boolean indexing wants the exact shape: IndexError for a broadcastable (4,) mask
    mask = axonal.tensor([True, False, False, True])
    expect = np.where(mask.numpy(), -1.0, a.numpy())
    np.testing.assert_array_equal(a.clone().masked_fill_(mask, -1.0).numpy(), expect)
    np.testing.assert_array_equal(a.masked_fill(mask, -1.0).numpy(), expect)
    with pytest.raises(RuntimeError, match=r"masked_fill_: mask of shape \(3, 5\)"):
        a.clone().masked_fill_(axonal.ones(3, 5, dtype=axonal.bool), 0.0)


@pytest.mark.parametrize("slope", ["a", None, [0.1], True])
def test_leaky_relu_slope_must_be_a_real_number(slope):
    import axonal.nn.functional as F

    with pytest.raises(TypeError, match="leaky_relu: negative_slope must be a real number"):
        F.leaky_relu(axonal.randn(3), slope)


def test_leaky_relu_accepts_numpy_and_int_slopes():
    import axonal.nn.functional as F

    x = axonal.tensor([-2.0, 3.0])
    np.testing.assert_allclose(F.leaky_relu(x, np.float32(0.5)).numpy(), [-1.0, 3.0])
    np.testing.assert_allclose(F.leaky_relu(x, 1).numpy(), [-2.0, 3.0])


def test_weighted_sampler_wants_one_weight_per_sample():
    from axonal.utils.data import WeightedRandomSampler

    with pytest.raises(ValueError, match=r"1-D sequence .* got shape \(2, 2\)"):
        WeightedRandomSampler([[1.0, 2.0], [3.0, 4.0]], 4)
    assert len(list(WeightedRandomSampler([1.0, 2.0, 3.0], 5))) == 5


def test_fused_adam_wants_equal_shapes_not_just_sizes():
    from axonal import _cpu

    p = np.zeros((2, 3), np.float32)
    args = (0.9, 0.999, 1e-8, 0.01, 1.0, 0.0, False, 1.0)
    with pytest.raises(ValueError, match=r"adam_update: grad has shape \(3, 2\)"):
        _cpu.adam_update(p, np.zeros((3, 2), np.float32), p.copy(), p.copy(), None, *args)


@pytest.mark.parametrize("op", ["gather", "index_select"])
@pytest.mark.parametrize("bad", [-1, -5, 5, 7])
def test_gather_and_index_select_reject_indices_outside_0_n(op, bad):
    # PyTorch raises for any index outside [0, n), negative ones included (NumPy and CuPy would
    # count those from the end, and CuPy's take wraps too-large ones silently)
    x = axonal.arange(10.0).reshape(2, 5)
    index = axonal.tensor([[0, bad], [1, 2]]) if op == "gather" else axonal.tensor([0, bad])
    with pytest.raises(
        IndexError, match=f"index {bad} is out of bounds for dimension 1 with size 5"
    ):
        getattr(axonal, op)(x, 1, index)
    torch = pytest.importorskip("torch")
    with pytest.raises((IndexError, RuntimeError)):
        getattr(torch, op)(torch.arange(10.0).reshape(2, 5), 1, torch.tensor(index.numpy()))


def test_index_select_takes_integer_indices_only():
    with pytest.raises(RuntimeError, match="index_select: index must be an integer tensor"):
        axonal.index_select(axonal.arange(4.0), 0, axonal.tensor([0.0, 1.0]))
    np.testing.assert_array_equal(
        axonal.index_select(axonal.arange(4.0), 0, axonal.tensor([3, 0, 3])).numpy(), [3, 0, 3]
    )
