"""Kendall τ-b against hand counts, p_τ, the per-epoch τ and the study bookkeeping that needs no training."""

import json
import math
import sys

import pytest

from nasframe.interfaces.errors import NasframeError
from nasframe.measure.rank_correlation import PAPER_MEAN_TAU, epoch_taus, kendall_tau_b, mean_tau, p_tau
from nasframe.studies.rank import STUDY_FILE, open_study, plot_study, tau_record


def test_perfect_and_inverse_rankings():
    # 4 items, no ties: C(4,2) = 6 pairs. Same order: P = 6, Q = 0 -> 6/6 = 1.
    assert kendall_tau_b([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    # Reversed: every pair discordant, P = 0, Q = 6 -> -6/6 = -1.
    assert kendall_tau_b([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0


def test_no_ties_is_the_plain_tau():
    # x = [1, 2, 3, 4], y = [1, 3, 2, 4]; pairs (i, j): sign of x_j - x_i vs y_j - y_i
    # (0,1) + +  C   (0,2) + +  C   (0,3) + +  C
    # (1,2) + -  D   (1,3) + +  C   (2,3) + +  C
    # P = 5, Q = 1, no ties -> (5 - 1) / sqrt(6 * 6) = 4/6
    assert kendall_tau_b([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(2 / 3)


def test_ties_in_both_sequences():
    # x = [1, 1, 2, 3], y = [1, 2, 2, 3]
    # (0,1) x tied (0 vs +)       -> T_x
    # (0,2) + +                   -> C
    # (0,3) + +                   -> C
    # (1,2) y tied (+ vs 0)       -> T_y
    # (1,3) + +                   -> C
    # (2,3) + +                   -> C
    # P = 4, Q = 0, T_x = 1, T_y = 1 -> 4 / sqrt((4 + 0 + 1)(4 + 0 + 1)) = 4/5
    assert kendall_tau_b([1, 1, 2, 3], [1, 2, 2, 3]) == pytest.approx(0.8)


def test_ties_with_discordance_and_a_pair_tied_in_both():
    # x = [1, 2, 2, 3, 1], y = [2, 1, 1, 3, 3]; sign(x_j - x_i), sign(y_j - y_i):
    # (0,1) + -  D      (0,2) + -  D      (0,3) + +  C      (0,4) 0 +  T_x
    # (1,2) 0 0  both tied: counted nowhere
    # (1,3) + +  C      (1,4) - +  D      (2,3) + +  C      (2,4) - +  D
    # (3,4) - 0  T_y
    # P = 3, Q = 4, T_x = 1, T_y = 1 -> -1 / sqrt((3+4+1)(3+4+1)) = -1/8
    assert kendall_tau_b([1, 2, 2, 3, 1], [2, 1, 1, 3, 3]) == pytest.approx(-0.125)


def test_ties_only_in_one_sequence_make_tau_b_smaller_than_one():
    # x = [1, 2, 3], y = [1, 1, 3]: (0,1) T_y, (0,2) C, (1,2) C -> P = 2, Q = 0, T_x = 0, T_y = 1
    # -> 2 / sqrt((2 + 0 + 0)(2 + 0 + 1)) = 2 / sqrt(6)
    assert kendall_tau_b([1, 2, 3], [1, 1, 3]) == pytest.approx(2 / math.sqrt(6))
    # symmetric in its arguments
    assert kendall_tau_b([1, 1, 3], [1, 2, 3]) == pytest.approx(2 / math.sqrt(6))


def test_matches_scipy_when_available():
    stats = pytest.importorskip("scipy.stats")
    x, y = [0.1, 0.3, 0.3, 0.2, 0.5, 0.5, 0.9], [3, 1, 2, 2, 5, 4, 4]
    assert kendall_tau_b(x, y) == pytest.approx(stats.kendalltau(x, y).statistic)


def test_undefined_cases_are_nan():
    # Every item tied in x: P = Q = T_y = 0, T_x = 3 -> denominator sqrt(3 * 0) = 0: no order, nan.
    assert math.isnan(kendall_tau_b([0.5, 0.5, 0.5], [1, 2, 3]))
    assert math.isnan(kendall_tau_b([1, 2, 3], [7, 7, 7]))
    assert math.isnan(kendall_tau_b([1], [1]))
    assert math.isnan(kendall_tau_b([], []))
    with pytest.raises(ValueError):
        kendall_tau_b([1, 2], [1])


def test_p_tau():
    assert p_tau(1.0) == 1.0 and p_tau(-1.0) == 0.0 and p_tau(0.0) == 0.5
    assert p_tau(PAPER_MEAN_TAU) == pytest.approx(0.737)
    assert math.isnan(p_tau(math.nan))


def test_epoch_taus_against_the_final_epoch_and_their_mean():
    # three archs, three epochs; final ranking (epoch 3): a0 < a1 < a2
    curves = [[0.3, 0.1, 0.1], [0.2, 0.2, 0.2], [0.1, 0.2, 0.3]]
    taus = epoch_taus(curves)
    # epoch 1: [0.3, 0.2, 0.1] vs [0.1, 0.2, 0.3]: all 3 pairs discordant -> -1
    # epoch 2: [0.1, 0.2, 0.2] vs final: (0,1) C, (0,2) C, (1,2) T_x -> 2 / sqrt(3 * 2)
    # epoch 3: itself -> 1
    assert taus == pytest.approx([-1.0, 2 / math.sqrt(6), 1.0])
    # the mean leaves out the final epoch (1 by definition)
    assert mean_tau(taus) == pytest.approx((-1 + 2 / math.sqrt(6)) / 2)
    # an all-tied epoch (nan) is left out of the mean; nothing left -> nan
    assert mean_tau([math.nan, 0.5, 1.0]) == 0.5
    assert math.isnan(mean_tau([1.0]))
    with pytest.raises(ValueError):
        epoch_taus([[0.1, 0.2], [0.3]])


def _records():
    return [
        {"index": i, "arch": {"space": "darts"}, "val_accuracy": acc, "val_loss": [1 - a for a in acc]}
        for i, acc in enumerate([[0.1, 0.1, 0.4], [0.1, 0.3, 0.2], [0.1, 0.2, 0.5]])
    ]


def test_tau_record_is_json_without_nan():
    tau = tau_record(_records(), "scratch")
    # epoch 1: every arch at 0.1 -> undefined, written as null
    assert tau["epochs"][0]["tau"] is None and tau["epochs"][0]["p_tau"] is None
    assert tau["epochs"][-1]["tau"] == 1.0
    assert tau["mean_tau"] == pytest.approx(tau["epochs"][1]["tau"])
    assert tau["paper_mean_tau"] == PAPER_MEAN_TAU and "not comparable" in tau["note"]
    json.dumps(tau, allow_nan=False)


def test_plot_is_skipped_without_matplotlib(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    records = _records()
    assert plot_study(tmp_path / "rank.png", records, tau_record(records)) is False
    assert not (tmp_path / "rank.png").exists()


def test_plot_is_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    records = _records()
    assert plot_study(tmp_path / "rank.png", records, tau_record(records)) is True
    assert (tmp_path / "rank.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_study_settings_are_pinned(tmp_path):
    out = tmp_path / "study"
    settings = dict(space="darts", samples=3, evaluator="scratch", preset="tiny")
    overrides = {"train.epochs": 2, "data.limit": 200}
    study = open_study(out, overrides=overrides, **settings)
    saved = json.loads((out / STUDY_FILE).read_text())
    assert len(saved["archs"]) == 3 and saved["archs"] == study.archs
    assert all(a["space"] == "darts" and len(a["normal"]) == 8 for a in study.archs)
    assert len({json.dumps(a) for a in study.archs}) == 3
    # the same settings reopen it (the device and data folder may differ), sampling the same archs
    again = open_study(out, overrides={**overrides, "device": "cpu", "data.dir": "/elsewhere"}, **settings)
    assert again.archs == study.archs
    # other settings are refused, naming what differs
    with pytest.raises(NasframeError, match=r"other settings \(train\.epochs: saved 2, now 3"):
        open_study(out, overrides={**overrides, "train.epochs": 3}, **settings)
    with pytest.raises(NasframeError, match="samples: saved 3, now 4"):
        open_study(out, overrides=overrides, **{**settings, "samples": 4})
    with pytest.raises(NasframeError, match="evaluator: saved 'scratch', now 'supernet'"):
        open_study(out, overrides=overrides, **{**settings, "evaluator": "supernet"})
    # another seed samples other architectures
    other = open_study(tmp_path / "other", overrides={**overrides, "seed": 1}, **settings)
    assert other.archs != study.archs


def test_a_folder_that_is_not_a_study_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(NasframeError, match="holds no ranking study"):
        open_study(tmp_path, "darts", 3, "scratch", "tiny", {})
    with pytest.raises(NasframeError, match="at least 2"):
        open_study(tmp_path / "new", "darts", 1, "scratch", "tiny", {})
