"""Train a small MLP on the Wisconsin breast-cancer data with ``axonal.training.fit``.

    PYTHONPATH=python python examples/fit_breast_cancer.py

Shows the pieces that ``axonal train mlp-breast-cancer`` puts together: a stratified split,
standardisation fitted on the training part only, AdamW + ReduceLROnPlateau, early stopping
that restores the best weights, an atomic safetensors checkpoint, and the test metrics.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

import axonal
from axonal import nn, optim
from axonal.datasets import breast_cancer, train_test_split
from axonal.training import EarlyStopping, ModelCheckpoint, fit, metrics, predict
from axonal.utils.data import DataLoader, Standardize, TensorDataset


def main() -> None:
    axonal.manual_seed(0)
    x, y = breast_cancer()
    x, y = x.numpy(), (y.numpy() == 0).astype(np.float32)  # 1 = malignant
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=y, seed=0)
    x_tr, x_val, y_tr, y_val = train_test_split(x_tr, y_tr, test_size=0.15, stratify=y_tr, seed=0)
    scaler = Standardize().fit(x_tr)

    def loader(xs, ys, shuffle=False):
        ds = TensorDataset(
            axonal.from_numpy(scaler.transform(xs)), axonal.from_numpy(ys.reshape(-1, 1))
        )
        return DataLoader(ds, batch_size=32, shuffle=shuffle)

    model = nn.Sequential(
        nn.Linear(30, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 1)
    )
    opt = optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    sched = optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=5)
    tmp = tempfile.TemporaryDirectory()
    ckpt = os.path.join(tmp.name, "best.safetensors")
    history = fit(
        model,
        nn.BCEWithLogitsLoss(),
        opt,
        loader(x_tr, y_tr, shuffle=True),
        loader(x_val, y_val),
        epochs=100,
        scheduler=sched,
        metrics=["accuracy", "auroc"],
        callbacks=[EarlyStopping(patience=15), ModelCheckpoint(ckpt)],
    )
    print(f"best epoch {history.best('val_loss')[0]}; checkpoint {ckpt}")

    # the checkpoint holds the best weights: load them into a fresh model
    fresh = nn.Sequential(
        nn.Linear(30, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 1)
    )
    fresh.load_state_dict(axonal.load(ckpt))
    logits = predict(fresh, loader(x_te, y_te)).ravel()
    pred = (logits > 0).astype(int)
    print(
        f"test: accuracy {metrics.accuracy(y_te, pred):.4f}  "
        f"AUROC {metrics.roc_auc_score(y_te, logits):.4f}  "
        f"sensitivity {metrics.sensitivity(y_te, pred):.4f}  "
        f"specificity {metrics.specificity(y_te, pred):.4f}"
    )
    print("confusion matrix (rows: true benign, malignant):")
    print(metrics.confusion_matrix(y_te, pred))
    tmp.cleanup()


if __name__ == "__main__":
    main()
