"""Nested state (optimizer and strategy state dicts) as flat tensors plus a JSON skeleton."""

from __future__ import annotations

from typing import Any

import torch

_TENSOR = "__tensor__"
_ITEMS = "__items__"


def flatten(obj: Any, prefix: str) -> tuple[dict[str, torch.Tensor], Any]:
    """Split ``obj`` into ``{prefix.path: tensor}`` and a JSON-able skeleton that points at them."""
    tensors: dict[str, torch.Tensor] = {}

    def walk(node: Any, path: str) -> Any:
        if isinstance(node, torch.Tensor):
            tensors[path] = node.detach().cpu().contiguous().clone()
            return {_TENSOR: path}
        if isinstance(node, dict):
            if all(isinstance(k, str) for k in node):
                return {k: walk(v, f"{path}.{k}") for k, v in node.items()}
            return {_ITEMS: [[k, walk(v, f"{path}.{k}")] for k, v in node.items()]}
        if isinstance(node, (list, tuple)):
            return [walk(v, f"{path}.{i}") for i, v in enumerate(node)]
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        raise TypeError(f"state at {path!r} holds a {type(node).__name__}: only tensors and JSON values checkpoint")

    skeleton = walk(obj, prefix)
    return tensors, skeleton


def unflatten(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Rebuild what ``flatten`` split; raises KeyError naming a missing tensor."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if _TENSOR in node:
                return tensors[node[_TENSOR]]
            if _ITEMS in node:
                return {k: walk(v) for k, v in node[_ITEMS]}
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(skeleton)


def tensor_keys(skeleton: Any) -> list[str]:
    """Every tensor name a skeleton points at."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if _TENSOR in node:
                out.append(node[_TENSOR])
                return
            for v in [v for _, v in node[_ITEMS]] if _ITEMS in node else node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(skeleton)
    return out
