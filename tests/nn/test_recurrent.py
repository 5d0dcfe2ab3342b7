"""Recurrent layers (RNN, LSTM, GRU and their cells): parameter names, shapes and initialisation,
float64 gradchecks of the fused cell ops, a NumPy re-implementation of one LSTM and one GRU
sequence, PyTorch parity (outputs, final states and every gradient) over layers, directions,
batch_first, projections, unbatched inputs and given initial states, dropout between layers,
bad arguments, and a small sequence task that an LSTM learns."""

from __future__ import annotations

import numpy as np
import pytest

import axonal
import axonal.nn as nn
import axonal.nn.functional as F
from axonal.autograd import gradcheck
from axonal.ops.recurrent import GRUCellPointwise, LSTMCellPointwise


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def t64(a, grad=False):
    return axonal.tensor(np.asarray(a, np.float64), requires_grad=grad)


# ---------------------------------------------------------------- structure
def test_parameter_names_shapes_and_init():
    m = nn.LSTM(5, 8, num_layers=2, bidirectional=True, proj_size=3)
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert list(shapes)[:5] == [
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
        "weight_hr_l0",
    ]
    assert shapes["weight_ih_l0"] == (32, 5) and shapes["weight_hh_l0"] == (32, 3)
    assert shapes["weight_ih_l1_reverse"] == (32, 6) and shapes["weight_hr_l1_reverse"] == (3, 8)
    assert len(shapes) == 20
    g = nn.GRU(4, 6, bias=False)
    assert list(g.state_dict()) == ["weight_ih_l0", "weight_hh_l0"]
    assert tuple(g.weight_ih_l0.shape) == (18, 4)
    axonal.manual_seed(0)
    r = nn.RNN(3, 100)
    bound = 1 / np.sqrt(100)
    for p in r.parameters():
        a = p.numpy()
        assert a.dtype == np.float32 and np.abs(a).max() <= bound and np.abs(a).max() > 0.9 * bound
    assert "proj_size=3" in repr(m) and "bidirectional=True" in repr(m)


# ---------------------------------------------------------------- fused cells
def test_lstm_cell_pointwise_gradcheck():
    rng = np.random.default_rng(0)
    gates, c = t64(rng.standard_normal((3, 8)) * 2, True), t64(rng.standard_normal((3, 2)), True)
    w_h, w_c = t64(rng.standard_normal((3, 2))), t64(rng.standard_normal((3, 2)))

    def f(g, cc):
        h2, c2 = LSTMCellPointwise.apply(g, cc)
        return (h2 * w_h).sum() + (c2 * w_c).sum()

    assert gradcheck(f, (gates, c))

    def only_h(g, cc):  # the c' output unused: its gradient is zero-filled
        return (LSTMCellPointwise.apply(g, cc)[0] * w_h).sum()

    assert gradcheck(only_h, (gates, c))


def test_gru_cell_pointwise_gradcheck():
    rng = np.random.default_rng(1)
    gi, gh = t64(rng.standard_normal((2, 9)) * 2, True), t64(rng.standard_normal((2, 9)), True)
    h, w = t64(rng.standard_normal((2, 3)), True), t64(rng.standard_normal((2, 3)))
    assert gradcheck(lambda a, b, c: (GRUCellPointwise.apply(a, b, c) * w).sum(), (gi, gh, h))


def numpy_lstm(x, p, h, c):
    """PyTorch's LSTM equations, one layer, one direction, in NumPy."""
    H = h.shape[-1]
    out = []
    for t in range(x.shape[0]):
        g = x[t] @ p["weight_ih_l0"].T + p["bias_ih_l0"] + h @ p["weight_hh_l0"].T + p["bias_hh_l0"]
        i, f, gg, o = (
            sig(g[:, :H]),
            sig(g[:, H : 2 * H]),
            np.tanh(g[:, 2 * H : 3 * H]),
            sig(g[:, 3 * H :]),
        )
        c = f * c + i * gg
        h = o * np.tanh(c)
        out.append(h)
    return np.stack(out), h, c


