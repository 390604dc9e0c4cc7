"""The HTML report: built from a run directory scored by the real scorer, rendered in real headless Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fs1.cli.main import app
from fs1.data import load_benchmark
from fs1.io import write_json_atomic, write_jsonl_atomic
from fs1.records import Prediction
from fs1.report import write_report
from fs1.run.results import kg_selection_rows, summary_rows, write_results
from fs1.scoring import score_file
from tests.support.browser import chromium_path, dump_dom, screenshot
from tests.support.cli import runner

RUNS = {"tiny__instruct": ("tiny", "instruct", None), "tiny__fs1": ("tiny", "fs1", [32, 64])}


def _prediction_text(answer: str, i: int, budget: int | None) -> str:
    if budget is None:
        return f"The answer is \\boxed{{{answer}}}."
    return f"<|im_start|>think\nthinking {i} about it Wait, more\n<|im_start|>answer\nAnswer: \\boxed{{{answer}}}"


@pytest.fixture(scope="module")
def rundir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory like `fs1 run` writes: 12 questions, two runs, n = 4, one run with two budgets."""
    root = tmp_path_factory.mktemp("run")
    questions = load_benchmark("sample", limit=12)
    by_id = {q.ID: q for q in questions}
    write_jsonl_atomic(root / "benchmark" / "questions.jsonl", questions)
    write_jsonl_atomic(
        root / "paths" / "paths.jsonl",
        [
            {"ID": q.ID, "status": "found", "verbalised": f"{q.question[:10]}, relation, {q.main_answers[0]}"}
            for q in questions
        ],
    )
    rows = []
    for name, (model, setting, budgets) in RUNS.items():
        preds = []
        for qi, q in enumerate(questions):
            for budget in budgets or [None]:
                for s in range(4):
                    # A fixed, varied pattern of right and wrong answers so every metric differs from the others.
                    right = (qi + s + (budget or 0) // 32) % 3 == 0
                    answer = q.main_answers[0] if right else f"wrong {s % 2}"
                    preds.append(
                        Prediction(
                            id=q.ID,
                            sample=s,
                            text=_prediction_text(answer, s, budget),
                            budget=budget,
                            model=model,
                            setting=setting,
                            think_tokens=None if budget is None else 10 + s,
                            waits=s % 2,
                        )
                    )
        write_jsonl_atomic(root / "generate" / name / "predictions.jsonl", preds)
        write_json_atomic(
            root / "generate" / name / "run.json",
            {"model": model, "setting": setting, "budgets": budgets, "n": 4},
        )
        summary = score_file(
            root / "generate" / name / "predictions.jsonl", by_id, root / "score" / name, ks=[1, 2, 4]
        )
        scores = [json.loads(x) for x in (root / "score" / name / "scores.jsonl").read_text().splitlines()]
        rows += summary_rows(name, model, setting, summary)
        base = {"run": name, "model": model, "setting": setting}
        rows += kg_selection_rows(base, scores, by_id, [1, 2, 4], lambda q, a: a == q.main_answers[0])
    write_results(rows, root / "results.parquet")
    write_report(root)
    return root


def _cells(dom: str, table_id: str) -> list[tuple[dict[str, str], str]]:
    table = re.search(rf'<table id="{table_id}".*?</table>', dom, re.S)
    assert table, f"table {table_id} missing from the rendered page"
    out = []
    for attrs, text in re.findall(r"<td([^>]*)>([^<]*)</td>", table.group(0)):
        if "data-" not in attrs:
            continue  # label cells
        out.append((dict(re.findall(r'data-([\w@-]+)="([^"]*)"', attrs)), text))
    return out


needs_chromium = pytest.mark.skipif(
    chromium_path() is None, reason="Debian chromium not installed (make setup)"
)


@needs_chromium
@pytest.mark.slow
def test_main_table_in_browser_holds_the_summary_numbers(rundir: Path) -> None:
    dom = dump_dom((rundir / "report.html").as_uri())
    checked = 0
    for attrs, text in _cells(dom, "main-table"):
        summary = json.loads((rundir / "score" / attrs["run"] / "summary.json").read_text())
        section = (
            summary["overall"] if attrs["source"] == "Overall" else summary["by_source"][attrs["source"]]
        )
        k = attrs["metric"].split("@")[1]
        expected = section["pass@k"][k]
        assert text == f"{100 * expected:.1f}", (attrs, text, expected)
        checked += 1
    sources = {q.source_of_data for q in load_benchmark("sample", limit=12)}
    assert checked == len(RUNS) * (len(sources) + 1) * 2


@needs_chromium
@pytest.mark.slow
def test_selection_and_budget_tables_render(rundir: Path) -> None:
    dom = dump_dom((rundir / "report.html").as_uri())
    fs1_summary = json.loads((rundir / "score" / "tiny__fs1" / "summary.json").read_text())
    budget_cells = {
        (a["budget"], a["metric"]): t for a, t in _cells(dom, "budget-table") if a.get("run") == "tiny__fs1"
    }
    for budget, section in fs1_summary["by_budget"].items():
        assert budget_cells[(budget, "accuracy")] == f"{100 * section['overall']['accuracy']:.1f}"
    maj = {a["run"]: t for a, t in _cells(dom, "selection-table") if a.get("metric") == "maj@k"}
    summary = json.loads((rundir / "score" / "tiny__instruct" / "summary.json").read_text())
    assert maj["tiny__instruct"] == f"{100 * summary['overall']['maj@k']['4']:.1f}"
    assert dom.count('<img class="plot"') >= 2  # pass@k and budget curves drawn
    # The topic table, like the answer-type one: pass@1 per topic and run (the sample's SimpleQA topics).
    topic_cells = {(a["run"], a["slice"]): t for a, t in _cells(dom, "topic-table")}
    expected = {
        (run, topic): f"{100 * section['pass@k']['1']:.1f}"
        for run in RUNS
        for topic, section in json.loads((rundir / "score" / run / "summary.json").read_text())[
            "by_topic"
        ].items()
    }
    assert topic_cells == expected and {t for _, t in expected} >= {"art", "science and technology"}


@needs_chromium
@pytest.mark.slow
def test_viewer_filters_in_browser(rundir: Path) -> None:
    scores = [
        json.loads(x) for x in (rundir / "score" / "tiny__instruct" / "scores.jsonl").read_text().splitlines()
    ]
    url = (rundir / "report.html").as_uri()
    everything = dump_dom(url)
    total = sum(len((rundir / "generate" / r / "predictions.jsonl").read_text().splitlines()) for r in RUNS)
    assert re.search(rf'data-shown="{total}"', everything)
    filtered = dump_dom(url + "#run=tiny__instruct&verdict=correct")
    expected = sum(1 for s in scores if s["correct"])
    assert 0 < expected < len(scores)
    assert re.search(rf'data-shown="{expected}"', filtered)
    rows = re.findall(r'<tr class="(correct|wrong)" data-id="[^"]*" data-run="([^"]*)"', filtered)
    assert rows and all(cls == "correct" and run == "tiny__instruct" for cls, run in rows)
    one_id = scores[0]["id"]
    searched = dump_dom(url + f"#run=tiny__instruct&q={one_id}")
    assert re.search(r'data-shown="4"', searched)


@needs_chromium
@pytest.mark.slow
def test_page_renders_to_a_picture(rundir: Path, tmp_path: Path) -> None:
    png = screenshot((rundir / "report.html").as_uri(), tmp_path / "report.png")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # a real page, not a blank frame


def test_results_table_has_the_topic_slice(rundir: Path) -> None:
    import pyarrow.parquet as pq

    table = pq.read_table(rundir / "results.parquet").to_pylist()
    for run in RUNS:
        summary = json.loads((rundir / "score" / run / "summary.json").read_text())
        sections = {None: summary, **{int(b): s for b, s in summary.get("by_budget", {}).items()}}
        for budget, section in sections.items():
            rows = [r for r in table if r["run"] == run and r["topic"] and r["budget"] == budget]
            assert {r["topic"] for r in rows} == set(section["by_topic"]) != set()
            assert {r["source"] for r in rows} == {None}  # a topic pools the sources: no source slice
            for r in rows:
                if r["metric"] == "accuracy":
                    assert r["value"] == section["by_topic"][r["topic"]]["accuracy"]
                    assert r["lo"] is None  # topic slices carry no intervals
        overall = [r for r in table if r["run"] == run and r["source"] == "overall"]
        assert all(r["topic"] is None for r in overall)  # `source = 'overall'` never picks up topic rows
        accuracy = next(r for r in overall if r["metric"] == "accuracy" and r["budget"] is None)
        assert accuracy["value"] == summary["overall"]["accuracy"]


def test_report_is_self_contained(rundir: Path) -> None:
    html = (rundir / "report.html").read_text()
    assert not re.search(r'(src|href)="(https?:|//)', html)  # no external scripts, styles or images
    assert "data:image/png;base64," in html


def test_report_cli_rejects_a_directory_that_is_not_a_run(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert "no score/ directory" in result.output
    assert not (tmp_path / "report.html").exists()
