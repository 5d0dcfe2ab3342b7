"""The device API on the fake "cuda": creation, moves, .numpy(), mixed-device errors, Module.to,
state dicts and saving, optimizers and schedulers, clip_grad_norm_, no host transfers in a
training step."""

import fake_cupy
import numpy as np
import pytest

import axonal
import axonal.nn as nn
import axonal.nn.functional as F
import axonal.optim as optim


def is_dev(t):
    return type(t._data) is fake_cupy.ndarray


# ---------------------------------------------------------------- creation and moves
def test_creation_on_device(host):
    t = axonal.tensor([[1.0, 2.0], [3.0, 4.0]], device="cuda")
    assert is_dev(t) and t.device == "cuda" and t.device == "cuda:0" and t.is_cuda
    assert t.dtype == np.float32 and host(t).tolist() == [[1, 2], [3, 4]]
    z = axonal.zeros(2, 3, device="cuda", dtype=axonal.float64)
    assert is_dev(z) and z.dtype == np.float64 and not host(z).any()
    assert is_dev(axonal.ones(4, device="cuda")) and is_dev(axonal.arange(5, device="cuda"))
    axonal.manual_seed(7)
    r = axonal.randn(3, 4, device="cuda")
    axonal.manual_seed(7)
    np.testing.assert_array_equal(host(r), axonal.randn(3, 4).numpy())  # same draws as on CPU
    assert is_dev(axonal.zeros_like(r)) and is_dev(r.new_zeros(2)) and is_dev(axonal.rand_like(r))
    assert "device='cuda:0'" in repr(t)


def test_to_cuda_cpu_round_trip_and_gradient(host):
    a = np.arange(6.0).reshape(2, 3)
    x = axonal.tensor(a, requires_grad=True)
    d = x.to("cuda")
    assert is_dev(d) and d.requires_grad and d.grad_fn is not None
    assert (
        is_dev(x.cuda()) and is_dev(x.to(device="cuda:0")) and is_dev(x.to("cuda", axonal.float32))
    )
    back = (d * 2).cpu()
    assert type(back._data) is np.ndarray and back.device == "cpu"
    np.testing.assert_array_equal(back.detach().numpy(), 2 * a)
    back.sum().backward()
    assert type(x.grad._data) is np.ndarray  # the gradient came back to the CPU leaf
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0))
    assert d.to("cuda") is d and x.to("cpu") is x


def test_numpy_on_a_cuda_tensor_raises_like_torch(host):
    t = axonal.ones(3, device="cuda")
    with pytest.raises(TypeError, match=r"cuda:0 device type tensor to numpy.*\.cpu\(\)"):
        t.numpy()
    with pytest.raises(TypeError, match=r"cpu\(\)"):
        np.asarray(t)
    np.testing.assert_array_equal(t.cpu().numpy(), np.ones(3))
    np.testing.assert_array_equal(t.numpy(force=True), np.ones(3))
    assert t.tolist() == [1.0, 1.0, 1.0] and t.sum().item() == 3.0


