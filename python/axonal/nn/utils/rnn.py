"""Variable-length sequences for the recurrent layers, as ``torch.nn.utils.rnn``:
``pad_sequence``, ``pack_padded_sequence``, ``pad_packed_sequence``, ``pack_sequence`` and
``PackedSequence``.

A ``PackedSequence`` holds the steps of a batch of sequences sorted by length (longest first) in
time-major order: ``data`` (sum of lengths, *) stacks, for t = 0, 1, ..., the t-th step of the
``batch_sizes[t]`` sequences that are still running; ``sorted_indices`` / ``unsorted_indices``
map between the caller's batch order and the sorted one (None when the caller's order was
already sorted). ``RNN``, ``LSTM`` and ``GRU`` take one as input: each sequence is run only over
its own steps (its final state is the state after its last step, a bidirectional layer's reverse
direction starts at that last step), and the output is packed the same way. Packing, padding and
the layers are differentiable with respect to the data.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any, Optional, Sequence

import numpy as np

from ... import ops
from ...autograd.function import Function
from ...ops._util import xp_of
from ...ops.creation import full, to_device_array
from ...ops.indexing import IndexAdd, IndexSelect
from ...tensor import Tensor

__all__ = [
    "PackedSequence",
    "pad_sequence",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pack_sequence",
]

_FIELDS = ["data", "batch_sizes", "sorted_indices", "unsorted_indices"]
_Fields = namedtuple("PackedSequence", _FIELDS)


class PackedSequence(_Fields):
    """(data, batch_sizes, sorted_indices, unsorted_indices); see the module docstring.
    ``batch_sizes`` and the index tensors are int64 on the CPU."""

    __slots__ = ()

    def __new__(
        cls,
        data: Tensor,
        batch_sizes: Any,
        sorted_indices: Optional[Any] = None,
        unsorted_indices: Optional[Any] = None,
    ):
        bs = _index_tensor("PackedSequence", "batch_sizes", batch_sizes)
        si = None if sorted_indices is None else _index_tensor(cls.__name__, "sorted_indices",
                                                               sorted_indices)  # fmt: skip
        if unsorted_indices is None and si is not None:
            unsorted_indices = np.argsort(si.numpy(), kind="stable")
        ui = None if unsorted_indices is None else _index_tensor(cls.__name__, "unsorted_indices",
                                                                 unsorted_indices)  # fmt: skip
        return super().__new__(cls, data, bs, si, ui)

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """The data moved or cast as ``Tensor.to``; the index tensors stay on the CPU."""
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else self._replace(data=data)

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def cuda(self, device: Optional[int] = None) -> PackedSequence:
        return self.to("cuda" if device is None else f"cuda:{device}")

    def double(self) -> PackedSequence:
        return self._replace(data=self.data.double())

    def float(self) -> PackedSequence:
        return self._replace(data=self.data.float())


def _index_tensor(op: str, name: str, v: Any) -> Tensor:
    a = v.numpy() if isinstance(v, Tensor) else np.asarray(v)
    if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
        raise ValueError(f"{op}: {name} must be a 1-D integer sequence, got {a.dtype} {a.shape}")
    return Tensor(np.ascontiguousarray(a, dtype=np.int64))


def _packed_positions(batch_sizes: np.ndarray, batch: int) -> np.ndarray:
    """Where each packed row lies in the padded (steps * batch) layout, in packed order."""
    return np.concatenate([t * batch + np.arange(b) for t, b in enumerate(batch_sizes)])


def _sorted_lengths(batch_sizes: np.ndarray, batch: int) -> np.ndarray:
    """Each sorted sequence's length (non-increasing) from the batch sizes."""
    return np.array([(batch_sizes > i).sum() for i in range(batch)], dtype=np.int64)


def _take(x: Tensor, dim: int, index: np.ndarray) -> Tensor:
    """x's entries at ``index`` (host int64) along dim, differentiable, on x's device."""
    index = np.asarray(index, dtype=np.int64)  # (a permutation or sub-range of the batch)
    return IndexSelect.apply(x, dim, to_device_array(index, x.device), True)


class _RowsAt(Function):
    """x[idx] for distinct row indices idx: the backward places the rows back by assignment
    (no scatter-add over repeated indices)."""

    @staticmethod
    def forward(ctx: Any, x: Any, idx: Any) -> Any:
        ctx.idx, ctx.rows = idx, x.shape[0]
        return x[idx]

    @staticmethod
    def backward(ctx: Any, g: Any) -> tuple:
        out = xp_of(g).zeros((ctx.rows, *g.shape[1:]), g.dtype)
        out[ctx.idx] = g
        return out, None


def _rows_at(x: Tensor, index: np.ndarray) -> Tensor:
    """Rows ``index`` (distinct, host int64) of x, differentiable."""
    return _RowsAt.apply(x, to_device_array(np.asarray(index, dtype=np.int64), x.device))


def _rows_into(x: Tensor, rows: int, index: np.ndarray) -> Tensor:
    """Zeros of ``rows`` rows with x's rows placed at ``index`` (distinct), differentiable (the
    backward gathers)."""
    idx = to_device_array(np.asarray(index, dtype=np.int64), x.device)
    return IndexAdd.apply(x, (rows, *x.shape[1:]), idx, True)


def _permute(x: Tensor, dim: int, order: np.ndarray) -> Tensor:
    """x with its entries along dim reordered by the permutation ``order``."""
    if dim == 0:
        return _rows_at(x, order)
    return _rows_at(x.transpose(0, dim), order).transpose(0, dim)


def _lengths(op: str, lengths: Any, batch: int, steps: int) -> np.ndarray:
    """Lengths as int64: integers, or floats with whole values (torch truncates other floats;
    here they are an error). Errors of count and sign are RuntimeErrors, as in torch."""
    if isinstance(lengths, Tensor):
        lengths = lengths.numpy()
    elif hasattr(lengths, "numpy") and hasattr(lengths, "dtype"):  # e.g. a torch tensor
        lengths = lengths.numpy()
    a = np.asarray(lengths)
    if a.ndim != 1 or (a.size and a.dtype.kind not in "iuf"):
        raise ValueError(f"{op}: lengths must be a 1-D sequence of ints, got {a.dtype} {a.shape}")
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
            raise ValueError(f"{op}: lengths must be whole numbers, got {a.tolist()}")
    a = a.astype(np.int64)
    if a.shape[0] != batch:
        raise RuntimeError(
            f"{op}: expected {batch} lengths (one per batch entry), got {a.shape[0]}"
        )
    if batch and a.min() <= 0:
        raise RuntimeError(f"{op}: every length must be > 0, got {a.tolist()}")
    if batch and a.max() > steps:
        raise ValueError(f"{op}: a length of {a.max()} exceeds the {steps} padded steps")
    return a


