"""YAML as rcgate reads its own files: safe, and a key given twice in one mapping is an error.

PyYAML keeps the last of two equal keys without a word, so a rule written twice (two
`values:` under one object) would silently lose the first. Every file rcgate reads
(config, mappings, credential maps) goes through `load`.
"""
from __future__ import annotations

from typing import Any

import yaml


class DuplicateKey(yaml.constructor.ConstructorError):
    pass


class _StrictLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise DuplicateKey(None, None, f"`{key}` is given twice in the same mapping", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load(text: str) -> Any:
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
