"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` (stacked, optionally bidirectional) and the
single-step ``RNNCell``, ``LSTMCell``, ``GRUCell``, with PyTorch's names, shapes, gate order,
parameter names (``weight_ih_l0``, ``bias_hh_l1_reverse``, ``weight_hr_l0`` ...) and
initialisation (every parameter ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))).

One layer and direction: the input projection of every time step is one GEMM
(``x W_ih^T + b_ih`` over (L, N, in)); each step then adds ``h W_hh^T + b_hh`` and runs the
fused pointwise op of its cell (``axonal.ops.recurrent``).
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Optional

import numpy as np

from .. import ops
from ..ops.creation import empty, zeros
from ..ops.recurrent import (
    GRUCellPointwise,
    GRUSequence,
    LSTMCellPointwise,
    LSTMSequence,
    _cpu_kernel,
)
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter
from .utils.rnn import (
    PackedSequence,
    _packed_positions,
    _rows_at,
    _rows_into,
    _sorted_lengths,
    _take,
)

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _check_int(op: str, name: str, v: Any, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
        raise ValueError(f"{op}: {name} must be an int >= {minimum}, got {v!r}")
    return int(v)


def _state(name: str, h: Any, what: str, shape: tuple, ref: Tensor) -> Tensor:
    """A given initial state: a Tensor of the expected shape and of the input's dtype."""
    if not isinstance(h, Tensor):
        raise TypeError(f"{name}: {what} must be a Tensor, got {type(h).__name__}")
    if tuple(h.shape) != shape:
        raise ValueError(f"{name}: expected {what} of shape {shape}, got {tuple(h.shape)}")
    if h.dtype != ref.dtype:
        raise TypeError(f"{name}: {what} has dtype {h.dtype}, input has {ref.dtype}")
    return h


def _initial_state(
    name: str, hx: Any, lstm: bool, h_shape: tuple, c_shape: tuple, ref: Tensor, names: tuple
) -> tuple:
    """(h, c) from ``hx``: zeros when None, else a pair (LSTM) or one Tensor (c is None), each
    checked; ``names`` = what the messages call h, c and a lone state."""
    if hx is None:
        h = zeros(h_shape, dtype=ref.dtype, device=ref.device)
        return h, (zeros(c_shape, dtype=ref.dtype, device=ref.device) if lstm else None)
    if not lstm:
        return _state(name, hx, names[2], h_shape, ref), None
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise TypeError(
            f"{name}: hx must be a tuple ({names[0]}, {names[1]}), got {type(hx).__name__}"
        )
    return _state(name, hx[0], names[0], h_shape, ref), _state(name, hx[1], names[1], c_shape, ref)


def _step(mode: str, x_t: Tensor, h: Tensor, c: Optional[Tensor], w_hh, b_hh, w_hr) -> tuple:
    """One time step from the projected input x_t = x W_ih^T + b_ih: (h', c')."""
    gh = F.linear(h, w_hh, b_hh)
    if mode == "LSTM":
        h, c = LSTMCellPointwise.apply(x_t + gh, c)
        if w_hr is not None:
            h = F.linear(h, w_hr)
        return h, c
    if mode == "GRU":
        return GRUCellPointwise.apply(x_t, gh, h), None
    pre = x_t + gh
    return (ops.tanh(pre) if mode == "RNN_TANH" else ops.relu(pre)), None


class RNNBase(Module):
    """The common machinery of ``RNN``, ``LSTM`` and ``GRU`` (``mode`` picks the cell)."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        dtype=None,
        device=None,
    ) -> None:
        super().__init__()
        name = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(mode, mode)
        self._name = name
        self.mode = mode
        self.input_size = _check_int(name, "input_size", input_size, 0)
        self.hidden_size = _check_int(name, "hidden_size", hidden_size, 1)
        self.num_layers = _check_int(name, "num_layers", num_layers, 1)
        self.proj_size = _check_int(name, "proj_size", proj_size, 0)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
            raise ValueError(f"{name}: dropout must be a number in [0, 1], got {dropout!r}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1], got {dropout}")
        if self.proj_size and mode != "LSTM":
            raise ValueError(f"{name}: proj_size is only supported by LSTM")
        if self.proj_size >= self.hidden_size:
            raise ValueError(
                f"{name}: proj_size ({self.proj_size}) must be smaller than hidden_size "
                f"({self.hidden_size})"
            )
        if dropout > 0 and self.num_layers == 1:
            warnings.warn(
                f"{name}: dropout={dropout} has no effect with num_layers=1 (it is applied "
                "between stacked layers)",
                stacklevel=3,
            )
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        dtype = np.float32 if dtype is None else dtype
        gate = _GATES[mode] * self.hidden_size
        real_hidden = self.proj_size or self.hidden_size
        dirs = 2 if self.bidirectional else 1
        self._names: list = []  # per (layer, direction): w_ih, w_hh, b_ih, b_hh, w_hr names
        for layer in range(self.num_layers):
            layer_in = self.input_size if layer == 0 else real_hidden * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                shapes = {
                    "weight_ih": (gate, layer_in),
                    "weight_hh": (gate, real_hidden),
                    "bias_ih": (gate,) if self.bias else None,
                    "bias_hh": (gate,) if self.bias else None,
                    "weight_hr": (self.proj_size, self.hidden_size) if self.proj_size else None,
                }
                names = []
                for base, shape in shapes.items():
                    if shape is None:
                        names.append(None)
                        continue
                    setattr(self, base + sfx, Parameter(empty(shape, dtype=dtype)))
                    names.append(base + sfx)
                self._names.append(tuple(names))
        self.reset_parameters()
        if device is not None and str(device) != "cpu":
            self.to(device)

    def reset_parameters(self) -> None:
        """Every parameter ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as PyTorch."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self) -> None:
        """A no-op, for code written for PyTorch (whose cuDNN path wants one weight buffer)."""

    def _params(self, index: int) -> tuple:
        return tuple(None if n is None else getattr(self, n) for n in self._names[index])

    def _state_shape(self, batch: Optional[int], width: int) -> tuple:
        lead = (self.num_layers * (2 if self.bidirectional else 1),)
        return lead + ((batch,) if batch is not None else ()) + (width,)

    def forward(self, input: Any, hx: Any = None) -> tuple:
        name = self._name
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.dim() not in (2, 3):
            raise ValueError(
                f"{name}: expected a 2-D (unbatched) or 3-D input, got shape {tuple(input.shape)}"
            )
        batched = input.dim() == 3
        x = input if batched else input.unsqueeze(1)
        if batched and self.batch_first:
            x = x.transpose(0, 1)
        steps, batch, feat = x.shape
        if feat != self.input_size:
            raise ValueError(
                f"{name}: input.size(-1) must be equal to input_size: expected "
                f"{self.input_size}, got {feat} (input shape {tuple(input.shape)})"
            )
        if steps == 0:
            raise ValueError(f"{name}: the input sequence is empty (shape {tuple(input.shape)})")
        real_hidden = self.proj_size or self.hidden_size
        h_shape = self._state_shape(batch if batched else None, real_hidden)
        c_shape = self._state_shape(batch if batched else None, self.hidden_size)
        lstm = self.mode == "LSTM"
        h0, c0 = _initial_state(name, hx, lstm, h_shape, c_shape, x, ("h_0", "c_0", "h_0"))
        if not batched:
            h0 = h0.unsqueeze(1)
            c0 = c0.unsqueeze(1) if c0 is not None else None
        dirs = 2 if self.bidirectional else 1
        layer_in = x
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                idx = layer * dirs + d
                cpu = _cpu_kernel(layer_in._data, self._params(idx)[0]._data, h0._data)
                xproj = self._project(idx, layer_in, cpu)  # one GEMM for all steps
                out, h, c = self._run(idx, xproj, h0[idx], c0[idx] if lstm else None, d == 1, cpu)
                outs.append(out)
                h_n.append(h)
                if lstm:
                    c_n.append(c)
            layer_in = outs[0] if dirs == 1 else ops.cat(outs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        output = layer_in
        hn = ops.stack(h_n, 0)
        cn = ops.stack(c_n, 0) if lstm else None
        if not batched:
            output, hn = output.squeeze(1), hn.squeeze(1)
            cn = cn.squeeze(1) if cn is not None else None
        elif self.batch_first:
            output = output.transpose(0, 1)
        return (output, (hn, cn)) if lstm else (output, hn)

    def _project(self, idx: int, x: Tensor, cpu: bool) -> Tensor:
        """The input projection of every step, x W_ih^T + b_ih (one GEMM); with b_hh too where
        the C++ LSTM sequence runs (both biases added once per gate, not to every step's row)."""
        w_ih, _, b_ih, b_hh, w_hr = self._params(idx)
        if self.mode == "LSTM" and w_hr is None and cpu:
            return F.linear(
                x, w_ih, b_ih if b_hh is None else (b_hh if b_ih is None else b_ih + b_hh)
            )
        return F.linear(x, w_ih, b_ih)

    def _run(self, idx: int, xs: Tensor, h: Tensor, c: Optional[Tensor], reverse: bool, cpu: bool):
        """One direction of one layer over xs (steps, batch, gates * H), from _project: the
        whole sequence in one op where the C++ kernels apply (NumPy arrays: LSTM without
        projection, GRU), else step by step: (out (steps, batch, H_out), h, c)."""
        w_ih, w_hh, b_ih, b_hh, w_hr = self._params(idx)
        if self.mode == "LSTM" and w_hr is None and cpu:
            return LSTMSequence.apply(xs, h, c, w_hh, reverse)
        if self.mode == "GRU" and cpu:
            out, h = GRUSequence.apply(xs, h, w_hh, b_hh, reverse)
            return out, h, None
        steps = xs.shape[0]
        xt = ops.unbind(xs, 0)
        seq: list = [None] * steps
        for t in range(steps - 1, -1, -1) if reverse else range(steps):
            h, c = _step(self.mode, xt[t], h, c, w_hh, b_hh, w_hr)
            seq[t] = h
        return ops.stack(seq, 0), h, c

    def _forward_packed(self, packed: PackedSequence, hx: Any) -> tuple:
        """RNN over a PackedSequence: the steps where the number of running sequences stays the
        same form one span (a contiguous block of the packed data, shape (span, b, *)); each
        direction runs span by span, the rows that have finished (forward) or not yet started
        (reverse) keeping their state."""
        name = self._name
        data, bs_t = packed.data, packed.batch_sizes
        bs = bs_t.numpy()
        if data.dim() != 2 or data.shape[1] != self.input_size:
            raise ValueError(
                f"{name}: packed data must be (steps, input_size={self.input_size}), got "
                f"{tuple(data.shape)}"
            )
        if len(bs) == 0 or int(bs.sum()) != data.shape[0] or np.any(np.diff(bs) > 0):
            raise ValueError(f"{name}: batch_sizes {bs.tolist()} do not describe the packed data")
        batch = int(bs[0])
        lstm = self.mode == "LSTM"
        real_hidden = self.proj_size or self.hidden_size
        h_shape = self._state_shape(batch, real_hidden)
        c_shape = self._state_shape(batch, self.hidden_size)
        h0, c0 = _initial_state(name, hx, lstm, h_shape, c_shape, data, ("h_0", "c_0", "h_0"))
        order = None if packed.sorted_indices is None else packed.sorted_indices.numpy()
        if order is not None and hx is not None:  # states come in the caller's batch order
            h0 = _take(h0, 1, order)
            c0 = _take(c0, 1, order) if c0 is not None else None
        offsets = np.concatenate([[0], np.cumsum(bs)])
        spans = []  # (first step, steps, running rows, packed offset): contiguous blocks
        t = 0
        while t < len(bs):
            u = t
            while u < len(bs) and bs[u] == bs[t]:
                u += 1
            spans.append((t, u - t, int(bs[t]), int(offsets[t])))
            t = u
        dirs = 2 if self.bidirectional else 1
        # the C++ LSTM / GRU sequences run each row over its own steps: padded in, packed out
        steps = len(bs)
        lens, flat = _sorted_lengths(bs, batch), _packed_positions(bs, batch)
        layer_in = data
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                idx = layer * dirs + d
                cpu = _cpu_kernel(layer_in._data, self._params(idx)[0]._data, h0._data)
                xproj = self._project(idx, layer_in, cpu)
                fast_lstm = lstm and cpu and self._params(idx)[4] is None
                if fast_lstm or (self.mode == "GRU" and cpu):
                    xs = _rows_into(xproj, steps * batch, flat)  # zeros past the ends
                    xs = xs.reshape(steps, batch, xproj.shape[1])
                    _, w_hh, _, b_hh, _ = self._params(idx)
                    if fast_lstm:
                        out, h, c = LSTMSequence.apply(xs, h0[idx], c0[idx], w_hh, d == 1, lens)
                        c_n.append(c)
                    else:
                        out, h = GRUSequence.apply(xs, h0[idx], w_hh, b_hh, d == 1, lens)
                    outs.append(_rows_at(out.reshape(steps * batch, out.shape[2]), flat))
                    h_n.append(h)
                    continue
                h, c = h0[idx], (c0[idx] if lstm else None)
                # the spans' blocks in one op (its backward is one cat, not one zero-filled
                # array of the whole projection per slice)
                blocks = ops.split(xproj, [n_steps * b for _, n_steps, b, _ in spans], 0)
                pieces: dict = {}
                for k in range(len(spans) - 1, -1, -1) if d else range(len(spans)):
                    t0, n_steps, b, _ = spans[k]
                    xs = blocks[k].reshape(n_steps, b, xproj.shape[1])
                    out, hb, cb = self._run(idx, xs, h[:b], c[:b] if lstm else None, d == 1, cpu)
                    pieces[t0] = out.reshape(n_steps * b, out.shape[2])
                    h = hb if b == batch else ops.cat([hb, h[b:]], 0)
                    if lstm:
                        c = cb if b == batch else ops.cat([cb, c[b:]], 0)
                outs.append(ops.cat([pieces[sp[0]] for sp in spans], 0))
                h_n.append(h)
                if lstm:
                    c_n.append(c)
            layer_in = outs[0] if dirs == 1 else ops.cat(outs, 1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        hn = ops.stack(h_n, 0)
        cn = ops.stack(c_n, 0) if lstm else None
        if packed.unsorted_indices is not None:  # back to the caller's batch order
            back = packed.unsorted_indices.numpy()
            hn = _take(hn, 1, back)
            cn = _take(cn, 1, back) if cn is not None else None
        output = PackedSequence(layer_in, bs_t, packed.sorted_indices, packed.unsorted_indices)
        return (output, (hn, cn)) if lstm else (output, hn)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or relu).

    ``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False)``; ``forward(input, h_0=None)`` returns
    ``(output, h_n)``: output (L, N, D * hidden_size) (``(N, L, ...)`` with batch_first, (L, ...)
    for an unbatched (L, input_size) input), h_n (D * num_layers, N, hidden_size).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype=None,
        device=None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(
            "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            dtype=dtype,
            device=device,
        )
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory, PyTorch's formulation (gates i, f, g, o)::

        i, f, o = sigmoid(.), g = tanh(.)   of  x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh
        c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)   (then h_t W_hr^T with proj_size > 0)

    ``forward(input, (h_0, c_0)=None)`` returns ``(output, (h_n, c_n))``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        dtype=None,
        device=None,
    ) -> None:
        super().__init__(
            "LSTM",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            proj_size,
            dtype=dtype,
            device=device,
        )


