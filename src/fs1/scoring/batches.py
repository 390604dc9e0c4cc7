"""Scoring a predictions JSONL file in batches of lines, in this process or in worker processes.

A batch is a list of ``(line number, raw line)``. Scoring a batch parses, validates and scores each line and returns
the ``scores.jsonl`` text, compact verdicts for the summary and, at the first bad line, its error (naming file and
line), so outputs and errors are the same with one process or several. Workers get batches through a bounded window,
so memory stays flat however large the file; they use ``spawn``, which is safe next to the progress bar's thread.
"""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

from fs1.io import InputError
from fs1.records import Prediction, Question, RecordError, Score
from fs1.scoring.normalize import normalize_answer
from fs1.scoring.prediction import score_prediction

BATCH_LINES = 2048
_PREDICTION_FIELDS = frozenset(f.name for f in dataclasses.fields(Prediction))

# One verdict for the summary: (question ID, budget, sample, correct, exact, f1, normalised answer or "").
Verdict = tuple[str, "int | None", int, bool, bool, float, str]


@dataclass
class BatchResult:
    """What scoring one batch gave: output text, verdicts and their line numbers, and the first error if any."""

    text: str = ""
    verdicts: list[Verdict] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    error: str | None = None


class BatchScorer:
    """Scores batches of lines of one predictions file against one set of questions."""

    def __init__(self, path: str, questions: Mapping[str, Question]) -> None:
        self.path = path
        self.questions = questions
        self.golds: dict[str, tuple[str, ...]] = {}

    def __call__(self, batch: list[tuple[int, bytes]]) -> BatchResult:
        result, out = BatchResult(), []
        for lineno, raw in batch:
            try:
                prediction = self._prediction(lineno, raw)
                question = self.questions.get(prediction.id)
                if question is None:
                    raise InputError(f"{self.path}:{lineno}: unknown question ID {prediction.id!r}")
            except InputError as exc:
                result.error = str(exc)
                break
            gold = self.golds.get(question.ID)
            if gold is None:
                gold = self.golds[question.ID] = tuple(question.gold)
            score = score_prediction(prediction, question, gold)
            out.append(score_line(score))
            key = normalize_answer(score.extracted) if score.extracted is not None else ""
            result.verdicts.append(
                (prediction.id, prediction.budget, score.sample, score.correct, score.exact, score.f1, key)
            )
            result.lines.append(lineno)
        result.text = "".join(out)
        return result

    def _prediction(self, lineno: int, raw: bytes) -> Prediction:
        where = f"{self.path}:{lineno}"
        try:
            row: Any = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise InputError(f"{where}: not UTF-8 text") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: malformed JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise InputError(f"{where}: expected a JSON object")
        try:
            required = (
                row.get("id") is not None and row.get("sample") is not None and row.get("text") is not None
            )
            if required and row.keys() <= _PREDICTION_FIELDS:
                # Same result as from_dict for a row with only known fields, at a fraction of its per-row cost.
                prediction = Prediction(**row)
                prediction.validate()
                return prediction
            return Prediction.from_dict(row)
        except (RecordError, TypeError) as exc:
            raise InputError(f"{where}: {exc}") from None


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


_string = encode_basestring  # JSON string literal, non-ASCII kept (as ensure_ascii=False)


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


def read_batches(path: Path) -> Iterator[list[tuple[int, bytes]]]:
    """Batches of ``(line number, raw line)``, blank lines skipped."""
    batch: list[tuple[int, bytes]] = []
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.isspace():  # (no copy of the line, unlike strip())
                batch.append((lineno, raw))
                if len(batch) == BATCH_LINES:
                    yield batch
                    batch = []
    if batch:
        yield batch


def run_batches(path: Path, questions: Mapping[str, Question], workers: int) -> Iterator[BatchResult]:
    """Score every batch of ``path`` in file order, with ``workers`` processes (1: in this process)."""
    if workers <= 1:
        scorer = BatchScorer(str(path), questions)
        for batch in read_batches(path):
            yield scorer(batch)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_init_worker, initargs=(str(path), dict(questions))) as pool:
        pending: deque[Any] = deque()
        for batch in read_batches(path):
            pending.append(pool.apply_async(_score_in_worker, (batch,)))
            if len(pending) > 2 * workers:  # a bounded window keeps memory flat
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


_worker_scorer: BatchScorer | None = None


def _init_worker(path: str, questions: dict[str, Question]) -> None:
    global _worker_scorer
    _worker_scorer = BatchScorer(path, questions)


def _score_in_worker(batch: list[tuple[int, bytes]]) -> BatchResult:
    assert _worker_scorer is not None, "worker not initialised"
    return _worker_scorer(batch)
