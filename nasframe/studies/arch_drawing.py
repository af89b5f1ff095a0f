"""Drawings of found architectures from their arch.json: a DARTS cell as the DARTS paper draws it,
an MBConv network as a strip of blocks labelled by kernel and expansion."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

NODE_COLOURS = {"input": "#a6d96a", "node": "#abd9e9", "output": "#fee08b"}
KERNEL_COLOURS = {3: "#c6dbef", 5: "#6baed6", 7: "#2171b5"}
BEND = 0.15
"""Curvature of the edges (matplotlib ``arc3`` rad), so edges into one node do not overlap."""


def cell_layout(nodes: int) -> dict[str, tuple[float, float]]:
    """Positions: the inputs c_{k-2}, c_{k-1} on the left, intermediate nodes zigzagging right, c_{k} last."""
    pos = {"c_{k-2}": (0.0, 1.2), "c_{k-1}": (0.0, -1.2)}
    for i in range(nodes):
        pos[str(i)] = (2.2 + 2.0 * i, 1.0 if i % 2 == 0 else -1.0)
    pos["c_{k}"] = (2.2 + 2.0 * nodes + 0.4, 0.0)
    return pos


def source_name(src: int) -> str:
    return {0: "c_{k-2}", 1: "c_{k-1}"}.get(src, str(src - 2))


def draw_cell(ax: Any, pairs: Sequence[Sequence[Any]], title: str) -> None:
    """One DARTS cell from arch.json's flat ``[[op, input], ...]`` (two per node): ops on the edges."""
    from matplotlib.patches import FancyArrowPatch

    nodes = len(pairs) // 2
    pos = cell_layout(nodes)
    for k, (op, src) in enumerate(pairs):
        start, end = pos[source_name(int(src))], pos[str(k // 2)]
        ax.add_patch(
            FancyArrowPatch(
                start,
                end,
                connectionstyle=f"arc3,rad={BEND}",
                arrowstyle="-|>",
                mutation_scale=12,
                color="#444444",
                shrinkA=16,
                shrinkB=16,
                zorder=1,
            )
        )
        dx, dy = end[0] - start[0], end[1] - start[1]  # the label sits on the arc's midpoint (matplotlib's arc3)
        mid = ((start[0] + end[0]) / 2 + BEND * dy / 2, (start[1] + end[1]) / 2 - BEND * dx / 2)
        ax.text(
            *mid,
            op,
            fontsize=7,
            ha="center",
            va="center",
            zorder=3,
            bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85),
        )
    for i in range(nodes):
        ax.add_patch(
            FancyArrowPatch(
                pos[str(i)],
                pos["c_{k}"],
                arrowstyle="-|>",
                mutation_scale=10,
                color="#999999",
                linestyle="--",
                shrinkA=16,
                shrinkB=16,
                zorder=1,
            )
        )
    for name, (x, y) in pos.items():
        kind = "input" if name.startswith("c_{k-") else "output" if name == "c_{k}" else "node"
        label = f"${name}$" if name.startswith("c_") else name
        ax.text(
            x,
            y,
            label,
            ha="center",
            va="center",
            fontsize=10,
            zorder=4,
            bbox=dict(boxstyle="round,pad=0.45", fc=NODE_COLOURS[kind], ec="#333333"),
        )
    xs = [x for x, _ in pos.values()]
    ax.set(xlim=(min(xs) - 0.7, max(xs) + 0.7), ylim=(-1.9, 1.9), title=title)
    ax.set_axis_off()


def draw_mbconv(ax: Any, blocks: Sequence[Any], title: str) -> None:
    """The searchable blocks in order: ``MB<expand> <k>x<k>`` boxes coloured by kernel, ``skip`` hollow."""
    from matplotlib.patches import FancyBboxPatch

    for i, block in enumerate(blocks):
        skip = not isinstance(block, Mapping)
        colour = "white" if skip else KERNEL_COLOURS.get(int(block["kernel"]), "#dddddd")
        ax.add_patch(
            FancyBboxPatch(
                (i + 0.05, 0.05),
                0.9,
                0.9,
                boxstyle="round,pad=0.02",
                fc=colour,
                ec="#333333",
                linestyle="--" if skip else "-",
            )
        )
        label = "skip" if skip else f"MB{block['expand']}\n{block['kernel']}x{block['kernel']}"
        ax.text(
            i + 0.5,
            0.5,
            label,
            ha="center",
            va="center",
            fontsize=7,
            color="white" if not skip and int(block["kernel"]) == 7 else "black",
        )
    ax.set(xlim=(0, max(len(blocks), 1)), ylim=(0, 1), title=title)
    ax.set_axis_off()


def draw_arch(path: Path, arch: Mapping[str, Any], title: str) -> bool:
    """Write ``arch``'s drawing to ``path``; False (nothing written) for a space it cannot draw."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if arch.get("space") == "darts" and "normal" in arch and "reduce" in arch:
        nodes = len(arch["normal"]) // 2
        fig = Figure(figsize=(3.0 + 2.2 * nodes, 7.0), layout="constrained")
        FigureCanvasAgg(fig)
        for ax, cell in zip(fig.subplots(2, 1), ("normal", "reduce")):
            draw_cell(ax, arch[cell], f"{cell} cell")
    elif arch.get("space") == "mbconv" and isinstance(arch.get("blocks"), list):
        fig = Figure(figsize=(max(4.0, 0.62 * len(arch["blocks"])), 1.6), layout="constrained")
        FigureCanvasAgg(fig)
        draw_mbconv(fig.subplots(), arch["blocks"], f"{arch.get('variant', '')} {arch.get('choices', '')} blocks")
    else:
        return False
    fig.suptitle(title)
    fig.savefig(path, format="png", dpi=100)
    return True
