"""The fit loop and its callbacks: loss goes down, early stopping restores the best weights,
schedulers are stepped, eval runs without gradients in eval mode, runs are repeatable."""

import numpy as np
import pytest

import axonal
from axonal import nn, optim
from axonal.training import (
    Callback,
    EarlyStopping,
    History,
    LRSchedulerCallback,
    TerminateOnNaN,
    Trainer,
    evaluate,
    fit,
    predict,
)
from axonal.utils.data import DataLoader, TensorDataset


def _blobs(rng, n=96, d=5, classes=3, shift=2.0):
    y = np.arange(n) % classes
    centers = rng.standard_normal((classes, d)) * shift
    x = centers[y] + rng.standard_normal((n, d))
    return x.astype(np.float32), y.astype(np.int64)


def _loaders(x, y, batch=16, shuffle=True):
    ds = TensorDataset(axonal.tensor(x), axonal.tensor(y))
    return DataLoader(ds, batch_size=batch, shuffle=shuffle)


def _mlp(d, h, c):
    return nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, c))


class Snapshots(Callback):
    """Records a copy of the weights after every epoch."""

    def __init__(self):
        self.by_epoch = {}

    def on_epoch_end(self, trainer, epoch, logs):
        self.by_epoch[epoch] = {k: v.numpy().copy() for k, v in trainer.model.state_dict().items()}


def test_fit_decreases_loss_and_records_history(rng):
    axonal.manual_seed(0)
    x, y = _blobs(rng, n=90, d=7)
    model = _mlp(7, 16, 3)
    opt = optim.Adam(model.parameters(), lr=0.01)
    lines = []
    hist = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        _loaders(x, y, batch=13),
        _loaders(x, y, batch=32, shuffle=False),
        epochs=15,
        metrics=["accuracy", "f1"],
        log=lines.append,
    )
    assert isinstance(hist, History) and hist.epoch == list(range(1, 16))
    for key in ("loss", "val_loss", "val_accuracy", "val_f1", "lr", "time"):
        assert len(hist[key]) == 15, key
    assert hist["loss"][-1] < 0.5 * hist["loss"][0]
    assert hist["val_loss"][-1] < hist["val_loss"][0]
    # the validation loss equals an independent evaluation of the final model
    final = evaluate(model, nn.CrossEntropyLoss(), _loaders(x, y, 32, False), ["accuracy"])
    assert final["loss"] == pytest.approx(hist["val_loss"][-1], rel=1e-5)
    assert final["accuracy"] == pytest.approx(hist["val_accuracy"][-1])
    assert len(lines) == 15 and lines[0].startswith("epoch  1")
    for word in ("loss", "val_loss", "val_accuracy", "lr", "s"):
        assert word in lines[-1]
    assert hist.best("val_accuracy")[1] == max(hist["val_accuracy"])


def test_fit_is_repeatable_with_manual_seed(rng):
    x, y = _blobs(rng, n=40, d=4)

    def run():
        axonal.manual_seed(123)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 3))
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        h = fit(model, nn.CrossEntropyLoss(), opt, _loaders(x, y, 7), epochs=3, verbose=False)
        return h["loss"], model.state_dict()

    l1, s1 = run()
    l2, s2 = run()
    assert l1 == l2
    for k in s1:
        np.testing.assert_array_equal(s1[k].numpy(), s2[k].numpy())


def _diverging_setup(rng, patience):
    """Train on labels y, validate on the *other* labels: the validation loss rises every
    epoch after the first, so epoch 1 is the best."""
    axonal.manual_seed(1)
    x, y = _blobs(rng, n=60, d=4, classes=2, shift=3.0)
    model = _mlp(4, 8, 2)
    opt = optim.Adam(model.parameters(), lr=0.05)
    train = _loaders(x, y, 10)
    val = _loaders(x, 1 - y, 60, shuffle=False)
    snaps = Snapshots()
    stopper = EarlyStopping(patience=patience, verbose=False)
    return model, opt, train, val, snaps, stopper


def test_early_stopping_stops_and_restores_best_weights(rng):
    model, opt, train, val, snaps, stopper = _diverging_setup(rng, patience=3)
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, callbacks=[snaps, stopper], verbose=False)
    hist = trainer.fit(train, val, epochs=30)
    best = int(np.argmin(hist["val_loss"])) + 1
    assert stopper.best_epoch == best
    assert stopper.stopped_epoch == best + 3 == len(hist.epoch)
    assert stopper.best == pytest.approx(min(hist["val_loss"]))
    final = {k: v.numpy() for k, v in model.state_dict().items()}
    last = snaps.by_epoch[len(hist.epoch)]
    assert any(not np.array_equal(final[k], last[k]) for k in final)
    for k, v in snaps.by_epoch[best].items():
        np.testing.assert_array_equal(final[k], v)
    # and the restored model has the best validation loss again
    again = evaluate(model, nn.CrossEntropyLoss(), val)["loss"]
    assert again == pytest.approx(stopper.best, rel=1e-6)


def test_early_stopping_restores_even_without_stopping(rng):
    model, opt, train, val, snaps, stopper = _diverging_setup(rng, patience=50)
    Trainer(model, nn.CrossEntropyLoss(), opt, callbacks=[snaps, stopper], verbose=False).fit(
        train, val, epochs=6
    )
    assert stopper.stopped_epoch is None
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), snaps.by_epoch[stopper.best_epoch][k])


def test_early_stopping_without_restore_keeps_last_weights(rng):
    model, opt, train, val, snaps, _ = _diverging_setup(rng, patience=2)
    stopper = EarlyStopping(patience=2, restore_best_weights=False, verbose=False)
    hist = Trainer(model, nn.CrossEntropyLoss(), opt, callbacks=[snaps, stopper]).fit(
        train, val, epochs=20
    )
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), snaps.by_epoch[len(hist.epoch)][k])


