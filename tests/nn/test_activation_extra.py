"""The extra activations (functional_activation, activation_extra): parity with PyTorch (values,
input gradients, PReLU weight gradients, reprs, in-place), float64 gradcheck, stability for large
|x|, dtype preservation and argument errors."""

import warnings

import numpy as np
import pytest

import axonal
from axonal.autograd import gradcheck
from axonal.nn import activation_extra as AE
from axonal.nn import functional_activation as FA

torch = pytest.importorskip("torch")
TF = torch.nn.functional

TOL = {np.float32: dict(rtol=2e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
LARGE = [-1000.0, -50.0, -20.0, -8.0, 8.0, 20.0, 50.0, 1000.0]


class Op:
    """One elementwise op: ours, torch's, the points where it bends (tested exactly, avoided by
    gradcheck) and a gradient tolerance override."""

    def __init__(self, name, ours, theirs, kinks=(), grad_rtol64=None):
        self.name, self.ours, self.theirs, self.kinks = name, ours, theirs, tuple(kinks)
        self.grad_rtol64 = grad_rtol64

    def __repr__(self):
        return self.name


OPS = [
    Op("relu6", FA.relu6, TF.relu6, [0.0, 6.0]),
    Op("hardtanh", FA.hardtanh, TF.hardtanh, [-1.0, 1.0]),
    Op(
        "hardtanh(-2,1.5)",
        lambda x: FA.hardtanh(x, -2.0, 1.5),
        lambda x: TF.hardtanh(x, -2.0, 1.5),
        [-2.0, 1.5],
    ),
    Op("selu", FA.selu, TF.selu, [0.0]),
    Op("celu", FA.celu, TF.celu, [0.0]),
    Op("celu(1.5)", lambda x: FA.celu(x, 1.5), lambda x: TF.celu(x, 1.5), [0.0]),
    Op("celu(alpha=-2)", lambda x: FA.celu(x, alpha=-2.0), lambda x: TF.celu(x, -2.0), [0.0]),
    Op("mish", FA.mish, TF.mish),
    Op("softsign", FA.softsign, TF.softsign),
    Op("logsigmoid", FA.logsigmoid, TF.logsigmoid),
    Op("hardswish", FA.hardswish, TF.hardswish, [-3.0, 3.0]),
    # torch's float64 hardsigmoid backward multiplies by float32(1/6): 3e-8 off the true 1/6
    Op("hardsigmoid", FA.hardsigmoid, TF.hardsigmoid, [-3.0, 3.0], grad_rtol64=1e-7),
    Op("tanhshrink", FA.tanhshrink, TF.tanhshrink),
    Op("softshrink", FA.softshrink, TF.softshrink, [-0.5, 0.5]),
    Op(
        "softshrink(0.3)",
        lambda x: FA.softshrink(x, lambd=0.3),
        lambda x: TF.softshrink(x, 0.3),
        [-0.3, 0.3],
    ),
    Op("softshrink(0)", lambda x: FA.softshrink(x, 0.0), lambda x: TF.softshrink(x, 0.0), [0.0]),
    Op("hardshrink", FA.hardshrink, TF.hardshrink, [-0.5, 0.5]),
    Op("hardshrink(2)", lambda x: FA.hardshrink(x, 2.0), lambda x: TF.hardshrink(x, 2.0), [-2, 2]),
    Op("hardshrink(-1)", lambda x: FA.hardshrink(x, -1.0), lambda x: TF.hardshrink(x, -1.0)),
    Op(
        "threshold",
        lambda x: FA.threshold(x, 0.25, -3.0),
        lambda x: TF.threshold(x, 0.25, -3.0),
        [0.25],
    ),
]


def _inputs(rng, dtype, op):
    """Random values, large |x|, zeros of both signs, every kink exactly and a hair either side
    of it (in the target dtype), and a NaN."""
    kinks = np.array(op.kinks + (0.0,), dtype=dtype)
    near = np.concatenate(
        [kinks, np.nextafter(kinks, dtype(np.inf)), np.nextafter(kinks, dtype(-np.inf))]
    )
    return np.concatenate(
        [rng.standard_normal(48) * 4, LARGE, [-0.0, np.nan], near.astype(np.float64)]
    ).astype(dtype)


def _run_pair(fn_ours, fn_theirs, arr, g):
    x = axonal.tensor(arr, requires_grad=True)
    xt = torch.tensor(arr, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow / invalid-value warnings
        y = fn_ours(x)
        y.backward(axonal.tensor(g))
    yt = fn_theirs(xt)
    yt.backward(torch.tensor(g))
    return x, y, xt, yt


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", OPS, ids=repr)
def test_elementwise_matches_torch(rng, op, dtype):
    arr = _inputs(rng, dtype, op)
    g = rng.standard_normal(arr.shape).astype(dtype)
    x, y, xt, yt = _run_pair(op.ours, op.theirs, arr, g)
    assert y.dtype == np.dtype(dtype) and x.grad.dtype == np.dtype(dtype)
    assert y.shape == arr.shape
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), **TOL[dtype])
    finite = np.isfinite(arr)
    tol = dict(TOL[dtype])
    if dtype is np.float64 and op.grad_rtol64:
        tol["rtol"] = op.grad_rtol64
    # at NaN torch's gradient depends on the element's position (its vectorised and scalar
    # loops disagree, as they do on the sign of zero results), so only values are compared there
    np.testing.assert_allclose(x.grad.numpy()[finite], xt.grad.numpy()[finite], **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", [op for op in OPS if op.kinks], ids=repr)
def test_elementwise_exact_kinks(op, dtype):
    # the value and the gradient exactly at each bend are torch's (no tolerance games)
    arr = np.array(op.kinks, dtype=dtype)
    g = np.ones_like(arr)
    x, y, xt, yt = _run_pair(op.ours, op.theirs, arr, g)
    np.testing.assert_array_equal(y.numpy(), yt.detach().numpy())
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-7, atol=0)


def _away_from(rng, kinks, n=24, lo=-6.0, hi=6.0, gap=1e-2):
    x = rng.uniform(lo, hi, n)
    for k in kinks:
        close = np.abs(x - k) < gap
        x[close] = k + np.where(x[close] >= k, gap, -gap) * 3
    return x


@pytest.mark.parametrize("op", OPS, ids=repr)
def test_elementwise_gradcheck(rng, op):
    x = axonal.tensor(_away_from(rng, op.kinks), requires_grad=True)
    assert gradcheck(op.ours, (x,))


@pytest.mark.parametrize(
    "fn", [FA.selu, FA.celu, FA.mish, FA.logsigmoid, FA.softsign, FA.tanhshrink], ids=repr
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_inputs_stay_finite(fn, dtype):
    big = np.finfo(dtype).max / 4
    arr = np.array([-big, -1e4, -200.0, -89.0, 89.0, 200.0, 1e4, big], dtype=dtype)
    x = axonal.tensor(arr, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        y = fn(x)
        y.sum().backward()
    assert np.isfinite(y.numpy()).all() and np.isfinite(x.grad.numpy()).all()
    xt = torch.tensor(arr, requires_grad=True)
    yt = getattr(TF, fn.__name__)(xt)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-6)


def test_one_graph_node_each(rng):
    x = axonal.tensor(rng.standard_normal((4, 6)), requires_grad=True)
    w = axonal.tensor(np.array([0.1]), requires_grad=True)
    calls = [lambda f=f: f(x) for f in (FA.relu6, FA.selu, FA.mish, FA.softsign, FA.tanhshrink)]
    calls += [lambda: FA.softmin(x, 1), lambda: FA.glu(x, 1), lambda: FA.threshold(x, 0.0, 1.0)]
    for call in calls:
        nodes = [n for n, _ in call().grad_fn.next_functions if n is not None]
        assert len(nodes) == 1 and nodes[0] is x
    nodes = [n for n, _ in FA.prelu(x, w).grad_fn.next_functions if n is not None]
    assert len(nodes) == 2 and nodes[0] is x and nodes[1] is w


# ---------------------------------------------------------------------------- softmin


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,dim", [((7,), 0), ((3, 5), 1), ((3, 5), 0), ((2, 3, 4), -1)])
def test_softmin_matches_torch(rng, dtype, shape, dim):
    arr = (rng.standard_normal(shape) * 5).astype(dtype)
    arr.flat[0] = 80.0  # a large value: exp(-x) underflows without harm
    g = rng.standard_normal(shape).astype(dtype)
    x, y, xt, yt = _run_pair(lambda t: FA.softmin(t, dim), lambda t: TF.softmin(t, dim), arr, g)
    assert y.dtype == np.dtype(dtype)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(y.numpy().sum(axis=dim), 1.0, rtol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), **TOL[dtype])


def test_softmin_gradcheck_and_edges(rng):
    x = axonal.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda t: FA.softmin(t, dim=0), (x,))
    # implicit dim: PyTorch's legacy rule (1 for 2-d) with its deprecation warning
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmin") as rec:
        y = FA.softmin(x)
    assert rec[0].filename == __file__  # the warning points at the caller
    with pytest.warns(UserWarning, match="Implicit dimension choice") as rec:
        AE.Softmin()(x)
    assert rec[0].filename == __file__
    np.testing.assert_allclose(y.numpy(), TF.softmin(torch.tensor(x.numpy()), 1).numpy())
    # dtype casts first
    x32 = axonal.tensor(rng.standard_normal(5).astype(np.float32))
    y = FA.softmin(x32, 0, dtype=axonal.float64)
    assert y.dtype == np.float64
    # a 0-d input is 1 (gradient 0); an empty one stays empty
    s = axonal.tensor(np.array(2.5), requires_grad=True)
    out = FA.softmin(s, 0)
    out.backward()
    assert out.shape == () and out.item() == 1.0 and s.grad.item() == 0.0
    assert FA.softmin(axonal.tensor(np.zeros((0, 3))), 1).shape == (0, 3)
    with pytest.raises(IndexError, match="softmin"):
        FA.softmin(x, 2)
    with pytest.raises(NotImplementedError, match="softmin"):
        FA.softmin(axonal.tensor(np.array([1, 2])), 0)


