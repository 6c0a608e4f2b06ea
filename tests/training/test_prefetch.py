"""The prefetcher hands over the source's batches in order, on the device, and stops cleanly."""

from __future__ import annotations

import threading

import pytest
import torch

from benchmark.training.prefetch import Prefetcher

CPU = torch.device("cpu")


def _batches(n: int):
    for i in range(n):
        yield torch.full((2, 1, 4, 4), i, dtype=torch.uint8), torch.tensor([[float(i)], [float(i)]])


def _prefetch_threads() -> int:
    return sum(t.name == "cxr-prefetch" for t in threading.enumerate())


def test_batches_arrive_in_order_and_the_thread_ends():
    with Prefetcher(_batches(7), CPU) as prefetched:
        got = [(int(images[0, 0, 0, 0]), float(targets[0, 0])) for images, targets in prefetched]
    assert got == [(i, float(i)) for i in range(7)]
    assert _prefetch_threads() == 0


def test_leaving_early_stops_the_thread():
    with Prefetcher(_batches(1000), CPU, depth=2) as prefetched:
        for i, _ in enumerate(prefetched):
            if i == 2:
                break
    assert _prefetch_threads() == 0
    with pytest.raises(KeyboardInterrupt), Prefetcher(_batches(1000), CPU) as prefetched:
        for _ in prefetched:
            raise KeyboardInterrupt
    assert _prefetch_threads() == 0


def test_an_error_in_the_source_reaches_the_loop():
    def failing():
        yield from _batches(2)
        raise OSError("cache unreadable")

    with pytest.raises(OSError, match="cache unreadable"), Prefetcher(failing(), CPU) as prefetched:
        list(prefetched)
    assert _prefetch_threads() == 0


def test_empty_source():
    with Prefetcher(iter(()), CPU) as prefetched:
        assert list(prefetched) == []
