"""The Tensor class: creation, dtypes, conversion, DLPack, printing, seeding, indexing."""

from __future__ import annotations

import numpy as np
import pytest

import axonal

torch = pytest.importorskip("torch")


# ----------------------------------------------------------------------------- creation
def test_tensor_infers_default_dtypes():
    assert axonal.tensor([1.0, 2.0]).dtype == axonal.float32
    assert axonal.tensor(3.5).dtype == axonal.float32 and axonal.tensor(3.5).shape == ()
    assert axonal.tensor([1, 2]).dtype == axonal.int64
    assert axonal.tensor([True, False]).dtype == axonal.bool_
    assert axonal.tensor([[1, 2.5]]).dtype == axonal.float32
    assert axonal.tensor(np.zeros(2, np.float64)).dtype == axonal.float64  # arrays keep dtype
    assert axonal.tensor([1, 2], dtype=axonal.float64).dtype == np.float64
    assert axonal.tensor([1, 2], dtype="float16").dtype == np.float16
    assert axonal.tensor([1, 2], dtype=torch.float64).dtype == np.float64
    assert axonal.float32 == np.dtype("float32") and axonal.bool == np.dtype(bool)
    assert axonal.Tensor([1, 2]).dtype == axonal.float32  # the float constructor, like torch
    arr = np.arange(3)
    assert axonal.Tensor(arr).numpy() is arr  # wraps an array without copying
    assert axonal.long == axonal.int64 and axonal.double == axonal.float64


def test_tensor_copies_but_as_tensor_and_from_numpy_share():
    a = np.arange(6.0).reshape(2, 3)
    t = axonal.tensor(a)
    a[0, 0] = 100
    assert t[0, 0].item() == 0
    s = axonal.from_numpy(a)
    s2 = axonal.as_tensor(a)
    a[1, 1] = -5
    assert s[1, 1].item() == -5 and s2[1, 1].item() == -5
    s.numpy()[0, 1] = 42  # .numpy() shares too
    assert a[0, 1] == 42
    with pytest.raises(TypeError):
        axonal.from_numpy([1, 2])
    nested = axonal.tensor([axonal.tensor([1.0, 2.0]), axonal.tensor([3.0, 4.0])])
    assert nested.shape == (2, 2)


@pytest.mark.parametrize("size", [(), (0,), (1,), (3, 0, 2), (2, 3)])
def test_factories_shapes_and_values(size):
    for f, v in ((axonal.zeros, 0), (axonal.ones, 1)):
        t = f(*size) if size else f(())
        assert t.shape == size and t.dtype == axonal.float32
        assert (t.numpy() == v).all()
    assert axonal.zeros(size).shape == size
    assert axonal.empty(size, dtype=axonal.int32).dtype == np.int32
    f = axonal.full(size, 2.5)
    assert f.shape == size and f.dtype == axonal.float32 and (f.numpy() == 2.5).all()
    assert axonal.full((2,), 3).dtype == axonal.int64
    assert axonal.full((2,), True).dtype == axonal.bool_
    ref = axonal.ones(size, dtype=axonal.float64)
    for fn in (
        axonal.zeros_like,
        axonal.ones_like,
        axonal.empty_like,
        axonal.rand_like,
        axonal.randn_like,
    ):
        t = fn(ref)
        assert t.shape == size and t.dtype == axonal.float64
    assert axonal.full_like(ref, 7).numpy().tolist() == np.full(size, 7.0).tolist()
    assert axonal.randint_like(ref, 3, 5).shape == size


def test_arange_linspace_eye_like_torch():
    cases = [
        ((5,), {}),
        ((2, 9, 3), {}),
        ((0.0, 1.0, 0.1), {}),
        ((1, 2.5, 0.5), {}),
        ((5, 0, -2), {}),
        ((3,), {"dtype": "float64"}),
    ]
    for args, kw in cases:
        a = axonal.arange(*args, **kw)
        t = torch.arange(*args, **{k: getattr(torch, v) for k, v in kw.items()})
        assert a.dtype.name == str(t.dtype).replace("torch.", "")
        np.testing.assert_allclose(a.numpy(), t.numpy(), rtol=1e-6)
    np.testing.assert_allclose(axonal.linspace(-1, 2, 7).numpy(), torch.linspace(-1, 2, 7).numpy())
    assert axonal.linspace(0, 1, 5).dtype == axonal.float32
    np.testing.assert_array_equal(axonal.eye(3, 4).numpy(), np.eye(3, 4))
    assert axonal.eye(2).dtype == axonal.float32