# ---------------------------------------------------------------------------- glu


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,dim", [((6,), -1), ((4, 6), -1), ((4, 6), 0), ((2, 4, 3), 1)])
def test_glu_matches_torch(rng, dtype, shape, dim):
    arr = (rng.standard_normal(shape) * 4).astype(dtype)
    arr.flat[-1] = -60.0  # sigmoid of a large negative gate
    out_shape = list(shape)
    out_shape[dim] //= 2
    g = rng.standard_normal(out_shape).astype(dtype)
    x, y, xt, yt = _run_pair(lambda t: FA.glu(t, dim), lambda t: TF.glu(t, dim), arr, g)
    assert y.shape == tuple(out_shape) and y.dtype == np.dtype(dtype)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), **TOL[dtype])


def test_glu_gradcheck_and_errors(rng):
    x = axonal.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda t: FA.glu(t, 1), (x,))
    assert gradcheck(lambda t: AE.GLU(dim=1)(t), (x,))
    with pytest.raises(RuntimeError, match="glu: Halving dimension must be even.*dimension 0 is"):
        FA.glu(x, 0)
    with pytest.raises(RuntimeError, match="glu does not support scalars"):
        FA.glu(axonal.tensor(np.array(1.0)))
    with pytest.raises(IndexError, match="glu"):
        FA.glu(x, 2)
    with pytest.raises(TypeError, match="glu: dim must be an int"):
        FA.glu(x, 1.0)


