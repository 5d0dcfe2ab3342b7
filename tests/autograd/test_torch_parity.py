"""Forward and backward of every op against PyTorch on the same inputs.

float32 within 1e-5 relative, float64 within 1e-10 (elementwise, with an absolute floor scaled by
the magnitude of the reference so that values that cancel to ~0 compare sensibly).
"""

from __future__ import annotations

import numpy as np
import pytest
from op_cases import CASES
from test_gradcheck_ops import case_fn, make_input

import axonal

torch = pytest.importorskip("torch")

TOL = {np.float32: 1e-5, np.float64: 1e-10}


def assert_close(got, ref, tol, what):
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} != {ref.shape}"
    scale = max(1.0, float(np.abs(ref).max())) if ref.size else 1.0
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * scale, err_msg=what)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_matches_torch(case, dtype, rng):
    fn = case_fn(case, rng)
    tfn = case.torch_fn or fn
    arrays = [make_input(rng, s, case.domain, dtype) for s in case.shapes]
    xa = [axonal.tensor(a, requires_grad=True) for a in arrays]
    xt = [torch.tensor(a, requires_grad=True) for a in arrays]
    ya = fn(axonal, *xa)
    yt = tfn(torch, *xt)
    tol = TOL[dtype]
    assert ya.dtype == np.dtype(dtype), f"output dtype {ya.dtype}"
    assert_close(ya.numpy(), yt.detach().numpy(), tol, f"{case.name} forward")
    g = rng.standard_normal(tuple(yt.shape)).astype(dtype)
    ya.backward(axonal.tensor(g))
    yt.backward(torch.tensor(g))
    for i, (a, t) in enumerate(zip(xa, xt)):
        if t.grad is None:
            assert a.grad is None or not np.any(a.grad.numpy()), f"input {i}: unexpected grad"
            continue
        assert a.grad is not None, f"{case.name}: input {i} got no gradient"
        assert a.grad.dtype == np.dtype(dtype)
        assert a.grad.shape == tuple(t.shape)
        assert_close(a.grad.numpy(), t.grad.numpy(), tol, f"{case.name} grad of input {i}")


def test_max_min_with_dim_return_values_and_indices_like_torch(rng):
    a = rng.standard_normal((4, 6)).astype(np.float32)
    for op in ("max", "min"):
        va, ia = getattr(axonal.tensor(a), op)(dim=1)
        vt, it = getattr(torch.tensor(a), op)(dim=1)
        np.testing.assert_array_equal(va.numpy(), vt.numpy())
        np.testing.assert_array_equal(ia.numpy(), it.numpy())
        assert ia.dtype == axonal.int64
    np.testing.assert_array_equal(
        axonal.tensor(a).argmax(dim=0).numpy(), torch.tensor(a).argmax(dim=0).numpy()
    )
    np.testing.assert_array_equal(
        axonal.tensor(a).argmin(dim=1, keepdim=True).numpy(),
        torch.tensor(a).argmin(dim=1, keepdim=True).numpy(),
    )
    assert axonal.tensor(a).argmax().item() == torch.tensor(a).argmax().item()


def test_ties_share_gradient_like_torch():
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    b = np.array([[1.0, 0.0, 3.0], [5.0, 2.0, -1.0]])
    for fn in (
        lambda m, x, y: m.maximum(x, y),
        lambda m, x, y: m.minimum(x, y),
        lambda m, x, y: x.max() + y.amax(dim=1).sum(),
        lambda m, x, y: x.clamp(1.0, 2.0),
    ):
        xa, ya = (axonal.tensor(v, requires_grad=True) for v in (a, b))
        xt, yt = (torch.tensor(v, requires_grad=True) for v in (a, b))
        fn(axonal, xa, ya).sum().backward()
        fn(torch, xt, yt).sum().backward()
        np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy())
        if yt.grad is not None:
            np.testing.assert_allclose(ya.grad.numpy(), yt.grad.numpy())


def test_sort_topk_match_torch(rng):
    a = rng.standard_normal((3, 7))
    xa, xt = axonal.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    va, ia = axonal.topk(xa, 3, dim=1)
    vt, it = torch.topk(xt, 3, dim=1)
    np.testing.assert_array_equal(ia.numpy(), it.numpy())
    np.testing.assert_allclose(va.numpy(), vt.detach().numpy())
    sa = axonal.sort(xa, dim=0, descending=True)
    st = torch.sort(xt, dim=0, descending=True)
    np.testing.assert_array_equal(sa.indices.numpy(), st.indices.numpy())
    (va * 2).sum().backward()
    (vt * 2).sum().backward()
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy())


def test_comparisons_return_bool_without_grad(rng):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    xa = axonal.tensor(a, requires_grad=True)
    for op in ("__lt__", "__le__", "__gt__", "__ge__", "__eq__", "__ne__"):
        ra = getattr(xa, op)(axonal.tensor(b))
        rt = getattr(torch.tensor(a), op)(torch.tensor(b))
        assert ra.dtype == axonal.bool_ and not ra.requires_grad
        np.testing.assert_array_equal(ra.numpy(), rt.numpy())
    assert ((xa > 0) & (xa < 1)).dtype == axonal.bool_
    np.testing.assert_array_equal((~(xa > 0)).numpy(), a <= 0)


def test_float32_results_stay_float32_with_python_scalars(rng):
    x = axonal.tensor(rng.standard_normal(5).astype(np.float32), requires_grad=True)
    for y in (x + 1, 2 - x, x * 2.5, x / 3, 2.0 / (x * x + 1), x**2, 2**x, x.clamp(0, 1)):
        assert y.dtype == axonal.float32
    y = (x * np.float64(2.0)).sum()  # a NumPy scalar acts like a Python number
    assert y.dtype == axonal.float32
    y.backward()
    assert x.grad.dtype == axonal.float32
