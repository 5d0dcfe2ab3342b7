"""Module infrastructure: registration, traversal, modes, state_dict, to(), hooks, repr, summary."""

import io

import numpy as np
import pytest

import axonal
from axonal import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = nn.Parameter(axonal.ones(4))
        self.register_buffer("count", axonal.zeros(1, dtype=axonal.int64))
        self.register_buffer("scratch", axonal.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc(x) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.act = nn.ReLU()
        self.head = nn.Linear(4, 2, bias=False)

    def forward(self, x):
        return self.head(self.act(self.block(x)))


def test_registration_and_traversal():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["block.scale", "block.fc.weight", "block.fc.bias", "head.weight"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in net.parameters())
    assert [n for n, _ in net.named_parameters(prefix="m")][0] == "m.block.scale"
    assert [n for n, _ in net.block.named_parameters(recurse=False)] == ["scale"]
    assert [n for n, _ in net.named_buffers()] == ["block.count", "block.scratch"]
    assert [n for n, _ in net.named_children()] == ["block", "act", "head"]
    assert [n for n, _ in net.named_modules()] == ["", "block", "block.fc", "act", "head"]
    assert len(list(net.modules())) == 5
    assert net.head.bias is None
    assert net.get_submodule("block.fc") is net.block.fc
    assert net.get_parameter("block.fc.weight") is net.block.fc.weight
    assert net.num_parameters() == 4 + 12 + 4 + 8


def test_shared_parameter_counted_once():
    lin = nn.Linear(3, 3)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_setattr_rules():
    m = nn.Module()
    m.w = nn.Parameter(axonal.zeros(2))
    assert "w" in m._parameters
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.w = axonal.zeros(2)
    m.w = None
    assert m.w is None and "w" in m._parameters
    m.sub = nn.Linear(1, 1)
    with pytest.raises(TypeError, match="child module 'sub'"):
        m.sub = 3
    m.register_buffer("b", axonal.zeros(1))
    with pytest.raises(TypeError, match="buffer 'b'"):
        m.b = 1.0
    with pytest.raises(KeyError, match="attribute 'sub' already exists|can't contain"):
        m.register_parameter("sub", None)
    with pytest.raises(KeyError, match='contain "."'):
        m.register_buffer("a.b", None)
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        _ = m.missing
    del m.sub
    assert "sub" not in m._modules
    with pytest.raises(AttributeError, match="before Module.__init__"):

        class Bad(nn.Module):
            def __init__(self):
                self.p = nn.Parameter(axonal.zeros(1))

        Bad()


def test_train_eval_propagates():
    net = Net()
    assert net.training and net.block.fc.training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError):
        net.train("yes")


def test_zero_grad_and_requires_grad(rng):
    net = Net()
    x = axonal.tensor(rng.standard_normal((5, 3)).astype(np.float32))
    net(x).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    for p in net.parameters():
        assert p.grad is not None and not p.grad.numpy().any()
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    assert not net(x).requires_grad


def test_state_dict_round_trip(rng):
    a, b = Net(), Net()
    sd = a.state_dict()
    assert list(sd) == [
        "block.scale",
        "block.count",
        "block.fc.weight",
        "block.fc.bias",
        "head.weight",
    ]
    assert "block.scratch" not in sd  # non-persistent
    assert not any(t.requires_grad for t in sd.values())
    # the state dict shares storage with the module
    sd["block.scale"]._data[0] = 7.0
    assert a.block.scale.numpy()[0] == 7.0
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    x = axonal.tensor(rng.standard_normal((4, 3)).astype(np.float32))
    np.testing.assert_array_equal(a(x).numpy(), b(x).numpy())
    # loading copies: later changes to a do not leak into b
    a.head.weight._data[...] = 0
    assert b.head.weight.numpy().any()
    # numpy values are accepted too
    b.load_state_dict({k: v.numpy() for k, v in a.state_dict().items()})
    np.testing.assert_array_equal(b.head.weight.numpy(), 0)


def test_load_state_dict_errors():
    net = Net()
    sd = dict(net.state_dict())
    del sd["head.weight"]
    sd["extra.weight"] = axonal.zeros(3)
    with pytest.raises(RuntimeError) as e:
        net.load_state_dict(sd)
    msg = str(e.value)
    assert "missing keys" in msg and "'head.weight'" in msg
    assert "unexpected keys" in msg and "'extra.weight'" in msg
    res = net.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["head.weight"] and res.unexpected_keys == ["extra.weight"]

    sd = dict(net.state_dict())
    sd["block.fc.weight"] = axonal.zeros((3, 4))
    before = net.block.scale.numpy().copy()
    with pytest.raises(
        RuntimeError,
        match=r"block.fc.weight: checkpoint shape \(3, 4\) != model "
        r"shape \(4, 3\)",
    ):
        net.load_state_dict(sd, strict=False)
    np.testing.assert_array_equal(net.block.scale.numpy(), before)  # nothing half-loaded
    with pytest.raises(TypeError, match="mapping"):
        net.load_state_dict([1, 2])


