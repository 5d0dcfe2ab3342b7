"""Callbacks for :class:`axonal.training.Trainer` / :func:`axonal.training.fit`.

A callback overrides any of the hooks below; each receives the trainer (``trainer.model``,
``trainer.optimizer``, ``trainer.history``, ``trainer.stop_training`` ...)::

    on_train_begin(trainer)
    on_epoch_begin(trainer, epoch)                 epoch counts from 1
    on_batch_end(trainer, step, logs)              logs: {"loss": float, "batch_size": int}
    on_epoch_end(trainer, epoch, logs)             logs: {"loss", "val_loss", "val_<metric>",
                                                          "lr", "time"}
    on_train_end(trainer)

Improvements over the usual designs: ``EarlyStopping`` restores the best weights by default (and
also when training ran to the last epoch), ``ModelCheckpoint`` writes atomically (a crash while
saving never leaves a half-written file), and ``LRSchedulerCallback`` feeds
``ReduceLROnPlateau`` the monitored validation value.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Union

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .loop import Trainer

__all__ = [
    "Callback",
    "History",
    "EarlyStopping",
    "ModelCheckpoint",
    "LRSchedulerCallback",
    "TerminateOnNaN",
]

_MAX_WORDS = ("acc", "auc", "auroc", "f1", "precision", "recall", "sensitivity", "specificity")


def _resolve_mode(mode: str, monitor: str, who: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{who}: mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    name = monitor.lower()
    if "loss" in name or "error" in name or name.endswith(("mse", "mae")):
        return "min"
    if any(w in name for w in _MAX_WORDS) or name.endswith("r2"):
        return "max"
    return "min"


def _monitored(logs: Dict[str, Any], monitor: str, who: str) -> float:
    if monitor not in logs:
        keys = ", ".join(sorted(k for k in logs if k != "time"))
        hint = (
            " (pass a val_loader to fit to get val_* values)" if monitor.startswith("val_") else ""
        )
        raise KeyError(f"{who}: monitor {monitor!r} is not among the epoch logs: {keys}{hint}")
    return float(logs[monitor])


def _snapshot(model: Any) -> OrderedDict[str, np.ndarray]:
    """A host copy of every tensor in ``model.state_dict()``."""
    snap: OrderedDict[str, np.ndarray] = OrderedDict()
    for k, v in model.state_dict().items():
        arr = v._data
        snap[k] = arr.copy()
    return snap


class Callback:
    """Base class: every hook does nothing."""

    def on_train_begin(self, trainer: Trainer) -> None:
        pass

    def on_epoch_begin(self, trainer: Trainer, epoch: int) -> None:
        pass

    def on_batch_end(self, trainer: Trainer, step: int, logs: Dict[str, Any]) -> None:
        pass

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: Dict[str, Any]) -> None:
        pass

    def on_train_end(self, trainer: Trainer) -> None:
        pass


class History(Callback):
    """Per-epoch logs: ``history["val_loss"]`` is the list of validation losses, one per epoch;
    ``history.epoch`` the epoch numbers. ``Trainer.fit`` always records one and returns it."""

    def __init__(self) -> None:
        self.history: Dict[str, List[float]] = {}
        self.epoch: List[int] = []

    def on_train_begin(self, trainer: Trainer) -> None:
        pass  # keep accumulating across several fit() calls, like Keras

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: Dict[str, Any]) -> None:
        self.epoch.append(epoch)
        n = len(self.epoch)
        for k, v in logs.items():
            col = self.history.setdefault(k, [])
            col.extend([math.nan] * (n - 1 - len(col)))  # a key that appears later
            col.append(float(v))

    def __getitem__(self, key: str) -> List[float]:
        return self.history[key]

    def __contains__(self, key: str) -> bool:
        return key in self.history

    def keys(self) -> Any:
        return self.history.keys()

    def __len__(self) -> int:
        return len(self.epoch)

    def best(self, monitor: str = "val_loss", mode: str = "auto") -> tuple:
        """``(epoch, value)`` of the best value of ``monitor``."""
        vals = np.asarray(self.history[monitor], dtype=np.float64)
        m = _resolve_mode(mode, monitor, "History.best")
        i = int(np.nanargmin(vals) if m == "min" else np.nanargmax(vals))
        return self.epoch[i], float(vals[i])

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs, then restore the best
    weights (``restore_best_weights=True`` is the default here, unlike Keras).

    An improvement must beat the best value by more than ``min_delta`` (``mode`` 'min', 'max',
    or 'auto': 'max' for accuracy/AUC-like names, 'min' otherwise). ``baseline``: stop if the
    monitored value does not beat it within ``patience`` epochs. ``start_from_epoch``: epochs of
    warm-up that neither count as bad nor can be best. The best weights are restored at the end
    of training whether it stopped early or ran all its epochs.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 10,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = True,
        baseline: Optional[float] = None,
        start_from_epoch: int = 0,
        verbose: bool = True,
    ) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}")
        if not min_delta >= 0:
            raise ValueError(f"EarlyStopping: min_delta must be >= 0, got {min_delta!r}")
        self.monitor = monitor
        self.patience = patience
        self.min_delta = float(min_delta)
        self.mode = _resolve_mode(mode, monitor, "EarlyStopping")
        self.restore_best_weights = restore_best_weights
        self.baseline = baseline
        self.start_from_epoch = int(start_from_epoch)
        self.verbose = verbose
        self._reset()

    def _reset(self) -> None:
        self.best: float = math.inf if self.mode == "min" else -math.inf
        if self.baseline is not None:
            self.best = float(self.baseline)
        self.best_epoch: Optional[int] = None
        self.best_weights: Optional[Dict[str, np.ndarray]] = None
        self.wait = 0
        self.stopped_epoch: Optional[int] = None

    def improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_train_begin(self, trainer: Trainer) -> None:
        self._reset()

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: Dict[str, Any]) -> None:
        value = _monitored(logs, self.monitor, "EarlyStopping")
        if epoch <= self.start_from_epoch:
            return
        if self.improved(value):
            self.best = value
            self.best_epoch = epoch
            self.wait = 0
            trainer.epoch_notes.append("*")
            if self.restore_best_weights:
                self.best_weights = _snapshot(trainer.model)
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            trainer.stop_training = True
            trainer.epoch_notes.append(
                f"early stop: no {self.monitor} improvement in {self.wait} epochs"
            )

    def on_train_end(self, trainer: Trainer) -> None:
        if not self.restore_best_weights or self.best_weights is None:
            return
        trainer.model.load_state_dict(self.best_weights)
        if self.verbose:
            trainer.log(
                f"EarlyStopping: restored the weights of epoch {self.best_epoch} "
                f"({self.monitor} {self.best:.4f})"
            )


class ModelCheckpoint(Callback):
    """Save the model's ``state_dict`` as safetensors (``axonal.save``: atomic write).

    ``filepath`` may hold ``str.format`` fields filled from the epoch logs, e.g.
    ``"ckpt/epoch{epoch:03d}-{val_loss:.3f}.safetensors"``. With ``save_best_only`` (default) a
    file is written only when ``monitor`` improves; otherwise every ``every`` epochs. The header
    metadata records the epoch and the monitored value. ``best_path`` / ``best`` / ``best_epoch``
    tell where the best weights went.
    """

    def __init__(
        self,
        filepath: Union[str, os.PathLike[str]],
        monitor: str = "val_loss",
        mode: str = "auto",
        save_best_only: bool = True,
        every: int = 1,
        verbose: bool = False,
    ) -> None:
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.mode = _resolve_mode(mode, monitor, "ModelCheckpoint")
        self.save_best_only = save_best_only
        self.every = max(1, int(every))
        self.verbose = verbose
        self.best: float = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: Optional[int] = None
        self.best_path: Optional[str] = None
        self.saved: List[str] = []

    def _better(self, value: float) -> bool:
        if math.isnan(value):
            return False
        return value < self.best if self.mode == "min" else value > self.best

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: Dict[str, Any]) -> None:
        from ..serialization import save

        if self.save_best_only:
            value = _monitored(logs, self.monitor, "ModelCheckpoint")
            if not self._better(value):
                return
        elif epoch % self.every:
            return
        else:
            value = float(logs.get(self.monitor, math.nan))
        path = self.filepath.format(epoch=epoch, **logs)
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        meta = {"epoch": str(epoch), "monitor": self.monitor, self.monitor: repr(value)}
        save(trainer.model.state_dict(), path, metadata=meta)
        self.saved.append(path)
        if self._better(value):
            self.best, self.best_epoch, self.best_path = value, epoch, path
        if self.verbose:
            trainer.epoch_notes.append(f"saved {path}")


class LRSchedulerCallback(Callback):
    """Step a learning-rate scheduler from the training loop.

    ``ReduceLROnPlateau`` is stepped once per epoch with the value of ``monitor`` (default
    ``val_loss``, or ``loss`` when there is no validation data). Other schedulers step once per
    epoch, or after every batch with ``interval='step'`` (the default for ``OneCycleLR`` and
    ``CyclicLR``, whose schedules count batches).
    """

    def __init__(self, scheduler: Any, monitor: str = "val_loss", interval: Optional[str] = None):
        from ..optim.lr_scheduler import CyclicLR, OneCycleLR, ReduceLROnPlateau

        self.scheduler = scheduler
        self.monitor = monitor
        self.plateau = isinstance(scheduler, ReduceLROnPlateau)
        if interval is None:
            interval = "step" if isinstance(scheduler, (OneCycleLR, CyclicLR)) else "epoch"
        if interval not in ("epoch", "step"):
            raise ValueError(
                f"LRSchedulerCallback: interval must be 'epoch' or 'step', got {interval!r}"
            )
        if self.plateau and interval == "step":
            raise ValueError("LRSchedulerCallback: ReduceLROnPlateau steps once per epoch")
        self.interval = interval

    def on_batch_end(self, trainer: Trainer, step: int, logs: Dict[str, Any]) -> None:
        if self.interval == "step":
            self.scheduler.step()

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: Dict[str, Any]) -> None:
        if self.interval != "epoch":
            return
        if self.plateau:
            monitor = self.monitor
            if monitor not in logs and monitor == "val_loss":
                monitor = "loss"  # no validation data: plateau on the training loss
            self.scheduler.step(_monitored(logs, monitor, "LRSchedulerCallback"))
        else:
            self.scheduler.step()


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch loss is NaN or infinite."""

    def on_batch_end(self, trainer: Trainer, step: int, logs: Dict[str, Any]) -> None:
        if not math.isfinite(logs["loss"]):
            trainer.stop_training = True
            trainer.log(f"TerminateOnNaN: loss {logs['loss']} at step {step}; stopping")
