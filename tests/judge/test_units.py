"""Unit tests of the judge's parts: strict verdict parsing, cascade rules, the crash-safe verdict cache."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from fs1.io import InputError
from fs1.judge.cache import CachedVerdict, VerdictCache
from fs1.judge.judge import (
    VERDICT_CORRECT,
    VERDICT_ERROR,
    VERDICT_INCORRECT,
    VERDICT_NOT_ATTEMPTED,
    JudgeSampling,
    get_prompt,
    majority,
)
from fs1.judge.rules import CASCADE_RULES, KEEP_PRECISION, decide, get_rules

FS1 = get_prompt("fs1")
CLEAN = get_prompt("fs1-clean")
SIMPLEQA = get_prompt("simpleqa")


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("1", VERDICT_CORRECT),
        ("0", VERDICT_INCORRECT),
        (" 1\n", VERDICT_CORRECT),
        ("1.", VERDICT_CORRECT),
        ('"0"', VERDICT_INCORRECT),
        ("**1**", VERDICT_CORRECT),
        ("", VERDICT_ERROR),
        ("10", VERDICT_ERROR),
        ("1 0", VERDICT_ERROR),
        ("Yes", VERDICT_ERROR),
        ("1\nThe gold answer is contained", VERDICT_ERROR),
        ("The answer is 1", VERDICT_ERROR),
        ("2", VERDICT_ERROR),
        ("A", VERDICT_ERROR),
    ],
)
def test_fs1_parsing_is_strict(reply: str, verdict: str) -> None:
    assert FS1.parse(reply) == verdict


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ("A", VERDICT_CORRECT),
        ("b", VERDICT_INCORRECT),
        ("C.", VERDICT_NOT_ATTEMPTED),
        ("CORRECT", VERDICT_CORRECT),
        ("NOT_ATTEMPTED", VERDICT_NOT_ATTEMPTED),
        ("not attempted", VERDICT_NOT_ATTEMPTED),
        ("INCORRECT", VERDICT_INCORRECT),
        ("D", VERDICT_ERROR),
        ("A or B", VERDICT_ERROR),
        ("1", VERDICT_ERROR),
        ("A) CORRECT", VERDICT_ERROR),
        ("", VERDICT_ERROR),
    ],
)
def test_simpleqa_parsing_is_strict(reply: str, verdict: str) -> None:
    assert SIMPLEQA.parse(reply) == verdict


AUTHORS_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
QUESTION_TAIL = "Is the gold answer entity or value contained in the predicted answer? Respond only with 0 (no) or 1 (yes)."


def test_fs1_prompt_is_the_authors_request_byte_for_byte() -> None:
    # Their prepare_llm_as_a_judge.py: json.dumps with its defaults (ASCII escapes), main answers + aliases as
    # listed (a duplicate stays); run_vllm_inference.py puts the Qwen system message before it (protocol §4).
    gold = ["Zürich", 'Samuel "Sam" Clemens', "Zürich"]
    messages = FS1.messages("Who?", gold, "Zürich")
    assert messages == [
        {"role": "system", "content": AUTHORS_SYSTEM},
        {
            "role": "user",
            "content": 'gold answer: ["Z\\u00fcrich", "Samuel \\"Sam\\" Clemens", "Z\\u00fcrich"]\n'
            'predicted answer: "Z\\u00fcrich"\n'
            "\n" + QUESTION_TAIL,
        },
    ]


def test_fs1_clean_prompt_is_the_same_user_turn_alone() -> None:
    messages = CLEAN.messages("Who?", ["Zürich", "Mark Twain", "Zürich"], "Twain")
    assert messages == [  # no system message, the question never shown, duplicates dropped, UTF-8 kept
        {
            "role": "user",
            "content": 'gold answer: ["Zürich", "Mark Twain"]\npredicted answer: "Twain"\n\n' + QUESTION_TAIL,
        }
    ]
    assert "Who?" in SIMPLEQA.messages("Who?", ["x"], "y")[-1]["content"]


def test_presets_carry_their_sampling_and_overrides_replace_single_fields() -> None:
    paper = JudgeSampling().resolve(FS1.sampling)
    assert (paper.temperature, paper.top_p, paper.top_k, paper.repetition_penalty, paper.max_tokens) == (
        0.6, 0.9, 20, 1.05, 5,
    )  # fmt: skip
    assert (paper.seed, paper.samples) == (0, 1)
    params = paper.params()
    assert (params.repetition_penalty, params.top_k, params.max_tokens) == (1.05, 20, 5)
    clean = JudgeSampling().resolve(CLEAN.sampling)
    assert (clean.temperature, clean.top_p, clean.top_k, clean.repetition_penalty) == (0.6, 0.9, 20, 1.0)
    assert JudgeSampling().resolve(SIMPLEQA.sampling).temperature == 0.0  # the grader stays greedy
    mine = JudgeSampling(max_tokens=8, samples=3, seed=7, repetition_penalty=1.0).resolve(FS1.sampling)
    assert (mine.temperature, mine.max_tokens, mine.samples, mine.seed) == (0.6, 8, 3, 7)
    assert mine.repetition_penalty == 1.0
    with pytest.raises(ValueError, match="not resolved"):
        JudgeSampling().params()


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        (["correct"], "correct"),
        (["incorrect", "correct", "correct"], "correct"),
        (["correct", "incorrect"], "correct"),  # a tie: the earliest sample's verdict
        (["incorrect", "correct"], "incorrect"),
        (["error", "incorrect", "correct", "correct"], "correct"),  # unparseable replies do not vote
        (["error", "error"], "error"),
    ],
)
def test_majority_verdict(verdicts: list[str], expected: str) -> None:
    verdict, reply = majority(verdicts, [f"r{i}" for i in range(len(verdicts))])
    assert verdict == expected and reply == f"r{verdicts.index(expected)}"


def test_unknown_prompt_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown judge prompt 'gpt'"):
        get_prompt("gpt")


@pytest.mark.parametrize(
    ("answer", "gold", "rule", "verdict"),
    [
        ("The Danube", ["Danube River", "Danube"], "exact", VERDICT_CORRECT),
        ("São Paulo", ["Sao Paulo"], "exact", VERDICT_CORRECT),
        ("FeS_2", ["FeS2"], "compact_exact", VERDICT_CORRECT),
        ("I don't know", ["Umberto Eco"], "refusal", VERDICT_NOT_ATTEMPTED),
        ("Unknown", ["Paris"], "refusal", VERDICT_NOT_ATTEMPTED),
        ("No", ["Yes"], "yes_no_mismatch", VERDICT_INCORRECT),
        ("1996", ["1997-05-02", "2 May 1997"], "value_mismatch", VERDICT_INCORRECT),
        ("1997", ["1997-05-02"], "value_mismatch", VERDICT_INCORRECT),  # less specific than the gold date
        ("about 1,637 meters", ["1,642"], "value_mismatch", VERDICT_INCORRECT),
        ("Ronald Reagan", ["George H. W. Bush", "George Bush"], "no_overlap", VERDICT_INCORRECT),
    ],
)
def test_cascade_rules_decide_sure_cases(answer: str, gold: list[str], rule: str, verdict: str) -> None:
    decided = decide(answer, gold)
    assert decided is not None and decided.name == rule and decided.verdict == verdict


@pytest.mark.parametrize(
    ("answer", "gold"),
    [
        ("Columbia", ["Colombia"]),  # a misspelling of the gold
        ("Mexican", ["Mexico"]),  # demonym
        ("Buddhist", ["Buddhism"]),  # word form
        ("26/12/1991", ["1991-12-26"]),  # the same date, numbers reordered
        ("a dozen", ["12"]),  # a word answer to a number
        ("LBJ", ["Lyndon Baines Johnson"]),  # acronym
        ("Paris, France", ["Paris"]),  # containment is for the judge by default (not kept: measured 98%)
        ("It was not won by the Steelers", ["Pittsburgh Steelers"]),
        ("George W. Bush", ["George H. W. Bush"]),  # shares words: for the judge
        ("A long reply sharing no word with the gold at all", ["Paris"]),  # too long to be sure
    ],
)
def test_cascade_rules_abstain_on_unsure_cases(answer: str, gold: list[str]) -> None:
    assert decide(answer, gold) is None


def test_a_hedged_guess_is_an_attempt_not_a_refusal() -> None:
    assert decide("I'm not sure, probably Paris", ["Lyon"]).name == "no_overlap"  # a wrong guess: incorrect
    assert decide("I'm not sure, maybe Lyon", ["Lyon"]) is None  # contains the gold: for the judge


def test_contains_clean_is_a_candidate_that_users_can_opt_into() -> None:
    rules = get_rules(["contains_clean"])
    assert decide("Paris, France", ["Paris"], rules).name == "contains_clean"
    assert decide("Not Paris but Lyon", ["Paris"], rules) is None  # reversal cue
    assert decide("Paris or Lyon", ["Paris"], rules) is None  # hedge
    assert [r.name for r in get_rules()] == [r.name for r in CASCADE_RULES]
    with pytest.raises(ValueError, match="unknown rule"):
        get_rules(["exact", "vibes"])
    assert KEEP_PRECISION >= 0.99


def test_cache_round_trip_survives_a_torn_last_line(tmp_path) -> None:
    path = tmp_path / "cache.jsonl"
    with VerdictCache(path) as cache:
        cache.put(CachedVerdict("k1", VERDICT_CORRECT, "1", "m", "fs1"), prompt_tokens=9, completion_tokens=1)
        cache.put(CachedVerdict("k2", VERDICT_INCORRECT, "0", "m", "fs1"))
    with path.open("a", encoding="utf-8") as fh:  # a crash in the middle of the next append
        fh.write('{"key": "k3", "verdict": "corr')
    reopened = VerdictCache(path)
    assert len(reopened) == 2 and reopened.get("k1").verdict == VERDICT_CORRECT and "k3" not in reopened
    reopened.put(CachedVerdict("k3", VERDICT_INCORRECT, "0", "m", "fs1"))
    reopened.close()
    assert len(VerdictCache(path)) == 3
    assert all(json.loads(line)["key"] for line in path.read_text().splitlines())


CHILD_PUTS = """
import sys
from fs1.judge.cache import CachedVerdict, VerdictCache
print("opening", flush=True)
with VerdictCache(sys.argv[1]) as cache:
    assert cache.get("parent").verdict == "correct", "the other job's verdict was lost"
    cache.put(CachedVerdict("child", "incorrect", "0", "m", "fs1"))
