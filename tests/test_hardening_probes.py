"""Issue 31 item 11: the CLI probed as a careless or hostile user would; each probe that gave a traceback is a case here,
named after it, and now ends with one line naming the problem (exit code 2).

The probes that already held (bad JSONL of every shape, bad options, bad experiment files, odd --out paths) are kept
in test_hardening_input.py and test_errors.py; this file holds the ones the second pass found failing.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fs1.cli.main import app
from fs1.errors import Fs1Error
from fs1.kg import open_kg
from tests.support.scripted_openai import Fault, ScriptedOpenAIServer


def fs1(*args: str) -> tuple[int, str]:
    """Exit code and folded output of ``fs1 ARGS``; an exception that escaped the CLI fails the test."""
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"traceback: {type(result.exception).__name__}: {result.exception}")
    assert "Traceback" not in result.output
    return result.exit_code, " ".join(result.output.split())


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    path = tmp_path / "bench.jsonl"
    assert fs1("data", "sample", "--out", str(path), "--limit", "1")[0] == 0
    return path


@pytest.mark.parametrize("recursion_limit", [None, 100_000])
@pytest.mark.parametrize("command", ["run", "plan"])
def test_probe_yaml_nested_too_deeply(tmp_path: Path, command: str, recursion_limit: int | None) -> None:
    """Refused by a depth cap of fs1's own: the same line whatever Python's recursion limit (a library may raise it,
    pytest's stack depth varies), where PyYAML's recursion used to decide."""
    experiment = tmp_path / "deep.yaml"
    experiment.write_text("name: deep\nstudents: " + "[" * 5000 + "]" * 5000 + "\n")
    extra = ["--out", str(tmp_path / "run")] if command == "run" else []
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(recursion_limit or old)
    try:
        code, output = fs1(command, str(experiment), *extra)
    finally:
        sys.setrecursionlimit(old)
    assert code == 2 and "deep.yaml:2: invalid YAML (nested too deeply to read)" in output, output


@pytest.mark.parametrize("command", ["generate", "paths", "distill"])
@pytest.mark.parametrize(("shard", "said"), [("3/2", "need N ≥ 1 and 0 ≤ I < N"), ("a/b", "expects I/N"),
                                             ("0/0", "need N ≥ 1")])  # fmt: skip
def test_probe_shard_out_of_range_or_not_numbers(
    tmp_path: Path, bench: Path, command: str, shard: str, said: str
) -> None:
    out = str(tmp_path / "out.jsonl")
    args = {
        "generate": ["generate", "--benchmark", str(bench), "--out", out, "--model", "m"],
        "paths": ["paths", str(bench), "--out", out],
        "distill": ["distill", "--benchmark", str(bench), "--out", out],
    }[command]
    code, output = fs1(*args, "--shard", shard)
    assert code == 2 and said in output


@pytest.mark.parametrize("what", ["a file", "an empty folder"])
def test_probe_generate_model_that_is_not_a_checkpoint(tmp_path: Path, bench: Path, what: str) -> None:
    model = tmp_path / "model"
    if what == "a file":
        model.write_text("not a model")
    else:
        model.mkdir()
    code, output = fs1(
        "generate", "--benchmark", str(bench), "--out", str(tmp_path / "p.jsonl"), "--model", str(model),
        "--backend", "transformers",
    )  # fmt: skip
    assert code == 2 and f"cannot load model '{model}' with transformers" in output


def test_probe_paths_out_empty(tmp_path: Path, bench: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--out ""`` (an unset shell variable) is the current directory, not a file to write."""
    monkeypatch.chdir(tmp_path)
    code, output = fs1("paths", str(bench), "--out", "")
    assert code == 2 and ".: is a directory, expected the output file" in output


@pytest.mark.parametrize(
    ("listing", "said"),
    [
        ({"data": [{}]}, "malformed models list: data[0] should be an object with an id"),
        ({"data": ["a", "b"]}, "malformed models list: data[0] should be an object with an id"),
        ({"data": "x"}, "models: data should be list"),
    ],
)
def test_probe_server_models_list_malformed(tmp_path: Path, bench: Path, listing: dict, said: str) -> None:
    with ScriptedOpenAIServer() as srv:
        srv.get_routes["/v1/models"] = lambda: (200, listing)
        code, output = fs1(
            "generate", "--benchmark", str(bench), "--out", str(tmp_path / "p.jsonl"), "--backend", "openai",
            "--model", "auto", "--base-url", srv.base_url, "--backend-option", "tokenizer=smollm2-135m",
        )  # fmt: skip
    assert code == 2 and said in output


def test_probe_server_negative_token_count(tmp_path: Path, bench: Path) -> None:
    body = {
        "choices": [{"index": 0, "text": "x", "finish_reason": "stop"}],
        "usage": {"completion_tokens": -5},
    }
    with ScriptedOpenAIServer() as srv:
        srv.faults.append(Fault(status=200, body=json.dumps(body)))
        code, output = fs1(
            "generate", "--benchmark", str(bench), "--out", str(tmp_path / "p.jsonl"), "--backend", "openai",
            "--model", "m", "--base-url", srv.base_url, "--backend-option", "mode=chat",
        )  # fmt: skip
    assert code == 2 and "usage.completion_tokens should be a count, got -5" in output


@pytest.mark.parametrize("url", ["not a url", "ftp://host/v1"])
def test_probe_generate_base_url_not_http(tmp_path: Path, bench: Path, url: str) -> None:
    started = time.monotonic()
    code, output = fs1(
        "generate", "--benchmark", str(bench), "--out", str(tmp_path / "p.jsonl"), "--backend", "openai",
        "--model", "m", "--base-url", url,
    )  # fmt: skip
    assert code == 2 and "base_url must be an http(s) URL" in output
    assert time.monotonic() - started < 20  # refused at once, not after six retries with backoff


@pytest.mark.parametrize(
    ("url", "said"),
    [("http://[::1/v1", "base_url is not a valid URL (Invalid IPv6 URL)"),
     ("http://127.0.0.1:99999/v1", "base_url is not a valid URL (Port out of range 0-65535)"),
     ("http://127.0.0.1:abc/v1", "base_url is not a valid URL (Port could not be cast to integer value"),
     ("http:///v1", "base_url names no host")],
)  # fmt: skip
def test_probe_generate_base_url_unparsable(tmp_path: Path, bench: Path, url: str, said: str) -> None:
    """httpx raised InvalidURL (a traceback) for the first two; the port beyond 65535 was retried six times."""
    code, output = fs1(
        "generate", "--benchmark", str(bench), "--out", str(tmp_path / "p.jsonl"), "--backend", "openai",
        "--model", "m", "--base-url", url,
    )  # fmt: skip
    assert code == 2 and said in output and "http(s)://HOST[:PORT]/v1" in output, output
    assert not (tmp_path / "p.jsonl").exists()


@pytest.mark.parametrize(
    ("line", "said"),
    [("kg: 'sparql:http://[::1/sparql'", "exp.yaml: kg: the SPARQL endpoint is not a valid URL (Invalid IPv6 URL)"),
     ("kg: 'sparql:http://h:70000/sparql'", "kg: the SPARQL endpoint is not a valid URL (Port out of range"),
     ("kg: 'sparql:http:///sparql'", "exp.yaml: kg: the SPARQL endpoint names no host"),
     ("students: [{name: s, model: m, base_url: 'http://h:99999/v1'}]",
      "exp.yaml:1: students.0.base_url: base_url is not a valid URL (Port out of range")],
)  # fmt: skip
def test_probe_run_with_an_unparsable_url_stops_before_any_stage(
    tmp_path: Path, line: str, said: str
) -> None:
    """The kg URL failed with a traceback at the paths stage; a bad base_url only once generation began (after
    paths, distillation and training had run)."""
    experiment = tmp_path / "exp.yaml"
    students = "" if line.startswith("students") else "students: [{name: s, model: smollm2-135m}]\n"
    experiment.write_text(f"{line}\n{students}settings: [instruct, fs1]\nlimit: 1\n")
    code, output = fs1("run", str(experiment), "--out", str(tmp_path / "run"))
    assert code == 2 and said in output, output
    assert not (tmp_path / "run" / "benchmark").exists()
    with pytest.raises(Fs1Error, match="SPARQL endpoint is not a valid URL"):
        open_kg("sparql:http://[::1/sparql")  # fs1 paths --kg and every other caller of the client


DEEP_JSON = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    "where", ["predictions", "benchmark JSONL", "benchmark JSON", "authors' file", "traces"]
)
def test_probe_json_nested_too_deeply(tmp_path: Path, bench: Path, where: str) -> None:
    """json recurses per bracket: each reader raised RecursionError (a traceback); now the file and line."""
    name = "deep.json" if where == "benchmark JSON" else "deep.jsonl"
    deep = tmp_path / name
    deep.write_text(DEEP_JSON + "\n")
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"id": "x", "sample": 0, "text": "Paris"}) + "\n")
    out = str(tmp_path / "out")
    args = {
        "predictions": ["score", str(deep), "--benchmark", str(bench), "--out", out],
        "benchmark JSONL": ["score", str(good), "--benchmark", str(deep), "--out", out],
        "benchmark JSON": ["score", str(good), "--benchmark", str(deep), "--out", out],
        "authors' file": ["import", str(deep), "--benchmark", str(bench), "--out", out],
        "traces": ["build-sft", str(deep), "--student", "smollm2-135m", "--out", out],
    }[where]
    code, output = fs1(*args)
    line = "" if name == "deep.json" else ":1"
    assert (
        code == 2 and f"deep.{name.split('.')[1]}{line}: malformed JSON (nested too deeply to read)" in output
    ), output


