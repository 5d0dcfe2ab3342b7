"""device="cuda" tensors on a real GPU with real CuPy: the parity checks of tests/device (which
run on a NumPy-backed fake CuPy) against the CPU results, plus what only hardware shows: the ops
dispatch to our CUDA kernels (backend.cuda), results and gradients stay CuPy arrays, a training
step does not synchronise with the device, and ``axonal train --device cuda`` runs.

Skipped, with the reason, without the CUDA build, a GPU or CuPy. Run on the GPU machine by
benchmarks/gpu_check.sh."""

import json

import numpy as np
import pytest

import axonal

if not axonal.cuda.is_available():
    pytest.skip("no CUDA build or no GPU on this machine", allow_module_level=True)
cp = pytest.importorskip("cupy", reason="device='cuda' tensors need CuPy")

import axonal.backend  # noqa: E402
import axonal.nn as nn  # noqa: E402
import axonal.nn.functional as F  # noqa: E402
import axonal.optim as optim  # noqa: E402

TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=1e-4, atol=1e-5)}


@pytest.fixture(autouse=True)
def full_fp32():
    from axonal.backends import cuda as flags

    old = flags.matmul.allow_tf32
    flags.matmul.allow_tf32 = False
    yield
    flags.matmul.allow_tf32 = old


def host(t):
    return cp.asnumpy(t.detach()._data) if isinstance(t, axonal.Tensor) else cp.asnumpy(t)


def check(fn, arrays, dtype, no_grad=()):
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]
    results = []
    up = None
    for device in ("cpu", "cuda"):
        xs = [
            axonal.tensor(a, device=device, requires_grad=a.dtype.kind == "f" and i not in no_grad)
            for i, a in enumerate(arrays)
        ]
        y = fn(*xs)
        if up is None:
            up = np.random.default_rng(0).standard_normal(y.shape).astype(y.dtype)
        if y.requires_grad:
            (y * axonal.tensor(up, device=device)).sum().backward()
        results.append((y, xs))
    (y0, x0), (y1, x1) = results
    assert isinstance(y1._data, cp.ndarray) and y1.device == "cuda:0"
    np.testing.assert_allclose(host(y1), y0.numpy(), **TOL[dtype])
    for i, (a, b) in enumerate(zip(x0, x1)):
        if a.grad is not None:
            assert isinstance(b.grad._data, cp.ndarray), f"grad {i} left the device"
            np.testing.assert_allclose(
                host(b.grad), a.grad.numpy(), err_msg=f"grad {i}", **TOL[dtype]
            )


