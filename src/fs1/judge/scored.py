"""The answers a judge is shown: read from a ``fs1 score`` directory (its ``scores.jsonl``, extracted by the rule
its summary records) or extracted here from a predictions file, every row checked before any judge call is paid for."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fs1.errors import ConfigError
from fs1.io import InputError, read_jsonl_rows
from fs1.records import Prediction, Question, RecordError, Score
from fs1.scoring.accounting import NO_SKIPS
from fs1.scoring.extract import EXTRACT_FS1
from fs1.scoring.prediction import authors_hint, score_prediction
from fs1.scoring.score import SCORES_FILE
from fs1.summary_types import SUMMARY_FILE


def scored_extraction(path: str | Path, asked: str | None) -> str:
    """The extraction rule of the answers to judge: a ``fs1 score`` directory's own (its summary's ``extract``;
    ``fs1`` for summaries written before it was recorded), which ``asked`` must not contradict; for a predictions
    file, ``asked`` (default ``fs1``)."""
    path = Path(path)
    if not path.is_dir():
        return asked or EXTRACT_FS1
    recorded = EXTRACT_FS1
    summary_path = path / SUMMARY_FILE
    if summary_path.is_file():
        recorded = str(_read_summary(summary_path).get("extract", EXTRACT_FS1))
    if asked is not None and asked != recorded:
        raise ConfigError(
            f"{path}: its answers were extracted by the {recorded} rule, not {asked}: score the predictions "
            f"again with --extract {asked}, or judge these with --extract {recorded}"
        )
    return recorded


def _read_summary(path: Path) -> dict[str, Any]:
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a JSON summary ({exc})") from None
    if not isinstance(summary, dict):
        raise InputError(f"{path}: expected a JSON object")
    return summary


def load_scored(
    path: str | Path,
    questions: Mapping[str, Question],
    extract: str = EXTRACT_FS1,
    skipped: Mapping[str, str] = NO_SKIPS,
) -> tuple[list[Score], list[int], Path]:
    """Scores to judge, with the input line of each: a ``fs1 score`` directory (its ``scores.jsonl``) or a
    predictions JSONL file (answers extracted here by rule ``extract``). Bad rows and unknown question IDs raise
    ``InputError`` naming file:line; an ID of a record the loader skipped (``skipped``) is known (excluded)."""
    path = Path(path)
    source = path / SCORES_FILE if path.is_dir() else path
    scores: list[Score] = []
    lines: list[int] = []
    seen: set[tuple[str, Any, int]] = set()
    for lineno, row in read_jsonl_rows(source):
        try:
            if path.is_dir():
                score = _score_row(row)
            else:
                prediction = Prediction.from_dict(row)
                question = questions.get(prediction.id)
                if question is None and prediction.id not in skipped:
                    raise InputError(f"{source}:{lineno}: unknown question ID {prediction.id!r}")
                score = score_prediction(prediction, question, extract=extract)
        except (RecordError, TypeError) as exc:
            raise InputError(f"{source}:{lineno}: {exc}{authors_hint(row)}") from None
        if score.id not in questions and score.id not in skipped:
            raise InputError(f"{source}:{lineno}: unknown question ID {score.id!r}")
        unit = (score.id, score.meta.get("budget"), score.sample)
        if unit in seen:  # caught before any judge call is paid for
            raise InputError(f"{source}:{lineno}: duplicate sample {score.sample} for question {score.id!r}")
        seen.add(unit)
        scores.append(score)
        lines.append(lineno)
    if not scores:
        raise InputError(f"{source}: no predictions")
    return scores, lines, source


def _score_row(row: dict[str, Any]) -> Score:
    """A ``scores.jsonl`` row as a Score; ``extracted: null`` (no answer) is valid here although
    ``Record.from_dict`` reads a null required field as missing."""
    if "extracted" not in row:
        raise RecordError("missing field(s) extracted")
    score = Score.from_dict({**row, "extracted": row["extracted"] if row["extracted"] is not None else ""})
    score.extracted = row["extracted"]
    return score
