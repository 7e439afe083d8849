"""Reading YAML that came from an artifact (MLmodel files, environment files, project files).

``yaml.safe_load`` builds no objects of the file's choosing, but it still lets a file spend our memory:
anchors and aliases make a few hundred bytes stand for a structure with billions of nodes (the "billion
laughs"). PyYAML builds it with shared references, so parsing looks cheap; whatever walks it next (a JSON
encoder, a deep copy, a template) does not finish. :func:`load_untrusted_yaml` bounds the three things a
document can spend: its size in bytes, its nesting depth, and the number of nodes its aliases expand to.
Files without an anchor or alias character take libyaml's fast path when it is installed.
"""

from __future__ import annotations

from typing import Any

import yaml

from tureen.exceptions import ModelFormatError

__all__ = ["load_untrusted_yaml", "MAX_YAML_BYTES", "MAX_ALIASES", "MAX_ALIAS_NODES", "MAX_DEPTH"]

#: largest YAML document read from an artifact (a 12,000-column signature is well under 2 MiB)
MAX_YAML_BYTES = 16 << 20
#: alias references (``*name``) one document may hold
MAX_ALIASES = 100
#: nodes all aliases together may expand to (each alias counts the whole subtree it stands for)
MAX_ALIAS_NODES = 1000
#: nesting of sequences and mappings
MAX_DEPTH = 100


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that counts what aliases stand for while composing, before anything is constructed."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._alias_nodes = 0
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: ANN401 - PyYAML's own signature
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            node = super().compose_node(parent, index)
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _Refused(f"it holds more than {MAX_ALIASES} aliases", event.start_mark)
            self._alias_nodes += self._size(node)
            if self._alias_nodes > MAX_ALIAS_NODES:
                raise _Refused(f"its aliases expand to more than {MAX_ALIAS_NODES} nodes (an alias bomb)",
                               event.start_mark)
            return node
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(f"it nests deeper than {MAX_DEPTH} levels", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def _size(self, node: yaml.Node) -> int:
        """Nodes in ``node``'s expansion, memoised per node (shared subtrees are counted once each time
        they are referenced, which is what expansion costs)."""
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        if isinstance(node, yaml.SequenceNode):
            total = 1 + sum(self._size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(self._size(k) + self._size(v) for k, v in node.value)
        else:
            total = 1
        self._sizes[id(node)] = total
        return total


class _Refused(Exception):
    def __init__(self, reason: str, mark: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.mark = mark


def load_untrusted_yaml(text: str | bytes, *, what: str = "YAML file") -> Any:
    """Parse YAML from an artifact with bounded size, depth and alias expansion.

    Raises:
        ModelFormatError: not valid YAML, or over a bound (the message names ``what`` and the bound).

    Example:
        >>> load_untrusted_yaml("flavors: {python_function: {loader_module: mlflow.sklearn}}")
        {'flavors': {'python_function': {'loader_module': 'mlflow.sklearn'}}}
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ModelFormatError(f"{what} is not UTF-8 text: {exc}") from None
    if len(text) > MAX_YAML_BYTES:
        raise ModelFormatError(f"{what} is {len(text)} bytes, over the limit of {MAX_YAML_BYTES} bytes for "
                               "YAML read from an artifact")
    try:
        if "&" not in text and "*" not in text:
            # no anchor or alias can exist: only depth to bound, and libyaml's parser is several times faster
            loader = getattr(yaml, "CSafeLoader", None) or _BoundedLoader
            return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
        loader_obj = _BoundedLoader(text)
        try:
            return loader_obj.get_single_data()
        finally:
            loader_obj.dispose()
    except _Refused as exc:
        where = f" (line {exc.mark.line + 1})" if exc.mark is not None else ""
        raise ModelFormatError(f"{what} is refused: {exc.reason}{where}") from None
    except RecursionError:
        raise ModelFormatError(f"{what} is refused: it nests too deeply") from None
    except yaml.YAMLError as exc:
        raise ModelFormatError(f"{what} is not valid YAML: {exc}") from None
