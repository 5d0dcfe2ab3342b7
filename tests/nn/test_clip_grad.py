"""Gradient clipping, weight penalties, parameters <-> vector."""

import math

import numpy as np
import pytest

import axonal
from axonal import nn
from axonal.nn import functional as F
from axonal.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    elastic_net_penalty,
    l1_penalty,
    l2_penalty,
    parameters_to_vector,
    vector_to_parameters,
)


def _params_with_grads(rng, dtype=np.float64):
    ps = []
    for shape in [(3, 4), (4,), (2, 2, 2)]:
        p = nn.Parameter(axonal.tensor(rng.standard_normal(shape).astype(dtype)))
        p.grad = axonal.tensor(rng.standard_normal(shape).astype(dtype) * 3)
        ps.append(p)
    return ps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm_matches_torch(rng, norm_type):
    torch = pytest.importorskip("torch")
    ps = _params_with_grads(rng)
    pts = []
    for p in ps:
        pt = torch.tensor(p.numpy(), requires_grad=True)
        pt.grad = torch.tensor(p.grad.numpy())
        pts.append(pt)
    total = clip_grad_norm_(ps, 1.5, norm_type=norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(pts, 1.5, norm_type=norm_type)
    assert total.item() == pytest.approx(total_t.item(), rel=1e-10)
    for p, pt in zip(ps, pts):
        np.testing.assert_allclose(p.grad.numpy(), pt.grad.numpy(), rtol=1e-10)
    # after clipping, the norm is (just under) max_norm
    flat = np.concatenate([p.grad.numpy().ravel() for p in ps])
    assert np.linalg.norm(flat, ord=norm_type) == pytest.approx(1.5, rel=1e-5)


def test_clip_grad_norm_no_op_below_threshold_and_nonfinite(rng):
    ps = _params_with_grads(rng, np.float32)
    before = [p.grad.numpy().copy() for p in ps]
    total = clip_grad_norm_(ps, 1e6)
    assert total.dtype == axonal.float32
    for p, b in zip(ps, before):
        np.testing.assert_array_equal(p.grad.numpy(), b)
    single = ps[0]
    assert clip_grad_norm_(single, 1e6).item() == pytest.approx(np.linalg.norm(before[0]), rel=1e-5)
    ps[1].grad._data[0] = np.nan
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    assert clip_grad_norm_([nn.Parameter(axonal.zeros(2))], 1.0).item() == 0.0
    with pytest.raises(ValueError, match="norm_type"):
        clip_grad_norm_(ps, 1.0, norm_type=-1)


def test_clip_grad_value(rng):
    ps = _params_with_grads(rng)
    raw = [p.grad.numpy().copy() for p in ps]
    clip_grad_value_(ps, 0.5)
    for p, r in zip(ps, raw):
        np.testing.assert_array_equal(p.grad.numpy(), np.clip(r, -0.5, 0.5))
    with pytest.raises(ValueError, match="non-negative"):
        clip_grad_value_(ps, -1)


def test_penalties_values_and_gradients(rng):
    ps = [nn.Parameter(axonal.tensor(rng.standard_normal(s))) for s in [(3, 2), (5,)]]
    flat = np.concatenate([p.numpy().ravel() for p in ps])
    assert l1_penalty(ps).item() == pytest.approx(np.abs(flat).sum(), rel=1e-12)
    assert l2_penalty(ps).item() == pytest.approx((flat**2).sum(), rel=1e-12)
    pen = elastic_net_penalty(ps, l1=0.3, l2=0.2)
    assert pen.item() == pytest.approx(0.3 * np.abs(flat).sum() + 0.2 * (flat**2).sum(), rel=1e-12)
    pen.backward()
    for p in ps:
        a = p.numpy()
        np.testing.assert_allclose(p.grad.numpy(), 0.3 * np.sign(a) + 0.4 * a, rtol=1e-12)
    assert F.l2_penalty is l2_penalty and F.elastic_net_penalty is elastic_net_penalty
    with pytest.raises(ValueError, match="no parameters"):
        l1_penalty([])
    with pytest.raises(ValueError, match="non-negative"):
        elastic_net_penalty(ps, -1.0, 0.0)


def test_l2_penalty_in_a_training_step(rng):
    model = nn.Linear(3, 1).double()
    x = axonal.tensor(rng.standard_normal((8, 3)))
    y = axonal.tensor(rng.standard_normal((8, 1)))
    loss = F.mse_loss(model(x), y) + 0.1 * l2_penalty(model.parameters())
    loss.backward()
    model2 = nn.Linear(3, 1).double()
    model2.load_state_dict(model.state_dict())
    F.mse_loss(model2(x), y).backward()
    np.testing.assert_allclose(
        model.weight.grad.numpy(),
        model2.weight.grad.numpy() + 0.2 * model.weight.numpy(),
        rtol=1e-12,
    )


def test_parameters_vector_round_trip(rng):
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    vec = parameters_to_vector(a.parameters())
    assert vec.shape == (8,)
    np.testing.assert_array_equal(vec.numpy()[:6], a.weight.numpy().ravel())
    vector_to_parameters(vec, b.parameters())
    np.testing.assert_array_equal(b.weight.numpy(), a.weight.numpy())
    np.testing.assert_array_equal(b.bias.numpy(), a.bias.numpy())
    with pytest.raises(ValueError, match="vec has 8 elements but the parameters need 3"):
        vector_to_parameters(vec, [nn.Parameter(axonal.zeros(3))])
