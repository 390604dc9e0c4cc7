"""`fs1 import` of the authors' own files, in their five shapes, and the paper's numbers reproduced from them.

Every file here is constructed for the test from the descriptions of their writers (docs/authors.md; their published
predictions on the hub are not reachable from here), written as their code writes it (`json.dumps` with its defaults,
`ensure_ascii=False` for the v1 budget-forcing files). Every expected number is worked out by hand in a comment.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from fs1.authors.config import ImportFormat
from fs1.authors.formats import FORMATS, budget_file, split_request_id
from fs1.cli.main import app
from fs1.records import Question
from tests.support.cli import runner
from tests.support.scripted_openai import Reply, ScriptedOpenAIServer

AUTHORS_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
QUESTION_TAIL = "Is the gold answer entity or value contained in the predicted answer? Respond only with 0 (no) or 1 (yes)."
MODEL_DIR = "Qwen_Qwen2.5-7B-Instruct-16"
JUDGE_DIR = "meta-llama_Llama-3.3-70B-Instruct"

QUESTIONS = [
    Question(ID="ComplexWebQuestions_0", question="Who wrote Tom Sawyer?", main_answers=["Mark Twain"],
             answer_aliases=["Samuel Clemens"], source_of_data="ComplexWebQuestions"),
    Question(ID="SimpleQA_1", question="What is the capital of France?", main_answers=["Paris"],
             source_of_data="SimpleQA"),
    Question(ID="WebQSP_2", question="When did the Berlin Wall fall?", main_answers=["1989"],
             source_of_data="WebQSP"),
]  # fmt: skip
GOLD = {q.ID: [*q.main_answers, *q.answer_aliases] for q in QUESTIONS}


def write_lines(path: Path, rows: Iterable[dict[str, Any]], *, ascii_only: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps(row, ensure_ascii=ascii_only) + "\n" for row in rows), encoding="utf-8"
    )
    return path


def their_judge_prompt(gold: list[str], prediction: str) -> str:
    """prepare_llm_as_a_judge.py's user turn, as their code formats it (json.dumps defaults)."""
    return f"gold answer: {json.dumps(gold)}\npredicted answer: {json.dumps(prediction)}\n\n{QUESTION_TAIL}"


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    return write_lines(tmp_path / "bench.jsonl", (q.to_dict() for q in QUESTIONS))


def run_import(bench: Path, out: Path, *sources: Path | str, extra: Iterable[str] = ()) -> Any:
    return runner.invoke(app, ["import", *map(str, sources), "-b", str(bench), "--out", str(out), *extra])


def flat(output: str) -> str:
    """Console output with its line wrapping undone."""
    return " ".join(output.split())


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --- request ids and file names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_id", "expected"),
    [
        ("ComplexWebQuestions_0-rep-7", ("ComplexWebQuestions_0", 7, None)),
        ("SimpleQA_1", ("SimpleQA_1", 0, None)),  # a single run: the bare ID, sample 0
        (f"WebQSP_2-rep-15${MODEL_DIR}", ("WebQSP_2", 15, MODEL_DIR)),
        ("Mintaka_3-rep-x", ("Mintaka_3-rep-x", 0, None)),  # no index after -rep-: part of the ID
    ],
)
def test_request_ids(request_id: str, expected: tuple[str, int, str | None]) -> None:
    assert split_request_id(request_id) == expected


def test_budgets_come_from_v1_file_names() -> None:
    assert budget_file(Path("budget_force_simplescaling_s1_2048.jsonl")) == ("simplescaling_s1", 2048)
    assert budget_file(Path("out/budget_force_Qwen2.5-7B-fs1_512.jsonl")) == ("Qwen2.5-7B-fs1", 512)
    assert budget_file(Path("output.jsonl")) == ("output", None)  # their no-budget runs: no budget


def test_the_format_option_names_every_shape() -> None:
    assert ImportFormat.__args__ == ("auto", *FORMATS)


# --- v2 outputs: a directory of model folders --------------------------------------------------------------------

