"""MdeNAS: the probability update against hand-worked cases, the strategy's state and sampling, end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from nasframe import Feedback, mean_entropy
from nasframe.interfaces.errors import CheckpointError, ConfigError
from nasframe.plugins.mdenas import MdeNAS, update_probabilities
from nasframe.storage.tensor_tree import flatten, unflatten
from nasframe.testing import ToySpace, fake_context

T = torch.float64


def t(*rows: Any) -> torch.Tensor:
    return torch.tensor(rows if len(rows) > 1 else rows[0], dtype=T)


# --- update_probabilities, by hand ------------------------------------------------------------


def test_update_moves_by_pairwise_comparison_and_he_ties_count_nothing() -> None:
    # He = [2, 1, 1, 0], Ha = [.5, .6, .4, 0], lr = .01, p uniform .25
    # i=0 (He 2, Ha .5): vs 1: dHe +1, dHa -.1 -> loses; vs 2: +1, +.1 -> nothing; vs 3: +2, +.5 -> nothing  => -1
    # i=1 (He 1, Ha .6): vs 0: dHe -1, dHa +.1 -> gains; vs 2: dHe 0 (tie) -> nothing; vs 3: +1, +.6 -> nothing  => +1
    # i=2 (He 1, Ha .4): vs 0: -1, -.1 -> nothing; vs 1: He tie -> nothing; vs 3: +1, +.4 -> nothing  => 0
    # i=3 (He 0, Ha 0): vs 0/1/2: dHe < 0 but dHa < 0 -> nothing  => 0
    # p = [.25 - .01, .25 + .01, .25, .25] = [.24, .26, .25, .25]; no clipping, sum 1.
    out = update_probabilities(t([0.25] * 4), t([2, 1, 1, 0]), t([0.5, 0.6, 0.4, 0.0]), 0.01)
    torch.testing.assert_close(out, t([0.24, 0.26, 0.25, 0.25]))


def test_update_ha_ties_count_nothing() -> None:
    # He = [3, 1, 2], Ha = [.5, .5, .7], lr = .01, p uniform 1/3
    # i=0 (3, .5): vs 1: dHe +2, dHa 0 (tie) -> nothing; vs 2: dHe +1, dHa -.2 -> loses  => -1
    # i=1 (1, .5): vs 0: dHe -2, dHa 0 (tie) -> nothing; vs 2: dHe -1, dHa -.2 -> nothing  => 0
    # i=2 (2, .7): vs 0: dHe -1, dHa +.2 -> gains; vs 1: dHe +1, dHa +.2 -> nothing  => +1
    # p = [1/3 - .01, 1/3, 1/3 + .01]
    out = update_probabilities(t([1 / 3] * 3), t([3, 1, 2]), t([0.5, 0.5, 0.7]), 0.01)
    torch.testing.assert_close(out, t([1 / 3 - 0.01, 1 / 3, 1 / 3 + 0.01]))


def test_update_clips_negative_and_renormalises() -> None:
    # p = [.005, .495, .5], He = [2, 1, 1], Ha = [.1, .3, .2], lr = .01
    # i=0 (2, .1): vs 1: +1, -.2 -> loses; vs 2: +1, -.1 -> loses  => -2
    # i=1 (1, .3): vs 0: -1, +.2 -> gains; vs 2: He tie -> nothing  => +1
    # i=2 (1, .2): vs 0: -1, +.1 -> gains; vs 1: He tie -> nothing  => +1
    # p + lr * delta = [.005 - .02, .495 + .01, .5 + .01] = [-.015, .505, .51]
    # clip -> [0, .505, .51], sum 1.015 -> [0, .505 / 1.015, .51 / 1.015] = [0, .497537, .502463]
    out = update_probabilities(t([0.005, 0.495, 0.5]), t([2, 1, 1]), t([0.1, 0.3, 0.2]), 0.01)
    torch.testing.assert_close(out, t([0.0, 0.505 / 1.015, 0.51 / 1.015]))
    assert out[0] == 0 and math.isclose(float(out.sum()), 1.0, abs_tol=1e-12)


def test_update_rows_are_independent_and_batched() -> None:
    # the Ha-tie row and the clipping row above, stacked, and the stack repeated along a leading dim
    p = t([[1 / 3] * 3, [0.005, 0.495, 0.5]])
    he = t([[3, 1, 2], [2, 1, 1]])
    ha = t([[0.5, 0.5, 0.7], [0.1, 0.3, 0.2]])
    want = t([[1 / 3 - 0.01, 1 / 3, 1 / 3 + 0.01], [0.0, 0.505 / 1.015, 0.51 / 1.015]])
    torch.testing.assert_close(update_probabilities(p, he, ha, 0.01), want)
    out = update_probabilities(p.expand(5, 2, 3), he.expand(5, 2, 3), ha.expand(5, 2, 3), 0.01)
    torch.testing.assert_close(out, want.expand(5, 2, 3))


def test_never_sampled_choice_neither_gains_nor_loses_against_a_sampled_one() -> None:
    # He and Ha start at 0. Choice 0 was sampled once and scored .3: He = [1, 0, 0], Ha = [.3, 0, 0].
    # i=0 vs j: dHe +1 and dHa +.3 (both positive: it would need dHa < 0 to lose) -> nothing
    # j vs 0:   dHe -1 and dHa -.3 (both negative: it would need dHa > 0 to gain) -> nothing
    p = t([0.2, 0.5, 0.3])
    torch.testing.assert_close(update_probabilities(p, t([1, 0, 0]), t([0.3, 0, 0]), 0.01), p)
    # the same after it was sampled many times with any accuracy
    torch.testing.assert_close(update_probabilities(p, t([7, 0, 0]), t([0.9, 0, 0]), 0.01), p)


def test_update_with_mask_ignores_padding() -> None:
    # M = 4 but only 3 real choices. The padded entry has He 5, Ha 0: unmasked, every real choice
    # (trained less, scoring higher) would gain against it; masked, it is never compared and stays 0.
    # Real part: the Ha-tie case above -> [1/3 - .01, 1/3, 1/3 + .01].
    p = t([1 / 3, 1 / 3, 1 / 3, 0.0])
    he, ha = t([3, 1, 2, 5]), t([0.5, 0.5, 0.7, 0.0])
    mask = torch.tensor([True, True, True, False])
    out = update_probabilities(p, he, ha, 0.01, mask)
    torch.testing.assert_close(out, t([1 / 3 - 0.01, 1 / 3, 1 / 3 + 0.01, 0.0]))
    assert out[3] == 0
    # without the mask the padding would have mattered
    assert not torch.allclose(update_probabilities(p, he, ha, 0.01), out)


def _reference(p: torch.Tensor, he: torch.Tensor, ha: torch.Tensor, lr: float) -> torch.Tensor:
    """The rule written as loops, straight from docs/algorithms.md#mdenas."""
    out = p.clone()
    for r in range(p.shape[0]):
        m = p.shape[1]
        for i in range(m):
            gain = sum(1 for j in range(m) if he[r, i] - he[r, j] < 0 and ha[r, i] - ha[r, j] > 0)
            loss = sum(1 for j in range(m) if he[r, i] - he[r, j] > 0 and ha[r, i] - ha[r, j] < 0)
            out[r, i] = p[r, i] + lr * (gain - loss)
    out = out.clamp_min(0)
    return out / out.sum(1, keepdim=True)


