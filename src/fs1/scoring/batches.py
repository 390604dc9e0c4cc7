"""Scoring a predictions JSONL file in byte ranges of whole lines (the workers that score them: ``workers.py``).

The file is cut into ranges of about ``RANGE_BYTES`` that end at line ends; whoever scores a range reads it from the
file itself, so only the (small) results travel between processes. Scoring a range parses, validates and scores each
line and returns the ``scores.jsonl`` bytes, the verdicts for the summary (``VerdictColumns``) and, at the first bad
line, its error. Line numbers are counted within a range and made absolute in file order by ``score_ranges``, so
outputs and errors are the same with one process or several.

Per line only what does not depend on the answer is paid: one ``orjson`` decode, one set test of the field types,
the answer part located from the reply's end (``raw_answer_part``), two dictionary look-ups and the line's text
from preformatted pieces. Everything else is done once per distinct answer part (extraction) and once per distinct
(answer, question) pair (normalisation, matching and the pieces of its ``scores.jsonl`` line). A row the fast path
does not take as it is (a float or an unknown field, a type to convert, a row ``orjson`` rejects) goes through
``Prediction.from_dict`` with ``json`` deciding, whose result or error then counts, exactly as before.
"""

from __future__ import annotations

import gc
import json
import math
from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from fs1.records import Prediction, Question, RecordError, _plain_pairs
from fs1.scoring.extract import (
    EXTRACT_AUTHORS,
    EXTRACT_FS1,
    NO_ANSWER,
    VIA_BOX,
    VIA_LINE,
    VIA_MARKER,
    VIA_NONE,
    VIA_TAIL,
    Extraction,
    extract_authors,
    extract_part,
    raw_answer_part,
    trim_answer_part,
)
from fs1.scoring.match import scoring_gold
from fs1.scoring.normalize import normalize_answer
from fs1.scoring.outcome import starts_as_refusal
from fs1.scoring.prediction import TRUNCATED_REASONS, authors_hint, score_extraction
from fs1.scoring.summary import VerdictColumns

RANGE_BYTES = 4 << 20
_string = encode_basestring  # JSON string literal, non-ASCII kept (as ensure_ascii=False)
# Remembered extractions and verdicts per scorer; cleared when full (files list the samples of a question together).
_CACHE_ENTRIES = 1 << 13
# Answer parts longer than this (whole plain replies) are rarely repeated: extracted without being remembered.
_CACHED_PART_CHARS = 512
_PLAIN = _plain_pairs(Prediction)
_MAX_SAMPLE = (1 << 63) - 1  # (field, type) pairs a row may hold as they are
_VIA_TEXT = {via: _string(via) for via in (VIA_BOX, VIA_MARKER, VIA_LINE, VIA_NONE, VIA_TAIL)}
_NOTHING = (None, VIA_NONE)  # no answer part: no answer


@dataclass
class RangeResult:
    """What scoring one range gave: output bytes, verdicts (one per non-blank line), the first error if any.

    The error's line counts from the range's first line (1) until ``absolute`` makes it a line of the file.
    """

    data: bytes = b""
    columns: VerdictColumns = field(default_factory=VerdictColumns)
    newlines: int = 0
    error: str | None = None
    error_line: int = 0
    routes: set[str | None] = field(default_factory=set)  # Prediction.route values seen (None: not recorded)


class _BadLine(ValueError):
    """A line that is not a valid prediction; the message is what follows ``file:line:``."""


class _Verdict(NamedTuple):
    """The verdict on one extracted answer to one question, with its ``scores.jsonl`` text in pieces.

    A line is ``prefix``, the sample number, ``middle``, the via and budget (which do not change the verdict), then
    ``end``: the same text as ``json.dumps(score.to_dict(), ensure_ascii=False)`` (tests hold them together).
    """

    prefix: str
    middle: str
    end: str
    correct: bool
    exact: bool
    f1: float
    answer_key: str  # the normalised answer ("": none), its vote for maj@k
    refusal: bool  # answer_key starts as a refusal (summary.VerdictColumns.refusals)


class Golds(dict[str, tuple[str, ...]]):
    """The gold answers each question is scored against (``scoring_gold``), worked out for a question when it is
    first asked for: a worker scores a few of the benchmark's questions. A missing ID is a ``KeyError``."""

    def __init__(self, questions: Mapping[str, Question]) -> None:
        super().__init__()
        self.questions = questions

    def __missing__(self, qid: str) -> tuple[str, ...]:
        gold = self[qid] = scoring_gold(self.questions[qid])
        return gold