def test_requires_grad_at_creation():
    for t in (
        axonal.zeros(2, requires_grad=True),
        axonal.randn(2, requires_grad=True),
        axonal.tensor([1.0], requires_grad=True),
    ):
        assert t.requires_grad and t.is_leaf
    with pytest.raises(RuntimeError, match="floating point"):
        axonal.tensor([1, 2], requires_grad=True)


# ----------------------------------------------------------------------------- randomness
def test_manual_seed_makes_every_random_function_repeatable():
    def draw():
        return [
            axonal.rand(3, 4).numpy(),
            axonal.randn(5, dtype=axonal.float64).numpy(),
            axonal.randint(0, 10, (6,)).numpy(),
            axonal.randint(7, (2, 2)).numpy(),
            axonal.randperm(9).numpy(),
            axonal.normal(1.0, 2.0, (3,)).numpy(),
            axonal.bernoulli(axonal.full((8,), 0.5)).numpy(),
            axonal.empty(4).uniform_(-1, 1).numpy(),
            axonal.empty(4).normal_(0, 3).numpy(),
            axonal.rand_like(axonal.zeros(3)).numpy(),
        ]

    axonal.manual_seed(1234)
    first = draw()
    axonal.manual_seed(1234)
    second = draw()
    for a, b in zip(first, second):
        assert a.dtype == b.dtype
        assert a.tobytes() == b.tobytes()  # bitwise
    axonal.manual_seed(1235)
    third = draw()
    assert any(a.tobytes() != c.tobytes() for a, c in zip(first, third))


def test_generator_objects_and_state():
    gen = axonal.random.default_generator()
    cached = gen.np
    axonal.manual_seed(7)
    a = cached.random(3)
    axonal.manual_seed(7)
    assert (gen.np.random(3) == a).all()  # reseeded in place: cached references follow
    g = axonal.Generator().manual_seed(99)
    x = axonal.randn(4, generator=g)
    g.manual_seed(99)
    assert (axonal.randn(4, generator=g).numpy() == x.numpy()).all()
    state = axonal.get_rng_state()
    u = axonal.rand(3).numpy()
    axonal.set_rng_state(state)
    assert (axonal.rand(3).numpy() == u).all()
    r = axonal.rand(10000).numpy()
    assert r.min() >= 0 and r.max() < 1 and abs(r.mean() - 0.5) < 0.02
    n = axonal.randn(10000).numpy()
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1) < 0.05
    ri = axonal.randint(-3, 4, (5000,)).numpy()
    assert ri.min() == -3 and ri.max() == 3 and ri.dtype == np.int64
    assert sorted(axonal.randperm(20).tolist()) == list(range(20))


# ----------------------------------------------------------------------------- conversion
def test_numpy_item_tolist_array_and_scalars():
    t = axonal.tensor([[1.5, 2.0], [3.0, 4.0]])
    assert t.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert isinstance(t.numpy(), np.ndarray)
    assert np.asarray(t) is t.numpy()
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert t[0, 0].item() == 1.5 and isinstance(t[0, 0].item(), float)
    assert float(t[1, 1]) == 4.0 and int(axonal.tensor(3)) == 3
    with pytest.raises(RuntimeError, match="4 elements"):
        t.item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(t > 0)
    assert bool(axonal.tensor([1.0]))
    assert [1, 2, 3][axonal.tensor(1)] == 2  # __index__


def test_attributes_len_T_and_iteration(rng):
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    t = axonal.tensor(a)
    assert t.shape == (2, 3, 4) and t.ndim == 3 and t.dim() == 3 and len(t) == 2
    assert t.size() == (2, 3, 4) and t.size(-1) == 4 and t.numel() == 24
    assert t.dtype == np.float32 and t.device == "cpu" and t.device.type == "cpu"
    assert str(t.device) == "cpu" and not t.is_cuda
    np.testing.assert_array_equal(t.T.numpy(), a.T)
    np.testing.assert_array_equal(t.mT.numpy(), a.swapaxes(-1, -2))
    rows = list(t)
    assert len(rows) == 2 and rows[1].shape == (3, 4)
    with pytest.raises(TypeError):
        len(axonal.tensor(1.0))
    assert axonal.tensor([1.0, 2.0]).T.shape == (2,)


