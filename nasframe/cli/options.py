"""Options shared by the commands that build a run configuration."""

from __future__ import annotations

from typing import Any, Callable

import click

from nasframe.config import PRESETS, parse_sets


def run_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--dataset, --data-dir, --epochs, --batch-size, --seed, --device, --preset, --out, --resume, --set."""
    options = [
        click.option(
            "--dataset",
            default=None,
            help="The data set (`nasframe list` shows them and their layouts; default: the default one).",
        ),
        click.option(
            "--data-dir",
            type=click.Path(file_okay=False),
            default=None,
            help="Folder holding the data set; default $NASFRAME_DATA, else the user cache.",
        ),
        click.option("--epochs", type=click.IntRange(min=0), default=None, help="Override the preset's epochs."),
        click.option(
            "--batch-size", type=click.IntRange(min=1), default=None, help="Override the preset's batch size."
        ),
        click.option("--seed", type=int, default=None, help="Seed of every random stream of the run (default 0)."),
        click.option("--device", default=None, help="auto (default), cpu, cuda or cuda:N."),
        click.option(
            "--preset",
            type=click.Choice(PRESETS),
            default="paper",
            show_default=True,
            help="paper: the papers' setting; tiny: a smoke setting that runs in seconds on a CPU.",
        ),
        click.option("--out", type=click.Path(file_okay=False), default=None, help="Run directory to write."),
        click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint."),
        click.option(
            "--set",
            "sets",
            multiple=True,
            metavar="KEY=VALUE",
            help="Override any config key (see config.json), e.g. --set train.lr=0.05.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def overrides_from(
    dataset: str | None,
    data_dir: str | None,
    epochs: int | None,
    batch_size: int | None,
    seed: int | None,
    device: str | None,
    sets: tuple[str, ...],
) -> dict[str, Any]:
    """The dotted config overrides the common options stand for; --set comes last and wins."""
    out: dict[str, Any] = {}
    for key, value in (
        ("data.dataset", dataset),
        ("data.dir", data_dir),
        ("train.epochs", epochs),
        ("train.batch_size", batch_size),
        ("seed", seed),
        ("device", device),
    ):
        if value is not None:
            out[key] = value
    out.update(parse_sets(sets))
    return out


def launcher_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """--launcher: where a study's tasks run; its settings are ``--set launcher.KEY=VALUE``."""
    return click.option(
        "--launcher",
        default=None,
        help="Where the tasks run: a launcher from `nasframe list` (default: local, this machine); its settings "
        "are --set launcher.KEY=VALUE (`nasframe config --launcher NAME`).",
    )(f)
