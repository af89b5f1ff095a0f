"""``nasframe run``: one search, written to a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from nasframe.cli.group import cli
from nasframe.cli.options import overrides_from, run_options
from nasframe.interfaces.errors import ConfigError, NasframeError


def search_config(strategy: str, space: str, preset: str, overrides: dict[str, Any]) -> dict[str, Any]:
    from nasframe.config import resolve
    from nasframe.registry import get_registry

    registry = get_registry()
    space_cls, strategy_cls = registry.space(space), registry.strategy(strategy)
    return resolve(space_cls, strategy_cls, preset, overrides, evaluators=registry.evaluator, datasets=registry.dataset)


def saved_search_config(out: str, overrides: dict[str, Any]) -> dict[str, Any]:
    """The config.json of the run in ``out``, checked against the schema, with ``overrides`` applied."""
    from nasframe.config import Schema
    from nasframe.registry import get_registry
    from nasframe.storage.run_directory import RunDir

    rundir = RunDir(Path(out))
    if not rundir.config.exists():
        raise NasframeError(f"nothing to resume in {out}: it has no config.json")
    config = rundir.read_config()
    try:
        names = config["space"]["name"], config["strategy"]["name"], config["evaluator"]["name"]
    except (KeyError, TypeError):
        raise ConfigError(f"{rundir.config} names no space and strategy: it is not a search run's config") from None
    registry = get_registry()
    schema = Schema.of(registry.space(names[0]), registry.strategy(names[1]), registry.evaluator(names[2]))
    config = schema.check(config, str(rundir.config))
    config.pop("versions", None)
    schema.apply(config, overrides, "the command line")
    return config


@cli.command()
@click.option("--strategy", default=None, help="Search strategy (see `nasframe list`).")
@click.option("--space", default=None, help="Search space (see `nasframe list`).")
@run_options
def run(
    strategy: str | None,
    space: str | None,
    dataset: str | None,
    data_dir: str | None,
    epochs: int | None,
    batch_size: int | None,
    seed: int | None,
    device: str | None,
    preset: str,
    out: str | None,
    resume: bool,
    sets: tuple[str, ...],
) -> None:
    """Search an architecture with one strategy on one space."""
    overrides = overrides_from(dataset, data_dir, epochs, batch_size, seed, device, sets)
    if resume and not out:
        raise NasframeError("--resume needs --out: the run folder to continue")
    if resume and (strategy is None or space is None):
        config = saved_search_config(out, overrides)
    elif strategy is None or space is None:
        raise NasframeError("pass --strategy and --space (see `nasframe list`), or --resume --out DIR")
    else:
        config = search_config(strategy, space, preset, overrides)
    if int(config["train"]["epochs"]) < 1:
        raise NasframeError("a search needs at least 1 epoch (--epochs): with 0 its strategy never learns anything")
    from nasframe.cli.display import RunDisplay, print_summary
    from nasframe.engine.loop import Run
    from nasframe.engine.search import SearchJob
    from nasframe.storage.run_directory import RunDir, default_out

    job = SearchJob(config)
    rundir = RunDir(Path(out) if out else default_out("search", config["space"]["name"], config["strategy"]["name"]))
    title = f"{config['strategy']['name']} on {config['space']['name']}"
    with RunDisplay(title) as display:
        summary = Run(job, rundir, [*display.with_log(title)]).execute(resume)
    print_summary(summary, rundir.path)
    note = accuracy_note(summary, rundir.path)
    if note:
        click.echo(f"Note: {note}", err=True)
    warning = undecided_warning(summary)
    if warning:
        click.echo(f"Warning: {warning}", err=True)


def accuracy_note(summary: dict[str, Any], path: Path) -> str | None:
    """Say so when the final architecture's validation accuracy is not the last epoch's, which readers conflate.

    The progress line shows the accuracy of the architecture the strategy sampled in the last epoch; the
    summary's is the derived (final) architecture's, another network.
    """
    from nasframe.storage.run_directory import RunDir

    try:
        events = RunDir(path).read_events()
    except NasframeError:
        return None
    last, final = (events[-1].get("val_accuracy") if events else None), summary.get("val_accuracy")
    if not isinstance(last, float) or not isinstance(final, float) or abs(last - final) < 5e-5:
        return None
    return (
        f"the final architecture's validation accuracy is {100 * final:.2f} %; the last epoch's {100 * last:.2f} % "
        "was of the architecture sampled in that epoch, another network"
    )


def undecided_warning(summary: dict[str, Any]) -> str | None:
    """The bench's warning for one run: its distribution learned from fewer samples than it has choices."""
    from nasframe.studies.comparison import undertrained_warning

    metrics = summary.get("strategy_metrics") or {}
    if metrics.get("samples") is None or not metrics.get("choices"):
        return None
    epochs, seconds = summary.get("epochs") or 0, summary.get("search_seconds")
    decision = {
        **metrics,
        "samples_per_epoch": metrics["samples"] / epochs if epochs else None,
        "seconds_per_epoch": seconds / epochs if epochs and seconds else None,
    }
    return undertrained_warning(str(summary.get("strategy")), decision)
