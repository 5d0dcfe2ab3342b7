"""The extra losses and distance helpers: parity with PyTorch (values and input gradients, every
reduction, float32 and float64), float64 gradcheck, numerical stability and clear errors."""

import math
import warnings

import numpy as np
import pytest

import axonal
from axonal.autograd import gradcheck
from axonal.nn import functional_loss_extra as FX
from axonal.nn import loss_extra as LX

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
REDUCTIONS = ["mean", "sum", "none"]
DTYPES = [np.float32, np.float64]


def _t(arr, requires_grad=False):
    return axonal.tensor(arr, requires_grad=requires_grad)


def _tt(arr, requires_grad=False):
    return torch.tensor(arr, requires_grad=requires_grad)


def _compare(ours, theirs, arrays, rng, dtype, grad=None, tol=None):
    """Call both on the same data; forward values equal (and the dtype kept), then a backward
    with a random upstream gradient gives equal gradients for the inputs flagged in ``grad``
    (default: every floating array)."""
    tol = TOL[dtype] if tol is None else tol
    if grad is None:
        grad = [np.asarray(a).dtype.kind == "f" for a in arrays]
    xs = [_t(a, g) for a, g in zip(arrays, grad)]
    xts = [_tt(a, g) for a, g in zip(arrays, grad)]
    out, out_t = ours(*xs), theirs(*xts)
    assert out.shape == tuple(out_t.shape)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out.detach().numpy(), out_t.detach().numpy(), **tol)
    g = np.asarray(rng.standard_normal(out.shape)).astype(dtype)
    out.backward(_t(g))
    out_t.backward(torch.from_numpy(g))
    checked = 0
    for x, xt, need in zip(xs, xts, grad):
        if need:
            np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), **tol)
            checked += 1
    assert checked == sum(grad)


def _signs(rng, shape, dtype=np.float64):
    return np.where(rng.uniform(size=shape) < 0.5, -1.0, 1.0).astype(dtype)


# ---------------------------------------------------------------- kl_div


@pytest.mark.filterwarnings("ignore:.*batchmean")  # reduction='mean' warns in both libraries
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(rng, dtype, reduction, log_target):
    logp = np.log(rng.dirichlet(np.ones(5), size=4)).astype(dtype)
    q = rng.dirichlet(np.ones(5), size=4)
    if log_target:
        target = np.log(q).astype(dtype)
        grad = [True, True]  # the target gradient too
    else:
        q[0, 1] = q[2, 3] = 0.0  # zero targets contribute 0 (xlogy)
        target = q.astype(dtype)
        grad = [True, False]  # torch's target gradient is nan at 0 (see test below)
    _compare(
        lambda a, b: FX.kl_div(a, b, reduction=reduction, log_target=log_target),
        lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target),
        [logp, target],
        rng,
        dtype,
        grad=grad,
    )


def test_kl_div_target_gradient_and_zero_targets(rng):
    logp = np.log(rng.dirichlet(np.ones(4), size=3))
    q = rng.dirichlet(np.ones(4), size=3)
    _compare(  # a strictly positive target: the target gradient matches torch's too
        lambda a, b: FX.kl_div(a, b, reduction="sum"),
        lambda a, b: TF.kl_div(a, b, reduction="sum"),
        [logp, q],
        rng,
        np.float64,
    )
    q[1, 2] = 0.0
    x, t = _t(logp, True), _t(q, True)
    loss = FX.kl_div(x, t, reduction="none")
    assert loss.numpy()[1, 2] == 0.0  # 0 * log 0 is 0, not nan
    ref = np.where(q > 0, q * (np.log(np.where(q > 0, q, 1)) - logp), 0.0)
    np.testing.assert_allclose(loss.numpy(), ref, rtol=1e-12, atol=1e-15)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), -q, rtol=1e-12)
    assert np.isfinite(t.grad.numpy()).all()  # torch gives nan at the zero target


def test_kl_div_reductions_and_warning(rng):
    logp = _t(np.log(rng.dirichlet(np.ones(3), size=6)))
    q = _t(rng.dirichlet(np.ones(3), size=6))
    total = FX.kl_div(logp, q, reduction="sum").item()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # batchmean, sum and none do not warn
        assert FX.kl_div(logp, q, reduction="batchmean").item() == pytest.approx(total / 6)
        assert FX.kl_div(logp, q, reduction="none").shape == (6, 3)
    with pytest.warns(UserWarning, match="batchmean"):
        assert FX.kl_div(logp, q).item() == pytest.approx(total / 18)
    # a 0-d input: batchmean is the sum
    a, b = _t(np.array(-0.7)), _t(np.array(0.4))
    ref = TF.kl_div(_tt(np.array(-0.7)), _tt(np.array(0.4)), reduction="batchmean").item()
    assert FX.kl_div(a, b, reduction="batchmean").item() == pytest.approx(ref, rel=1e-12)
    m = LX.KLDivLoss(reduction="batchmean", log_target=True)
    assert repr(m) == "KLDivLoss(log_target=True, reduction='batchmean')"
    ref = torch.nn.KLDivLoss(reduction="batchmean", log_target=True)(
        _tt(logp.numpy()), _tt(np.log(q.numpy()))
    )
    assert m(logp, q.log()).item() == pytest.approx(ref.item(), rel=1e-12)


