"""``nasframe latency``: measure a space's latency lookup table on a device and save it as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import click

from nasframe.cli.group import cli
from nasframe.config import PRESETS, parse_sets


@cli.command()
@click.option("--space", required=True, help="Search space (see `nasframe list`).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--batch-size", type=click.IntRange(min=1), default=1, show_default=True, help="Images per forward pass.")
@click.option(
    "--dataset",
    default=None,
    help="The data set whose image size the space is sized for (`nasframe list` shows them; default: the default one).",
)
@click.option(
    "--preset",
    type=click.Choice(PRESETS),
    default="paper",
    show_default=True,
    help="The space settings of this search preset (a run reads a table measured for its own settings).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="JSON file to write; default latency-<space>-<device>.json.",
)
@click.option(
    "--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a config key, e.g. train.batch_size=32."
)
def latency(
    space: str, device: str, batch_size: int, dataset: str | None, preset: str, out: str | None, sets: tuple[str, ...]
) -> None:
    """Time every block choice at every position of a space on a device: the lookup table latency predictions add up."""
    from rich.console import Console

    from nasframe.config import resolve
    from nasframe.engine.device import prepare, resolve_device
    from nasframe.interfaces.errors import ConfigError
    from nasframe.measure.latency_table import cost_table, measure_table
    from nasframe.registry import get_registry
    from nasframe.storage.atomic import check_creatable, write_json_atomic

    registry = get_registry()
    overrides = {**({"data.dataset": dataset} if dataset else {}), **parse_sets(sets)}
    config = resolve(registry.space(space), None, preset, overrides, datasets=registry.dataset)
    built = registry.build_space(config)
    where = resolve_device(device)
    path = Path(out or f"latency-{space}-{where.type}.json")
    check_creatable(path.parent.resolve(), f"--out {path}")  # before minutes of timing
    prepare(where)
    record = measure_table(built, where, batch_size)
    if record is None:
        raise ConfigError(
            f"space {space!r} does not cut its networks into blocks (SearchSpace.cost_blocks), "
            "so it has no lookup table"
        )
    write_json_atomic(path, record)
    table = cost_table(record, built)
    cheapest = float(table.base + table.values.masked_fill(~built.choice_mask, float("inf")).min(-1).values.sum())
    dearest = float(table.base + table.values.max(-1).values.sum())
    Console().print(
        f"{path}: {len(record['choices_us'])} positions on {record['device_name']} (torch {record['torch']}, "
        f"batch {batch_size}); predicted latency {cheapest / 1000:.3f} to {dearest / 1000:.3f} ms"
    )
    click.echo(json.dumps({k: record[k] for k in ("space", "device", "device_name", "torch", "batch_size")}))
