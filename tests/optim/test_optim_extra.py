"""axonal.optim RAdam, Rprop, ASGD and LBFGS: parity with torch.optim, errors, state dicts."""

import numpy as np
import pytest

import axonal
from axonal.optim.asgd import ASGD
from axonal.optim.lbfgs import LBFGS
from axonal.optim.radam import RAdam
from axonal.optim.rprop import Rprop

OPTIMIZERS = {"RAdam": RAdam, "Rprop": Rprop, "ASGD": ASGD, "LBFGS": LBFGS}

# (optimizer, keyword arguments) for the elementwise optimizers
CONFIGS = [
    ("RAdam", dict(lr=0.05)),
    ("RAdam", dict(lr=0.05, betas=(0.8, 0.9), eps=1e-6)),
    ("RAdam", dict(lr=0.05, weight_decay=0.1)),
    ("RAdam", dict(lr=0.05, weight_decay=0.3, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.02, betas=(0.7, 0.8), weight_decay=0.1, maximize=True)),
    ("RAdam", dict(lr=0.01, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.08))),
    ("Rprop", dict(lr=0.02, maximize=True)),
    ("ASGD", dict(lr=0.05)),
    ("ASGD", dict(lr=0.05, lambd=0.05, alpha=0.5, t0=4)),
    ("ASGD", dict(lr=0.05, t0=0, weight_decay=0.1)),
    ("ASGD", dict(lr=0.01, lambd=1e-3, t0=3, weight_decay=0.05, maximize=True)),
]
IDS = [f"{name}-" + ",".join(f"{k}={v}" for k, v in kw.items()) for name, kw in CONFIGS]
STEPS = 15


def _torch():
    return pytest.importorskip("torch")


