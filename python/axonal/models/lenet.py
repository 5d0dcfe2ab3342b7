"""LeNet-5 (LeCun et al., 1998) with modern defaults: ReLU and max-pooling."""

from __future__ import annotations

from .. import nn
from ..tensor import Tensor

__all__ = ["LeNet5"]


class LeNet5(nn.Module):
    """conv 5x5 (6) - pool - conv 5x5 (16) - pool - fc 120 - fc 84 - fc ``num_classes``.

    ``input_size`` is the side of the (square) input images; below 32 the first convolution pads
    by 2 (size-preserving), so that 28 and 32 both reach the classic 16 x 5 x 5 feature map
    (61,706 parameters for one input channel and 10 classes). ``activation``: ``"relu"`` (default)
    or ``"tanh"``; ``pool``: ``"max"`` (default) or ``"avg"``.
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        input_size: int = 28,
        activation: str = "relu",
        pool: str = "max",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if activation not in ("relu", "tanh"):
            raise ValueError(f"LeNet5: activation must be 'relu' or 'tanh', got {activation!r}")
        if pool not in ("max", "avg"):
            raise ValueError(f"LeNet5: pool must be 'max' or 'avg', got {pool!r}")
        pad = 2 if int(input_size) < 32 else 0  # 'same' first conv for small images
        side = ((int(input_size) + 2 * pad - 4) // 2 - 4) // 2
        if side < 1:
            raise ValueError(f"LeNet5: input_size {input_size} is too small (at least 12)")

        def act() -> nn.Module:
            return nn.ReLU() if activation == "relu" else nn.Tanh()

        def pool_layer() -> nn.Module:
            return nn.MaxPool2d(2, 2) if pool == "max" else nn.AvgPool2d(2, 2)

        self.num_classes, self.in_channels, self.input_size = num_classes, in_channels, input_size
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=pad),
            act(),
            pool_layer(),
            nn.Conv2d(6, 16, 5),
            act(),
            pool_layer(),
        )
        head = [nn.Flatten(), nn.Linear(16 * side * side, 120), act()]
        if dropout > 0:
            head.append(nn.Dropout(dropout))
        head += [nn.Linear(120, 84), act(), nn.Linear(84, num_classes)]
        self.classifier = nn.Sequential(*head)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
