"""``axonal.training``: the fit loop, callbacks, metrics and ready-made recipes.

from axonal.training import fit, Trainer, EarlyStopping, ModelCheckpoint, metrics
"""

from __future__ import annotations

from . import metrics
from .callbacks import (
    Callback,
    EarlyStopping,
    History,
    LRSchedulerCallback,
    ModelCheckpoint,
    TerminateOnNaN,
)
from .loop import METRICS, Trainer, evaluate, fit, predict, resolve_metrics
from .recipes import RECIPES, run_recipe

__all__ = [
    "METRICS",
    "RECIPES",
    "Callback",
    "EarlyStopping",
    "History",
    "LRSchedulerCallback",
    "ModelCheckpoint",
    "TerminateOnNaN",
    "Trainer",
    "evaluate",
    "fit",
    "metrics",
    "predict",
    "resolve_metrics",
    "run_recipe",
]