# ---------------------------------------------------------------------------- prelu


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape,nw",
    [((5, 3), 1), ((5, 3), 3), ((2, 4, 3, 3), 4), ((2, 4, 5), 1), ((7,), 1), ((), 1)],
)
def test_prelu_matches_torch(rng, dtype, shape, nw):
    arr = (rng.standard_normal(shape) * 3).astype(dtype)
    if arr.size > 2:
        arr.flat[0], arr.flat[1] = 0.0, -50.0  # the kink and a large |x|
    warr = rng.uniform(-0.5, 0.5, nw).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    x, w = axonal.tensor(arr, requires_grad=True), axonal.tensor(warr, requires_grad=True)
    xt, wt = torch.tensor(arr, requires_grad=True), torch.tensor(warr, requires_grad=True)
    y, yt = FA.prelu(x, w), TF.prelu(xt, wt)
    y.backward(axonal.tensor(g))
    yt.backward(torch.tensor(g))
    assert y.shape == shape and y.dtype == np.dtype(dtype) and w.grad.shape == (nw,)
    assert w.grad.dtype == np.dtype(dtype)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), **TOL[dtype])
    wtol = dict(rtol=1e-5, atol=1e-5) if dtype is np.float32 else TOL[dtype]
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), **wtol)


@pytest.mark.parametrize("num_parameters", [1, 3])
def test_prelu_module_weight_grad_matches_torch(rng, num_parameters):
    ours, theirs = AE.PReLU(num_parameters), torch.nn.PReLU(num_parameters)
    assert repr(ours) == repr(theirs) == f"PReLU(num_parameters={num_parameters})"
    assert [n for n, _ in ours.named_parameters()] == ["weight"]
    assert ours.weight.dtype == np.float32 and ours.weight.requires_grad
    np.testing.assert_array_equal(ours.weight.numpy(), theirs.weight.detach().numpy())
    arr = rng.standard_normal((4, 3, 5)).astype(np.float32)
    y, yt = ours(axonal.tensor(arr)), theirs(torch.tensor(arr))
    (y * y).sum().backward()
    (yt * yt).sum().backward()
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-6)
    assert ours.weight.grad.shape == (num_parameters,)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-5)
    # init and dtype arguments
    m = AE.PReLU(2, init=-0.1, dtype=axonal.float64)
    assert m.weight.dtype == np.float64
    np.testing.assert_array_equal(m.weight.numpy(), [-0.1, -0.1])


