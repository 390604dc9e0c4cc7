"""Sharded paths and distill stages (issue 11): under `executor.shards` each runs as one job per shard of the train
questions, merged with every key checked once; merged files equal an unsharded run's; a killed shard resumes; and
`fs1 distill --shard I/N` / `--merge-shards N` for hand-written array jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fs1.cli.main import app
from fs1.distill.config import DistillConfig
from fs1.distill.stage import DISTILL, DistillSpec
from fs1.io import InputError, JsonlAppender, write_json_atomic
from fs1.records import Question
from fs1.run.config import load_experiment
from fs1.run.pipeline import Pipeline
from fs1.shards import done_path, mark_done, shard_path
from tests.support.cli import runner

SAMPLES = 2


def _pipeline(tmp_path: Path, model: Path, rundir: Path, shards: int, lines: list[str]) -> Pipeline:
    spec = {
        "name": "shards",
        "benchmark": "sample",
        "limit": 1,  # one question per dataset: six train questions
        "teacher": {"model": str(model), "backend": "transformers", "max_tokens": 6, "samples": SAMPLES},
        "students": [{"name": "tiny", "model": str(model), "backend": "transformers"}],
        "settings": ["fs1"],
        "executor": {"shards": shards},
    }
    path = tmp_path / f"exp-{shards}.yaml"
    path.write_text(yaml.safe_dump(spec))
    pipe = Pipeline(load_experiment(path), rundir, path, log=lines.append)
    pipe.run_benchmark()
    return pipe


def _run(pipe: Pipeline) -> None:
    pipe.run_paths()
    pipe.run_distill("rt")
    pipe.run_distill("fs1")


@pytest.fixture(scope="module")
def unsharded(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    """The reference: paths and both distill stages in one process each."""
    tmp = tmp_path_factory.mktemp("unsharded")
    _run(_pipeline(tmp, tiny_model_dir, tmp / "run", 1, []))
    return tmp / "run"


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_sharded_paths_and_distill_equal_one_process(
    unsharded: Path, tmp_path: Path, tiny_model_dir: Path
) -> None:
    lines: list[str] = []
    pipe = _pipeline(tmp_path, tiny_model_dir, tmp_path / "run", 3, lines)
    _run(pipe)
    run = tmp_path / "run"
    for output in ("paths/paths.jsonl", "distill/rt/traces.jsonl", "distill/fs1/traces.jsonl"):
        assert _read(run / output) == _read(unsharded / output), output  # same records, same order
        assert not list((run / output).parent.glob("*.shard-*")), output  # nothing of the shards is left
    assert len(_read(run / "distill/rt/traces.jsonl")) == 6 * SAMPLES
    for stage in ("paths", "distill/rt", "distill/fs1"):
        assert f"▶ {stage}[2/3]: running" in lines and any(f"{stage}: merged 3 shards" in x for x in lines)
    # The stage's summary and console line count the merged file, not the last shard.
    summary = json.loads((run / "distill/rt/traces.summary.json").read_text())
    reference = json.loads((unsharded / "distill/rt/traces.summary.json").read_text())
    for key in ("planned", "written", "failed", "file_traces", "file_valid", "file_correct", "usage"):
        assert summary[key] == reference[key], key
    assert any(x.startswith(f"  rt traces: {6 * SAMPLES} in file") for x in lines), lines
    assert not any(x.startswith(f"  rt traces: {2 * SAMPLES} in file") for x in lines)  # no per-shard line
    assert json.loads((run / "distill/rt/traces.config.json").read_text()) == json.loads(
        (unsharded / "distill/rt/traces.config.json").read_text()
    )
    # Done means done: a second run skips every stage.
    again = _pipeline(tmp_path, tiny_model_dir, run, 3, [])
    _run(again)
    assert all(r.status == "skipped" for r in again.results)


class Killed(BaseException):
    """Stands for kill -9 inside a shard job: not an Exception, so no failure handler records it."""


def _kill_in_second_shard(
    tmp_path: Path, model: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, list[str]]:
    """A 2-shard rt distill killed while shard 1 works (shard 0 done, one trace of shard 1 written); returns the
    stage output and the list that, from then on, collects every unit asked of the teacher."""
    import fs1.distill.runner as runner

    real_ask = runner.ask_teacher
    asked: list[str] = []

    def ask(backend, batch, config):  # noqa: ANN001, ANN202
        asked.extend(f"{u.question.ID}/{u.sample}" for u in batch)
        if (
            len(asked) == 8 and not killed
        ):  # shard 0 (3 questions × 2 samples) is done, shard 1 wrote one trace
            killed.append(True)
            raise Killed
        return real_ask(backend, batch, config)

    killed: list[bool] = []
    monkeypatch.setattr(runner, "ask_teacher", ask)
    with pytest.raises(Killed):
        _pipeline(tmp_path, model, tmp_path / "run", 2, []).run_distill("rt")
    out = tmp_path / "run/distill/rt/traces.jsonl"
    assert done_path(shard_path(out, 0, 2)).exists() and not done_path(shard_path(out, 1, 2)).exists()
    assert len(_read(shard_path(out, 1, 2))) == 1 and not out.exists()
    asked.clear()
    return out, asked


def test_killed_distill_shard_resumes_and_gives_every_trace_once(
    unsharded: Path, tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, asked = _kill_in_second_shard(tmp_path, tiny_model_dir, monkeypatch)
    with shard_path(out, 1, 2).open("a") as fh:
        fh.write('{"id": "torn')  # the half line a kill -9 during a write leaves
    lines: list[str] = []
    _pipeline(tmp_path, tiny_model_dir, tmp_path / "run", 2, lines).run_distill("rt")
    assert len(asked) == 5  # only shard 1 ran again, and only its missing units
    assert "▶ distill/rt[0/2]: running" not in lines and "▶ distill/rt[1/2]: running" in lines
    assert _read(out) == _read(unsharded / "distill/rt/traces.jsonl")


def test_a_trace_written_by_two_shards_stops_the_stage(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, _ = _kill_in_second_shard(tmp_path, tiny_model_dir, monkeypatch)
    with shard_path(out, 1, 2).open("a") as fh:  # e.g. two jobs on one shard range after a lost `fs1 run`
        fh.write(shard_path(out, 0, 2).read_text().splitlines()[0] + "\n")
    pipe = _pipeline(tmp_path, tiny_model_dir, tmp_path / "run", 2, [])
    message = (
        r"traces\.shard-1-of-2\.jsonl:2: key \('.+', 0\) already written at .*traces\.shard-0-of-2\.jsonl:1"
    )
    with pytest.raises(InputError, match=message):
        pipe.run_distill("rt")
    assert not out.exists() and not json.loads((out.parent / ".stage.json").read_text())["done"]


# --- the distill merge on hand-written shards ----------------------------------------------------------------------


QUESTIONS = [Question(ID=q, question=f"{q}?", main_answers=["x"]) for q in "abcd"]
CONFIG = DistillConfig(teacher="t", samples=2)


def merge_distill_shards(
    out: Path, count: int, questions: list[Question], config: DistillConfig, paths: None
):
    """The run's merge of a distill stage: every trace once, then the side files joined and the shards removed."""
    from fs1.run.driver import merge, remove_parts

    _, summary = merge(DISTILL, DistillSpec(config, paths), questions, out, count)
    remove_parts(DISTILL, out, count)
    return summary


