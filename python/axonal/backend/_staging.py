"""Host-to-device copies of NumPy arrays through reused page-locked buffers.

A copy from ordinary (pageable) host memory cannot run asynchronously; a training loop that moves
each batch with ``.to("cuda")`` would wait for it. Here a batch is first copied into a page-locked
(pinned) staging buffer on the host, then sent with ``cudaMemcpyAsync`` on the current stream; an
event recorded after the copy says when the buffer may be refilled. Buffers are kept per device
and reused (the first ones fitting and no longer read by a pending copy), at most ``MAX_SLOTS``
of them; past that the oldest one's copy is waited for. The destination is allocated on the
current stream, so the copy is ordered before any kernel that reads it.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, List

import numpy as np

MAX_SLOTS = 16
_MIN_BYTES = 1 << 16


class _Slot:
    __slots__ = ("nbytes", "mem", "host", "event", "busy")

    def __init__(self, cp: Any, nbytes: int) -> None:
        self.nbytes = nbytes
        self.mem = cp.cuda.alloc_pinned_memory(nbytes)
        self.host = np.frombuffer(self.mem, np.uint8, nbytes)
        self.event = cp.cuda.Event(block=False, disable_timing=True, interprocess=False)
        self.busy = False  # a copy was issued from it (its event says when it is done)

    def free(self) -> bool:
        if self.busy and self.event.done:
            self.busy = False
        return not self.busy


_slots: Dict[int, List[_Slot]] = {}
_lock = threading.Lock()


def upload(cp: Any, a: np.ndarray) -> Any:
    """``a`` (a NumPy array) as a new C-contiguous CuPy array on the current device, copied
    asynchronously on the current stream through a pinned staging buffer."""
    if not a.flags.c_contiguous:
        a = a.copy(order="C")  # (np.ascontiguousarray would make a 0-d array 1-d)
    out = cp.empty(a.shape, dtype=a.dtype)
    n = a.nbytes
    if n == 0:
        return out
    dev = cp.cuda.runtime.getDevice()
    stream = cp.cuda.get_current_stream()
    with _lock:
        slots = _slots.setdefault(dev, [])
        slot = next((s for s in slots if s.nbytes >= n and s.free()), None)
        if slot is None:
            if len(slots) >= MAX_SLOTS:  # all taken: wait for the oldest copy, then replace it
                old = slots.pop(0)
                old.event.synchronize()
            slot = _Slot(cp, max(_MIN_BYTES, 1 << (n - 1).bit_length()))
            slots.append(slot)
        slot.host[:n] = a.reshape(-1).view(np.uint8)
        out.data.copy_from_host_async(slot.mem.ptr, n, stream)
        slot.event.record(stream)
        slot.busy = True
    return out