# Four samples per question; (reply, correct under fs1's extraction, correct under the authors').
V2_REPLIES = {
    "ComplexWebQuestions_0": [
        ("\\boxed{Mark Twain}", True, True),
        ("I think \\boxed{Charles Dickens}. No: \\boxed{Mark Twain}", True, False),  # first box vs last box
        (
            "The author is Mark Twain.",
            True,
            True,
        ),  # no box, no marker: fs1 the short reply, authors its last 10 tokens
        (
            "\\boxed{\\text{Samuel Clemens}}",
            True,
            True,
        ),  # authors: "\text{Samuel Clemens", still contains the alias
    ],
    "SimpleQA_1": [
        ("\\boxed{Lyon}", False, False),
        (
            "<think>Paris, or \\boxed{Lyon}?</think>\\boxed{Paris}",
            True,
            False,
        ),  # the authors read the thinking's box
        ("\\boxed{Paris}", True, True),
        ("<think>" + "Hmm. " * 30 + "Paris, clearly", False, True),  # cut off in thinking: fs1 no answer
    ],
    "WebQSP_2": [
        ("\\boxed{1989}", True, True),
        ("\\boxed{1990}", False, False),
        ("<think>1989</think><|im_start|>answer\nAnswer: \\boxed{1989}", True, True),
        (
            "The wall fell in 1989.\n" + "And then.\n" * 5 + "It was 1991.",
            False,
            False,
        ),  # its last line / 10 words
    ],
}


def v2_rows(
    replies: dict[str, list[tuple[str, bool, bool]]], extra: Iterable[str] = ()
) -> list[dict[str, Any]]:
    rows = []
    for qid, samples in replies.items():
        for i, (text, _, _) in enumerate(samples):
            prompt = (
                next(q.question for q in QUESTIONS if qid == q.ID) + " Put your final answer in \\boxed{}."
            )
            rows.append({"request_id": f"{qid}-rep-{i}", "prompt": prompt, "generated_text": text})
    rows += [{"request_id": f"{qid}-rep-0", "prompt": "?", "generated_text": "x"} for qid in extra]
    return rows


def test_a_directory_of_model_folders_imports_as_runs(tmp_path: Path, bench: Path) -> None:
    folder = tmp_path / "outputs-parallel"
    write_lines(folder / MODEL_DIR / "outputs.jsonl", v2_rows(V2_REPLIES, extra=["Mintaka_9", "Mintaka_9"]))
    write_lines(
        folder / "Qwen_QwQ-32B-16" / "outputs.jsonl", v2_rows({"SimpleQA_1": V2_REPLIES["SimpleQA_1"]})
    )
    out = tmp_path / "imported"
    result = run_import(bench, out, folder, extra=["--k", "1,2,4"])
    assert result.exit_code == 0, result.output
    preds = read(out / "generate" / MODEL_DIR / "predictions.jsonl")
    assert len(preds) == 12  # 3 questions x 4 samples; the two Mintaka_9 lines are not in the benchmark
    first, sixth = preds[0], preds[5]
    source = folder / MODEL_DIR / "outputs.jsonl"
    assert (first["id"], first["sample"], first["model"], first["budget"], first["text"]) == (
        "ComplexWebQuestions_0", 0, MODEL_DIR, None, "\\boxed{Mark Twain}",
    )  # fmt: skip
    assert (sixth["id"], sixth["sample"], sixth["meta"]) == (
        "SimpleQA_1", 1, {"source": f"{source}:6", "format": "outputs"},
    )  # fmt: skip
    assert (out / "unknown_ids.txt").read_text() == f"Mintaka_9\t{source}:13\n"
    report = json.loads((out / "import.json").read_text())
    assert (report["unknown_ids"], report["unknown_id_lines"]) == (1, 2)
    assert sorted(report["runs"]) == sorted([MODEL_DIR, "Qwen_QwQ-32B-16"])
    # fs1's extraction (the default): correct samples 4, 2, 2 of 4 -> pass@1 = (1 + 1/2 + 1/2) / 3;
    # pass@2 = 1 - C(4-c, 2)/C(4, 2): 1, 1 - 1/6, 1 - 1/6 -> (1 + 5/6 + 5/6) / 3; pass@4 = 1 everywhere
    summary = json.loads((out / "score" / MODEL_DIR / "summary.json").read_text())
    assert summary["extract"] == "fs1"
    assert summary["overall"]["pass@k"] == pytest.approx({"1": 2 / 3, "2": 8 / 9, "4": 1.0}, abs=1e-6)
    qwq = json.loads((out / "score" / "Qwen_QwQ-32B-16" / "summary.json").read_text())
    assert qwq["overall"]["pass@k"]["1"] == 0.5  # SimpleQA_1 alone: 2 of 4


