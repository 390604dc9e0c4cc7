"""GPU check of the vllm backend: parallel sampling (n=4) and s1 budget forcing through ``VLLMBackend``.

Usage (on a CUDA machine with ``pip install 'fs1[vllm]'``):

    python scripts/gpu_check_vllm.py [--model PATH_OR_HUB_ID] [--budgets 128,256] [--questions 8]

Without ``--model`` it uses the embedded SmolLM2-135M-Instruct as a transformers checkpoint
(``fs1.backends.embedded.hf_dir()``, rebuilt from the shipped GGUF once). Prints tokens/s, prefix-cache reuse and a
few outputs. Exits with status 3 and an explanation when vLLM (or CUDA) is not available, which is the case on
machines where vLLM is not installed: vLLM is a multi-GiB install and cannot be shipped alongside the repository.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # run from a checkout without installing

QUESTIONS = [
    "What is the capital of Italy?",
    "Who wrote the novel Don Quixote?",
    "Which river flows through Vienna?",
    "In which year did the Berlin Wall fall?",
    "What is the chemical symbol of gold?",
    "Which planet is known as the Red Planet?",
    "Who painted the Mona Lisa?",
    "What is the largest ocean on Earth?",
]
MISSING = 3


def _preflight() -> str | None:
    """Why the check cannot run here, or ``None``."""
    if importlib.util.find_spec("torch") is None:
        return "torch is not installed in this Python"
    import torch

    if not torch.cuda.is_available():
        return "no CUDA GPU is visible (torch.cuda.is_available() is False)"
    if importlib.util.find_spec("vllm") is None:
        return (
            "vllm is not installed in this Python. Install it with: pip install 'fs1[vllm]' (a CUDA wheel of several "
            "GiB matched to the machine's torch/CUDA), then rerun. The CPU test suite covers the backend's code path "
            "with a stand-in vllm module (tests/test_backend_vllm.py)."
        )
    return None


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default="smollm2-135m", help="checkpoint dir or hub id (default: embedded)"
    )
    parser.add_argument("--budgets", default="128,256", help="comma-separated thinking budgets in tokens")
    parser.add_argument("--questions", type=int, default=len(QUESTIONS), help="how many questions to use")
    parser.add_argument("--max-tokens", type=int, default=128, help="new tokens per parallel sample")
    return parser.parse_args()


def main() -> int:
    args = _parse()
    reason = _preflight()
    if reason is not None:
        print(f"gpu_check_vllm: cannot run: {reason}")
        return MISSING
    from fs1.backends import SamplingParams, load_backend
    from fs1.generate.budget import BudgetConfig, budget_forcing
    from fs1.prompts import THINK_START, eval_user_prompt

    started = time.perf_counter()
    backend = load_backend("vllm", args.model, seed=0)
    print(f"engine ready in {time.perf_counter() - started:.1f}s for {args.model}")
    questions = (QUESTIONS * (args.questions // len(QUESTIONS) + 1))[: args.questions]
    prompts = [backend.chat_prompt(eval_user_prompt(q)) for q in questions]

    params = SamplingParams(
        n=4, temperature=0.7, top_p=0.8, top_k=20, repetition_penalty=1.05, max_tokens=args.max_tokens, seed=1
    )
    t0, before = time.perf_counter(), backend.stats.generated_tokens
    samples = backend.generate(prompts, params)
    took, made = time.perf_counter() - t0, backend.stats.generated_tokens - before
    print(
        f"parallel sampling: {len(prompts)} prompts x 4 samples, {made} tokens in {took:.2f}s = {made / took:.0f} tok/s"
    )
    print(f"  sample 0/0: {samples[0][0].text[:120]!r}")

    cfg = BudgetConfig(budgets=[int(b) for b in args.budgets.split(",")])
    think = SamplingParams(temperature=0.0, repetition_penalty=1.05, max_tokens=max(cfg.budgets))
    t0, gen0, pre0 = time.perf_counter(), backend.stats.generated_tokens, backend.stats.prefilled_tokens
    outs = list(budget_forcing(backend, [p + THINK_START for p in prompts], 1, think, cfg))
    took = time.perf_counter() - t0
    made, prefilled = backend.stats.generated_tokens - gen0, backend.stats.prefilled_tokens - pre0
    print(f"budget forcing {cfg.budgets}: {len(outs)} outputs, {made} tokens in {took:.2f}s = {made / took:.0f} tok/s, "
          f"{prefilled} tokens prefilled")  # fmt: skip
    for out in outs[:2]:
        print(
            f"  budget {out.budget}: think {out.think_tokens} tokens, {out.waits} waits, tail {out.text[-100:]!r}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