"""


def test_jobs_sharing_a_cache_never_cut_each_others_lines(tmp_path) -> None:
    """The judge stages of several runs append to one cache at the same time on a cluster: a job opening the cache
    while another is half-way through a line must wait for it, not cut it off as a crash's torn tail."""
    import subprocess
    import sys

    from fs1.io import JsonlAppender

    path = tmp_path / "cache.jsonl"
    with VerdictCache(path) as cache:
        cache.put(CachedVerdict("first", VERDICT_CORRECT, "1", "m", "fs1"))
    writer = JsonlAppender(path, shared=True)
    with writer.locked():  # the other job, half-way through its line
        with path.open("a", encoding="utf-8") as fh:
            fh.write('{"key": "parent", "verdict": "correct", ')
            fh.flush()
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD_PUTS, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout.readline().strip() == "opening"
        with pytest.raises(subprocess.TimeoutExpired):
            child.wait(timeout=3)  # it waits for the lock (without one it cuts the half line and appends)
        with path.open("a", encoding="utf-8") as fh:
            fh.write('"reply": "1", "model": "m", "prompt": "fs1"}\n')
    writer.close()
    assert child.wait(timeout=120) == 0
    keys = [json.loads(line)["key"] for line in path.read_text().splitlines()]
    assert keys == ["first", "parent", "child"]


