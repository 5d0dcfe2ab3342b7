"""MNIST and Fashion-MNIST from IDX files in a folder (gzip or raw)."""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import numpy as np

from ..utils.data._compat import to_tensor
from ..utils.data.dataset import Dataset, TensorDataset
from .download import download_file
from .idx import load_idx
from .split import train_test_split

__all__ = ["MNIST", "FashionMNIST", "mnist_split"]

PathLike = Union[str, "os.PathLike[str]"]


class MNIST(Dataset):
    """The MNIST digits (28x28 uint8 images, labels 0-9) read from IDX files under ``root``.

    Files looked for (each as ``name.gz`` or uncompressed ``name``) in ``root``, then in
    ``root/MNIST/raw`` (torchvision's layout): ``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte`` (``train=True``) or ``t10k-images-idx3-ubyte``,
    ``t10k-labels-idx1-ubyte`` (``train=False``). ``download=True`` fetches missing files into
    ``root`` from ``mirrors`` and checks their md5 (use one folder per dataset: MNIST and
    Fashion-MNIST share file names).

    ``ds[i]`` is ``(image, label)``: ``transform(image)`` of the (28, 28) uint8 NumPy image
    (e.g. ``ToTensor()`` -> float32 (1, 28, 28) in [0, 1]), or the uint8 image as a tensor when
    there is no transform; the label is an int (``target_transform`` applies to it).
    ``data`` (N, 28, 28) uint8 and ``targets`` (N,) int64 hold everything as tensors;
    ``to_tensor_dataset()`` gives a fast float ``TensorDataset``.
    """

    mirrors: List[str] = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ]
    # (file name, md5 of the .gz file as published)
    resources: List[Tuple[str, str]] = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes: List[str] = [
        "0 - zero",
        "1 - one",
        "2 - two",
        "3 - three",
        "4 - four",
        "5 - five",
        "6 - six",
        "7 - seven",
        "8 - eight",
        "9 - nine",
    ]

    def __init__(
        self,
        root: PathLike,
        train: bool = True,
        download: bool = False,
        transform: Optional[Callable[[Any], Any]] = None,
        target_transform: Optional[Callable[[Any], Any]] = None,
    ) -> None:
        self.root = os.fspath(os.path.expanduser(os.fspath(root)))
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        split = "train" if train else "t10k"
        names = (f"{split}-images-idx3-ubyte", f"{split}-labels-idx1-ubyte")
        if download:
            self.download(split)
        paths = [self._find(n) for n in names]
        missing = [n for n, p in zip(names, paths) if p is None]
        if missing:
            raise FileNotFoundError(
                f"{type(self).__name__}: {', '.join(m + '[.gz]' for m in missing)} not found in "
                f"{self.root} (nor in {self._raw_folder()}); pass download=True to fetch it, or "
                "put the IDX files there"
            )
        images, labels = load_idx(paths[0]), load_idx(paths[1])
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(
                f"{type(self).__name__}: {paths[0]}: expected (N, H, W) uint8 images, got shape "
                f"{images.shape} of {images.dtype}"
            )
        if labels.ndim != 1:
            raise ValueError(
                f"{type(self).__name__}: {paths[1]}: expected (N,) labels, got shape {labels.shape}"
            )
        if images.shape[0] != labels.shape[0]:
            raise ValueError(
                f"{type(self).__name__}: {images.shape[0]} images but {labels.shape[0]} labels "
                f"({paths[0]}, {paths[1]})"
            )
        self._images = images
        self._labels = labels.astype(np.int64)
        self.data = to_tensor(self._images)
        self.targets = to_tensor(self._labels)

    # -- files ---------------------------------------------------------------------------
    def _raw_folder(self) -> str:
        return os.path.join(self.root, type(self).__name__, "raw")

    def _find(self, name: str) -> Optional[str]:
        for folder in (self.root, self._raw_folder()):
            for candidate in (name + ".gz", name):
                p = os.path.join(folder, candidate)
                if os.path.isfile(p):
                    return p
        return None

    def download(self, split: Optional[str] = None) -> None:
        """Fetch the files of ``split`` ("train", "t10k" or None for both) that are missing."""
        for filename, md5 in self.resources:
            if split is not None and not filename.startswith(split + "-"):
                continue
            if self._find(filename[: -len(".gz")]) is not None:
                continue
            download_file(filename, self.root, self.mirrors, md5=md5)

    # -- dataset protocol ------------------------------------------------------------------
    @property
    def class_to_idx(self) -> Dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return self._images.shape[0]

    def __getitem__(self, index: int) -> Tuple[Any, Any]:
        img = self._images[index]
        target: Any = int(self._labels[index])
        img = self.transform(img) if self.transform is not None else to_tensor(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def _fast_arrays(self) -> Optional[Tuple[np.ndarray, ...]]:
        # Batches by fancy indexing are identical to collating examples only without transforms.
        if self.transform is not None or self.target_transform is not None:
            return None
        if type(self).__getitem__ is not MNIST.__getitem__:
            return None
        return self._images, self._labels

    def to_tensor_dataset(self, flatten: bool = False) -> TensorDataset:
        """All examples as float32 images in [0, 1], (N, 1, H, W) or (N, H*W) when ``flatten``,
        with int64 labels, in a TensorDataset (the DataLoader's fast path)."""
        x = self._images.astype(np.float32) / np.float32(255.0)
        x = x.reshape(len(x), -1) if flatten else x[:, None]
        return TensorDataset(to_tensor(np.ascontiguousarray(x)), to_tensor(self._labels))

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"{type(self).__name__}(root={self.root!r}, split={split}, n={len(self)})"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: same file names and format as MNIST, 10 clothing classes."""

    mirrors: List[str] = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources: List[Tuple[str, str]] = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes: List[str] = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]


def mnist_split(
    root: PathLike,
    n_train: int = 8000,
    n_test: int = 2000,
    seed: int = 0,
    flatten: bool = False,
    stratify: bool = True,
) -> Tuple[Tuple[Any, Any], Tuple[Any, Any]]:
    """Split the 10,000 MNIST test images in ``root`` into a train and a test part.

    Returns ``(X_train, y_train), (X_test, y_test)``: float32 images in [0, 1] of shape
    (n, 1, 28, 28) (or (n, 784) with ``flatten``) and int64 labels. The split is a seeded random
    permutation (``seed``), stratified by label by default, so it is the same on every machine.
    ``n_train + n_test`` may be less than 10,000 (a random subset is used).
    """
    ds = MNIST(root, train=False)
    n = len(ds)
    for name, v in (("n_train", n_train), ("n_test", n_test)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"mnist_split: {name} must be a positive int, got {v!r}")
    if n_train + n_test > n:
        raise ValueError(
            f"mnist_split: n_train + n_test = {n_train + n_test} exceeds the {n} images available"
        )
    x = ds._images.astype(np.float32) / np.float32(255.0)
    x = x.reshape(n, -1) if flatten else x[:, None]
    y = ds._labels
    rng = np.random.default_rng(seed)
    idx = np.arange(n)
    if n_train + n_test < n:
        idx, _ = train_test_split(
            idx, train_size=n_train + n_test, stratify=y if stratify else None, generator=rng
        )
    tr, te = train_test_split(
        idx,
        train_size=n_train,
        test_size=n_test,
        stratify=y[idx] if stratify else None,
        generator=rng,
    )
    return (
        (to_tensor(np.ascontiguousarray(x[tr])), to_tensor(y[tr])),
        (to_tensor(np.ascontiguousarray(x[te])), to_tensor(y[te])),
    )
