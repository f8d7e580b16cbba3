"""A Babel extractor for flow YAML: every sentence a person reads, with where it stands.

Registered in pyproject.toml under ``babel.extractors`` as ``faro_flows`` and used by
``babel.cfg`` (``make translations``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

TEXT_KEYS = {"text", "label", "retry", "item", "empty", "spoken"}
DATA_TEXT_KEYS = {"explain", "say", "bring"}  # what a person reads in a data file (flows/data/)


def extract_flow(fileobj: Any, keywords: Any, comment_tags: Any,
                 options: dict[str, Any]) -> Iterator[tuple[int, None, str, list[str]]]:
    """Yield (line, None, message, comments) for each translatable string in a YAML file."""
    root = yaml.compose(fileobj.read().decode("utf-8"))
    if not isinstance(root, yaml.MappingNode):
        return
    top = {k.value: v for k, v in root.value}
    if "messages" in top:
        yield from _pairs(top["messages"], "message", all_values=True)
        yield from _plurals(top["messages"])
        if "spoken" in top:
            yield from _pairs(top["spoken"], "spoken", all_values=True)
    elif "nodes" in top and "flow" in top:
        flow = top["flow"].value
        for name, node in top["nodes"].value:
            yield from _walk(node, f"{flow}.{name.value}")
    else:
        yield from _walk(root, "data", DATA_TEXT_KEYS)


def _pairs(mapping: yaml.Node, where: str, all_values: bool = False, wanted_keys=TEXT_KEYS):
    if not isinstance(mapping, yaml.MappingNode):
        return
    for key, value in mapping.value:
        wanted = all_values or key.value in wanted_keys
        if isinstance(value, yaml.ScalarNode) and wanted and value.value.strip():
            yield value.start_mark.line + 1, None, value.value, [f"{where} {key.value}"]


def _plurals(mapping: yaml.Node):
    """Messages written as {one: ..., other: ...}: one gettext entry with plural forms."""
    if not isinstance(mapping, yaml.MappingNode):
        return
    for key, value in mapping.value:
        if isinstance(value, yaml.MappingNode):
            forms = {k.value: v.value for k, v in value.value}
            if forms.get("one") and forms.get("other"):
                yield (value.start_mark.line + 1, "ngettext", (forms["one"], forms["other"]),
                       [f"message {key.value} (plural)"])


def _walk(node: yaml.Node, where: str, wanted_keys=TEXT_KEYS):
    if isinstance(node, yaml.MappingNode):
        yield from _pairs(node, where, wanted_keys=wanted_keys)
        for key, value in node.value:
            if key.value == "args":
                continue  # action and lookup arguments are data, not sentences
            if not isinstance(value, yaml.ScalarNode):
                inner = f"{where}.{key.value}" if where == "data" else where
                yield from _walk(value, inner, wanted_keys)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _walk(item, where, wanted_keys)