def test_scored_with_the_authors_extraction_by_hand(tmp_path: Path, bench: Path) -> None:
    write_lines(tmp_path / "in" / MODEL_DIR / "outputs.jsonl", v2_rows(V2_REPLIES))
    out = tmp_path / "imported"
    result = run_import(bench, out, tmp_path / "in", extra=["--extract", "authors", "--k", "1,2,4"])
    assert result.exit_code == 0, result.output
    # the authors' extraction: correct samples 3, 2, 2 of 4 -> pass@1 (3/4 + 1/2 + 1/2) / 3 = 7/12;
    # pass@2: 1 - C(1,2)/6 = 1, 1 - C(2,2)/6 = 5/6, 5/6 -> (1 + 5/6 + 5/6) / 3 = 8/9
    summary = json.loads((out / "score" / MODEL_DIR / "summary.json").read_text())
    assert summary["extract"] == "authors"
    assert summary["overall"]["pass@k"] == pytest.approx({"1": 7 / 12, "2": 8 / 9, "4": 1.0}, abs=1e-6)
    by_sample = {
        (s["id"], s["sample"]): s["correct"] for s in read(out / "score" / MODEL_DIR / "scores.jsonl")
    }
    assert by_sample == {
        (q, i): a for q, samples in V2_REPLIES.items() for i, (_, _, a) in enumerate(samples)
    }


# --- v1 budget forcing --------------------------------------------------------------------------------------------

HISTORY = (
    "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n<|im_start|>think\n{think}\n<|im_start|>answer\n{answer}"
)


def v1_row(qid: str, think: str, answer: str) -> dict[str, Any]:
    question = next(q for q in QUESTIONS if qid == q.ID)
    text = HISTORY.format(q=question.question, think=think, answer=answer)
    return {"id": qid, "question": question.question, "answer": text, "source": question.source_of_data}


def test_budget_forcing_files_import_as_one_run_with_budgets(tmp_path: Path, bench: Path) -> None:
    short = [v1_row("ComplexWebQuestions_0", "Maybe \\boxed{Dickens}? Wait,", "Answer: Mark Twain"),
             v1_row("SimpleQA_1", "Capital… Wait, Paris", "Answer: Paris"),
             v1_row("WebQSP_2", "1990 Wait,", "Answer: 1990")]  # fmt: skip
    long = [v1_row("ComplexWebQuestions_0", "Twain wrote it", "Answer: Mark Twain"),
            v1_row("SimpleQA_1", "Lyon? Wait, Paris", "Answer: Lyon"),
            v1_row("WebQSP_2", "In 1989 Wait, yes", "Answer: 1989")]  # fmt: skip
    write_lines(tmp_path / "v1" / "budget_force_s1-qwen_512.jsonl", short, ascii_only=False)
    write_lines(tmp_path / "v1" / "budget_force_s1-qwen_1024.jsonl", long, ascii_only=False)
    out = tmp_path / "imported"
    result = run_import(bench, out, tmp_path / "v1", extra=["--extract", "authors", "--k", "1"])
    assert result.exit_code == 0, result.output
    preds = read(out / "generate" / "s1-qwen" / "predictions.jsonl")
    assert [(p["id"], p["sample"], p["budget"]) for p in preds[:2]] == [
        ("ComplexWebQuestions_0", 0, 1024), ("SimpleQA_1", 0, 1024),  # sorted file names: 1024 before 512
    ]  # fmt: skip
    assert (
        preds[4]["text"] == short[1]["answer"] and "Capital…" in preds[4]["text"]
    )  # the whole history, UTF-8
    assert json.loads((out / "generate" / "s1-qwen" / "run.json").read_text())["budgets"] == [512, 1024]
    summary = json.loads((out / "score" / "s1-qwen" / "summary.json").read_text())
    # authors' rule: budget 512 -> CWQ's thinking box "Dickens" (wrong), Paris right, 1990 wrong: 1/3;
    # budget 1024 -> Twain right, Lyon wrong, 1989 right: 2/3 (the text after the answer marker, no box)
    assert summary["by_budget"]["512"]["overall"]["pass@k"] == {"1": pytest.approx(1 / 3, abs=1e-6)}
    assert summary["by_budget"]["1024"]["overall"]["pass@k"] == {"1": pytest.approx(2 / 3, abs=1e-6)}