DTYPES = [np.float64, np.float32]
OPS = [
    ("arith", lambda a, b: (a - b) * a / (b * b + 1.0) + 2.0 * a, [(3, 4), (4,)]),
    ("unary", lambda a: a.exp() + (a * a + 1).log() + a.tanh() + a.sigmoid(), [(6, 5)]),
    ("matmul", lambda a, b: a @ b, [(33, 17), (17, 9)]),
    ("matmul_batched", lambda a, b: a @ b, [(3, 5, 7), (3, 7, 4)]),
    ("matmul_bcast", lambda a, b: a @ b, [(2, 5, 3), (3, 4)]),
    ("reductions", lambda a: a.sum(1) + a.mean(0).sum() + a.var(0).sum() + a.amax(1), [(4, 5)]),
    ("softmax", lambda a: a.softmax(-1) * a.log_softmax(0), [(7, 9)]),
    ("shape_index", lambda a: a.reshape(4, 3).T[1:, [0, 2]].flatten(), [(3, 4)]),
    (
        "conv2d",
        lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
        [(2, 3, 9, 8), (4, 3, 3, 3), (4,)],
    ),
    (
        "conv2d_groups",
        lambda x, w: F.conv2d(x, w, groups=2, dilation=2, padding=2),
        [(2, 4, 8, 8), (6, 2, 3, 3)],
    ),
    ("conv1d", lambda x, w, b: F.conv1d(x, w, b, padding=1), [(2, 3, 11), (5, 3, 3), (5,)]),
    (
        "conv_transpose2d",
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
        [(2, 4, 5, 6), (4, 3, 3, 3), (3,)],
    ),
    (
        "conv_transpose2d_s1",
        lambda x, w: F.conv_transpose2d(x, w, padding=1, dilation=2),
        [(2, 3, 6, 5), (3, 4, 3, 3)],
    ),
    (
        "conv_transpose1d",
        lambda x, w: F.conv_transpose1d(x, w, stride=2, output_padding=2, groups=2, dilation=3),
        [(2, 4, 7), (4, 1, 3)],
    ),
    (
        "embedding",
        lambda w: F.embedding(axonal.tensor([[0, 2], [2, 1]], device=w.device), w),
        [(4, 3)],
    ),  # fmt: skip
    ("max_pool1d", lambda x: F.max_pool1d(x, 3, 2, 1), [(2, 3, 11)]),
    (
        "interpolate_bilinear",
        lambda x: F.interpolate(x, size=(7, 4), mode="bilinear"),
        [(2, 3, 5, 6)],
    ),  # fmt: skip
    ("interpolate_nearest", lambda x: F.interpolate(x, scale_factor=2), [(2, 3, 4, 5)]),
    (
        "conv3d",
        lambda x, w, b: F.conv3d(x, w, b, stride=(2, 1, 1), padding=1),
        [(2, 3, 5, 4, 4), (2, 3, 3, 2, 3), (2,)],
    ),  # fmt: skip
    (
        "pool3d",
        lambda x: F.max_pool3d(x, 2, ceil_mode=True) + F.avg_pool3d(x, 2, ceil_mode=True),
        [(2, 3, 5, 4, 3)],
    ),  # fmt: skip
    ("pad_reflect", lambda x: F.pad(x, (2, 1, 0, 3), "reflect") * 2, [(2, 3, 4, 5)]),
    ("pad_circular", lambda x: F.pad(x, (3, 1), "circular") * 2, [(2, 3, 5)]),
    (
        "instance_norm",
        lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
        [(2, 3, 4, 5), (3,), (3,)],
    ),
    ("max_pool2d", lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), [(2, 3, 9, 9)]),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 2), [(2, 3, 8, 6)]),
    ("adaptive_avg", lambda x: F.adaptive_avg_pool2d(x, (2, 3)), [(2, 3, 7, 8)]),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, fn, shapes", OPS, ids=[o[0] for o in OPS])
