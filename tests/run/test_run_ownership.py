"""Issue 31 items 1, 3 and 9: `fs1 run` deletes nothing it did not make, one driver per run directory, and shard
merges that an interruption or a hand-edited shard cannot leave stuck.

Each test fails on the code before (user files deleted, a second driver running, a merge stuck or fooled) and passes
after. The runs are tiny: a tiny model, one question per dataset, one sample, instruct only (no training).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fs1.io import read_jsonl_rows
from fs1.run.config import load_experiment
from fs1.run.pipeline import Pipeline
from fs1.shards import done_path, mark_done, shard_path
from tests.support.cli import cli


def _experiment(tmp_path: Path, model: Path, student: str = "a", name: str = "exp.yaml") -> Path:
    spec = {
        "name": "own",
        "benchmark": "sample",
        "limit": 1,
        "students": [{"name": student, "model": str(model), "backend": "transformers",
                      "options": {"dtype": "float32", "threads": 1}}],
        "settings": ["instruct"],
        "generation": {"n": 1, "max_tokens": 4},
        "ks": [1],
    }  # fmt: skip
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec))
    return path


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


USER_FILES = {"benchmark/my_questions.jsonl": b'{"mine": 1}\n', "score/mine/keep.txt": b"keep\n"}


def _user_folder(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)


# --- item 1: a run directory is fs1's only when it carries fs1's marker ------------------------------------------


def test_fs1_run_into_a_folder_of_user_files_leaves_every_file_in_place(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    experiment = _experiment(tmp_path, tiny_model_dir)
    out = tmp_path / "mine"
    _user_folder(out, USER_FILES)
    code, output = cli("run", str(experiment), "--out", str(out))
    assert code == 2 and "not an fs1 run directory" in output and "--force" in output, output
    assert _files(out) == USER_FILES  # nothing written, nothing deleted
    # --force adds the run beside them; a stage directory holding files fs1 did not make is not used, not emptied
    code, output = cli("run", str(experiment), "--out", str(out), "--force")
    assert code == 2 and "benchmark" in output and "fs1 did not make" in output, output
    assert {k: v for k, v in _files(out).items() if k in USER_FILES} == USER_FILES
    (out / "benchmark" / "my_questions.jsonl").rename(tmp_path / "moved.jsonl")
    (out / "benchmark").rmdir()
    code, output = cli("run", str(experiment), "--out", str(out), "--force")
    assert code == 0, output
    assert (
        out / "score" / "mine" / "keep.txt"
    ).read_bytes() == b"keep\n"  # not a run of the experiment: kept
    assert (out / "score" / "a__instruct" / "summary.json").exists()


def test_a_renamed_student_s_finished_runs_are_moved_aside_not_deleted(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    out = tmp_path / "run"
    assert cli("run", str(_experiment(tmp_path, tiny_model_dir, "a")), "--out", str(out))[0] == 0
    before = (out / "generate" / "a__instruct" / "predictions.jsonl").read_bytes()
    code, output = cli("run", str(_experiment(tmp_path, tiny_model_dir, "b")), "--out", str(out))
    assert code == 0, output
    assert (
        "generate/a__instruct: no longer in the experiment" in output
        and ".stale/generate/a__instruct@" in output
    )
    kept = next((out / ".stale" / "generate").glob("a__instruct@*"))
    assert (kept / "predictions.jsonl").read_bytes() == before  # days of GPU output are still there
    assert sorted(p.name for p in (out / "generate").iterdir()) == ["b__instruct"]
    # a changed configuration moves the stage's earlier outputs aside too; --prune deletes what is set aside
    spec = yaml.safe_load((tmp_path / "exp.yaml").read_text())
    spec["generation"]["max_tokens"] = 5
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(spec))
    code, output = cli("run", str(tmp_path / "exp.yaml"), "--out", str(out), "--prune")
    assert code == 0 and "configuration changed" in output and "(--prune)" in output, output
    assert not (out / ".stale").exists()


# --- item 3: one driver per run directory --------------------------------------------------------------------------


def test_two_drivers_on_one_run_directory_cannot_both_run(tmp_path: Path, tiny_model_dir: Path) -> None:
    experiment = _experiment(tmp_path, tiny_model_dir)
    out = tmp_path / "run"
    assert cli("run", str(experiment), "--out", str(out))[0] == 0
    holder = subprocess.Popen(  # a driver mid-run: it holds the run directory's lock until told to stop
        [sys.executable, "-c", "import sys; from pathlib import Path; from fs1.run.rundir import driver_lock\n"
         "with driver_lock(Path(sys.argv[1])):\n    print('locked', flush=True); sys.stdin.read()", str(out)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout.readline() == b"locked\n"
        before = _files(out)
        code, output = cli("run", str(experiment), "--out", str(out))
        assert code == 2 and "is being run by another fs1 run" in output, output
        assert f"pid {holder.pid}" in output and "host " in output and "since " in output
        assert _files(out) == before  # the second driver wrote nothing
        code, output = cli("status", str(out))
        assert code == 0 and "fs1 run on host" in output and f"pid {holder.pid}" in output, output
        holder.kill()  # kill -9: the lock file stays, the lock goes with the process
        holder.wait()
        code, output = cli("run", str(experiment), "--out", str(out))
        assert code == 0, output  # a dead driver's lock is taken over
        assert json.loads((out / ".lock").read_text())["pid"] != holder.pid
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


# --- item 9: restartable merges ------------------------------------------------------------------------------------


class Killed(BaseException):
    """Stands for kill -9: not an Exception, so no handler records it."""


def _paths_pipeline(tmp_path: Path, rundir: Path, shards: int) -> Pipeline:
    spec = {"name": "merge", "benchmark": "sample", "limit": 1, "settings": ["fs1"], "executor": {"shards": shards},
            "students": [{"name": "s", "model": "m"}]}  # fmt: skip
    path = tmp_path / f"merge-{shards}.yaml"
    path.write_text(yaml.safe_dump(spec))
    pipe = Pipeline(load_experiment(path), rundir, path, log=lambda _: None)
    pipe.run_benchmark()
    return pipe


@pytest.fixture
def reference(tmp_path: Path) -> list[dict]:
    _paths_pipeline(tmp_path, tmp_path / "one", 1).run_paths()
    return [row for _, row in read_jsonl_rows(tmp_path / "one" / "paths" / "paths.jsonl")]


def _rows(rundir: Path) -> list[dict]:
    return [row for _, row in read_jsonl_rows(rundir / "paths" / "paths.jsonl")]


def test_a_merge_killed_between_two_unlinks_is_finished_by_the_next_run(
    tmp_path: Path, reference: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_unlink = Path.unlink
    unlinked: list[str] = []

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if ".shard-" in self.name and self.name.startswith("paths."):
            unlinked.append(self.name)
            if len(unlinked) == 2:
                raise Killed
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    with pytest.raises(Killed):
        _paths_pipeline(tmp_path, tmp_path / "run", 3).run_paths()
    monkeypatch.setattr(Path, "unlink", real_unlink)
    _paths_pipeline(tmp_path, tmp_path / "run", 3).run_paths()
    assert _rows(tmp_path / "run") == reference
    assert not list((tmp_path / "run" / "paths").glob("paths.shard-*"))


def _done_shards_not_merged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three finished paths shards whose merge was killed before it began; returns the stage's output path."""

    def finish(self: Pipeline, pending: object) -> None:
        raise Killed

    pipe = _paths_pipeline(tmp_path, tmp_path / "run", 3)
    with monkeypatch.context() as patch:
        patch.setattr(Pipeline, "finish", finish)
        with pytest.raises(Killed):
            pipe.run_paths()
    out = tmp_path / "run" / "paths" / "paths.jsonl"
    assert all(done_path(shard_path(out, i, 3)).exists() for i in range(3)) and not out.exists()
    return out


