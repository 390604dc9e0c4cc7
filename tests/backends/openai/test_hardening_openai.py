"""Issue 13 items 7, 13, 15: the OpenAI backend against a scripted server speaking real HTTP on 127.0.0.1.

Malformed replies are backend errors (never predictions); the API key is masked in every form a server may echo
it (whole, cut short, URL- or JSON-encoded, in errors and in successful replies); the request timeout and the
Retry-After cap are settable from the CLI and the experiment file.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pytest

from fs1.backends.base import BackendError, SamplingParams
from tests.backends.openai.test_openai import backend
from tests.support.cli import cli
from tests.support.scripted_openai import Fault, Reply, ScriptedOpenAIServer

SECRET = "sk-proj-Zq8+x/Yt3=Wv9KpL2mN4rT6u"  # characters that URL-encoding changes


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    path = tmp_path / "bench.jsonl"
    assert cli("data", "sample", "--out", str(path), "--limit", "1")[0] == 0
    return path


def generate(srv: ScriptedOpenAIServer, bench: Path, out: Path, *options: str) -> tuple[int, str]:
    return cli(
        "generate", "--benchmark", str(bench), "--out", str(out), "--backend", "openai", "--model", srv.model,
        "--base-url", srv.base_url, "--backend-option", "tokenizer=smollm2-135m", *options,
    )  # fmt: skip


# --- item 7 ---

MALFORMED = [
    ('{"choices": ["x"]}', "choices[0] should be dict, got str 'x'"),
    ('{"choices": [{"text": "ok"}], "usage": "str"}', "usage should be dict, got str 'str'"),
    ('{"choices": [{"text": {"a": 1}}]}', "choices[0].text should be str, got dict"),
    (
        '{"choices": [{"text": "ok"}], "usage": {"completion_tokens": "5"}}',
        "usage.completion_tokens should be int",
    ),
    ('{"choices": {"text": "ok"}}', "choices should be list, got dict"),
]


@pytest.mark.parametrize(("body", "message"), MALFORMED)
def test_malformed_replies_are_backend_errors(body: str, message: str) -> None:
    with ScriptedOpenAIServer() as srv:
        srv.faults.append(Fault(status=200, body=body))
        with pytest.raises(BackendError, match="malformed server reply") as info:
            backend(srv).generate(["q"], SamplingParams())
    assert message in str(info.value)


def test_malformed_chat_reply_is_a_backend_error() -> None:
    with ScriptedOpenAIServer() as srv:
        srv.faults.append(Fault(status=200, body='{"choices": [{"message": {"content": ["a"]}}]}'))
        with pytest.raises(BackendError, match=r"choices\[0\]\.message\.content should be str"):
            backend(srv).chat([[{"role": "user", "content": "q"}]], SamplingParams())


def test_a_malformed_reply_never_becomes_a_prediction(tmp_path: Path, bench: Path) -> None:
    out = tmp_path / "preds.jsonl"
    with ScriptedOpenAIServer() as srv:
        srv.faults.append(Fault(status=200, body='{"choices": [{"text": {"junk": true}}]}'))
        code, output = generate(srv, bench, out)
    assert code == 2 and "malformed server reply" in output and "Traceback" not in output
    assert not out.exists() or out.read_text() == ""


# --- item 13 ---

ECHOES = [
    SECRET,
    SECRET[:14],  # cut short
    SECRET[-12:],  # the tail only
    urllib.parse.quote(SECRET, safe=""),  # URL-encoded
    urllib.parse.quote_plus(SECRET),
    json.dumps(SECRET)[1:-1],
]


def _pieces_of_the_key(text: str) -> list[str]:
    forms = {SECRET, urllib.parse.quote(SECRET, safe=""), urllib.parse.quote_plus(SECRET)}
    return [f[i : i + 8] for f in forms for i in range(len(f) - 7) if f[i : i + 8] in text]


@pytest.mark.parametrize("echo", ECHOES)
def test_key_echoes_in_error_bodies_are_masked(monkeypatch: pytest.MonkeyPatch, echo: str) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with ScriptedOpenAIServer() as srv:
        srv.faults.append(Fault(status=401, body=json.dumps({"error": f"bad key {echo} given"})))
        with pytest.raises(BackendError) as info:
            backend(srv).generate(["q"], SamplingParams())
    assert "401" in str(info.value) and "***" in str(info.value)
    assert _pieces_of_the_key(str(info.value)) == []


def test_key_echoed_in_a_successful_reply_never_reaches_the_predictions(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, bench: Path
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    echoed = " | ".join(ECHOES)

    def responder(endpoint: str, body: dict) -> Reply:
        return Reply(text=f"your key: {echoed} \\boxed{{Paris}}")

    out = tmp_path / "preds.jsonl"
    for stream in ("false", "true"):  # a streamed echo arrives in pieces across events
        out.unlink(missing_ok=True)
        with ScriptedOpenAIServer(responder) as srv:
            code, output = generate(srv, bench, out, "--backend-option", f"stream={stream}")
        assert code == 0, output
        text = out.read_text()
        assert "\\\\boxed{Paris}" in text and "***" in text
        assert _pieces_of_the_key(text) == [] and _pieces_of_the_key(output) == []


# --- item 15 ---


def test_timeout_is_settable_from_the_cli(tmp_path: Path, bench: Path) -> None:
    out = tmp_path / "preds.jsonl"
    with ScriptedOpenAIServer() as srv:
        srv.faults.append(Fault(status=200, delay=3.0))
        code, output = generate(
            srv, bench, out, "--backend-option", "timeout=0.5", "--backend-option", "max_retries=0"
        )
    assert code == 2 and "timed out after 0.5s" in output


def test_unknown_or_bad_backend_options_are_refused(tmp_path: Path, bench: Path) -> None:
    with ScriptedOpenAIServer() as srv:
        code, output = generate(srv, bench, tmp_path / "p.jsonl", "--backend-option", "max_retry_after=soon")
    assert code == 2 and "max_retry_after" in output and "Traceback" not in output


EXPERIMENT = """\
name: remote
students:
  - name: remote
    model: served
    backend: openai
    base_url: http://127.0.0.1:9/v1
    options:
      timeout: 30
      max_retry_after: {cap}
settings: [instruct]
"""


def test_timeout_and_retry_after_cap_in_the_experiment_file(tmp_path: Path) -> None:
    from fs1.run.config import load_experiment

    good = tmp_path / "good.yaml"
    good.write_text(EXPERIMENT.format(cap=5))
    student = load_experiment(good).students[0]
    assert student.options == {"timeout": 30, "max_retry_after": 5}
    assert "options" not in student.fingerprint()  # how long to wait is not part of what a stage computes
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXPERIMENT.format(cap="later"))
    code, output = cli("run", str(bad), "--out", str(tmp_path / "run"))
    assert code == 2 and f"{bad}:" in output and "max_retry_after" in output
