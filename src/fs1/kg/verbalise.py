"""Turn paths into the teacher prompt's linearised graph: one ``subject, relation, object`` line per triple.

Labels come from the triples (``s_label``/``p_label``/``o_label``), falling back to the ids when a label is missing;
a triple that occurs on several paths is written once, in first-seen order (e.g. ``1994 NBA Finals, winner,
Houston Rockets``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fs1.records import Triple

TRIPLE_SEPARATOR = ", "


def _field(triple: Triple | Mapping[str, Any], name: str) -> str:
    value = getattr(triple, name, None) if isinstance(triple, Triple) else triple.get(name)
    return str(value or "")


def triple_line(triple: Triple | Mapping[str, Any]) -> str:
    """``subject, relation, object`` with labels, ids where a label is missing; whitespace runs (a newline inside a
    label would break the one-triple-per-line form) become single spaces."""
    parts = []
    for ident, label in (("s", "s_label"), ("p", "p_label"), ("o", "o_label")):
        parts.append(" ".join(_field(triple, label).split()) or _field(triple, ident))
    return TRIPLE_SEPARATOR.join(parts)


def verbalise(paths: Iterable[Iterable[Triple | Mapping[str, Any]]]) -> str:
    """All triples of all paths, one line each, duplicates (same s, p, o) dropped, order kept."""
    lines: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for path in paths:
        for triple in path:
            key = (_field(triple, "s"), _field(triple, "p"), _field(triple, "o"))
            if key in seen:
                continue
            seen.add(key)
            lines.append(triple_line(triple))
    return "\n".join(lines)
