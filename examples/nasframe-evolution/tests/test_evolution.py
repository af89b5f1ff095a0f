"""How a plugin tests itself with ``nasframe.testing``: run ``pip install -e . && pytest`` here."""

import pytest

from nasframe.testing import tiny_search


@pytest.mark.parametrize("space", ["darts", "mbconv"])
def test_evolution_finds_an_architecture_on_every_space(tmp_path, space):
    summary = tiny_search("evolution", space, tmp_path / "run", sets={"data.limit": 200})
    assert summary["strategy"] == "evolution" and summary["arch"]["space"] == space


def test_the_same_seed_gives_the_same_architecture(tmp_path):
    first = tiny_search("evolution", "darts", tmp_path / "a", seed=3, sets={"data.limit": 200})
    second = tiny_search("evolution", "darts", tmp_path / "b", seed=3, sets={"data.limit": 200})
    assert first["arch"] == second["arch"]
