"""Mermaid diagrams of flows, generated from the flow files themselves."""

from __future__ import annotations

from bot.content.flow import Flow, MenuNode, targets
from bot.content.pack import Content

SHAPES = {"menu": ("{{", "}}"), "ask": ("[/", "/]"), "language": ("{{", "}}"),
          "action": ("[[", "]]"), "message": ("[", "]"), "lookup": ("[(", ")]"),
          "branch": ("{", "}")}


def mermaid(content: Content, name: str) -> str:
    """A Mermaid flowchart of flow `name`; edges to other flows end in a round node."""
    flow: Flow = content.flows[name]
    lines = ["flowchart TD", f"  start(( )) --> {name}_{flow.start}"]
    for node_name, node in flow.nodes.items():
        left, right = SHAPES[node.type]
        label = _label(node.text or getattr(node, "action", ""))
        lines.append(f'  {name}_{node_name}{left}"{node_name}: {label}"{right}')
        for i, (field, target) in enumerate(targets(node)):
            dest_flow, dest = content.resolve(target, name)
            edge = node.options[i].label if isinstance(node, MenuNode) else field
            ref = f"{dest_flow}_{dest}"
            if dest_flow != name:
                lines.append(f'  {ref}(("{dest_flow}.{dest}"))')
            lines.append(f'  {name}_{node_name} -->|"{_label(edge, 30)}"| {ref}')
    return "\n".join(lines) + "\n"


def _label(text: str, size: int = 40) -> str:
    flat = " ".join(text.split()).replace('"', "'")
    return flat if len(flat) <= size else flat[: size - 1] + "…"
