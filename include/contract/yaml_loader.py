"""Reading a contract's YAML: PyYAML's safe loader, except that a key written twice in one mapping
is an error instead of the last one silently winning (a column declared twice would change its
dtype, a second ``positive_value`` the positive class)."""

from __future__ import annotations

import yaml

_MERGE = "tag:yaml.org,2002:merge"


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping holds the same key twice; ``line`` and ``first`` are 1-based."""

    def __init__(self, key, line: int, first: int, mark):
        super().__init__(problem=f"duplicate key {key!r}", problem_mark=mark)
        self.key, self.line, self.first = key, line, first

    def __str__(self) -> str:
        return f"line {self.line}: duplicate key {self.key!r} (first at line {self.first})"


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a duplicate key in any mapping (``<<`` merges may still be
    overridden, as YAML allows)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: the safe loader's own error says so
                    break
                if first is not None:
                    raise DuplicateKeyError(key, key_node.start_mark.line + 1, first, key_node.start_mark)
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def load(text: str):
    """The YAML document in ``text``; raises ``DuplicateKeyError`` on a key written twice."""
    return yaml.load(text, Loader=StrictLoader)  # a SafeLoader subclass: builds plain data only
