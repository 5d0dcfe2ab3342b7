"""ResNet (He et al., 2016): ``BasicBlock``, ``Bottleneck``, ``ResNet`` and resnet18/34/50.

The layout and parameter names are torchvision's (v1.5: the stride of a Bottleneck sits on its
3x3 convolution), so ``resnet18()`` has 11,689,512 parameters and ``resnet50()`` 25,557,032.
Extras: ``in_channels`` (1 for grey images), ``small_input=True`` for 28x28 / 32x32 images (a 3x3
stride-1 stem and no max-pool, as in the CIFAR ResNets) and ``width`` (the channels of the
first stage, 64 in the paper) for small, fast networks.
"""

from __future__ import annotations

from typing import List, Optional, Type, Union

from .. import nn
from ..nn import init
from ..tensor import Tensor

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "resnet18", "resnet34", "resnet50"]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers and an identity (or 1x1 conv-BN ``downsample``) shortcut."""

    expansion = 1

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None
    ) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU()
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 (reduce) - 3x3 (stride) - 1x1 (expand x4) conv-BN layers plus a shortcut."""

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: Optional[nn.Module] = None
    ) -> None:
        super().__init__()
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


_Block = Type[Union[BasicBlock, Bottleneck]]


class ResNet(nn.Module):
    """A ResNet of ``block``s: ``layers[i]`` blocks in stage ``i`` (width ``width * 2**i``).

    Stem: 7x7/2 conv + BN + ReLU + 3x3/2 max-pool, or with ``small_input=True`` a 3x3/1 conv +
    BN + ReLU (no pooling). Head: global average pooling and ``fc``. Convolutions get
    ``kaiming_normal_(mode='fan_out', nonlinearity='relu')``, BatchNorm weight 1 / bias 0;
    ``zero_init_residual`` zeroes the last BN weight of every block (each starts as identity).
    """

    def __init__(
        self,
        block: _Block,
        layers: List[int],
        num_classes: int = 1000,
        in_channels: int = 3,
        small_input: bool = False,
        width: int = 64,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        if len(layers) != 4 or any(n < 1 for n in layers):
            raise ValueError(f"ResNet: layers must be 4 positive block counts, got {layers!r}")
        self.inplanes = width
        self.small_input = bool(small_input)
        if self.small_input:
            self.conv1 = nn.Conv2d(in_channels, width, 3, stride=1, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        self.maxpool = nn.Identity() if self.small_input else nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 8 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    init.zeros_(m.bn2.weight)

    def _make_layer(self, block: _Block, planes: int, blocks: int, stride: int = 1) -> nn.Module:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x)
        return self.fc(x.flatten(1))


def resnet18(
    num_classes: int = 1000, in_channels: int = 3, small_input: bool = False, **kwargs
) -> ResNet:
    """ResNet-18: BasicBlocks [2, 2, 2, 2] (11,689,512 parameters with 1000 classes)."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes, in_channels, small_input, **kwargs)


def resnet34(
    num_classes: int = 1000, in_channels: int = 3, small_input: bool = False, **kwargs
) -> ResNet:
    """ResNet-34: BasicBlocks [3, 4, 6, 3] (21,797,672 parameters with 1000 classes)."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes, in_channels, small_input, **kwargs)


def resnet50(
    num_classes: int = 1000, in_channels: int = 3, small_input: bool = False, **kwargs
) -> ResNet:
    """ResNet-50: Bottlenecks [3, 4, 6, 3] (25,557,032 parameters with 1000 classes)."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes, in_channels, small_input, **kwargs)