def test_ops_match_cpu(name, fn, shapes, dtype, rng):
    check(fn, [rng.standard_normal(s) for s in shapes], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", ["cross_entropy", "nll", "mse", "bce_logits"])
def test_losses_match_cpu(loss, dtype, rng):
    x = rng.standard_normal((16, 5))
    if loss == "cross_entropy":
        check(
            lambda a, t: F.cross_entropy(a, t, label_smoothing=0.1),
            [x, rng.integers(0, 5, 16)],
            dtype,
            (1,),
        )
    elif loss == "nll":
        check(
            lambda a, t: F.nll_loss(a.log_softmax(1), t), [x, rng.integers(0, 5, 16)], dtype, (1,)
        )
    elif loss == "mse":
        check(lambda a, t: F.mse_loss(a, t), [x, rng.standard_normal((16, 5))], dtype, (1,))
    else:
        check(
            lambda a, t: F.binary_cross_entropy_with_logits(a, t),
            [x, rng.random((16, 5))],
            dtype,
            (1,),
        )


@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
def test_packed_sequences_on_cuda_match_cpu(cls, rng):
    from axonal.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    x = rng.standard_normal((6, 4, 3))
    lens = [2, 6, 1, 4]
    results = []
    for device in ("cpu", "cuda"):
        axonal.manual_seed(0)
        layer = getattr(nn, cls)(3, 5, num_layers=2, bidirectional=True, dtype=np.float64)
        layer = layer.to(device)
        xa = axonal.tensor(x, device=device, requires_grad=True)
        out, state = layer(pack_padded_sequence(xa, lens, enforce_sorted=False))
        padded, _ = pad_packed_sequence(out)
        h = state[0] if cls == "LSTM" else state
        (padded.sum() + (h * h).sum()).backward()
        results.append((padded, h, xa.grad))
    (p0, h0, g0), (p1, h1, g1) = results
    assert isinstance(p1._data, cp.ndarray)
    for a, b in ((p0, p1), (h0, h1), (g0, g1)):
        np.testing.assert_allclose(host(b), a.numpy(), rtol=1e-10, atol=1e-12)


def test_relu_backward_kernel(rng):
    # one kernel: grad where the output is > 0, else 0 (a NaN output gives 0, as numpy.where)
    y = rng.standard_normal((7, 33)).astype(np.float32)
    y[0, :3] = [np.nan, 0.0, -0.0]
    g = rng.standard_normal((7, 33)).astype(np.float32)
    cu = axonal.backend.get("cuda")
    got = cu.relu_backward(cp.asarray(g), cp.asarray(np.maximum(y, 0)))
    np.testing.assert_array_equal(cp.asnumpy(got), np.where(np.maximum(y, 0) > 0, g, 0))
    assert cu.relu_backward(cp.asarray(g)[:, ::2], cp.asarray(y)[:, ::2]) is None  # strided
    assert cu.relu_backward(cp.asarray(g), cp.asarray(y.astype(np.float64))) is None


XENT_CASES = [
    # reduction, class weights, ignore_index (some targets set to it), label smoothing, shape
    ("mean", False, None, 0.0, (16, 5)),
    ("sum", True, None, 0.0, (16, 5)),
    ("none", False, 3, 0.0, (16, 5)),
    ("mean", True, 2, 0.2, (33, 7)),
    ("none", True, None, 0.1, (4, 3, 6)),  # (N, C, d): classes moved last
    ("mean", False, 0, 0.0, (6, 1)),  # one class, its rows ignored: 0 / 0 = nan, as on the CPU
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", range(len(XENT_CASES)), ids=lambda i: XENT_CASES[i][0] + str(i))
def test_cross_entropy_options_match_cpu(case, dtype, rng):
    # on cuda: the fused cross-entropy kernels (xent.cu); on the CPU: the NumPy formulation
    reduction, weighted, ignore, eps, shape = XENT_CASES[case]
    c = shape[1]
    t = rng.integers(0, c, (shape[0], *shape[2:]))
    if ignore is not None:
        t.reshape(-1)[::3] = ignore
    w = rng.random(c) + 0.5 if weighted else None
    kwargs = dict(reduction=reduction, label_smoothing=eps)
    if ignore is not None:
        kwargs["ignore_index"] = ignore

    def fn(a, tt, *ws):
        return F.cross_entropy(a, tt, weight=ws[0] if ws else None, **kwargs)

    arrays = [rng.standard_normal(shape), t] + ([w] if weighted else [])
    if reduction == "mean" and c == 1:
        with np.errstate(invalid="ignore", divide="ignore"):
            y = fn(*(axonal.tensor(a.astype(dtype) if a.dtype.kind == "f" else a, device="cuda")
                     for a in arrays))  # fmt: skip
        assert np.isnan(host(y))
        return
    check(fn, arrays, dtype, (1, 2))


class _First(nn.Module):
    """The first output of a layer that returns several (a recurrent layer's sequence)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)[0]


class _SelfAttention(_First):
    def forward(self, x):
        return self.inner(x, x, x)[0]


LAYERS = [
    ("mlp", lambda: nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2)), (3, 5)),
    (
        "conv_bn_pool",
        lambda: nn.Sequential(
            # no conv bias before BatchNorm: its true gradient is 0, so both devices would
            # compare rounding noise
            nn.Conv2d(3, 4, 3, padding=1, bias=False),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.MaxPool2d(2),
        ),
        (2, 3, 6, 6),
    ),
    ("norms", lambda: nn.Sequential(nn.GroupNorm(2, 4), nn.GELU()), (2, 4, 3, 3)),
    ("layernorm", lambda: nn.LayerNorm(5), (3, 5)),
    ("conv1d", lambda: nn.Conv1d(3, 2, 3), (2, 3, 8)),
    ("lstm", lambda: _First(nn.LSTM(5, 6, num_layers=2, bidirectional=True)), (4, 3, 5)),
    ("lstm_proj", lambda: _First(nn.LSTM(5, 6, proj_size=3, batch_first=True)), (3, 4, 5)),
    ("gru", lambda: _First(nn.GRU(5, 6, batch_first=True)), (3, 4, 5)),
    ("rnn", lambda: _First(nn.RNN(5, 6)), (4, 3, 5)),
    ("mha", lambda: _SelfAttention(nn.MultiheadAttention(8, 2, batch_first=True)), (2, 5, 8)),
    (
        "transformer_layer",
        lambda: nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True),
        (2, 5, 8),
    ),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, make, shape", LAYERS, ids=[l[0] for l in LAYERS])
def test_layers_match_cpu(name, make, shape, dtype, rng):
    x = rng.standard_normal(shape).astype(dtype)
    res = []
    for device in ("cpu", "cuda"):
        axonal.manual_seed(0)
        m = make().to(dtype).to(device)
        xt = axonal.tensor(x, device=device, requires_grad=True)
        y = m(xt)
        y.pow(2).sum().backward()
        res.append((y, xt.grad, [p.grad for p in m.parameters()], list(m.buffers())))
    for a, b in zip(res[0][:2], res[1][:2]):
        np.testing.assert_allclose(host(b), a.numpy(), **TOL[dtype])
    for a, b in zip(res[0][2] + res[0][3], res[1][2] + res[1][3]):
        assert isinstance(b._data, cp.ndarray)
        np.testing.assert_allclose(host(b), a.numpy(), **TOL[dtype])


def test_ops_dispatch_to_our_kernels(monkeypatch):
    from axonal.backend import cuda as cuda_backend

    x = axonal.randn(4, 3, 8, 8, device="cuda")
    assert axonal.backend.kernels_for(x._data) is cuda_backend
    calls = []
    for name in (
        "matmul",
        "gemm",
        "conv2d_forward",
        "conv2d_backward_input",
        "max_pool2d_forward",
        "softmax_forward",
    ):
        real = getattr(cuda_backend, name)

        def spy(*a, _n=name, _f=real, **k):
            calls.append(_n)
            return _f(*a, **k)

        monkeypatch.setattr(cuda_backend, name, spy)
    x.requires_grad_(True)
    y = F.max_pool2d(F.conv2d(x, axonal.randn(5, 3, 3, 3, device="cuda")), 2)
    (y.flatten(1) @ axonal.randn(45, 4, device="cuda")).softmax(1).sum().backward()
    nn.Linear(3, 2).cuda()(axonal.randn(2, 3, device="cuda"))
    assert set(calls) == {
        "matmul",
        "gemm",
        "conv2d_forward",
        "conv2d_backward_input",
        "max_pool2d_forward",
        "softmax_forward",
    }


@pytest.mark.parametrize("make", ["mlp", "cnn"])
def test_training_matches_cpu(make, rng):
    x = rng.standard_normal((32, 1, 8, 8))
    t = rng.integers(0, 3, 32)
    res = []
    for device in ("cpu", "cuda"):
        axonal.manual_seed(0)
        if make == "mlp":
            m = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.Tanh(), nn.Linear(16, 3))
        else:
            m = nn.Sequential(
                nn.Conv2d(1, 4, 3),
                nn.BatchNorm2d(4),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Flatten(),
                nn.Linear(36, 3),
            )
        m = m.double().to(device)
        opt = optim.Adam(m.parameters(), lr=1e-2)
        for i in range(4):
            xb = axonal.tensor(x[i * 8 : (i + 1) * 8]).to(device)
            tb = axonal.tensor(t[i * 8 : (i + 1) * 8]).to(device)
            opt.zero_grad()
            F.cross_entropy(m(xb), tb).backward()
            opt.step()
        res.append((m, opt))
    for a, b in zip(res[0][0].state_dict().values(), res[1][0].state_dict().values()):
        assert isinstance(b._data, cp.ndarray)
        # float64; Adam's 1/sqrt(v) amplifies last-bit differences of the summation orders
        np.testing.assert_allclose(host(b), a.numpy(), rtol=1e-6, atol=1e-8)
    for st in res[1][1].state.values():
        for v in st.values():
            arr = getattr(v, "_data", v)
            if getattr(arr, "ndim", 0) > 0:
                assert isinstance(arr, cp.ndarray)


def test_mixing_devices_and_numpy_errors():
    a = axonal.ones(2, 2, device="cuda")
    with pytest.raises(RuntimeError, match="^add: Expected all tensors to be on the same device"):
        a + axonal.ones(2, 2)
    with pytest.raises(RuntimeError, match="^matmul: Expected all tensors"):
        axonal.ones(2, 2) @ a
    with pytest.raises(TypeError, match=r"\.cpu\(\)"):
        a.numpy()
    assert host(a * axonal.tensor(2.0)).tolist() == [[2.0, 2.0], [2.0, 2.0]]


def _regressor():
    m = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(36, 2)
    ).cuda()
    return m, axonal.randn(8, 1, 8, 8, device="cuda"), axonal.randn(8, 2, device="cuda"), F.mse_loss


def _classifier():
    # BatchNorm and cross entropy on class targets copied from the host (their range is known
    # there: no read back to check it)
    from axonal.training.recipes_cnn import mnist_cnn

    m = mnist_cnn((1, 28, 28), 10).cuda()
    x = axonal.randn(16, 1, 28, 28, device="cuda")
    return m, x, axonal.tensor(np.arange(16) % 10).to("cuda"), F.cross_entropy


@pytest.mark.parametrize("make, clip", [(_regressor, True), (_classifier, False)])
def test_training_step_does_not_synchronise(make, clip):
    cupyx = pytest.importorskip("cupyx")
    allow = getattr(cupyx, "allow_synchronize", None)
    if allow is None:
        pytest.skip("this CuPy has no cupyx.allow_synchronize to detect synchronisation")
    axonal.manual_seed(0)
    m, x, y, loss_fn = make()
    opt = optim.AdamW(m.parameters(), lr=1e-3)
    loss_fn(m(x), y).backward()  # warm up (kernel loading, pools)
    opt.step()
    axonal.cuda.synchronize()
    with allow(False):
        for _ in range(2):
            opt.zero_grad()
            loss_fn(m(x), y).backward()
            if clip:
                nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()
    axonal.cuda.synchronize()


def test_cli_train_on_cuda(tmp_path):
    from axonal.cli import main

    out = tmp_path / "r.json"
    assert (
        main(
            [
                "train",
                "cnn-digits",
                "--device",
                "cuda",
                "--epochs",
                "2",
                "--quiet",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    res = json.loads(out.read_text())
    assert res["device"] == "cuda" and res["test_accuracy"] > 0.5


def test_host_batches_go_through_pinned_staging_buffers():
    from axonal.backend import _staging

    rng = np.random.default_rng(5)
    arrays = [
        rng.standard_normal((64, 1, 28, 28)).astype(np.float32),
        rng.integers(-5, 5, 64),
        rng.standard_normal((3, 7)),  # float64
        rng.random(11) > 0.5,  # bool
        rng.standard_normal((6, 8)).astype(np.float32)[:, ::3],  # not contiguous
        np.zeros((0, 4), np.float32),
        np.array(2.5, np.float32),  # 0-d
    ]
    # more uploads than staging buffers, sizes changing, each source overwritten right after
    # its upload (the device copy must hold the values of the moment of the call)
    for rep in range(3 * _staging.MAX_SLOTS):
        a = arrays[rep % len(arrays)]
        src = a.copy()
        t = axonal.from_numpy(src).to("cuda")
        if src.ndim:
            src[...] = 0
        got = host(t)
        assert got.dtype == a.dtype and got.shape == a.shape, (rep, got.dtype, got.shape)
        np.testing.assert_array_equal(got, a)
    assert 1 <= len(_staging._slots[cp.cuda.runtime.getDevice()]) <= _staging.MAX_SLOTS
    # a byte-swapped array goes the plain CuPy way, with its values
    be = np.arange(5, dtype=">f4")
    np.testing.assert_array_equal(host(axonal.tensor(be, device="cuda")), np.arange(5))
