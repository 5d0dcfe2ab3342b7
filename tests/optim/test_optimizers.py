"""axonal.optim optimizers: parity with torch.optim, param groups, state dicts, errors."""

import numpy as np
import pytest

import axonal
from axonal import optim

torch = pytest.importorskip("torch")

# (optimizer, keyword arguments): every optimizer and its main option combinations
CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.01, momentum=0.8, nesterov=True, weight_decay=0.05, maximize=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.2)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.02, betas=(0.6, 0.7), weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.05, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, weight_decay=0.3, amsgrad=True)),
    ("AdamW", dict(lr=0.01, betas=(0.8, 0.95), maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.1, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.05, eps=1e-3, maximize=True)),
    ("Adadelta", dict(lr=1.0)),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-4, weight_decay=0.1)),
    ("Adadelta", dict(lr=1.0, maximize=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.005, momentum=0.9)),
    ("RMSprop", dict(lr=0.005, alpha=0.3, eps=1e-4, centered=True, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, maximize=True, weight_decay=0.05)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.01, betas=(0.7, 0.9), maximize=True)),
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.02, betas=(0.6, 0.8), weight_decay=0.1)),
    ("Adamax", dict(lr=0.01, maximize=True)),
]
IDS = [f"{name}-" + ",".join(f"{k}={v}" for k, v in kw.items()) for name, kw in CONFIGS]

STEPS = 20


def _problem(seed, dtype):
    """A 2-layer tanh network with a least-squares loss, odd sizes, random data."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((11, 5)).astype(dtype)
    y = rng.standard_normal((11, 3)).astype(dtype)
    init = [
        (rng.standard_normal((5, 7)) * 0.6).astype(dtype),
        (rng.standard_normal(7) * 0.1).astype(dtype),
        (rng.standard_normal((7, 3)) * 0.6).astype(dtype),
        (rng.standard_normal((1, 3)) * 0.1).astype(dtype),  # a size-1 dimension
    ]
    return x, y, init


def _loss(ts, x, y):
    w1, b1, w2, b2 = ts
    out = torch.tanh(torch.from_numpy(x) @ w1 + b1) @ w2 + b2
    return ((out - torch.from_numpy(y)) ** 2).mean()


def _grads_at(arrays, x, y):
    """Gradients of the loss at the given parameter values (evaluated with torch autograd)."""
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    _loss(ts, x, y).backward()
    return [t.grad.numpy().copy() for t in ts]


def _params(init):
    return [axonal.tensor(a.copy(), dtype=a.dtype, requires_grad=True) for a in init]


def _axonal_loss(params, x, y):
    w1, b1, w2, b2 = params
    out = axonal.tanh(axonal.tensor(x, dtype=x.dtype) @ w1 + b1) @ w2 + b2
    return ((out - axonal.tensor(y, dtype=y.dtype)) ** 2).mean()


def _set_grads(params, x, y, skip=()):
    """Fresh gradients of the loss from axonal's own autograd (None for ``skip``)."""
    for p in params:
        p.grad = None
    _axonal_loss(params, x, y).backward()
    for i in skip:
        params[i].grad = None


def _run_torch(name, kw, init, x, y, steps, skip_fn=lambda step: ()):
    ts = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = getattr(torch.optim, name)(ts, **kw)
    for step in range(steps):
        opt.zero_grad()
        _loss(ts, x, y).backward()
        for i in skip_fn(step):
            ts[i].grad = None
        opt.step()
    return [t.detach().numpy() for t in ts]


def _run_axonal(name, kw, init, x, y, steps, skip_fn=lambda step: ()):
    params = _params(init)
    opt = getattr(optim, name)(params, **kw)
    for step in range(steps):
        opt.zero_grad()
        _set_grads(params, x, y, skip=skip_fn(step))
        opt.step()
    return [p._data for p in params], opt


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
@pytest.mark.parametrize("dtype,tol", [(np.float32, 1e-5), (np.float64, 1e-10)])
def test_matches_torch(name, kw, dtype, tol):
    x, y, init = _problem(sum(map(ord, name)) + len(kw), dtype)
    expected = _run_torch(name, kw, init, x, y, STEPS)
    got, _ = _run_axonal(name, kw, init, x, y, STEPS)
    for g, e, a0 in zip(got, expected, init):
        assert g.dtype == dtype
        assert not np.allclose(e, a0, atol=10 * tol)  # the parameters really moved
        np.testing.assert_allclose(g, e, rtol=0, atol=tol)