def test_early_stopping_modes_and_min_delta():
    assert EarlyStopping("val_accuracy").mode == "max"
    assert EarlyStopping("val_auroc").mode == "max"
    assert EarlyStopping("val_loss").mode == "min"
    s = EarlyStopping("val_loss", min_delta=0.1)
    s.best = 1.0
    assert not s.improved(0.95) and s.improved(0.85) and not s.improved(float("nan"))
    with pytest.raises(ValueError, match="mode"):
        EarlyStopping(mode="up")
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)


def test_missing_monitor_names_the_available_logs(rng):
    x, y = _blobs(rng, n=20, d=3)
    model = _mlp(3, 4, 3)
    opt = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(KeyError, match="val_loss.*pass a val_loader"):
        fit(
            model,
            nn.CrossEntropyLoss(),
            opt,
            _loaders(x, y),
            epochs=2,
            callbacks=[EarlyStopping()],
            verbose=False,
        )


def test_reduce_lr_on_plateau_uses_validation_loss(rng):
    model, opt, train, val, _, _ = _diverging_setup(rng, patience=1)
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    hist = fit(
        model, nn.CrossEntropyLoss(), opt, train, val, epochs=6, scheduler=sched, verbose=False
    )
    lrs = hist["lr"]
    assert lrs[0] == 0.05
    # the validation loss only gets worse: the lr halves every 2 bad epochs
    assert lrs[-1] < lrs[0]
    assert sched.best == pytest.approx(min(hist["val_loss"]))


def test_step_interval_scheduler_counts_batches(rng):
    x, y = _blobs(rng, n=50, d=3)
    model = _mlp(3, 4, 3)
    opt = optim.SGD(model.parameters(), lr=0.1)
    loader = _loaders(x, y, batch=8)  # 7 batches an epoch
    sched = optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=3 * len(loader))
    cb = LRSchedulerCallback(sched)
    assert cb.interval == "step"
    fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=3, callbacks=[cb], verbose=False)
    assert sched.last_epoch == 3 * len(loader)
    with pytest.raises(ValueError, match="once per epoch"):
        LRSchedulerCallback(optim.lr_scheduler.ReduceLROnPlateau(opt), interval="step")


class Probe(nn.Module):
    """Records the training flag and grad mode seen by forward."""

    def __init__(self, d, c):
        super().__init__()
        self.fc = nn.Linear(d, c)
        self.seen = []

    def forward(self, x):
        self.seen.append((self.training, axonal.is_grad_enabled()))
        return self.fc(x)


def test_train_eval_modes_and_no_grad(rng):
    x, y = _blobs(rng, n=24, d=3)
    model = Probe(3, 3)
    opt = optim.SGD(model.parameters(), lr=0.1)
    fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        _loaders(x, y, 8),
        _loaders(x, y, 12, False),
        epochs=1,
        verbose=False,
    )
    assert model.seen[:3] == [(True, True)] * 3  # 3 training batches
    assert model.seen[3:] == [(False, False)] * 2  # 2 validation batches
    assert model.training  # put back in training mode
    model.eval()
    out = predict(model, _loaders(x, y, 10, False))
    assert out.shape == (24, 3) and not model.training  # predict keeps the caller's mode


def test_terminate_on_nan_and_errors(rng):
    x, y = _blobs(rng, n=16, d=2)
    x[3, 0] = np.nan
    model = _mlp(2, 3, 3)
    opt = optim.SGD(model.parameters(), lr=0.1)
    hist = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        _loaders(x, y, 4, shuffle=False),
        epochs=5,
        callbacks=[TerminateOnNaN()],
        verbose=False,
    )
    assert len(hist.epoch) == 1 and np.isnan(hist["loss"][0])
    with pytest.raises(ValueError, match="unknown metric 'acuracy'"):
        fit(model, nn.CrossEntropyLoss(), opt, _loaders(x, y), metrics=["acuracy"])
    with pytest.raises(TypeError, match="Callback"):
        fit(model, nn.CrossEntropyLoss(), opt, _loaders(x, y), callbacks=[print])
    with pytest.raises(ValueError, match="epochs"):
        fit(model, nn.CrossEntropyLoss(), opt, _loaders(x, y), epochs=-1)


def test_binary_metrics_from_logits_and_custom_callable(rng):
    axonal.manual_seed(3)
    n = 64
    y = (np.arange(n) % 2).astype(np.float32).reshape(-1, 1)
    x = (rng.standard_normal((n, 3)) + 2.5 * y).astype(np.float32)
    model = nn.Linear(3, 1)
    opt = optim.Adam(model.parameters(), lr=0.05)
    loader = DataLoader(TensorDataset(axonal.tensor(x), axonal.tensor(y)), batch_size=16)

    def mean_logit(out, tgt):
        return float(out.mean())

    hist = fit(
        model,
        nn.BCEWithLogitsLoss(),
        opt,
        loader,
        loader,
        epochs=10,
        metrics=["accuracy", "auroc", "sensitivity", "specificity", mean_logit],
        verbose=False,
    )
    from sklearn.metrics import accuracy_score, roc_auc_score

    logits = predict(model, loader).ravel()
    assert hist["val_auroc"][-1] == pytest.approx(roc_auc_score(y.ravel(), logits))
    assert hist["val_accuracy"][-1] == pytest.approx(accuracy_score(y.ravel(), logits > 0))
    assert hist["val_mean_logit"][-1] == pytest.approx(logits.mean(), rel=1e-5)
    assert hist["val_auroc"][-1] > 0.9
