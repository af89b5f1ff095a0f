"""nasframe's batched-tensor data pipeline vs torchvision's DataLoader with per-image PIL transforms.

nasframe: ``nasframe.data.TensorBatches`` over the training images held as one uint8 tensor on the
device, ``augment=True`` (random crop with 4 pixels of padding and horizontal flip as batched tensor
ops, then normalise), batch 64, one shuffled epoch per repeat; on CUDA in channels-last as the
engine's data.

Reference: ``torch.utils.data.DataLoader`` over a dataset that does what
``torchvision.datasets.CIFAR10.__getitem__`` does (``PIL.Image.fromarray`` of an HWC uint8 image, then
the transform) with ``RandomCrop(32, padding=4), RandomHorizontalFlip(), ToTensor(),
Normalize(mean, std)``, batch 64, shuffle, 2 workers (persistent, so worker start-up is outside the
timed epochs; on CUDA pinned memory and a non-blocking copy to the device). 0 workers is shown too.

Data: the real CIFAR-10 subset (10,000 training images) when present, else random uint8 images of
the same shape; the output says which. Repeats are interleaved epochs after one warm-up epoch each;
images/s = images per epoch / median epoch time. Also: the pipeline's time per batch as a share of
one single-path search step (``SearchContext.train_weights``, MdeNAS-sampled arch, same batch size).
Targets: >= 10x the 2-worker DataLoader's images/s; < 2% of a single-path step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import timing
import torch

SPEED_TARGET = 10.0
SHARE_TARGET = 0.02


class PILDataset(torch.utils.data.Dataset):
    """``torchvision.datasets.CIFAR10``'s item access over an (N, 32, 32, 3) uint8 array."""

    def __init__(self, data: np.ndarray, targets: list[int], transform) -> None:
        self.data, self.targets, self.transform = data, targets, transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        from PIL import Image

        img, target = self.data[index], self.targets[index]
        img = Image.fromarray(img)
        if self.transform is not None:
            img = self.transform(img)
        return img, target


def main() -> None:
    p = timing.parser(__doc__)
    p.add_argument("--workers", type=int, default=2, help="DataLoader workers of the reference (default 2)")
    p.add_argument("--no-share", action="store_true", help="skip the share-of-a-single-path-step measurement")
    args = p.parse_args()
    device = timing.setup(args)
    import torchvision.transforms as T

    from nasframe.data import cifar
    from nasframe.data.batches import TensorBatches

    sz = timing.sizes(args)
    batch = timing.FULL["batch"]  # the pipelines always run at the search batch size
    limit = 2000 if args.quick else None
    images, labels, source = timing.cifar_train(limit)
    n_batches = len(labels) // batch
    n_images = n_batches * batch
    repeats, warmup = timing.counts(args, 2 if args.quick else 5, 1)
    timing.note(
        f"data: {source}, {len(labels)} images, batch {batch}; {device}, {torch.get_num_threads()} threads; "
        f"median of {repeats} interleaved epochs after {warmup} warm-up epoch(s) each"
    )

    ours = TensorBatches(
        images,
        labels,
        batch,
        device,
        augment=True,
        drop_last=True,
        mean=cifar.MEAN,
        std=cifar.STD,
        channels_last=device.type == "cuda",
    )
    gen = torch.Generator().manual_seed(0)

    def tensor_epoch() -> int:
        n = 0
        last = None
        for x, y in ours.epoch(gen):
            n += len(y)
            last = x
        timing.sync(device)
        assert last is not None and last.dtype == torch.float32
        return n

    transform = T.Compose(
        [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(cifar.MEAN, cifar.STD)]
    )
    dataset = PILDataset(images.permute(0, 2, 3, 1).contiguous().numpy(), labels.tolist(), transform)
    cuda = device.type == "cuda"

    def loader(workers: int):
        dl = torch.utils.data.DataLoader(
            dataset,
            batch_size=batch,
            shuffle=True,
            num_workers=workers,
            drop_last=True,
            persistent_workers=workers > 0,
            pin_memory=cuda,
            generator=torch.Generator().manual_seed(0),
        )

        def epoch() -> int:
            n = 0
            for x, y in dl:
                if cuda:
                    x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                n += len(y)
            timing.sync(device)
            return n

        return epoch

    fns = {"nasframe TensorBatches": tensor_epoch, f"DataLoader + PIL, {args.workers} workers": loader(args.workers)}
    if args.workers != 0:
        fns["DataLoader + PIL, 0 workers"] = loader(0)
    t = timing.time_interleaved(fns, device, repeats, warmup)
    ips = {name: n_images / timing.median(secs) for name, secs in t.items()}
    ref_name = f"DataLoader + PIL, {args.workers} workers"
    speedup = ips["nasframe TensorBatches"] / ips[ref_name]
    per_batch = timing.median(t["nasframe TensorBatches"]) / n_batches

    share = step_s = None
    if not args.no_share:
        job = timing.search_job("mdenas", sz, device)
        arch = job.strategy.ask()
        b = next(iter(job.data.train.epoch(torch.Generator().manual_seed(1))))
        step = lambda: job.ctx.train_weights(b, arch)  # noqa: E731
        step_s = timing.median(timing.time_interleaved({"step": step}, device, 3 if args.quick else 5, 1)["step"])
        # the pipeline's cost for one batch of the step's size
        share = per_batch * (sz["batch"] / batch) / step_s

    rows = []
    for name, v in ips.items():
        rows.append(
            [
                name,
                f"{v:,.0f}",
                timing.fmt_ratio(ips["nasframe TensorBatches"] / v),
                timing.fmt_seconds(timing.median(t[name]) / n_batches),
            ]
        )
    timing.table(
        "Data pipeline: images/s with augmentation (crop + flip + normalise)",
        ["", "images/s", "nasframe speed-up", "time per batch"],
        rows,
        caption=f"target speed-up vs {ref_name} ≥ {SPEED_TARGET:g} → {timing.verdict(speedup, SPEED_TARGET, 'ge')}",
    )
    if share is not None:
        timing.table(
            "The pipeline's share of one single-path search step",
            ["", "time"],
            [
                ["TensorBatches, one batch", timing.fmt_seconds(per_batch * sz["batch"] / batch)],
                [
                    f"single-path step (C={sz['channels']}, {sz['layers']} cells, batch {sz['batch']})",
                    timing.fmt_seconds(step_s),
                ],
                ["share", f"{100 * share:.2f} %"],
            ],
            caption=f"target < {100 * SHARE_TARGET:g} % → {'MET' if share < SHARE_TARGET else 'MISSED'}",
        )
    for key in ("dataloader_pil_0_workers", "dataloader_pil_2_workers", "batched_tensor_pipeline"):
        ref = timing.REFERENCES[key]
        timing.note(
            f"issue #10 reference (earlier, not this run): {ref['what']}: {ref['images_per_second']:,.0f} images/s"
        )
    payload: dict[str, Any] = {
        "benchmark": "data_pipeline",
        "mode": "quick" if args.quick else "full",
        "data": source,
        "images": n_images,
        "batch": batch,
        "env": timing.environment(device),
        "images_per_second": ips,
        "epoch_seconds": t,
        "speedup": speedup,
        "speed_target": SPEED_TARGET,
        "share_of_single_path_step": share,
        "single_path_step_s": step_s,
        "share_target": SHARE_TARGET,
        "met": {"speed": speedup >= SPEED_TARGET, "share": None if share is None else share < SHARE_TARGET},
    }
    timing.quick_caveat(args)
    timing.write_json(args.json, payload)


if __name__ == "__main__":
    main()
