"""``nasframe run``: one search, written to a run directory."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from nasframe.cli.display import RunDisplay, print_summary
from nasframe.cli.group import cli
from nasframe.cli.options import overrides_from, run_options
from nasframe.config import apply_overrides, resolve
from nasframe.engine.loop import HookObserver, Run
from nasframe.engine.search import SearchJob
from nasframe.interfaces.errors import NasframeError
from nasframe.registry import get_registry
from nasframe.storage.run_directory import RunDir, default_out


def search_config(strategy: str, space: str, preset: str, overrides: dict[str, Any]) -> dict[str, Any]:
    registry = get_registry()
    space_cls = registry.space(space)
    strategy_cls = registry.strategy(strategy)
    return resolve(space_cls, strategy_cls, preset, overrides)


@cli.command()
@click.option("--strategy", default=None, help="Search strategy (see `nasframe list`).")
@click.option("--space", default=None, help="Search space (see `nasframe list`).")
@run_options
def run(strategy: str | None, space: str | None, dataset: str | None, data_dir: str | None, epochs: int | None,
        batch_size: int | None, seed: int | None, device: str | None, preset: str, out: str | None,
        resume: bool, sets: tuple[str, ...]) -> None:
    """Search an architecture with one strategy on one space."""
    overrides = overrides_from(dataset, data_dir, epochs, batch_size, seed, device, sets)
    if resume and out and (strategy is None or space is None):
        rundir = RunDir(Path(out))
        if not rundir.config.exists():
            raise NasframeError(f"nothing to resume in {out}: it has no config.json")
        config = rundir.read_config()
        config.pop("versions", None)
        apply_overrides(config, overrides, "the command line")
    elif strategy is None or space is None:
        raise NasframeError("pass --strategy and --space (see `nasframe list`), or --resume --out DIR")
    else:
        config = search_config(strategy, space, preset, overrides)
    job = SearchJob(config)
    rundir = RunDir(Path(out) if out else default_out("search", config["space"]["name"], config["strategy"]["name"]))
    with RunDisplay(f"{config['strategy']['name']} on {config['space']['name']}") as display:
        runner = Run(job, rundir, [display, HookObserver(get_registry())])
        summary = runner.execute(resume)
    print_summary(summary, rundir.path)