def numpy_gru(x, p, h):
    H = h.shape[-1]
    out = []
    for t in range(x.shape[0]):
        gi = x[t] @ p["weight_ih_l0"].T + p["bias_ih_l0"]
        gh = h @ p["weight_hh_l0"].T + p["bias_hh_l0"]
        r = sig(gi[:, :H] + gh[:, :H])
        z = sig(gi[:, H : 2 * H] + gh[:, H : 2 * H])
        n = np.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
        h = (1 - z) * n + z * h
        out.append(h)
    return np.stack(out), h


def test_lstm_and_gru_match_numpy_equations():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 3, 4))
    h0, c0 = rng.standard_normal((1, 3, 5)), rng.standard_normal((1, 3, 5))
    lstm = nn.LSTM(4, 5, dtype=np.float64)
    p = {k: v.numpy() for k, v in lstm.state_dict().items()}
    out, (hn, cn) = lstm(t64(x), (t64(h0), t64(c0)))
    want, wh, wc = numpy_lstm(x, p, h0[0], c0[0])
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hn.numpy()[0], wh, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(cn.numpy()[0], wc, rtol=1e-12, atol=1e-14)
    gru = nn.GRU(4, 5, dtype=np.float64)
    p = {k: v.numpy() for k, v in gru.state_dict().items()}
    out, hn = gru(t64(x), t64(h0))
    want, wh = numpy_gru(x, p, h0[0])
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(hn.numpy()[0], wh, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN"])
def test_whole_layer_gradcheck(cls):
    rng = np.random.default_rng(3)
    axonal.manual_seed(3)
    m = getattr(nn, cls)(3, 2, num_layers=2, bidirectional=True, dtype=np.float64)
    x = t64(rng.standard_normal((4, 2, 3)), True)
    w = t64(rng.standard_normal((4, 2, 4)))

    def loss(inp):
        return (m(inp)[0] * w).sum()

    assert gradcheck(loss, (x,))
    # a weight: central differences on a few entries of each layer's matrices
    (m(x.detach())[0] * w).sum().backward()
    for name in ("weight_ih_l0", "weight_hh_l0_reverse", "weight_ih_l1", "bias_hh_l1_reverse"):
        p = getattr(m, name)
        base = p.numpy().copy()
        for k in list(np.ndindex(base.shape))[::3]:
            vals = []
            for sign in (1, -1):
                b = base.copy()
                b[k] += sign * 1e-6
                p.data = axonal.tensor(b)
                vals.append(float((m(x.detach())[0] * w).sum().item()))
            p.data = axonal.tensor(base)
            num = (vals[0] - vals[1]) / 2e-6
            np.testing.assert_allclose(p.grad.numpy()[k], num, rtol=1e-5, atol=1e-8, err_msg=name)


# ---------------------------------------------------------------- PyTorch parity
CONFIGS = [
    dict(),
    dict(num_layers=2),
    dict(bidirectional=True),
    dict(num_layers=3, bidirectional=True, batch_first=True),
    dict(bias=False),
    dict(batch_first=True),
]


def _pair(cls, kw, dtype):
    torch = pytest.importorskip("torch")
    pt = getattr(torch.nn, cls)(5, 7, **kw).to(
        torch.float64 if dtype == np.float64 else torch.float32
    )
    ax = getattr(nn, cls)(5, 7, dtype=dtype, **kw)
    sd = {k: v.detach().numpy().copy() for k, v in pt.state_dict().items()}
    assert list(ax.state_dict()) == list(sd)
    ax.load_state_dict({k: axonal.tensor(v) for k, v in sd.items()})
    return torch, pt, ax


def _compare(torch, pt, ax, x, state, dtype, batched=True):
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)
    rng = np.random.default_rng(9)
    xa, xt = axonal.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    sa = st = None
    if state is not None:
        if isinstance(state, tuple):
            sa = tuple(axonal.tensor(s, requires_grad=True) for s in state)
            st = tuple(torch.tensor(s, requires_grad=True) for s in state)
        else:
            sa, st = (
                axonal.tensor(state, requires_grad=True),
                torch.tensor(state, requires_grad=True),
            )
    oa, ha = ax(xa, sa)
    ot, ht = pt(xt, st)
    np.testing.assert_allclose(oa.numpy(), ot.detach().numpy(), **tol)
    ha_l = list(ha) if isinstance(ha, tuple) else [ha]
    ht_l = list(ht) if isinstance(ht, tuple) else [ht]
    for a, b in zip(ha_l, ht_l):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **tol)
    go = rng.standard_normal(tuple(oa.shape)).astype(dtype)
    gh = [rng.standard_normal(tuple(a.shape)).astype(dtype) for a in ha_l]
    la = (oa * axonal.tensor(go)).sum() + sum(
        (a * axonal.tensor(g)).sum() for a, g in zip(ha_l, gh)
    )
    lt = (ot * torch.tensor(go)).sum() + sum((b * torch.tensor(g)).sum() for b, g in zip(ht_l, gh))
    la.backward()
    lt.backward()
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), **tol)
    for (name, p), q in zip(ax.named_parameters(), pt.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), err_msg=name, **tol)
    if state is not None:
        sal = sa if isinstance(sa, tuple) else (sa,)
        stl = st if isinstance(st, tuple) else (st,)
        for a, b in zip(sal, stl):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "kw", CONFIGS, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "default"
)
@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN"])
def test_torch_parity(cls, kw, dtype):
    torch, pt, ax = _pair(cls, kw, dtype)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 6, 5) if kw.get("batch_first") else (6, 3, 5)).astype(dtype)
    _compare(torch, pt, ax, x, None, dtype)


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN"])
def test_torch_parity_given_state_and_unbatched(cls):
    torch, pt, ax = _pair(cls, dict(num_layers=2, bidirectional=True), np.float64)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 3, 5))
    h0 = rng.standard_normal((4, 3, 7))
    state = (h0, rng.standard_normal((4, 3, 7))) if cls == "LSTM" else h0
    _compare(torch, pt, ax, x, state, np.float64)
    # unbatched: (L, input_size) with (layers * dirs, hidden) states
    state1 = tuple(s[:, 0] for s in state) if cls == "LSTM" else h0[:, 0]
    _compare(torch, pt, ax, x[:, 0], state1, np.float64)


