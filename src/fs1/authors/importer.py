"""``fs1 import``: the authors' files → fs1's records in a run directory that ``fs1 score|judge|report|compare`` read.

Each input file (or every ``*.jsonl`` under a directory) is read line by line and its shape told from its first line
(``formats.detect``; ``--format`` forces one). Each line goes, as soon as it is read, to its run's output:

- predictions (``outputs``, ``budget-forcing``, ``batch``) → ``OUT/generate/<run>/predictions.jsonl``: fs1
  ``Prediction`` records with ``id``, ``sample``, ``budget``, ``model`` and the reply as ``text``, and in ``meta``
  the source ``file:line`` and shape; they are then scored into ``OUT/score/<run>/`` with the chosen extraction;
- the judge's verdicts (``judge-outputs``) → ``OUT/judge/<run>/judged.jsonl`` + ``judged_summary.json`` (pass@k
  and the rest of ``fs1 judge``'s summary over their verdicts, read with the ``fs1`` judge preset's strict parser);
- the answers their judge was shown (``judge-prompts`` and ``judge-outputs``), for a run without predictions →
  ``OUT/score/<run>/`` (rule-scored, ``extract: authors``), which ``fs1 judge`` can ask again.

A run is a model folder (several folders import as several runs; one judge file covering many folders fills many
runs). Nothing is held per line: memory grows with the benchmark and the runs, not with the files (the duplicate
check keeps one bit per sample). A question ID the benchmark lacks is counted and listed in ``OUT/unknown_ids.txt``
(an error with ``strict``), except a record the benchmark's loader skipped (no gold answer: ``skipped``), whose
predictions are imported and scored as excluded, as ``fs1 score`` does (its judge lines have no question to go with
and are left out), each line counted as ``skipped_record``; a sample seen twice keeps its first line and is counted; a batch request that failed is
counted, not a prediction; a line of none of these shapes stops the import naming file:line. ``OUT/import.json``
records all of it. Outputs are written to temporary files and renamed when the import succeeds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from fs1.authors.formats import FORMATS, PARSERS, PREDICTION_FORMATS, AuthorsLine, detect
from fs1.authors.rows import fields_of, judged_row, score_row
from fs1.data import skipped_path
from fs1.errors import ConfigError, InputError
from fs1.io import atomic_open, parse_json_line, write_json_atomic, write_jsonl_atomic
from fs1.records import Prediction, Question

IMPORT_FILE = "import.json"
UNKNOWN_IDS_FILE = "unknown_ids.txt"
EXAMPLES_KEPT = 20  # file:line examples kept per kind of problem (the counts are exact)


@dataclass
class RunTally:
    """What one run received: predictions, judge answers and verdicts, budgets, models, source files."""

    predictions: int = 0
    judge_answers: int = 0
    verdicts: int = 0
    budgets: set[int | None] = field(default_factory=set)
    models: set[str] = field(default_factory=set)
    judges: set[str] = field(default_factory=set)
    files: list[str] = field(default_factory=list)


@dataclass
class Problems:
    """Lines with a problem, by kind: exact counts, the first ``EXAMPLES_KEPT`` places of each. ``unknown_id``,
    ``failed_request`` and ``duplicate`` lines are left out; ``gold_differs`` lines (a judge prompt whose gold list
    is not the benchmark's) are imported and flagged; ``skipped_record`` lines (a record the benchmark's loader
    skipped) are imported when they are predictions (scored as excluded), left out when they are judge lines."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, where: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        kept = self.examples.setdefault(kind, [])
        if len(kept) < EXAMPLES_KEPT:
            kept.append(where)


@dataclass
class ImportState:
    """Everything an import keeps while it streams: tallies, problems, unknown IDs, the samples seen."""

    questions: Mapping[str, Question]
    strict: bool = False
    skipped: Mapping[str, str] = field(default_factory=dict)  # records the loader skipped: ID -> its reason
    runs: dict[str, RunTally] = field(default_factory=dict)
    problems: Problems = field(default_factory=Problems)
    unknown: dict[str, str] = field(default_factory=dict)  # unknown ID -> where it was first seen
    files: list[dict[str, Any]] = field(default_factory=list)
    _seen: dict[tuple[str, str, int | None, str], int] = field(default_factory=dict)

    def first_time(self, kind: str, line: AuthorsLine) -> bool:
        """Whether this (run, kind, budget, question, sample) is new; one bit per sample."""
        key = (line.run, kind, line.budget, line.qid)
        mask = self._seen.get(key, 0)
        bit = 1 << line.sample
        self._seen[key] = mask | bit
        return not mask & bit

    def tally(self, run: str) -> RunTally:
        return self.runs.setdefault(run, RunTally())


