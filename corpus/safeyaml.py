"""YAML for files anyone may drop into the corpus: no aliases, bounded size and size of the tree.

``yaml.safe_load`` refuses arbitrary objects but not alias expansion: a 650-byte record whose value is a list
of lists of aliases (« billion laughs ») becomes gigabytes of text once joined. The curated data never needs
an alias, so an alias is an error, like a file or a tree past its limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml


@dataclass(frozen=True)
class CorpusLimits:
    """How big a corpus file may be (the settings' ``limits`` section)."""

    yaml_bytes: int = 2_000_000
    yaml_nodes: int = 200_000
    yaml_depth: int = 50
    document_bytes: int = 20_000_000


class UnsafeYAML(yaml.YAMLError):
    """An alias, or a file or tree past its limit.

    Not in :mod:`corpus.errors`: it is raised inside yaml's own loading and is a ``yaml.YAMLError``, so that a
    loader catching ``yaml.YAMLError`` reports it as one more problem of that file, like any invalid YAML.
    """


class _BoundedLoader(yaml.SafeLoader):
    max_nodes = 200_000
    max_depth = 50

    def __init__(self, stream):
        super().__init__(stream)
        self._nodes = 0
        self._depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise UnsafeYAML(f"alias YAML refusé (ligne {mark.line + 1}) : écrire la valeur en entier")
        self._nodes += 1
        if self._nodes > self.max_nodes:
            raise UnsafeYAML(f"plus de {self.max_nodes} nœuds YAML : fichier trop gros pour être lu")
        self._depth += 1
        if self._depth > self.max_depth:
            raise UnsafeYAML(f"imbrication YAML de plus de {self.max_depth} niveaux")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def load(data: bytes, limits: CorpusLimits = CorpusLimits()):
    """Parse one YAML document from ``data`` (UTF-8), within ``limits``.

    Raises:
        UnsafeYAML: an alias, or past a limit. yaml.YAMLError: not YAML. UnicodeDecodeError: not UTF-8.
    """
    if len(data) > limits.yaml_bytes:
        raise UnsafeYAML(f"fichier de {len(data)} octets, au-delà de la limite de {limits.yaml_bytes} "
                         "(limits.yaml_bytes)")
    loader = type("Loader", (_BoundedLoader,), {"max_nodes": limits.yaml_nodes, "max_depth": limits.yaml_depth})
    try:
        return yaml.load(data.decode("utf-8"), Loader=loader)  # noqa: S506 (a SafeLoader subclass)
    except RecursionError:
        raise UnsafeYAML("imbrication YAML trop profonde") from None
