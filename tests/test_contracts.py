"""The declared contracts hold: summary files have exactly the keys of their TypedDicts; each vocabulary is the
one its users enforce."""

from __future__ import annotations

import dataclasses
from typing import Any

from fs1.records import Prediction
from fs1.scoring import score_predictions
from fs1.summary_types import JudgedSections, JudgedStats, JudgedSummary, Sections, Stats, Summary
from fs1.vocab import PROMPT_SETTINGS, SOURCES, TRACE_MODES
from tests.judge.test_stage import QUESTIONS as PLAIN_QUESTIONS
from tests.judge.test_stage import make_judge, oracle, scores
from tests.support.scripted_openai import ScriptedOpenAIServer

# Every slice filled (hops, answer type, topic), so the walk below checks a slice of each kind.
QUESTIONS = {
    qid: dataclasses.replace(q, hops=hops, answer_type="other", topic="history")
    for (qid, q), hops in zip(PLAIN_QUESTIONS.items(), (2, 5), strict=True)
}


def _conforms(value: dict[str, Any], declared: Any) -> None:
    keys = set(value)
    missing = declared.__required_keys__ - keys
    unknown = keys - declared.__required_keys__ - declared.__optional_keys__
    assert not missing and not unknown, f"{declared.__name__}: missing {missing}, undeclared {unknown}"


def _walk(summary: dict[str, Any], top: Any, sections: Any, stats: Any) -> None:
    _conforms(summary, top)
    for part in [summary, *summary.get("by_budget", {}).values()]:
        _conforms({k: part[k] for k in sections.__required_keys__}, sections)
        _conforms(part["overall"], stats)
        for name in ("by_source", "by_hops", "by_answer_type", "by_topic"):
            assert part[name], f"{name} is empty: the test questions should fill every slice"
            for slice_ in part[name].values():
                _conforms(slice_, stats)


def test_summary_json_has_exactly_the_declared_keys() -> None:
    predictions = [
        Prediction(
            id=qid, sample=i, text=f"\\boxed{{{answer}}}", model="m", setting="instruct", budget=budget
        )
        for qid, answers in (("q1", ["New York City", "Boston"]), ("q2", ["1989", "1990"]))
        for budget in (64, 128)
        for i, answer in enumerate(answers)
    ]
    _, summary = score_predictions(predictions, QUESTIONS, ks=[1, 2])
    assert set(summary["by_budget"]) == {"64", "128"}
    _walk(summary, Summary, Sections, Stats)


def test_judged_summary_json_has_exactly_the_declared_keys() -> None:
    from fs1.judge.stage import MODE_ALL, judge_scores, judged_summary

    batch = scores("q1", ["Big Apple", "Gotham"], budget=512) + scores(
        "q1", ["Gotham", "Big Apple"], budget=1024
    )
    with ScriptedOpenAIServer(oracle({"Big Apple": "A", "Gotham": "B"}, simpleqa=True)) as server:
        judge = make_judge(server, None, prompt="simpleqa")
        rows, stats = judge_scores(batch, QUESTIONS, judge, mode=MODE_ALL)
    summary = judged_summary(rows, QUESTIONS, [1, 2], stats, {"prompt": "simpleqa"}, judge)
    _walk(summary, JudgedSummary, JudgedSections, JudgedStats)


def test_each_vocabulary_is_the_one_its_users_enforce() -> None:
    from fs1.data import SOURCES as DATA_SOURCES
    from fs1.distill.teacher import MODES
    from fs1.prompts import SETTINGS

    assert DATA_SOURCES == SOURCES and MODES == TRACE_MODES and SETTINGS == PROMPT_SETTINGS
