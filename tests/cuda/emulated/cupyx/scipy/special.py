"""cupyx.scipy.special stand-in: erf through math.erf (see ../../../fake_gpu.py)."""

import math

import cupy as _cp
import numpy as _np

_erf = _np.vectorize(math.erf, otypes=[_np.float64])


def erf(x):
    _cp.launches[0] += 1
    return _cp._w(_erf(_np.asarray(x)).astype(_np.asarray(x).dtype))
