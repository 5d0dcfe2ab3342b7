"""axonal.optim.lr_scheduler: learning-rate sequences against torch, state dicts, errors."""

import math
import warnings

import numpy as np
import pytest

import axonal
from axonal import optim
from axonal.optim import lr_scheduler as axs

torch = pytest.importorskip("torch")

EPOCHS = 50
LRS = (0.1, 0.03)  # two parameter groups with different rates


def _torch_opt(kind="SGD", **kw):
    ps = [torch.zeros(3, requires_grad=True), torch.zeros(2, requires_grad=True)]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(ps, LRS)]
    return getattr(torch.optim, kind)(groups, **kw)


def _axonal_opt(kind="SGD", **kw):
    ps = [axonal.tensor(np.zeros(3, np.float32), requires_grad=True) for _ in LRS]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(ps, LRS)]
    return getattr(optim, kind)(groups, **kw)


def _half(epoch):
    return 0.5 ** (epoch // 4)


class _Warmup:
    """A callable object (its __dict__ is saved by LambdaLR.state_dict)."""

    def __init__(self, n):
        self.n = n

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.n)


# name -> (optimizer kind and kwargs, scheduler factory taking (lr_scheduler module, optimizer))
SCHEDULERS = {
    "StepLR": (("SGD", {}), lambda L, o: L.StepLR(o, step_size=7, gamma=0.5)),
    "MultiStepLR": (("SGD", {}), lambda L, o: L.MultiStepLR(o, [5, 12, 12, 30], gamma=0.3)),
    "ExponentialLR": (("SGD", {}), lambda L, o: L.ExponentialLR(o, gamma=0.93)),
    "CosineAnnealingLR": (
        ("SGD", {}),
        lambda L, o: L.CosineAnnealingLR(o, T_max=17, eta_min=0.002),
    ),
    "CosineAnnealingWarmRestarts": (
        ("SGD", {}),
        lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=6, T_mult=2, eta_min=1e-3),
    ),
    "CosineAnnealingWarmRestarts-T_mult1": (
        ("SGD", {}),
        lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=9),
    ),
    "LinearLR-warmup": (
        ("SGD", {}),
        lambda L, o: L.LinearLR(o, start_factor=0.1, total_iters=8),
    ),
    "LinearLR-decay": (
        ("SGD", {}),
        lambda L, o: L.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=30),
    ),
    "LambdaLR": (("SGD", {}), lambda L, o: L.LambdaLR(o, lambda e: 1.0 / (1.0 + 0.3 * e))),
    "LambdaLR-per-group": (("Adam", {}), lambda L, o: L.LambdaLR(o, [_half, _Warmup(10)])),
    "MultiplicativeLR": (("SGD", {}), lambda L, o: L.MultiplicativeLR(o, lambda e: 0.97)),
    "ConstantLR": (("SGD", {}), lambda L, o: L.ConstantLR(o, factor=0.25, total_iters=6)),
    "PolynomialLR": (("SGD", {}), lambda L, o: L.PolynomialLR(o, total_iters=40, power=1.7)),
    "SequentialLR-warmup-cosine": (
        ("SGD", {}),
        lambda L, o: L.SequentialLR(
            o,
            [L.LinearLR(o, start_factor=0.05, total_iters=5), L.CosineAnnealingLR(o, T_max=45)],
            milestones=[5],
        ),
    ),
    "SequentialLR-three": (
        ("Adam", {}),
        lambda L, o: L.SequentialLR(
            o,
            [
                L.ConstantLR(o, factor=0.5, total_iters=3),
                L.ExponentialLR(o, gamma=0.9),
                L.StepLR(o, step_size=5, gamma=0.5),
            ],
            milestones=[4, 20],
        ),
    ),
    "ChainedScheduler": (
        ("SGD", {}),
        lambda L, o: L.ChainedScheduler(
            [L.ExponentialLR(o, gamma=0.95), L.StepLR(o, step_size=10, gamma=0.5)]
        ),
    ),
    "OneCycleLR-cos-SGD": (
        ("SGD", {"momentum": 0.9}),
        lambda L, o: L.OneCycleLR(o, max_lr=[1.0, 0.4], total_steps=EPOCHS),
    ),
    "OneCycleLR-linear-three-phase-Adam": (
        ("Adam", {}),
        lambda L, o: L.OneCycleLR(
            o,
            max_lr=0.05,
            epochs=5,
            steps_per_epoch=10,
            pct_start=0.25,
            anneal_strategy="linear",
            three_phase=True,
            base_momentum=0.8,
            max_momentum=[0.95, 0.9],
        ),
    ),
    "OneCycleLR-no-momentum": (
        ("Adagrad", {}),
        lambda L, o: L.OneCycleLR(o, max_lr=0.5, total_steps=EPOCHS + 3, cycle_momentum=False),
    ),
    "CyclicLR-triangular2-SGD": (
        ("SGD", {"momentum": 0.9}),
        lambda L, o: L.CyclicLR(
            o, base_lr=0.01, max_lr=[0.1, 0.2], step_size_up=6, mode="triangular2"
        ),
    ),
    "CyclicLR-exp_range-Adam": (
        ("Adam", {}),
        lambda L, o: L.CyclicLR(
            o,
            base_lr=0.001,
            max_lr=0.01,
            step_size_up=4,
            step_size_down=7,
            mode="exp_range",
            gamma=0.97,
        ),
    ),
}