def test_update_matches_loop_reference_and_sum_stays_one() -> None:
    g = torch.Generator().manual_seed(0)
    for lr in (0.01, 0.1, 0.5):
        p = torch.distributions.Dirichlet(torch.ones(8, dtype=T)).sample((28,))
        he = torch.randint(0, 4, (28, 8), generator=g).to(T)  # small range: many He ties
        ha = (torch.randint(0, 5, (28, 8), generator=g) / 4).to(T)  # coarse: many Ha ties
        out = update_probabilities(p, he, ha, lr)
        torch.testing.assert_close(out, _reference(p, he, ha, lr))
        assert (out >= 0).all()
        torch.testing.assert_close(out.sum(-1), torch.ones(28, dtype=T))


def test_update_is_pure() -> None:
    p, he, ha = t([0.25] * 4), t([2, 1, 1, 0]), t([0.5, 0.6, 0.4, 0.0])
    copies = [x.clone() for x in (p, he, ha)]
    update_probabilities(p, he, ha, 0.01)
    for a, b in zip((p, he, ha), copies):
        assert torch.equal(a, b)


# --- the strategy --------------------------------------------------------------------------------


def toy_space(widths: tuple[int, ...]) -> ToySpace:
    """Decisions of different widths (3 and 2 choices among max 3), so the mask matters."""
    return ToySpace({f"d{i}": tuple(f"op{k}" for k in range(w)) for i, w in enumerate(widths)})


