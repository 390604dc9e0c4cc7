"""`--extract authors|fs1`: the authors' extraction rule (their prepare_llm_as_a_judge.py, docs/protocol.md §4) on
replies constructed for these tests, its use by `fs1 score` (in one process and in workers), `fs1 judge` and the
experiment file, and `fs1 compare` of the two extractions side by side. Every expected value is worked out by hand."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from fs1.cli.main import app
from fs1.records import Prediction, Question
from fs1.scoring import batches
from fs1.scoring.extract import VIA_BOX, VIA_MARKER, VIA_NONE, VIA_TAIL, extract_answer, extract_authors
from fs1.scoring.score import score_file, score_predictions
from tests.support.cli import runner


@pytest.mark.parametrize(
    ("reply", "answer", "via"),
    [
        # the first box wins over a later one, even inside the thinking
        ("\\boxed{Lyon} on second thought \\boxed{Paris}", "Lyon", VIA_BOX),
        ("<think>maybe \\boxed{ Lyon }</think>The answer is \\boxed{Paris}.", "Lyon", VIA_BOX),
        # no nested braces: \text{...} is cut at its first "}"
        ("So \\boxed{\\text{New York} City}", "\\text{New York", VIA_BOX),
        # an empty first box (the echoed instruction) is their answer: nothing, so no answer here
        ("Put your final answer in \\boxed{}. Then \\boxed{Paris}", None, VIA_NONE),
        # no box: the text after the first answer marker up to the next one, not stripped
        ("<|im_start|>think\nhmm<|im_start|>answer\nAnswer: Paris", "\nAnswer: Paris", VIA_MARKER),
        ("a<|im_start|>answer X <|im_start|>answer Y", " X ", VIA_MARKER),
        # else the last 10 whitespace tokens, joined by one space
        (
            "one two  three\nfour five six seven eight nine ten eleven twelve\n",
            "three four five six seven eight nine ten eleven twelve",
            VIA_TAIL,
        ),  # fmt: skip
        ("  just\tthree words ", "just three words", VIA_TAIL),
        ("", None, VIA_NONE),
    ],
)
def test_the_authors_rule_by_hand(reply: str, answer: str | None, via: str) -> None:
    found = extract_authors(reply)
    assert (found.answer, found.via) == (answer, via)


def test_the_tail_is_their_split_and_join() -> None:
    rng = random.Random(0)
    pieces = ["a", "bb", " ", "  ", "\n", "\t", "ccc", "d\u00e9"]
    for _ in range(500):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 40)))
        expected = " ".join(text.split()[-10:]).strip()
        assert extract_authors(text).answer == (expected or None)


def test_the_benchmark_baseline_extracts_as_the_authors_do() -> None:
    """bench_scoring.py times fs1 against the authors' loop: its extraction must be theirs."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    try:
        from reference_scoring import reference_extract
    finally:
        sys.path.pop(0)
    rng = random.Random(1)
    pieces = ["\\boxed{", "}", "{", "Paris", " ", "\n", "<|im_start|>answer", "<think>", "</think>", "x y"]
    for _ in range(2000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 20)))
        # fs1 strips a box's answer and reads a blank one as no answer; the loop keeps it as it is
        assert (extract_authors(text).answer or "").strip() == reference_extract(text).strip(), text


def test_fs1_and_authors_read_different_boxes() -> None:
    reply = "<think>first guess \\boxed{Lyon}</think>\\boxed{Paris}"
    assert extract_answer(reply) == "Paris"  # fs1: the last box after the thinking
    assert extract_authors(reply).answer == "Lyon"  # authors: the first box anywhere


