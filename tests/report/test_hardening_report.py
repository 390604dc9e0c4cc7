"""Issue 13 item 2: no value from a run directory can run script in report.html, whatever its field or type.

Values that must be numbers are refused when read (file, field, expected, found); text fields carry payloads all the
way into the page, which headless Chromium then renders: a payload that ran would mark the DOM.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fs1.cli.main import app
from fs1.io import write_json_atomic, write_jsonl_atomic
from fs1.records import Question
from fs1.report.collect import ReportData, RunView
from fs1.report.html import render
from fs1.scoring import score_file
from tests.support.browser import chromium_path, dump_dom
from tests.support.cli import runner

MARK = "data-pwned"


def payload(where: str) -> str:
    """HTML that, if parsed as markup, runs script marking the body with the field it came in."""
    return (
        f"<img src=x onerror=\"document.body.setAttribute('{MARK}','{where}')\">"
        f"</script><script>document.body.setAttribute('{MARK}','{where}')</script><!--"
    )


RUN = "m__fs1"


def _rundir(root: Path) -> Path:
    """A run directory whose every text field (ids, question, gold, KG path, trace, answer, names) is a payload."""
    question = Question(
        ID=payload("id"),
        question=payload("question"),
        main_answers=[payload("gold")],
        answer_aliases=[payload("alias")],
        source_of_data=payload("source"),
        answer_type=payload("answer_type"),
        hops=2,
    )
    write_jsonl_atomic(root / "benchmark" / "questions.jsonl", [question])
    write_jsonl_atomic(
        root / "paths" / "paths.jsonl",
        [{"ID": question.ID, "status": "found", "verbalised": payload("kg_path")}],
    )
    predictions = [
        {
            "id": question.ID,
            "sample": s,
            "budget": 32,
            "text": f"{payload('text')} \\boxed{{{payload('extracted') if s else question.main_answers[0]}}}",
            "model": payload("model"),
            "setting": payload("setting"),
            "waits": 1,
            "think_tokens": 5,
            "finish_reason": payload("finish_reason"),
        }
        for s in range(2)
    ]
    gen = root / "generate" / RUN
    write_jsonl_atomic(gen / "predictions.jsonl", predictions)
    write_json_atomic(
        gen / "run.json", {"model": payload("model"), "setting": payload("setting"), "budgets": [32]}
    )
    score_file(gen / "predictions.jsonl", {question.ID: question}, root / "score" / RUN, ks=[1, 2])
    return root


@pytest.mark.skipif(chromium_path() is None, reason="Debian chromium not installed (make setup)")
@pytest.mark.slow
def test_payloads_in_every_text_field_stay_text_in_chromium(tmp_path: Path) -> None:
    rundir = _rundir(tmp_path / "run")
    result = runner.invoke(app, ["report", str(rundir), "--title", payload("title")])
    assert result.exit_code == 0, result.output
    dom = dump_dom((rundir / "report.html").as_uri())
    assert f"{MARK}=" not in dom.replace(
        f"'{MARK}'", ""
    )  # the text of the payload, never the attribute it sets
    assert 'data-shown="2"' in dom  # the viewer ran and shows both predictions, payloads as text
    assert "&lt;img src=x onerror=" in dom


def _write_and_report(rundir: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["report", str(rundir)])
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.parametrize(
    ("relative", "key_path", "field"),
    [
        (f"score/{RUN}/summary.json", ("overall", "n_questions"), "overall.n_questions"),
        (f"judge/{RUN}/judged_summary.json", ("judge_calls",), "judge_calls"),
        (f"judge/{RUN}/judged_summary.json", ("decided_by_rule",), "decided_by_rule"),
        (f"judge/{RUN}/judged_summary.json", ("errors",), "errors"),
    ],
)
def test_non_numbers_in_summaries_are_refused_naming_file_and_field(
    tmp_path: Path, relative: str, key_path: tuple[str, ...], field: str
) -> None:
    rundir = _rundir(tmp_path / "run")
    summary = json.loads((rundir / "score" / RUN / "summary.json").read_text())
    target = rundir / relative
    doc = summary if target.exists() else {**summary, "judge_calls": 1, "decided_by_rule": 0, "errors": 0}
    node = doc
    for key in key_path[:-1]:
        node = node[key]
    node[key_path[-1]] = payload(field)
    write_json_atomic(target, doc)
    code, output = _write_and_report(rundir)
    assert code == 2
    assert f"{relative.split('/')[-1]}: field {field}: expected a number, found str" in output
    assert "Traceback" not in output


@pytest.mark.parametrize(("field", "value"), [("budget", payload("budget")), ("sample", "0"), ("waits", [1])])
def test_predictions_with_wrong_types_are_refused_by_score_and_report(
    tmp_path: Path, field: str, value
) -> None:
    rundir = _rundir(tmp_path / "run")
    preds = rundir / "generate" / RUN / "predictions.jsonl"
    rows = [json.loads(line) for line in preds.read_text().splitlines()]
    rows[1][field] = value
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, output = _write_and_report(rundir)
    assert code == 2 and f"predictions.jsonl:2: field {field}: expected" in output
    bench = tmp_path / "bench.jsonl"
    bench.write_text((rundir / "benchmark" / "questions.jsonl").read_text())
    result = runner.invoke(
        app, ["score", str(preds), "--benchmark", str(bench), "--out", str(tmp_path / "s")]
    )
    assert result.exit_code == 2
    assert f"predictions.jsonl:2: field {field}: expected" in " ".join(result.output.split())


def test_render_escapes_counts_whatever_their_type() -> None:
    """Defence in depth: even values that bypass validation are escaped by the page builder."""
    bad = payload("count")
    summary = {
        "ks": [1],
        "overall": {"n_questions": bad, "accuracy": 0.5, "pass@k": {"1": 0.5}, "maj@k": {"1": 0.5}},
        "by_hops": {"2": {"n_questions": bad, "pass@k": {"1": 0.5}}},
    }
    judged = {"overall": {"accuracy": 0.5, "pass@k": {"1": 0.5}}, "judge_calls": bad, "decided_by_rule": bad}
    run = RunView(name="m__x", model="m", setting="x", summary=summary, judged=judged | {"errors": bad})
    data = ReportData(rundir=Path("r"), title="t", runs=[run], sources=[], traces=[], results=[])
    html = render(data)
    assert "<img src=x" not in html and "<script>document" not in html
