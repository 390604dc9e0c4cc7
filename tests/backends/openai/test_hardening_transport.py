"""Issue 31 item 4: the OpenAI transport reads every reply within bounds, against a scripted server speaking real HTTP.

A byte cap counted after decompression (a gzip bomb, an endless body), one deadline per request (a trickling body, a
body that stalls near its end), and a reply longer than ``max_tokens`` allows cut and counted as capped, never kept
whole — down to the prediction ``fs1 generate`` writes.
"""

from __future__ import annotations

import json
import resource
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from fs1.backends.base import SamplingParams
from fs1.backends.openai.bodies import BoundedDecoder, iter_lines
from fs1.backends.openai.transport import RemoteError
from tests.backends.openai.test_openai import backend, gen_requests
from tests.support.cli import cli
from tests.support.scripted_openai import Fault, Reply, ScriptedOpenAIServer

MB = 2**20


def _gzip_member(size: int) -> bytes:
    squeeze = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    return squeeze.compress(b"\0" * size) + squeeze.flush()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_gzip_bomb_stops_at_the_cap_counted_after_decompression() -> None:
    member = _gzip_member(8 * MB)  # ≈ 8 KB on the wire
    bomb = member * 64  # 512 MB once inflated, 0.5 MB sent

    with ScriptedOpenAIServer() as srv:
        srv.faults.append(
            Fault(status=200, chunks=lambda: iter([bomb]), headers={"Content-Encoding": "gzip"})
        )
        before = _peak_rss_mb()
        with pytest.raises(RemoteError, match=r"more than 4194304 bytes \(max_response_bytes\)") as info:
            backend(srv, max_response_bytes=4 * MB).generate(["q"], SamplingParams())
    assert _peak_rss_mb() - before < 100  # the bomb was never inflated whole
    assert len(gen_requests(srv)) == 1  # not retried: it would be again
    assert "Traceback" not in str(info.value)


def test_an_endless_body_stops_at_the_cap() -> None:
    def endless() -> Iterator[bytes]:
        yield b'{"choices": [{"index": 0, "text": "'
        while True:
            yield b"a" * 65536

    with ScriptedOpenAIServer() as srv:
        srv.faults.append(Fault(status=200, chunks=endless))
        with pytest.raises(RemoteError, match="more than 2097152 bytes"):
            backend(srv, max_response_bytes=2 * MB).generate(["q"], SamplingParams())


def test_an_endless_stream_stops_at_the_cap() -> None:
    def events() -> Iterator[bytes]:
        while True:
            yield b'data: {"choices": [{"index": 0, "text": "word "}]}\n\n' * 100

    with ScriptedOpenAIServer() as srv:
        srv.faults.append(Fault(status=200, chunks=events, headers={"Content-Type": "text/event-stream"}))
        with pytest.raises(RemoteError, match="more than 1048576 bytes"):
            backend(srv, stream=True, max_response_bytes=MB).generate(["q"], SamplingParams())


@pytest.mark.parametrize("stream", [False, True])
def test_a_trickling_body_ends_at_the_deadline(stream: bool) -> None:
    def trickle() -> Iterator[bytes]:
        yield b"data: " if stream else b'{"choices": '
        while True:  # a byte every 0.1 s: each read succeeds, well inside the 5 s read timeout
            time.sleep(0.1)
            yield b" "

    with ScriptedOpenAIServer() as srv:
        srv.faults.append(Fault(status=200, chunks=trickle))
        started = time.monotonic()
        with pytest.raises(RemoteError, match=r"did not finish within the 1\.5s deadline"):
            backend(srv, timeout=5, deadline=1.5, max_retries=0, stream=stream).generate(
                ["q"], SamplingParams()
            )
    assert time.monotonic() - started < 4


def test_a_body_that_stalls_before_its_end_is_cut_off_at_the_deadline() -> None:
    def stall() -> Iterator[bytes]:
        yield b'{"choices": [{"index": 0, "text": "half'
        time.sleep(30)  # far past the deadline, within the read timeout
        yield b'"}]}'

    with ScriptedOpenAIServer() as srv:
        srv.faults.append(Fault(status=200, chunks=stall))
        started = time.monotonic()
        with pytest.raises(RemoteError, match="deadline"):
            backend(srv, timeout=60, deadline=1.0, max_retries=0).generate(["q"], SamplingParams())
    assert time.monotonic() - started < 5  # the watchdog, not the 60 s read timeout, ended it


def test_a_deadline_overrun_is_retried_like_a_timeout() -> None:
    def trickle() -> Iterator[bytes]:
        while True:
            time.sleep(0.1)
            yield b" "

    with ScriptedOpenAIServer() as srv:
        srv.faults.append(Fault(status=200, chunks=trickle))
        sleeps: list[float] = []
        [[out]] = backend(srv, sleeps, deadline=1.0).generate(["q"], SamplingParams())
    assert out.text.startswith("echo") and len(sleeps) == 1


def test_a_long_error_body_is_read_only_as_far_as_it_is_quoted() -> None:
    def endless_error() -> Iterator[bytes]:
        yield b'{"error": "overloaded '
        while True:
            yield b"x" * 65536

    with ScriptedOpenAIServer() as srv:
        srv.faults.append(Fault(status=422, chunks=endless_error))
        with pytest.raises(RemoteError, match="HTTP 422.*overloaded") as info:
            backend(srv, max_retries=0).generate(["q"], SamplingParams())
    assert len(str(info.value)) < 1000


