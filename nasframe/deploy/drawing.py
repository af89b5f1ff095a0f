"""A space's drawing of an architecture (``SearchSpace.drawing``: cell graphs, strips of blocks) as one PNG.

It reads only the drawing dataclasses, never a space's own notation, so any space that draws is drawn.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Sequence

from nasframe.interfaces.space import CellDrawing, Drawing, StripDrawing

NODE_COLOURS = {"input": "#a6d96a", "node": "#abd9e9", "output": "#fee08b"}


def can_draw() -> bool:
    """Whether matplotlib is installed (``pip install 'nasframe[plot]'``)."""
    return importlib.util.find_spec("matplotlib") is not None


def _cell_positions(cell: CellDrawing) -> dict[str, tuple[float, float]]:
    pos: dict[str, tuple[float, float]] = {}
    n_in = len(cell.inputs)
    for i, name in enumerate(cell.inputs):
        pos[name] = (0.0, 1.2 * (n_in - 1) - 2.4 * i if n_in > 1 else 0.0)
    for i, name in enumerate(cell.nodes):
        pos[name] = (2.2 + 2.0 * i, 1.0 if i % 2 == 0 else -1.0)
    pos[cell.output] = (2.6 + 2.0 * len(cell.nodes), 0.0)
    return pos


def _draw_cell(ax: Any, cell: CellDrawing) -> None:
    from matplotlib.patches import FancyArrowPatch

    pos = _cell_positions(cell)
    bend = 0.15
    arrow = dict(arrowstyle="-|>", mutation_scale=12, shrinkA=16, shrinkB=16, zorder=1)
    for source, target, op in cell.edges:
        start, end = pos[source], pos[target]
        ax.add_patch(FancyArrowPatch(start, end, connectionstyle=f"arc3,rad={bend}", color="#444444", **arrow))
        dx, dy = end[0] - start[0], end[1] - start[1]
        mid = ((start[0] + end[0]) / 2 + bend * dy / 2, (start[1] + end[1]) / 2 - bend * dx / 2)
        box = dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85)
        ax.text(*mid, op, fontsize=7, ha="center", va="center", zorder=3, bbox=box)
    if cell.concat:
        for node in cell.nodes:
            ax.add_patch(FancyArrowPatch(pos[node], pos[cell.output], color="#999999", linestyle="--", **arrow))
    for name, (x, y) in pos.items():
        kind = "input" if name in cell.inputs else "output" if name == cell.output else "node"
        box = dict(boxstyle="round,pad=0.45", fc=NODE_COLOURS[kind], ec="#333333")
        ax.text(x, y, name, ha="center", va="center", fontsize=10, zorder=4, bbox=box)
    xs = [x for x, _ in pos.values()]
    ys = [y for _, y in pos.values()]
    ax.set(xlim=(min(xs) - 0.8, max(xs) + 0.8), ylim=(min(ys) - 0.8, max(ys) + 0.8), title=cell.title)
    ax.set_axis_off()


def _draw_strip(ax: Any, strip: StripDrawing) -> None:
    from matplotlib import colormaps
    from matplotlib.patches import FancyBboxPatch

    blues = colormaps["Blues"]
    for i, (label, shade) in enumerate(strip.blocks):
        colour = "white" if shade is None else blues(0.2 + 0.7 * float(shade))
        style = "--" if shade is None else "-"
        ax.add_patch(
            FancyBboxPatch((i + 0.05, 0.05), 0.9, 0.9, boxstyle="round,pad=0.02", fc=colour, ec="#333333", ls=style)
        )
        ink = "white" if shade is not None and shade > 0.6 else "black"
        ax.text(i + 0.5, 0.5, label, ha="center", va="center", fontsize=7, color=ink)
    ax.set(xlim=(0, max(len(strip.blocks), 1)), ylim=(0, 1), title=strip.title, aspect="equal")
    ax.set_axis_off()


def draw(path: Path, panels: Sequence[Drawing], title: str) -> bool:
    """Write ``panels`` one above the other to ``path`` as PNG; False (nothing written) when there is nothing to draw."""
    if not panels:
        return False
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    widths = [
        3.0 + 2.2 * len(p.nodes) if isinstance(p, CellDrawing) else max(4.0, 0.62 * len(p.blocks)) for p in panels
    ]
    heights = [3.5 if isinstance(p, CellDrawing) else 1.6 for p in panels]
    fig = Figure(figsize=(max(widths), sum(heights)), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, height_ratios=heights, squeeze=False)[:, 0]
    for ax, panel in zip(axes, panels):
        if isinstance(panel, CellDrawing):
            _draw_cell(ax, panel)
        elif isinstance(panel, StripDrawing):
            _draw_strip(ax, panel)
        else:
            raise TypeError(f"unknown drawing panel {type(panel).__name__}")
    fig.suptitle(title)
    fig.savefig(path, format="png", dpi=100)
    return True
