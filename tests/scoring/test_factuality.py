"""Three-way outcome (correct / incorrect / not attempted) under rule scoring and from judge verdicts, by hand."""

from __future__ import annotations

import pytest

from fs1.judge.judge import VERDICT_CORRECT, VERDICT_INCORRECT, VERDICT_NOT_ATTEMPTED
from fs1.judge.rules import decide
from fs1.records import Prediction, Question
from fs1.scoring import score_predictions, summarise
from fs1.scoring.outcome import is_refusal

TOKYO = Question(ID="t", question="Capital of Japan?", main_answers=["Tokyo"], source_of_data="cwq", hops=1)
OSLO = Question(ID="o", question="Capital of Norway?", main_answers=["Oslo"], source_of_data="mintaka")
QUESTIONS = {"t": TOKYO, "o": OSLO}


def _predictions(qid: str, replies: list[str]) -> list[Prediction]:
    return [Prediction(id=qid, sample=i, text=text) for i, text in enumerate(replies)]


def sixteen(c: int, refusals: int, silent: int) -> list[str]:
    """16 replies: c right, ``refusals`` "I don't know", ``silent`` with no answer, the rest wrong."""
    wrong = 16 - c - refusals - silent
    return (
        ["\\boxed{Tokyo}"] * c
        + ["\\boxed{I don't know}"] * refusals
        + ["<think>Tokyo or Kyoto, hmm"] * silent
        + ["\\boxed{Kyoto}"] * wrong
    )


def test_sixteen_samples_c_right_a_abstain_by_hand() -> None:
    # c = 6 right, a = 4 abstain (2 refusals + 2 with no answer), 6 wrong.
    _, summary = score_predictions(_predictions("t", sixteen(6, 2, 2)), QUESTIONS, ks=[1, 2, 16])
    s = summary["overall"]
    assert s["accuracy"] == pytest.approx(6 / 16)
    assert s["no_answer_rate"] == pytest.approx(2 / 16)  # a refusal is an answer, just not an attempt
    assert s["attempted"] == pytest.approx(12 / 16)
    assert s["accuracy_given_attempted"] == pytest.approx(6 / 12)
    assert s["hallucination_rate"] == pytest.approx(6 / 16)
    assert s["hallucination_given_attempted"] == pytest.approx(6 / 12)
    assert s["simpleqa_f1"] == pytest.approx(2 * (6 / 16) * 0.5 / (6 / 16 + 0.5), abs=1e-6)
    # at k = 1 the vote is one sample: the per-sample rates again
    at1 = s["factuality@k"]["1"]
    assert (at1["accuracy"], at1["attempted"], at1["hallucination_rate"]) == pytest.approx(
        (6 / 16, 12 / 16, 6 / 16)
    )
    # k = 16: Tokyo 6 : Kyoto 6 : refusal 2 -> a tie of two attempted answers: half right, half hallucinated
    at16 = s["factuality@k"]["16"]
    assert (at16["accuracy"], at16["attempted"], at16["hallucination_rate"]) == (0.5, 1.0, 0.5)
    assert at16["hallucination_given_attempted"] == 0.5
    assert s["maj@k"]["16"] == 0.5


def test_a_majority_of_refusals_abstains() -> None:
    replies = ["\\boxed{I don't know}"] * 3 + ["\\boxed{Oslo}"]
    _, summary = score_predictions(_predictions("o", replies), QUESTIONS, ks=[2, 4])
    f = summary["overall"]["factuality@k"]
    # k = 4: the refusal wins 3 : 1 -> not attempted, neither right nor hallucinated
    assert (f["4"]["accuracy"], f["4"]["attempted"], f["4"]["hallucination_rate"]) == (0.0, 0.0, 0.0)
    assert f["4"]["accuracy_given_attempted"] == 0.0  # nothing attempted: defined as 0, not an error
    # k = 2: 3 refusal pairs abstain, 3 refusal+Oslo pairs tie (half right, half abstain) -> 3 * 1/2 / 6
    assert (f["2"]["accuracy"], f["2"]["attempted"], f["2"]["hallucination_rate"]) == (0.25, 0.25, 0.0)


def test_a_hedged_guess_is_an_attempt_and_a_correct_refusal_is_correct() -> None:
    replies = [
        "\\boxed{I'm not sure, probably Bergen}",
        "\\boxed{not sure}",
        "\\boxed{Unknown}",
        "\\boxed{Oslo}",
    ]
    scores, summary = score_predictions(_predictions("o", replies), QUESTIONS, ks=[1])
    assert summary["overall"]["attempted"] == pytest.approx(2 / 4)
    assert summary["overall"]["hallucination_rate"] == pytest.approx(1 / 4)
    assert is_refusal("i dont know", correct=False) and not is_refusal("i dont know", correct=True)


def test_rule_path_and_judge_cascade_agree_on_what_is_a_refusal() -> None:
    for answer in ["I don't know", "Unknown.", "I'm not sure, maybe Oslo", "Oslo", "Bergen", "N/A"]:
        rule = decide(answer, OSLO.gold)
        _, summary = score_predictions(_predictions("o", [f"\\boxed{{{answer}}}"]), QUESTIONS, ks=[1])
        refused = summary["overall"]["attempted"] == 0.0
        assert refused == (rule is not None and rule.verdict == VERDICT_NOT_ATTEMPTED), answer


