"""Held-out edge cases of the six datasets (issue #27, #31 item 8): records written for these tests in each dataset's
published shape (``tests/fixtures/edge_cases/``, following ``../shared/data/real_formats``), and predictions that
carry the verdict a person reading them expects (``meta.expect``: correct, wrong or excluded; ``meta.why``).

Scoring them must give exactly those verdicts, count and name the excluded and the unpredicted questions, and give
the same bytes whether the benchmark is the dataset's own file or its ``fs1 data convert`` output (with its side
file of skipped records: predictions of those are excluded either way, ``tests/scoring/test_skipped_records.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fs1.cli.main import app
from fs1.data import (
    EXCLUDED_IDS_ONLY,
    convert,
    load_for_scoring,
    load_questions,
    question_index,
    read_dataset,
)
from fs1.io import read_records
from fs1.records import Prediction, Score
from fs1.scoring import score_file
from tests.support.cli import runner

EDGE = Path(__file__).parents[1] / "fixtures" / "edge_cases"

# dataset file → (questions loaded, IDs skipped for no gold answer, IDs without predictions), counted by hand
DATASETS = {
    "TimeQuestions_edge.json": (8, ["90009"], []),
    "WebQSP_edge.json": (5, ["WebQTest-E5"], []),
    "ComplexWebQuestions_test.chatkbqa_edge.json": (4, ["WebQTrn-3003_edge0005"], ["WebQTrn-3002_edge0004"]),
    "mintaka_edge.json": (8, ["e0000008"], []),
    "grailqa_v1.0_dev_edge.json": (3, [], []),
    "simple_qa_test_set.edge.csv": (4, ["simpleqa-fd7b5017a927"], []),
}


def predictions_of(name: str) -> Path:
    return EDGE / (name.rsplit(".", 1)[0] + ".predictions.jsonl")


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_edge_records_load_as_expected(name: str) -> None:
    loaded = read_dataset(EDGE / name)
    count, skipped, _ = DATASETS[name]
    assert len(loaded.questions) == count
    assert loaded.skipped_ids == skipped


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_edge_records_score_as_a_person_reading_them_expects(tmp_path: Path, name: str) -> None:
    questions = question_index(load_questions(EDGE / name))
    predictions = read_records(predictions_of(name), Prediction)
    summary = score_file(predictions_of(name), questions, tmp_path, ks=[1])
    scores = read_records(tmp_path / "scores.jsonl", Score)
    for prediction, score in zip(predictions, scores, strict=True):
        expect, why = prediction.meta["expect"], prediction.meta["why"]
        where = f"{prediction.id} sample {prediction.sample} ({why}): extracted {score.extracted!r}"
        if expect == "excluded":
            assert score.match == "excluded" and not score.correct, where
        else:
            assert score.correct == (expect == "correct"), where
            assert score.match != "excluded", where
    excluded = {questions[p.id].ID for p in predictions if p.meta["expect"] == "excluded"}
    assert set(summary["excluded"]["ids"]) == excluded
    assert summary["excluded"]["count"] == len(excluded)
    missing = DATASETS[name][2]
    assert summary["questions_without_predictions"] == {"count": len(missing), "ids": missing}
    scored = {questions[p.id].ID for p in predictions} - excluded
    assert summary["overall"]["n_questions"] == len(scored)
    assert summary["benchmark_questions"] == len(scored) + len(excluded) + len(missing)
    right = [p for p in predictions if p.meta["expect"] == "correct"]
    wrong = [p for p in predictions if p.meta["expect"] == "wrong"]
    assert summary["overall"]["n_predictions"] == len(right) + len(wrong)  # excluded samples count nowhere
    assert bool(summary["warnings"]) == bool(excluded or missing)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_raw_file_and_its_conversion_score_byte_identically(tmp_path: Path, name: str) -> None:
    converted = tmp_path / "converted.jsonl"
    convert(EDGE / name, "auto", converted)
    # the fixture's predictions and one of each record the loader skipped (the converted file's side file names it)
    skipped = DATASETS[name][1]
    predictions = tmp_path / "predictions.jsonl"
    extra = "".join(json.dumps({"id": qid, "sample": 0, "text": "\\boxed{x}"}) + "\n" for qid in skipped)
    predictions.write_text(predictions_of(name).read_text(encoding="utf-8") + extra, encoding="utf-8")
    for benchmark, out in ((EDGE / name, tmp_path / "raw"), (converted, tmp_path / "fs1")):
        bench = load_for_scoring(benchmark)
        score_file(predictions, bench.questions, out, ks=[1], seed=3, skipped=bench.skipped)
    for file in ("scores.jsonl", "summary.json"):
        assert (tmp_path / "raw" / file).read_bytes() == (tmp_path / "fs1" / file).read_bytes(), file
    excluded = json.loads((tmp_path / "raw" / "summary.json").read_text(encoding="utf-8"))["excluded"]
    assert set(skipped) <= set(excluded["ids"])


def test_fs1_score_shows_and_records_excluded_and_missing_questions(tmp_path: Path) -> None:
    name = "ComplexWebQuestions_test.chatkbqa_edge.json"
    args = ["score", str(predictions_of(name)), "--benchmark", str(EDGE / name), "--k", "1"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    text = flat(result.output)
    assert "questions: 4 in the benchmark, 2 scored, 1 excluded (WebQTest-743_edge0001)" in text
    assert "1 without predictions (WebQTrn-3002_edge0004)" in text
    assert (
        "1 question(s) excluded from every number (WebQTest-743_edge0001): gold answers are only KG ids"
        in text
    )
    assert "1 of 4 benchmark question(s) have no prediction (WebQTrn-3002_edge0004)" in text
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["excluded"]["reasons"] == {EXCLUDED_IDS_ONLY: 1}
    assert len(summary["warnings"]) == 2
    # --require-complete: the same run is an error naming the question, and writes nothing
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "b"), "--require-complete"])
    assert result.exit_code != 0
    assert "1 of 4 benchmark question(s) have no prediction (WebQTrn-3002_edge0004)" in flat(result.output)
    assert "Traceback" not in result.output
    assert not (tmp_path / "b" / "summary.json").exists() and not (tmp_path / "b" / "scores.jsonl").exists()


def test_require_complete_passes_when_every_question_has_a_prediction(tmp_path: Path) -> None:
    name = "WebQSP_edge.json"  # E3 is excluded, E5 has no gold: every scorable question has a prediction
    args = ["score", str(predictions_of(name)), "--benchmark", str(EDGE / name), "--k", "1"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path), "--require-complete"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "summary.json").read_text())["questions_without_predictions"]["count"] == 0


def test_the_report_shows_excluded_and_missing_questions(tmp_path: Path) -> None:
    from fs1.io import write_json_atomic, write_jsonl_atomic
    from fs1.report import write_report

    name = "ComplexWebQuestions_test.chatkbqa_edge.json"
    questions = question_index(load_questions(EDGE / name))
    write_jsonl_atomic(tmp_path / "benchmark" / "questions.jsonl", questions.values())
    run = tmp_path / "generate" / "m__instruct"
    write_jsonl_atomic(run / "predictions.jsonl", read_records(predictions_of(name), Prediction))
    write_json_atomic(run / "run.json", {"model": "m", "setting": "instruct", "budgets": [None], "n": 2})
    score_file(run / "predictions.jsonl", questions, tmp_path / "score" / "m__instruct", ks=[1])
    html = write_report(tmp_path).read_text(encoding="utf-8")
    table = html[html.index('<table id="questions-table"') :]
    table = table[: table.index("</table>")]
    assert 'data-kind="excluded" data-count="1"' in table and "1: WebQTest-743_edge0001" in table
    assert 'data-kind="without-predictions" data-count="1"' in table and "1: WebQTrn-3002_edge0004" in table
    assert "<td>4</td><td>2</td>" in table  # 4 benchmark questions, 2 scored
    assert "gold answers are only KG ids" in table
    assert 'id="summary-warnings"' in html


def test_per_question_readers_leave_excluded_questions_out(tmp_path: Path) -> None:
    from fs1.run.results import kg_selection_units
    from fs1.scoring.paired import load_verdicts, question_accuracy

    name = "ComplexWebQuestions_test.chatkbqa_edge.json"
    questions = question_index(load_questions(EDGE / name))
    score_file(predictions_of(name), questions, tmp_path, ks=[1])
    rows = load_verdicts(tmp_path)
    scored = {"WebQTrn-3000_edge0002", "WebQTrn-3001_edge0003"}  # WebQTest-743_edge0001 is excluded
    assert set(question_accuracy(rows)) == scored  # fs1 compare and the report's paired table
    assert {qid for qid, _, _ in kg_selection_units(rows, questions, [1], lambda q, a: True)} == scored


def test_fs1_judge_accounts_for_the_same_questions_as_fs1_score(tmp_path: Path) -> None:
    from tests.judge.test_stage import oracle
    from tests.judge.test_stage import predictions_of as judge_asked
    from tests.support.scripted_openai import ScriptedOpenAIServer

    name = "ComplexWebQuestions_test.chatkbqa_edge.json"
    bench = ["--benchmark", str(EDGE / name), "--k", "1"]
    scored = runner.invoke(app, ["score", str(predictions_of(name)), *bench, "--out", str(tmp_path / "s")])
    assert scored.exit_code == 0, scored.output
    with ScriptedOpenAIServer(oracle()) as server:
        judge = ["--judge", server.model, "--base-url", server.base_url, "--out", str(tmp_path / "j")]
        judged = runner.invoke(app, ["judge", str(predictions_of(name)), *bench, *judge])
        asked = judge_asked(server)
    assert judged.exit_code == 0, judged.output
    assert not {"Robert F. Kennedy", "m.0194xc"} & set(
        asked
    )  # the excluded question is never put to the judge
    rule = json.loads((tmp_path / "s" / "summary.json").read_text())
    llm = json.loads((tmp_path / "j" / "judged_summary.json").read_text())
    fields = ("benchmark_questions", "excluded", "questions_without_predictions", "warnings")
    assert {f: llm[f] for f in fields} == {f: rule[f] for f in fields}
    assert llm["excluded"]["ids"] == ["WebQTest-743_edge0001"]
    assert llm["questions_without_predictions"] == {"count": 1, "ids": ["WebQTrn-3002_edge0004"]}
    line = (
        "questions: 4 in the benchmark, 2 scored, 1 excluded (WebQTest-743_edge0001), 1 without predictions"
    )
    assert line in flat(judged.output) and line in flat(scored.output)