def test_to_and_casts(rng):
    t = axonal.tensor(rng.standard_normal(3), dtype=axonal.float64, requires_grad=True)
    f = t.float()
    assert f.dtype == axonal.float32 and f.requires_grad
    f.sum().backward()
    assert t.grad.dtype == axonal.float64
    assert t.to(axonal.float64) is t
    assert t.to("cpu") is t
    assert t.to(axonal.int64).dtype == np.int64
    assert t.to(dtype=axonal.float16).dtype == np.float16
    assert t.to(axonal.zeros(1)).dtype == np.float32
    assert t.long().dtype == np.int64 and t.int().dtype == np.int32 and t.bool().dtype == bool
    c = t.to(axonal.float64, copy=True)
    assert c is not t and not np.shares_memory(c.numpy(), t.numpy())
    if not axonal.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            t.cuda()


# ----------------------------------------------------------------------------- DLPack
def test_dlpack_with_numpy_shares_memory():
    t = axonal.arange(6.0).reshape(2, 3)
    assert t.__dlpack_device__() == (1, 0)
    n = np.from_dlpack(t)
    n[0, 0] = 50.0
    assert t[0, 0].item() == 50.0
    a = np.linspace(0, 1, 5)
    u = axonal.from_dlpack(a)
    a[2] = -1.0
    assert u[2].item() == -1.0 and u.dtype == np.float64


def test_dlpack_with_torch_shares_memory_both_ways():
    t = axonal.zeros(4)
    pt = torch.from_dlpack(t)
    pt[1] = 3.0
    assert t[1].item() == 3.0
    t.add_(1.0)  # and back
    assert pt.tolist() == [1.0, 4.0, 1.0, 1.0]
    src = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    a = axonal.from_dlpack(src)
    src[1, 2] = -7
    assert a[1, 2].item() == -7 and a.shape == (2, 3) and a.dtype == np.float32
    a.numpy()[0, 0] = 11
    assert src[0, 0].item() == 11
    needs_grad = torch.ones(2, requires_grad=True)
    assert axonal.from_dlpack(needs_grad).tolist() == [1.0, 1.0]
    assert torch.from_dlpack(axonal.tensor([True, False])).dtype == torch.bool


