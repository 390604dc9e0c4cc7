"""Agreement of the cascade's rules and an LLM judge with human labels (``fs1 judge-agreement``, P4).

A labelled set is JSONL, one case per line: the question fields of the fs1 benchmark format (``ID``,
``question``, ``main_answers``, ``answer_aliases``, ``source_of_data``), the model's full reply
``prediction``, the human ``label`` (1: the gold entity/value is contained in the final answer, 0: not) and
``attempted`` (false: no answer or a refusal), plus free ``case`` / ``note`` fields.
``benchmarks/data/judge_labelled.jsonl`` is the project's set.

The report answers: how often does each candidate rule fire and agree with the labels (precision, with a
Wilson 95% lower bound); how many judge calls does the cascade save against judging every answer; how do the
cascade's rule decisions split against the labels (confusion); and, when a judge is given, how well the judge
alone and the cascade (rules + judge for the rest) agree with the labels. Disagreements are listed by case so
they can be read.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fs1.io import InputError, read_jsonl_rows
from fs1.judge.judge import VERDICT_CORRECT, VERDICT_ERROR, VERDICT_NOT_ATTEMPTED, Judge, JudgeRequest
from fs1.judge.rules import CANDIDATE_RULES, CASCADE_RULES, KEEP_PRECISION, Rule, decide, rule_input
from fs1.records import Question, RecordError
from fs1.scoring.extract import extract
from fs1.scoring.normalize import normalize_answer

QUESTION_FIELDS = ("ID", "question", "main_answers", "answer_aliases", "source_of_data")
WILSON_Z = 1.96


@dataclass(frozen=True)
class LabelledCase:
    """One human-labelled (gold, prediction) pair; ``answer`` is the extracted answer (``None``: none)."""

    case: str
    question: Question
    prediction: str
    label: int
    attempted: bool
    note: str
    answer: str | None


def load_labelled(path: str | Path) -> list[LabelledCase]:
    """Read a labelled set; a malformed line or field raises ``InputError`` naming file and line."""
    cases = []
    for lineno, row in read_jsonl_rows(path):
        try:
            question = Question.from_dict({k: row[k] for k in QUESTION_FIELDS if k in row})
        except RecordError as exc:
            raise InputError(f"{path}:{lineno}: {exc}") from None
        label, attempted, prediction = row.get("label"), row.get("attempted", True), row.get("prediction")
        if label not in (0, 1) or isinstance(label, bool):
            raise InputError(f"{path}:{lineno}: field label must be 0 or 1, got {label!r}")
        if not isinstance(attempted, bool) or not isinstance(prediction, str):
            raise InputError(f"{path}:{lineno}: field attempted must be true/false and prediction a string")
        answer = extract(prediction).answer
        answer = answer if answer is not None and normalize_answer(answer) else None
        case = str(row.get("case", f"line-{lineno}"))
        cases.append(
            LabelledCase(case, question, prediction, label, attempted, str(row.get("note", "")), answer)
        )
    if not cases:
        raise InputError(f"{path}: no labelled cases")
    return cases


def wilson_lower(agree: int, n: int, z: float = WILSON_Z) -> float:
    """The Wilson score lower bound of a proportion (0.0 for n = 0)."""
    if n == 0:
        return 0.0
    p = agree / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - spread) / (1 + z * z / n)


def _agrees(verdict: str, case: LabelledCase) -> bool:
    return (verdict == VERDICT_CORRECT) == (case.label == 1)


def measure_rules(
    cases: Sequence[LabelledCase],
    rules: Sequence[Rule] = CANDIDATE_RULES,
    keep_precision: float = KEEP_PRECISION,
) -> list[dict[str, Any]]:
    """Each rule alone over the answered cases: fired, agreed, precision, Wilson bound, keep?, misses."""
    out = []
    for rule in rules:
        fired = [
            c for c in cases if c.answer is not None and rule.decides(rule_input(c.answer, c.question.gold))
        ]
        wrong = [c.case for c in fired if not _agrees(rule.verdict, c)]
        agree = len(fired) - len(wrong)
        precision = agree / len(fired) if fired else 0.0
        out.append(
            {
                "rule": rule.name,
                "verdict": rule.verdict,
                "fired": len(fired),
                "agree": agree,
                "precision": round(precision, 4),
                "wilson_low": round(wilson_lower(agree, len(fired)), 4),
                "keep": bool(fired) and precision >= keep_precision,
                "disagreements": wrong,
            }
        )
    return out


def _confusion(pairs: Sequence[tuple[str, LabelledCase]]) -> dict[str, dict[str, int]]:
    """Verdict -> counts of human labels (``label_1`` / ``label_0``)."""
    table: dict[str, Counter[str]] = {}
    for verdict, case in pairs:
        table.setdefault(verdict, Counter())[f"label_{case.label}"] += 1
    return {
        verdict: {k: counts[k] for k in ("label_1", "label_0")} for verdict, counts in sorted(table.items())
    }


def _cascade(cases: Sequence[LabelledCase], rules: Sequence[Rule]) -> tuple[dict[str, Any], dict[str, str]]:
    """The cascade's rule decisions on the answered cases: a summary and ``case -> verdict`` for each."""
    decided: dict[str, str] = {}
    pairs: list[tuple[str, LabelledCase]] = []
    by_rule: Counter[str] = Counter()
    agree_by_rule: Counter[str] = Counter()
    answered = [c for c in cases if c.answer is not None]
    for case in answered:
        rule = decide(case.answer or "", case.question.gold, rules)
        if rule is not None:
            decided[case.case] = rule.verdict
            pairs.append((rule.verdict, case))
            by_rule[rule.name] += 1
            agree_by_rule[rule.name] += _agrees(rule.verdict, case)
    agree = sum(_agrees(v, c) for v, c in pairs)
    summary = {
        "rules": [r.name for r in rules],
        "decided": len(pairs),
        "decided_rate": round(len(pairs) / len(answered), 4) if answered else 0.0,
        "agree": agree,
        "agreement": round(agree / len(pairs), 4) if pairs else 0.0,
        "by_rule": {name: {"decided": n, "agree": agree_by_rule[name]} for name, n in by_rule.items()},
        "confusion": _confusion(pairs),
        "disagreements": [c.case for v, c in pairs if not _agrees(v, c)],
        "judge_calls": len(answered) - len(pairs),
    }
    return summary, decided


