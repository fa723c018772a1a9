"""Training on many processes: ``torchrun --nproc-per-node N -m emma_plugins fit ...``.

`from_environment` reads what ``torchrun`` sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
the rendezvous address) and joins the process group: ``gloo`` on the CPU, ``nccl`` on CUDA.
The returned `ProcessGroup` is the `emma_plugins._minibatch.Parallel` of the shared
mini-batch loop, so estimators (stage 1) and EMMA with its network (stage 2) train the same
way:

* every process draws the same seeded permutation per epoch and takes its own shard of
  every global batch (``index[rank::world_size]``: what a ``DistributedSampler`` does);
* after each backward pass the gradients are averaged over the global batch, each process's
  weighted by its shard size, in one flattened all-reduce (what DistributedDataParallel
  does), so every process takes the same optimizer step;
* early stopping is decided on rank 0 and broadcast; only rank 0 writes files.

For a loss that is a plain mean over samples the result equals one process trained on the
same global batches. A class-weighted loss is a weighted mean per shard, so it agrees only
approximately.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import Tensor

from emma_plugins._minibatch import current_parallel, parallel

#: How long a collective waits for a process that stopped answering before failing.
TIMEOUT = timedelta(seconds=int(os.environ.get("EMMA_DIST_TIMEOUT", "120")))


@dataclass(frozen=True)
class ProcessGroup:
    """This process's place among the training's processes."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # -- emma_plugins._minibatch.Parallel ---------------------------------------------------
    def shard(self, index: Tensor) -> Tensor:
        return index[self.rank :: self.world_size]

    def sync_gradients(self, parameters: list[Tensor], n_local: int) -> None:
        grads = [
            p.grad
            if p.grad is not None
            else torch.zeros_like(p, memory_format=torch.contiguous_format)
            for p in parameters
        ]
        flat = torch.cat([g.reshape(-1) for g in grads] + [torch.zeros(1, device=self.device)])
        flat[:-1].mul_(n_local)
        flat[-1] = n_local
        dist.all_reduce(flat)
        total = float(flat[-1])
        flat[:-1].div_(max(total, 1.0))
        offset = 0
        for parameter, grad in zip(parameters, grads, strict=True):
            size = grad.numel()
            parameter.grad = flat[offset : offset + size].view_as(grad).clone()
            offset += size

    def total(self, value: float, n: int) -> tuple[float, int]:
        pair = torch.tensor([value, float(n)], dtype=torch.float64, device=self.device)
        dist.all_reduce(pair)
        return float(pair[0]), int(pair[1])

    # -- decisions and files ----------------------------------------------------------------
    def agree(self, flag: bool) -> bool:
        """Rank 0's ``flag``, on every process."""
        value = torch.tensor([1 if flag else 0], device=self.device)
        dist.broadcast(value, src=0)
        return bool(value.item())

    def barrier(self) -> None:
        dist.barrier()


def current_group() -> ProcessGroup | None:
    """The process group training runs under (`from_environment`), if any."""
    group = current_parallel()
    return group if isinstance(group, ProcessGroup) else None


def is_main_process() -> bool:
    """True on rank 0, and when training runs on one process."""
    group = current_group()
    return group is None or group.is_main


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def device_for_rank(device: torch.device, local_rank: int) -> torch.device:
    """``cuda`` (or ``cuda:N``) becomes this process's GPU, ``cuda:LOCAL_RANK``."""
    if device.type == "cuda":
        return torch.device("cuda", local_rank)
    return device


@contextlib.contextmanager
def from_environment(device: torch.device) -> Iterator[ProcessGroup | None]:
    """Join the process group ``torchrun`` describes for the block (None outside torchrun),
    and make the shared mini-batch loop train across it."""
    if not launched_by_torchrun():
        yield None
        return
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = device_for_rank(device, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, timeout=TIMEOUT)
    group = ProcessGroup(rank, world, local_rank, device)
    try:
        with parallel(group):
            yield group
    finally:
        dist.destroy_process_group()


__all__ = [
    "TIMEOUT",
    "ProcessGroup",
    "current_group",
    "device_for_rank",
    "from_environment",
    "is_main_process",
    "launched_by_torchrun",
]
