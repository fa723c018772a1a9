"""A scoped torch thread count: the networks here are tiny, and one thread is fastest."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with ``threads`` intra-op threads, then restore the previous count.

    For networks of a few hundred weights every op takes microseconds, so extra threads
    only add synchronisation: on a busy 2-core machine a 2-thread fit of Experiment I's DAE
    ran 10-30x slower than a 1-thread one.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