class GRU(RNNBase):
    """Gated recurrent unit, PyTorch's formulation (gates r, z, n)::

        r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr),  z = sigmoid(... z ...)
        n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn)),  h' = (1 - z) * n + z * h

    ``forward(input, h_0=None)`` returns ``(output, h_n)``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype=None,
        device=None,
    ) -> None:
        super().__init__(
            "GRU",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            dtype=dtype,
            device=device,
        )


# ---------------------------------------------------------------- single steps
class RNNCellBase(Module):
    """One step of a recurrent cell: ``weight_ih`` (G, input_size), ``weight_hh``
    (G, hidden_size), ``bias_ih`` / ``bias_hh`` (G,) with G = gates * hidden_size."""

    def __init__(self, mode, input_size, hidden_size, bias, dtype=None, device=None) -> None:
        super().__init__()
        name = {"RNN_TANH": "RNNCell", "RNN_RELU": "RNNCell"}.get(mode, mode + "Cell")
        self._name = name
        self.mode = mode
        self.input_size = _check_int(name, "input_size", input_size, 0)
        self.hidden_size = _check_int(name, "hidden_size", hidden_size, 1)
        self.bias = bool(bias)
        dtype = np.float32 if dtype is None else dtype
        gate = _GATES[mode] * self.hidden_size
        self.weight_ih = Parameter(empty((gate, self.input_size), dtype=dtype))
        self.weight_hh = Parameter(empty((gate, self.hidden_size), dtype=dtype))
        if self.bias:
            self.bias_ih = Parameter(empty((gate,), dtype=dtype))
            self.bias_hh = Parameter(empty((gate,), dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()
        if device is not None and str(device) != "cpu":
            self.to(device)

    reset_parameters = RNNBase.reset_parameters

    def forward(self, input: Tensor, hx: Any = None) -> Any:
        name = self._name
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}")
        if input.dim() not in (1, 2):
            raise ValueError(
                f"{name}: expected a 1-D (unbatched) or 2-D input, got shape {tuple(input.shape)}"
            )
        if input.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: input has {input.shape[-1]} features, expected input_size "
                f"{self.input_size}"
            )
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        shape = tuple(input.shape[:-1]) + (self.hidden_size,)
        lstm = self.mode == "LSTM"
        h, c = _initial_state(name, hx, lstm, shape, shape, x, ("h", "c", "hx"))
        if not batched:
            h = h.unsqueeze(0)
            c = c.unsqueeze(0) if c is not None else None
        x_t = F.linear(x, self.weight_ih, self.bias_ih)
        h, c = _step(self.mode, x_t, h, c, self.weight_hh, self.bias_hh, None)
        if not batched:
            h = h.squeeze(0)
            c = c.squeeze(0) if c is not None else None
        return (h, c) if lstm else h

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        return s


class RNNCell(RNNCellBase):
    """``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu); ``forward(input, hx=None)``."""

    def __init__(
        self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=None, device=None
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}"
            )
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(mode, input_size, hidden_size, bias, dtype, device)
        self.nonlinearity = nonlinearity


class LSTMCell(RNNCellBase):
    """One LSTM step; ``forward(input, (h, c)=None)`` returns ``(h', c')``."""

    def __init__(self, input_size, hidden_size, bias=True, dtype=None, device=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, bias, dtype, device)


class GRUCell(RNNCellBase):
    """One GRU step; ``forward(input, hx=None)`` returns ``h'``."""

    def __init__(self, input_size, hidden_size, bias=True, dtype=None, device=None) -> None:
        super().__init__("GRU", input_size, hidden_size, bias, dtype, device)
