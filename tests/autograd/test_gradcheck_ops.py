"""Every differentiable op passes gradcheck (float64 central differences), broadcasting included."""

from __future__ import annotations

import numpy as np
import pytest
from op_cases import CASES

import axonal
from axonal.autograd import GradcheckError, gradcheck


def make_input(rng, shape, domain, dtype=np.float64):
    if domain == "pos":
        x = rng.uniform(0.5, 2.0, shape)
    elif domain == "away":
        x = rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    else:
        x = rng.standard_normal(shape)
    return np.asarray(x, dtype=dtype)


def special_fn(name, rng):
    """Cases whose function needs index tensors: the same index data for both libraries."""
    if name == "gather":
        idx = rng.integers(0, 5, (3, 4))
        return lambda m, a: m.gather(a, 1, m.tensor(idx)).exp()
    if name == "index_select":
        idx = np.array([2, 0, 2, 3])  # repeated index: gradients accumulate
        return lambda m, a: m.index_select(a, 0, m.tensor(idx)) * 2
    if name == "index_int_array":
        idx = np.array([4, 1, 1, 0])
        return lambda m, a: a[m.tensor(idx)].sin()
    if name == "index_bool":
        mask = rng.random((4, 3)) > 0.4
        return lambda m, a: a[m.tensor(mask)].exp()
    raise KeyError(name)


def case_fn(case, rng):
    return case.fn if case.fn is not None else special_fn(case.name, rng)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_gradcheck(case, rng):
    fn = case_fn(case, rng)
    xs = [axonal.tensor(make_input(rng, s, case.domain), requires_grad=True) for s in case.shapes]
    assert gradcheck(lambda *a: fn(axonal, *a), xs, eps=1e-6, atol=1e-5, rtol=1e-3)


def test_gradcheck_reports_max_difference():
    class BadExp(axonal.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return np.exp(a)

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return g * np.exp(a) * 1.1  # wrong by 10 %

    x = axonal.tensor(
        np.linspace(0.1, 1.0, 6).reshape(2, 3), requires_grad=True, dtype=axonal.float64
    )
    with pytest.raises(GradcheckError, match=r"max difference .* at index"):
        gradcheck(BadExp.apply, [x])
    assert gradcheck(BadExp.apply, [x], raise_exception=False) is False


def test_gradcheck_only_checks_inputs_that_require_grad(rng):
    a = axonal.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = axonal.tensor(rng.standard_normal((2, 3)))  # constant
    assert gradcheck(lambda x, y: (x * y).sum(dim=0), [a, b])


def test_gradcheck_multiple_outputs(rng):
    a = axonal.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    assert gradcheck(lambda x: axonal.split(x.exp(), [1, 3], dim=0), [a])
    assert gradcheck(lambda x: x.max(dim=1), [a])  # (values, indices): indices are skipped


def test_gradcheck_zero_size_and_scalar_inputs(rng):
    s = axonal.tensor(1.3, dtype=axonal.float64, requires_grad=True)
    assert gradcheck(lambda x: (x * x).exp(), [s])
    e = axonal.zeros(0, 3, dtype=axonal.float64, requires_grad=True)
    assert gradcheck(lambda x: x.sum(dim=0), [e])


NO_DOUBLE_BACKWARD = {
    "std_all", "std_dim", "prod_all", "prod_dim", "max_dim", "max_dim_keep", "min_dim",
    "logsumexp", "logsumexp_keep", "norm_all", "norm_dim", "norm_p3", "repeat",
    "repeat_more_dims", "gather", "index_select", "pad", "elu", "gelu", "gelu_tanh", "silu",
    "softplus",
}  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_gradgradcheck(case, rng):
    """Second derivatives (create_graph=True) for every op whose backward is differentiable;
    the others must refuse create_graph with a clear error."""
    fn = case_fn(case, rng)
    xs = [axonal.tensor(make_input(rng, s, case.domain), requires_grad=True) for s in case.shapes]
    if case.name in NO_DOUBLE_BACKWARD:
        with pytest.raises(RuntimeError, match="create_graph=True is not supported"):
            axonal.autograd.gradgradcheck(lambda *a: fn(axonal, *a), xs)
        return
    assert axonal.autograd.gradgradcheck(lambda *a: fn(axonal, *a), xs)
