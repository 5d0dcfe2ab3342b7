"""Small tabular and image sets bundled with scikit-learn, as tensors (no network needed).

scikit-learn is an optional dependency (``pip install axonal[data]``); it is imported only when
one of these functions is called.
"""

from __future__ import annotations

from typing import Any, Tuple

import numpy as np

from ..utils.data._compat import to_tensor
from ..utils.data.dataset import TensorDataset

__all__ = ["breast_cancer", "diabetes", "digits", "iris"]


def _sklearn_datasets(caller: str) -> Any:
    try:
        import sklearn.datasets as skd
    except ImportError as e:
        raise ImportError(
            f"axonal.datasets.{caller}() needs scikit-learn, which is not installed; install it "
            "with `pip install axonal[data]` (or `pip install scikit-learn`)"
        ) from e
    return skd


def _pack(x: np.ndarray, y: np.ndarray, as_dataset: bool) -> Any:
    xt, yt = to_tensor(np.ascontiguousarray(x)), to_tensor(np.ascontiguousarray(y))
    return TensorDataset(xt, yt) if as_dataset else (xt, yt)


def breast_cancer(as_dataset: bool = False) -> Tuple[Any, Any]:
    """Wisconsin diagnostic breast cancer: X (569, 30) float32, y (569,) int64
    (0 = malignant, 1 = benign). ``as_dataset=True`` returns a TensorDataset instead."""
    b = _sklearn_datasets("breast_cancer").load_breast_cancer()
    return _pack(b.data.astype(np.float32), b.target.astype(np.int64), as_dataset)


def diabetes(as_dataset: bool = False, scaled: bool = True) -> Tuple[Any, Any]:
    """Diabetes progression regression: X (442, 10) float32, y (442,) float32 (disease
    progression one year after baseline). ``scaled=False`` gives the raw feature values."""
    b = _sklearn_datasets("diabetes").load_diabetes(scaled=scaled)
    return _pack(b.data.astype(np.float32), b.target.astype(np.float32), as_dataset)


def digits(as_dataset: bool = False, images: bool = False) -> Tuple[Any, Any]:
    """8x8 handwritten digits: X (1797, 64) float32 with values 0-16, y (1797,) int64 (0-9).
    ``images=True`` gives X as (1797, 1, 8, 8)."""
    b = _sklearn_datasets("digits").load_digits()
    x = b.data.astype(np.float32)
    if images:
        x = x.reshape(-1, 1, 8, 8)
    return _pack(x, b.target.astype(np.int64), as_dataset)


def iris(as_dataset: bool = False) -> Tuple[Any, Any]:
    """Fisher's iris: X (150, 4) float32, y (150,) int64 (3 species)."""
    b = _sklearn_datasets("iris").load_iris()
    return _pack(b.data.astype(np.float32), b.target.astype(np.int64), as_dataset)
