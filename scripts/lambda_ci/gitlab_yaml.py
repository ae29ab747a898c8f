"""YAML as GitLab reads and writes it: `!reference` kept as written, other local tags read as their
plain values, and GitLab's limits on depth and on what aliases expand to. Apart from render, so that
reading a `--functions` list does not load Jinja."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Reference:
    """`!reference [job, key]`, kept as written: GitLab resolves it after interpolation, which skips it."""

    path: list[Any]


# GitLab's limits on a configuration's YAML (max_yaml_depth) and, here, on what aliases expand it to: every
# reader of the document (interpolation, the schemas) walks the expanded tree, so a "billion laughs" alias
# bomb of a few hundred bytes would otherwise take hours; a recursive alias would never end.
MAX_DEPTH = 100
MAX_NODES = 100_000


class Loader(yaml.SafeLoader):
    """YAML with GitLab's `!reference`; any other local tag gives its plain value. Refuses (a YAMLError)
    documents deeper than MAX_DEPTH, larger than MAX_NODES once aliases are expanded, or with an alias
    inside the node it names."""

    def compose_document(self) -> yaml.Node:
        self._expanded: dict[int, int] = {}  # id of a composed node -> its size with aliases expanded
        self._depth = 0
        try:
            return super().compose_document()
        finally:
            self._expanded = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None and id(target) not in self._expanded:
                raise yaml.composer.ComposerError(None, None, f"found a recursive alias *{event.anchor}",
                                                  event.start_mark)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                              event.start_mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        size = 1 + sum(self._expanded.get(id(child), 1) for child in children)
        if size > MAX_NODES:
            raise yaml.composer.ComposerError(None, None, f"expands to more than {MAX_NODES} values through "
                                              "aliases (a YAML bomb?)", event.start_mark)
        self._expanded[id(node)] = size
        return node


def _plain_tag(loader: Loader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


Loader.add_constructor("!reference",
                       lambda loader, node: Reference(loader.construct_sequence(node, deep=True)))
Loader.add_multi_constructor("!", _plain_tag)


def load_documents(text: str) -> list[Any]:
    return list(yaml.load_all(text, Loader=Loader))


class Dumper(yaml.SafeDumper):
    """Readable output: no anchors for values used twice, multi-line scripts as `|` blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: Dumper, text: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


Dumper.add_representer(str, _represent_str)
Dumper.add_representer(Reference, lambda dumper, ref: dumper.represent_sequence("!reference", ref.path,
                                                                                 flow_style=True))


def dump(document: Any) -> str:
    return yaml.dump(document, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=float("inf"))
