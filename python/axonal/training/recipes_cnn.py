"""Convolutional-network recipes, run by ``axonal train <recipe>`` like the MLP ones.

    cnn-digits      scikit-learn 8x8 digits as 1x8x8 images (1,437 train / 360 test), a small
                    CNN: two 3x3 conv-BN-ReLU layers, 2x2 max-pool, a 3x3 conv-BN-ReLU layer,
                    global average pooling, a linear classifier
    cnn-mnist       the 10,000 MNIST test images (IDX files in --data-dir) split 8,000 / 2,000; a
                    LeNet-style CNN (5x5 conv-BN-ReLU-pool twice, 32 and 64 channels, FC 128)
    resnet-mnist    the same split, a small ResNet (BasicBlocks [1, 1, 1, 1], width 16, 3x3 stem
                    without max-pool)

The shared pipeline is ``recipes.run_recipe``: stratified train/test split (fixed test part),
a validation part carved from training, standardisation fitted on the training images (one
mean/std per channel), AdamW with a one-cycle learning-rate schedule, early stopping with the
best weights restored, test metrics.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np

from .recipes import Recipe

__all__ = ["CNN_RECIPES", "digits_cnn", "mnist_cnn", "mnist_resnet"]


# ---------------------------------------------------------------------------- models


def digits_cnn(input_shape: Sequence[int], num_classes: int) -> Any:
    """A small CNN for 8x8 images: 32 -> 64 channels, max-pool to 4x4, 64 channels, GAP, FC."""
    from .. import nn

    c = int(input_shape[0])

    def block(cin: int, cout: int) -> list:
        return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        *block(c, 32),
        *block(32, 64),
        nn.MaxPool2d(2),
        *block(64, 64),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(64, num_classes),
    )


def mnist_cnn(input_shape: Sequence[int], num_classes: int) -> Any:
    """LeNet-style CNN for 28x28 images: conv5x5(32, same)-BN-ReLU-pool, conv5x5(64)-BN-ReLU-
    pool, FC 1600-128, dropout, FC 128-classes."""
    from .. import nn

    c, h, w = (int(v) for v in input_shape)
    side_h, side_w = (h // 2 - 4) // 2, (w // 2 - 4) // 2
    return nn.Sequential(
        nn.Conv2d(c, 32, 5, padding=2, bias=False),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * side_h * side_w, 128),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(128, num_classes),
    )


def mnist_resnet(input_shape: Sequence[int], num_classes: int) -> Any:
    """A small ResNet: BasicBlocks [1, 1, 1, 1] of widths 16-32-64-128, 3x3 stem, no max-pool."""
    from ..models import BasicBlock, ResNet

    return ResNet(
        BasicBlock,
        [1, 1, 1, 1],
        num_classes=num_classes,
        in_channels=int(input_shape[0]),
        small_input=True,
        width=16,
    )


# ---------------------------------------------------------------------------- data


def _load_digits_images(data_dir: Optional[str], split_seed: int) -> tuple:
    from ..datasets import digits, train_test_split

    x, y = digits()
    x = x.numpy().reshape(-1, 1, 8, 8).astype(np.float32)
    y = y.numpy()
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, stratify=y, seed=split_seed)
    return x_tr, y_tr, x_te, y_te


def _load_mnist_images(data_dir: Optional[str], split_seed: int) -> tuple:
    from ..datasets import mnist_split

    if data_dir is None:
        raise ValueError(
            "--data-dir DIR is required (a folder with t10k-images-idx3-ubyte[.gz] and "
            "t10k-labels-idx1-ubyte[.gz])"
        )
    (x_tr, y_tr), (x_te, y_te) = mnist_split(data_dir, 8000, 2000, seed=split_seed)
    return x_tr.numpy(), y_tr.numpy(), x_te.numpy(), y_te.numpy()


# ---------------------------------------------------------------------------- registry

CNN_RECIPES: Dict[str, Recipe] = {
    "cnn-digits": Recipe(
        "cnn-digits",
        "scikit-learn 8x8 digits as 1x8x8 images, small CNN (conv 32-64-64, GAP), CrossEntropy",
        epochs=30,
        batch_size=32,
        lr=3e-3,
        patience=10,
        weight_decay=1e-4,
        load=_load_digits_images,
        model=digits_cnn,
        schedule="onecycle",
        standardize_axis=(0, 2, 3),
    ),
    "cnn-mnist": Recipe(
        "cnn-mnist",
        "MNIST 10k test images split 8,000/2,000, LeNet-style CNN (conv 32-64, FC 128)",
        epochs=5,
        batch_size=64,
        lr=3e-3,
        patience=5,
        weight_decay=1e-4,
        load=_load_mnist_images,
        needs_data_dir=True,
        model=mnist_cnn,
        schedule="onecycle",
        standardize_axis=(0, 2, 3),
    ),
    "resnet-mnist": Recipe(
        "resnet-mnist",
        "MNIST 10k test images split 8,000/2,000, small ResNet (BasicBlocks [1,1,1,1], width 16)",
        epochs=5,
        batch_size=64,
        lr=3e-3,
        patience=5,
        weight_decay=1e-4,
        load=_load_mnist_images,
        needs_data_dir=True,
        model=mnist_resnet,
        schedule="onecycle",
        standardize_axis=(0, 2, 3),
    ),
}
