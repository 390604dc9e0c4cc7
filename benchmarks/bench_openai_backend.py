"""The ``openai`` backend: request concurrency, and the server prefix cache under raw-text continuation.

A. Concurrency. The scripted OpenAI-compatible server (tests/support/scripted_openai.py) answers every request after
   a fixed ``--latency`` (standing in for server-side generation time); ``--requests`` completions are sent with
   ``concurrency`` 1, 8 and 32. Prints requests/s and the speed-up over one request at a time.
B. Prefix cache. The real llama-cpp-python server on the embedded SmolLM2-135M GGUF; one sequence with a long prompt
   is continued ``--rounds`` times by 16 tokens with ``" Wait,"`` forced between rounds (the budget-forcing pattern),
   each round sending ``prompt + text`` to /v1/completions. fs1: the history is a prefix of the previous request, so
   the server reuses its KV state. Reference (docs/protocol.md §5): every round the history is prefilled again — made
   here by a per-round nonce at the very start of the prompt, which defeats the prefix cache and nothing else.
   Prints mean seconds per round and the ratio.

    PYTHONPATH=. python benchmarks/bench_openai_backend.py [--latency 0.05] [--requests 64] [--rounds 6]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support lives in the repository root

from tests.support.llama_server import LlamaServer  # noqa: E402
from tests.support.scripted_openai import Reply, ScriptedOpenAIServer  # noqa: E402

from fs1.backends.base import SamplingParams  # noqa: E402
from fs1.backends.openai.compat import OpenAIBackend  # noqa: E402
from fs1.prompts import THINK_START, WAIT  # noqa: E402

FILLER = (
    "The Danube flows through ten countries, more than any other river in the world, from the Black Forest in "
    "Germany to the Black Sea. Vienna, Bratislava, Budapest and Belgrade stand on its banks. "
)


def bench_concurrency(latency: float, requests: int) -> None:
    def slow(endpoint: str, body: dict) -> Reply:
        time.sleep(latency)  # stands in for the server's generation time
        return Reply("ok", completion_tokens=1)

    with ScriptedOpenAIServer(slow) as srv:
        base = None
        for concurrency in (1, 8, 32):
            backend = OpenAIBackend(srv.model, base_url=srv.base_url, concurrency=concurrency)
            prompts = [f"q{i}" for i in range(requests)]
            t0 = time.perf_counter()
            backend.generate(prompts, SamplingParams(max_tokens=1))
            took = time.perf_counter() - t0
            base = base or took
            print(f"A concurrency {concurrency:>2}: {requests} requests in {took:.2f}s = {requests / took:.1f} req/s "
                  f"(x{base / took:.1f} vs 1)")  # fmt: skip


def _rounds(backend: OpenAIBackend, prompt: str, rounds: int) -> list[float]:
    [seq] = backend.open([prompt])
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        backend.continue_([seq], SamplingParams(max_tokens=16))
        times.append(time.perf_counter() - t0)
        backend.append([seq], [WAIT])
    return times


def bench_prefix_cache(rounds: int, filler_repeats: int, threads: int) -> None:
    with LlamaServer(n_ctx=4096, n_threads=threads) as srv:
        backend = OpenAIBackend("smollm2-135m", base_url=srv.base_url, tokenizer="smollm2-135m")
        question = FILLER * filler_repeats + "Which river flows through Vienna?"
        prompt = backend.chat_prompt(question) + THINK_START
        tokens = backend.count_tokens(prompt)
        _rounds(backend, backend.chat_prompt("warm-up") + THINK_START, 1)
        first, *warm = _rounds(backend, prompt, rounds)  # round 1 prefills the prompt in both methods
        cold = []
        for k in range(
            1, rounds
        ):  # reference: same history each round, prefix cache defeated by a leading nonce
            history = prompt + "".join([" x" * 16 + WAIT] * k)
            t0 = time.perf_counter()
            backend.generate([f"[{k}]" + history], SamplingParams(max_tokens=16))
            cold.append(time.perf_counter() - t0)
        w, c = statistics.mean(warm), statistics.mean(cold)
        print(f"B prefix cache: {tokens}-token prompt, {rounds - 1} continuation rounds of 16 tokens: "
              f"fs1 {w:.3f}s/round (history reused) vs reference {c:.3f}s/round (history re-prefilled), x{c / w:.1f}; "
              f"first round (full prefill) {first:.3f}s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.05, help="scripted server seconds per request")
    parser.add_argument("--requests", type=int, default=64, help="requests per concurrency setting")
    parser.add_argument("--rounds", type=int, default=6, help="continuation rounds in part B")
    parser.add_argument(
        "--filler", type=int, default=24, help="filler paragraphs in part B's prompt (~40 tokens each)"
    )
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads in part B")
    parser.add_argument("--skip-llama", action="store_true", help="only part A")
    parser.add_argument("--skip-concurrency", action="store_true", help="only part B")
    args = parser.parse_args()
    if not args.skip_concurrency:
        bench_concurrency(args.latency, args.requests)
    if not args.skip_llama:
        bench_prefix_cache(args.rounds, args.filler, args.threads)


if __name__ == "__main__":
    main()