def test_a_shard_truncated_after_it_finished_is_run_again(
    tmp_path: Path, reference: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _done_shards_not_merged(tmp_path, monkeypatch)
    part = shard_path(out, 1, 3)
    lines = part.read_text().splitlines(keepends=True)
    part.write_text("".join(lines[:-1]))  # truncated by hand (or by a full disk) after its job finished
    lines_seen: list[str] = []
    pipe = _paths_pipeline(tmp_path, tmp_path / "run", 3)
    pipe.log = lines_seen.append
    pipe.run_paths()
    assert _rows(tmp_path / "run") == reference
    assert any("paths.shard-1-of-3.jsonl" in line and "moved to .stale" in line for line in lines_seen), (
        lines_seen
    )


def test_a_shard_edited_after_it_finished_is_run_again_not_merged(
    tmp_path: Path, reference: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _done_shards_not_merged(tmp_path, monkeypatch)
    part = shard_path(out, 0, 3)
    text = part.read_text()
    assert '"status": "found"' in text
    part.write_text(text.replace('"status": "found"', '"status": "fOund"', 1))  # edited in place, same size
    _paths_pipeline(tmp_path, tmp_path / "run", 3).run_paths()
    assert _rows(tmp_path / "run") == reference


def test_a_wrong_typed_record_stops_the_merge_naming_its_file_and_line(tmp_path: Path) -> None:
    sharded = tmp_path / "paths.jsonl"
    for shard in ("0/2", "1/2"):
        assert cli("paths", "sample", "--limit", "4", "--out", str(sharded), "--shard", shard)[0] == 0
    part = shard_path(sharded, 1, 2)
    rows = part.read_text().splitlines()
    rows[1] = json.dumps(json.loads(rows[1]) | {"hops": "two"})
    part.write_text("\n".join(rows) + "\n")
    mark_done(part)  # written so by its own job: the merge is where it must be caught
    code, output = cli("paths", "sample", "--limit", "4", "--out", str(sharded), "--merge-shards", "2")
    assert code == 2 and "paths.shard-1-of-2.jsonl:2" in output and "hops" in output, output
    assert not sharded.exists()
