"""``nasframe bench``: strategies head to head on the same space, data split, seeds and budget."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from nasframe.cli.group import cli
from nasframe.cli.options import launcher_option
from nasframe.config import PRESETS, parse_sets


@cli.command()
@click.option("--strategies", required=True, help="Comma-separated strategies (see `nasframe list`).")
@click.option(
    "--space",
    default=None,
    help="The search space every strategy searches (default: the default one, `nasframe list`).",
)
@click.option(
    "--seeds", default="0,1,2", show_default=True, help="Comma-separated seeds; one trial per strategy and seed."
)
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=None,
    help="Epoch budget per trial (default: the space preset's). With --budget-seconds: a cap.",
)
@click.option(
    "--budget-seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Wall-clock budget per trial, seconds of search training (checked at epoch ends). Without "
    "--epochs the epochs are uncapped, so a cheaper strategy trains more epochs.",
)
@click.option(
    "--retrain-epochs",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Also train each final architecture from scratch for this many epochs and test it.",
)
@click.option(
    "--preset",
    type=click.Choice(PRESETS),
    default="paper",
    show_default=True,
    help="The space's preset, shared by every strategy (strategies' own training presets are ignored).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Bench directory (default runs/bench-<space>-<time>); rerun with the same one to continue.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder holding the data set; default $NASFRAME_DATA, else the user cache.",
)
@click.option("--device", default=None, help="auto (default), cpu, cuda or cuda:N.")
@click.option(
    "--devices",
    default=None,
    metavar="D1,D2,...",
    help="Run trials in parallel, one process per device (e.g. cuda:0,cuda:1); same rows as one by one "
    "(the local launcher's launcher.devices).",
)
@launcher_option
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a search config key for every trial; STRATEGY:strategy.KEY=VALUE for one strategy's "
    "trials, e.g. mdenas:strategy.sample_every=step.",
)
@click.option(
    "--retrain-set",
    "retrain_sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a key of the from-scratch training config (the space's train preset).",
)
def bench(
    strategies: str,
    space: str | None,
    seeds: str,
    epochs: int | None,
    budget_seconds: float | None,
    retrain_epochs: int,
    preset: str,
    out: str | None,
    data_dir: str | None,
    device: str | None,
    devices: str | None,
    launcher: str | None,
    sets: tuple[str, ...],
    retrain_sets: tuple[str, ...],
) -> None:
    """Compare strategies head to head: same space, data split, seeds, training settings and budget.

    Every (strategy, seed) trial is a run directory under OUT/trials/; OUT/results.jsonl gets one row
    per finished trial and OUT/bench.json the settings. Rerunning with the same --out skips finished
    trials and resumes an interrupted one (whichever launcher ran them); other settings on the same --out
    are refused. With --launcher ray or slurm, --out must be on a file system every node mounts.
    """
    from nasframe.cli.display import BenchProgress, console
    from nasframe.cli.tables import print_report
    from nasframe.engine.signals import stop_signals_as_interrupts
    from nasframe.registry import get_registry
    from nasframe.storage.lock import hold
    from nasframe.studies.bench import Bench, BenchSpec, parse_names, parse_seeds, read_bench
    from nasframe.studies.launching import failure_message, make_launcher, open_launcher, split_launcher_sets
    from nasframe.studies.report import bench_report

    space = get_registry().space(space).name
    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data.dir"] = data_dir
    if device is not None:
        overrides["device"] = device
    overrides, launcher_sets = split_launcher_sets({**overrides, **parse_sets(sets)})
    if devices is not None:
        launcher_sets["launcher.devices"] = devices
    retrain_overrides = parse_sets(retrain_sets)
    spec = BenchSpec(
        space=space,
        strategies=parse_names(strategies, "strategies"),
        seeds=parse_seeds(seeds),
        preset=preset,
        epochs=epochs,
        seconds=budget_seconds,
        retrain_epochs=retrain_epochs,
        overrides=overrides,
        retrain_overrides=retrain_overrides,
    )
    path = Path(out) if out else Path("runs") / f"bench-{space}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    runner = Bench(spec, path)
    where = make_launcher(launcher, launcher_sets, path)
    with hold(path), stop_signals_as_interrupts():  # one process per --out; SIGTERM stops it as Ctrl-C does
        runner.check_out()  # refuse another bench's directory before showing anything
        open_launcher(where, path, lambda line: console.print(line, highlight=False))  # before any trial starts
        console.print(f"bench of {len(runner.trials)} trials in {path} ({where.name} launcher)", highlight=False)
        with BenchProgress(tasks=not where.in_process) as display:
            rows = runner.execute([*display.with_log("trial")], where)
    if rows:
        print_report(bench_report(read_bench(path), rows))
        click.echo(f"results: {path / 'results.jsonl'}  (re-render: nasframe report {path})")
    if runner.failed:
        raise click.ClickException(failure_message(runner.failed, len(runner.trials), "trials", path))