# --- vLLM batch-runner output ------------------------------------------------------------------------------------


def batch_line(
    custom_id: str, content: str | None, *, status: int = 200, error: Any = None
) -> dict[str, Any]:
    body = {
        "id": "cmpl-1",
        "object": "chat.completion",
        "model": "Qwen/Qwen2.5-7B-Instruct",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
    }
    return {"id": f"vllm-{custom_id}", "custom_id": custom_id,
            "response": {"status_code": status, "request_id": f"vllm-batch-{custom_id}", "body": body},
            "error": error}  # fmt: skip


def test_batch_runner_output_imports_and_counts_failed_requests(tmp_path: Path, bench: Path) -> None:
    lines = [
        batch_line("ComplexWebQuestions_0-rep-0", "\\boxed{Mark Twain}"),
        batch_line("ComplexWebQuestions_0-rep-1", "\\boxed{Jane Austen}"),
        batch_line("SimpleQA_1-rep-0", None, status=500),
        batch_line("SimpleQA_1-rep-1", None, error={"code": "timeout", "message": "deadline"}),
    ]
    path = write_lines(tmp_path / "batch_results.jsonl", lines)
    out = tmp_path / "imported"
    result = run_import(bench, out, path, extra=["--k", "1"])
    assert result.exit_code == 0, result.output
    run = "Qwen_Qwen2.5-7B-Instruct"  # the body's model, named as the authors name folders
    preds = read(out / "generate" / run / "predictions.jsonl")
    assert [(p["id"], p["sample"], p["text"], p["model"]) for p in preds] == [
        ("ComplexWebQuestions_0", 0, "\\boxed{Mark Twain}", "Qwen/Qwen2.5-7B-Instruct"),
        ("ComplexWebQuestions_0", 1, "\\boxed{Jane Austen}", "Qwen/Qwen2.5-7B-Instruct"),
    ]
    report = json.loads((out / "import.json").read_text())
    assert report["problems"] == {"failed_request": 2}
    assert report["examples"]["failed_request"][0] == f"{path}:3 (status 500)"
    assert "2 failed request(s), left out" in flat(result.output)
    # one question with 2 samples, 1 right
    assert json.loads((out / "score" / run / "summary.json").read_text())["overall"]["pass@k"] == {"1": 0.5}


# --- the authors' judge files --------------------------------------------------------------------------------------

# (question, sample, the answer their extraction handed the judge, the judge's reply)
JUDGED = [
    ("ComplexWebQuestions_0", 0, "Mark Twain", "1"),
    ("ComplexWebQuestions_0", 1, "Charles Dickens", "0"),
    ("ComplexWebQuestions_0", 2, "The author is Mark Twain.", "1"),
    ("ComplexWebQuestions_0", 3, "\\text{Samuel Clemens", "1"),
    ("SimpleQA_1", 0, "Lyon", "0"),
    ("SimpleQA_1", 1, "Lyon", "0"),
    ("SimpleQA_1", 2, "Paris", "1."),  # read as 1
    ("SimpleQA_1", 3, "Hmm. Hmm. Hmm. Hmm. Hmm. Hmm. Hmm. Hmm. Hmm. Paris, clearly", "1"),
    ("WebQSP_2", 0, "1989", "1"),
    ("WebQSP_2", 1, "1990", "0"),
    ("WebQSP_2", 2, "\nAnswer: \\boxed{1989}", "1"),  # (their extraction would box it; the judge saw this)
    ("WebQSP_2", 3, "and then, and then, and then, and then, and then, it was 1991", "Yes"),  # unparseable
]


def judge_rows(judged: list[tuple[str, int, str, str]], *, replies: bool) -> list[dict[str, Any]]:
    rows = []
    for qid, sample, answer, reply in judged:
        row = {
            "request_id": f"{qid}-rep-{sample}${MODEL_DIR}",
            "prompt": their_judge_prompt(GOLD[qid], answer),
        }
        rows.append({**row, "generated_text": reply} if replies else row)
    return rows


