"""Read a run directory into the plain data the report shows: runs, summaries, results table, traces.

Layout (written by ``fs1 run``): ``benchmark/questions.jsonl``, ``paths/paths.jsonl``,
``generate/<run>/{run.json,predictions.jsonl}``, ``score/<run>/{summary.json,scores.jsonl}``,
``judge/<run>/judged_summary.json`` (optional), ``results.parquet``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from fs1.io import InputError, parse_json_document, read_records
from fs1.manifest import MANIFEST_NAME, read_manifest
from fs1.records import PathRecord, Prediction, Question, Record, Score
from fs1.summary_types import JUDGED_SUMMARY_FILE, SUMMARY_FILE, JudgedSummary, Summary

SETTING_ORDER = {"instruct": 0, "cot": 1, "abstain": 2, "rt": 3, "fs1": 4}
VIEWER_TEXT_LIMIT = 6000  # characters of each trace kept in the viewer, so the page stays light


@dataclass
class RunView:
    """One generation run (model × setting) with its score summary."""

    name: str
    model: str
    setting: str
    summary: Summary
    budgets: list[int] = field(default_factory=list)
    judged: JudgedSummary | None = None


@dataclass
class ReportData:
    rundir: Path
    title: str
    runs: list[RunView]
    sources: list[str]
    traces: list[dict[str, Any]]
    results: list[dict[str, Any]]
    manifest: dict[str, Any] | None = None  # rundir/manifest.json: versions, hardware, seeds, times


# Parts of a summary that hold text (the judge's settings, example replies, the extraction rule, warnings);
# everything else is a number.
TEXT_KEYS = frozenset(
    {"judge", "error_examples", "extract", "warnings", "excluded", "questions_without_predictions"}
)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = parse_json_document(path.read_text(encoding="utf-8"), path)
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not isinstance(doc, dict):
        raise InputError(f"{path}: expected a JSON object, found {type(doc).__name__}")
    return doc


def check_numbers(obj: Any, path: Path, where: str = "") -> None:
    """Every value of a summary is a number (or null) outside ``TEXT_KEYS``; anything else is an ``InputError``."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key not in TEXT_KEYS:
                check_numbers(value, path, f"{where}.{key}" if where else str(key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            check_numbers(value, path, f"{where}[{i}]")
    elif obj is not None and not isinstance(obj, (int, float)):
        shown = repr(obj) if len(repr(obj)) <= 60 else repr(obj)[:57] + "..."
        raise InputError(f"{path}: field {where}: expected a number, found {type(obj).__name__} {shown}")


SLICES = ("by_source", "by_hops", "by_answer_type", "by_topic")


def _check_section(section: Any, path: Path, where: str) -> None:
    """A metrics section is an object whose pass@k / maj@k map integer k to a number."""
    if not isinstance(section, dict):
        raise InputError(f"{path}: field {where}: expected an object, found {type(section).__name__}")
    for curve in ("pass@k", "maj@k"):
        ks = section.get(curve, {})
        if not isinstance(ks, dict) or not all(str(k).isdigit() for k in ks):
            raise InputError(f"{path}: field {where}.{curve}: expected an object keyed by k, found {ks!r}")


def _check_shape(summary: dict[str, Any], path: Path, prefix: str = "") -> None:
    if "overall" in summary:
        _check_section(summary["overall"], path, f"{prefix}overall")
    for key in SLICES:
        slices = summary.get(key, {})
        if not isinstance(slices, dict):
            raise InputError(
                f"{path}: field {prefix}{key}: expected an object, found {type(slices).__name__}"
            )
        for name, section in slices.items():
            _check_section(section, path, f"{prefix}{key}.{name}")


def _read_summary(path: Path) -> dict[str, Any]:
    summary = _read_json(path)
    check_numbers(summary, path)
    _check_shape(summary, path)
    by_budget = summary.get("by_budget") or {}
    if not isinstance(by_budget, dict):
        raise InputError(f"{path}: field by_budget: expected an object, found {type(by_budget).__name__}")
    for key, section in by_budget.items():
        if not isinstance(section, dict):
            raise InputError(f"{path}: field by_budget.{key}: expected an object")
        _check_shape(section, path, f"by_budget.{key}.")
    for key in (summary.get("by_budget") or {}) if isinstance(summary.get("by_budget"), dict) else ():
        if not str(key).isdigit() and key != "none":
            raise InputError(f"{path}: field by_budget: expected integer budgets as keys, found {key!r}")
    return summary


def _read_run_meta(path: Path) -> dict[str, Any]:
    meta = _read_json(path) if path.exists() else {}
    for key in ("model", "setting"):
        if key in meta and not isinstance(meta[key], str):
            raise InputError(f"{path}: field {key}: expected a string, found {type(meta[key]).__name__}")
    budgets = meta.get("budgets") or []
    if not isinstance(budgets, list) or not all(b is None or type(b) is int for b in budgets):
        raise InputError(f"{path}: field budgets: expected a list of integers, found {budgets!r}")
    return meta


def _rows(path: Path, cls: type[Record]) -> list[dict[str, Any]]:
    """The rows of a JSONL file of ``cls`` records, each validated (so every field has its declared type)."""
    return [record.to_dict() for record in read_records(path, cls)] if path.exists() else []


def load_runs(rundir: Path) -> list[RunView]:
    """Every scored run under ``rundir/score``, with its generation metadata."""
    runs = []
    score_root = rundir / "score"
    if not score_root.is_dir():
        raise InputError(
            f"{rundir}: no score/ directory — is this an fs1 run directory? (run `fs1 run` first)"
        )
    for summary_path in sorted(score_root.glob(f"*/{SUMMARY_FILE}")):
        name = summary_path.parent.name
        meta_path = rundir / "generate" / name / "run.json"
        meta = _read_run_meta(meta_path)
        judged_path = rundir / "judge" / name / JUDGED_SUMMARY_FILE
        runs.append(
            RunView(
                name=name,
                model=meta.get("model", name.split("__")[0]),
                setting=meta.get("setting", name.split("__")[-1]),
                summary=cast(Summary, _read_summary(summary_path)),  # its shape checked as it is read
                budgets=[b for b in meta.get("budgets") or [] if b is not None],
                judged=cast(JudgedSummary, _read_summary(judged_path)) if judged_path.exists() else None,
            )
        )
    if not runs:
        raise InputError(f"{score_root}: no scored runs (expected score/<run>/summary.json)")
    # The paper's order of settings within each model: instruct, cot, rt, fs1 (others after them).
    return sorted(runs, key=lambda r: (r.model, SETTING_ORDER.get(r.setting, len(SETTING_ORDER)), r.setting))


def load_traces(rundir: Path, runs: list[RunView]) -> list[dict[str, Any]]:
    """Join predictions, scores, questions and KG paths into one row per prediction for the viewer."""
    questions = {str(r["ID"]): r for r in _rows(rundir / "benchmark" / "questions.jsonl", Question)}
    paths = {
        str(r["ID"]): r.get("verbalised", "") for r in _rows(rundir / "paths" / "paths.jsonl", PathRecord)
    }
    traces = []
    for run in runs:
        # A Score keeps its budget in meta (judged rows at the top level): key by whichever is there.
        scores = {
            # A score keeps its prediction's budget in meta (Score has no budget field).
            (r["id"], r["sample"], r["meta"].get("budget")): r
            for r in _rows(rundir / "score" / run.name / "scores.jsonl", Score)
        }
        for pred in _rows(rundir / "generate" / run.name / "predictions.jsonl", Prediction):
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
                    "excluded": score.get("match") == "excluded",  # left out of every number
                    "think_tokens": pred.get("think_tokens"),
                    "waits": pred.get("waits") or 0,
                }
            )
    return traces


def load_results(rundir: Path) -> list[dict[str, Any]]:
    """Rows of ``results.parquet`` (model, setting, source, topic, budget, k, metric, value), if the runner wrote it."""
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
