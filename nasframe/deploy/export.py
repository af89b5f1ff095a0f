"""The two export formats: writing a network with a dynamic batch dimension, checking the file, and loading it back
to run it as a deployment would (onnxruntime, or ``torch.export.load`` without nasframe).

An exporter that cannot express the network fails here, and only here, as one ``ExportError`` line naming the
exporter's own error, so the command refuses before anything is written to the export folder.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import re
import warnings
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch import nn

from nasframe.interfaces.errors import NasframeError

FORMATS = ("onnx", "exported-program")
FILES = {"onnx": "model.onnx", "exported-program": "model.pt2"}
EXTRAS = {"onnx": ("onnx", "onnxruntime", "onnxscript"), "exported-program": ()}
"""The modules each format needs beyond nasframe's own dependencies (the ``export`` extra installs them)."""
INPUT_NAME, OUTPUT_NAME = "images", "logits"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
EXAMPLE_BATCH = 2
"""The batch the graph is traced at: not 0 or 1, which torch.export would specialise the batch dimension to."""


class ExportError(NasframeError):
    """The exporter cannot express the network (an op or a data-dependent branch it has no form for)."""


@dataclass(frozen=True)
class Written:
    """What one export wrote: the file, the exporter and its version, the ONNX opset where there is one."""

    path: Path
    exporter: str
    opset: int | None = None

    def record(self) -> dict[str, Any]:
        return {
            "file": self.path.name,
            "exporter": self.exporter,
            "opset": self.opset,
            "bytes": self.path.stat().st_size,
        }


def require(fmt: str) -> None:
    """Refuse a format whose packages are missing, in one line saying what to install."""
    if fmt not in FORMATS:
        raise NasframeError(f"unknown export format {fmt!r}; formats: {', '.join(FORMATS)}")
    missing = [name for name in EXTRAS[fmt] if importlib.util.find_spec(name) is None]
    if missing:
        raise NasframeError(
            f"--format {fmt} needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed: "
            "pip install 'nasframe[export]'"
        )


def example_input(shape: tuple[int, ...]) -> torch.Tensor:
    """A seeded batch of ``EXAMPLE_BATCH`` images of ``shape`` (channels, height, width) to trace with."""
    return torch.randn((EXAMPLE_BATCH, *shape), generator=torch.Generator().manual_seed(0))


def _batch_dim() -> dict[int, Any]:
    return {0: torch.export.Dim("batch", min=1)}


def _exporter_failed(exporter: str, exc: BaseException) -> ExportError:
    """One line naming the exporter's error: the innermost cause (the op or branch it could not express)."""
    root = exc
    while root.__cause__ is not None and root.__cause__ is not root:
        root = root.__cause__
    lines = [line.strip() for line in ANSI.sub("", str(root)).splitlines() if line.strip()]
    first = lines[0] if lines else "no message"
    if len(first) > 300:
        first = first[:297] + "..."
    chain = f"{type(exc).__name__} from {type(root).__name__}" if root is not exc else type(exc).__name__
    return ExportError(f"{exporter} cannot express this network: {chain}: {first}")


@contextmanager
def quiet() -> Iterator[None]:
    """Silence what the exporters print and log while they work (graph dumps, pass-by-pass narration, warnings):
    the command says what happened in its own words, and a failure is its one line."""
    loggers = [logging.getLogger(name) for name in ("torch", "onnxscript", "onnx_ir")]
    levels = [logger.level for logger in loggers]
    sink = io.StringIO()
    try:
        for logger in loggers:
            logger.setLevel(logging.CRITICAL)
        with warnings.catch_warnings(), redirect_stdout(sink), redirect_stderr(sink):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def write(model: nn.Module, image_shape: tuple[int, ...], fmt: str, folder: Path) -> Written:
    """Export ``model`` (in eval mode) to ``folder / FILES[fmt]``, batch dimension dynamic; ONNX checked by onnx."""
    require(fmt)
    model.eval()
    x = example_input(image_shape)
    path = folder / FILES[fmt]
    if fmt == "exported-program":
        try:
            with quiet():
                program = torch.export.export(model, (x,), dynamic_shapes=(_batch_dim(),))
        except Exception as exc:  # the exporter's own errors: unsupported ops, data-dependent control flow
            raise _exporter_failed("torch.export", exc) from None
        torch.export.save(program, str(path))
        return Written(path, f"torch.export (torch {torch.__version__})")
    return _write_onnx(model, x, path)


def _write_onnx(model: nn.Module, x: torch.Tensor, path: Path) -> Written:
    import onnx

    try:
        with quiet():
            torch.onnx.export(
                model,
                (x,),
                str(path),
                dynamo=True,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes=(_batch_dim(),),
                external_data=False,
                verbose=False,
            )
    except Exception as exc:
        raise _exporter_failed("torch.onnx.export (dynamo)", exc) from None
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except Exception as exc:  # onnx.checker.ValidationError and shape-inference errors
        raise ExportError(f"onnx.checker refuses the exported model: {type(exc).__name__}: {exc}") from None
    proto = onnx.load(str(path), load_external_data=False)
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    return Written(path, f"torch.onnx.export dynamo=True (torch {torch.__version__}, onnx {onnx.__version__})", opset)


def load(fmt: str, path: Path) -> Callable[[torch.Tensor], torch.Tensor]:
    """The exported file as a function of a float32 batch on the CPU, run the way a deployment runs it."""
    if fmt == "exported-program":
        program = torch.export.load(str(path)).module()
        return lambda x: program(x)
    import onnxruntime

    options = onnxruntime.SessionOptions()
    threads = torch.get_num_threads()  # the same threads as the PyTorch side, so latencies compare
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {name: x.detach().cpu().numpy()})[0])

    return run


def runtime_name(fmt: str) -> str:
    """What runs the exported file, for tables and the card."""
    if fmt == "exported-program":
        return f"torch.export.load (torch {torch.__version__})"
    import onnxruntime

    return f"onnxruntime {onnxruntime.__version__} CPU"