def test_no_cuda_gives_a_clear_error(monkeypatch):
    monkeypatch.setattr(axonal.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="CUDA is not available.*no CUDA extension"):
        axonal.zeros(2, device="cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        axonal.ones(2).cuda()
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        nn.Linear(2, 2).to("cuda")


# ---------------------------------------------------------------- mixing devices
MIX = [
    ("add", lambda a, b: a + b),
    ("mul", lambda a, b: a * b),
    ("sub", lambda a, b: b - a),
    ("matmul", lambda a, b: a @ b),
    ("lt", lambda a, b: a < b),
    ("maximum", lambda a, b: axonal.maximum(a, b)),
    ("linear", lambda a, b: F.linear(a, b)),
    ("mse_loss", lambda a, b: F.mse_loss(a, b)),
    ("cat", lambda a, b: axonal.cat([a, b])),
]


@pytest.mark.parametrize("name, fn", MIX)
@pytest.mark.parametrize("cuda_first", [True, False])
def test_mixing_devices_raises_naming_the_op(name, fn, cuda_first):
    a, b = axonal.ones(3, 3), axonal.ones(3, 3, device="cuda")
    if cuda_first:
        a, b = b, a
    with pytest.raises(RuntimeError, match=r"Expected all tensors to be on the same device") as e:
        fn(a, b)
    msg = str(e.value)
    assert msg.startswith(name) and "cpu" in msg and "cuda:0" in msg


def test_mixing_in_conv_and_losses_names_the_op():
    x = axonal.ones(1, 2, 5, 5, device="cuda")
    with pytest.raises(RuntimeError, match=r"(?i)^conv.*same device"):
        F.conv2d(x, axonal.ones(3, 2, 3, 3))
    with pytest.raises(RuntimeError, match=r"(?i)^conv.*same device"):
        nn.Conv2d(2, 3, 3)(x)
    logits = axonal.ones(4, 3, device="cuda")
    with pytest.raises(RuntimeError, match=r"^cross_entropy: Expected all tensors"):
        F.cross_entropy(logits, axonal.tensor([0, 1, 2, 0]))
    with pytest.raises(RuntimeError, match=r"^nll_loss: Expected all tensors"):
        F.nll_loss(logits, axonal.tensor([0, 1, 2, 0]))
    with pytest.raises(RuntimeError, match=r"^binary_cross_entropy_with_logits: Expected"):
        F.binary_cross_entropy_with_logits(logits, axonal.zeros(4, 3))
    with pytest.raises(RuntimeError, match=r"^linear: Expected all tensors"):
        nn.Linear(3, 2)(logits)


def test_numbers_and_0d_cpu_tensors_mix_with_cuda(host):
    x = axonal.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    s = axonal.tensor(3.0, requires_grad=True)  # 0-d, on the CPU
    y = x * s + 1 + np.float32(2.0) - axonal.tensor(0.5)
    assert is_dev(y)
    np.testing.assert_allclose(host(y), [5.5, 8.5])
    y.sum().backward()
    np.testing.assert_allclose(host(x.grad), [3.0, 3.0])
    assert type(s.grad._data) is np.ndarray and float(s.grad.item()) == 3.0
    assert host(x > axonal.tensor(1.5)).tolist() == [False, True]


def test_backward_with_a_gradient_on_the_wrong_device():
    y = axonal.ones(2, device="cuda", requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="same device"):
        y.backward(axonal.ones(2))


# ---------------------------------------------------------------- modules
def _net():
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.BatchNorm2d(2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8, 3),
    )


def test_module_to_round_trip_keeps_identity_and_values(host):
    axonal.manual_seed(0)
    net = _net()
    params = list(net.parameters())
    net(axonal.randn(2, 1, 4, 4)).sum().backward()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    assert net.to("cuda") is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]  # optimizers still see them
    for p in net.parameters():
        assert is_dev(p) and is_dev(p.grad) and isinstance(p, nn.Parameter)
    for name, b in net.named_buffers():
        assert is_dev(b), name
    assert net[1].num_batches_tracked.dtype == np.int64
    sd = net.state_dict()
    assert all(is_dev(v) for v in sd.values())
    net.cpu()
    for k, v in net.state_dict().items():
        assert type(v._data) is np.ndarray
        np.testing.assert_array_equal(v.numpy(), before[k], err_msg=k)
    net.cuda().double()
    assert all(is_dev(p) and p.dtype == np.float64 for p in net.parameters())


def test_state_dict_save_load_across_devices(tmp_path, host):
    axonal.manual_seed(1)
    net = _net().to("cuda")
    path = tmp_path / "w.safetensors"
    axonal.save(net.state_dict(), path)
    loaded = axonal.load(path)
    cpu_net = _net()
    cpu_net.load_state_dict(loaded)  # device -> host through the file
    for (k, a), b in zip(net.state_dict().items(), cpu_net.state_dict().values()):
        np.testing.assert_array_equal(host(a), b.numpy(), err_msg=k)
    axonal.manual_seed(2)
    other = _net().to("cuda")
    other.load_state_dict(cpu_net.state_dict())  # host -> device, in place
    for a, b in zip(net.parameters(), other.parameters()):
        assert is_dev(b)
        np.testing.assert_array_equal(host(a), host(b))


# ---------------------------------------------------------------- optimizers
OPTIMIZERS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=1e-2)),
    ("AdamW", dict(lr=0.01)),
    ("Adamax", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adadelta", dict(lr=1.0)),
]


def _mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def _train(net, opt, device, steps=4, sched=None, clip=None):
    rng = np.random.default_rng(0)
    for _ in range(steps):
        x = axonal.tensor(rng.standard_normal((6, 4)).astype(np.float64)).to(device)
        t = axonal.tensor(rng.integers(0, 3, 6)).to(device)
        opt.zero_grad()
        loss = F.cross_entropy(net(x), t)
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt.step()
        if sched is not None:
            sched.step()
    return loss