def test_gzip_and_deflate_replies_still_read() -> None:
    reply = {"choices": [{"index": 0, "text": "zipped \\boxed{x}", "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 1, "completion_tokens": 3}}  # fmt: skip
    raw = json.dumps(reply).encode()
    deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)  # raw deflate, as some servers send
    encodings = {
        "gzip": zlib.compress(raw, wbits=zlib.MAX_WBITS | 16),
        "deflate": deflate.compress(raw) + deflate.flush(),
    }
    for coding, body in encodings.items():
        with ScriptedOpenAIServer() as srv:
            srv.faults.append(
                Fault(status=200, chunks=lambda b=body: iter([b]), headers={"Content-Encoding": coding})
            )
            [[out]] = backend(srv).generate(["q"], SamplingParams())
        assert out.text == "zipped \\boxed{x}", coding
        assert srv.requests[-1]["headers"]["Accept-Encoding"] == "gzip, deflate"


def test_the_bounded_decoder_inflates_in_pieces_and_lines_split_linearly() -> None:
    decoder = BoundedDecoder("gzip")
    pieces = list(decoder.feed(_gzip_member(MB), room=1000))
    assert sum(map(len, pieces)) <= 1001
    assert list(iter_lines([b"data: a\r", b"\ndata: b\n\nda", b"ta: c"])) == [
        "data: a",
        "data: b",
        "",
        "data: c",
    ]


# --- replies longer than max_tokens allows ---


def _huge(size: int) -> Reply:
    return Reply(text="word " * (size // 5), completion_tokens=size // 5)


def test_a_reply_longer_than_max_tokens_allows_is_cut_and_counted_as_capped(tiny_model_dir: Path) -> None:
    with ScriptedOpenAIServer(lambda endpoint, body: _huge(2 * MB)) as srv:
        b = backend(srv, tokenizer=str(tiny_model_dir))  # the SmolLM2 tokenizer: the cut is exactly 16 tokens
        [[out]] = b.generate(["q"], SamplingParams(max_tokens=16))
    assert out.finish_reason == "length" and out.tokens == 16
    assert out.text.startswith("word word") and len(out.text) < 200  # 16 tokens of "word "
    assert b.stats.cut_replies == 1 and b.stats.generated_tokens == 16


def test_without_a_tokenizer_a_reply_is_cut_to_what_any_tokenizer_could_hold() -> None:
    with ScriptedOpenAIServer(lambda endpoint, body: Reply(text="z" * MB, completion_tokens=8)) as srv:
        b = backend(srv)  # the server even claims 8 tokens: the size alone shows it cannot be
        [[out]] = b.generate(["q"], SamplingParams(max_tokens=8))
    assert out.finish_reason == "length" and len(out.text.encode()) <= 8 * 256
    assert b.stats.cut_replies == 1


def test_a_reply_within_max_tokens_is_untouched() -> None:
    with ScriptedOpenAIServer(lambda endpoint, body: Reply(text="a b c", completion_tokens=3)) as srv:
        b = backend(srv)
        [[out]] = b.generate(["q"], SamplingParams(max_tokens=3))
    assert out.text == "a b c" and out.finish_reason == "stop" and b.stats.cut_replies == 0


def test_a_100_mb_reply_never_becomes_a_prediction_for_max_tokens_16(tmp_path: Path) -> None:
    def hundred_mb() -> Iterator[bytes]:
        yield b'{"choices": [{"index": 0, "finish_reason": "stop", "text": "'
        for _ in range(100):
            yield b"a" * MB
        yield b'"}]}'

    bench = tmp_path / "bench.jsonl"
    assert cli("data", "sample", "--out", str(bench), "--limit", "1")[0] == 0
    out = tmp_path / "preds.jsonl"
    with ScriptedOpenAIServer() as srv:
        srv.faults.append(Fault(status=200, chunks=hundred_mb))
        code, output = cli(
            "generate", "--benchmark", str(bench), "--out", str(out), "--backend", "openai", "--model", srv.model,
            "--base-url", srv.base_url, "--backend-option", "tokenizer=smollm2-135m", "--max-tokens", "16",
        )  # fmt: skip
    assert code == 2 and "more than 67108864 bytes (max_response_bytes)" in output, output
    assert not out.exists() or out.read_text() == ""


def test_an_overlong_reply_becomes_a_capped_prediction_not_a_whole_one(tmp_path: Path) -> None:
    bench = tmp_path / "bench.jsonl"
    assert cli("data", "sample", "--out", str(bench), "--limit", "1")[0] == 0
    out = tmp_path / "preds.jsonl"
    with ScriptedOpenAIServer(lambda endpoint, body: _huge(MB)) as srv:
        code, output = cli(
            "generate", "--benchmark", str(bench), "--out", str(out), "--backend", "openai", "--model", srv.model,
            "--base-url", srv.base_url, "--backend-option", "mode=chat", "--max-tokens", "16",
        )  # fmt: skip
    assert code == 0, output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and all(r["finish_reason"] == "length" and len(r["text"]) <= 16 * 256 for r in rows)
