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

import json
import math
from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import orjson

from fs1.io import TOO_DEEP, collector_paused
from fs1.records import Prediction, Question, RecordError, _plain_pairs
from fs1.scoring.accounting import NO_SKIPS
from fs1.scoring.extract import (
    EXTRACT_AUTHORS,
    EXTRACT_FS1,
    VIA_BOX,
    VIA_LINE,
    VIA_MARKER,
    VIA_NONE,
    VIA_TAIL,
    extract_authors,
    extract_part,
    raw_answer_part,
    trim_answer_part,
)
from fs1.scoring.match import EXCLUDED_RESULT, NO_ANSWER_RESULT, _gold_forms, match_normalized, scoring_gold
from fs1.scoring.normalize import normalize_answer
from fs1.scoring.outcome import starts_as_refusal
from fs1.scoring.prediction import TRUNCATED_REASONS, authors_hint
from fs1.scoring.summary import VerdictColumns

RANGE_BYTES = 4 << 20
_string = encode_basestring  # JSON string literal, non-ASCII kept (as ensure_ascii=False)
# Remembered extractions and verdicts per scorer; cleared when full (files list the samples of a question together).
_CACHE_ENTRIES = 1 << 13
# Answer parts longer than this (whole plain replies) are rarely repeated: extracted without being remembered.
_CACHED_PART_CHARS = 512
_PLAIN = _plain_pairs(Prediction)  # (field, type) pairs a row may hold as they are
_MAX_SAMPLE = (1 << 63) - 1
_SPACE = frozenset(b" \t\n\r\x0b\x0c")  # what bytes.isspace() counts as white space
_VIA_TEXT = {via: _string(via) for via in (VIA_BOX, VIA_MARKER, VIA_LINE, VIA_NONE, VIA_TAIL)}
# id, sample, text, budget, finish_reason, route
_Record = tuple[str, int, str, "int | None", "str | None", "str | None"]
_Answer = tuple["str | None", str]  # (extracted answer, how it was found)
_PartKey = tuple[str, bool, bool]  # (raw answer part, closed, allow_line)
_NOTHING = (None, VIA_NONE)  # no answer part: no answer
_BOOLEAN = {True: "true", False: "false"}
# match_normalized without its memo table (the scorer remembers each pair's verdict itself: match_forms' cached=False)
_match_normalized = match_normalized.__wrapped__


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


class Golds(Mapping[str, tuple[str, ...]]):
    """The gold answers each question is scored against (``scoring_gold``), worked out when asked for: a worker
    scores a few of the benchmark's questions (and remembers what it needs, ``RangeScorer``). A record the loader
    skipped (``skipped``: ID → reason) has none (``()``): its predictions are scored as an excluded question's."""

    def __init__(self, questions: Mapping[str, Question], skipped: Mapping[str, str] = NO_SKIPS) -> None:
        self.questions = questions
        self.skipped = skipped

    def __getitem__(self, qid: str) -> tuple[str, ...]:
        try:
            question = self.questions[qid]
        except KeyError:
            if qid in self.skipped:
                return ()
            raise
        return scoring_gold(question)

    def __iter__(self) -> Iterator[str]:
        yield from self.questions
        yield from (qid for qid in self.skipped if qid not in self.questions)

    def __len__(self) -> int:
        return len(self.questions) + sum(qid not in self.questions for qid in self.skipped)


class _Facts(NamedTuple):
    """What the verdicts on one question's answers need: its lines' text up to the sample number, its gold answers,
    and their normalised forms with the answer each comes from (``match._gold_forms``; ``None``: excluded)."""

    prefix: str
    gold: tuple[str, ...]
    forms: tuple[tuple[str, ...], tuple[str, ...]] | None


