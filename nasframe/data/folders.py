"""Where data sets live when the command line names no folder."""

from __future__ import annotations

import os
from pathlib import Path


def default_data_dir() -> Path:
    """``$NASFRAME_DATA``, else the per-user cache folder."""
    env = os.environ.get("NASFRAME_DATA")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(cache) / "nasframe" / "data"
