"""The model card: export.json's record as the README.md of the export folder, for a reader deciding whether to
deploy the file (what it is, how well it was trained, where it came from, how to feed it, whether it matches).

It renders only what the record holds: a figure the record lacks is said to be unknown, never filled in.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

UNKNOWN = "not recorded"


def _pct(value: float | None) -> str:
    return UNKNOWN if value is None else f"{100 * value:.2f} %"


def _count(value: float | None, unit: str = "") -> str:
    if value is None:
        return UNKNOWN
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= scale:
            return f"{value / scale:.2f}{suffix}{unit} ({value:,.0f})"
    return f"{value:,.0f}{unit}"


def _ms(value: float | None) -> str:
    return UNKNOWN if value is None else f"{value:.3f} ms"


def _rows(pairs: list[tuple[str, str]]) -> list[str]:
    return ["| | |", "|:---|:---|", *(f"| {k} | {v} |" for k, v in pairs)]


def render(record: Mapping[str, Any]) -> str:
    """The card of one export, in markdown."""
    net, pre, parity, speed = record["network"], record["preprocessing"], record["parity"], record["latency"]
    trained = record["weights"] == "trained"
    title = f"# {record['name']}: {record['space']} network, {record['format']}"
    lines = [title, ""]
    if not trained:
        lines += [
            "> **Untrained**: these are the seeded initial weights of the architecture's network, not a trained model."
            " The file serves to check deployment (the format, the runtime, the speed), not to make predictions.",
            "",
        ]
    lines += [
        f"Exported from {record['source']['kind']} `{record['source']['input']}` with nasframe "
        f"{record['versions']['nasframe']} to `{record['file']}` ({record['exporter']}"
        + (f", ONNX opset {record['opset']}" if record.get("opset") is not None else "")
        + f"). Load it with {record['load']}.",
        "",
        "## Architecture",
        "",
    ]
    if record.get("drawing"):
        lines += [f"![architecture]({record['drawing']})", ""]
    lines += _rows(
        [
            ("space", f"`{record['space']}` ({', '.join(f'{k}={v}' for k, v in record['space_config'].items())})"),
            ("parameters", _count(net["params"])),
            ("multiply-adds (one image)", _count(net["flops"])),
            ("classes", str(pre["num_classes"])),
            ("mode", "eval (no auxiliary head, no drop-path); batch dimension dynamic"),
        ]
    )
    lines += ["", "arch.json:", "", "```json", json.dumps(record["arch"]), "```", ""]
    lines += ["## Training", ""]
    training = record.get("training")
    if training:
        lines += _rows(
            [
                ("test accuracy", _pct(training.get("test_accuracy"))),
                ("test loss", UNKNOWN if training.get("test_loss") is None else f"{training['test_loss']:.4f}"),
                ("data set", str(training.get("dataset"))),
                ("epochs", str(training.get("epochs"))),
                ("seed", str(training.get("seed"))),
                ("preset", str(training.get("preset"))),
                ("config digest", f"`{training.get('config_digest')}`"),
                ("versions", _versions(training.get("versions"))),
                ("run", f"`{training.get('path')}`"),
            ]
        )
    else:
        lines += ["Not trained: no test accuracy exists for these weights."]
    truth = record.get("ground_truth")
    if truth:
        lines += ["", "Published ground truth of this architecture trained to convergence:", ""]
        lines += _rows([(k, f"{v}") for k, v in truth.items()])
    lines += ["", "## Where the architecture came from", ""]
    search, published = record.get("search"), record.get("published")
    if search:
        budget = ", ".join(f"{k} {v}" for k, v in search["budget"].items() if v is not None)
        lines += _rows(
            [
                ("strategy", f"`{search.get('strategy')}` on `{search.get('space')}`"),
                ("seed", str(search.get("seed"))),
                ("budget", budget or UNKNOWN),
                ("preset", str(search.get("preset"))),
                ("validation accuracy (shared weights)", _pct(search.get("val_accuracy"))),
                ("config digest", f"`{search.get('config_digest')}`"),
                ("versions", _versions(search.get("versions"))),
                ("run", f"`{search.get('path')}`"),
            ]
        )
    elif published:
        lines += [f"Published: {published.get('paper', UNKNOWN)} ({published.get('source', UNKNOWN)})."]
    else:
        lines += [
            f"The search is {UNKNOWN}: a training run does not keep the arch.json's origin "
            "(`nasframe export RUN --search SEARCH_RUN` records it)."
        ]
    lines += ["", "## Preprocessing", ""]
    pre_rows = [
        ("input", f"{pre['layout']}, shape {pre['input_shape']}"),
        ("scaling", pre["scale"]),
        ("mean", str(pre["mean"])),
        ("std", str(pre["std"])),
    ]
    if pre.get("resize"):
        pre_rows.insert(1, ("resize", pre["resize"]))
    lines += _rows(pre_rows)
    lines += ["", "## Parity with PyTorch", ""]
    lines += _rows(
        [
            ("images", parity["description"]),
            ("max abs logit difference", f"{parity['max_abs_diff']:.3g} (tolerance {parity['tolerance']:g})"),
            ("largest abs logit (PyTorch)", f"{parity['logit_scale']:.3g}"),
            ("top-1 agreement", f"{100 * parity['top1_agreement']:.2f} %"),
        ]
    )
    lines += ["", "## Latency", ""]
    lines += _rows(
        [
            (record["runtime"], _ms(speed["exported_ms"])),
            ("PyTorch (eager)", _ms(speed["pytorch_ms"])),
            (
                f"predicted ({speed.get('cost_model')} cost model)",
                _ms(speed.get("predicted_latency_ms"))
                if speed.get("predicted_latency_ms") is not None
                else "none: the space has no lookup table",
            ),
        ]
    )
    lines += [
        "",
        f"Batch 1 on {speed['device_name']} ({speed['threads']} thread(s)), median of {speed['repeats']} passes after "
        f"{speed['warmup']} warm-up, fastest of {speed['rounds']} alternating rounds (`nasframe latency`'s timing).",
        "",
        "## Files",
        "",
        f"- `{record['file']}`: the network in {record['format']} form",
        "- `model.safetensors`, `config.json`, `arch.json`: the same network for `nasframe.load_model(FOLDER)`",
        "- `export.json`: everything on this card as data",
        "",
    ]
    return "\n".join(lines)


def _versions(versions: Mapping[str, Any] | None) -> str:
    return ", ".join(f"{k} {v}" for k, v in versions.items()) if versions else UNKNOWN