# ----------------------------------------------------------------------------- printing
def test_repr_like_torch():
    assert repr(axonal.tensor([[1.0, 2.0]], requires_grad=True)) == (
        "tensor([[1., 2.]], requires_grad=True)"
    )
    assert repr(axonal.tensor([0.1, 2.0])) == "tensor([0.1000, 2.0000])"
    assert repr(axonal.tensor(3.0)) == "tensor(3.)"
    assert repr(axonal.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(axonal.tensor([True, False])) == "tensor([ True, False])"
    assert repr(axonal.tensor([1.5], dtype=axonal.float64)) == (
        "tensor([1.5000], dtype=axonal.float64)"
    )
    x = axonal.tensor([1.0], requires_grad=True)
    assert repr(x * 2) == "tensor([2.], grad_fn=<MulScalarBackward>)"
    assert repr(axonal.zeros(0, 3)) == "tensor([], size=(0, 3))"
    big = repr(axonal.arange(2000.0))
    assert "..." in big and len(big) < 400
    for shape in ((2, 3), (2, 2, 2)):
        a = np.arange(float(np.prod(shape))).reshape(shape) / 4
        assert repr(axonal.tensor(a, dtype=axonal.float32)) == repr(
            torch.tensor(a, dtype=torch.float32)
        )
    assert f"{axonal.tensor(2.5):.1f}" == "2.5"


# ----------------------------------------------------------------------------- indexing
def test_indexing_forms_match_numpy(rng):
    a = rng.standard_normal((4, 5, 3)).astype(np.float32)
    t = axonal.tensor(a)
    idx = [
        1,
        -1,
        slice(1, 3),
        (slice(None), 2),
        (Ellipsis, 0),
        (None, 1),
        (1, slice(None, None, 2)),
        np.array([3, 0, 0]),
        ([1, 2], [0, 4]),
        a[..., 0] > 0,
        (slice(None), [4, 1]),
    ]
    for i in idx:
        np.testing.assert_array_equal(t[i].numpy(), a[i])
    np.testing.assert_array_equal(t[axonal.tensor([2, 1])].numpy(), a[[2, 1]])
    np.testing.assert_array_equal(t[axonal.tensor(a[:, 0, 0] > 0)].numpy(), a[a[:, 0, 0] > 0])
    with pytest.raises(IndexError, match=r"\(4, 5, 3\)"):
        t[7]


def test_basic_index_is_a_view_and_setitem(rng):
    t = axonal.zeros(3, 4)
    row = t[1]
    row.fill_(2.0)
    assert t.numpy()[1].tolist() == [2.0] * 4
    t[0, 1:3] = axonal.tensor([5.0, 6.0])
    t[t > 5] = -1.0
    assert t.numpy()[0].tolist() == [0.0, 5.0, -1.0, 0.0]
    t[:, 0] = 9
    assert t.numpy()[:, 0].tolist() == [9.0] * 3


def test_shape_op_helpers(rng):
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    t = axonal.tensor(a)
    assert t.view(6, 4).shape == (6, 4) and t.reshape(-1).shape == (24,)
    assert t.flatten().shape == (24,) and t.flatten(1).shape == (2, 12)
    assert t.unsqueeze(0).shape == (1, 2, 3, 4) and t.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert t.unsqueeze(1).squeeze(1).shape == (2, 3, 4)
    assert axonal.zeros(1, 3, 1).squeeze().shape == (3,)
    assert axonal.zeros(1, 3, 1).squeeze(0).shape == (3, 1)
    assert t.permute(2, 0, 1).shape == (4, 2, 3) and t.transpose(0, 2).shape == (4, 3, 2)
    assert axonal.zeros(3, 1).expand(3, 5).shape == (3, 5)
    assert axonal.zeros(3, 1).expand(-1, 5).shape == (3, 5)
    assert t.repeat(1, 2, 1).shape == (2, 6, 4)
    assert [c.shape for c in t.chunk(2, dim=2)] == [(2, 3, 2), (2, 3, 2)]
    assert [c.shape for c in axonal.chunk(axonal.zeros(5), 3)] == [(2,), (2,), (1,)]
    assert [s.shape for s in t.split([1, 2], dim=1)] == [(2, 1, 4), (2, 2, 4)]
    assert len(t.unbind(1)) == 3 and t.unbind(1)[0].shape == (2, 4)
    np.testing.assert_array_equal(axonal.cat([t, t], dim=-1).numpy(), np.concatenate([a, a], -1))
    np.testing.assert_array_equal(axonal.stack([t, t], dim=1).numpy(), np.stack([a, a], 1))
    np.testing.assert_array_equal(
        axonal.pad(t, (1, 0, 0, 2)).numpy(), np.pad(a, ((0, 0), (0, 2), (1, 0)))
    )
    np.testing.assert_array_equal(axonal.pad(t, (-1, -1)).numpy(), a[..., 1:-1])
    assert t.contiguous() is t and not t.T.is_contiguous() and t.T.contiguous().is_contiguous()


def test_numpy_interop_ufuncs_and_reverse_ops(rng):
    a = rng.standard_normal(3)
    t = axonal.tensor(a, requires_grad=True)
    y = np.exp(t)  # goes through axonal.exp (differentiable)
    assert isinstance(y, axonal.Tensor) and y.requires_grad
    z = np.ones(3) + t
    assert isinstance(z, axonal.Tensor) and z.requires_grad
    (y.sum() + z.sum()).backward()
    np.testing.assert_allclose(t.grad.numpy(), np.exp(a) + 1)
    assert isinstance(np.float64(2.0) * t, axonal.Tensor)
    w = 2 - t
    np.testing.assert_allclose(w.detach().numpy(), 2 - a)
    np.testing.assert_allclose((2**t).detach().numpy(), 2**a)
    np.testing.assert_allclose((1 / (t * t + 1)).detach().numpy(), 1 / (a * a + 1))


def test_integer_and_bool_ops_have_no_grad():
    i = axonal.tensor([5, 7, 9])
    assert (i // 2).tolist() == [2, 3, 4] and (i % 4).tolist() == [1, 3, 1]
    assert (i + 1).dtype == axonal.int64 and (i * 2).tolist() == [10, 14, 18]
    assert (i > 6).tolist() == [False, True, True]
    assert axonal.tensor([True, False]).sum().item() == 1
    assert i.sum().dtype == axonal.int64
    assert axonal.where(i > 6, i, 0).tolist() == [0, 7, 9]
    assert i.float().mean().item() == 7.0
