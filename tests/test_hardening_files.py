"""Issue 13 items 1, 3, 8, 12, 14, 16: what fs1 does to the files it is pointed at.

Devices are made with mknod inside the test's own directory (a copy of /dev/null, /dev/full), never the system's.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fs1.io import atomic_open, write_jsonl_atomic
from fs1.records import Question
from tests.support.cli import cli

NULL, FULL = (1, 3), (1, 7)  # Linux's major/minor numbers of /dev/null and /dev/full


def device(path: Path, numbers: tuple[int, int]) -> Path:
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(*numbers))
    except PermissionError:
        pytest.skip("mknod needs CAP_MKNOD")
    return path


def run_fs1(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The real program in a subprocess (a hang becomes a test failure, not a stuck suite)."""
    return subprocess.run(
        [sys.executable, "-m", "fs1.cli.main", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    path = tmp_path / "bench.jsonl"
    code, output = cli("data", "sample", "--out", str(path), "--limit", "3")
    assert code == 0, output
    return path


# --- item 1: devices, FIFOs and symlinks are written through, never replaced ---


def test_writing_to_a_null_device_keeps_the_device(tmp_path: Path, bench: Path) -> None:
    null = device(tmp_path / "null", NULL)
    code, output = cli("data", "convert", str(bench), "--format", "fs1", "--out", str(null))
    assert code == 0, output
    assert stat.S_ISCHR(null.stat().st_mode)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_a_full_device_is_a_one_line_error_and_stays_a_device(tmp_path: Path, bench: Path) -> None:
    full = device(tmp_path / "full", FULL)
    code, output = cli("data", "convert", str(bench), "--format", "fs1", "--out", str(full))
    assert code == 2
    assert f"{full}: No space left on device" in output and "Traceback" not in output
    assert stat.S_ISCHR(full.stat().st_mode)


def test_a_fifo_is_written_by_opening_it(tmp_path: Path, bench: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, output = cli("data", "convert", str(bench), "--format", "fs1", "--out", str(fifo))
    reader.join(timeout=30)
    assert code == 0, output
    assert received and received[0] == bench.read_bytes()
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_symlink_is_written_through(tmp_path: Path, bench: Path) -> None:
    target = tmp_path / "real" / "questions.jsonl"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(target)
    code, output = cli("data", "convert", str(bench), "--format", "fs1", "--out", str(link))
    assert code == 0, output
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == bench.read_bytes()


def test_a_directory_as_output_is_refused_and_left_alone(tmp_path: Path, bench: Path) -> None:
    out = tmp_path / "adir"
    out.mkdir()
    (out / "keep").write_text("x")
    code, output = cli("data", "convert", str(bench), "--format", "fs1", "--out", str(out))
    assert code == 2 and f"{out}: is a directory" in output
    assert (out / "keep").read_text() == "x"


# --- item 16: modes as a plain open would leave them ---


def test_new_files_follow_the_umask_and_replaced_files_keep_their_mode(tmp_path: Path) -> None:
    from fs1.io import new_dir_mode

    old = os.umask(0o027)
    try:
        fresh = tmp_path / "fresh.json"
        with atomic_open(fresh) as fh:
            fh.write("{}")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
        shared = tmp_path / "shared.json"
        shared.write_text("{}")
        shared.chmod(0o664)
        with atomic_open(shared) as fh:
            fh.write("[]")
        assert stat.S_IMODE(shared.stat().st_mode) == 0o664
        assert new_dir_mode() == 0o750
    finally:
        os.umask(old)


def test_score_outputs_are_group_readable_under_umask_022(tmp_path: Path, bench: Path) -> None:
    preds = tmp_path / "preds.jsonl"
    rows = [
        {"id": q["ID"], "sample": 0, "text": "\\boxed{x}"}
        for q in map(eval_json, bench.read_text().splitlines())
    ]
    write_jsonl_atomic(preds, rows)
    old = os.umask(0o022)
    try:
        code, output = cli("score", str(preds), "--benchmark", str(bench), "--out", str(tmp_path / "s"))
    finally:
        os.umask(old)
    assert code == 0, output
    for name in ("scores.jsonl", "summary.json"):
        assert stat.S_IMODE((tmp_path / "s" / name).stat().st_mode) == 0o644
    assert stat.S_IMODE(preds.stat().st_mode) == 0o644


def eval_json(line: str) -> dict:
    import json

    return json.loads(line)


# --- item 3: resume only from a regular file ---


def test_resume_from_a_fifo_is_refused_instead_of_waiting_forever(tmp_path: Path, bench: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = run_fs1("paths", str(bench), "--out", str(fifo), "--resume", timeout=30)
    assert result.returncode == 2, result.stderr
    assert "not a regular file" in result.stderr and "Traceback" not in result.stderr


def test_resume_from_a_device_is_refused(tmp_path: Path, bench: Path) -> None:
    null = device(tmp_path / "null", NULL)
    code, output = cli("paths", str(bench), "--out", str(null), "--resume")
    assert code == 2 and f"{null}: not a regular file" in output


# --- item 8: OS errors are one line naming the path ---


@pytest.mark.parametrize(
    "command",
    [
        ["build-sft", "{adir}", "--student", "smollm2-135m", "--out", "{tmp}/sft"],
        ["distill", "--benchmark", "{bench}", "--mode", "fs1", "--paths", "{adir}", "--out", "{tmp}/t.jsonl"],
        ["run", "{adir}", "--out", "{tmp}/run"],
        ["data", "stats", "{adir}"],
        ["score", "{adir}", "--benchmark", "{bench}", "--out", "{tmp}/s"],
    ],
)
def test_a_directory_where_a_file_is_expected(tmp_path: Path, bench: Path, command: list[str]) -> None:
    adir = tmp_path / "adir.jsonl"
    adir.mkdir()
    args = [a.format(adir=adir, tmp=tmp_path, bench=bench) for a in command]
    code, output = cli(*args)
    assert code == 2, output
    assert str(adir) in output and "Traceback" not in output


def test_a_file_where_a_directory_is_expected(tmp_path: Path, bench: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    preds = tmp_path / "preds.jsonl"
    preds.write_text('{"id": "nope", "sample": 0, "text": "x"}\n')
    code, output = cli("data", "sample", "--out", str(afile / "q.jsonl"))
    assert code == 2 and str(afile) in output and "Traceback" not in output
    code, output = cli("score", str(bench), "--benchmark", str(bench), "--out", str(afile))
    assert code == 2 and str(afile) in output and "Traceback" not in output
    assert afile.read_text() == "x"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_directory(tmp_path: Path, bench: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    code, output = cli("data", "convert", str(bench), "--format", "fs1", "--out", str(ro / "q.jsonl"))
    assert code == 2 and str(ro) in output and "Permission denied" in output


# --- item 12: non-UTF-8 input names the file ---


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("bad.jsonl", ["data", "convert", "{bad}", "--format", "fs1", "--out", "{tmp}/o.jsonl"]),
        ("bad.jsonl", ["data", "stats", "{bad}"]),
        ("bad.yaml", ["run", "{bad}", "--out", "{tmp}/run"]),
        ("bad.jsonl", ["build-sft", "{bad}", "--student", "smollm2-135m", "--out", "{tmp}/sft"]),
        ("bad.jsonl", ["paths", "{bad}", "--out", "{tmp}/p.jsonl"]),
        ("bad.csv", ["data", "convert", "{bad}", "--format", "simpleqa", "--out", "{tmp}/o.jsonl"]),
    ],
)
def test_non_utf8_input_names_the_file(tmp_path: Path, name: str, command: list[str]) -> None:
    bad = tmp_path / name
    bad.write_bytes(b'{"ID": "q1", "question": "caf\xe9?", "main_answers": ["x"]}\n')
    code, output = cli(*[a.format(bad=bad, tmp=tmp_path) for a in command])
    assert code == 2, output
    assert str(bad) in output and "UTF-8" in output and "Traceback" not in output


# --- item 14: temporaries of a killed run are cleaned up by the next one ---

KILL_WHILE_WRITING = """
import os, signal, sys
from fs1.io import atomic_open
with atomic_open(sys.argv[1]) as fh:
    fh.write("x" * 1_000_000)
    fh.flush()
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_writer_leaves_a_temporary_that_the_next_run_removes(tmp_path: Path, bench: Path) -> None:
    out = tmp_path / "s"
    out.mkdir()
    killed = subprocess.run([sys.executable, "-c", KILL_WHILE_WRITING, str(out / "scores.jsonl")])
    assert killed.returncode == -9
    orphans = [p for p in out.iterdir() if p.name.startswith(".scores.jsonl.")]
    assert len(orphans) == 1 and orphans[0].stat().st_size == 1_000_000
    # A live writer's temporary (pid 1 is always alive) must survive the clean-up.
    live = out / f".scores.jsonl.fs1.{os.uname().nodename}.1.abcdef.tmp"
    live.write_text("busy")
    preds = tmp_path / "preds.jsonl"
    questions = [Question.from_dict(eval_json(line)) for line in bench.read_text().splitlines()]
    write_jsonl_atomic(preds, [{"id": q.ID, "sample": 0, "text": "\\boxed{x}"} for q in questions])
    code, output = cli("score", str(preds), "--benchmark", str(bench), "--out", str(out))
    assert code == 0, output
    assert sorted(p.name for p in out.iterdir()) == sorted([live.name, "scores.jsonl", "summary.json"])


def test_sft_dataset_directory_follows_the_umask(tmp_path: Path, tiny_model_dir: Path) -> None:
    trace = {
        "id": "q1", "question": "Who wrote Hamlet?", "mode": "rt", "model": "t", "reasoning_trace": "hm",
        "model_attempt": "Answer: \\boxed{Shakespeare}", "gold_answer": ["Shakespeare"],
    }  # fmt: skip
    traces = tmp_path / "traces.jsonl"
    write_jsonl_atomic(traces, [trace])
    old = os.umask(0o022)
    try:
        code, output = cli(
            "build-sft", str(traces), "--student", str(tiny_model_dir), "--out", str(tmp_path / "sft")
        )
    finally:
        os.umask(old)
    assert code == 0, output
    assert stat.S_IMODE((tmp_path / "sft").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "sft" / "stats.json").stat().st_mode) == 0o644


def test_distill_overwrite_empties_a_symlinked_output_in_place(tmp_path: Path) -> None:
    from fs1.distill.config import DistillConfig
    from fs1.distill.runner import prepare_output

    target = tmp_path / "real.jsonl"
    target.write_text('{"id": "q1"}\n')
    link = tmp_path / "traces.jsonl"
    link.symlink_to(target)
    assert prepare_output(link, DistillConfig(), resume=False, overwrite=True) == set()
    assert link.is_symlink() and target.read_text() == ""


@pytest.mark.parametrize(("umask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_a_trained_model_and_its_checkpoints_follow_the_umask(
    tmp_path: Path, tiny_model_dir: Path, umask: int, file_mode: int, dir_mode: int
) -> None:
    """Issue 31 item 11: safetensors writes model.safetensors 0600 whatever the umask; fs1 train leaves every file as
    a plain open would (the run's train stage calls the same code)."""
    from tests.train.test_train_cli import TINY_RUN, two_step_run

    out = tmp_path / "model"
    args = [
        *two_step_run(tmp_path, tiny_model_dir, out),
        *TINY_RUN,
        "--save-steps",
        "1",
        "--keep-checkpoints",
    ]
    old = os.umask(umask)
    try:
        code, output = cli(*args)
    finally:
        os.umask(old)
    assert code == 0, output
    written = [p for p in out.rglob("*") if not p.is_symlink()]
    assert out / "model.safetensors" in written and any(
        p.name == "model.safetensors" for p in written if p.parent != out
    )
    wrong = {str(p.relative_to(out)): oct(stat.S_IMODE(p.stat().st_mode)) for p in written
             if stat.S_IMODE(p.stat().st_mode) != (dir_mode if p.is_dir() else file_mode)}  # fmt: skip
    assert wrong == {}
