"""Helpers shared by the dataset loaders: reading JSON / JSON Lines / wrapped files with file:line errors, building
Question records with errors that name the file and record, duplicate-ID checks, answer-list clean-up and the
marking of answers that are only Freebase ids.

Every loader returns a :class:`Loaded` (the questions, the IDs of skipped records by reason, and the format variant
it recognised), so a caller can report what was dropped instead of losing it silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import Any

from fs1.data.dates import asks_for_year, parse_date, precision_aliases
from fs1.io import InputError, parse_json_document, read_jsonl_rows
from fs1.records import Question, RecordError
from fs1.vocab import ANSWER_TYPES, SOURCES

# Exact `source_of_data` values of the published fs1 benchmark.
CWQ, EXAQT, GRAILQA, SIMPLEQA, MINTAKA, WEBQSP = SOURCES


NO_GOLD = "no gold answer"
# Meta keys marking answers that are only KG ids (Freebase m./g. ids, Wikidata QIDs): containment scoring needs
# labels, which --kg supplies. Files converted before Wikidata ids were marked carry the Freebase-only key.
IDS_ONLY = "answers_are_ids"
LEGACY_IDS_ONLY = "answers_are_freebase_ids"
UNLABELLED = "unlabelled_answer_ids"
# Why a question is left out of every number (``Question`` → ``exclusion_reason``).
EXCLUDED_IDS_ONLY = "gold answers are only KG ids, no label to match an answer against (convert with --kg)"
# Why a prediction of a record the loader skipped (reason: the loader's own, e.g. NO_GOLD) is left out of every number.
EXCLUDED_SKIPPED = "skipped by the loader: {reason}"
NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")
YEARLIKE = re.compile(r"^\d{3,4}$")
_FREEBASE_ID = re.compile(r"^[mg]\.[0-9a-z_]+$")
_WIKIDATA_ID = re.compile(r"^Q[1-9][0-9]*$")


@dataclass
class Loaded:
    """Questions read from one input, the records skipped (IDs by reason) and the format variant recognised."""

    questions: list[Question]
    skipped: dict[str, list[str]] = field(default_factory=dict)
    variant: str = ""

    @property
    def skipped_ids(self) -> list[str]:
        """IDs of every skipped record, reasons in order."""
        return [i for ids in self.skipped.values() for i in ids]

    @property
    def ids_only(self) -> list[str]:
        """IDs of questions whose gold answers are only KG ids (no label to score against)."""
        return [q.ID for q in self.questions if exclusion_reason(q)]


def skipped_path(out: str | Path) -> Path:
    """Where a conversion lists the records it skipped: ``cwq.jsonl`` → ``cwq.skipped.jsonl``."""
    out = Path(out)
    return out.with_name(out.name.removesuffix(".jsonl") + ".skipped.jsonl")


def read_skipped(path: Path) -> dict[str, list[str]]:
    """The records a conversion skipped (IDs by reason, file order) from the side file beside its output ``path``
    (``skipped_path``); none when there is no side file (a file written by hand, or before side files)."""
    side = skipped_path(path)
    if not side.is_file():
        return {}
    skipped: dict[str, list[str]] = {}
    for lineno, row in read_jsonl_rows(side):
        qid, reason = row.get("id"), row.get("reason")
        if not isinstance(qid, str) or not isinstance(reason, str):
            raise InputError(
                f'{side}:{lineno}: expected {{"id": text, "reason": text}} (a list of skipped records)'
            )
        skipped.setdefault(reason, []).append(qid)
    return skipped


def is_freebase_id(text: str) -> bool:
    """True for a Freebase entity id as the datasets write it (``m.0abc``, ``g.11b6…``)."""
    return bool(_FREEBASE_ID.match(text))


def is_kg_id(text: str) -> bool:
    """True for a Freebase id or a Wikidata item id (``Q42``): an answer field that names an entity by id only."""
    return bool(_FREEBASE_ID.match(text) or _WIKIDATA_ID.match(text))


def exclusion_reason(question: Question) -> str | None:
    """Why ``question`` cannot be scored (it is then left out of accuracy and pass@k, and counted), or ``None``.

    Its gold answers are only KG ids: the loader marked it (``meta[IDS_ONLY]``, or the older Freebase-only key), or
    every gold answer is a Freebase id (a file written without marks). A bare Wikidata id counts only when marked,
    since a text answer can look like one ("Q1", a quarter)."""
    meta = question.meta
    if meta and (meta.get(IDS_ONLY) or meta.get(LEGACY_IDS_ONLY)):
        return EXCLUDED_IDS_ONLY
    is_id = (
        _FREEBASE_ID.match
    )  # (called per question by every load and summary: the first label decides most)
    for answer in chain(question.main_answers, question.answer_aliases):  # the gold answers
        if not is_id(answer.strip()):
            return None
    return EXCLUDED_IDS_ONLY


@dataclass
class Records:
    """The records of a JSON/JSON Lines file, each with a ``where`` naming file and record/line for errors."""

    items: list[tuple[str, Any]]
    container: str  # "JSON", "JSON Lines", "JSON with wrapper"


def read_json_document(path: Path) -> Any:
    """Parse a whole JSON file; a syntax error names file and line, a missing file is an ``InputError``."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    return parse_json_document(text, path)


