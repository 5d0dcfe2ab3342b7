"""The fused C++ Adam/AdamW update (``_cpu.adam_update``) against the NumPy kernel it replaces on
CPU arrays (which device arrays still use): the same bits, every option, both dtypes."""

import numpy as np
import pytest

from axonal import _cpu
from axonal.optim.adam import _adam_kernel


def _state(rng, n, dtype, ams):
    d = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    m = (0.1 * rng.standard_normal(n)).astype(dtype)
    v = np.abs(0.01 * rng.standard_normal(n)).astype(dtype)
    vmax = (v * rng.uniform(0.5, 1.5, n)).astype(dtype) if ams else None
    return d, g, m, v, vmax


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 1000, 300_001])  # 300,001: split over threads, odd tail
@pytest.mark.parametrize(
    "beta1,ams,maximize,wd,shrink",
    [
        (0.9, False, False, 0.0, 1.0),
        (0.9, True, False, 0.01, 1.0),  # AMSGrad, L2 weight decay
        (0.9, False, True, 0.0, 0.999),  # maximize, AdamW's decoupled shrink
        (0.3, True, True, 0.05, 1.0),  # 1 - beta1 >= 0.5: torch's other lerp form
    ],
)
def test_fused_update_matches_numpy_kernel_bitwise(rng, dtype, n, beta1, ams, maximize, wd, shrink):
    beta2, eps, step_size, bc2 = 0.999, 1e-8, 1e-3 / (1 - beta1**3), (1 - 0.999**3) ** 0.5
    a = _state(rng, n, dtype, ams)
    b = tuple(None if x is None else x.copy() for x in a)
    _cpu.adam_update(*a, beta1, beta2, eps, step_size, bc2, wd, maximize, shrink)
    t0, t1 = np.empty_like(b[0]), np.empty_like(b[0])
    _adam_kernel(*b, t0, t1, beta1, beta2, eps, step_size, bc2, wd, maximize, shrink)
    for name, x, y in zip(
        ("param", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"), a[:1] + a[2:], b[:1] + b[2:]
    ):
        if x is not None:
            np.testing.assert_array_equal(x, y, err_msg=name)
    assert not np.array_equal(a[0], _state(rng, n, dtype, ams)[0])  # something was updated


def test_fused_update_rejects_bad_arrays(rng):
    d, g, m, v, _ = _state(rng, 10, np.float32, False)
    args = (0.9, 0.999, 1e-8, 1e-3, 1.0, 0.0, False, 1.0)
    with pytest.raises(TypeError, match="adam_update: exp_avg has dtype float64"):
        _cpu.adam_update(d, g, m.astype(np.float64), v, None, *args)
    with pytest.raises(ValueError, match=r"adam_update: exp_avg_sq has shape \(9,\)"):
        _cpu.adam_update(d, g, m, v[:9], None, *args)
    with pytest.raises(ValueError, match="adam_update: grad must be C-contiguous"):
        _cpu.adam_update(d, np.zeros(20, np.float32)[::2], m, v, None, *args)
    ro = d.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="adam_update: param is read-only"):
        _cpu.adam_update(ro, g, m, v, None, *args)
    with pytest.raises(TypeError, match="adam_update: param must be float32 or float64"):
        _cpu.adam_update(d.astype(np.float16), g, m, v, None, *args)
    with pytest.raises(TypeError, match="adam_update: grad must be a numpy.ndarray"):
        _cpu.adam_update(d, [0.0] * 10, m, v, None, *args)


def test_adam_takes_the_numpy_path_for_non_contiguous_grads(rng):
    """A parameter whose gradient is a strided view still gets the right update (fallback)."""
    import axonal
    from axonal import optim

    w0 = rng.standard_normal((4, 6)).astype(np.float32)
    gbig = rng.standard_normal((4, 12)).astype(np.float32)
    p1, p2 = (
        axonal.tensor(w0.copy(), requires_grad=True),
        axonal.tensor(w0.copy(), requires_grad=True),
    )
    p1.grad = axonal.tensor(gbig[:, ::2])  # strided: NumPy kernel
    p2.grad = axonal.tensor(np.ascontiguousarray(gbig[:, ::2]))  # contiguous: fused kernel
    for p in (p1, p2):
        opt = optim.Adam([p], lr=0.01, weight_decay=0.1, amsgrad=True)
        opt.step()
        opt.step()
    np.testing.assert_array_equal(p1.detach().numpy(), p2.detach().numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_amsgrad_nan_wins_as_in_torch_maximum(dtype):
    # a NaN in exp_avg_sq (or in max_exp_avg_sq) must reach the parameter, as torch.maximum /
    # np.maximum propagate it; std::max(vmax, NaN) kept the old maximum and hid it
    d = np.array([1.0, 1.0, 1.0], dtype)
    g = np.array([0.1, 0.1, 0.1], dtype)
    m = np.zeros(3, dtype)
    v = np.array([np.nan, 0.01, 0.01], dtype)
    vmax = np.array([0.02, np.nan, 0.02], dtype)
    a = (d, g, m, v, vmax)
    b = tuple(x.copy() for x in a)
    args = (0.9, 0.999, 1e-8, 0.01, 0.5, 0.0, False, 1.0)
    _cpu.adam_update(*a, *args)
    t0, t1 = np.empty_like(d), np.empty_like(d)
    _adam_kernel(*b, t0, t1, *args)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)  # NaNs in the same places
    assert np.isnan(a[0][:2]).all() and np.isfinite(a[0][2])