def _momenta(opt):
    out = []
    for g in opt.param_groups:
        out.append(g["betas"][0] if "betas" in g else g.get("momentum"))
    return out


def _sequence(lib_sched, opt, factory, epochs):
    sched = factory(lib_sched, opt)
    first = [g["lr"] for g in opt.param_groups]
    lrs, last, moms = [first], [list(sched.get_last_lr())], [_momenta(opt)]
    for _ in range(epochs):
        opt.step()
        sched.step()
        lrs.append([g["lr"] for g in opt.param_groups])
        last.append(list(sched.get_last_lr()))
        moms.append(_momenta(opt))
    return np.array(lrs), np.array(last), np.array(moms, dtype=float)


@pytest.mark.parametrize("key", list(SCHEDULERS))
def test_lr_sequence_matches_torch(key):
    (kind, kw), factory = SCHEDULERS[key]
    t_opt, a_opt = _torch_opt(kind, **kw), _axonal_opt(kind, **kw)
    t_lrs, t_last, t_mom = _sequence(torch.optim.lr_scheduler, t_opt, factory, EPOCHS)
    a_lrs, a_last, a_mom = _sequence(axs, a_opt, factory, EPOCHS)
    assert a_lrs.shape == (EPOCHS + 1, 2)
    assert len(np.unique(np.round(a_lrs[:, 0], 12))) > 1  # the schedule really changes the lr
    np.testing.assert_allclose(a_lrs, t_lrs, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a_last, t_last, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a_mom, t_mom, rtol=1e-12, atol=1e-15)
    for tg, ag in zip(t_opt.param_groups, a_opt.param_groups):
        if "initial_lr" in tg:
            assert ag["initial_lr"] == pytest.approx(tg["initial_lr"], rel=1e-15)


def _plateau_metrics(seed):
    """A noisy loss curve with plateaus, and a short spell that improves."""
    rng = np.random.default_rng(seed)
    base = np.concatenate(
        [np.linspace(1.0, 0.5, 12), np.full(15, 0.5), np.linspace(0.5, 0.3, 5), np.full(18, 0.3)]
    )
    return base + 1e-5 * rng.standard_normal(EPOCHS)


PLATEAU = {
    "min-rel": dict(mode="min", factor=0.5, patience=3),
    "min-abs-cooldown": dict(
        mode="min", factor=0.3, patience=2, threshold=1e-3, threshold_mode="abs", cooldown=4
    ),
    "max-rel": dict(mode="max", factor=0.5, patience=1, threshold=0.01),
    "max-abs-min_lr": dict(
        mode="max", factor=0.1, patience=0, threshold_mode="abs", min_lr=[1e-3, 2e-4]
    ),
    "min-lr-floor-eps": dict(factor=0.2, patience=0, min_lr=0.004, eps=1e-3),
}


@pytest.mark.parametrize("key", list(PLATEAU))
def test_reduce_lr_on_plateau_matches_torch(key):
    kw = PLATEAU[key]
    metrics = _plateau_metrics(len(key))
    if kw.get("mode", "min") == "max":
        metrics = 1.0 - metrics  # an accuracy-like curve
    runs = []
    for lib, make in ((torch.optim.lr_scheduler, _torch_opt), (axs, _axonal_opt)):
        opt = make()
        sched = lib.ReduceLROnPlateau(opt, **kw)
        lrs = []
        for i, m in enumerate(metrics):
            opt.step()
            sched.step(float(m) if i % 2 else np.float64(m))  # numbers or 0-d values
            lrs.append([g["lr"] for g in opt.param_groups])
            assert list(sched.get_last_lr()) == lrs[-1]
        runs.append((np.array(lrs), sched.num_bad_epochs, sched.best, sched.last_epoch))
    (t_lrs, *t_rest), (a_lrs, *a_rest) = runs
    assert len(np.unique(a_lrs[:, 0])) > 1  # it did reduce
    np.testing.assert_allclose(a_lrs, t_lrs, rtol=1e-12, atol=0)
    assert a_rest == t_rest