@pytest.mark.parametrize(
    ("text", "said"),
    [("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
      + "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)),
      "bomb.yaml: invalid YAML (its aliases expand it to more than 100000 values)"),
     ("a: &a [1, *a]\n", "bomb.yaml: invalid YAML (an alias makes a collection contain itself)")],
)  # fmt: skip
@pytest.mark.parametrize("command", ["run", "plan"])
def test_probe_yaml_aliases_that_expand_without_end(
    tmp_path: Path, command: str, text: str, said: str
) -> None:
    """A billion laughs (10^9 values from ten lines) grew every walk over the loaded file (secret references, secret
    registration, validation) without end; a collection holding itself recursed until RecursionError."""
    experiment = tmp_path / "bomb.yaml"
    experiment.write_text(text + "students: [{name: s, model: smollm2-135m}]\n")
    extra = ["--out", str(tmp_path / "run")] if command == "run" else []
    code, output = fs1(command, str(experiment), *extra)
    assert code == 2 and said in output, output


@pytest.mark.parametrize(
    "event",
    [{"event": "submitted"}, {"stage": "paths"}, {"stage": "paths", "event": "submitted", "shard": [0]},
     {"stage": 3, "event": "failed"}],
)  # fmt: skip
def test_probe_status_on_a_ledger_with_wrong_events(tmp_path: Path, event: dict) -> None:
    """``fs1 status`` raised KeyError / TypeError on a ledger line without a stage or event, or an unhashable shard."""
    rundir = tmp_path / "run"
    (rundir / ".jobs").mkdir(parents=True)
    good = {"stage": "paths", "event": "submitted", "shard": None}
    (rundir / ".jobs" / "ledger.jsonl").write_text(json.dumps(good) + "\n" + json.dumps(event) + "\n")
    code, output = fs1("status", str(rundir))
    assert code == 2 and "ledger.jsonl:2: expected a job event" in output, output


