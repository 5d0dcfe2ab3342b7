"""axonal: a small, fast deep-learning library for AI in medicine.

Hand-written C++ (and CUDA) kernels under a PyTorch-shaped Python API.
"""

from __future__ import annotations

from . import backend, cuda
from ._runtime import get_num_threads, info, set_num_threads
from ._version import __version__

__all__ = ["__version__", "backend", "cuda", "get_num_threads", "info", "set_num_threads"]