@pytest.mark.parametrize("name,kw", CONFIGS[::2], ids=IDS[::2])
def test_parameters_without_grad_are_skipped(name, kw):
    """Parameters whose grad is None are left alone (state and all), like torch."""
    x, y, init = _problem(3, np.float64)

    def skip(step):  # b1 never has a grad; w2 gets none on every third step
        return (1, 2) if step % 3 == 0 else (1,)

    expected = _run_torch(name, kw, init, x, y, 12, skip)
    got, opt = _run_axonal(name, kw, init, x, y, 12, skip)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(got[1], init[1])
    state = opt.state.get(opt.param_groups[0]["params"][1])
    if name == "Adagrad":  # torch's Adagrad creates its state at construction
        assert state["step"] == 0
    else:
        assert not state


def test_step_without_any_grad_changes_nothing():
    x, y, init = _problem(4, np.float32)
    params = _params(init)
    opt = optim.Adam(params, lr=0.1)
    assert opt.step() is None
    for p, a in zip(params, init):
        np.testing.assert_array_equal(p._data, a)
    assert len(opt.state) == 0


def test_param_groups_and_lr_changes_match_torch():
    """Per-group hyperparameters, a group added later, and lr written between steps."""
    x, y, init = _problem(5, np.float32)

    def run(lib, make):
        ps = make(init)
        opt = lib.optim.SGD(
            [{"params": ps[:2]}, {"params": [ps[2]], "lr": 0.02, "nesterov": True}],
            lr=0.1,
            momentum=0.9,
        )
        opt.add_param_group({"params": [ps[3]], "momentum": 0.0, "weight_decay": 0.1})
        for step in range(15):
            grads_from(lib, ps)
            opt.step()
            opt.param_groups[0]["lr"] *= 0.9  # what a scheduler does
            if step == 7:
                opt.param_groups[2]["lr"] = 0.3
        return [to_np(p) for p in ps]

    def grads_from(lib, ps):
        if lib is torch:
            for p in ps:
                p.grad = None
            _loss(ps, x, y).backward()
        else:
            _set_grads(ps, x, y)

    def to_np(p):
        return p.detach().numpy() if isinstance(p, torch.Tensor) else p._data

    expected = run(torch, lambda a: [torch.tensor(v.copy(), requires_grad=True) for v in a])
    got = run(axonal, _params)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-5)


def test_param_groups_fill_defaults():
    p, q = _params([np.ones(3, np.float32), np.zeros((2, 2), np.float32)])
    opt = optim.Adam([{"params": [p]}, {"params": q, "lr": 0.5, "betas": (0.5, 0.6)}], lr=0.1)
    g0, g1 = opt.param_groups
    assert g0["lr"] == 0.1 and g0["betas"] == (0.9, 0.999) and g0["params"][0] is p
    assert g1["lr"] == 0.5 and g1["betas"] == (0.5, 0.6) and g1["params"][0] is q
    assert g1["eps"] == opt.defaults["eps"] == 1e-8
    assert "Parameter Group 1" in repr(opt) and "lr: 0.5" in repr(opt)


def test_named_parameters_and_generators_are_accepted():
    ps = _params([np.ones(3, np.float32), np.ones(2, np.float32)])
    opt = optim.SGD((("w", ps[0]), ("b", ps[1])), lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["w", "b"]
    assert all(a is b for a, b in zip(opt.param_groups[0]["params"], ps))
    opt2 = optim.SGD((p for p in ps), lr=0.1)
    assert len(opt2.param_groups[0]["params"]) == 2


def test_zero_grad():
    ps = _params([np.ones(3, np.float32), np.ones((2, 1), np.float32)])
    opt = optim.SGD(ps, lr=0.1)
    for p in ps:
        p.grad = axonal.tensor(np.full(p._data.shape, 2.0, np.float32))
    kept = ps[0].grad
    opt.zero_grad(set_to_none=False)
    assert ps[0].grad is kept
    for p in ps:
        np.testing.assert_array_equal(p.grad._data, np.zeros(p._data.shape))
    opt.zero_grad()
    assert all(p.grad is None for p in ps)


def test_zero_grad_keeps_read_only_grads_usable():
    (p,) = _params([np.ones((2, 3), np.float32)])
    p.grad = axonal.tensor(np.ones((2, 3), np.float32))
    p.grad._data = np.broadcast_to(np.float32(1.0), (2, 3))  # what a sum's backward may give
    opt = optim.SGD([p], lr=0.5)
    opt.step()
    np.testing.assert_array_equal(p._data, np.full((2, 3), 0.5, np.float32))
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad._data, np.zeros((2, 3)))
    assert p.grad._data.flags.writeable


