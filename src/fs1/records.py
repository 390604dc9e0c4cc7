"""Typed records that the pipeline stages pass on, one JSON object per line.

Flat dataclasses joined by question ID; ``Cls.from_dict(row)`` validates a row and ``asdict`` round-trips it.
This module imports nothing from fs1 but the error root (``fs1.errors``).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, cast

from fs1.errors import InputError

T = TypeVar("T", bound="Record")


class RecordError(InputError):
    """A row that does not make a valid record (missing field, wrong type)."""


@functools.cache
def _field_info(cls: Any) -> tuple[frozenset[str], tuple[tuple[str, bool], ...]]:
    """Field names and the required fields with whether each may be null; computed once per record class."""
    fields = dataclasses.fields(cls)
    required = tuple(
        (f.name, "None" in str(f.type))
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )
    return frozenset(f.name for f in fields), required


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_text(value: Any) -> str | None:
    """A scalar that reads as text (a string, or a number as written in many datasets); ``None`` otherwise."""
    if isinstance(value, str):
        return value
    return str(value) if _is_number(value) else None


def _check_str(value: Any) -> Any:
    return value if isinstance(value, str) else _MISMATCH


def _check_id(value: Any) -> Any:
    """Ids are text; datasets with numeric ids are accepted and their ids made strings."""
    text = _as_text(value) if not isinstance(value, float) else None
    return _MISMATCH if text is None else text


def _check_text_list(value: Any) -> Any:
    if type(value) is list and all(type(v) is str for v in value):
        return value  # the common case, without a copy (benchmarks load 100,000s of questions)
    if not isinstance(value, list):
        return _MISMATCH
    texts = [_as_text(v) for v in value]
    return _MISMATCH if any(t is None for t in texts) else texts


def _check_paths(value: Any) -> Any:
    ok = isinstance(value, list) and all(
        isinstance(path, list) and all(isinstance(step, dict) for step in path) for path in value
    )
    return value if ok else _MISMATCH


_MISMATCH = object()
# Type text as annotated on the records -> (what the error says is expected, checker returning the value or _MISMATCH).
_CHECKERS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "str": ("a string", _check_str),
    "id": ("a string or integer id", _check_id),
    "int": ("an integer", lambda v: v if _is_int(v) else _MISMATCH),
    "float": ("a number", lambda v: v if _is_number(v) else _MISMATCH),
    "bool": ("true or false", lambda v: v if isinstance(v, bool) else _MISMATCH),
    "list[str]": ("a list of strings", _check_text_list),
    "dict[str, Any]": ("a JSON object", lambda v: v if isinstance(v, dict) else _MISMATCH),
    "list[list[dict[str, str]]]": ("a list of paths (lists of objects)", _check_paths),
}
ID_FIELDS = ("ID", "id")


# Value types that pass a field's check unchanged; anything else goes through the field's checker.
_PLAIN_TYPES: dict[str, frozenset[type]] = {
    "str": frozenset({str}),
    "id": frozenset({str}),
    "int": frozenset({int}),
    "float": frozenset({int, float}),
    "bool": frozenset({bool}),
    "dict[str, Any]": frozenset({dict}),
}
_NO_TYPES: frozenset[type] = frozenset()


@functools.cache
def _field_checks(
    cls: type,
) -> tuple[tuple[str, frozenset[type], str, Callable[[Any], Any]], ...]:
    """Per field: name, plain types (null among them where allowed), what is expected, its checker; once per class."""
    checks = []
    for f in dataclasses.fields(cls):
        text = str(f.type)
        nullable = text.endswith(" | None")
        base = "id" if f.name in ID_FIELDS else text.removesuffix(" | None")
        expected, checker = _CHECKERS[base]
        plain = _PLAIN_TYPES.get(base, _NO_TYPES) | ({type(None)} if nullable else set())
        checks.append((f.name, plain, expected, checker))
    return tuple(checks)


@functools.cache
def _plain_pairs(cls: type) -> frozenset[tuple[str, type]]:
    """Every (field name, value type) that passes unchanged: a row of only such pairs needs no further check."""
    return frozenset((name, t) for name, plain, *_ in _field_checks(cls) for t in plain)


def check_types(cls: type, values: dict[str, Any]) -> None:
    """Check (in place) each present value against its field's type; numeric ids and answers become strings."""
    if _plain_pairs(cls).issuperset(zip(values, map(type, values.values()), strict=True)):
        return  # the common case, in one set operation (readers of millions of predictions call this per row)
    for name, plain, expected, checker in _field_checks(cls):
        if name not in values or type(values[name]) in plain:
            continue
        value = values[name]
        if value is None:
            raise RecordError(f"field {name}: expected {expected}, found null")
        checked = checker(value)
        if checked is _MISMATCH:
            raise RecordError(
                f"field {name}: expected {expected}, found {type(value).__name__} {_short(value)}"
            )
        values[name] = checked


