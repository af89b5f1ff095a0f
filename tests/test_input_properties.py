"""Generated inputs: every --set value of every key, and mutated arch.json files, end in success or one clean error."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nasframe.cli import cli
from nasframe.config import Schema, parse_sets, resolve
from nasframe.interfaces.errors import NasframeError
from nasframe.registry import get_registry
from nasframe.search_spaces.darts import ARCHS_DIR

SPACES = ("darts", "mbconv")
STRATEGIES = ("random", "mdenas", "darts")
FAST = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
SLOW = settings(deadline=None, max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["auto", "cpu", "cuda:0", "epoch", "step", "batch", "mdenas", "proxyless", "cifar", "", "x"]),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=5,
)


def set_text(value) -> st.SearchStrategy[str]:
    """What a user may type after ``KEY=``: the JSON spelling of a value, or any text."""
    return st.one_of(st.just(json.dumps(value)), st.text(max_size=8))


def every_key() -> list[tuple[str, str, str]]:
    """(space, strategy, dotted key) of every key of every built-in space and strategy, the evaluator's too."""
    registry = get_registry()
    out = []
    for space in SPACES:
        for strategy in STRATEGIES:
            schema = Schema.of(registry.space(space), registry.strategy(strategy), registry.evaluator("supernet"))
            out += [(space, strategy, name) for name in schema.keys]
    return sorted(set(out))


def invoke(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_clean(result) -> None:
    """Success, or exit 1 with one ``Error:`` line and no traceback."""
    if result.exit_code == 0:
        return
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (result.output, result.exception)
    assert result.output.strip().splitlines()[-1].startswith("Error: "), result.output
    assert "Traceback" not in result.output


@FAST
@given(key=st.sampled_from(every_key()), value=json_value, data=st.data())
def test_any_set_of_any_key_resolves_or_is_one_config_error(key, value, data):
    space, strategy, name = key
    text = data.draw(set_text(value))
    registry = get_registry()
    space_cls, strategy_cls = registry.space(space), registry.strategy(strategy)
    try:
        config = resolve(space_cls, strategy_cls, "tiny", parse_sets([f"{name}={text}"]), evaluators=registry.evaluator)
    except NasframeError as exc:  # a ConfigError naming the key, or an unknown evaluator.name
        assert (name in str(exc) or "unknown evaluator" in str(exc)) and "\n" not in str(exc)
        return
    # what resolves is what the schema keeps: checking it again, or after a JSON round trip, changes nothing
    schema = Schema.of(space_cls, strategy_cls, registry.evaluator(config["evaluator"]["name"]))
    assert schema.check(config, "test") == config
    assert schema.check(json.loads(json.dumps(config)), "config.json") == config


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, cifar_dir):
    out = tmp_path_factory.mktemp("earlier") / "run"
    args = [
        "run",
        "--strategy",
        "random",
        "--space",
        "darts",
        "--preset",
        "tiny",
        "--epochs",
        "1",
        "--device",
        "cpu",
        "--data-dir",
        str(cifar_dir),
        "--out",
        str(out),
        "--set",
        "data.limit=120",
        "--set",
        "train.batch_size=16",
        "--set",
        "strategy.candidates=2",
    ]
    assert invoke(*args).exit_code == 0
    files = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    return out, args, files


@SLOW
@given(
    key=st.sampled_from([k for k in every_key() if k[:2] == ("darts", "random")]),
    value=json_value,
    resume=st.booleans(),
    data=st.data(),
)
def test_any_set_on_an_earlier_run_never_changes_its_files(finished_run, key, value, resume, data):
    out, args, files = finished_run
    result = invoke(*args, "--set", f"{key[2]}={data.draw(set_text(value))}", *(["--resume"] if resume else []))
    assert_clean(result)
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == files


def every_path(node, prefix=()):
    """The path of every entry of a JSON tree (dict keys and list indices)."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in items:
        yield (*prefix, key)
        yield from every_path(child, (*prefix, key))


def mutations(arch: dict) -> st.SearchStrategy[dict]:
    """arch.json with one entry dropped, replaced by a generated value, or an op or input changed."""
    paths = list(every_path(arch))

    @st.composite
    def mutate(draw):
        out = copy.deepcopy(arch)
        for path in draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3, unique=True)):
            *parents, leaf = path
            node = out
            try:
                for part in parents:
                    node = node[part]
                node[leaf]
            except (KeyError, IndexError, TypeError):  # an earlier mutation removed or replaced it
                continue
            if not isinstance(node, (dict, list)):
                continue
            action = draw(st.sampled_from(["drop", "replace", "op", "input"]))
            if action == "drop":
                del node[leaf]
            elif action == "op":
                node[leaf] = draw(st.sampled_from(["none", "sep_conv_5x5", "avg_pool_3x3", "conv_9x9", "skip"]))
            elif action == "input":
                node[leaf] = draw(st.integers(-2, 7))
            else:
                node[leaf] = draw(json_value)
        return out

    return mutate()


DARTS_V2 = json.loads((ARCHS_DIR / "darts_v2.json").read_text())
MBCONV = {
    "space": "mbconv",
    "variant": "cifar",
    "choices": "mdenas",
    "blocks": [{"kernel": 3, "expand": 3} for _ in range(21)],
}


@SLOW
@given(arch=st.one_of(mutations(DARTS_V2), mutations(MBCONV)))
@example(arch={**MBCONV, "choices": [1]})  # once a TypeError: a list is not a choice set's name
def test_a_mutated_arch_trains_for_zero_epochs_or_is_one_clean_error(arch):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "arch.json"
        path.write_text(json.dumps(arch))
        result = invoke(
            "train", "--arch", path, "--preset", "tiny", "--epochs", 0, "--device", "cpu", "--out", Path(tmp) / "out"
        )
        assert_clean(result)
        assert result.exit_code == 0 or not (Path(tmp) / "out").exists()
