"""Benchmark P6b: the paper's generation grid on 4 nodes × 8 GPUs — `fs1 plan`'s packing vs one model per node.

A simulation (no GPUs): 8 students (SmolLM2-360M/1.7B, Qwen2.5-0.5B … 32B), 4 settings (instruct, cot, rt, fs1),
22.6K questions, n = 16, budgets 512 … 8000 for rt/fs1. Job hours come from ``fs1.run.cluster.plan``: per-replica vLLM decode
rates by model size (``DECODE_RATES``, documented in docs/cluster.md: one published anchor, Llama-3.1-8B ≈ 12.5K
tokens/s on one H100, the rest assumed) and tokens per sample (largest budget + one answer per budget for rt/fs1;
256 / 512 for instruct / cot). The baseline is the authors' layout: one job per model holding a whole node, its runs
in sequence at the model's tensor-parallel size, the node's other GPUs idle; nodes take models longest first.

    python benchmarks/bench_plan.py                  # 4 shards per run
    python benchmarks/bench_plan.py --shards 8 --nodes 4 --gpus-per-node 8
"""

from __future__ import annotations

import argparse

from fs1.run.cluster.plan import DECODE_RATES, generation_jobs, one_model_per_node, pack
from fs1.run.config import Experiment

STUDENTS = [
    "HuggingFaceTB/SmolLM2-360M-Instruct",
    "Qwen/Qwen2.5-0.5B-Instruct",
    "Qwen/Qwen2.5-1.5B-Instruct",
    "HuggingFaceTB/SmolLM2-1.7B-Instruct",
    "Qwen/Qwen2.5-3B-Instruct",
    "Qwen/Qwen2.5-7B-Instruct",
    "Qwen/Qwen2.5-14B-Instruct",
    "Qwen/Qwen2.5-32B-Instruct",
]


def paper_grid(shards: int) -> Experiment:
    return Experiment.model_validate(
        {
            "students": [{"name": m.split("/")[1], "model": m, "backend": "vllm"} for m in STUDENTS],
            "settings": ["instruct", "cot", "rt", "fs1"],
            "generation": {"n": 16, "max_tokens": 8000, "budgets": [512, 1024, 2048, 4096, 8000]},
            "executor": {"shards": shards},
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=22_600)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--gpus-per-node", type=int, default=8)
    args = parser.parse_args()
    jobs = generation_jobs(paper_grid(args.shards), args.questions)
    print(f"decode rates (tokens/s per replica by size ≤ B): {DECODE_RATES}")
    print(f"{len(jobs)} jobs, {sum(j.gpu_hours for j in jobs):.1f} GPU-hours of decoding")
    packed = pack(jobs, args.nodes, args.gpus_per_node)
    naive = one_model_per_node(jobs, args.nodes, args.gpus_per_node)
    for name, placement in (("packed", packed), ("one model per node", naive)):
        print(
            f"{name:>20}: makespan {placement.makespan:7.2f} h, idle {placement.idle_gpu_hours:8.1f} GPU-h "
            f"({100 * placement.idle_fraction:4.1f} % of {args.nodes * args.gpus_per_node} GPUs × makespan)"
        )
    print(f"makespan ratio (one model per node / packed): {naive.makespan / packed.makespan:.2f}x")


if __name__ == "__main__":
    main()
