"""The fused CUDA Adam / AdamW update against the CPU's fused update (bit for bit: optim.cu is
compiled without FMA contraction) and an Adam / AdamW training step on "cuda" against "cpu"."""

import numpy as np
import pytest

import axonal

if not axonal.cuda.is_available():
    pytest.skip("no CUDA build or no GPU on this machine", allow_module_level=True)
cp = pytest.importorskip("cupy", reason="CuPy is not installed")

from axonal import _cpu, backend  # noqa: E402

cu = backend.get("cuda")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("maximize", [False, True])
@pytest.mark.parametrize("wd, shrink, beta1", [(0.0, 1.0, 0.9), (0.01, 1.0, 0.9), (0.0, 0.99, 0.3)])
@pytest.mark.parametrize("n", [1, 37, 4099])
def test_fused_adam_equals_the_cpu_update(dtype, amsgrad, maximize, wd, shrink, beta1, n, rng):
    p, g = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    m = rng.standard_normal(n).astype(dtype) * 0.1
    v = rng.random(n).astype(dtype) * 0.01
    vmax = (v + rng.random(n).astype(dtype) * 0.01) if amsgrad else None
    args = (beta1, 0.999, 1e-8, 0.01, 0.3, wd, maximize, shrink)
    dev = [cp.asarray(a) if a is not None else None for a in (p, g, m, v, vmax)]
    host = [a.copy() if a is not None else None for a in (p, g, m, v, vmax)]
    assert cu.adam_update(*dev, *args)
    _cpu.adam_update(*host, *args)
    for got, want in zip(dev, host):
        if want is not None:
            np.testing.assert_array_equal(cp.asnumpy(got), want)


def test_fused_adam_declines_what_it_cannot_do():
    a = cp.ones(8, cp.float32)
    strided = cp.ones(16, cp.float32)[::2]
    args = (0.9, 0.999, 1e-8, 0.01, 1.0, 0.0, False, 1.0)
    assert not cu.adam_update(a, strided, a.copy(), a.copy(), None, *args)
    assert not cu.adam_update(a, a.astype(cp.float64), a.copy(), a.copy(), None, *args)
    assert not cu.adam_update(a, np.ones(8, np.float32), a.copy(), a.copy(), None, *args)
    assert float(a[0]) == 1.0


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_adam_step_on_cuda_matches_cpu(name, rng, monkeypatch):
    import axonal.nn as nn
    import axonal.nn.functional as F
    import axonal.optim as optim

    calls = []
    real = cu.adam_update_many

    def spy(*a, **k):
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(cu, "adam_update_many", spy)
    x = rng.standard_normal((16, 5)).astype(np.float32)
    t = rng.integers(0, 3, 16)
    params = []
    for device in ("cpu", "cuda"):
        axonal.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).to(device)
        opt = getattr(optim, name)(model.parameters(), lr=0.01, weight_decay=0.01, amsgrad=True)
        xb, tb = axonal.tensor(x, device=device), axonal.tensor(t, device=device)
        for _ in range(5):
            opt.zero_grad()
            F.cross_entropy(model(xb), tb).backward()
            opt.step()
        params.append([p.detach().cpu().numpy() for p in model.parameters()])
    assert calls, "the CUDA Adam step did not use the fused kernel"
    for a, b in zip(*params):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_multi_tensor_adam_over_many_parameters_is_bitwise_cpu(amsgrad, rng):
    # 30 parameters of mixed sizes (two launches of at most 24), one without a gradient, steps
    # counted per parameter (one joins late): every value equals the CPU's fused update
    import axonal.optim as optim

    shapes = [(int(rng.integers(1, 300)),) for _ in range(29)] + [(0,)]
    results = []
    for device in ("cpu", "cuda"):
        ps = [axonal.tensor(np.full(s, 0.5, np.float32), device=device, requires_grad=True)
              for s in shapes]  # fmt: skip
        opt = optim.AdamW(ps, lr=0.01, weight_decay=0.02, amsgrad=amsgrad)
        grng = np.random.default_rng(7)
        for step in range(4):
            for i, p in enumerate(ps):
                g = grng.standard_normal(p.shape).astype(np.float32)
                skip = i == 3 or (i == 5 and step < 2)
                p.grad = None if skip else axonal.tensor(g, device=device)
            opt.step()
        results.append([p.detach().cpu().numpy() for p in ps])
    for a, b in zip(*results):
        np.testing.assert_array_equal(b, a)


def test_multi_tensor_adam_rejects_too_many_tensors():
    from axonal import _cuda

    a = cp.zeros(4, cp.float32)
    p = int(a.data.ptr)
    with pytest.raises(ValueError, match="0 .. 24 tensors per launch, got 25"):
        _cuda.adam_update_multi(0, [(p, p, p, p, 0, 4, 0.1, 1.0)] * 25, 0.9, 0.999, 1e-8, 0.0,
                                False, 1.0, 0)  # fmt: skip