def _judge_section(
    cases: Sequence[LabelledCase],
    judge: Judge,
    decided: dict[str, str],
    progress: Callable[[int], None] | None,
) -> dict[str, Any]:
    """Judge each answered case once (judge-all); score the judge alone and the cascade (rules + judge)."""
    answered = [c for c in cases if c.answer is not None]
    requests = [JudgeRequest.about(c.question, c.answer or "") for c in answered]
    verdicts = {c.case: o.verdict for c, o in zip(answered, judge.judge(requests, progress), strict=True)}
    judged = [(verdicts[c.case], c) for c in answered]
    final = [(decided.get(c.case) or verdicts.get(c.case) or VERDICT_NOT_ATTEMPTED, c) for c in cases]
    alone = [(verdicts.get(c.case, VERDICT_NOT_ATTEMPTED), c) for c in cases]
    return {
        "model": judge.model,
        "prompt": judge.prompt.name,
        "judged": len(judged),
        "agreement_on_answered": round(sum(_agrees(v, c) for v, c in judged) / len(judged), 4)
        if judged
        else 0.0,
        "errors": sum(v == VERDICT_ERROR for v, _ in judged),
        "confusion": _confusion(judged),
        "attempted_agreement": round(
            sum((v != VERDICT_NOT_ATTEMPTED) == c.attempted for v, c in alone) / len(alone), 4
        ),
        "judge_all_agreement": round(sum(_agrees(v, c) for v, c in alone) / len(alone), 4),
        "cascade_agreement": round(sum(_agrees(v, c) for v, c in final) / len(final), 4),
        "disagreements": [c.case for v, c in judged if not _agrees(v, c)],
    }


def agreement_report(
    cases: Sequence[LabelledCase],
    judge: Judge | None = None,
    *,
    rules: Sequence[Rule] = CASCADE_RULES,
    candidates: Sequence[Rule] = CANDIDATE_RULES,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Rules vs labels, calls the cascade saves against judge-all, and (with ``judge``) judge agreement."""
    answered = sum(c.answer is not None for c in cases)
    no_answer = [c for c in cases if c.answer is None]
    cascade, decided = _cascade(cases, rules)
    report: dict[str, Any] = {
        "n_cases": len(cases),
        "answered": answered,
        "no_answer": {"n": len(no_answer), "agree": sum(c.label == 0 for c in no_answer)},
        "candidates": measure_rules(cases, candidates),
        "cascade": cascade,
        "judge_all_calls": answered,
        "cascade_calls": cascade["judge_calls"],
        "calls_saved": round(1 - cascade["judge_calls"] / answered, 4) if answered else 0.0,
    }
    if judge is not None:
        report["judge"] = _judge_section(cases, judge, decided, progress)
    return report
