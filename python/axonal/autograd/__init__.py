"""Autograd: define-by-run graphs of :class:`Function` nodes and an iterative backward engine.

``axonal.autograd.grad(outputs, inputs)``, ``backward``, ``Function``, ``gradcheck``,
``detect_anomaly``, ``no_grad``/``enable_grad``.
"""

from __future__ import annotations

from . import anomaly, grad_mode
from .anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .engine import backward, grad
from .function import Function, RemovableHandle, once_differentiable  # noqa: I001
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = [
    "Function",
    "GradcheckError",
    "RemovableHandle",
    "anomaly",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "grad_mode",
    "gradcheck",
    "gradgradcheck",
    "inference_mode",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "no_grad",
    "once_differentiable",
    "set_detect_anomaly",
    "set_grad_enabled",
]
