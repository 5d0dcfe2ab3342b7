"""``axonal.save`` / ``axonal.load``: state dicts as safetensors files (no pickle).

The file format is the one of Hugging Face's ``safetensors``, so files written here load with
``safetensors.numpy.load_file`` (and ``safetensors.torch.load_file``) and the other way round::

    8 bytes     little-endian unsigned length N of the header
    N bytes     UTF-8 JSON: {"name": {"dtype": "F32", "shape": [3, 4], "data_offsets": [b, e]},
                             ..., "__metadata__": {"key": "value"}}   (padded with spaces)
    the rest    the raw little-endian tensor bytes, C order; data_offsets count from here

Writing to a path is atomic: the bytes go to a temporary file in the same folder, which is
flushed, synced and then renamed over the target with ``os.replace``; an error at any point
leaves an existing file untouched (and no temporary file behind).
"""

from __future__ import annotations

import json
import math
import os
import struct
import sys
from collections import OrderedDict
from typing import IO, Any, Dict, Mapping, Optional, Tuple, Union

import numpy as np

from ._fileio import sync_folder, temp_file_beside

__all__ = ["save", "load", "load_metadata", "save_bytes", "load_bytes"]

PathOrFile = Union[str, "os.PathLike[str]", IO[bytes]]

# safetensors dtype codes <-> NumPy dtypes (BF16 and the F8 types have no NumPy equivalent)
_TO_CODE = {
    np.dtype(np.bool_): "BOOL",
    np.dtype(np.uint8): "U8",
    np.dtype(np.int8): "I8",
    np.dtype(np.uint16): "U16",
    np.dtype(np.int16): "I16",
    np.dtype(np.uint32): "U32",
    np.dtype(np.int32): "I32",
    np.dtype(np.uint64): "U64",
    np.dtype(np.int64): "I64",
    np.dtype(np.float16): "F16",
    np.dtype(np.float32): "F32",
    np.dtype(np.float64): "F64",
}
_FROM_CODE = {code: dt for dt, code in _TO_CODE.items()}
_MAX_HEADER = 100_000_000  # the limit safetensors itself enforces


def _host_array(value: Any, name: str) -> np.ndarray:
    arr = getattr(value, "_data", value)  # axonal Tensor -> its array
    if hasattr(arr, "get") and not isinstance(arr, np.ndarray):  # CuPy -> host
        arr = arr.get()
    if not isinstance(arr, np.ndarray):
        if isinstance(arr, (bool, int, float, np.generic)):
            arr = np.asarray(arr)
        else:
            raise TypeError(
                f"axonal.save: value {name!r} is a {type(value).__name__}; only axonal Tensors "
                "and NumPy arrays can be saved (safetensors holds tensors, not Python objects)"
            )
    if arr.dtype not in _TO_CODE:
        raise TypeError(
            f"axonal.save: tensor {name!r} has dtype {arr.dtype}, which safetensors cannot "
            f"store (supported: {', '.join(str(d) for d in _TO_CODE)})"
        )
    return arr


def _le_bytes(arr: np.ndarray) -> bytes:
    big = arr.dtype.byteorder == ">" or (arr.dtype.byteorder == "=" and sys.byteorder == "big")
    if big:
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    return np.ascontiguousarray(arr).tobytes()