QUESTIONS = {
    "Q1": Question(ID="Q1", question="Capital of France?", main_answers=["Paris"], source_of_data="SimpleQA"),
    "Q2": Question(ID="Q2", question="Largest US city?", main_answers=["New York City"],
                   answer_aliases=["New York"], source_of_data="WebQSP"),
}  # fmt: skip
# Q1: sample 0 thinks "Lyon" then answers Paris (fs1 right, authors wrong); sample 1 boxes Paris only (both right).
# Q2: sample 0 boxes \text{New York} City (authors: "\text{New York" -> normalised "new york", right; fs1 right);
#     sample 1 is a cut-off reply with no box and no marker (fs1: no answer; authors: last 10 tokens, which end with
#     "New York": right).
REPLIES = [
    ("Q1", 0, "<think>Is it \\boxed{Lyon}? No.</think>The capital is \\boxed{Paris}."),
    ("Q1", 1, "\\boxed{Paris}"),
    ("Q2", 0, "\\boxed{\\text{New York} City}"),
    ("Q2", 1, "<think>" + "filler " * 5000 + "the biggest city is New York"),
]


def predictions() -> list[Prediction]:
    return [Prediction(id=q, sample=s, text=t, finish_reason="length" if s == 1 and q == "Q2" else "stop")
            for q, s, t in REPLIES]  # fmt: skip


def write_predictions(path: Path) -> Path:
    path.write_text("".join(json.dumps(p.to_dict()) + "\n" for p in predictions()))
    return path


def test_score_predictions_under_each_rule_by_hand() -> None:
    fs1_scores, fs1_summary = score_predictions(predictions(), QUESTIONS, [1, 2])
    authors_scores, authors_summary = score_predictions(predictions(), QUESTIONS, [1, 2], extract="authors")
    assert [s.extracted for s in fs1_scores] == ["Paris", "Paris", "New York City", None]
    assert [s.correct for s in fs1_scores] == [True, True, True, False]
    assert [s.extracted for s in authors_scores] == [
        "Lyon", "Paris", "\\text{New York", "filler filler filler filler the biggest city is New York",
    ]  # fmt: skip
    assert [s.correct for s in authors_scores] == [False, True, True, True]
    # pass@1 = mean over questions of c/n: fs1 (2/2 + 1/2) / 2; authors (1/2 + 2/2) / 2; pass@2 = 1 for both
    assert fs1_summary["overall"]["pass@k"] == {"1": 0.75, "2": 1.0}
    assert authors_summary["overall"]["pass@k"] == {"1": 0.75, "2": 1.0}
    assert (fs1_summary["extract"], authors_summary["extract"]) == ("fs1", "authors")
    assert authors_summary["by_source"]["SimpleQA"]["pass@k"]["1"] == 0.5


@pytest.mark.parametrize("workers", [1, 2])
def test_score_file_reads_the_whole_reply_in_authors_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    # Many copies of the file's lines across small ranges: the worker path gets the rule too, and a box at the very
    # start of a long reply is found (the authors' rule scans it all).
    monkeypatch.setattr(batches, "RANGE_BYTES", 4096)
    long_reply = "\\boxed{Lyon} " + "word " * 3000 + "\\boxed{Paris}"
    rows = [Prediction(id="Q1", sample=s, text=long_reply).to_dict() for s in range(6)]
    path = tmp_path / "preds.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = score_file(path, QUESTIONS, tmp_path / "out", [1], workers=workers, extract="authors")
    scored = [json.loads(line) for line in (tmp_path / "out" / "scores.jsonl").read_text().splitlines()]
    assert {(s["extracted"], s["correct"], s["meta"]["via"]) for s in scored} == {("Lyon", False, "boxed")}
    assert summary["overall"]["pass@k"] == {"1": 0.0} and summary["extract"] == "authors"


