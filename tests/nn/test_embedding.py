"""nn.Embedding / F.embedding: PyTorch's lookup semantics and gradients (padding_idx,
scale_grad_by_freq, max_norm, from_pretrained), float64 gradcheck, errors naming the op."""

import numpy as np
import pytest

import axonal
import axonal.nn as nn
import axonal.nn.functional as F
from axonal.autograd import gradcheck


def test_lookup_shapes_and_init():
    axonal.manual_seed(0)
    e = nn.Embedding(7, 4, padding_idx=-1)
    assert e.padding_idx == 6 and tuple(e.weight.shape) == (7, 4) and e.weight.dtype == np.float32
    assert np.all(e.weight.numpy()[6] == 0) and np.all(e.weight.numpy()[:6] != 0)
    assert repr(e) == "Embedding(7, 4, padding_idx=6)"
    idx = axonal.tensor([[0, 6, 2], [2, 2, 5]])
    out = e(idx)
    assert tuple(out.shape) == (2, 3, 4)
    np.testing.assert_array_equal(out.numpy(), e.weight.numpy()[idx.numpy()])
    assert tuple(e(axonal.tensor(3)).shape) == (4,)  # a 0-d id
    assert tuple(e(axonal.tensor(np.zeros((0, 5), np.int64))).shape) == (0, 5, 4)


def test_weight_gradient_accumulates_repeated_ids_and_skips_padding():
    w = axonal.tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    idx = axonal.tensor([1, 3, 1, 0, 1])
    up = np.arange(15.0).reshape(5, 3)
    (F.embedding(idx, w, padding_idx=0) * axonal.tensor(up)).sum().backward()
    want = np.zeros((4, 3))
    for i, row in zip([1, 3, 1, 0, 1], up):
        if i != 0:
            want[i] += row
    np.testing.assert_allclose(w.grad.numpy(), want)


def test_gradcheck_float64():
    # (padding_idx and scale_grad_by_freq change the gradient on purpose: the torch tests below)
    rng = np.random.default_rng(0)
    w = axonal.tensor(rng.standard_normal((6, 3)), requires_grad=True)
    idx = axonal.tensor([[5, 0, 2], [2, 2, 4]])
    assert gradcheck(lambda w: (F.embedding(idx, w) ** 2).sum(), (w,))


@pytest.mark.parametrize(
    "kw",
    [{}, {"padding_idx": 1}, {"padding_idx": -2}, {"scale_grad_by_freq": True},
     {"max_norm": 1.0}, {"max_norm": 0.5, "norm_type": 1.0}, {"padding_idx": 0, "max_norm": 2.0,
                                                           "scale_grad_by_freq": True}],
)  # fmt: skip
def test_matches_torch(kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((9, 5)).astype(np.float32) * 2
    idx = rng.integers(0, 9, (4, 6))
    up = rng.standard_normal((4, 6, 5)).astype(np.float32)
    e = nn.Embedding(9, 5, **kw)
    t = torch.nn.Embedding(9, 5, **kw)
    with torch.no_grad():
        t.weight.copy_(torch.as_tensor(w0))
    e.weight._data[...] = w0
    out, tout = e(axonal.tensor(idx)), t(torch.as_tensor(idx))
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-6, atol=1e-6)
    (out * axonal.tensor(up)).sum().backward()
    (tout * torch.as_tensor(up)).sum().backward()
    np.testing.assert_allclose(e.weight.grad.numpy(), t.weight.grad.numpy(), rtol=1e-5, atol=1e-6)
    # max_norm renormalised the looked-up rows in place, as torch did
    np.testing.assert_allclose(e.weight.detach().numpy(), t.weight.detach().numpy(), rtol=1e-6)


def test_from_pretrained_freezes_by_default():
    w = axonal.tensor([[1.0, 2.0], [3.0, 4.0]])
    e = nn.Embedding.from_pretrained(w)
    assert not e.weight.requires_grad
    w._data[0, 0] = 9.0  # a copy: the module does not see later changes to the source
    np.testing.assert_array_equal(e(axonal.tensor([1, 0])).numpy(), [[3.0, 4.0], [1.0, 2.0]])
    e2 = nn.Embedding.from_pretrained(w, freeze=False, padding_idx=0)
    assert e2.weight.requires_grad and e2.padding_idx == 0
    assert [n for n, _ in e2.named_parameters()] == ["weight"]


def test_trains_with_an_optimizer():
    # ids 0..3 -> targets: an embedding + linear head learns the mapping
    axonal.manual_seed(1)
    model = nn.Sequential(nn.Embedding(4, 8), nn.Linear(8, 4))
    opt = axonal.optim.Adam(model.parameters(), lr=0.05)
    ids = axonal.tensor([0, 1, 2, 3] * 4)
    target = axonal.tensor([2, 0, 3, 1] * 4)
    for _ in range(60):
        opt.zero_grad()
        loss = F.cross_entropy(model(ids), target)
        loss.backward()
        opt.step()
    assert float(loss.item()) < 0.05
    assert model(ids).argmax(1).numpy().tolist() == target.numpy().tolist()


@pytest.mark.parametrize("bad", [-1, 5, 9])
def test_ids_out_of_range_raise(bad):
    e = nn.Embedding(5, 2)
    with pytest.raises(IndexError, match=f"embedding: index {bad} is out of bounds .* size 5"):
        e(axonal.tensor([0, bad]))


def test_bad_arguments_raise_clear_errors():
    e = nn.Embedding(5, 2)
    with pytest.raises(RuntimeError, match="embedding: indices must be an integer tensor"):
        e(axonal.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="padding_idx must be within num_embeddings"):
        nn.Embedding(5, 2, padding_idx=5)
    with pytest.raises(ValueError, match="num_embeddings must be a non-negative int"):
        nn.Embedding(-1, 2)
    with pytest.raises(NotImplementedError, match="sparse"):
        nn.Embedding(5, 2, sparse=True)
    with pytest.raises(ValueError, match="weight must be 2-D"):
        F.embedding(axonal.tensor([0]), axonal.zeros(5))
    with pytest.raises(TypeError, match="input must be a Tensor"):
        F.embedding([0, 1], e.weight)
