"""The data-parallel world a strategy, the data and the engine share: ranks, shards and collectives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import torch
import torch.distributed as dist


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
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
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