def test_torch_parity_lstm_projection_and_relu_rnn():
    torch, pt, ax = _pair("LSTM", dict(num_layers=2, proj_size=3, bidirectional=True), np.float64)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((5, 2, 5))
    state = (rng.standard_normal((4, 2, 3)), rng.standard_normal((4, 2, 7)))
    _compare(torch, pt, ax, x, state, np.float64)
    torch, pt, ax = _pair("RNN", dict(nonlinearity="relu", num_layers=2), np.float64)
    _compare(torch, pt, ax, x, None, np.float64)


@pytest.mark.parametrize("cls", ["LSTMCell", "GRUCell", "RNNCell"])
def test_cells_torch_parity(cls):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    pt = getattr(torch.nn, cls)(4, 6).double()
    ax = getattr(nn, cls)(4, 6, dtype=np.float64)
    ax.load_state_dict(
        {k: axonal.tensor(v.detach().numpy().copy()) for k, v in pt.state_dict().items()}
    )
    x = rng.standard_normal((3, 4))
    h = rng.standard_normal((3, 6))
    for batched in (True, False):
        xx, hh = (x, h) if batched else (x[0], h[0])
        state_np = (hh, hh * 0.5) if cls == "LSTMCell" else hh
        for given in (False, True):
            xa, xt = axonal.tensor(xx, requires_grad=True), torch.tensor(xx, requires_grad=True)
            if given:
                sa = tuple(map(axonal.tensor, state_np)) if cls == "LSTMCell" else axonal.tensor(hh)
                st = tuple(map(torch.tensor, state_np)) if cls == "LSTMCell" else torch.tensor(hh)
            else:
                sa = st = None
            ra, rt = ax(xa, sa), pt(xt, st)
            ra = ra if isinstance(ra, tuple) else (ra,)
            rt = rt if isinstance(rt, tuple) else (rt,)
            for a, b in zip(ra, rt):
                np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-14)
            sum(a.sum() for a in ra).backward()
            sum(b.sum() for b in rt).backward()
            np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- dropout, errors, training
