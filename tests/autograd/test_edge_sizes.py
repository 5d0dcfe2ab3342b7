"""Size-0 and size-1 shapes through forward and backward, compared with torch."""

from __future__ import annotations

import numpy as np
import pytest

import axonal

torch = pytest.importorskip("torch")

EDGE = [
    ("matmul_k0", lambda m, a, b: a @ b, [(3, 0), (0, 4)]),
    ("matmul_m0", lambda m, a, b: a @ b, [(0, 3), (3, 4)]),
    ("matmul_1x1", lambda m, a, b: a @ b, [(1, 1), (1, 1)]),
    ("batched_empty_batch", lambda m, a, b: a @ b, [(0, 2, 3), (3, 4)]),
    ("sum_empty_dim", lambda m, a: a.sum(dim=0), [(0, 3)]),
    ("add_bcast_empty", lambda m, a, b: a + b, [(0, 3), (3,)]),
    ("exp_empty", lambda m, a: m.exp(a), [(2, 0)]),
    ("softmax_rows0", lambda m, a: m.softmax(a, dim=1), [(0, 5)]),
    ("relu_scalar", lambda m, a: m.relu(a) * 3, [()]),
    ("cat_with_empty", lambda m, a, b: m.cat([a, b], dim=0), [(0, 3), (2, 3)]),
    ("mean_size1", lambda m, a: a.mean(dim=1), [(4, 1)]),
    ("var_size1_biased", lambda m, a: a.var(dim=1, unbiased=False), [(4, 1)]),
    ("max_dim_size1", lambda m, a: a.max(dim=0).values, [(1, 3)]),
    ("reshape_scalar", lambda m, a: a.reshape(1, 1) * 2, [()]),
    ("index_empty", lambda m, a: a[2:2] * 2, [(4, 3)]),
    ("prod_with_zero", lambda m, a: (a * (a > 0)).prod(dim=1), [(3, 4)]),
]


@pytest.mark.parametrize("name,fn,shapes", EDGE, ids=[e[0] for e in EDGE])
def test_edge_shapes_match_torch(name, fn, shapes, rng):
    arrays = [rng.standard_normal(s) for s in shapes]
    xa = [axonal.tensor(a, requires_grad=True) for a in arrays]
    xt = [torch.tensor(a, requires_grad=True) for a in arrays]
    ya, yt = fn(axonal, *xa), fn(torch, *xt)
    assert ya.shape == tuple(yt.shape)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(tuple(yt.shape))
    ya.backward(axonal.tensor(g))
    yt.backward(torch.tensor(g))
    for a, t in zip(xa, xt):
        assert a.grad.shape == tuple(t.shape)
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_mean_of_empty_is_nan_like_torch():
    assert np.isnan(axonal.zeros(0).mean().item())
    assert np.isnan(torch.zeros(0).mean().item())
