"""Read a run directory into the plain data the report shows: runs, summaries, results table, traces.

Layout (written by ``fs1 run``): ``benchmark/questions.jsonl``, ``paths/paths.jsonl``,
``generate/<run>/{run.json,predictions.jsonl}``, ``score/<run>/{summary.json,scores.jsonl}``,
``judge/<run>/judged_summary.json`` (optional), ``results.parquet``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fs1.io import InputError, read_jsonl_rows
from fs1.manifest import MANIFEST_NAME, read_manifest

SETTING_ORDER = {"instruct": 0, "cot": 1, "abstain": 2, "rt": 3, "fs1": 4}
VIEWER_TEXT_LIMIT = 6000  # characters of each trace kept in the viewer, so the page stays light


@dataclass
class RunView:
    """One generation run (model × setting) with its score summary."""

    name: str
    model: str
    setting: str
    summary: dict[str, Any]
    budgets: list[int] = field(default_factory=list)
    judged: dict[str, Any] | None = None


@dataclass
class ReportData:
    rundir: Path
    title: str
    runs: list[RunView]
    sources: list[str]
    traces: list[dict[str, Any]]
    results: list[dict[str, Any]]
    manifest: dict[str, Any] | None = None  # rundir/manifest.json: versions, hardware, seeds, times


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg})") from None


def _rows(path: Path) -> list[dict[str, Any]]:
    return [row for _, row in read_jsonl_rows(path)] if path.exists() else []


def load_runs(rundir: Path) -> list[RunView]:
    """Every scored run under ``rundir/score``, with its generation metadata."""
    runs = []
    score_root = rundir / "score"
    if not score_root.is_dir():
        raise InputError(
            f"{rundir}: no score/ directory — is this an fs1 run directory? (run `fs1 run` first)"
        )
    for summary_path in sorted(score_root.glob("*/summary.json")):
        name = summary_path.parent.name
        meta_path = rundir / "generate" / name / "run.json"
        meta = _read_json(meta_path) if meta_path.exists() else {}
        judged_path = rundir / "judge" / name / "judged_summary.json"
        runs.append(
            RunView(
                name=name,
                model=meta.get("model", name.split("__")[0]),
                setting=meta.get("setting", name.split("__")[-1]),
                summary=_read_json(summary_path),
                budgets=[b for b in meta.get("budgets") or [] if b is not None],
                judged=_read_json(judged_path) if judged_path.exists() else None,
            )
        )
    if not runs:
        raise InputError(f"{score_root}: no scored runs (expected score/<run>/summary.json)")
    # The paper's order of settings within each model: instruct, cot, rt, fs1 (others after them).
    return sorted(runs, key=lambda r: (r.model, SETTING_ORDER.get(r.setting, len(SETTING_ORDER)), r.setting))


def load_traces(rundir: Path, runs: list[RunView]) -> list[dict[str, Any]]:
    """Join predictions, scores, questions and KG paths into one row per prediction for the viewer."""
    questions = {str(r["ID"]): r for r in _rows(rundir / "benchmark" / "questions.jsonl")}
    paths = {str(r["ID"]): r.get("verbalised", "") for r in _rows(rundir / "paths" / "paths.jsonl")}
    traces = []
    for run in runs:
        # A Score keeps its budget in meta (judged rows at the top level): key by whichever is there.
        scores = {
            (str(r["id"]), r["sample"], r.get("budget", (r.get("meta") or {}).get("budget"))): r
            for r in _rows(rundir / "score" / run.name / "scores.jsonl")
        }
        for pred in _rows(rundir / "generate" / run.name / "predictions.jsonl"):
            qid = str(pred["id"])
            q = questions.get(qid, {})
            score = scores.get((qid, pred["sample"], pred.get("budget")), {})
            text = pred.get("text", "")
            traces.append(
                {
                    "run": run.name,
                    "model": run.model,
                    "setting": run.setting,
                    "id": qid,
                    "sample": pred["sample"],
                    "budget": pred.get("budget"),
                    "source": q.get("source_of_data", ""),
                    "hops": q.get("hops"),
                    "answer_type": q.get("answer_type"),
                    "question": q.get("question", ""),
                    "gold": (q.get("main_answers") or []) + (q.get("answer_aliases") or []),
                    "kg_path": paths.get(qid, ""),
                    "text": text[-VIEWER_TEXT_LIMIT:],
                    "extracted": score.get("extracted"),
                    "correct": bool(score.get("correct")),
                    "think_tokens": pred.get("think_tokens"),
                    "waits": pred.get("waits") or 0,
                }
            )
    return traces


def load_results(rundir: Path) -> list[dict[str, Any]]:
    """Rows of ``results.parquet`` (model, setting, source, budget, k, metric, value), if the runner wrote it."""
    path = rundir / "results.parquet"
    if not path.exists():
        return []
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pylist()


def collect(rundir: str | Path, title: str | None = None) -> ReportData:
    """Everything the report needs, read from ``rundir``."""
    rundir = Path(rundir)
    runs = load_runs(rundir)
    sources = sorted({s for run in runs for s in run.summary.get("by_source", {})})
    return ReportData(
        rundir=rundir,
        title=title or f"fs1 report — {rundir.name}",
        runs=runs,
        sources=sources,
        traces=load_traces(rundir, runs),
        results=load_results(rundir),
        manifest=read_manifest(rundir / MANIFEST_NAME),
    )
