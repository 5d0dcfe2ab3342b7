"""The library's random number generator.

One seeded ``Generator`` (NumPy ``PCG64`` inside, reachable as ``gen.np``) feeds every random
function of axonal: ``rand``/``randn``/``randint``/``randperm``, ``nn.init``, dropout, data
shuffling. ``axonal.manual_seed(s)`` reseeds it (and the CuPy generator when CUDA is in use), so the
same seed gives bitwise the same tensors and CPU training runs.
"""

from __future__ import annotations

import sys
from typing import Any, Optional

import numpy as np

__all__ = [
    "Generator",
    "default_generator",
    "get_rng_state",
    "initial_seed",
    "manual_seed",
    "seed",
    "set_rng_state",
]

# PyTorch's CPU generator also starts from a fixed seed: a fresh process is repeatable.
_DEFAULT_SEED = 67280421310721


class Generator:
    """A seeded source of random numbers. ``gen.np`` is the ``numpy.random.Generator`` to draw from.

    ``manual_seed`` reseeds *in place*: code that cached ``gen.np`` keeps drawing from the
    reseeded stream.
    """

    __slots__ = ("np", "_seed", "device")

    def __init__(self, device: str = "cpu", seed: Optional[int] = None) -> None:
        self.device = str(device)
        self._seed = _DEFAULT_SEED if seed is None else _check_seed(seed)
        self.np = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> Generator:
        """Reseed this generator in place; returns it (like ``torch.Generator.manual_seed``)."""
        self._seed = _check_seed(seed)
        self.np.bit_generator.state = np.random.PCG64(self._seed).state
        return self

    def seed(self) -> int:
        """Reseed from OS entropy; returns the new seed."""
        s = int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        """A copy of the generator state (a dict; pass it to ``set_state``)."""
        return {"seed": self._seed, "bit_generator": self.np.bit_generator.state}

    def set_state(self, state: dict) -> Generator:
        self._seed = state["seed"]
        self.np.bit_generator.state = state["bit_generator"]
        return self

    def __repr__(self) -> str:
        return f"<axonal.Generator device={self.device} initial_seed={self._seed}>"


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: seed must be an int, got {type(seed).__name__}")
    seed = int(seed)
    if seed < 0:
        seed &= (1 << 64) - 1  # like torch: negative seeds wrap to uint64
    return seed


_default = Generator()


def default_generator() -> Generator:
    """The library-wide generator that every random function uses unless given ``generator=``."""
    return _default


def manual_seed(seed: int) -> Generator:
    """Seed every random source of axonal (the default generator; CuPy's too when CUDA is used)."""
    _default.manual_seed(seed)
    cp = sys.modules.get("cupy")
    if cp is not None:
        try:
            cp.random.seed(_default._seed % (2**32))
        except Exception:  # no usable GPU: nothing to seed
            pass
    return _default


def seed() -> int:
    """Seed the default generator from OS entropy and return that seed."""
    return _default.seed()


def initial_seed() -> int:
    return _default.initial_seed()


def get_rng_state() -> dict:
    return _default.get_state()


def set_rng_state(state: dict) -> None:
    _default.set_state(state)


def _np_gen(generator: Any) -> np.random.Generator:
    """The ``numpy.random.Generator`` behind ``generator`` (None: the default generator)."""
    if generator is None:
        return _default.np
    if isinstance(generator, Generator):
        return generator.np
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(
        f"generator must be an axonal.Generator or numpy.random.Generator, "
        f"got {type(generator).__name__}"
    )