def test_prelu_gradcheck(rng):
    x = axonal.tensor(_away_from(rng, [0.0], n=24).reshape(2, 3, 4), requires_grad=True)
    w = axonal.tensor(rng.uniform(-0.5, 0.5, 3), requires_grad=True)
    w1 = axonal.tensor(np.array(0.3), requires_grad=True)
    assert gradcheck(FA.prelu, (x, w))
    assert gradcheck(FA.prelu, (x, w1))


def test_prelu_errors():
    x = axonal.tensor(np.zeros((2, 3), np.float32))
    with pytest.raises(RuntimeError, match="prelu: Mismatch.*parameter numbers = 2 and channel"):
        FA.prelu(x, axonal.tensor(np.zeros(2, np.float32)))
    with pytest.raises(RuntimeError, match="channel size = 1"):
        FA.prelu(axonal.tensor(np.zeros(3, np.float32)), axonal.tensor(np.zeros(3, np.float32)))
    with pytest.raises(RuntimeError, match="prelu: Expected `weight` to be a scalar or 1D"):
        FA.prelu(x, axonal.tensor(np.zeros((3, 1), np.float32)))
    with pytest.raises(RuntimeError, match="prelu: Not allow zero-dim input"):
        FA.prelu(axonal.tensor(np.float32(1.0)), axonal.tensor(np.zeros(3, np.float32)))
    with pytest.raises(RuntimeError, match="prelu: Type promoting not supported"):
        FA.prelu(x, axonal.tensor(np.zeros(3, np.float64)))
    with pytest.raises(TypeError, match="prelu: weight must be an axonal.Tensor"):
        FA.prelu(x, 0.25)
    with pytest.raises(ValueError, match="PReLU: num_parameters"):
        AE.PReLU(1.5)
    # the module's weight must match the channels too
    with pytest.raises(RuntimeError, match="Mismatch"):
        AE.PReLU(4)(x)