def test_to_double_float_keeps_identity(rng):
    net = Net()
    w = net.block.fc.weight
    x = rng.standard_normal((2, 3))
    y32 = net(axonal.tensor(x.astype(np.float32))).numpy()
    assert net.double() is net
    assert net.block.fc.weight is w and w.dtype == axonal.float64
    assert net.block.count.dtype == axonal.int64  # integer buffers keep their dtype
    y64 = net(axonal.tensor(x, dtype=axonal.float64))
    assert y64.dtype == axonal.float64
    np.testing.assert_allclose(y64.numpy(), y32, rtol=1e-5, atol=1e-6)
    net.to(axonal.float32)
    assert w.dtype == axonal.float32
    net.to("cpu", dtype=axonal.float64)
    assert w.dtype == axonal.float64
    net.float()
    assert all(p.dtype == axonal.float32 for p in net.parameters())
    with pytest.raises(TypeError, match="floating point"):
        net.to(dtype=axonal.int32)


def test_apply_visits_children_first():
    net = Net()
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "Block", "ReLU", "Linear", "Net"]

    def zero_linear(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)

    net.apply(zero_linear)
    assert not net.head.weight.numpy().any()


def test_forward_hooks(rng):
    lin = nn.Linear(3, 2)
    x = axonal.tensor(rng.standard_normal((4, 3)).astype(np.float32))
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: calls.append(("pre", args[0].shape)))
    h2 = lin.register_forward_hook(lambda m, args, out: out * 0)
    y = lin(x)
    assert calls == [("pre", (4, 3))] and not y.numpy().any()
    h2.remove()
    assert lin(x).numpy().any()
    h1.remove()
    lin(x)
    assert len(calls) == 2  # one more from the second call, none after removal
    # a pre-hook may replace the input
    with lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,)):
        np.testing.assert_allclose(lin(x).numpy(), np.broadcast_to(lin.bias.numpy(), (4, 2)))


def test_repr():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.25), nn.Linear(4, 2, bias=False))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=3, out_features=4, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Dropout(p=0.25, inplace=False)\n"
        "  (3): Linear(in_features=4, out_features=2, bias=False)\n"
        ")"
    )
    nested = repr(Net())
    assert "(block): Block(\n    (fc): Linear(in_features=3" in nested


def test_summary_mlp_counts():
    mlp = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    buf = io.StringIO()
    res = mlp.summary((3,), file=buf)
    assert res == (26, 26, 0)
    assert res.total_params == 26
    text = buf.getvalue()
    lines = text.splitlines()
    row0 = next(line for line in lines if line.startswith("0 "))
    assert "Linear" in row0 and "(N, 4)" in row0 and row0.rstrip().endswith("16")
    row2 = next(line for line in lines if line.startswith("2 "))
    assert "(N, 2)" in row2 and row2.rstrip().endswith("10")
    assert "Total params: 26" in text and "Non-trainable params: 0" in text
    assert mlp.training  # mode restored


def test_summary_frozen_and_nested():
    net = Net()
    net.block.fc.requires_grad_(False)
    buf = io.StringIO()
    res = net.summary((3,), file=buf, batch_size=1)
    assert res.total_params == 28 and res.non_trainable_params == 16
    assert res.trainable_params == 12
    text = buf.getvalue()
    # Block owns a parameter directly, so it gets its own row with only that parameter
    assert any(
        line.startswith("block ") and line.rstrip().endswith(" 4") for line in text.splitlines()
    )


def test_summary_image_shape_and_errors():
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 5)).double()
    buf = io.StringIO()
    res = net.summary((3, 2, 2), file=buf)  # dtype taken from the parameters
    assert res.total_params == 65
    assert "(N, 12)" in buf.getvalue() and "float64" in buf.getvalue()
    with pytest.raises(TypeError, match="input_shape"):
        net.summary("abc")


def test_summary_several_inputs_and_tuple_outputs():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(3, 2)
            self.b = nn.Linear(5, 2)

        def forward(self, x, y):
            return self.a(x) + self.b(y), self.b(y)

    buf = io.StringIO()
    res = Two().summary([(3,), (5,)], file=buf)
    assert res.total_params == 8 + 12
    text = buf.getvalue()
    assert "input (N, 3), (N, 5)" in text
    # b is called twice: two rows, its parameters counted in the first only
    rows = [line for line in text.splitlines() if line.startswith("b ")]
    assert len(rows) == 2 and rows[0].rstrip().endswith("12") and rows[1].rstrip().endswith(" 0")


def test_deepcopy_and_pickle_keep_parameters(rng):
    import copy
    import pickle

    net = Net()
    x = axonal.tensor(rng.standard_normal((2, 3)).astype(np.float32))
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert clone.block.fc.weight is not net.block.fc.weight
        assert isinstance(clone.block.fc.weight, nn.Parameter)
        assert clone.block.fc.weight.requires_grad
        np.testing.assert_array_equal(clone(x).numpy(), net(x).numpy())
        clone.head.weight._data[...] = 0
        assert net.head.weight.numpy().any()


def test_parameter_basics():
    p = nn.Parameter(axonal.zeros((2, 3)))
    assert p.requires_grad and p.is_leaf and p.shape == (2, 3)
    assert repr(p).startswith("Parameter containing:\ntensor(")
    q = nn.Parameter(axonal.zeros(2), requires_grad=False)
    assert not q.requires_grad
    arr = np.ones(3, dtype=np.float32)
    r = nn.Parameter(arr)
    arr[0] = 5
    assert r.numpy()[0] == 5  # shares storage like torch.nn.Parameter