def make(widths: tuple[int, ...] = (3, 2), seed: int = 0, **config: Any) -> MdeNAS:
    space = toy_space(widths)
    s = MdeNAS(config)
    s.space, s.ctx = space, fake_context(space, seed=seed)
    s.setup(space, s.ctx)
    return s


def fb(acc: float) -> Feedback:
    return Feedback(accuracy=acc, loss=1.0, epoch=0, step=0, images=10)


def test_initial_state_is_uniform_over_real_choices() -> None:
    s = make((3, 2))
    torch.testing.assert_close(s.probabilities, t([[1 / 3] * 3, [0.5, 0.5, 0.0]]))
    assert torch.equal(s.epochs, torch.zeros(2, 3, dtype=T))
    assert set(s.state_dict()) == {"probabilities", "epochs", "accuracies"}
    assert s.sample_every == s.feedback_every == "epoch"
    assert math.isclose(s.metrics()["entropy"], (math.log(3) + math.log(2)) / 2)


def test_sample_every_step_and_bad_config() -> None:
    s = make(sample_every="step")
    assert s.sample_every == s.feedback_every == "step"
    with pytest.raises(ConfigError, match="sample_every"):
        MdeNAS({"sample_every": "batch"})
    with pytest.raises(ConfigError, match="lr"):
        MdeNAS({"lr": -1})


def test_tell_counts_and_updates() -> None:
    s = make((3,))
    # Must not move: two different choices once each -> He tie [1, 1, 0]
    s.tell({"d0": 0}, fb(0.5))
    torch.testing.assert_close(s.probabilities, t([[1 / 3] * 3]))  # only one sampled: nothing to compare
    s.tell({"d0": 1}, fb(0.6))
    torch.testing.assert_close(s.probabilities, t([[1 / 3] * 3]))
    # Must move: choice 0 again at .4 -> He [2, 1, 0], Ha [.4, .6, 0] (latest value, not a mean)
    # 0 vs 1: dHe +1, dHa -.2 -> 0 loses, 1 gains  => [1/3 - .01, 1/3 + .01, 1/3]
    s.tell({"d0": 0}, fb(0.4))
    assert s.epochs.tolist() == [[2.0, 1.0, 0.0]]
    assert s.accuracies.tolist() == [[0.4, 0.6, 0.0]]
    torch.testing.assert_close(s.probabilities, t([[1 / 3 - 0.01, 1 / 3 + 0.01, 1 / 3]]))
    assert s.final() == {"d0": 1}


def test_tell_must_not_move_when_more_training_agrees_with_higher_accuracy() -> None:
    s = make((3,))
    s.tell({"d0": 0}, fb(0.5))
    s.tell({"d0": 0}, fb(0.6))
    s.tell({"d0": 1}, fb(0.4))  # He [2, 1, 0], Ha [.6, .4, 0]: dHe and dHa agree -> nothing
    torch.testing.assert_close(s.probabilities, t([[1 / 3] * 3]))


def test_ask_uses_only_ctx_generator() -> None:
    widths = (8,) * 28
    torch.manual_seed(123)
    global_state = torch.get_rng_state()
    a = [make(widths, seed=5).ask() for _ in range(1)]
    s1, s2, s3 = make(widths, seed=5), make(widths, seed=5), make(widths, seed=6)
    draws1 = [s1.ask() for _ in range(4)]
    draws2 = [s2.ask() for _ in range(4)]
    draws3 = [s3.ask() for _ in range(4)]
    assert torch.equal(torch.get_rng_state(), global_state)  # the global stream was not touched
    assert draws1 == draws2 and a[0] == draws1[0]
    assert draws1 != draws3
    assert all(set(d) == {f"d{i}" for i in range(28)} for d in draws1)


