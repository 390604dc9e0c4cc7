"""The scoring stage: Predictions + benchmark Questions -> one Score per prediction and the summary.

``score_file`` is what ``fs1 score`` runs: it scores the predictions file in byte ranges of whole lines, in this
process or in worker processes that each read their own ranges (``batches.py``; texts are not kept in memory), writes
``scores.jsonl`` and ``summary.json`` atomically (on any error neither is left half-written), and reports bad input as
``InputError`` naming file and line.
``score_predictions`` does the same on records in memory; ``clear_caches`` empties the memo caches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fs1.errors import ConfigError
from fs1.io import InputError, atomic_open, collector_paused, write_json_atomic
from fs1.records import Prediction, Question, Score
from fs1.scoring.accounting import NO_SKIPS, named_skips
from fs1.scoring.accounting import require_complete as check_complete
from fs1.scoring.batches import record_line
from fs1.scoring.extract import EXTRACT_FS1, _extract_from_part
from fs1.scoring.match import _gold_forms, _match_cached, match_normalized, scoring_gold
from fs1.scoring.normalize import normalize_answer
from fs1.scoring.prediction import score_prediction
from fs1.scoring.summary import DuplicateSampleError, VerdictColumns, aggregate
from fs1.scoring.workers import score_ranges
from fs1.summary_types import SUMMARY_FILE, Summary
from fs1.vocab import EXTRACT_MODES

SCORES_FILE = "scores.jsonl"


def score_predictions(
    predictions: Iterable[Prediction],
    questions: Mapping[str, Question],
    ks: Sequence[int] | None = None,
    extract: str = EXTRACT_FS1,
    skipped: Mapping[str, str] = NO_SKIPS,
) -> tuple[list[Score], dict[str, Any]]:
    """Score predictions in memory, answers extracted by rule ``extract``: ``(scores in input order, summary)``;
    a prediction of a record the loader skipped (``skipped``: ID → reason) is scored as one of an excluded question;
    ``InputError`` on an unknown question ID."""
    check_extract(extract)
    scores: list[Score] = []
    columns = VerdictColumns()
    golds: dict[str, tuple[str, ...]] = {}
    for prediction in predictions:
        question = questions.get(prediction.id)
        if question is None and prediction.id not in skipped:
            raise InputError(f"prediction for unknown question ID {prediction.id!r}")
        gold = _gold_of(golds, question) if question is not None else ()  # (a skipped record: excluded)
        score = score_prediction(prediction, question, gold, extract)
        scores.append(score)
        columns.add(
            prediction.id,
            prediction.budget,
            score.sample,
            score.correct,
            score.exact,
            score.f1,
            score.extracted,
        )
    named = named_skips(skipped, (qid for qid, _ in columns.unit_keys))
    return scores, {**aggregate(columns, questions, ks, skipped=named), "extract": extract}


def check_extract(extract: str) -> None:
    """``ConfigError`` unless ``extract`` names a rule (``fs1.vocab.EXTRACT_MODES``)."""
    if extract not in EXTRACT_MODES:
        raise ConfigError(f"unknown extraction rule {extract!r}; choose one of {', '.join(EXTRACT_MODES)}")


def score_file(
    predictions_path: str | Path,
    questions: Mapping[str, Question],
    out_dir: str | Path,
    ks: Sequence[int] | None = None,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
    seed: int = 0,
    extract: str = EXTRACT_FS1,
    require_complete: bool = False,
    skipped: Mapping[str, str] = NO_SKIPS,
) -> Summary:
    """Score a predictions JSONL file into ``out_dir/scores.jsonl`` and ``out_dir/summary.json``; returns the summary.

    ``extract``: the rule that reads each answer, ``fs1`` or ``authors`` (recorded as the summary's ``extract``).
    The summary accounts for every benchmark question (``fs1.scoring.accounting``); ``require_complete`` makes a
    benchmark question without a prediction an ``IncompleteError`` (nothing written). ``skipped``: the records the
    benchmark's loader skipped (``fs1.data.ScoringBenchmark.skipped``): their predictions are scored as excluded
    questions' and they are counted as excluded; any other unknown question ID stops with ``file:line``.

    ``progress`` is called with the number of predictions scored so far, after each range of lines. ``workers``:
    processes to score with (0: one per core this process may use; never more: ``workers.capped_workers``); the
    outputs do not depend on it. Each worker reads its own byte ranges of the file, so two workers on two idle cores
    take about half the time of one. Where they cannot be forked (another platform, or a caller running threads)
    they are started with ``spawn``, which imports the caller's main module again: a script that asks for more than
    one worker must then keep its top-level code under ``if __name__ == "__main__":``. ``seed`` seeds the summary's
    bootstrap intervals.
    """
    predictions_path, out_dir = Path(predictions_path), Path(out_dir)
    check_extract(extract)
    if not predictions_path.is_file():
        raise InputError(f"{predictions_path}: no such file")
    columns = VerdictColumns()
    count = 0
    routes: set[str | None] = set()
    # The collector is paused while the ranges' results arrive and merge: unpickling and merging them makes no cycles
    # but many objects, whose collector passes over the benchmark's questions cost a third of receiving them.
    with collector_paused(), atomic_open(out_dir / SCORES_FILE, "wb") as out:
        for result in score_ranges(predictions_path, questions, workers, extract, skipped):
            out.write(result.data)
            columns.extend(result.columns)
            count += len(result.columns)
            routes |= result.routes
            if result.error is not None:
                raise InputError(result.error)
            if progress is not None:
                progress(count)
        if not count:
            raise InputError(f"{predictions_path}: no predictions")
        try:
            named = named_skips(skipped, (qid for qid, _ in columns.unit_keys))
            summary: Summary = {
                **aggregate(columns, questions, ks, seed=seed, skipped=named),
                "extract": extract,
            }
        except DuplicateSampleError as exc:
            raise InputError(
                f"{predictions_path}:{record_line(predictions_path, exc.position)}: {exc}"
            ) from None
        if require_complete:
            check_complete(summary, str(predictions_path))
    warning = mixed_routes_warning(predictions_path, routes)
    if warning:
        summary.setdefault("warnings", []).append(warning)
    write_json_atomic(out_dir / SUMMARY_FILE, summary)
    return summary


def mixed_routes_warning(path: Path, routes: set[str | None]) -> str | None:
    """A warning for a file whose predictions came through more than one prompt route (``Prediction.route``)."""
    known = sorted(route for route in routes if route)
    if len(known) < 2:
        return None
    return (
        f"{path}: predictions came through the {' and '.join(known)} routes (prompts built by fs1's template and "
        "by the server's): one run's numbers should come one way; regenerate the odd ones into their own file"
    )


def clear_caches() -> None:
    """Empty the memo caches of extraction, normalisation and matching (for benchmarks and long-lived processes)."""
    for cached in (normalize_answer, _extract_from_part, _match_cached, match_normalized, _gold_forms):
        cached.cache_clear()


def _gold_of(golds: dict[str, tuple[str, ...]], question: Question) -> tuple[str, ...]:
    gold = golds.get(question.ID)
    if gold is None:
        gold = golds[question.ID] = scoring_gold(question)
    return gold
