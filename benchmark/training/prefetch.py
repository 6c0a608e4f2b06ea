"""Batches gathered ahead of the training step: the input pipeline never makes the model wait.

A background thread gathers the next batches from the prepared cache (``PreparedSplit.batches``,
a row gather from the memory map) while the current step runs, into pinned memory when the model
trains on CUDA; the copy of batch k + 1 to the device is issued on a side stream, non-blocking,
before batch k is handed to the step, so it overlaps the step's kernels.

The order of the batches is the source's: the thread only runs ahead of it. It draws nothing from
torch's global random state, so seeding and determinism are those of the loop without it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from types import TracebackType

import torch

Batch = tuple[torch.Tensor, torch.Tensor]


class _Done:
    pass


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class Prefetcher:
    """``with Prefetcher(batches, device) as prefetched: for images, targets in prefetched: ...``

    yields ``batches``'s (images, targets) on ``device``, gathered ``depth`` batches ahead. Leaving
    the ``with`` block (at the end, on ``break`` or on an exception) stops the thread.
    """

    def __init__(self, batches: Iterable[Batch], device: torch.device, depth: int = 2) -> None:
        self._source = batches
        self._device = device
        self._cuda = device.type == "cuda"
        self._queue: queue.Queue[Batch | _Done | _Failed] = queue.Queue(maxsize=max(depth, 1))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="cxr-prefetch", daemon=True)
        self._stream = torch.cuda.Stream(device) if self._cuda else None

    def __enter__(self) -> Iterator[Batch]:
        self._thread.start()
        return self._iterate()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop.set()  # a producer waiting on the full queue sees it within 50 ms
        self._thread.join()

    def _produce(self) -> None:
        try:
            if self._cuda and self._device.index is not None:  # as DataLoader's pinning thread: no context on GPU 0
                torch.cuda.set_device(self._device)
            for images, targets in self._source:
                if self._cuda:
                    images, targets = images.pin_memory(), targets.pin_memory()
                if not self._put((images, targets)):
                    return
            self._put(_Done())
        except BaseException as error:  # handed to the consuming thread, which raises it
            self._put(_Failed(error))

    def _put(self, item: Batch | _Done | _Failed) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _next(self) -> Batch | None:
        """The next gathered batch, its copy to the device issued (on the side stream on CUDA)."""
        item = self._queue.get()
        if isinstance(item, _Done):
            return None
        if isinstance(item, _Failed):
            raise item.error
        if self._stream is None:
            return item[0].to(self._device), item[1].to(self._device)
        with torch.cuda.stream(self._stream):
            return item[0].to(self._device, non_blocking=True), item[1].to(self._device, non_blocking=True)

    def _iterate(self) -> Iterator[Batch]:
        pending = self._next()
        while pending is not None:
            current = pending
            if self._stream is not None:
                stream = torch.cuda.current_stream(self._device)
                stream.wait_stream(self._stream)
                for tensor in current:  # allocated on the side stream, used on this one
                    tensor.record_stream(stream)
            pending = self._next()  # batch k + 1's copy overlaps step k
            yield current
