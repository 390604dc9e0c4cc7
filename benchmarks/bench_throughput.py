"""P2: decode throughput with 16 parallel samples vs the compute ceiling measured in the same run.

The ceiling is torch's fp32 matmul rate on this CPU (same thread count) divided by 2 x parameters FLOP per token.
Each backend decodes one stream, then 16 samples of one prompt in one batch (prompt prefilled once); only the
decode steps are timed (the prompt and the first token come before the clock starts).

    .venv/bin/python benchmarks/bench_throughput.py       # transformers fp32 and auto, llama.cpp as shipped and auto
    .venv/bin/python benchmarks/bench_throughput.py --backends llamacpp --tokens 128 --threads 2
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from fs1.backends import load_backend
from fs1.backends.base import Backend, SamplingParams

PROMPT = "Write a long, detailed story about a lighthouse keeper who finds a map in a bottle."


def matmul_flops(
    threads: int, size: int = 1024, seconds: float = 3.0, dtype: torch.dtype = torch.float32
) -> float:
    """Best matmul FLOP/s over a few seconds of repeated square products."""
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    best = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(4):
            torch.mm(a, b)
        best = max(best, 4 * 2 * size**3 / (time.perf_counter() - start))
    return best


def parameters(backend: Backend) -> int:
    if backend.name == "llamacpp":
        return int(backend._ll.llama_model_n_params(backend._model))
    return sum(p.numel() for p in backend.lm.parameters())


def weights_label(backend: Backend) -> str:
    """What the weights actually are: the torch dtype, or the GGUF's own description (its tensor type)."""
    facts = backend.describe()
    return str(facts.get("dtype") or facts.get("weights") or "?")


def decode_rate(backend: Backend, streams: int, tokens: int) -> float:
    """Generated tokens per second over ``tokens`` decode steps of ``streams`` sampled sequences."""
    prompt = backend.chat_prompt(PROMPT)
    params = SamplingParams(temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.05, max_tokens=1)
    seqs = backend.open([prompt], n=streams, seeds=list(range(streams)))
    backend.continue_(seqs, params)  # prefill + first token outside the clock
    backend.stats.generated_tokens = 0
    start = time.perf_counter()
    backend.continue_(seqs, SamplingParams(**{**params.__dict__, "max_tokens": tokens}))
    elapsed = time.perf_counter() - start
    backend.close(seqs)
    return backend.stats.generated_tokens / elapsed


def gpu_random_model(tokenizer_dir: str, out_dir: str) -> str:
    """A randomly initialised ~0.5B Llama (Qwen2.5-0.5B shapes) in bf16 with the given tokenizer, for GPU timing."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
        num_attention_heads=14, num_key_value_heads=2, tie_word_embeddings=True, max_position_embeddings=8192,
    )  # fmt: skip
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def hf_generate_rate(backend: Backend, streams: int, tokens: int) -> float:
    """Plain ``model.generate`` on the same model and prompt (every copy prefilled), as a reference rate."""
    ids = torch.tensor([backend._encode_prompt(backend.chat_prompt(PROMPT))] * streams, device=backend.device)
    kwargs = dict(do_sample=True, temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.05)
    backend.lm.generate(ids, max_new_tokens=4, min_new_tokens=4, **kwargs)
    torch.cuda.synchronize()
    start = time.perf_counter()
    backend.lm.generate(ids, max_new_tokens=tokens, min_new_tokens=tokens, **kwargs)
    torch.cuda.synchronize()
    return streams * tokens / (time.perf_counter() - start)


def gpu_check(tokenizer_dir: str, tokens: int) -> None:
    """Decode rates of the transformers backend on CUDA (bf16, random 0.5B model) against ``model.generate``."""
    import tempfile

    from fs1.backends.hf import TransformersBackend

    with tempfile.TemporaryDirectory() as tmp:
        backend = TransformersBackend(gpu_random_model(tokenizer_dir, tmp), device="cuda", dtype="bfloat16")
        decode_rate(backend, 1, 4)
        for streams in (1, 16, 64):
            ours = decode_rate(backend, streams, tokens)
            ref = hf_generate_rate(backend, streams, tokens)
            print(
                f"GPU ({torch.cuda.get_device_name()}, random 0.5B Llama bf16): {streams} streams: fs1 transformers "
                f"backend {ours:.0f} tok/s, model.generate {ref:.0f} tok/s ({ours / ref:.2f}x)"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--backends",
        default="transformers:float32,transformers,llamacpp:as-is,llamacpp",
        help="comma-separated backend[:option]: transformers:DTYPE, llamacpp:WEIGHTS (as-is = the shipped Q4_1); "
        "no option = the backend's auto choice",
    )
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--streams", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument(
        "--gpu-check", metavar="TOKENIZER_DIR", help="time the backend on CUDA instead (random 0.5B)"
    )
    args = ap.parse_args()
    if args.gpu_check:
        gpu_check(args.gpu_check, args.tokens)
        return
    # On a shared machine the matmul rate moves with the load: it is measured again before each backend and at the
    # end, and the best of those is the ceiling (the conservative choice: the highest ceiling, the lowest share).
    ceilings = [matmul_flops(args.threads, seconds=2.0)]
    bf16 = matmul_flops(args.threads, seconds=2.0, dtype=torch.bfloat16)
    rows = []
    for spec in args.backends.split(","):
        name, _, choice = spec.partition(":")
        options: dict = {"threads": args.threads}
        if name == "transformers":
            options.update(device="cpu", **({"dtype": choice} if choice else {}))
        elif choice:
            options["weights"] = choice
        backend = load_backend(name, args.model, **options)
        n_params = parameters(backend)
        ceilings.append(matmul_flops(args.threads, seconds=2.0))
        decode_rate(backend, 1, 4)  # warm-up
        one = decode_rate(backend, 1, args.tokens)
        many = decode_rate(backend, args.streams, args.tokens)
        rows.append((f"{name} {weights_label(backend)}", n_params, one, many))
        if hasattr(backend, "shutdown"):
            backend.shutdown()
    ceilings.append(matmul_flops(args.threads, seconds=2.0))
    flops = max(ceilings)
    print(
        f"threads={args.threads} torch matmul: fp32 {flops / 1e9:.1f} GFLOP/s (best of {len(ceilings)}: "
        f"{', '.join(f'{c / 1e9:.0f}' for c in ceilings)}), bf16 {bf16 / 1e9:.1f} GFLOP/s"
    )
    for label, n_params, one, many in rows:
        ceiling = flops / (2 * n_params)
        print(
            f"P2 ({label}, SmolLM2-135M, {n_params / 1e6:.0f}M params, {args.threads} threads): 1 stream "
            f"{one:.1f} tok/s, {args.streams} parallel samples {many:.1f} tok/s ({many / one:.1f}x); ceiling "
            f"{ceiling:.0f} tok/s ({flops / 1e9:.0f} GFLOP/s fp32 matmul / {2 * n_params / 1e6:.0f} MFLOP per token) "
            f"-> {100 * many / ceiling:.0f}% of ceiling"
        )


if __name__ == "__main__":
    main()
