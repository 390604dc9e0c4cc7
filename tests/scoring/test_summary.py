"""The summary on a small hand-computed set; budgets, uneven sample counts, judge-style rows, bad rows."""

from __future__ import annotations

import json

import pytest

from fs1.records import Prediction, Question
from fs1.scoring import score_predictions, summarise
from fs1.scoring.summary import DuplicateSampleError

QUESTIONS = {
    "q1": Question(
        ID="q1",
        question="Capital of Japan?",
        main_answers=["Tokyo"],
        source_of_data="cwq",
        hops=1,
        answer_type="place",
    ),
    "q2": Question(
        ID="q2",
        question="44th US president?",
        main_answers=["Barack Obama"],
        answer_aliases=["Obama"],
        source_of_data="cwq",
        hops=2,
        answer_type="person",
    ),
    "q3": Question(ID="q3", question="Is Paris in France?", main_answers=["Yes"], source_of_data="mintaka"),
}
REPLIES = {
    "q1": ["\\boxed{Tokyo}", "\\boxed{Kyoto}", "\\boxed{Kyoto}", "<think>Tokyo or Kyoto, hmm"],
    "q2": ["Answer: Obama", "Answer: Barack Obama", "Answer: Michelle Obama", "Answer: Joe Biden"],
    "q3": ["Yes.", "No", "yes", "No"],
}


def predictions(replies: dict[str, list[str]] = REPLIES, budget: int | None = None) -> list[Prediction]:
    return [
        Prediction(id=qid, sample=i, text=text, budget=budget)
        for qid, texts in replies.items()
        for i, text in enumerate(texts)
    ]


def test_scores_per_prediction() -> None:
    scores, _ = score_predictions(predictions(), QUESTIONS)
    assert [(s.id, s.sample) for s in scores] == [(p.id, p.sample) for p in predictions()]
    verdicts = [(s.extracted, s.correct, s.match) for s in scores]
    assert verdicts == [
        ("Tokyo", True, "exact"),
        ("Kyoto", False, "none"),
        ("Kyoto", False, "none"),
        (None, False, "no_answer"),
        ("Obama", True, "exact"),
        ("Barack Obama", True, "exact"),
        ("Michelle Obama", True, "contains"),
        ("Joe Biden", False, "none"),
        ("Yes", True, "exact"),
        ("No", False, "none"),
        ("yes", True, "exact"),
        ("No", False, "none"),
    ]
    assert scores[6].meta["gold"] == "Obama"
    assert scores[0].meta["via"] == "boxed"


def test_summary_by_hand() -> None:
    _, summary = score_predictions(predictions(), QUESTIONS)
    assert summary["n"] == 4
    assert summary["ks"] == [1, 2, 4]  # 8 and 16 exceed the 4 samples
    overall = summary["overall"]
    assert overall["n_questions"] == 3
    assert overall["n_predictions"] == 12
    # per question: accuracy .25 / .75 / .5; pass@2 = 1 - C(n-c,2)/C(4,2) = .5 / 1 / 5/6
    assert overall["accuracy"] == pytest.approx(0.5, abs=1e-6)
    assert overall["exact"] == pytest.approx((0.25 + 0.5 + 0.5) / 3, abs=1e-6)
    assert overall["no_answer_rate"] == pytest.approx(0.25 / 3, abs=1e-6)
    assert overall["pass@k"] == pytest.approx({"1": 0.5, "2": (0.5 + 1 + 5 / 6) / 3, "4": 1.0}, abs=1e-6)
    # maj@k averages the vote over all k-subsets; a tie of t answers gives each 1/t.
    # q1 (Tokyo+, Kyoto, Kyoto, none): k=1 1/4; k=2 of 6 pairs T+K twice (1/2 each), T+none once (1) -> 1/3;
    #    k=4 Kyoto 2 : Tokyo 1 -> 0.  q2 (3 right of 4 distinct answers): every k ties -> 3/4.
    # q3 (yes+, no, yes+, no): k=1 1/2; k=2 yes+yes 1, four yes/no ties 1/2, no+no 0 -> 1/2; k=4 tie -> 1/2.
    maj = {"1": (0.25 + 0.75 + 0.5) / 3, "2": (1 / 3 + 0.75 + 0.5) / 3, "4": (0 + 0.75 + 0.5) / 3}
    assert overall["maj@k"] == pytest.approx(maj, abs=1e-6)
    assert set(summary["by_source"]) == {"cwq", "mintaka"}
    assert summary["by_source"]["cwq"]["n_questions"] == 2
    assert summary["by_source"]["cwq"]["accuracy"] == pytest.approx(0.5)
    assert summary["by_source"]["mintaka"]["pass@k"]["2"] == pytest.approx(5 / 6, abs=1e-6)
    assert list(summary["by_hops"]) == ["1", "2"]  # q3 has no hop count
    assert summary["by_hops"]["1"]["maj@k"]["4"] == 0.0
    assert set(summary["by_answer_type"]) == {"place", "person"}
    assert "by_budget" not in summary