# ---------------------------------------------------------------------------- modules


def _module_pairs():
    return [
        (AE.ReLU6(), torch.nn.ReLU6()),
        (AE.ReLU6(inplace=True), torch.nn.ReLU6(inplace=True)),
        (AE.Hardtanh(), torch.nn.Hardtanh()),
        (AE.Hardtanh(-2.0, 3, inplace=True), torch.nn.Hardtanh(-2.0, 3, inplace=True)),
        (AE.SELU(), torch.nn.SELU()),
        (AE.SELU(True), torch.nn.SELU(True)),
        (AE.CELU(), torch.nn.CELU()),
        (AE.CELU(0.5, inplace=True), torch.nn.CELU(0.5, inplace=True)),
        (AE.Mish(), torch.nn.Mish()),
        (AE.Softsign(), torch.nn.Softsign()),
        (AE.LogSigmoid(), torch.nn.LogSigmoid()),
        (AE.Hardswish(), torch.nn.Hardswish()),
        (AE.Hardsigmoid(), torch.nn.Hardsigmoid()),
        (AE.Softmin(1), torch.nn.Softmin(1)),
        (AE.Softmin(dim=-1), torch.nn.Softmin(dim=-1)),
        (AE.Tanhshrink(), torch.nn.Tanhshrink()),
        (AE.Softshrink(), torch.nn.Softshrink()),
        (AE.Softshrink(1.25), torch.nn.Softshrink(1.25)),
        (AE.Hardshrink(), torch.nn.Hardshrink()),
        (AE.Hardshrink(0.75), torch.nn.Hardshrink(0.75)),
        (AE.Threshold(0.1, 20), torch.nn.Threshold(0.1, 20)),
        (AE.Threshold(0.5, -1.0, True), torch.nn.Threshold(0.5, -1.0, True)),
        (AE.GLU(), torch.nn.GLU()),
        (AE.GLU(0), torch.nn.GLU(0)),
        (AE.PReLU(), torch.nn.PReLU()),
        (AE.PReLU(4, init=0.1), torch.nn.PReLU(4, init=0.1)),
    ]