def test_closure_is_called_once_and_its_loss_returned():
    x, y, init = _problem(6, np.float64)
    params = _params(init)
    opt = optim.SGD(params, lr=0.1)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        _set_grads(params, x, y)
        return 1.25

    assert opt.step(closure) == 1.25
    assert len(calls) == 1
    expected = [a - 0.1 * g for a, g in zip(init, _grads_at(init, x, y))]
    for p, e in zip(params, expected):
        np.testing.assert_allclose(p._data, e, rtol=0, atol=1e-12)


def test_updates_are_in_place():
    ps = _params([np.ones((4, 3), np.float32)])
    buf = ps[0]._data
    opt = optim.Adam(ps, lr=0.1)
    ps[0].grad = axonal.tensor(np.ones((4, 3), np.float32))
    opt.step()
    assert ps[0]._data is buf
    np.testing.assert_allclose(buf, 0.9, atol=1e-6)


def test_size_zero_and_scalar_parameters():
    ps = _params([np.zeros((0, 4), np.float32), np.array(2.0, np.float32)])
    opt = optim.RMSprop(ps, lr=0.1, momentum=0.5, centered=True)
    ps[0].grad = axonal.tensor(np.zeros((0, 4), np.float32))
    ps[1].grad = axonal.tensor(np.array(1.0, np.float32))
    opt.step()
    assert ps[0]._data.shape == (0, 4)
    t = torch.tensor(2.0, requires_grad=True)
    topt = torch.optim.RMSprop([t], lr=0.1, momentum=0.5, centered=True)
    t.grad = torch.tensor(1.0)
    topt.step()
    np.testing.assert_allclose(ps[1]._data, t.detach().numpy(), atol=1e-6)


@pytest.fixture
def restore_threads():
    n = axonal.get_num_threads()
    yield
    axonal.set_num_threads(n)


@pytest.mark.parametrize("name,kw", CONFIGS[1::2], ids=IDS[1::2])
def test_threaded_update_is_bitwise_the_same(name, kw, monkeypatch, restore_threads):
    """Large parameters are updated in chunks on several threads: same bits as one thread."""
    import axonal.optim.optimizer as base

    monkeypatch.setattr(base, "_MIN_CHUNK", 256)  # make a few thousand elements "large"
    monkeypatch.setattr(base, "_MIN_WORK", 0)
    rng = np.random.default_rng(11)
    init = [rng.standard_normal((37, 61)).astype(np.float32), rng.standard_normal(1999)]
    grads = [[rng.standard_normal(a.shape).astype(a.dtype) for a in init] for _ in range(4)]
    results = []
    for threads in (1, 3, 5):
        axonal.set_num_threads(threads)
        params = _params(init)
        opt = getattr(optim, name)(params, **kw)
        for gs in grads:
            for p, g in zip(params, gs):
                p.grad = axonal.tensor(g, dtype=g.dtype)
            opt.step()
        results.append([p._data.copy() for p in params])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)
    ts = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    topt = getattr(torch.optim, name)(ts, **kw)
    for gs in grads:
        for t, g in zip(ts, gs):
            t.grad = torch.from_numpy(g)
        topt.step()
    for a, t in zip(results[-1], ts):
        np.testing.assert_allclose(a, t.detach().numpy(), rtol=0, atol=1e-5)


