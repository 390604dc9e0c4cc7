"""The score stage as the driver sees it (``fs1.stage``): one run's predictions → ``scores.jsonl`` + ``summary.json``
in the stage directory. Scoring is cheap and reads its whole input at once, so it is never sharded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fs1.records import Question, Score
from fs1.scoring.extract import EXTRACT_FS1
from fs1.scoring.score import SCORES_FILE
from fs1.stage import Stage
from fs1.summary_types import Summary


@dataclass
class ScoreSpec:
    """What to score, with which k list, bootstrap seed, worker processes and answer-extraction rule."""

    predictions: Path
    ks: list[int]
    seed: int
    workers: int = 1
    extract: str = EXTRACT_FS1


def score_key(row: dict[str, Any]) -> tuple[str, int, Any]:
    return str(row["id"]), int(row["sample"]), row.get("budget")


def run_score(questions: list[Question], spec: ScoreSpec, out: Path, resume: bool) -> Summary:
    """Score ``spec.predictions`` against ``questions`` into ``out`` and ``summary.json`` beside it (rewritten
    whole: scoring has nothing to resume)."""
    from fs1.scoring.score import score_file

    by_id = {q.ID: q for q in questions}
    return score_file(
        spec.predictions,
        by_id,
        out.parent,
        ks=spec.ks,
        seed=spec.seed,
        workers=spec.workers,
        extract=spec.extract,
    )


SCORE: Stage[ScoreSpec] = Stage(
    name="score", output=SCORES_FILE, record=Score, key=score_key, run=run_score, shardable=False
)
