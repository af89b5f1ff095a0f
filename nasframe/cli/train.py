"""``nasframe train``: train a found architecture from scratch and export it."""

from __future__ import annotations

from pathlib import Path

import click

from nasframe.cli.group import cli
from nasframe.cli.options import overrides_from, run_options
from nasframe.interfaces.errors import NasframeError


@cli.command()
@click.option(
    "--arch",
    "arch_path",
    required=True,
    metavar="PATH|NAME",
    help="arch.json of a run or written by hand, a shipped architecture's name (see `nasframe list`), or an "
    "architecture in its space's own notation (a benchmark's cell string). Size the network with --set space.KEY=V.",
)
@click.option("--space", default=None, help="The space the architecture belongs to (checked against --arch).")
@run_options
def train(
    arch_path: str,
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
    """Train an architecture from scratch, test it, and export its weights (safetensors)."""
    from nasframe.cli.display import RunDisplay, print_summary
    from nasframe.engine.loop import Run
    from nasframe.engine.training import TrainJob, read_arch, train_config
    from nasframe.registry import get_registry
    from nasframe.storage.run_directory import RunDir, default_out

    if resume and not out:
        raise NasframeError("--resume needs --out: the run folder to continue")
    arch_json = read_arch(arch_path)
    if space is not None and arch_json["space"] != get_registry().space(space).name:
        raise NasframeError(
            f"--arch {arch_path} is an architecture of the {arch_json['space']!r} space, not of {space!r}"
        )
    overrides = overrides_from(dataset, data_dir, epochs, batch_size, seed, device, sets)
    config = train_config(arch_json, preset, overrides)
    job = TrainJob(config)
    rundir = RunDir(Path(out) if out else default_out("train", config["space"]["name"], None))
    title = f"train {config['space']['name']} arch"
    with RunDisplay(title) as display:
        summary = Run(job, rundir, [*display.with_log(title)]).execute(resume)
    print_summary(summary, rundir.path)
