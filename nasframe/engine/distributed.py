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

import torch
import torch.distributed as dist

from nasframe.interfaces.errors import NasframeError
from nasframe.interfaces.world import World

LAUNCH_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


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
