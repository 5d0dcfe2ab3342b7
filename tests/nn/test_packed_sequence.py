"""Variable-length sequences (axonal.nn.utils.rnn) and the recurrent layers over them: against the
definition (each sequence run alone) and against torch.nn.utils.rnn / torch's layers."""

from __future__ import annotations

import numpy as np
import pytest

import axonal
import axonal.nn as nn
from axonal.nn.utils.rnn import (
    PackedSequence,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
)


def _torch():
    torch = pytest.importorskip("torch")
    from torch.nn.utils import rnn as trnn

    return torch, trnn


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_and_pad_round_trip_match_torch(batch_first, enforce_sorted, rng):
    torch, trnn = _torch()
    lens = [6, 4, 4, 1] if enforce_sorted else [2, 6, 1, 4]
    shape = (4, 6, 3, 2) if batch_first else (6, 4, 3, 2)  # trailing dims (3, 2)
    x = rng.standard_normal(shape)
    xa, xt = axonal.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    pa = pack_padded_sequence(xa, lens, batch_first=batch_first, enforce_sorted=enforce_sorted)
    pt = trnn.pack_padded_sequence(
        xt, torch.tensor(lens), batch_first=batch_first, enforce_sorted=enforce_sorted
    )
    np.testing.assert_array_equal(pa.data.numpy(), pt.data.detach().numpy())
    np.testing.assert_array_equal(pa.batch_sizes.numpy(), pt.batch_sizes.numpy())
    pairs = [(pa.sorted_indices, pt.sorted_indices), (pa.unsorted_indices, pt.unsorted_indices)]
    for ours, theirs in pairs:
        if theirs is None:
            assert ours is None
        else:
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    ya, la = pad_packed_sequence(pa, batch_first=batch_first, padding_value=-1.5, total_length=8)
    yt, lt = trnn.pad_packed_sequence(pt, batch_first=batch_first, padding_value=-1.5,
                                      total_length=8)  # fmt: skip
    np.testing.assert_array_equal(ya.numpy(), yt.detach().numpy())
    np.testing.assert_array_equal(la.numpy(), lt.numpy())
    g = rng.standard_normal(tuple(ya.shape))
    (ya * axonal.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    np.testing.assert_array_equal(xa.grad.numpy(), xt.grad.numpy())  # padding gets no gradient


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_and_pack_sequence_match_torch(batch_first, side, rng):
    torch, trnn = _torch()
    seqs = [rng.standard_normal((n, 3)) for n in (2, 5, 1)]
    ya = pad_sequence([axonal.tensor(s) for s in seqs], batch_first, 7.0, side)
    yt = trnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first, 7.0, side)
    np.testing.assert_array_equal(ya.numpy(), yt.numpy())
    pa = pack_sequence([axonal.tensor(s) for s in seqs], enforce_sorted=False)
    pt = trnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    np.testing.assert_array_equal(pa.data.numpy(), pt.data.numpy())
    np.testing.assert_array_equal(pa.batch_sizes.numpy(), pt.batch_sizes.numpy())


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_layer_runs_each_sequence_alone(cls, bidirectional, rng):
    # the definition: every sequence's outputs and final state are those of running it alone
    axonal.manual_seed(3)
    layer = getattr(nn, cls)(4, 5, num_layers=2, bidirectional=bidirectional, dtype=np.float64)
    lens = [3, 7, 1, 5]
    x = rng.standard_normal((7, 4, 4))
    out, state = layer(pack_padded_sequence(axonal.tensor(x), lens, enforce_sorted=False))
    padded, got_lens = pad_packed_sequence(out)
    assert got_lens.numpy().tolist() == lens
    h = state[0] if cls == "LSTM" else state
    for i, n in enumerate(lens):
        o1, s1 = layer(axonal.tensor(x[:n, i : i + 1]))
        h1 = s1[0] if cls == "LSTM" else s1
        np.testing.assert_allclose(padded.numpy()[:n, i], o1.numpy()[:, 0], rtol=1e-12, atol=1e-12)
        assert np.all(padded.numpy()[n:, i] == 0)
        np.testing.assert_allclose(h.numpy()[:, i], h1.numpy()[:, 0], rtol=1e-12, atol=1e-12)
        if cls == "LSTM":
            np.testing.assert_allclose(state[1].numpy()[:, i], s1[1].numpy()[:, 0], rtol=1e-12)


