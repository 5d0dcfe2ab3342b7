"""Forward and backward on the fake "cuda" device equal the CPU results, op by op and layer by
layer (same inputs; float64 to 1e-12, float32 to 1e-5); the outputs and gradients of cuda
inputs stay on the device."""

import fake_cupy
import numpy as np
import pytest

import axonal
import axonal.nn as nn
import axonal.nn.functional as F

TOL = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-5)}


def _run(fn, arrays, device, no_grad=(), upstream=None):
    xs = [
        axonal.tensor(a, device=device, requires_grad=i not in no_grad and a.dtype.kind == "f")
        for i, a in enumerate(arrays)
    ]
    out = fn(*xs)
    outs = out if isinstance(out, tuple) else (out,)
    total = None
    for j, o in enumerate(outs):
        if not o.requires_grad:
            continue
        g = axonal.tensor(upstream[j], device=device)
        term = (o * g).sum()
        total = term if total is None else total + term
    if total is not None:
        total.backward()
    return outs, xs


def check(fn, arrays, host, dtype=np.float64, no_grad=()):
    """fn on cpu and on cuda: same outputs and input gradients; cuda results on the device."""
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]
    ref_out, ref_x = _run(fn, arrays, "cpu", no_grad, None) if False else (None, None)
    probe = fn(*[axonal.tensor(a) for a in arrays])
    probes = probe if isinstance(probe, tuple) else (probe,)
    rng = np.random.default_rng(0)
    up = [
        rng.standard_normal(p.shape).astype(p.dtype) if p.dtype.kind == "f" else None
        for p in probes
    ]
    ref_out, ref_x = _run(fn, arrays, "cpu", no_grad, up)
    dev_out, dev_x = _run(fn, arrays, "cuda", no_grad, up)
    for r, d in zip(ref_out, dev_out):
        assert d.device == "cuda:0" and type(d._data) is fake_cupy.ndarray
        assert d.dtype == r.dtype and d.shape == r.shape
        np.testing.assert_allclose(host(d), r.numpy(), **TOL[dtype])
    for i, (r, d) in enumerate(zip(ref_x, dev_x)):
        if r.grad is None:
            assert d.grad is None
            continue
        assert d.grad is not None, f"input {i} got no gradient on cuda"
        assert type(d.grad._data) is fake_cupy.ndarray, f"grad of input {i} left the device"
        np.testing.assert_allclose(host(d.grad), r.grad.numpy(), err_msg=f"grad {i}", **TOL[dtype])


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


DTYPES = [np.float64, np.float32]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "name, fn, shapes",
    [
        ("add_bcast", lambda a, b: a + b, [(3, 4), (4,)]),
        ("sub_mul_div", lambda a, b: (a - b) * a / (b * b + 1.0), [(2, 3), (2, 3)]),
        ("scalars", lambda a: 2.0 - a * 3 + 1 / (a * a + 1) + a**2, [(5,)]),
        ("pow", lambda a, b: (a * a + 1) ** b, [(4,), (4,)]),
        ("unary", lambda a: a.exp() + (a * a + 1).log() + a.tanh() + a.sigmoid() + a.abs(), [(6,)]),
        ("sqrt_clamp", lambda a: (a * a + 0.5).sqrt() + a.clamp(-0.3, 0.4), [(7,)]),
        ("matmul2d", lambda a, b: a @ b, [(5, 3), (3, 4)]),
        ("matmul_batched", lambda a, b: a @ b, [(2, 5, 3), (2, 3, 4)]),
        ("matmul_bcast", lambda a, b: a @ b, [(2, 5, 3), (3, 4)]),
        ("matvec", lambda a, b: a @ b, [(5, 3), (3,)]),
        ("sum_mean", lambda a: a.sum(1) + a.mean(0).sum() + a.sum(), [(3, 4)]),
        ("var_std", lambda a: a.var(0) + a.std(1).sum(), [(4, 5)]),
        ("max_min", lambda a: a.max(1).values + a.min(), [(3, 5)]),
        ("amax_lse", lambda a: a.amax(0) + a.logsumexp(0), [(3, 5)]),
        ("softmax", lambda a: a.softmax(-1), [(3, 5)]),
        ("log_softmax", lambda a: a.log_softmax(1), [(2, 4, 3)]),
        ("relu_family", lambda a: F.relu(a) + F.leaky_relu(a, 0.1) + F.elu(a) + F.silu(a), [(9,)]),
        ("gelu", lambda a: F.gelu(a) + F.gelu(a, approximate="tanh") + F.softplus(a), [(9,)]),
        ("shape_ops", lambda a: a.reshape(4, 3).T.flatten()[2:9].unsqueeze(0), [(3, 4)]),
        ("permute_cat", lambda a, b: axonal.cat([a.permute(1, 0), b], 0), [(2, 3), (1, 2)]),
        ("stack_split", lambda a: axonal.stack(a.split(2, 1), 0).sum(0), [(3, 4)]),
        ("index", lambda a: a[1:, [0, 2]] * 2 + a[0, 1], [(3, 4)]),
        ("where", lambda a, b: axonal.where(a > b, a, b * 2), [(3, 4), (3, 4)]),
        ("pad_flip_repeat", lambda a: F_pad(a).flip(0).repeat(2, 1), [(2, 3)]),
        ("norm", lambda a: a.norm() + a.norm(dim=1).sum(), [(3, 4)]),
        ("cumsum_prod", lambda a: a.cumsum(1) + a.prod(1, keepdim=True), [(3, 4)]),
        ("expand", lambda a: a.expand(3, 4) * 1.5, [(1, 4)]),
    ],
)
def test_ops_match_cpu(name, fn, shapes, dtype, rng, host):
    check(fn, [rng.standard_normal(s) for s in shapes], host, dtype)


