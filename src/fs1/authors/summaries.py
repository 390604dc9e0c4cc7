"""The summaries of every imported run once its files are in place: predictions scored with the chosen extraction,
the answers the authors' judge was shown rule-matched, their verdicts summarised as ``fs1 judge`` summarises its own.
Summaries are computed by reading the written files again, so no run is ever held in memory whole.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from fs1.authors.importer import ImportState, RunTally, run_path, setting_of
from fs1.authors.rows import JUDGE_PRESET
from fs1.io import read_jsonl_rows, write_json_atomic
from fs1.judge.judge import ERROR_EXAMPLES_KEPT, VERDICT_ERROR
from fs1.judge.stage import JudgedRow, JudgeRunStats, judged_summary
from fs1.scoring.extract import EXTRACT_AUTHORS
from fs1.scoring.score import score_file
from fs1.scoring.summary import summarise
from fs1.stage import not_described
from fs1.summary_types import JUDGED_SUMMARY_FILE, SUMMARY_FILE, Summary

# What a judged summary records as the engine of imported verdicts (fs1 asked no judge).
IMPORTED_VERDICTS = "imported verdicts: the authors' files name the judge model, not the engine behind it"


def summarise_runs(
    out: Path, state: ImportState, *, extract: str, ks: Sequence[int] | None, seed: int, workers: int
) -> dict[str, Any]:
    """Score and summarise every imported run; returns per run its headline pass@k (for ``import.json``)."""
    found: dict[str, Any] = {}
    for run, tally in sorted(state.runs.items()):
        write_json_atomic(out / "generate" / run / "run.json", _run_meta(run, tally))
        score_dir = out / "score" / run
        if tally.predictions:
            summary = score_file(
                run_path(out, "generate", run), state.questions, score_dir, ks, workers=workers, seed=seed,
                extract=extract, skipped=state.skipped,
            )  # fmt: skip
        else:
            summary = _summarise_answers(run_path(out, "score", run), state, ks, seed)
            write_json_atomic(score_dir / SUMMARY_FILE, summary)
        found[run] = {"extract": summary["extract"], "pass@k": summary["overall"]["pass@k"]}
        if tally.verdicts:
            judged = _summarise_verdicts(run_path(out, "judge", run), state, tally, ks, seed)
            write_json_atomic(out / "judge" / run / JUDGED_SUMMARY_FILE, judged)
            found[run]["judged_pass@k"] = judged["overall"]["pass@k"]
    return found


def _run_meta(run: str, tally: RunTally) -> dict[str, Any]:
    budgets = sorted(b for b in tally.budgets if b is not None)
    models = sorted(tally.models)
    return {
        "model": models[0] if len(models) == 1 else run,
        "setting": setting_of(run),
        "budgets": budgets,
        "imported": True,
        "files": tally.files,
    }


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    for _, row in read_jsonl_rows(path):
        yield row


def _summarise_answers(path: Path, state: ImportState, ks: Sequence[int] | None, seed: int) -> Summary:
    """The summary of the answers the authors' judge was shown, rule-matched (their extraction, so ``authors``)."""
    return {**summarise(_rows(path), state.questions, ks, seed=seed), "extract": EXTRACT_AUTHORS}


def _summarise_verdicts(
    path: Path, state: ImportState, tally: RunTally, ks: Sequence[int] | None, seed: int
) -> dict[str, Any]:
    verdicts: Counter[str] = Counter()
    error_examples: list[str] = []
    for row in _rows(path):
        verdicts[row["verdict"]] += 1
        if row["verdict"] == VERDICT_ERROR and len(error_examples) < ERROR_EXAMPLES_KEPT:
            error_examples.append(row["judge_reply"])
    stats = JudgeRunStats(
        predictions=tally.verdicts, unique_answers=tally.verdicts, verdicts=verdicts,
        errors=verdicts.get(VERDICT_ERROR, 0),
    )  # fmt: skip
    info = {
        "model": ", ".join(sorted(tally.judges)),
        "prompt": JUDGE_PRESET.name,
        "mode": "all",
        "extract": EXTRACT_AUTHORS,
        "imported": tally.files,
        "engine": not_described(IMPORTED_VERDICTS),
    }

    def rows() -> Iterator[JudgedRow]:
        return (JudgedRow(**row) for row in _rows(path))

    summary = judged_summary(rows, state.questions, ks, stats, info, None, seed=seed)
    summary["error_examples"] = error_examples
    return dict(summary)