class RangeScorer:
    """Scores byte ranges of one predictions file against a benchmark's gold answers (``golds``: ``{id: gold
    answers}``, or ``Golds``), extracting answers by rule ``extract`` (``fs1``; ``authors`` reads the whole text,
    thinking included: the tail-first search does not apply).
    """

    def __init__(self, path: str, golds: Mapping[str, tuple[str, ...]], extract: str = EXTRACT_FS1) -> None:
        self.path = path
        self.golds = golds
        self.authors = extract == EXTRACT_AUTHORS
        self.parts: dict[_PartKey, _Answer] = {}
        self.verdicts: dict[tuple[str | None, str], _Verdict] = {}
        self.facts: dict[str, _Facts] = {}

    def __call__(self, start: int, end: int) -> RangeResult:
        with open(self.path, "rb") as fh:
            fh.seek(start)
            data = fh.read(end - start)
        return self.score_bytes(data)

    def score_bytes(self, data: bytes) -> RangeResult:
        """Score the lines of ``data`` (whole lines of the file); blank lines are skipped but counted."""
        # Scoring makes no reference cycles, but its many small objects trigger the cycle collector, whose passes over
        # the memo caches cost more than a tenth of the time: it is paused for the range (and runs after it).
        with collector_paused():
            return self._score_bytes(data)

    def _score_bytes(self, data: bytes) -> RangeResult:
        # In phases over the range's lines (read them; find their answers; judge them; write), each one a loop over the
        # same few functions: interleaved per line, the code of extraction, normalisation and matching pushed the
        # rest out of the processor's instruction cache, at a cost larger than all the work of a line.
        result = RangeResult()
        lines, records, result.newlines, error = _read_lines(data)
        answers = self._answers(records)
        indices, table, failed = self._verdicts(records, answers)
        if failed is not None:  # an unknown question ID, before any bad line
            error, records = failed, records[: len(indices)]
        if error is not None:
            result.error, result.error_line = error, lines[len(records)]
        result.data, unit_keys, units = _lines_and_units(records, indices, table, answers)
        result.routes.update(map(itemgetter(5), records))
        result.columns.sample = array("q", map(itemgetter(1), records))
        _fill_columns(result.columns, unit_keys, units, indices, table)
        return result

    def _answers(self, records: list[_Record]) -> list[_Answer]:
        """Each record's extracted answer and how it was found; each answer part new to this scorer extracted once."""
        if self.authors:
            return list(map(extract_authors, map(itemgetter(2), records)))
        keys: list[_PartKey | None] = []
        add_key, truncated = keys.append, TRUNCATED_REASONS
        for record in records:
            raw, closed = raw_answer_part(record[2])
            add_key(None if raw is None else (raw, closed, closed or record[4] not in truncated))
        parts = self.parts
        found: dict[_PartKey | None, _Answer] = {None: _NOTHING}
        new: list[_PartKey] = []
        for key in dict.fromkeys(keys):  # each distinct key once, in the order of its first line
            if key is not None:
                known = parts.get(key)
                if known is None:
                    new.append(key)
                else:
                    found[key] = known
        for key in new:
            raw, closed, allow_line = key
            found[key] = extract_part(trim_answer_part(raw, closed), allow_line)  # (an (answer, via) tuple)
            if len(raw) <= _CACHED_PART_CHARS:
                if len(parts) >= _CACHE_ENTRIES:
                    parts.clear()
                parts[key] = found[key]
        return list(map(found.__getitem__, keys))

    def _verdicts(
        self, records: list[_Record], answers: list[_Answer]
    ) -> tuple[list[int], list[_Verdict], str | None]:
        """The range's distinct verdicts (in the order of their first line) and each record's index among them; each
        (answer, question) new to this scorer judged once, in the order of the lines. At an unknown question ID: the
        indices of the records before its line, their verdicts, and the error."""
        pairs = list(zip(map(itemgetter(0), answers), map(itemgetter(0), records), strict=True))
        distinct = list(dict.fromkeys(pairs))  # in the order of their first line
        table: list[_Verdict | None] = list(map(self.verdicts.get, distinct))
        number = {pair: index for index, pair in enumerate(distinct)}
        indices = list(map(number.__getitem__, pairs))
        for index, verdict in enumerate(table):
            if verdict is None:
                answer, qid = distinct[index]
                try:
                    table[index] = self._new_verdict(answer, qid)
                except _BadLine as exc:
                    first = pairs.index(distinct[index])  # (the lines before it hold earlier verdicts only)
                    return indices[:first], table[:index], str(exc)  # type: ignore[return-value]
        return indices, table, None  # type: ignore[return-value]

    def _new_verdict(self, answer: str | None, qid: str) -> _Verdict:
        facts = self.facts.get(qid)
        if facts is None:
            facts = self._facts(qid)
        if len(self.verdicts) >= _CACHE_ENTRIES:
            self.verdicts.clear()
        verdict = self.verdicts[(answer, qid)] = _verdict(facts, answer)
        return verdict

    def _facts(self, qid: str) -> _Facts:
        try:
            gold = self.golds[qid]
        except KeyError:
            raise _BadLine(f"unknown question ID {qid!r}") from None
        if len(self.facts) >= _CACHE_ENTRIES:
            self.facts.clear()
        prefix = f'{{"id": {_string(qid)}, "sample": '
        facts = self.facts[qid] = _Facts(prefix, gold, _gold_forms(gold) if gold else None)
        return facts


