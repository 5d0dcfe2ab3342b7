"""``axonal.nn.utils``: gradient clipping, weight penalties, parameter vectors; ``rnn``:
packed and padded variable-length sequences."""

from __future__ import annotations

from . import rnn
from .clip_grad import (
    clip_grad_norm_,
    clip_grad_value_,
    elastic_net_penalty,
    l1_penalty,
    l2_penalty,
    parameters_to_vector,
    vector_to_parameters,
)

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "elastic_net_penalty",
    "l1_penalty",
    "l2_penalty",
    "parameters_to_vector",
    "vector_to_parameters",
    "rnn",
]