@pytest.mark.parametrize(
    "name, kw", OPTIMIZERS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(OPTIMIZERS)]
)
def test_optimizers_step_on_device_like_on_cpu(name, kw, host):
    results = []
    for device in ("cpu", "cuda"):
        axonal.manual_seed(0)
        net = _mlp().double().to(device)
        opt = getattr(optim, name)(net.parameters(), **kw)
        sched = optim.lr_scheduler.StepLR(opt, 2, gamma=0.5)
        _train(net, opt, device, sched=sched, clip=0.5)
        results.append((net, opt))
    (cpu_net, cpu_opt), (dev_net, dev_opt) = results
    for a, b in zip(cpu_net.parameters(), dev_net.parameters()):
        assert is_dev(b)
        np.testing.assert_allclose(host(b), a.numpy(), rtol=1e-12, atol=1e-12)
    arrays = [v for st in dev_opt.state.values() for v in st.values() if hasattr(v, "shape")]
    for v in arrays:  # optimizer state lives on the device
        arr = getattr(v, "_data", v)
        if getattr(arr, "ndim", 0) > 0:
            assert type(arr) is fake_cupy.ndarray, type(arr)
    assert dev_opt.param_groups[0]["lr"] == cpu_opt.param_groups[0]["lr"]
    # optimizer state dict: save / reload onto the device
    sd = dev_opt.state_dict()
    fresh = getattr(optim, name)(dev_net.parameters(), **kw)
    fresh.load_state_dict(sd)
    for st in fresh.state.values():
        for v in st.values():
            arr = getattr(v, "_data", v)
            if getattr(arr, "ndim", 0) > 0:
                assert type(arr) is fake_cupy.ndarray


def test_clip_grad_norm_on_device_matches_cpu(host):
    grads = []
    norms = []
    for device in ("cpu", "cuda"):
        axonal.manual_seed(3)
        net = _mlp().to(device)
        net(axonal.randn(5, 4).to(device)).pow(2).sum().backward()
        norms.append(nn.utils.clip_grad_norm_(net.parameters(), 0.1))
        grads.append([p.grad for p in net.parameters()])
    assert is_dev(norms[1])
    np.testing.assert_allclose(host(norms[1]), norms[0].numpy(), rtol=1e-5)
    for a, b in zip(*grads):
        np.testing.assert_allclose(host(b), a.numpy(), rtol=1e-5, atol=1e-7)
    inf = nn.utils.clip_grad_norm_(net.parameters(), 1.0, norm_type=float("inf"))
    assert is_dev(inf) and host(inf) > 0


def test_a_training_step_does_not_wait_for_the_device():
    """Forward, backward, clip and optimizer steps queue device work only: no host transfer
    (each would synchronise on a GPU). Loss values are read by the caller when it wants them."""
    axonal.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.LayerNorm(16), nn.Linear(16, 2)).to("cuda")
    opt = optim.AdamW(net.parameters(), lr=1e-3)
    x = axonal.randn(8, 4, device="cuda")
    y = axonal.randn(8, 2, device="cuda")
    before = fake_cupy.transfers
    for _ in range(3):
        opt.zero_grad()
        loss = F.mse_loss(net(x), y)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
    assert fake_cupy.transfers == before
    F.cross_entropy(net(x), axonal.tensor([0, 1] * 4, device="cuda")).backward()
    assert fake_cupy.transfers == before + 1  # the one check that the class indices are valid


def test_class_targets_from_host_are_checked_without_a_device_read():
    import axonal.nn.functional as F

    x = axonal.randn(4, 3, device="cuda")
    t = axonal.tensor(np.array([0, 2, 1, 2])).to("cuda")
    assert t._host_range == (t._vc[0], 0, 2)  # known from the host copy
    F.cross_entropy(x, t)
    bad = axonal.tensor(np.array([0, 3, 1, 2])).to("cuda")
    with pytest.raises(ValueError, match="target class index 3 is out of range"):
        F.cross_entropy(x, bad)
    t.add_(1)  # changed in place on the device: the host range no longer holds
    with pytest.raises(ValueError, match="target class index 3 is out of range"):
        F.cross_entropy(x, t)
    neg = axonal.tensor(np.array([0, -100, 1, 2])).to("cuda")  # ignore_index: device check
    F.cross_entropy(x, neg)


@pytest.mark.parametrize("how", ["data_fill", "data_setitem", "data_assign", "ufunc_out"])
def test_class_target_range_forgotten_after_writes_around_autograd(how):
    import axonal.nn.functional as F

    x = axonal.randn(4, 3, device="cuda")
    t = axonal.tensor(np.array([0, 2, 1, 2])).to("cuda")
    if how == "data_fill":
        t.data.fill_(7)
    elif how == "data_setitem":
        t.data[1] = 7
    elif how == "data_assign":
        t.data = axonal.tensor(np.array([0, 7, 1, 2])).to("cuda")
    else:
        np.add(t, 5, out=(t,))
    with pytest.raises(ValueError, match="target class index 7 is out of range"):
        F.cross_entropy(x, t)
