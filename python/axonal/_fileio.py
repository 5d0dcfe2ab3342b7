"""Atomic file writes: a temporary file beside the target, flushed, synced and renamed over it.

A crash (or an exception) at any point leaves either the old file or the complete new one, never
a half-written file. The new file gets the permissions a plain ``open(path, "wb")`` would give it:
those of the file it replaces, or 0o666 less the umask for a new one (``tempfile.mkstemp``
alone would leave every checkpoint readable by its owner only).
"""

from __future__ import annotations

import os
import secrets
import stat
from typing import Iterable, Tuple, Union

PathLike = Union[str, "os.PathLike[str]"]


def temp_file_beside(path: PathLike, suffix: str = ".tmp") -> Tuple[int, str]:
    """Create ``.<name>.<random><suffix>`` beside ``path``: (fd open for writing, its name)."""
    name = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(name))
    base = os.path.basename(name)
    try:
        mode = stat.S_IMODE(os.stat(name).st_mode)
    except OSError:
        mode = None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{base}.{secrets.token_hex(6)}{suffix}")
        try:
            fd = os.open(tmp, flags, 0o666)  # the umask applies, as for open(path, "wb")
        except FileExistsError:
            continue
        if mode is not None:
            try:
                os.chmod(tmp, mode)
            except OSError:
                pass
        return fd, tmp
    raise FileExistsError(f"could not create a temporary file beside {name}")


def sync_folder(path: str) -> None:
    # make the rename itself durable (POSIX; a no-op where folders cannot be opened)
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: PathLike, chunks: Union[bytes, Iterable[bytes]]) -> None:
    """Write ``chunks`` (bytes, or an iterable of bytes-like pieces) to ``path`` atomically."""
    name = os.fspath(path)
    if isinstance(chunks, (bytes, bytearray, memoryview)):
        chunks = (chunks,)
    fd, tmp = temp_file_beside(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            for c in chunks:
                fh.write(c)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, name)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    sync_folder(name)
