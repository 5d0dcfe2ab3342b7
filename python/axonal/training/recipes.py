"""Ready-made training recipes, run by ``axonal train <recipe>``.

Each recipe: a fixed, stratified train/test split (the test part never depends on ``seed``),
a validation part carved from training with ``seed``, feature standardisation fitted on the
training part only, an MLP trained with AdamW, ReduceLROnPlateau on the validation loss and
early stopping (best weights restored), then the test metrics.

    mlp-breast-cancer   Wisconsin breast cancer (569 x 30), 30-64-32-1, BCEWithLogitsLoss;
                        positive class = malignant; test accuracy, AUROC, sensitivity, specificity;
                        ``axonal train`` evaluates it on 10 train/test splits by default
                        (``repeats``)
    mlp-digits          scikit-learn 8x8 digits (1797 x 64), 64-128-64-10, CrossEntropyLoss
    mlp-mnist           MNIST test set (10,000 images, IDX files in --data-dir) split 8,000 train /
                        2,000 test, 784-256-128-10, CrossEntropyLoss
    cnn-digits, cnn-mnist, resnet-mnist: convolutional networks, see ``recipes_cnn.py``
    rnn-digits, rnn-mnist: a bidirectional LSTM reading images row by row, see ``recipes_rnn.py``
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import numpy as np

__all__ = ["RECIPES", "Recipe", "run_recipe", "run_repeats"]

SPLIT_SEED = 0  # default train/test split seed: the same test set for every --seed


@dataclass
class Recipe:
    name: str
    description: str
    epochs: int
    batch_size: int
    lr: float
    patience: int
    weight_decay: float
    load: Callable[[Optional[str], int], tuple] = field(repr=False)
    hidden: List[int] = field(default_factory=list)
    binary: bool = False
    needs_data_dir: bool = False
    dropout: float = 0.0
    standardize_axis: Any = 0
    # CPU threads for the kernels; None keeps the library's setting. The tabular models are so
    # small that a second thread gains nothing, and on a busy machine a multi-threaded kernel
    # call can wait a whole scheduler time slice for its second thread.
    threads: Optional[int] = None
    # CNN recipes (recipes_cnn.py): model(input_shape, n_out) instead of the MLP, and the LR
    # schedule: 'plateau' (ReduceLROnPlateau) or 'onecycle' (OneCycleLR, stepped per batch)
    model: Optional[Callable[[tuple, int], Any]] = field(default=None, repr=False)
    schedule: str = "plateau"
    # How many train/test splits ``axonal train`` evaluates by default (repeated hold-out,
    # split seeds 0, 1, ...). One split of a small data set is a noisy estimate: breast
    # cancer's test part has 114 samples, so one misclassified case moves accuracy by 0.9 %.
    repeats: int = 1


def _load_breast_cancer(data_dir: Optional[str], split_seed: int) -> tuple:
    from ..datasets import breast_cancer, train_test_split

    x, y = breast_cancer()
    x, y = x.numpy(), y.numpy()
    y = (y == 0).astype(np.int64)  # 1 = malignant (the positive finding), 0 = benign
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=y, seed=split_seed)
    return x_tr, y_tr, x_te, y_te


def _load_digits(data_dir: Optional[str], split_seed: int) -> tuple:
    from ..datasets import digits, train_test_split

    x, y = digits()
    x, y = x.numpy(), y.numpy()
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=y, seed=split_seed)
    return x_tr, y_tr, x_te, y_te


def _load_mnist(data_dir: Optional[str], split_seed: int) -> tuple:
    from ..datasets import mnist_split

    if data_dir is None:
        raise ValueError(
            "mlp-mnist: --data-dir DIR is required (a folder with t10k-images-idx3-ubyte[.gz] "
            "and t10k-labels-idx1-ubyte[.gz])"
        )
    (x_tr, y_tr), (x_te, y_te) = mnist_split(data_dir, 8000, 2000, seed=split_seed, flatten=True)
    return x_tr.numpy(), y_tr.numpy(), x_te.numpy(), y_te.numpy()


RECIPES: Dict[str, Recipe] = {
    "mlp-breast-cancer": Recipe(
        "mlp-breast-cancer",
        "Wisconsin breast cancer, MLP 30-64-32-1, BCEWithLogitsLoss (positive = malignant)",
        epochs=100,
        batch_size=32,
        lr=1e-3,
        patience=15,
        weight_decay=1e-4,
        load=_load_breast_cancer,
        hidden=[64, 32],
        binary=True,
        threads=1,
        repeats=10,
    ),
    "mlp-digits": Recipe(
        "mlp-digits",
        "scikit-learn 8x8 digits, MLP 64-128-64-10, CrossEntropyLoss",
        epochs=60,
        batch_size=32,
        lr=1e-3,
        patience=10,
        weight_decay=1e-4,
        load=_load_digits,
        hidden=[128, 64],
        threads=1,
    ),
    "mlp-mnist": Recipe(
        "mlp-mnist",
        "MNIST 10k test images split 8,000/2,000, MLP 784-256-128-10, CrossEntropyLoss",
        epochs=20,
        batch_size=128,
        lr=1e-3,
        patience=5,
        weight_decay=1e-4,
        load=_load_mnist,
        hidden=[256, 128],
        needs_data_dir=True,
        dropout=0.2,
        standardize_axis=(0, 1),  # one mean/std for all pixels (per-pixel std is ~0 at borders)
    ),
}


def _mlp(sizes: List[int], dropout: float) -> Any:
    from .. import nn

    layers: List[Any] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def run_recipe(
    name: str = "mlp-breast-cancer",
    epochs: Optional[int] = None,
    seed: int = 0,
    batch_size: Optional[int] = None,
    lr: Optional[float] = None,
    data_dir: Optional[str] = None,
    patience: Optional[int] = None,
    checkpoint: Optional[str] = None,
    split_seed: Optional[int] = None,
    threads: Optional[int] = None,
    verbose: bool = True,
    log: Callable[[str], None] = print,
    device: Optional[str] = None,
) -> Dict[str, Any]:
    """Run the recipe ``name``; returns a dict with the test metrics, epochs run and seconds.

    ``device``: "cpu" (default) or "cuda" / "cuda:N": the model, its optimizer state and every
    batch live there (RuntimeError naming the reason where CUDA cannot be used).

    ``seed`` drives the initialisation, the shuffling, dropout and the validation split;
    ``split_seed`` (default 0) the train/test split, so the test set stays put across seeds.
    ``threads``: CPU threads for the run (default: the recipe's choice); restored afterwards.
    Results do not depend on the thread count.
    """
    from .._runtime import get_num_threads, set_num_threads

    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose from {', '.join(RECIPES)}")
    threads = RECIPES[name].threads if threads is None else int(threads)
    before = get_num_threads()
    if threads is not None:
        set_num_threads(threads)
    try:
        return _run(
            name,
            epochs,
            seed,
            batch_size,
            lr,
            data_dir,
            patience,
            checkpoint,
            split_seed,
            verbose,
            log,
            device,
        )
    finally:
        set_num_threads(before)


def _run(
    name: str,
    epochs: Optional[int],
    seed: int,
    batch_size: Optional[int],
    lr: Optional[float],
    data_dir: Optional[str],
    patience: Optional[int],
    checkpoint: Optional[str],
    split_seed: Optional[int],
    verbose: bool,
    log: Callable[[str], None],
    device: Optional[str] = None,
) -> Dict[str, Any]:
    import axonal

    from .. import nn, optim
    from .._runtime import get_num_threads
    from ..datasets import train_test_split
    from ..utils.data import DataLoader, Standardize, TensorDataset
    from .callbacks import EarlyStopping, ModelCheckpoint
    from .loop import Trainer
    from .metrics import accuracy, roc_auc_score, sensitivity, specificity

    r = RECIPES[name]
    epochs = r.epochs if epochs is None else int(epochs)
    batch_size = r.batch_size if batch_size is None else int(batch_size)
    lr = r.lr if lr is None else float(lr)
    patience = r.patience if patience is None else int(patience)
    say = log if verbose else (lambda s: None)

    device = None if device is None else str(axonal.device(device))
    if device is not None and device.startswith("cuda"):
        from ..ops.creation import cupy_module

        cupy_module()  # the reason CUDA cannot be used, before any work
    t_start = time.perf_counter()
    axonal.manual_seed(seed)
    split_seed = SPLIT_SEED if split_seed is None else int(split_seed)
    x_trval, y_trval, x_te, y_te = r.load(data_dir, split_seed)
    x_tr, x_val, y_tr, y_val = train_test_split(
        x_trval, y_trval, test_size=0.15, stratify=y_trval, seed=seed
    )
    scaler = Standardize(axis=r.standardize_axis).fit(x_tr)
    x_tr, x_val, x_te = (
        np.ascontiguousarray(scaler.transform(a), dtype=np.float32) for a in (x_tr, x_val, x_te)
    )
    n_out = 1 if r.binary else int(y_trval.max()) + 1

    def targets(y: np.ndarray) -> Any:
        if r.binary:
            return axonal.from_numpy(y.astype(np.float32).reshape(-1, 1))
        return axonal.from_numpy(np.ascontiguousarray(y, dtype=np.int64))

    train_ds = TensorDataset(axonal.from_numpy(x_tr), targets(y_tr))
    val_ds = TensorDataset(axonal.from_numpy(x_val), targets(y_val))
    test_ds = TensorDataset(axonal.from_numpy(x_te), targets(y_te))
    train_loader = DataLoader(train_ds, batch_size=batch_size, shuffle=True)
    val_loader = DataLoader(val_ds, batch_size=1024)
    test_loader = DataLoader(test_ds, batch_size=1024)

    if r.model is not None:
        model = r.model(x_tr.shape[1:], n_out)
    else:
        model = _mlp([x_tr.shape[1], *r.hidden, n_out], r.dropout)
    loss_fn = nn.BCEWithLogitsLoss() if r.binary else nn.CrossEntropyLoss()
    opt = optim.AdamW(model.parameters(), lr=lr, weight_decay=r.weight_decay)
    if r.schedule == "onecycle":
        sched = optim.lr_scheduler.OneCycleLR(
            opt, max_lr=lr, epochs=epochs, steps_per_epoch=len(train_loader)
        )
    else:
        sched = optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="min", factor=0.5, patience=max(1, patience // 3)
        )
    metric_names = ["accuracy", "auroc"] if r.binary else ["accuracy"]
    callbacks: List[Any] = [EarlyStopping(monitor="val_loss", patience=patience, verbose=verbose)]
    if checkpoint:
        callbacks.append(ModelCheckpoint(checkpoint, monitor="val_loss"))
    trainer = Trainer(
        model,
        loss_fn,
        opt,
        metrics=metric_names,
        callbacks=callbacks,
        scheduler=sched,
        device=device,
        verbose=verbose,
        log=log,
    )
    say(
        f"axonal train {name}: {r.description}\n"
        f"  train {len(x_tr)}  val {len(x_val)}  test {len(x_te)}  features {x_tr.shape[1]}  "
        f"epochs <= {epochs}  batch {batch_size}  lr {lr:g}  seed {seed}  "
        f"threads {get_num_threads()}  device {device or 'cpu'}"
    )
    t_fit = time.perf_counter()
    history = trainer.fit(train_loader, val_loader, epochs=epochs)
    fit_s = time.perf_counter() - t_fit

    out = trainer.predict(test_loader)
    result: Dict[str, Any] = {
        "recipe": name,
        "seed": seed,
        "split_seed": split_seed,
        "epochs_run": len(history.epoch),
        "best_epoch": callbacks[0].best_epoch,
        "device": device or "cpu",
        "train_seconds": fit_s,
    }
    if r.binary:
        score = out.reshape(-1)
        pred = (score > 0).astype(np.int64)
        result.update(
            test_accuracy=accuracy(y_te, pred),
            test_auroc=float(roc_auc_score(y_te, score)),
            test_sensitivity=sensitivity(y_te, pred),
            test_specificity=specificity(y_te, pred),
        )
    else:
        result["test_accuracy"] = accuracy(y_te, out.argmax(axis=1))
    result["total_seconds"] = time.perf_counter() - t_start
    if checkpoint:
        result["checkpoint"] = callbacks[1].best_path
    summary = "  ".join(
        f"{k[5:]} {v:.4f}" for k, v in result.items() if k.startswith("test_") and v is not None
    )
    say(
        f"test ({len(x_te)} samples): {summary}  |  {result['epochs_run']} epochs in "
        f"{fit_s:.1f}s (total {result['total_seconds']:.1f}s)"
    )
    return result


def run_repeats(
    name: str = "mlp-breast-cancer",
    repeats: int = 5,
    split_seed: Optional[int] = None,
    verbose: bool = True,
    log: Callable[[str], None] = print,
    **kwargs: Any,
) -> Dict[str, Any]:
    """Repeated hold-out: run the recipe on ``repeats`` train/test splits (split seeds
    ``split_seed, split_seed + 1, ...``) and summarise each test metric by mean, std, min, max.

    On a small data set (114 test samples for breast cancer) one split's accuracy moves in steps
    of ~0.9%; the spread over splits says how much a single figure can be trusted.
    """
    first = SPLIT_SEED if split_seed is None else int(split_seed)
    runs = []
    for i in range(int(repeats)):
        if verbose and i == 0:
            log(f"split {first}: per-epoch progress of the first split")
        # the first split shows its per-epoch lines; the others one line each
        res = run_recipe(name, split_seed=first + i, verbose=verbose and i == 0, log=log, **kwargs)
        runs.append(res)
        if verbose:
            tests = "  ".join(f"{k[5:]} {v:.4f}" for k, v in res.items() if k.startswith("test_"))
            log(
                f"split {first + i}: {tests}  ({res['epochs_run']} epochs, "
                f"{res['train_seconds']:.1f}s)"
            )
    summary: Dict[str, Any] = {"recipe": name, "repeats": len(runs), "runs": runs}
    for key in [k for k in runs[0] if k.startswith("test_")]:
        vals = np.array([r[key] for r in runs], dtype=np.float64)
        summary[key] = {
            "mean": float(vals.mean()),
            "std": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0,
            "min": float(vals.min()),
            "max": float(vals.max()),
        }
    if verbose:
        for key, st in summary.items():
            if key.startswith("test_"):
                log(
                    f"{key[5:]:<12} mean {st['mean']:.4f}  std {st['std']:.4f}  "
                    f"min {st['min']:.4f}  max {st['max']:.4f}  over {len(runs)} splits"
                )
    return summary


from .recipes_cnn import CNN_RECIPES  # noqa: E402  (cnn-digits, cnn-mnist, resnet-mnist)

RECIPES.update(CNN_RECIPES)

from .recipes_rnn import RNN_RECIPES  # noqa: E402  (rnn-digits, rnn-mnist)

RECIPES.update(RNN_RECIPES)
