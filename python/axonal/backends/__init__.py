"""``axonal.backends``: switches that change how the backends compute, as ``torch.backends``.

``axonal.backends.cuda.matmul.allow_tf32`` (default ``False``) lets float32 GEMMs on the GPU run
on TF32 tensor cores (10-bit mantissa inputs, float32 accumulation): several times faster, about
1e-3 relative error instead of 1e-6.
"""

from __future__ import annotations

from . import cuda

__all__ = ["cuda"]