# ---------------------------------------------------------------- gaussian_nll_loss

VAR_SHAPES = [(5, 4), (5,), (5, 1), (1, 4)]  # same, one dim fewer, last dim 1, one dim 1


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("var_shape", VAR_SHAPES, ids=str)
def test_gaussian_nll_matches_torch(rng, dtype, reduction, full, var_shape):
    mu = rng.standard_normal((5, 4)).astype(dtype)
    y = rng.standard_normal((5, 4)).astype(dtype)
    var = rng.uniform(0.1, 2.0, var_shape).astype(dtype)
    var.flat[0] = 1e-9  # below eps: clamped, the gradient still flows (as in torch)
    _compare(
        lambda a, b, v: FX.gaussian_nll_loss(a, b, v, full=full, reduction=reduction),
        lambda a, b, v: TF.gaussian_nll_loss(a, b, v, full=full, reduction=reduction),
        [mu, y, var],
        rng,
        dtype,
        tol=dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else None,  # 1/var ~ 1e6
    )


@pytest.mark.parametrize("full", [False, True])
def test_gaussian_nll_float_var_and_module(rng, full):
    mu, y = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    ours = FX.gaussian_nll_loss(_t(mu), _t(y), 0.3, full=full, reduction="none")
    ref = TF.gaussian_nll_loss(_tt(mu), _tt(y), 0.3, full=full, reduction="none")
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-12)
    expected = 0.5 * (np.log(0.3) + (mu - y) ** 2 / 0.3) + (0.5 * math.log(2 * math.pi) * full)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-12)
    m = LX.GaussianNLLLoss(full=full, eps=1e-3, reduction="sum")
    theirs = torch.nn.GaussianNLLLoss(full=full, eps=1e-3, reduction="sum")
    var = rng.uniform(0, 2e-3, 3)
    assert m(_t(mu), _t(y), _t(var)).item() == pytest.approx(
        theirs(_tt(mu), _tt(y), _tt(var)).item(), rel=1e-12
    )
    with pytest.raises(TypeError):
        LX.GaussianNLLLoss(True)  # keyword-only, as in torch


def test_gaussian_nll_errors():
    x = axonal.zeros((4, 3))
    with pytest.raises(ValueError, match="gaussian_nll_loss: var has negative entry"):
        FX.gaussian_nll_loss(x, x, _t(np.array([1.0, -0.1, 1.0, 1.0])))
    with pytest.raises(ValueError, match="gaussian_nll_loss: var has negative entry"):
        FX.gaussian_nll_loss(x, x, -1.0)
    for shape in [(4, 2), (3,), (1, 1, 3), (4, 3, 1)]:
        with pytest.raises(ValueError, match=r"gaussian_nll_loss: var is of incorrect size"):
            FX.gaussian_nll_loss(x, x, axonal.ones(shape))
    with pytest.raises(ValueError, match="reduction"):
        FX.gaussian_nll_loss(x, x, axonal.ones((4, 3)), reduction="avg")


# ---------------------------------------------------------------- poisson_nll_loss


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_matches_torch(rng, dtype, reduction, log_input, full):
    rate = rng.uniform(0.05, 4.0, (6, 3))
    x = (np.log(rate) if log_input else rate).astype(dtype)
    counts = rng.poisson(rate).astype(dtype)
    counts[0, :3] = [0.0, 1.0, 2.0]  # the Stirling term applies to targets > 1 only
    _compare(
        lambda a, b: FX.poisson_nll_loss(a, b, log_input, full, reduction=reduction),
        lambda a, b: TF.poisson_nll_loss(a, b, log_input, full, reduction=reduction),
        [x, counts],
        rng,
        dtype,
        grad=[True, False],  # torch's target gradient is nan at 0 with full=True
    )