def test_judge_outputs_import_as_verdicts_with_pass_at_k(tmp_path: Path, bench: Path) -> None:
    path = write_lines(tmp_path / "evals" / JUDGE_DIR / "outputs.jsonl", judge_rows(JUDGED, replies=True))
    out = tmp_path / "imported"
    result = run_import(bench, out, path, extra=["--k", "1,2,4"])
    assert result.exit_code == 0, result.output
    judged = json.loads((out / "judge" / MODEL_DIR / "judged_summary.json").read_text())
    # verdicts: CWQ 3 of 4, SimpleQA 2 of 4 ("1." counts), WebQSP 2 of 4 ("Yes" is an error verdict, not correct)
    # pass@1 = (3/4 + 2/4 + 2/4) / 3 = 7/12; pass@2 = (1 - 0/6 + 1 - 1/6 + 1 - 1/6) / 3 = 8/9; pass@4 = 1
    assert judged["overall"]["pass@k"] == pytest.approx({"1": 7 / 12, "2": 8 / 9, "4": 1.0}, abs=1e-6)
    assert judged["by_source"]["SimpleQA"]["pass@k"]["1"] == 0.5
    assert (judged["errors"], judged["verdicts"]) == (1, {"correct": 7, "error": 1, "incorrect": 4})
    assert judged["error_examples"] == ["Yes"] and judged["extract"] == "authors"
    assert (judged["judge"]["model"], judged["judge"]["prompt"]) == (JUDGE_DIR, "fs1")
    assert judged["judge"]["engine"]["described"] is False  # the files do not say which engine judged
    rows = read(out / "judge" / MODEL_DIR / "judged.jsonl")
    assert rows[3] == {"id": "ComplexWebQuestions_0", "sample": 3, "budget": None, "extracted": "\\text{Samuel Clemens",
                       "verdict": "correct", "correct": True, "attempted": True, "decided_by": "imported",
                       "judge_reply": "1", "exact": False, "f1": pytest.approx(0.8)}  # fmt: skip
    # the answers their judge saw, rule-matched into score/: fs1 score's view of the same answers
    scored = json.loads((out / "score" / MODEL_DIR / "summary.json").read_text())
    assert (
        scored["extract"] == "authors"
    )  # CWQ 3/4 (not Dickens), SimpleQA 2/4, WebQSP 2/4 ("\nAnswer: \boxed{1989}")
    assert scored["overall"]["pass@k"]["1"] == pytest.approx(7 / 12, abs=1e-6)


def test_a_gold_list_that_differs_from_the_benchmark_is_counted(tmp_path: Path, bench: Path) -> None:
    rows = judge_rows(JUDGED[:1], replies=False)
    rows[0]["prompt"] = their_judge_prompt(["Mark Twain"], "Mark Twain")  # the alias missing
    path = write_lines(tmp_path / "evals" / "_part_1.jsonl", rows)
    result = run_import(bench, tmp_path / "imported", path)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "imported" / "import.json").read_text())
    assert report["problems"] == {"gold_differs": 1} and report["files"][0]["format"] == "judge-prompts"


def test_their_prompts_and_their_judges_outputs_import_together(tmp_path: Path, bench: Path) -> None:
    evals = (
        tmp_path / "evals"
    )  # as their scripts leave it: the prompts (_part_1.jsonl) beside the judge's folder
    write_lines(evals / "_part_1.jsonl", judge_rows(JUDGED, replies=False))
    write_lines(evals / JUDGE_DIR / "outputs.jsonl", judge_rows(JUDGED, replies=True))
    write_lines(
        evals / "again" / "_part_1.jsonl", judge_rows(JUDGED[:2], replies=False)
    )  # the same prompts twice
    out = tmp_path / "imported"
    result = run_import(bench, out, evals, extra=["--k", "1"])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "import.json").read_text())
    assert [f["format"] for f in report["files"]] == ["judge-prompts", "judge-prompts", "judge-outputs"]
    assert report["problems"] == {"duplicate": 2}  # only the repeated prompt file's two lines
    assert (report["runs"][MODEL_DIR]["judge_answers"], report["runs"][MODEL_DIR]["verdicts"]) == (12, 12)
    assert len(read(out / "score" / MODEL_DIR / "scores.jsonl")) == 12