@pytest.mark.parametrize("idx", range(len(_module_pairs())))
def test_modules_match_torch(rng, idx):
    ours, theirs = _module_pairs()[idx]
    assert repr(ours) == repr(theirs)
    arr = (rng.standard_normal((4, 4, 6)) * 4).astype(np.float32)
    # the leaf is never changed in place: each side runs on a non-leaf copy
    x0, xt0 = axonal.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)
    x, xt = x0 * 1.0, xt0 * 1.0
    y, yt = ours(x), theirs(xt)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=2e-5, atol=1e-6)
    if getattr(theirs, "inplace", False):
        assert y is x
        np.testing.assert_allclose(x.numpy(), xt.detach().numpy(), rtol=2e-5, atol=1e-6)
    g = rng.standard_normal(yt.shape).astype(np.float32)
    y.backward(axonal.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(x0.grad.numpy(), xt0.grad.numpy(), rtol=2e-5, atol=1e-6)


def test_module_reprs_and_defaults():
    assert repr(AE.ReLU6()) == "ReLU6()"
    assert repr(AE.ReLU6(True)) == "ReLU6(inplace=True)"
    assert repr(AE.Hardtanh(-1, 1)) == "Hardtanh(min_val=-1, max_val=1)"
    assert repr(AE.CELU()) == "CELU(alpha=1.0)"
    assert repr(AE.Softmin()) == "Softmin(dim=None)"
    assert repr(AE.Softshrink()) == "Softshrink(0.5)"
    assert repr(AE.Hardshrink()) == "Hardshrink(0.5)"
    assert repr(AE.Threshold(0.1, 20)) == "Threshold(threshold=0.1, value=20)"
    assert repr(AE.GLU()) == "GLU(dim=-1)"
    assert repr(AE.Hardswish(True)) == "Hardswish()"  # torch has no extra_repr there
    assert repr(AE.Mish(True)) == "Mish(inplace=True)"
    r6 = AE.ReLU6()
    assert (r6.min_val, r6.max_val) == (0.0, 6.0) and isinstance(r6, AE.Hardtanh)
    with pytest.warns(FutureWarning, match="min_value"):
        h = AE.Hardtanh(min_value=-3.0)
    assert h.min_val == -3.0
    # every module builds with its defaults (Threshold has two required arguments) and runs
    x = axonal.tensor(np.linspace(-4, 4, 24).reshape(2, 3, 4))
    for name in AE.__all__:
        m = getattr(AE, name)(*((0.0, 1.0) if name == "Threshold" else ()))
        if name == "PReLU":
            m.double()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Softmin's implicit dim
            y = m(x)
        assert y.shape == ((2, 3, 2) if name == "GLU" else (2, 3, 4)) and y.dtype == np.float64


# ---------------------------------------------------------------------------- in-place, dtypes


def test_inplace_writes_the_input_and_backprops(rng):
    arr = rng.standard_normal(10) * 5
    for ours, theirs in [
        (lambda t: FA.relu6(t, inplace=True), lambda t: TF.relu6(t, inplace=True)),
        (lambda t: FA.hardtanh(t, -2, 2, True), lambda t: TF.hardtanh(t, -2, 2, True)),
        (lambda t: FA.selu(t, True), lambda t: TF.selu(t, True)),
        (lambda t: FA.celu(t, 2.0, True), lambda t: TF.celu(t, 2.0, True)),
        (lambda t: FA.mish(t, True), lambda t: TF.mish(t, True)),
        (lambda t: FA.hardswish(t, True), lambda t: TF.hardswish(t, True)),
        (lambda t: FA.hardsigmoid(t, True), lambda t: TF.hardsigmoid(t, True)),
        (lambda t: FA.threshold(t, 0.1, 7.0, True), lambda t: TF.threshold(t, 0.1, 7.0, True)),
    ]:
        # no graph: the storage itself changes, the same tensor comes back
        x = axonal.tensor(arr.copy())
        storage = x._data
        assert ours(x) is x and x._data is storage
        np.testing.assert_allclose(x.numpy(), theirs(torch.tensor(arr)).numpy(), rtol=1e-10)
        # under autograd, on a non-leaf: the gradient flows through the old values
        leaf, leaft = axonal.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)
        h, ht = leaf * 2.0, leaft * 2.0
        out, outt = ours(h), theirs(ht)
        assert out is h
        (out * out).sum().backward()
        (outt * outt).sum().backward()
        np.testing.assert_allclose(leaf.grad.numpy(), leaft.grad.numpy(), rtol=1e-7, atol=1e-12)
        # a leaf that requires grad is refused, as torch refuses it
        with pytest.raises(RuntimeError, match="leaf"):
            ours(axonal.tensor(arr, requires_grad=True))
    # a leaf under no_grad is changed and keeps requires_grad
    w = axonal.tensor(arr.copy(), requires_grad=True)
    with axonal.no_grad():
        FA.relu6(w, inplace=True)
    assert w.requires_grad and w.numpy().min() >= 0


