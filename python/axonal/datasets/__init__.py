"""Datasets: MNIST-format IDX files, the small scikit-learn sets, and splitting helpers.

from axonal.datasets import MNIST, mnist_split, breast_cancer, train_test_split
"""

from __future__ import annotations

from .download import check_integrity, download_file, md5sum
from .idx import load_idx, write_idx
from .mnist import MNIST, FashionMNIST, mnist_split
from .split import train_test_split
from .tabular import breast_cancer, diabetes, digits, iris

__all__ = [
    "MNIST",
    "FashionMNIST",
    "breast_cancer",
    "check_integrity",
    "diabetes",
    "digits",
    "download_file",
    "iris",
    "load_idx",
    "md5sum",
    "mnist_split",
    "train_test_split",
    "write_idx",
]
