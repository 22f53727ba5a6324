"""Reading YAML and JSON documents that may come from someone else.

PyYAML's safe loader builds no objects, but on its own it lets a later duplicate key silently win,
recurses until Python's stack runs out on deep nesting, and expands aliases without bound (a few
hundred bytes can stand for millions of values: the "billion laughs"). :func:`load_document`
refuses all three, and files larger than the limit, with an error that names the place.
The limits are in :mod:`.limits`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from . import limits


class DocumentError(ValueError):
    """A document that cannot be read; ``where`` is its place (line and column) or "file"."""

    def __init__(self, where: str, message: str):
        self.where, self.message = where, message
        super().__init__(f"{where}: {message}")


def _place(node: yaml.Node) -> str:
    mark = node.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}"


class _GuardedLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys and nesting deeper than ``max_depth``."""

    max_depth = 40

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                mark = self.peek_event().start_mark
                raise DocumentError(
                    f"line {mark.line + 1}, column {mark.column + 1}",
                    f"nested deeper than {self.max_depth} levels (BIOPROCESS_TWIN_MAX_YAML_DEPTH)",
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # keys merged in with '<<' may be overridden: that is YAML's merge
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    raise DocumentError(_place(key_node), "a mapping key must be a plain value") from None
                if key in seen:
                    raise DocumentError(
                        _place(key_node), f"duplicate key '{key}' (first at {_place(seen[key])}); give each key once"
                    )
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Values in the document once every alias is expanded, counted without expanding them."""
    sizes: dict[int, int] = {}
    order: list[yaml.Node] = []
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # post-order without recursion; aliases share nodes, so memoise on identity
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        if done:
            order.append(node)
            sizes[id(node)] = -1
            continue
        stack.append((node, True))
        for child in _children(node):
            if id(child) not in sizes:
                stack.append((child, False))
    sizes.clear()
    for node in order:
        total = 1 + sum(sizes.get(id(child), 1) for child in _children(node))
        sizes[id(node)] = min(total, limit + 1)
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def load_document(text: str) -> Any:
    """The data of one YAML (or JSON) document, within the limits in force; raises DocumentError."""
    current = limits.current()
    loader = _GuardedLoader(text)
    loader.max_depth = current.max_yaml_depth
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = _expanded_size(node, current.max_yaml_nodes)
        if size > current.max_yaml_nodes:
            raise DocumentError(
                "file",
                f"expands to more than {current.max_yaml_nodes} values (aliases included; "
                "BIOPROCESS_TWIN_MAX_YAML_NODES)",
            )
        return loader.construct_document(node)
    except RecursionError:
        raise DocumentError("file", "nested too deeply to read") from None
    except yaml.YAMLError as exc:
        raise DocumentError("file", f"not valid YAML/JSON: {exc}") from None
    finally:
        loader.dispose()


def read_document(path: str | Path) -> Any:
    """:func:`load_document` of a file, refusing one larger than the limit before reading it."""
    path = Path(path)
    limit = limits.current().max_spec_bytes
    try:
        size = path.stat().st_size
        if size > limit:
            raise DocumentError("file", f"{size} bytes exceed the limit of {limit} (BIOPROCESS_TWIN_MAX_SPEC_BYTES)")
        with path.open("rb") as handle:
            raw = handle.read(limit + 1)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise DocumentError("file", "not found") from None
    except OSError as exc:
        raise DocumentError("file", f"cannot be read: {exc.strerror or exc}") from None
    if len(raw) > limit:
        raise DocumentError("file", f"larger than the limit of {limit} bytes (BIOPROCESS_TWIN_MAX_SPEC_BYTES)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError("file", f"not UTF-8 text (byte {exc.start})") from None
    return load_document(text)