def _shard(out: Path, index: int, keys: list[tuple[str, int]], failed: list[tuple[str, int]] = ()) -> None:
    part = shard_path(out, index, 2)
    with JsonlAppender(part) as sink:
        for qid, sample in keys:
            sink.write(
                {
                    "id": qid,
                    "sample": sample,
                    "mode": "rt",
                    "model": "t",
                    "valid": 1,
                    "label": int(qid == "a"),
                    "question": f"{qid}?",
                    "reasoning_trace": "r",
                    "model_attempt": "x",
                }
            )
    if failed:
        with JsonlAppender(part.with_name(part.name.replace(".jsonl", ".errors.jsonl"))) as sink:
            for qid, sample in failed:
                sink.write({"id": qid, "sample": sample, "error": "BackendError: 503"})
    mark_done(part)
    summary = {"teacher": "t", "mode": "rt", "backend": "openai", "planned": 4, "written": len(keys),
               "failed": len(failed), "wall_s": 2.0 + index,
               "usage": {"requests": len(keys), "tokens_in": 10, "tokens_out": 20, "missing_in": 0}}  # fmt: skip
    write_json_atomic(part.with_name(part.name.replace(".jsonl", ".summary.json")), summary)


def test_distill_merge_accepts_recorded_failures_and_sums_the_shards(tmp_path: Path) -> None:
    out = tmp_path / "traces.jsonl"
    _shard(out, 0, [("a", 0), ("a", 1), ("b", 0), ("b", 1)])
    _shard(out, 1, [("c", 0), ("c", 1), ("d", 1)], failed=[("d", 0)])
    merged = merge_distill_shards(out, 2, QUESTIONS, CONFIG, None)
    assert [(r["id"], r["sample"]) for r in _read(out)] == [
        ("a", 0), ("a", 1), ("b", 0), ("b", 1), ("c", 0), ("c", 1), ("d", 1),
    ]  # fmt: skip
    assert (merged.file_traces, merged.file_correct, merged.written, merged.failed) == (7, 2, 7, 1)
    assert (merged.usage.tokens_in, merged.usage.requests, merged.wall_s) == (20, 7, 3.0)
    assert _read(tmp_path / "traces.errors.jsonl") == [{"id": "d", "sample": 0, "error": "BackendError: 503"}]
    assert json.loads((tmp_path / "traces.summary.json").read_text())["file_traces"] == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "traces.errors.jsonl",
        "traces.jsonl",
        "traces.summary.json",
    ]


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ([("c", 0), ("c", 1), ("b", 1), ("d", 0), ("d", 1)],
         r"traces\.shard-1-of-2\.jsonl:3: key \('b', 1\) already written at .*traces\.shard-0-of-2\.jsonl:4"),
        ([("c", 0), ("c", 1), ("d", 0)], r"1 key\(s\) written by no shard, e\.g\. \('d', 1\)"),
        ([("c", 0), ("c", 1), ("d", 0), ("d", 1), ("e", 0)], r"shard-1-of-2\.jsonl:5: key \('e', 0\) does not belong"),
    ],
)  # fmt: skip
def test_distill_merge_fails_on_doubled_missing_or_foreign_traces(
    tmp_path: Path, second: list[tuple[str, int]], message: str
) -> None:
    out = tmp_path / "traces.jsonl"
    _shard(out, 0, [("a", 0), ("a", 1), ("b", 0), ("b", 1)])
    _shard(out, 1, second)
    with pytest.raises(InputError, match=message):
        merge_distill_shards(out, 2, QUESTIONS, CONFIG, None)
    assert not out.exists()