def test_poisson_nll_full_term_and_module(rng):
    t = np.array([0.0, 1.0, 2.0, 7.0])
    x = _t(np.zeros(4))
    base = FX.poisson_nll_loss(x, _t(t), reduction="none").numpy()
    full = FX.poisson_nll_loss(x, _t(t), full=True, reduction="none").numpy()
    stirling = t * np.log(np.maximum(t, 1)) - t + 0.5 * np.log(2 * np.pi * np.maximum(t, 1))
    np.testing.assert_allclose(full - base, np.where(t > 1, stirling, 0.0), rtol=1e-12, atol=0)
    counts = _t(rng.poisson(2.0, (5, 2)).astype(np.int64))  # integer counts keep float32
    x32 = _t(rng.standard_normal((5, 2)).astype(np.float32), True)
    loss = FX.poisson_nll_loss(x32, counts, full=True)
    assert loss.dtype == np.float32
    loss.backward()
    assert np.isfinite(x32.grad.numpy()).all()
    m = LX.PoissonNLLLoss(log_input=False, full=True, eps=1e-4, reduction="sum")
    assert repr(m) == "PoissonNLLLoss(log_input=False, full=True, eps=0.0001, reduction='sum')"
    theirs = torch.nn.PoissonNLLLoss(log_input=False, full=True, eps=1e-4, reduction="sum")
    r, c = rng.uniform(0.1, 3, (4, 3)), rng.poisson(2.0, (4, 3)).astype(float)
    assert m(_t(r), _t(c)).item() == pytest.approx(theirs(_tt(r), _tt(c)).item(), rel=1e-12)


# ---------------------------------------------------------------- cosine_embedding_loss


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3, -0.2])
def test_cosine_embedding_matches_torch(rng, dtype, reduction, margin):
    a = rng.standard_normal((6, 4)).astype(dtype)
    b = rng.standard_normal((6, 4)).astype(dtype)
    y = np.array([1, -1, 1, -1, -1, 1])
    _compare(
        lambda p, q: FX.cosine_embedding_loss(p, q, _t(y), margin=margin, reduction=reduction),
        lambda p, q: TF.cosine_embedding_loss(
            p, q, torch.tensor(y), margin=margin, reduction=reduction
        ),
        [a, b],
        rng,
        dtype,
        tol=dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else None,
    )


def test_cosine_embedding_single_pair_zero_vectors_and_module(rng):
    a, b = rng.standard_normal(5), rng.standard_normal(5)
    for y in (1, -1):
        ours = FX.cosine_embedding_loss(_t(a), _t(b), _t(np.array(y)), margin=0.1)
        ref = TF.cosine_embedding_loss(_tt(a), _tt(b), torch.tensor(y), margin=0.1)
        assert ours.shape == () and ours.item() == pytest.approx(ref.item(), rel=1e-12)
    # a zero vector: cosine 0 (no 0/0), the loss and gradients as torch's
    z = np.zeros((2, 3))
    z[1] = [0.5, -1.0, 2.0]
    w = rng.standard_normal((2, 3))
    _compare(
        lambda p, q: FX.cosine_embedding_loss(p, q, _t(np.array([1, -1])), reduction="none"),
        lambda p, q: TF.cosine_embedding_loss(p, q, torch.tensor([1, -1]), reduction="none"),
        [z, w],
        rng,
        np.float64,
        tol=dict(rtol=1e-7, atol=1e-9),  # the zero row's gradient is ~1e6 (|x|^2 + 1e-12)
    )
    assert FX.cosine_embedding_loss(_t(z), _t(w), _t(np.array([1, 1])), reduction="none").numpy()[
        0
    ] == pytest.approx(1.0)
    m = LX.CosineEmbeddingLoss(margin=0.2, reduction="sum")
    assert repr(m) == "CosineEmbeddingLoss(margin=0.2, reduction='sum')"
    theirs = torch.nn.CosineEmbeddingLoss(margin=0.2, reduction="sum")
    y = np.array([1, -1, -1, 1])
    p, q = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    assert m(_t(p), _t(q), _t(y)).item() == pytest.approx(
        theirs(_tt(p), _tt(q), torch.tensor(y)).item(), rel=1e-12
    )


# ---------------------------------------------------------------- margin_ranking_loss


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_margin_ranking_matches_torch(rng, dtype, reduction, margin):
    a = rng.standard_normal(8).astype(dtype)
    b = rng.standard_normal(8).astype(dtype)
    y = _signs(rng, 8, dtype)
    _compare(
        lambda p, q, r: FX.margin_ranking_loss(p, q, r, margin=margin, reduction=reduction),
        lambda p, q, r: TF.margin_ranking_loss(p, q, r, margin=margin, reduction=reduction),
        [a, b, y],
        rng,
        dtype,
        grad=[True, True, False],
    )