def _score(tmp_path: Path, bench: Path, preds: Path, extract: str) -> Path:
    out = tmp_path / f"score-{extract}"
    result = runner.invoke(app, ["score", str(preds), "-b", str(bench), "--out", str(out), "--k", "1,2",
                                 "--extract", extract, "--workers", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    path = tmp_path / "bench.jsonl"
    path.write_text("".join(json.dumps(q.to_dict()) + "\n" for q in QUESTIONS.values()))
    return path


def test_score_cli_records_the_rule_and_compare_shows_both_side_by_side(tmp_path: Path, bench: Path) -> None:
    preds = write_predictions(tmp_path / "preds.jsonl")
    fs1_dir, authors_dir = _score(tmp_path, bench, preds, "fs1"), _score(tmp_path, bench, preds, "authors")
    assert json.loads((authors_dir / "summary.json").read_text())["extract"] == "authors"
    out = tmp_path / "cmp.json"
    result = runner.invoke(
        app, ["compare", str(fs1_dir), str(authors_dir), "-b", str(bench), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "(fs1 extraction)" in result.output and "(authors extraction)" in result.output
    report = json.loads(out.read_text())
    # per dataset: SimpleQA (Q1) fs1 2/2 -> pass@1 1.0, authors 1/2 -> 0.5 and pass@2 1.0; WebQSP (Q2) fs1 1/2,
    # authors 2/2
    assert report["pass@k"]["a"] == {"overall": {"1": 0.75, "2": 1.0}, "SimpleQA": {"1": 1.0, "2": 1.0},
                                     "WebQSP": {"1": 0.5, "2": 1.0}}  # fmt: skip
    assert report["pass@k"]["b"] == {"overall": {"1": 0.75, "2": 1.0}, "SimpleQA": {"1": 0.5, "2": 1.0},
                                     "WebQSP": {"1": 1.0, "2": 1.0}}  # fmt: skip
    # Q1 sample 0 right only under fs1, Q2 sample 1 right only under the authors' rule
    assert report["verdict_flips"] == {"shared": 4, "same": 2, "a_only": 1, "b_only": 1, "only_in_a": 0,
                                       "only_in_b": 0}  # fmt: skip
    assert report["extract"] == {"a": "fs1", "b": "authors"}
    assert "2 flip (1 correct only in A, 1 only in B)" in result.output


def _judge(tmp_path: Path, scored: Path, bench: Path, server: Any, *extra: str, out: str = "judged") -> Any:
    return runner.invoke(app, ["judge", str(scored), "-b", str(bench), "--out", str(tmp_path / out),
                               "--judge", server.model, "--base-url", server.base_url, "--mode", "all",
                               "--max-retries", "0", "--k", "1", *extra])  # fmt: skip


def test_judge_follows_the_scores_rule_and_refuses_another(tmp_path: Path, bench: Path) -> None:
    from tests.support.scripted_openai import Reply, ScriptedOpenAIServer

    preds = write_predictions(tmp_path / "preds.jsonl")
    authors_dir = _score(tmp_path, bench, preds, "authors")
    shown: list[str] = []

    def respond(endpoint: str, body: dict[str, Any]) -> Reply:
        user = body["messages"][-1]["content"]
        shown.append(json.loads(user.split("predicted answer: ", 1)[1].split("\n", 1)[0]))
        return Reply(text="1")

    with ScriptedOpenAIServer(respond, owned_by="vllm") as server:
        refused = _judge(tmp_path, authors_dir, bench, server, "--extract", "fs1")
        assert refused.exit_code == 2 and "extracted by the authors rule, not fs1" in refused.output
        result = _judge(tmp_path, authors_dir, bench, server)
    assert result.exit_code == 0, result.output
    assert sorted(shown) == sorted(["Lyon", "Paris", "\\text{New York",
                                    "filler filler filler filler the biggest city is New York"])  # fmt: skip
    summary = json.loads((tmp_path / "judged" / "judged_summary.json").read_text())
    assert summary["extract"] == summary["judge"]["extract"] == "authors"


def test_judge_in_authors_mode_asks_each_exact_text(tmp_path: Path, bench: Path) -> None:
    from tests.support.scripted_openai import Reply, ScriptedOpenAIServer

    # "Paris" and "paris." normalise alike: fs1 asks once, the authors' rule twice (each run its own verdict cache)
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps(Prediction(id="Q1", sample=s, text=t).to_dict()) + "\n"
                             for s, t in enumerate(["\\boxed{Paris}", "\\boxed{paris.}"])))  # fmt: skip
    for extract, asked in (("fs1", 1), ("authors", 2)):
        with ScriptedOpenAIServer(lambda endpoint, body: Reply(text="1"), owned_by="vllm") as server:
            result = _judge(tmp_path, preds, bench, server, "--extract", extract, out=extract)
        assert result.exit_code == 0, result.output
        assert len(server.requests) == asked, extract