class RangeScorer:
    """Scores byte ranges of one predictions file against a benchmark's gold answers (``golds``: ``{id: gold
    answers}``, or ``Golds``), extracting answers by rule ``extract`` (``fs1``; ``authors`` reads the whole text,
    thinking included: the tail-first search does not apply).
    """

    def __init__(self, path: str, golds: Mapping[str, tuple[str, ...]], extract: str = EXTRACT_FS1) -> None:
        self.path = path
        self.golds = golds
        self.authors = extract == EXTRACT_AUTHORS
        self.parts: dict[
            tuple[str, bool, bool], tuple[str | None, str]
        ] = {}  # (raw part, closed, allow_line) ->
        self.verdicts: dict[tuple[str | None, str], _Verdict] = {}

    def __call__(self, start: int, end: int) -> RangeResult:
        with open(self.path, "rb") as fh:
            fh.seek(start)
            data = fh.read(end - start)
        return self.score_bytes(data)

    def score_bytes(self, data: bytes) -> RangeResult:
        """Score the lines of ``data`` (whole lines of the file); blank lines are skipped but counted."""
        # Scoring makes no reference cycles, but its many small objects trigger the cycle collector, whose passes over
        # the memo caches cost more than a tenth of the time: it is paused for the range (and runs after it).
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._score_bytes(data)
        finally:
            if collecting:
                gc.enable()

    def _score_bytes(self, data: bytes) -> RangeResult:
        result = RangeResult(newlines=data.count(b"\n"))
        out: list[str] = []
        verdicts: list[_Verdict] = []
        units: list[int] = []
        unit_keys: dict[tuple[str, int | None], int] = {}
        unit, last = -1, None
        add_route, samples = result.routes.add, result.columns.sample
        for lineno, raw in enumerate(data.split(b"\n"), 1):
            if not raw or raw.isspace():  # (no copy of the line, unlike strip())
                continue
            try:
                qid, sample, text, budget, finish_reason, route = _fields(raw)
                answer, via = self._answer(text, finish_reason)
                verdict = self.verdicts.get((answer, qid))
                if verdict is None:  # (a new answer, or a new question: its ID is checked here)
                    verdict = self._new_verdict(answer, via, qid)
            except _BadLine as exc:
                result.error, result.error_line = str(exc), lineno
                break
            budget_text = "" if budget is None else f', "budget": {budget}'
            out.append(f"{verdict.prefix}{sample}{verdict.middle}{_VIA_TEXT[via]}{budget_text}{verdict.end}")
            if (qid, budget) != last:  # the samples of a unit are usually neighbours
                last = (qid, budget)
                unit = unit_keys.setdefault(last, len(unit_keys))
            units.append(unit)
            samples.append(sample)
            verdicts.append(verdict)
            add_route(route)
        result.data = "".join(out).encode("utf-8")
        _fill_columns(result.columns, unit_keys, units, verdicts)
        return result

    def _answer(self, text: str, finish_reason: str | None) -> tuple[str | None, str]:
        """The extracted answer of a reply and how it was found, remembered per (raw) answer part."""
        if self.authors:
            extraction = extract_authors(text)
            return extraction.answer, extraction.via
        raw, closed = raw_answer_part(text)
        if raw is None:
            return _NOTHING
        allow_line = closed or finish_reason not in TRUNCATED_REASONS
        key = (raw, closed, allow_line)
        found = self.parts.get(key)
        if found is None:
            # (not extract_from_part, whose own cache of answer parts this one replaces)
            extraction = extract_part(trim_answer_part(raw, closed), allow_line)
            found = (extraction.answer, extraction.via)
            if len(raw) <= _CACHED_PART_CHARS:
                if len(self.parts) >= _CACHE_ENTRIES:
                    self.parts.clear()
                self.parts[key] = found
        return found

    def _new_verdict(self, answer: str | None, via: str, qid: str) -> _Verdict:
        try:
            gold = self.golds[qid]
        except KeyError:
            raise _BadLine(f"unknown question ID {qid!r}") from None
        if len(self.verdicts) >= _CACHE_ENTRIES:
            self.verdicts.clear()
        found = NO_ANSWER if answer is None else Extraction(answer, via)
        verdict = self.verdicts[(answer, qid)] = _verdict(qid, found, gold)
        return verdict


def _verdict(qid: str, found: Extraction, gold: tuple[str, ...]) -> _Verdict:
    score = score_extraction(qid, 0, None, found, gold)
    gold_text = f', "gold": {_string(score.meta["gold"])}' if "gold" in score.meta else ""
    answer_key = normalize_answer(score.extracted) if score.extracted is not None else ""
    return _Verdict(
        prefix=f'{{"id": {_string(qid)}, "sample": ',
        middle=(
            f', "extracted": {_value(score.extracted)}, "correct": {_value(score.correct)}, '
            f'"match": {_string(score.match)}, "exact": {_value(score.exact)}, "f1": {_value(score.f1)}, '
            '"meta": {"via": '
        ),
        end=gold_text + "}}\n",
        correct=score.correct,
        exact=score.exact,
        f1=score.f1,
        answer_key=answer_key,
        refusal=bool(answer_key) and starts_as_refusal(answer_key),
    )