def looks_like_json_lines(path: Path) -> bool:
    """A ``.jsonl`` name, or a file whose first two non-blank lines are whole JSON objects (JSON Lines saved as
    ``.json``; a one-line file stays a JSON document)."""
    if path.suffix.lower() == ".jsonl":
        return True
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        lines = list(islice((line for line in fh if line.strip()), 2))
    if len(lines) < 2 or not all(line.lstrip().startswith("{") for line in lines):
        return False  # cheap test first: a minified JSON array is one huge line starting with "["
    try:
        return all(isinstance(json.loads(line), dict) for line in lines)
    except json.JSONDecodeError:
        return False


def read_records(path: Path, what: str, wrapper_key: str | None = None) -> Records:
    """Records of a dataset file: a JSON array, JSON Lines, or (with ``wrapper_key``) an object holding the array
    under that key, e.g. WebQSP's ``{"Version", "Questions": [...]}``."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if looks_like_json_lines(path):
        rows = read_jsonl_rows(path)
        return Records([(f"{path}:{n}", row) for n, row in rows], "JSON Lines")
    doc = read_json_document(path)
    if wrapper_key and isinstance(doc, dict) and isinstance(doc.get(wrapper_key), list):
        wrapped = doc[wrapper_key]
        return Records(
            [(f"{path}: {wrapper_key}[{i}]", r) for i, r in enumerate(wrapped)], "JSON with wrapper"
        )
    if isinstance(doc, dict) and wrapper_key:
        raise InputError(
            f"{path}: expected a JSON array of {what}, JSON Lines, or an object with a {wrapper_key!r} array"
        )
    records = expect_list(doc, path, what)
    return Records([(f"{path}: record {i}", r) for i, r in enumerate(records)], "JSON")


def expect_list(doc: Any, path: Path, what: str) -> list[Any]:
    """The top-level JSON array of a dataset file (error otherwise)."""
    if not isinstance(doc, list):
        raise InputError(f"{path}: expected a JSON array of {what}, got {type(doc).__name__}")
    return doc


def expect_dict(item: Any, where: str) -> dict[str, Any]:
    """One record, which must be a JSON object."""
    if not isinstance(item, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(item).__name__}")
    return item


def require(item: dict[str, Any], key: str, where: str) -> Any:
    """A field the format cannot do without; its absence is an error naming the record."""
    if key not in item or item[key] is None:
        raise InputError(f"{where}: missing field {key!r}")
    return item[key]


def as_text_list(value: Any) -> list[str]:
    """Strings from a value that may be one string, a list of strings, or ``None``; blanks dropped, order kept."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = [str(v).strip() for v in items if v is not None and str(v).strip()]
    return list(dict.fromkeys(out))


def without(values: Iterable[str], taken: Iterable[str]) -> list[str]:
    """``values`` minus those already in ``taken`` (aliases that repeat a main answer), duplicates removed."""
    seen = set(taken)
    return [v for v in dict.fromkeys(values) if v not in seen]


def topic_label(value: Any) -> str | None:
    """A dataset's topic label in the one case fs1 uses: lower-cased, blanks collapsed; ``None`` when blank.

    The label itself is kept (no mapping between datasets' vocabularies): SimpleQA "Science and technology" becomes
    "science and technology", Mintaka's "geography" stays; both datasets' "music" or "history" then meet in one
    slice. A value that is not text is returned unchanged, so the record check reports it.
    """
    if not isinstance(value, str):
        return value
    return " ".join(value.split()).lower() or None


def domains_topic(domains: Any) -> str | None:
    """GrailQA's ``domains`` (Freebase domains of the logical form) as one topic label.

    One domain is the topic; several are sorted and joined with "+" ("location+people"), so a multi-domain question
    sits in one slice of its own and each question is counted in exactly one topic slice; none gives ``None``.
    """
    labels = sorted({label for label in map(topic_label, as_text_list(domains)) if label})
    return "+".join(labels) or None


def make_question(row: dict[str, Any], where: str) -> Question:
    """Build a Question; a record error becomes an ``InputError`` naming ``where`` (file and record)."""
    try:
        return Question.from_dict(row)
    except (RecordError, TypeError) as exc:
        raise InputError(f"{where}: {exc}") from None