def test_plateau_accepts_tensor_metric():
    opt = _axonal_opt()
    sched = axs.ReduceLROnPlateau(opt, patience=0)
    sched.step(axonal.tensor(np.array(1.0, np.float32)))
    sched.step(axonal.tensor(np.array(2.0, np.float32)))
    assert sched.get_last_lr() == pytest.approx([0.01, 0.003])


def test_scheduler_drives_a_real_optimizer_like_torch():
    """Adam + LinearLR warm-up then cosine: parameters match torch's after 20 steps."""
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((4, 3)).astype(np.float32)
    x = rng.standard_normal((9, 4)).astype(np.float32)

    def grads(w):
        t = torch.tensor(w, requires_grad=True)
        (torch.tanh(torch.from_numpy(x) @ t) ** 2).sum().backward()
        return t.grad.numpy()

    def run(lib):
        if lib is torch:
            w = torch.tensor(w0.copy(), requires_grad=True)
            opt, L = torch.optim.Adam([w], lr=0.05), torch.optim.lr_scheduler
        else:
            w = axonal.tensor(w0.copy(), requires_grad=True)
            opt, L = optim.Adam([w], lr=0.05), axs
        sched = L.SequentialLR(
            opt, [L.LinearLR(opt, 0.1, total_iters=4), L.CosineAnnealingLR(opt, 16)], [4]
        )
        for _ in range(20):
            data = w.detach().numpy() if lib is torch else w._data
            g = grads(data)
            w.grad = torch.from_numpy(g) if lib is torch else axonal.tensor(g)
            opt.step()
            sched.step()
        return w.detach().numpy() if lib is torch else w._data

    np.testing.assert_allclose(run(axonal), run(torch), rtol=0, atol=1e-5)


# ---------------------------------------------------------------------------- state dicts
@pytest.mark.parametrize("key", list(SCHEDULERS))
def test_state_dict_round_trip(key):
    (kind, kw), factory = SCHEDULERS[key]
    opt = _axonal_opt(kind, **kw)
    sched = factory(axs, opt)
    for _ in range(13):
        opt.step()
        sched.step()
    sd, osd = sched.state_dict(), opt.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == sched.last_epoch

    opt2 = _axonal_opt(kind, **kw)
    sched2 = factory(axs, opt2)
    opt2.load_state_dict(osd)
    sched2.load_state_dict(sd)
    assert sched2.get_last_lr() == sched.get_last_lr()
    for _ in range(20):
        for o, s in ((opt, sched), (opt2, sched2)):
            o.step()
            s.step()
        assert sched2.get_last_lr() == sched.get_last_lr()
        assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]
        assert _momenta(opt2) == _momenta(opt)


def test_plateau_state_dict_round_trip():
    opt = _axonal_opt()
    sched = axs.ReduceLROnPlateau(opt, patience=2, cooldown=1)
    metrics = _plateau_metrics(1)
    for m in metrics[:20]:
        sched.step(m)
    opt2 = _axonal_opt()
    sched2 = axs.ReduceLROnPlateau(opt2)
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(sched.state_dict())
    assert sched2.patience == 2 and sched2.best == sched.best
    for m in metrics[20:]:
        sched.step(m)
        sched2.step(m)
        assert sched2.get_last_lr() == sched.get_last_lr()


def test_lambda_state_dict_saves_callable_objects_only():
    opt = _axonal_opt()
    warm = _Warmup(10)
    sched = axs.LambdaLR(opt, [_half, warm])
    sd = sched.state_dict()
    assert sd["lr_lambdas"] == [None, {"n": 10}]
    warm.n = 3
    sched.load_state_dict(sd)
    assert warm.n == 10


# ---------------------------------------------------------------------------- construction
def test_construction_sets_initial_lr_and_base_lrs():
    opt = _axonal_opt()
    opt.param_groups[1]["initial_lr"] = 0.5  # kept when already there, like torch
    sched = axs.StepLR(opt, step_size=2)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert sched.base_lrs == [0.1, 0.5] and sched.last_epoch == 0
    one = axs.OneCycleLR(_axonal_opt("SGD", momentum=0.9), max_lr=1.0, total_steps=10)
    assert [g["initial_lr"] for g in one.optimizer.param_groups] == [0.04, 0.04]
    assert one.optimizer.param_groups[0]["lr"] == pytest.approx(0.04)
    assert one.optimizer.param_groups[0]["momentum"] == 0.95


def test_resume_with_last_epoch():
    opt = _axonal_opt()
    with pytest.raises(KeyError, match="initial_lr"):
        axs.StepLR(opt, step_size=3, last_epoch=5)
    for g in opt.param_groups:
        g["initial_lr"] = g["lr"]
    sched = axs.ExponentialLR(opt, gamma=0.5, last_epoch=4)
    assert sched.last_epoch == 5 and sched.base_lrs == list(LRS)
    opt.step()
    with pytest.warns(UserWarning, match="deprecated"):
        sched.step(7)  # the closed form, as in torch
    assert sched.get_last_lr() == pytest.approx([lr * 0.5**7 for lr in LRS])