def test_ask_follows_probabilities_and_never_draws_padding() -> None:
    s = make((3, 2))
    for _ in range(50):
        arch = s.ask()
        assert arch["d1"] in (0, 1)
    s.probabilities = t([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    assert all(s.ask() == {"d0": 2, "d1": 0} for _ in range(20))


def test_state_round_trip_through_checkpoint_flattening() -> None:
    s = make((3, 2))
    for arch, acc in [({"d0": 0, "d1": 0}, 0.3), ({"d0": 0, "d1": 1}, 0.2), ({"d0": 1, "d1": 1}, 0.5)]:
        s.tell(arch, fb(acc))
    tensors, skeleton = flatten(s.state_dict(), "strategy")
    assert set(tensors) == {"strategy.probabilities", "strategy.epochs", "strategy.accuracies"}
    json.dumps(skeleton)
    other = make((3, 2), seed=9)
    other.load_state_dict(unflatten(skeleton, tensors))
    for key in ("probabilities", "epochs", "accuracies"):
        assert torch.equal(getattr(other, key), getattr(s, key))
    # continuing gives the same result
    s.tell({"d0": 2, "d1": 0}, fb(0.1))
    other.tell({"d0": 2, "d1": 0}, fb(0.1))
    assert torch.equal(other.probabilities, s.probabilities)
    with pytest.raises(CheckpointError, match="shape"):
        make((3, 2, 2)).load_state_dict(s.state_dict())


def test_mean_entropy() -> None:
    assert mean_entropy(t([[1.0, 0.0], [0.5, 0.5]])) == pytest.approx(math.log(2) / 2)


# --- end to end ------------------------------------------------------------------------------------


def test_end_to_end_is_reproducible(tmp_path: Path, cifar_dir: Path) -> None:
    from click.testing import CliRunner
    from safetensors.torch import load_file

    import nasframe.cli

    epochs = 3
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        result = CliRunner().invoke(
            nasframe.cli.cli,
            [
                "run",
                "--strategy",
                "mdenas",
                "--space",
                "darts",
                "--preset",
                "tiny",
                "--epochs",
                str(epochs),
                "--seed",
                "3",
                "--device",
                "cpu",
                "--data-dir",
                str(cifar_dir),
                "--out",
                str(out),
                "--set",
                "data.limit=200",
            ],
        )
        assert result.exit_code == 0, result.output + repr(result.exception)
        outs.append(out)
    a, b = (json.loads((o / "arch.json").read_text()) for o in outs)
    assert a == b and a["space"] == "darts"
    ta, tb = (load_file(str(o / "checkpoint.safetensors")) for o in outs)
    p = ta["strategy.probabilities"]
    assert p.shape == (28, 8)
    assert torch.equal(p, tb["strategy.probabilities"])
    assert torch.equal(
        ta["strategy.epochs"].sum(-1), torch.full((28,), float(epochs), dtype=ta["strategy.epochs"].dtype)
    )
    torch.testing.assert_close(p.sum(-1), torch.ones(28, dtype=p.dtype))
    events = [json.loads(line) for line in (outs[0] / "events.jsonl").read_text().splitlines() if line.strip()]
    assert all("entropy" in e for e in events)
    # 3 epochs: a row moves once a choice sampled twice and one sampled once score in the opposite order
    accuracies = [e["val_accuracy"] for e in events]
    assert not torch.allclose(p, torch.full_like(p, 1 / 8)), f"p stayed uniform (val accuracies {accuracies})"


# --- presets ---------------------------------------------------------------------------------------


def test_paper_preset_on_darts_space() -> None:
    from nasframe.config import resolve
    from nasframe.registry import get_registry

    c = resolve(get_registry().space("darts"), MdeNAS, "paper")
    assert (c["space"]["layers"], c["space"]["channels"], c["space"]["nodes"]) == (6, 16, 4)
    assert (c["train"]["batch_size"], c["train"]["epochs"], c["train"]["lr"], c["train"]["lr_min"]) == (
        512,
        100,
        0.025,
        0.0,
    )
    assert (c["train"]["momentum"], c["train"]["weight_decay"], c["train"]["grad_clip"]) == (0.9, 3e-4, 5.0)
    assert c["data"]["val_size"] == 5000
    assert c["strategy"] == {"name": "mdenas", "sample_every": "epoch", "lr": 0.01}


def test_paper_preset_resolves_on_mbconv_space() -> None:
    from nasframe.config import resolve
    from nasframe.registry import get_registry

    c = resolve(get_registry().space("mbconv"), MdeNAS, "paper")
    assert c["train"]["batch_size"] == 512 and "layers" not in c["space"]