def test_margin_ranking_int_target_and_module(rng):
    a = _t(rng.standard_normal(5).astype(np.float32))
    b = _t(rng.standard_normal(5).astype(np.float32))
    y = np.array([1, -1, 1, 1, -1])
    loss = FX.margin_ranking_loss(a, b, _t(y), margin=0.1)
    assert loss.dtype == np.float32  # an int64 target does not promote to float64
    ref = TF.margin_ranking_loss(_tt(a.numpy()), _tt(b.numpy()), torch.tensor(y), margin=0.1)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-6)
    m = LX.MarginRankingLoss(margin=0.1, reduction="none")
    np.testing.assert_allclose(
        m(a, b, _t(y)).numpy(),
        torch.nn.MarginRankingLoss(margin=0.1, reduction="none")(
            _tt(a.numpy()), _tt(b.numpy()), torch.tensor(y)
        ).numpy(),
        rtol=1e-6,
    )


# ---------------------------------------------------------------- triplet_margin_loss


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [2, 1, 3.0], ids=str)
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_margin_matches_torch(rng, dtype, reduction, p, swap):
    anchor = rng.standard_normal((7, 4)).astype(dtype)
    pos = (anchor + 0.8 * rng.standard_normal((7, 4))).astype(dtype)
    neg = (anchor + rng.standard_normal((7, 4))).astype(dtype)
    _compare(
        lambda a, b, c: FX.triplet_margin_loss(a, b, c, 1.5, p, swap=swap, reduction=reduction),
        lambda a, b, c: TF.triplet_margin_loss(a, b, c, 1.5, p, swap=swap, reduction=reduction),
        [anchor, pos, neg],
        rng,
        dtype,
        tol=dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else None,
    )


def test_triplet_swap_changes_the_loss_and_module(rng):
    a = np.zeros((1, 2))
    p = np.array([[3.0, 0.0]])
    n = np.array([[2.5, 0.0]])  # closer to the positive than to the anchor
    plain = FX.triplet_margin_loss(_t(a), _t(p), _t(n), eps=0.0).item()
    swapped = FX.triplet_margin_loss(_t(a), _t(p), _t(n), eps=0.0, swap=True).item()
    assert plain == pytest.approx(1.0 + 3.0 - 2.5)
    assert swapped == pytest.approx(1.0 + 3.0 - 0.5)
    m = LX.TripletMarginLoss(margin=0.5, p=1, swap=True, reduction="sum")
    assert repr(m) == "TripletMarginLoss(margin=0.5, p=1, swap=True, reduction='sum')"
    theirs = torch.nn.TripletMarginLoss(margin=0.5, p=1, swap=True, reduction="sum")
    x, y, z = (rng.standard_normal((5, 3)) for _ in range(3))
    assert m(_t(x), _t(y), _t(z)).item() == pytest.approx(
        theirs(_tt(x), _tt(y), _tt(z)).item(), rel=1e-12
    )


