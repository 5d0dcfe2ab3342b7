"""Utilities: ``axonal.utils.data`` (datasets, samplers, the DataLoader and preprocessing)."""

from __future__ import annotations

from . import data

__all__ = ["data"]