# --- fs1 distill --shard / --merge-shards ---------------------------------------------------------------------------


def test_cli_distill_shards_then_merge_equal_one_run(tmp_path: Path, tiny_model_dir: Path) -> None:
    common = ["distill", "--benchmark", "sample", "--limit", "5", "--teacher", str(tiny_model_dir),
              "--backend", "transformers", "--max-tokens", "6", "--samples", "2", "-q"]  # fmt: skip
    whole = runner.invoke(app, [*common, "--out", str(tmp_path / "whole.jsonl")])
    assert whole.exit_code == 0, whole.output
    sharded = tmp_path / "sharded.jsonl"
    for shard in ("1/2", "0/2"):
        result = runner.invoke(app, [*common, "--out", str(sharded), "--shard", shard, "--resume"])
        assert result.exit_code == 0, result.output
        assert done_path(shard_path(sharded, *map(int, shard.split("/")))).exists()
    merged = runner.invoke(app, [*common, "--out", str(sharded), "--merge-shards", "2"])
    assert merged.exit_code == 0 and "every (id, sample) once" in merged.output, merged.output
    assert _read(sharded) == _read(tmp_path / "whole.jsonl") and len(_read(sharded)) == 10
    summary = json.loads((tmp_path / "sharded.summary.json").read_text())
    assert summary["file_traces"] == 10 and summary["planned"] == 10
    both = runner.invoke(app, [*common, "--out", str(sharded), "--merge-shards", "2", "--shard", "0/2"])
    assert both.exit_code == 2 and "either --shard or --merge-shards" in both.output
    shard_path(sharded, 0, 2).unlink()
    missing = runner.invoke(app, [*common, "--out", str(sharded), "--merge-shards", "2"])
    assert missing.exit_code == 2 and "shard files missing: sharded.shard-0-of-2.jsonl" in missing.output


def test_cli_paths_shards_then_merge_equal_one_run(tmp_path: Path) -> None:
    whole = tmp_path / "whole.jsonl"
    assert runner.invoke(app, ["paths", "sample", "--out", str(whole)]).exit_code == 0
    sharded = tmp_path / "sharded.jsonl"
    for shard in ("2/3", "0/3", "1/3"):
        result = runner.invoke(app, ["paths", "sample", "--out", str(sharded), "--shard", shard])
        assert result.exit_code == 0, result.output
    merged = runner.invoke(app, ["paths", "sample", "--out", str(sharded), "--merge-shards", "3"])
    assert merged.exit_code == 0 and "every question once" in merged.output, merged.output
    assert _read(sharded) == _read(whole)
    with shard_path(sharded, 1, 3).open("a") as fh:  # a record of shard 0 written again by shard 1
        fh.write(sharded.read_text().splitlines()[0] + "\n")
    mark_done(shard_path(sharded, 1, 3))  # by its own job, before it finished
    doubled = runner.invoke(app, ["paths", "sample", "--out", str(sharded), "--merge-shards", "3"])
    assert doubled.exit_code == 2 and "already written at" in doubled.output, doubled.output


def test_status_finds_a_distill_shard_that_has_written_nothing_yet(tmp_path: Path) -> None:
    from fs1.run.cluster.executors import Job, Ledger
    from fs1.run.status import run_status

    run = tmp_path / "run"
    stage = run / "distill" / "rt"
    write_json_atomic(stage / ".stage.json", {"fingerprint": "a", "done": False})
    with JsonlAppender(shard_path(stage / "traces.jsonl", 0, 2)) as sink:
        sink.write({"id": "a", "sample": 0})
    ledger = Ledger(run, "slurm")
    for shard in (0, 1):
        ledger.note(Job("distill/rt", lambda: None, shard=shard, shards=2), "submitted", f"9_{shard}")
    # shard 1 has started (its sidecar is there) but written nothing yet: known by its name only
    (stage / "traces.shard-1-of-2.jsonl.running").write_text("{}")
    rows = {r.shard: r for r in run_status(run) if r.stage == "distill/rt"}
    assert set(rows) == {"0/2", "1/2"}
    assert (rows["0/2"].records, rows["1/2"].records, rows["1/2"].state) == (1, None, "running")
