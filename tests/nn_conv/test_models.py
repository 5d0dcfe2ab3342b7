"""axonal.models: LeNet5 and ResNet shapes, parameter counts (torchvision's figures), parameter
names, a block against a torch twin, and a few training steps that must lower the loss."""

import numpy as np
import pytest
from cnn_helpers import TOL, copy_params

import axonal
from axonal import nn, optim
from axonal.models import BasicBlock, Bottleneck, LeNet5, ResNet, resnet18, resnet34, resnet50

torch = pytest.importorskip("torch")


def test_lenet5_shapes_and_parameter_count():
    net = LeNet5()
    assert net(axonal.randn(3, 1, 28, 28)).shape == (3, 10)
    assert LeNet5(input_size=32, in_channels=3, num_classes=7)(
        axonal.randn(2, 3, 32, 32)
    ).shape == (
        2,
        7,
    )
    # the same network built in torch has the same number of parameters
    twin = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2),
        torch.nn.Conv2d(6, 16, 5),
        torch.nn.Linear(400, 120),
        torch.nn.Linear(120, 84),
        torch.nn.Linear(84, 10),
    )
    assert net.num_parameters() == sum(p.numel() for p in twin.parameters()) == 61706
    with pytest.raises(ValueError, match="LeNet5: input_size 8 is too small"):
        LeNet5(input_size=8)


@pytest.mark.parametrize(
    "fn, expected",
    # torchvision's published parameter counts (1000 classes, 3 input channels)
    [(resnet18, 11_689_512), (resnet34, 21_797_672), (resnet50, 25_557_032)],
)
def test_resnet_parameter_counts_match_torchvision(fn, expected):
    assert fn().num_parameters() == expected


def test_resnet_parameter_names_follow_torchvision():
    names = [n for n, _ in resnet50().named_parameters()]
    for key in (
        "conv1.weight",
        "bn1.weight",
        "layer1.0.conv3.weight",
        "layer1.0.downsample.0.weight",
        "layer1.0.downsample.1.bias",
        "layer4.2.bn3.weight",
        "fc.weight",
        "fc.bias",
    ):
        assert key in names, key
    buffers = dict(resnet18().named_buffers())
    assert "layer2.0.downsample.1.running_var" in buffers


def test_resnet18_small_variant_shapes_and_backward():
    axonal.manual_seed(0)
    net = resnet18(num_classes=10, in_channels=1, small_input=True)
    assert isinstance(net.maxpool, nn.Identity) and tuple(net.conv1.weight.shape) == (64, 1, 3, 3)
    x = axonal.randn(2, 1, 28, 28)
    y = net(x)
    assert y.shape == (2, 10)
    y.sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in net.parameters())
    # 32x32 inputs too, and a narrow network for quick experiments
    small = resnet18(num_classes=10, in_channels=3, small_input=True, width=8)
    assert small(axonal.randn(2, 3, 32, 32)).shape == (2, 10)
    assert small.fc.in_features == 64
    # the full-size stem: 7x7/2 conv + max-pool, any input of at least 32x32
    assert resnet18(num_classes=5, width=8)(axonal.randn(1, 3, 40, 36)).shape == (1, 5)


def test_resnet50_small_variant_forward():
    net = resnet50(num_classes=10, in_channels=1, small_input=True, width=8)
    assert net(axonal.randn(2, 1, 28, 28)).shape == (2, 10)
    assert net.fc.in_features == 8 * 8 * 4


def _torch_basic_block(inplanes, planes, stride):
    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = torch.nn.BatchNorm2d(planes)
            self.conv2 = torch.nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = torch.nn.BatchNorm2d(planes)
            self.downsample = torch.nn.Sequential(
                torch.nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                torch.nn.BatchNorm2d(planes),
            )

        def forward(self, x):
            out = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(self.bn2(self.conv2(out)) + self.downsample(x))

    return Block()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_basic_block_matches_torch_twin(rng, dtype):
    down = nn.Sequential(nn.Conv2d(3, 4, 1, stride=2, bias=False), nn.BatchNorm2d(4))
    ours = BasicBlock(3, 4, stride=2, downsample=down)
    theirs = _torch_basic_block(3, 4, 2)
    if dtype is np.float64:
        ours.double()
        theirs.double()
    copy_params(ours, theirs)
    x = rng.standard_normal((3, 3, 7, 6)).astype(dtype)
    xa, xt = axonal.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = ours(xa), theirs(xt)
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), **TOL[dtype])
    g = rng.standard_normal(yt.shape).astype(dtype)
    y.backward(axonal.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), **TOL[dtype])
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(
            p.grad.numpy(), tp[name].grad.numpy(), err_msg=name, **TOL[dtype]
        )


def test_bottleneck_and_zero_init_residual():
    net = ResNet(
        Bottleneck, [1, 1, 1, 1], num_classes=3, small_input=True, width=4, zero_init_residual=True
    )
    for m in net.modules():
        if isinstance(m, Bottleneck):
            assert not m.bn3.weight.numpy().any()
    assert net(axonal.randn(2, 3, 16, 16)).shape == (2, 3)
    with pytest.raises(ValueError, match="ResNet: layers must be 4 positive block counts"):
        ResNet(BasicBlock, [2, 2, 2])


@pytest.mark.parametrize(
    "make",
    [
        lambda: LeNet5(num_classes=4, input_size=16),
        lambda: resnet18(num_classes=4, in_channels=1, small_input=True, width=4),
    ],
)
def test_models_learn_a_tiny_batch(rng, make):
    axonal.manual_seed(0)
    net = make()
    x = axonal.tensor(rng.standard_normal((16, 1, 16, 16)).astype(np.float32))
    t = axonal.tensor(np.arange(16) % 4)
    opt = optim.Adam(net.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = loss_fn(net(x), t)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses
