"""Scoring a predictions JSONL file in byte ranges of whole lines, in this process or in worker processes.

The file is cut into ranges of about ``RANGE_BYTES`` that end at line ends; whoever scores a range reads it from the
file itself, so only the (small) results travel between processes. Scoring a range parses, validates and scores each
line and returns the ``scores.jsonl`` bytes, the verdicts for the summary (``VerdictColumns``) and, at the first bad
line, its error. Line numbers are counted within a range and made absolute in file order by ``score_ranges``, so
outputs and errors are the same with one process or several. Workers get ranges through a bounded window, so memory
stays flat however large the file; they use ``spawn``, which is safe next to the progress bar's thread.

Per line, the cost that does not depend on the text's length is kept small: ``orjson`` decodes when it is installed
(a row it rejects, or where it read a float, is decoded again by ``json``, whose result or error then counts, so the
two agree), and the verdict and the pieces of its ``scores.jsonl`` text are remembered per (extracted answer,
question): the samples of a question often give the same answer.
"""

from __future__ import annotations

import atexit
import gc
import json
import math
import multiprocessing
import os
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any, NamedTuple

from fs1.records import Prediction, Question, RecordError, Score, _field_info, check_types
from fs1.scoring.extract import (
    EXTRACT_AUTHORS,
    EXTRACT_FS1,
    VIA_BOX,
    VIA_LINE,
    VIA_MARKER,
    VIA_NONE,
    VIA_TAIL,
    Extraction,
    answer_part,
    extract_authors,
    extract_from_part,
)
from fs1.scoring.match import scoring_gold
from fs1.scoring.normalize import normalize_answer
from fs1.scoring.prediction import TRUNCATED_REASONS, authors_hint, score_extraction
from fs1.scoring.summary import VerdictColumns

try:  # a faster decoder of the same JSON; without it, json does all the work
    import orjson

    _fast_loads: Any = orjson.loads
except ImportError:  # pragma: no cover - orjson is a dependency
    _fast_loads = None

RANGE_BYTES = 4 << 20
_string = encode_basestring  # JSON string literal, non-ASCII kept (as ensure_ascii=False)
# Remembered verdicts per scorer; cleared when full (files list the samples of a question together).
_CACHE_ENTRIES = 1 << 12


@dataclass
class RangeResult:
    """What scoring one range gave: output bytes, verdicts, their line numbers, the first error if any.

    ``lines`` and the error's line count from the range's first line (1) until ``score_ranges`` makes them absolute.
    """

    data: bytes = b""
    columns: VerdictColumns = field(default_factory=VerdictColumns)
    lines: list[int] = field(default_factory=list)
    newlines: int = 0
    error: str | None = None
    error_line: int = 0
    routes: set[str | None] = field(default_factory=set)  # Prediction.route values seen (None: not recorded)


class _BadLine(ValueError):
    """A line that is not a valid prediction; the message is what follows ``file:line:``."""


class _Verdict(
    NamedTuple
):  # (a named tuple: built thousands of times a second, faster than a frozen dataclass)
    """The verdict on one extracted answer to one question, with its ``scores.jsonl`` text in pieces.

    A line is ``prefix``, the sample number, ``middle``, the via and budget (which do not change the verdict), then
    ``end``: the same text as ``score_line`` (a test holds them together).
    """

    prefix: str
    middle: str
    end: str
    correct: bool
    exact: bool
    f1: float
    answer_key: str


class RangeScorer:
    """Scores byte ranges of one predictions file against one set of questions, extracting answers by rule
    ``extract`` (``fs1``; ``authors`` reads the whole text, thinking included)."""

    def __init__(self, path: str, questions: Mapping[str, Question], extract: str = EXTRACT_FS1) -> None:
        self.path = path
        self.questions = questions
        self.authors = extract == EXTRACT_AUTHORS
        self.golds: dict[str, tuple[str, ...]] = {}
        self.verdicts: dict[tuple[Any, ...], _Verdict] = {}

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
        result, out, columns, lines = RangeResult(), [], VerdictColumns(), []
        add, add_route = columns.add_verdict, result.routes.add
        for lineno, raw in enumerate(data.split(b"\n"), 1):
            if not raw or raw.isspace():  # (no copy of the line, unlike strip())
                continue
            try:
                prediction = _prediction(raw)
                qid, budget = prediction.id, prediction.budget
                if qid not in self.questions:
                    raise _BadLine(f"unknown question ID {qid!r}")
            except _BadLine as exc:
                result.error, result.error_line = str(exc), lineno
                break
            verdict, via = self._verdict(qid, prediction.text, prediction.finish_reason in TRUNCATED_REASONS)
            budget_text = "" if budget is None else f', "budget": {_value(budget)}'
            out.append(
                f"{verdict.prefix}{prediction.sample}{verdict.middle}{_VIA_TEXT[via]}{budget_text}{verdict.end}"
            )
            add(
                qid, budget, prediction.sample, verdict.correct, verdict.exact, verdict.f1, verdict.answer_key
            )
            lines.append(lineno)
            add_route(prediction.route)
        result.data = "".join(out).encode("utf-8")
        result.columns, result.lines, result.newlines = columns, lines, data.count(b"\n")
        return result

    def _verdict(self, qid: str, text: str, truncated: bool) -> tuple[_Verdict, str]:
        """The verdict on the answer of ``text`` and how the answer was found."""
        if self.authors:
            found = extract_authors(text)
        else:
            part, closed = answer_part(text)
            found = extract_from_part(part, closed, truncated=truncated)
        key = (found.answer, qid)
        verdict = self.verdicts.get(key)
        if verdict is None:
            if len(self.verdicts) >= _CACHE_ENTRIES:
                self.verdicts.clear()
            verdict = self.verdicts[key] = _new_verdict(qid, found, self._gold(qid))
        return verdict, found.via

    def _gold(self, qid: str) -> tuple[str, ...]:
        gold = self.golds.get(qid)
        if gold is None:
            gold = self.golds[qid] = scoring_gold(self.questions[qid])
        return gold