def test_judge_prompts_are_asked_again_with_their_exact_request(tmp_path: Path, bench: Path) -> None:
    prompts = judge_rows(JUDGED, replies=False)
    path = write_lines(tmp_path / "evals" / "_part_1.jsonl", prompts)
    out = tmp_path / "imported"
    assert run_import(bench, out, path, extra=["--k", "1"]).exit_code == 0
    seen: list[list[dict[str, str]]] = []

    def respond(endpoint: str, body: dict[str, Any]) -> Reply:
        seen.append(body["messages"])
        return Reply(text="1")

    with ScriptedOpenAIServer(respond, owned_by="vllm") as server:
        result = runner.invoke(app, ["judge", str(out / "score" / MODEL_DIR), "-b", str(bench), "--out",
                                     str(out / "judge" / MODEL_DIR), "--judge", server.model, "--base-url",
                                     server.base_url, "--mode", "all", "--k", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    # each distinct answer of a question once ("Lyon" twice for SimpleQA_1: asked once); the user turns are their
    # prompts, character for character, after their system message
    expected = {row["prompt"] for row in prompts}
    assert {m[1]["content"] for m in seen} == expected and len(seen) == len(expected) == 11
    assert {m[0]["content"] for m in seen} == {AUTHORS_SYSTEM}


# --- the paper's numbers from their files: the done-when -----------------------------------------------------------

# A held-out set: one student's outputs and their judge's verdicts on them. pass@k by hand from their own method:
# their extraction (first box anywhere, else the text after the first answer marker, else the last 10 tokens), their
# judge's verdicts per sample, the unbiased estimator over each question's samples.
HELD_OUT = {  # question -> [(reply, the answer their extraction gives, their judge's reply)]
    "ComplexWebQuestions_0": [
        ("\\boxed{Mark Twain}", "Mark Twain", "1"),
        ("<think>Dickens? \\boxed{Charles Dickens}</think>\\boxed{Mark Twain}", "Charles Dickens", "0"),
        (
            "Written by Samuel Clemens, pen name Mark Twain, in 1876 it says here",
            "Clemens, pen name Mark Twain, in 1876 it says here",
            "1",
        ),  # fmt: skip
    ],
    "SimpleQA_1": [
        ("\\boxed{Paris }", "Paris", "1"),
        ("<|im_start|>think\nLyon?<|im_start|>answer\nAnswer: Lyon", "\nAnswer: Lyon", "0"),
        ("\\boxed{\\text{Paris} (France)}", "\\text{Paris", "1"),
    ],
    "WebQSP_2": [
        ("\\boxed{1990}", "1990", "0"),
        ("\\boxed{1990} no, \\boxed{1989}", "1990", "0"),
        ("Ich glaube \\boxed{1989 – im November}", "1989 – im November", "1"),
    ],
}


def test_the_papers_numbers_from_their_files(tmp_path: Path, bench: Path) -> None:
    rows = [{"request_id": f"{qid}-rep-{i}", "prompt": "…", "generated_text": reply}
            for qid, samples in HELD_OUT.items() for i, (reply, _, _) in enumerate(samples)]  # fmt: skip
    write_lines(tmp_path / "held_out" / MODEL_DIR / "outputs.jsonl", rows)
    verdicts = [
        (qid, i, answer, reply) for qid, s in HELD_OUT.items() for i, (_, answer, reply) in enumerate(s)
    ]
    write_lines(tmp_path / "held_out" / JUDGE_DIR / "outputs.jsonl", judge_rows(verdicts, replies=True))
    out = tmp_path / "run"
    result = run_import(bench, out, tmp_path / "held_out", extra=["--extract", "authors", "--k", "1,2,3"])
    assert result.exit_code == 0, result.output
    # Their verdicts: CWQ 2 of 3, SimpleQA 2 of 3, WebQSP 1 of 3.
    # pass@1 = (2/3 + 2/3 + 1/3) / 3 = 5/9; pass@2 = 1 - C(3-c, 2)/C(3, 2): c=2 -> 1, c=1 -> 1 - 1/3 = 2/3,
    # so (1 + 1 + 2/3) / 3 = 8/9; pass@3 = 1.
    by_hand = {"1": 5 / 9, "2": 8 / 9, "3": 1.0}
    imported = json.loads((out / "judge" / MODEL_DIR / "judged_summary.json").read_text())
    assert imported["overall"]["pass@k"] == pytest.approx(by_hand, abs=1e-6)
    # fs1 judges the imported predictions again: the authors' extraction and their judge's call. A server that
    # answers each request with their judge's reply to the same user turn gives their numbers back.
    replies = {their_judge_prompt(GOLD[qid], answer): reply for qid, _, answer, reply in verdicts}
    sent: list[dict[str, Any]] = []

    def their_judge(endpoint: str, body: dict[str, Any]) -> Reply:
        sent.append(body)
        return Reply(text=replies[body["messages"][1]["content"]])  # KeyError: not their request

    with ScriptedOpenAIServer(their_judge, owned_by="vllm") as server:
        result = runner.invoke(app, ["judge", str(out / "score" / MODEL_DIR), "-b", str(bench), "--out",
                                     str(tmp_path / "rejudged"), "--judge", server.model, "--base-url",
                                     server.base_url, "--prompt", "fs1", "--mode", "all", "--extract", "authors",
                                     "--k", "1,2,3"])  # fmt: skip
    assert result.exit_code == 0, result.output
    # 8 requests: WebQSP_2's two "1990" are one request (the same text), as every distinct text is asked once
    assert len(sent) == 8 and all(b["messages"][0]["content"] == AUTHORS_SYSTEM for b in sent)
    assert {
        (b["temperature"], b["top_p"], b["top_k"], b["repetition_penalty"], b["max_tokens"]) for b in sent
    } == {(0.6, 0.9, 20, 1.05, 5)}
    rejudged = json.loads((tmp_path / "rejudged" / "judged_summary.json").read_text())
    assert rejudged["overall"]["pass@k"] == pytest.approx(by_hand, abs=1e-6)
    for source, stats in imported["by_source"].items():
        assert rejudged["by_source"][source]["pass@k"] == pytest.approx(stats["pass@k"], abs=1e-6), source
    # and fs1's own extraction on the same predictions, for the side-by-side
    report = runner.invoke(app, ["report", str(out)])
    assert report.exit_code == 0, report.output
    compared = runner.invoke(app, ["compare", str(out / "score" / MODEL_DIR), str(out / "judge" / MODEL_DIR)])
    assert compared.exit_code == 0 and "pass@k, A | B" in compared.output


# --- bad input ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ('{"request_id": "SimpleQA_1-rep-0", "generated_text": "x"}\n{"request_id": 5, "generated_text": "y"}\n',
         r"data\.jsonl:2: field request_id: expected a string, found int \(read as the outputs shape\)"),
        ('{"request_id": "SimpleQA_1-rep-0", "generated_text": "x"}\nnot json\n', r"data\.jsonl:2: malformed JSON"),
        ('{"question": "Q?"}\n', r"data\.jsonl:1: not one of the authors' shapes \(keys question\)"),
        (f'{{"request_id": "SimpleQA_1-rep-0${MODEL_DIR}", "prompt": "Is it?"}}\n',
         r"data\.jsonl:1: field prompt: expected .* \(read as the judge-prompts shape\)"),
    ],
)  # fmt: skip
def test_a_bad_line_is_one_line_naming_file_and_line(
    tmp_path: Path, bench: Path, lines: str, message: str
) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text(lines)
    result = run_import(bench, tmp_path / "out", path)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.count("error:") == 1
    assert re.search(message, flat(result.output)), result.output


