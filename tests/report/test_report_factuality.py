"""The report's factuality section, paired-comparison table and plots, rendered in real headless Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from fs1.report.collect import ReportData, RunView
from fs1.report.factuality import factuality_table, paired_table
from fs1.scoring.paired import compare, question_accuracy
from tests.report.test_report import rundir  # noqa: F401  (the module-scoped run directory fixture)
from tests.support.browser import chromium_path, dump_dom

needs_chromium = pytest.mark.skipif(
    chromium_path() is None, reason="Debian chromium not installed (make setup)"
)


def _cells(dom: str, table_id: str) -> list[dict[str, str]]:
    table = re.search(rf'<table id="{table_id}".*?</table>', dom, re.S)
    assert table, f"table {table_id} missing from the rendered page"
    cells = []
    for attrs, inner in re.findall(r"<td([^>]*data-metric[^>]*)>(.*?)</td>", table.group(0), re.S):
        cell = dict(re.findall(r'data-([\w@-]+)="([^"]*)"', attrs))
        cell["text"] = re.sub(r"<[^>]+>", "", inner).strip()
        cells.append(cell)
    return cells


@needs_chromium
@pytest.mark.slow
def test_factuality_table_shows_every_budget_and_k_with_intervals(rundir: Path) -> None:  # noqa: F811
    dom = dump_dom((rundir / "report.html").as_uri())
    cells = _cells(dom, "factuality-table")
    summary = json.loads((rundir / "score" / "tiny__fs1" / "summary.json").read_text())
    checked = 0
    for cell in (c for c in cells if c["run"] == "tiny__fs1"):
        section = summary["by_budget"][cell["budget"]]["overall"]
        value = section["factuality@k"][cell["k"]][cell["metric"]]
        lo, hi = section["ci"]["factuality@k"][cell["k"]][cell["metric"]]
        assert float(cell["value"]) == value
        assert (float(cell["lo"]), float(cell["hi"])) == (lo, hi)
        assert cell["text"] == f"{100 * value:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"
        checked += 1
    assert checked == 2 * 3 * 5  # budgets 32, 64 x k 1, 2, 4 x five columns
    instruct = {c["k"] for c in cells if c["run"] == "tiny__instruct"}
    assert instruct == {"1", "2", "4"}  # a run without budgets has one row per k
    widths = re.findall(r'class="seg \w+" style="width:([\d.]+)%"', dom)
    assert widths and all(
        abs(sum(map(float, widths[i : i + 3])) - 100) < 0.05 for i in range(0, len(widths), 3)
    )


@needs_chromium
@pytest.mark.slow
def test_paired_table_matches_an_independent_comparison_and_links_the_viewer(rundir: Path) -> None:  # noqa: F811
    dom = dump_dom((rundir / "report.html").as_uri())
    label = "tiny__fs1: budget 64 vs 32"
    cells = {(c["source"], c["metric"]): c for c in _cells(dom, "paired-table") if c["contrast"] == label}
    scores = [
        json.loads(x) for x in (rundir / "score" / "tiny__fs1" / "scores.jsonl").read_text().splitlines()
    ]
    questions = [json.loads(x) for x in (rundir / "benchmark" / "questions.jsonl").read_text().splitlines()]
    sources = {q["ID"]: q["source_of_data"] for q in questions}
    expected = compare(question_accuracy(scores, 64), question_accuracy(scores, 32), sources)
    for result in expected:
        assert float(cells[(result.source, "difference")]["value"]) == result.difference
        assert float(cells[(result.source, "difference")]["lo"]) == result.ci[0]
        assert float(cells[(result.source, "p")]["value"]) == result.p_value
    assert expected[0].flips, "the fixture's budgets differ on some questions"
    link = re.search(r'<a class="flip" href="#([^"]+)">([^<]+)</a>', dom)
    assert link
    params = {k: v[0] for k, v in parse_qs(link.group(1).replace("&amp;", "&")).items()}
    assert params == {"run": "tiny__fs1", "q": link.group(2)}
    opened = dump_dom((rundir / "report.html").as_uri() + "#" + link.group(1).replace("&amp;", "&"))
    shown = re.findall(r'<tr class="(?:correct|wrong)" data-id="([^"]*)" data-run="([^"]*)"', opened)
    assert shown and all(run == "tiny__fs1" and link.group(2) in qid for qid, run in shown)


@needs_chromium
@pytest.mark.slow
def test_plots_include_factuality_and_keep_the_legend_outside(rundir: Path) -> None:  # noqa: F811
    html = (rundir / "report.html").read_text()
    assert 'alt="factuality vs budget"' in html
    assert html.count('<img class="plot"') >= 4  # pass@k, factuality, budget, thinking lengths


def test_values_from_the_data_are_escaped() -> None:
    evil = '<img src=x onerror="alert(1)">'
    summary = {
        "overall": {
            "factuality@k": {"1": {"accuracy": 0.5, "hallucination_rate": 0.25, "attempted": 0.75}},
            "ci": {"factuality@k": {"1": {"accuracy": [0.4, 0.6]}}},
        }
    }
    runs = [RunView(name=evil, model=evil, setting="fs1", summary=summary, budgets=[1, 2])]
    traces = [
        {"run": evil, "id": evil + str(i), "budget": b, "correct": (i + b) % 2 == 0, "source": evil}
        for i in range(3)
        for b in (1, 2)
    ]
    data = ReportData(rundir=Path("."), title="t", runs=runs, sources=[evil], traces=traces, results=[])
    html = factuality_table(runs) + paired_table(data)
    assert "<img" not in html and 'onerror="' not in html
    assert "&lt;img src=x" in html


@needs_chromium
@pytest.mark.slow
def test_headline_cells_carry_their_intervals(rundir: Path) -> None:  # noqa: F811
    dom = dump_dom((rundir / "report.html").as_uri())
    table = re.search(r'<table id="main-table".*?</table>', dom, re.S).group(0)
    cells = [
        dict(re.findall(r'data-([\w@-]+)="([^"]*)"', a))
        for a in re.findall(r"<td([^>]*data-lo[^>]*)>", table)
    ]
    assert cells
    for cell in cells:
        summary = json.loads((rundir / "score" / cell["run"] / "summary.json").read_text())
        section = summary["overall"] if cell["source"] == "Overall" else summary["by_source"][cell["source"]]
        k = cell["metric"].split("@")[1]
        assert [float(cell["lo"]), float(cell["hi"])] == section["ci"]["pass@k"][k]
    selection = re.search(r'<table id="selection-table".*?</table>', dom, re.S).group(0)
    assert re.search(r'data-metric="kgsel@k"[^>]*data-lo="[\d.]+" data-hi="[\d.]+"', selection)


def test_contrasts_follow_the_experiment() -> None:
    from fs1.report.factuality import contrasts

    runs = [
        RunView(name="m__instruct", model="m", setting="instruct", summary={}),
        RunView(name="m__rt", model="m", setting="rt", summary={}, budgets=[64, 32]),
        RunView(name="m__fs1", model="m", setting="fs1", summary={}, budgets=[32, 64]),
    ]
    data = ReportData(rundir=Path("."), title="t", runs=runs, sources=[], traces=[], results=[])
    assert contrasts(data) == [
        ("fs1 vs rt (m), budget 32", ("m__fs1", 32), ("m__rt", 32)),
        ("fs1 vs rt (m), budget 64", ("m__fs1", 64), ("m__rt", 64)),
        ("rt vs instruct (m)", ("m__rt", None), ("m__instruct", None)),
        ("m__rt: budget 64 vs 32", ("m__rt", 64), ("m__rt", 32)),
        ("m__fs1: budget 64 vs 32", ("m__fs1", 64), ("m__fs1", 32)),
    ]