def test_cache_lines_that_cannot_be_trusted_are_skipped_with_a_count_and_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 31 item 7: a line whose verdict is not one its preset gives (an object, null, "banana", another
    preset's grade) or whose fields have the wrong types is skipped, never counted as a verdict."""
    good = {"key": "k1", "verdict": "correct", "reply": "1", "model": "m", "prompt": "fs1"}
    bad = [
        {**good, "key": "k2", "verdict": {"x": 1}},
        {**good, "key": "k3", "verdict": None},
        {**good, "key": "k4", "verdict": "banana"},
        {**good, "key": "k5", "verdict": "not_attempted"},  # a simpleqa grade under the fs1 prompt
        {**good, "key": "k6", "prompt": "vibes"},
        {**good, "key": 7},
        {**good, "key": "k8", "reply": ["1"]},
        {**good, "key": "k9", "prompt_tokens": "12"},
        {**good, "key": "k10", "votes": {"banana": 2}},
        {"key": "k11"},
        ["not", "an", "object"],
    ]
    path = tmp_path / "cache.jsonl"
    lines = [json.dumps(good), *map(json.dumps, bad), "{not json", json.dumps({**good, "key": "k12"})]
    path.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe\n")
    caplog.set_level(logging.WARNING)
    cache = VerdictCache(path)
    assert cache.skipped == len(bad) + 2 and len(cache) == 2
    assert cache.get("k1").verdict == VERDICT_CORRECT and cache.get("k12") is not None
    assert all(f"k{i}" not in cache for i in range(2, 12))
    assert "13 judge cache lines skipped" in caplog.text and "line 2: verdict" in caplog.text
    ok = {
        **good,
        "key": "s1",
        "prompt": "simpleqa",
        "verdict": "not_attempted",
        "votes": {"not_attempted": 2},
    }
    path.write_text(json.dumps(ok) + "\n")
    assert VerdictCache(path).get("s1").verdict == VERDICT_NOT_ATTEMPTED  # valid under its own preset


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_cache_that_is_not_a_regular_file_is_refused_before_reading(device: str) -> None:
    with pytest.raises(InputError, match="must be a regular file"):
        VerdictCache(device)