def test_budgets_make_units_and_a_by_budget_section() -> None:
    low = predictions({"q1": ["\\boxed{Kyoto}"] * 2}, budget=512)
    high = predictions({"q1": ["\\boxed{Tokyo}", "\\boxed{Kyoto}"]}, budget=2048)
    _, summary = score_predictions(high + low, QUESTIONS, ks=[1, 2])
    assert summary["overall"]["n_questions"] == 2  # (q1, 512) and (q1, 2048)
    assert summary["overall"]["accuracy"] == pytest.approx(0.25)
    assert list(summary["by_budget"]) == ["512", "2048"]
    assert summary["by_budget"]["512"]["overall"]["pass@k"] == {"1": 0.0, "2": 0.0}
    assert summary["by_budget"]["2048"]["overall"]["pass@k"] == {"1": 0.5, "2": 1.0}
    assert summary["by_budget"]["2048"]["by_hops"]["1"]["n_predictions"] == 2


def test_uneven_sample_counts_use_each_questions_own_n() -> None:
    replies = {"q1": ["\\boxed{Tokyo}", "x", "x", "x"], "q2": ["Obama", "Bush"]}
    _, summary = score_predictions(predictions(replies), QUESTIONS, ks=[1, 2, 4])
    assert summary["n"] == 2
    assert summary["ks"] == [1, 2]
    # q1: 1 of 4 -> pass@2 = 1 - C(3,2)/C(4,2) = .5 ; q2: 1 of 2 -> pass@2 = 1
    assert summary["overall"]["pass@k"]["2"] == pytest.approx(0.75)
    assert summary["overall"]["accuracy"] == pytest.approx((0.25 + 0.5) / 2)


def test_summarise_takes_judge_verdicts() -> None:
    rows = [
        {"id": "q2", "sample": 0, "extracted": "the 44th president", "correct": True},
        {"id": "q2", "sample": 1, "extracted": "Barack Obama", "correct": True},
        {"id": "q2", "sample": 2, "extracted": None, "correct": False},
    ]
    summary = summarise(rows, QUESTIONS, ks=[1, 2, 3])
    overall = summary["overall"]
    assert overall["accuracy"] == pytest.approx(2 / 3, abs=1e-6)
    assert overall["exact"] == pytest.approx(1 / 3, abs=1e-6)  # computed by rule when the rows lack it
    assert overall["no_answer_rate"] == pytest.approx(1 / 3, abs=1e-6)
    assert overall["maj@k"]["3"] == 1.0


def test_bad_rows() -> None:
    with pytest.raises(ValueError, match="unknown question ID 'q9'"):
        summarise([{"id": "q9", "sample": 0, "extracted": "x", "correct": False}], QUESTIONS)
    duplicate = [{"id": "q1", "sample": 0, "extracted": "x", "correct": False}] * 2
    with pytest.raises(DuplicateSampleError, match="duplicate sample 0 for question 'q1'"):
        summarise(duplicate, QUESTIONS)
    with pytest.raises(ValueError, match="k must be >= 1"):
        score_predictions(predictions(), QUESTIONS, ks=[0, 1])
    with pytest.raises(ValueError, match="unknown question ID"):
        score_predictions([Prediction(id="nope", sample=0, text="x")], QUESTIONS)