def _verdict(facts: _Facts, answer: str | None) -> _Verdict:
    """The verdict on ``answer`` (``None``: none), as ``score_extraction`` gives it (without its memo tables: each
    (answer, question) comes here once, nor its Score object: only the line's text is wanted), with its line pieces."""
    # The answer is normalised once, for the match and for its vote (a correct one was, as a gold answer); the table
    # behind match_normalized would grow to millions of entries that files grouped by question never look up again.
    answer_key = normalize_answer(answer) if answer is not None else ""
    correct, match, exact, f1, gold = _judge(answer_key, facts.forms)
    f1 = round(f1, 4)  # (as score_from_match rounds it)
    return _Verdict(
        facts.prefix,
        (
            f', "extracted": {_value(answer)}, "correct": {_BOOLEAN[correct]}, '
            f'"match": {_string(match)}, "exact": {_BOOLEAN[exact]}, "f1": {_value(f1)}, '
            '"meta": {"via": '
        ),
        "}}\n" if gold is None else f', "gold": {_string(gold)}}}}}\n',
        correct,
        exact,
        f1,
        answer_key,
        bool(answer_key) and starts_as_refusal(answer_key),
    )


def _judge(
    answer_key: str, forms: tuple[tuple[str, ...], tuple[str, ...]] | None
) -> tuple[bool, str, bool, float, str | None]:
    """``match_forms`` (``forms``: ``None`` for an excluded question) as a plain tuple ``(correct, match, exact, f1,
    gold)``: its ``MatchResult``, a frozen dataclass, costs a microsecond to build, once per distinct pair."""
    if forms is None:
        result = EXCLUDED_RESULT
    elif not answer_key:  # no answer, or one that normalises to nothing
        result = NO_ANSWER_RESULT
    else:
        golds, origins = forms
        correct, match, exact, f1, at = _match_normalized(answer_key, golds)
        return correct, match, exact, f1, origins[at] if at >= 0 else None
    return result.correct, result.match, result.exact, result.f1, result.gold


def _lines_and_units(
    records: list[_Record], indices: list[int], table: list[_Verdict], answers: list[_Answer]
) -> tuple[bytes, dict[tuple[str, int | None], int], list[int]]:
    """The ``scores.jsonl`` text of the records, and each record's unit (question and budget), units numbered in the
    order of their first record."""
    out: list[str] = []
    units: list[int] = []
    unit_keys: dict[tuple[str, int | None], int] = {}
    add_line, add_unit, via_text = out.append, units.append, _VIA_TEXT
    unit, last_qid, last_budget = -1, None, None
    for (qid, sample, _, budget, _, _), index, (_, via) in zip(records, indices, answers, strict=False):
        verdict = table[index]
        if budget is None:
            add_line(f"{verdict.prefix}{sample}{verdict.middle}{via_text[via]}{verdict.end}")
        else:
            add_line(
                f'{verdict.prefix}{sample}{verdict.middle}{via_text[via]}, "budget": {budget}{verdict.end}'
            )
        if qid != last_qid or budget != last_budget:  # the samples of a unit are usually neighbours
            last_qid, last_budget = qid, budget
            unit = unit_keys.setdefault((qid, budget), len(unit_keys))
        add_unit(unit)
    return "".join(out).encode("utf-8"), unit_keys, units


