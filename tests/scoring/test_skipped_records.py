"""Predictions of records the benchmark's loader skipped (no gold answer): scored as an excluded question's, counted
and named as excluded with the loader's reason, never a stop; any other unknown ID still stops with one line.

Benchmarks: the held-out edge cases (``tests/fixtures/edge_cases/``: each dataset's published shape, with one record
without a gold answer in five of them), the shared real-format files (``FS1_SHARED``), and small files written here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fs1.cli.main import app
from fs1.data import EXCLUDED_SKIPPED, ScoringBenchmark, convert, load_for_scoring, skipped_path
from fs1.data.common import NO_GOLD
from fs1.judge.stage import judge_file
from fs1.records import Prediction
from fs1.scoring import batches, workers
from fs1.scoring.score import score_file, score_predictions
from tests.data.test_edge_cases import DATASETS, EDGE, predictions_of
from tests.support.cli import runner

SKIPPED_REASON = EXCLUDED_SKIPPED.format(reason=NO_GOLD)
WITH_SKIPS = sorted(name for name, (_, skipped, _) in DATASETS.items() if skipped)
SHARED = Path(os.environ.get("FS1_SHARED") or Path(__file__).resolve().parents[3] / "shared")
REAL = SHARED / "data" / "real_formats"
real_formats = pytest.mark.skipif(not REAL.is_dir(), reason=f"shared real-format records not found at {REAL}")


def flat(text: str) -> str:
    return " ".join(text.split())


def skipped_of(name: str) -> str:
    (qid,) = DATASETS[name][1]
    return qid


def with_predictions_of(source: Path, out: Path, qids: list[str]) -> Path:
    """``source``'s predictions with two samples of each of ``qids`` put first (an answer, and none)."""
    extra = [
        json.dumps({"id": qid, "sample": sample, "text": text})
        for qid in qids
        for sample, text in ((0, "So the answer is \\boxed{Paris}."), (1, "I do not know."))
    ]
    out.write_text("\n".join(extra) + "\n" + source.read_text(encoding="utf-8"), encoding="utf-8")
    return out


def score_cli(predictions: Path, benchmark: Path, out: Path, *more: str):  # noqa: ANN201
    args = ["score", str(predictions), "--benchmark", str(benchmark), "--k", "1", "--out", str(out), *more]
    return runner.invoke(app, args)


