"""Type stub for the compiled CUDA extension (csrc/cuda/bindings.cpp); absent in CPU-only builds.

Kernel entries take raw device pointers and the CUDA stream as ints (CuPy: ``arr.data.ptr``,
``cupy.cuda.get_current_stream().ptr``); use the adapters in ``axonal.backend.cuda`` instead.
dtype codes: 0 float32, 1 float64, 2 bfloat16. Conv geometry: [N, C, H, W, K, R, S, P, Q, sh, sw,
ph, pw, dh, dw, groups]; pool geometry: [N, C, H, W, P, Q, kh, kw, sh, sw, ph, pw, dh, dw].
"""

from typing import Optional, Sequence

import numpy as np
import numpy.typing as npt

def device_count() -> int: ...
def device_properties(device: int = 0) -> dict: ...
def runtime_version() -> int: ...
def compiled_version() -> int: ...
def synchronize() -> None: ...
def gemm(
    in_dtype: int,
    out_dtype: int,
    use_tf32: bool,
    trans_a: bool,
    trans_b: bool,
    M: int,
    N: int,
    K: int,
    alpha: float,
    a: int,
    lda: int,
    stride_a: int,
    b: int,
    ldb: int,
    stride_b: int,
    beta: float,
    c: int,
    ldc: int,
    stride_c: int,
    batch: int,
    stream: int,
) -> None: ...
def gemm_kernel_name(in_dtype: int, use_tf32: bool = False) -> str: ...
def set_tf32_kernel(which: int) -> None: ...
def tf32_kernel() -> int: ...
def conv2d_forward(
    dtype: int, geom: Sequence[int], x: int, w: int, b: int, y: int, stream: int
) -> None: ...
def conv2d_backward_input(
    dtype: int, geom: Sequence[int], dy: int, w: int, dx: int, stream: int
) -> None: ...
def conv2d_backward_weight(
    dtype: int, geom: Sequence[int], dy: int, x: int, dw: int, stream: int
) -> None: ...
def conv2d_backward_bias(
    dtype: int, N: int, K: int, L: int, dy: int, db: int, stream: int
) -> None: ...
def max_pool2d_forward(
    dtype: int, geom: Sequence[int], x: int, y: int, idx: int, stream: int
) -> None: ...
def max_pool2d_backward(
    dtype: int, geom: Sequence[int], dy: int, idx: int, dx: int, stream: int
) -> None: ...
def avg_pool2d_forward(
    dtype: int,
    geom: Sequence[int],
    count_include_pad: bool,
    divisor: int,
    x: int,
    y: int,
    stream: int,
) -> None: ...
def avg_pool2d_backward(
    dtype: int,
    geom: Sequence[int],
    count_include_pad: bool,
    divisor: int,
    dy: int,
    dx: int,
    stream: int,
) -> None: ...
def adaptive_avg_pool2d_forward(
    dtype: int, geom: Sequence[int], x: int, y: int, stream: int
) -> None: ...
def adaptive_avg_pool2d_backward(
    dtype: int, geom: Sequence[int], dy: int, dx: int, stream: int
) -> None: ...
def softmax_forward(
    dtype: int, log: bool, x: int, y: int, rows: int, cols: int, stream: int
) -> None: ...
def softmax_backward(
    dtype: int, log: bool, y: int, dy: int, dx: int, rows: int, cols: int, stream: int
) -> None: ...
def softmax_kernel_name(cols: int) -> str: ...
def emulate_gemm(
    a: npt.NDArray[np.floating],
    b: npt.NDArray[np.floating],
    c: npt.NDArray[np.floating],
    trans_a: bool,
    trans_b: bool,
    M: int,
    N: int,
    K: int,
    alpha: float,
    lda: int,
    stride_a: int,
    ldb: int,
    stride_b: int,
    beta: float,
    ldc: int,
    stride_c: int,
    batch: int,
    allow_vec: bool = True,
    tf32_kernel: int = 0,
) -> None: ...
def emulate_conv2d(
    pass_: int,
    geom: Sequence[int],
    in0: npt.NDArray[np.floating],
    in1: npt.NDArray[np.floating],
    bias: Optional[npt.NDArray[np.floating]],
    out: npt.NDArray[np.floating],
    splits: int = 0,
) -> None: ...
def emulate_pool2d(
    kind: int,
    geom: Sequence[int],
    count_include_pad: bool,
    divisor: int,
    inp: npt.NDArray[np.floating],
    idx: Optional[npt.NDArray[np.int64]],
    out: npt.NDArray[np.floating],
) -> None: ...
def emulate_softmax(
    backward: bool,
    log: bool,
    in0: npt.NDArray[np.floating],
    in1: Optional[npt.NDArray[np.floating]],
    out: npt.NDArray[np.floating],
    rows: int,
    cols: int,
) -> None: ...
def cross_entropy_forward(
    dtype: int,
    logp: int,
    target: int,
    weight: int,
    ignore_index: int,
    eps: float,
    reduction: int,
    rows: int,
    classes: int,
    loss: int,
    aux: int,
    stream: int,
) -> None: ...
def cross_entropy_backward(
    dtype: int,
    logp: int,
    target: int,
    weight: int,
    ignore_index: int,
    eps: float,
    reduction: int,
    rows: int,
    classes: int,
    grad: int,
    aux: int,
    dx: int,
    stream: int,
) -> None: ...
def emulate_cross_entropy(
    backward: bool,
    logp: npt.NDArray[np.floating],
    target: npt.NDArray[np.int64],
    weight: Optional[npt.NDArray[np.floating]],
    ignore_index: int,
    eps: float,
    reduction: int,
    grad: Optional[npt.NDArray[np.floating]],
    aux: npt.NDArray[np.float64],
    out: npt.NDArray[np.floating],
) -> None: ...
def adam_update_multi(
    dtype: int,
    tensors: Sequence[tuple[int, int, int, int, int, int, float, float]],
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    maximize: bool,
    shrink: float,
    stream: int,
) -> None: ...
def relu_backward(dtype: int, n: int, output: int, grad: int, dx: int, stream: int) -> None: ...
def tf32_wgmma_available() -> bool: ...
