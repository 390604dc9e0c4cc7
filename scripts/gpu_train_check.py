"""GPU check of `fs1 train`: fine-tune Qwen2.5-0.5B-Instruct-shaped weights for a few bf16 steps, then generate.

No hub on the GPU machine, so everything is made here: a byte-level BPE tokenizer with a ChatML (Qwen-style) chat
template, a Qwen2 model of the 0.5B shape with random weights, and a synthetic SFT set in build-sft's columns. The
training goes through ``fs1.train.train`` exactly as ``fs1 train`` runs it. Prints steps/s, tokens/s, peak GPU
memory and loss; then generates from the trained directory (vLLM if importable, else transformers on CUDA), and,
with ``--fsdp``, launches the shipped FSDP full-shard accelerate config on one process for two steps.
``--tiny`` shrinks every size so the whole check runs on a CPU in seconds (CI / dev box).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Qwen2.5-0.5B-Instruct's shape (its config.json), and a tiny one for CPU smoke runs.
QWEN_05B_SHAPE = dict(
    hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2,
    intermediate_size=4864, vocab_size=151936, max_position_embeddings=32768, tie_word_embeddings=True,
)  # fmt: skip
TINY_SHAPE = dict(
    hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
    intermediate_size=128, vocab_size=4096, max_position_embeddings=2048, tie_word_embeddings=True,
)  # fmt: skip
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# A ChatML template with Qwen2.5's default system prompt (the protocol renders students with it).
CHATML_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    "<|im_end|>\\n' }}{%- endif %}"
    "{%- for message in messages %}{%- if not (message['role'] == 'system' and loop.first) %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
WORDS = (
    "river", "city", "capital", "country", "founded", "king", "queen", "war", "treaty", "year", "born",
    "died", "author", "novel", "film", "director", "mountain", "island", "language", "currency",
    "president", "team", "league", "won", "championship", "married", "child", "university", "located",
    "north", "south", "east", "west", "largest", "oldest", "first", "second", "because", "therefore",
    "wait", "check", "answer", "path",
)  # fmt: skip


def log(msg: str) -> None:
    print(msg, flush=True)


def synthetic_text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words)) + "."


def build_tokenizer(target: Path, vocab_size: int) -> None:
    """A byte-level BPE with ChatML special tokens, trained on synthetic text (seconds)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    rng = random.Random(0)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False)
    tok.train_from_iterator((synthetic_text(rng, 50) for _ in range(2000)), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.chat_template = CHATML_TEMPLATE
    fast.save_pretrained(target)


def build_model(target: Path, shape: dict, device: str) -> int:
    """Random Qwen2 weights of ``shape`` saved as a checkpoint; returns the parameter count."""
    import torch
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(target)
    config = Qwen2Config(
        **shape, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=None
    )
    torch.manual_seed(0)
    with torch.device(device):  # initialise on the GPU: a 0.5B model initialises slowly on a few CPU cores
        model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(target)
    return sum(p.numel() for p in model.parameters())


def build_data(target: Path, n_rows: int, words: int) -> None:
    """A parquet SFT set with build-sft's columns (all rows correct and valid)."""
    from datasets import Dataset

    rng = random.Random(1)
    rows = []
    for i in range(n_rows):
        trace, attempt = synthetic_text(rng, words), f"\\boxed{{{rng.choice(WORDS)}}}"
        rows.append(
            dict(
                id=f"gpu-{i}",
                question=f"Question {i}: " + synthetic_text(rng, 12),
                kg_path="",
                model="synthetic",
                reasoning_trace=trace,
                model_attempt=attempt,
                valid=1,
                gold_answer=[attempt],
                label=1,
                text="",
                total_length=0,
                think_length=0,
                answer_length=0,
            )  # fmt: skip
        )
    target.mkdir(parents=True, exist_ok=True)
    Dataset.from_list(rows).to_parquet(str(target / "train-00000-of-00001.parquet"))


def run_training(args: argparse.Namespace, model_dir: Path, data_dir: Path, out: Path) -> dict:
    import torch

    from fs1.train import TrainConfig, train
    from fs1.train.timing import StepTimer

    cuda = torch.cuda.is_available()
    cfg = TrainConfig(
        data=str(data_dir), model=str(model_dir), out=str(out), max_steps=args.steps, learning_rate=args.lr,
        max_length=args.max_length, effective_batch=args.effective_batch, per_device_batch=args.per_device_batch,
        logging_steps=1, save_steps=args.steps, warmup_ratio=0.0, overwrite=True,
    )  # fmt: skip
    timer = StepTimer()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    result = train(cfg, callbacks=[timer])
    t = timer.timing
    return {
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "bf16": bool(cuda and torch.cuda.is_bf16_supported()),
        "steps": result.global_step,
        "examples": result.examples,
        "steady_steps": t.steady_steps,
        "steps_per_s": round(t.steps_per_second, 3),
        "tokens_per_s": round(t.tokens_per_second, 1),
        "peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
        "loss_first": t.losses[0] if t.losses else None,
        "loss_last": t.losses[-1] if t.losses else None,
        "runtime_s": round(result.runtime_s, 2),
    }


def run_generation(out: Path, new_tokens: int) -> dict:
    """Generate from the trained directory: vLLM if installed, else transformers (CUDA when present)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if importlib.util.find_spec("vllm") is not None:
        from vllm import LLM, SamplingParams

        llm = LLM(model=str(out), dtype="bfloat16")
        started = time.perf_counter()
        outs = llm.generate(
            ["Question: which river?"] * 8, SamplingParams(max_tokens=new_tokens, temperature=0)
        )
        n = sum(len(o.outputs[0].token_ids) for o in outs)
        return {"engine": "vllm", "tokens": n, "tokens_per_s": round(n / (time.perf_counter() - started), 1)}
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out, dtype=dtype).to(device).eval()
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Which river flows through the capital?"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    batch = tokenizer([prompt] * 8, return_tensors="pt").to(device)
    started = time.perf_counter()
    with torch.no_grad():
        ids = model.generate(**batch, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
    seconds = time.perf_counter() - started
    n = int((ids.shape[1] - batch["input_ids"].shape[1]) * ids.shape[0])
    text = tokenizer.decode(ids[0, batch["input_ids"].shape[1] :][:12])
    return {"engine": f"transformers ({device}; vLLM not installed)", "tokens": n,
            "tokens_per_s": round(n / seconds, 1), "sample": text}  # fmt: skip


def run_fsdp(model_dir: Path, data_dir: Path, out: Path) -> dict:
    """One-process launch through the shipped FSDP full-shard config: proves the config and the gathered save."""
    from fs1.train import accelerate_config

    cmd = [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(accelerate_config("fsdp_full_shard")),
        "--num_processes", "1", "--num_machines", "1", "-m", "fs1.cli.main", "train", "--data", str(data_dir),
        "--model", str(model_dir), "--out", str(out), "--max-steps", "2", "--effective-batch", "4",
        "--per-device-batch", "2", "--lr", "1e-4", "--logging-steps", "1", "--overwrite",
    ]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    # Progress bars say nothing here.
    tail = [line for line in lines if line.strip() and "%|" not in line][-4:]
    loadable = (out / "config.json").exists() and any(out.glob("*.safetensors"))
    return {"rc": proc.returncode, "seconds": round(time.perf_counter() - started, 1), "model_saved": loadable,
            "tail": tail}  # fmt: skip


def versions() -> dict:
    out = {"python": sys.version.split()[0]}
    for name in ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "vllm"):
        try:
            out[name] = importlib.import_module(name).__version__
        except ImportError:
            out[name] = "not installed"
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny shapes: a CPU smoke run in seconds")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps (default 10; tiny: 6)")
    parser.add_argument(
        "--lr", type=float, default=None, help="learning rate (default 1e-4, tiny 3e-3: random weights)"
    )
    parser.add_argument(
        "--fsdp", action="store_true", help="also launch the FSDP full-shard config (1 process)"
    )
    parser.add_argument("--work", default=None, help="working directory (default: a temporary one)")
    args = parser.parse_args()
    import torch

    if not args.tiny and not torch.cuda.is_available():
        log("gpu_check: no CUDA GPU found; use --tiny for a CPU smoke run")
        return 2
    shape = TINY_SHAPE if args.tiny else QWEN_05B_SHAPE
    args.steps = args.steps or (6 if args.tiny else 10)
    args.lr = args.lr or (3e-3 if args.tiny else 1e-4)
    words, rows = (60, 16) if args.tiny else (900, 256)
    args.max_length = 4 * words
    args.effective_batch, args.per_device_batch = (4, 2) if args.tiny else (16, 4)
    work = Path(args.work or tempfile.mkdtemp(prefix="fs1-gpu-check-"))
    log(f"gpu_check: versions {json.dumps(versions())}")
    started = time.perf_counter()
    model_dir, data_dir = work / "model", work / "data"
    build_tokenizer(model_dir, vocab_size=min(shape["vocab_size"], 4096))
    params = build_model(model_dir, shape, "cuda" if torch.cuda.is_available() else "cpu")
    build_data(data_dir, rows, words)
    log(f"gpu_check: built {params / 1e6:.1f}M-parameter Qwen2 ({'tiny' if args.tiny else '0.5B shape'}), "
        f"{rows} synthetic traces, in {time.perf_counter() - started:.1f}s")  # fmt: skip
    train_stats = run_training(args, model_dir, data_dir, work / "out")
    log(f"gpu_check: train {json.dumps(train_stats)}")
    log(f"gpu_check: generate {json.dumps(run_generation(work / 'out', 64 if not args.tiny else 8))}")
    if args.fsdp and torch.cuda.is_available():
        log(f"gpu_check: fsdp {json.dumps(run_fsdp(model_dir, data_dir, work / 'out-fsdp'))}")
    ok = train_stats["loss_last"] is not None and train_stats["loss_last"] < train_stats["loss_first"]
    log(f"gpu_check: {'OK' if ok else 'FAILED (loss did not fall)'} in {time.perf_counter() - started:.1f}s")
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
