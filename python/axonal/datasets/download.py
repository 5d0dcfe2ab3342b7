"""Downloading dataset files: a list of mirrors, md5 verification, atomic writes.

Nothing here runs unless a dataset is created with ``download=True``; tests exercise it with
``file://`` mirrors.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Optional, Sequence, Union

from .._fileio import temp_file_beside

__all__ = ["check_integrity", "download_file", "md5sum"]

PathLike = Union[str, "os.PathLike[str]"]
_CHUNK = 1 << 20


def md5sum(path: PathLike) -> str:
    """Hex md5 digest of a file's bytes."""
    h = _new_md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _new_md5() -> Any:
    # md5 is a checksum against corrupt downloads here, not a security measure
    return hashlib.md5(usedforsecurity=False)


def check_integrity(path: PathLike, md5: Optional[str] = None) -> bool:
    """True when ``path`` is a file and (if ``md5`` is given) its md5 digest matches."""
    if not os.path.isfile(path):
        return False
    return md5 is None or md5sum(path) == md5.lower()


def download_file(
    filename: str,
    root: PathLike,
    mirrors: Sequence[str],
    md5: Optional[str] = None,
    timeout: float = 60.0,
) -> str:
    """Fetch ``filename`` from the first mirror that serves it with the right md5.

    Each mirror is a URL prefix (``https://host/path/`` or ``file:///dir/``). The bytes go to a
    temporary file in ``root``, are checked, then moved to ``root/filename`` with ``os.replace``
    (a failed or corrupt download never leaves a partial file behind). Raises RuntimeError
    listing what went wrong at every mirror. Returns the final path.
    """
    import urllib.error  # imported here: only downloads need the HTTP stack
    import urllib.request

    if not mirrors:
        raise ValueError(f"download_file: no mirrors given for {filename}")
    root = os.fspath(root)
    os.makedirs(root, exist_ok=True)
    dest = os.path.join(root, filename)
    errors = []
    for mirror in mirrors:
        url = mirror if mirror.endswith(filename) else mirror.rstrip("/") + "/" + filename
        fd, tmp = temp_file_beside(dest, suffix=".part")
        try:
            h = _new_md5()
            req = urllib.request.Request(url, headers={"User-Agent": "axonal"})
            with urllib.request.urlopen(req, timeout=timeout) as resp, os.fdopen(fd, "wb") as out:
                fd = -1
                for chunk in iter(lambda: resp.read(_CHUNK), b""):
                    h.update(chunk)
                    out.write(chunk)
            digest = h.hexdigest()
            if md5 is not None and digest != md5.lower():
                errors.append(f"{url}: md5 {digest} != expected {md5}")
                continue
            os.replace(tmp, dest)
            return dest
        except (urllib.error.URLError, OSError, ValueError) as e:
            errors.append(f"{url}: {e}")
        finally:
            if fd != -1:
                os.close(fd)
            if os.path.exists(tmp):
                os.remove(tmp)
    raise RuntimeError(f"download_file: could not download {filename}:\n  " + "\n  ".join(errors))
