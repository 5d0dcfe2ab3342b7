"""The IDX file format of MNIST-style datasets (optionally gzip-compressed).

Layout (big-endian): two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
0x0D float32, 0x0E float64), the number of dimensions, one uint32 per dimension, then the data
in C order.
"""

from __future__ import annotations

import gzip
import math
import os
from typing import Any, Union

import numpy as np

from .._fileio import atomic_write as _atomic_write

__all__ = ["load_idx", "write_idx"]

PathLike = Union[str, "os.PathLike[str]"]

_CODE_TO_DTYPE = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_DTYPE_TO_CODE = {
    np.dtype(np.uint8): 0x08,
    np.dtype(np.int8): 0x09,
    np.dtype(np.int16): 0x0B,
    np.dtype(np.int32): 0x0C,
    np.dtype(np.float32): 0x0D,
    np.dtype(np.float64): 0x0E,
}
_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: PathLike) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise ValueError(f"load_idx: {os.fspath(path)}: corrupt gzip data ({e})") from None
    return raw


def load_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file (raw, or gzip detected from its first bytes) into a native-endian array.

    Raises ValueError for a bad magic number, an unknown type code, or a data size that does not
    match the header.
    """
    name = os.fspath(path)
    buf = _read_bytes(path)
    if len(buf) < 4:
        raise ValueError(f"load_idx: {name}: file too short ({len(buf)} bytes) for an IDX header")
    if buf[0] != 0 or buf[1] != 0:
        raise ValueError(
            f"load_idx: {name}: bad magic number 0x{buf[:4].hex()} (an IDX file starts with two "
            "zero bytes, a type code and the number of dimensions)"
        )
    code, ndim = buf[2], buf[3]
    if code not in _CODE_TO_DTYPE:
        raise ValueError(f"load_idx: {name}: unknown IDX type code 0x{code:02x}")
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise ValueError(
            f"load_idx: {name}: header declares {ndim} dimensions but the file has only "
            f"{len(buf)} bytes"
        )
    shape = tuple(int(d) for d in np.frombuffer(buf, dtype=">u4", count=ndim, offset=4))
    dtype = _CODE_TO_DTYPE[code]
    expected = math.prod(shape) * dtype.itemsize  # Python ints: np.prod wraps at 2^63
    actual = len(buf) - header
    if actual != expected:
        raise ValueError(
            f"load_idx: {name}: size mismatch: header shape {shape} of {dtype.newbyteorder('=')} "
            f"needs {expected} data bytes, the file has {actual}"
        )
    data = np.frombuffer(buf, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # native byte order, writable copy


def write_idx(path: PathLike, array: Any) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``).

    The file is written to a temporary name in the same folder and moved into place with
    ``os.replace``, so readers never see a half-written file.
    """
    a = np.asarray(array.numpy() if hasattr(array, "numpy") else array)
    name = os.fspath(path)
    code = _DTYPE_TO_CODE.get(a.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(
            f"write_idx: {name}: dtype {a.dtype} has no IDX type code (use uint8, int8, int16, "
            "int32, float32 or float64)"
        )
    if not 1 <= a.ndim <= 255:
        raise ValueError(f"write_idx: {name}: need 1 to 255 dimensions, got shape {a.shape}")
    if any(d >= 2**32 for d in a.shape):
        raise ValueError(f"write_idx: {name}: dimension too large for IDX in shape {a.shape}")
    payload = (
        bytes([0, 0, code, a.ndim])
        + np.asarray(a.shape, dtype=">u4").tobytes()
        + np.ascontiguousarray(a, dtype=a.dtype.newbyteorder(">")).tobytes()
    )
    if name.endswith(".gz"):
        payload = gzip.compress(payload, mtime=0)
    atomic_write(name, payload)


def atomic_write(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    name = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(name)), exist_ok=True)
    _atomic_write(name, data)  # synced before the rename; the permissions of a plain open()
