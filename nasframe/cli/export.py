"""``nasframe export``: a trained (or, asked for, untrained) network as an ONNX file or a torch.export program,
with its parity, speed and model card."""

from __future__ import annotations

from pathlib import Path

import click

from nasframe.cli.group import cli
from nasframe.config import PRESETS, parse_sets


@cli.command()
@click.argument("source", metavar="RUN_OR_ARCH")
@click.option(
    "--format", "fmt", required=True, metavar="onnx|exported-program", help="onnx, or exported-program (model.pt2)."
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="New (or empty) folder to write; default exports/<name>-<format>. Never overwritten.",
)
@click.option(
    "--weights",
    type=click.Choice(("trained", "untrained")),
    default=None,
    help="trained (the default for a run folder; refused when it has none) or untrained (seeded initial weights: "
    "the default for an architecture name or arch.json).",
)
@click.option(
    "--search",
    "search_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="The search run a trained network's architecture came from, for the card (checked to have found it).",
)
@click.option(
    "--preset",
    type=click.Choice(PRESETS),
    default=None,
    help="Size of an untrained network, as `nasframe train --preset` (default: the search run's, else paper).",
)
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Config override of an untrained network.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder of the data set the parity images come from (default: the run's).",
)
@click.option("--images", type=int, default=None, help="Images of the parity check (default 32).")
@click.option(
    "--tolerance",
    type=float,
    default=None,
    help="Largest max-abs logit difference from PyTorch an export accepts (default 1e-4, float32).",
)
def export(
    source: str,
    fmt: str,
    out: str | None,
    weights: str | None,
    search_dir: str | None,
    preset: str | None,
    sets: tuple[str, ...],
    data_dir: str | None,
    images: int | None,
    tolerance: float | None,
) -> None:
    """Export a run's network (or an architecture's, untrained) to ONNX or a torch.export program, check it against
    PyTorch on real images, time it at batch 1, and write a model card beside it."""
    from rich.console import Console
    from rich.table import Table

    from nasframe.deploy.bundle import check_out, export_source
    from nasframe.deploy.export import require
    from nasframe.deploy.parity import IMAGES, TOLERANCE
    from nasframe.deploy.source import resolve_source

    require(fmt)  # before anything is read: an unknown format or a missing package is one line
    tolerance = TOLERANCE.check(TOLERANCE.default if tolerance is None else tolerance, TOLERANCE.name)
    images = IMAGES.check(IMAGES.default if images is None else images, IMAGES.name)
    name = Path(source).stem if Path(source).suffix else Path(source).name
    path = Path(out) if out else Path("exports") / f"{name}-{fmt}"
    check_out(path)
    console = Console(stderr=True)  # steps on a terminal only: off one, a refusal is its one line
    resolved = resolve_source(source, weights, preset=preset, overrides=parse_sets(sets), search=search_dir)
    record = export_source(
        resolved,
        fmt,
        path,
        tolerance=tolerance,
        images=images,
        data_dir=data_dir,
        progress=lambda step: console.print(f"[dim]{step}...[/dim]") if console.is_terminal else None,
    )
    parity, speed, net = record["parity"], record["latency"], record["network"]
    table = Table(title=f"Export {path}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    weights_text = "trained" if record["weights"] == "trained" else "[bold red]UNTRAINED[/] (initial weights)"
    rows = [
        ("file", f"{record['file']} ({record['exporter']})"),
        ("opset", str(record["opset"])) if record.get("opset") is not None else None,
        ("weights", weights_text),
        ("test accuracy", f"{100 * record['training']['test_accuracy']:.2f} %")
        if record.get("training") and record["training"].get("test_accuracy") is not None
        else None,
        ("params / multiply-adds", f"{net['params']:,} / {net['flops']:,}"),
        ("parity images", parity["description"]),
        (
            "max abs logit diff",
            f"{parity['max_abs_diff']:.3g} (tolerance {parity['tolerance']:g}; logits up to {parity['logit_scale']:.3g})",
        ),
        ("top-1 agreement", f"{100 * parity['top1_agreement']:.2f} %"),
        (f"latency {record['runtime']}", f"{speed['exported_ms']:.3f} ms"),
        ("latency PyTorch", f"{speed['pytorch_ms']:.3f} ms"),
        ("latency predicted", f"{speed['predicted_latency_ms']:.3f} ms")
        if speed.get("predicted_latency_ms") is not None
        else None,
        ("model card", str(path / "README.md")),
    ]
    for row in rows:
        if row is not None:
            table.add_row(*row)
    Console().print(table)
