"""Losses: parity with PyTorch (forward and backward), gradcheck in float64, clear errors."""

import numpy as np
import pytest

import axonal
from axonal import nn
from axonal.autograd import gradcheck
from axonal.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {np.float32: dict(rtol=2e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
REDUCTIONS = ["mean", "sum", "none"]


def _t(arr, requires_grad=False):
    return axonal.tensor(arr, requires_grad=requires_grad)


def _tt(arr, requires_grad=False):
    return torch.tensor(arr, requires_grad=requires_grad)


def _compare(ours, theirs, tensors, tensors_t, dtype, rng):
    """Forward values equal; then backward with a random upstream gradient, grads equal."""
    out, out_t = ours(*tensors), theirs(*tensors_t)
    assert out.shape == tuple(out_t.shape)
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), **TOL[dtype])
    g = rng.standard_normal(out.shape).astype(out.numpy().dtype)
    out.backward(_t(g))
    out_t.backward(torch.from_numpy(np.asarray(g)))
    for a, b in zip(tensors, tensors_t):
        if b.requires_grad:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOL[dtype])


# ---------------------------------------------------------------- regression


REGRESSION = [
    ("mse", lambda r: dict(reduction=r), F.mse_loss, TF.mse_loss),
    ("l1", lambda r: dict(reduction=r), F.l1_loss, TF.l1_loss),
    ("huber", lambda r: dict(reduction=r, delta=0.7), F.huber_loss, TF.huber_loss),
    ("smooth_l1", lambda r: dict(reduction=r, beta=0.5), F.smooth_l1_loss, TF.smooth_l1_loss),
    ("smooth_l1_b0", lambda r: dict(reduction=r, beta=0.0), F.smooth_l1_loss, TF.smooth_l1_loss),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", REGRESSION, ids=lambda c: c[0])
def test_regression_losses_match_torch(rng, dtype, reduction, case):
    _, kw, ours, theirs = case
    a = rng.standard_normal((5, 3)).astype(dtype)
    b = rng.standard_normal((5, 3)).astype(dtype)
    x, y = _t(a, True), _t(b, True)
    xt, yt = _tt(a, True), _tt(b, True)
    _compare(
        lambda p, q: ours(p, q, **kw(reduction)),
        lambda p, q: theirs(p, q, **kw(reduction)),
        (x, y),
        (xt, yt),
        dtype,
        rng,
    )


def test_regression_modules(rng):
    a, b = rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
    pairs = [
        (nn.MSELoss(), torch.nn.MSELoss()),
        (nn.L1Loss(reduction="sum"), torch.nn.L1Loss(reduction="sum")),
        (nn.HuberLoss(delta=0.3), torch.nn.HuberLoss(delta=0.3)),
        (nn.SmoothL1Loss(beta=2.0), torch.nn.SmoothL1Loss(beta=2.0)),
    ]
    for ours, theirs in pairs:
        assert ours(_t(a), _t(b)).item() == pytest.approx(theirs(_tt(a), _tt(b)).item(), rel=1e-12)


@pytest.mark.parametrize("fn", [F.mse_loss, F.l1_loss, F.huber_loss, F.smooth_l1_loss])
def test_regression_gradcheck(rng, fn):
    x = _t(rng.standard_normal((3, 4)), True)
    y = _t(rng.standard_normal((3, 4)), True)
    for r in REDUCTIONS:
        assert gradcheck(lambda p, q, r=r: fn(p, q, reduction=r), (x, y))


def test_regression_errors():
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(4, 1\) != target shape \(4,\)"):
        F.mse_loss(axonal.zeros((4, 1)), axonal.zeros(4))
    with pytest.raises(ValueError, match="reduction"):
        nn.L1Loss(reduction="avg")
    with pytest.raises(ValueError, match="delta"):
        nn.HuberLoss(delta=0)


def test_empty_mean_is_nan_sum_is_zero():
    x = axonal.zeros((0, 3))
    assert np.isnan(F.mse_loss(x, x).item())
    assert F.mse_loss(x, x, reduction="sum").item() == 0


# ---------------------------------------------------------------- cross entropy / nll


CE_CASES = [
    dict(),
    dict(weight=True),
    dict(ignore_index=1),
    dict(label_smoothing=0.2),
    dict(weight=True, ignore_index=2, label_smoothing=0.1),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 2, 3), (4,)], ids=str)
