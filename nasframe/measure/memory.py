"""Peak memory of this process: what events.jsonl and summaries report as ``peak_memory_bytes``, and its reset
between the runs one process makes (a bench's trials)."""

from __future__ import annotations

import ctypes
import gc
import resource
import sys

import torch


def peak_memory_bytes(device: torch.device) -> int:
    """The CUDA allocator's peak on GPU; the process's peak resident set size on CPU."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def reset_peak_memory(device: torch.device) -> None:
    """Start a trial's peak-memory count afresh (CUDA allocator peak; CPU peak RSS on Linux)."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:  # hand freed heap back to the OS, so one trial's garbage is not the next one's peak
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets the peak resident set size (VmHWM, ru_maxrss) of this process
    except OSError:
        pass