def test_judge_rows_carry_their_own_attempted_flag() -> None:
    verdicts = [VERDICT_CORRECT, VERDICT_INCORRECT, VERDICT_NOT_ATTEMPTED, VERDICT_INCORRECT]
    rows = [
        {
            "id": "o",
            "sample": i,
            "extracted": answer,
            "correct": verdict == VERDICT_CORRECT,
            "attempted": verdict != VERDICT_NOT_ATTEMPTED,
        }
        for i, (answer, verdict) in enumerate(
            zip(["Oslo", "Bergen", "no clue", "Oslo?"], verdicts, strict=True)
        )
    ]
    s = summarise(rows, QUESTIONS, ks=[1])["overall"]
    # "no clue" is no refusal for the rule, but the judge said NOT_ATTEMPTED: the judge's flag counts
    assert (s["accuracy"], s["attempted"], s["hallucination_rate"]) == pytest.approx((0.25, 0.75, 0.5))
    assert s["hallucination_given_attempted"] == pytest.approx(2 / 3, abs=1e-6)


def test_every_headline_number_has_an_interval_around_it() -> None:
    tokyo2 = Question(
        ID="t2", question="Capital of Japan, again?", main_answers=["Tokyo"], source_of_data="cwq"
    )
    questions = {**QUESTIONS, "t2": tokyo2}
    replies = {
        "t": sixteen(6, 2, 2),
        "t2": ["\\boxed{Tokyo}"] * 10 + ["\\boxed{Kyoto}"] * 6,
        "o": ["\\boxed{Oslo}"] * 10 + ["\\boxed{Bergen}"] * 6,
    }
    predictions = [p for qid, texts in replies.items() for p in _predictions(qid, texts)]
    _, summary = score_predictions(predictions, questions, ks=[1, 4])
    s = summary["overall"]
    ci = s["ci"]
    for name in ["accuracy", "attempted", "hallucination_rate", "simpleqa_f1", "no_answer_rate"]:
        assert ci[name][0] <= s[name] <= ci[name][1], name
    assert ci["pass@k"]["4"][0] <= s["pass@k"]["4"] <= ci["pass@k"]["4"][1]
    assert ci["factuality@k"]["4"]["attempted"][0] <= s["factuality@k"]["4"]["attempted"]
    # questions are resampled, not samples: cwq's two questions (accuracy 6/16 and 10/16) give that span ...
    assert summary["by_source"]["cwq"]["ci"]["accuracy"] == pytest.approx([6 / 16, 10 / 16])
    # ... a dataset of one question has nothing to resample ...
    assert summary["by_source"]["mintaka"]["ci"]["accuracy"] == [10 / 16, 10 / 16]
    # ... and overall keeps each dataset at its size: 2 cwq draws + the one mintaka question, out of 3
    assert ci["accuracy"] == pytest.approx([(6 + 6 + 10) / 48, (10 + 10 + 10) / 48])
    assert "ci" not in summary["by_hops"]["1"]  # intervals only for the headline slices


def test_judge_path_gives_the_same_fields_and_agrees_where_rules_decide() -> None:
    from fs1.judge.stage import MODE_CASCADE, judge_scores, judged_summary

    replies = (
        ["\\boxed{Tokyo}"] * 5
        + ["\\boxed{I don't know}"] * 3
        + ["\\boxed{Kyoto}"] * 6
        + ["<think>Tokyo or Kyoto, hmm"] * 2
    )
    scores, rule = score_predictions(_predictions("t", replies), QUESTIONS, ks=[1, 4])
    rows, stats = judge_scores(scores, QUESTIONS, None, mode=MODE_CASCADE)  # every answer decided by a rule
    judged = judged_summary(rows, QUESTIONS, [1, 4], stats, {"prompt": "fs1"})
    for name in [
        "accuracy",
        "attempted",
        "hallucination_rate",
        "hallucination_given_attempted",
        "simpleqa_f1",
    ]:
        assert judged["overall"][name] == rule["overall"][name], name
        assert judged["overall"]["ci"][name] == rule["overall"]["ci"][name], name
    assert judged["overall"]["factuality@k"] == rule["overall"]["factuality@k"]
    assert rule["overall"]["hallucination_rate"] == pytest.approx(6 / 16)


def test_verdicts_gathered_in_pieces_keep_their_refusals() -> None:
    from fs1.scoring.summary import VerdictColumns

    verdicts = [
        ("t", None, 0, False, False, 0.0, "kyoto"),
        ("t", None, 1, False, False, 0.0, "i dont know"),
        ("o", None, 0, True, True, 1.0, "oslo"),
        ("o", None, 1, False, False, 0.0, "unknown"),
        ("o", None, 2, False, False, 0.0, ""),
    ]
    whole, first, second = VerdictColumns(), VerdictColumns(), VerdictColumns()
    for verdict in verdicts:
        whole.add_verdict(*verdict)
    for verdict in verdicts[:2]:
        first.add_verdict(*verdict)
    for verdict in verdicts[2:]:
        second.add_verdict(*verdict)
    second.add_verdict("o", None, 3, True, True, 1.0, "oslo", attempted=False)  # a judge's own flag
    whole.add_verdict("o", None, 3, True, True, 1.0, "oslo", attempted=False)
    first.extend(second)
    assert (
        first.attempted().tolist() == whole.attempted().tolist() == [True, False, True, False, False, False]
    )
