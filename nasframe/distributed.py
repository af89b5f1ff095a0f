"""Data-parallel search on torch.distributed, launched by torchrun: every rank trains the same path.

Each rank draws the same architecture from identically seeded generators (nothing to broadcast, so
ranks cannot diverge), takes its shard of every global batch, and averages gradients with one
flattened all-reduce per step over the parameters that have a gradient. A single-path step leaves
most supernet parameters without one; because every rank trains the same path, every rank has
gradients for exactly the same parameters, so this needs neither DDP's ``find_unused_parameters``
graph walk nor all-reducing the unused parameters' zeros.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable

import torch
import torch.distributed as dist

from nasframe.errors import NasframeError

LAUNCH_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class World:
    """This process's place in a data-parallel run; a single process is rank 0 of a world of 1."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes the run directory and checkpoints."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1

    def shard(self, n: int) -> slice:
        """This rank's rows of a global batch of ``n`` (interleaved, so ranks differ by at most one)."""
        return slice(self.rank, n, self.size)

    def all_reduce_gradients(self, params: Iterable[torch.nn.Parameter]) -> None:
        """Average the gradients of the parameters that have one, in one flattened all-reduce."""
        if not self.active:
            return
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.size
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def all_reduce_sum(self, *tensors: torch.Tensor) -> None:
        """Sum counters (correct predictions, losses, images) over ranks, in place."""
        if self.active:
            for t in tensors:
                dist.all_reduce(t)

    def average_buffers(self, module: torch.nn.Module) -> None:
        """Average BatchNorm running statistics, which each rank gathered on its own shard."""
        if self.active:
            for t in module.buffers():
                if t.is_floating_point():
                    dist.all_reduce(t)
                    t /= self.size

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def broadcast_module(self, module: torch.nn.Module) -> None:
        """Start every rank from rank 0's weights and buffers."""
        if self.active:
            for t in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(t.data, 0)


def world_from_env(device_type: str) -> World:
    """Join the process group torchrun describes in the environment, or run as a single process."""
    size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if size <= 1:
        return World()
    missing = [v for v in LAUNCH_VARS if not os.environ.get(v)]
    if missing:
        raise NasframeError(
            f"WORLD_SIZE={size} but the launch environment lacks {', '.join(missing)}: start distributed runs with "
            "`torchrun --nproc-per-node N -m nasframe run ...`"
        )
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", os.environ["RANK"]))
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
    return World(rank=rank, size=size, local_rank=local_rank)


def device_for(world: World, device: torch.device) -> torch.device:
    """Each rank of a CUDA run gets the GPU of its local rank."""
    if device.type == "cuda" and world.active:
        return torch.device("cuda", world.local_rank)
    return device