# ---------------------------------------------------------------------------- problems
def _regression(seed, dtype=np.float64):
    """A small linear regression: x (13, 4), y (13, 3); parameters W (4, 3) and b (3,)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((13, 4)).astype(dtype)
    w_true = rng.standard_normal((4, 3))
    y = (x @ w_true + 0.5 + 0.1 * rng.standard_normal((13, 3))).astype(dtype)
    init = [(0.3 * rng.standard_normal((4, 3))).astype(dtype), np.zeros(3, dtype)]
    return x, y, init


def _ax_params(init):
    return [axonal.tensor(a.copy(), dtype=a.dtype, requires_grad=True) for a in init]


def _torch_params(init):
    torch = _torch()
    return [torch.tensor(a.copy(), requires_grad=True) for a in init]


def _ax_loss(ps, x, y):
    w, b = ps
    out = axonal.tensor(x, dtype=x.dtype) @ w + b
    return ((out - axonal.tensor(y, dtype=y.dtype)) ** 2).mean()


def _torch_loss(ts, x, y):
    torch = _torch()
    w, b = ts
    return ((torch.from_numpy(x) @ w + b - torch.from_numpy(y)) ** 2).mean()


def _np(t):
    return t._data if hasattr(t, "_data") else t.detach().numpy()


def _run_pair(name, kw, init, x, y, steps):
    """Run the torch and the axonal optimizer side by side; yield both parameter lists."""
    torch = _torch()
    ts = _torch_params(init)
    ps = _ax_params(init)
    topt = getattr(torch.optim, name)(ts, **kw)
    opt = OPTIMIZERS[name](ps, **kw)
    for _ in range(steps):
        topt.zero_grad()
        _torch_loss(ts, x, y).backward()
        topt.step()
        opt.zero_grad()
        _ax_loss(ps, x, y).backward()
        opt.step()
        yield ps, ts, opt, topt


# ---------------------------------------------------------------------------- parity
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_matches_torch_float64(name, kw):
    x, y, init = _regression(sum(map(ord, name)) + len(kw))
    for ps, ts, opt, topt in _run_pair(name, kw, init, x, y, STEPS):  # noqa: B007
        for p, t in zip(ps, ts):
            np.testing.assert_allclose(p._data, _np(t), rtol=0, atol=1e-12)
    for p, a0 in zip(ps, init):
        assert p._data.dtype == np.float64
        assert not np.allclose(p._data, a0, atol=1e-3)  # the parameters really moved
    # the per-parameter state agrees with torch's too
    for p, t in zip(ps, ts):
        st, tst = opt.state[p], topt.state[t]
        assert sorted(st) == sorted(tst)
        for k, v in st.items():
            np.testing.assert_allclose(np.asarray(v), tst[k].numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,kw", CONFIGS[::3], ids=IDS[::3])
def test_matches_torch_float32(name, kw):
    x, y, init = _regression(7, np.float32)
    for ps, ts, _, _ in _run_pair(name, kw, init, x, y, 10):  # noqa: B007
        pass
    for p, t in zip(ps, ts):
        assert p._data.dtype == np.float32
        np.testing.assert_allclose(p._data, _np(t), rtol=0, atol=2e-5)


def test_radam_switches_to_the_rectified_update():
    """With beta2 = 0.9 the first five steps are plain momentum steps, the later rectified."""
    torch = _torch()
    w0 = np.array([1.0, -2.0, 3.0])
    grads = [np.array([0.5, -1.0, 2.0]) * (k + 1) for k in range(8)]
    w, tw = axonal.tensor(w0.copy(), requires_grad=True), torch.tensor(w0.copy())
    tw.requires_grad_(True)
    opt = RAdam([w], lr=0.1, betas=(0.5, 0.9))
    topt = torch.optim.RAdam([tw], lr=0.1, betas=(0.5, 0.9))
    for g in grads:
        w.grad = axonal.tensor(g)
        tw.grad = torch.from_numpy(g)
        opt.step()
        topt.step()
        np.testing.assert_allclose(w._data, tw.detach().numpy(), rtol=0, atol=1e-14)


def test_rprop_sign_changes_and_step_size_clamps_match_torch():
    """Gradients whose signs flip and vanish: etaminus/etaplus/1 factors, clamping, masking."""
    torch = _torch()
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal(40)
    w = axonal.tensor(w0.copy(), requires_grad=True)
    tw = torch.tensor(w0.copy(), requires_grad=True)
    kw = dict(lr=0.3, etas=(0.4, 1.7), step_sizes=(0.05, 0.6))
    opt, topt = Rprop([w], **kw), torch.optim.Rprop([tw], **kw)
    for _ in range(20):
        g = rng.choice([-1.0, 0.0, 1.0], size=40) * rng.uniform(0.1, 2.0, size=40)
        w.grad = axonal.tensor(g)
        tw.grad = torch.from_numpy(g.copy())
        opt.step()
        topt.step()
        np.testing.assert_array_equal(w._data, tw.detach().numpy())
        np.testing.assert_array_equal(opt.state[w]["step_size"], topt.state[tw]["step_size"])
        np.testing.assert_array_equal(opt.state[w]["prev"], topt.state[tw]["prev"])


def test_rprop_infinite_gradient_after_a_sign_change_matches_torch():
    """An infinite gradient whose sign flipped is masked to zero (no NaN in later steps)."""
    torch = _torch()
    w = axonal.tensor(np.zeros(3), requires_grad=True)
    tw = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt, topt = Rprop([w], lr=0.1), torch.optim.Rprop([tw], lr=0.1)
    for g in ([1.0, -2.0, 3.0], [-np.inf, np.inf, 1.0], [1.0, 1.0, -1.0], [2.0, 2.0, -1.0]):
        w.grad = axonal.tensor(np.array(g))
        tw.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        topt.step()
        np.testing.assert_array_equal(w._data, tw.detach().numpy())
    assert np.isfinite(w._data).all()


def test_asgd_eta_and_mu_are_float32_like_torch():
    torch = _torch()
    w = axonal.tensor(np.array([1.0, 2.0]), requires_grad=True)
    tw = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    kw = dict(lr=0.1, lambd=0.01, alpha=0.6, t0=2)
    opt, topt = ASGD([w], **kw), torch.optim.ASGD([tw], **kw)
    for k in range(6):
        w.grad = axonal.tensor(np.array([0.3, -0.7]) * (k + 1))
        tw.grad = torch.tensor([0.3, -0.7], dtype=torch.float64) * (k + 1)
        opt.step()
        topt.step()
        st, tst = opt.state[w], topt.state[tw]
        assert st["eta"] == tst["eta"].item() and st["mu"] == tst["mu"].item()
        assert st["step"] == tst["step"].item()
        np.testing.assert_allclose(st["ax"], tst["ax"].numpy(), rtol=0, atol=1e-15)
    assert opt.state[w]["mu"] != 1.0  # averaging started (t0 = 2)


@pytest.mark.parametrize("name,kw", CONFIGS[::2], ids=IDS[::2])
def test_parameters_without_grad_are_skipped(name, kw):
    torch = _torch()
    x, y, init = _regression(5)
    ps, ts = _ax_params(init), _torch_params(init)
    opt, topt = OPTIMIZERS[name](ps, **kw), getattr(torch.optim, name)(ts, **kw)
    for step in range(8):
        opt.zero_grad()
        _ax_loss(ps, x, y).backward()
        topt.zero_grad()
        _torch_loss(ts, x, y).backward()
        if step % 2 == 0:  # b gets no gradient every other step
            ps[1].grad = None
            ts[1].grad = None
        opt.step()
        topt.step()
    for p, t in zip(ps, ts):
        np.testing.assert_allclose(p._data, _np(t), rtol=0, atol=1e-12)
    assert opt.state[ps[1]]["step"] == 4


@pytest.mark.parametrize("name", ["RAdam", "Rprop", "ASGD"])
def test_step_is_in_place_and_bumps_versions(name):
    a = axonal.tensor(np.ones(3), requires_grad=True)
    b = axonal.tensor(np.ones(2), requires_grad=True)
    opt = OPTIMIZERS[name]([a, b], lr=0.1)
    buf = a._data
    y = (a * a).sum()  # saves a
    a.grad = axonal.tensor(np.ones(3))
    va, vb = a._version, b._version
    opt.step()
    assert a._data is buf and not np.array_equal(buf, np.ones(3))
    assert (a._version, b._version) == (va + 1, vb)
    assert not opt.state[b]
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


@pytest.fixture
def restore_threads():
    n = axonal.get_num_threads()
    yield
    axonal.set_num_threads(n)


@pytest.mark.parametrize("name,kw", CONFIGS[1::3], ids=IDS[1::3])
def test_threaded_update_is_bitwise_the_same(name, kw, monkeypatch, restore_threads):
    import axonal.optim.optimizer as base

    monkeypatch.setattr(base, "_MIN_CHUNK", 256)
    monkeypatch.setattr(base, "_MIN_WORK", 0)
    rng = np.random.default_rng(11)
    init = [rng.standard_normal((37, 61)), rng.standard_normal(1999).astype(np.float32)]
    grads = [[rng.standard_normal(a.shape).astype(a.dtype) for a in init] for _ in range(4)]
    results = []
    for threads in (1, 3):
        axonal.set_num_threads(threads)
        params = _ax_params(init)
        opt = OPTIMIZERS[name](params, **kw)
        for gs in grads:
            for p, g in zip(params, gs):
                p.grad = axonal.tensor(g, dtype=g.dtype)
            opt.step()
        results.append([p._data.copy() for p in params])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def test_closure_loss_is_returned():
    x, y, init = _regression(2)
    ps = _ax_params(init)
    opt = RAdam(ps, lr=0.01)

    def closure():
        opt.zero_grad()
        loss = _ax_loss(ps, x, y)
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss) > 0 and opt.state[ps[0]]["step"] == 1


# ---------------------------------------------------------------------------- LBFGS
def _rosenbrock(parts, lib):
    """The n-dimensional Rosenbrock function of the concatenated parameter parts."""
    x = lib.cat(list(parts)) if len(parts) > 1 else parts[0]
    return (100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2).sum()


def _lbfgs_pair(kw, init, loss_ax, loss_torch, steps):
    """Run torch's and axonal's LBFGS for ``steps`` steps; record what each step returns."""
    torch = _torch()
    ts, ps = _torch_params(init), _ax_params(init)
    topt, opt = torch.optim.LBFGS(ts, **kw), LBFGS(ps, **kw)
    calls = {"torch": 0, "axonal": 0}

    def tclosure():
        calls["torch"] += 1
        topt.zero_grad()
        loss = loss_torch(ts)
        loss.backward()
        return loss

    def closure():
        calls["axonal"] += 1
        opt.zero_grad()
        loss = loss_ax(ps)
        loss.backward()
        return loss

    history = []
    for _ in range(steps):
        tl = topt.step(tclosure)
        al = opt.step(closure)
        history.append(
            (float(al), tl.item(), [p._data.copy() for p in ps], [_np(t).copy() for t in ts])
        )
    return history, calls, opt, topt, ps, ts


def _cat(parts):
    return axonal.cat(parts) if hasattr(axonal, "cat") else axonal.concatenate(parts)


class _AxLib:
    cat = staticmethod(_cat)


LBFGS_ROSENBROCK = [
    dict(lr=1.0, line_search_fn="strong_wolfe"),
    dict(lr=1.0, max_iter=7, history_size=4, line_search_fn="strong_wolfe"),
    dict(lr=0.5, line_search_fn="strong_wolfe", tolerance_change=1e-12),
    dict(lr=0.05, max_iter=10),
    dict(lr=0.1, max_iter=6, history_size=3),
    # tiny evaluation budgets: the line search runs out of evaluations while bracketing
    dict(max_iter=1, line_search_fn="strong_wolfe"),
    dict(max_iter=3, max_eval=4, line_search_fn="strong_wolfe"),
]


@pytest.mark.parametrize(
    "kw",
    LBFGS_ROSENBROCK,
    ids=[",".join(f"{k}={v}" for k, v in kw.items()) for kw in LBFGS_ROSENBROCK],
)
def test_lbfgs_rosenbrock_matches_torch(kw):
    torch = _torch()
    # a 5-dimensional Rosenbrock function of two parameters (checks the flat-vector handling)
    init = [np.array([-1.2, 1.0, -0.5]), np.array([0.8, 1.3])]
    history, calls, opt, topt, ps, ts = _lbfgs_pair(
        kw, init, lambda ps: _rosenbrock(ps, _AxLib), lambda ts: _rosenbrock(ts, torch), 6
    )
    for al, tl, pa, pt in history:
        assert al == pytest.approx(tl, rel=1e-9, abs=1e-12)
        for a, t in zip(pa, pt):
            np.testing.assert_allclose(a, t, rtol=1e-8, atol=1e-10)
    assert calls["axonal"] == calls["torch"]
    st, tst = opt.state[ps[0]], topt.state[ts[0]]
    assert (st["func_evals"], st["n_iter"]) == (tst["func_evals"], tst["n_iter"])
    assert len(st["old_dirs"]) == len(tst["old_dirs"])
    if kw.get("line_search_fn") and "max_iter" not in kw:
        final = np.concatenate([p._data for p in ps])
        assert float(_rosenbrock([axonal.tensor(final)], _AxLib)) < 1e-6  # it converged


def _lsq(seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((20, 5))
    bvec = rng.standard_normal((20, 2))
    init = [np.zeros((5, 2)), 0.1 * rng.standard_normal(2)]
    return a, bvec, init


def _lsq_ax(ps, a, bvec):
    w, c = ps
    r = axonal.tensor(a) @ w + c - axonal.tensor(bvec)
    return (r * r).sum() * 0.5


def _lsq_torch(ts, a, bvec):
    torch = _torch()
    w, c = ts
    r = torch.from_numpy(a) @ w + c - torch.from_numpy(bvec)
    return (r * r).sum() * 0.5


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(line_search_fn="strong_wolfe"),
        dict(lr=0.8, max_iter=3, history_size=2),
        dict(max_iter=4, max_eval=6, history_size=2, line_search_fn="strong_wolfe"),
    ],
    ids=["fixed", "strong_wolfe", "fixed-short", "strong_wolfe-short"],
)
def test_lbfgs_least_squares_matches_torch(kw):
    a, bvec, init = _lsq(4)
    history, calls, opt, topt, ps, ts = _lbfgs_pair(
        kw, init, lambda ps: _lsq_ax(ps, a, bvec), lambda ts: _lsq_torch(ts, a, bvec), 4
    )
    for al, tl, pa, pt in history:
        assert al == pytest.approx(tl, rel=1e-10, abs=1e-12)
        for x, t in zip(pa, pt):
            np.testing.assert_allclose(x, t, rtol=1e-9, atol=1e-10)
    assert calls["axonal"] == calls["torch"]
    # and the least-squares solution is reached
    design = np.hstack([a, np.ones((20, 1))])
    sol = np.linalg.lstsq(design, bvec, rcond=None)[0]
    if "max_iter" not in kw:
        np.testing.assert_allclose(ps[0]._data, sol[:5], atol=1e-5)
        np.testing.assert_allclose(ps[1]._data, sol[5], atol=1e-5)


def test_lbfgs_float32_close_to_torch():
    a, bvec, init = _lsq(6)
    a, bvec = a.astype(np.float32), bvec.astype(np.float32)
    init = [v.astype(np.float32) for v in init]
    history, *_ = _lbfgs_pair(
        dict(line_search_fn="strong_wolfe"),
        init,
        lambda ps: _lsq_ax(ps, a, bvec),
        lambda ts: _lsq_torch(ts, a, bvec),
        2,
    )
    for _, _, pa, pt in history:
        for x, t in zip(pa, pt):
            assert x.dtype == np.float32
            np.testing.assert_allclose(x, t, rtol=1e-3, atol=1e-3)


def test_lbfgs_returns_first_loss_and_stops_at_optimum():
    a, bvec, init = _lsq(8)
    ps = _ax_params(init)
    opt = LBFGS(ps, line_search_fn="strong_wolfe")
    losses = []

    def closure():
        opt.zero_grad()
        loss = _lsq_ax(ps, a, bvec)
        loss.backward()
        losses.append(float(loss))
        return loss

    first = opt.step(closure)
    assert isinstance(first, axonal.Tensor) and float(first) == losses[0]
    assert min(losses) < losses[0]
    assert opt.state[ps[0]]["func_evals"] == len(losses)

    # started at the least-squares solution (max|grad| <= tolerance_grad): one evaluation, no
    # iteration, nothing moves -- as torch
    torch = _torch()
    design = np.hstack([a, np.ones((20, 1))])
    sol = np.linalg.lstsq(design, bvec, rcond=None)[0]
    at_opt = [sol[:5].copy(), sol[5].copy()]
    ps = _ax_params(at_opt)
    opt = LBFGS(ps, line_search_fn="strong_wolfe")
    ts = _torch_params(at_opt)
    topt = torch.optim.LBFGS(ts, line_search_fn="strong_wolfe")
    losses.clear()
    loss = opt.step(closure)
    assert float(loss) == losses[0] and len(losses) == 1
    st = opt.state[ps[0]]
    assert st["func_evals"] == 1 and st["n_iter"] == 0 and "d" not in st
    for p, v in zip(ps, at_opt):
        np.testing.assert_array_equal(p._data, v)

    def tclosure():
        topt.zero_grad()
        tl = _lsq_torch(ts, a, bvec)
        tl.backward()
        return tl

    topt.step(tclosure)
    tst = topt.state[ts[0]]
    assert tst["func_evals"] == 1 and tst["n_iter"] == 0 and "d" not in tst


def test_lbfgs_versions_and_grad_free_parameters():
    """A parameter the loss does not use has no gradient: zeros in the flat vector."""
    torch = _torch()
    a, bvec, init = _lsq(9)
    init = init + [np.array([3.0, 4.0])]
    ps, ts = _ax_params(init), _torch_params(init)
    opt = LBFGS(ps, line_search_fn="strong_wolfe")
    topt = torch.optim.LBFGS(ts, line_search_fn="strong_wolfe")
    y = (ps[0] * ps[0]).sum()  # saves W before the step

    def closure():
        opt.zero_grad()
        loss = _lsq_ax(ps[:2], a, bvec)
        loss.backward()
        return loss

    def tclosure():
        topt.zero_grad()
        loss = _lsq_torch(ts[:2], a, bvec)
        loss.backward()
        return loss

    v0 = ps[0]._version
    opt.step(closure)
    topt.step(tclosure)
    assert ps[0]._version > v0
    for p, t in zip(ps, ts):
        np.testing.assert_allclose(p._data, _np(t), rtol=1e-9, atol=1e-10)
    np.testing.assert_array_equal(ps[2]._data, [3.0, 4.0])
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


# ---------------------------------------------------------------------------- errors
def _one():
    return [axonal.tensor(np.ones(3), requires_grad=True)]


@pytest.mark.parametrize("name", ["RAdam", "Rprop", "ASGD", "LBFGS"])
def test_negative_lr_raises_like_torch(name):
    torch = _torch()
    with pytest.raises(ValueError, match=rf"{name}: invalid learning rate.*-0\.1"):
        OPTIMIZERS[name](_one(), lr=-0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        getattr(torch.optim, name)([torch.ones(3, requires_grad=True)], lr=-0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        OPTIMIZERS[name]([])


@pytest.mark.parametrize("name", ["RAdam", "ASGD"])
def test_negative_weight_decay_raises_like_torch(name):
    torch = _torch()
    with pytest.raises(ValueError, match="weight_decay"):
        OPTIMIZERS[name](_one(), weight_decay=-1e-3)
    with pytest.raises(ValueError, match="weight_decay"):
        getattr(torch.optim, name)([torch.ones(3, requires_grad=True)], weight_decay=-1e-3)
    opt = OPTIMIZERS[name](_one(), lr=0.1)
    with pytest.raises(ValueError, match="learning rate"):
        opt.add_param_group({"params": _one(), "lr": -1.0})


@pytest.mark.parametrize("betas", [(1.0, 0.999), (0.9, -0.1), (-0.5, 0.9), (0.9, 1.5)])
def test_radam_betas_out_of_range_raise(betas):
    torch = _torch()
    with pytest.raises(ValueError, match=r"beta parameter at index [01].*\[0, 1\)"):
        RAdam(_one(), betas=betas)
    with pytest.raises(ValueError, match="beta parameter"):
        torch.optim.RAdam([torch.ones(3, requires_grad=True)], betas=betas)
    with pytest.raises(ValueError, match="epsilon"):
        RAdam(_one(), eps=-1.0)


@pytest.mark.parametrize("etas", [(1.0, 1.2), (0.5, 1.0), (0.0, 1.2), (0.5, 0.9), (-0.5, 2.0)])
def test_rprop_bad_etas_raise(etas):
    torch = _torch()
    with pytest.raises(ValueError, match="Rprop: invalid eta values"):
        Rprop(_one(), etas=etas)
    with pytest.raises(ValueError, match="Invalid eta values"):
        torch.optim.Rprop([torch.ones(3, requires_grad=True)], etas=etas)


def test_rprop_and_asgd_bad_types_raise():
    with pytest.raises(ValueError, match="etas must be a pair"):
        Rprop(_one(), etas=(0.5,))
    with pytest.raises(ValueError, match="step_sizes must be a pair"):
        Rprop(_one(), step_sizes=1e-6)
    with pytest.raises(TypeError, match="t0 must be a number"):
        ASGD(_one(), t0="never")


def test_lbfgs_errors():
    (p,) = _one()
    opt = LBFGS([p])
    with pytest.raises(TypeError, match="LBFGS.step needs a closure"):
        opt.step()
    q = axonal.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        LBFGS([{"params": [p]}, {"params": [q], "lr": 0.1}])
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        opt.add_param_group({"params": [q]})
    with pytest.raises(ValueError, match="line_search_fn must be None or 'strong_wolfe'"):
        LBFGS([q], line_search_fn="backtracking")
    with pytest.raises(ValueError, match="history_size"):
        LBFGS([q], history_size=0)
    with pytest.raises(TypeError, match="max_iter must be an int"):
        LBFGS([q], max_iter=2.5)
    assert LBFGS([q], max_iter=8).defaults["max_eval"] == 10  # max_iter * 5 // 4, as torch


# ---------------------------------------------------------------------------- state dicts
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_state_dict_round_trip_continues_identically(name, kw):
    x, y, init = _regression(12)
    ps = _ax_params(init)
    opt = OPTIMIZERS[name](ps, **kw)

    def one_step(params, o):
        o.zero_grad()
        _ax_loss(params, x, y).backward()
        o.step()

    for _ in range(6):
        one_step(ps, opt)
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0, 1]
    snapshot = {i: {k: np.copy(v) for k, v in s.items()} for i, s in sd["state"].items()}
    ps2 = _ax_params([p._data for p in ps])
    opt2 = OPTIMIZERS[name](ps2, **{**kw, "lr": 123.0})
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == kw.get("lr", opt.defaults["lr"])
    for _ in range(6):
        one_step(ps, opt)
        one_step(ps2, opt2)
    for p, q in zip(ps, ps2):
        np.testing.assert_array_equal(p._data, q._data)
    for i, s in sd["state"].items():  # a snapshot: later steps did not change it
        for k, v in s.items():
            np.testing.assert_array_equal(v, snapshot[i][k])


@pytest.mark.parametrize("name,kw", CONFIGS[::2], ids=IDS[::2])
def test_load_torch_state_dict_and_continue(name, kw):
    torch = _torch()
    x, y, init = _regression(13)
    ts = _torch_params(init)
    topt = getattr(torch.optim, name)(ts, **kw)
    for step in range(10):
        topt.zero_grad()
        _torch_loss(ts, x, y).backward()
        topt.step()
        if step == 4:
            sd = topt.state_dict()
            sd = {
                "state": {i: {k: v.clone() for k, v in s.items()} for i, s in sd["state"].items()},
                "param_groups": sd["param_groups"],
            }
            ps = _ax_params([_np(t).copy() for t in ts])
    opt = OPTIMIZERS[name](ps, lr=0.5)
    opt.load_state_dict(sd)
    assert opt.state[ps[0]]["step"] == 5
    for _ in range(5):
        opt.zero_grad()
        _ax_loss(ps, x, y).backward()
        opt.step()
    for p, t in zip(ps, ts):
        np.testing.assert_allclose(p._data, _np(t), rtol=0, atol=1e-12)


def test_lbfgs_state_dict_round_trip_and_torch_state_dict():
    torch = _torch()
    a, bvec, init = _lsq(10)
    kw = dict(max_iter=2, max_eval=10, history_size=3, line_search_fn="strong_wolfe")

    def make_closure(o, params, fn):
        def closure():
            o.zero_grad()
            loss = fn(params)
            loss.backward()
            return loss

        return closure

    ps = _ax_params(init)
    opt = LBFGS(ps, **kw)
    ts = _torch_params(init)
    topt = torch.optim.LBFGS(ts, **kw)
    for _ in range(2):
        opt.step(make_closure(opt, ps, lambda q: _lsq_ax(q, a, bvec)))
        topt.step(make_closure(topt, ts, lambda q: _lsq_torch(q, a, bvec)))
    sd = opt.state_dict()
    st = sd["state"][0]
    assert st["n_iter"] == topt.state[ts[0]]["n_iter"] == 4
    assert len(st["old_dirs"]) == len(st["old_stps"]) == len(st["ro"]) == 3
    assert st["d"].shape == (12,)
    assert all(u is not v for u, v in zip(st["old_dirs"], opt.state[ps[0]]["old_dirs"]))
    saved_dirs = [v.copy() for v in st["old_dirs"]]

    # our own state dict, and torch's (tensors, lists of tensors), both continue like torch
    tsd = topt.state_dict()
    for source in (sd, tsd):
        ps2 = _ax_params([p._data for p in ps])
        opt2 = LBFGS(ps2, lr=0.1)
        opt2.load_state_dict(source)
        assert opt2.param_groups[0]["lr"] == 1 and opt2.param_groups[0]["max_iter"] == 2
        assert opt2.state[ps2[0]]["n_iter"] == 4
        for _ in range(2):
            opt2.step(make_closure(opt2, ps2, lambda q: _lsq_ax(q, a, bvec)))
        if source is sd:
            ref = ps2
        else:
            for p, q in zip(ps2, ref):
                np.testing.assert_allclose(p._data, q._data, rtol=1e-12, atol=1e-13)
    for _ in range(2):
        opt.step(make_closure(opt, ps, lambda q: _lsq_ax(q, a, bvec)))
        topt.step(make_closure(topt, ts, lambda q: _lsq_torch(q, a, bvec)))
    for p, q, t in zip(ps, ref, ts):
        np.testing.assert_array_equal(p._data, q._data)
        np.testing.assert_allclose(p._data, _np(t), rtol=1e-9, atol=1e-10)
    for u, v in zip(sd["state"][0]["old_dirs"], saved_dirs):  # the snapshot did not change
        np.testing.assert_array_equal(u, v)

    bad = opt.state_dict()
    bad["state"][0]["d"] = np.zeros(5)
    with pytest.raises(ValueError, match="'d' of parameter 0 has shape"):
        LBFGS(_ax_params(init)).load_state_dict(bad)
    bad = opt.state_dict()
    bad["state"][0]["ro"] = bad["state"][0]["ro"][:-1]
    with pytest.raises(ValueError, match="history of parameter 0 is inconsistent"):
        LBFGS(_ax_params(init)).load_state_dict(bad)