def test_warm_restarts_fractional_epochs_match_torch():
    out = []
    for lib, make in ((torch.optim.lr_scheduler, _torch_opt), (axs, _axonal_opt)):
        opt = make()
        sched = lib.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=0.01)
        seq = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for e in np.arange(0, 20, 0.35):
                opt.step()
                sched.step(float(e))
                seq.append(sched.get_last_lr())
        out.append(np.array(seq))
    np.testing.assert_allclose(out[1], out[0], rtol=1e-12)


def test_warns_when_stepped_before_the_optimizer():
    opt = _axonal_opt()
    sched = axs.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match="before optimizer.step"):
        sched.step()
    opt2 = _axonal_opt()
    sched2 = axs.StepLR(opt2, step_size=2)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()
        sched2.get_last_lr()
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched2.get_lr()


# ---------------------------------------------------------------------------- errors
def test_bad_arguments_raise():
    opt = _axonal_opt()
    with pytest.raises(TypeError, match="expected an axonal.optim.Optimizer"):
        axs.StepLR(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), 3)
    with pytest.raises(ValueError, match="step_size must be a positive integer"):
        axs.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="milestones must be increasing"):
        axs.MultiStepLR(opt, [10, 5])
    with pytest.raises(ValueError, match="start_factor"):
        axs.LinearLR(opt, start_factor=0.0)
    with pytest.raises(ValueError, match="T_max"):
        axs.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError, match="T_mult"):
        axs.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=0)
    with pytest.raises(ValueError, match="2 parameter groups"):
        axs.LambdaLR(opt, [_half])
    with pytest.raises(TypeError, match="callable"):
        axs.LambdaLR(opt, 0.5)
    with pytest.raises(ValueError, match="factor must be in"):
        axs.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode must be 'min' or 'max'"):
        axs.ReduceLROnPlateau(opt, mode="avg")
    with pytest.raises(ValueError, match="threshold_mode"):
        axs.ReduceLROnPlateau(opt, threshold_mode="relative")
    with pytest.raises(ValueError, match="min_lr has 3 values"):
        axs.ReduceLROnPlateau(opt, min_lr=[0, 0, 0])
    with pytest.raises(TypeError, match="metric must be a number"):
        axs.ReduceLROnPlateau(opt).step("low")
    with pytest.raises(ValueError, match="total_steps"):
        axs.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="cycle_momentum"):
        axs.OneCycleLR(_axonal_opt("Adagrad"), max_lr=0.1, total_steps=5)
    with pytest.raises(ValueError, match="anneal_strategy"):
        axs.OneCycleLR(opt, max_lr=0.1, total_steps=5, anneal_strategy="step")


def test_sequential_lr_errors():
    opt, other = _axonal_opt(), _axonal_opt()
    a, b = axs.ConstantLR(opt), axs.ExponentialLR(opt, 0.9)
    with pytest.raises(ValueError, match="one milestone fewer than schedulers"):
        axs.SequentialLR(opt, [a, b], milestones=[3, 6])
    with pytest.raises(ValueError, match="another optimizer"):
        axs.SequentialLR(opt, [a, axs.ExponentialLR(other, 0.9)], milestones=[3])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        axs.SequentialLR(opt, [a, axs.ReduceLROnPlateau(opt)], milestones=[3])
    with pytest.raises(ValueError, match="at least one"):
        axs.SequentialLR(opt, [], milestones=[])


def test_one_cycle_past_total_steps_raises():
    opt = _axonal_opt("SGD", momentum=0.9)
    sched = axs.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    for _ in range(3):
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="tried to step 4 times.*total_steps is 3"):
        sched.step()


def test_load_state_dict_rejects_unknown_entries():
    opt = _axonal_opt()
    step = axs.StepLR(opt, step_size=3)
    cos = axs.CosineAnnealingLR(_axonal_opt(), T_max=5)
    with pytest.raises(KeyError, match=r"unknown entries \['T_max', 'eta_min'\]"):
        step.load_state_dict(cos.state_dict())


def test_cosine_closed_form_agrees_with_recursion():
    opt = _axonal_opt()
    sched = axs.CosineAnnealingLR(opt, T_max=10, eta_min=0.01)
    for e in range(1, 11):
        opt.step()
        sched.step()
        want = 0.01 + (LRS[0] - 0.01) * (1 + math.cos(math.pi * e / 10)) / 2
        assert sched.get_last_lr()[0] == pytest.approx(want, rel=1e-12)