@pytest.mark.parametrize("opts", CE_CASES, ids=str)
def test_cross_entropy_index_targets_match_torch(rng, dtype, reduction, shape, opts):
    c = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0], *shape[2:])
    logits = (rng.standard_normal(shape) * 3).astype(dtype)
    target = rng.integers(0, c, tshape)
    kw = dict(reduction=reduction)
    kw_t = dict(reduction=reduction)
    if opts.get("weight"):
        w = rng.uniform(0.2, 2.0, c).astype(dtype)
        kw["weight"], kw_t["weight"] = _t(w), _tt(w)
    for k in ("ignore_index", "label_smoothing"):
        if k in opts:
            kw[k] = kw_t[k] = opts[k]
    x, xt = _t(logits, True), _tt(logits, True)
    _compare(
        lambda p: F.cross_entropy(p, _t(target), **kw),
        lambda p: TF.cross_entropy(p, torch.tensor(target), **kw_t),
        (x,),
        (xt,),
        dtype,
        rng,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", [dict(), dict(weight=True, label_smoothing=0.15)], ids=str)
def test_cross_entropy_prob_targets_match_torch(rng, dtype, reduction, opts):
    logits = (rng.standard_normal((5, 3, 2)) * 2).astype(dtype)
    probs = rng.dirichlet(np.ones(3), size=(5, 2)).transpose(0, 2, 1).astype(dtype)
    kw, kw_t = dict(reduction=reduction), dict(reduction=reduction)
    if opts.get("weight"):
        w = rng.uniform(0.2, 2.0, 3).astype(dtype)
        kw["weight"], kw_t["weight"] = _t(w), _tt(w)
    if "label_smoothing" in opts:
        kw["label_smoothing"] = kw_t["label_smoothing"] = opts["label_smoothing"]
    x, p = _t(logits, True), _t(probs, True)
    xt, pt = _tt(logits, True), _tt(probs, True)
    _compare(
        lambda a, b: F.cross_entropy(a, b, **kw),
        lambda a, b: TF.cross_entropy(a, b, **kw_t),
        (x, p),
        (xt, pt),
        dtype,
        rng,
    )


def test_cross_entropy_is_stable_for_huge_logits():
    x = _t(np.array([[1000.0, -1000.0, 0.0], [-5e4, 5e4, 5e4]]), True)
    loss = F.cross_entropy(x, _t(np.array([0, 2])), reduction="none")
    np.testing.assert_allclose(loss.numpy(), [0.0, np.log(2.0)], atol=1e-12)
    loss.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(x.grad.numpy()[1], [0.0, 0.5, -0.5], atol=1e-12)


@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_ignored_rows_with_masked_logits(eps, reduction):
    # an ignored row whose logits are -inf (masked) contributes 0, not 0 * inf = nan, as in torch
    logits = np.array([[-np.inf, 1.0, 2.0], [0.5, 1.0, 2.0], [-np.inf, -np.inf, 3.0]])
    target = np.array([-100, 2, 2])
    kw = dict(reduction=reduction, label_smoothing=eps)
    x, xt = _t(logits, True), _tt(logits, True)
    ours = F.cross_entropy(x, _t(target), **kw)
    theirs = TF.cross_entropy(xt, torch.tensor(target), **kw)
    if eps == 0.0:
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)
    else:  # a valid row with a -inf logit: inf from the smoothing term in both
        np.testing.assert_array_equal(np.isfinite(ours.detach().numpy()),
                                      np.isfinite(theirs.detach().numpy()))  # fmt: skip
    if eps == 0.0:
        ours.sum().backward()
        theirs.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-15)
        assert np.all(x.grad.numpy()[0] == 0)


def test_cross_entropy_module_and_all_ignored(rng):
    w = rng.uniform(0.5, 1.5, 3)
    ours = nn.CrossEntropyLoss(weight=_t(w), ignore_index=0, label_smoothing=0.05)
    theirs = torch.nn.CrossEntropyLoss(weight=_tt(w), ignore_index=0, label_smoothing=0.05)
    logits, target = rng.standard_normal((7, 3)), rng.integers(0, 3, 7)
    assert ours(_t(logits), _t(target)).item() == pytest.approx(
        theirs(_tt(logits), torch.tensor(target)).item(), rel=1e-12
    )
    assert "weight" in dict(ours.named_buffers())
    assert repr(ours) == "CrossEntropyLoss(ignore_index=0, label_smoothing=0.05)"
    # every target ignored: mean is nan (0/0) like torch, sum is 0
    t0 = _t(np.zeros(7, dtype=np.int64))
    assert np.isnan(nn.CrossEntropyLoss(ignore_index=0)(_t(logits), t0).item())
    assert nn.CrossEntropyLoss(ignore_index=0, reduction="sum")(_t(logits), t0).item() == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(6, 4), (2, 4, 3), (4,)], ids=str)
