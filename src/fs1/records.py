"""Typed records that the pipeline stages pass on, one JSON object per line.

Flat dataclasses joined by question ID; ``Cls.from_dict(row)`` validates a row and ``asdict`` round-trips it.
This module imports nothing from fs1.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

T = TypeVar("T", bound="Record")


class RecordError(ValueError):
    """A row that does not make a valid record (missing field, wrong type)."""


@functools.cache
def _field_info(cls: type) -> tuple[frozenset[str], tuple[tuple[str, bool], ...]]:
    """Field names and the required fields with whether each may be null; computed once per record class."""
    fields = dataclasses.fields(cls)
    required = tuple(
        (f.name, "None" in str(f.type))
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )
    return frozenset(f.name for f in fields), required


@dataclass
class Record:
    """Base: construction from a dict with clear errors, conversion back to a dict."""

    _list_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_dict(cls: type[T], row: dict[str, Any]) -> T:
        """Build a record from a JSON row; unknown keys go to ``meta`` when the record has one, else error."""
        if not isinstance(row, dict):
            raise RecordError(f"expected a JSON object, got {type(row).__name__}")
        names, required = _field_info(cls)
        # A required field may be null only where its type allows it (``Score.extracted``: no answer).
        missing = [
            name for name, nullable in required if name not in row or (row[name] is None and not nullable)
        ]
        if missing:
            raise RecordError(f"missing field(s) {', '.join(missing)}")
        known = {k: v for k, v in row.items() if k in names}
        extra = {k: v for k, v in row.items() if k not in names}
        if extra:
            if "meta" in names:
                known["meta"] = {**(known.get("meta") or {}), **extra}
            else:
                raise RecordError(f"unknown field(s) {', '.join(sorted(extra))}")
        for name in cls._list_fields:
            value = known.get(name)
            if value is None:
                known[name] = []
            elif isinstance(value, str):
                known[name] = [value]
            elif not isinstance(value, list):
                raise RecordError(f"field {name} must be a list, got {type(value).__name__}")
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
    meta: dict[str, Any] = field(default_factory=dict)

    _list_fields: ClassVar[tuple[str, ...]] = (
        "main_answers",
        "answer_aliases",
        "question_entities",
        "answer_entities",
    )

    def validate(self) -> None:
        self.ID = str(self.ID)
        if not isinstance(self.question, str) or not self.question.strip():
            raise RecordError("field question must be a non-empty string")
        self.main_answers = [str(a) for a in self.main_answers if str(a).strip()]
        self.answer_aliases = [str(a) for a in self.answer_aliases if str(a).strip()]
        if not self.main_answers:
            raise RecordError(f"question {self.ID}: empty gold list (main_answers)")
        if self.hops is not None and not isinstance(self.hops, int):
            try:
                self.hops = int(self.hops)
            except (TypeError, ValueError) as exc:
                raise RecordError(f"field hops must be an integer, got {self.hops!r}") from exc

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
        self.id = str(self.id)
        if isinstance(self.sample, bool) or not isinstance(self.sample, int) or self.sample < 0:
            raise RecordError(f"field sample must be a non-negative integer, got {self.sample!r}")
        if not isinstance(self.text, str):
            raise RecordError("field text must be a string")


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