class Sinks:
    """One temporary output file per (run, kind), opened on first use, renamed into place when all succeed."""

    def __init__(self, out: Path, stack: ExitStack) -> None:
        self.out, self.stack = out, stack
        self.files: dict[tuple[str, str], IO[str]] = {}

    def write(self, kind: str, run: str, row: dict[str, Any]) -> None:
        handle = self.files.get((kind, run))
        if handle is None:
            handle = self.files[(kind, run)] = self.stack.enter_context(atomic_open(self.path(kind, run)))
        handle.write(json.dumps(row, ensure_ascii=False) + "\n")

    def path(self, kind: str, run: str) -> Path:
        return run_path(self.out, kind, run)


OUTPUT_FILES = {"generate": "predictions.jsonl", "score": "scores.jsonl", "judge": "judged.jsonl"}


def run_path(out: Path, kind: str, run: str) -> Path:
    """Where a run's records of ``kind`` (``generate``, ``score``, ``judge``) go in the run directory."""
    return out / kind / run / OUTPUT_FILES[kind]


def input_files(sources: Sequence[str | Path]) -> list[Path]:
    """The files to import: each file given, and every ``*.jsonl`` under each directory given (sorted)."""
    files: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            found = sorted(p for p in source.rglob("*.jsonl") if p.is_file())
            if not found:
                raise InputError(f"{source}: no .jsonl files under it")
            files += found
        elif source.is_file():
            files.append(source)
        else:
            raise InputError(f"{source}: no such file or directory")
    return files


def check_out(out: Path) -> None:
    """``out`` must be new, empty, or an earlier ``fs1 import``'s (whose files it replaces)."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / IMPORT_FILE).is_file():
        raise InputError(f"{out}: not empty and not an earlier `fs1 import` output; choose another --out")


def read_lines(path: Path, fmt: str) -> Iterator[tuple[str, str, AuthorsLine]]:
    """``(shape, file:line, line)`` for each non-blank line of ``path``; the shape is ``fmt`` or detected."""
    shape = None if fmt == "auto" else fmt
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError(f"{where}: not UTF-8 text") from None
            row = parse_json_line(line, where)
            if shape is None:
                shape = _detected(row, where)
            try:
                yield shape, where, PARSERS[shape](row, path)
            except InputError as exc:
                raise InputError(f"{where}: {exc} (read as the {shape} shape)") from None


def _detected(row: dict[str, Any], where: str) -> str:
    shape = detect(row)
    if shape is None:
        keys = ", ".join(sorted(row)[:8])
        raise InputError(
            f"{where}: not one of the authors' shapes (keys {keys}); pass --format {'|'.join(FORMATS)}"
        )
    return shape


def take(state: ImportState, sinks: Sinks, shape: str, where: str, line: AuthorsLine) -> None:
    """Send one line to its run's outputs (or count why it is left out)."""
    if line.qid not in state.questions:
        if line.qid in state.skipped:
            state.problems.add("skipped_record", where)
            if shape not in PREDICTION_FORMATS:
                return  # a judge line: no question to score its answer or verdict against
        elif state.strict:
            raise InputError(f"{where}: question ID {line.qid!r} is not in the benchmark (--strict)")
        else:
            state.unknown.setdefault(line.qid, where)
            state.problems.add("unknown_id", where)
            return
    if line.failed is not None:
        state.problems.add("failed_request", f"{where} ({line.failed})")
        return
    # A sample is a duplicate when its shape gave it before; their judge prompts and the judge's outputs over the same
    # prompts are two shapes of one sample (its answer is scored once, its verdict kept).
    kind = "prediction" if shape in PREDICTION_FORMATS else shape
    if not state.first_time(kind, line):
        state.problems.add("duplicate", where)
        return
    tally = state.tally(line.run)
    if where.rsplit(":", 1)[0] not in tally.files:
        tally.files.append(where.rsplit(":", 1)[0])
    if kind == "prediction":
        _take_prediction(tally, sinks, shape, where, line)
    else:
        _take_judged(state, tally, sinks, where, line)