def test_nll_loss_matches_torch(rng, dtype, reduction, shape):
    c = shape[0] if len(shape) == 1 else shape[1]
    tshape = () if len(shape) == 1 else (shape[0], *shape[2:])
    logp = rng.standard_normal(shape).astype(dtype)
    target = rng.integers(0, c, tshape)
    w = rng.uniform(0.2, 2.0, c).astype(dtype)
    for kw, kw_t in [
        ({}, {}),
        (dict(weight=_t(w), ignore_index=1), dict(weight=_tt(w), ignore_index=1)),
    ]:
        x, xt = _t(logp, True), _tt(logp, True)
        _compare(
            lambda p, kw=kw: F.nll_loss(p, _t(target), reduction=reduction, **kw),
            lambda p, kw_t=kw_t: TF.nll_loss(p, torch.tensor(target), reduction=reduction, **kw_t),
            (x,),
            (xt,),
            dtype,
            rng,
        )
    ours = nn.NLLLoss()(
        nn.LogSoftmax(dim=1)(_t(logp.reshape(c, -1).T.copy())),
        _t(np.zeros(logp.size // c, dtype=np.int64)),
    )
    assert np.isfinite(ours.item())


def test_classification_gradcheck(rng):
    x = _t(rng.standard_normal((4, 3, 2)), True)
    target = _t(rng.integers(0, 3, (4, 2)))
    w = _t(rng.uniform(0.5, 2.0, 3))
    for r in REDUCTIONS:
        assert gradcheck(lambda a, r=r: F.cross_entropy(a, target, reduction=r), (x,))
        assert gradcheck(
            lambda a, r=r: F.cross_entropy(
                a, target, weight=w, ignore_index=1, label_smoothing=0.2, reduction=r
            ),
            (x,),
        )
        assert gradcheck(lambda a, r=r: F.nll_loss(a, target, weight=w, reduction=r), (x,))
    probs = _t(rng.dirichlet(np.ones(3), size=(4, 2)).transpose(0, 2, 1).copy(), True)
    assert gradcheck(lambda a, p: F.cross_entropy(a, p, weight=w, label_smoothing=0.1), (x, probs))


def test_classification_errors():
    x = axonal.zeros((4, 3))
    with pytest.raises(
        ValueError,
        match=r"cross_entropy: target class index 3 is out of range "
        r"for 3 classes \(input shape \(4, 3\)",
    ):
        F.cross_entropy(x, _t(np.array([0, 1, 2, 3])))
    with pytest.raises(ValueError, match="target class index -1"):
        nn.CrossEntropyLoss()(x, _t(np.array([0, -1, 2, 1])))
    # ignore_index values are allowed even though out of range
    F.cross_entropy(x, _t(np.array([0, -100, 2, 1])))
    with pytest.raises(
        ValueError,
        match=r"expects a class-index target of shape \(4,\), "
        r"got \(4, 1\)",
    ):
        F.cross_entropy(x, _t(np.zeros((4, 1), dtype=np.int64)))
    with pytest.raises(ValueError, match="probability targets must have the input's shape"):
        F.cross_entropy(x, axonal.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        F.cross_entropy(x, _t(np.array([0, 1, 2, 1])), weight=axonal.ones(4))
    with pytest.raises(ValueError, match="nll_loss: target class index 5"):
        F.nll_loss(x, _t(np.array([0, 1, 2, 5])))
    with pytest.raises(TypeError, match="integer"):
        F.nll_loss(x, axonal.zeros(4))
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=1.5)


# ---------------------------------------------------------------- binary


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_matches_torch(rng, dtype, reduction, weighted):
    p = rng.uniform(0.02, 0.98, (6, 3)).astype(dtype)
    y = rng.uniform(0, 1, (6, 3)).astype(dtype)
    kw, kw_t = dict(reduction=reduction), dict(reduction=reduction)
    if weighted:
        w = rng.uniform(0.5, 2, 3).astype(dtype)
        kw["weight"], kw_t["weight"] = _t(w), _tt(w)
    _compare(
        lambda a, b: F.binary_cross_entropy(a, b, **kw),
        lambda a, b: TF.binary_cross_entropy(a, b, **kw_t),
        (_t(p, True), _t(y, True)),
        (_tt(p, True), _tt(y, True)),
        dtype,
        rng,
    )


def test_bce_clamps_log_like_torch():
    p = np.array([0.0, 1.0, 1e-50, 1.0 - 1e-17, 0.5])
    y = np.array([1.0, 0.0, 1.0, 0.3, 0.5])
    ours = F.binary_cross_entropy(_t(p), _t(y), reduction="none")
    theirs = TF.binary_cross_entropy(_tt(p), _tt(y), reduction="none")
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    assert ours.numpy()[0] == 100.0
    x, xt = _t(p, True), _tt(p, True)
    F.binary_cross_entropy(x, _t(y), reduction="sum").backward()
    TF.binary_cross_entropy(xt, _tt(y), reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "opts", [dict(), dict(pos_weight=True), dict(weight=True, pos_weight=True)], ids=str
)
def test_bce_with_logits_matches_torch(rng, dtype, reduction, opts):
    x = (rng.standard_normal((6, 4)) * 4).astype(dtype)
    x[0, :2] = [60.0, -60.0]  # far in the tails
    y = (rng.uniform(0, 1, (6, 4)) > 0.7).astype(dtype)
    kw, kw_t = dict(reduction=reduction), dict(reduction=reduction)
    if opts.get("pos_weight"):
        pw = rng.uniform(1, 5, 4).astype(dtype)
        kw["pos_weight"], kw_t["pos_weight"] = _t(pw), _tt(pw)
    if opts.get("weight"):
        w = rng.uniform(0.5, 2, (6, 1)).astype(dtype)
        kw["weight"], kw_t["weight"] = _t(w), _tt(w)
    _compare(
        lambda a, b: F.binary_cross_entropy_with_logits(a, b, **kw),
        lambda a, b: TF.binary_cross_entropy_with_logits(a, b, **kw_t),
        (_t(x, True), _t(y, True)),
        (_tt(x, True), _tt(y, True)),
        dtype,
        rng,
    )


def test_bce_with_logits_stable_and_module():
    x = _t(np.array([800.0, -800.0, 0.0]), True)
    y = _t(np.array([1.0, 0.0, 1.0]))
    loss = nn.BCEWithLogitsLoss(reduction="none")(x, y)
    np.testing.assert_allclose(loss.numpy(), [0.0, 0.0, np.log(2.0)], atol=1e-12)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0, -0.5], atol=1e-12)
    m = nn.BCEWithLogitsLoss(pos_weight=_t(np.array([3.0])))
    assert [n for n, _ in m.named_buffers()] == ["pos_weight"]
    ref = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([3.0], dtype=torch.float64))
    a, b = np.array([[0.3], [-1.2]]), np.array([[1.0], [0.0]])
    assert m(_t(a), _t(b)).item() == pytest.approx(ref(_tt(a), _tt(b)).item(), rel=1e-12)
    assert nn.BCELoss()(_t(np.array([0.2, 0.9])), _t(np.array([0.0, 1.0]))).item() == pytest.approx(
        TF.binary_cross_entropy(_tt(np.array([0.2, 0.9])), _tt(np.array([0.0, 1.0]))).item(),
        rel=1e-12,
    )