def test_integer_inputs_like_torch():
    ints = np.array([-7, -2, 0, 1, 3, 6, 9], dtype=np.int64)
    x, xt = axonal.tensor(ints), torch.tensor(ints)
    for ours, theirs in [
        (FA.relu6(x), TF.relu6(xt)),
        (FA.hardtanh(x, -1.5, 2.5), TF.hardtanh(xt, -1.5, 2.5)),
        (FA.threshold(x, 0.5, 5.7), TF.threshold(xt, 0.5, 5.7)),
    ]:
        assert ours.dtype == np.int64
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    for ours, theirs in [(FA.softsign(x), TF.softsign(xt)), (FA.tanhshrink(x), TF.tanhshrink(xt))]:
        assert ours.dtype == np.float32  # promoted to the default float dtype, as torch
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    for fn in (FA.selu, FA.celu, FA.mish, FA.logsigmoid, FA.hardswish, FA.hardsigmoid):
        with pytest.raises(NotImplementedError, match=fn.__name__):
            fn(x)
        with pytest.raises(NotImplementedError):
            getattr(TF, fn.__name__)(xt)
    for fn in (FA.softshrink, FA.hardshrink, FA.glu):
        with pytest.raises(NotImplementedError, match=fn.__name__):
            fn(axonal.tensor(np.array([1, 2])))


# ---------------------------------------------------------------------------- errors


def test_argument_errors():
    x = axonal.tensor(np.linspace(-2, 2, 6).astype(np.float32))
    with pytest.raises(ValueError, match="hardtanh: min_val cannot be greater than max_val"):
        FA.hardtanh(x, 2.0, 1.0)
    with pytest.raises(ValueError):
        TF.hardtanh(torch.zeros(2), 2.0, 1.0)
    # equal bounds are allowed by the function (a constant), not by the module (as torch)
    np.testing.assert_array_equal(FA.hardtanh(x, 0.5, 0.5).numpy(), np.full(6, 0.5, np.float32))
    with pytest.raises(AssertionError, match=r"Hardtanh: max_val \(1.0\) must be greater"):
        AE.Hardtanh(1.0, 1.0)
    with pytest.raises(RuntimeError, match=r"softshrink: lambda must be in range \[0, .*found -1"):
        FA.softshrink(x, -1.0)
    with pytest.raises(RuntimeError):
        TF.softshrink(torch.zeros(2), -1.0)
    with pytest.raises(RuntimeError, match="softshrink"):
        AE.Softshrink(-0.5)(x)
    with pytest.raises(RuntimeError, match="celu: ZeroDivisionError: alpha cannot be 0"):
        FA.celu(x, 0.0)
    with pytest.raises(TypeError, match="hardshrink: lambd must be a real number"):
        FA.hardshrink(x, "0.5")
    with pytest.raises(TypeError, match="threshold: value must be a real number"):
        FA.threshold(x, 0.0, None)
    with pytest.raises(TypeError, match="Threshold: threshold must be a real number"):
        AE.Threshold("a", 1.0)
    with pytest.raises(TypeError, match="mish: input must be an axonal.Tensor"):
        FA.mish(np.zeros(3))
    with pytest.raises(TypeError, match="relu6: input must be an axonal.Tensor"):
        AE.ReLU6()([1.0, 2.0])
    # a negative hardshrink lambda is allowed (nothing is zeroed), as in torch
    np.testing.assert_array_equal(FA.hardshrink(x, -1.0).numpy(), x.numpy())


def test_exports():
    assert sorted(FA.__all__) == sorted(
        "relu6 hardtanh selu celu mish softsign logsigmoid hardswish hardsigmoid softmin "
        "tanhshrink softshrink hardshrink threshold glu prelu".split()
    )
    assert len(AE.__all__) == 16
    for name in FA.__all__:
        assert callable(getattr(FA, name)) and hasattr(TF, name)
    for name in AE.__all__:
        assert issubclass(getattr(AE, name), axonal.nn.Module) and hasattr(torch.nn, name)
