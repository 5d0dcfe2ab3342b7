"""The training loop: :class:`Trainer` and the one-call :func:`fit`.

::

    history = fit(model, nn.CrossEntropyLoss(), optim.AdamW(model.parameters(), 1e-3),
                  train_loader, val_loader, epochs=30, metrics=["accuracy"],
                  scheduler=ReduceLROnPlateau(opt, factor=0.5, patience=3),
                  callbacks=[EarlyStopping(patience=8)])

One line per epoch: epoch, training loss, validation loss and metrics, learning rate, seconds.
Training runs with ``model.train()``; evaluation with ``model.eval()`` under ``no_grad``, and the
model's previous mode is put back afterwards. A batch is ``(inputs..., target)``: the model is
called as ``model(*inputs)`` and the loss as ``loss_fn(output, target)``.

Metrics are names or callables ``fn(outputs, targets) -> float`` on NumPy arrays of the whole
validation set (raw model outputs and targets). Named metrics interpret the outputs as logits:
(N, C) class scores (prediction = argmax), or (N,) / (N, 1) binary logits (prediction = logit > 0).
Names: accuracy, auroc, sensitivity, specificity, precision, recall, f1, balanced_accuracy,
mse, mae, r2.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import metrics as M
from .callbacks import Callback, History, LRSchedulerCallback

__all__ = ["Trainer", "fit", "evaluate", "predict", "resolve_metrics", "METRICS"]

MetricFn = Callable[[np.ndarray, np.ndarray], float]


# -------------------------------------------------------------------- named metrics on outputs
def _is_multiclass(out: np.ndarray) -> bool:
    return out.ndim == 2 and out.shape[1] > 1


def _labels(tgt: np.ndarray) -> np.ndarray:
    t = tgt.reshape(tgt.shape[0], -1)[:, 0] if tgt.ndim > 1 else tgt
    if t.dtype.kind == "f":
        t = np.rint(t).astype(np.int64)
    return t


def _pred_labels(out: np.ndarray) -> np.ndarray:
    if _is_multiclass(out):
        return out.argmax(axis=1)
    return (out.reshape(out.shape[0]) > 0).astype(np.int64)


def _softmax(out: np.ndarray) -> np.ndarray:
    z = out.astype(np.float64) - out.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _auroc(out: np.ndarray, tgt: np.ndarray) -> float:
    t = _labels(tgt)
    if _is_multiclass(out):
        if out.shape[1] == 2:
            return float(M.roc_auc_score(t, out[:, 1] - out[:, 0]))
        present = np.unique(t)
        probs = _softmax(out)
        if len(present) != out.shape[1]:  # some class absent from this split: average the rest
            aucs = [M.roc_auc_score(t == c, probs[:, c]) for c in present]
            return float(np.mean(aucs))
        return float(M.roc_auc_score(t, probs))
    return float(M.roc_auc_score(t, out.reshape(out.shape[0])))


def _avg(out: np.ndarray) -> str:
    return "macro" if _is_multiclass(out) and out.shape[1] > 2 else "binary"


METRICS: Dict[str, MetricFn] = {
    "accuracy": lambda o, t: M.accuracy(_labels(t), _pred_labels(o)),
    "auroc": _auroc,
    "sensitivity": lambda o, t: M.sensitivity(_labels(t), _pred_labels(o)),
    "specificity": lambda o, t: M.specificity(_labels(t), _pred_labels(o)),
    "precision": lambda o, t: M.precision_score(_labels(t), _pred_labels(o), average=_avg(o)),
    "recall": lambda o, t: M.recall_score(_labels(t), _pred_labels(o), average=_avg(o)),
    "f1": lambda o, t: M.f1_score(_labels(t), _pred_labels(o), average=_avg(o)),
    "balanced_accuracy": lambda o, t: M.balanced_accuracy(_labels(t), _pred_labels(o)),
    "mse": lambda o, t: M.mean_squared_error(t.reshape(o.shape), o),
    "mae": lambda o, t: M.mean_absolute_error(t.reshape(o.shape), o),
    "r2": lambda o, t: M.r2_score(t.reshape(o.shape), o),
}
_ALIASES = {"acc": "accuracy", "roc_auc": "auroc", "auc": "auroc", "f1_score": "f1"}


def resolve_metrics(
    metrics: Union[None, str, MetricFn, Sequence[Union[str, MetricFn]], Dict[str, MetricFn]],
) -> Dict[str, MetricFn]:
    """``{name: fn(outputs, targets)}`` from names, callables, a list of them, or a dict."""
    if metrics is None:
        return {}
    if isinstance(metrics, dict):
        items = list(metrics.items())
    else:
        seq = [metrics] if isinstance(metrics, str) or callable(metrics) else list(metrics)
        items = []
        for m in seq:
            if isinstance(m, str):
                items.append((m, m))
            elif callable(m):
                items.append((getattr(m, "__name__", type(m).__name__), m))
            else:
                raise TypeError(f"metrics: expected a name or a callable, got {m!r}")
    out: Dict[str, MetricFn] = {}
    for name, m in items:
        if isinstance(m, str):
            key = _ALIASES.get(m, m)
            if key not in METRICS:
                raise ValueError(
                    f"metrics: unknown metric {m!r}; known: {', '.join(sorted(METRICS))} "
                    "(or pass a callable fn(outputs, targets) -> float)"
                )
            out[key if name == m else name] = METRICS[key]
        else:
            out[name] = m
    return out


# -------------------------------------------------------------------- batches and devices
def _split_batch(batch: Any) -> Tuple[Tuple[Any, ...], Any]:
    if isinstance(batch, (list, tuple)):
        if len(batch) < 2:
            raise ValueError(
                f"Trainer: a batch must be (inputs..., target); got a {type(batch).__name__} "
                f"of {len(batch)} element(s)"
            )
        return tuple(batch[:-1]), batch[-1]
    raise TypeError(
        f"Trainer: a batch must be a list or tuple (inputs..., target), got {type(batch).__name__}"
    )


def _to_device(x: Any, device: Any) -> Any:
    if device is None or not hasattr(x, "_data"):
        return x
    if str(x.device) == str(device):
        return x
    return x.to(device)


def _host(x: Any) -> np.ndarray:
    arr = getattr(x, "_data", x)
    if hasattr(arr, "get") and not isinstance(arr, np.ndarray):
        arr = arr.get()
    return np.asarray(arr)


def _fmt(v: float) -> str:
    if v != v or math.isinf(v):
        return str(v)
    a = abs(v)
    return f"{v:.4f}" if (a >= 1e-3 and a < 1e5) or a == 0 else f"{v:.3e}"


class Trainer:
    """Trains ``model`` with ``loss_fn`` and ``optimizer``; see the module docstring.

    ``callbacks``: :class:`Callback` objects (a :class:`History` is always added).
    ``scheduler``: an LR scheduler stepped by an :class:`LRSchedulerCallback` (``monitor``
    ``val_loss`` for ``ReduceLROnPlateau``). ``metrics``: names or callables evaluated on the
    validation set. ``device``: moves the model and each batch there (``None``: leave as is).
    ``grad_clip_norm``: clip the global gradient norm before each step. ``verbose``: print one
    line per epoch through ``log`` (default ``print``).
    """

    def __init__(
        self,
        model: Any,
        loss_fn: Callable[[Any, Any], Any],
        optimizer: Any,
        metrics: Any = None,
        callbacks: Iterable[Callback] = (),
        scheduler: Any = None,
        device: Any = None,
        grad_clip_norm: Optional[float] = None,
        verbose: bool = True,
        log: Callable[[str], None] = print,
    ) -> None:
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.metrics = resolve_metrics(metrics)
        self.device = device
        self.grad_clip_norm = grad_clip_norm
        self.verbose = verbose
        self._log = log
        cbs = list(callbacks)
        for cb in cbs:
            if not isinstance(cb, Callback):
                raise TypeError(f"Trainer: callbacks must be Callback objects, got {cb!r}")
        if scheduler is not None:
            cbs.insert(0, LRSchedulerCallback(scheduler))
        hist = [cb for cb in cbs if isinstance(cb, History)]
        self.history: History = hist[0] if hist else History()
        if not hist:
            cbs.insert(0, self.history)
        self.callbacks: List[Callback] = cbs
        self.stop_training = False
        self.epoch = 0
        self.global_step = 0
        self.epoch_notes: List[str] = []
        if device is not None:
            model.to(device)

    # ---------------------------------------------------------------- helpers
    def log(self, msg: str) -> None:
        if self.verbose:
            self._log(msg)

    def _call(self, hook: str, *args: Any) -> None:
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    # ---------------------------------------------------------------- one epoch
    def train_epoch(self, loader: Iterable[Any]) -> float:
        """One pass over ``loader`` in training mode; returns the sample-weighted mean loss."""
        model, opt, loss_fn, dev = self.model, self.optimizer, self.loss_fn, self.device
        model.train()
        total, count = 0.0, 0
        clip = self.grad_clip_norm
        params = None
        if clip is not None:
            from ..nn.utils import clip_grad_norm_

            params = [p for p in model.parameters() if p.requires_grad]
        for batch in loader:
            inputs, target = _split_batch(batch)
            if dev is not None:
                inputs = tuple(_to_device(x, dev) for x in inputs)
                target = _to_device(target, dev)
            opt.zero_grad()
            out = model(*inputs)
            loss = loss_fn(out, target)
            loss.backward()
            if params is not None:
                clip_grad_norm_(params, clip)
            opt.step()
            value = float(_host(loss))
            n = int(inputs[0].shape[0]) if hasattr(inputs[0], "shape") else 1
            total += value * n
            count += n
            self.global_step += 1
            self._call("on_batch_end", self.global_step, {"loss": value, "batch_size": n})
            if self.stop_training:
                break
        if count == 0:
            raise ValueError("Trainer: the training loader yielded no batches")
        return total / count

    def evaluate(self, loader: Iterable[Any], metrics: Any = None) -> Dict[str, float]:
        """``{"loss": ..., <metric>: ...}`` over ``loader`` in eval mode without gradients
        (``metrics`` defaults to the trainer's)."""
        from ..autograd import no_grad

        fns = self.metrics if metrics is None else resolve_metrics(metrics)
        outs, tgts, total, count = self._run_eval(loader, no_grad, need_targets=bool(fns))
        res = {"loss": total / count}
        if fns:
            o, t = np.concatenate(outs), np.concatenate(tgts)
            for name, fn in fns.items():
                res[name] = float(fn(o, t))
        return res

    def _run_eval(self, loader: Iterable[Any], no_grad: Any, need_targets: bool) -> tuple:
        model, dev = self.model, self.device
        was_training = model.training
        model.eval()
        outs: List[np.ndarray] = []
        tgts: List[np.ndarray] = []
        total, count = 0.0, 0
        try:
            with no_grad():
                for batch in loader:
                    inputs, target = _split_batch(batch)
                    if dev is not None:
                        inputs = tuple(_to_device(x, dev) for x in inputs)
                        target = _to_device(target, dev)
                    out = model(*inputs)
                    n = int(out.shape[0])
                    total += float(_host(self.loss_fn(out, target))) * n
                    count += n
                    outs.append(_host(out))
                    if need_targets:
                        tgts.append(_host(target))
        finally:
            model.train(was_training)
        if count == 0:
            raise ValueError("Trainer.evaluate: the loader yielded no batches")
        return outs, tgts, total, count

    def predict(self, loader: Iterable[Any]) -> np.ndarray:
        """The model's outputs over ``loader`` (batches ``(inputs..., target)`` or ``inputs``),
        concatenated, as a NumPy array; eval mode, no gradients."""
        from ..autograd import no_grad

        model, dev = self.model, self.device
        was_training = model.training
        model.eval()
        outs = []
        try:
            with no_grad():
                for batch in loader:
                    if isinstance(batch, (list, tuple)):
                        inputs = tuple(batch[:-1]) if len(batch) > 1 else tuple(batch)
                    else:
                        inputs = (batch,)
                    if dev is not None:
                        inputs = tuple(_to_device(x, dev) for x in inputs)
                    outs.append(_host(model(*inputs)))
        finally:
            model.train(was_training)
        return np.concatenate(outs)

    # ---------------------------------------------------------------- fit
    def fit(
        self,
        train_loader: Iterable[Any],
        val_loader: Optional[Iterable[Any]] = None,
        epochs: int = 1,
    ) -> History:
        """Train for up to ``epochs`` epochs (callbacks may stop earlier); returns the History."""
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"Trainer.fit: epochs must be an int >= 0, got {epochs!r}")
        self.stop_training = False
        self._call("on_train_begin")
        width = len(str(self.epoch + int(epochs)))
        try:
            for _ in range(int(epochs)):
                self.epoch += 1
                epoch = self.epoch
                self.epoch_notes = []
                self._call("on_epoch_begin", epoch)
                lr = self.lr
                t0 = time.perf_counter()
                logs: Dict[str, float] = {"loss": self.train_epoch(train_loader)}
                if val_loader is not None:
                    for k, v in self.evaluate(val_loader).items():
                        logs["val_" + k] = v
                logs["lr"] = lr
                logs["time"] = time.perf_counter() - t0
                self._call("on_epoch_end", epoch, logs)
                if self.verbose:
                    parts = [f"epoch {epoch:>{width}}"]
                    parts += [f"{k} {_fmt(v)}" for k, v in logs.items() if k not in ("lr", "time")]
                    parts.append(f"lr {lr:.2e}")
                    parts.append(f"{logs['time']:.2f}s")
                    line = "  ".join(parts)
                    if self.epoch_notes:
                        line += "  " + " ".join(self.epoch_notes)
                    self._log(line)
                if self.stop_training:
                    break
        finally:
            self._call("on_train_end")
        return self.history