# ---------------------------------------------------------------- hinge / soft margin


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [1.0, 0.4])
def test_hinge_embedding_matches_torch(rng, dtype, reduction, margin):
    x = (rng.standard_normal((5, 4)) * 1.5).astype(dtype)
    y = _signs(rng, (5, 4), dtype)
    y[0, 0] = 0.0  # neither +1 nor -1: both terms, as in torch
    _compare(
        lambda a, b: FX.hinge_embedding_loss(a, b, margin=margin, reduction=reduction),
        lambda a, b: TF.hinge_embedding_loss(a, b, margin=margin, reduction=reduction),
        [x, y],
        rng,
        dtype,
        grad=[True, False],
    )
    m = LX.HingeEmbeddingLoss(margin=margin, reduction=reduction)
    ours = m(_t(x), _t(y.astype(np.int64)))
    ref = torch.nn.HingeEmbeddingLoss(margin=margin, reduction=reduction)(_tt(x), _tt(y))
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("tshape", [(6, 3), (6, 1), (3,)], ids=str)
def test_soft_margin_matches_torch(rng, dtype, reduction, tshape):
    x = (rng.standard_normal((6, 3)) * 3).astype(dtype)
    y = _signs(rng, tshape, dtype)
    _compare(
        lambda a, b: FX.soft_margin_loss(a, b, reduction=reduction),
        lambda a, b: TF.soft_margin_loss(a, b, reduction=reduction),
        [x, y],
        rng,
        dtype,
        grad=[True, False],
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_soft_margin_is_stable_for_huge_margins(dtype):
    x = _t(np.array([-1e4, 1e4, 0.0, 800.0, 30.0, -25.0], dtype=dtype), True)
    y = _t(np.array([1.0, -1.0, 1.0, -1.0, 1.0, 1.0], dtype=dtype))
    loss = LX.SoftMarginLoss(reduction="none")(x, y)
    exact = [math.log1p(math.exp(-30.0)), 25.0 + math.log1p(math.exp(-25.0))]
    expected = [1e4, 1e4, math.log(2.0), 800.0] + exact
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-6 if dtype == np.float32 else 1e-14)
    loss.sum().backward()
    g = x.grad.numpy()
    assert np.isfinite(g).all()
    np.testing.assert_allclose(g[:4], [-1.0, 1.0, -0.5, 1.0], rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weight", [None, "class", "full"])
def test_multilabel_soft_margin_matches_torch(rng, dtype, reduction, weight):
    x = (rng.standard_normal((6, 4)) * 3).astype(dtype)
    y = (rng.uniform(size=(6, 4)) < 0.4).astype(dtype)
    kw, kw_t = dict(reduction=reduction), dict(reduction=reduction)
    if weight is not None:
        w = rng.uniform(0.2, 2.0, 4 if weight == "class" else (6, 4)).astype(dtype)
        kw["weight"], kw_t["weight"] = _t(w), _tt(w)
    _compare(
        lambda a, b: FX.multilabel_soft_margin_loss(a, b, **kw),
        lambda a, b: TF.multilabel_soft_margin_loss(a, b, **kw_t),
        [x, y],
        rng,
        dtype,
    )


def test_multilabel_soft_margin_stable_and_module(rng):
    x = _t(np.array([[-1e4, 1e4, 0.0, 900.0]], dtype=np.float32), True)
    y = _t(np.array([[1.0, 0.0, 1.0, 0.0]], dtype=np.float32))
    loss = FX.multilabel_soft_margin_loss(x, y, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [(2e4 + math.log(2.0) + 900.0) / 4], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[-0.25, 0.25, -0.125, 0.25]], rtol=1e-6)
    w = rng.uniform(0.5, 2.0, 3)
    m = LX.MultiLabelSoftMarginLoss(weight=_t(w))
    assert [n for n, _ in m.named_buffers()] == ["weight"]
    theirs = torch.nn.MultiLabelSoftMarginLoss(weight=_tt(w))
    a, b = rng.standard_normal((5, 3)), (rng.uniform(size=(5, 3)) < 0.5).astype(float)
    assert m(_t(a), _t(b)).item() == pytest.approx(theirs(_tt(a), _tt(b)).item(), rel=1e-12)


# ---------------------------------------------------------------- multi_margin_loss


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_multi_margin_matches_torch(rng, dtype, reduction, p, weighted):
    x = rng.standard_normal((7, 5)).astype(dtype)
    target = rng.integers(0, 5, 7)
    kw, kw_t = dict(p=p, margin=0.8, reduction=reduction), dict(p=p, margin=0.8)
    kw_t["reduction"] = reduction
    if weighted:
        w = rng.uniform(0.2, 2.0, 5).astype(dtype)
        kw["weight"], kw_t["weight"] = _t(w), _tt(w)
    _compare(
        lambda a: FX.multi_margin_loss(a, _t(target), **kw),
        lambda a: TF.multi_margin_loss(a, torch.tensor(target), **kw_t),
        [x],
        rng,
        dtype,
    )


@pytest.mark.parametrize("tshape", [(), (1,)], ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multi_margin_single_sample(rng, tshape, reduction):
    x = rng.standard_normal(4)
    t = np.full(tshape, 2, dtype=np.int64)
    _compare(
        lambda a: FX.multi_margin_loss(a, _t(t), p=2, reduction=reduction),
        lambda a: TF.multi_margin_loss(a, torch.tensor(t), p=2, reduction=reduction),
        [x],
        rng,
        np.float64,
    )


def test_multi_margin_value_and_module(rng):
    x = np.array([[0.1, 0.2, 0.4, 0.8]])
    # (1 - 0.8 + 0.1) + (1 - 0.8 + 0.2) + (1 - 0.8 + 0.4), over 4 classes
    ours = FX.multi_margin_loss(_t(x), _t(np.array([3])))
    assert ours.item() == pytest.approx(1.3 / 4, rel=1e-12)
    # margin - x[y] + x[j] == 0 exactly: no loss and no gradient there (only > 0 counts)
    ties = np.array([[1.0, 0.0, 0.5, -2.0], [0.25, 1.25, 0.0, 0.75]])
    for p in (1, 2):
        _compare(
            lambda a, p=p: FX.multi_margin_loss(a, _t(np.array([0, 1])), p=p, reduction="sum"),
            lambda a, p=p: TF.multi_margin_loss(a, torch.tensor([0, 1]), p=p, reduction="sum"),
            [ties],
            rng,
            np.float64,
        )
    x = _t(ties, True)
    FX.multi_margin_loss(x, _t(np.array([0, 1])), reduction="sum").backward()
    np.testing.assert_array_equal(
        x.grad.numpy(), [[-0.25, 0.0, 0.25, 0.0], [0.0, -0.25, 0.0, 0.25]]
    )
    w = rng.uniform(0.5, 2, 3)
    m = LX.MultiMarginLoss(p=2, margin=0.5, weight=_t(w), reduction="sum")
    assert repr(m) == "MultiMarginLoss(p=2, margin=0.5, reduction='sum')"
    assert "weight" in dict(m.named_buffers())
    theirs = torch.nn.MultiMarginLoss(p=2, margin=0.5, weight=_tt(w), reduction="sum")
    a, t = rng.standard_normal((6, 3)), rng.integers(0, 3, 6)
    assert m(_t(a), _t(t)).item() == pytest.approx(
        theirs(_tt(a), torch.tensor(t)).item(), rel=1e-12
    )


# ---------------------------------------------------------------- helpers


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shapes,dim", [(((5, 4), (5, 4)), 1), (((5, 4), (4,)), -1), (((3, 4, 2), (3, 1, 2)), 1)]
)
def test_cosine_similarity_matches_torch(rng, dtype, shapes, dim):
    a, b = (rng.standard_normal(s).astype(dtype) for s in shapes)
    _compare(
        lambda p, q: FX.cosine_similarity(p, q, dim=dim),
        lambda p, q: TF.cosine_similarity(p, q, dim=dim),
        [a, b],
        rng,
        dtype,
        tol=dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else None,
    )


