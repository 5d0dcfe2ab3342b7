"""More loss modules and the distance modules (PyTorch names, arguments and semantics).

Each module holds its options and calls the function of the same name in
:mod:`axonal.nn.functional_loss_extra`; ``reduction`` is ``'mean'`` (default), ``'sum'`` or
``'none'`` (``KLDivLoss`` also takes ``'batchmean'``).
"""

from __future__ import annotations

from typing import Optional, Union

from ..tensor import Tensor
from . import functional_loss_extra as FX
from .loss import _Loss, _WeightedLoss
from .module import Module

__all__ = [
    "KLDivLoss",
    "GaussianNLLLoss",
    "PoissonNLLLoss",
    "CosineEmbeddingLoss",
    "MarginRankingLoss",
    "TripletMarginLoss",
    "HingeEmbeddingLoss",
    "SoftMarginLoss",
    "MultiLabelSoftMarginLoss",
    "MultiMarginLoss",
    "CosineSimilarity",
    "PairwiseDistance",
]


def _repr(module: _Loss, **options: tuple) -> str:
    """``extra_repr``: the options that differ from their defaults (``name=(value, default)``),
    then the reduction when it is not ``'mean'``."""
    parts = [f"{k}={v!r}" for k, (v, d) in options.items() if v != d]
    if module.reduction != "mean":
        parts.append(f"reduction={module.reduction!r}")
    return ", ".join(parts)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence of log-probabilities ``input`` from ``target``.

    Use ``reduction='batchmean'`` for the KL divergence per sample (``'mean'`` divides by the
    element count and warns, as in PyTorch). ``log_target=True`` takes ``target`` as
    log-probabilities too.
    """

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        if reduction not in FX._KL_REDUCTIONS:
            raise ValueError(
                "KLDivLoss: reduction must be 'mean', 'batchmean', 'sum' or 'none', "
                f"got {reduction!r}"
            )
        super().__init__("mean")
        self.reduction = reduction
        self.log_target = bool(log_target)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FX.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)

    def extra_repr(self) -> str:
        return _repr(self, log_target=(self.log_target, False))


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood of ``target`` under mean ``input`` and variance ``var``
    (``forward(input, target, var)``); see :func:`functional_loss_extra.gaussian_nll_loss`."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.full = bool(full)
        self.eps = float(eps)

    def forward(self, input: Tensor, target: Tensor, var: Union[Tensor, float]) -> Tensor:
        return FX.gaussian_nll_loss(
            input, target, var, full=self.full, eps=self.eps, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return _repr(self, full=(self.full, False), eps=(self.eps, 1e-6))


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood of counts ``target`` with rate ``exp(input)``
    (``log_input=True``) or ``input``; ``full`` adds the Stirling term."""

    def __init__(
        self,
        log_input: bool = True,
        full: bool = False,
        eps: float = 1e-8,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        self.log_input = bool(log_input)
        self.full = bool(full)
        self.eps = float(eps)

    def forward(self, log_input: Tensor, target: Tensor) -> Tensor:
        return FX.poisson_nll_loss(
            log_input,
            target,
            log_input=self.log_input,
            full=self.full,
            eps=self.eps,
            reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return _repr(
            self, log_input=(self.log_input, True), full=(self.full, False), eps=(self.eps, 1e-8)
        )


class CosineEmbeddingLoss(_Loss):
    """``1 - cos(x1, x2)`` for target 1, ``max(0, cos(x1, x2) - margin)`` for target -1."""

    def __init__(self, margin: float = 0.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = float(margin)

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return FX.cosine_embedding_loss(
            input1, input2, target, margin=self.margin, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return _repr(self, margin=(self.margin, 0.0))


class MarginRankingLoss(_Loss):
    """``max(0, -target * (input1 - input2) + margin)`` for targets +1/-1."""

    def __init__(self, margin: float = 0.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = float(margin)

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return FX.margin_ranking_loss(
            input1, input2, target, margin=self.margin, reduction=self.reduction
        )

    def extra_repr(self) -> str:
        return _repr(self, margin=(self.margin, 0.0))


class TripletMarginLoss(_Loss):
    """``max(0, margin + d(anchor, positive) - d(anchor, negative))`` with the p-norm pairwise
    distance; ``swap`` uses the distance swap. ``margin`` must be positive."""

    def __init__(
        self,
        margin: float = 1.0,
        p: float = 2.0,
        eps: float = 1e-6,
        swap: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        if margin <= 0:
            raise ValueError(
                f"TripletMarginLoss: expected margin to be greater than 0, got {margin} instead"
            )
        self.margin = float(margin)
        self.p = p
        self.eps = float(eps)
        self.swap = bool(swap)

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return FX.triplet_margin_loss(
            anchor,
            positive,
            negative,
            margin=self.margin,
            p=self.p,
            eps=self.eps,
            swap=self.swap,
            reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return _repr(
            self,
            margin=(self.margin, 1.0),
            p=(self.p, 2.0),
            eps=(self.eps, 1e-6),
            swap=(self.swap, False),
        )


class HingeEmbeddingLoss(_Loss):
    """``input`` for target 1, ``max(0, margin - input)`` for target -1."""

    def __init__(self, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = float(margin)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FX.hinge_embedding_loss(input, target, margin=self.margin, reduction=self.reduction)

    def extra_repr(self) -> str:
        return _repr(self, margin=(self.margin, 1.0))


class SoftMarginLoss(_Loss):
    """Two-class logistic loss ``log(1 + exp(-target * input))`` (stable) for targets +1/-1."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FX.soft_margin_loss(input, target, reduction=self.reduction)


class MultiLabelSoftMarginLoss(_WeightedLoss):
    """Multi-label one-versus-all logistic loss, averaged over the classes (last dim);
    ``weight`` rescales classes."""

    def __init__(self, weight: Optional[Tensor] = None, reduction: str = "mean") -> None:
        super().__init__(weight, reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FX.multilabel_soft_margin_loss(
            input, target, weight=self.weight, reduction=self.reduction
        )


class MultiMarginLoss(_WeightedLoss):
    """Multi-class hinge loss ``sum_{j != y} max(0, margin - x[y] + x[j])^p / C`` (p = 1 or 2),
    scaled by ``weight[y]``; scores ``(N, C)``, class-index targets ``(N,)``."""

    def __init__(
        self,
        p: int = 1,
        margin: float = 1.0,
        weight: Optional[Tensor] = None,
        reduction: str = "mean",
    ) -> None:
        if p != 1 and p != 2:
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 supported, got p={p}")
        if weight is not None and weight.ndim != 1:
            raise ValueError(
                f"MultiMarginLoss: weight must be one-dimensional, got shape {tuple(weight.shape)}"
            )
        super().__init__(weight, reduction)
        self.p = int(p)
        self.margin = float(margin)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return FX.multi_margin_loss(
            input,
            target,
            p=self.p,
            margin=self.margin,
            weight=self.weight,
            reduction=self.reduction,
        )

    def extra_repr(self) -> str:
        return _repr(self, p=(self.p, 1), margin=(self.margin, 1.0))


class CosineSimilarity(Module):
    """Cosine similarity of ``x1`` and ``x2`` along ``dim`` (see
    :func:`functional_loss_extra.cosine_similarity`)."""

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = int(dim)
        self.eps = float(eps)

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return FX.cosine_similarity(x1, x2, dim=self.dim, eps=self.eps)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, eps={self.eps}"


class PairwiseDistance(Module):
    """``||x1 - x2 + eps||_p`` over the last dimension; the degree is stored as ``norm`` (as in
    PyTorch)."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm = p
        self.eps = float(eps)
        self.keepdim = bool(keepdim)

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return FX.pairwise_distance(x1, x2, p=self.norm, eps=self.eps, keepdim=self.keepdim)

    def extra_repr(self) -> str:
        return f"p={self.norm}, eps={self.eps}, keepdim={self.keepdim}"