def test_dropout_between_layers_only_in_training():
    axonal.manual_seed(0)
    m = nn.GRU(4, 8, num_layers=2, dropout=0.5)
    x = axonal.tensor(np.random.default_rng(0).standard_normal((5, 2, 4)).astype(np.float32))
    m.eval()
    a, b = m(x)[0].numpy(), m(x)[0].numpy()
    assert np.array_equal(a, b)
    m.train()
    axonal.manual_seed(1)
    c = m(x)[0].numpy()
    axonal.manual_seed(1)
    d = m(x)[0].numpy()
    assert np.array_equal(c, d) and not np.allclose(a, c)
    with pytest.warns(UserWarning, match="no effect with num_layers=1"):
        nn.LSTM(3, 4, dropout=0.2)


def test_bad_arguments():
    m = nn.LSTM(4, 5, num_layers=2)
    with pytest.raises(ValueError, match=r"LSTM: input.size\(-1\) must be equal to input_size"):
        m(axonal.zeros(3, 2, 6))
    with pytest.raises(ValueError, match="LSTM: expected a 2-D .* or 3-D input"):
        m(axonal.zeros(3, 2, 4, 1))
    with pytest.raises(ValueError, match="LSTM: the input sequence is empty"):
        m(axonal.zeros(0, 2, 4))
    with pytest.raises(
        ValueError, match=r"LSTM: expected h_0 of shape \(2, 2, 5\), got \(1, 2, 5\)"
    ):
        m(axonal.zeros(3, 2, 4), (axonal.zeros(1, 2, 5), axonal.zeros(2, 2, 5)))
    with pytest.raises(TypeError, match=r"LSTM: hx must be a tuple \(h_0, c_0\)"):
        m(axonal.zeros(3, 2, 4), axonal.zeros(2, 2, 5))
    with pytest.raises(TypeError, match="GRU: h_0 has dtype float64, input has float32"):
        nn.GRU(4, 5)(axonal.zeros(3, 2, 4), axonal.zeros((1, 2, 5), dtype=np.float64))
    with pytest.raises(ValueError, match=r"LSTM: proj_size \(5\) must be smaller"):
        nn.LSTM(4, 5, proj_size=5)
    with pytest.raises(ValueError, match="GRU: proj_size is only supported by LSTM"):
        nn.RNNBase("GRU", 4, 5, proj_size=2)
    with pytest.raises(ValueError, match="RNN: nonlinearity must be 'tanh' or 'relu'"):
        nn.RNN(4, 5, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="RNN: hidden_size must be an int >= 1"):
        nn.RNN(4, 0)
    with pytest.raises(ValueError, match=r"LSTM: dropout must be in \[0, 1\]"):
        nn.LSTM(4, 5, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="GRUCell: input has 3 features, expected input_size 4"):
        nn.GRUCell(4, 5)(axonal.zeros(2, 3))
    with pytest.raises(ValueError, match=r"LSTMCell: expected c of shape \(2, 5\)"):
        nn.LSTMCell(4, 5)(axonal.zeros(2, 4), (axonal.zeros(2, 5), axonal.zeros(3, 5)))


def test_lstm_learns_a_sequence_task():
    """Classify whether a sequence's running sum ends positive: needs memory over 12 steps."""
    rng = np.random.default_rng(0)
    axonal.manual_seed(0)
    x = rng.standard_normal((256, 12, 1)).astype(np.float32)
    y = (x.sum(axis=(1, 2)) > 0).astype(np.int64)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(1, 16, batch_first=True)
            self.head = nn.Linear(16, 2)

        def forward(self, inp):
            _, (h, _) = self.rnn(inp)
            return self.head(h[0])

    net = Net()
    opt = axonal.optim.Adam(net.parameters(), lr=0.02)
    xt, yt = axonal.tensor(x), axonal.tensor(y)
    for _ in range(60):
        opt.zero_grad()
        loss = F.cross_entropy(net(xt), yt)
        loss.backward()
        opt.step()
    acc = float((net(xt).numpy().argmax(1) == y).mean())
    assert acc >= 0.9, acc