def test_fs1_score_on_their_file_names_fs1_import(tmp_path: Path, bench: Path) -> None:
    path = write_lines(
        tmp_path / MODEL_DIR / "outputs.jsonl", v2_rows({"SimpleQA_1": V2_REPLIES["SimpleQA_1"]})
    )
    result = runner.invoke(app, ["score", str(path), "-b", str(bench), "--out", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert (
        f"{path}:1: missing field(s) id, sample, text (one of the authors' files? `fs1 import` reads them"
        in flat(result.output)
    )


def test_strict_stops_at_an_unknown_id_and_out_is_guarded(tmp_path: Path, bench: Path) -> None:
    path = write_lines(tmp_path / MODEL_DIR / "outputs.jsonl", v2_rows({}, extra=["Mintaka_9"]))
    result = run_import(bench, tmp_path / "out", path, extra=["--strict"])
    assert result.exit_code == 2
    assert f"{path}:1: question ID 'Mintaka_9' is not in the benchmark" in flat(result.output)
    assert not (tmp_path / "out" / "generate").exists()  # nothing half-written
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    refused = run_import(bench, tmp_path / "mine", path)
    assert refused.exit_code == 2 and "not an earlier `fs1 import` output" in flat(refused.output)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_a_forced_format_reads_every_file_as_it(tmp_path: Path, bench: Path) -> None:
    path = write_lines(tmp_path / "x.jsonl", [batch_line("SimpleQA_1-rep-0", "\\boxed{Paris}")])
    result = run_import(bench, tmp_path / "out", path, extra=["--format", "outputs"])
    assert result.exit_code == 2
    assert (
        "x.jsonl:1: field request_id: expected a string, found missing (read as the outputs shape)"
        in flat(result.output)
    )


def test_a_dataset_file_with_older_ids_and_skipped_records_imports_each_question_once(tmp_path: Path) -> None:
    """SimpleQA's own file: each question also answers to its older row ID (``question_index``), and one record has
    no gold (skipped by the loader). The run's benchmark copy holds each question once, with the skipped record in its
    side file; a prediction of the skipped record is imported and scored as excluded (not unknown), its judge line is
    left out, both counted; scoring against the copy gives the bytes scoring against the dataset's file gives."""
    from fs1.data import EXCLUDED_SKIPPED, load_for_scoring
    from fs1.data.common import NO_GOLD
    from tests.data.test_edge_cases import EDGE

    dataset = EDGE / "simple_qa_test_set.edge.csv"
    bench = load_for_scoring(dataset)
    own = sorted({q.ID for q in bench.questions.values()})
    (skipped,) = bench.skipped
    assert len(bench.questions) > len(own)  # (older row IDs in the index: what was written twice before)
    rows = [
        {"request_id": f"{qid}-rep-{sample}", "prompt": "?", "generated_text": f"\\boxed{{guess {sample}}}"}
        for qid in [*own, skipped, "simpleqa-unknown"]
        for sample in range(2)
    ]
    outputs = write_lines(tmp_path / MODEL_DIR / "outputs.jsonl", rows)
    judged = [{"request_id": f"{skipped}-rep-0${MODEL_DIR}", "prompt": their_judge_prompt([], "guess 0")}]
    judge_file = write_lines(tmp_path / "evals" / "_part_1.jsonl", judged)
    out = tmp_path / "imported"
    result = runner.invoke(
        app, ["import", str(outputs), str(judge_file), "-b", str(dataset), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    copy = out / "benchmark" / "questions.jsonl"
    assert sorted(row["ID"] for row in read(copy)) == own  # each once
    assert read(out / "benchmark" / "questions.skipped.jsonl") == [{"id": skipped, "reason": NO_GOLD}]
    report = json.loads((out / "import.json").read_text())
    assert (report["unknown_ids"], report["unknown_id_lines"], report["skipped_record_lines"]) == (1, 2, 3)
    assert (out / "unknown_ids.txt").read_text().startswith("simpleqa-unknown\t")
    predictions = read(out / "generate" / MODEL_DIR / "predictions.jsonl")
    assert [p["id"] for p in predictions].count(skipped) == 2
    assert not (out / "score" / "meta-llama_Llama-3.3-70B-Instruct").exists()  # the judge line: left out
    summary = json.loads((out / "score" / MODEL_DIR / "summary.json").read_text())
    assert summary["excluded"]["ids"][-1] == skipped
    assert summary["excluded"]["reasons"][EXCLUDED_SKIPPED.format(reason=NO_GOLD)] == 1
    assert summary["benchmark_questions"] == len(own) + 1
    scored = {}
    for name, benchmark in (("copy", copy), ("dataset", dataset)):
        args = ["score", str(out / "generate" / MODEL_DIR / "predictions.jsonl"), "-b", str(benchmark)]
        done = runner.invoke(app, [*args, "--k", "1,2", "--out", str(tmp_path / name)])
        assert done.exit_code == 0, done.output
        scored[name] = [(tmp_path / name / f).read_bytes() for f in ("scores.jsonl", "summary.json")]
    assert scored["copy"] == scored["dataset"]