def fit(
    model: Any,
    loss_fn: Callable[[Any, Any], Any],
    optimizer: Any,
    train_loader: Iterable[Any],
    val_loader: Optional[Iterable[Any]] = None,
    epochs: int = 10,
    scheduler: Any = None,
    callbacks: Iterable[Callback] = (),
    metrics: Any = None,
    device: Any = None,
    grad_clip_norm: Optional[float] = None,
    verbose: bool = True,
    log: Callable[[str], None] = print,
) -> History:
    """Train ``model`` (see :class:`Trainer`); returns the :class:`History` of epoch logs."""
    trainer = Trainer(
        model,
        loss_fn,
        optimizer,
        metrics=metrics,
        callbacks=callbacks,
        scheduler=scheduler,
        device=device,
        grad_clip_norm=grad_clip_norm,
        verbose=verbose,
        log=log,
    )
    return trainer.fit(train_loader, val_loader, epochs)


def evaluate(
    model: Any, loss_fn: Callable[[Any, Any], Any], loader: Iterable[Any], metrics: Any = None
) -> Dict[str, float]:
    """Loss and metrics of ``model`` over ``loader`` (eval mode, no gradients)."""
    return Trainer(model, loss_fn, None, metrics=metrics, verbose=False).evaluate(loader)


def predict(model: Any, loader: Iterable[Any], device: Any = None) -> np.ndarray:
    """Outputs of ``model`` over ``loader`` as one NumPy array (eval mode, no gradients)."""
    return Trainer(model, None, None, device=device, verbose=False).predict(loader)  # type: ignore[arg-type]
