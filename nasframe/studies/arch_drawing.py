"""Drawings of found architectures from the panels their space describes (``SearchSpace.drawing``): a cell as a
graph with its ops on the edges, as the DARTS paper draws one; a network as a strip of blocks."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from nasframe.interfaces.space import CellDrawing, Drawing, StripDrawing

NODE_COLOURS = {"input": "#a6d96a", "node": "#abd9e9", "output": "#fee08b"}
BEND = 0.15
"""Curvature of the edges (matplotlib ``arc3`` rad), so edges into one node do not overlap."""


def cell_layout(cell: CellDrawing) -> dict[str, tuple[float, float]]:
    """Positions: the inputs on the left, intermediate nodes zigzagging right, the output last."""
    spread = 2.4 / max(len(cell.inputs) - 1, 1)
    pos = {name: (0.0, 1.2 - i * spread if len(cell.inputs) > 1 else 0.0) for i, name in enumerate(cell.inputs)}
    for i, name in enumerate(cell.nodes):
        pos[name] = (2.2 + 2.0 * i, 1.0 if i % 2 == 0 else -1.0)
    pos[cell.output] = (2.2 + 2.0 * len(cell.nodes) + 0.4, 0.0)
    return pos


def _label(name: str) -> str:
    return f"${name}$" if "_" in name or "{" in name else name


def draw_cell(ax: Any, cell: CellDrawing) -> None:
    """One cell: ops on the edges, dashed edges from every node to the output when the cell concatenates them."""
    from matplotlib.patches import FancyArrowPatch

    pos = cell_layout(cell)
    for src, dst, op in cell.edges:
        start, end = pos[src], pos[dst]
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
        box = dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85)
        ax.text(*mid, op, fontsize=7, ha="center", va="center", zorder=3, bbox=box)
    if cell.concat:
        for name in cell.nodes:
            ax.add_patch(
                FancyArrowPatch(
                    pos[name],
                    pos[cell.output],
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
        kind = "input" if name in cell.inputs else "output" if name == cell.output else "node"
        box = dict(boxstyle="round,pad=0.45", fc=NODE_COLOURS[kind], ec="#333333")
        ax.text(x, y, _label(name), ha="center", va="center", fontsize=10, zorder=4, bbox=box)
    xs = [x for x, _ in pos.values()]
    ax.set(xlim=(min(xs) - 0.7, max(xs) + 0.7), ylim=(-1.9, 1.9), title=cell.title)
    ax.set_axis_off()


def draw_strip(ax: Any, strip: StripDrawing) -> None:
    """Blocks in order, darker for a larger shade; a block without a shade (skipped) hollow and dashed."""
    from matplotlib import colormaps
    from matplotlib.patches import FancyBboxPatch

    blues = colormaps["Blues"]
    for i, (label, shade) in enumerate(strip.blocks):
        colour = "white" if shade is None else blues(0.25 + 0.65 * shade)
        ax.add_patch(
            FancyBboxPatch(
                (i + 0.05, 0.05),
                0.9,
                0.9,
                boxstyle="round,pad=0.02",
                fc=colour,
                ec="#333333",
                linestyle="--" if shade is None else "-",
            )
        )
        ink = "white" if shade is not None and shade > 0.6 else "black"
        ax.text(i + 0.5, 0.5, label, ha="center", va="center", fontsize=7, color=ink)
    ax.set(xlim=(0, max(len(strip.blocks), 1)), ylim=(0, 1), title=strip.title)
    ax.set_axis_off()


def draw_arch(path: Path, panels: Sequence[Drawing], title: str) -> bool:
    """Write the drawing of ``panels`` (one above the other) to ``path``; False (nothing written) when there are none."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not panels:
        return False
    width = max(
        3.0 + 2.2 * len(p.nodes) if isinstance(p, CellDrawing) else max(4.0, 0.62 * len(p.blocks)) for p in panels
    )
    heights = [3.5 if isinstance(p, CellDrawing) else 1.6 for p in panels]
    fig = Figure(figsize=(width, sum(heights)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, squeeze=False, height_ratios=heights)[:, 0]
    for ax, panel in zip(axes, panels):
        (draw_cell if isinstance(panel, CellDrawing) else draw_strip)(ax, panel)
    fig.suptitle(title)
    fig.savefig(path, format="png", dpi=100)
    return True
