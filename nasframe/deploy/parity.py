"""Parity of an exported file with the PyTorch network: the same batch through both, the largest logit difference
and how often the top-1 class agrees, refused beyond a tolerance.

The batch is real images of the run's data set when its folder is at hand (a difference that matters shows on
the inputs the network was trained for), else seeded random images, and the record says which.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping

import torch
from torch import nn

from nasframe.interfaces.errors import NasframeError
from nasframe.interfaces.keys import Key
from nasframe.interfaces.space import DataInfo
from nasframe.registry import Registry, get_registry

TOLERANCE = Key(
    "export.tolerance",
    1e-4,
    "largest absolute logit difference between the exported file and PyTorch (float32) that an export accepts",
    type=float,
    low=0,
    low_open=True,
)
"""Declared like every config key, so ``--tolerance`` is checked and refused in the same words."""
IMAGES = Key("export.images", 32, "images the parity check runs through both networks", low=1)


@dataclass(frozen=True)
class Images:
    """The parity batch and where it came from."""

    x: torch.Tensor
    origin: str
    """``real`` or ``random``."""
    description: str


@dataclass(frozen=True)
class Parity:
    """How closely the exported file reproduces PyTorch's logits."""

    images: int
    origin: str
    description: str
    max_abs_diff: float
    logit_scale: float
    """The largest absolute PyTorch logit: a difference means little against logits near zero (an untrained net)."""
    top1_agreement: float
    tolerance: float

    def record(self) -> dict[str, Any]:
        return asdict(self)


def parity_images(config: Mapping[str, Any], data: DataInfo, count: int, registry: Registry | None = None) -> Images:
    """The first ``count`` test images of the run's data set, normalised as training normalised them; seeded
    random images (saying why) when the data set is not at hand. Nothing is downloaded."""
    cfg = copy.deepcopy(dict(config))
    cfg["data"] = {**cfg["data"], "download": False, "limit": count, "test_limit": count, "workers": 0}
    cfg["train"] = {**cfg["train"], "batch_size": count, "eval_batch_size": count}
    try:
        module = (registry or get_registry()).build_data(cfg, torch.device("cpu"), purpose="train")
        if module.test is None:
            raise NasframeError("it has no test split")
        x = torch.cat([batch for batch, _ in module.test.epoch(None)])[:count]
        where = cfg["data"].get("dir") or "the default data folder"
        return Images(x.float().contiguous(), "real", f"{len(x)} real {data.name} test images from {where}")
    except NasframeError as exc:
        reason = str(exc).split(". ")[0]
    generator = torch.Generator().manual_seed(0)
    x = torch.randn((count, data.channels, data.image_size, data.image_size), generator=generator)
    return Images(x, "random", f"{count} random images (normal, seed 0): {data.name} not at hand ({reason})")


def measure_parity(
    model: nn.Module, run: Callable[[torch.Tensor], torch.Tensor], images: Images, tolerance: float
) -> Parity:
    """Both networks on ``images``: the largest absolute logit difference and the share of equal top-1 classes."""
    with torch.no_grad():
        expected = model.eval()(images.x).float()
        got = run(images.x).float()
    if got.shape != expected.shape:
        raise NasframeError(
            f"the exported network returns logits of shape {tuple(got.shape)}, PyTorch {tuple(expected.shape)}"
        )
    return Parity(
        images=len(images.x),
        origin=images.origin,
        description=images.description,
        max_abs_diff=float((got - expected).abs().max()),
        logit_scale=float(expected.abs().max()),
        top1_agreement=float((got.argmax(1) == expected.argmax(1)).float().mean()),
        tolerance=tolerance,
    )


def check_parity(parity: Parity, runtime: str) -> None:
    """Refuse an export whose logits differ from PyTorch's by more than the tolerance, naming the difference."""
    if not parity.max_abs_diff <= parity.tolerance:  # NaN refuses too
        raise NasframeError(
            f"export refused: {runtime} differs from PyTorch by {parity.max_abs_diff:.3g} in the logits (max abs, "
            f"{parity.images} {parity.origin} images; top-1 agreement {parity.top1_agreement:.1%}), beyond "
            f"--tolerance {parity.tolerance:g}"
        )
