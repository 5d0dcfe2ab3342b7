"""Training on the fake "cuda": an MLP and a CNN give the same parameters as on the CPU (same
seed, DataLoader batches moved with .to(device), and through ``fit(device=...)``), and
``axonal train <recipe> --device cuda`` runs end to end."""

import json

import fake_cupy
import numpy as np
import pytest

import axonal
import axonal.nn as nn
import axonal.nn.functional as F
import axonal.optim as optim
from axonal.cli import main
from axonal.training import fit
from axonal.utils.data import DataLoader, TensorDataset


def _data(n=48, shape=(1, 8, 8), classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *shape)).astype(np.float32)
    y = rng.integers(0, classes, n)
    return TensorDataset(axonal.from_numpy(x), axonal.from_numpy(y))


def _cnn():
    return nn.Sequential(
        # no bias before a BatchNorm: its exact gradient is 0, and Adam would scale the rounding
        # noise of that 0 (different for the CPU's C++ kernels and the device's NumPy code) up to
        # lr-sized steps
        nn.Conv2d(1, 4, 3, padding=1, bias=False),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(6, 3),
    )


def _mlp():
    return nn.Sequential(
        nn.Flatten(), nn.Linear(64, 32), nn.GELU(), nn.Dropout(0.3), nn.Linear(32, 3)
    )


def _train_manual(make, device, dtype, epochs=2):
    axonal.manual_seed(0)
    model = make().to(dtype).to(device)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    loader = DataLoader(_data(), batch_size=16, shuffle=True)
    for _ in range(epochs):
        for x, y in loader:
            assert x.device == "cpu"  # batches come from the host, the user moves them
            x, y = x.to(device, dtype), y.to(device)
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        sched.step()
    return model, loss


@pytest.mark.parametrize("make", [_mlp, _cnn], ids=["mlp", "cnn"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_training_steps_match_cpu(make, dtype, host):
    cpu, loss_cpu = _train_manual(make, "cpu", dtype)
    dev, loss_dev = _train_manual(make, "cuda", dtype)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)
    assert type(loss_dev._data) is fake_cupy.ndarray
    np.testing.assert_allclose(host(loss_dev), loss_cpu.item(), **tol)
    for (name, a), b in zip(cpu.state_dict().items(), dev.state_dict().values()):
        assert type(b._data) is fake_cupy.ndarray, name
        np.testing.assert_allclose(host(b), a.numpy(), err_msg=name, **tol)


def test_fit_with_device_matches_cpu(host):
    results = []
    for device in (None, "cuda"):
        axonal.manual_seed(1)
        model = _mlp()
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        train = DataLoader(_data(), batch_size=12, shuffle=True)
        val = DataLoader(_data(seed=1), batch_size=24)
        hist = fit(
            model,
            nn.CrossEntropyLoss(),
            opt,
            train,
            val,
            epochs=2,
            metrics=["accuracy"],
            device=device,
            grad_clip_norm=1.0,
            verbose=False,
        )
        results.append((model, hist))
    (m0, h0), (m1, h1) = results
    assert all(type(p._data) is fake_cupy.ndarray for p in m1.parameters())
    np.testing.assert_allclose(h1.history["loss"], h0.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(h1.history["val_accuracy"], h0.history["val_accuracy"])
    for a, b in zip(m0.parameters(), m1.parameters()):
        np.testing.assert_allclose(host(b), a.numpy(), rtol=1e-4, atol=1e-6)


def test_cli_train_cnn_digits_on_cuda(tmp_path, capsys):
    out = tmp_path / "r.json"
    args = ["train", "cnn-digits", "--device", "cuda", "--epochs", "1", "--json", str(out)]
    assert main(args + ["--quiet"]) == 0
    res = json.loads(out.read_text())
    assert res["device"] == "cuda" and res["epochs_run"] == 1
    assert 0.0 <= res["test_accuracy"] <= 1.0
    assert res["test_accuracy"] > 0.3  # one epoch learns something (chance: 0.1)


def test_cli_rejects_a_bad_device(capsys):
    assert main(["train", "mlp-digits", "--device", "gpu", "--epochs", "1"]) == 2
    assert "--device gpu" in capsys.readouterr().err


@pytest.mark.real_cuda_state
def test_cli_without_cuda_fails_clearly(capsys):
    if axonal.cuda.is_available():
        pytest.skip("a GPU is usable here: the no-CUDA error cannot happen")
    assert main(["train", "cnn-digits", "--device", "cuda", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "--device cuda" in err and "CUDA is not available" in err