def finish(
    questions: list[Question], skipped: dict[str, list[str]], path: Path | str, variant: str
) -> Loaded:
    """Check IDs are unique; the last step of every loader. Skips are reported by the caller, once."""
    check_unique_ids(questions, path)
    return Loaded(questions, {reason: ids for reason, ids in skipped.items() if ids}, variant)


def check_unique_ids(questions: Iterable[Question], path: Path | str) -> None:
    """Raise ``InputError`` naming the file when two questions share an ID."""
    seen: set[str] = set()
    for q in questions:
        if q.ID in seen:
            raise InputError(f"{path}: duplicate question ID {q.ID!r}")
        seen.add(q.ID)


def load_json_records(
    path: Path,
    what: str,
    id_key: str,
    to_row: Callable[[dict[str, Any], str], dict[str, Any] | None],
    variant: Callable[[list[dict[str, Any]]], str],
    wrapper_key: str | None = None,
) -> Loaded:
    """The loop shared by the JSON formats: each record → ``to_row`` → Question; a ``None`` row has no gold answer.

    ``variant`` names the copy recognised from the records (e.g. "Think-on-Graph copy"); the container (JSON Lines,
    wrapper) is appended to it."""
    records = read_records(path, what, wrapper_key)
    questions: list[Question] = []
    skipped: dict[str, list[str]] = {NO_GOLD: []}
    items: list[dict[str, Any]] = []
    for where, raw in records.items:
        item = expect_dict(raw, where)
        items.append(item)
        if id_key in item:
            where = f"{where} ({id_key} {item[id_key]})"
        try:
            row = to_row(item, where)
        except (TypeError, AttributeError, KeyError) as exc:
            raise InputError(
                f"{where}: malformed {what[:-1] if what.endswith('s') else what} ({exc})"
            ) from None
        if row is None:
            skipped[NO_GOLD].append(str(item.get(id_key, where)))
            continue
        questions.append(make_question(row, where))
    described = variant(items) + ("" if records.container == "JSON" else f", {records.container}")
    return finish(questions, skipped, path, described)


def answer_fields(pairs: Iterable[tuple[Any, Any]]) -> dict[str, Any] | None:
    """``main_answers``, ``answer_entities`` and meta marks from ``(label, entity id)`` answer pairs.

    Either side may be missing: a value answer has no id, an id-only answer (Freebase ``m.…``/``g.…``, a Wikidata
    QID) no label. Ids without a label stay in ``answer_entities`` and are listed in ``meta[UNLABELLED]``; when no
    answer has a label, the ids stand in as ``main_answers`` and ``meta[IDS_ONLY]`` marks the question, which scoring
    then leaves out of every number and counts as excluded (``exclusion_reason``) instead of matching text against
    raw ids; ``fs1 data convert --kg`` maps them to labels. ``None`` when there is no answer."""
    labels: list[str] = []
    ids: list[str] = []
    unlabelled: list[str] = []
    named: list[str] = []
    for label, ident in pairs:
        label_text = str(label).strip() if label is not None else ""
        ident_text = str(ident).strip() if ident is not None else ""
        if label_text:
            labels.append(label_text)
        if ident_text:
            ids.append(ident_text)
            (named if label_text else unlabelled).append(ident_text)
    labels, ids = list(dict.fromkeys(labels)), list(dict.fromkeys(ids))
    unlabelled = [i for i in dict.fromkeys(unlabelled) if i not in named]
    if not labels and not ids:
        return None
    marks: dict[str, Any] = {UNLABELLED: unlabelled} if unlabelled else {}
    if not labels:
        marks[IDS_ONLY] = True
    return {"main_answers": labels or ids, "answer_entities": ids, "marks": marks}


def value_type(value: str, question: str) -> str:
    """The answer type of a literal answer: ``date`` (a date of any precision; a bare year when the question asks
    "when" or for a year), ``number``, else ``other``."""
    value = value.strip()
    if parse_date(value) is not None:
        return "date"
    if NUMBER.match(value):
        asks_when = asks_for_year(question) or question.strip().lower().startswith("when")
        return "date" if asks_when and YEARLIKE.match(value) else "number"
    return "other"


def one_type(types: Iterable[str | None]) -> str | None:
    """The answer type of a question from its answers' types: the one they share, ``None`` when they differ (or
    one is unknown). Each is a value of ``fs1.vocab.ANSWER_TYPES``."""
    found = set(types)
    if len(found) != 1 or None in found:
        return None
    (kind,) = found
    return kind if kind in ANSWER_TYPES else None


def with_precision_aliases(question: str, main: list[str], aliases: list[str]) -> list[str]:
    """``aliases`` plus the years the date-precision policy accepts (``fs1.data.dates``), without the main answers."""
    return without([*aliases, *precision_aliases(question, [*main, *aliases])], main)