def save_bytes(
    state_dict: Mapping[str, Any], metadata: Optional[Mapping[str, str]] = None
) -> bytes:
    """The safetensors encoding of ``state_dict`` (names -> Tensors or arrays) as bytes."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"axonal.save: expected a mapping of names to tensors (e.g. model.state_dict()), "
            f"got {type(state_dict).__name__}"
        )
    header: Dict[str, Any] = {}
    if metadata:
        meta = {}
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(
                    f"axonal.save: metadata must map str to str (safetensors rule), got "
                    f"{k!r}: {v!r}"
                )
            meta[k] = v
        header["__metadata__"] = meta
    chunks = []
    offset = 0
    for name, value in state_dict.items():
        if not isinstance(name, str):
            raise TypeError(f"axonal.save: tensor names must be str, got {name!r}")
        if name == "__metadata__":
            raise ValueError("axonal.save: '__metadata__' is reserved and cannot name a tensor")
        arr = _host_array(value, name)
        data = _le_bytes(arr)
        header[name] = {
            "dtype": _TO_CODE[arr.dtype],
            "shape": [int(s) for s in arr.shape],
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)  # keep the data 8-byte aligned, as safetensors does
    return b"".join([struct.pack("<Q", len(head)), head, *chunks])


def _parse_header(buf: Union[bytes, memoryview], source: str) -> Tuple[Dict[str, Any], int]:
    if len(buf) < 8:
        raise ValueError(
            f"axonal.load: {source}: file too short ({len(buf)} bytes) for safetensors"
        )
    (n,) = struct.unpack("<Q", bytes(buf[:8]))
    if n > _MAX_HEADER or 8 + n > len(buf):
        raise ValueError(
            f"axonal.load: {source}: header length {n} is invalid for a file of {len(buf)} bytes "
            "(not a safetensors file, or truncated)"
        )
    try:
        header = json.loads(bytes(buf[8 : 8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"axonal.load: {source}: the header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise ValueError(f"axonal.load: {source}: the header is not a JSON object")
    meta = header.get("__metadata__")
    if meta is not None and (
        not isinstance(meta, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
    ):
        raise ValueError(
            f"axonal.load: {source}: __metadata__ must map str to str, got {_short(meta)}"
        )
    return header, 8 + n


def _short(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 200 else r[:200] + "..."


def _ints(v: Any, n: Optional[int]) -> Optional[list]:
    # a JSON list of non-negative ints (of length n); JSON true/false, floats, strings are not
    if not isinstance(v, list) or (n is not None and len(v) != n):
        return None
    if not all(type(x) is int and x >= 0 for x in v):
        return None
    return v


def _decode(buf: Union[bytes, memoryview], source: str, device: Any) -> OrderedDict[str, Any]:
    from .ops import from_numpy

    header, start = _parse_header(buf, source)
    size = len(buf) - start
    entries = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        # strict, as the safetensors library: a shape "23" is not (2, 3), nor 2.7 a size of 2
        shape = _ints(info.get("shape"), None) if isinstance(info, dict) else None
        offsets = _ints(info.get("data_offsets"), 2) if isinstance(info, dict) else None
        code = info.get("dtype") if isinstance(info, dict) else None
        if shape is None or offsets is None or not isinstance(code, str):
            raise ValueError(
                f"axonal.load: {source}: malformed header entry {name!r}: {_short(info)} (need "
                "a dtype string, a shape of non-negative ints and two non-negative data_offsets)"
            )
        b, e = offsets
        if code not in _FROM_CODE:
            raise ValueError(
                f"axonal.load: {source}: tensor {name!r} has dtype {code}, which NumPy (and so "
                "axonal) cannot represent"
            )
        dt = _FROM_CODE[code].newbyteorder("<")
        count = math.prod(shape)  # Python ints: np.prod wraps at 2^63
        if not (0 <= b <= e <= size) or e - b != count * dt.itemsize:
            raise ValueError(
                f"axonal.load: {source}: tensor {name!r} ({code}, shape {tuple(shape)}) has "
                f"data_offsets [{b}, {e}] that do not fit its size or the {size}-byte buffer"
            )
        entries.append((b, name, dt, shape, count, e))
    entries.sort(key=lambda t: (t[0], t[5]))  # file order == the order the tensors were saved
    end, prev = 0, None
    for b, name, _dt, _shape, count, e in entries:
        if b < end and count:
            raise ValueError(
                f"axonal.load: {source}: tensors {prev!r} and {name!r} overlap in the data "
                f"buffer (byte {b} < {end})"
            )
        if count:
            end, prev = e, name
    out: OrderedDict[str, Any] = OrderedDict()
    for b, name, dt, shape, count, _e in entries:
        arr = np.frombuffer(buf, dtype=dt, count=count, offset=start + b).reshape(shape)
        if dt.kind == "b" and count and np.frombuffer(buf, np.uint8, count, start + b).max() > 1:
            raise ValueError(
                f"axonal.load: {source}: BOOL tensor {name!r} holds bytes other than 0 and 1"
            )
        arr = arr.astype(dt.newbyteorder("="), copy=True)  # native order, aligned, writable
        t = from_numpy(arr)
        if device is not None and str(device) != "cpu":
            t = t.to(device)
        out[name] = t
    return out


def load_bytes(data: Union[bytes, bytearray, memoryview], device: Any = None) -> OrderedDict:
    """Decode safetensors bytes into an ordered ``{name: Tensor}``."""
    return _decode(memoryview(data), "<bytes>", device)


def save(
    state_dict: Mapping[str, Any],
    f: PathOrFile,
    metadata: Optional[Mapping[str, str]] = None,
) -> None:
    """Write ``state_dict`` (names -> Tensors or NumPy arrays) to ``f`` in safetensors format.

    ``f`` is a path (written atomically: temporary file + ``os.replace``) or a binary file
    object. ``metadata`` is an optional str -> str mapping stored in the header.
    Example: ``axonal.save(model.state_dict(), "model.safetensors")``.
    """
    payload = save_bytes(state_dict, metadata)
    if hasattr(f, "write"):
        f.write(payload)  # type: ignore[union-attr]
        return
    path = os.fspath(f)  # type: ignore[arg-type]
    fd, tmp = temp_file_beside(path)  # not mkstemp: its 0o600 would replace the file's permissions
    try:
        with os.fdopen(fd, "wb") as fh:
            _write_all(fh, payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    sync_folder(path)


def _write_all(fh: IO[bytes], payload: bytes) -> None:
    # in chunks, so that a large file never needs a second full copy in memory
    view = memoryview(payload)
    step = 1 << 24
    for i in range(0, len(view), step):
        fh.write(view[i : i + step])


def _read(f: PathOrFile) -> Tuple[bytes, str]:
    if hasattr(f, "read"):
        return f.read(), getattr(f, "name", "<file>")  # type: ignore[union-attr]
    path = os.fspath(f)  # type: ignore[arg-type]
    with open(path, "rb") as fh:
        return fh.read(), path


def load(f: PathOrFile, device: Any = None) -> OrderedDict[str, Any]:
    """Read a safetensors file (path or binary file object) into an ordered ``{name: Tensor}``
    in the order the tensors were saved; ``model.load_state_dict(axonal.load(path))``.

    ``device`` (e.g. ``"cuda"``) moves the tensors after loading (default: CPU).
    """
    buf, source = _read(f)
    return _decode(memoryview(buf), source, device)


def load_metadata(f: PathOrFile) -> Dict[str, str]:
    """The ``__metadata__`` str -> str mapping of a safetensors file ({} when there is none)."""
    if hasattr(f, "read"):
        head = f.read(8)  # type: ignore[union-attr]
        n = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
        buf = head + f.read(min(n, _MAX_HEADER))  # type: ignore[union-attr]
        source = getattr(f, "name", "<file>")
    else:
        source = os.fspath(f)  # type: ignore[arg-type]
        with open(source, "rb") as fh:
            head = fh.read(8)
            n = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
            buf = head + fh.read(min(n, _MAX_HEADER))
    header, _ = _parse_header(buf, source)
    return dict(header.get("__metadata__", {}) or {})
