"""YAML from files users write (submission.yaml, task files), read with bounded cost.

``yaml.safe_load`` builds no Python objects, but it expands aliases: a few hundred bytes of nested
``&a [*b, *b, ...]`` anchors (a "billion laughs") take minutes and gigabytes before anything can
reject them. These files have no use for aliases, so an alias is refused where it appears, before
anything is expanded; so are documents over ``MAX_CHARS`` characters and nesting deeper than
``MAX_DEPTH`` (PyYAML composes recursively). Every refusal is a ``yaml.YAMLError``, so callers that
already turn YAML errors into their own typed error (naming the file) handle these too.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_CHARS = 1_000_000  # task files and submission.yaml are a few kB
MAX_DEPTH = 64


class RefusedYAMLError(yaml.YAMLError):
    """YAML that is well-formed but refused: an alias, too large or too deeply nested."""


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses aliases and deep nesting while composing (before construction)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            mark = event.start_mark
            raise RefusedYAMLError(
                f"line {mark.line + 1}, column {mark.column + 1}: alias *{event.anchor} refused; aliases can expand "
                "a small file into gigabytes, so these files take none: write the value out where it is used"
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise RefusedYAMLError(
                    f"line {mark.line + 1}, column {mark.column + 1}: nested more than {MAX_DEPTH} levels deep"
                )
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1


def load_bounded(text: str) -> Any:
    """``text`` parsed like ``yaml.safe_load``, or ``RefusedYAMLError`` (a ``yaml.YAMLError``) for an alias,
    a document over ``MAX_CHARS`` characters or nesting deeper than ``MAX_DEPTH``."""
    if len(text) > MAX_CHARS:
        raise RefusedYAMLError(f"{len(text)} characters; at most {MAX_CHARS} are read")
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