def _take_prediction(tally: RunTally, sinks: Sinks, shape: str, where: str, line: AuthorsLine) -> None:
    tally.predictions += 1
    tally.budgets.add(line.budget)
    tally.models.add(line.model or line.run)
    prediction = Prediction(
        id=line.qid, sample=line.sample, text=line.text or "", model=line.model or line.run,
        setting=setting_of(line.run), budget=line.budget, meta={"source": where, "format": shape},
    )  # fmt: skip
    sinks.write("generate", line.run, fields_of(prediction))


def _take_judged(state: ImportState, tally: RunTally, sinks: Sinks, where: str, line: AuthorsLine) -> None:
    question = state.questions[line.qid]
    if line.gold is not None and line.gold != [*question.main_answers, *question.answer_aliases]:
        state.problems.add("gold_differs", where)
    if state.first_time("answer", line):
        tally.judge_answers += 1
        sinks.write("score", line.run, score_row(line, question, where))
    if line.reply is not None:
        tally.verdicts += 1
        tally.judges.add(line.model or "")
        sinks.write("judge", line.run, judged_row(line, question))


def setting_of(run: str) -> str:
    """The fs1 setting a model folder names: ``fs1`` / ``rt`` for the authors' tuned students
    (``jjzha_Qwen2.5-7B-Instruct-fs1-2708``), else ``instruct``."""
    lowered = run.lower()
    for setting in ("fs1", "rt"):
        if f"-{setting}-" in lowered or lowered.endswith(f"-{setting}"):
            return setting
    return "instruct"


def import_files(
    sources: Sequence[str | Path],
    questions: Mapping[str, Question],
    out: str | Path,
    *,
    fmt: str = "auto",
    strict: bool = False,
    summarise_runs: Callable[[Path, ImportState], dict[str, Any]] | None = None,
    skipped: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Import the authors' files into the run directory ``out``; returns what ``import.json`` records.

    ``skipped``: the records the benchmark's loader skipped (``fs1.data.ScoringBenchmark.skipped``), kept beside the
    run's copy of the benchmark (``benchmark/questions.skipped.jsonl``) so that scoring against the copy is scoring
    against the benchmark.

    ``summarise_runs(out, state)`` scores and summarises the runs once every file is in place (``fs1 import``
    passes one that uses its extraction rule, k list and seed).
    """
    out = Path(out)
    if fmt != "auto" and fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; choose auto or one of {', '.join(FORMATS)}")
    check_out(out)
    files = input_files(sources)
    state = ImportState(questions, strict, dict(skipped or {}))
    with ExitStack() as stack:
        sinks = Sinks(out, stack)
        for path in files:
            shapes: dict[str, int] = {}
            for shape, where, line in read_lines(path, fmt):
                shapes[shape] = shapes.get(shape, 0) + 1
                take(state, sinks, shape, where, line)
            state.files.append(
                {"path": str(path), "format": next(iter(shapes), None), "lines": sum(shapes.values())}
            )
    # each question once: ``questions`` also maps the older IDs some were known by (``fs1.data.question_index``)
    own = {question.ID: question for question in questions.values()}
    write_jsonl_atomic(out / "benchmark" / "questions.jsonl", own.values())
    skips = ({"id": qid, "reason": reason} for qid, reason in state.skipped.items())
    write_jsonl_atomic(skipped_path(out / "benchmark" / "questions.jsonl"), skips)
    _write_unknown(out, state)
    runs = summarise_runs(out, state) if summarise_runs is not None else {}
    report = _report(state, runs)
    write_json_atomic(out / IMPORT_FILE, report)
    return report


def _write_unknown(out: Path, state: ImportState) -> None:
    with atomic_open(out / UNKNOWN_IDS_FILE) as fh:
        for qid, where in state.unknown.items():
            fh.write(f"{qid}\t{where}\n")


def _report(state: ImportState, runs: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "files": state.files,
        "runs": {
            name: {
                "predictions": tally.predictions,
                "judge_answers": tally.judge_answers,
                "verdicts": tally.verdicts,
                "budgets": sorted(b for b in tally.budgets if b is not None) or None,
                "models": sorted(tally.models),
                "judge": sorted(tally.judges) or None,
                "files": tally.files,
                **runs.get(name, {}),
            }
            for name, tally in sorted(state.runs.items())
        },
        "unknown_ids": len(state.unknown),
        "unknown_id_lines": state.problems.counts.get("unknown_id", 0),
        "skipped_record_lines": state.problems.counts.get("skipped_record", 0),
        "problems": state.problems.counts,
        "examples": state.problems.examples,
    }