@pytest.mark.parametrize(
    ("marker", "said"), [("nope", "unreadable stage marker"), ("[1]", "not a stage marker")]
)
def test_probe_status_on_a_damaged_stage_marker(tmp_path: Path, marker: str, said: str) -> None:
    """``fs1 status`` raised JSONDecodeError / AttributeError; now the marker's path and what to do."""
    stage = tmp_path / "run" / "paths"
    stage.mkdir(parents=True)
    (stage / ".stage.json").write_text(marker)
    code, output = fs1("status", str(tmp_path / "run"))
    assert code == 2 and f"paths/.stage.json: {said}" in output and "remove the stage directory" in output, (
        output
    )


@pytest.mark.parametrize("option", ["timeout=inf", "deadline=inf", "max_retry_after=nan", "timeout=1e400"])
def test_probe_an_infinite_timeout_is_refused(tmp_path: Path, bench: Path, option: str) -> None:
    """An infinite read timeout or deadline switched off the bound on a request's time (item 4); it is refused."""
    code, output = fs1(
        "generate", "--benchmark", str(bench), "--out", str(tmp_path / "p.jsonl"), "--backend", "openai",
        "--model", "m", "--base-url", "http://127.0.0.1:9/v1", "--backend-option", option,
    )  # fmt: skip
    assert code == 2 and f"--backend-option {option.split('=')[0]}: Input should be a finite number" in output