def F_pad(a):
    return (
        axonal.nn.functional.pad(a, (1, 2))
        if hasattr(axonal.nn.functional, "pad")
        else (axonal.pad(a, (1, 2)))
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_gather_index_select_and_sort(dtype, rng, host):
    idx = np.array([[0, 2], [1, 1], [3, 0]])
    check(lambda a, i: a.gather(1, i) * 2, [rng.standard_normal((3, 4)), idx], host, dtype, (1,))
    check(
        lambda a: a.index_select(1, axonal.tensor([2, 0], device=a.device)),
        [rng.standard_normal((3, 4))],
        host,
        dtype,
    )
    check(
        lambda a: a.sort(1).values + a.topk(2, 1).values.sum(),
        [rng.standard_normal((3, 4))],
        host,
        dtype,
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "name, fn, shapes",
    [
        (
            "conv2d",
            lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
            [(2, 3, 7, 6), (4, 3, 3, 3), (4,)],
        ),
        (
            "conv2d_groups",
            lambda x, w: F.conv2d(x, w, groups=2, dilation=2, padding="same"),
            [(1, 4, 6, 6), (4, 2, 3, 3)],
        ),
        ("conv1d", lambda x, w, b: F.conv1d(x, w, b, padding=1), [(2, 3, 9), (5, 3, 3), (5,)]),
        ("max_pool2d", lambda x: F.max_pool2d(x, 2), [(2, 3, 6, 5)]),
        ("max_pool2d_pad", lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), [(1, 2, 7, 7)]),
        ("avg_pool2d", lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), [(2, 2, 7, 6)]),
        ("adaptive_avg", lambda x: F.adaptive_avg_pool2d(x, (2, 3)), [(2, 3, 7, 8)]),
    ],
)
def test_conv_pool_match_cpu(name, fn, shapes, dtype, rng, host):
    check(fn, [rng.standard_normal(s) for s in shapes], host, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "name, fn, args",
    [
        ("cross_entropy", lambda x, t: F.cross_entropy(x, t), "cls"),
        ("cross_entropy_smooth", lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1), "cls"),
        ("nll", lambda x, t: F.nll_loss(x.log_softmax(1), t, reduction="sum"), "cls"),
        ("mse", lambda x, y: F.mse_loss(x, y), "same"),
        ("l1", lambda x, y: F.l1_loss(x, y, reduction="none"), "same"),
        ("huber", lambda x, y: F.huber_loss(x, y, delta=0.5), "same"),
        ("bce_logits", lambda x, y: F.binary_cross_entropy_with_logits(x, y), "prob"),
        ("bce", lambda x, y: F.binary_cross_entropy(x.sigmoid(), y), "prob"),
    ],
)
def test_losses_match_cpu(name, fn, args, dtype, rng, host):
    x = rng.standard_normal((6, 4))
    if args == "cls":
        other = rng.integers(0, 4, 6)
    elif args == "prob":
        other = rng.random((6, 4))
    else:
        other = rng.standard_normal((6, 4))
    check(fn, [x, other], host, dtype, no_grad=(1,))


def _layers():
    return [
        ("linear", lambda: nn.Linear(5, 3), (4, 5)),
        (
            "mlp",
            lambda: nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2), nn.Tanh()),
            (3, 5),
        ),
        ("conv2d", lambda: nn.Conv2d(3, 4, 3, padding=1), (2, 3, 6, 6)),
        ("conv1d", lambda: nn.Conv1d(3, 2, 3), (2, 3, 8)),
        ("maxpool", lambda: nn.MaxPool2d(2), (2, 3, 6, 6)),
        ("avgpool", lambda: nn.AvgPool2d(2), (2, 3, 6, 6)),
        ("adaptive", lambda: nn.AdaptiveAvgPool2d(1), (2, 3, 5, 5)),
        ("batchnorm2d", lambda: nn.BatchNorm2d(3), (4, 3, 5, 5)),
        ("batchnorm1d", lambda: nn.BatchNorm1d(5), (6, 5)),
        ("layernorm", lambda: nn.LayerNorm(5), (3, 5)),
        ("groupnorm", lambda: nn.GroupNorm(2, 4), (2, 4, 3, 3)),
        (
            "activations",
            lambda: nn.Sequential(nn.GELU(), nn.SiLU(), nn.ELU(), nn.Softplus(), nn.LeakyReLU()),
            (3, 4),
        ),
        ("softmax", lambda: nn.LogSoftmax(1), (3, 4)),
        # the final states are left unused: their gradients are zero-filled on the device
        ("lstm", lambda: _SeqOut(nn.LSTM(4, 5, num_layers=2, bidirectional=True)), (3, 2, 4)),
        ("gru", lambda: _SeqOut(nn.GRU(4, 5, batch_first=True)), (2, 3, 4)),
        ("rnn", lambda: _SeqOut(nn.RNN(4, 5, nonlinearity="relu")), (3, 2, 4)),
        ("attention", lambda: _SelfAttention(nn.MultiheadAttention(8, 2)), (3, 2, 8)),
        (
            "encoder",
            lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True),
            (2, 3, 8),
        ),
        ("flatten", lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 2)), (2, 3, 2, 2)),
    ]


class _SeqOut(nn.Module):
    """A recurrent layer's output sequence alone."""

    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x):
        return self.rnn(x)[0]


class _SelfAttention(nn.Module):
    """Self-attention with a causal and a padding mask (the masks are built on the device)."""

    def __init__(self, mha):
        super().__init__()
        self.mha = mha

    def forward(self, x):
        pad = np.zeros((x.shape[1], x.shape[0]), bool)
        pad[0, -1] = True
        return self.mha(x, x, x, key_padding_mask=pad, is_causal=True)[0]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, make, shape", _layers())
def test_layers_match_cpu(name, make, shape, dtype, rng, host):
    axonal.manual_seed(0)
    cpu = make().to(dtype)
    axonal.manual_seed(0)
    dev = make().to(dtype).to("cuda")
    for p in dev.parameters():
        assert type(p._data) is fake_cupy.ndarray and p.device == "cuda"
        assert isinstance(p, nn.Parameter)
    for b in dev.buffers():
        assert type(b._data) is fake_cupy.ndarray
    x = rng.standard_normal(shape).astype(dtype)
    g = None
    results = []
    for m, device in ((cpu, "cpu"), (dev, "cuda")):
        xt = axonal.tensor(x, device=device, requires_grad=True)
        y = m(xt)
        if g is None:
            g = np.random.default_rng(5).standard_normal(y.shape).astype(dtype)
        (y * axonal.tensor(g, device=device)).sum().backward()
        results.append((y, xt.grad, [p.grad for p in m.parameters()], list(m.buffers())))
    (y0, gx0, gp0, b0), (y1, gx1, gp1, b1) = results
    assert y1.device == "cuda:0"
    np.testing.assert_allclose(host(y1), y0.numpy(), **TOL[dtype])
    np.testing.assert_allclose(host(gx1), gx0.numpy(), **TOL[dtype])
    for a, b in zip(gp0, gp1):
        assert type(b._data) is fake_cupy.ndarray
        np.testing.assert_allclose(host(b), a.numpy(), **TOL[dtype])
    for a, b in zip(b0, b1):  # running statistics updated the same way
        np.testing.assert_allclose(host(b), a.numpy(), **TOL[dtype])
    # eval mode too (batch norm uses the running statistics)
    cpu.eval(), dev.eval()
    np.testing.assert_allclose(
        host(dev(axonal.tensor(x, device="cuda"))), cpu(axonal.tensor(x)).numpy(), **TOL[dtype]
    )


def test_dropout_same_mask_as_cpu(host):
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    outs = []
    for device in ("cpu", "cuda"):
        axonal.manual_seed(3)
        outs.append(nn.Dropout(0.4)(axonal.tensor(x, device=device)))
    assert outs[1].device == "cuda:0"
    np.testing.assert_array_equal(host(outs[1]), outs[0].numpy())


@pytest.mark.parametrize("dtype", DTYPES)
def test_embedding(dtype, rng, host):
    idx = np.array([[0, 2, 2], [3, 1, 0]])
    check(
        lambda w, i: axonal.nn.functional.embedding(i, w, padding_idx=1, scale_grad_by_freq=True),
        [rng.standard_normal((4, 3)), idx],
        host,
        dtype,
        (1,),
    )