@dataclass
class Record:
    """Base: construction from a dict with clear errors, conversion back to a dict."""

    _list_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_dict(cls: type[T], row: dict[str, Any]) -> T:
        """Build a record from a JSON row; unknown keys go to ``meta`` when the record has one, else error."""
        if not isinstance(row, dict):
            raise RecordError(f"expected a JSON object, got {type(row).__name__}")
        names, required = _field_info(cast(Hashable, cls))
        # A required field may be null only where its type allows it (``Score.extracted``: no answer).
        missing = [
            name for name, nullable in required if name not in row or (row[name] is None and not nullable)
        ]
        if missing:
            raise RecordError(f"missing field(s) {', '.join(missing)}")
        known = {k: v for k, v in row.items() if k in names}
        extra = {k: v for k, v in row.items() if k not in names}
        for name in cls._list_fields:
            if isinstance(known.get(name), str):
                known[name] = [known[name]]  # one answer given as a plain string
        check_types(cls, known)
        if extra:
            if "meta" in names:
                known["meta"] = {**(known.get("meta") or {}), **extra}
            else:
                raise RecordError(f"unknown field(s) {', '.join(sorted(extra))}")
        for name in cls._list_fields:
            if known.get(name) is None:
                known[name] = []
        obj = cls(**known)
        obj.validate()
        return obj

    def validate(self) -> None:
        """Check field types beyond presence; subclasses add their rules."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Question(Record):
    """One benchmark question. Gold = ``main_answers`` + ``answer_aliases``."""

    ID: str
    question: str
    main_answers: list[str]
    answer_aliases: list[str] = field(default_factory=list)
    source_of_data: str = "unknown"
    question_entities: list[str] = field(default_factory=list)
    answer_entities: list[str] = field(default_factory=list)
    hops: int | None = None
    answer_type: str | None = None
    # The dataset's topic label (SimpleQA topic, Mintaka category, GrailQA domain), lower-cased by the loaders;
    # None where the dataset gives none (and in files written before topics were kept).
    topic: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    _list_fields: ClassVar[tuple[str, ...]] = (
        "main_answers",
        "answer_aliases",
        "question_entities",
        "answer_entities",
    )

    def validate(self) -> None:
        if not self.question.strip():
            raise RecordError("field question: expected a non-empty string, found an empty one")
        self.main_answers = [a for a in self.main_answers if a.strip()]
        self.answer_aliases = [a for a in self.answer_aliases if a.strip()]
        if not self.main_answers:
            raise RecordError(f"question {self.ID}: empty gold list (main_answers)")

    @property
    def gold(self) -> list[str]:
        """Main answers followed by aliases, duplicates removed, order kept."""
        return list(dict.fromkeys(self.main_answers + self.answer_aliases))


@dataclass
class Prediction(Record):
    """One generated sample for one question."""

    id: str
    sample: int
    text: str
    model: str | None = None
    setting: str | None = None
    budget: int | None = None
    seed: int | None = None
    think_tokens: int | None = None
    answer_tokens: int | None = None
    waits: int | None = None
    finish_reason: str | None = None
    # How the prompt reached the model: "raw" (chat template applied by fs1, raw text completed) or "chat" (a server's
    # chat endpoint applied its own template); None in files written before routes were recorded.
    route: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if self.sample < 0:
            raise RecordError(f"field sample: expected a non-negative integer, found {self.sample}")


@dataclass
class Triple(Record):
    """One KG edge with its English labels (ids where a label is missing)."""

    s: str
    p: str
    o: str
    s_label: str = ""
    p_label: str = ""
    o_label: str = ""


@dataclass
class PathRecord(Record):
    """KG paths found for one question: ``status`` is found | none | no_entities | error."""

    ID: str
    status: str
    hops: int | None = None
    paths: list[list[dict[str, str]]] = field(default_factory=list)
    verbalised: str = ""
    error: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    # Which KG answered (``bundled``, ``local:…``, ``sparql:URL``): degrees, hubs and paths differ by engine and
    # data (QLever serves all of Wikidata, WDQS no longer the scholarly graph). ``kg_date``: the data date the KG
    # states, where it states one (WDQS's last update, a dump's date).
    kg: str = ""
    kg_date: str | None = None


@dataclass
class Trace(Record):
    """One teacher reasoning trace (rt or fs1 mode), labelled against the gold answers."""

    id: str
    question: str
    mode: str
    model: str
    reasoning_trace: str
    model_attempt: str
    kg_path: str = ""
    sample: int = 0
    gold_answer: list[str] = field(default_factory=list)
    label: int | None = None
    valid: int | None = None
    flags: list[str] = field(default_factory=list)
    tokens_in: int | None = None
    tokens_out: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Score(Record):
    """The verdict on one prediction."""

    id: str
    sample: int
    extracted: str | None
    correct: bool
    match: str
    exact: bool = False
    f1: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)