def _fill_columns(
    columns: VerdictColumns,
    unit_keys: dict[tuple[str, int | None], int],
    units: list[int],
    indices: list[int],
    table: list[_Verdict],
) -> None:
    """The range's verdict columns, as ``VerdictColumns.add_verdict`` per line would have gathered them: each
    distinct verdict's values (answers numbered in the order of their first line) picked per record by numpy."""
    columns.unit_keys, columns.unit = unit_keys, array("q", units)
    number = columns.answer_id
    answer_ids = [number(v.answer_key, v.refusal) if v.answer_key else -1 for v in table]
    picks = np.asarray(indices, dtype=np.intp)
    for name, values, typecode, dtype in (
        ("correct", [v.correct for v in table], "b", np.int8),
        ("exact", [v.exact for v in table], "b", np.int8),
        ("f1", [v.f1 for v in table], "d", np.float64),
        ("answer", answer_ids, "q", np.int64),
    ):
        column = array(typecode)
        column.frombytes(np.asarray(values, dtype=dtype)[picks].tobytes())
        setattr(columns, name, column)


def _read_lines(data: bytes) -> tuple[list[int], list[_Record], int, str | None]:
    """The records of a range's lines up to the first bad one: their line numbers (counted from 1 in the range, one
    more for the bad line), the records, the range's newlines and the bad line's error (``None``: none)."""
    lines: list[int] = []
    records: list[_Record] = []
    # Lines are read through a memoryview (split() would copy every line) and counted here (bytes.count() takes
    # longer than this whole loop's finding of line ends).
    view, find, size, at, lineno = memoryview(data), data.find, len(data), 0, 0
    loads, plain = orjson.loads, _PLAIN.issuperset
    while at < size:
        end = find(b"\n", at)
        if end < 0:
            end = size
        start, at, lineno = at, end + 1, lineno + 1
        if start == end or (data[start] in _SPACE and data[start:end].isspace()):
            continue  # a blank line
        lines.append(lineno)
        raw = view[start:end]
        try:
            row = loads(raw)
        except ValueError:  # orjson rejects the line: json decides (_fields)
            row = None
        # One set test: every (field, value type) pair is one a Prediction holds unchanged (no unknown field, float,
        # bool for an integer, null for a required field...); then only presence and the range of sample are left.
        if type(row) is dict and plain(zip(row, map(type, row.values()))):  # noqa: B905 (a dict's own keys and values)
            get = row.get
            qid, sample, text = get("id"), get("sample"), get("text")
            if qid is not None and text is not None and sample is not None and 0 <= sample <= _MAX_SAMPLE:
                records.append((qid, sample, text, get("budget"), get("finish_reason"), get("route")))
                continue
        try:
            records.append(_fields(raw))
        except _BadLine as exc:
            return lines, records, data.count(b"\n"), str(exc)
    return lines, records, lineno - (size > 0 and data[-1] != 10), None


def _fields(raw: memoryview) -> _Record:
    """What scoring reads of a line that is not a plain prediction (``_read_lines`` reads those): as ``json`` and
    ``Prediction.from_dict`` read it, or ``_BadLine`` (what is wrong)."""
    prediction = _prediction(bytes(raw))
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
    except RecursionError:
        raise _BadLine(f"malformed JSON ({TOO_DEEP})") from None


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