def pad_sequence(
    sequences: Sequence[Tensor],
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stacks tensors of shapes (L_i, *) into (max L, B, *) (or (B, max L, *) with batch_first),
    padding each to the longest with ``padding_value`` on the right (or the left)."""
    op = "pad_sequence"
    seqs = list(sequences)
    if not seqs:
        raise ValueError(f"{op}: received an empty list of sequences")
    if padding_side not in ("right", "left"):
        raise ValueError(f"{op}: padding_side must be 'right' or 'left', got {padding_side!r}")
    for i, s in enumerate(seqs):
        if not isinstance(s, Tensor):
            raise TypeError(f"{op}: sequence {i} must be a Tensor, got {type(s).__name__}")
        if s.dim() == 0 or tuple(s.shape[1:]) != tuple(seqs[0].shape[1:]):
            raise ValueError(
                f"{op}: sequences must be (L, *) with one trailing shape, got "
                f"{tuple(seqs[0].shape)} and {tuple(s.shape)}"
            )
    longest = max(s.shape[0] for s in seqs)
    rows = []
    for s in seqs:
        if s.dtype != seqs[0].dtype:  # torch: the first sequence's dtype
            s = s.to(seqs[0].dtype)
        gap = longest - s.shape[0]
        if gap:
            pad = full((gap, *s.shape[1:]), padding_value, dtype=s.dtype, device=s.device)
            s = ops.cat([s, pad] if padding_side == "right" else [pad, s], 0)
        rows.append(s)
    return ops.stack(rows, 0 if batch_first else 1)


def pack_padded_sequence(
    input: Tensor, lengths: Any, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Packs a padded batch (T, B, *) (or (B, T, *)) whose entry b has ``lengths[b]`` valid
    steps. With ``enforce_sorted`` the lengths must be non-increasing; otherwise the batch is
    sorted here and the order is kept in the result."""
    op = "pack_padded_sequence"
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.dim() < 2:
        raise ValueError(f"{op}: input must be at least 2-D (T, B, *), got {tuple(input.shape)}")
    x = input.transpose(0, 1) if batch_first else input
    steps, batch = x.shape[0], x.shape[1]
    lens = _lengths(op, lengths, batch, steps)
    if batch == 0:
        raise ValueError(f"{op}: the batch is empty")
    sorted_indices = None
    if enforce_sorted:
        if np.any(np.diff(lens) > 0):
            raise RuntimeError(
                f"{op}: `lengths` array must be sorted in decreasing order when `enforce_sorted` "
                f"is True, got {lens.tolist()}; pass enforce_sorted=False to sort here"
            )
    else:
        order = np.argsort(-lens, kind="stable")
        sorted_indices = order
        lens = lens[order]
        x = _permute(x, 1, order)
    batch_sizes = np.array([(lens > t).sum() for t in range(int(lens[0]))], dtype=np.int64)
    flat = _packed_positions(batch_sizes, batch)
    data = _rows_at(x.reshape(steps * batch, *x.shape[2:]), flat)
    return PackedSequence(data, batch_sizes, sorted_indices)


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: Optional[int] = None,
) -> tuple:
    """The inverse of pack_padded_sequence: (padded (T, B, *) or (B, T, *), lengths as an int64
    tensor), in the caller's batch order; ``total_length`` pads T further."""
    op = "pad_packed_sequence"
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{op}: expected a PackedSequence, got {type(sequence).__name__}")
    data, bs = sequence.data, sequence.batch_sizes.numpy()
    steps, batch = len(bs), int(bs[0]) if len(bs) else 0
    if total_length is not None:
        if isinstance(total_length, bool) or not isinstance(total_length, (int, np.integer)):
            raise TypeError(f"{op}: total_length must be an int, got {total_length!r}")
        if total_length < steps:
            raise ValueError(
                f"{op}: total_length {total_length} is shorter than the longest sequence "
                f"({steps} steps)"
            )
        steps = int(total_length)
    flat = _packed_positions(bs, batch)
    padded = _rows_into(data, steps * batch, flat)  # zeros past each sequence's end
    if padding_value != 0:
        fill = np.full((steps * batch,) + (1,) * (data.dim() - 1), padding_value)
        fill[flat] = 0
        padded = padded + Tensor(to_device_array(fill.astype(data._data.dtype), data.device))
    padded = padded.reshape(steps, batch, *data.shape[1:])
    lengths = _sorted_lengths(bs, batch)
    if sequence.unsorted_indices is not None:
        order = sequence.unsorted_indices.numpy()
        padded = _permute(padded, 1, order)
        lengths = lengths[order]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, Tensor(lengths)


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Packs a list of (L_i, *) tensors (longest first unless ``enforce_sorted`` is False)."""
    seqs = list(sequences)
    lengths = [s.shape[0] if isinstance(s, Tensor) and s.dim() else 0 for s in seqs]
    return pack_padded_sequence(pad_sequence(seqs), lengths, enforce_sorted=enforce_sorted)