def _fill_columns(
    columns: VerdictColumns,
    unit_keys: dict[tuple[str, int | None], int],
    units: list[int],
    verdicts: list[_Verdict],
) -> None:
    """The range's verdict columns, as ``VerdictColumns.add_verdict`` per line would have gathered them."""
    columns.unit_keys, columns.unit = unit_keys, array("q", units)
    columns.correct = array("b", map(attrgetter("correct"), verdicts))
    columns.exact = array("b", map(attrgetter("exact"), verdicts))
    columns.f1 = array("d", map(attrgetter("f1"), verdicts))
    number = columns.answer_id
    columns.answer = array("q", [number(v.answer_key, v.refusal) if v.answer_key else -1 for v in verdicts])


def _fields(raw: bytes) -> tuple[str, int, str, int | None, str | None, str | None]:
    """What scoring reads of one line (id, sample, text, budget, finish_reason, route); ``_BadLine`` (what is
    wrong) if it is not a valid prediction."""
    try:
        row = orjson.loads(raw)
        # One set test: every (field, value type) pair is one a Prediction holds unchanged (no unknown field, float,
        # bool for an integer, null for a required field...); then only presence and the sign of sample are left.
        if type(row) is dict and _PLAIN.issuperset(zip(row, map(type, row.values()), strict=True)):
            sample = row["sample"]
            if 0 <= sample <= _MAX_SAMPLE:
                get = row.get
                return row["id"], sample, row["text"], get("budget"), get("finish_reason"), get("route")
    except (ValueError, KeyError):  # orjson rejects the line (json decides below), or a field is missing
        pass
    prediction = _prediction(raw)
    if prediction.sample > _MAX_SAMPLE:  # (json reads any integer; the summary's columns hold 64-bit ones)
        raise _BadLine(f"field sample: expected an integer up to {_MAX_SAMPLE}, found {prediction.sample}")
    return (
        prediction.id,
        prediction.sample,
        prediction.text,
        prediction.budget,
        prediction.finish_reason,
        prediction.route,
    )


def _prediction(raw: bytes) -> Prediction:
    """A row that is not plain: read as ``json`` reads it and built by ``Prediction.from_dict`` (its error counts)."""
    row = _decode(raw)
    if not isinstance(row, dict):
        raise _BadLine("expected a JSON object")
    try:
        return Prediction.from_dict(row)
    except (RecordError, TypeError) as exc:
        raise _BadLine(f"{exc}{authors_hint(row)}") from None


def _decode(raw: bytes) -> Any:
    try:
        row = orjson.loads(raw)
    except ValueError:  # orjson is stricter (NaN, 1e400, invalid UTF-8...): json decides
        row = None
    # orjson reads an integer beyond 64 bits as a float, json as an int: a float field has json decide too.
    if type(row) is dict and float not in map(type, row.values()):
        return row
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _BadLine("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise _BadLine(f"malformed JSON ({exc.msg})") from None


def _value(value: object) -> str:
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, str):
        return _string(value)
    if type(value) is int:
        return str(value)
    if type(value) is float and math.isfinite(value):
        return repr(value)  # what json writes for a finite float
    return json.dumps(value, ensure_ascii=False)


def line_ranges(path: Path, size: int | None = None) -> Iterator[tuple[int, int]]:
    """``(start, end)`` byte offsets of consecutive ranges of about ``size`` bytes (default ``RANGE_BYTES``), each
    ending after a newline (or at the end of the file)."""
    size = size or RANGE_BYTES
    total = path.stat().st_size
    with path.open("rb") as fh:
        start = 0
        while start < total:
            fh.seek(min(start + size, total) - 1)
            fh.readline()  # to the end of the line holding the range's last byte
            end = min(fh.tell(), total)
            yield start, end
            start = end


def absolute(results: Iterator[RangeResult], path: Path) -> Iterator[RangeResult]:
    """Range results in file order, their ``error`` naming a line of the file (the first is 1)."""
    first_line = 0  # lines before the current range
    for result in results:
        if result.error is not None:
            result.error = f"{path}:{result.error_line + first_line}: {result.error}"
            result.error_line += first_line
        first_line += result.newlines
        yield result


def record_line(path: Path, position: int) -> int:
    """The line of ``path`` holding its record number ``position`` (0-based; blank lines hold none).

    Scoring keeps no line number per record: this reads the file again, for the rare error that needs one.
    """
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if raw.strip():
                if position == 0:
                    return lineno
                position -= 1
    raise IndexError("position beyond the file's records")
