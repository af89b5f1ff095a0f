"""``nasframe rank``: the performance-ranking study (Kendall τ between each epoch's ranking and the final one)."""

from __future__ import annotations

from pathlib import Path

import click

from nasframe.cli.group import cli
from nasframe.cli.options import launcher_option, overrides_from
from nasframe.config import PRESETS
from nasframe.studies import RANK_EVALUATORS


@cli.command()
@click.option("--space", default=None, help="Search space to sample from (default: the default one, `nasframe list`).")
@click.option(
    "--samples", type=click.IntRange(min=2), default=8, show_default=True, help="Architectures to sample and train."
)
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Epochs per architecture; default: preset's.")
@click.option(
    "--evaluator",
    type=click.Choice(RANK_EVALUATORS),
    default="scratch",
    show_default=True,
    help="scratch: train each child network; supernet: one shared supernet, uniform single paths.",
)
@click.option(
    "--dataset",
    default=None,
    help="The data set (`nasframe list` shows them and their layouts; default: the default one).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder holding the data set; default $NASFRAME_DATA, else the user cache.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Override the preset's batch size.")
@click.option("--seed", type=int, default=None, help="Seed of the sampled architectures and of every run (default 0).")
@click.option("--device", default=None, help="auto (default), cpu, cuda or cuda:N.")
@click.option(
    "--preset",
    type=click.Choice(PRESETS),
    default="paper",
    show_default=True,
    help="paper: the papers' setting; tiny: a smoke setting that runs in seconds on a CPU.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default=None,
    help="Study directory; rerunning with the same --out and settings resumes it.",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override any config key (see OUT/study.json), e.g. --set data.limit=200.",
)
@launcher_option
def rank(
    space: str | None,
    samples: int,
    epochs: int | None,
    evaluator: str,
    dataset: str | None,
    data_dir: str | None,
    batch_size: int | None,
    seed: int | None,
    device: str | None,
    preset: str,
    out: str | None,
    sets: tuple[str, ...],
    launcher: str | None,
) -> None:
    """Performance-ranking study: train sampled architectures, Kendall τ of each epoch's ranking vs the final one.

    Validation accuracy comes from the held-out validation part of the training set, never the test
    set. Writes OUT/rank.jsonl, OUT/tau.json and OUT/rank.png (with matplotlib); each architecture
    trains in a resumable run directory, so rerunning the same command continues the study (whichever
    launcher ran it). With --launcher ray or slurm, --out must be on a file system every node mounts.
    """
    from rich.console import Console

    from nasframe.cli.display import StudyDisplay, console
    from nasframe.cli.tables import print_report
    from nasframe.engine.signals import stop_signals_as_interrupts
    from nasframe.registry import get_registry
    from nasframe.storage.lock import hold
    from nasframe.storage.run_directory import default_out
    from nasframe.studies.launching import make_launcher, open_launcher, split_launcher_sets
    from nasframe.studies.rank import (
        PLOT_FILE,
        PLOT_HINT,
        RANK_FILE,
        STUDY_FILE,
        TAU_FILE,
        open_study,
        plot_study,
        train_study,
        write_results,
    )
    from nasframe.studies.rank_report import rank_report

    overrides, launcher_sets = split_launcher_sets(
        overrides_from(dataset, data_dir, epochs, batch_size, seed, device, sets)
    )
    registry = get_registry()
    space = registry.space(space).name
    path = Path(out) if out else default_out("rank", space, None)
    where = make_launcher(launcher, launcher_sets, path, registry)
    with hold(path), stop_signals_as_interrupts():  # one process per --out; SIGTERM stops it as Ctrl-C does
        study = open_study(path, space, samples, evaluator, preset, overrides, registry)
        open_launcher(where, path, lambda line: console.print(line, highlight=False))  # before any arch trains
        title = f"rank {samples} {space} archs ({evaluator}, {where.name} launcher)"
        with StudyDisplay(title, tasks=not where.in_process) as display:
            records = train_study(study, [*display.with_log("architecture")], registry, where)
        tau = write_results(study, records, registry)
    stdout = Console()
    print_report(rank_report(study.out))
    if plot_study(study.out / PLOT_FILE, records, tau):
        plot = f", {PLOT_FILE}"
    else:
        console.print(PLOT_HINT)
        plot = ""
    stdout.print(f"Wrote {study.out}: {STUDY_FILE}, {RANK_FILE}, {TAU_FILE}{plot}")
