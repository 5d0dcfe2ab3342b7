"""axonal: a small, fast deep-learning library for AI in medicine.

Hand-written C++ (and CUDA) kernels under a PyTorch-shaped Python API.
"""

from __future__ import annotations

from . import autograd, backend, cuda, dtypes, ops, random
from ._runtime import get_num_threads, info, set_num_threads
from ._version import __version__
from .autograd import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from .dtypes import (
    bool_,
    double,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    short,
    uint8,
)
from .ops import *  # noqa: F401,F403  (the functional API: exp, sum, matmul, cat, ...)
from .ops import values_indices
from .random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state

# Tensor + autograd core (tensor first: the autograd and ops modules import it)
from .tensor import Tensor, device  # noqa: I001

# PyTorch-style dtype aliases whose names shadow builtins (only inside this namespace)
bool = bool_  # noqa: A001
float = float32  # noqa: A001
int = int32  # noqa: A001

__all__ = [
    "__version__",
    "backend",
    "cuda",
    "get_num_threads",
    "info",
    "set_num_threads",
    "Tensor",
    "device",
    "autograd",
    "dtypes",
    "ops",
    "random",
    "Generator",
    "manual_seed",
    "seed",
    "initial_seed",
    "get_rng_state",
    "set_rng_state",
    "no_grad",
    "enable_grad",
    "inference_mode",
    "is_grad_enabled",
    "set_grad_enabled",
    "float16",
    "half",
    "float32",
    "float64",
    "double",
    "int8",
    "int16",
    "short",
    "int32",
    "int64",
    "long",
    "uint8",
    "bool_",
    "get_default_dtype",
    "set_default_dtype",
    "values_indices",
] + [n for n in ops.__all__ if not n[0].isupper() and n not in ("np",)]

from . import utils  # noqa: E402, F401, I001
from . import datasets  # noqa: E402, F401
from . import nn  # noqa: E402, F401
from . import optim  # noqa: E402, F401
from .serialization import load, save  # noqa: E402, F401
from . import training  # noqa: E402, F401
from . import backends  # noqa: E402, F401
