"""The judging stage (``fs1 judge``): scored or raw predictions -> a verdict each -> the judged summary.

Cost control, in order: (1) a prediction with no extracted answer is ``not_attempted`` without a call (there
is nothing to show a judge); (2) identical normalised answers among a question's samples are decided once (with the
authors' extraction, identical answers as extracted: the judge sees each text exactly as theirs did); (3)
in ``cascade`` mode the rules of ``rules`` decide what they decide surely; (4) the judge's verdict cache
answers what was asked before (same judge model, prompt, gold list and answer); (5) only the rest is sent to
the judge. ``all`` mode skips step 3 (the paper's setting: the judge sees every answer).

Each judged row says where its verdict came from (``decided_by``: ``no_answer``, ``rule:<name>``, ``judge`` or
``cache``). Verdicts feed per-sample correctness into ``fs1.scoring.summary.summarise``, so judged pass@k and
maj@k exist for every k <= n, per budget too. Next to accuracy each summary slice reports the SimpleQA
metrics: ``attempted`` (share of samples not judged NOT_ATTEMPTED), ``accuracy_given_attempted`` (accuracy /
attempted), ``simpleqa_f1`` (their harmonic mean with accuracy) and the hallucination rates, with intervals,
computed as on the rule path (``fs1.scoring.summary``); and per k the same over k samples
(``attempted@k`` is the unbiased chance that one of k samples is attempted; ``accuracy_given_attempted@k`` =
pass@k / attempted@k). An ``error`` verdict (an unparseable judge reply) counts as not correct and as
attempted; the summary's ``errors`` says how many there were, and a re-run asks the judge again for them (they
are not cached).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

from fs1.data import exclusion_reason, question_index
from fs1.errors import ConfigError
from fs1.io import InputError, write_json_atomic, write_jsonl_atomic
from fs1.judge.judge import (
    RULE_PREFIX,
    SOURCE_NO_ANSWER,
    VERDICT_CORRECT,
    VERDICT_ERROR,
    VERDICT_NOT_ATTEMPTED,
    Judge,
    JudgeRequest,
)
from fs1.judge.rules import CASCADE_RULES, Rule, decide, get_rules
from fs1.judge.scored import load_scored, scored_extraction
from fs1.records import Question, Score
from fs1.scoring.accounting import NO_SKIPS, named_skips
from fs1.scoring.extract import EXTRACT_AUTHORS, EXTRACT_FS1
from fs1.scoring.normalize import normalize_answer
from fs1.scoring.summary import DuplicateSampleError, summarise
from fs1.stage import Described, Stage
from fs1.summary_types import JUDGED_SUMMARY_FILE, PASS_AT_K, JudgedSummary

JUDGED_FILE = "judged.jsonl"
MODE_ALL, MODE_CASCADE = "all", "cascade"
MODES = (MODE_ALL, MODE_CASCADE)


@dataclass
class JudgedRow:
    """The verdict on one prediction; ``correct`` / ``attempted`` are what the metrics read."""

    id: str
    sample: int
    budget: int | None
    extracted: str | None
    verdict: str
    correct: bool
    attempted: bool
    decided_by: str
    judge_reply: str | None = None
    exact: bool = False
    f1: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class JudgeRunStats:
    """What a judging run did: predictions, distinct answers, decisions without a call, requests, errors."""

    predictions: int = 0
    unique_answers: int = 0
    no_answer: int = 0
    rules: Counter[str] = field(default_factory=Counter)
    judge_requests: int = 0
    errors: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)


@dataclass
class _Group:
    """Samples of one question that share a normalised answer (decided once)."""

    question: Question
    answer: str | None
    members: list[int] = field(default_factory=list)
    verdict: str = ""
    decided_by: str = ""
    reply: str | None = None


def judge_scores(
    scores: Sequence[Score],
    questions: Mapping[str, Question],
    judge: Judge | None,
    *,
    mode: str = MODE_CASCADE,
    rules: Sequence[Rule] = CASCADE_RULES,
    progress: Callable[[int], None] | None = None,
    verbatim: bool = False,
    skipped: Mapping[str, str] = NO_SKIPS,
) -> tuple[list[JudgedRow], JudgeRunStats]:
    """Judge scored predictions (their ``extracted`` answers); rows come back in input order, without those of
    excluded questions and of records the loader skipped (``skipped``), which no judge is asked about.

    ``judge`` may be ``None`` only if nothing is left for it; ``progress`` gets the count of judge requests
    done. ``verbatim``: answers are shared only when identical as extracted, not when they normalise alike.
    """
    if mode not in MODES:
        raise ConfigError(f"unknown judge mode {mode!r}; choose one of {', '.join(MODES)}")
    stats = JudgeRunStats(predictions=len(scores))
    groups = _group(scores, questions, verbatim, skipped)
    pending: list[_Group] = []
    for group in groups.values():
        if group.answer is None:
            group.verdict, group.decided_by = VERDICT_NOT_ATTEMPTED, SOURCE_NO_ANSWER
            continue
        rule = decide(group.answer, group.question.gold, rules) if mode == MODE_CASCADE else None
        if rule is not None:
            group.verdict, group.decided_by = rule.verdict, RULE_PREFIX + rule.name
        else:
            pending.append(group)
    if pending and judge is None:
        raise ConfigError(f"{len(pending)} answer(s) need an LLM judge but no judge model was given")
    if pending and judge is not None:
        requests = [JudgeRequest.about(g.question, g.answer or "") for g in pending]
        for group, outcome in zip(pending, judge.judge(requests, progress), strict=True):
            group.verdict, group.decided_by, group.reply = outcome.verdict, outcome.source, outcome.reply
    stats.unique_answers, stats.judge_requests = len(groups), len(pending)
    rows: list[JudgedRow | None] = [None] * len(scores)
    for group in groups.values():
        for index in group.members:
            rows[index] = _row(scores[index], group)
            _count(stats, group)
    return [row for row in rows if row is not None], stats


def _group(
    scores: Sequence[Score],
    questions: Mapping[str, Question],
    verbatim: bool = False,
    skipped: Mapping[str, str] = NO_SKIPS,
) -> dict[tuple[str, str], _Group]:
    """Samples grouped by (question, normalised answer; ``verbatim``: the answer as extracted), lowest sample first:
    a stable representative. Samples of excluded questions (``fs1.data.exclusion_reason``) and of records the
    loader skipped (``skipped``) are left out."""
    groups: dict[tuple[str, str], _Group] = {}
    order = sorted(range(len(scores)), key=lambda i: (scores[i].id, scores[i].sample))
    for index in order:
        score = scores[index]
        question = questions.get(score.id)
        if question is None and score.id in skipped:
            continue  # as an excluded question: counted as excluded in the summary
        if question is None:
            raise InputError(f"verdict for unknown question ID {score.id!r}")
        if exclusion_reason(question) is not None:
            continue  # no judge call: left out of every number, and counted as excluded in the summary
        norm = _answer_key(score.extracted, verbatim)
        group = groups.setdefault((score.id, norm), _Group(question, score.extracted if norm else None))
        group.members.append(index)
    return groups


def _answer_key(extracted: str | None, verbatim: bool) -> str:
    """What makes two answers one request (``""``: no answer to show a judge)."""
    if extracted is None:
        return ""
    if verbatim:
        return extracted if extracted.strip() else ""
    return normalize_answer(extracted)


def _row(score: Score, group: _Group) -> JudgedRow:
    budget = score.meta.get("budget") if score.meta else None
    return JudgedRow(
        id=score.id,
        sample=score.sample,
        budget=budget,
        extracted=score.extracted,
        verdict=group.verdict,
        correct=group.verdict == VERDICT_CORRECT,
        attempted=group.verdict != VERDICT_NOT_ATTEMPTED,
        decided_by=group.decided_by,
        judge_reply=group.reply,
        exact=score.exact,
        f1=score.f1,
    )


def _count(stats: JudgeRunStats, group: _Group) -> None:
    stats.verdicts[group.verdict] += 1
    if group.decided_by == SOURCE_NO_ANSWER:
        stats.no_answer += 1
    elif group.decided_by.startswith(RULE_PREFIX):
        stats.rules[group.decided_by.removeprefix(RULE_PREFIX)] += 1
    if group.verdict == VERDICT_ERROR:
        stats.errors += 1


# --- summary ------------------------------------------------------------------------------------------------


def judged_summary(
    rows: Sequence[JudgedRow] | Callable[[], Iterable[JudgedRow]],
    questions: Mapping[str, Question],
    ks: Sequence[int] | None,
    stats: JudgeRunStats,
    judge_info: Mapping[str, Any],
    judge: Judge | None = None,
    seed: int = 0,
    skipped: Mapping[str, str] = NO_SKIPS,
) -> JudgedSummary:
    """``fs1 score``'s summary over judge verdicts, with SimpleQA metrics per slice and the run's costs.

    The three-way rates (``attempted``, ``hallucination_rate``, ...) and their intervals come from the verdicts
    through ``summarise``, exactly as on the rule path, so the two paths can be compared field by field.
    ``rows`` may be a function giving them anew on each call (rows read from a file, never all in memory).
    ``skipped``: the records the loader skipped that the judged predictions name (``named_skips``), excluded."""
    read = rows if callable(rows) else lambda: rows
    base = ({**_metric_row(r, r.correct), "attempted": r.attempted} for r in read())
    attempted = (_metric_row(r, r.attempted) for r in read())
    summary = summarise(base, questions, ks, seed=seed, skipped=skipped)
    _add_simpleqa(summary, summarise(attempted, questions, ks, intervals=False, skipped=skipped))
    counters = judge.counters if judge is not None else None
    sections: dict[str, Any] = cast(
        dict[str, Any], summary
    )  # _add_simpleqa added each slice's SimpleQA metrics
    sections.update(
        {
            "extract": str(judge_info.get("extract", EXTRACT_FS1)),
            "judge": {**dict(judge_info), **(_judge_facts(judge) if judge is not None else {})},
            "judge_calls": counters.calls if counters else 0,
            "cache_hits": counters.cache_hits if counters else 0,
            "decided_by_rule": sum(stats.rules.values()),
            "rules": dict(stats.rules),
            "no_answer": stats.no_answer,
            "unique_answers": stats.unique_answers,
            "deduplicated": stats.predictions - stats.unique_answers,
            "tokens": {
                "prompt": counters.prompt_tokens if counters else 0,
                "completion": counters.completion_tokens if counters else 0,
            },
            "errors": stats.errors,
            "error_rate": round(stats.errors / stats.predictions, 6) if stats.predictions else 0.0,
            "error_examples": list(counters.error_replies) if counters else [],
            "verdicts": {v: stats.verdicts[v] for v in sorted(stats.verdicts)},
        }
    )
    return cast(JudgedSummary, sections)


def _judge_facts(judge: Judge) -> dict[str, Any]:
    """The judge behind the verdicts: its settings and the engine that gave them (``Judge.engine_entry``: a
    judged number carries the server kind, version and context it came from, or why they are unknown)."""
    return {**judge.settings(), "engine": judge.engine_entry()}


def _metric_row(row: JudgedRow, flag: bool) -> dict[str, Any]:
    return {
        "id": row.id,
        "sample": row.sample,
        "budget": row.budget,
        "correct": flag,
        "extracted": row.extracted,
        "exact": row.exact,
        "f1": row.f1,
    }


def _ratio(numerator: float, denominator: float) -> float:
    return round(numerator / denominator, 6) if denominator else 0.0


def _harmonic(a: float, b: float) -> float:
    return round(2 * a * b / (a + b), 6) if a + b else 0.0


_NOT_SLICES = ("ci", "factuality@k", "mc_error")  # summary parts that hold numbers, not slices


def _add_simpleqa(node: Any, attempted: Any) -> None:
    """Walk two summaries of the same shape and add the SimpleQA metrics to every slice ``S`` of the first."""
    if not isinstance(node, dict):
        return
    if PASS_AT_K in node and "accuracy" in node:
        at_k = attempted[PASS_AT_K]
        given = {k: _ratio(p, at_k[k]) for k, p in node[PASS_AT_K].items()}
        node["attempted@k"] = dict(at_k)
        node["accuracy_given_attempted@k"] = given
        node["simpleqa_f1@k"] = {k: _harmonic(p, given[k]) for k, p in node[PASS_AT_K].items()}
        return
    for key, value in node.items():
        if isinstance(value, dict) and key in attempted and key not in _NOT_SLICES:
            _add_simpleqa(value, attempted[key])


@dataclass(frozen=True)
class ScoredInput:
    """The scores to judge as read and checked: the extraction rule of their answers, the scores, the input line
    of each and the file they came from."""

    rule: str
    scores: list[Score]
    lines: list[int]
    source: Path


def read_scored(
    input_path: str | Path, questions: Mapping[str, Question], extract: str | None, skipped: Mapping[str, str]
) -> ScoredInput:
    """Read and check what ``judge_file`` judges (bad rows, unknown IDs: ``InputError`` naming file:line)."""
    rule = scored_extraction(input_path, extract)
    return ScoredInput(rule, *load_scored(input_path, questions, rule, skipped))


def judge_file(
    input_path: str | Path,
    questions: Mapping[str, Question],
    out_dir: str | Path,
    judge: Judge | None,
    *,
    mode: str = MODE_CASCADE,
    rules: Sequence[Rule] = CASCADE_RULES,
    ks: Sequence[int] | None = None,
    judge_info: Mapping[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    seed: int = 0,
    extract: str | None = None,
    skipped: Mapping[str, str] = NO_SKIPS,
    loaded: ScoredInput | None = None,
) -> JudgedSummary:
    """Judge a scores directory or predictions file into ``out_dir/judged.jsonl`` + ``judged_summary.json``.

    Both files are written atomically at the end; the judge's cache is the incremental, kill-safe record, so a
    re-run after a crash (or any re-run) asks only what the cache does not hold. ``seed`` seeds the summary's
    bootstrap intervals. ``extract``: the rule whose answers the judge is shown (``scored_extraction``; recorded).
    ``skipped``: the records the benchmark's loader skipped (``fs1.data.ScoringBenchmark.skipped``): predictions of
    them are not judged and they are counted as excluded, as ``fs1 score`` counts them. ``loaded``: the input
    already read (``read_scored``), e.g. checked before anything was written.
    """
    read = loaded or read_scored(input_path, questions, extract, skipped)
    rule, scores, lines, source = read.rule, read.scores, read.lines, read.source
    skipped = named_skips(skipped, (score.id for score in scores))
    rows, stats = judge_scores(
        scores, questions, judge, mode=mode, rules=rules, progress=progress, verbatim=rule == EXTRACT_AUTHORS,
        skipped=skipped,
    )  # fmt: skip
    info = {
        "mode": mode,
        "rules": [r.name for r in rules] if mode == MODE_CASCADE else [],
        "extract": rule,
        **(judge_info or {}),
    }
    try:
        summary = judged_summary(rows, questions, ks, stats, info, judge, seed=seed, skipped=skipped)
    except DuplicateSampleError as exc:
        raise InputError(f"{source}:{lines[exc.position]}: {exc}") from None
    out_dir = Path(out_dir)
    write_jsonl_atomic(out_dir / JUDGED_FILE, (r.to_dict() for r in rows))
    write_json_atomic(out_dir / JUDGED_SUMMARY_FILE, summary)
    return summary


@dataclass
class JudgeRunSpec:
    """One judge stage: the scored run to judge, how to load the judge (in the process that judges), the mode,
    rules (names; None = the cascade's), k list, what to record of the judge, the bootstrap seed, the extraction
    rule of the answers shown, the records the benchmark's loader skipped, a callback for judge progress and the
    scores already read (``None``: read from ``scored``)."""

    scored: Path
    load: Callable[[], Judge]
    mode: str = MODE_CASCADE
    rules: Sequence[str] | None = None
    ks: Sequence[int] | None = None
    info: Mapping[str, Any] | None = None
    seed: int = 0
    extract: str | None = None
    skipped: Mapping[str, str] = field(default_factory=dict)
    progress: Callable[[int], None] | None = None
    loaded: ScoredInput | None = None


def run_judge(questions: list[Question], spec: JudgeRunSpec, out: Path, resume: bool) -> JudgedSummary:
    """Judge ``spec.scored`` into ``out`` (``judged.jsonl``) and its summary; the verdict cache is what resumes."""
    by_id = question_index(questions)  # (older IDs too, as fs1 score reads them: SimpleQA's row IDs)
    judge = spec.load()
    try:
        return judge_file(spec.scored, by_id, out.parent, judge, mode=spec.mode, rules=get_rules(spec.rules),
                          ks=spec.ks, judge_info=spec.info, progress=spec.progress, seed=spec.seed,
                          extract=spec.extract, skipped=spec.skipped, loaded=spec.loaded)  # fmt: skip
    finally:
        if judge.cache is not None:
            judge.cache.close()


def engine_facts(summary: JudgedSummary) -> dict[str, Any] | None:
    """The engine the verdicts came from, as the judged summary records it."""
    return summary["judge"].get("engine")


JUDGE: Stage[JudgeRunSpec] = Stage(
    name="judge", output=JUDGED_FILE, record=None, key=lambda row: (row["id"], row["sample"], row.get("budget")),
    run=run_judge, shardable=False, described=Described(engine_facts),
)  # fmt: skip