def _new_verdict(qid: str, found: Extraction, gold: tuple[str, ...]) -> _Verdict:
    score = score_extraction(qid, 0, None, found, gold)
    gold_text = f', "gold": {_string(score.meta["gold"])}' if "gold" in score.meta else ""
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
        answer_key=normalize_answer(score.extracted) if score.extracted is not None else "",
    )


_VIA_TEXT = {via: _string(via) for via in (VIA_BOX, VIA_MARKER, VIA_LINE, VIA_NONE, VIA_TAIL)}


_PREDICTION_FIELDS, _ = _field_info(Prediction)


def _prediction(raw: bytes) -> Prediction:
    row = _decode(raw)
    if not isinstance(row, dict):
        raise _BadLine("expected a JSON object")
    try:
        required = row.get("id") is not None and row.get("sample") is not None and row.get("text") is not None
        if required and row.keys() <= _PREDICTION_FIELDS:
            # Same result as from_dict for a row with only known fields, at a fraction of its per-row cost.
            check_types(Prediction, row)
            prediction = Prediction(**row)
            prediction.validate()
            return prediction
        return Prediction.from_dict(row)
    except (RecordError, TypeError) as exc:
        raise _BadLine(f"{exc}{authors_hint(row)}") from None


def _decode(raw: bytes) -> Any:
    if _fast_loads is not None:
        try:
            row = _fast_loads(raw)
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


def score_line(score: Score) -> str:
    """One ``scores.jsonl`` line, the same text as ``json.dumps(score.to_dict(), ensure_ascii=False)``.

    Built by hand: ``json.dumps`` of the row costs more than a quarter of scoring it, at millions of rows.
    """
    meta = ", ".join(f"{_string(key)}: {_value(value)}" for key, value in score.meta.items())
    return (
        f'{{"id": {_string(score.id)}, "sample": {score.sample}, "extracted": {_value(score.extracted)}, '
        f'"correct": {_value(score.correct)}, "match": {_string(score.match)}, "exact": {_value(score.exact)}, '
        f'"f1": {_value(score.f1)}, "meta": {{{meta}}}}}\n'
    )


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


def score_ranges(
    path: Path, questions: Mapping[str, Question], workers: int, extract: str = EXTRACT_FS1
) -> Iterator[RangeResult]:
    """Score every range of ``path`` in file order, with ``workers`` processes (1: in this process), answers
    extracted by rule ``extract``.

    Each result's ``lines`` and ``error`` name lines of the file (the first line is 1).
    """
    first_line = 0  # lines before the current range
    for result in _range_results(path, questions, workers, extract):
        if first_line:
            result.lines = [line + first_line for line in result.lines]
        if result.error is not None:
            result.error = f"{path}:{result.error_line + first_line}: {result.error}"
            result.error_line += first_line
        first_line += result.newlines
        yield result


def _range_results(
    path: Path, questions: Mapping[str, Question], workers: int, extract: str
) -> Iterator[RangeResult]:
    workers = min(workers, -(-path.stat().st_size // RANGE_BYTES))  # no more workers than ranges
    if workers <= 1:
        scorer = RangeScorer(str(path), questions, extract)
        for start, end in line_ranges(path):
            yield scorer(start, end)
        return
    context = multiprocessing.get_context("spawn")
    pool = context.Pool(workers, initializer=_init_worker, initargs=(str(path), dict(questions), extract))
    pending: deque[Any] = deque()
    try:
        for start, end in line_ranges(path):
            pending.append(pool.apply_async(_score_in_worker, (start, end)))
            if len(pending) > 2 * workers:  # a bounded window keeps memory flat
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()
    finally:
        # Never Pool.terminate() (what leaving a ``with Pool`` does): killing workers while the pool's threads feed
        # them can deadlock its teardown (seen: a bad line ended a test run early and the suite hung). The ranges in
        # flight (at most 2 × workers + 1) finish instead, then the workers exit on their own.
        for result in pending:
            result.wait()
        pool.close()
        pool.join()


def default_workers() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


_worker_scorer: RangeScorer | None = None


def _init_worker(path: str, questions: dict[str, Question], extract: str) -> None:
    global _worker_scorer
    _worker_scorer = RangeScorer(path, questions, extract)
    # A worker ends by interpreter teardown, freeing its large memo caches object by object (0.1-0.3 s that the
    # parent's join waits for); it has no files or buffered output to flush, so it may leave at once instead.
    atexit.register(os._exit, 0)


def _score_in_worker(start: int, end: int) -> RangeResult:
    assert _worker_scorer is not None, "worker not initialised"
    return _worker_scorer(start, end)
