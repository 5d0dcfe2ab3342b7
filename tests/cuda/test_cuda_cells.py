"""The LSTM / GRU cell kernels (csrc/cuda/cells.cu) on the GPU: the backend functions against the
NumPy equations of ops/recurrent.py in float64 and float32, including odd sizes, one row, one
unit and non-contiguous inputs; the recurrent layers on "cuda" use them and match the CPU.
Skipped, with the reason, without the CUDA build, a GPU or CuPy (tests/cuda/test_cuda_fake_gpu.py
runs this module through the host emulator)."""

import numpy as np
import pytest

from axonal import cuda

if not cuda.is_available():
    pytest.skip("no CUDA build or no GPU on this machine", allow_module_level=True)
cp = pytest.importorskip("cupy", reason="the CUDA kernels take CuPy arrays")

import axonal  # noqa: E402
import axonal.nn as nn  # noqa: E402
from axonal.backend import cuda as cu  # noqa: E402

SIZES = [(1, 1), (3, 5), (17, 33), (64, 130)]
TOL = {np.float64: 1e-12, np.float32: 2e-6}


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm_ref(gates, c, dh, dc):
    H = c.shape[1]
    i, f = sig(gates[:, :H]), sig(gates[:, H : 2 * H])
    g, o = np.tanh(gates[:, 2 * H : 3 * H]), sig(gates[:, 3 * H :])
    c2 = f * c + i * g
    tc = np.tanh(c2)
    dct = dc + dh * o * (1 - tc * tc)
    dgates = np.concatenate(
        [
            dct * g * i * (1 - i),
            dct * c * f * (1 - f),
            dct * i * (1 - g * g),
            dh * tc * o * (1 - o),
        ],
        axis=1,
    )
    return o * tc, c2, np.concatenate([i, f, g, o], axis=1), dgates, dct * f


def gru_ref(gi, gh, h, dh):
    H = h.shape[1]
    r = sig(gi[:, :H] + gh[:, :H])
    z = sig(gi[:, H : 2 * H] + gh[:, H : 2 * H])
    n = np.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
    dn = dh * (1 - z) * (1 - n * n)
    dr = dn * gh[:, 2 * H :] * r * (1 - r)
    dz = dh * (h - n) * z * (1 - z)
    dgi = np.concatenate([dr, dz, dn], axis=1)
    dgh = np.concatenate([dr, dz, dn * r], axis=1)
    return (1 - z) * n + z * h, np.concatenate([r, z, n], axis=1), dgi, dgh, dh * z


def close(got, want, dtype):
    got = cp.asnumpy(got).astype(np.float64)
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    assert got.shape == want.shape
    assert float(np.abs(got - want).max(initial=0.0)) <= TOL[dtype] * scale


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("N,H", SIZES)
def test_lstm_cell_kernels(dtype, N, H):
    rng = np.random.default_rng(N * 100 + H)
    gates = (3 * rng.standard_normal((N, 4 * H))).astype(dtype)
    c, dh, dc = (rng.standard_normal((N, H)).astype(dtype) for _ in range(3))
    want = lstm_ref(*(a.astype(np.float64) for a in (gates, c, dh, dc)))
    h2, c2, act = cu.lstm_cell_forward(cp.asarray(gates), cp.asarray(c))
    for got, w in zip((h2, c2, act), want[:3]):
        assert got.dtype == dtype
        close(got, w, dtype)
    # the gradients from the kernel's own saved activations, dh given as a strided view
    dh_wide = cp.zeros((N, 2 * H), dtype)
    dh_wide[:, ::2] = cp.asarray(dh)
    dgates, dcp = cu.lstm_cell_backward(dh_wide[:, ::2], cp.asarray(dc), act, cp.asarray(c), c2)
    close(dgates, want[3], dtype)
    close(dcp, want[4], dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("N,H", SIZES)
def test_gru_cell_kernels(dtype, N, H):
    rng = np.random.default_rng(N * 100 + H + 7)
    gi, gh = (2 * rng.standard_normal((N, 3 * H))).astype(dtype), rng.standard_normal((N, 3 * H))
    gh = gh.astype(dtype)
    h, dh = (rng.standard_normal((N, H)).astype(dtype) for _ in range(2))
    want = gru_ref(*(a.astype(np.float64) for a in (gi, gh, h, dh)))
    gi_t = cp.asarray(np.asfortranarray(gi))  # a non-C-contiguous input
    h2, act = cu.gru_cell_forward(gi_t, cp.asarray(gh), cp.asarray(h))
    close(h2, want[0], dtype)
    close(act, want[1], dtype)
    dgi, dgh, dhp = cu.gru_cell_backward(cp.asarray(dh), act, cp.asarray(gh), cp.asarray(h))
    for got, w in zip((dgi, dgh, dhp), want[2:]):
        close(got, w, dtype)


def test_cell_kernels_decline_what_they_do_not_take():
    a = cp.zeros((2, 8), cp.float32)
    assert cu.lstm_cell_forward(a, cp.zeros((2, 3), cp.float32)) is None  # 4H != 8
    assert cu.lstm_cell_forward(a, cp.zeros((2, 2), cp.float64)) is None  # dtypes differ
    assert cu.lstm_cell_forward(a.astype(cp.float16), cp.zeros((2, 2), cp.float16)) is None
    assert cu.gru_cell_forward(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 1))) is None
    z = cu.lstm_cell_forward(cp.zeros((0, 8), cp.float32), cp.zeros((0, 2), cp.float32))
    assert [x.shape for x in z] == [(0, 2), (0, 2), (0, 8)]


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_recurrent_layers_on_cuda_use_the_cell_kernels_and_match_cpu(mode, monkeypatch):
    calls = []
    real = cu._cell_call

    def counting(op, *a):
        calls.append(op)
        return real(op, *a)

    monkeypatch.setattr(cu, "_cell_call", counting)
    axonal.manual_seed(3)
    layer = getattr(nn, mode)(5, 7, num_layers=2, bidirectional=True).double()
    x = axonal.randn(6, 3, 5, dtype=axonal.float64)
    out_c, _ = layer(x)
    out_c.sum().backward()
    grads_c = [p.grad.numpy().copy() for p in layer.parameters()]
    layer.zero_grad()
    layer.to("cuda")
    out_g, _ = layer(x.to("cuda"))
    out_g.sum().backward()
    name = "lstm_cell" if mode == "LSTM" else "gru_cell"
    assert f"{name}_forward" in calls and f"{name}_backward" in calls
    np.testing.assert_allclose(
        cp.asnumpy(out_g.detach()._data), out_c.detach().numpy(), 1e-10, 1e-12
    )
    for p, gc in zip(layer.parameters(), grads_c):
        np.testing.assert_allclose(cp.asnumpy(p.grad._data), gc, 1e-9, 1e-11)
