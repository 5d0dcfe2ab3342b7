"""Datasets, samplers, the DataLoader and fitted preprocessing (PyTorch names).

from axonal.utils.data import DataLoader, TensorDataset, random_split, Standardize
"""

from __future__ import annotations

from . import transforms
from .dataloader import DataLoader, default_collate, default_convert
from .dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
from .sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from .transforms import Compose, Lambda, MinMaxScale, Normalize, Standardize, ToTensor, Transform

__all__ = [
    "BatchSampler",
    "Compose",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "IterableDataset",
    "Lambda",
    "MinMaxScale",
    "Normalize",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "Standardize",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "ToTensor",
    "Transform",
    "WeightedRandomSampler",
    "default_collate",
    "default_convert",
    "random_split",
    "transforms",
]
