"""Benchmark P6a: sharded generation on 2 Slurm workers × 1 thread vs 1 worker × 1 thread, same questions.

Starts the tests' one-node Slurm cluster (root only: munged, slurmctld, slurmd under a temporary directory, stopped by
PID), then runs the same generation — the embedded SmolLM2-135M on the transformers backend, instruct setting — through
fs1's Slurm executor (submitit job arrays) as 1 shard and as 2 shards, each job with one CPU and one math thread, and
merges the shards with the exactly-once check. Reports wall time from submission to the last job's end (model
loading included, as in a real run), the ratio, and whether the merged records equal the unsharded ones.

    sudo PYTHONPATH=src:. python benchmarks/bench_slurm_shards.py --questions 24 --n 4 --max-tokens 64 \
        [--batch-sched-delay 0]

Each job's fixed cost is split into its phases (``PHASES``): Slurm's start (submission to the job's Python
process), the interpreter with submitit unpickling the job, imports, model load (torch and transformers are imported
there), generation, and the wait until fs1 sees the end.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.slurm_cluster import skip_reason, slurm_cluster  # noqa: E402

from fs1.generate.predictions import prediction_key  # noqa: E402
from fs1.run.cluster.executors import Job, Ledger, Resources  # noqa: E402
from fs1.run.cluster.on_slurm import SlurmExecutor  # noqa: E402
from fs1.run.config import SlurmSpec  # noqa: E402
from fs1.shards import mark_done, merge_shards, shard_path, shard_slice  # noqa: E402


def generate_shard(out: str, index: int, count: int, questions: int, n: int, max_tokens: int) -> None:
    marks = {"process": _process_start(), "called": time.time()}
    from fs1.backends import load_backend
    from fs1.data import load_benchmark
    from fs1.generate import GenerateConfig, generate_predictions

    chosen = shard_slice(load_benchmark("sample", limit=questions), index, count)
    marks["imported"] = time.time()
    # fp32 as printed: in bf16 a batch's padding moves the rounding, so shards (other batches) could differ (P1)
    backend = load_backend("transformers", "smollm2-135m", threads=1, dtype="float32")
    marks["loaded"] = time.time()
    config = GenerateConfig(model="bench", setting="instruct", n=n, max_tokens=max_tokens, seed=0)
    target = Path(out) if count == 1 else shard_path(Path(out), index, count)
    generate_predictions(chosen, backend, config, target, resume=True)
    if count > 1:
        mark_done(target)  # the merge takes finished shards only
    marks["generated"] = time.time()
    Path(f"{out}.marks-{index}").write_text(json.dumps(marks))


def _process_start() -> float:
    """When this process started (Unix time, to 10 ms): its start after boot (/proc/self/stat) against the uptime."""
    with open("/proc/self/stat") as fh:
        ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as fh:
        uptime = float(fh.read().split()[0])
    return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))


PHASES = (  # (name, from mark, to mark): a job's time from its submission to fs1 noticing its end
    ("Slurm start (submit -> python running)", "submitted", "process"),
    ("interpreter + submitit + unpickling the job", "process", "called"),
    ("imports (fs1, torch, transformers) + questions", "called", "imported"),
    ("model load", "imported", "loaded"),
    ("generation", "loaded", "generated"),
    ("end noticed (result written -> fs1 sees it)", "generated", "noticed"),
)


def job_phases(out: Path, shards: int, submitted: float, noticed: float) -> list[dict[str, float]]:
    """Per job: the seconds of each of ``PHASES``."""
    per_job = []
    for index in range(shards):
        marks = json.loads(Path(f"{out}.marks-{index}").read_text())
        marks.update(submitted=submitted, noticed=noticed)
        per_job.append({name: marks[end] - marks[start] for name, start, end in PHASES})
    return per_job


def timed_run(
    root: Path, shards: int, args: argparse.Namespace
) -> tuple[float, list[str], list[dict[str, float]]]:
    out = root / f"{shards}-shards" / "predictions.jsonl"
    out.parent.mkdir(parents=True)
    jobs = [
        Job(
            "generate/bench",
            functools.partial(generate_shard, str(out), i, shards, args.questions, args.n, args.max_tokens),
            Resources(cpus=1, gpus=0, time_min=60),
            shard=i,
            shards=shards,
        )
        for i in range(shards)
    ]
    executor = SlurmExecutor(out.parent, SlurmSpec(poll_s=1))
    start, submitted = time.perf_counter(), time.time()
    failures = executor.run(jobs, Ledger(out.parent, "slurm"))
    wall = time.perf_counter() - start
    phases = job_phases(out, shards, submitted, time.time())
    if failures:
        raise SystemExit(f"jobs failed: {[(f.job.label, f.error) for f in failures]}")
    if shards > 1:
        from fs1.data import load_benchmark

        qs = load_benchmark("sample", limit=args.questions)
        merge_shards(out, shards, {(q.ID, s, None) for q in qs for s in range(args.n)}, prediction_key)
    texts = [
        json.dumps([r["id"], r["sample"], r["text"]]) for r in map(json.loads, out.read_text().splitlines())
    ]
    return wall, texts, phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=12)
    parser.add_argument("--n", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument(
        "--batch-sched-delay",
        type=int,
        help="the cluster's SchedulerParameters=batch_sched_delay (seconds a new batch job may wait for the "
        "scheduler; Slurm's default, 3, when not given: a test cluster may set 0)",
    )
    args = parser.parse_args()
    reason = skip_reason()
    if reason:
        raise SystemExit(f"cannot start the Slurm cluster: {reason}")
    os.environ.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    with tempfile.TemporaryDirectory(prefix="fs1-p6a-") as tmp:
        root = Path(tmp)
        delay = args.batch_sched_delay
        extra = "" if delay is None else f"SchedulerParameters=batch_sched_delay={delay}\n"
        with slurm_cluster(root / "slurm", cpus=2, extra_conf=extra):
            one, one_texts, one_phases = timed_run(root, 1, args)
            two, two_texts, two_phases = timed_run(root, 2, args)
    print(
        f"{args.questions} questions × n={args.n}, max {args.max_tokens} tokens, SmolLM2-135M transformers fp32; "
        f"batch_sched_delay {'3 (Slurm default)' if delay is None else delay}"
    )
    for label, phases in (("1 worker", one_phases), ("2 workers", two_phases)):
        for index, job in enumerate(phases):
            fixed = sum(seconds for name, seconds in job.items() if name != "generation")
            parts = "; ".join(f"{name} {seconds:.2f}" for name, seconds in job.items())
            print(
                f"{label}, job {index}: fixed cost {fixed:.1f} s ({parts}) [end noticed: after the last job's end]"
            )
    print(f"1 worker × 1 thread: {one:.1f} s; 2 workers × 1 thread (2 shards, merged): {two:.1f} s")
    print(
        f"ratio: {one / two:.2f}x less wall time; merged records identical to unsharded: {one_texts == two_texts}"
    )


if __name__ == "__main__":
    main()
