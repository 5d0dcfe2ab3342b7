"""``axonal.models``: ready-made networks (LeNet-5, ResNet-18/34/50 and their building blocks).

    from axonal.models import LeNet5, resnet18
    net = resnet18(num_classes=10, in_channels=1, small_input=True)   # 28x28 / 32x32 images

Parameter names follow torchvision (``conv1``, ``bn1``, ``layer1.0.conv1``, ``fc``, ...).
"""

from __future__ import annotations

from .lenet import LeNet5
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50

__all__ = ["BasicBlock", "Bottleneck", "LeNet5", "ResNet", "resnet18", "resnet34", "resnet50"]