# ---------------------------------------------------------------------------- state dicts
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_state_dict_round_trip_continues_identically(name, kw):
    x, y, init = _problem(7, np.float32)
    params = _params(init)
    opt = getattr(optim, name)(params, **kw)
    for _ in range(6):
        _set_grads(params, x, y)
        opt.step()
    sd = opt.state_dict()
    assert sorted(sd) == ["param_groups", "state"]
    assert sd["param_groups"][0]["params"] == [0, 1, 2, 3]
    snapshot = {i: {k: np.copy(v) for k, v in s.items()} for i, s in sd["state"].items()}

    # a fresh optimizer (different lr on purpose: the state dict's hyperparameters win)
    params2 = _params([p._data for p in params])
    opt2 = getattr(optim, name)(params2, **{**kw, "lr": 123.0})
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == kw["lr"]
    assert opt2.param_groups[0]["params"][0] is params2[0]
    for _ in range(6):
        _set_grads(params, x, y)
        opt.step()
        _set_grads(params2, x, y)
        opt2.step()
    for p, q in zip(params, params2):
        np.testing.assert_array_equal(p._data, q._data)
    # the state dict is a snapshot: later steps did not change it
    for i, s in sd["state"].items():
        for k, v in s.items():
            np.testing.assert_array_equal(v, snapshot[i][k])
    # loading copied the arrays: both optimizers own their state
    for p, q in zip(params, params2):
        for k, v in opt2.state[q].items():
            if isinstance(v, np.ndarray):
                assert not np.shares_memory(v, opt.state[p][k])


def test_load_state_dict_accepts_string_indices():
    """Indices that went through JSON (strings) still find their parameters."""
    opt, params = _trained("RMSprop", momentum=0.5)
    sd = opt.state_dict()
    sd["state"] = {str(k): v for k, v in sd["state"].items()}
    opt2 = optim.RMSprop(_params([p._data for p in params]), lr=0.01)
    opt2.load_state_dict(sd)
    q = opt2.param_groups[0]["params"][2]
    np.testing.assert_array_equal(
        opt2.state[q]["momentum_buffer"], opt.state[params[2]]["momentum_buffer"]
    )


def test_load_torch_state_dict_and_continue():
    """A torch Adam state dict loads (tensors converted) and the run continues like torch."""
    x, y, init = _problem(8, np.float32)
    ts = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    topt = torch.optim.Adam(ts, lr=0.01, amsgrad=True)
    for step in range(10):
        topt.zero_grad()
        _loss(ts, x, y).backward()
        topt.step()
        if step == 4:
            sd = topt.state_dict()
            sd = {
                "state": {i: {k: v.clone() for k, v in s.items()} for i, s in sd["state"].items()},
                "param_groups": sd["param_groups"],
            }
            params = _params([t.detach().numpy().copy() for t in ts])
    opt = optim.Adam(params, lr=0.5)
    opt.load_state_dict(sd)
    assert opt.state[params[0]]["step"] == 5 and opt.param_groups[0]["amsgrad"] is True
    for _ in range(5):
        _set_grads(params, x, y)
        opt.step()
    for p, t in zip(params, ts):
        np.testing.assert_allclose(p._data, t.detach().numpy(), rtol=0, atol=1e-5)


# ---------------------------------------------------------------------------- errors
ALL = ["SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "RMSprop", "NAdam", "Adamax"]


def _one_param():
    return _params([np.ones(3, np.float32)])


@pytest.mark.parametrize("name", ALL)
def test_negative_lr_raises(name):
    with pytest.raises(ValueError, match=rf"{name}: invalid learning rate.*-0\.1"):
        getattr(optim, name)(_one_param(), lr=-0.1)
    opt = getattr(optim, name)(_one_param(), lr=0.1)
    with pytest.raises(ValueError, match="learning rate"):
        opt.add_param_group({"params": _one_param(), "lr": -1.0})
    with pytest.raises(ValueError, match="weight_decay"):
        getattr(optim, name)(_one_param(), weight_decay=-1e-3)


@pytest.mark.parametrize("name", ["Adam", "AdamW", "NAdam", "Adamax"])
@pytest.mark.parametrize("betas", [(1.0, 0.999), (0.9, -0.1), (-0.5, 0.9), (0.9, 1.5)])
def test_betas_out_of_range_raise(name, betas):
    with pytest.raises(ValueError, match=r"beta parameter at index [01].*\[0, 1\)"):
        getattr(optim, name)(_one_param(), betas=betas)


@pytest.mark.parametrize("name", ALL)
def test_empty_parameter_list_raises(name):
    with pytest.raises(ValueError, match="empty parameter list"):
        getattr(optim, name)([])


def test_nesterov_needs_momentum_and_no_dampening():
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum"):
        optim.SGD(_one_param(), lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="zero dampening"):
        optim.SGD(_one_param(), lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)


def test_bad_params_raise():
    (p,) = _one_param()
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p)
    with pytest.raises(TypeError, match="not a set"):
        optim.SGD({"params": {p}})
    with pytest.raises(TypeError, match="parameter 1 is a ndarray"):
        optim.SGD([p, np.ones(3)])
    with pytest.raises(TypeError, match="floating-point.*int64"):
        optim.SGD([axonal.tensor(np.arange(3))])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}])
    with pytest.raises(ValueError, match="same parameter twice"):
        optim.SGD([p, p])
    with pytest.raises(ValueError, match="'params'"):
        optim.SGD([{"lr": 0.1}])


def test_required_hyperparameter_missing_raises():
    (p,) = _one_param()
    with pytest.raises(ValueError, match="required optimization parameter lr"):
        optim.Optimizer([p], {"lr": optim.optimizer.required})


def test_grad_shape_mismatch_raises():
    (p,) = _one_param()
    p.grad = axonal.tensor(np.ones(4, np.float32))
    with pytest.raises(ValueError, match=r"gradient shape \(4,\).*parameter shape \(3,\)"):
        optim.SGD([p], lr=0.1, weight_decay=0.1).step()


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_adam_bad_gradient_changes_nothing(name):
    # every gradient is checked before any parameter or step count changes (the device path
    # updates a group's parameters in one launch after the loop)
    a = axonal.tensor(np.ones(3, np.float32), requires_grad=True)
    b = axonal.tensor(np.ones(2, np.float32), requires_grad=True)
    opt = getattr(optim, name)([a, b], lr=0.1)
    a.grad = axonal.tensor(np.ones(3, np.float32))
    b.grad = axonal.tensor(np.ones(5, np.float32))
    with pytest.raises(ValueError, match=r"gradient shape \(5,\)"):
        opt.step()
    assert not opt.state[a] and not opt.state[b]
    np.testing.assert_array_equal(a.detach().numpy(), np.ones(3, np.float32))


def _trained(name="Adam", **kw):
    x, y, init = _problem(9, np.float32)
    params = _params(init)
    opt = getattr(optim, name)(params, lr=0.01, **kw)
    _set_grads(params, x, y)
    opt.step()
    return opt, params


def test_load_state_dict_errors():
    opt, params = _trained()
    sd = opt.state_dict()

    fresh = optim.Adam(_params([p._data for p in params]), lr=0.01)
    bad = {"state": {**sd["state"], 17: sd["state"][0]}, "param_groups": sd["param_groups"]}
    with pytest.raises(KeyError, match="unknown parameter index 17"):
        fresh.load_state_dict(bad)
    bad = {"state": {0: {**sd["state"][0], "velocity": 1}}, "param_groups": sd["param_groups"]}
    with pytest.raises(KeyError, match="unknown state entry 'velocity'"):
        fresh.load_state_dict(bad)
    with pytest.raises(KeyError, match="no 'state' entry"):
        fresh.load_state_dict({"param_groups": sd["param_groups"]})
    with pytest.raises(KeyError, match="unknown entries"):
        fresh.load_state_dict({**sd, "extra": 1})

    small = optim.Adam(_params([p._data for p in params[:3]]), lr=0.01)
    with pytest.raises(ValueError, match="has 4 parameters in the state dict but 3"):
        small.load_state_dict(sd)
    two = optim.Adam([{"params": _params([params[0]._data])}, {"params": _params([])}])
    with pytest.raises(ValueError, match="1 parameter groups, the optimizer has 2"):
        two.load_state_dict(sd)

    shapes = optim.Adam(_params([p._data.T.copy() for p in params]), lr=0.01)
    with pytest.raises(ValueError, match=r"'exp_avg' of parameter 0 has shape \(5, 7\)"):
        shapes.load_state_dict(sd)

    # a state dict of another optimizer kind
    sgd = optim.SGD(_params([p._data for p in params]), lr=0.1)
    with pytest.raises(ValueError, match="lacks the hyperparameters"):
        sgd.load_state_dict(sd)

    # nothing changed after the failed loads
    assert len(fresh.state) == 0 and fresh.param_groups[0]["lr"] == 0.01


def test_load_state_dict_validates_hyperparameters():
    opt, params = _trained("SGD", momentum=0.9)
    sd = opt.state_dict()
    sd["param_groups"][0]["lr"] = -2.0
    with pytest.raises(ValueError, match="invalid learning rate"):
        optim.SGD(_params([p._data for p in params]), lr=0.1).load_state_dict(sd)