def test_cosine_similarity_zero_vectors_and_module(rng):
    a = rng.standard_normal((3, 4))
    a[1] = 0.0
    b = rng.standard_normal((3, 4))
    b[2] = 0.0
    out = FX.cosine_similarity(_t(a), _t(b))
    assert out.numpy()[1] == 0.0 and out.numpy()[2] == 0.0
    a[0] *= 1e-5  # 0 < norm < eps below: clamped, its gradient still flows
    # the norm is clamped at eps without masking its gradient: torch's (large) gradient
    _compare(
        lambda p, q: FX.cosine_similarity(p, q, eps=1e-3),
        lambda p, q: TF.cosine_similarity(p, q, eps=1e-3),
        [a, b],
        rng,
        np.float64,
    )
    m = LX.CosineSimilarity(dim=0, eps=1e-6)
    assert repr(m) == "CosineSimilarity(dim=0, eps=1e-06)"
    ref = torch.nn.CosineSimilarity(dim=0, eps=1e-6)(_tt(a), _tt(b))
    np.testing.assert_allclose(m(_t(a), _t(b)).numpy(), ref.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, float("inf")], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shapes", [((5, 3), (5, 3)), ((5, 3), (3,)), ((4,), (4,))], ids=str)
def test_pairwise_distance_matches_torch(rng, dtype, p, keepdim, shapes):
    a, b = (rng.standard_normal(s).astype(dtype) for s in shapes)
    _compare(
        lambda x, y: FX.pairwise_distance(x, y, p=p, eps=1e-4, keepdim=keepdim),
        lambda x, y: TF.pairwise_distance(x, y, p=p, eps=1e-4, keepdim=keepdim),
        [a, b],
        rng,
        dtype,
        tol=dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-12),
    )


def test_pairwise_distance_module_and_p0(rng):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    b[0] = a[0] + 1e-6  # x1 - x2 + eps == 0 there: p=0 counts 2 non-zero entries only
    b[0, 1] = 5.0
    m = LX.PairwiseDistance(p=0, eps=1e-6, keepdim=True)
    assert m.norm == 0 and repr(m) == "PairwiseDistance(p=0, eps=1e-06, keepdim=True)"
    x = _t(a, True)
    out = m(x, _t(b))
    ref = torch.nn.PairwiseDistance(p=0, eps=1e-6, keepdim=True)(_tt(a), _tt(b))
    np.testing.assert_array_equal(out.numpy(), ref.numpy())
    out.sum().backward()
    assert np.all(x.grad.numpy() == 0)  # a count: zero gradient, as torch
    m2 = LX.PairwiseDistance()
    ref = torch.nn.PairwiseDistance()(_tt(a), _tt(b))
    np.testing.assert_allclose(m2(_t(a), _t(b)).numpy(), ref.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, 0), (float("inf"), -1), (3.0, 1)], ids=str)
def test_normalize_matches_torch(rng, dtype, p, dim):
    x = rng.standard_normal((4, 5)).astype(dtype)
    x[2] = 0.0  # a zero row stays zero
    _compare(
        lambda a: FX.normalize(a, p=p, dim=dim),
        lambda a: TF.normalize(a, p=p, dim=dim),
        [x],
        rng,
        dtype,
        tol=dict(rtol=1e-4, atol=1e-6) if dtype == np.float32 else None,
    )
    if dim in (1, -1):
        assert np.all(FX.normalize(_t(x), p=p, dim=dim).numpy()[2] == 0)


