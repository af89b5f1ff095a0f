"""``--launcher slurm`` through submitit: real subprocess jobs on submitit's local executor (a preempted job
requeues and resumes to the uninterrupted row), and the sbatch file a Slurm cluster would get."""

import json
import os
import signal
import time

import launched_studies
import pytest
from click.testing import CliRunner
from launched_studies import driver, finish, rows, science

from nasframe.cli import _load_commands, cli
from nasframe.testing import PAUSE_DIR, install_pauser, wait_for_pause

submitit = pytest.importorskip("submitit")
from submitit.local.local import LocalJobEnvironment  # noqa: E402

from nasframe.plugins.slurm_launcher import SlurmLauncher  # noqa: E402
from nasframe.studies.launching import make_launcher  # noqa: E402

_load_commands()


def bench_args(out, cifar_dir, *extra):
    return launched_studies.bench_args(out, cifar_dir, "random", *extra)


@pytest.fixture(scope="module")
def local_rows(tmp_path_factory, cifar_dir):
    """The bench run one trial after another in this process: the rows every launcher must give."""
    local = tmp_path_factory.mktemp("local") / "bench"
    result = CliRunner().invoke(cli, [str(a) for a in bench_args(local, cifar_dir)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return rows(local)


def paused_bench(tmp_path, cifar_dir):
    """The bench as local-executor jobs, its driver in its own process, with the first trial paused after epoch 1."""
    pause = tmp_path / "pause"
    pause.mkdir()
    plugins = install_pauser(tmp_path / "plugins")
    env = {
        **os.environ,
        PAUSE_DIR: str(pause),
        "PYTHONPATH": os.pathsep.join([str(plugins), os.environ.get("PYTHONPATH", "")]),
    }
    out = tmp_path / "slurm"
    args = bench_args(
        out, cifar_dir, "--launcher", "slurm", "--set", "launcher.cluster=local", "--set", "launcher.cpus_per_trial=1"
    )
    process = driver(args, env)
    return out, args, process, wait_for_pause(pause, process)


def test_bench_as_submitit_jobs_gives_the_local_rows_and_a_preempted_job_requeues_and_resumes(
    local_rows, cifar_dir, tmp_path
):
    out, _, process, paused = paused_bench(tmp_path, cifar_dir)
    placement = json.loads((out / "placement" / f"{paused.name}.json").read_text())
    os.kill(placement["pid"], LocalJobEnvironment._usr_sig())  # what Slurm sends a job it preempts
    finish(process)
    finished = rows(out)
    assert [science(r) for r in finished] == [science(r) for r in local_rows]
    requeued = json.loads((out / "placement" / f"{paused.name}.json").read_text())
    assert requeued["attempt"] == 2 and requeued["pid"] != placement["pid"]
    events = [json.loads(line) for line in (paused / "events.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in events] == [0, 1]  # resumed after epoch 0, not retrained from scratch
    assert "job" in requeued["node"] and (out / "slurm").is_dir()  # submitit's job files live in the study
    assert json.loads((out / "bench.json").read_text())["launches"][0]["cluster"] == "local"
    again = CliRunner().invoke(cli, [str(a) for a in bench_args(out, cifar_dir, "--launcher", "local")])
    assert again.exit_code == 0 and rows(out) == finished  # another launcher skips what the first one finished
    assert [launch["name"] for launch in json.loads((out / "bench.json").read_text())["launches"]] == ["slurm", "local"]


def test_the_sbatch_file_carries_every_requested_resource(tmp_path):
    launcher = make_launcher(
        "slurm",
        {
            "launcher.partition": "gpu",
            "launcher.account": "vision-lab",
            "launcher.time_min": 90,
            "launcher.cpus_per_trial": 8,
            "launcher.gpus_per_trial": 2,
            "launcher.mem_gb": 32,
            "launcher.sbatch": "--qos=high --constraint=a100 --exclusive",
        },
        tmp_path / "study",
    )
    assert isinstance(launcher, SlurmLauncher)
    script = launcher.sbatch_script()
    for line in (
        "#SBATCH --partition=gpu",
        "#SBATCH --account=vision-lab",
        "#SBATCH --time=90",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --gpus-per-node=2",
        "#SBATCH --mem=32768M",
        "#SBATCH --qos=high",
        "#SBATCH --constraint=a100",
        "#SBATCH --exclusive",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --job-name=nasframe-study",
        "#SBATCH --signal=USR2@120",  # the preemption / time-out signal that checkpoints and requeues
        f"#SBATCH --output={tmp_path / 'study' / 'slurm'}/%j/%j_0_log.out",
    ):
        assert line in script.splitlines(), (line, script)


def test_defaults_request_no_gpu_and_no_memory_or_partition(tmp_path):
    script = make_launcher("slurm", {}, tmp_path / "study").sbatch_script()
    assert "gpus" not in script and "--partition" not in script and "--mem" not in script
    assert "#SBATCH --time=240" in script.splitlines() and "#SBATCH --cpus-per-task=4" in script.splitlines()


def test_an_interrupted_driver_cancels_its_jobs_and_the_rerun_gives_the_local_rows(local_rows, cifar_dir, tmp_path):
    out, args, process, paused = paused_bench(tmp_path, cifar_dir)
    job = json.loads((out / "placement" / f"{paused.name}.json").read_text())["pid"]
    process.send_signal(signal.SIGINT)  # Ctrl-C on the study
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 1 and "interrupted in trial" in output and "Traceback" not in output, output
    deadline = time.monotonic() + 30
    while _alive(job) and time.monotonic() < deadline:  # scancel's local twin: the job process is stopped
        time.sleep(0.2)
    assert not _alive(job)
    finish(driver(args))  # the rerun, without the pauser: it resumes the interrupted trial
    assert [science(r) for r in rows(out)] == [science(r) for r in local_rows]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not open(f"/proc/{pid}/stat").read().split()[2] == "Z"  # a zombie has stopped
