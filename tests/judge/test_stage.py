"""The judging stage against a real OpenAI-compatible HTTP server on 127.0.0.1 (the scripted judge server).

The scripted judge is a containment oracle read from the request itself (gold list and prediction are JSON in
the prompt), with per-answer overrides, so each test knows exactly what the judge says and counts what it was
asked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fs1.backends import load_backend
from fs1.backends.base import BackendError
from fs1.judge.cache import VerdictCache
from fs1.judge.judge import VERDICT_CORRECT, VERDICT_ERROR, Judge, JudgeRequest, JudgeSampling, get_prompt
from fs1.judge.stage import (
    JUDGED_FILE,
    JUDGED_SUMMARY_FILE,
    MODE_ALL,
    MODE_CASCADE,
    judge_file,
    judge_scores,
)
from fs1.records import Prediction, Question, Score
from tests.support.scripted_openai import Fault, Reply, ScriptedOpenAIServer

_GOLD = re.compile(r"gold [^\n]*?: (\[.*\])\n", re.IGNORECASE)
_PREDICTION = re.compile(r"predicted answer[^\n]*?: (\".*\")", re.IGNORECASE)


def asked(body: dict[str, Any]) -> tuple[list[str], str]:
    """The gold list and prediction a judge request carries."""
    user = body["messages"][-1]["content"]
    return json.loads(_GOLD.search(user).group(1)), json.loads(_PREDICTION.search(user).group(1))


def oracle(overrides: dict[str, str] | None = None, *, simpleqa: bool = False) -> Callable[..., Reply]:
    """A judge saying whether a gold is contained (case-insensitive); ``overrides``: prediction -> reply."""

    def respond(endpoint: str, body: dict[str, Any]) -> Reply:
        gold, prediction = asked(body)
        if overrides and prediction in overrides:
            return Reply(text=overrides[prediction], prompt_tokens=50, completion_tokens=1)
        hit = any(g.lower() in prediction.lower() for g in gold)
        text = ("A" if hit else "B") if simpleqa else ("1" if hit else "0")
        return Reply(text=text, prompt_tokens=50, completion_tokens=1)

    return respond


def predictions_of(server: ScriptedOpenAIServer) -> list[str]:
    return [asked(r["body"])[1] for r in server.requests if r["endpoint"] == "chat"]


def make_judge(
    server: ScriptedOpenAIServer, cache: Path | None, prompt: str = "fs1", **options: Any
) -> Judge:
    backend = load_backend(
        "openai", server.model, base_url=server.base_url, max_retries=0, concurrency=4, **options
    )
    return Judge(backend, get_prompt(prompt), VerdictCache(cache) if cache else None, batch_size=2)


QUESTIONS = {
    "q1": Question(ID="q1", question="What city was the first capital of the United States?",
                   main_answers=["New York City"], answer_aliases=["NYC"], source_of_data="WebQSP"),
    "q2": Question(ID="q2", question="In what year did the Berlin Wall fall?", main_answers=["1989"],
                   source_of_data="ExaQT"),
}  # fmt: skip


def scores(qid: str, answers: list[str | None], budget: int | None = None) -> list[Score]:
    meta = {"budget": budget} if budget is not None else {}
    return [Score(id=qid, sample=i, extracted=a, correct=False, match="none", meta=dict(meta))
            for i, a in enumerate(answers)]  # fmt: skip


def test_identical_normalised_answers_are_judged_once() -> None:
    batch = scores("q1", ["New York City", "new york city.", "The Big Apple", "NEW YORK CITY", None])
    with ScriptedOpenAIServer(oracle({"The Big Apple": "1"})) as server:
        rows, stats = judge_scores(batch, QUESTIONS, make_judge(server, None), mode=MODE_ALL)
    assert sorted(predictions_of(server)) == ["New York City", "The Big Apple"]
    assert [r.verdict for r in rows] == ["correct", "correct", "correct", "correct", "not_attempted"]
    assert [r.decided_by for r in rows] == ["judge"] * 4 + ["no_answer"]
    assert stats.unique_answers == 3 and stats.judge_requests == 2


def test_cascade_sends_only_what_rules_cannot_decide() -> None:
    # "New York" shares words with the gold "New York City" without being it: only the judge can tell.
    batch = scores("q1", ["NYC", "Philadelphia", "New York", "I don't know"]) + scores("q2", ["1991", "1989"])
    with ScriptedOpenAIServer(oracle({"New York": "1"})) as server:
        rows, stats = judge_scores(batch, QUESTIONS, make_judge(server, None), mode=MODE_CASCADE)
    assert predictions_of(server) == ["New York"]
    assert {r.extracted: r.decided_by for r in rows} == {
        "NYC": "rule:exact", "Philadelphia": "rule:no_overlap", "New York": "judge",
        "I don't know": "rule:refusal", "1991": "rule:value_mismatch", "1989": "rule:exact",
    }  # fmt: skip
    assert {r.extracted: r.verdict for r in rows}["I don't know"] == "not_attempted"
    assert sum(stats.rules.values()) == 5


def test_cascade_without_a_judge_fails_clearly_when_answers_remain() -> None:
    with pytest.raises(ValueError, match="1 answer.* need an LLM judge"):
        judge_scores(scores("q1", ["NYC", "New York"]), QUESTIONS, None)


def test_malformed_replies_are_counted_error_verdicts_and_asked_again(tmp_path: Path) -> None:
    preds = tmp_path / "preds.jsonl"
    answers = ["NYC", "The Big Apple", "Gotham", "Gotham", "Boston"]
    lines = [
        json.dumps(Prediction(id="q1", sample=i, text=f"\\boxed{{{a}}}").to_dict())
        for i, a in enumerate(answers)
    ]
    preds.write_text("\n".join(lines) + "\n")
    replies = {"The Big Apple": "1 (the Big Apple is New York)", "Gotham": "Yes"}
    with ScriptedOpenAIServer(oracle(replies)) as server:
        summary = judge_file(
            preds, QUESTIONS, tmp_path / "out", make_judge(server, tmp_path / "c.jsonl"), mode=MODE_ALL
        )
        first = sorted(predictions_of(server))
        server.requests.clear()
        again = judge_file(
            preds, QUESTIONS, tmp_path / "out", make_judge(server, tmp_path / "c.jsonl"), mode=MODE_ALL
        )
    rows = [json.loads(line) for line in (tmp_path / "out" / JUDGED_FILE).read_text().splitlines()]
    assert first == ["Boston", "Gotham", "NYC", "The Big Apple"]
    assert [r["verdict"] for r in rows] == ["correct", "error", "error", "error", "incorrect"]
    # Error verdicts are not correct, and not silently "incorrect" either: they are counted and reported.
    assert not any(r["correct"] for r in rows if r["verdict"] == VERDICT_ERROR)
    assert summary["errors"] == 3 and summary["verdicts"]["error"] == 3
    assert set(summary["error_examples"]) == set(replies.values())
    assert sorted(predictions_of(server)) == ["Gotham", "The Big Apple"]  # errors are not cached
    assert again["judge_calls"] == 2 and again["cache_hits"] == 2


def test_second_run_makes_zero_calls_and_gives_the_same_verdicts(tmp_path: Path) -> None:
    batch_a = scores("q1", ["Big Apple", "Manhattan", "Big Apple", "Boston"])
    with ScriptedOpenAIServer(oracle({"Big Apple": "1", "Manhattan": "1"})) as server:
        rows_a, _ = judge_scores(batch_a, QUESTIONS, make_judge(server, tmp_path / "c.jsonl"), mode=MODE_ALL)
        calls_first = len(server.requests)
        judge = make_judge(server, tmp_path / "c.jsonl")
        rows_b, _ = judge_scores(batch_a, QUESTIONS, judge, mode=MODE_ALL)
    assert calls_first == 3 and len(server.requests) == 3
    assert judge.counters.calls == 0 and judge.counters.cache_hits == 3
    assert (
        [r.verdict for r in rows_b]
        == [r.verdict for r in rows_a]
        == ["correct", "correct", "correct", "incorrect"]
    )
    assert {r.decided_by for r in rows_b} == {"cache"}


def test_a_judge_failure_loses_nothing_and_a_rerun_finishes_the_job(tmp_path: Path) -> None:
    answers = ["Boston", "Albany", "Trenton", "Big Apple", "Manhattan", "Gotham"]
    cache = tmp_path / "c.jsonl"
    with ScriptedOpenAIServer(oracle({"Big Apple": "1"})) as server:
        judge = make_judge(server, cache)
        done: list[int] = []

        def fail_after_first_batch(n: int) -> None:
            done.append(n)
            server.faults.extend(Fault(status=500) for _ in range(10))

        with pytest.raises(BackendError):
            judge_scores(
                scores("q1", answers), QUESTIONS, judge, mode=MODE_ALL, progress=fail_after_first_batch
            )
        assert done == [2] and len(VerdictCache(cache)) == 2  # the finished batch is on disk
        server.faults.clear()
        server.requests.clear()
        rows, _ = judge_scores(scores("q1", answers), QUESTIONS, make_judge(server, cache), mode=MODE_ALL)
    assert len(predictions_of(server)) == 4  # only what the failed run did not get
    assert [r.verdict for r in rows] == [
        "incorrect",
        "incorrect",
        "incorrect",
        "correct",
        "incorrect",
        "incorrect",
    ]


def test_judged_pass_at_k_and_maj_at_k_come_from_the_verdicts(tmp_path: Path) -> None:
    # Four samples; the judge accepts "New York" (not a gold form: the rule scorer rejects it), not the rest.
    batch = scores("q1", ["New York", "Boston", "New York", "Albany"]) + scores(
        "q2", ["1989", "1989", "1990", "1989"]
    )
    with ScriptedOpenAIServer(oracle({"New York": "1"})) as server:
        judge = make_judge(server, None)
        rows, stats = judge_scores(batch, QUESTIONS, judge, mode=MODE_CASCADE)
    from fs1.judge.stage import judged_summary

    summary = judged_summary(rows, QUESTIONS, [1, 2, 4], stats, {"prompt": "fs1"}, judge)
    q1_pass2 = 1 - (1 / 6)  # c = 2 of n = 4: 1 - C(2,2)/C(4,2)
    q2_pass2 = 1.0  # c = 3 of n = 4
    overall = summary["overall"]
    assert overall["accuracy"] == pytest.approx((0.5 + 0.75) / 2)
    assert overall["pass@k"]["2"] == pytest.approx((q1_pass2 + q2_pass2) / 2, abs=1e-6)
    assert overall["pass@k"]["4"] == 1.0
    assert overall["maj@k"]["4"] == 1.0  # "New York" wins q1's vote (2 of 4), "1989" wins q2's
    assert overall["maj@k"]["1"] == pytest.approx(overall["accuracy"])  # one-sample subsets: the accuracy
    assert summary["by_source"]["WebQSP"]["accuracy"] == 0.5  # the rule scorer would have said 0.0
    # Judged: "New York" once (two samples share it); by rule: Boston, Albany (no_overlap) and all of q2.
    assert summary["judge_calls"] == 1 and summary["decided_by_rule"] == 6 and summary["deduplicated"] == 3
    assert summary["rules"] == {"no_overlap": 2, "exact": 3, "value_mismatch": 1}
    assert summary["tokens"] == {"prompt": 50, "completion": 1}


def test_simpleqa_grades_give_attempted_metrics_per_k_and_budget() -> None:
    q1 = scores("q1", ["Big Apple", "Gotham", "no clue really", "Boston"], budget=512)
    q1 += scores("q1", ["Big Apple", "Big Apple", "Gotham", "Gotham"], budget=1024)
    grades = {"Big Apple": "A", "Gotham": "B", "no clue really": "C", "Boston": "B"}
    with ScriptedOpenAIServer(oracle(grades, simpleqa=True)) as server:
        judge = make_judge(server, None, prompt="simpleqa")
        rows, stats = judge_scores(q1, QUESTIONS, judge, mode=MODE_ALL)
    from fs1.judge.stage import judged_summary

    summary = judged_summary(rows, QUESTIONS, [1, 2], stats, {"prompt": "simpleqa"}, judge)
    low = summary["by_budget"]["512"]["overall"]
    assert low["accuracy"] == 0.25 and low["attempted"] == 0.75
    assert low["accuracy_given_attempted"] == pytest.approx(1 / 3, abs=1e-6)
    assert low["simpleqa_f1"] == pytest.approx(2 * 0.25 * (1 / 3) / (0.25 + 1 / 3), abs=1e-6)
    assert low["attempted@k"]["2"] == 1.0  # one of four not attempted: any 2 samples hold an attempt
    assert low["accuracy_given_attempted@k"]["2"] == pytest.approx(low["pass@k"]["2"])
    high = summary["by_budget"]["1024"]["overall"]
    assert high["attempted"] == 1.0 and high["accuracy_given_attempted"] == high["accuracy"] == 0.5
    assert summary["overall"]["n_questions"] == 2  # (question, budget) units pooled
    assert summary["verdicts"] == {"correct": 3, "incorrect": 4, "not_attempted": 1}


def test_judge_file_writes_both_files_and_reads_a_scores_directory(tmp_path: Path) -> None:
    scores_dir = tmp_path / "scored"
    scores_dir.mkdir()
    rows = scores("q1", ["NYC", "New York"]) + scores("q2", ["1989", "in 1989"])
    (scores_dir / "scores.jsonl").write_text("".join(json.dumps(s.to_dict()) + "\n" for s in rows))
    with ScriptedOpenAIServer(oracle({"New York": "1"})) as server:
        summary = judge_file(scores_dir, QUESTIONS, tmp_path / "out", make_judge(server, None), ks=[1, 2])
    assert sorted(predictions_of(server)) == ["New York", "in 1989"]  # concurrent requests: any order
    judged = [json.loads(line) for line in (tmp_path / "out" / JUDGED_FILE).read_text().splitlines()]
    assert [r["correct"] for r in judged] == [True, True, True, True]
    assert json.loads((tmp_path / "out" / JUDGED_SUMMARY_FILE).read_text()) == summary
    assert summary["judge"]["mode"] == "cascade" and "exact" in summary["judge"]["rules"]
    assert summary["overall"]["pass@k"] == {"1": 1.0, "2": 1.0}


# --- the paper's judge request, judge settings in the cache key ---------------------------------------------


def test_fs1_preset_sends_the_authors_request_byte_for_byte() -> None:
    # The authors' judge call (run_vllm_inference.py + scripts/6.run_vllm_evaluation.sh): their Qwen system message,
    # their user turn (json.dumps defaults: ASCII escapes; main answers + aliases as listed), T 0.6, top-p 0.9,
    # top-k 20, repetition penalty 1.05, 5 tokens, through the chat route of a vLLM server.
    question = Question(
        ID="q", question="Who?", main_answers=["Mark Twain"], answer_aliases=["Samuel Clemens"]
    )
    with ScriptedOpenAIServer(oracle(), owned_by="vllm") as server:
        judge = make_judge(server, None)
        [outcome] = judge.judge([JudgeRequest.about(question, "Mark Twain, né Clemens")])
    [request] = server.requests
    assert outcome.verdict == VERDICT_CORRECT and request["endpoint"] == "chat"
    expected = (
        '{"model":"scripted-model","messages":['
        '{"role":"system","content":"You are Qwen, created by Alibaba Cloud. You are a helpful assistant."},'
        '{"role":"user","content":"gold answer: [\\"Mark Twain\\", \\"Samuel Clemens\\"]\\n'
        'predicted answer: \\"Mark Twain, n\\\\u00e9 Clemens\\"\\n\\n'
        "Is the gold answer entity or value contained in the predicted answer? "
        'Respond only with 0 (no) or 1 (yes)."}],'
        '"temperature":0.6,"top_p":0.9,"max_tokens":5,"min_p":0.0,"seed":0,"top_k":20,"repetition_penalty":1.05}'
    )
    assert request["raw"] == expected.encode("ascii")


def test_fs1_clean_preset_sends_the_user_turn_alone_without_penalty() -> None:
    with ScriptedOpenAIServer(oracle(), owned_by="vllm") as server:
        judge = make_judge(server, None, prompt="fs1-clean")
        judge.judge([JudgeRequest("Who?", ("Mark Twain", "Mark Twain"), "Twain")])
    [request] = server.requests
    assert [m["role"] for m in request["body"]["messages"]] == ["user"]
    assert request["body"]["messages"][0]["content"].startswith('gold answer: ["Mark Twain"]\n')
    # vLLM's own default would be the model's generation_config: "off" is sent explicitly
    assert (request["body"]["repetition_penalty"], request["body"]["top_k"]) == (1.0, 20)


def test_a_server_without_repetition_penalty_refuses_the_authors_preset() -> None:
    with ScriptedOpenAIServer(oracle(), owned_by="openai") as server:
        judge = make_judge(server, None)
        with pytest.raises(BackendError, match="repetition_penalty=1.05"):
            judge.judge([JudgeRequest("Who?", ("Mark Twain",), "Twain")])
    assert server.requests == []  # refused before anything was sent


def test_judge_samples_take_the_majority_and_are_recorded(tmp_path: Path) -> None:
    replies = iter(["0", "1", "1"])  # a server without n: one request per sample

    def respond(endpoint: str, body: dict[str, Any]) -> Reply:
        return Reply(text=next(replies), prompt_tokens=50, completion_tokens=1)

    with ScriptedOpenAIServer(respond, honour_n=False) as server:
        judge = Judge(
            load_backend("openai", server.model, base_url=server.base_url, max_retries=0, server_n=False),
            get_prompt("fs1"),
            VerdictCache(tmp_path / "cache.jsonl"),
            sampling=JudgeSampling(samples=3, seed=5),
        )
        [outcome] = judge.judge([JudgeRequest("Who?", ("Mark Twain",), "Sam Clemens")])
        judge.cache.close()
    assert outcome.verdict == VERDICT_CORRECT and outcome.reply == "1"
    assert [r["body"]["seed"] for r in server.requests] == [5, 6, 7]  # sample i draws with seed + i
    [row] = [json.loads(line) for line in (tmp_path / "cache.jsonl").read_text().splitlines()]
    assert row["votes"] == {"incorrect": 1, "correct": 2}
    assert judge.settings()["sampling"] == {
        "temperature": 0.6, "top_p": 0.9, "top_k": 20, "repetition_penalty": 1.05, "max_tokens": 5, "seed": 5, "samples": 3,
    }  # fmt: skip


def test_cache_keys_differ_across_presets_and_sampling_settings() -> None:
    with ScriptedOpenAIServer(oracle()) as server:
        request = JudgeRequest("Who?", ("Mark Twain",), "Twain")
        variants = [
            make_judge(server, None),
            make_judge(server, None, prompt="simpleqa"),
            *(
                Judge(make_judge(server, None).backend, get_prompt("fs1"), sampling=JudgeSampling(**change))
                for change in (
                    {"temperature": 0.0},
                    {"top_p": 0.95},
                    {"top_k": -1},
                    {"max_tokens": 6},
                    {"seed": 1},
                    {"samples": 3},
                )
            ),  # fmt: skip
        ]
        keys = [judge.key(request) for judge in variants]
        same = Judge(make_judge(server, None).backend, get_prompt("fs1"), sampling=JudgeSampling(top_k=20))
    assert len(set(keys)) == len(keys)
    assert same.key(request) == keys[0]  # stating the preset's own value is the same setting


def test_judged_summary_records_the_judge_sampling_and_seed(tmp_path: Path) -> None:
    with ScriptedOpenAIServer(oracle()) as server:
        judge = make_judge(server, None)
        preds = [Prediction(id="q2", sample=0, text="\\boxed{in 1989, I think}")]
        path = tmp_path / "preds.jsonl"
        path.write_text("".join(json.dumps(p.to_dict()) + "\n" for p in preds))
        summary = judge_file(path, QUESTIONS, tmp_path / "out", judge, mode=MODE_ALL, ks=[1])
    recorded = json.loads((tmp_path / "out" / JUDGED_SUMMARY_FILE).read_text())["judge"]
    assert recorded == summary["judge"]
    assert recorded["prompt"] == "fs1" and recorded["model"] == server.model
    assert recorded["sampling"] == {
        "temperature": 0.6, "top_p": 0.9, "top_k": 20, "repetition_penalty": 1.05, "max_tokens": 5, "seed": 0, "samples": 1,
    }  # fmt: skip