# ---------------------------------------------------------------- gradcheck (float64)


def test_gradcheck_losses(rng):
    x = _t(rng.standard_normal((3, 4)), True)
    y = _t(rng.standard_normal((3, 4)), True)
    var = _t(rng.uniform(0.5, 2.0, (3, 1)), True)
    for r in REDUCTIONS:
        assert gradcheck(
            lambda a, b, v, r=r: FX.gaussian_nll_loss(a, b, v, full=True, reduction=r),
            (x, y, var),
        )
    logp = _t(np.log(rng.dirichlet(np.ones(4), size=3)), True)
    logq = _t(np.log(rng.dirichlet(np.ones(4), size=3)), True)
    assert gradcheck(lambda a, b: FX.kl_div(a, b, "batchmean", log_target=True), (logp, logq))
    assert gradcheck(lambda a, b: FX.kl_div(a, b, "sum"), (logp, _t(np.exp(logq.numpy()), True)))
    counts = _t(rng.poisson(3.0, (3, 4)).astype(float))
    assert gradcheck(lambda a: FX.poisson_nll_loss(a, counts, full=True), (x,))
    rates = _t(rng.uniform(0.5, 3.0, (3, 4)), True)
    assert gradcheck(lambda a: FX.poisson_nll_loss(a, counts, log_input=False), (rates,))
    z = _t(rng.standard_normal((3, 4)), True)
    assert gradcheck(
        lambda a, b, c: FX.triplet_margin_loss(a, b, c, margin=2.0, p=3, swap=True), (x, y, z)
    )
    labels = _t((rng.uniform(size=(3, 4)) < 0.5).astype(float))
    w = _t(rng.uniform(0.5, 2.0, 4))
    assert gradcheck(lambda a: FX.multilabel_soft_margin_loss(a, labels, weight=w), (x,))
    signs = _t(_signs(rng, (3, 4)))
    assert gradcheck(lambda a: FX.soft_margin_loss(a, signs), (x,))
    target = _t(rng.integers(0, 4, 3))
    assert gradcheck(lambda a: FX.multi_margin_loss(a, target, p=2, weight=w), (x,))
    assert gradcheck(
        lambda a, b: FX.cosine_embedding_loss(a, b, _t(np.array([1, -1, -1])), margin=-0.5),
        (x, y),
    )


def test_gradcheck_helpers(rng):
    x = _t(rng.standard_normal((3, 4)), True)
    y = _t(rng.standard_normal((3, 4)), True)
    assert gradcheck(lambda a, b: FX.cosine_similarity(a, b, dim=1), (x, y))
    assert gradcheck(lambda a, b: FX.pairwise_distance(a, b, p=1.5, keepdim=True), (x, y))
    assert gradcheck(lambda a: FX.normalize(a, dim=0), (x,))


# ---------------------------------------------------------------- errors


