"""Training a found architecture from scratch (``nasframe train``): the child network, its recipe, its export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from nasframe.config import Schema, resolve
from nasframe.data import DataModule
from nasframe.engine.budget import latency_model, latency_report
from nasframe.engine.device import autocast
from nasframe.engine.ground_truth import benchmark_record
from nasframe.engine.loop import Job, Progress
from nasframe.engine.schedule import epoch_lr
from nasframe.interfaces.errors import ArchError
from nasframe.interfaces.meter import ClassificationMeter
from nasframe.interfaces.space import Arch
from nasframe.measure.cost import describe_network
from nasframe.measure.memory import peak_memory_bytes
from nasframe.registry import Registry, get_registry
from nasframe.storage import readers
from nasframe.storage.checkpoint import Checkpoint
from nasframe.storage.integrity import save_signed
from nasframe.storage.run_directory import MODEL_FILE, RunDir


def read_arch_file(path: str | Path) -> dict[str, Any]:
    """arch.json as a dict with a ``space`` key; a malformed file is an ArchError naming it."""
    path = Path(path)
    obj = readers.read_arch(path, error=ArchError)
    if not isinstance(obj.get("space"), str):
        raise ArchError(f'{path} must be a JSON object with a "space" key naming its search space')
    return obj


def read_arch(path_or_name: str, registry: Registry | None = None) -> dict[str, Any]:
    """The arch.json at a path, of an architecture a space ships (``nasframe list``), or of one written in a space's
    own notation (``SearchSpace.arch_from_text``).

    A shipped architecture's ``published`` record (its paper and figures) is left out: a run stores the
    architecture only.
    """
    path = Path(path_or_name)
    if path.exists() or path.suffix or len(path.parts) > 1:
        obj = read_arch_file(path)
    else:
        registry = registry or get_registry()
        for reg in registry.spaces.values():  # a space's own notation (a benchmark's cell string)
            obj = reg.cls.arch_from_text(path_or_name)
            if obj is not None:
                return obj
        published = registry.published()
        if path_or_name not in published:
            raise ArchError(
                f"no architecture file {path_or_name!r} and no shipped architecture of that name; "
                f"shipped: {', '.join(sorted(published))} (`nasframe list` shows their papers)"
            )
        obj = published[path_or_name]
    return {k: v for k, v in obj.items() if k != "published"}


def train_config(
    arch_json: dict[str, Any], preset: str, overrides: dict[str, Any], registry: Registry | None = None
) -> dict[str, Any]:
    """The resolved config of training ``arch_json`` from scratch; the arch itself is part of it."""
    registry = registry or get_registry()
    space_cls = registry.space(arch_json["space"])
    overrides = {**space_cls.arch_config(arch_json), **overrides}
    config = resolve(space_cls, None, preset, overrides, train=True, datasets=registry.dataset)
    config["arch"] = arch_json
    return config


class TrainJob(Job):
    """Train the child network of one architecture and test it; export the weights as safetensors."""

    kind = "train"

    def __init__(self, config: dict[str, Any], registry: Registry | None = None) -> None:
        super().__init__(config)
        self.registry = registry or get_registry()
        self.space = self.registry.build_space(config)
        self.arch: Arch = self.space.arch_from_json(config["arch"])
        self.data: DataModule | None = None

    def schema(self) -> Schema:
        return Schema.of(type(self.space))

    def identity(self) -> dict[str, Any]:
        return {"space": self.space.name}

    def setup(self) -> None:
        self.start("data")
        tc = self.config["train"]
        self.model, self.optimizer = self.place(self.space.build_child(self.arch))
        self.loss_fn = nn.CrossEntropyLoss()
        self.train_loss_fn = nn.CrossEntropyLoss(label_smoothing=tc["label_smoothing"])
        self.step_model = torch.compile(self.model) if tc.get("compile") else self.model
        if self.num_epochs > 0:
            self.data = self.load_data()

    def load_data(self) -> DataModule:
        """The splits to train on and test with (``nasframe rank`` tests on the validation split)."""
        return self.registry.build_data(self.config, self.device, purpose="train", world=self.world)

    def train_epoch(self, progress: Progress) -> dict[str, Any]:
        assert self.data is not None and self.run is not None
        tc = self.config["train"]
        lr = epoch_lr(tc, progress.epoch, progress.fraction)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        extras = self.space.child_extras()
        if extras.drop_path:
            self.model.drop_path_prob = extras.drop_path * progress.fraction
        aux_weight = extras.auxiliary_weight
        self.model.train()
        meter = ClassificationMeter(self.device)
        steps = len(self.data.train)
        for i, (x, y) in enumerate(self.data.train.epoch(self.generators["data"])):
            self.optimizer.zero_grad(set_to_none=True)
            with autocast(self.device, tc):
                out = self.step_model(x)
                logits, aux = out if isinstance(out, tuple) else (out, None)
                loss = self.train_loss_fn(logits.float(), y)
                total = loss + aux_weight * self.train_loss_fn(aux.float(), y) if aux is not None else loss
            total.backward()
            self.world.all_reduce_gradients(self.model.parameters())
            if tc.get("grad_clip"):
                nn.utils.clip_grad_norm_(self.model.parameters(), tc["grad_clip"])
            self.optimizer.step()
            meter.update(loss, logits, y)
            self.run.step_done(i + 1, steps)
        self.world.average_buffers(self.model)
        test = self.test()
        train = meter.read(self.world)
        return {
            "train_loss": train.loss,
            "train_accuracy": train.accuracy,
            "lr": lr,
            "drop_path_prob": extras.drop_path * progress.fraction,
            **test,
            "images": train.images,
        }

    def test(self) -> dict[str, float]:
        assert self.data is not None and self.data.test is not None
        self.model.eval()
        meter = ClassificationMeter(self.device)
        with torch.no_grad():
            for x, y in self.data.test.epoch(None):
                with autocast(self.device, self.config["train"]):
                    logits = self.model(x)
                meter.update(self.loss_fn(logits.float(), y), logits, y)
        result = meter.read(self.world)
        return {"test_loss": result.loss, "test_accuracy": result.accuracy}

    def save_state(self, ckpt: Checkpoint) -> None:
        ckpt.put_module("model", self.model.state_dict())
        ckpt.put_nested("optimizer", self.optimizer.state_dict())

    def load_state(self, ckpt: Checkpoint) -> None:
        self.model.load_state_dict(ckpt.section("model"))
        self.optimizer.load_state_dict(ckpt.nested("optimizer"))

    def finish(self, rundir: RunDir, events: list[dict[str, Any]], elapsed: float) -> dict[str, Any]:
        rundir.write_json(rundir.arch, self.space.arch_to_json(self.arch))
        state = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        rundir.write_file(rundir.path / MODEL_FILE, lambda tmp: save_signed(state, tmp, {}))
        last = events[-1] if events else {}
        network = describe_network(self.model, self.space.data, self.device, int(self.config["cost"]["batch_size"]))
        predictor = latency_model(self.config, self.space, self.device, self.registry)
        network.update(latency_report(predictor, self.arch, network["latency_ms"]))
        return {
            "space": self.space.name,
            "arch": self.space.arch_to_json(self.arch),
            **network,
            "test_accuracy": last.get("test_accuracy"),
            "test_loss": last.get("test_loss"),
            "epochs": len(events),
            "train_seconds": round(elapsed, 3),
            "peak_memory_bytes": peak_memory_bytes(self.device),
            **benchmark_record(self.space, self.arch),
        }