# hops 0, 1, 3, 4, 5 and unknown; topics art / music / unknown. Two samples each, correct counts in CORRECT.
SLICED = {
    qid: Question(ID=qid, question=f"{qid}?", main_answers=["x"], source_of_data="s", hops=hops, topic=topic)
    for qid, hops, topic in (
        ("a", 1, "art"),
        ("b", 3, "art"),
        ("c", 4, "music"),
        ("d", 5, None),
        ("e", None, "music"),
        ("z", 0, None),
    )
}
CORRECT = {"a": 2, "b": 0, "c": 1, "d": 0, "e": 2, "z": 1}


def sliced_rows(budget: int | None = None, only: str | None = None) -> list[dict]:
    return [
        {"id": qid, "sample": i, "correct": i < c, "extracted": "x" if i < c else "y", "budget": budget}
        for qid, c in CORRECT.items()
        if only in (None, qid)
        for i in range(2)
    ]


def test_hops_above_three_pool_into_3_plus_and_topics_slice() -> None:
    summary = summarise(sliced_rows(), SLICED, ks=[1, 2])
    hops = summary["by_hops"]
    assert list(hops) == ["0", "1", "3", "3+"]  # e has no hop count; 4 and 5 share "3+"
    assert (hops["3+"]["n_questions"], hops["3+"]["n_predictions"]) == (2, 4)
    assert hops["3+"]["accuracy"] == pytest.approx((0.5 + 0.0) / 2)  # c 1 of 2, d 0 of 2
    assert hops["3+"]["pass@k"]["2"] == pytest.approx(0.5)  # c passes, d does not
    assert (hops["0"]["accuracy"], hops["1"]["accuracy"], hops["3"]["accuracy"]) == (0.5, 1.0, 0.0)
    topics = summary["by_topic"]
    assert list(topics) == ["art", "music"]  # d and z have no topic: in no topic slice
    assert [topics[t]["n_questions"] for t in topics] == [2, 2]
    assert topics["art"]["accuracy"] == pytest.approx((1.0 + 0.0) / 2)  # a, b
    assert topics["music"]["accuracy"] == pytest.approx((0.5 + 1.0) / 2)  # c, e
    assert topics["music"]["pass@k"]["2"] == pytest.approx(1.0)
    assert "ci" not in topics["art"] and "ci" in summary["overall"]  # no intervals, like by_hops
    assert list(summary)[-1] == "by_topic" and list(summary).index("by_answer_type") == len(summary) - 2


def test_by_budget_sections_carry_topics() -> None:
    rows = sliced_rows(budget=64) + sliced_rows(budget=128, only="c")
    summary = summarise(rows, SLICED, ks=[1])
    assert summary["by_topic"]["music"]["n_questions"] == 3  # (c, 64), (e, 64), (c, 128)
    assert list(summary["by_budget"]["128"]["by_topic"]) == ["music"]
    assert summary["by_budget"]["128"]["by_topic"]["music"]["accuracy"] == 0.5
    assert list(summary["by_budget"]["128"]["by_hops"]) == ["3+"]
    assert set(summary["by_budget"]["64"]["by_topic"]) == {"art", "music"}


def test_topics_change_nothing_but_by_topic() -> None:
    untopical = {qid: Question(**{**q.to_dict(), "topic": None}) for qid, q in SLICED.items()}
    plain = summarise(sliced_rows(), untopical, ks=[1, 2])
    topical = summarise(sliced_rows(), SLICED, ks=[1, 2])
    assert plain["by_topic"] == {}
    assert json.dumps({**topical, "by_topic": {}}) == json.dumps(plain)