def test_reduction_errors():
    x = axonal.zeros((2, 3))
    y = axonal.ones(2)
    with pytest.raises(ValueError, match="kl_div: reduction must be 'mean', 'batchmean'"):
        FX.kl_div(x, x, reduction="avg")
    with pytest.raises(ValueError, match="KLDivLoss: reduction"):
        LX.KLDivLoss(reduction="batch")
    with pytest.raises(ValueError, match="poisson_nll_loss: reduction"):
        FX.poisson_nll_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="cosine_embedding_loss: reduction"):
        FX.cosine_embedding_loss(x, x, y, reduction="batchmean")
    with pytest.raises(ValueError, match="margin_ranking_loss: reduction"):
        FX.margin_ranking_loss(y, y, y, reduction="")
    with pytest.raises(ValueError, match="hinge_embedding_loss: reduction"):
        FX.hinge_embedding_loss(x, x, reduction="max")
    with pytest.raises(ValueError, match="soft_margin_loss: reduction"):
        FX.soft_margin_loss(x, x, reduction=None)
    with pytest.raises(ValueError, match="multilabel_soft_margin_loss: reduction"):
        FX.multilabel_soft_margin_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        LX.TripletMarginLoss(reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        LX.MultiMarginLoss(reduction="avg")


def test_shape_and_value_errors():
    x = axonal.zeros((4, 3))
    with pytest.raises(RuntimeError, match=r"cosine_embedding_loss: 0D or 1D target"):
        FX.cosine_embedding_loss(x, x, axonal.ones((4, 1)))
    with pytest.raises(RuntimeError, match=r"cosine_embedding_loss: 0D target tensor expects 1D"):
        FX.cosine_embedding_loss(x, x, axonal.ones(()))
    with pytest.raises(RuntimeError, match=r"cosine_embedding_loss: 1D target tensor expects 2D"):
        FX.cosine_embedding_loss(axonal.zeros(3), axonal.zeros(3), axonal.ones(3))
    with pytest.raises(RuntimeError, match="margin_ranking_loss: all input tensors"):
        FX.margin_ranking_loss(axonal.zeros(4), axonal.zeros((4, 1)), axonal.ones(4))
    with pytest.raises(RuntimeError, match="margin_ranking_loss: shapes cannot broadcast"):
        FX.margin_ranking_loss(axonal.zeros(4), axonal.zeros(3), axonal.ones(4))
    with pytest.raises(ValueError, match="triplet_margin_loss: margin must be greater than 0"):
        FX.triplet_margin_loss(x, x, x, margin=0.0)
    with pytest.raises(ValueError, match="TripletMarginLoss: expected margin"):
        LX.TripletMarginLoss(margin=-1.0)
    with pytest.raises(RuntimeError, match="triplet_margin_loss: the anchor, positive, and neg"):
        FX.triplet_margin_loss(x, x, axonal.zeros(3))
    with pytest.raises(RuntimeError, match=r"soft_margin_loss: target of shape \(2, 4, 3\)"):
        FX.soft_margin_loss(x, axonal.ones((2, 4, 3)))
    with pytest.raises(RuntimeError, match="poisson_nll_loss: shapes cannot broadcast"):
        FX.poisson_nll_loss(x, axonal.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="kl_div: shapes cannot broadcast"):
        FX.kl_div(x, axonal.zeros(4), reduction="sum")
    with pytest.raises(RuntimeError, match="cosine_similarity: shapes cannot broadcast"):
        FX.cosine_similarity(x, axonal.zeros((5, 3)))
    with pytest.raises(IndexError, match="cosine_similarity: dimension out of range"):
        FX.cosine_similarity(x, x, dim=2)
    with pytest.raises(IndexError, match="multilabel_soft_margin_loss"):
        FX.multilabel_soft_margin_loss(axonal.zeros(()), axonal.zeros(()))
    with pytest.raises(TypeError, match="hinge_embedding_loss: input must be a floating-point"):
        FX.hinge_embedding_loss(axonal.tensor(np.array([1, 2])), axonal.ones(2))
    with pytest.raises(TypeError, match="soft_margin_loss: target must be an axonal.Tensor"):
        FX.soft_margin_loss(x, np.ones((4, 3)))


def test_multi_margin_errors():
    x = axonal.zeros((2, 4))
    t = _t(np.array([0, 1]))
    with pytest.raises(ValueError, match="multi_margin_loss: only p == 1 and p == 2"):
        FX.multi_margin_loss(x, t, p=3)
    with pytest.raises(ValueError, match="MultiMarginLoss: only p == 1 and p == 2"):
        LX.MultiMarginLoss(p=0)
    with pytest.raises(ValueError, match="multi_margin_loss: weight must be one-dimensional"):
        FX.multi_margin_loss(x, t, weight=axonal.ones((1, 4)))
    with pytest.raises(ValueError, match="MultiMarginLoss: weight must be one-dimensional"):
        LX.MultiMarginLoss(weight=axonal.ones((1, 4)))
    with pytest.raises(RuntimeError, match="multi_margin_loss: inconsistent weight size"):
        FX.multi_margin_loss(x, t, weight=axonal.ones(3))
    with pytest.raises(RuntimeError, match="multi_margin_loss: target out of range: class index 4"):
        FX.multi_margin_loss(x, _t(np.array([0, 4])))
    with pytest.raises(
        RuntimeError, match="multi_margin_loss: target out of range: class index -1"
    ):
        FX.multi_margin_loss(x, _t(np.array([-1, 2])))
    with pytest.raises(RuntimeError, match="multi_margin_loss: inconsistent target size"):
        FX.multi_margin_loss(x, _t(np.array([0, 1, 2])))
    with pytest.raises(RuntimeError, match="multi_margin_loss: target must be class indices"):
        FX.multi_margin_loss(x, axonal.zeros(2))
    with pytest.raises(RuntimeError, match="multi_margin_loss: expected a non-empty vector"):
        FX.multi_margin_loss(axonal.zeros((2, 0)), t)


def test_empty_batches(rng):
    e = axonal.zeros((0, 3))
    assert np.isnan(FX.soft_margin_loss(e, e).item())
    assert FX.soft_margin_loss(e, e, reduction="sum").item() == 0
    assert np.isnan(FX.kl_div(e, e, reduction="batchmean").item())
    assert FX.multilabel_soft_margin_loss(e, e, reduction="none").shape == (0,)