def summary_of(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", WITH_SKIPS)
def test_a_prediction_of_a_skipped_record_is_counted_as_excluded_not_a_stop(
    tmp_path: Path, name: str
) -> None:
    skipped = skipped_of(name)
    predictions = with_predictions_of(predictions_of(name), tmp_path / "p.jsonl", [skipped])
    result = score_cli(predictions, EDGE / name, tmp_path / "with")
    assert result.exit_code == 0, result.output
    assert score_cli(predictions_of(name), EDGE / name, tmp_path / "without").exit_code == 0
    summary, before = summary_of(tmp_path / "with"), summary_of(tmp_path / "without")
    # the numbers are those of the other predictions; the record is counted and named, with the loader's reason
    assert summary["overall"] == before["overall"] and summary["by_source"] == before["by_source"]
    assert summary["benchmark_questions"] == before["benchmark_questions"] + 1
    assert summary["excluded"]["ids"] == [*before["excluded"]["ids"], skipped]
    assert summary["excluded"]["reasons"] == {**before["excluded"]["reasons"], SKIPPED_REASON: 1}
    missing = summary["questions_without_predictions"]["count"]
    assert (
        summary["overall"]["n_questions"] + summary["excluded"]["count"] + missing
        == summary["benchmark_questions"]
    )
    assert any(skipped in w and SKIPPED_REASON in w for w in summary["warnings"])
    assert SKIPPED_REASON in flat(result.output)
    lines = (tmp_path / "with" / "scores.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["match"] for line in lines[:2]] == ["excluded", "excluded"]
    assert lines[2:] == (tmp_path / "without" / "scores.jsonl").read_text(encoding="utf-8").splitlines()


def test_its_scores_line_is_an_excluded_questions_line(tmp_path: Path) -> None:
    name = "ComplexWebQuestions_test.chatkbqa_edge.json"  # WebQTest-743_edge0001: gold answers only KG ids
    excluded, skipped = "WebQTest-743_edge0001", skipped_of(name)
    predictions = tmp_path / "p.jsonl"
    texts = ["\\boxed{Paris}", "I do not know.", "Answer: m.0abc", "<think>x</think>", "\\boxed{}"]
    rows = [
        {"id": qid, "sample": s, "text": t, "budget": 64}
        for qid in (excluded, skipped)
        for s, t in enumerate(texts)
    ]
    scorable = {"id": "WebQTrn-3002_edge0004", "sample": 0, "text": "\\boxed{Paris}"}  # (a number to report)
    predictions.write_text("".join(json.dumps(r) + "\n" for r in [*rows, scorable]), encoding="utf-8")
    assert score_cli(predictions, EDGE / name, tmp_path / "out").exit_code == 0
    lines = (tmp_path / "out" / "scores.jsonl").read_text(encoding="utf-8").splitlines()[: len(rows)]
    for of_excluded, of_skipped in zip(lines[: len(texts)], lines[len(texts) :], strict=True):
        assert of_skipped == of_excluded.replace(json.dumps(excluded), json.dumps(skipped))
    # the same verdicts in memory (fs1.scoring.score_predictions)
    bench = load_for_scoring(EDGE / name)
    scores, summary = score_predictions(
        [Prediction.from_dict(r) for r in [*rows, scorable]], bench.questions, [1], skipped=bench.skipped
    )
    assert [s.match for s in scores[: len(rows)]] == ["excluded"] * len(rows)
    assert summary["excluded"]["ids"] == [excluded, skipped]


def test_skipped_records_without_predictions_are_not_listed(tmp_path: Path) -> None:
    name = "WebQSP_edge.json"  # WebQTest-E5 has no gold answer and no prediction
    assert score_cli(predictions_of(name), EDGE / name, tmp_path / "out").exit_code == 0
    summary = summary_of(tmp_path / "out")
    assert skipped_of(name) not in summary["excluded"]["ids"]
    assert SKIPPED_REASON not in summary["excluded"]["reasons"]


@pytest.mark.parametrize("name", ["WebQSP_edge.json", "simple_qa_test_set.edge.csv"])
def test_an_id_neither_a_question_nor_a_skipped_record_still_stops_with_one_line(
    tmp_path: Path, name: str
) -> None:
    predictions = with_predictions_of(
        predictions_of(name), tmp_path / "p.jsonl", [skipped_of(name), "nowhere-1"]
    )
    result = score_cli(predictions, EDGE / name, tmp_path / "out")
    assert result.exit_code == 2
    assert f"{predictions}:3: unknown question ID 'nowhere-1'" in flat(result.output)
    assert "Traceback" not in result.output and not (tmp_path / "out" / "summary.json").exists()


def test_the_converted_file_knows_its_skips_from_the_side_file_and_none_without_it(tmp_path: Path) -> None:
    name = "TimeQuestions_edge.json"
    converted = tmp_path / "tq.jsonl"
    convert(EDGE / name, "auto", converted)
    assert load_for_scoring(converted).skipped == {skipped_of(name): NO_GOLD}
    assert dict(load_for_scoring(EDGE / name).skipped) == {skipped_of(name): NO_GOLD}
    predictions = with_predictions_of(predictions_of(name), tmp_path / "p.jsonl", [skipped_of(name)])
    assert score_cli(predictions, converted, tmp_path / "a").exit_code == 0
    skipped_path(converted).unlink()  # no side file: no known skips, the ID is unknown again
    result = score_cli(predictions, converted, tmp_path / "b")
    assert result.exit_code == 2 and f"{predictions}:1: unknown question ID '{skipped_of(name)}'" in flat(
        result.output
    )
    skipped_path(converted).write_text('{"id": "90009"}\n', encoding="utf-8")
    result = score_cli(predictions, converted, tmp_path / "c")
    assert result.exit_code == 2 and f"{skipped_path(converted)}:1: expected" in flat(result.output)
    assert "Traceback" not in result.output


@pytest.mark.timeout(300)
def test_workers_forked_or_spawned_score_them_as_one_process_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "mintaka_edge.json"
    bench = load_for_scoring(EDGE / name)
    lines = predictions_of(name).read_text(encoding="utf-8").splitlines(keepends=True)
    skipped = [
        json.dumps({"id": skipped_of(name), "sample": s, "text": "\\boxed{x}"}) + "\n" for s in range(3)
    ]
    predictions = tmp_path / "p.jsonl"
    predictions.write_text("".join(lines[:3] + skipped + lines[3:]), encoding="utf-8")
    monkeypatch.setattr(
        batches, "RANGE_BYTES", 256
    )  # several ranges: the skipped record's lines in one of them
    monkeypatch.setattr(workers, "usable_cores", lambda: 2)
    score_file(predictions, bench.questions, tmp_path / "one", ks=[1], skipped=bench.skipped)
    score_file(predictions, bench.questions, tmp_path / "forked", ks=[1], skipped=bench.skipped, workers=2)
    monkeypatch.setattr(workers, "_can_fork", lambda: False)
    score_file(predictions, bench.questions, tmp_path / "spawned", ks=[1], skipped=bench.skipped, workers=2)
    for file in ("scores.jsonl", "summary.json"):
        one = (tmp_path / "one" / file).read_bytes()
        assert one == (tmp_path / "forked" / file).read_bytes() == (tmp_path / "spawned" / file).read_bytes()
    assert skipped_of(name) in summary_of(tmp_path / "one")["excluded"]["ids"]


def test_fs1_judge_counts_them_as_fs1_score_does(tmp_path: Path) -> None:
    name = "WebQSP_edge.json"
    bench: ScoringBenchmark = load_for_scoring(EDGE / name)
    # every answer a rule decides (the gold answer itself, or none): no judge model needed
    rows = [
        {"id": q.ID, "sample": 0, "text": f"\\boxed{{{q.main_answers[0]}}}"}
        for qid, q in bench.questions.items()
        if qid == q.ID
    ]
    rows += [{"id": skipped_of(name), "sample": 0, "text": "\\boxed{Paris}"}]
    predictions = tmp_path / "p.jsonl"
    predictions.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    judged = judge_file(predictions, bench.questions, tmp_path / "j", None, ks=[1], skipped=bench.skipped)
    scored = score_file(predictions, bench.questions, tmp_path / "s", ks=[1], skipped=bench.skipped)
    for field in ("benchmark_questions", "excluded", "questions_without_predictions"):
        assert judged[field] == scored[field], field  # type: ignore[literal-required]
    assert scored["excluded"]["reasons"][SKIPPED_REASON] == 1
    assert skipped_of(name) not in (tmp_path / "j" / "judged.jsonl").read_text(encoding="utf-8")
    # and an ID that is neither still stops with one line naming file and line
    predictions.write_text(json.dumps({"id": "nowhere", "sample": 0, "text": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(Exception, match=rf"{predictions}:1: unknown question ID 'nowhere'"):
        judge_file(predictions, bench.questions, tmp_path / "k", None, ks=[1], skipped=bench.skipped)


# ---------------------------------------------------------------- the shared real-format files and a GrailQA file


@real_formats
@pytest.mark.parametrize(
    ("folder", "prefix", "skipped"),
    [("timequestions", "TimeQuestions_test", 1), ("webqsp", "WebQSP.test.partial", 28)],
)
def test_real_files_skips_are_scored_as_excluded_raw_or_converted(
    tmp_path: Path, folder: str, prefix: str, skipped: int
) -> None:
    (raw,) = sorted((REAL / folder).glob(f"{prefix}*"))
    bench = load_for_scoring(raw)
    assert len(bench.skipped) == skipped and set(bench.skipped.values()) == {NO_GOLD}
    ids = [*bench.questions, *bench.skipped]
    predictions = tmp_path / "p.jsonl"
    rows = [{"id": qid, "sample": 0, "text": f"\\boxed{{answer {i}}}"} for i, qid in enumerate(ids)]
    predictions.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    converted = tmp_path / "converted.jsonl"
    assert runner.invoke(app, ["data", "convert", str(raw), "-o", str(converted)]).exit_code == 0
    for benchmark, out in ((raw, tmp_path / "raw"), (converted, tmp_path / "fs1")):
        result = score_cli(predictions, benchmark, out, "--require-complete")
        assert result.exit_code == 0, result.output
    for file in ("scores.jsonl", "summary.json"):
        assert (tmp_path / "raw" / file).read_bytes() == (tmp_path / "fs1" / file).read_bytes(), file
    summary = summary_of(tmp_path / "raw")
    assert summary["benchmark_questions"] == len(ids)
    assert summary["excluded"]["reasons"][SKIPPED_REASON] == skipped
    assert summary["excluded"]["ids"][-skipped:] == list(bench.skipped)


def test_a_grailqa_record_without_answers_is_skipped_then_excluded(tmp_path: Path) -> None:
    records = json.loads((EDGE / "grailqa_v1.0_dev_edge.json").read_text(encoding="utf-8"))
    extra = {key: value for key, value in records[0].items() if key != "answer"}
    extra["qid"] = 999000111
    raw = tmp_path / "grailqa_v1.0_dev.json"
    raw.write_text(json.dumps([*records, extra]), encoding="utf-8")
    bench = load_for_scoring(raw)
    assert dict(bench.skipped) == {"999000111": NO_GOLD}
    predictions = with_predictions_of(
        predictions_of("grailqa_v1.0_dev_edge.json"), tmp_path / "p.jsonl", ["999000111"]
    )
    result = score_cli(predictions, raw, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert summary_of(tmp_path / "out")["excluded"]["ids"][-1] == "999000111"


def test_fs1_compare_leaves_them_out_as_it_leaves_out_excluded_questions(tmp_path: Path) -> None:
    name = "mintaka_edge.json"
    with_skip = with_predictions_of(predictions_of(name), tmp_path / "p.jsonl", [skipped_of(name)])
    for predictions, out in ((with_skip, "with"), (predictions_of(name), "without")):
        assert score_cli(predictions, EDGE / name, tmp_path / out).exit_code == 0
    compared = {}
    for run in ("with", "without"):
        out = tmp_path / f"{run}.json"
        args = ["compare", str(tmp_path / run), str(tmp_path / "without"), "--benchmark", str(EDGE / name)]
        result = runner.invoke(app, [*args, "--json", str(out)])
        assert result.exit_code == 0, result.output
        compared[run] = json.loads(out.read_text(encoding="utf-8"))["by_source"]
    assert compared["with"] == compared["without"]
