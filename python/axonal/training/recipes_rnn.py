"""Recurrent-network recipes, run by ``axonal train <recipe>`` like the others: an image read as a
sequence of rows (the classic exercise for recurrent layers before real signals such as ECG).

    rnn-digits      scikit-learn 8x8 digits: 8 rows of 8 pixels, a bidirectional LSTM (64 units per
                    direction), the last hidden states of both directions, a linear classifier
    rnn-mnist       the 10,000 MNIST test images (IDX files in --data-dir) split 8,000 / 2,000:
                    28 rows of 28 pixels, the same network with 128 units per direction

Same pipeline as the CNN recipes (``recipes.run_recipe``): stratified split, validation part,
per-channel standardisation, AdamW with a one-cycle schedule, early stopping, test metrics.
"""

from __future__ import annotations

from typing import Any, Dict, Sequence

from .recipes import Recipe
from .recipes_cnn import _load_digits_images, _load_mnist_images

__all__ = ["RNN_RECIPES", "RowLSTM", "row_lstm"]


def _row_lstm_class() -> Any:
    from .. import nn, ops

    class RowLSTM(nn.Module):
        """(N, C, H, W) images as sequences of H rows of C * W features -> class scores."""

        def __init__(self, input_shape: Sequence[int], num_classes: int, hidden: int) -> None:
            super().__init__()
            c, _, w = (int(v) for v in input_shape)
            self.rnn = nn.LSTM(c * w, hidden, batch_first=True, bidirectional=True)
            self.head = nn.Linear(2 * hidden, num_classes)

        def forward(self, x: Any) -> Any:
            n, c, h, w = x.shape
            seq = x.permute(0, 2, 1, 3).reshape(n, h, c * w)
            _, (h_n, _) = self.rnn(seq)
            return self.head(ops.cat([h_n[0], h_n[1]], 1))  # forward and backward directions

    return RowLSTM


RowLSTM = None  # bound on first use (the nn import stays lazy, as in recipes_cnn)


def row_lstm(input_shape: Sequence[int], num_classes: int, hidden: int = 0) -> Any:
    """The recipes' model: a bidirectional LSTM over image rows (64 units for images up to 8
    rows, else 128, unless ``hidden`` says)."""
    global RowLSTM
    if RowLSTM is None:
        RowLSTM = _row_lstm_class()
    if not hidden:
        hidden = 64 if int(input_shape[1]) <= 8 else 128
    return RowLSTM(input_shape, num_classes, hidden)


RNN_RECIPES: Dict[str, Recipe] = {
    "rnn-digits": Recipe(
        "rnn-digits",
        "scikit-learn 8x8 digits read row by row, bidirectional LSTM (64 units), CrossEntropy",
        epochs=30,
        batch_size=32,
        lr=3e-3,
        patience=10,
        weight_decay=1e-4,
        load=_load_digits_images,
        model=row_lstm,
        schedule="onecycle",
        standardize_axis=(0, 2, 3),
    ),
    "rnn-mnist": Recipe(
        "rnn-mnist",
        "MNIST 10k test images split 8,000/2,000 read row by row, bidirectional LSTM (128 units)",
        epochs=5,
        batch_size=64,
        lr=3e-3,
        patience=5,
        weight_decay=1e-4,
        load=_load_mnist_images,
        needs_data_dir=True,
        model=row_lstm,
        schedule="onecycle",
        standardize_axis=(0, 2, 3),
    ),
}