def test_binary_gradcheck(rng):
    p = _t(rng.uniform(0.1, 0.9, (3, 4)), True)
    y = _t(rng.uniform(0, 1, (3, 4)), True)
    x = _t(rng.standard_normal((3, 4)) * 2, True)
    w = _t(rng.uniform(0.5, 2, 4))
    pw = _t(rng.uniform(1, 3, 4))
    for r in REDUCTIONS:
        assert gradcheck(
            lambda a, b, r=r: F.binary_cross_entropy(a, b, weight=w, reduction=r), (p, y)
        )
        assert gradcheck(
            lambda a, b, r=r: F.binary_cross_entropy_with_logits(
                a, b, weight=w, pos_weight=pw, reduction=r
            ),
            (x, y),
        )


def test_binary_errors():
    with pytest.raises(
        ValueError,
        match=r"binary_cross_entropy: input values must be "
        r"probabilities in \[0, 1\]",
    ):
        F.binary_cross_entropy(_t(np.array([0.5, 1.5])), _t(np.array([0.0, 1.0])))
    with pytest.raises(
        ValueError,
        match=r"binary_cross_entropy_with_logits: input shape \(4,\) "
        r"!= target shape \(4, 1\)",
    ):
        F.binary_cross_entropy_with_logits(axonal.zeros(4), axonal.zeros((4, 1)))
    with pytest.raises(ValueError, match=r"pos_weight of shape \(3,\) cannot broadcast"):
        F.binary_cross_entropy_with_logits(
            axonal.zeros((2, 4)), axonal.zeros((2, 4)), pos_weight=axonal.ones(3)
        )