CONFIGS = [
    dict(),
    dict(num_layers=2, bidirectional=True),
    dict(bidirectional=True, batch_first=True),
    dict(num_layers=2, bias=False),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kw", CONFIGS, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("given_state", [False, True])
def test_packed_layers_match_torch(cls, kw, dtype, given_state, rng):
    torch, trnn = _torch()
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=3e-5, atol=3e-6)
    pt = getattr(torch.nn, cls)(4, 6, **kw).to(tdt)
    ax = getattr(nn, cls)(4, 6, dtype=dtype, **kw)
    ax.load_state_dict({k: axonal.tensor(v.detach().numpy().copy())
                        for k, v in pt.state_dict().items()})  # fmt: skip
    bf = kw.get("batch_first", False)
    lens = [2, 6, 3, 6, 1]
    x = rng.standard_normal((5, 6, 4) if bf else (6, 5, 4)).astype(dtype)
    xa, xt = axonal.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    dirs = 2 if kw.get("bidirectional") else 1
    sa = st = None
    if given_state:  # in the caller's batch order
        shape = (kw.get("num_layers", 1) * dirs, 5, 6)
        hs = [rng.standard_normal(shape).astype(dtype) for _ in range(2 if cls == "LSTM" else 1)]
        sa = [axonal.tensor(h, requires_grad=True) for h in hs]
        st = [torch.tensor(h, requires_grad=True) for h in hs]
    pa = pack_padded_sequence(xa, lens, batch_first=bf, enforce_sorted=False)
    ptt = trnn.pack_padded_sequence(xt, torch.tensor(lens), batch_first=bf, enforce_sorted=False)
    oa, ha = ax(pa, None if sa is None else (tuple(sa) if cls == "LSTM" else sa[0]))
    ot, ht = pt(ptt, None if st is None else (tuple(st) if cls == "LSTM" else st[0]))
    assert isinstance(oa, PackedSequence)
    np.testing.assert_allclose(oa.data.numpy(), ot.data.detach().numpy(), **tol)
    hal = list(ha) if isinstance(ha, tuple) else [ha]
    htl = list(ht) if isinstance(ht, tuple) else [ht]
    for a, b in zip(hal, htl):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **tol)
    go = rng.standard_normal(tuple(oa.data.shape)).astype(dtype)
    gh = [rng.standard_normal(tuple(a.shape)).astype(dtype) for a in hal]
    la = (oa.data * axonal.tensor(go)).sum() + sum(
        (a * axonal.tensor(g)).sum() for a, g in zip(hal, gh)
    )
    lt = (ot.data * torch.tensor(go)).sum() + sum(
        (b * torch.tensor(g)).sum() for b, g in zip(htl, gh)
    )
    la.backward()
    lt.backward()
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), **tol)
    for (name, p), q in zip(ax.named_parameters(), pt.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), err_msg=name, **tol)
    for a, b in zip(sa or [], st or []):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol)


def test_lstm_projection_over_packed_sequences_matches_torch(rng):
    torch, trnn = _torch()
    pt = torch.nn.LSTM(3, 5, proj_size=2, bidirectional=True).double()
    ax = nn.LSTM(3, 5, proj_size=2, bidirectional=True, dtype=np.float64)
    ax.load_state_dict({k: axonal.tensor(v.detach().numpy().copy())
                        for k, v in pt.state_dict().items()})  # fmt: skip
    x, lens = rng.standard_normal((4, 3, 3)), [4, 1, 3]
    oa, (ha, ca) = ax(pack_padded_sequence(axonal.tensor(x), lens, enforce_sorted=False))
    ot, (ht, ct) = pt(trnn.pack_padded_sequence(torch.tensor(x), lens, enforce_sorted=False))
    np.testing.assert_allclose(oa.data.numpy(), ot.data.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(ha.numpy(), ht.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(ca.numpy(), ct.detach().numpy(), rtol=1e-10)


def test_packed_sequence_helpers_and_errors(rng):
    x = axonal.tensor(rng.standard_normal((4, 3, 2)))
    p = pack_padded_sequence(x, [4, 2, 1])
    data, batch_sizes, sorted_indices, unsorted_indices = p  # a named tuple, as in torch
    assert batch_sizes.numpy().tolist() == [3, 2, 1, 1] and sorted_indices is None
    assert p.to(axonal.float32).data.dtype == axonal.float32 and not p.is_cuda
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        pack_padded_sequence(x, [2, 4, 1])
    with pytest.raises(RuntimeError, match="every length must be > 0"):  # torch's type
        pack_padded_sequence(x, [4, 0, 1])
    with pytest.raises(ValueError, match="exceeds the 4 padded steps"):
        pack_padded_sequence(x, [5, 2, 1])
    with pytest.raises(RuntimeError, match="expected 3 lengths"):
        pack_padded_sequence(x, [4, 2])
    with pytest.raises(ValueError, match="whole numbers"):
        pack_padded_sequence(x, [4.5, 2, 1])
    assert pack_padded_sequence(x, [4.0, 2.0, 1.0]).batch_sizes.numpy().tolist() == [3, 2, 1, 1]
    with pytest.raises(ValueError, match="total_length 3 is shorter"):
        pad_packed_sequence(p, total_length=3)
    with pytest.raises(TypeError, match="total_length must be an int"):
        pad_packed_sequence(p, total_length=5.0)
    mixed = pad_sequence(
        [axonal.zeros(2, dtype=axonal.float32), axonal.zeros(3, dtype=axonal.float64)]
    )
    assert mixed.dtype == axonal.float32  # the first sequence's dtype, as torch
    with pytest.raises(ValueError, match="one trailing shape"):
        pad_sequence([axonal.zeros(2, 3), axonal.zeros(2, 4)])
    with pytest.raises(ValueError, match=r"packed data must be \(steps, input_size=5\)"):
        nn.LSTM(5, 3)(p)


@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
def test_packed_c_kernels_with_threads_over_many_rows(cls, rng):
    # the C++ sequence kernel splits the rows over threads: each slab's running rows are a
    # prefix of it; against the span-free definition (each sequence alone), both directions
    from axonal import _cpu

    old = _cpu.get_num_threads()
    _cpu.set_num_threads(2)
    try:
        axonal.manual_seed(1)
        layer = getattr(nn, cls)(3, 4, bidirectional=True, dtype=np.float64)
        lens = list(rng.integers(1, 9, 37))
        x = rng.standard_normal((8, 37, 3))
        xa = axonal.tensor(x, requires_grad=True)
        out, state = layer(pack_padded_sequence(xa, lens, enforce_sorted=False))
        h, c = state if cls == "LSTM" else (state, state)
        padded, _ = pad_packed_sequence(out)
        (padded.sum() + (h * c).sum()).backward()
        for i in (0, 5, 17, 36):
            n = lens[i]
            xi = axonal.tensor(x[:n, i : i + 1], requires_grad=True)
            o1, s1 = layer(xi)
            h1, c1 = s1 if cls == "LSTM" else (s1, s1)
            np.testing.assert_allclose(padded.numpy()[:n, i], o1.numpy()[:, 0], rtol=1e-12)
            np.testing.assert_allclose(c.numpy()[:, i], c1.numpy()[:, 0], rtol=1e-12)
            (o1.sum() + (h1 * c1).sum()).backward()
            np.testing.assert_allclose(xa.grad.numpy()[:n, i], xi.grad.numpy()[:, 0], rtol=1e-10)
            assert np.all(xa.grad.numpy()[n:, i] == 0)
    finally:
        _cpu.set_num_threads(old)


def test_sequence_kernels_check_lengths():
    from axonal import _cpu

    x, x3 = np.zeros((3, 2, 8)), np.zeros((3, 2, 6))
    h = np.zeros((2, 2))
    with pytest.raises(ValueError, match="non-increasing"):
        _cpu.lstm_sequence_forward(x, h, h, np.zeros((2, 8)), False, np.array([1, 3]))
    with pytest.raises(ValueError, match=r"lengths must be in 1 \.\. 3"):
        _cpu.lstm_sequence_forward(x, h, h, np.zeros((2, 8)), False, np.array([4, 1]))
    with pytest.raises(ValueError, match="non-increasing"):
        _cpu.gru_sequence_forward(x3, h, np.zeros((2, 6)), None, False, np.array([2, 3]))
