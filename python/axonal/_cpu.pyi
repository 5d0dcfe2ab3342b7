"""Type stub for the compiled CPU extension (csrc/cpu/bindings.cpp)."""

import numpy as np
import numpy.typing as npt

# glibc malloc tuned at import (bindings.cpp, tune_malloc); AXONAL_MALLOC_TUNE=0: False
malloc_tuned: bool

def gemm(
    a: npt.NDArray[np.floating],
    b: npt.NDArray[np.floating],
    out: npt.NDArray[np.floating] | None = None,
    *,
    alpha: float = 1.0,
    beta: float = 0.0,
    trans_a: bool = False,
    trans_b: bool = False,
) -> npt.NDArray[np.floating]: ...
def gemm_batched(
    a: npt.NDArray[np.floating],
    b: npt.NDArray[np.floating],
    out: npt.NDArray[np.floating] | None = None,
    *,
    alpha: float = 1.0,
    beta: float = 0.0,
    trans_a: bool = False,
    trans_b: bool = False,
) -> npt.NDArray[np.floating]: ...
def gemm_raw(
    trans_a: bool,
    trans_b: bool,
    M: int,
    N: int,
    K: int,
    alpha: float,
    A: npt.NDArray[np.floating],
    lda: int,
    B: npt.NDArray[np.floating],
    ldb: int,
    beta: float,
    C: npt.NDArray[np.floating],
    ldc: int,
) -> None: ...
def adam_update(
    param: np.ndarray,
    grad: np.ndarray,
    exp_avg: np.ndarray,
    exp_avg_sq: np.ndarray,
    max_exp_avg_sq: np.ndarray | None,
    beta1: float,
    beta2: float,
    eps: float,
    step_size: float,
    bc2_sqrt: float,
    weight_decay: float,
    maximize: bool,
    shrink: float,
) -> None: ...
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def hardware_threads() -> int: ...
def built_with_openmp() -> bool: ...
def has_avx2_fma() -> bool: ...
def has_avx512f() -> bool: ...
def _set_gemm_avx512_min_flops(flops: float) -> None: ...
def _gemm_avx512_min_flops() -> float: ...
def simd_path() -> str: ...
def set_simd_path(name: str) -> None: ...
